"""The VAE chapter's toys: a model whose log p(x) is known, two gradient estimators, a small conv VAE.

Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014. Taught in
``notebooks/05_vae_math.ipynb``:

- ``LinearGaussian``: z ~ N(0, I), x = W z + b + sigma * noise. Its marginal p(x) and posterior
  p(z | x) are Gaussians in closed form, so the ELBO identity log p(x) = ELBO(q) + KL(q || p(z|x))
  can be checked to machine precision.
- ``gradient_estimates``: the reparameterised and the score-function (REINFORCE) estimators of
  d/dmu E_{z ~ N(mu, sigma^2)}[f(z)], to compare their variances.
- ``FrameVAE``: a small convolutional VAE on single frames (B, 1, H, W) in [0, 1], with
  ``train_frame_vae`` (a few hundred steps) and ``decode_latent`` / ``latent_traversal`` for sliders.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import torch
from einops import rearrange
from torch import Tensor, nn
from torch.distributions import MultivariateNormal, Normal

from vidgen_lib.datasets import MovingDigits, video_batch
from vidgen_lib.losses import bernoulli_nll, gaussian_kl
from vidgen_lib.runtime import seed_everything
from vidgen_lib.train import Trainer

# --- a model with a known log p(x) -----------------------------------------------------------------


@dataclasses.dataclass
class LinearGaussian:
    """z ~ N(0, I_d), x | z ~ N(W z + b, sigma^2 I_D). W is (D, d), b is (D,); float64 throughout."""

    W: Tensor
    b: Tensor
    sigma: float

    @classmethod
    def random(cls, x_dim: int = 3, z_dim: int = 2, sigma: float = 0.5, seed: int = 0) -> "LinearGaussian":
        g = torch.Generator().manual_seed(seed)
        return cls(torch.randn(x_dim, z_dim, generator=g, dtype=torch.float64),
                   torch.randn(x_dim, generator=g, dtype=torch.float64), sigma)

    def log_marginal(self, x: Tensor) -> Tensor:
        """log p(x) for x (N, D): p(x) = N(b, W W^T + sigma^2 I), in closed form."""
        cov = self.W @ self.W.T + self.sigma**2 * torch.eye(len(self.b), dtype=torch.float64)
        return MultivariateNormal(self.b, cov).log_prob(x)

    def posterior(self, x: Tensor) -> MultivariateNormal:
        """p(z | x) for x (N, D): Gaussian with covariance (I + W^T W / sigma^2)^-1 (Bayes for Gaussians)."""
        precision = torch.eye(self.W.shape[1], dtype=torch.float64) + self.W.T @ self.W / self.sigma**2
        cov = torch.linalg.inv(precision)
        mean = (x - self.b) @ self.W @ cov / self.sigma**2  # (N, d); cov is symmetric
        return MultivariateNormal(mean, cov.expand(len(x), -1, -1))

    def elbo(self, x: Tensor, mu_q: Tensor, logvar_q: Tensor) -> Tensor:
        """ELBO(q) = E_q[log p(x|z)] − KL(q || p(z)) for a diagonal q = N(mu_q, exp(logvar_q)), exactly.

        x (N, D), mu_q and logvar_q (N, d) -> (N,). E_q[log p(x|z)] is a Gaussian integral:
        −D/2 log(2 pi sigma^2) − (|x − W mu_q − b|^2 + tr(W diag(var_q) W^T)) / (2 sigma^2).
        """
        D = x.shape[-1]
        residual = x - mu_q @ self.W.T - self.b
        trace = (logvar_q.exp() * (self.W**2).sum(0)).sum(-1)
        expected_loglik = -0.5 * D * math.log(2 * math.pi * self.sigma**2) - (
            (residual**2).sum(-1) + trace) / (2 * self.sigma**2)
        kl_prior = gaussian_kl(mu_q, logvar_q, torch.zeros_like(mu_q), torch.zeros_like(logvar_q)).sum(-1)
        return expected_loglik - kl_prior

    def elbo_monte_carlo(self, x: Tensor, mu_q: Tensor, logvar_q: Tensor, n_samples: int = 1000,
                         generator: torch.Generator | None = None) -> Tensor:
        """The same ELBO as the mean of log p(x, z) − log q(z) over z ~ q (Jensen's form): (N,)."""
        eps = torch.randn(n_samples, *mu_q.shape, generator=generator, dtype=torch.float64)
        z = mu_q + (0.5 * logvar_q).exp() * eps  # (S, N, d)
        log_prior = Normal(0.0, 1.0).log_prob(z).sum(-1)
        log_lik = Normal(z @ self.W.T + self.b, self.sigma).log_prob(x).sum(-1)
        log_q = Normal(mu_q, (0.5 * logvar_q).exp()).log_prob(z).sum(-1)
        return (log_lik + log_prior - log_q).mean(0)


def kl_to_posterior(model: LinearGaussian, x: Tensor, mu_q: Tensor, logvar_q: Tensor) -> Tensor:
    """KL(q || p(z | x)) for a diagonal q, via torch.distributions: (N,)."""
    q = MultivariateNormal(mu_q, torch.diag_embed(logvar_q.exp()))
    return torch.distributions.kl_divergence(q, model.posterior(x))


# --- two gradient estimators --------------------------------------------------------------------


def gradient_estimates(f: Callable[[Tensor], Tensor], mu: float, sigma: float, n_samples: int,
                       n_repeats: int, generator: torch.Generator | None = None) -> dict[str, Tensor]:
    """Estimates of d/dmu E_{z ~ N(mu, sigma^2)}[f(z)], each from ``n_samples`` draws, ``n_repeats`` times.

    - ``reparam``: z = mu + sigma * eps, differentiate f(z) through z (Kingma & Welling 2014, Sec. 2.4);
    - ``score``: f(z) * d/dmu log q(z) = f(z) (z − mu) / sigma^2 (REINFORCE; Williams 1992);
    - ``score_baseline``: the same with f(z) minus the mean of the *other* draws' f (a leave-one-out
      baseline: a control variate that keeps the estimator unbiased).
    Returns a dict of (n_repeats,) tensors.
    """
    eps = torch.randn(n_repeats, n_samples, generator=generator, dtype=torch.float64)
    # reparameterised: one mu per repeat, so one backward pass gives every repeat's gradient
    mus = torch.full((n_repeats, 1), mu, dtype=torch.float64, requires_grad=True)
    (reparam,) = torch.autograd.grad(f(mus + sigma * eps).mean(1).sum(), mus)
    z = mu + sigma * eps
    values = f(z)
    score = (z - mu) / sigma**2  # d/dmu log N(z; mu, sigma^2)
    return {"reparam": reparam[:, 0],
            "score": (values * score).mean(1),
            "score_baseline": ((values - (values.sum(1, keepdim=True) - values) / (n_samples - 1))
                               * score).mean(1)}


# --- a small convolutional VAE on frames -------------------------------------------------------


class FrameVAE(nn.Module):
    """Conv encoder q(z | x) = N(mu, diag(exp(logvar))), deconv decoder p(x | z) with Bernoulli pixels.

    Frames are (B, 1, S, S) in [0, 1] with S divisible by 4 (default 32).
    """

    def __init__(self, z_dim: int = 4, frame_size: int = 32, width: int = 16, hidden: int = 128) -> None:
        super().__init__()
        self.z_dim, self.frame_size, self.width = z_dim, frame_size, width
        s = frame_size // 4
        self.encoder = nn.Sequential(nn.Conv2d(1, width, 4, 2, 1), nn.ReLU(),
                                     nn.Conv2d(width, 2 * width, 4, 2, 1), nn.ReLU(), nn.Flatten(),
                                     nn.Linear(2 * width * s * s, hidden), nn.ReLU(),
                                     nn.Linear(hidden, 2 * z_dim))
        self.decoder_fc = nn.Sequential(nn.Linear(z_dim, hidden), nn.ReLU(),
                                        nn.Linear(hidden, 2 * width * s * s), nn.ReLU())
        self.decoder_conv = nn.Sequential(nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.ReLU(),
                                          nn.ConvTranspose2d(width, 1, 4, 2, 1))

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x (B, 1, S, S) -> mu, logvar (B, z_dim)."""
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar

    def decode_logits(self, z: Tensor) -> Tensor:
        """z (B, z_dim) -> pixel logits (B, 1, S, S)."""
        h = rearrange(self.decoder_fc(z), "b (c h w) -> b c h w", c=2 * self.width, h=self.frame_size // 4)
        return self.decoder_conv(h)

    def decode(self, z: Tensor) -> Tensor:
        """z (B, z_dim) -> the mean frame (B, 1, S, S) in [0, 1]."""
        return torch.sigmoid(self.decode_logits(z))

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """The negative ELBO of a batch x (B, 1, S, S), averaged over frames, and its two terms (Eq. 10)."""
        mu, logvar = self.encode(x)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)  # reparameterisation (Sec. 2.4)
        recon = bernoulli_nll(self.decode_logits(z), x).sum((1, 2, 3))
        kl = gaussian_kl(mu, logvar, torch.zeros_like(mu), torch.zeros_like(logvar)).sum(-1)
        return {"loss": (recon + kl).mean(), "recon_nll": recon.mean(), "kl": kl.mean()}


def digit_frames(split: str = "train", num_videos: int = 100, frame_size: int = 32, num_frames: int = 10,
                 seed: int = 0) -> Tensor:
    """Single frames of 1-digit moving-digit videos: (num_videos * num_frames, 1, S, S) in [0, 1]."""
    data = MovingDigits(split, num_videos=num_videos, num_frames=num_frames, frame_size=frame_size, seed=seed,
                        num_digits=1)
    return rearrange(video_batch(data, num_videos), "b c t h w -> (b t) c h w")


def train_frame_vae(frames: Tensor, steps: int = 500, batch_size: int = 32, lr: float = 2e-3, z_dim: int = 4,
                    seed: int = 0, progress: bool = True) -> tuple[FrameVAE, list[float]]:
    """Train a FrameVAE on frames (N, 1, S, S) with Adam on the course's Trainer; returns the model (eval)
    and the loss of every step."""
    gen = seed_everything(seed)
    model = FrameVAE(z_dim, frames.shape[-1])
    trainer = Trainer({"model": model}, {"model": torch.optim.Adam(model.parameters(), lr=lr)}, seed=seed,
                      progress=progress, log_every=1)
    batches = (frames[torch.randint(len(frames), (batch_size,), generator=gen)] for _ in range(steps))
    history = trainer.fit(lambda tr, batch: {"loss": tr.update("model", model(batch)["loss"])},
                          batches, steps)
    return model.eval(), [row["loss"] for row in history]


@torch.no_grad()
def decode_latent(model: FrameVAE, z_values: list[float] | Tensor) -> Tensor:
    """The mean frame (1, S, S) decoded from one latent vector of ``z_dim`` numbers (the slider cell's
    logic)."""
    z = torch.as_tensor(z_values, dtype=torch.float32).reshape(1, -1)
    if z.shape[1] != model.z_dim:
        raise ValueError(f"expected {model.z_dim} latent values, got {z.shape[1]}.")
    return model.decode(z)[0]


@torch.no_grad()
def latent_traversal(model: FrameVAE, dim: int, values: Tensor, base: Tensor | None = None) -> Tensor:
    """Frames (len(values), 1, S, S) decoded while latent ``dim`` sweeps ``values`` and the others stay at
    ``base``."""
    base = torch.zeros(model.z_dim) if base is None else base
    z = base.repeat(len(values), 1)
    z[:, dim] = values
    return model.decode(z)
