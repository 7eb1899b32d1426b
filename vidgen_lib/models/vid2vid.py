"""Vid2Vid: semantic maps in, video out, each frame warped from the last where it can be.

Wang, Liu, Zhu, Liu, Tao, Kautz, Catanzaro, "Video-to-Video Synthesis", NeurIPS 2018.

A semantic map says which class covers each pixel, not what the pixels look like. The sequential
generator makes frame t from the current map, the L = 2 maps before it and the L frames before it
(a Markov model on L frames, Sec. 3.1), as a blend of two proposals:

    x_t = (1 - m_t) * warp(x_{t-1}, w_t) + m_t * h_t                                    (Eq. 4)

``w_t`` is a predicted optical flow (where each pixel of frame t was in frame t - 1), ``h_t`` a
hallucinated frame, and ``m_t`` in [0, 1] a soft occlusion mask: where warping the previous frame
explains the new one the mask stays near 0 and the appearance is carried over exactly; where it cannot
(background a moving object uncovers) the hallucination fills in. Two conditional discriminators judge
the result (Sec. 3.2): an image discriminator D_I on (map, frame) pairs at two scales, and a video
discriminator D_V on K = 3 consecutive frames together with the true flow between them. The generator
is trained with LSGAN, discriminator feature matching and the flow loss of Sec. 3.2

    L_W = |w - w_true|_1 + |warp(x_{t-1}, w) - x_t|_1     (on real frames; the world's flow is exact)

``Config.warp = False`` is the paper's ablation (Sec. 4, "without flow warping"): no flow branch, the
mask fixed to 1, so every frame is hallucinated from the maps and the past frames.

Taught in ``notebooks/09_vid2vid.ipynb``; measured in :mod:`vidgen_lib.evaluation.vid2vid`. Videos are
``(B, 3, T, H, W)`` in [0, 1] at every public boundary; the networks work in [-1, 1]. The first L frames
of a clip are given (real) and frames L..T-1 are generated, as the paper's code trains.

Deviations from the paper, for a 2-core CPU (also tabled in the notebook): 32 x 32 frames and one
spatial scale (no coarse-to-fine), no VGG perceptual loss (feature matching on D only), one temporal
scale for D_V (the paper uses several frame rates), no foreground/background split and no instance
features, the true flow in place of FlowNet2's, GroupNorm in place of InstanceNorm.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from vidgen_lib.checkpoints import load_model
from vidgen_lib.datasets.scenes import LABELS, TexturedShapes
from vidgen_lib.nn.conv import conv_block
from vidgen_lib.nn.warp import warp
from vidgen_lib.runtime import eval_mode, model_device, seed_everything
from vidgen_lib.train import Trainer, batches, run
from vidgen_lib.video import fold_time, from_signed, to_signed, unfold_time, validate_clip

CHECKPOINT = "vid2vid"


@dataclasses.dataclass
class Config:
    """Sizes and training settings (recorded in the model card)."""

    frame_size: int = 32  # H = W (paper: 2048 x 1024 on Cityscapes)
    num_frames: int = 12  # frames per training clip (paper: up to 30)
    past_frames: int = 2  # L: the Markov order; the first L frames of a clip are given (paper code: 2)
    num_objects: int = 2  # shapes per video
    warp: bool = True  # False: the ablation without flow warping (mask fixed to 1)
    width: int = 24  # channels at full resolution; x2 per downsampling (paper: 64, and a 2nd/3rd scale)
    blocks: int = 3  # residual blocks at 1/4 resolution (paper: 9)
    d_width: int = 16  # discriminator channels in its first layer (paper: 64)
    d_layers: int = 3  # PatchGAN layers per discriminator (paper code: 3)
    d_scales: int = 2  # image-discriminator scales: full and half resolution (paper code: num_D = 2)
    d_frames: int = 3  # K: frames the video discriminator sees at once (paper code: n_frames_D = 3)
    feat_weight: float = 10.0  # discriminator feature matching (paper: lambda_feat = 10)
    flow_weight: float = 10.0  # the flow loss L_W (paper: lambda_W = 10)
    mask_weight: float = 1.0  # pushes m to 0 where the true flow explains a pixel (paper code: loss_W)
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    batch_size: int = 8  # paper: 1 sequence per GPU
    num_videos: int = 100_000
    eval_videos: int = 256
    steps: int = 4000  # about 35 minutes on one CPU thread

    def __post_init__(self) -> None:
        if self.past_frames < 1 or self.num_frames <= self.past_frames:
            raise ValueError(f"need 1 <= past_frames < num_frames, got past_frames={self.past_frames} and "
                             f"num_frames={self.num_frames}.")
        if self.frame_size % 4:
            raise ValueError(f"frame_size must be a multiple of 4 (two downsamplings), "
                             f"got {self.frame_size}.")
        if not 2 <= self.d_frames <= self.num_frames:
            raise ValueError(f"d_frames must be in [2, num_frames], got {self.d_frames}.")

    @classmethod
    def preset(cls, name: str) -> Config:
        """``tutorial``: 32 x 32, 12 frames, under an hour on one CPU thread. ``full``: 64 x 64, 24
        frames, the paper's widths (64 channels, 9 residual blocks, D with 64), for a GPU."""
        if name == "tutorial":
            return cls()
        if name == "full":
            return cls(frame_size=64, num_frames=24, width=64, blocks=9, d_width=64, batch_size=16,
                       eval_videos=1000, steps=100_000)
        raise ValueError(f"Unknown preset {name!r}: use 'tutorial' or 'full'.")

    @property
    def num_classes(self) -> int:
        return len(LABELS)


# --- the generator (Sec. 3.1; code: CompositeGenerator) -------------------------------------------

def _encoder(c_in: int, width: int) -> nn.Sequential:
    """3x3 conv, then two stride-2 convs: (N, c_in, H, W) -> (N, 4 width, H/4, W/4)."""
    return nn.Sequential(*conv_block(c_in, width, kernel=3, stride=1, padding=1, norm="group"),
                         *conv_block(width, 2 * width, norm="group"),
                         *conv_block(2 * width, 4 * width, norm="group"))


def _decoder(width: int) -> nn.Sequential:
    """Two doubling transposed convs: (N, 4 width, H/4, W/4) -> (N, width, H, W)."""
    return nn.Sequential(*conv_block(4 * width, 2 * width, transpose=True, norm="group"),
                         *conv_block(2 * width, width, transpose=True, norm="group"))


class ResidualBlock(nn.Module):
    """x + conv(relu(conv(x))), two 3x3 convs at constant width (pix2pixHD's trunk)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        conv = lambda: conv_block(channels, channels, kernel=3, stride=1, padding=1, norm="group")  # noqa: E731
        self.body = nn.Sequential(*conv(), *conv()[:2])  # conv, norm, relu, conv, norm

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class GeneratorOutput(NamedTuple):
    """One generated frame and the three heads behind it, each (N, ., H, W); frames in [-1, 1]."""

    frame: Tensor  # x_t, (N, 3, H, W)
    hallucinated: Tensor  # h_t, (N, 3, H, W)
    flow: Tensor | None  # w_t, (N, 2, H, W) in pixels; None without warping
    mask: Tensor | None  # m_t, (N, 1, H, W) in [0, 1]; None without warping (m = 1)
    warped: Tensor | None  # warp(x_{t-1}, w_t), (N, 3, H, W)


def compose(warped: Tensor, hallucinated: Tensor, mask: Tensor) -> Tensor:
    """Eq. 4: ``(1 - m) * warped + m * hallucinated``; the mask (N, 1, H, W) broadcasts over channels."""
    return (1 - mask) * warped + mask * hallucinated


class FrameGenerator(nn.Module):
    """One step of the sequential generator: maps s_{t-L..t} and frames x_{t-L..t-1} -> x_t.

    Two encoders (maps; past frames) whose outputs are summed, a residual trunk, and separate upsampling
    branches: one for the hallucinated frame (tanh), one shared by the flow (2 channels, in pixels) and
    the mask (sigmoid), as in the paper's code.
    """

    def __init__(self, config: Config) -> None:
        super().__init__()
        c, w, L = config, config.width, config.past_frames
        self.warps = c.warp
        self.map_encoder = _encoder((L + 1) * c.num_classes, w)
        self.frame_encoder = _encoder(L * 3, w)
        self.trunk = nn.Sequential(*(ResidualBlock(4 * w) for _ in range(c.blocks)))
        self.image_branch = nn.Sequential(_decoder(w), nn.Conv2d(w, 3, 3, padding=1), nn.Tanh())
        if c.warp:
            self.flow_branch = _decoder(w)
            self.flow_head = nn.Conv2d(w, 2, 3, padding=1)
            self.mask_head = nn.Sequential(nn.Conv2d(w, 1, 3, padding=1), nn.Sigmoid())

    def forward(self, maps: Tensor, past: Tensor) -> GeneratorOutput:
        """maps (N, (L+1) classes, H, W) one-hot and past (N, L, 3, H, W) in [-1, 1], both oldest first."""
        frames = rearrange(past, "n l c h w -> n (l c) h w")
        h = self.trunk(self.map_encoder(maps) + self.frame_encoder(frames))
        hallucinated = self.image_branch(h)
        if not self.warps:  # the ablation: m = 1, nothing is warped
            return GeneratorOutput(hallucinated, hallucinated, None, None, None)
        g = self.flow_branch(h)
        flow, mask = self.flow_head(g), self.mask_head(g)
        warped = warp(past[:, -1], flow)
        return GeneratorOutput(compose(warped, hallucinated, mask), hallucinated, flow, mask, warped)


# --- the discriminators (Sec. 3.2; code: NLayerDiscriminator, MultiscaleDiscriminator) -------------

class PatchDiscriminator(nn.Module):
    """PatchGAN: stride-2 convs, then a stride-1 conv and a 1-channel conv: one score per patch.

    ``forward`` returns every layer's output (the last is the score map): feature matching compares them.
    """

    def __init__(self, c_in: int, width: int, layers: int) -> None:
        super().__init__()
        widths = [width * 2 ** min(i, 3) for i in range(layers)]
        blocks = [conv_block(c_in, widths[0], norm="none", act="lrelu")]
        for i in range(1, layers):
            blocks.append(conv_block(widths[i - 1], widths[i], stride=2 if i < layers - 1 else 1,
                                     norm="group", act="lrelu"))
        blocks.append(nn.Conv2d(widths[-1], 1, 3, padding=1))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: Tensor) -> list[Tensor]:
        features = []
        for block in self.blocks:
            x = block(x)
            features.append(x)
        return features


class MultiScaleDiscriminator(nn.Module):
    """``scales`` PatchGANs, the k-th on the input average-pooled k times (pix2pixHD, Sec. 3.2)."""

    def __init__(self, c_in: int, width: int, layers: int, scales: int) -> None:
        super().__init__()
        self.nets = nn.ModuleList(PatchDiscriminator(c_in, width, layers) for _ in range(scales))

    def forward(self, x: Tensor) -> list[list[Tensor]]:
        out = []
        for k, net in enumerate(self.nets):
            out.append(net(x))
            if k < len(self.nets) - 1:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
        return out


class Vid2Vid(nn.Module):
    """The generator and both discriminators, one state dict. ``D_image`` reads (map, frame): classes + 3
    channels; ``D_video`` reads K frames and the K - 1 true flows between them: 3K + 2(K - 1) channels."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = c = config
        self.generator = FrameGenerator(config)
        self.D_image = MultiScaleDiscriminator(c.num_classes + 3, c.d_width, c.d_layers, c.d_scales)
        video_channels = 3 * c.d_frames + 2 * (c.d_frames - 1)
        self.D_video = MultiScaleDiscriminator(video_channels, c.d_width, c.d_layers, 1)


def build(config: Config) -> Vid2Vid:
    """A freshly initialised Vid2Vid (with or without warping, as ``config.warp`` says)."""
    return Vid2Vid(config)


# --- running the generator over a clip ------------------------------------------------------------

class Generated(NamedTuple):
    """A generated clip and the heads behind frames L..T-1 (None without warping)."""

    video: Tensor  # (B, 3, T, H, W) in [-1, 1]: the L given frames, then the generated ones
    hallucinated: Tensor  # (B, 3, T - L, H, W)
    flow: Tensor | None  # (B, 2, T - L, H, W)
    mask: Tensor | None  # (B, 1, T - L, H, W)


def one_hot_maps(labels: Tensor, num_classes: int) -> Tensor:
    """Class maps (B, T, H, W) int -> one-hot (B, classes, T, H, W) float."""
    if labels.dtype != torch.long or labels.ndim != 4:
        raise ValueError(f"labels must be (B, T, H, W) int64 class indices, got {tuple(labels.shape)} "
                         f"{labels.dtype}.")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"labels must be class indices in [0, {num_classes}), got values in "
                         f"[{int(labels.min())}, {int(labels.max())}].")
    return rearrange(F.one_hot(labels, num_classes).float(), "b t h w k -> b k t h w")


def generate(generator: FrameGenerator, maps: Tensor, first: Tensor) -> Generated:
    """Run the sequential generator (Sec. 3.1): each new frame is fed back as a past frame.

    Args:
        maps: one-hot maps (B, classes, T, H, W) of the whole clip.
        first: the L given frames (B, 3, L, H, W) in [-1, 1].
    """
    L, T = first.shape[2], maps.shape[2]
    frames, heads = list(first.unbind(2)), []
    for t in range(L, T):
        window = rearrange(maps[:, :, t - L:t + 1], "b k l h w -> b (l k) h w")
        out = generator(window, torch.stack(frames[-L:], dim=1))
        frames.append(out.frame)
        heads.append(out)
    stack = lambda xs: None if xs[0] is None else torch.stack(xs, dim=2)  # noqa: E731
    return Generated(torch.stack(frames, dim=2), stack([o.hallucinated for o in heads]),
                     stack([o.flow for o in heads]), stack([o.mask for o in heads]))


def translate(model: Vid2Vid, labels: Tensor, first: Tensor, *, seed: int | None = None) -> Tensor:
    """Maps to video: the public entry point (the model is deterministic; ``seed`` is accepted for the API).

    Args:
        labels: class maps (B, T, H, W) int64 in [0, classes), T > L.
        first: the first L frames (B, 3, L, H, W) in [0, 1] (the paper's code starts from real frames).
    Returns:
        (B, 3, T, H, W) in [0, 1] on the CPU: the given frames, then frames L..T-1 generated.
    """
    c = model.config
    validate_clip(first, channels=3, frame_size=c.frame_size, name="first")
    if first.shape[2] != c.past_frames:
        raise ValueError(f"first must hold the first L = {c.past_frames} frames, got {first.shape[2]}.")
    if labels.shape[0] != first.shape[0] or labels.shape[-2:] != first.shape[-2:] \
            or labels.ndim != 4 or labels.shape[1] <= c.past_frames:
        raise ValueError(f"labels must be (B, T, H, W) with the B, H, W of first and T > {c.past_frames}, "
                         f"got {tuple(labels.shape)} for first {tuple(first.shape)}.")
    dev = model_device(model)
    with eval_mode(model), torch.no_grad():
        out = generate(model.generator, one_hot_maps(labels.to(dev), c.num_classes), to_signed(first.to(dev)))
    return from_signed(out.video).clamp(0, 1).cpu()


# --- the objective (Sec. 3.2) ---------------------------------------------------------------------

def lsgan(scores: list[list[Tensor]], target: float) -> Tensor:
    """LSGAN (Mao et al. 2017): mean (D - target)^2 of each scale's score map, summed over scales."""
    return sum(((features[-1] - target) ** 2).mean() for features in scores)


def feature_matching(fake: list[list[Tensor]], real: list[list[Tensor]], layers: int) -> Tensor:
    """pix2pixHD's discriminator feature matching: L1 between D's hidden features of fake and real,
    weighted 4 / (layers + 1) per layer and 1 / scales per scale."""
    weight = 4.0 / (layers + 1) / len(fake)
    return sum(weight * F.l1_loss(f, r.detach())
               for fs, rs in zip(fake, real) for f, r in zip(fs[:-1], rs[:-1]))


def flow_loss(flow: Tensor, true_flow: Tensor, previous: Tensor, current: Tensor) -> Tensor:
    """L_W (Sec. 3.2): |w - w_true|_1 + |warp(x_{t-1}, w) - x_t|_1 on real frames, each a mean.

    Args:
        flow, true_flow: (N, 2, H, W) in pixels; previous, current: real frames (N, 3, H, W).
    """
    return F.l1_loss(flow, true_flow) + F.l1_loss(warp(previous, flow), current)


def image_pairs(maps: Tensor, video: Tensor, first: int) -> Tensor:
    """D_I's input: map and frame stacked, for frames ``first``..T-1: (B (T - first), classes + 3, H, W)."""
    return fold_time(torch.cat([maps, video], dim=1)[:, :, first:])


def video_windows(video: Tensor, true_flow: Tensor, k: int, first: int) -> Tensor:
    """D_V's input: every window of k consecutive frames that ends at a frame >= ``first``, with the true
    backward flows of its last k - 1 frames (the condition, real for real and fake clips alike).

    Returns (B * windows, 3k + 2(k - 1), H, W).
    """
    T, start = video.shape[2], max(first - k + 1, 0)
    frames = video.unfold(2, k, 1)[:, :, start:]  # (B, 3, windows, H, W, k)
    flows = true_flow[:, :, 1:].unfold(2, k - 1, 1)[:, :, start:T - k + 1]  # flows into frames 1..k-1 of each
    return torch.cat([rearrange(frames, "b c n h w k -> (b n) (k c) h w"),
                      rearrange(flows, "b c n h w k -> (b n) (k c) h w")], dim=1)


def explained_pixels(video: Tensor, true_flow: Tensor) -> Tensor:
    """1 where warping the previous real frame by the true flow gives the pixel exactly (no occlusion):
    (B, 1, T - 1, H, W) for frames 1..T-1. ``video`` (B, 3, T, H, W), any range."""
    B = video.shape[0]
    prev, current = fold_time(video[:, :, :-1]), fold_time(video[:, :, 1:])
    flow = fold_time(true_flow[:, :, 1:])
    error = (warp(prev, flow) - current).abs().amax(1, keepdim=True)
    return unfold_time((error < 1e-3).float(), B)


def training_step(model: Vid2Vid, trainer: Trainer, batch: dict[str, Tensor]) -> dict[str, float]:
    """One iteration: generate frames L..T-1 once, update both discriminators, then the generator.

    ``batch``: ``video`` (B, 3, T, H, W) in [0, 1], ``labels`` (B, T, H, W), ``flow`` (B, 2, T, H, W).
    """
    c, L = model.config, model.config.past_frames
    real = to_signed(batch["video"])
    maps, true_flow = one_hot_maps(batch["labels"], c.num_classes), batch["flow"]
    out = generate(model.generator, maps, real[:, :, :L])
    fake = out.video
    real_pairs, real_windows = image_pairs(maps, real, L), video_windows(real, true_flow, c.d_frames, L)

    # D_I and D_V: real -> 1, fake -> 0 (LSGAN); the fakes are detached, no gradient reaches G.
    fake_pairs, fake_windows = image_pairs(maps, fake.detach(), L), video_windows(fake.detach(), true_flow,
                                                                                 c.d_frames, L)
    d_loss = 0.5 * (lsgan(model.D_image(real_pairs), 1) + lsgan(model.D_image(fake_pairs), 0)
                    + lsgan(model.D_video(real_windows), 1) + lsgan(model.D_video(fake_windows), 0))
    d_value = trainer.update("D", d_loss)

    # G: fool both D's, match their features on the real clip, and (with warping) the flow and mask terms.
    for D in (model.D_image, model.D_video):
        D.requires_grad_(False)
    with torch.no_grad():
        real_image, real_video = model.D_image(real_pairs), model.D_video(real_windows)
    fake_image = model.D_image(image_pairs(maps, fake, L))
    fake_video = model.D_video(video_windows(fake, true_flow, c.d_frames, L))
    adversarial = lsgan(fake_image, 1) + lsgan(fake_video, 1)
    matching = c.feat_weight * (feature_matching(fake_image, real_image, c.d_layers)
                                + feature_matching(fake_video, real_video, c.d_layers))
    g_loss, values = adversarial + matching, {}
    if c.warp:
        flow_term = flow_loss(fold_time(out.flow), fold_time(true_flow[:, :, L:]),
                              fold_time(real[:, :, L - 1:-1]), fold_time(real[:, :, L:]))
        explained = explained_pixels(real, true_flow)[:, :, L - 1:]
        mask_term = (out.mask * explained).mean()
        g_loss = g_loss + c.flow_weight * flow_term + c.mask_weight * mask_term
        values = {"flow_loss": flow_term.item(), "mask_mean": out.mask.mean().item()}
    g_value = trainer.update("G", g_loss)
    for D in (model.D_image, model.D_video):
        D.requires_grad_(True)
    return {"d_loss": d_value, "g_loss": g_value, "adversarial": adversarial.item(), **values}


# --- data, training, the shipped checkpoint -------------------------------------------------------

def training_data(config: Config, split: str = "train", num_videos: int | None = None) -> TexturedShapes:
    """Textured shapes at the config's size, with their maps and true flow."""
    return TexturedShapes(split, num_videos or config.num_videos, config.num_frames, config.frame_size,
                          num_objects=config.num_objects)


def test_clips(config: Config, n: int) -> dict[str, Tensor]:
    """The first n test-split clips, batched: ``video`` (n, 3, T, H, W), ``labels`` (n, T, H, W), ``flow``."""
    data = training_data(config, "test", n)
    items = [data[i] for i in range(n)]
    return {key: torch.stack([item[key] for item in items]) for key in items[0]}


def make_optimizers(model: Vid2Vid, config: Config) -> dict[str, torch.optim.Optimizer]:
    """Adam for G and one for both discriminators, lr 2e-4, betas (0.5, 0.999) (paper code)."""
    betas = (config.beta1, config.beta2)
    d_params = list(model.D_image.parameters()) + list(model.D_video.parameters())
    return {"D": torch.optim.Adam(d_params, lr=config.lr, betas=betas),
            "G": torch.optim.Adam(model.generator.parameters(), lr=config.lr, betas=betas)}


def train(config: Config, steps: int | None = None, *, run_dir: str | Path | None = None, seed: int = 0,
          progress: bool = True, time_limit_s: float | None = None) -> tuple[Vid2Vid, dict[str, float]]:
    """Train Vid2Vid (or, with ``config.warp = False``, the ablation) on textured shapes; returns
    ``(model, metrics)`` in eval mode (see ``vidgen_lib.train.run``)."""
    seed_everything(seed)
    model = build(config)
    data = batches(training_data(config), config.batch_size)
    steps = config.steps if steps is None else steps
    return run(model, make_optimizers(model, config), training_step, data, steps, run_dir=run_dir, seed=seed,
               progress=progress, time_limit_s=time_limit_s, checkpoint_every=250)


def predict(model: Vid2Vid, context: Tensor, horizon: int, *, seed: int | None = None,
            labels: Tensor | None = None) -> Tensor:
    """The next ``horizon`` frames after the L given frames ``context`` (B, 3, L, H, W) in [0, 1], following
    the maps ``labels`` (B, L + horizon, H, W): (B, 3, horizon, H, W) in [0, 1] on the CPU."""
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}.")
    if labels is None or labels.ndim != 4 or labels.shape[1] != context.shape[2] + horizon:
        shape = None if labels is None else tuple(labels.shape)
        raise ValueError(f"labels must be the maps of all {context.shape[2] + horizon} frames (B, T, H, W), "
                         f"got {shape}.")
    return translate(model, labels, context, seed=seed)[:, :, context.shape[2]:]


def prediction_task(model: Vid2Vid, n: int) -> tuple[Tensor, Tensor, dict]:
    """``n`` held-out clips: the L given frames, the true rest, and ``{"labels": maps of every frame}``."""
    clips, L = test_clips(model.config, n), model.config.past_frames
    return clips["video"][:, :, :L], clips["video"][:, :, L:], {"labels": clips["labels"]}


def load_pretrained(device: torch.device | str | None = None, *, path: str | Path | None = None) -> Vid2Vid:
    """The shipped checkpoint ``data/checkpoints/vid2vid.pt`` (or ``path``), checked against its card."""
    return load_model(CHECKPOINT, Config, build, device, path)
