"""The toy GAN library: the theory on a grid, the losses, training, and mode counting."""
from __future__ import annotations

import math

import pytest
import torch

from vidgen_lib import gan_toy, losses

P_DATA = gan_toy.Mixture1D((-2.0, 2.0), (0.5, 0.5), (0.3, 0.7))
P_G = gan_toy.Mixture1D((0.0,), (1.5,))
X = torch.linspace(-8, 8, 1601, dtype=torch.float64)
DX = float(X[1] - X[0])


def test_mixture_density_and_samples_agree() -> None:
    assert abs(float(P_DATA.pdf(X).sum() * DX) - 1) < 1e-6
    samples = P_DATA.sample(20000, torch.Generator().manual_seed(0))
    assert samples.shape == (20000, 1)
    assert abs(samples.mean().item() - (0.3 * -2 + 0.7 * 2)) < 0.05


def test_optimal_discriminator_is_a_half_when_the_generator_is_perfect() -> None:
    d = gan_toy.optimal_discriminator(X, P_DATA.pdf, P_DATA.pdf)
    assert torch.allclose(d, torch.full_like(X, 0.5))
    assert abs(gan_toy.value_on_grid(d, P_DATA.pdf(X), P_DATA.pdf(X), DX) + math.log(4)) < 1e-6


def test_value_at_the_optimum_is_minus_log_4_plus_twice_the_jsd() -> None:
    p, q = P_DATA.pdf(X), P_G.pdf(X)
    value = gan_toy.value_on_grid(gan_toy.optimal_discriminator(X, P_DATA.pdf, P_G.pdf), p, q, DX)
    jsd = gan_toy.js_divergence(p, q, DX)
    assert 0 < jsd < math.log(2)
    assert abs(value - (-math.log(4) + 2 * jsd)) < 1e-6


def test_jsd_of_disjoint_densities_is_log_2() -> None:
    p, q = (X < -1).double(), (X > 1).double()
    p, q = p / (p.sum() * DX), q / (q.sum() * DX)
    assert abs(gan_toy.js_divergence(p, q, DX) - math.log(2)) < 1e-9


def test_losses_at_d_one_half() -> None:
    zeros = torch.zeros(16)
    assert abs(losses.discriminator_loss(zeros, zeros).item() - math.log(4)) < 1e-6
    assert abs(losses.generator_loss(zeros, "non_saturating").item() - math.log(2)) < 1e-6
    assert abs(losses.generator_loss(zeros, "saturating").item() + math.log(2)) < 1e-6
    with pytest.raises(ValueError, match="kind"):
        losses.generator_loss(zeros, "wasserstein")


def test_saturating_gradient_vanishes_when_d_rejects_fakes() -> None:
    logits = torch.tensor([-6.0], requires_grad=True)  # D(G(z)) ≈ 0.0025
    (sat,) = torch.autograd.grad(losses.generator_loss(logits, "saturating"), logits)
    (non_sat,) = torch.autograd.grad(losses.generator_loss(logits, "non_saturating"), logits)
    assert sat.abs().item() < 0.01 < 0.99 < non_sat.abs().item()


def test_trained_discriminator_approaches_d_star() -> None:
    D = gan_toy.fit_discriminator(P_DATA.sample, P_G.sample, progress=False, device=torch.device("cpu"))
    x = torch.linspace(-5, 5, 501, dtype=torch.float64)
    d = gan_toy.discriminator_probability(D, x).double()
    d_star = gan_toy.optimal_discriminator(x, P_DATA.pdf, P_G.pdf)
    mass = (P_DATA.pdf(x) + P_G.pdf(x)) / 2 > 0.02
    assert d.shape == x.shape
    assert (d - d_star)[mass].abs().max() < 0.1


def test_train_gan_records_history_and_snapshots() -> None:
    config = gan_toy.ToyGANConfig(steps=60, snapshot_every=20, batch_size=64, d_steps=2, g_steps=2)
    run = gan_toy.train_gan(gan_toy.sample_ring, config, progress=False, device=torch.device("cpu"))
    assert list(run.snapshots) == [0, 20, 40, 60]
    assert all(s.shape == (1000, 2) for s in run.snapshots.values())
    assert run.history[-1]["step"] == 60 and math.isfinite(run.history[-1]["d_loss"])
    assert run.sample(5).shape == (5, 2)
    again = gan_toy.train_gan(gan_toy.sample_ring, config, progress=False, device=torch.device("cpu"))
    assert torch.equal(run.snapshots[60], again.snapshots[60])  # seeded: reproducible


def test_count_modes() -> None:
    centers = gan_toy.ring_centers()
    real = gan_toy.sample_ring(4000, torch.Generator().manual_seed(0))
    coverage = gan_toy.count_modes(real, centers, gan_toy.RING_STD)
    assert coverage.covered == 8 and coverage.high_quality > 0.98
    collapsed = centers[3] + 0.01 * torch.randn(1000, 2)
    assert gan_toy.count_modes(collapsed, centers, gan_toy.RING_STD).covered == 1
    between = torch.zeros(1000, 2)  # the centre of the ring is no mode
    assert gan_toy.count_modes(between, centers, gan_toy.RING_STD) == gan_toy.ModeCoverage(0, 8, 0.0)


def test_hinge_losses_hand_computed() -> None:
    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-3.0, 0.0, 0.5])
    # D: mean max(0, 1 - l_real) + mean max(0, 1 + l_fake) = (0 + 0.5 + 2) / 3 + (0 + 1 + 1.5) / 3
    assert math.isclose(losses.discriminator_loss(real, fake, "hinge").item(), 5 / 3, rel_tol=1e-6)
    assert math.isclose(losses.generator_loss(fake, "hinge").item(), 2.5 / 3, rel_tol=1e-6)  # -mean l_fake
    with pytest.raises(ValueError, match="bce"):
        losses.discriminator_loss(real, fake, "wasserstein")
