"""Two toy worlds of the TD-VAE paper: a digit that shifts cyclically, and a noisy 1-D oscillator.

Gregor et al., "Temporal Difference Variational Auto-Encoder", ICLR 2019, Sec. 5:

- **shifting digits**: one 28x28 handwritten digit, binarised by sampling each pixel with its
  intensity as probability, rolled cyclically by one pixel to the left or to the right at every
  step, for 20 frames. The direction is drawn once per video. (Not Moving-MNIST: nothing bounces.)
- **noisy harmonic oscillator**: a 1-D signal ``A sin(phase_t)`` whose phase advances by a
  frequency ``omega`` plus a little noise at every step, observed with Gaussian noise.

Both are pure functions of ``(seed, split, index)`` like the rest of the video world: the same
item every time, train and test sprites never shared. Batched generators (``*_batch``) feed training.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from vidgen_lib.datasets.base import item_rng
from vidgen_lib.datasets.digits import load_digit_sprites

DIRECTIONS = {-1: "left", 1: "right"}


def roll_frames(sprites: Tensor, directions: Tensor, num_frames: int) -> Tensor:
    """Roll each sprite by ``direction * t`` pixels along the width, for t = 0 .. num_frames - 1.

    Args:
        sprites: (B, H, W) images.
        directions: (B,) integers, -1 (left) or +1 (right).
    Returns:
        (B, 1, T, H, W) video: frame t is ``torch.roll(sprite, direction * t, dims=-1)``.
    """
    b, h, w = sprites.shape
    t = torch.arange(num_frames)
    cols = torch.arange(w)
    # pixel x of frame t comes from column (x - d*t) mod W of the sprite
    source = (cols[None, None, :] - directions[:, None, None] * t[None, :, None]) % w  # (B, T, W)
    index = source[:, :, None, :].expand(b, num_frames, h, w)
    video = torch.gather(sprites[:, None].expand(b, num_frames, h, w), 3, index)
    return video[:, None]


class ShiftingDigits(Dataset):
    """One binarised digit rolling 1 pixel left or right per frame (TD-VAE, Sec. 5.2).

    Item ``i`` is a dict: ``video`` (1, T, 28, 28) in {0, 1}, ``label`` (digit class) and
    ``direction`` (-1 left, +1 right). Train videos use train sprites, test videos test sprites.
    """

    def __init__(self, split: str = "train", num_videos: int = 1000, num_frames: int = 20, seed: int = 0,
                 binarize: bool = True) -> None:
        self.split, self.num_videos, self.num_frames, self.seed, self.binarize = (
            split, num_videos, num_frames, seed, binarize)
        images, labels = load_digit_sprites(split)
        self.sprites, self.labels = torch.from_numpy(images), torch.from_numpy(labels)

    def __len__(self) -> int:
        return self.num_videos

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < self.num_videos:
            raise IndexError(f"index {index} out of range for {self.num_videos} videos")
        rng = item_rng(self.seed, self.split, index)
        k = int(rng.integers(len(self.sprites)))
        direction = int(rng.choice([-1, 1]))
        sprite = self.sprites[k]
        if self.binarize:
            sprite = torch.from_numpy((rng.random(sprite.shape) < sprite.numpy()).astype(np.float32))
        video = roll_frames(sprite[None], torch.tensor([direction]), self.num_frames)[0]
        return {"video": video, "label": int(self.labels[k]), "direction": direction}


def shifting_digit_batch(sprites: Tensor, n: int, num_frames: int = 20,
                         generator: torch.Generator | None = None, binarize: bool = True) -> Tensor:
    """A fresh random batch (n, 1, T, H, W) of shifting digits from ``sprites`` (N, H, W), for training."""
    k = torch.randint(len(sprites), (n,), generator=generator)
    chosen = sprites[k]
    if binarize:
        chosen = (torch.rand(chosen.shape, generator=generator) < chosen).float()
    directions = torch.randint(2, (n,), generator=generator) * 2 - 1
    return roll_frames(chosen, directions, num_frames)


def oscillator_batch(n: int, num_steps: int = 100, *, generator: torch.Generator | None = None,
                     omega_range: tuple[float, float] = (0.2, 0.4),
                     amplitude_range: tuple[float, float] = (0.5, 1.0),
                     phase_noise: float = 0.01, obs_noise: float = 0.05) -> dict[str, Tensor]:
    """Noisy 1-D harmonic oscillators (TD-VAE, Sec. 5.3): x_t = A sin(phase_t) + obs_noise * eps.

    phase_{t+1} = phase_t + omega + phase_noise * eps'. Returns ``x`` (n, T, 1) and the truth:
    ``clean`` (n, T, 1) = A sin(phase_t), ``omega`` (n,), ``amplitude`` (n,).
    """
    def uniform(lo: float, hi: float) -> Tensor:
        return lo + (hi - lo) * torch.rand(n, generator=generator)

    omega, amplitude = uniform(*omega_range), uniform(*amplitude_range)
    phase0 = uniform(0.0, 2 * math.pi)
    steps = omega[:, None] + phase_noise * torch.randn(n, num_steps, generator=generator)
    phase = phase0[:, None] + torch.cumsum(steps, dim=1) - steps[:, :1]  # phase_0 at t = 0
    clean = amplitude[:, None] * torch.sin(phase)
    x = clean + obs_noise * torch.randn(n, num_steps, generator=generator)
    return {"x": x[..., None], "clean": clean[..., None], "omega": omega, "amplitude": amplitude}


def fit_sinusoid(x: Tensor, omegas: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Least-squares fit of a sin(w t) + b cos(w t) + c to each row of x (n, T); returns (omega, amplitude).

    Tries every frequency on a grid (default 0.05 .. 0.8 rad/step) and keeps the best residual.
    """
    omegas = torch.linspace(0.05, 0.8, 301, dtype=torch.float64) if omegas is None else omegas
    x = x.double()
    t = torch.arange(x.shape[1], dtype=torch.float64)
    best_err = torch.full((x.shape[0],), math.inf, dtype=torch.float64)
    best_w, best_a = torch.zeros_like(best_err), torch.zeros_like(best_err)
    for w in omegas:
        basis = torch.stack([torch.sin(w * t), torch.cos(w * t), torch.ones_like(t)], dim=1)  # (T, 3)
        coef = torch.linalg.lstsq(basis, x.T).solution  # (3, n)
        err = ((basis @ coef - x.T) ** 2).sum(0)
        better = err < best_err
        best_err = torch.where(better, err, best_err)
        best_w = torch.where(better, w, best_w)
        best_a = torch.where(better, coef[:2].norm(dim=0), best_a)
    return best_w.float(), best_a.float()
