"""Feature networks for FVD and ACD: the course's toy-world video classifier, and I3D if you have it.

FVD (Unterthiner et al., "Towards Accurate Generative Models of Video", arXiv 1812.01717, 2018)
compares real and generated videos in the feature space of a video classifier: I3D trained on
Kinetics-400. Those weights cannot be fetched here, so the course trains its own small classifier
on its own video world and calls the result a **toy-world FVD**: it ranks models of *this* world,
and it is not comparable with published I3D numbers.

``ToyVideoFeatures`` is one network with two outputs:

* a **frame branch**: a 2-D CNN applied to every frame on its own, pooled to a ``(T, 128)``
  descriptor. Its heads name *what* is in the frame (digit class; shape and colour), so its
  features are identity features: MoCoGAN's average content distance (ACD, Tulyakov et al.,
  CVPR 2018, Sec. 4.1) is measured on them.
* a **video branch**: 3-D convolutions over the stacked frame maps, pooled to a 128-d vector. Its
  heads name the clip's content *and its motion* (digit and axis; shape, colour and direction),
  and whether its frames are in their true order (``order``), so it sees both appearance and
  time. FVD is measured on this 128-d penultimate feature.

The label for a digit's motion is its **axis**: horizontal if the horizontal component of its
velocity is the larger one, else vertical. A bounce flips the sign of one component but never
changes its size, so the axis holds for the whole clip and every frame is evidence for it. A signed
label (the first move's direction, a quadrant of the velocity) is not always defined by the pixels:
a digit that starts, or sits at frame t, within a rounding of a wall may have bounced just before
or just after, and both give the same rounded frames; such clips are a few percent of the data. The
signed directions are learnt from the moving shapes, which never touch a wall. The axis itself is
ambiguous only for clips within a few degrees of a diagonal, so its head cannot reach 100%.

The ``order`` head is what makes the features see *time*: in every training batch a quarter of
the clips have some of their frames shuffled (``metrics.shuffle_frames``) and the head must spot
them. Without it, a network that names digits and axes is nearly blind to frame order (every
shuffled frame still shows the same digit, moving along the same axis), and FVD would barely
punish a generator whose motion jumps around.

Train it with ``python -m vidgen_lib train-features``; load the shipped weights with
``load_features()``; embed videos with ``video_features`` and ``frame_features``.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

import vidgen_lib
from vidgen_lib.checkpoints import load_checkpoint
from vidgen_lib.datasets import MovingDigits, MovingShapes
from vidgen_lib.metrics import shuffle_frames
from vidgen_lib.nn.conv import conv_block
from vidgen_lib.video import validate_video
from vidgen_lib.runtime import model_device
from vidgen_lib.train import Trainer

CHECKPOINT_NAME = "video_features"
DEFAULT_STEPS = 3000  # about 40 minutes on one free CPU thread
EVAL_VIDEOS = 1000  # held-out test videos per world and frame size, for the accuracies in the card
TRAIN_COMMAND = "python -m vidgen_lib train-features"
AXES = ("horizontal", "vertical")  # classes of a digit's motion axis
SHUFFLE_FRACTIONS = (0.25, 0.5, 1.0)  # how much of a clip is shuffled for the order head (cycled)
MOTION_HEADS = ("axis", "direction")  # labels that only hold while the frames are in order

#: Heads of the network: name -> (branch, number of classes, the world that has the label).
HEADS: dict[str, tuple[str, int, str]] = {
    "digit": ("video", 10, "digits"),
    "axis": ("video", 2, "digits"),
    "shape": ("video", 3, "shapes"),
    "color": ("video", 6, "shapes"),
    "direction": ("video", 4, "shapes"),
    "order": ("video", 2, "any"),  # 1: some frames are out of order
    "frame_digit": ("frame", 10, "digits"),
    "frame_shape": ("frame", 3, "shapes"),
    "frame_color": ("frame", 6, "shapes"),
}


@dataclasses.dataclass
class FeatureConfig:
    """Sizes and training settings of ``ToyVideoFeatures`` (recorded in the model card)."""

    num_frames: int = 16  # every clip is resampled to this many frames ...
    frame_size: int = 32  # ... of this many pixels square
    stem_widths: tuple[int, ...] = (32, 32, 64)  # per-frame 2-D stem, shared by both branches
    frame_dim: int = 128  # identity feature per frame (ACD)
    video_widths: tuple[int, ...] = (96, 128)  # 3-D layers; the last is the FVD feature size
    batch_size: int = 16  # per world: each step sees 16 digit clips and 16 shape clips
    lr: float = 2e-3
    weight_decay: float = 1e-4

    @property
    def video_dim(self) -> int:
        return self.video_widths[-1]


def _block2d(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return conv_block(c_in, c_out, dims=2, kernel=3, stride=stride, padding=1, norm="group")


def _block3d(c_in: int, c_out: int, stride: tuple[int, int, int]) -> nn.Sequential:
    return conv_block(c_in, c_out, dims=3, kernel=3, stride=stride, padding=1, norm="group")


def to_network_input(videos: Tensor, num_frames: int | None, frame_size: int) -> Tensor:
    """Bring any course video to the network's format: 3 channels, fixed size.

    Args:
        videos: ``(B, C, T, H, W)`` in [0, 1] with C = 1 (grey, tiled to RGB) or C = 3.
        num_frames: resample time to this many frames (trilinear); ``None`` keeps T.
        frame_size: resize frames to ``frame_size`` × ``frame_size``.

    Returns:
        ``(B, 3, T', frame_size, frame_size)`` float32.
    """
    if videos.shape[1] == 1:
        videos = videos.expand(-1, 3, -1, -1, -1)
    size = (num_frames or videos.shape[2], frame_size, frame_size)
    if tuple(videos.shape[2:]) != size:
        videos = F.interpolate(videos.float(), size=size, mode="trilinear", align_corners=False)
    return videos.float()


class ToyVideoFeatures(nn.Module):
    """A small (2+1)-D CNN classifier of the video world whose hidden layers serve as features.

    A toy-world FVD, not comparable with published I3D numbers.
    """

    def __init__(self, config: FeatureConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or FeatureConfig()
        widths = (3, *config.stem_widths)
        # Stem: 32 -> 32 -> 16 -> 8 pixels, every frame on its own.
        self.stem = nn.Sequential(*[_block2d(widths[i], widths[i + 1], 1 if i == 0 else 2)
                                    for i in range(len(widths) - 1)])
        # Frame branch: 8 -> 4 pixels, so every position sees the whole frame; pooled per frame.
        self.identity = _block2d(config.stem_widths[-1], config.frame_dim, 2)
        # Video branch: (T, 8, 8) -> (T/2, 4, 4) -> (T/4, 4, 4): space-time kernels.
        widths = (config.stem_widths[-1], *config.video_widths)
        strides = [(2, 2, 2), (2, 1, 1)]
        self.video_net = nn.Sequential(*[_block3d(widths[i], widths[i + 1], strides[i])
                                         for i in range(len(widths) - 1)])
        dims = {"frame": config.frame_dim, "video": config.video_dim}
        self.heads = nn.ModuleDict({name: nn.Linear(dims[branch], k)
                                    for name, (branch, k, _) in HEADS.items()})

    def frame_maps(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The per-frame part of the network, every frame on its own.

        Args:
            x: ``(B, 3, T, S, S)`` network input (see ``to_network_input``).

        Returns:
            ``(maps, frames)``: stem maps ``(B, 64, T, S/4, S/4)`` for the video branch, and
            identity features ``(B, T, 128)``.
        """
        b = x.shape[0]
        maps = self.stem(rearrange(x, "b c t h w -> (b t) c h w"))  # (B*T, 64, 8, 8)
        frames = self.identity(maps).mean(dim=(2, 3))  # global average pool -> (B*T, 128)
        return (rearrange(maps, "(b t) c h w -> b c t h w", b=b),
                rearrange(frames, "(b t) d -> b t d", b=b))

    def forward(self, videos: Tensor) -> dict[str, Tensor]:
        """All features and logits of a batch.

        Args:
            videos: ``(B, C, T, H, W)`` in [0, 1], C = 1 or 3, any T and frame size.

        Returns:
            ``"video"``: ``(B, 128)`` the FVD feature; ``"frames"``: ``(B, 16, 128)`` per-frame
            features (of the 16 resampled frames); and ``(B, classes)`` logits per head name
            (the frame heads' logits are ``(B, 16, classes)``).
        """
        x = to_network_input(videos, self.config.num_frames, self.config.frame_size)
        maps, frames = self.frame_maps(x)  # (B, 64, 16, 8, 8), (B, 16, 128)
        video = self.video_net(maps).mean(dim=(2, 3, 4))  # global average pool -> (B, 128)
        out = {"video": video, "frames": frames}
        for name, (branch, _, _) in HEADS.items():
            out[name] = self.heads[name](video if branch == "video" else frames)
        return out

    def frame_features(self, videos: Tensor) -> Tensor:
        """Identity features of every frame, at the video's own frame rate.

        Args:
            videos: ``(B, C, T, H, W)`` in [0, 1], C = 1 or 3.

        Returns:
            ``(B, T, 128)``: one feature per original frame (time is not resampled).
        """
        x = to_network_input(videos, None, self.config.frame_size)
        b = x.shape[0]
        frames = self.identity(self.stem(rearrange(x, "b c t h w -> (b t) c h w"))).mean(dim=(2, 3))
        return rearrange(frames, "(b t) d -> b t d", b=b)


# ----------------------------------------------------------------------------------------------
# Training data with labels from the ground truth
# ----------------------------------------------------------------------------------------------
def digit_axis(velocity: Tensor) -> Tensor:
    """The axis a digit mostly moves along, as an index into ``AXES``.

    Args:
        velocity: ``(..., 2)`` a velocity ``(dy, dx)`` in pixels per frame (any frame: bounces
            flip signs, never sizes).

    Returns:
        ``(...)`` int64: 0 (horizontal) when ``|dx| >= |dy|``, else 1 (vertical).
    """
    return (velocity[..., 0].abs() > velocity[..., 1].abs()).long()


def _digit_batch(ds: MovingDigits, indices: np.ndarray) -> dict[str, Tensor]:
    items = [ds[int(i)] for i in indices]
    return {
        "video": torch.stack([it["video"] for it in items]),  # (B, 1, T, H, W)
        "digit": torch.stack([it["labels"][0] for it in items]),
        "axis": digit_axis(torch.stack([it["velocities"][0, 0] for it in items])),
    }


def _shape_batch(ds: MovingShapes, indices: np.ndarray) -> dict[str, Tensor]:
    items = [ds[int(i)] for i in indices]
    return {
        "video": torch.stack([it["video"] for it in items]),  # (B, 3, T, H, W)
        "shape": torch.stack([it["shape"][0] for it in items]),
        "color": torch.stack([it["color"][0] for it in items]),
        "direction": torch.stack([it["direction"][0] for it in items]),
    }


def worlds(split: str, config: FeatureConfig, num_videos: int, seed: int = 0) -> dict[str, list]:
    """The datasets the network learns from: one-digit videos and one-shape videos.

    Each world comes at two frame sizes, 32 and 64 (the tutorial and the standard setting), so the
    features do not depend on which one a model generates.
    """
    t = config.num_frames
    return {
        "digits": [MovingDigits(split, num_videos, t, size, seed, num_digits=1) for size in (32, 64)],
        "shapes": [MovingShapes(split, num_videos, t, size, seed) for size in (32, 64)],
    }


def shuffle_some(labels: dict[str, Tensor], every: int, generator: torch.Generator) -> dict[str, Tensor]:
    """Shuffle the frames of every ``every``-th clip of a batch and label them for the order head.

    The shuffled share of clip ``i`` cycles through ``SHUFFLE_FRACTIONS``. Returns the batch with
    ``"video"`` replaced and an ``"order"`` label: 1 for the shuffled clips, 0 for the others.
    """
    video, order = labels["video"].clone(), torch.zeros(len(labels["video"]), dtype=torch.long)
    for j, i in enumerate(range(0, len(video), every)):
        fraction = SHUFFLE_FRACTIONS[j % len(SHUFFLE_FRACTIONS)]
        video[i : i + 1] = shuffle_frames(video[i : i + 1], fraction, generator=generator)
        order[i] = 1
    return {**labels, "video": video, "order": order}


def training_batches(config: FeatureConfig, seed: int = 0,
                     start: int = 0) -> Iterator[dict[str, dict[str, Tensor]]]:
    """Endless batches of fresh training videos: ``{"digits": {...}, "shapes": {...}}``.

    Frame sizes alternate from step to step; each video is drawn once (index = a running counter),
    and every fourth clip has shuffled frames, so batch ``k`` is the same in every run, and a
    resumed run continues at ``start``.
    """
    data = worlds("train", config, num_videos=2**31 - 1, seed=seed)
    b = config.batch_size
    for step in range(start, 2**31 // b):
        indices = np.arange(step * b, (step + 1) * b)
        size = step % 2
        generator = torch.Generator().manual_seed(seed * 1_000_003 + step)
        yield {"digits": shuffle_some(_digit_batch(data["digits"][size], indices), 4, generator),
               "shapes": shuffle_some(_shape_batch(data["shapes"][size], indices), 4, generator)}


def multitask_loss(model: ToyVideoFeatures, batch: dict[str, dict[str, Tensor]]) -> dict[str, Tensor]:
    """Cross-entropy of every head on the world that has its label; frame heads on every frame.

    The order head learns from both worlds; the motion heads only from the clips in true order.
    """
    losses: dict[str, Tensor] = {}
    for world, labels in batch.items():
        out = model(labels["video"])
        in_order = labels["order"] == 0
        for name, (branch, _, head_world) in HEADS.items():
            if head_world not in (world, "any"):
                continue
            target = labels[name.removeprefix("frame_")]
            logits = out[name]
            if name in MOTION_HEADS:
                target, logits = target[in_order], logits[in_order]
            if branch == "frame":  # the same label for each of the T frames
                target = target[:, None].expand(-1, logits.shape[1])
                logits = rearrange(logits, "b t k -> b k t")
            loss = F.cross_entropy(logits, target)
            losses[name] = losses[name] + loss if name in losses else loss  # the order head: both worlds
    return losses


def one_cycle_lr(step: int, steps: int, max_lr: float, warmup: float = 0.3) -> float:
    """The learning rate at ``step``: cosine up from max_lr/25 to max_lr over the first ``warmup``
    share of the steps, then cosine down to max_lr/25e4 (Smith's one-cycle policy, as in PyTorch's
    ``OneCycleLR``). A pure function of the step, so a resumed run continues on the same curve."""
    low, final, peak = max_lr / 25, max_lr / 25e4, max(1, round(warmup * steps))
    if step < peak:
        start, end, t = low, max_lr, step / peak
    else:
        start, end, t = max_lr, final, (step - peak) / max(1, steps - peak)
    return end + (start - end) * (1 + math.cos(math.pi * min(t, 1.0))) / 2


@torch.no_grad()
def heldout_accuracy(model: ToyVideoFeatures, config: FeatureConfig, num_videos: int = EVAL_VIDEOS,
                     batch_size: int = 100) -> dict[str, float]:
    """Accuracy of every head on held-out test videos (digit sprites never seen in training).

    Args:
        model: the network to score.
        config: its config (for the clip length).
        num_videos: test videos per world and frame size.
        batch_size: videos per forward pass.

    Returns:
        ``{"<head>_acc/<size>": accuracy}`` for both frame sizes, 32 and 64; a frame head's
        accuracy is over all frames. The content and motion heads are scored on clips in true
        order; the order head on those clips and on shuffled copies of them (half and half, the
        shuffled share cycling through ``SHUFFLE_FRACTIONS``), over both worlds.
    """
    model.eval()
    device = model_device(model)
    data = worlds("test", config, num_videos=num_videos)
    make = {"digits": _digit_batch, "shapes": _shape_batch}
    correct: dict[str, float] = {}
    counts: dict[str, int] = {}

    def score(key: str, hits: Tensor) -> None:
        correct[key] = correct.get(key, 0.0) + hits.sum().item()
        counts[key] = counts.get(key, 0) + len(hits)

    generator = torch.Generator().manual_seed(0)
    for world, datasets in data.items():
        for ds in datasets:
            for start in range(0, num_videos, batch_size):
                labels = make[world](ds, np.arange(start, min(start + batch_size, num_videos)))
                labels["order"] = torch.zeros(len(labels["video"]), dtype=torch.long)
                shuffled = shuffle_some(labels, 1, generator)  # every clip shuffled: order = 1
                for batch in (labels, shuffled):
                    out = model(batch["video"].to(device))
                    for name, (branch, _, head_world) in HEADS.items():
                        if head_world not in (world, "any") or (batch is shuffled and name != "order"):
                            continue
                        target = batch[name.removeprefix("frame_")].to(device)
                        hits = (out[name].argmax(dim=-1)
                                == (target[:, None] if branch == "frame" else target)).float()
                        score(f"{name}_acc/{ds.frame_size}", hits.mean(dim=-1) if branch == "frame" else hits)
    return {k: round(v / counts[k], 4) for k, v in correct.items()}


def train_features(
    steps: int | None = None,
    seed: int = 0,
    config: FeatureConfig | None = None,
    run_dir: str | Path | None = None,
    progress: bool = True,
    eval_videos: int = EVAL_VIDEOS,
) -> tuple[ToyVideoFeatures, dict[str, float]]:
    """Train ``ToyVideoFeatures`` on freshly generated videos; return it with held-out accuracies.

    Args:
        steps: optimiser steps (default ``DEFAULT_STEPS``); each sees ``2 * batch_size`` videos.
        seed: seeds the initialisation and the training stream.
        config: sizes and settings (default ``FeatureConfig()``).
        run_dir: where the trainer keeps its state every 250 steps; a run interrupted there
            resumes where it stopped (``None``: not saved).
        progress: show a progress bar.
        eval_videos: held-out videos per world and frame size for the accuracies.

    Returns:
        ``(model, metrics)``: the network in eval mode, and its accuracy per head and frame size.
    """
    config = config or FeatureConfig()
    steps = DEFAULT_STEPS if steps is None else steps
    vidgen_lib.seed_everything(seed)  # the initial weights
    model = ToyVideoFeatures(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)

    def step_fn(trainer: Trainer, batch: dict) -> dict[str, float]:
        for group in optimizer.param_groups:
            group["lr"] = one_cycle_lr(trainer.step, steps, config.lr)
        losses = multitask_loss(model, batch)
        trainer.update("model", sum(losses.values()))
        return {k: v.item() for k, v in losses.items()}

    trainer = Trainer({"model": model}, {"model": optimizer}, run_dir=run_dir, seed=seed,
                      progress=progress, log_every=50, checkpoint_every=250 if run_dir else 0)

    def batches() -> Iterator[dict]:  # runs after fit() has resumed, so it starts at the right step
        yield from training_batches(config, seed, start=trainer.step)

    trainer.fit(step_fn, batches(), steps)
    return model.eval(), heldout_accuracy(model, config, eval_videos)


# ----------------------------------------------------------------------------------------------
# The shipped network
# ----------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4)
def _load(path: str, device: str) -> ToyVideoFeatures:
    config = FeatureConfig()
    state, _ = load_checkpoint(path, expected_config=config, map_location=device)
    model = ToyVideoFeatures(config)
    model.load_state_dict(state)
    return model.to(device).eval()


def load_features(device: torch.device | str | None = None,
                  path: str | Path | None = None) -> ToyVideoFeatures:
    """The shipped feature network, in eval mode (loaded once, then cached).

    Args:
        device: where to put it (default ``vidgen_lib.device()``).
        path: the checkpoint (default ``data/checkpoints/video_features.pt``).

    Raises:
        FileNotFoundError: if the checkpoint is missing; the message gives the command that makes it.
    """
    path = Path(path) if path is not None else vidgen_lib.CHECKPOINT_DIR / f"{CHECKPOINT_NAME}.pt"
    if not path.exists():
        raise FileNotFoundError(f"The video feature network {path.name} is missing. "
                                f"Train it with `{TRAIN_COMMAND}` "
                                f"(it writes {path.name} and its model card).")
    return _load(str(path), str(torch.device(device or vidgen_lib.device())))


def _embed(videos: Tensor, fn, batch_size: int) -> Tensor:
    """Apply ``fn`` to batches of validated videos under no_grad; results concatenated on the CPU."""
    validate_video(videos, "videos")
    if videos.shape[1] not in (1, 3):
        raise ValueError(f"videos must have 1 (grey) or 3 (RGB) channels; got C={videos.shape[1]}.")
    with torch.no_grad():
        return torch.cat([fn(batch).cpu() for batch in videos.split(batch_size)])


def video_features(videos: Tensor, model: ToyVideoFeatures | None = None, batch_size: int = 64) -> Tensor:
    """The 128-d FVD feature of each video (the network's penultimate layer).

    Args:
        videos: ``(N, C, T, H, W)`` in [0, 1], C = 1 or 3; resampled to 16 frames of 32×32.
        model: a feature network (default: the shipped one, ``load_features()``).
        batch_size: videos per forward pass.

    Returns:
        ``(N, 128)`` float32 features on the CPU.
    """
    model = model or load_features()
    device = model_device(model)
    return _embed(videos, lambda x: model(x.to(device))["video"], batch_size)


def frame_features(videos: Tensor, model: ToyVideoFeatures | None = None, batch_size: int = 64) -> Tensor:
    """The 128-d identity feature of every frame (for ACD).

    Args:
        videos: ``(N, C, T, H, W)`` in [0, 1], C = 1 or 3; frames resized to 32×32, T kept.
        model: a feature network (default: the shipped one).
        batch_size: videos per forward pass.

    Returns:
        ``(N, T, 128)`` float32 features on the CPU.
    """
    model = model or load_features()
    device = model_device(model)
    return _embed(videos, lambda x: model.frame_features(x.to(device)), batch_size)


def video_and_frame_features(
    videos: Tensor, model: ToyVideoFeatures | None = None, batch_size: int = 64
) -> tuple[Tensor, Tensor]:
    """Both features at once, sharing the per-frame stem (what ``evaluation.evaluate_generator`` uses).

    Args:
        videos: ``(N, C, T, H, W)`` in [0, 1], C = 1 or 3.
        model: a feature network (default: the shipped one).
        batch_size: videos per forward pass.

    Returns:
        ``(video_features (N, 128), frame_features (N, T, 128))``, equal to ``video_features`` and
        ``frame_features``; one pass when T is the network's clip length (16), else two.
    """
    model = model or load_features()
    if videos.ndim == 5 and videos.shape[2] != model.config.num_frames:
        return video_features(videos, model, batch_size), frame_features(videos, model, batch_size)
    device = model_device(model)
    both = _embed(videos, lambda x: torch.cat(_video_and_frames(model, x.to(device)), dim=1), batch_size)
    return both[:, 0], both[:, 1:]


def _video_and_frames(model: ToyVideoFeatures, videos: Tensor) -> tuple[Tensor, Tensor]:
    """``(B, 1, 128)`` video features stacked with ``(B, T, 128)`` frame features, one forward."""
    out = model(videos)
    return out["video"][:, None], out["frames"]


def identity_swap_digits(
    n: int, num_frames: int = 16, frame_size: int = 32, split: str = "test", seed: int = 0
) -> tuple[Tensor, Tensor]:
    """Real one-digit videos, and the same videos whose digit changes class halfway.

    The second set follows exactly the same trajectories, but from frame ``T // 2`` on the digit
    is drawn from another class (class + 5 mod 10): the motion is intact, the content is not.
    ACD should rank the two sets: real < swapped.

    Args:
        n: number of videos.
        num_frames: T; frame_size: H = W; split, seed: as for ``MovingDigits``.

    Returns:
        ``(real, swapped)``, each ``(n, 1, T, H, W)`` in [0, 1].
    """
    real = MovingDigits(split, n, num_frames, frame_size, seed, num_digits=1)
    other = MovingDigits(split, n, num_frames, frame_size, seed, num_digits=1)
    labels = real.sprite_labels
    by_class = [np.flatnonzero(labels == c) for c in range(10)]
    # Sprite i is replaced by a sprite of class labels[i] + 5, so a drawn index changes class.
    swap = np.array([by_class[(c + 5) % 10][i % len(by_class[(c + 5) % 10])] for i, c in enumerate(labels)])
    other.sprites, other.sprite_labels = real.sprites[swap], labels[swap]
    videos = torch.stack([real[i]["video"] for i in range(n)])  # (n, 1, T, H, W)
    swapped = videos.clone()
    half = num_frames // 2
    swapped[:, :, half:] = torch.stack([other[i]["video"][:, half:] for i in range(n)])
    return videos, swapped


__all__ = [
    "FeatureConfig", "ToyVideoFeatures", "HEADS", "AXES", "digit_axis", "to_network_input",
    "train_features", "heldout_accuracy", "load_features", "video_features",
    "frame_features", "video_and_frame_features", "identity_swap_digits",
]
