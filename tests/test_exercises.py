"""The checks of notebook 01: each passes on the solution, fails on the stub, and names typical mistakes."""
from __future__ import annotations

import math
from typing import Callable

import pytest
import torch
import torch.nn.functional as F

from vidgen_lib import exercises
from vidgen_lib.exercises import EXERCISES, ExerciseError


def stub(*args: object) -> None:
    raise NotImplementedError("Exercise N.M: a stub")


def test_registry_maps_ids_to_checks() -> None:
    assert {"1.1", "1.2", "1.3", "1.4"} <= set(EXERCISES)
    assert all(name.startswith("check_") for name in (c.__name__ for c in EXERCISES.values()))
    assert issubclass(ExerciseError, AssertionError)


@pytest.mark.parametrize("exercise_id", ["1.1", "1.2", "1.3", "1.4"])
def test_every_check_reports_a_stub(exercise_id: str) -> None:
    with pytest.raises(ExerciseError, match="not implemented yet"):
        EXERCISES[exercise_id](stub)


# --- 1.1 the optimal discriminator -----------------------------------------------------------------

def d_star(x, p_data, p_g):
    return p_data(x) / (p_data(x) + p_g(x))


@pytest.mark.parametrize(
    "mistake, message",
    [
        (lambda x, p, q: q(x) / (p(x) + q(x)), "swapped p_data and p_g|1 - D"),
        (lambda x, p, q: (p(x) + q(x)) / p(x), "above 1.*swap numerator and denominator"),
        (lambda x, p, q: p(x) / q(x), "above 1"),
        (lambda x, p, q: torch.log(p(x) / (p(x) + q(x))), "negative"),
        (lambda x, p, q: (p(x) / (p(x) + q(x))).mean(), "one value per point"),
        (lambda x, p, q: p(x) / (p(x) + q(x) + 0.1), r"wrong at x="),
    ],
)
def test_optimal_discriminator_names_mistakes(mistake: Callable, message: str) -> None:
    with pytest.raises(ExerciseError, match=message):
        exercises.check_optimal_discriminator(mistake)


def test_optimal_discriminator_passes(capsys: pytest.CaptureFixture) -> None:
    exercises.check_optimal_discriminator(d_star)
    assert capsys.readouterr().out.startswith("✓ Exercise 1.1 passed")


# --- 1.2 the Jensen-Shannon divergence -------------------------------------------------------------

def kl(p, q, dx):
    return (torch.xlogy(p, p) - torch.xlogy(p, q)).sum() * dx


def jsd(p, q, dx):
    m = (p + q) / 2
    return 0.5 * kl(p, m, dx) + 0.5 * kl(q, m, dx)


def jsd_with_nan(p, q, dx):  # 0 * log 0 = nan
    m = (p + q) / 2
    return 0.5 * (p * torch.log(p / m)).sum() * dx + 0.5 * (q * torch.log(q / m)).sum() * dx


@pytest.mark.parametrize(
    "mistake, message",
    [
        (lambda p, q, dx: 2 * jsd(p, q, dx), "forget the ½"),
        (lambda p, q, dx: jsd(p, q, dx) / math.log(2), "bits"),
        (lambda p, q, dx: jsd(p, q, dx) / dx, "without dx"),
        (lambda p, q, dx: 0.5 * kl(p, (p + q) / 2, dx), r"half the JSD|only ½ KL"),
        (lambda p, q, dx: 0.5 * kl(p, q, dx) + 0.5 * kl(q, p, dx), "directly.*mixture"),
        (lambda p, q, dx: kl(p, q, dx), "directly.*mixture"),
        (jsd_with_nan, "NaN.*0 · log 0"),
        (lambda p, q, dx: -jsd(p, q, dx), "negative"),
        (lambda p, q, dx: (torch.xlogy(p, p) - torch.xlogy(p, (p + q) / 2)) * dx, "single number"),
    ],
)
def test_js_divergence_names_mistakes(mistake: Callable, message: str) -> None:
    with pytest.raises(ExerciseError, match=message):
        exercises.check_js_divergence(mistake)


def test_js_divergence_passes(capsys: pytest.CaptureFixture) -> None:
    exercises.check_js_divergence(jsd)
    exercises.check_js_divergence(lambda p, q, dx: float(jsd(p, q, dx)))  # a float is fine too
    assert capsys.readouterr().out.startswith("✓ Exercise 1.2 passed")


def test_js_divergence_accepts_the_trapezoid_rule() -> None:
    def trapezoid(p, q, dx):
        m = (p + q) / 2
        f = 0.5 * (torch.xlogy(p, p) - torch.xlogy(p, m)) + 0.5 * (torch.xlogy(q, q) - torch.xlogy(q, m))
        return torch.trapezoid(f, dx=dx)

    exercises.check_js_divergence(trapezoid)


# --- 1.3 the non-saturating generator loss ---------------------------------------------------------

@pytest.mark.parametrize(
    "mistake, message",
    [
        (lambda l: torch.log(1 - torch.sigmoid(l)).mean(), "saturating loss"),
        (lambda l: -F.softplus(l).mean(), "saturating loss"),
        (lambda l: F.logsigmoid(l).mean(), "sign"),
        (lambda l: F.softplus(-l).sum(), "summed"),
        (lambda l: -torch.log(l).mean(), "logits.*not probabilities"),
        (lambda l: -torch.log(torch.sigmoid(l)).mean(), "underflows"),
        (lambda l: F.binary_cross_entropy(torch.sigmoid(l), torch.ones_like(l)), "underflows"),
        (lambda l: F.softplus(-l).mean().item(), "no gradient flows"),
        (lambda l: F.softplus(-l.detach()).mean() + 0 * l.sum(), "wrong gradient"),
    ],
)
def test_non_saturating_loss_names_mistakes(mistake: Callable, message: str) -> None:
    with pytest.raises(ExerciseError, match=message):
        exercises.check_non_saturating_loss(mistake)


def test_non_saturating_loss_passes(capsys: pytest.CaptureFixture) -> None:
    exercises.check_non_saturating_loss(lambda logits: -F.logsigmoid(logits).mean())
    exercises.check_non_saturating_loss(lambda l: F.binary_cross_entropy_with_logits(l, torch.ones_like(l)))
    assert capsys.readouterr().out.startswith("✓ Exercise 1.3 passed")


# --- 1.4 the discriminator loss --------------------------------------------------------------------

def d_loss(real, fake):
    return F.softplus(-real).mean() + F.softplus(fake).mean()


@pytest.mark.parametrize(
    "mistake, message",
    [
        (lambda r, f: -d_loss(r, f), "sign"),
        (lambda r, f: F.softplus(r).mean() + F.softplus(-f).mean(), "swapped"),
        (lambda r, f: F.binary_cross_entropy_with_logits(torch.cat([r, f]), torch.cat([torch.ones_like(r),
                                                                                        torch.zeros_like(f)])),
         "pooled"),
        (lambda r, f: d_loss(r, f) / 2, "half"),
        (lambda r, f: -(torch.log(torch.sigmoid(r)).mean() + torch.log(1 - torch.sigmoid(f)).mean()),
         "underflows"),
        (lambda r, f: -(torch.log(r).mean() + torch.log(1 - f).mean()), "NaN.*logits"),
    ],
)
def test_discriminator_loss_names_mistakes(mistake: Callable, message: str) -> None:
    with pytest.raises(ExerciseError, match=message):
        exercises.check_discriminator_loss(mistake)


def test_discriminator_loss_passes(capsys: pytest.CaptureFixture) -> None:
    exercises.check_discriminator_loss(d_loss)
    assert capsys.readouterr().out.startswith("✓ Exercise 1.4 passed")


# --- 00 setup and data -------------------------------------------------------------------------------

def test_course_convention_check_passes_on_the_solution(capsys):
    from einops import rearrange

    from vidgen_lib.exercises import check_course_convention

    check_course_convention(lambda x: rearrange(x, "b t h w c -> b c t h w").float() / 255)
    assert "✓ Exercise 0.1 passed" in capsys.readouterr().out


@pytest.mark.parametrize("answer, message", [
    (lambda x: (_ for _ in ()).throw(NotImplementedError("Exercise 0.1")), "not implemented yet"),
    (lambda x: x.permute(0, 4, 1, 2, 3).float(), "divide by 255"),
    (lambda x: x.permute(0, 4, 2, 1, 3).float() / 255, "order of the axes"),
    (lambda x: x.reshape(x.shape[0], x.shape[4], *x.shape[1:4]).float() / 255, "wrong places"),
    (lambda x: x.permute(0, 4, 1, 2, 3).double() / 255, "float32"),
])
def test_course_convention_check_names_typical_mistakes(answer, message):
    from vidgen_lib.exercises import ExerciseError, check_course_convention

    with pytest.raises(ExerciseError, match=message):
        check_course_convention(answer)
