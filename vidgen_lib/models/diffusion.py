"""A video diffusion model: a factorised space-time U-Net that denoises whole clips, conditioned on captions.

Ho, Salimans, Gritsenko, Chan, Norouzi, Fleet, "Video Diffusion Models", NeurIPS 2022.

1. **The process** (Sec. 2; ``vidgen_lib.nn.diffusion``): a clip ``x`` in [-1, 1] is noised to
   ``z_t = alpha_t x + sigma_t eps`` on the cosine schedule; the network learns to undo it.
2. **The network** (Sec. 3): a 3-D U-Net *factorised over space and time*. Its convolutions are
   (1, 3, 3), every frame on its own; each block ends with **temporal attention** (each position
   attends to itself in the other frames, with a learned bias per relative offset) and, at the lowest
   resolution, with **spatial attention** first (each frame's positions attend to each other). Space
   only ever mixes within a frame and time only through attention.
3. **What it predicts**: ``v = alpha eps - sigma x`` (the paper's choice on BAIR, App. A; Salimans &
   Ho 2022). At the schedule's noisy end an ``eps``-prediction says almost nothing about ``x``
   (``x = (z - sigma eps) / alpha`` divides by an ``alpha`` near 0); ``v`` stays a well-scaled target
   at every noise level. The loss is the mean squared error of ``v``.
4. **Captions and guidance** (Sec. 3.1, classifier-free guidance of Ho & Salimans 2022): the caption's
   words are embedded and averaged into one vector, added to the noise level's embedding. In a share
   ``caption_dropout`` of training clips the caption is replaced by the empty caption, so the same
   network also predicts unconditionally; sampling mixes both, ``(1 + w) cond - w uncond``.
5. **Sampling**: the weight-averaged network, DDIM with ``sample_steps`` steps (deterministic, Song et
   al. 2021), so a CPU draws a clip in seconds.

Deviations (tabled in ``notebooks/11_video_diffusion.ipynb``): a three-level U-Net a few hundred
thousand parameters wide (paper: hundreds of millions); spatial attention only at the lowest resolution
(paper: several); captions of the toy world embedded word by word (paper: BERT embeddings of text);
joint training on videos and single images is a switch (``joint_images``, off in the shipped recipe,
measured in the chapter); no cascade of super-resolution models.
"""
from __future__ import annotations

import copy
import dataclasses
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from vidgen_lib.checkpoints import load_model
from vidgen_lib.datasets import MovingShapes
from vidgen_lib.datasets.shapes import COLORS, DIRECTIONS, SHAPES, caption
from vidgen_lib.nn.attention import SpatialAttention, TemporalAttention
from vidgen_lib.nn.diffusion import cosine_log_snr, ddim_sample, diffuse, guided, v_from, x_from_v
from vidgen_lib.nn.ema import ema_update
from vidgen_lib.runtime import eval_mode, model_device, rng, seed_everything
from vidgen_lib.train import Trainer, TrainingSnapshots, batches, run
from vidgen_lib.video import fold_time, from_signed, to_signed, unfold_time

CHECKPOINT = "diffusion"
#: Every word a caption of the moving-shapes world uses; id 0 is padding (and the empty caption).
WORDS = ("a", "moves", *SHAPES, *COLORS, *DIRECTIONS)
PAD = 0
CAPTION_LENGTH = len(caption(0, 0, 0).split())
SNAPSHOT_SAMPLES = 8  # clips per training snapshot, same noise and captions every time


@dataclasses.dataclass
class Config:
    """Sizes and training settings (recorded in the model card)."""

    num_frames: int = 8
    frame_size: int = 32
    widths: tuple[int, ...] = (16, 32, 64)  # channels at 32, 16 and 8 pixels
    heads: int = 4
    embed_dim: int = 128  # noise-level and caption embedding
    caption_dropout: float = 0.1  # share of training clips with the empty caption (for guidance)
    guidance: float = 1.0  # w of classifier-free guidance at sampling (0: the conditional model alone)
    sample_steps: int = 25  # DDIM steps (network evaluations per clip, doubled by guidance)
    lr: float = 5e-4
    ema_decay: float = 0.995
    batch_size: int = 16
    steps: int = 5000
    train_videos: int = 20000
    eval_videos: int = 1024
    joint_images: int = 0  # extra single frames per training clip, temporal attention masked (Sec. 3)

    def __post_init__(self) -> None:
        self.widths = tuple(self.widths)  # a JSON card gives a list
        if self.frame_size % 2 ** (len(self.widths) - 1):
            raise ValueError(f"frame_size={self.frame_size} must halve {len(self.widths) - 1} times evenly "
                             f"for widths={self.widths}.")
        if any(w % self.heads or w % 8 for w in self.widths):
            raise ValueError(f"every width must be a multiple of 8 (group norm) and of heads={self.heads}, "
                             f"got widths={self.widths}.")
        if self.joint_images < 0:
            raise ValueError(f"joint_images must be 0 (videos only) or more, got {self.joint_images}.")
        if not 0.0 <= self.caption_dropout < 1.0:
            raise ValueError(f"caption_dropout must be in [0, 1), got {self.caption_dropout}.")

    @property
    def channels(self) -> int:
        """RGB clips: the world of moving shapes is in colour."""
        return 3

    @property
    def image_stacks(self) -> int:
        """Clips per batch whose frames are trained as single images: ``joint_images`` per video, rounded
        up to whole clips of ``num_frames`` frames."""
        return math.ceil(self.batch_size * self.joint_images / self.num_frames)

    @classmethod
    def preset(cls, name: str) -> Config:
        """``"tutorial"``: about an hour on two CPU threads; ``"full"``: wider and longer (GPU)."""
        if name == "tutorial":
            return cls()
        if name == "full":
            return cls(widths=(64, 128, 128), batch_size=32, steps=40000, ema_decay=0.999, lr=2e-4)
        raise ValueError(f"Unknown preset {name!r}; use 'tutorial' or 'full'.")


# --- captions -------------------------------------------------------------------------------------

def tokenize(captions: list[str]) -> Tensor:
    """Captions to word ids ``(B, CAPTION_LENGTH)``; the empty caption ``""`` is all padding (the
    unconditional model). A word outside ``WORDS`` raises a ValueError naming it."""
    ids = torch.full((len(captions), CAPTION_LENGTH), PAD, dtype=torch.int64)
    for row, text in enumerate(captions):
        words = text.split()
        if len(words) > CAPTION_LENGTH:
            raise ValueError(f"caption {text!r} has {len(words)} words; this model reads at most "
                             f"{CAPTION_LENGTH} (one moving shape, e.g. {caption(0, 0, 0)!r}).")
        for column, word in enumerate(words):
            if word not in WORDS:
                raise ValueError(f"unknown word {word!r} in caption {text!r}; "
                                 f"known words: {', '.join(WORDS)}.")
            ids[row, column] = WORDS.index(word) + 1
    return ids


# --- the network ----------------------------------------------------------------------------------

def noise_level_embedding(log_snr: Tensor, dim: int) -> Tensor:
    """Sinusoidal features ``(B, dim)`` of the log-SNR ``(B,)`` (Transformer positions, Vaswani et al. 2017),
    scaled so that the schedule's range [-20, 20] spans the slow and the fast frequencies."""
    half = dim // 2
    frequencies = torch.exp(-math.log(1000.0) * torch.arange(half, device=log_snr.device) / half)
    angles = (log_snr[:, None] * 25.0) * frequencies[None]  # 25 * 40 = 1000: the slowest still turns
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def frame_conv(c_in: int, c_out: int, kernel: int = 3, stride: int = 1) -> nn.Conv2d:
    """A (1, k, k) convolution of Sec. 3: every frame on its own. The network keeps its activations as
    frames, ``(B·T, C, H, W)`` (time folded into the batch), so this is a plain 2-D convolution: the same
    weights and result as ``Conv3d`` with kernel (1, k, k) on ``(B, C, T, H, W)``, without the copies."""
    return nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2)


class ResBlock(nn.Module):
    """GroupNorm, SiLU, convolution twice, with the embedding as a per-channel scale and shift in between
    (as in the U-Nets of Ho et al. 2020 and Nichol & Dhariwal 2021); a 1x1 skip where widths differ.
    On frames ``(B·T, C, H, W)``: the norms too see one frame at a time."""

    def __init__(self, c_in: int, c_out: int, embed_dim: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8, c_in), frame_conv(c_in, c_out)
        self.film = nn.Linear(embed_dim, 2 * c_out)
        self.norm2, self.conv2 = nn.GroupNorm(8, c_out), frame_conv(c_out, c_out)
        nn.init.zeros_(self.conv2.weight)  # the block starts as the identity (its skip)
        nn.init.zeros_(self.conv2.bias)
        self.skip = frame_conv(c_in, c_out, kernel=1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, embedding: Tensor) -> Tensor:
        """``x`` ``(B·T, C_in, H, W)``, ``embedding`` ``(B·T, embed_dim)`` -> ``(B·T, C_out, H, W)``."""
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = rearrange(self.film(embedding), "n (two c) -> two n c 1 1", two=2)
        h = self.conv2(F.silu(self.norm2(h) * (1 + scale) + shift))
        return self.skip(x) + h


class SpaceTimeBlock(nn.Module):
    """A ResBlock, then spatial attention (if ``spatial``), then temporal attention (Sec. 3's block)."""

    def __init__(self, c_in: int, c_out: int, config: Config, spatial: bool) -> None:
        super().__init__()
        self.res = ResBlock(c_in, c_out, config.embed_dim)
        self.spatial = SpatialAttention(c_out, config.heads) if spatial else None
        self.temporal = TemporalAttention(c_out, config.heads, config.num_frames)

    def forward(self, x: Tensor, embedding: Tensor, frames: int, independent_frames: bool = False) -> Tensor:
        """``x`` ``(B·T, C_in, H, W)`` with T = ``frames`` -> ``(B·T, C_out, H, W)``."""
        video = unfold_time(self.res(x, embedding), len(x) // frames)
        if self.spatial is not None:
            video = self.spatial(video)
        return fold_time(self.temporal(video, independent_frames))


class SpaceTimeUNet(nn.Module):
    """The denoiser: ``(z, log_snr, caption ids)`` -> the predicted ``v``, same shape as ``z``.

    Down: a block per width, halving the frame between widths (time is never down-sampled, as in the
    paper); a middle block with spatial attention; up: a block per width on the concatenated skip
    connection, doubling the frame. Spatial attention at the lowest resolution only.
    """

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        widths, dim = config.widths, config.embed_dim
        self.embed_noise = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.embed_words = nn.Embedding(len(WORDS) + 1, dim, padding_idx=PAD)
        self.empty_caption = nn.Parameter(torch.zeros(dim))  # the unconditional model's "caption"
        self.stem = frame_conv(3, widths[0])
        last = len(widths) - 1
        self.down = nn.ModuleList(SpaceTimeBlock(widths[max(i - 1, 0)], w, config, spatial=i == last)
                                  for i, w in enumerate(widths))
        self.downsample = nn.ModuleList(frame_conv(w, w, stride=2) for w in widths[:-1])
        self.middle = SpaceTimeBlock(widths[-1], widths[-1], config, spatial=True)
        self.up = nn.ModuleList(SpaceTimeBlock(2 * w, w, config, spatial=i == last)
                                for i, w in enumerate(widths))  # used from the last width back
        self.upsample = nn.ModuleList(frame_conv(widths[i + 1], widths[i]) for i in range(last))
        self.head = nn.Sequential(nn.GroupNorm(8, widths[0]), nn.SiLU(), frame_conv(widths[0], 3))

    def caption_embedding(self, tokens: Tensor) -> Tensor:
        """``(B, L)`` word ids -> ``(B, embed_dim)``: the mean of the words' embeddings, or the learned
        empty-caption vector for an all-padding row."""
        words = tokens != PAD
        summed = self.embed_words(tokens).sum(dim=1)
        count = words.sum(dim=1, keepdim=True)
        return torch.where(count > 0, summed / count.clamp(min=1), self.empty_caption.expand_as(summed))

    def forward(self, z: Tensor, log_snr: Tensor, tokens: Tensor, independent_frames: bool = False) -> Tensor:
        """``z`` ``(B, 3, T, H, W)``, ``log_snr`` ``(B,)``, ``tokens`` ``(B, L)`` -> ``v``, shaped like ``z``.
        ``independent_frames``: no frame sees another (a batch of image stacks, Sec. 3's joint training)."""
        t = z.shape[2]
        embedding = self.embed_noise(noise_level_embedding(log_snr, self.config.embed_dim))
        embedding = (embedding + self.caption_embedding(tokens)).repeat_interleave(t, dim=0)  # per frame
        h, skips = self.stem(fold_time(z)), []
        for i, block in enumerate(self.down):
            h = block(h, embedding, t, independent_frames)
            skips.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)
        h = self.middle(h, embedding, t, independent_frames)
        for i in reversed(range(len(self.up))):
            h = self.up[i](torch.cat([h, skips[i]], dim=1), embedding, t, independent_frames)
            if i > 0:  # to the next width up: twice the frame size
                h = self.upsample[i - 1](F.interpolate(h, scale_factor=2, mode="nearest"))
        return unfold_time(self.head(h), len(z))


class VideoDiffusion(nn.Module):
    """The trained network and its weight average (used for sampling), plus training snapshots."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.network = SpaceTimeUNet(config)
        self.network_ema = copy.deepcopy(self.network).requires_grad_(False)
        self.snapshots = TrainingSnapshots(SNAPSHOT_SAMPLES, (3, config.num_frames, config.frame_size,
                                                              config.frame_size))

    def update_ema(self) -> None:
        ema_update(self.network_ema, self.network, self.config.ema_decay)

    def forward(self, z: Tensor, log_snr: Tensor, tokens: Tensor) -> Tensor:
        return self.network_ema(z, log_snr, tokens)


def build(config: Config) -> VideoDiffusion:
    return VideoDiffusion(config)


# --- training -------------------------------------------------------------------------------------

def diffusion_loss(network: SpaceTimeUNet, x: Tensor, tokens: Tensor,
                   generator: torch.Generator | None = None, target: str = "v",
                   independent_frames: bool = False) -> Tensor:
    """The denoising objective: mean squared error of the network's prediction of ``target`` (``"v"``, the
    model's; or ``"eps"``, the noise) at a uniformly drawn time per clip.

    ``x`` ``(B, 3, T, H, W)`` in [-1, 1], ``tokens`` ``(B, L)``. Times are stratified over the batch (one
    per 1/B of [0, 1], randomly shifted; Kingma et al., "Variational Diffusion Models", 2021), which
    lowers the loss's variance without changing its mean. ``independent_frames``: the clips are stacks of
    single images (temporal attention masked)."""
    if target not in ("v", "eps"):
        raise ValueError(f"target must be 'v' or 'eps', got {target!r}.")
    b = len(x)
    t = (torch.rand(1, generator=generator) + torch.arange(b) / b) % 1.0
    log_snr = cosine_log_snr(t).to(x.device)
    noise = torch.randn(x.shape, generator=generator).to(x.device)
    z = diffuse(x, log_snr, noise)
    prediction = network(z, log_snr, tokens, independent_frames)
    return F.mse_loss(prediction, v_from(x, noise, log_snr) if target == "v" else noise)


def drop_captions(tokens: Tensor, rate: float, generator: torch.Generator | None = None) -> Tensor:
    """``tokens`` with each row replaced by the empty caption with probability ``rate``."""
    keep = torch.rand(len(tokens), generator=generator) >= rate
    return tokens * keep[:, None].to(tokens.device)


def training_step(model: VideoDiffusion, trainer: Trainer, batch: dict) -> dict[str, float]:
    """One step: the v-loss on a batch of clips with captions (some dropped), then the weight average.

    With ``joint_images`` (Sec. 3's joint training), the batch's last ``config.image_stacks`` clips are
    stacks of single images: temporal attention is masked, so each frame is denoised on its own (with its
    clip's caption), and the loss is the mean over all clips, videos and image stacks."""
    device = model_device(model)
    x = to_signed(batch["video"].to(device))  # [0, 1] -> [-1, 1]
    tokens = drop_captions(tokenize(batch["caption"]), model.config.caption_dropout).to(device)
    videos = model.config.batch_size
    loss = diffusion_loss(model.network, x[:videos], tokens[:videos])
    if len(x) > videos:
        images = diffusion_loss(model.network, x[videos:], tokens[videos:], independent_frames=True)
        loss = (videos * loss + (len(x) - videos) * images) / len(x)
    loss = trainer.update("model", loss)
    model.update_ema()
    return {"loss": loss}


def dataset(config: Config, split: str = "train", num_videos: int | None = None) -> MovingShapes:
    """One coloured shape moving in a straight line, with its caption (``"a red circle moves left"``)."""
    return MovingShapes(split, config.train_videos if num_videos is None else num_videos,
                        num_frames=config.num_frames, frame_size=config.frame_size)


def train(config: Config, steps: int | None = None, *, run_dir: str | Path | None = None, seed: int = 0,
          progress: bool = True, time_limit_s: float | None = None
          ) -> tuple[VideoDiffusion, dict[str, float]]:
    """Train on captioned moving shapes for ``steps`` steps (default ``config.steps``) or ``time_limit_s``
    seconds; returns ``(model, metrics)``. Snapshots: the same 8 captions and noise along the run."""
    seed_everything(seed)
    model = build(config)
    optimizers = {"model": torch.optim.Adam(model.network.parameters(), lr=config.lr)}
    captions = snapshot_captions()
    noise = torch.randn(SNAPSHOT_SAMPLES, 3, config.num_frames, config.frame_size, config.frame_size,
                        generator=rng(1234))
    data = batches(dataset(config), config.batch_size + config.image_stacks)
    return run(model, optimizers, training_step, data, config.steps if steps is None else steps,
               run_dir=run_dir, seed=seed, progress=progress, time_limit_s=time_limit_s, grad_clip=1.0,
               snapshot=lambda: sample_from_noise(model, noise, captions))


def snapshot_captions() -> list[str]:
    """The 8 captions of the training snapshots: every shape, colour and direction at least once."""
    return [caption(i % len(SHAPES), i % len(COLORS), i % len(DIRECTIONS)) for i in range(SNAPSHOT_SAMPLES)]


# --- sampling -------------------------------------------------------------------------------------

def sample_from_noise(model: VideoDiffusion, noise: Tensor, captions: list[str], *,
                      guidance: float | None = None, steps: int | None = None) -> Tensor:
    """DDIM from ``noise`` ``(n, 3, T, H, W)`` with one caption per clip (``""``: unconditional) ->
    clips ``(n, 3, T, H, W)`` in [0, 1] on the CPU, drawn by the averaged network."""
    config = model.config
    w = config.guidance if guidance is None else guidance
    if len(captions) != len(noise):
        raise ValueError(f"got {len(captions)} captions for {len(noise)} clips; give one per clip.")
    device = model_device(model)

    def draw(noise: Tensor, tokens: Tensor) -> Tensor:  # one chunk of clips and their captions
        conditioned = tokens.any(dim=1)

        def denoise(z: Tensor, log_snr: Tensor) -> Tensor:
            v = model.network_ema(z, log_snr, tokens)
            if w and conditioned.any():  # guidance only for the clips that have a caption
                v_empty = model.network_ema(z, log_snr, torch.zeros_like(tokens))
                v = torch.where(conditioned[:, None, None, None, None], guided(v, v_empty, w), v)
            return x_from_v(z, v, log_snr)

        return ddim_sample(denoise, noise.to(device), steps or config.sample_steps)

    with eval_mode(model), torch.no_grad():
        chunks = zip(noise.split(64), tokenize(captions).split(64))
        clips = [draw(chunk, words.to(device)) for chunk, words in chunks]
    return from_signed(torch.cat(clips)).clamp(0.0, 1.0).cpu()


def sample(model: VideoDiffusion, n: int, *, seed: int | None = None, caption: str | list[str] = "",
           guidance: float | None = None, steps: int | None = None) -> Tensor:
    """``n`` clips ``(n, 3, T, H, W)`` in [0, 1]: unconditional (``caption=""``), all of one caption, or one
    caption per clip (a list of ``n``). ``guidance``: the scale w (default ``config.guidance``)."""
    if n < 1:
        raise ValueError(f"n must be a positive number of clips, got {n}.")
    captions = [caption] * n if isinstance(caption, str) else list(caption)
    c = model.config
    noise = torch.randn(n, 3, c.num_frames, c.frame_size, c.frame_size, generator=rng(seed))
    return sample_from_noise(model, noise, captions, guidance=guidance, steps=steps)


def load_pretrained(device: torch.device | str | None = None, *,
                    path: str | Path | None = None) -> VideoDiffusion:
    """The shipped checkpoint ``data/checkpoints/diffusion.pt`` (or ``path``), built from its card's config,
    in eval mode. Raises FileNotFoundError (saying how to train it) or CheckpointError (not as its card
    says)."""
    return load_model(CHECKPOINT, Config, build, device, path)
