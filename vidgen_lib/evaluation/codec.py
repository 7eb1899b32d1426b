"""The learned codec's measurements: one point of the rate–distortion curve, with real bytes.

A codec's card holds the rate and the distortion of its decoder on held-out clips, measured as a codec
is used: the clips are compressed to a byte stream (:func:`vidgen_lib.models.codec.compress`), the bytes
are decoded back, and the decoder's clips are compared with the originals. Next to the real rate it
records the prior's estimate of it (the rate term the model was trained on), and whether decoding
returned the encoder's integers exactly. The classical baselines are in
:mod:`vidgen_lib.evaluation.coding`. Taught in ``notebooks/12_applications.ipynb``.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from vidgen_lib.evaluation.coding import (bits_per_pixel, intra_zlib, keyframe_residuals_zlib, psnr,
                                          rate_distortion)
from vidgen_lib.models import codec
from vidgen_lib.runtime import eval_mode

__all__ = ["BASELINE_LEVELS", "evaluate", "rate_at_psnr", "test_clips"]

#: quantisation levels of the classical baselines' rate–distortion curves, coarse to fine
BASELINE_LEVELS = (2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128, 256)


def test_clips(config: codec.Config, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` held-out clips of the codec's world, ``(n, 1, T, H, W)`` in [0, 1], the same for every seed's
    run of the same config (the test split is fixed; ``seed`` picks where in it to start)."""
    data = codec.dataset(config, "test", num_videos=n + seed)
    return torch.stack([data[i]["video"] for i in range(seed, seed + n)])


def rate_at_psnr(points: Sequence[tuple[float, float]], target_db: float) -> float:
    """The bits per pixel a codec needs for ``target_db`` of PSNR, read off its curve: ``points`` are its
    ``(bits per pixel, PSNR in dB)``, as :func:`~vidgen_lib.evaluation.coding.rate_distortion` returns them,
    joined by straight lines.

    Below the curve's coarsest point (for the classical codecs, two levels) the codec cannot go: its rate
    there is returned, a rate at which it already gives more than ``target_db``. Raises ValueError above
    the finest point.
    """
    points = sorted(points, key=lambda point: point[1])
    if target_db < points[0][1]:
        return points[0][0]
    for (rate_lo, db_lo), (rate_hi, db_hi) in zip(points, points[1:]):
        if db_lo <= target_db <= db_hi:
            return rate_lo + (rate_hi - rate_lo) * (target_db - db_lo) / (db_hi - db_lo)
    raise ValueError(f"{target_db:.2f} dB is above the curve (at most {points[-1][1]:.2f} dB).")


def evaluate(model: codec.VideoCodec, n: int, *, seed: int = 0) -> dict[str, float]:
    """The card's numbers on ``n`` held-out clips, all coded as one byte stream.

    Returns (keys ``metric/who``): ``bpp/codec`` (real bits per pixel of the stream), ``bpp_estimated/codec``
    (the prior's ``sum -log2 p``), ``psnr/codec`` (pooled over the clips, of what the decoder shows),
    ``exact_decode/codec`` (1.0 when the decoder's integers equal the encoder's), and the bits per pixel
    the two classical codecs need for the same PSNR on the same clips, ``bpp/intra_zlib`` and
    ``bpp/keyframe_residuals_zlib`` (see :func:`rate_at_psnr`).
    """
    videos = test_clips(model.config, n, seed)
    data, shape = codec.compress(model, videos)
    decoded = codec.decompress(model, data, shape).cpu()
    with eval_mode(model):  # what the decoder must show: the synthesis of the encoder's integers
        expected = model.decode_latents(codec.quantized_latents(model, videos)).cpu()
    quality = psnr(videos, decoded)
    baselines = {"intra_zlib": intra_zlib, "keyframe_residuals_zlib": keyframe_residuals_zlib}
    scores = {
        "eval_videos": n,
        "bpp/codec": round(bits_per_pixel(len(data), videos), 4),
        "bpp_estimated/codec": round(codec.estimated_bits(model, videos) / videos[:, 0].numel(), 4),
        "psnr/codec": round(quality, 3),
        "exact_decode/codec": float(torch.equal(decoded, expected)),
    }
    for name, baseline in baselines.items():  # the classical curves over BASELINE_LEVELS, at the same PSNR
        curve = rate_distortion(baseline, videos, BASELINE_LEVELS)
        scores[f"bpp/{name}"] = round(rate_at_psnr(curve, quality), 4)
    return scores
