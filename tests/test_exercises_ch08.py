"""The checks of notebook 08 pass on the solutions, report stubs, and name the typical mistakes."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from vidgen_lib.exercises import EXERCISES, ExerciseError, load_all
from vidgen_lib.exercises import ch08_vpn as ch08


def stub(*args: object) -> None:
    raise NotImplementedError("Exercise 8.M: a stub")


def causal_mask(k: int, mask_type: str) -> torch.Tensor:
    mask = torch.zeros(k, k)
    mask[: k // 2] = 1
    mask[k // 2, : k // 2 + (mask_type == "B")] = 1
    return mask


def multiplicative_unit(h, g1, g2, g3, u):
    return torch.sigmoid(g1) * torch.tanh(torch.sigmoid(g2) * h + torch.sigmoid(g3) * torch.tanh(u))


def nats_per_frame(logits, targets):
    return float(F.cross_entropy(logits, targets, reduction="sum") / (targets.shape[0] * targets.shape[1]))


SOLUTIONS = {"8.1": causal_mask, "8.2": multiplicative_unit, "8.3": nats_per_frame}


def test_checks_are_registered_by_load_all() -> None:
    checks = load_all()
    assert [checks[f"8.{i}"] for i in (1, 2, 3)] == [ch08.check_causal_mask, ch08.check_multiplicative_unit,
                                                     ch08.check_nats_per_frame]
    assert EXERCISES["8.1"] is ch08.check_causal_mask


@pytest.mark.parametrize("exercise_id", ["8.1", "8.2", "8.3"])
def test_checks_pass_solutions_and_report_stubs(exercise_id: str, capsys: pytest.CaptureFixture) -> None:
    EXERCISES[exercise_id](SOLUTIONS[exercise_id])
    assert capsys.readouterr().out.startswith(f"✓ Exercise {exercise_id} passed")
    with pytest.raises(ExerciseError, match="not implemented yet"):
        EXERCISES[exercise_id](stub)


def test_causal_mask_accepts_bool_masks(capsys: pytest.CaptureFixture) -> None:
    ch08.check_causal_mask(lambda k, m: causal_mask(k, m).bool())
    assert "passed" in capsys.readouterr().out


@pytest.mark.parametrize("mistake, message", [
    (lambda k, m: causal_mask(k, "B" if m == "A" else "A"), "swapped"),
    (lambda k, m: causal_mask(k, m).T, "transposed"),
    (lambda k, m: torch.cat([causal_mask(k, m)[: k // 2 + 1], torch.ones(k - k // 2 - 1, k)]), "rows below"),
    (lambda k, m: torch.cat([torch.ones(k // 2 + 1, k), torch.zeros(k - k // 2 - 1, k)]),
     "right of the centre"),
    (lambda k, m: causal_mask(k, "B"), "mask A must hide the centre"),
    (lambda k, m: causal_mask(k, "A"), "mask B keeps the centre"),
    (lambda k, m: torch.zeros(k, k), "every row above"),
    (lambda k, m: torch.zeros(k + 1, k + 1), "should have shape"),
])
def test_causal_mask_names_mistakes(mistake, message: str) -> None:
    with pytest.raises(ExerciseError, match=message):
        ch08.check_causal_mask(mistake)


s, t = torch.sigmoid, torch.tanh


@pytest.mark.parametrize("mistake, message", [
    (lambda h, a1, a2, a3, a4: s(a1) * (s(a2) * h + s(a3) * t(a4)), "outer tanh is missing"),
    (lambda h, a1, a2, a3, a4: s(a1) * t(s(a2) * h + s(a3) * a4), "u is tanh"),
    (lambda h, a1, a2, a3, a4: t(a1) * t(t(a2) * h + t(a3) * t(a4)), "use the sigmoid"),
    (lambda h, a1, a2, a3, a4: s(a1) * t(s(a3) * h + s(a2) * t(a4)), "swapped"),
    (lambda h, a1, a2, a3, a4: t(s(a2) * h + s(a3) * t(a4)), "output gate g1 is missing"),
    (lambda h, a1, a2, a3, a4: s(a1) * t(s(a3) * t(a4)), "input h itself is missing"),
    (lambda h, a1, a2, a3, a4: s(a1) * t(a4), "Gated PixelCNN"),
    (lambda h, a1, a2, a3, a4: h, "element by element"),
    (lambda h, a1, a2, a3, a4: h.sum(1), "shape of h"),
])
def test_multiplicative_unit_names_mistakes(mistake, message: str) -> None:
    with pytest.raises(ExerciseError, match=message):
        ch08.check_multiplicative_unit(mistake)


def frames(targets) -> int:
    return targets.shape[0] * targets.shape[1]


@pytest.mark.parametrize("mistake, message", [
    (lambda lg, tg: -nats_per_frame(lg, tg), "sign is flipped"),
    (lambda lg, tg: nats_per_frame(lg, tg) / math.log(2), "bits"),
    (lambda lg, tg: float(F.cross_entropy(lg, tg)), "averaged over the pixels"),
    (lambda lg, tg: float(F.cross_entropy(lg, tg, reduction="sum")), "divide by the number of frames"),
    (lambda lg, tg: float(F.cross_entropy(lg, tg, reduction="sum") / tg.shape[0]), "per video"),
    (lambda lg, tg: float(-lg.gather(1, tg[:, None]).sum() / frames(tg)), "log_softmax"),
    (lambda lg, tg: float(-lg.softmax(1).gather(1, tg[:, None]).sum() / frames(tg)), "probability p"),
    (lambda lg, tg: float(-F.log_softmax(lg, 2).gather(1, tg[:, None]).sum() / frames(tg)), "dim 1"),
    (lambda lg, tg: F.cross_entropy(lg, tg, reduction="none").sum((2, 3)), "single number"),
    (lambda lg, tg: 1.0, "expected"),
])
def test_nats_per_frame_names_mistakes(mistake, message: str) -> None:
    with pytest.raises(ExerciseError, match=message):
        ch08.check_nats_per_frame(mistake)
