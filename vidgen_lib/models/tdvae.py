"""TD-VAE: a belief state that can jump into the future.

Gregor, Papamakarios, Besse, Buesing, Weber, "Temporal Difference Variational Auto-Encoder",
ICLR 2019. A deterministic RNN reads the frames and keeps a *belief* b_t; from it the model draws a
latent state z_t ~ p_B(z | b_t) that describes the world now. A *jumpy* transition p_T(z_t2 | z_t1)
moves that state any number of steps ahead at once, and a decoder p_D(x | z) draws the frame. It is
trained on pairs of time points t1 < t2 only: a sample of the later state z_t2 ~ p_B(b_t2) is
explained backwards by a smoothing posterior q_S(z_t1 | z_t2, b_t1, b_t2), whose KL to the earlier
belief p_B(z | b_t1) makes the later belief teach the earlier one -- the "temporal difference" (Sec. 3,
Eq. 6). Latents come in layers, the top layer drawn first (Appendix D).

Taught in ``notebooks/06_tdvae.ipynb``; its measurements (identity and direction of rollouts, the
oscillator's) are in ``vidgen_lib.evaluation.tdvae``. Videos are (B, C, T, H, W) in [0, 1] at the public
boundary; inside, a sequence is flat: (B, T, x_dim), one vector per frame. The same model learns the 1-D
noisy oscillator of Sec. 5.3 with ``Config.preset("oscillator")``.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from vidgen_lib.checkpoints import load_model
from vidgen_lib.datasets.digits import load_digit_sprites
from vidgen_lib.datasets.shifting import ShiftingDigits, oscillator_batch, shifting_digit_batch
from vidgen_lib.losses import LOG_2PI, bernoulli_nll, gaussian_kl, gaussian_log_prob, gaussian_nll
from vidgen_lib.nn.gaussian import GatedGaussianHead
from vidgen_lib.runtime import eval_mode, model_device, rng, seed_everything, world
from vidgen_lib.train import Trainer, run
from vidgen_lib.video import validate_clip

__all__ = ["TDVAE", "Config", "LayeredGaussian", "build", "flatten_video", "load_pretrained", "predict",
           "prediction_task", "rollout", "sample_time_pairs", "tdvae_loss", "train",
           "training_batches", "training_step"]

CHECKPOINT = "tdvae"


@dataclasses.dataclass
class Config:
    """Sizes, data and optimisation of a TD-VAE run (recorded in the model card)."""

    data: str = "digits"  # "digits" (shifting digit, Sec. 5.2) or "oscillator" (Sec. 5.3)
    num_frames: int = 20  # T of a training sequence
    frame_size: int = 28  # digits only: H = W
    pre_hidden: int = 256  # frame pre-processing MLP (xqding/TD-VAE: 784)
    belief_size: int = 50  # LSTM belief b_t
    z_dim: int = 8  # per latent layer
    num_layers: int = 2  # latent layers (1 = the single-layer model of Sec. 3)
    hidden: int = 50  # the hidden layer of every distribution's network
    decoder_hidden: int = 200
    max_jump: int = 4  # D: t2 - t1 ~ U{1..D} (Sec. 5.2 uses [1, 4])
    long_jump_prob: float = 0.0  # oscillator: with this probability ...
    long_max_jump: int = 0  # ... t2 - t1 ~ U{1..long_max_jump} instead (Sec. 5.3: 0.2 and 120)
    jump_one_hot: int = 0  # > 0: feed dt as a one-hot code over 1..jump_one_hot instead of dt / D
    residual_transition: bool = False  # p_T's mean is z_t1 plus a learned change (easier to compose)
    analytic_kl: bool = True  # KL terms of Eq. 6 in closed form (lower variance) instead of one sample
    pairs_per_sequence: int = 4  # K (t1, t2) pairs per training sequence, one belief RNN run for all
    jump_input: bool = True  # feed dt = t2 - t1 to q_S and p_T (Sec. 5.3 does; then rollouts pick the jump)
    likelihood: str = "bernoulli"  # p_D: "bernoulli" (binary frames) or "gaussian" (fixed obs_std)
    obs_std: float = 0.1
    omega_range: tuple[float, float] = (0.2, 0.4)  # oscillator: angular frequency per step, per sequence
    batch_size: int = 64
    lr: float = 1e-3
    grad_clip: float = 10.0
    eval_videos: int = 1000  # N test videos (oscillator: sequences) measured for the model card
    steps: int = 24_000

    def __post_init__(self) -> None:
        self.omega_range = tuple(self.omega_range)  # a list when read back from a model card

    @classmethod
    def preset(cls, name: str) -> Config:
        """``tutorial``: CPU, ~45 min on one thread; ``full``: xqding/TD-VAE's sizes; ``oscillator``: 30 s."""
        if name == "tutorial":
            return cls()
        if name == "full":
            return cls(pre_hidden=784, batch_size=512, lr=5e-4, steps=200_000)
        if name == "oscillator":
            return cls(data="oscillator", num_frames=40, pre_hidden=64, belief_size=64, z_dim=2, hidden=32,
                       decoder_hidden=32, max_jump=5, long_jump_prob=0.2, long_max_jump=20, jump_one_hot=20,
                       residual_transition=True, analytic_kl=True, pairs_per_sequence=8,
                       likelihood="gaussian", obs_std=0.1, omega_range=(0.3, 0.3), batch_size=64, lr=1e-2,
                       steps=800, eval_videos=200)
        raise ValueError(f"Unknown preset {name!r}: use 'tutorial', 'full' or 'oscillator'.")

    @property
    def x_dim(self) -> int:
        """Size of one observation: a flattened frame, or 1 for the oscillator."""
        return 1 if self.data == "oscillator" else self.frame_size**2

    @property
    def latent_size(self) -> int:
        return self.z_dim * self.num_layers


# --- building blocks (the gated Gaussian head of every distribution is nn.gaussian.GatedGaussianHead) --

class LayeredGaussian(nn.Module):
    """p(z | cond) over ``num_layers`` latent layers, top layer first (TD-VAE, Appendix D).

    Layer l sees ``cond`` and the layers above it. z is the layers concatenated, bottom first:
    (B, num_layers * z_dim). With ``residual=True`` the condition starts with a previous state z' of the
    same size and each layer's mean is z'_l plus the head's output: the network predicts a change of state.
    """

    def __init__(self, cond_dim: int, hidden: int, z_dim: int, num_layers: int,
                 residual: bool = False) -> None:
        super().__init__()
        self.z_dim, self.num_layers, self.residual = z_dim, num_layers, residual
        self.heads = nn.ModuleList(GatedGaussianHead(cond_dim + (num_layers - 1 - l) * z_dim, hidden, z_dim)
                                   for l in range(num_layers))

    def head(self, l: int, cond: Tensor, above: list[Tensor]) -> tuple[Tensor, Tensor]:
        """Mean and log-variance (B, z_dim) of layer l given cond (B, cond_dim) and the layers above."""
        mu, logvar = self.heads[l](torch.cat([cond, *above], dim=-1))
        if self.residual:
            mu = mu + cond[:, l * self.z_dim:(l + 1) * self.z_dim]
        return mu, logvar

    def sample(self, cond: Tensor, noise: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """A reparameterised draw z = mu + sigma * noise, layer by layer from the top.

        cond (B, cond_dim); noise (B, num_layers * z_dim) standard-normal draws (default: fresh ones).
        Returns z, mu, logvar, each (B, num_layers * z_dim); each layer's mu and logvar are those given
        the sampled layers above it.
        """
        if noise is None:
            noise = torch.randn(cond.shape[0], self.num_layers * self.z_dim, device=cond.device)
        zs, mus, logvars = [None] * self.num_layers, [None] * self.num_layers, [None] * self.num_layers
        for l in reversed(range(self.num_layers)):
            mu, logvar = self.head(l, cond, zs[l + 1:])
            eps = noise[:, l * self.z_dim:(l + 1) * self.z_dim]
            zs[l], mus[l], logvars[l] = mu + (0.5 * logvar).exp() * eps, mu, logvar
        return torch.cat(zs, -1), torch.cat(mus, -1), torch.cat(logvars, -1)

    def params(self, z: Tensor, cond: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and log-variance of every layer given ``cond`` and the layers of z above it.

        z: (B, num_layers * z_dim) -> mu, logvar, each (B, num_layers * z_dim).
        """
        layers = list(z.split(self.z_dim, dim=-1))
        out = [self.head(l, cond, layers[l + 1:]) for l in range(self.num_layers)]
        return torch.cat([mu for mu, _ in out], -1), torch.cat([logvar for _, logvar in out], -1)

    def log_prob(self, z: Tensor, cond: Tensor) -> Tensor:
        """log p(z | cond) of given z (B, num_layers * z_dim), summed over layers: (B,)."""
        return gaussian_log_prob(z, *self.params(z, cond)).sum(-1)


class TDVAE(nn.Module):
    """Belief RNN, p_B, q_S, p_T and p_D over flat sequences (B, T, x_dim)."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        c = config
        self.config = c
        jump = (c.jump_one_hot if c.jump_one_hot else 1) if c.jump_input else 0
        self.preprocess = nn.Sequential(nn.Linear(c.x_dim, c.pre_hidden), nn.ReLU(),
                                        nn.Linear(c.pre_hidden, c.pre_hidden), nn.ReLU())
        self.belief_rnn = nn.LSTM(c.pre_hidden, c.belief_size, batch_first=True)  # b_t = f(b_{t-1}, x_t)
        self.belief = LayeredGaussian(c.belief_size, c.hidden, c.z_dim, c.num_layers)  # p_B(z | b)
        self.smoothing = LayeredGaussian(2 * c.belief_size + c.latent_size + jump, c.hidden, c.z_dim,
                                         c.num_layers)  # q_S(z_t1 | z_t2, b_t1, b_t2)
        self.transition = LayeredGaussian(c.latent_size + jump, c.hidden, c.z_dim, c.num_layers,
                                          residual=c.residual_transition)  # p_T(z_t2 | z_t1)
        self.decoder = nn.Sequential(nn.Linear(c.latent_size, c.decoder_hidden), nn.ReLU(),
                                     nn.Linear(c.decoder_hidden, c.decoder_hidden), nn.ReLU(),
                                     nn.Linear(c.decoder_hidden, c.x_dim))  # p_D(x | z)

    def beliefs(self, x: Tensor) -> Tensor:
        """Beliefs b_1..b_T (B, T, belief_size) of a flat sequence x (B, T, x_dim); b_t sees x_<=t only."""
        out, _ = self.belief_rnn(self.preprocess(x))
        return out

    def jump_code(self, dt: Tensor) -> list[Tensor]:
        """The jump size dt (B,) as input columns (an empty list if jumps are not fed): dt / D, or with
        ``jump_one_hot = N`` a one-hot code of dt in 1..N (B, N): no jump size borrows another's map."""
        c = self.config
        if not c.jump_input:
            return []
        if c.jump_one_hot:
            if int(dt.min()) < 1 or int(dt.max()) > c.jump_one_hot:
                raise ValueError(f"This model codes jumps of 1..{c.jump_one_hot} steps; "
                                 f"got {dt.min()}..{dt.max()}.")
            return [F.one_hot(dt.long() - 1, c.jump_one_hot).float()]
        return [dt.float()[:, None] / c.max_jump]

    def decoder_nll(self, z: Tensor, x: Tensor) -> Tensor:
        """−log p_D(x | z) summed over the observation: z (B, latent), x (B, x_dim) -> (B,)."""
        out = self.decoder(z)
        if self.config.likelihood == "bernoulli":
            return bernoulli_nll(out, x).sum(-1)
        logvar = torch.full_like(out, 2 * torch.log(torch.tensor(self.config.obs_std)).item())
        return gaussian_nll(x, out, logvar).sum(-1)

    def decode_mean(self, z: Tensor) -> Tensor:
        """The mean of p_D(x | z): (B, latent) -> (B, x_dim) (pixel probabilities, or the 1-D value)."""
        out = self.decoder(z)
        return torch.sigmoid(out) if self.config.likelihood == "bernoulli" else out


def build(config: Config) -> TDVAE:
    """A fresh TD-VAE for ``config``."""
    return TDVAE(config)


def flatten_video(video: Tensor) -> Tensor:
    """(B, C, T, H, W) -> (B, T, C*H*W): one vector per frame."""
    return rearrange(video, "b c t h w -> b t (c h w)")


# --- the loss -------------------------------------------------------------------------------------

def sample_time_pairs(batch_size: int, num_frames: int, max_jump: int, *, long_jump_prob: float = 0.0,
                      long_max_jump: int = 0,
                      generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Time points (t1, t2), each (B,), 0-based: t2 − t1 ~ U{1..D}, then t1 uniform where t2 fits in T.

    With probability ``long_jump_prob`` the jump is drawn from U{1..long_max_jump} instead (Sec. 5.3).
    """
    if not 1 <= max_jump < num_frames:
        raise ValueError(f"max_jump must be in [1, num_frames - 1]; got {max_jump} for {num_frames} frames.")
    dt = torch.randint(1, max_jump + 1, (batch_size,), generator=generator)
    if long_jump_prob > 0:
        long_dt = torch.randint(1, min(long_max_jump, num_frames - 1) + 1, (batch_size,), generator=generator)
        dt = torch.where(torch.rand(batch_size, generator=generator) < long_jump_prob, long_dt, dt)
    t1 = (torch.rand(batch_size, generator=generator) * (num_frames - dt)).long()  # U{0 .. T-1-dt}
    return t1, t1 + dt


def tdvae_loss(model: TDVAE, x: Tensor, t1: Tensor, t2: Tensor,
               noise: tuple[Tensor, Tensor] | None = None) -> dict[str, Tensor]:
    """The negative TD-VAE ELBO of Eq. 6, one sample per sequence, averaged over the batch.

    loss = −log p_D(x_t2|z_t2) + [log q_S(z_t1|z_t2,b_t1,b_t2) − log p_B(z_t1|b_t1)]
           + [log p_B(z_t2|b_t2) − log p_T(z_t2|z_t1)],  with z_t2 ~ p_B(·|b_t2), z_t1 ~ q_S.

    Args:
        x: (B, T, x_dim) sequences; the belief RNN runs only up to the last t2 used.
        t1, t2: (B,) time indices with t1 < t2, or (B, K): K pairs per sequence sharing one run of the
            belief RNN (an average over more pairs of the same expectation; cheap, the RNN dominates).
        noise: optional standard-normal draws (for z_t2, for z_t1), each (B * K, latent_size).
    Returns:
        ``loss`` (the mean negative ELBO) and its parts ``recon_nll``, ``kl_smoothing`` (single-sample
        KL(q_S || p_B(b_t1)), the temporal-difference term) and ``kl_transition`` (log p_B − log p_T at z_t2).
        With ``config.analytic_kl`` the two KL parts use closed forms of the same expectations: the Gaussian
        KL for the smoothing term, the entropy of p_B(b_t2) for E[log p_B(z_t2)].
    """
    t1, t2 = (rearrange(t, "b -> b 1") if t.dim() == 1 else t for t in (t1, t2))  # (B, K)
    rows = torch.arange(x.shape[0], device=x.device)[:, None].expand_as(t1)
    beliefs = model.beliefs(x[:, :int(t2.max()) + 1])  # (B, t2_max + 1, belief_size)
    b1, b2 = (rearrange(beliefs[rows, t], "b k h -> (b k) h") for t in (t1, t2))
    x2 = rearrange(x[rows, t2], "b k d -> (b k) d")
    jump = model.jump_code(rearrange(t2 - t1, "b k -> (b k)"))
    noise_2, noise_1 = noise if noise is not None else (None, None)
    z2, mu_b2, logvar_b2 = model.belief.sample(b2, noise_2)  # z_t2 ~ p_B(z | b_t2)
    z1, mu_q, logvar_q = model.smoothing.sample(torch.cat([b1, b2, z2, *jump], -1), noise_1)  # z_t1 ~ q_S
    mu_pb1, logvar_pb1 = model.belief.params(z1, b1)  # p_B(z_t1 | b_t1), layer by layer at z_t1
    log_pt = model.transition.log_prob(z2, torch.cat([z1, *jump], -1))
    recon = model.decoder_nll(z2, x2)
    if model.config.analytic_kl:  # the same expectations in closed form given the sampled layers above
        kl_smoothing = gaussian_kl(mu_q, logvar_q, mu_pb1, logvar_pb1).sum(-1)
        log_pb2 = -0.5 * (LOG_2PI + 1 + logvar_b2).sum(-1)  # E[log p_B(z_t2 | b_t2)] = −entropy
    else:
        kl_smoothing = (gaussian_log_prob(z1, mu_q, logvar_q)
                        - gaussian_log_prob(z1, mu_pb1, logvar_pb1)).sum(-1)
        log_pb2 = gaussian_log_prob(z2, mu_b2, logvar_b2).sum(-1)
    kl_transition = log_pb2 - log_pt
    loss = recon + kl_smoothing + kl_transition  # Eq. 6, negated
    return {"loss": loss.mean(), "recon_nll": recon.mean(), "kl_smoothing": kl_smoothing.mean(),
            "kl_transition": kl_transition.mean()}


# --- rollouts -------------------------------------------------------------------------------------

def rollout(model: TDVAE, x: Tensor, jumps: list[int], *, seed: int | None = None,
            mean: bool = False) -> Tensor:
    """Imagine the future in latent space from the belief after the observed sequence x (B, T, x_dim).

    z ~ p_B(z | b_T), then z ← p_T(z' | z, dt) for each dt in ``jumps``; every state is decoded to its mean.
    ``mean=True`` follows the mean of every distribution instead of sampling (one "most likely" path).
    Returns (B, len(jumps), x_dim) on the model's device: entry k is the frame at time
    T − 1 + jumps[0] + ... + jumps[k].
    """
    if not jumps or min(jumps) < 1:
        raise ValueError(f"jumps must be a non-empty list of steps of at least 1; got {jumps}.")
    dev, gen = model_device(model), rng(seed)
    x = x.to(dev)
    shape = (x.shape[0], model.config.latent_size)

    def noise() -> Tensor:  # (B, latent_size) standard-normal draws (zeros: follow the means)
        return torch.zeros(shape, device=dev) if mean else torch.randn(shape, generator=gen).to(dev)

    with eval_mode(model):
        z, _, _ = model.belief.sample(model.beliefs(x)[:, -1], noise())  # z ~ p_B(z | b_T)
        frames = []
        for dt in jumps:
            dt_batch = torch.full((x.shape[0],), dt, device=dev)
            z, _, _ = model.transition.sample(torch.cat([z, *model.jump_code(dt_batch)], -1), noise())  # p_T
            frames.append(model.decode_mean(z))
    return torch.stack(frames, dim=1)


def predict(model: TDVAE, context: Tensor, horizon: int, *, jump: int = 1, seed: int | None = None) -> Tensor:
    """Jumpy rollouts of ``horizon`` frames after ``context`` (B, 1, T_ctx, H, W) in [0, 1].

    H = W = ``config.frame_size``. Frame k (0-based) of the result is the model's frame at time
    T_ctx − 1 + (k + 1) * jump.
    Returns (B, 1, horizon, H, W) in [0, 1] on the CPU (pixel probabilities of p_D).
    """
    c = model.config
    if c.data != "digits":
        raise ValueError("predict takes videos; an oscillator model's sequences (B, T, 1) go to rollout().")
    if horizon < 1 or jump < 1:
        raise ValueError(f"horizon (frames) and jump (steps) must be at least 1; got {horizon} and {jump}.")
    validate_clip(context, channels=1, frame_size=c.frame_size, name="context")
    flat = rollout(model, flatten_video(context), [jump] * horizon, seed=seed)
    return rearrange(flat, "b t (c h w) -> b c t h w", c=1, h=c.frame_size).cpu()


def prediction_task(model: TDVAE, n: int) -> tuple[Tensor, Tensor, dict]:
    """``n`` held-out clips to continue: context ``(n, 1, 10, 28, 28)``, the true future
    ``(n, 1, 10, 28, 28)`` and the keyword arguments ``predict`` needs (none); test digits, in {0, 1}."""
    data = ShiftingDigits("test", num_videos=n, num_frames=20)
    video = torch.stack([data[i]["video"] for i in range(n)])
    return video[:, :, :10], video[:, :, 10:], {}


# --- training, the shipped checkpoint ------------------------------------------------------------

def training_batches(config: Config, generator: torch.Generator) -> Iterator[Tensor]:
    """An endless stream of training sequences (B, T, x_dim) for ``config.data``."""
    if config.data == "oscillator":
        while True:
            yield oscillator_batch(config.batch_size, config.num_frames, generator=generator,
                                   omega_range=config.omega_range)["x"]
    sprites = torch.from_numpy(load_digit_sprites("train")[0])
    while True:
        yield flatten_video(shifting_digit_batch(sprites, config.batch_size, config.num_frames, generator))


def training_step(model: TDVAE, trainer: Trainer, batch: Tensor) -> dict[str, float]:
    """One Adam step on the negative ELBO (Eq. 6), fresh (t1, t2) per sequence; batch (B, T, x_dim)."""
    c = model.config
    t1, t2 = sample_time_pairs(batch.shape[0] * c.pairs_per_sequence, batch.shape[1], c.max_jump,
                               long_jump_prob=c.long_jump_prob, long_max_jump=c.long_max_jump)
    t1, t2 = (rearrange(t, "(b k) -> b k", b=batch.shape[0]).to(batch.device) for t in (t1, t2))
    terms = tdvae_loss(model, batch, t1, t2)
    trainer.update("model", terms["loss"])
    return {k: float(v.detach()) for k, v in terms.items()}


def train(config: Config, steps: int | None = None, *, run_dir: str | Path | None = None, seed: int = 0,
          progress: bool = True, time_limit_s: float | None = None) -> tuple[TDVAE, dict[str, float]]:
    """Train a TD-VAE on the course's recipe; returns the model (eval mode) and its final training losses."""
    seed_everything(seed)
    model = build(config)
    optimizers = {"model": torch.optim.Adam(model.parameters(), lr=config.lr)}
    data = training_batches(config, rng(seed + world()[0]))  # under torchrun, each process its own data
    return run(model, optimizers, training_step, data,
               config.steps if steps is None else steps, run_dir=run_dir, seed=seed,
               grad_clip=config.grad_clip, progress=progress, time_limit_s=time_limit_s)


def load_pretrained(device: torch.device | str | None = None, *, path: str | Path | None = None) -> TDVAE:
    """The shipped checkpoint ``data/checkpoints/tdvae.pt``, checked against its card, in eval mode."""
    return load_model(CHECKPOINT, Config, build, device, path)
