"""The checked experiment of notebook 06 (Exercise 6.4): its check asserts that training with longer jumps
lowers the error of a long jump, refuses non-finite or negative errors, and reports a stub as not done."""
from __future__ import annotations

import pytest

from vidgen_lib.exercises import EXERCISES, ExerciseError, ExerciseNotDone, use_answer
from vidgen_lib.exercises import ch06_tdvae as ch06


def stub(*args: object) -> None:
    raise NotImplementedError("Exercise 6.4: a stub")


def errors(short: float, long: float):
    return lambda max_jump: {1: short, 10: long}[max_jump]


def test_the_experiment_is_registered():
    assert EXERCISES["6.4"] is ch06.check_max_jump_experiment


def test_the_check_passes_when_longer_training_jumps_lower_the_error(capsys):
    ch06.check_max_jump_experiment(errors(1.016, 0.079))
    out = capsys.readouterr().out
    assert "✓ Exercise 6.4 passed" in out and "1.016" in out and "0.079" in out


@pytest.mark.parametrize("short, long", [(0.079, 1.016), (0.5, 0.5)])
def test_the_check_fails_in_the_wrong_direction_with_a_hint(short, long):
    with pytest.raises(ExerciseError, match="should lower it") as err:
        ch06.check_max_jump_experiment(errors(short, long))
    assert "long_jump_prob=0" in str(err.value)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -0.1])
def test_the_check_refuses_an_error_that_is_not_finite_and_non_negative(bad):
    with pytest.raises(ExerciseError, match=">= 0"):
        ch06.check_max_jump_experiment(errors(1.016, bad))
    with pytest.raises(ExerciseError, match=">= 0"):
        ch06.check_max_jump_experiment(lambda max_jump: bad)


def test_a_stub_is_reported_as_not_done(capsys):
    with pytest.raises(ExerciseNotDone):
        ch06.check_max_jump_experiment(stub)
    assert use_answer("6.4", ch06.check_max_jump_experiment, stub, None) is None
    assert "not done yet" in capsys.readouterr().out


def test_a_crash_in_the_learners_function_is_reported():
    with pytest.raises(ExerciseError, match="raised KeyError"):
        ch06.check_max_jump_experiment(lambda max_jump: {1: 1.0}[max_jump])
