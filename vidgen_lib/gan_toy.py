"""Toy GANs in 1-D and 2-D: the objects that notebook 01 (GAN math) studies.

Goodfellow et al. (2014), "Generative Adversarial Nets", NeurIPS. The minimax game

    min_G max_D V(D, G) = E_{x ~ p_data}[log D(x)] + E_{z ~ p_z}[log(1 - D(G(z)))]

has, for a fixed generator, the optimal discriminator D*(x) = p_data(x) / (p_data(x) + p_g(x))
(Prop. 1), and at that optimum V(D*, G) = -log 4 + 2 JSD(p_data || p_g) (Thm. 1).

Everything here is small enough to run in seconds on a CPU: known densities evaluated on a grid,
MLP generator and discriminator trained with the losses of ``vidgen_lib.losses`` by the course's one
training loop (``vidgen_lib.train.Trainer``), and the 2-D ring of eight Gaussians on which mode
collapse is easy to see and to count (Metz et al. 2017, "Unrolled Generative Adversarial Networks", ICLR).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Callable

import matplotlib.pyplot as plt
import torch
from torch import Tensor, nn

from vidgen_lib.losses import LOSS_KINDS, discriminator_loss, generator_loss
from vidgen_lib.runtime import model_device, seed_everything, single_thread
from vidgen_lib.train import Trainer

Density = Callable[[Tensor], Tensor]
Sampler = Callable[[int, torch.Generator], Tensor]


# --- known densities ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Mixture1D:
    """A 1-D mixture of Gaussians with a density ``pdf`` and a sampler ``sample``."""

    means: tuple[float, ...]
    stds: tuple[float, ...]
    weights: tuple[float, ...] | None = None  # None: equal weights

    def _weights(self) -> Tensor:
        w = torch.ones(len(self.means)) if self.weights is None else torch.tensor(self.weights)
        return w / w.sum()

    def pdf(self, x: Tensor) -> Tensor:
        """Density at every point of ``x`` (any shape), in the dtype of ``x``."""
        means = torch.tensor(self.means, dtype=x.dtype)
        stds = torch.tensor(self.stds, dtype=x.dtype)
        z = (x.unsqueeze(-1) - means) / stds  # (..., K)
        components = torch.exp(-0.5 * z**2) / (stds * math.sqrt(2 * math.pi))
        return (components * self._weights().to(x.dtype)).sum(-1)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples, shape ``(n, 1)``."""
        k = torch.multinomial(self._weights(), n, replacement=True, generator=generator)
        noise = torch.randn(n, generator=generator)
        x = torch.tensor(self.means)[k] + torch.tensor(self.stds)[k] * noise
        return x.unsqueeze(1)


RING_STD = 0.1  # standard deviation of each mode of the ring


def ring_centers(num_modes: int = 8, radius: float = 2.0) -> Tensor:
    """Centres of the ring of Gaussians, shape ``(num_modes, 2)``."""
    angles = torch.arange(num_modes) * (2 * math.pi / num_modes)
    return radius * torch.stack([angles.cos(), angles.sin()], dim=1)


def sample_ring(
    n: int, generator: torch.Generator | None = None, num_modes: int = 8, radius: float = 2.0,
    std: float = RING_STD
) -> Tensor:
    """``n`` points from an equal mixture of Gaussians on a ring, shape ``(n, 2)``."""
    centers = ring_centers(num_modes, radius)
    k = torch.randint(num_modes, (n,), generator=generator)
    return centers[k] + std * torch.randn(n, 2, generator=generator)


# --- the theory on a grid (Goodfellow et al. 2014, Sec. 4) -----------------------------------------

def optimal_discriminator(x: Tensor, p_data: Density, p_g: Density) -> Tensor:
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)), Prop. 1; same shape as ``x``."""
    p, q = p_data(x), p_g(x)
    return p / (p + q)


def value_on_grid(d: Tensor, p: Tensor, q: Tensor, dx: float) -> float:
    """V(D, G) = ∫ p_data log D + p_g log(1 - D) dx, by a Riemann sum on a uniform grid.

    Args:
        d: discriminator values D(x) on the grid, in [0, 1].
        p, q: the densities p_data(x) and p_g(x) on the same grid.
        dx: the grid spacing.
    """
    # xlogy(0, .) = 0: where a density vanishes, its term contributes nothing. The clamp keeps the logs
    # finite where D underflowed to 0 or rounded to 1 in the far tails, which carry (almost) no mass.
    d = d.clamp(1e-300, 1 - 1e-16)
    return float(((torch.xlogy(p, d) + torch.xlogy(q, 1 - d)) * dx).sum())


def js_divergence(p: Tensor, q: Tensor, dx: float) -> float:
    """Jensen-Shannon divergence (in nats) between two densities given on a uniform grid.

    JSD(p || q) = ½ KL(p || m) + ½ KL(q || m) with m = (p + q) / 2; it lies in [0, log 2].
    """
    m = (p + q) / 2
    kl_pm = torch.xlogy(p, p) - torch.xlogy(p, m)  # p log(p/m), 0 where p = 0
    kl_qm = torch.xlogy(q, q) - torch.xlogy(q, m)
    return float(0.5 * ((kl_pm + kl_qm) * dx).sum())


# --- networks and training -------------------------------------------------------------------------

def mlp(in_dim: int, out_dim: int, hidden: int = 64, depth: int = 3) -> nn.Sequential:
    """A plain MLP: ``depth`` hidden layers of width ``hidden`` with LeakyReLU; ``(B, in) -> (B, out)``."""
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(in_dim if i == 0 else hidden, hidden), nn.LeakyReLU(0.2)]
    layers.append(nn.Linear(hidden, out_dim))
    return nn.Sequential(*layers)


@torch.no_grad()
def discriminator_probability(discriminator: nn.Module, x: Tensor) -> Tensor:
    """D(x) = sigmoid(logit) for points ``x`` of shape ``(N,)`` (1-D data) or ``(N, d)``; ``(N,)`` on the
    CPU."""
    dev = model_device(discriminator)
    points = x.reshape(len(x), -1).float().to(dev)
    return torch.sigmoid(discriminator(points)).squeeze(1).cpu()


@dataclass
class ToyGANConfig:
    """Sizes and schedule of a toy GAN. ``d_steps``/``g_steps``: updates of D and G per step."""

    data_dim: int = 2
    latent_dim: int = 2
    hidden: int = 64
    steps: int = 1000
    batch_size: int = 256
    lr: float = 1e-3
    d_steps: int = 1
    g_steps: int = 1
    loss: str = "non_saturating"  # or "saturating": see generator_loss
    snapshot_every: int = 250  # keep generator samples every this many steps


@dataclass
class GANRun:
    """What a training run leaves: the two networks, the loss history, and sample snapshots."""

    generator: nn.Sequential
    discriminator: nn.Sequential
    config: ToyGANConfig
    history: list[dict[str, float]] = field(default_factory=list)  # {"step", "d_loss", "g_loss"}
    snapshots: dict[int, Tensor] = field(default_factory=dict)  # step -> (1000, data_dim) samples

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` generator samples on the CPU, shape ``(n, data_dim)``; ``generator`` seeds the latents."""
        z = torch.randn(n, self.config.latent_dim, generator=generator)
        dev = model_device(self.generator)
        return self.generator(z.to(dev)).cpu()


def train_gan(
    sample_real: Sampler, config: ToyGANConfig, seed: int = 0, progress: bool = True,
    device: torch.device | None = None
) -> GANRun:
    """Train an MLP GAN with Adam, alternating D and G updates (Goodfellow et al. 2014, Alg. 1).

    Args:
        sample_real: ``sample_real(n, generator)`` returns ``(n, data_dim)`` real samples.
        config: sizes and schedule.
        seed: seeds initialisation, latents and data, so a run is reproducible.
        progress: show a progress bar.
        device: defaults to ``vidgen_lib.device()``.
    """
    c = config
    if c.loss not in LOSS_KINDS:
        raise ValueError(f"loss={c.loss!r}: use one of {LOSS_KINDS}")
    rng = seed_everything(seed)
    G, D = mlp(c.latent_dim, c.data_dim, c.hidden), mlp(c.data_dim, 1, c.hidden)
    adam = dict(lr=c.lr, betas=(0.5, 0.999))  # beta1 = 0.5 as in DCGAN (Radford et al. 2016)
    optimizers = {"G": torch.optim.Adam(G.parameters(), **adam),
                  "D": torch.optim.Adam(D.parameters(), **adam)}
    trainer = Trainer({"G": G, "D": D}, optimizers, seed=seed, progress=progress, log_every=10, device=device)
    run = GANRun(G, D, c)
    z_fixed = torch.randn(1000, c.latent_dim, generator=rng)  # the same z for every snapshot

    def fake(n: int) -> Tensor:
        return G(torch.randn(n, c.latent_dim, generator=rng).to(trainer.device))

    def snapshot() -> None:
        with torch.no_grad():
            run.snapshots[trainer.step] = G(z_fixed.to(trainer.device)).cpu()

    def step(trainer: Trainer, real: Tensor) -> dict[str, float]:  # real: (d_steps, B, data_dim)
        if trainer.step % c.snapshot_every == 0:
            snapshot()
        for real_batch in real:  # ascend V in D (Alg. 1: k discriminator updates)
            fake_logits = D(fake(c.batch_size).detach())
            d_loss = trainer.update("D", discriminator_loss(D(real_batch), fake_logits))
        for _ in range(c.g_steps):  # descend in G
            g_loss = trainer.update("G", generator_loss(D(fake(c.batch_size)), c.loss))
        return {"d_loss": d_loss, "g_loss": g_loss}

    real_batches = (sample_real(c.d_steps * c.batch_size, rng).reshape(c.d_steps, c.batch_size, -1)
                    for _ in itertools.count())
    with single_thread():
        run.history = trainer.fit(step, real_batches, c.steps)
    snapshot()
    return run


def fit_discriminator(
    sample_real: Sampler,
    sample_fake: Sampler,
    steps: int = 600,
    batch_size: int = 1024,
    hidden: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    progress: bool = True,
    device: torch.device | None = None,
) -> nn.Sequential:
    """Train a discriminator to convergence between two *fixed* distributions; returns the logit network.

    With enough capacity and steps, ``sigmoid(D(x))`` approaches D*(x) (Prop. 1).
    """
    rng = seed_everything(seed)
    D = mlp(sample_real(1, rng).shape[1], 1, hidden)
    opt = torch.optim.Adam(D.parameters(), lr=lr)
    decay = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)  # small steps at the end: less noise
    trainer = Trainer({"D": D}, {"D": opt}, seed=seed, progress=progress, log_every=50, device=device)

    def step(trainer: Trainer, batch: tuple[Tensor, Tensor]) -> dict[str, float]:
        real, fake = batch
        loss = trainer.update("D", discriminator_loss(D(real), D(fake)))
        decay.step()
        return {"d_loss": loss}

    batches = ((sample_real(batch_size, rng), sample_fake(batch_size, rng)) for _ in itertools.count())
    with single_thread():
        trainer.fit(step, batches, steps)
    return D


# --- mode coverage ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ModeCoverage:
    """How many modes a generator covers, and the share of its samples near any mode."""

    covered: int
    num_modes: int
    high_quality: float  # fraction of samples within 3 std of a mode centre


def count_modes(samples: Tensor, centers: Tensor, std: float, min_share: float = 0.02) -> ModeCoverage:
    """Count covered modes (criterion of Metz et al. 2017 and Srivastava et al. 2017).

    A sample is *high quality* if it lies within ``3 * std`` of its nearest centre; a mode is
    *covered* if at least ``min_share`` of all samples are high-quality samples of that mode.

    Args:
        samples: ``(n, 2)`` generated points.
        centers: ``(K, 2)`` mode centres.
        std: the standard deviation of each mode.
    """
    dist = torch.cdist(samples, centers)  # (n, K)
    nearest_dist, nearest = dist.min(dim=1)
    good = nearest_dist < 3 * std
    per_mode = torch.bincount(nearest[good], minlength=len(centers))
    covered = int((per_mode >= min_share * len(samples)).sum())
    return ModeCoverage(covered, len(centers), float(good.float().mean()))


# --- plots -----------------------------------------------------------------------------------------

def plot_ring_snapshots(run: GANRun, title: str = "") -> plt.Figure:
    """A row of scatter plots: the generator's samples (blue) at each snapshot, the ring's centres (red)."""
    steps = list(run.snapshots)
    fig, axes = plt.subplots(1, len(steps), figsize=(2.2 * len(steps), 2.6), squeeze=False)
    centers = ring_centers()
    for ax, step in zip(axes[0], steps):
        ax.scatter(*run.snapshots[step].T, s=2, alpha=0.3)
        ax.scatter(*centers.T, s=20, c="red", marker="x")
        ax.set(title=f"step {step}", xlim=(-3, 3), ylim=(-3, 3), aspect="equal", xticks=[], yticks=[])
    fig.suptitle(title)
    fig.tight_layout()
    return fig
