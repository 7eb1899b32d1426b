"""The checked experiment of notebook 02 (Exercise 2.5, the mask's sparsity weight) asserts the direction of
the effect, refuses what is not a mean mask, and reports a stub."""
from __future__ import annotations

import pytest

from vidgen_lib.exercises import EXERCISES, ExerciseError, ExerciseNotDone, load_all
from vidgen_lib.exercises import ch02_vgan as ch02


def stub(*args: object) -> None:
    raise NotImplementedError("Exercise 2.5: a stub")


def test_the_experiment_check_is_registered():
    load_all()
    assert EXERCISES["2.5"] is ch02.check_mask_weight_experiment


def test_the_experiment_check_passes_when_the_penalty_shrinks_the_mask(capsys):
    ch02.check_mask_weight_experiment(lambda weight: 0.62 if weight == 0 else 0.43)
    printed = capsys.readouterr().out
    assert printed.startswith("✓ Exercise 2.5") and "0.620" in printed and "0.430" in printed


def test_the_experiment_check_fails_in_the_wrong_direction_with_a_hint():
    with pytest.raises(ExerciseError, match="the penalty should shrink it"):
        ch02.check_mask_weight_experiment(lambda weight: 0.43 if weight == 0 else 0.62)
    with pytest.raises(ExerciseError, match="the penalty should shrink it"):
        ch02.check_mask_weight_experiment(lambda weight: 0.5)  # no effect at all


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -0.1, 1.5])
def test_the_experiment_check_refuses_what_is_not_a_mean_mask(value):
    with pytest.raises(ExerciseError, match=r"\[0, 1\]"):
        ch02.check_mask_weight_experiment(lambda weight: value)


def test_the_experiment_check_reports_a_stub():
    with pytest.raises(ExerciseNotDone, match="not implemented yet"):
        ch02.check_mask_weight_experiment(stub)
