"""A learned video codec: nonlinear transform coding of whole clips, trained for rate + lambda * distortion.

Ballé, Laparra, Simoncelli, "End-to-end Optimized Image Compression", ICLR 2017, with the factorised prior
of Ballé, Minnen, Singh, Hwang, Johnston, "Variational image compression with a scale hyperprior", ICLR
2018, applied to short clips instead of images.

An *analysis* transform, a small 3-D convolutional network, turns a clip ``(1, T, H, W)`` into latents
``y`` ``(C, T/2, H/4, W/4)``: it sees time as well as space, so a digit that only moves costs less than a
new one. The latents are rounded to integers and written with a range coder under a learned factorised
prior (``vidgen_lib.nn.entropy``); a *synthesis* transform turns the integers back into a clip. Both
transforms and the prior are trained together on ``bits per pixel + lmbda * MSE``, with rounding replaced
by uniform noise during training (Ballé et al. 2017, Sec. 3). One model is one point of the
rate–distortion curve: a larger ``lmbda`` buys a sharper clip with more bits.

:func:`compress` and :func:`decompress` are the real codec (bytes out, bytes in); the classical baselines
it is compared with are in ``vidgen_lib.evaluation.coding``. Taught in chapter 12 (applications).
Videos are ``(B, C, T, H, W)`` in [0, 1] at every public boundary.
"""
from __future__ import annotations

import copy
import dataclasses
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import vidgen_lib
from vidgen_lib.checkpoints import load_model
from vidgen_lib.datasets import MovingDigits
from vidgen_lib.nn.entropy import LIKELIHOOD_BOUND, FactorizedPrior, decode, encode
from vidgen_lib.runtime import eval_mode, model_device, seed_everything
from vidgen_lib.train import Trainer, batches, run
from vidgen_lib.video import from_signed, to_signed, validate_video


@dataclasses.dataclass
class Config:
    """Sizes, data and optimisation of one codec, i.e. one point of the rate–distortion curve.

    Departures from the papers: 3-D convolutions over clips (the papers code images); three layers with
    the course's kernel 4 / stride 2 / padding 1 halvings (the 2018 paper: four 5x5 layers) and
    ``width`` channels (the paper: 128-192); the prior learns faster than the transforms (``prior_lr``):
    it starts spread over about 400 integers, and at the transforms' rate it would take thousands of steps
    to narrow. The decoder clips its output to [0, 1]; training takes the MSE of the unclipped output, so
    an overshoot still has a gradient (a sigmoid there stalls training at a black clip). Gradients are
    clipped (``grad_clip``), and the learning rate is higher than the papers' for a short CPU run.
    """

    num_frames: int = 16  # T, even: time is halved once
    frame_size: int = 32  # H = W, a multiple of 4: space is halved twice
    channels: int = 1
    width: int = 32  # N, the channels of the hidden layers
    latent_channels: int = 8  # C, the channels of the latents y (C, T/2, H/4, W/4)
    prior_filters: tuple[int, ...] = (3, 3, 3)  # hidden widths of each channel's CDF network (2018: 3, 3, 3)
    lmbda: float = 300.0  # the weight of the distortion (MSE on [0, 1] pixels) against bits per pixel
    lr: float = 1e-3  # Adam, for the transforms (the papers: 1e-4, for millions of steps; 3e-3 stalls here)
    prior_lr: float = 1e-2  # Adam, for the prior's CDF networks
    grad_clip: float = 1.0  # max gradient norm per step: without, a run at lmbda = 1000 blew up at step 3,500
    batch_size: int = 16
    steps: int = 4000
    num_digits: int = 1
    train_videos: int = 60_000
    eval_videos: int = 256  # held-out clips of the rate–distortion numbers

    def __post_init__(self) -> None:
        self.prior_filters = tuple(self.prior_filters)  # a list when read from a model card
        if self.num_frames % 2 or self.frame_size % 4:
            raise ValueError(f"num_frames must be even and frame_size a multiple of 4 (the latents are "
                             f"(C, T/2, H/4, W/4)), got {self.num_frames} frames of {self.frame_size} px.")
        if self.lmbda <= 0:
            raise ValueError(f"lmbda must be positive (the weight of the distortion), got {self.lmbda}.")

    @classmethod
    def preset(cls, name: str) -> Config:
        """``tutorial``: 16 frames of 32x32, for one CPU thread; ``full``: wider transforms and more
        latent channels, longer, for a GPU. Set ``lmbda`` for the point of the curve you want."""
        if name == "tutorial":
            return cls()
        if name == "full":
            return cls(width=128, latent_channels=16, batch_size=32, lr=3e-4, prior_lr=1e-3, steps=100_000,
                       eval_videos=1024)
        raise ValueError(f"Unknown preset {name!r}: use 'tutorial' or 'full'.")


# --- building blocks ------------------------------------------------------------------------------

class GDN(nn.Module):
    """Generalised divisive normalisation over channels (Ballé et al. 2017, Sec. 2), or its inverse.

    ``u_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2)``; the inverse (IGDN, in the synthesis) multiplies by
    the same root. ``beta`` and ``gamma`` are kept positive with softplus; they start at 1 and ``0.1 I``.
    Input and output ``(B, N, T, H, W)``.
    """

    def __init__(self, channels: int, inverse: bool = False) -> None:
        super().__init__()
        self.inverse = inverse
        start = torch.full((channels, channels), -10.0).fill_diagonal_(math.log(math.expm1(0.1)))
        self.gamma = nn.Parameter(start)  # softplus(-10) ~ 5e-5: the off-diagonals start near 0
        self.beta = nn.Parameter(torch.full((channels,), math.log(math.expm1(1.0))))

    def forward(self, x: Tensor) -> Tensor:
        """``(B, N, T, H, W)`` -> the same shape."""
        gamma = F.softplus(self.gamma)[..., None, None, None]  # a 1x1x1 conv: (N_out, N_in, 1, 1, 1)
        norm = torch.sqrt(F.conv3d(x**2, gamma, F.softplus(self.beta)))  # sqrt(beta_i + sum_j gamma_ij x_j^2)
        return x * norm if self.inverse else x / norm


def _conv(c_in: int, c_out: int, halve_time: bool, transpose: bool = False) -> nn.Module:
    """A 3-D conv that halves (or, transposed, doubles) H and W, and T too when ``halve_time``."""
    kind = nn.ConvTranspose3d if transpose else nn.Conv3d
    if halve_time:
        return kind(c_in, c_out, kernel_size=4, stride=2, padding=1)
    return kind(c_in, c_out, kernel_size=(3, 4, 4), stride=(1, 2, 2), padding=1)


class VideoCodec(nn.Module):
    """Analysis transform, factorised prior and synthesis transform of one codec (Ballé et al. 2018)."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = c = config
        n = c.width
        self.analysis = nn.Sequential(  # (1, T, H, W) -> (N, T, H/2, W/2) -> (N, T/2, H/4, W/4) -> (C, ...)
            _conv(c.channels, n, halve_time=False), GDN(n),
            _conv(n, n, halve_time=True), GDN(n),
            nn.Conv3d(n, c.latent_channels, kernel_size=3, padding=1))
        self.synthesis = nn.Sequential(  # the mirror image, IGDN in place of GDN
            nn.Conv3d(c.latent_channels, n, kernel_size=3, padding=1), GDN(n, inverse=True),
            _conv(n, n, halve_time=True, transpose=True), GDN(n, inverse=True),
            _conv(n, c.channels, halve_time=False, transpose=True))  # -> (1, T, H, W), about [-1, 1]
        self.prior = FactorizedPrior(c.latent_channels, c.prior_filters)

    def encode_latents(self, video: Tensor) -> Tensor:
        """The analysis transform: video ``(B, 1, T, H, W)`` in [0, 1] -> latents y ``(B, C, T/2, H/4, W/4)``,
        real numbers."""
        return self.analysis(to_signed(video))

    def decode_latents(self, y: Tensor) -> Tensor:
        """The synthesis transform: latents ``(B, C, T/2, H/4, W/4)`` -> video ``(B, 1, T, H, W)``, clipped
        to [0, 1]."""
        return from_signed(self.synthesis(y)).clamp(0, 1)

    def forward(self, video: Tensor) -> tuple[Tensor, Tensor]:
        """Training pass: video ``(B, 1, T, H, W)`` in [0, 1] -> (its reconstruction, *not* clipped, of the
        same shape; the noisy latents ``y + u``, ``u ~ U(-1/2, 1/2)``, ``(B, C, T/2, H/4, W/4)``)."""
        y_noisy = self.prior.quantize(self.encode_latents(video), noise=True)  # 2017, Sec. 3: y + u
        return from_signed(self.synthesis(y_noisy)), y_noisy


def build(config: Config) -> VideoCodec:
    """The codec of ``config``, untrained."""
    return VideoCodec(config)


def _check_video(model: VideoCodec, video: Tensor) -> None:
    validate_video(video)
    c = model.config
    if video.shape[1] != c.channels or video.shape[2] % 2 or video.shape[3] % 4 or video.shape[4] % 4:
        raise ValueError(f"video must be (B, {c.channels}, T, H, W) with T even and H, W multiples of 4 "
                         f"(the latents are (C, T/2, H/4, W/4)); got shape {tuple(video.shape)}.")


# --- the loss and training ------------------------------------------------------------------------

def rate_distortion_loss(model: VideoCodec, video: Tensor) -> tuple[Tensor, Tensor]:
    """The two terms of the relaxed loss (Ballé et al. 2017, Sec. 3), each a 0-dim tensor.

    Args: video ``(B, 1, T, H, W)`` in [0, 1].
    Returns: ``(bpp, mse)``: the prior's bits of the noisy latents per pixel (``B * T * H * W`` pixels),
        and the mean squared error of the (unclipped) reconstruction on [0, 1] pixels. The loss is
        ``bpp + lmbda * mse``.
    """
    _check_video(model, video)
    reconstruction, y_noisy = model(video)
    pixels = video.shape[0] * video.shape[2] * video.shape[3] * video.shape[4]
    bpp = model.prior.bits(y_noisy) / pixels  # R = sum -log2 p(y + u), spread over the pixels
    return bpp, F.mse_loss(reconstruction, video)  # D = MSE


def training_step(model: VideoCodec, trainer: Trainer, batch: dict[str, Tensor]) -> dict[str, float]:
    """One Adam step on ``bpp + lmbda * mse`` for ``batch["video"]`` ``(B, 1, T, H, W)`` in [0, 1];
    returns both terms."""
    bpp, mse = rate_distortion_loss(model, batch["video"])
    trainer.update("model", bpp + model.config.lmbda * mse)
    return {"bpp": bpp.item(), "mse": mse.item()}


def dataset(config: Config, split: str = "train", num_videos: int | None = None) -> MovingDigits:
    """The moving-digits clips the codec learns to code: ``config.num_digits`` digit(s), ``(1, T, H, W)``."""
    return MovingDigits(split, num_videos or config.train_videos, config.num_frames, config.frame_size,
                        num_digits=config.num_digits)


def make_optimizer(model: VideoCodec, config: Config) -> torch.optim.Adam:
    """One Adam: ``lr`` for the transforms, ``prior_lr`` for the prior."""
    transforms = [*model.analysis.parameters(), *model.synthesis.parameters()]
    groups = [{"params": transforms}, {"params": model.prior.parameters(), "lr": config.prior_lr}]
    return torch.optim.Adam(groups, lr=config.lr)


def train(config: Config, steps: int | None = None, *, run_dir: str | Path | None = None, seed: int = 0,
          progress: bool = True, time_limit_s: float | None = None) -> tuple[VideoCodec, dict[str, float]]:
    """Train a codec on moving digits for ``steps`` steps (default ``config.steps``), or until
    ``time_limit_s`` seconds of training; returns ``(model, metrics)`` (see ``vidgen_lib.train.run``)."""
    seed_everything(seed)
    model = build(config)
    data = batches(dataset(config), config.batch_size)
    return run(model, {"model": make_optimizer(model, config)}, training_step, data,
               config.steps if steps is None else steps, run_dir=run_dir, seed=seed,
               grad_clip=config.grad_clip, progress=progress, time_limit_s=time_limit_s)


# --- the real codec: integers, bytes and back -----------------------------------------------------

@torch.no_grad()
def support(prior: FactorizedPrior, tail: float = LIKELIHOOD_BOUND, limit: int = 1024) -> tuple[int, int]:
    """The integers ``low..high`` the range coder's table covers: the narrowest range outside which every
    channel's prior puts less than ``tail`` on either side, ``P(y < low - 1/2) <= tail`` and
    ``P(y > high + 1/2) <= tail``; at least two integers, at most ``-limit..limit``.

    Latents are clamped into it before coding (:func:`quantized_latents`): the table's end bins hold the
    tails, so the coder stays exact, and a latent outside happens with probability below ``tail``.
    """
    k = torch.arange(-limit, limit + 1, dtype=torch.float32)
    logits = prior.logits((k + 0.5).expand(prior.channels, 1, -1))[:, 0]  # (C, K): logit of c(k + 1/2)
    below = torch.sigmoid(logits).amax(0) <= tail  # (K,): P(y < k + 1/2) <= tail in every channel
    above = torch.sigmoid(-logits).amax(0) <= tail  # (K,): P(y > k + 1/2) <= tail in every channel
    low = int(k[below].max()) + 1 if below.any() else -limit
    high = int(k[above].min()) if above.any() else limit
    return low, max(high, low + 1)


def coding_prior(model: VideoCodec) -> FactorizedPrior:
    """A CPU copy of the model's prior, from which the coder's tables are built: an encoder and a decoder
    on different devices then build the very same table (one float apart and decoding fails)."""
    return copy.deepcopy(model.prior).cpu()


@torch.no_grad()
def quantized_latents(model: VideoCodec, videos: Tensor) -> Tensor:
    """The integers the codec writes: ``round(y)`` clamped into :func:`support`, ``(B, C, T/2, H/4, W/4)``
    float32, for videos ``(B, 1, T, H, W)`` in [0, 1]."""
    _check_video(model, videos)
    low, high = support(coding_prior(model))
    with eval_mode(model):
        y = model.encode_latents(videos.to(model_device(model)))
        return model.prior.quantize(y, noise=False).clamp(low, high)


def estimated_bits(model: VideoCodec, videos: Tensor) -> float:
    """The prior's estimate of the size of :func:`compress`'s bytes: ``sum -log2 p(round(y))`` in bits, for
    videos ``(B, 1, T, H, W)`` in [0, 1]."""
    with eval_mode(model):
        return model.prior.bits(quantized_latents(model, videos)).item()


def compress(model: VideoCodec, videos: Tensor) -> tuple[bytes, tuple[int, ...]]:
    """Videos ``(B, 1, T, H, W)`` in [0, 1] -> the range-coded bytes of their integer latents, and the shape
    of the latents ``(B, C, T/2, H/4, W/4)``, which the decoder needs (a file's header would hold it)."""
    symbols, prior = quantized_latents(model, videos), coding_prior(model)
    return encode(symbols, prior, *support(prior)), tuple(symbols.shape)


def decompress(model: VideoCodec, data: bytes, shape: tuple[int, ...]) -> Tensor:
    """The decoder: bytes and latent ``shape`` from :func:`compress` -> videos ``(B, 1, T, H, W)`` in [0, 1]
    on the model's device. It rebuilds the same table from the same prior."""
    prior = coding_prior(model)
    symbols = decode(data, prior, shape, *support(prior))
    with eval_mode(model):
        return model.decode_latents(symbols.to(model_device(model)))


def load_pretrained(device: torch.device | str | None = None, *,
                    path: str | Path | None = None) -> VideoCodec:
    """The shipped checkpoint ``data/checkpoints/codec.pt`` (or ``path``), built from its card's config, in
    eval mode. Raises FileNotFoundError (saying how to train it) or CheckpointError (not as its card says)."""
    return load_model("codec", Config, build, device, path)


def curve_paths() -> list[Path]:
    """The shipped points of the rate–distortion curve: ``data/checkpoints/codec.pt`` and every
    ``data/checkpoints/codec_curve/lmbda_<lmbda>/codec.pt``, each written by ``python -m vidgen_lib train
    codec --set lmbda=<lmbda> --out data/checkpoints/codec_curve/lmbda_<lmbda>``."""
    main = vidgen_lib.CHECKPOINT_DIR / "codec.pt"
    return [main, *sorted((vidgen_lib.CHECKPOINT_DIR / "codec_curve").glob("lmbda_*/codec.pt"))]


def load_curve(device: torch.device | str | None = None) -> dict[float, VideoCodec]:
    """Every shipped codec of :func:`curve_paths`, each checked against its card, keyed by its ``lmbda``
    and sorted from the fewest bits to the most."""
    codecs = [load_pretrained(device, path=path) for path in curve_paths()]
    return {model.config.lmbda: model for model in sorted(codecs, key=lambda model: model.config.lmbda)}
