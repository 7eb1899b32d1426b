"""The checks of notebook 09 pass on the solutions, report stubs, name the typical mistakes, and let the
notebook go on with the library's version while an exercise is not done."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from einops import rearrange

from vidgen_lib.exercises import EXERCISES, ExerciseError, ExerciseNotDone, load_all, use_answer
from vidgen_lib.exercises import ch09_vid2vid as ch09
from vidgen_lib.models.vid2vid import compose, flow_loss
from vidgen_lib.nn.warp import pixel_grid, warp


def stub(*args: object) -> None:
    raise NotImplementedError("Exercise 9.M: a stub")


def my_warp(image, flow, sign=1.0, order=(0, 1)):
    n, _, h, w = image.shape
    where = pixel_grid(h, w, flow) + sign * flow[:, list(order)]
    grid = torch.stack([2 * where[:, 0] / (w - 1) - 1, 2 * where[:, 1] / (h - 1) - 1], dim=-1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


def my_flow_loss(flow, true_flow, previous, current):
    return (flow - true_flow).abs().mean() + (warp(previous, flow) - current).abs().mean()


def generator_step(generator, maps, past, oldest=False, swapped=False):
    frames = rearrange(past, "n l c h w -> n (l c) h w")
    h = generator.trunk(generator.map_encoder(maps) + generator.frame_encoder(frames))
    hallucinated = generator.image_branch(h)
    g = generator.flow_branch(h)
    flow, mask = generator.flow_head(g), generator.mask_head(g)
    warped = warp(past[:, 0 if oldest else -1], flow)
    frame = compose(hallucinated, warped, mask) if swapped else compose(warped, hallucinated, mask)
    return frame, flow, mask, hallucinated


def test_checks_are_registered_by_load_all():
    checks = load_all()
    expected = [ch09.check_warp, ch09.check_generator_step, ch09.check_flow_loss,
                ch09.check_flow_weight_experiment]
    assert [checks[f"9.{i}"] for i in (1, 2, 3, 4)] == expected
    assert EXERCISES["9.1"] is ch09.check_warp


@pytest.mark.parametrize("check, answer", [(ch09.check_warp, my_warp), (ch09.check_flow_loss, my_flow_loss),
                                           (ch09.check_generator_step, generator_step)])
def test_the_solutions_pass_and_stubs_are_reported(check, answer, capsys):
    check(answer)
    assert capsys.readouterr().out.startswith("✓ Exercise 9.")
    with pytest.raises(ExerciseNotDone, match="not implemented yet"):
        check(stub)


@pytest.mark.parametrize("mistake, message", [
    (lambda i, f: my_warp(i, f, sign=-1.0), "subtracted"),
    (lambda i, f: my_warp(i, f, order=(1, 0)), "swapped"),
    (lambda i, f: F.grid_sample(i, (pixel_grid(*i.shape[2:], f) + f).permute(0, 2, 3, 1) / 4,
                                align_corners=True), "zero flow"),  # pixels not mapped to [-1, 1]
])
def test_the_warp_check_names_the_mistake(mistake, message):
    with pytest.raises(ExerciseError, match=message):
        ch09.check_warp(mistake)


@pytest.mark.parametrize("mistake, message", [
    (lambda w, t, p, c: (w - t).abs().mean(), "only the flow term"),
    (lambda w, t, p, c: (warp(p, w) - c).abs().mean(), "only the warping term"),
    (lambda w, t, p, c: (w - t).abs().mean() + (warp(c, w) - p).abs().mean(), "warped the current frame"),
    (lambda w, t, p, c: (w - t).abs().sum() + (warp(p, w) - c).abs().sum(), "sums instead of means"),
    (lambda w, t, p, c: torch.tensor(float(my_flow_loss(w.detach(), t, p, c))), "differentiable"),
])
def test_the_flow_loss_check_names_the_mistake(mistake, message):
    with pytest.raises(ExerciseError, match=message):
        ch09.check_flow_loss(mistake)


@pytest.mark.parametrize("kwargs, message", [({"oldest": True}, "oldest"), ({"swapped": True}, "swapped")])
def test_the_generator_step_check_names_the_mistake(kwargs, message):
    with pytest.raises(ExerciseError, match=message):
        ch09.check_generator_step(lambda g, m, p: generator_step(g, m, p, **kwargs))


def test_use_answer_goes_on_with_the_reference_while_an_exercise_is_not_done(capsys):
    assert use_answer("9.3", ch09.check_flow_loss, stub, flow_loss) is flow_loss
    assert "not done yet" in capsys.readouterr().out
    assert use_answer("9.3", ch09.check_flow_loss, my_flow_loss, flow_loss) is my_flow_loss
    with pytest.raises(ExerciseError):  # a wrong answer still stops the notebook, with the check's message
        use_answer("9.3", ch09.check_flow_loss, lambda *a: torch.tensor(0.0), flow_loss)
