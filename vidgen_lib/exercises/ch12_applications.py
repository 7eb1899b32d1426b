"""Checks for the exercises of notebook 12 (applications), and their reference answers.

Each check calls the learner's answer on known inputs, prints one ``✓`` line when it is right, and
otherwise raises ``ExerciseError`` with what is wrong and a hint.

- 12.1: the rate of integer latents under a factorised prior, in bits (what ``FactorizedPrior.bits``
  computes and the range coder really writes);
- 12.2: the shuffled-audio control: a random pairing of clips with audio in which no clip keeps its own;
- 12.3: the interaction network's aggregation: every ball sums the effects it receives from the others.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from vidgen_lib.exercises import ExerciseError, as_float, call, passed, register


def symbol_bits(symbols: Tensor, cdf: Callable[[Tensor], Tensor]) -> Tensor:
    """The reference of 12.1: ``sum -log2 P(k)`` over integer ``symbols`` with ``P(k) = cdf(k + 1/2) -
    cdf(k - 1/2)``, the mass of the unit bin around each integer; a 0-dim tensor."""
    return -torch.log2(cdf(symbols + 0.5) - cdf(symbols - 0.5)).sum()


def derangement(n: int, generator: torch.Generator) -> Tensor:
    """The reference of 12.2: a uniformly random permutation of ``range(n)`` with no fixed point, drawn by
    rejection (about e tries on average)."""
    if n < 2:
        raise ValueError(f"a derangement needs at least 2 items, got n={n}.")
    while True:
        order = torch.randperm(n, generator=generator)
        if not (order == torch.arange(n)).any():
            return order


def summed_effects(effect: Tensor) -> Tensor:
    """The reference of 12.3: ``effect[b, i, j]`` is phi_R(o_i, o_j), the effect of sender j on receiver
    i, ``(B, n, n, D)``; returns ``e_i = sum_{j != i} effect[b, i, j]``, ``(B, n, D)``."""
    n = effect.shape[1]
    return (effect * (1 - torch.eye(n))[None, :, :, None]).sum(dim=2)


@register("12.1")
def check_symbol_bits(fn: Callable[[Tensor, Callable[[Tensor], Tensor]], Tensor]) -> None:
    """12.1: ``symbol_bits(symbols, cdf) -> bits``: the total bits of integer ``symbols`` under a prior
    given by its ``cdf``. Checked against a Laplace prior of ``torch.distributions``, whose bin masses
    are exact."""
    laplace = torch.distributions.Laplace(0.0, 2.0)
    symbols = torch.tensor([[0.0, 1.0, -1.0], [3.0, 0.0, -7.0]])
    expected = symbol_bits(symbols, laplace.cdf).item()
    got = as_float("12.1", call("12.1", fn, symbols, laplace.cdf), "the total bits")
    if math.isclose(got, expected / symbols.numel(), rel_tol=1e-4):
        raise ExerciseError(f"Exercise 12.1: {got:.4f} is the mean over the {symbols.numel()} symbols; the "
                            "rate of the whole stream is their sum.")
    if math.isclose(got, expected * math.log(2), rel_tol=1e-4):
        raise ExerciseError(f"Exercise 12.1: {got:.4f} is in nats (natural log). A coder writes bits: use "
                            "torch.log2.")
    density = -torch.log2(laplace.log_prob(symbols).exp()).sum().item()
    if math.isclose(got, density, rel_tol=1e-4):
        raise ExerciseError("Exercise 12.1: that is the density at each integer, not the probability of "
                            "its bin. The coder sends the integer k, so P(k) is the mass of the bin around "
                            "it: cdf(k + 1/2) - cdf(k - 1/2).")
    upper = -torch.log2(laplace.cdf(symbols + 1) - laplace.cdf(symbols)).sum().item()
    if math.isclose(got, upper, rel_tol=1e-4):
        raise ExerciseError("Exercise 12.1: the bin [k, k + 1) is not centred on k. Rounding sends every "
                            "value in [k - 1/2, k + 1/2) to k.")
    if not math.isclose(got, expected, rel_tol=1e-4):
        raise ExerciseError(f"Exercise 12.1: got {got:.4f} bits, expected {expected:.4f}: the sum over the "
                            "symbols of -log2(cdf(k + 1/2) - cdf(k - 1/2)).")
    passed("12.1", f"{expected:.2f} bits for these 6 integers: -log2 of each bin's mass, summed; the "
                   "rarest (-7) alone costs "
                   f"{-math.log2(laplace.cdf(torch.tensor(-6.5)) - laplace.cdf(torch.tensor(-7.5))):.2f}.")


@register("12.2")
def check_derangement(fn: Callable[[int, torch.Generator], Tensor]) -> None:
    """12.2: ``derangement(n, generator) -> order``: a random permutation of ``range(n)`` in which
    ``order[i] != i`` for every i, drawn with ``generator``."""
    for n in (2, 3, 5, 8):
        seen = set()
        for seed in range(60):
            order = call("12.2", fn, n, torch.Generator().manual_seed(seed))
            if not isinstance(order, Tensor) or order.shape != (n,) or order.is_floating_point():
                raise ExerciseError(f"Exercise 12.2: return an integer tensor of shape ({n},), got "
                                    f"{type(order).__name__} {getattr(order, 'shape', '')}.")
            if sorted(order.tolist()) != list(range(n)):
                raise ExerciseError(f"Exercise 12.2: {order.tolist()} is not a permutation of "
                                    f"range({n}): some clips would get two audio tracks and others none.")
            fixed = (order == torch.arange(n)).nonzero().flatten().tolist()
            if fixed:
                raise ExerciseError(f"Exercise 12.2: with n={n} and seed {seed}, clips {fixed} keep their "
                                    "own audio, so the control is not shuffled for them. torch.randperm "
                                    "alone leaves a fixed point in about 63% of draws: draw again until "
                                    "none is left.")
            again = call("12.2", fn, n, torch.Generator().manual_seed(seed))
            if not torch.equal(order, again):
                raise ExerciseError("Exercise 12.2: the same seed gave two orders: draw with the generator "
                                    "you are given (torch.randperm(n, generator=generator)).")
            seen.add(tuple(order.tolist()))
        if n >= 3 and len(seen) < 2:
            raise ExerciseError(f"Exercise 12.2: every seed gave the same order {sorted(seen)[0]} for n={n}. "
                                "A fixed rotation never gives a clip the audio of most other clips; draw a "
                                "random derangement.")
    passed("12.2", "every clip gets another clip's audio, a different pairing for each seed, repeatable per "
                   "seed.")


@register("12.3")
def check_summed_effects(fn: Callable[[Tensor], Tensor]) -> None:
    """12.3: ``summed_effects(effect) -> e``: from the effects ``(B, n, n, D)`` of every ordered pair
    (receiver i, sender j), each ball's summed effect ``e_i = sum_{j != i} effect[:, i, j]``,
    ``(B, n, D)``."""
    g = torch.Generator().manual_seed(123)
    effect = torch.randn(2, 4, 4, 3, generator=g)
    expected = summed_effects(effect)
    got = call("12.3", fn, effect.clone())
    if not isinstance(got, Tensor) or got.shape != expected.shape:
        raise ExerciseError(f"Exercise 12.3: expected a tensor of shape {tuple(expected.shape)} (B, n, D), "
                            f"got {getattr(got, 'shape', type(got).__name__)}.")
    if torch.allclose(got, effect.sum(dim=2), atol=1e-5):
        raise ExerciseError("Exercise 12.3: the sum includes j = i, the ball's effect on itself; a ball is "
                            "not its own relation. Leave out the diagonal (multiply by 1 - torch.eye(n)).")
    if torch.allclose(got, (effect * (1 - torch.eye(4))[None, :, :, None]).sum(dim=1), atol=1e-5):
        raise ExerciseError("Exercise 12.3: that sums over the receivers (axis 1): ball i should collect "
                            "what the other balls send it, effect[:, i, j] over the senders j (axis 2).")
    if torch.allclose(got, expected / 3, atol=1e-5):
        raise ExerciseError("Exercise 12.3: that is the mean over the senders; the paper sums the effects, "
                            "so two pushes are twice one push.")
    if not torch.allclose(got, expected, atol=1e-5):
        raise ExerciseError("Exercise 12.3: the summed effects are wrong: e_i = sum over j != i of "
                            "effect[:, i, j].")
    order = torch.tensor([2, 0, 3, 1])
    permuted = call("12.3", fn, effect[:, order][:, :, order])
    if not torch.allclose(permuted, got[:, order], atol=1e-5):
        raise ExerciseError("Exercise 12.3: renumbering the balls should renumber the effects the same way.")
    passed("12.3", "each ball sums what the others send it, and renumbering the balls renumbers the sums.")
