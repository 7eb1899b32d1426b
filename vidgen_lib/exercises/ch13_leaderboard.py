"""Checks for the exercises of notebook 13 (the leaderboard), and their reference answers.

Each check calls the learner's answer on known inputs, prints one ``✓`` line when it is right, and
otherwise raises ``ExerciseError`` with what is wrong and a hint. The reference of 13.2 computes in one
process what ``vidgen_lib.train.average_gradients`` computes across processes.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from vidgen_lib import features, metrics, models
from vidgen_lib.exercises import ExerciseError, as_float, call, passed, register


def seeded_fvd(shipped: dict[str, torch.nn.Module], reference: Tensor, n: int) -> Callable[[str, int], float]:
    """The reference of 13.1: ``fvd(name, seed)``, the FVD of ``n`` samples of ``shipped[name]`` drawn with
    ``seed``, against the video features ``reference`` (N, D) of fixed real clips."""
    def fvd(name: str, seed: int) -> float:
        samples = models.get(name).sample(shipped[name], n, seed=seed)
        return metrics.fvd_from_features(reference, features.video_features(samples))
    return fvd


def data_parallel_gradients(loss_fn: Callable[[Tensor], Tensor], params: list[Tensor], batch: Tensor,
                            processes: int) -> list[Tensor]:
    """The reference of 13.2: the mean over ``processes`` equal shards of ``batch`` (along its first axis)
    of each shard's gradient of ``loss_fn(shard)`` with respect to ``params``."""
    per_shard = [torch.autograd.grad(loss_fn(shard), params) for shard in batch.chunk(processes)]
    return [torch.stack(grads).mean(dim=0) for grads in zip(*per_shard)]


@register("13.1")
def check_fvd_across_seeds(fn: Callable[[str, int], float]) -> dict[str, list[float]]:
    """13.1: ``fvd_with_seed(name, seed) -> float``, the FVD of one seeded draw of samples.

    Runs it for VGAN (seeds 0, 0, 1) and MoCoGAN (seeds 0, 1); checks the same seed repeats the
    number, another seed changes it, and the two models' gap is larger than either's spread over
    seeds. Returns the values, by model."""
    values = {}
    for name, seeds in (("vgan", (0, 0, 1)), ("mocogan", (0, 1))):
        values[name] = [as_float("13.1", call("13.1", fn, name, seed), f"the FVD of {name} with seed {seed}")
                        for seed in seeds]
        if not all(math.isfinite(v) and v >= 0 for v in values[name]):
            raise ExerciseError(f"Exercise 13.1: an FVD is a distance, finite and >= 0; got {values[name]} "
                                f"for {name}.")
    first, again, other = values["vgan"]
    if first != again:
        raise ExerciseError(f"Exercise 13.1: seed 0 gave {first:.4f}, then {again:.4f}: the draw is not "
                            "repeatable. Pass the seed to the model's sample(model, n, seed=seed).")
    if first == other:
        raise ExerciseError("Exercise 13.1: seeds 0 and 1 gave the same FVD: the seed is not used. Draw the "
                            "samples with sample(model, n, seed=seed).")
    spread = max(abs(first - other), abs(values["mocogan"][0] - values["mocogan"][1]))
    gap = abs(sum(values["mocogan"]) / 2 - (first + other) / 2)
    if not gap > spread:
        raise ExerciseError(f"Exercise 13.1: VGAN and MoCoGAN differ by {gap:.2f}, no more than a seed "
                            f"changes either ({spread:.2f}). Use the notebook's fixed `reference` features "
                            "for every call, and N_CLIPS samples.")
    passed("13.1", f"a seed repeats its FVD; another seed moves it by up to {spread:.2f}, less than the "
                   f"{gap:.2f} between VGAN and MoCoGAN.")
    return values


def _regression_case() -> tuple[Callable[[Tensor], Tensor], list[Tensor], Tensor]:
    """A small network, its parameters, and a batch of (x, y) rows; the loss is a mean over the rows."""
    g = torch.Generator().manual_seed(131)
    w1 = torch.randn(3, 8, generator=g).requires_grad_()
    w2 = torch.randn(8, 1, generator=g).requires_grad_()
    batch = torch.randn(12, 4, generator=g)

    def loss_fn(rows: Tensor) -> Tensor:
        x, y = rows[:, :3], rows[:, 3:]
        return ((torch.tanh(x @ w1) @ w2 - y) ** 2).mean()

    return loss_fn, [w1, w2], batch


@register("13.2")
def check_data_parallel_gradients(fn: Callable[[Callable, list[Tensor], Tensor, int], list[Tensor]]) -> None:
    """13.2: ``data_parallel_gradients(loss_fn, params, batch, processes) -> [grad per param]``."""
    loss_fn, params, batch = _regression_case()
    full = torch.autograd.grad(loss_fn(batch), params)
    for processes in (2, 3, 4):
        sizes: list[int] = []

        def recording(rows: Tensor) -> Tensor:
            sizes.append(len(rows))
            return loss_fn(rows)

        got = call("13.2", fn, recording, params, batch, processes)
        if not (isinstance(got, (list, tuple)) and len(got) == len(params)
                and all(isinstance(g, Tensor) and g.shape == p.shape for g, p in zip(got, params))):
            raise ExerciseError("Exercise 13.2: return one gradient per parameter, each of the parameter's "
                                "shape (a list, in the order of params).")
        share = len(batch) // processes
        if sizes != [share] * processes:
            raise ExerciseError(f"Exercise 13.2: with {processes} processes loss_fn should see {processes} "
                                f"shards of {share} rows, one per process; it saw shards of {sizes} rows. "
                                "Split the batch along its first axis (batch.chunk(processes)).")
        if all(torch.allclose(g, processes * f, atol=1e-6) for g, f in zip(got, full)):
            raise ExerciseError(f"Exercise 13.2: the gradients are {processes} times too large: that is the "
                                "sum over the processes. The all-reduce sums; divide by the number of "
                                "processes.")
        if not all(torch.allclose(g, f, atol=1e-6) for g, f in zip(got, full)):
            raise ExerciseError("Exercise 13.2: the averaged gradients differ from the whole batch's. Take "
                                "torch.autograd.grad(loss_fn(shard), params) for every shard, then the mean "
                                "of each parameter's gradients over the shards.")
    passed("13.2", "the mean of the shards' gradients is the gradient of the whole batch's mean loss, for 2, "
                   "3 and 4 processes.")
