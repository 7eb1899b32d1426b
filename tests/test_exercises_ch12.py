"""The checks of notebook 12 pass on the references, report stubs, and name the typical mistakes."""
from __future__ import annotations

import math

import pytest
import torch

from vidgen_lib.exercises import ExerciseError, load_all
from vidgen_lib.exercises import ch12_applications as ch12
from vidgen_lib.nn.entropy import FactorizedPrior


def stub(*args: object) -> None:
    raise NotImplementedError("Exercise 12.M: a stub")


def test_checks_are_registered():
    checks = load_all()
    assert checks["12.1"] is ch12.check_symbol_bits
    assert checks["12.2"] is ch12.check_derangement
    assert checks["12.3"] is ch12.check_summed_effects


def test_symbol_bits_reference_equals_the_learned_priors_rate():
    prior = FactorizedPrior(1)
    symbols = torch.tensor([[-3.0, 0.0, 2.0, 5.0]])  # (B=1, C=1, 4)
    cdf = lambda x: torch.sigmoid(prior.logits(x.reshape(1, 1, -1))).reshape(x.shape)  # noqa: E731
    expected = prior.bits(symbols[:, None]).item()
    assert math.isclose(ch12.symbol_bits(symbols, cdf).item(), expected, rel_tol=1e-5)


def test_symbol_bits_check_passes_the_reference_and_names_the_mistakes(capsys):
    ch12.check_symbol_bits(ch12.symbol_bits)
    assert capsys.readouterr().out.startswith("✓ Exercise 12.1 passed")
    with pytest.raises(ExerciseError, match="not implemented yet"):
        ch12.check_symbol_bits(stub)
    with pytest.raises(ExerciseError, match="mean"):
        ch12.check_symbol_bits(lambda y, cdf: ch12.symbol_bits(y, cdf) / y.numel())
    with pytest.raises(ExerciseError, match="nats"):
        ch12.check_symbol_bits(lambda y, cdf: -torch.log(cdf(y + 0.5) - cdf(y - 0.5)).sum())
    with pytest.raises(ExerciseError, match="bin"):
        ch12.check_symbol_bits(lambda y, cdf: -torch.log2(cdf(y + 1) - cdf(y)).sum())
    with pytest.raises(ExerciseError, match="density"):
        laplace = torch.distributions.Laplace(0.0, 2.0)
        ch12.check_symbol_bits(lambda y, cdf: -laplace.log_prob(y).exp().log2().sum())


def test_derangement_check_passes_the_reference_and_names_the_mistakes(capsys):
    ch12.check_derangement(ch12.derangement)
    assert capsys.readouterr().out.startswith("✓ Exercise 12.2 passed")
    with pytest.raises(ExerciseError, match="not implemented yet"):
        ch12.check_derangement(stub)
    with pytest.raises(ExerciseError, match="keep their own"):
        ch12.check_derangement(lambda n, g: torch.randperm(n, generator=g))
    with pytest.raises(ExerciseError, match="same order"):
        ch12.check_derangement(lambda n, g: torch.roll(torch.arange(n), 1))
    with pytest.raises(ExerciseError, match="not a permutation"):
        ch12.check_derangement(lambda n, g: (torch.arange(n) == 0).long())  # every clip gets clip 0's or 1's
    with pytest.raises(ExerciseError, match="same seed"):
        unseeded = lambda n, g: ch12.derangement(n, torch.Generator().manual_seed(int(torch.randint(9, ()))))  # noqa: E731
        ch12.check_derangement(unseeded)
    with pytest.raises(ExerciseError, match="integer tensor"):
        ch12.check_derangement(lambda n, g: ch12.derangement(n, g).float())


def test_summed_effects_check_passes_the_reference_and_names_the_mistakes(capsys):
    ch12.check_summed_effects(ch12.summed_effects)
    assert capsys.readouterr().out.startswith("✓ Exercise 12.3 passed")
    with pytest.raises(ExerciseError, match="not implemented yet"):
        ch12.check_summed_effects(stub)
    with pytest.raises(ExerciseError, match="itself"):
        ch12.check_summed_effects(lambda e: e.sum(dim=2))
    with pytest.raises(ExerciseError, match="receivers"):
        ch12.check_summed_effects(lambda e: (e * (1 - torch.eye(e.shape[1]))[None, :, :, None]).sum(dim=1))
    with pytest.raises(ExerciseError, match="mean"):
        ch12.check_summed_effects(lambda e: ch12.summed_effects(e) / (e.shape[1] - 1))
    with pytest.raises(ExerciseError, match="shape"):
        ch12.check_summed_effects(lambda e: ch12.summed_effects(e)[0])


def test_summed_effects_reference_is_what_the_interaction_network_computes():
    from vidgen_lib.models import interaction_net

    model = interaction_net.build(interaction_net.Config(relation_width=8, effect_dim=3))
    objects = torch.randn(2, 4, 4)
    receivers = objects[:, :, None].expand(-1, -1, 4, -1)
    senders = objects[:, None].expand(-1, 4, -1, -1)
    effect = model.relation(torch.cat([receivers, senders], dim=-1))
    assert torch.allclose(ch12.summed_effects(effect), model.effects(objects), atol=1e-6)
