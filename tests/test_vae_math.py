"""Notebook 05's library: KL and likelihood helpers, the ELBO identity, gradient estimators, the frame VAE,
checks."""
from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from vidgen_lib import losses, vae_toy
from vidgen_lib.exercises import ExerciseError, load_all

EXERCISES = load_all()


def _gaussians(seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(5, 4, generator=g, dtype=torch.float64) for _ in range(4))


# --- losses ------------------------------------------------------------------------------------

def test_gaussian_kl_matches_torch_distributions() -> None:
    mu_q, lv_q, mu_p, lv_p = _gaussians()
    want = kl_divergence(Normal(mu_q, (0.5 * lv_q).exp()), Normal(mu_p, (0.5 * lv_p).exp()))
    assert torch.allclose(losses.gaussian_kl(mu_q, lv_q, mu_p, lv_p), want, atol=1e-12)


def test_gaussian_kl_is_zero_only_for_equal_gaussians() -> None:
    mu, lv, _, _ = _gaussians(1)
    assert torch.allclose(losses.gaussian_kl(mu, lv, mu, lv), torch.zeros_like(mu), atol=1e-12)
    assert (losses.gaussian_kl(mu, lv, mu + 0.1, lv) > 0).all()


def test_gaussian_log_prob_and_nll_match_torch_distributions() -> None:
    x, mu, lv, _ = _gaussians(2)
    want = Normal(mu, (0.5 * lv).exp()).log_prob(x)
    assert torch.allclose(losses.gaussian_log_prob(x, mu, lv), want, atol=1e-12)
    assert torch.allclose(losses.gaussian_nll(x, mu, lv), -want, atol=1e-12)


def test_bernoulli_nll_matches_torch_distributions() -> None:
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(3, 7, generator=g) * 4
    x = (torch.rand(3, 7, generator=g) > 0.5).float()
    assert torch.allclose(losses.bernoulli_nll(logits, x), -Bernoulli(logits=logits).log_prob(x), atol=1e-5)


# --- the ELBO on a model with a known log p(x) ---------------------------------------------------

def test_elbo_identity_log_px_equals_elbo_plus_kl_gap() -> None:
    model = vae_toy.LinearGaussian.random(x_dim=4, z_dim=2, seed=1)
    x, mu_q, lv_q, _ = (t[:, :4] for t in _gaussians(4))
    mu_q, lv_q = mu_q[:, :2], 0.3 * lv_q[:, :2]
    gap = model.log_marginal(x) - model.elbo(x, mu_q, lv_q)
    assert torch.allclose(gap, vae_toy.kl_to_posterior(model, x, mu_q, lv_q), atol=1e-9)
    assert (gap > 0).all()


def test_elbo_is_tight_at_the_true_posterior_when_it_is_diagonal() -> None:
    # orthogonal columns: diagonal posterior
    W = torch.tensor([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]], dtype=torch.float64)
    model = vae_toy.LinearGaussian(W, torch.zeros(3, dtype=torch.float64), 0.5)
    x = torch.tensor([[0.3, -1.0, 0.2]], dtype=torch.float64)
    post = model.posterior(x)
    elbo = model.elbo(x, post.mean, post.covariance_matrix.diagonal(dim1=-2, dim2=-1).log())
    assert torch.allclose(elbo, model.log_marginal(x), atol=1e-9)


def test_monte_carlo_elbo_agrees_with_the_closed_form() -> None:
    model = vae_toy.LinearGaussian.random(seed=2)
    x = torch.tensor([[0.5, -0.2, 1.0]], dtype=torch.float64)
    post = model.posterior(x)
    mu, lv = post.mean, post.covariance_matrix.diagonal(dim1=-2, dim2=-1).log()
    mc = model.elbo_monte_carlo(x, mu, lv, 20000, torch.Generator().manual_seed(0))
    assert torch.allclose(mc, model.elbo(x, mu, lv), atol=0.02)


# --- gradient estimators -----------------------------------------------------------------------

def test_both_estimators_are_unbiased_and_reparam_has_lower_variance() -> None:
    est = vae_toy.gradient_estimates(lambda z: (z - 3) ** 2, 1.0, 1.0, 10, 4000,
                                     torch.Generator().manual_seed(0))
    true_grad = 2 * (1.0 - 3)
    for name in ("reparam", "score", "score_baseline"):
        assert abs(est[name].mean().item() - true_grad) < 4 * est[name].std().item() / math.sqrt(4000) + 1e-9
    assert est["reparam"].var() < est["score_baseline"].var() < est["score"].var()


# --- the frame VAE -----------------------------------------------------------------------------

def test_frame_vae_shapes_and_loss_terms() -> None:
    torch.manual_seed(0)
    model = vae_toy.FrameVAE(z_dim=3, frame_size=16)
    x = torch.rand(4, 1, 16, 16)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (4, 3)
    assert model.decode(mu).shape == (4, 1, 16, 16)
    out = model(x)
    assert torch.allclose(out["loss"], out["recon_nll"] + out["kl"], atol=1e-4)
    assert out["kl"] >= 0


def test_frame_vae_overfits_a_few_frames() -> None:
    frames = torch.zeros(4, 1, 16, 16)
    for i, (r, c) in enumerate([(2, 2), (2, 9), (9, 2), (9, 9)]):
        frames[i, 0, r:r + 5, c:c + 5] = 1.0  # four squares in four corners
    model, history = vae_toy.train_frame_vae(frames, steps=80, batch_size=8, lr=3e-3, z_dim=2, progress=False)
    assert sum(history[-10:]) / 10 < 0.45 * history[0]


def test_decode_latent_and_traversal() -> None:
    torch.manual_seed(0)
    model = vae_toy.FrameVAE(z_dim=2, frame_size=16).eval()
    frame = vae_toy.decode_latent(model, [0.5, -1.0])
    assert frame.shape == (1, 16, 16) and 0 <= frame.min() and frame.max() <= 1
    sweep = vae_toy.latent_traversal(model, 1, torch.linspace(-2, 2, 5))
    assert sweep.shape == (5, 1, 16, 16)
    assert torch.allclose(sweep[1], vae_toy.decode_latent(model, [0.0, -1.0]), atol=1e-6)
    with pytest.raises(ValueError, match="expected 2 latent values"):
        vae_toy.decode_latent(model, [0.0])


# --- exercise checks ---------------------------------------------------------------------------

def stub(*args: object) -> None:
    raise NotImplementedError("Exercise 5.N: a stub")


@pytest.mark.parametrize("exercise_id", ["5.1", "5.2", "5.3"])
def test_checks_report_a_stub(exercise_id: str) -> None:
    with pytest.raises(ExerciseError, match="not implemented yet"):
        EXERCISES[exercise_id](stub)


def test_check_5_1_passes_the_solution_and_names_mistakes(capsys) -> None:
    from vidgen_lib.exercises import check_gaussian_kl

    check_gaussian_kl(losses.gaussian_kl)
    assert "✓" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="not symmetric"):
        check_gaussian_kl(lambda mq, lq, mp, lp: losses.gaussian_kl(mp, lp, mq, lq))
    with pytest.raises(ExerciseError, match="twice"):
        check_gaussian_kl(lambda mq, lq, mp, lp: 2 * losses.gaussian_kl(mq, lq, mp, lp))


def test_check_5_2_passes_the_solution_and_names_mistakes(capsys) -> None:
    from vidgen_lib.exercises import check_reparameterize

    check_reparameterize(lambda mu, lv, eps: mu + (0.5 * lv).exp() * eps)
    assert "✓" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="variance"):
        check_reparameterize(lambda mu, lv, eps: mu + lv.exp() * eps)
    with pytest.raises(ExerciseError, match="no gradient"):
        check_reparameterize(lambda mu, lv, eps: (mu + (0.5 * lv).exp() * eps).detach())


def test_check_5_3_passes_the_solution_and_names_mistakes(capsys) -> None:
    from vidgen_lib.exercises import check_negative_elbo

    def kl(mu, lv):
        return losses.gaussian_kl(mu, lv, torch.zeros_like(mu), torch.zeros_like(lv)).sum(-1)

    check_negative_elbo(
        lambda x, lg, mu, lv: (losses.bernoulli_nll(lg, x).sum((1, 2, 3)) + kl(mu, lv)).mean())
    assert "✓" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="left out the KL"):
        check_negative_elbo(lambda x, lg, mu, lv: losses.bernoulli_nll(lg, x).sum((1, 2, 3)).mean())
    with pytest.raises(ExerciseError, match="sign"):
        check_negative_elbo(
            lambda x, lg, mu, lv: -(losses.bernoulli_nll(lg, x).sum((1, 2, 3)) + kl(mu, lv)).mean())
