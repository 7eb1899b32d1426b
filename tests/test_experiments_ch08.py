"""The checked experiment of notebook 08 (Exercise 8.4): its check asserts that the VPN costs fewer nats per
frame than its independent-pixel baseline, refuses non-finite or negative numbers, and reports a stub as
not done."""
from __future__ import annotations

import pytest

from vidgen_lib.exercises import EXERCISES, ExerciseError, ExerciseNotDone, use_answer
from vidgen_lib.exercises import ch08_vpn as ch08


def stub(*args: object) -> None:
    raise NotImplementedError("Exercise 8.4: a stub")


def nats(joint: float, independent: float):
    return lambda independent_pixels: {False: joint, True: independent}[independent_pixels]


def test_the_experiment_is_registered():
    assert EXERCISES["8.4"] is ch08.check_independent_pixels_experiment


def test_the_check_passes_when_the_vpn_costs_less_than_its_baseline(capsys):
    ch08.check_independent_pixels_experiment(nats(98.62, 113.97))
    out = capsys.readouterr().out
    assert "✓ Exercise 8.4 passed" in out and "98.62" in out and "113.97" in out


@pytest.mark.parametrize("joint, independent", [(113.97, 98.62), (100.0, 100.0)])
def test_the_check_fails_in_the_wrong_direction_with_a_hint(joint, independent):
    with pytest.raises(ExerciseError, match="should cost less") as err:
        ch08.check_independent_pixels_experiment(nats(joint, independent))
    assert "same config" in str(err.value)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1.0])
def test_the_check_refuses_numbers_that_are_not_finite_and_non_negative(bad):
    with pytest.raises(ExerciseError, match=">= 0"):
        ch08.check_independent_pixels_experiment(nats(98.62, bad))
    with pytest.raises(ExerciseError, match=">= 0"):
        ch08.check_independent_pixels_experiment(lambda independent_pixels: bad)


def test_a_stub_is_reported_as_not_done(capsys):
    with pytest.raises(ExerciseNotDone):
        ch08.check_independent_pixels_experiment(stub)
    assert use_answer("8.4", ch08.check_independent_pixels_experiment, stub, None) is None
    assert "not done yet" in capsys.readouterr().out


def test_a_crash_in_the_learners_function_is_reported():
    with pytest.raises(ExerciseError, match="raised KeyError"):
        ch08.check_independent_pixels_experiment(lambda independent_pixels: {False: 1.0}[independent_pixels])
