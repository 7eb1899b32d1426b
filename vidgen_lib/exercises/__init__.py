"""Exercise checks with helpful messages: one module per chapter (``ch01_gan_math.py``, ``ch02_vgan.py``,
...).

A check ``check_<name>(fn_or_value)`` runs the learner's answer on known cases. On success it prints one
line starting with ``✓``; otherwise it raises :class:`ExerciseError` (an ``AssertionError``) whose
message names the problem and hints at the fix. A stub that still raises ``NotImplementedError`` is
reported as "not implemented yet". ``@register("N.M")`` records a check in ``EXERCISES``, the map from
exercise ids to checks; ``load_all()`` imports every chapter module so that the map is complete.

The notebooks mark solutions with nbgrader's ``### BEGIN/END SOLUTION`` in cells tagged ``solution``;
``vidgen_lib.course`` builds the student edition from them.
"""
from __future__ import annotations

import contextlib
import importlib
import math
import pkgutil
from collections.abc import Iterator
from typing import Any, Callable

import torch

Check = Callable[..., None]
EXERCISES: dict[str, Check] = {}


class ExerciseError(AssertionError):
    """The answer to an exercise is wrong; the message says how, and hints at a fix."""


class ExerciseNotDone(ExerciseError):
    """The answer is still the stub (it raises ``NotImplementedError``)."""


def register(exercise_id: str) -> Callable[[Check], Check]:
    """Decorator: record a check in ``EXERCISES`` under its id, e.g. ``@register("1.1")``."""

    def add(check: Check) -> Check:
        EXERCISES[exercise_id] = check
        return check

    return add


def load_all() -> dict[str, Check]:
    """Import every chapter module of this package, so that ``EXERCISES`` holds all checks; returns it."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return EXERCISES


def call(exercise_id: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Call the learner's ``fn``; a stub or a crash becomes an ExerciseError that says so."""
    try:
        return fn(*args)
    except NotImplementedError:
        raise ExerciseNotDone(
            f"Exercise {exercise_id} is not implemented yet: replace the `raise NotImplementedError(...)` "
            "line with your code, run the cell again."
        ) from None
    except Exception as err:
        raise ExerciseError(f"Exercise {exercise_id}: your function raised "
                            f"{type(err).__name__}: {err}") from err


def as_float(exercise_id: str, value: Any, what: str) -> float:
    """A learner's single-number answer as a float, or an ExerciseError if it is not one number."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ExerciseError(
                f"Exercise {exercise_id}: {what} should be a single number, got a tensor of shape "
                f"{tuple(value.shape)}: did you forget to sum (or average) over the points?"
            )
        value = value.detach()
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ExerciseError(f"Exercise {exercise_id}: {what} should be a number, "
                            f"got {type(value).__name__}.") from None


def as_tensor(exercise_id: str, value: Any, shape: tuple[int, ...], what: str) -> torch.Tensor:
    """A learner's result as a tensor of the expected shape, or an ExerciseError naming the problem."""
    if not isinstance(value, torch.Tensor):
        raise ExerciseError(f"Exercise {exercise_id}: return a torch.Tensor ({what}), "
                            f"got {type(value).__name__}.")
    if tuple(value.shape) != shape:
        raise ExerciseError(f"Exercise {exercise_id}: {what} should have shape {shape}, "
                            f"got {tuple(value.shape)}.")
    return value


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a check's block with the global generator seeded (the learner's code may draw from it), and
    give the learner's generator back afterwards, as it was."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        yield


def measure_settings(exercise_id: str, fn: Callable[[Any], Any], settings: tuple, what: str, *,
                     low: float = 0.0, high: float = math.inf) -> dict:
    """Run the learner's experiment ``fn`` once per setting; returns ``{setting: value}``.

    Each value must be one finite number in ``[low, high]`` (what the measured quantity can be: a KL is
    >= 0, a mean mask lies in [0, 1]); a stub or a crash is reported as ``call`` does.
    """
    values = {}
    for setting in settings:
        value = as_float(exercise_id, call(exercise_id, fn, setting), what)
        if not (math.isfinite(value) and low <= value <= high):
            bounds = f">= {low:g}" if high == math.inf else f"in [{low:g}, {high:g}]"
            raise ExerciseError(f"Exercise {exercise_id}: {what} should be a finite number {bounds}, "
                                f"got {value} for {setting!r}.")
        values[setting] = value
    return values


def use_answer(exercise_id: str, check: Check, answer: Any, reference: Any) -> Any:
    """Check the learner's ``answer`` and return what the rest of the notebook should use.

    A finished answer is checked (a wrong one raises ``ExerciseError``) and returned. A stub prints
    "not done yet" and the library's ``reference`` is returned, so "Run All" reaches the end of the
    student edition and the exercise can be done later.
    """
    try:
        check(answer)
    except ExerciseNotDone:
        print(f"… Exercise {exercise_id}: not done yet; the notebook goes on with the library's version.")
        return reference
    return answer


def passed(exercise_id: str, what: str) -> None:
    """Print the success line of a check."""
    print(f"✓ Exercise {exercise_id} passed: {what}")


# Every chapter's checks, importable from here: ``from vidgen_lib.exercises import check_x``.
# (Chapter modules import the helpers above from this package, so this comes last.)
load_all()
globals().update({check.__name__: check for check in EXERCISES.values()})
