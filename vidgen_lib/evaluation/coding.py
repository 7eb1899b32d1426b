"""Classical baselines for a learned video codec, and the two numbers of a rate–distortion curve.

A codec is judged by two numbers: its rate, the bits it writes per pixel (:func:`bits_per_pixel`), and its
distortion, the PSNR of what the decoder shows against the original clip (:func:`psnr`). Two classical
codecs, both quantising pixels to ``levels`` uniform levels and compressing the level indices with
``zlib``, give the points a learned codec has to beat:

- :func:`intra_zlib` codes every frame on its own;
- :func:`keyframe_residuals_zlib` codes the first frame the same way and every later frame as its
  difference from the previous frame *as the decoder reconstructed it* (closed-loop prediction, as in
  every video codec since H.261), so quantisation errors never pile up over time.

Both really write the bytes and really decode them: the reconstruction they return is the decoder's.
Videos are ``(B, C, T, H, W)`` or one clip ``(C, T, H, W)``, floats in [0, 1].
"""
from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence

import numpy as np
import torch
from einops import rearrange
from torch import Tensor

from vidgen_lib import metrics
from vidgen_lib.video import validate_video

#: A codec: (videos, setting) -> (number of bytes written, the decoder's reconstruction).
Codec = Callable[[Tensor, int], tuple[int, Tensor]]


def _as_batch(video: Tensor) -> Tensor:
    """One clip ``(C, T, H, W)`` or videos ``(B, C, T, H, W)`` -> ``(B, C, T, H, W)``, checked."""
    batch = video[None] if isinstance(video, Tensor) and video.ndim == 4 else video
    validate_video(batch)
    return batch


def bits_per_pixel(num_bytes: int, video: Tensor) -> float:
    """The rate: ``8 * num_bytes`` spread over every pixel of every frame, ``B * T * H * W`` of them."""
    batch = _as_batch(video)
    return 8 * num_bytes / (batch.shape[0] * batch.shape[2] * batch.shape[3] * batch.shape[4])


def psnr(reference: Tensor, reconstruction: Tensor) -> float:
    """The distortion: PSNR in dB of the mean squared error over the whole clip (all clips, all frames),
    ``10 log10(1 / MSE)``; ``inf`` for a perfect reconstruction."""
    return metrics.psnr(_as_batch(reconstruction), _as_batch(reference), reduction="pooled").item()


def _check_levels(levels: int) -> None:
    if not isinstance(levels, int) or not 2 <= levels <= 256:
        raise ValueError(f"levels must be an integer in 2..256 (indices are stored as bytes), "
                         f"got {levels!r}.")


def intra_zlib(video: Tensor, levels: int) -> tuple[int, Tensor]:
    """Each frame on its own: pixel values -> the nearest of ``levels`` uniform levels in [0, 1] -> their
    indices as bytes -> ``zlib`` (level 9).

    Returns: the number of bytes written, and the decoder's reconstruction (the shape of ``video``).
    """
    _check_levels(levels)
    batch = _as_batch(video)
    indices = torch.round(batch * (levels - 1)).to(torch.uint8).numpy()
    frames = rearrange(indices, "b c t h w -> (b t) c h w")
    streams = [zlib.compress(frame.tobytes(), 9) for frame in frames]
    # the decoder: bytes -> indices -> values
    decoded = np.stack([np.frombuffer(zlib.decompress(s), np.uint8) for s in streams]).reshape(frames.shape)
    decoded = rearrange(decoded, "(b t) c h w -> b c t h w", b=batch.shape[0])
    reconstruction = torch.from_numpy(decoded).float() / (levels - 1)
    return sum(map(len, streams)), reconstruction.reshape(video.shape)


def _decode_frame(stream: bytes, reference: np.ndarray | None, levels: int) -> np.ndarray:
    """The decoder's step: a frame's level indices from its bytes and the previous decoded frame's."""
    payload = np.frombuffer(zlib.decompress(stream), np.uint8).reshape(-1).astype(np.int64)
    if reference is None:  # a keyframe: the indices themselves
        return payload
    return (reference + payload) % levels  # undoes the residual's wrap-around into 0..levels-1


def keyframe_residuals_zlib(video: Tensor, levels: int) -> tuple[int, Tensor]:
    """The first frame as in :func:`intra_zlib`; every later frame as the quantised residual from the
    previous frame as the decoder reconstructed it (closed loop), its indices compressed with ``zlib``.

    Returns: the number of bytes written, and the decoder's reconstruction (the shape of ``video``).
    """
    _check_levels(levels)
    batch = _as_batch(video)
    num_bytes, decoded = 0, []
    for clip in batch:  # (C, T, H, W)
        reference = None  # the decoder's previous frame, level indices (C·H·W,)
        for frame in rearrange(clip, "c t h w -> t (c h w)"):
            if reference is None:
                payload = torch.round(frame * (levels - 1))
            else:  # the residual, quantised to the same steps; mod `levels` keeps it in one byte
                payload = torch.round(frame * (levels - 1) - torch.from_numpy(reference)) % levels
            stream = zlib.compress(payload.to(torch.uint8).numpy().tobytes(), 9)
            num_bytes += len(stream)
            # closed loop: the next residual is taken from what the decoder will have, not from the original
            reference = _decode_frame(stream, reference, levels)
            decoded.append(reference)
    frames = torch.from_numpy(np.stack(decoded)).float() / (levels - 1)  # (B·T, C·H·W)
    reconstruction = rearrange(frames, "(b t) (c h w) -> b c t h w", b=batch.shape[0], c=batch.shape[1],
                               h=batch.shape[3])
    return num_bytes, reconstruction.reshape(video.shape)


def rate_distortion(codec_fn: Codec, videos: Tensor, settings: Sequence[int]) -> list[tuple[float, float]]:
    """One point ``(bits per pixel, PSNR in dB)`` of ``codec_fn`` on ``videos`` per setting, in order.

    >>> rate_distortion(intra_zlib, clips, [4, 16, 64])  # doctest: +SKIP
    """
    points = []
    for setting in settings:
        num_bytes, reconstruction = codec_fn(videos, setting)
        points.append((bits_per_pixel(num_bytes, videos), psnr(videos, reconstruction)))
    return points
