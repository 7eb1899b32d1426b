"""DVG, the course's action-conditioned stochastic video VAE: SVG-LP with an action input.

"DVG" is this course's label, not a paper's model. The model is SVG-LP from Denton & Fergus,
"Stochastic Video Generation with a Learned Prior", ICML 2018, with one addition: the action a_t
that moves frame t-1 to frame t is fed to the frame predictor (and to the learned prior), as
action-conditioned predictors do
(Oh et al., "Action-Conditional Video Prediction using Deep Networks in Atari Games", NIPS 2015;
Babaeizadeh et al., "Stochastic Variational Video Prediction" (SV2P), ICLR 2018). A different
model of the same short name, "Diverse Video Generation using a Gaussian Process Trigger"
(Shrivastava & Shrivastava, ICLR 2021), is not what this file builds.

The parts, and where each comes from:

- a DCGAN-style frame encoder x_t -> h_t and a decoder with skip connections (SVG, Sec. 3 and its
  code): from the frame before the one predicted (the SVG code's ``--last_frame_skip``: true frames
  in training, the model's own predictions past the context at test time), or, with ``last_frame_skip=False``, always from the last
  context frame;
- a posterior LSTM q_phi(z_t | x_<=t) fed h_t (SVG, Sec. 3.1);
- a learned prior LSTM p_psi(z_t | x_<t, a_t) fed h_{t-1} and the action: it never sees frame t
  (SVG-LP, Sec. 3.2; the action input is this course's addition, ``prior_sees_action``);
- a frame predictor LSTM fed [h_{t-1}, z_t, a_t] -> g_t, decoded to x_hat_t (SVG, Sec. 3; a_t as in
  Oh et al. 2015 / SV2P);
- the loss sum_t ||x_hat_t - x_t||^2 + beta * KL(q_phi(z_t | x_<=t) || p_psi(z_t | x_<t, a_t)) (SVG,
  Eq. 3), trained with teacher forcing and beta warmed up linearly (KL annealing, as in SV2P);
  optionally with "free bits" (Kingma et al., NIPS 2016): a floor of lambda nats per z dim and step
  below which the KL is not charged;
- optionally (``z_maps``) z_t also reaches the decoder as constant feature maps, next to the action's,
  so that z can move a shape locally rather than through the global code g_t (this course's addition).

At test time z_t is drawn from the learned prior, so the agent follows the actions while the part
of the future the actions do not explain (the distractor, which in the tutorial world turns at random,
``distractor_turn_prob``) is sampled.

Taught in ``notebooks/07_dvg.ipynb``. Videos are (B, C, T, H, W) in [0, 1] at every public boundary.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import Tensor, nn
from torch.utils.data import DataLoader

from vidgen_lib import losses
from vidgen_lib.checkpoints import load_model
from vidgen_lib.datasets import ACTIONS, ActionShapes
from vidgen_lib.datasets.shapes import RGB
from vidgen_lib.metrics import copy_last_frame, psnr, ssim
from vidgen_lib.runtime import seed_everything
from vidgen_lib.train import Trainer, infinite_batches

CHECKPOINT = "dvg"


@dataclasses.dataclass
class Config:
    """Sizes, data and optimisation of a DVG run (recorded in the model card)."""

    frame_size: int = 32  # H = W: 32 or 64
    channels: int = 3
    context: int = 2  # observed frames (SVG on BAIR: 2)
    horizon: int = 8  # predicted frames during training
    num_actions: int = len(ACTIONS)
    width: int = 16  # channels of the encoder's first conv (DCGAN: 64)
    g_dim: int = 64  # |h_t|, the frame code (SVG: 128)
    z_dim: int = 2  # |z_t| (SVG on SM-MNIST: 10); 2 separates agent and distractor (notebook 07, Sec. 6)
    rnn_size: int = 128  # predictor LSTM width (SVG: 256)
    predictor_layers: int = 2  # (SVG: 2)
    latent_rnn_size: int = 64  # prior and posterior LSTM width, 1 layer each (SVG: 256)
    prior_sees_action: bool = True  # p(z_t | x_<t, a_t): the prior also gets the action (as in SV2P's conditioning)
    action_maps: bool = False  # also give the decoder a_t as constant feature maps at every scale
    z_maps: bool = False  # also give the decoder z_t as constant feature maps at every scale
    last_frame_skip: bool = True  # skips from the previous frame (SVG code's --last_frame_skip), else the last context frame
    beta: float = 1e-4  # KL weight after warm-up (SVG: 1e-4)
    warmup_steps: int = 1000  # steps of the linear beta warm-up
    free_bits: float = 0.0  # nats per z dim and step that the KL term does not charge (Kingma et al. 2016)
    distractor_turn_prob: float = 0.0  # the world: chance per frame that the distractor turns at random
    batch_size: int = 16  # (SVG: 100)
    lr: float = 2e-3  # (SVG: 2e-3)
    num_videos: int = 100_000  # training videos (each a pure function of its index)
    eval_videos: int = 256  # N of the test-split metrics written into the model card
    steps: int = 10_000  # about an hour on one idle CPU thread

    @classmethod
    def preset(cls, name: str) -> "Config":
        """``tutorial``: 32x32, 2 + 8 frames, about an hour on one CPU thread; ``full``: SVG's sizes at 64x64.

        Both use the world whose distractor turns at random, z maps in the decoder and free bits: without
        them the KL collapses and all samples under the same actions are the same (notebook 07, Sec. 6).
        """
        stochastic = dict(action_maps=True, z_maps=True, free_bits=0.25, distractor_turn_prob=0.3)
        if name == "tutorial":
            return cls(**stochastic)
        if name == "full":
            return cls(**stochastic, frame_size=64, context=2, horizon=10, width=64, g_dim=128, z_dim=16, rnn_size=256,
                       latent_rnn_size=256, warmup_steps=10_000, batch_size=64, lr=2e-3, eval_videos=1024,
                       steps=100_000)
        raise ValueError(f"Unknown preset {name!r}: use 'tutorial' or 'full'.")

    @property
    def num_frames(self) -> int:
        return self.context + self.horizon


# --- the Gaussian pieces: KL, reparameterised sample, beta schedule -----------------------------

def gaussian_kl(mu_q: Tensor, logvar_q: Tensor, mu_p: Tensor, logvar_p: Tensor) -> Tensor:
    """KL(N(mu_q, var_q) || N(mu_p, var_p)) for diagonal Gaussians, summed over the last dim.

    KL = 1/2 sum_i [ log(var_p / var_q) + (var_q + (mu_q - mu_p)^2) / var_p - 1 ]   (SVG, Eq. 3's KL)

    Args: all (..., D). Returns: (...).
    """
    return losses.gaussian_kl(mu_q, logvar_q, mu_p, logvar_p).sum(-1)


def reparameterize(mu: Tensor, logvar: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """z = mu + sigma * eps with eps ~ N(0, I): a sample that gradients flow through (Kingma & Welling 2014).

    Args: mu, logvar (B, D). ``generator`` (on CPU) makes eps repeatable. Returns: (B, D).
    """
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype).to(mu.device)
    return mu + torch.exp(0.5 * logvar) * eps


def kl_weight(step: int, beta: float, warmup_steps: int) -> float:
    """KL annealing: beta * min(1, step / warmup_steps), a linear ramp from 0 (SV2P's staged KL)."""
    if warmup_steps <= 0:
        return beta
    return beta * min(1.0, step / warmup_steps)


def action_one_hot(actions: Tensor, num_actions: int = len(ACTIONS)) -> Tensor:
    """Action indices (...) -> one-hot float codes (..., num_actions), the a_t fed to the predictor."""
    return F.one_hot(actions.long(), num_actions).float()


# --- building blocks ----------------------------------------------------------------------------

def _down(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 4, 2, 1), nn.GroupNorm(8, c_out), nn.LeakyReLU(0.2))


def _up(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.GroupNorm(8, c_out), nn.LeakyReLU(0.2))


class Encoder(nn.Module):
    """DCGAN-style encoder: frames (N, C, H, W) in [-1, 1] -> h (N, g_dim) and its feature maps (skips)."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        w, n = config.width, config.frame_size.bit_length() - 3  # 32 -> 3 stride-2 convs down to 4x4
        widths = [w * 2**i for i in range(n)]
        self.blocks = nn.ModuleList(_down(c_in, c_out) for c_in, c_out in zip([config.channels, *widths], widths))
        self.out = nn.Sequential(nn.Conv2d(widths[-1], config.g_dim, 4, 1, 0), nn.Tanh())  # 4x4 -> 1x1

    def forward(self, frames: Tensor) -> tuple[Tensor, list[Tensor]]:
        skips = []
        for block in self.blocks:
            frames = block(frames)
            skips.append(frames)
        return rearrange(self.out(frames), "n g 1 1 -> n g"), skips


class Decoder(nn.Module):
    """Mirror of the encoder: g (N, g_dim) and skips -> frames (N, C, H, W) in [0, 1] (SVG's skip decoder).

    With ``action_maps``, the one-hot action (N, A) is also concatenated as constant maps before every
    upsampling, so that moving the agent can be learned locally, next to the skip features; with
    ``z_maps`` the latent z_t (N, z_dim) is too, so that z can move the distractor locally.
    """

    def __init__(self, config: Config) -> None:
        super().__init__()
        w, n = config.width, config.frame_size.bit_length() - 3
        a = (config.num_actions if config.action_maps else 0) + (config.z_dim if config.z_maps else 0)
        widths = [w * 2**i for i in reversed(range(n))]  # e.g. 128, 64, 32
        self.inp = nn.Sequential(nn.ConvTranspose2d(config.g_dim, widths[0], 4, 1, 0), nn.GroupNorm(8, widths[0]),
                                 nn.LeakyReLU(0.2))  # 1x1 -> 4x4
        self.blocks = nn.ModuleList(_up(2 * c_in + a, c_out) for c_in, c_out in zip(widths, widths[1:]))
        self.out = nn.ConvTranspose2d(2 * widths[-1] + a, config.channels, 4, 2, 1)

    def forward(self, g: Tensor, skips: list[Tensor], maps: Tensor | None = None) -> Tensor:
        """g (N, g_dim), skips [(N, c_l, h_l, w_l)], maps (N, M): the one-hot action and/or z_t, or None."""
        x = self.inp(rearrange(g, "n g -> n g 1 1"))
        for block, skip in zip([*self.blocks, self.out], reversed(skips)):
            parts = [x, skip]  # skip connection from the previous (or last context) frame
            if maps is not None:
                parts.append(repeat(maps, "n m -> n m h w", h=skip.shape[2], w=skip.shape[3]))
            x = block(torch.cat(parts, dim=1))
        return torch.sigmoid(x)


class RecurrentNet(nn.Module):
    """Linear -> stacked LSTM cells -> linear head, stepped one frame at a time (SVG's lstm modules)."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int, layers: int = 1) -> None:
        super().__init__()
        self.embed = nn.Linear(in_dim, hidden)
        self.cells = nn.ModuleList(nn.LSTMCell(hidden, hidden) for _ in range(layers))
        self.head = nn.Linear(hidden, out_dim)

    def initial_state(self, batch: int, like: Tensor) -> list[tuple[Tensor, Tensor]]:
        zeros = like.new_zeros(batch, self.embed.out_features)
        return [(zeros, zeros) for _ in self.cells]

    def forward(self, x: Tensor, state: list[tuple[Tensor, Tensor]]) -> tuple[Tensor, list[tuple[Tensor, Tensor]]]:
        """One step: x (B, in_dim) -> (B, out_dim), and the new state."""
        x, new_state = self.embed(x), []
        for cell, hc in zip(self.cells, state):
            h, c = cell(x, hc)
            new_state.append((h, c))
            x = h
        return self.head(x), new_state


class GaussianNet(RecurrentNet):
    """A RecurrentNet whose head gives (mu, logvar) of a diagonal Gaussian over z_t (B, z_dim) each."""

    def __init__(self, in_dim: int, hidden: int, z_dim: int) -> None:
        super().__init__(in_dim, hidden, 2 * z_dim)

    def forward(self, x: Tensor, state: list[tuple[Tensor, Tensor]]):
        out, state = super().forward(x, state)
        mu, logvar = out.chunk(2, dim=-1)
        return mu, logvar, state


# --- the model ----------------------------------------------------------------------------------

class DVG(nn.Module):
    """Action-conditioned SVG-LP: encoder, posterior, learned prior, predictor, skip decoder."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        c = config
        self.config = c
        self.encoder, self.decoder = Encoder(c), Decoder(c)
        self.posterior = GaussianNet(c.g_dim, c.latent_rnn_size, c.z_dim)  # q(z_t | x_<=t), fed h_t
        prior_in = c.g_dim + (c.num_actions if c.prior_sees_action else 0)
        self.prior = GaussianNet(prior_in, c.latent_rnn_size, c.z_dim)  # p(z_t | x_<t[, a_t]), fed h_{t-1}
        self.predictor = RecurrentNet(c.g_dim + c.z_dim + c.num_actions, c.rnn_size, c.g_dim,
                                      c.predictor_layers)  # [h_{t-1}, z_t, a_t] -> g_t

    def encode(self, video: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Every frame of (B, C, T, H, W) in [0, 1] -> h (B, T, g_dim) and skips [(B, T, c_l, h_l, w_l)]."""
        b = video.shape[0]
        h, skips = self.encoder(rearrange(video * 2 - 1, "b c t h w -> (b t) c h w"))
        skips = [rearrange(s, "(b t) c h w -> b t c h w", b=b) for s in skips]
        return rearrange(h, "(b t) g -> b t g", b=b), skips

    def prior_step(self, h_prev: Tensor, action: Tensor, state):
        """(mu, logvar) of p(z_t | x_<t, a_t) from h_{t-1} (B, g_dim) and a_t (B,): never frame t (SVG-LP Sec. 3.2)."""
        if self.config.prior_sees_action:
            h_prev = torch.cat([h_prev, action_one_hot(action, self.config.num_actions)], -1)
        return self.prior(h_prev, state)

    def decoder_maps(self, action: Tensor, z: Tensor) -> Tensor | None:
        """What the decoder gets as constant maps: [one_hot(a_t), z_t] (B, A + z_dim), either part
        only with ``action_maps`` / ``z_maps``, or None without both."""
        parts = [action_one_hot(action, self.config.num_actions)] if self.config.action_maps else []
        parts += [z] if self.config.z_maps else []
        return torch.cat(parts, dim=-1) if parts else None

    def predictor_step(self, h_prev: Tensor, z: Tensor, action: Tensor, state):
        """g_t = LSTM([h_{t-1}, z_t, a_t]) with a_t one-hot (SVG Sec. 3 + the action, Oh et al. 2015)."""
        g, state = self.predictor(torch.cat([h_prev, z, action_one_hot(action, self.config.num_actions)], -1), state)
        return torch.tanh(g), state

    def forward(self, video: Tensor, actions: Tensor, context: int | None = None,
                use_prior: bool = False) -> dict[str, Tensor]:
        """Teacher-forced pass over a training clip (SVG's training loop).

        Args:
            video: (B, C, T, H, W) in [0, 1]; frames 1..T-1 are reconstructed.
            actions: (B, T-1) int, action t moves frame t to frame t+1.
            context: observed frames (default ``config.context``): with ``last_frame_skip=False``
                later frames use the skips of the last context frame, otherwise of the frame before.
            use_prior: draw z_t from the learned prior instead of the posterior (a diagnosis: how much
                better the frames get when z has seen frame t).
        Returns:
            ``recon`` (B, C, T-1, H, W) in [0, 1], predictions of frames 1..T-1; ``mu_q``, ``logvar_q``,
            ``mu_p``, ``logvar_p`` (B, T-1, z_dim), posterior and prior of z_1..z_{T-1}.
        """
        context = self.config.context if context is None else context
        b, _, t_total = video.shape[:3]
        h, skips = self.encode(video)
        post_state = self.posterior.initial_state(b, h)
        prior_state = self.prior.initial_state(b, h)
        pred_state = self.predictor.initial_state(b, h)
        recon, stats = [], []
        for t in range(1, t_total):  # only as far as the last frame the loss uses
            mu_q, logvar_q, post_state = self.posterior(h[:, t], post_state)  # sees frame t
            mu_p, logvar_p, prior_state = self.prior_step(h[:, t - 1], actions[:, t - 1], prior_state)  # frames < t only
            z = reparameterize(mu_p, logvar_p) if use_prior else reparameterize(mu_q, logvar_q)  # training: z_t ~ q
            g, pred_state = self.predictor_step(h[:, t - 1], z, actions[:, t - 1], pred_state)
            s = t - 1 if self.config.last_frame_skip else min(t - 1, context - 1)
            recon.append(self.decoder(g, [skip[:, s] for skip in skips], self.decoder_maps(actions[:, t - 1], z)))
            stats.append(torch.stack([mu_q, logvar_q, mu_p, logvar_p]))
        stats = rearrange(torch.stack(stats), "t k b z -> k b t z")
        return {"recon": torch.stack(recon, dim=2), "mu_q": stats[0], "logvar_q": stats[1],
                "mu_p": stats[2], "logvar_p": stats[3]}


def build(config: Config) -> DVG:
    """A fresh DVG with PyTorch's default initialisation."""
    return DVG(config)


# --- the loss -----------------------------------------------------------------------------------

def dvg_loss(out: dict[str, Tensor], video: Tensor, beta: float, free_bits: float = 0.0) -> dict[str, Tensor]:
    """SVG's objective (Eq. 3): sum_t MSE(x_hat_t, x_t) + beta * sum_t KL(q(z_t|x_<=t) || p(z_t|x_<t)).

    With ``free_bits`` = lambda > 0, the posterior is charged max(lambda, KL averaged over the batch) per
    z dim and step instead of the KL ("free bits", Kingma et al., "Improved Variational Inference with
    Inverse Autoregressive Flow", NIPS 2016): the first lambda nats are free, so the KL term alone
    cannot push the posterior onto the prior before the decoder has learned to use z. The prior still
    learns from the whole KL (the posterior held fixed, as in DreamerV2's KL balancing, Hafner et al.,
    ICLR 2021): without that it would not track the posterior in dims below lambda, and its samples
    would feed the decoder noise it never saw in training.

    Args:
        out: what ``DVG.forward`` returns; video: (B, C, T, H, W) the clip it saw.
    Returns:
        ``loss``, ``recon_mse`` (summed over time, mean over pixels and videos), ``kl`` (summed over
        time and z dims, mean over videos; the true KL, without free bits).
    """
    recon_mse = ((out["recon"] - video[:, :, 1:]) ** 2).mean(dim=(0, 1, 3, 4)).sum()
    q, p = (out["mu_q"], out["logvar_q"]), (out["mu_p"], out["logvar_p"])
    kl = losses.gaussian_kl(*q, *p).sum(dim=(1, 2)).mean()
    if free_bits <= 0:
        return {"loss": recon_mse + beta * kl, "recon_mse": recon_mse, "kl": kl}
    kl_q = losses.gaussian_kl(*q, *(x.detach() for x in p))  # (B, T-1, z_dim): moves the posterior only
    kl_p = losses.gaussian_kl(*(x.detach() for x in q), *p)  # the same values: moves the prior only
    charged = kl_q.mean(dim=0).clamp(min=free_bits).sum() + kl_p.sum(dim=(1, 2)).mean()
    return {"loss": recon_mse + beta * charged, "recon_mse": recon_mse, "kl": kl}


def training_step(model: DVG, trainer: Trainer, batch: dict[str, Tensor]) -> dict[str, float]:
    """One teacher-forced step on a batch {"video": (B, C, T, H, W), "actions": (B, T-1)}."""
    video = batch["video"][:, :, : model.config.num_frames]
    actions = batch["actions"][:, : model.config.num_frames - 1]
    beta = kl_weight(trainer.step, model.config.beta, model.config.warmup_steps)
    terms = dvg_loss(model(video, actions), video, beta, model.config.free_bits)
    trainer.update("model", terms["loss"])
    return {"recon_mse": terms["recon_mse"].item(), "kl": terms["kl"].item()}


# --- prediction ---------------------------------------------------------------------------------

@torch.no_grad()
def predict(model: DVG, context: Tensor, horizon: int, *, actions: Tensor, seed: int | None = None,
            use_prior: bool = True) -> Tensor:
    """The next ``horizon`` frames after ``context`` under ``actions``, z_t drawn from the learned prior.

    Args:
        context: (B, C, Tc, H, W) in [0, 1], the observed frames (Tc >= 1).
        horizon: frames to predict.
        actions: (B, Tc - 1 + horizon) int: *every* action from frame 0 on, as ``ActionShapes`` gives
            them (action t moves frame t to t + 1): the first Tc - 1 are the context's own, the rest
            drive the prediction.
        seed: makes the draws of z repeatable.
        use_prior: draw z_t from the learned prior p(z_t | x_<t) (SVG-LP); False draws from N(0, I)
            (SVG-FP's fixed prior, for comparison).
    Returns:
        (B, C, horizon, H, W) in [0, 1].
    """
    b, _, tc = context.shape[:3]
    if actions.shape != (b, tc - 1 + horizon):
        raise ValueError(f"actions must be (B, Tc - 1 + horizon) = ({b}, {tc - 1 + horizon}): every action from "
                         f"frame 0 on; got {tuple(actions.shape)}.")
    was_training = model.training
    model.eval()
    dev = next(model.parameters()).device
    context, actions = context.to(dev), actions.to(dev)
    g_cpu = torch.Generator().manual_seed(seed) if seed is not None else None
    h, skips = model.encode(context)
    skip = [s[:, -1] for s in skips]  # SVG: skips from the last context frame
    post_state = model.posterior.initial_state(b, h)
    prior_state = model.prior.initial_state(b, h)
    pred_state = model.predictor.initial_state(b, h)
    h_prev, frames = h[:, 0], []
    for t in range(1, tc + horizon):
        mu_p, logvar_p, prior_state = model.prior_step(h_prev, actions[:, t - 1], prior_state)
        if t < tc:  # a context frame: z from the posterior, the true frame fed on (SVG's warm-up)
            mu_q, logvar_q, post_state = model.posterior(h[:, t], post_state)
            z = reparameterize(mu_q, logvar_q, g_cpu)
        elif use_prior:
            z = reparameterize(mu_p, logvar_p, g_cpu)
        else:
            z = reparameterize(torch.zeros_like(mu_p), torch.zeros_like(logvar_p), g_cpu)
        g, pred_state = model.predictor_step(h_prev, z, actions[:, t - 1], pred_state)
        if t < tc:
            h_prev = h[:, t]
            continue
        frame = model.decoder(g, skip, model.decoder_maps(actions[:, t - 1], z))
        frames.append(frame)
        h_prev, frame_skip = model.encoder(frame * 2 - 1)  # the prediction becomes the next input
        if model.config.last_frame_skip:
            skip = frame_skip
    model.train(was_training)
    return torch.stack(frames, dim=2).cpu()


# --- measuring: where is the agent? -------------------------------------------------------------

def agent_centroids(video: Tensor, colors: Tensor) -> Tensor:
    """Centroid (y, x) of the pixels that have the agent's colour (or any one shape's colour), per frame.

    A pixel is the shape's when each channel is within 0.5 of the shape's RGB (the course's colours
    are 0/1 per channel, so the other shape never counts). A frame without such pixels gets the
    frame's centre, so a vanished shape still costs an error.

    Args:
        video: (B, 3, T, H, W) in [0, 1]; colors: (B,) indices into ``vidgen_lib.datasets.COLORS``: the
            agent's, or the distractor's to find the distractor.
    Returns:
        (B, T, 2) float, in pixels.
    """
    rgb = torch.as_tensor(RGB, device=video.device)[colors.long()]  # (B, 3)
    mask = ((video - rgb[:, :, None, None, None]).abs() < 0.5).all(dim=1).float()  # (B, T, H, W)
    size = video.shape[-1]
    coords = torch.arange(size, dtype=torch.float32, device=video.device)
    count = mask.sum(dim=(2, 3))
    y = (mask.sum(dim=3) * coords).sum(-1) / count.clamp(min=1)
    x = (mask.sum(dim=2) * coords).sum(-1) / count.clamp(min=1)
    centre = torch.full_like(y, (size - 1) / 2)
    return torch.stack([torch.where(count > 0, y, centre), torch.where(count > 0, x, centre)], dim=-1)


def position_error(pred: Tensor, truth: Tensor, colors: Tensor) -> Tensor:
    """Mean distance (pixels) between the agent's centroids in ``pred`` and ``truth`` (B, 3, T, H, W): (B,)."""
    return (agent_centroids(pred, colors) - agent_centroids(truth, colors)).norm(dim=-1).mean(dim=1)


def heldout_data(config: Config, n: int) -> ActionShapes:
    """The held-out world: ``n`` test-split videos of ``context + horizon`` frames."""
    return ActionShapes("test", num_videos=n, num_frames=config.num_frames, frame_size=config.frame_size,
                        distractor_turn_prob=config.distractor_turn_prob)


def heldout_batch(config: Config, n: int) -> dict[str, Tensor]:
    """The first n test videos, stacked: ``video`` (n, 3, T, H, W), ``actions`` (n, T-1), ``color`` (n,) of the
    agent, ``distractor_color`` (n,)."""
    data = heldout_data(config, n)
    items = [data[i] for i in range(n)]
    return {"video": torch.stack([it["video"] for it in items]),
            "actions": torch.stack([it["actions"] for it in items]),
            "color": torch.stack([it["color"][0] for it in items]),
            "distractor_color": torch.stack([it["color"][1] for it in items])}


def prediction_task(model: DVG, n: int) -> tuple[Tensor, Tensor, dict]:
    """``n`` held-out clips to continue: the context ``(n, 3, context, H, W)``, the true future and the
    keyword arguments ``predict`` needs: the true ``actions`` of every frame."""
    batch = heldout_batch(model.config, n)
    context = model.config.context
    return batch["video"][:, :, :context], batch["video"][:, :, context:], {"actions": batch["actions"]}


@torch.no_grad()
def baseline_predictions(model: DVG, batch: dict[str, Tensor], seed: int = 0) -> dict[str, Tensor]:
    """The future of each test video as DVG predicts it under the true actions, as the same model predicts
    it under random actions (action-blind), and as copy-last-frame has it.

    Args:
        batch: from ``heldout_batch``: ``video`` (B, 3, T, H, W), ``actions`` (B, T-1).
    Returns:
        ``"dvg"``, ``"random_actions"``, ``"copy_last"``: (B, 3, horizon, H, W) each, in [0, 1].
    """
    c = model.config
    video, actions = batch["video"], batch["actions"]
    context = video[:, :, : c.context]
    random_actions = torch.randint(c.num_actions, actions.shape, generator=torch.Generator().manual_seed(seed + 1))
    random_actions[:, : c.context - 1] = actions[:, : c.context - 1]  # the context's own actions stay
    return {"dvg": predict(model, context, c.horizon, actions=actions, seed=seed),
            "random_actions": predict(model, context, c.horizon, actions=random_actions, seed=seed),
            "copy_last": copy_last_frame(context, c.horizon)}


@torch.no_grad()
def sample_futures(model: DVG, batch: dict[str, Tensor], k: int, seed: int = 0) -> Tensor:
    """k futures of every test video under its true actions, z_t drawn from the learned prior.

    Args:
        batch: from ``heldout_batch``. Returns: (k, B, 3, horizon, H, W) in [0, 1]; sample i uses seed ``seed + i``.
    """
    c = model.config
    context = batch["video"][:, :, : c.context]
    return torch.stack([predict(model, context, c.horizon, actions=batch["actions"], seed=seed + i) for i in range(k)])


def diversity(samples: Tensor, batch: dict[str, Tensor]) -> dict[str, float]:
    """How k samples under the same actions differ, shape by shape, as SVG's best-of-k evaluation.

    Args:
        samples: (k, B, 3, horizon, H, W) from ``sample_futures``; batch: from ``heldout_batch``.
    Returns:
        ``spread_px/agent`` and ``spread_px/distractor``: the RMS distance of a shape's centroid from
        its mean over the k samples, averaged over frames and videos (0 when all samples agree);
        ``distractor_error_px/one_sample``: the distractor's position error of a single sample, and
        ``distractor_error_px/best_of_k``: of the sample closest to the truth, per video.
    """
    k = samples.shape[0]
    flat = rearrange(samples, "k b c t h w -> (k b) c t h w")
    future = batch["video"][:, :, -samples.shape[3]:]
    where = {name: rearrange(agent_centroids(flat, colors.repeat(k)), "(k b) t yx -> k b t yx", k=k)
             for name, colors in (("agent", batch["color"]), ("distractor", batch["distractor_color"]))}
    metrics = {}
    for name, found in where.items():  # found: (k, B, T, 2)
        spread = (found - found.mean(0)).pow(2).sum(-1).mean(0).sqrt()  # (B, T)
        metrics[f"spread_px/{name}"] = spread.mean().item()
    truth = agent_centroids(future, batch["distractor_color"])  # (B, T, 2)
    error = (where["distractor"] - truth).norm(dim=-1).mean(-1)  # (k, B), per sample and video
    metrics["distractor_error_px/one_sample"] = error.mean().item()
    metrics["distractor_error_px/best_of_k"] = error.min(0).values.mean().item()
    return metrics


@torch.no_grad()
def evaluate(model: DVG, n: int, seed: int = 0, k: int = 8) -> dict[str, float]:
    """Test-split metrics on n videos: agent position error (pixels), PSNR (of the MSE pooled over the
    set) and SSIM of DVG under the true actions, of the same model under random actions (action-blind), and of copy-last-frame; and the
    ``diversity`` of k samples under the true actions."""
    batch = heldout_batch(model.config, n)
    future = batch["video"][:, :, model.config.context:]
    metrics: dict[str, float] = {"eval_videos": n, "samples_k": k}
    for name, pred in baseline_predictions(model, batch, seed).items():
        metrics[f"position_error_px/{name}"] = position_error(pred, future, batch["color"]).mean().item()
        metrics[f"psnr/{name}"] = psnr(pred, future, reduction="pooled").item()  # finite: strict JSON
        metrics[f"ssim/{name}"] = ssim(pred, future).item()
    metrics.update(diversity(sample_futures(model, batch, k, seed), batch))
    return metrics


# --- training and the shipped checkpoint --------------------------------------------------------

def training_data(config: Config, split: str = "train") -> ActionShapes:
    """The world DVG learns: an agent moved by actions, a distractor moving on its own (bouncing, and
    turning at random with ``config.distractor_turn_prob``)."""
    return ActionShapes(split, num_videos=config.num_videos, num_frames=config.num_frames,
                        frame_size=config.frame_size, distractor_turn_prob=config.distractor_turn_prob)


def make_trainer(model: DVG, *, run_dir: str | Path | None = None, seed: int = 0, progress: bool = True,
                 log_every: int = 50) -> Trainer:
    """The course's Trainer with Adam (SVG: Adam, beta1 0.9) and gradient clipping at 1."""
    optimizer = torch.optim.Adam(model.parameters(), lr=model.config.lr, betas=(0.9, 0.999))
    return Trainer({"model": model}, {"model": optimizer}, grad_clip=1.0, run_dir=run_dir,
                   checkpoint_every=500 if run_dir else 0, log_every=log_every, seed=seed, progress=progress)


def train(config: Config, steps: int | None = None, *, run_dir: str | Path | None = None, seed: int = 0,
          progress: bool = True) -> tuple[DVG, dict[str, float]]:
    """Train DVG on ActionShapes; returns the model (eval mode) and its final losses and test metrics."""
    steps = config.steps if steps is None else steps
    seed_everything(seed)
    model = build(config)
    loader = DataLoader(training_data(config), batch_size=config.batch_size, shuffle=True, drop_last=True)
    trainer = make_trainer(model, run_dir=run_dir, seed=seed, progress=progress)
    history = trainer.fit(lambda tr, batch: training_step(model, tr, batch), infinite_batches(loader), steps)
    metrics = {f"final_{k}": v for k, v in history[-1].items() if k != "step"}
    if config.eval_videos > 0:
        metrics.update(evaluate(model.cpu(), config.eval_videos))
    return model, metrics


def load_pretrained(device: torch.device | str | None = None, path: str | Path | None = None) -> DVG:
    """The shipped checkpoint ``data/checkpoints/dvg.pt``, checked against its card, in eval mode."""
    return load_model(CHECKPOINT, Config, build, device, path)


__all__ = ["Config", "DVG", "build", "train", "predict", "prediction_task", "load_pretrained", "gaussian_kl", "reparameterize",
           "kl_weight", "action_one_hot", "dvg_loss", "training_step", "evaluate", "baseline_predictions",
           "agent_centroids", "position_error", "heldout_data", "heldout_batch", "sample_futures", "diversity"]
