"""The protocols behind every table of the course: videos in, the course's features, metrics out.

:mod:`vidgen_lib.metrics` holds the maths on features; this module runs the networks that make the
features (the course's toy-world video classifier by default, :mod:`~vidgen_lib.features`)
and the protocol a generator's model card follows (:func:`generator_scores`): the samples' scores next
to the baselines', at one N, against one reference set.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from einops import rearrange
from torch import Tensor

import vidgen_lib
from vidgen_lib import models
from vidgen_lib import features
from vidgen_lib.metrics import acd, baseline_videos, frame_differences, fvd_from_features, kvd
from vidgen_lib.video import validate_video

Extractor = Callable[[Tensor], Tensor]


def _default_extractor() -> Extractor:
    """The course's toy-world video features (loaded on first use; see ``vidgen_lib.features``)."""
    model = features.load_features()
    return lambda videos: features.video_features(videos, model)


def _extract_features(
    videos: Tensor, extractor: Extractor | None, batch_size: int, name: str
) -> Tensor:
    """Run ``extractor`` over ``(N, C, T, H, W)`` videos in batches; returns ``(N, D)`` on CPU."""
    extractor = extractor or _default_extractor()
    chunks = []
    with torch.no_grad():
        for batch in videos.split(batch_size):
            feats = extractor(batch)
            if not isinstance(feats, Tensor) or feats.ndim != 2 or feats.shape[0] != batch.shape[0]:
                shape = tuple(feats.shape) if isinstance(feats, Tensor) else type(feats).__name__
                raise ValueError(
                    f"extractor must map {name} of shape (B, C, T, H, W) to features (B, D); "
                    f"for B={batch.shape[0]} it returned {shape}."
                )
            chunks.append(feats.detach().cpu())
    return torch.cat(chunks)


def embed_videos(videos: Tensor, extractor: Extractor | None = None, batch_size: int = 64) -> Tensor:
    """Features of videos, the input of FVD and KVD; compute them once to compare a set many times.

    Args:
        videos: ``(N, C, T, H, W)`` videos in [0, 1].
        extractor: callable mapping ``(B, C, T, H, W)`` videos to ``(B, D)`` features; ``None``
            uses the course's toy-world video features (``vidgen_lib.features.video_features``).
        batch_size: videos per call to ``extractor``.

    Returns:
        ``(N, D)`` features on the CPU.
    """
    validate_video(videos, "videos")
    return _extract_features(videos, extractor, batch_size, "videos")


def _embed_pair(real_videos: Tensor, fake_videos: Tensor, extractor: Extractor | None,
                batch_size: int) -> tuple[Tensor, Tensor]:
    """Both sets checked (same C, T, H, W) and embedded by one extractor: ``(N_real, D)``, ``(N_fake, D)``."""
    _check_video_sets(real_videos, fake_videos)
    extractor = extractor or _default_extractor()
    return (_extract_features(real_videos, extractor, batch_size, "real_videos"),
            _extract_features(fake_videos, extractor, batch_size, "fake_videos"))


def fvd(
    real_videos: Tensor,
    fake_videos: Tensor,
    extractor: Extractor | None = None,
    batch_size: int = 64,
) -> float:
    """Fréchet Video Distance between two sets of videos, through a video feature network.

    Both sets go through ``extractor`` in batches under ``torch.no_grad()``; Gaussians are fitted
    to the features and compared with ``frechet_distance``. The FVD paper uses the 400 logits of
    an I3D network trained on Kinetics-400 (``vidgen_lib.evaluation.i3d.I3DFeatures`` runs one you have
    on disk). By default the course uses its own small classifier of the video world, so its
    values are a *toy-world FVD*, not comparable to published numbers.

    FVD depends on N: with few videos the covariances are noisy and the distance is biased
    upwards (two sets of real videos do not score 0). Compare two FVDs only at equal N.

    Args:
        real_videos: ``(N_real, C, T, H, W)`` real videos in [0, 1].
        fake_videos: ``(N_fake, C, T, H, W)`` generated videos in [0, 1], same C, T, H, W.
        extractor: callable mapping ``(B, C, T, H, W)`` videos to ``(B, D)`` features; it moves
            its input to its own device if needed. ``None``: the course's toy-world features.
        batch_size: videos per call to ``extractor``.

    Returns:
        The FVD as a float.

    Raises:
        ValueError: if a video tensor is invalid, or the two sets have different clip shapes.
        FileNotFoundError: if ``extractor`` is None and the feature network is not in
            ``data/checkpoints`` (the message gives the command that trains it).
    """
    return fvd_from_features(*_embed_pair(real_videos, fake_videos, extractor, batch_size))


def _check_video_sets(real_videos: Tensor, fake_videos: Tensor) -> None:
    """Validate two video sets that will be compared: same (C, T, H, W), any N."""
    validate_video(real_videos, "real_videos")
    validate_video(fake_videos, "fake_videos")
    if real_videos.shape[1:] != fake_videos.shape[1:]:
        raise ValueError(
            f"real_videos {tuple(real_videos.shape)} and fake_videos {tuple(fake_videos.shape)} "
            "must share (C, T, H, W); only N may differ."
        )


def kvd_videos(
    real_videos: Tensor,
    fake_videos: Tensor,
    extractor: Extractor | None = None,
    batch_size: int = 64,
    **kvd_options,
) -> float:
    """KVD between two sets of videos, through a video feature network (like ``fvd``).

    Args:
        real_videos: ``(N_real, C, T, H, W)`` real videos in [0, 1].
        fake_videos: ``(N_fake, C, T, H, W)`` generated videos in [0, 1], same C, T, H, W.
        extractor: callable mapping ``(B, C, T, H, W)`` to ``(B, D)``; ``None``: the course's
            toy-world video features.
        batch_size: videos per call to ``extractor``.
        **kvd_options: passed to ``kvd`` (``degree``, ``gamma``, ``subset_size`` ...).

    Returns:
        The unbiased MMD² between the two sets' features.
    """
    return kvd(*_embed_pair(real_videos, fake_videos, extractor, batch_size), **kvd_options)


def acd_videos(videos: Tensor, frame_feature_fn: Callable[[Tensor], Tensor] | None = None) -> float:
    """ACD of videos, with content features from a per-frame network.

    Args:
        videos: ``(N, C, T, H, W)`` videos in [0, 1], T >= 2.
        frame_feature_fn: callable mapping frames ``(B, C, H, W)`` to features ``(B, D)``;
            called once on all N·T frames under ``torch.no_grad()``. ``None``: the identity
            features of the course's feature network (``vidgen_lib.features.frame_features``,
            trained to name the digit, or the shape and colour, in every frame).

    Returns:
        The ACD as a float (see ``acd``).
    """
    validate_video(videos, "videos")
    if frame_feature_fn is None:
        return acd(features.frame_features(videos))
    n = videos.shape[0]
    frames = rearrange(videos, "n c t h w -> (n t) c h w")
    with torch.no_grad():
        feats = frame_feature_fn(frames)
    if not isinstance(feats, Tensor) or feats.ndim != 2 or feats.shape[0] != frames.shape[0]:
        shape = tuple(feats.shape) if isinstance(feats, Tensor) else type(feats).__name__
        raise ValueError(
            f"frame_feature_fn must map (B, C, H, W) frames to (B, D); got {shape} for B={frames.shape[0]}."
        )
    return acd(rearrange(feats, "(n t) d -> n t d", n=n))


def evaluate_generator(
    fake_videos: Tensor,
    real_videos: Tensor,
    extractor: Extractor | None = None,
    frame_feature_fn: Callable[[Tensor], Tensor] | None = None,
    real_features: Tensor | None = None,
    batch_size: int = 64,
) -> dict[str, float]:
    """Measure a set of videos (a model's samples or a baseline) against real videos, one protocol.

    FVD and KVD compare the two sets in the video feature space; ACD looks at the fake videos
    alone (their content consistency over time). Use the same N for every row of a table.

    Args:
        fake_videos: ``(N, C, T, H, W)`` videos to judge, in [0, 1].
        real_videos: ``(N_real, C, T, H, W)`` reference videos, in [0, 1].
        extractor: video feature network (``None``: the course's toy-world features).
        frame_feature_fn: per-frame content features for ACD, frames ``(B, C, H, W)`` to
            ``(B, D)`` (``None``: the course's per-frame identity features).
        real_features: ``(N_real, D)`` features of ``real_videos`` if already computed
            (saves embedding the reference again for every row).
        batch_size: videos per forward pass.

    Returns:
        ``{"n": N, "fvd": ..., "kvd": ..., "acd": ...}``.
    """
    _check_video_sets(real_videos, fake_videos)
    if extractor is None and frame_feature_fn is None:  # the course's own network: one pass for both
        fake_features, fake_frame_features = features.video_and_frame_features(fake_videos,
                                                                               batch_size=batch_size)
        content = acd(fake_frame_features)
    else:
        fake_features = _extract_features(fake_videos, extractor, batch_size, "fake_videos")
        content = acd_videos(fake_videos, frame_feature_fn)
    if real_features is None:
        real_features = _extract_features(real_videos, extractor, batch_size, "real_videos")
    return {
        "n": fake_videos.shape[0],
        "fvd": fvd_from_features(real_features, fake_features),
        "kvd": kvd(real_features, fake_features),
        "acd": content,
    }


def evaluate_models(
    real_videos: Tensor,
    names: Sequence[str] | None = None,
    seed: int = 0,
    real_features: Tensor | None = None,
    extractor: Extractor | None = None,
    frame_feature_fn: Callable[[Tensor], Tensor] | None = None,
) -> dict[str, dict[str, float] | str]:
    """Every registered generator whose checkpoint is shipped, measured like the baselines.

    Each model draws as many samples as there are real videos (same N), with a fixed seed.

    Args:
        real_videos: ``(N, C, T, H, W)`` reference videos in [0, 1].
        names: models to try (default: ``vidgen_lib.models.available()``).
        seed: seed of the samples.
        real_features: features of ``real_videos`` if already computed.
        extractor, frame_feature_fn: as for ``evaluate_generator`` (``None``: the course's own).

    Returns:
        ``{name: {"n", "fvd", "kvd", "acd"}}`` for the models measured, and ``{name: reason}`` (a
        string) for those skipped: no checkpoint yet, a predictor, a codec, or samples of another shape.
    """
    results: dict[str, dict[str, float] | str] = {}
    for name in models.available() if names is None else names:
        if not (vidgen_lib.CHECKPOINT_DIR / f"{name}.pt").exists():
            results[name] = "no checkpoint yet"
            continue
        module = models.get(name)
        if hasattr(module, "compress"):
            results[name] = "a codec: measured in its own chapter (bits per pixel and PSNR)"
            continue
        if not hasattr(module, "sample"):
            results[name] = "a predictor: measured in its own chapter (PSNR, SSIM or nats/frame)"
            continue
        model = module.load_pretrained()
        clip_shape = module.sample(model, 1, seed=seed).shape[1:]  # one clip first: a model of another world
        if clip_shape != real_videos.shape[1:]:  # is skipped at the cost of one clip, not N
            results[name] = (f"samples {tuple(clip_shape)} differ from the reference "
                             f"{tuple(real_videos.shape[1:])}")
            continue
        samples = module.sample(model, real_videos.shape[0], seed=seed).cpu()
        results[name] = evaluate_generator(samples, real_videos, extractor, frame_feature_fn, real_features)
    return results


def generator_scores(samples: Tensor, reference: Tensor, others: Tensor, *, name: str = "model",
                     seed: int = 0) -> dict[str, float]:
    """The numbers a generator's model card records: its scores next to the baselines', one protocol.

    Every distance is against the same ``reference`` clips; the baselines are built from ``others``
    (real clips disjoint from the reference). Keys are ``score/row``, the row being ``name`` (the
    samples), ``real`` (the other real clips: the floor at this N), ``static``, ``shuffled`` or ``noise``:

    - ``fvd``: the toy-world FVD, Fréchet distance of the video features;
    - ``fvd_motion``: the same distance on the clips' frame differences (``metrics.frame_differences``):
      it can credit motion, which ``fvd`` barely does (a real frame frozen for 16 frames scores well
      on ``fvd`` and worst of all here);
    - ``fd_frames``: the Fréchet distance of the per-frame identity features of all frames, an FID
      of single frames: appearance alone, blind to motion;
    - ``acd``: the average content distance, of the samples and of the other real clips only.

    Use the same N for all three sets: every one of these distances shrinks as N grows.

    Args:
        samples: ``(N, C, T, H, W)`` generated clips in [0, 1].
        reference: ``(N, C, T, H, W)`` real test clips in [0, 1].
        others: ``(N, C, T, H, W)`` other real clips in [0, 1].
        name: the samples' row (the model's name in its card).
        seed: seed of the shuffled and noise baselines.

    Returns:
        the scores above, rounded (distances to 2 decimals, ACD to 4), and ``eval_videos`` (N).
    """
    def embed(videos: Tensor) -> tuple[Tensor, Tensor, Tensor]:  # video, motion and frame features
        video, frames = features.video_and_frame_features(videos)
        return video, embed_videos(frame_differences(videos)), rearrange(frames, "n t d -> (n t) d")

    ref_video, ref_motion, ref_frames = embed(reference)
    rows = {name: samples, "real": others,
            **baseline_videos(others, generator=torch.Generator().manual_seed(seed))}
    result: dict[str, float] = {}
    for row, videos in rows.items():
        video, motion, frames = embed(videos)
        result[f"fvd/{row}"] = round(fvd_from_features(ref_video, video), 2)
        result[f"fvd_motion/{row}"] = round(fvd_from_features(ref_motion, motion), 2)
        result[f"fd_frames/{row}"] = round(fvd_from_features(ref_frames, frames), 2)
    result[f"acd/{name}"] = round(acd_videos(samples), 4)
    result["acd/real"] = round(acd_videos(others), 4)
    return {**result, "eval_videos": samples.shape[0]}


BASELINE_ROWS = {"real (other clips)": "real", "static": "static", "shuffled": "shuffled", "noise": "noise"}
SCORES = ("fvd", "fvd_motion", "fd_frames", "acd")


def card_rows(scores: dict[str, float], name: str) -> dict[str, dict[str, float]]:
    """The rows of a ``generator_scores`` result (a model card's metrics): the baselines, then the model
    ``name``. Each row maps a score (``fvd``, ``fvd_motion``, ``fd_frames``, ``acd``) to its value; a
    score a row does not have is left out (the card records ACD for real clips only)."""
    labels = {**BASELINE_ROWS, name: name}
    return {label: {k: scores[f"{k}/{row}"] for k in SCORES if f"{k}/{row}" in scores}
            for label, row in labels.items()}


def scores_table(rows: dict[str, dict[str, float]], columns: dict[str, str], width: int = 22) -> str:
    """A plain-text table: one line per row, one column per ``{title: score name}``, "—" where a row
    has none."""
    lines = [" " * width + "".join(f"{title:>12}" for title in columns)]
    for label, row in rows.items():
        cells = "".join(f"{row[key]:12.2f}" if key in row else f"{'—':>12}" for key in columns.values())
        lines.append(f"{label:{width}}" + cells)
    return "\n".join(lines)
