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

Taught in ``notebooks/08_vpn.ipynb``; measured (nats per frame against copy-last-frame and the uniform
bound) in :mod:`vidgen_lib.evaluation.vpn`. Videos are (B, C, T, H, W) in [0, 1] at every public
boundary, with C = 1 (grey); inside, the network reads values in [-1, 1] and predicts integers in
[0, levels).

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
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn
from tqdm.auto import tqdm

from vidgen_lib.checkpoints import load_model
from vidgen_lib.datasets import MovingDigits, video_batch
from vidgen_lib.nn.masked import MaskedConv2d, causal_mask  # noqa: F401  (vpn.causal_mask, as taught)
from vidgen_lib.nn.multiplicative import ResidualMultiplicativeBlock, dilated_or_masked_conv
from vidgen_lib.nn.recurrent import ConvLSTMCell
from vidgen_lib.runtime import eval_mode, model_device, rng, seed_everything
from vidgen_lib.train import Trainer, batches, run
from vidgen_lib.video import dequantize, fold_time, quantize, to_signed, unfold_time, validate_clip

CHECKPOINT = "vpn"
LSTMState = tuple[Tensor, Tensor]  # the ConvLSTM's (h, c), each (B, hidden, H, W)


@dataclasses.dataclass
class Config:
    """Sizes, data and optimisation of a VPN run (recorded in the model card)."""

    frame_size: int = 16  # H = W (paper: 64)
    num_frames: int = 10  # T of a clip (paper: 20)
    context: int = 5  # evaluation: frames given; frames context..T-1 are scored (paper: 10 given, 10 scored)
    num_digits: int = 1  # digits per video (Moving MNIST: 2)
    levels: int = 8  # intensities per pixel after quantisation (paper: 256)
    width: int = 32  # width 2c of the residual multiplicative blocks; they work inside with c (full: 256)
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
        if self.width % 2:
            raise ValueError(f"width must be even (an RMB halves it inside), got {self.width}.")
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {self.kernel_size}.")

    @classmethod
    def preset(cls, name: str) -> Config:
        """``tutorial``: 16x16, 8 levels, one digit, under 35 min on one CPU thread.

        ``full``: the paper's Moving MNIST setting (64x64, two digits, 256 levels, 10 frames given and 10
        scored, an encoder of 8 RMBs with dilations 1, 2, 4, 8 twice); the decoder depth and the widths
        (12 RMBs, c = 128, ConvLSTM 256) follow a public re-implementation, as the paper's are not all given.
        """
        if name == "tutorial":
            return cls()
        if name == "full":
            return cls(frame_size=64, num_frames=20, context=10, num_digits=2, levels=256, width=256,
                       encoder_dilations=(1, 2, 4, 8, 1, 2, 4, 8), decoder_blocks=12, lstm_hidden=256,
                       batch_size=32, lr=3e-4, eval_videos=10_000, steps=200_000)
        raise ValueError(f"Unknown preset {name!r}: use 'tutorial' or 'full'.")

    @property
    def decoder_reach(self) -> int:
        """How many rows above it a decoder output can see: every k x k masked conv adds k // 2."""
        return (self.kernel_size // 2) * (1 + 2 * self.decoder_blocks)


# --- the networks (multiplicative units: vidgen_lib.nn.multiplicative; masked convs: nn.masked) -----

class Encoder(nn.Module):
    """Resolution-preserving CNN over one frame: a 3x3 conv, then one RMB per dilation (Sec. 3.1, 4.3).

    frames (N, 1, H, W) in [-1, 1] -> features (N, width, H, W): no pooling, no stride.
    """

    def __init__(self, config: Config) -> None:
        super().__init__()
        k = config.kernel_size
        self.inp = dilated_or_masked_conv(1, config.width, k)
        self.blocks = nn.Sequential(*(ResidualMultiplicativeBlock(config.width, k, d)
                                      for d in config.encoder_dilations))

    def forward(self, frames: Tensor) -> Tensor:
        return self.blocks(self.inp(frames))


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
        self.frame_in = None if self.independent else MaskedConv2d(1, c.width, k, "A")
        self.cond = nn.ModuleList(nn.Conv2d(c.lstm_hidden, c.width, 1) for _ in range(c.decoder_blocks + 1))
        self.blocks = nn.ModuleList(ResidualMultiplicativeBlock(c.width, k, 1, mask)
                                    for _ in range(c.decoder_blocks))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(c.width, c.width, 1), nn.ReLU(),
                                  nn.Conv2d(c.width, c.levels, 1))

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
        self.lstm = ConvLSTMCell(config.width, config.lstm_hidden, config.kernel_size)  # Sec. 3.1
        self.decoder = PixelCNNDecoder(config)

    def read(self, x: Tensor, state: LSTMState | None = None) -> tuple[Tensor, LSTMState]:
        """Encode frames and step the ConvLSTM through them (Sec. 3.1).

        Args:
            x: frames (B, 1, T, H, W) in [-1, 1]; state: the ConvLSTM's (h, c) before them (None: zeros).
        Returns:
            the ConvLSTM output after each frame, (B, hidden, T, H, W): entry t conditions frame t + 1;
            and the state (h, c) after the last frame, to read more frames later.
        """
        feats = unfold_time(self.encoder(fold_time(x)), x.shape[0])  # all frames at once: (B, width, T, H, W)
        state = self.lstm.initial_state(feats[:, :, 0]) if state is None else state
        out = []
        for t in range(x.shape[2]):
            state = self.lstm(feats[:, :, t], state)
            out.append(state[0])
        return torch.stack(out, dim=2), state

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
        x = to_signed(video)
        states = self.read(x[:, :, :-1])[0][:, :, first - 1:]  # after frames first-1..T-2; T-1 is never read
        states = fold_time(states)  # (B * scored frames, hidden, H, W)
        frames = fold_time(x[:, :, first:])
        logits = self.decoder(None if self.config.independent_pixels else frames, states)
        return unfold_time(logits, x.shape[0])


def build(config: Config) -> VPN:
    """A fresh VPN (or, with ``independent_pixels``, the baseline) for ``config``."""
    return VPN(config)


# --- the likelihood -----------------------------------------------------------------------------

def _check_video(model: VPN, video: Tensor, context: int | None, name: str = "video") -> None:
    """A grey video (B, 1, T, H, W) in [0, 1] of the model's frame size, with 1 <= context < T if given."""
    validate_clip(video, channels=1, frame_size=model.config.frame_size, name=name)
    if context is not None and not 1 <= context < video.shape[2]:
        raise ValueError(f"context must be in [1, T - 1] = [1, {video.shape[2] - 1}] for {video.shape[2]} "
                         f"frames, got {context}.")


def pixel_nll(model: VPN, video: Tensor, first: int = 1) -> Tensor:
    """-log p of every scored pixel value, in nats: where a model spends its nats.

    Args:
        video: (B, 1, T, H, W) in [0, 1], quantised to ``model.config.levels`` inside.
        first: the first scored frame (frames before it are only conditioned on).
    Returns:
        (B, T - first, H, W); summed over (H, W) it is -log p of each scored frame given the past.
    """
    _check_video(model, video, first)
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
    noise = _gumbel((b, height, width, c.levels), generator).to(state.device)  # every draw, up front
    if c.independent_pixels:
        logits = rearrange(model.decoder(None, state), "b l h w -> b h w l")
        if bar is not None:
            bar.update(height * width)
        return (logits + noise).argmax(-1)[:, None]
    codes = torch.zeros(b, 1, height, width, dtype=torch.long, device=state.device)
    x = torch.full((b, 1, height, width), -1.0, device=state.device)  # input; unseen pixels are masked
    for i in range(height):
        lo = max(0, i - c.decoder_reach)
        for j in range(width):
            logits = model.decoder(x[:, :, lo:i + 1], state[:, :, lo:i + 1])[:, :, i - lo, j]  # (B, levels)
            codes[:, 0, i, j] = (logits + noise[:, i, j]).argmax(-1)
            x[:, 0, i, j] = to_signed(dequantize(codes[:, 0, i, j], c.levels))
        if bar is not None:
            bar.update(width)
    return codes


def predict(model: VPN, context: Tensor, horizon: int, *, seed: int | None = None,
            progress: bool = False) -> Tensor:
    """Sample the next ``horizon`` frames after ``context``, pixel by pixel, each frame fed back in.

    Args:
        context: (B, 1, T_ctx, H, W) in [0, 1], T_ctx >= 1, H = W = ``frame_size`` (quantised inside).
        horizon: frames to generate, >= 1.
        seed: makes the draws repeatable.
        progress: show a progress bar over the pixels drawn.
    Returns:
        (B, 1, horizon, H, W) in [0, 1] on the CPU: the quantised intensities k / (levels - 1).
    """
    _check_video(model, context, None, "context")
    c = model.config
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}.")
    generator, frames = rng(seed), []
    bar = tqdm(total=horizon * c.frame_size ** 2, disable=not progress, desc="sampling pixels")
    with eval_mode(model), bar:
        x = to_signed(dequantize(quantize(context, c.levels), c.levels))  # (B, 1, T_ctx, H, W)
        out, state = model.read(x.to(model_device(model)))  # out[:, :, -1] conditions the next frame
        for k in range(horizon):
            frames.append(sample_frame(model, out[:, :, -1], generator=generator, bar=bar))  # (B, 1, H, W)
            if k < horizon - 1:  # the new frame becomes the ConvLSTM's next input
                out, state = model.read(to_signed(dequantize(frames[-1], c.levels))[:, :, None], state)
    return dequantize(torch.stack(frames, dim=2), c.levels).cpu()


# --- data, training, the shipped checkpoint -----------------------------------------------------

def training_data(config: Config, split: str = "train", num_videos: int | None = None) -> MovingDigits:
    """Grey moving digits at the config's size: ``num_digits`` digit(s), (1, T, H, W) per item."""
    return MovingDigits(split, num_videos or config.num_videos, config.num_frames, config.frame_size,
                        num_digits=config.num_digits)


def test_videos(config: Config, n: int) -> Tensor:
    """The first n test-split videos (n, 1, T, H, W) in [0, 1]: the same videos for every model."""
    return video_batch(training_data(config, "test", n), n)


def prediction_task(model: VPN, n: int) -> tuple[Tensor, Tensor, dict]:
    """``n`` held-out clips to continue: context ``(n, 1, context, H, W)``, the true future and the
    keyword arguments ``predict`` needs (none)."""
    videos = test_videos(model.config, n)
    return videos[:, :, :model.config.context], videos[:, :, model.config.context:], {}


def training_step(model: VPN, trainer: Trainer, batch: dict[str, Tensor] | Tensor) -> dict[str, float]:
    """One Adam step on the teacher-forced NLL of frames 1..T-1 of a batch {"video": (B, 1, T, H, W)}."""
    video = batch["video"] if isinstance(batch, dict) else batch
    terms = vpn_loss(model, video)
    trainer.update("model", terms["loss"])
    return {"nats_per_frame": terms["nats_per_frame"].item()}


def train(config: Config, steps: int | None = None, *, run_dir: str | Path | None = None, seed: int = 0,
          progress: bool = True, time_limit_s: float | None = None) -> tuple[VPN, dict[str, float]]:
    """Train a VPN (or the baseline) on moving digits with Adam and gradient clipping, on the course's recipe.

    Returns the model (eval mode) and its training metrics (``final/nats_per_frame``, ``steps``,
    ``train_wall_time_s``); :mod:`vidgen_lib.evaluation.vpn` measures it.
    """
    seed_everything(seed)
    model = build(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    data = batches(training_data(config), config.batch_size)
    return run(model, {"model": optimizer}, training_step, data, config.steps if steps is None else steps,
               run_dir=run_dir, seed=seed, grad_clip=config.grad_clip, progress=progress,
               time_limit_s=time_limit_s, checkpoint_every=250)


def load_pretrained(device: torch.device | str | None = None, *, path: str | Path | None = None) -> VPN:
    """The shipped checkpoint ``data/checkpoints/vpn.pt``, checked against its card, in eval mode."""
    return load_model(CHECKPOINT, Config, build, device, path)
