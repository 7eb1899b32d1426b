"""The checked experiment of notebook 05 (Exercise 5.4): its check asserts the direction of the effect of the
KL weight beta, refuses non-finite or negative KLs, and reports a stub as not done."""
from __future__ import annotations

import pytest

from vidgen_lib.exercises import EXERCISES, ExerciseError, ExerciseNotDone, use_answer
from vidgen_lib.exercises import ch05_vae_math as ch05


def stub(*args: object) -> None:
    raise NotImplementedError("Exercise 5.4: a stub")


def kls(light: float, heavy: float):
    return lambda beta: {0.1: light, 4.0: heavy}[beta]


def test_the_experiment_is_registered():
    assert EXERCISES["5.4"] is ch05.check_kl_weight_experiment


def test_the_check_passes_when_the_heavier_weight_lowers_the_kl(capsys):
    ch05.check_kl_weight_experiment(kls(19.3, 3.4))
    out = capsys.readouterr().out
    assert "✓ Exercise 5.4 passed" in out and "19.300" in out and "3.400" in out


@pytest.mark.parametrize("light, heavy", [(3.4, 19.3), (5.0, 5.0)])
def test_the_check_fails_in_the_wrong_direction_with_a_hint(light, heavy):
    with pytest.raises(ExerciseError, match="should lower it") as err:
        ch05.check_kl_weight_experiment(kls(light, heavy))
    assert "only the KL term" in str(err.value)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -0.5])
def test_the_check_refuses_a_kl_that_is_not_finite_and_non_negative(bad):
    with pytest.raises(ExerciseError, match=">= 0"):
        ch05.check_kl_weight_experiment(kls(19.3, bad))
    with pytest.raises(ExerciseError, match=">= 0"):
        ch05.check_kl_weight_experiment(lambda beta: bad)


def test_a_stub_is_reported_as_not_done(capsys):
    with pytest.raises(ExerciseNotDone):
        ch05.check_kl_weight_experiment(stub)
    assert use_answer("5.4", ch05.check_kl_weight_experiment, stub, None) is None
    assert "not done yet" in capsys.readouterr().out


def test_a_crash_in_the_learners_function_is_reported():
    with pytest.raises(ExerciseError, match="raised KeyError"):
        ch05.check_kl_weight_experiment(lambda beta: {0.1: 1.0}[beta])
