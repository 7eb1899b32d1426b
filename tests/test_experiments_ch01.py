"""The checked experiment of notebook 01 (Exercise 1.5): its check asserts the direction of the effect of the
generator loss, refuses non-finite or negative distances, and reports a stub as not done."""
from __future__ import annotations

import pytest

from vidgen_lib.exercises import EXERCISES, ExerciseError, ExerciseNotDone, use_answer
from vidgen_lib.exercises import ch01_gan_math as ch01


def stub(*args: object) -> None:
    raise NotImplementedError("Exercise 1.5: a stub")


def distances(saturating: float, non_saturating: float):
    return lambda loss: {"saturating": saturating, "non_saturating": non_saturating}[loss]


def test_the_experiment_is_registered():
    assert EXERCISES["1.5"] is ch01.check_generator_loss_experiment


def test_the_check_passes_when_the_non_saturating_loss_gets_closer(capsys):
    ch01.check_generator_loss_experiment(distances(9.8, 2.0))
    out = capsys.readouterr().out
    assert "✓ Exercise 1.5 passed" in out and "9.800" in out and "2.000" in out


@pytest.mark.parametrize("saturating, non_saturating", [(2.0, 9.8), (3.0, 3.0)])
def test_the_check_fails_in_the_wrong_direction_with_a_hint(saturating, non_saturating):
    with pytest.raises(ExerciseError, match="should get closer") as err:
        ch01.check_generator_loss_experiment(distances(saturating, non_saturating))
    assert "same config" in str(err.value)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1.0])
def test_the_check_refuses_a_distance_that_is_not_finite_and_non_negative(bad):
    with pytest.raises(ExerciseError, match=">= 0"):
        ch01.check_generator_loss_experiment(distances(9.8, bad))
    with pytest.raises(ExerciseError, match=">= 0"):
        ch01.check_generator_loss_experiment(lambda loss: bad)


def test_a_stub_is_reported_as_not_done(capsys):
    with pytest.raises(ExerciseNotDone):
        ch01.check_generator_loss_experiment(stub)
    assert use_answer("1.5", ch01.check_generator_loss_experiment, stub, None) is None
    assert "not done yet" in capsys.readouterr().out


def test_a_crash_in_the_learners_function_is_reported():
    with pytest.raises(ExerciseError, match="raised KeyError"):
        ch01.check_generator_loss_experiment(lambda loss: {"saturating": 1.0}[loss])
