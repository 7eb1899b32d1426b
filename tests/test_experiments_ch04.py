"""The checked experiment of notebook 04 (Exercise 4.4, FVD under blur) asserts the direction of the effect,
refuses non-numbers, and reports a stub."""
from __future__ import annotations

import pytest

from vidgen_lib.exercises import EXERCISES, ExerciseError, ExerciseNotDone, load_all
from vidgen_lib.exercises import ch04_evaluation as ch04


def stub(*args: object) -> None:
    raise NotImplementedError("Exercise 4.4: a stub")


def test_the_experiment_check_is_registered():
    load_all()
    assert EXERCISES["4.4"] is ch04.check_blur_experiment


def test_the_experiment_check_passes_when_blur_raises_the_fvd(capsys):
    ch04.check_blur_experiment(lambda sigma: 2.0 if sigma < 1 else 65.0)
    printed = capsys.readouterr().out
    assert printed.startswith("✓ Exercise 4.4") and "2.00" in printed and "65.00" in printed


def test_the_experiment_check_fails_in_the_wrong_direction_with_a_hint():
    with pytest.raises(ExerciseError, match="heavier blur should raise it"):
        ch04.check_blur_experiment(lambda sigma: 65.0 if sigma < 1 else 2.0)
    with pytest.raises(ExerciseError, match="heavier blur should raise it"):
        ch04.check_blur_experiment(lambda sigma: 3.0)  # no effect at all


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0])
def test_the_experiment_check_refuses_what_is_not_an_fvd(value):
    with pytest.raises(ExerciseError, match=">= 0"):
        ch04.check_blur_experiment(lambda sigma: value)


def test_the_experiment_check_reports_a_stub():
    with pytest.raises(ExerciseNotDone, match="not implemented yet"):
        ch04.check_blur_experiment(stub)
