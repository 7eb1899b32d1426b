"""The checked experiment of notebook 03 (Exercise 3.5): its check asserts that a larger motion code lets
consecutive frames differ more, refuses non-finite or negative changes, and reports a stub as not done."""
from __future__ import annotations

import pytest

from vidgen_lib.exercises import EXERCISES, ExerciseError, ExerciseNotDone, use_answer
from vidgen_lib.exercises import ch03_mocogan as ch03


def stub(*args: object) -> None:
    raise NotImplementedError("Exercise 3.5: a stub")


def changes(small: float, large: float):
    return lambda dim_motion: {1: small, 10: large}[dim_motion]


def test_the_experiment_is_registered():
    assert EXERCISES["3.5"] is ch03.check_motion_code_experiment


def test_the_check_passes_when_the_larger_code_moves_the_frames_more(capsys):
    ch03.check_motion_code_experiment(changes(0.0013, 0.0059))
    out = capsys.readouterr().out
    assert "✓ Exercise 3.5 passed" in out and "0.0013" in out and "0.0059" in out


@pytest.mark.parametrize("small, large", [(0.0059, 0.0013), (0.004, 0.004)])
def test_the_check_fails_in_the_wrong_direction_with_a_hint(small, large):
    with pytest.raises(ExerciseError, match="should let them differ more") as err:
        ch03.check_motion_code_experiment(changes(small, large))
    assert "only dim_motion changed" in str(err.value)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -0.5])
def test_the_check_refuses_a_change_that_is_not_finite_and_non_negative(bad):
    with pytest.raises(ExerciseError, match=">= 0"):
        ch03.check_motion_code_experiment(changes(0.0013, bad))
    with pytest.raises(ExerciseError, match=">= 0"):
        ch03.check_motion_code_experiment(lambda dim_motion: bad)


def test_a_stub_is_reported_as_not_done(capsys):
    with pytest.raises(ExerciseNotDone):
        ch03.check_motion_code_experiment(stub)
    assert use_answer("3.5", ch03.check_motion_code_experiment, stub, None) is None
    assert "not done yet" in capsys.readouterr().out


def test_a_crash_in_the_learners_function_is_reported():
    with pytest.raises(ExerciseError, match="raised KeyError"):
        ch03.check_motion_code_experiment(lambda dim_motion: {1: 1.0}[dim_motion])
