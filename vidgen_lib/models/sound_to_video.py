"""Sound-driven video prediction: a ball's future frames drawn from what it sounds like.

After Sound2Sight (Cherian, Chatterjee & Ahuja, "Sound2Sight: Generating Visual Dynamics from Sound and
Context", ECCV 2020): the model sees a few context frames and the audio of the whole clip, and predicts
the future frames. The world is ``SoundingBalls``: one bouncing ball whose pitch follows its height and
whose stereo pan follows x (``vidgen_lib.datasets.sounds``), so the sound says where the ball is.

- a **context encoder**: the context frames, stacked as channels, through stride-2 convs to a code c
  (what the ball looks like and where it starts; the paper's frame encoder);
- an **audio encoder**: two 1-D convs over time on the per-frame spectrogram columns, an audio code a_t
  per frame that also hears two frames either side (the paper embeds audio and past frames jointly with
  an audio-visual transformer);
- a **frame decoder**: every future frame drawn from ``[c, a_t]`` alone, a linear layer to a 4x4 map
  and transposed convs up to the frame; the loss is per-pixel binary cross-entropy.

Departures from the paper: deterministic (no per-frame stochastic prior, no multimodal discriminator),
not recurrent (the paper's prediction network draws one frame at a time from the one before; here no
frame is fed back in, so errors cannot pile up), a few hundred thousand parameters, and synthesised
sound instead of recordings. What the chapter measures (``vidgen_lib.evaluation.sound_to_video``): the
ball follows the real audio, and not silence or another clip's audio. Taught in
``notebooks/12_applications.ipynb``. Videos are (B, 1, T, H, W) in [0, 1] at every public boundary.
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

from vidgen_lib.checkpoints import load_model
from vidgen_lib.datasets.sounds import BANDS, SoundingBalls
from vidgen_lib.nn.conv import conv_block
from vidgen_lib.runtime import eval_mode, model_device, seed_everything
from vidgen_lib.train import Trainer, batches, run
from vidgen_lib.video import to_signed, validate_clip

AUDIO_FEATURES = 2 * BANDS  # per frame: the left channel's bands, then the right's


@dataclasses.dataclass
class Config:
    """Sizes, data and optimisation of a sound-to-video run (recorded in the model card)."""

    frame_size: int = 32  # H = W: a power of two >= 8
    num_frames: int = 16  # frames per clip: context + horizon
    context: int = 2  # observed frames
    width: int = 16  # channels of the context encoder's first conv (doubling per halving)
    code_dim: int = 32  # |c|, the context code
    audio_dim: int = 64  # |a_t|, the audio code per frame
    batch_size: int = 32
    lr: float = 2e-3
    train_videos: int = 2_000  # training clips, generated once when training starts
    eval_videos: int = 256  # N of the test-split metrics written into the model card
    steps: int = 3_000

    @classmethod
    def preset(cls, name: str) -> Config:
        """``tutorial``: about five minutes on one CPU thread; ``full``: wider, more clips, longer (a GPU)."""
        if name == "tutorial":
            return cls()
        if name == "full":
            return cls(width=32, code_dim=128, audio_dim=128, batch_size=64, train_videos=20_000,
                       eval_videos=1024, steps=30_000)
        raise ValueError(f"Unknown preset {name!r}: use 'tutorial' or 'full'.")

    @property
    def horizon(self) -> int:
        return self.num_frames - self.context


def _halvings(frame_size: int) -> int:
    """Stride-2 steps between ``frame_size`` and the 4x4 map at the bottom of encoder and decoder."""
    if frame_size < 8 or frame_size & (frame_size - 1):
        raise ValueError(f"frame_size must be a power of two >= 8, got {frame_size}.")
    return frame_size.bit_length() - 3


class SoundToVideo(nn.Module):
    """Context encoder, audio encoder and frame decoder (see the module docstring)."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = c = config
        n = _halvings(c.frame_size)
        widths = [c.width * 2**i for i in range(n)]  # e.g. 16, 32, 64 down to 4x4
        self.encoder = nn.Sequential(
            *(conv_block(c_in, c_out, norm="group", act="relu") for c_in, c_out in
              zip([c.context, *widths], widths)),
            nn.Flatten(), nn.Linear(widths[-1] * 16, c.code_dim), nn.ReLU())
        self.audio = nn.Sequential(  # 1-D convs over time: a_t hears frames t-2 .. t+2
            nn.Conv1d(AUDIO_FEATURES, c.audio_dim, 3, padding=1), nn.ReLU(),
            nn.Conv1d(c.audio_dim, c.audio_dim, 3, padding=1), nn.ReLU())
        up = widths[::-1]  # e.g. 64, 32, 16 from 4x4 up
        self.inp = nn.Sequential(nn.Linear(c.code_dim + c.audio_dim, up[0] * 16), nn.ReLU())
        self.decoder = nn.Sequential(
            *(conv_block(c_in, c_out, transpose=True, norm="group", act="relu")
              for c_in, c_out in itertools.pairwise(up)),
            nn.ConvTranspose2d(up[-1], 1, 4, 2, 1))  # the last doubling draws the frame's logits

    def forward(self, context: Tensor, audio_features: Tensor) -> Tensor:
        """Logits of the future frames.

        Args:
            context: (B, 1, Tc, H, W) in [0, 1], Tc = ``config.context``.
            audio_features: (B, Tc + horizon, AUDIO_FEATURES), every frame's column from frame 0 on.
        Returns:
            (B, 1, horizon, H, W) logits: sigmoid gives the frames in [0, 1].
        """
        b, tc = context.shape[0], context.shape[2]
        c = self.encoder(rearrange(to_signed(context), "b 1 t h w -> b t h w"))  # (B, code_dim)
        a = self.audio(rearrange(audio_features, "b t f -> b f t"))[:, :, tc:]  # (B, audio_dim, horizon)
        horizon = a.shape[2]
        codes = torch.cat([repeat(c, "b d -> b t d", t=horizon), rearrange(a, "b d t -> b t d")], dim=-1)
        x = rearrange(self.inp(codes), "b t (d h w) -> (b t) d h w", h=4, w=4)  # a 4x4 map per frame
        return rearrange(self.decoder(x), "(b t) 1 h w -> b 1 t h w", b=b)


def build(config: Config) -> SoundToVideo:
    """A fresh model with PyTorch's default initialisation."""
    return SoundToVideo(config)


# --- the loss -----------------------------------------------------------------------------------

def frame_loss(logits: Tensor, future: Tensor) -> Tensor:
    """Per-pixel binary cross-entropy of the predicted future against the true one, (B, 1, T, H, W) each,
    averaged over pixels, frames and clips (intensities in [0, 1] serve as soft targets)."""
    return F.binary_cross_entropy_with_logits(logits, future)


def training_step(model: SoundToVideo, trainer: Trainer, batch: dict[str, Tensor]) -> dict[str, float]:
    """One Adam step on a batch {"video": (B, 1, T, H, W), "audio_features": (B, T, AUDIO_FEATURES)}."""
    video, k = batch["video"], model.config.context
    loss = frame_loss(model(video[:, :, :k], batch["audio_features"]), video[:, :, k:])
    trainer.update("model", loss)
    return {"bce": loss.item()}


# --- prediction ---------------------------------------------------------------------------------

def _check_inputs(config: Config, context: Tensor, horizon: int, audio_features: Tensor) -> None:
    """Raise a ValueError naming what ``predict`` expected, for a bad horizon, context or audio."""
    if horizon < 1:
        raise ValueError(f"horizon must be a positive number of frames to predict, got {horizon}.")
    validate_clip(context, channels=1, frame_size=config.frame_size, name="context")
    b, tc = context.shape[0], context.shape[2]
    if tc != config.context:
        raise ValueError(f"context must hold the model's {config.context} context frames, got {tc}.")
    expected = (b, tc + horizon, AUDIO_FEATURES)
    if not isinstance(audio_features, Tensor) or not audio_features.is_floating_point():
        raise ValueError(f"audio_features must be a float tensor {expected}, got "
                         f"{getattr(audio_features, 'dtype', type(audio_features).__name__)}.")
    if tuple(audio_features.shape) != expected:
        raise ValueError(f"audio_features must be (B, Tc + horizon, {AUDIO_FEATURES}) = {expected}: one "
                         f"column per frame from frame 0 on; got {tuple(audio_features.shape)}.")
    if not torch.isfinite(audio_features).all():
        raise ValueError("audio_features contains NaN or inf.")


def predict(model: SoundToVideo, context: Tensor, horizon: int, *, seed: int | None = None,
            audio_features: Tensor) -> Tensor:
    """The next ``horizon`` frames after ``context``, drawn from the audio of every frame.

    Args:
        context: (B, 1, Tc, H, W) in [0, 1] with Tc = ``config.context``; horizon: frames to predict (>= 1).
        seed: unused (the model is deterministic); there for the predictors' common API.
        audio_features: (B, Tc + horizon, AUDIO_FEATURES), as ``SoundingBalls`` gives them (or
            ``silence_like`` / ``shuffled_audio`` of them).
    Returns:
        (B, 1, horizon, H, W) in [0, 1], on the CPU.
    """
    _check_inputs(model.config, context, horizon, audio_features)
    dev = model_device(model)
    with eval_mode(model):
        return torch.sigmoid(model(context.to(dev), audio_features.to(dev))).cpu()


# --- the world, the held-out task, training and the shipped checkpoint --------------------------

def dataset(config: Config, split: str = "train", num_videos: int | None = None) -> SoundingBalls:
    """The sounding-balls world of ``config`` (``config.train_videos`` clips unless given)."""
    num_videos = config.train_videos if num_videos is None else num_videos
    return SoundingBalls(split, num_videos, config.num_frames, config.frame_size)


def prediction_task(model: SoundToVideo, n: int) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
    """``n`` held-out clips to continue: the context ``(n, 1, context, H, W)``, the true future
    ``(n, 1, horizon, H, W)`` and what ``predict`` needs: the ``audio_features`` ``(n, T, F)`` of every
    frame."""
    if n < 1:
        raise ValueError(f"n must be a positive number of clips, got {n}.")
    data, k = dataset(model.config, "test", n), model.config.context
    batch = default_collate([data[i] for i in range(n)])
    return batch["video"][:, :, :k], batch["video"][:, :, k:], {"audio_features": batch["audio_features"]}


def train(config: Config, steps: int | None = None, *, run_dir: str | Path | None = None, seed: int = 0,
          progress: bool = True, time_limit_s: float | None = None) -> tuple[SoundToVideo, dict[str, float]]:
    """Train on ``config.train_videos`` clips with Adam; returns the model (eval mode) and its training
    metrics (``final/bce``, ``steps``, ...). The clips are generated once and kept (without the waveforms)."""
    seed_everything(seed)
    model = build(config)
    data = dataset(config)
    clips = (data[i] for i in range(len(data)))
    kept = [{key: clip[key] for key in ("video", "audio_features")} for clip in clips]
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    return run(model, {"model": optimizer}, training_step, batches(kept, config.batch_size),
               config.steps if steps is None else steps, run_dir=run_dir, seed=seed, grad_clip=1.0,
               progress=progress, time_limit_s=time_limit_s)


def load_pretrained(device: torch.device | str | None = None, *,
                    path: str | Path | None = None) -> SoundToVideo:
    """The shipped checkpoint ``data/checkpoints/sound_to_video.pt``, checked against its card, in eval
    mode (none ships yet: until then this raises a FileNotFoundError that names the training command)."""
    return load_model("sound_to_video", Config, build, device, path)


__all__ = ["AUDIO_FEATURES", "Config", "SoundToVideo", "build", "dataset", "frame_loss", "load_pretrained",
           "predict", "prediction_task", "train", "training_step"]
