"""The checked experiment of notebook 07 (Exercise 7.5): its check asserts that free bits leave the posterior
more KL, refuses non-finite or negative KLs, and reports a stub as not done."""
from __future__ import annotations

import pytest

from vidgen_lib.exercises import EXERCISES, ExerciseError, ExerciseNotDone, use_answer
from vidgen_lib.exercises import ch07_dvg as ch07


def stub(*args: object) -> None:
    raise NotImplementedError("Exercise 7.5: a stub")


def kls(without: float, with_free_bits: float):
    return lambda free_bits: {0.0: without, 0.25: with_free_bits}[free_bits]


def test_the_experiment_is_registered():
    assert EXERCISES["7.5"] is ch07.check_free_bits_experiment


def test_the_check_passes_when_free_bits_keep_the_kl_higher(capsys):
    ch07.check_free_bits_experiment(kls(0.0012, 0.0854))
    out = capsys.readouterr().out
    assert "✓ Exercise 7.5 passed" in out and "0.0012" in out and "0.0854" in out


@pytest.mark.parametrize("without, with_free_bits", [(0.0854, 0.0012), (0.05, 0.05)])
def test_the_check_fails_in_the_wrong_direction_with_a_hint(without, with_free_bits):
    with pytest.raises(ExerciseError, match="should keep it higher") as err:
        ch07.check_free_bits_experiment(kls(without, with_free_bits))
    assert "only free_bits changed" in str(err.value)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -0.5])
def test_the_check_refuses_a_kl_that_is_not_finite_and_non_negative(bad):
    with pytest.raises(ExerciseError, match=">= 0"):
        ch07.check_free_bits_experiment(kls(0.0012, bad))
    with pytest.raises(ExerciseError, match=">= 0"):
        ch07.check_free_bits_experiment(lambda free_bits: bad)


def test_a_stub_is_reported_as_not_done(capsys):
    with pytest.raises(ExerciseNotDone):
        ch07.check_free_bits_experiment(stub)
    assert use_answer("7.5", ch07.check_free_bits_experiment, stub, None) is None
    assert "not done yet" in capsys.readouterr().out


def test_a_crash_in_the_learners_function_is_reported():
    with pytest.raises(ExerciseError, match="raised KeyError"):
        ch07.check_free_bits_experiment(lambda free_bits: {0.0: 1.0}[free_bits])
