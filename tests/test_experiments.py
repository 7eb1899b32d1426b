"""The checked experiments of chapters 01-09: each check runs the learner's experiment at its two settings,
passes when the measured effect goes the way the lesson says, fails with a hint otherwise (or on a tie),
refuses a number the quantity cannot take, and reports a stub as not done."""
from __future__ import annotations

import pytest

from vidgen_lib.exercises import EXERCISES, ExerciseError, ExerciseNotDone, load_all, use_answer

load_all()

#: exercise -> (its two settings, values that go the right way, the direction's message, a hint of the check)
EXPERIMENTS = {
    "1.5": (("saturating", "non_saturating"), (9.8, 2.0), "should get closer", "same config"),
    "2.5": ((0.0, 1.0), (0.62, 0.43), "the penalty should shrink it", "same config"),
    "3.5": ((1, 10), (0.0013, 0.0059), "should let them differ more", "only dim_motion changed"),
    "4.4": ((0.5, 2.0), (2.0, 65.0), "heavier blur should raise it", "embed the blurred clips"),
    "5.5": ((0.1, 4.0), (19.3, 3.4), "should lower it", "only the KL term"),
    "6.5": ((1, 10), (1.016, 0.079), "should lower it", "long_jump_prob=0"),
    "7.6": ((0.0, 0.25), (0.0012, 0.0854), "should keep it higher", "only free_bits changed"),
    "8.4": ((False, True), (98.62, 113.97), "should cost less", "same config"),
    "9.4": ((0.0, 10.0), (0.8, 0.2), "should lower it", "same steps and seed"),
}
IDS = list(EXPERIMENTS)


def experiment(exercise: str, first: float, second: float):
    """A learner's experiment that measures ``first`` at the first setting and ``second`` at the other."""
    settings = EXPERIMENTS[exercise][0]
    return lambda setting: {settings[0]: first, settings[1]: second}[setting]


def stub(setting: object) -> float:
    raise NotImplementedError("Exercise N.M: a stub")


@pytest.mark.parametrize("exercise", IDS)
def test_the_check_passes_when_the_effect_goes_the_right_way(exercise, capsys):
    EXERCISES[exercise](experiment(exercise, *EXPERIMENTS[exercise][1]))
    assert capsys.readouterr().out.startswith(f"✓ Exercise {exercise} passed")


@pytest.mark.parametrize("exercise", IDS)
@pytest.mark.parametrize("kind", ["reversed", "tie"])
def test_the_check_fails_in_the_wrong_direction_or_on_a_tie_with_a_hint(exercise, kind):
    _, (first, second), direction, hint = EXPERIMENTS[exercise]
    values = (second, first) if kind == "reversed" else (first, first)
    with pytest.raises(ExerciseError, match=direction) as err:
        EXERCISES[exercise](experiment(exercise, *values))
    assert hint in str(err.value)


@pytest.mark.parametrize("exercise", IDS)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -0.5])
def test_the_check_refuses_a_number_the_quantity_cannot_take(exercise, bad):
    with pytest.raises(ExerciseError, match="should be a finite number"):
        EXERCISES[exercise](experiment(exercise, EXPERIMENTS[exercise][1][0], bad))


def test_a_mean_mask_must_lie_in_zero_one():
    with pytest.raises(ExerciseError, match=r"in \[0, 1\]"):
        EXERCISES["2.5"](experiment("2.5", 0.6, 1.5))


@pytest.mark.parametrize("exercise", IDS)
def test_a_stub_is_reported_as_not_done_and_a_crash_as_such(exercise, capsys):
    with pytest.raises(ExerciseNotDone):
        EXERCISES[exercise](stub)
    assert use_answer(exercise, EXERCISES[exercise], stub, None) is None
    assert "not done yet" in capsys.readouterr().out
    first_setting = EXPERIMENTS[exercise][0][0]
    with pytest.raises(ExerciseError, match="raised KeyError"):
        EXERCISES[exercise](lambda setting: {first_setting: 1.0}[setting])
