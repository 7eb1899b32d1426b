"""VPN: a video model with an exact likelihood, pixel by pixel.

Kalchbrenner, van den Oord, Simonyan, Danihelka, Vinyals, Graves, Kavukcuoglu, "Video Pixel Networks",
ICML 2017. The VPN writes the probability of a video as a chain of conditionals, one per pixel value,
in the order time, then rows, then columns (then colours, R before G before B; our frames are grey, so
that last step drops out):

    p(x) = prod_t prod_i prod_j p(x_{t,i,j} | x_{<t}, x_{t,<(i,j)})               (Sec. 2)

Past frames go through a *resolution-preserving* encoder (dilated residual multiplicative blocks, no
downsampling, Sec. 3.1 and 4), a ConvLSTM runs over time at full resolution, and a PixelCNN decoder of
masked convolutions reads the ConvLSTM state and the pixels of the current frame generated so far
(Sec. 3.2). Each factor is a categorical over the quantised intensities, so the likelihood is exact and
reported in nats per frame (Sec. 5). With ``independent_pixels=True`` the decoder does not see the
current frame at all: the paper's baseline, whose pixels are independent given the past frames.

Taught in ``notebooks/08_vpn.ipynb``. Videos are (B, C, T, H, W) in [0, 1] at every public boundary,
with C = 1 (grey); inside, the network reads values in [-1, 1] and predicts integers in [0, levels).

Choices this file makes where the paper does not say, or where the toy scale needs it:

- intensities are quantised to ``levels`` values (8 in the tutorial profile, 256 as in the paper in
  ``full``) by rounding: value k stands for k / (levels - 1);
- frame 0 is never scored: frame t >= 1 is predicted from the ConvLSTM state after frames 0..t-1.
  Training scores frames 1..T-1; evaluation scores frames ``context``..T-1 given the true earlier
  frames (the paper: 10 frames given, 10 scored), which is the exact conditional log-likelihood;
- the ConvLSTM state enters the decoder through a 1x1 convolution added at its input and before every
  residual block;
- the baseline keeps every layer of the decoder except the one that reads the current frame, and its
  convolutions are unmasked (with no current-frame input there is nothing to hide, so each pixel's
  distribution may read the whole ConvLSTM state around it).
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from vidgen_lib.checkpoints import load_model
from vidgen_lib.datasets import MovingDigits, video_batch
from vidgen_lib.metrics import bits_per_dim, validate_video
from vidgen_lib.runtime import seed_everything
from vidgen_lib.train import Trainer, infinite_batches

__all__ = ["Config", "VPN", "MaskedConv2d", "MultiplicativeUnit", "ResidualMultiplicativeBlock", "ConvLSTMCell",
           "Encoder", "PixelCNNDecoder", "causal_mask", "build", "quantize", "dequantize", "vpn_loss", "pixel_nll",
           "log_likelihood", "nll_nats_per_frame", "copy_last_nats_per_frame", "uniform_nats_per_frame",
           "training_step", "make_trainer", "train", "training_data", "test_videos", "evaluate", "sample_frame",
           "predict", "prediction_task", "receptive_field", "load_pretrained", "PAPER_NATS_PER_FRAME"]

CHECKPOINT = "vpn"
PAPER_NATS_PER_FRAME = {"vpn": 87.6, "baseline": 110.1, "lower_bound": 86.3}  # Moving MNIST, Table 1


@dataclasses.dataclass
class Config:
    """Sizes, data and optimisation of a VPN run (recorded in the model card)."""

    frame_size: int = 16  # H = W (paper: 64)
    num_frames: int = 10  # T of a clip (paper: 20)
    context: int = 5  # evaluation: frames given; frames context..T-1 are scored (paper: 10 given, 10 scored)
    num_digits: int = 1  # digits per video (Moving MNIST: 2)
    levels: int = 8  # intensities per pixel after quantisation (paper: 256)
    channels: int = 32  # width 2c of the residual multiplicative blocks; they work inside with c (full: 256)
    encoder_dilations: tuple[int, ...] = (1, 2, 4, 8)  # one RMB per entry (paper, Sec. 4.3: 1, 2, 4, 8 twice)
    decoder_blocks: int = 4  # masked RMBs, no dilation (full: 12)
    lstm_hidden: int = 32  # ConvLSTM channels (full: 256)
    kernel_size: int = 3
    independent_pixels: bool = False  # the paper's baseline: no dependencies between pixels of a frame
    batch_size: int = 16
    lr: float = 1e-3
    grad_clip: float = 1.0
    num_videos: int = 100_000  # training videos (each a pure function of its index)
    eval_videos: int = 1000  # test videos behind the metrics in the model card
    steps: int = 2000  # about 25-30 minutes on one (shared) CPU thread

    def __post_init__(self) -> None:
        self.encoder_dilations = tuple(self.encoder_dilations)  # a list when read back from a model card
        if self.levels < 2:
            raise ValueError(f"levels must be >= 2, got {self.levels}.")
        if not 1 <= self.context < self.num_frames:
            raise ValueError(f"context must be in [1, num_frames - 1] = [1, {self.num_frames - 1}], "
                             f"got {self.context}.")
        if self.channels % 2:
            raise ValueError(f"channels must be even (an RMB halves them inside), got {self.channels}.")
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {self.kernel_size}.")

    @classmethod
    def preset(cls, name: str) -> "Config":
        """``tutorial``: 16x16, 8 levels, one digit, under 35 min on one CPU thread.

        ``full``: the paper's Moving MNIST setting (64x64, two digits, 256 levels, 10 frames given and 10
        scored, an encoder of 8 RMBs with dilations 1, 2, 4, 8 twice); the decoder depth and the widths
        (12 RMBs, c = 128, ConvLSTM 256) follow a public re-implementation, as the paper's are not all given.
        """
        if name == "tutorial":
            return cls()
        if name == "full":
            return cls(frame_size=64, num_frames=20, context=10, num_digits=2, levels=256, channels=256,
                       encoder_dilations=(1, 2, 4, 8, 1, 2, 4, 8), decoder_blocks=12, lstm_hidden=256,
                       batch_size=32, lr=3e-4, eval_videos=10_000, steps=200_000)
        raise ValueError(f"Unknown preset {name!r}: use 'tutorial' or 'full'.")

    @property
    def decoder_reach(self) -> int:
        """How many rows above it a decoder output can see: every k x k masked conv adds k // 2."""
        return (self.kernel_size // 2) * (1 + 2 * self.decoder_blocks)


# --- quantisation: the discrete values the likelihood is over -----------------------------------

def quantize(video: Tensor, levels: int) -> Tensor:
    """Intensities in [0, 1] -> integers in [0, levels): k = round(x * (levels - 1)). Same shape, int64."""
    if levels < 2:
        raise ValueError(f"levels must be >= 2, got {levels}.")
    if not video.is_floating_point():
        raise ValueError(f"quantize expects float intensities in [0, 1], got dtype {video.dtype}.")
    if video.numel() and (video.min() < -1e-6 or video.max() > 1 + 1e-6):
        raise ValueError(f"quantize expects values in [0, 1], got [{video.min():.4g}, {video.max():.4g}].")
    return torch.round(video.clamp(0, 1) * (levels - 1)).long()


def dequantize(codes: Tensor, levels: int) -> Tensor:
    """Integers in [0, levels) -> the intensities they stand for, k / (levels - 1) in [0, 1] (float32)."""
    if levels < 2:
        raise ValueError(f"levels must be >= 2, got {levels}.")
    if codes.is_floating_point():
        raise ValueError(f"dequantize expects integer codes, got dtype {codes.dtype}: quantize the values first.")
    if codes.numel() and (codes.min() < 0 or codes.max() >= levels):
        raise ValueError(f"codes must be in [0, {levels}), got [{int(codes.min())}, {int(codes.max())}].")
    return codes.float() / (levels - 1)


# --- building blocks ----------------------------------------------------------------------------

def causal_mask(kernel_size: int, mask_type: str) -> Tensor:
    """The k x k mask of a PixelCNN convolution in raster order (van den Oord et al. 2016; VPN Sec. 3.2).

    Rows above the centre: all 1. Centre row: 1 left of the centre; the centre itself is 1 for mask
    ``"B"`` (later layers: position (i, j) already holds features of pixels before it) and 0 for mask
    ``"A"`` (the first layer: it reads the pixel values, and pixel (i, j) must not see itself).
    Rows below and pixels right of the centre: 0. Returns a float (k, k) tensor.
    """
    if mask_type not in ("A", "B"):
        raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}.")
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd and positive, got {kernel_size}.")
    c = kernel_size // 2
    mask = torch.zeros(kernel_size, kernel_size)
    mask[:c] = 1
    mask[c, : c + (mask_type == "B")] = 1
    return mask


class MaskedConv2d(nn.Conv2d):
    """A 'same' k x k convolution whose weights are multiplied by ``causal_mask(k, mask_type)``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, mask_type: str) -> None:
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.mask_type = mask_type
        self.register_buffer("mask", causal_mask(kernel_size, mask_type), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


def _conv(in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1,
          mask_type: str | None = None) -> nn.Conv2d:
    """A resolution-preserving conv: masked (PixelCNN) if ``mask_type`` is given, else dilated."""
    if mask_type is not None:
        return MaskedConv2d(in_channels, out_channels, kernel_size, mask_type)
    return nn.Conv2d(in_channels, out_channels, kernel_size, padding=dilation * (kernel_size // 2), dilation=dilation)


class MultiplicativeUnit(nn.Module):
    """MU(h) = g1 * tanh(g2 * h + g3 * u), g_k = sigmoid(W_k * h), u = tanh(W_4 * h)   (Sec. 4.1).

    The four convolutions are one conv with 4x the output channels. ``mask_type="B"`` makes it a
    masked MU for the decoder: the gates of pixel (i, j) read only (i, j) and the pixels before it.
    (N, C, H, W) -> (N, C, H, W).
    """

    def __init__(self, channels: int, kernel_size: int = 3, dilation: int = 1, mask_type: str | None = None) -> None:
        super().__init__()
        self.conv = _conv(channels, 4 * channels, kernel_size, dilation, mask_type)

    def forward(self, h: Tensor) -> Tensor:
        g1, g2, g3, u = self.conv(h).chunk(4, dim=1)
        return torch.sigmoid(g1) * torch.tanh(torch.sigmoid(g2) * h + torch.sigmoid(g3) * torch.tanh(u))


class ResidualMultiplicativeBlock(nn.Module):
    """1x1 conv 2c -> c, two MUs, 1x1 conv c -> 2c, plus the input (Sec. 4.2); dilated in the encoder (Sec. 4.3).

    (N, 2c, H, W) -> (N, 2c, H, W). 1x1 convolutions are pointwise, so masking the MUs keeps the block causal.
    """

    def __init__(self, channels: int, kernel_size: int = 3, dilation: int = 1, mask_type: str | None = None) -> None:
        super().__init__()
        inner = channels // 2
        self.reduce = nn.Conv2d(channels, inner, 1)
        self.mu1 = MultiplicativeUnit(inner, kernel_size, dilation, mask_type)
        self.mu2 = MultiplicativeUnit(inner, kernel_size, dilation, mask_type)
        self.expand = nn.Conv2d(inner, channels, 1)

    def forward(self, h: Tensor) -> Tensor:
        return h + self.expand(self.mu2(self.mu1(self.reduce(h))))


class Encoder(nn.Module):
    """Resolution-preserving CNN over one frame: a 3x3 conv, then one RMB per dilation (Sec. 3.1, 4.3).

    frames (N, 1, H, W) in [-1, 1] -> features (N, channels, H, W): no pooling, no stride.
    """

    def __init__(self, config: Config) -> None:
        super().__init__()
        k = config.kernel_size
        self.inp = _conv(1, config.channels, k)
        self.blocks = nn.Sequential(*(ResidualMultiplicativeBlock(config.channels, k, d)
                                      for d in config.encoder_dilations))

    def forward(self, frames: Tensor) -> Tensor:
        return self.blocks(self.inp(frames))


class ConvLSTMCell(nn.Module):
    """An LSTM whose gates are 3x3 convolutions, so the state keeps the frame's resolution (Sec. 3.1;
    Shi et al. 2015 without peepholes). x (N, C_in, H, W), state (h, c) each (N, hidden, H, W)."""

    def __init__(self, in_channels: int, hidden: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.hidden = hidden
        self.conv = _conv(in_channels + hidden, 4 * hidden, kernel_size)
        with torch.no_grad():
            self.conv.bias[hidden:2 * hidden].fill_(1.0)  # forget gate open at the start

    def initial_state(self, like: Tensor) -> tuple[Tensor, Tensor]:
        """Zeros (N, hidden, H, W) shaped like the input ``like`` (N, C_in, H, W)."""
        zeros = like.new_zeros(like.shape[0], self.hidden, *like.shape[2:])
        return zeros, zeros

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        h, c = state
        i, f, o, g = self.conv(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class PixelCNNDecoder(nn.Module):
    """Masked RMBs conditioned on the ConvLSTM state; categorical logits per pixel (Sec. 3.2).

    Input: the current frame (N, 1, H, W) in [-1, 1] through a mask-A conv (it never sees pixel (i, j)
    itself), then ``decoder_blocks`` RMBs whose MUs use mask B; the state (N, hidden, H, W) is added
    through 1x1 convs at the input and before every block. Output: logits (N, levels, H, W).
    With ``independent_pixels`` there is no frame input and the convs are unmasked (the baseline).
    """

    def __init__(self, config: Config) -> None:
        super().__init__()
        c, k = config, config.kernel_size
        self.independent = c.independent_pixels
        mask = None if self.independent else "B"
        self.frame_in = None if self.independent else MaskedConv2d(1, c.channels, k, "A")
        self.cond = nn.ModuleList(nn.Conv2d(c.lstm_hidden, c.channels, 1) for _ in range(c.decoder_blocks + 1))
        self.blocks = nn.ModuleList(ResidualMultiplicativeBlock(c.channels, k, 1, mask)
                                    for _ in range(c.decoder_blocks))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(c.channels, c.channels, 1), nn.ReLU(),
                                  nn.Conv2d(c.channels, c.levels, 1))

    def forward(self, frame: Tensor | None, state: Tensor) -> Tensor:
        h = self.cond[0](state)
        if self.frame_in is not None:
            h = h + self.frame_in(frame)
        for cond, block in zip(self.cond[1:], self.blocks):
            h = block(h + cond(state))
        return self.head(h)


class VPN(nn.Module):
    """Encoder over past frames -> ConvLSTM over time -> PixelCNN decoder of the current frame (Sec. 3)."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.lstm = ConvLSTMCell(config.channels, config.lstm_hidden, config.kernel_size)
        self.decoder = PixelCNNDecoder(config)

    def lstm_states(self, x: Tensor, first: int = 1) -> Tensor:
        """Conditioning of frames ``first``..T-1: the ConvLSTM output after frames < t.

        Args:
            x: (B, 1, T, H, W) in [-1, 1]; frame T-1 is never encoded (nothing after it is predicted).
            first: the first frame whose conditioning is returned (>= 1).
        Returns:
            (B, T - first, hidden, H, W).
        """
        b, _, t_total = x.shape[:3]
        feats = self.encoder(rearrange(x[:, :, : t_total - 1], "b c t h w -> (b t) c h w"))  # all past frames at once
        feats = rearrange(feats, "(b t) c h w -> b t c h w", b=b)
        state = self.lstm.initial_state(feats[:, 0])
        out = []
        for t in range(t_total - 1):  # after frame t, the state conditions frame t + 1
            state = self.lstm(feats[:, t], state)
            if t + 1 >= first:
                out.append(state[0])
        return torch.stack(out, dim=1)

    def forward(self, video: Tensor, first: int = 1) -> Tensor:
        """Teacher-forced logits of frames ``first``..T-1, all decoded in parallel.

        Args:
            video: (B, 1, T, H, W) in [0, 1], normally already quantised (``dequantize(quantize(x))``,
                as ``vpn_loss`` and ``log_likelihood`` pass it).
            first: the first scored frame, 1 <= first < T.
        Returns:
            logits (B, levels, T - first, H, W): entry [:, :, s, i, j] is the distribution of pixel
            (i, j) of frame first + s given frames < first + s and the pixels before (i, j) in raster order.
        """
        if not 1 <= first < video.shape[2]:
            raise ValueError(f"first must be in [1, T - 1] = [1, {video.shape[2] - 1}], got {first}.")
        x = video * 2 - 1
        b = x.shape[0]
        states = rearrange(self.lstm_states(x, first), "b t c h w -> (b t) c h w")
        frames = rearrange(x[:, :, first:], "b c t h w -> (b t) c h w")
        logits = self.decoder(None if self.config.independent_pixels else frames, states)
        return rearrange(logits, "(b t) l h w -> b l t h w", b=b)


def build(config: Config) -> VPN:
    """A fresh VPN (or, with ``independent_pixels``, the baseline) for ``config``."""
    return VPN(config)


# --- the likelihood -----------------------------------------------------------------------------

def _check_video(video: Tensor, context: int, name: str = "video") -> None:
    """A grey video (B, 1, T, H, W) in [0, 1] with 1 <= context < T, or a ValueError that says what is wrong."""
    validate_video(video, name)
    if video.shape[1] != 1:
        raise ValueError(f"{name} must be grey, (B, 1, T, H, W); got {video.shape[1]} channels.")
    if not 1 <= context < video.shape[2]:
        raise ValueError(f"context must be in [1, T - 1] = [1, {video.shape[2] - 1}] for {video.shape[2]} frames, "
                         f"got {context}.")


def pixel_nll(model: VPN, video: Tensor, first: int = 1) -> Tensor:
    """-log p of every scored pixel value, in nats: where a model spends its nats.

    Args:
        video: (B, 1, T, H, W) in [0, 1], quantised to ``model.config.levels`` inside.
        first: the first scored frame (frames before it are only conditioned on).
    Returns:
        (B, T - first, H, W); summed over (H, W) it is -log p of each scored frame given the past.
    """
    _check_video(video, first)
    levels = model.config.levels
    codes = quantize(video, levels)
    logits = model(dequantize(codes, levels), first)
    return F.cross_entropy(logits, codes[:, 0, first:], reduction="none")


def vpn_loss(model: VPN, video: Tensor) -> dict[str, Tensor]:
    """The negative log-likelihood of frames 1..T-1, teacher-forced (Sec. 2's factorisation, Sec. 5).

    -log p(x_{1:T-1} | x_0) = -sum_t sum_(i,j) log p(x_{t,i,j} | x_{<t}, x_{t,<(i,j)}).

    Args:
        video: (B, 1, T, H, W) in [0, 1].
    Returns:
        ``loss``: mean nats per pixel (the number optimised); ``nats_per_frame``: the same summed over
        a frame's pixels, averaged over frames and videos.
    """
    nll = pixel_nll(model, video, 1)
    return {"loss": nll.mean(), "nats_per_frame": nll.sum(dim=(-2, -1)).mean()}


def log_likelihood(model: VPN, video: Tensor, context: int = 1, batch_size: int = 64) -> Tensor:
    """Exact log p(x_{context:T} | x_{<context}) of each video in nats: (B,), summed over pixels and frames.

    Args:
        video: (B, 1, T, H, W) in [0, 1], quantised to ``model.config.levels`` inside.
        context: frames given; frames context..T-1 are scored.
    """
    _check_video(video, context)
    dev = next(model.parameters()).device
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = [-pixel_nll(model, chunk.to(dev), context).sum(dim=(1, 2, 3)).cpu() for chunk in video.split(batch_size)]
    model.train(was_training)
    return torch.cat(out)


def nll_nats_per_frame(model: VPN, video: Tensor, context: int = 1) -> float:
    """Negative log-likelihood in nats per scored frame: -sum log p / (B * (T - context)) (Sec. 5, Table 1)."""
    ll = log_likelihood(model, video, context)
    return float(-ll.sum() / (video.shape[0] * (video.shape[2] - context)))


def uniform_nats_per_frame(frame_size: int, levels: int) -> float:
    """The bound every model must beat: a uniform categorical costs H * W * ln(levels) nats per frame."""
    return frame_size * frame_size * math.log(levels)


def copy_last_nats_per_frame(video: Tensor, levels: int, context: int = 1,
                             eps: float | None = None) -> tuple[float, float]:
    """Copy-last-frame as a likelihood: each pixel keeps its value in the frame before with prob 1 - eps.

    p(x_{t,i,j} = x_{t-1,i,j}) = 1 - eps, and eps / (levels - 1) for each other value. The frame before is
    the true one (as the models get it). ``eps=None`` picks the best eps for these very videos (the
    fraction of pixels that change), which flatters the baseline: no model gets to tune on the test set.

    Args:
        video: (B, 1, T, H, W) in [0, 1]; frames context..T-1 are scored.
    Returns:
        (nats per scored frame, the eps used).
    """
    validate_video(video)
    if not 1 <= context < video.shape[2]:
        raise ValueError(f"context must be in [1, T - 1], got {context} for {video.shape[2]} frames.")
    codes = quantize(video, levels)[:, 0]
    changed = (codes[:, context:] != codes[:, context - 1:-1]).double()
    if eps is None:
        eps = float(changed.mean())
    eps = min(max(eps, 1e-6), 1 - 1e-6)
    nll = changed * -math.log(eps / (levels - 1)) + (1 - changed) * -math.log(1 - eps)
    return float(nll.sum() / (codes.shape[0] * (codes.shape[1] - context))), eps


# --- sampling, pixel by pixel -------------------------------------------------------------------

def _gumbel(shape: tuple[int, ...], generator: torch.Generator | None) -> Tensor:
    u = torch.rand(shape, generator=generator).clamp(1e-10, 1 - 1e-7)
    return -torch.log(-torch.log(u))


@torch.no_grad()
def sample_frame(model: VPN, state: Tensor, *, generator: torch.Generator | None = None,
                 bar: tqdm | None = None) -> Tensor:
    """Draw one frame given the ConvLSTM state (B, hidden, H, W): codes (B, 1, H, W) in [0, levels).

    Raster order, one pixel at a time: pixel (i, j) is drawn from the decoder's categorical given the
    pixels already drawn (Sec. 2). Only the ``decoder_reach`` rows above row i can change its logits, so
    the decoder runs on that band of rows, not the whole frame. The baseline draws all pixels at once.
    Draws are Gumbel-max: argmax(logits + Gumbel noise) is a sample of softmax(logits).
    """
    c = model.config
    b, _, height, width = state.shape
    noise = _gumbel((b, height, width, c.levels), generator).to(state.device)  # all draws of the frame, up front
    if c.independent_pixels:
        logits = rearrange(model.decoder(None, state), "b l h w -> b h w l")
        if bar is not None:
            bar.update(height * width)
        return (logits + noise).argmax(-1)[:, None]
    codes = torch.zeros(b, 1, height, width, dtype=torch.long, device=state.device)
    x = torch.full((b, 1, height, width), -1.0, device=state.device)  # network input; unseen pixels are masked
    for i in range(height):
        lo = max(0, i - c.decoder_reach)
        for j in range(width):
            logits = model.decoder(x[:, :, lo:i + 1], state[:, :, lo:i + 1])[:, :, i - lo, j]  # (B, levels)
            codes[:, 0, i, j] = (logits + noise[:, i, j]).argmax(-1)
            x[:, 0, i, j] = dequantize(codes[:, 0, i, j], c.levels) * 2 - 1
        if bar is not None:
            bar.update(width)
    return codes


@torch.no_grad()
def predict(model: VPN, context: Tensor, horizon: int, *, seed: int | None = None, progress: bool = False) -> Tensor:
    """Sample the next ``horizon`` frames after ``context``, pixel by pixel, each frame fed back in.

    Args:
        context: (B, 1, T_ctx, H, W) in [0, 1], T_ctx >= 1 (quantised to ``levels`` inside).
        horizon: frames to generate, >= 1.
        seed: makes the draws repeatable.
        progress: show a progress bar over the pixels drawn.
    Returns:
        (B, 1, horizon, H, W) in [0, 1]: the quantised intensities k / (levels - 1).
    """
    validate_video(context, "context")
    if context.shape[1] != 1:
        raise ValueError(f"context must be grey, (B, 1, T, H, W); got {context.shape[1]} channels.")
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}.")
    c = model.config
    was_training = model.training
    model.eval()
    dev = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    x = dequantize(quantize(context, c.levels), c.levels).to(dev) * 2 - 1  # (B, 1, Tc, H, W)
    b, _, tc, height, width = x.shape
    feats = rearrange(model.encoder(rearrange(x, "b c t h w -> (b t) c h w")), "(b t) c h w -> b t c h w", b=b)
    state = model.lstm.initial_state(feats[:, 0])
    for t in range(tc):
        state = model.lstm(feats[:, t], state)
    frames = []
    with tqdm(total=horizon * height * width, disable=not progress, desc="sampling pixels", leave=True) as bar:
        for k in range(horizon):
            codes = sample_frame(model, state[0], generator=generator, bar=bar)
            frames.append(codes)
            if k < horizon - 1:  # the new frame becomes the ConvLSTM's next input
                state = model.lstm(model.encoder(dequantize(codes, c.levels) * 2 - 1), state)
    model.train(was_training)
    return dequantize(torch.stack(frames, dim=2), c.levels).cpu()


# --- what a prediction depends on ---------------------------------------------------------------

def receptive_field(model: VPN, t: int, i: int, j: int, *, num_frames: int | None = None,
                    frame_size: int | None = None, seed: int = 0) -> Tensor:
    """Which input pixels the logits of pixel (i, j) in frame t depend on, measured by gradients.

    A random video goes in; the gradient of a fixed random projection of logits[:, :, t, i, j] with
    respect to every input pixel comes out. Zero means "cannot influence" (masks, time causality).

    Args:
        t: the frame, 1 <= t < num_frames; (i, j): the pixel.
        num_frames, frame_size: of the probe video (default: ``t + 2`` frames, the config's frame size).
    Returns:
        |gradient| of shape (num_frames, H, W), on the CPU.
    """
    c = model.config
    num_frames = num_frames or t + 2
    size = frame_size or c.frame_size
    if not 1 <= t < num_frames or not (0 <= i < size and 0 <= j < size):
        raise ValueError(f"need 1 <= t < {num_frames} and 0 <= i, j < {size}; got t={t}, (i, j)=({i}, {j}).")
    g = torch.Generator().manual_seed(seed)
    dev = next(model.parameters()).device
    video = torch.rand(1, 1, num_frames, size, size, generator=g).to(dev).requires_grad_(True)
    projection = torch.randn(c.levels, generator=g).to(dev)
    logits = model(video, first=t)[0, :, 0, i, j]  # (levels,)
    (grad,) = torch.autograd.grad((logits * projection).sum(), video)
    return grad[0, 0].abs().cpu()


# --- data, evaluation, training -----------------------------------------------------------------

def training_data(config: Config, split: str = "train", num_videos: int | None = None) -> MovingDigits:
    """Grey moving digits at the config's size: ``num_digits`` digit(s), (1, T, H, W) per item."""
    return MovingDigits(split, num_videos or config.num_videos, config.num_frames, config.frame_size,
                        num_digits=config.num_digits)


def test_videos(config: Config, n: int) -> Tensor:
    """The first n test-split videos (n, 1, T, H, W): the same videos for every model."""
    return video_batch(training_data(config, "test", n), n)


def prediction_task(model: VPN, n: int) -> tuple[Tensor, Tensor, dict]:
    """``n`` held-out clips to continue: context ``(n, 1, context, H, W)``, the true future and the
    keyword arguments ``predict`` needs (none)."""
    videos = test_videos(model.config, n)
    return videos[:, :, :model.config.context], videos[:, :, model.config.context:], {}


def evaluate(model: VPN, n: int = 1000, *, videos: Tensor | None = None) -> dict[str, float]:
    """Nats per scored frame on n test videos (frames ``context``..T-1 given the earlier ones).

    Returns the model's value under its name (``vpn`` or ``vpn_independent``), next to copy-last-frame
    as a likelihood (its best eps, chosen on these videos) and the uniform bound H * W * ln(levels);
    also bits per dimension, and what was measured (videos, context, scored frames, levels).
    """
    c = model.config
    videos = test_videos(c, n) if videos is None else videos
    name = "vpn_independent" if c.independent_pixels else "vpn"
    ours = nll_nats_per_frame(model, videos, c.context)
    copy_last, eps = copy_last_nats_per_frame(videos, c.levels, c.context)
    size = videos.shape[-1]
    return {f"nats_per_frame/{name}": round(ours, 4), "nats_per_frame/copy_last": round(copy_last, 4),
            "nats_per_frame/uniform": round(uniform_nats_per_frame(size, c.levels), 4),
            f"bits_per_dim/{name}": round(float(bits_per_dim(ours, size * size)), 4),
            "copy_last_eps": round(eps, 6), "eval_videos": len(videos), "eval_context": c.context,
            "eval_scored_frames": videos.shape[2] - c.context, "levels": c.levels}


def training_step(model: VPN, trainer: Trainer, batch: dict[str, Tensor] | Tensor) -> dict[str, float]:
    """One Adam step on the teacher-forced NLL of frames 1..T-1 of a batch {"video": (B, 1, T, H, W)}."""
    video = batch["video"] if isinstance(batch, dict) else batch
    terms = vpn_loss(model, video)
    trainer.update("model", terms["loss"])
    return {"nats_per_frame": terms["nats_per_frame"].item()}


def make_trainer(model: VPN, *, run_dir: str | Path | None = None, seed: int = 0, progress: bool = True,
                 log_every: int = 50) -> Trainer:
    """The course's Trainer with Adam and gradient clipping."""
    optimizer = torch.optim.Adam(model.parameters(), lr=model.config.lr)
    return Trainer({"model": model}, {"model": optimizer}, grad_clip=model.config.grad_clip, run_dir=run_dir,
                   checkpoint_every=250 if run_dir else 0, log_every=log_every, seed=seed, progress=progress)


def train(config: Config, steps: int | None = None, *, run_dir: str | Path | None = None, seed: int = 0,
          progress: bool = True, evaluate_after: bool = True) -> tuple[VPN, dict[str, float]]:
    """Train a VPN (or the baseline) on moving digits; returns the model (eval mode) and its metrics:
    the last logged nats/frame and, on ``config.eval_videos`` test videos, ``evaluate``'s table."""
    steps = config.steps if steps is None else steps
    seed_everything(seed)
    model = build(config)
    loader = DataLoader(training_data(config), batch_size=config.batch_size, shuffle=True, drop_last=True)
    trainer = make_trainer(model, run_dir=run_dir, seed=seed, progress=progress)
    history = trainer.fit(lambda tr, batch: training_step(model, tr, batch), infinite_batches(loader), steps)
    metrics = {f"final_train_{k}": round(v, 4) for k, v in history[-1].items() if k != "step"}
    metrics["train_wall_time_s"] = round(trainer.wall_time_s, 1)  # summed over resumed runs
    if evaluate_after and config.eval_videos > 0:
        metrics.update(evaluate(model.cpu(), config.eval_videos))
    return model.eval(), metrics


def load_pretrained(device: torch.device | str | None = None, path: str | Path | None = None, *,
                    name: str = CHECKPOINT) -> VPN:
    """The shipped checkpoint ``data/checkpoints/<name>.pt``, checked against its card, in eval mode."""
    return load_model(name, Config, build, device, path)
