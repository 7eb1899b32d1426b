"""DVG, the course's action-conditioned stochastic video VAE: SVG-LP with an action input.

"DVG" is this course's label, not a paper's model: SVG-LP (Denton & Fergus, "Stochastic Video
Generation with a Learned Prior", ICML 2018) with the action a_t that moves frame t-1 to frame t fed
to the frame predictor and to the learned prior, as action-conditioned predictors do (Oh et al.,
NIPS 2015; SV2P, Babaeizadeh et al., ICLR 2018). "Diverse Video Generation using a Gaussian Process
Trigger" (Shrivastava & Shrivastava, ICLR 2021) shares the short name; it is not what this file builds.

- a DCGAN-style frame encoder x_t -> h_t and a decoder with skips from the frame before the one
  predicted (SVG, Sec. 3 and its code's ``--last_frame_skip``), or from the last context frame;
- a posterior LSTM q_phi(z_t | x_<=t) fed h_t (SVG, Sec. 3.1) and a learned prior LSTM
  p_psi(z_t | x_<t, a_t) fed h_{t-1} and a_t, never frame t (SVG-LP, Sec. 3.2; a_t is our addition);
- a frame predictor LSTM [h_{t-1}, z_t, a_t] -> g_t, decoded to x_hat_t (SVG, Sec. 3; a_t as in Oh et
  al.); optionally a_t and z_t also reach the decoder as constant maps (``action_maps``, ``z_maps``);
- the loss sum_t ||x_hat_t - x_t||^2 + beta * KL(q_phi || p_psi) (SVG, Eq. 3), teacher-forced, beta
  warmed up linearly (as in SV2P), optionally with free bits (Kingma et al., NIPS 2016).

At test time z_t is drawn from the learned prior: the agent follows the actions, and what they do not
explain (the distractor, turning at random with ``distractor_turn_prob``) is sampled. Where the agent
is and how samples differ is measured in ``vidgen_lib.evaluation.dvg``; the model is taught in
``notebooks/07_dvg.ipynb``. Videos are (B, C, T, H, W) in [0, 1] at every public boundary.
"""
from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import Tensor, nn
from torch.utils.data import default_collate

from vidgen_lib import losses
from vidgen_lib.checkpoints import load_model
from vidgen_lib.datasets import ACTIONS, ActionShapes
from vidgen_lib.nn.conv import conv_block
from vidgen_lib.nn.gaussian import reparameterize
from vidgen_lib.nn.recurrent import GaussianLSTM, StackedLSTM, State
from vidgen_lib.runtime import eval_mode, model_device, rng, seed_everything
from vidgen_lib.train import Trainer, batches, run
from vidgen_lib.video import fold_time, to_signed, validate_clip

_INDEX_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


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
    prior_sees_action: bool = True  # p(z_t | x_<t, a_t): the prior also gets the action (as in SV2P)
    action_maps: bool = False  # also give the decoder a_t as constant feature maps at every scale
    z_maps: bool = False  # also give the decoder z_t as constant feature maps at every scale
    last_frame_skip: bool = True  # skips from the frame before (SVG's --last_frame_skip), else last context
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
    def preset(cls, name: str) -> Config:
        """``tutorial``: 32x32, 2 + 8 frames, about an hour on one CPU thread; ``full``: SVG's sizes at 64x64.
        Both use a distractor that turns at random, z maps and free bits: without them the KL collapses
        and all samples under the same actions are the same (notebook 07, Sec. 6)."""
        stochastic = {"action_maps": True, "z_maps": True, "free_bits": 0.25, "distractor_turn_prob": 0.3}
        if name == "tutorial":
            return cls(**stochastic)
        if name == "full":
            return cls(**stochastic, frame_size=64, context=2, horizon=10, width=64, g_dim=128, z_dim=16,
                       rnn_size=256, latent_rnn_size=256, warmup_steps=10_000, batch_size=64, lr=2e-3,
                       eval_videos=1024, steps=100_000)
        raise ValueError(f"Unknown preset {name!r}: use 'tutorial' or 'full'.")

    @property
    def num_frames(self) -> int:
        return self.context + self.horizon


def kl_weight(step: int, beta: float, warmup_steps: int) -> float:
    """KL annealing: beta * min(1, step / warmup_steps), a linear ramp from 0 (SV2P's staged KL)."""
    return beta if warmup_steps <= 0 else beta * min(1.0, step / warmup_steps)


def action_one_hot(actions: Tensor, num_actions: int = len(ACTIONS)) -> Tensor:
    """Action indices (...) -> one-hot float codes (..., num_actions), the a_t fed to the predictor."""
    return F.one_hot(actions.long(), num_actions).float()


# --- the frame encoder and the skip decoder (DCGAN-style, SVG Sec. 3) ---------------------------

def _block(c_in: int, c_out: int, **conv) -> nn.Sequential:
    """(Transposed) conv with bias, GroupNorm, LeakyReLU 0.2: DCGAN's layer with SVG's activation."""
    return conv_block(c_in, c_out, norm="group", act="lrelu", bias=True, **conv)


class Encoder(nn.Module):
    """DCGAN-style encoder: frames (N, C, H, W) in [-1, 1] -> h (N, g_dim) and its feature maps (skips)."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        w, n = config.width, config.frame_size.bit_length() - 3  # 32 -> 3 stride-2 convs down to 4x4
        widths = [w * 2**i for i in range(n)]
        self.blocks = nn.ModuleList(_block(c_in, c_out) for c_in, c_out in zip([config.channels, *widths],
                                                                                widths))
        self.out = conv_block(widths[-1], config.g_dim, kernel=4, stride=1, padding=0, norm="none",
                              act="tanh")  # 4x4 -> 1x1

    def forward(self, frames: Tensor) -> tuple[Tensor, list[Tensor]]:
        """frames (N, C, H, W) -> h (N, g_dim) and skips [(N, c_l, h_l, w_l)], finest first."""
        skips = []
        for block in self.blocks:
            frames = block(frames)
            skips.append(frames)
        return rearrange(self.out(frames), "n g 1 1 -> n g"), skips


class Decoder(nn.Module):
    """Mirror of the encoder: g (N, g_dim) and skips -> frames (N, C, H, W) in [0, 1] (SVG's skip decoder).

    With ``action_maps`` / ``z_maps`` the one-hot a_t / z_t are also concatenated as constant maps before
    every upsampling, so that moving a shape can be learned locally, next to the skip features."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        w, n = config.width, config.frame_size.bit_length() - 3
        a = (config.num_actions if config.action_maps else 0) + (config.z_dim if config.z_maps else 0)
        widths = [w * 2**i for i in reversed(range(n))]  # e.g. 128, 64, 32
        self.inp = _block(config.g_dim, widths[0], transpose=True, stride=1, padding=0)  # 1x1 -> 4x4
        self.blocks = nn.ModuleList(_block(2 * c_in + a, c_out, transpose=True)
                                    for c_in, c_out in itertools.pairwise(widths))
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


# --- the model ----------------------------------------------------------------------------------

class DVG(nn.Module):
    """Action-conditioned SVG-LP: encoder, posterior, learned prior, predictor, skip decoder."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = c = config
        self.encoder, self.decoder = Encoder(c), Decoder(c)
        self.posterior = GaussianLSTM(c.g_dim, c.latent_rnn_size, c.z_dim)  # q(z_t | x_<=t), fed h_t
        prior_in = c.g_dim + (c.num_actions if c.prior_sees_action else 0)
        self.prior = GaussianLSTM(prior_in, c.latent_rnn_size, c.z_dim)  # p(z_t | x_<t[, a_t]), fed h_{t-1}
        self.predictor = StackedLSTM(c.g_dim + c.z_dim + c.num_actions, c.rnn_size, c.g_dim,
                                     c.predictor_layers)  # [h_{t-1}, z_t, a_t] -> g_t

    def encode(self, video: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Every frame of (B, C, T, H, W) in [0, 1] -> h (B, T, g_dim) and skips [(B, T, c_l, h_l, w_l)]."""
        b = video.shape[0]
        h, skips = self.encoder(to_signed(fold_time(video)))
        skips = [rearrange(s, "(b t) c h w -> b t c h w", b=b) for s in skips]
        return rearrange(h, "(b t) g -> b t g", b=b), skips

    def prior_step(self, h_prev: Tensor, action: Tensor, state: State) -> tuple[Tensor, Tensor, State]:
        """(mu, logvar) of p(z_t | x_<t, a_t), (B, z_dim) each, from h_{t-1} (B, g_dim) and a_t (B,): never
        frame t (SVG-LP, Sec. 3.2)."""
        if self.config.prior_sees_action:
            h_prev = torch.cat([h_prev, action_one_hot(action, self.config.num_actions)], -1)
        return self.prior(h_prev, state)

    def decoder_maps(self, action: Tensor, z: Tensor) -> Tensor | None:
        """What the decoder gets as constant maps: [one_hot(a_t), z_t] (B, A + z_dim), either part
        only with ``action_maps`` / ``z_maps``, or None without both."""
        parts = [action_one_hot(action, self.config.num_actions)] if self.config.action_maps else []
        parts += [z] if self.config.z_maps else []
        return torch.cat(parts, dim=-1) if parts else None

    def predictor_step(self, h_prev: Tensor, z: Tensor, action: Tensor, state: State) -> tuple[Tensor, State]:
        """g_t = LSTM([h_{t-1}, z_t, a_t]) with a_t one-hot (SVG Sec. 3 + the action, Oh et al. 2015)."""
        one_hot = action_one_hot(action, self.config.num_actions)
        g, state = self.predictor(torch.cat([h_prev, z, one_hot], -1), state)
        return torch.tanh(g), state

    def forward(self, video: Tensor, actions: Tensor, context: int | None = None,
                use_prior: bool = False) -> dict[str, Tensor]:
        """Teacher-forced pass over a training clip (SVG's training loop).

        Args:
            video: (B, C, T, H, W) in [0, 1]; frames 1..T-1 are reconstructed.
            actions: (B, T-1) int, action t moves frame t to frame t+1.
            context: observed frames (default ``config.context``); only ``last_frame_skip=False`` uses it.
            use_prior: z_t from the learned prior instead of the posterior (a diagnosis of collapse).
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
            a = actions[:, t - 1]  # a_t moves frame t-1 to frame t
            mu_p, logvar_p, prior_state = self.prior_step(h[:, t - 1], a, prior_state)  # frames < t only
            mu, logvar = (mu_p, logvar_p) if use_prior else (mu_q, logvar_q)  # training: z_t ~ q
            z = reparameterize(mu, logvar)
            g, pred_state = self.predictor_step(h[:, t - 1], z, a, pred_state)
            s = t - 1 if self.config.last_frame_skip else min(t - 1, context - 1)
            recon.append(self.decoder(g, [skip[:, s] for skip in skips], self.decoder_maps(a, z)))
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
    z dim and step instead (Kingma et al., "Improved Variational Inference with Inverse Autoregressive
    Flow", NIPS 2016): the KL alone cannot push it onto the prior before the decoder uses z. The prior
    still learns from the whole KL, the posterior held fixed (DreamerV2's KL balancing, Hafner et al.,
    ICLR 2021), so that it tracks the posterior in the dims below lambda too.

    ``out`` is what ``DVG.forward`` returns for ``video`` (B, C, T, H, W). Returns ``loss``, ``recon_mse``
    (summed over time, mean over pixels and videos) and ``kl`` (the true KL, without free bits).
    """
    recon_mse = ((out["recon"] - video[:, :, 1:]) ** 2).mean(dim=(0, 1, 3, 4)).sum()
    q, p = (out["mu_q"], out["logvar_q"]), (out["mu_p"], out["logvar_p"])
    kl = losses.gaussian_kl(*q, *p).sum(dim=(1, 2)).mean()  # (B, T-1, z_dim) -> one KL per clip, averaged
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

def _check_inputs(config: Config, context: Tensor, horizon: int, actions: Tensor) -> None:
    """Raise a ValueError naming what ``predict`` expected, for a bad horizon, context or actions."""
    if horizon < 1:
        raise ValueError(f"horizon must be a positive number of frames to predict, got {horizon}.")
    validate_clip(context, channels=config.channels, frame_size=config.frame_size, name="context")
    b, tc = context.shape[0], context.shape[2]
    if not isinstance(actions, Tensor) or actions.dtype not in _INDEX_DTYPES:
        raise ValueError(f"actions must be an integer tensor of indices into ACTIONS, got "
                         f"{getattr(actions, 'dtype', type(actions).__name__)}.")
    if actions.shape != (b, tc - 1 + horizon):
        raise ValueError(f"actions must be (B, Tc - 1 + horizon) = ({b}, {tc - 1 + horizon}): every action "
                         f"from frame 0 on; got {tuple(actions.shape)}.")
    if actions.min() < 0 or actions.max() >= config.num_actions:
        raise ValueError(f"actions must be in [0, {config.num_actions}) ({', '.join(ACTIONS)}), got values "
                         f"in [{actions.min().item()}, {actions.max().item()}].")


def predict(model: DVG, context: Tensor, horizon: int, *, actions: Tensor, seed: int | None = None,
            use_prior: bool = True) -> Tensor:
    """The next ``horizon`` frames after ``context`` under ``actions``, z_t drawn from the learned prior.

    Args:
        context: (B, C, Tc, H, W) in [0, 1], the observed frames (Tc >= 1); horizon: frames to predict (>= 1).
        actions: (B, Tc - 1 + horizon) int in [0, num_actions): *every* action from frame 0 on, as
            ``ActionShapes`` gives them (action t moves frame t to t + 1); the last ``horizon`` drive the
            prediction.
        seed: makes the draws of z repeatable.
        use_prior: z_t from the learned prior (SVG-LP); False: from N(0, I) (SVG-FP's fixed prior).
    Returns:
        (B, C, horizon, H, W) in [0, 1], on the CPU.
    """
    _check_inputs(model.config, context, horizon, actions)
    b, _, tc = context.shape[:3]
    dev, generator = model_device(model), rng(seed)
    context, actions = context.to(dev), actions.to(dev)
    with eval_mode(model):
        h, skips = model.encode(context)
        skip = [s[:, -1] for s in skips]  # SVG: skips from the last context frame
        post_state = model.posterior.initial_state(b, h)
        prior_state = model.prior.initial_state(b, h)
        pred_state = model.predictor.initial_state(b, h)
        h_prev, frames = h[:, 0], []
        for t in range(1, tc + horizon):
            mu_p, logvar_p, prior_state = model.prior_step(h_prev, actions[:, t - 1], prior_state)
            if t < tc:  # a context frame: z from the posterior, the true frame fed on (SVG's warm-up)
                mu, logvar, post_state = model.posterior(h[:, t], post_state)
            else:  # the learned prior (SVG-LP), or N(0, I) (SVG-FP): mean 0, log-variance 0
                mu, logvar = (mu_p, logvar_p) if use_prior else (torch.zeros_like(mu_p),) * 2
            z = reparameterize(mu, logvar, generator)
            g, pred_state = model.predictor_step(h_prev, z, actions[:, t - 1], pred_state)
            if t < tc:
                h_prev = h[:, t]
                continue
            frame = model.decoder(g, skip, model.decoder_maps(actions[:, t - 1], z))
            frames.append(frame)
            h_prev, frame_skip = model.encoder(to_signed(frame))  # the prediction becomes the next input
            if model.config.last_frame_skip:
                skip = frame_skip
    return torch.stack(frames, dim=2).cpu()


# --- the world, the held-out task, training and the shipped checkpoint --------------------------

def training_data(config: Config, split: str = "train", num_videos: int | None = None) -> ActionShapes:
    """The world DVG learns (``config.num_videos`` videos unless given): an agent moved by actions, a
    distractor moving on its own (bouncing, and turning at random with ``config.distractor_turn_prob``)."""
    return ActionShapes(split, num_videos=config.num_videos if num_videos is None else num_videos,
                        num_frames=config.num_frames, frame_size=config.frame_size,
                        distractor_turn_prob=config.distractor_turn_prob)


def prediction_task(model: DVG, n: int) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
    """``n`` held-out clips to continue: the context ``(n, 3, context, H, W)``, the true future
    ``(n, 3, horizon, H, W)`` and the keyword arguments ``predict`` needs (the ``actions`` of every frame)."""
    if n < 1:
        raise ValueError(f"n must be a positive number of clips, got {n}.")
    data = training_data(model.config, "test", n)
    batch = default_collate([data[i] for i in range(n)])  # the first n test videos, stacked
    video, context = batch["video"], model.config.context
    return video[:, :, :context], video[:, :, context:], {"actions": batch["actions"]}


def train(config: Config, steps: int | None = None, *, run_dir: str | Path | None = None, seed: int = 0,
          progress: bool = True, time_limit_s: float | None = None) -> tuple[DVG, dict[str, float]]:
    """Train DVG on ActionShapes with Adam (SVG: Adam, beta1 0.9) and gradient clipping at 1; returns the
    model (eval mode) and its training metrics (``final/recon_mse``, ``final/kl``, ``steps``, ...)."""
    seed_everything(seed)
    model = build(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.9, 0.999))
    return run(model, {"model": optimizer}, training_step, batches(training_data(config), config.batch_size),
               config.steps if steps is None else steps, run_dir=run_dir, seed=seed, grad_clip=1.0,
               progress=progress, time_limit_s=time_limit_s)


def load_pretrained(device: torch.device | str | None = None, *, path: str | Path | None = None) -> DVG:
    """The shipped checkpoint ``data/checkpoints/dvg.pt``, checked against its card, in eval mode."""
    return load_model("dvg", Config, build, device, path)


__all__ = ["DVG", "Config", "action_one_hot", "build", "dvg_loss", "kl_weight", "load_pretrained",
           "predict", "prediction_task", "train", "training_data", "training_step"]
