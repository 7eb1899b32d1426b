"""How good is a generated video? Distances between distributions, per-frame fidelity, baselines.

Three families of numbers, all taught in the evaluation notebook:

* **Distribution distances** between features of real and generated videos: the Fréchet Video
  Distance (FVD) and its kernel companion KVD (Unterthiner et al., "Towards Accurate Generative
  Models of Video: A New Metric & Challenges", arXiv 1812.01717, 2018). Both depend on the number
  of videos N, so two values can only be compared at equal N.
* **Per-frame fidelity** of a prediction against the true future: PSNR and SSIM (Wang, Bovik,
  Sheikh, Simoncelli, "Image Quality Assessment: From Error Visibility to Structural Similarity",
  IEEE TIP 2004), plus likelihood units (nats/frame, bits/dim) for models that have a likelihood,
  and MoCoGAN's average content distance (ACD, Tulyakov et al., CVPR 2018).
* **Baselines** produced as videos (static, shuffled, noise, copy-last-frame) and corruptions
  (noise, frame shuffling), so every number can sit next to a reference measured the same way.

Videos are ``(N, C, T, H, W)`` float tensors in [0, 1]; ``validate_video`` checks that at every
entry point. Feature networks are callables from videos ``(B, C, T, H, W)`` to features ``(B, D)``;
by default FVD and KVD use the course's toy-world video classifier and ACD its per-frame identity
features (``vidgen_lib.features``): numbers that rank models of this world, not comparable with
published I3D-based FVDs. ``evaluate_generator`` measures any set of videos (a model's samples
or a baseline) the same way.
"""
from __future__ import annotations

import math
import warnings
from typing import Callable, Sequence

import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import Tensor

__all__ = [
    "validate_video",
    "gaussian_stats",
    "frechet_distance",
    "frechet_distance_diagonal",
    "fvd_from_features",
    "fvd",
    "embed_videos",
    "kvd",
    "kvd_videos",
    "psnr",
    "ssim",
    "nats_per_frame",
    "bits_per_dim",
    "acd",
    "acd_videos",
    "static_baseline",
    "shuffled_baseline",
    "noise_baseline",
    "copy_last_frame",
    "add_noise",
    "shuffle_frames",
    "baseline_videos",
    "evaluate_generator",
    "evaluate_models",
    "generator_scores",
]

ArrayLike = np.ndarray | Tensor
RANGE_TOLERANCE = 1e-6


# ----------------------------------------------------------------------------------------------
# Input checks
# ----------------------------------------------------------------------------------------------
def validate_video(x: Tensor, name: str = "video") -> None:
    """Check that ``x`` is a video as the course defines it, or raise a helpful ``ValueError``.

    Args:
        x: the tensor to check; expected ``(N, C, T, H, W)``, floating point, values in [0, 1]
            (up to a tolerance of 1e-6 for round-off).
        name: what to call ``x`` in the error message (e.g. ``"real_videos"``).

    Raises:
        ValueError: if ``x`` is not a tensor, has the wrong number of dimensions, an integer or
            boolean dtype, is empty, holds NaN/inf, or has values outside [0, 1].
    """
    expected = "a float tensor of shape (N, C, T, H, W) with values in [0, 1]"
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be {expected}; got a {type(x).__name__}.")
    if x.ndim != 5:
        raise ValueError(f"{name} must be {expected}; got {x.ndim} dimensions, shape {tuple(x.shape)}.")
    if not x.is_floating_point():
        raise ValueError(
            f"{name} must be {expected}; got dtype {x.dtype}. "
            "Convert uint8 frames with x.float() / 255."
        )
    if x.numel() == 0:
        raise ValueError(f"{name} must be {expected}; got an empty tensor of shape {tuple(x.shape)}.")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} must be {expected}; it contains NaN or inf.")
    low, high = x.min().item(), x.max().item()
    if low < -RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        hint = ""
        if low >= -1 - RANGE_TOLERANCE and high <= 1 + RANGE_TOLERANCE:
            hint = " It looks like [-1, 1]: convert with (x + 1) / 2."
        raise ValueError(f"{name} must be {expected}; got values in [{low:.4g}, {high:.4g}].{hint}")


def _as_float64(x: ArrayLike) -> np.ndarray:
    """A NumPy float64 copy of an array or tensor (statistics are computed in double precision)."""
    if isinstance(x, Tensor):
        x = x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


def _check_features(features: ArrayLike, name: str, min_samples: int = 2) -> Tensor:
    """Check a ``(N, D)`` feature matrix and return it as a float64 CPU tensor."""
    if isinstance(features, np.ndarray):
        features = torch.from_numpy(features)
    if not isinstance(features, Tensor) or features.ndim != 2:
        shape = tuple(features.shape) if hasattr(features, "shape") else type(features).__name__
        raise ValueError(f"{name} must be a (N, D) feature matrix; got {shape}.")
    if features.shape[0] < min_samples:
        raise ValueError(
            f"{name} needs at least {min_samples} samples (rows) to estimate its statistics; "
            f"got N={features.shape[0]} (shape {tuple(features.shape)})."
        )
    features = features.detach().cpu().double()
    if not torch.isfinite(features).all():
        raise ValueError(f"{name} contains NaN or inf.")
    return features


# ----------------------------------------------------------------------------------------------
# Fréchet distance and FVD
# ----------------------------------------------------------------------------------------------
def gaussian_stats(features: ArrayLike) -> tuple[Tensor, Tensor]:
    """Fit a Gaussian to features: their mean and (unbiased) covariance.

    The covariance has D(D+1)/2 free numbers, so it is only well estimated when N is well above D
    (thousands of videos for D = 400 in the FVD paper). With N <= D it is rank-deficient; the
    Fréchet distance still returns a finite number, but one that is dominated by sampling noise.

    Args:
        features: ``(N, D)`` features, one row per video; N >= 2.

    Returns:
        ``(mu, sigma)``: the mean ``(D,)`` and covariance ``(D, D)``, both float64 tensors.

    Raises:
        ValueError: if ``features`` is not 2-D or has fewer than 2 rows.
    """
    features = _check_features(features, "features")
    mu = features.mean(dim=0)
    sigma = torch.cov(features.T)  # rows of features.T are variables; divides by N - 1
    return mu, sigma.reshape(mu.numel(), mu.numel())  # keeps (1, 1) when D = 1


def _sqrtm(a: np.ndarray) -> tuple[np.ndarray, bool]:
    """Matrix square root of ``a`` and whether it is trustworthy (finite and ``root @ root ≈ a``)."""
    with warnings.catch_warnings():
        # SciPy warns on singular input; we check the result ourselves and retry instead.
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        root = scipy.linalg.sqrtm(a)
    if not np.isfinite(root).all():
        return root, False
    residual = np.linalg.norm(root @ root - a)
    return root, bool(residual <= 1e-3 * np.linalg.norm(a))


def _imaginary_ratio(root: np.ndarray) -> float:
    """Largest imaginary part of a matrix relative to its largest real part (0 for a real matrix)."""
    if not np.iscomplexobj(root):
        return 0.0
    return float(np.abs(root.imag).max() / max(np.abs(root.real).max(), np.finfo(np.float64).tiny))


def frechet_distance(
    mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike, eps: float = 1e-6
) -> float:
    """Fréchet (2-Wasserstein) distance between two Gaussians N(mu1, sigma1) and N(mu2, sigma2).

    d² = ‖μ1 − μ2‖² + Tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^{1/2})      (FVD paper, Eq. 1)

    Computed in float64 with ``scipy.linalg.sqrtm``. If the product Σ1 Σ2 is (near) singular (as
    with fewer samples N than feature dimensions D) and its square root comes out non-finite,
    inaccurate or with a large imaginary part, ``eps * I`` is added to both covariances and the
    root is taken again. Σ1 Σ2 has real, non-negative eigenvalues, so any imaginary part of the
    root is round-off: a tiny one is dropped; one that stays large after the retry raises.

    Args:
        mu1: mean of the first Gaussian, ``(D,)``; NumPy array or tensor.
        sigma1: covariance of the first Gaussian, ``(D, D)``.
        mu2: mean of the second Gaussian, ``(D,)``.
        sigma2: covariance of the second Gaussian, ``(D, D)``.
        eps: the ridge added to both covariances on the retry.

    Returns:
        The squared Fréchet distance d² (a float >= 0; FVD reports this value, without a root).

    Raises:
        ValueError: if the shapes do not match, or if the matrix square root has a large
            imaginary part (usually a covariance that is not symmetric positive semi-definite).
    """
    mu1, mu2 = _as_float64(mu1), _as_float64(mu2)
    sigma1, sigma2 = _as_float64(sigma1), _as_float64(sigma2)
    d = mu1.shape[0] if mu1.ndim == 1 else -1
    if mu1.ndim != 1 or mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(
            "frechet_distance expects mu1, mu2 of shape (D,) and sigma1, sigma2 of shape (D, D); got "
            f"mu1 {mu1.shape}, sigma1 {sigma1.shape}, mu2 {mu2.shape}, sigma2 {sigma2.shape}."
        )

    covmean, ok = _sqrtm(sigma1 @ sigma2)
    if not ok or _imaginary_ratio(covmean) > 1e-3:  # near-singular product: regularise, try again
        ridge = eps * np.eye(d)
        covmean, ok = _sqrtm((sigma1 + ridge) @ (sigma2 + ridge))
        if not ok:
            raise ValueError(
                f"frechet_distance: (sigma1 @ sigma2)^(1/2) is not finite even with eps={eps} added; "
                "check the covariances for NaN/inf or try a larger eps."
            )
    if np.iscomplexobj(covmean):
        if _imaginary_ratio(covmean) > 1e-3:
            raise ValueError(
                f"frechet_distance: the square root of sigma1 @ sigma2 has a large imaginary part "
                f"({np.abs(covmean.imag).max():.3g} vs real scale {np.abs(covmean.real).max():.3g}). "
                "Covariances must be symmetric positive semi-definite; were they estimated from "
                "enough samples, in float64?"
            )
        covmean = covmean.real  # tiny imaginary round-off

    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean)
    return max(float(value), 0.0)  # round-off can push an exact 0 slightly below zero


def frechet_distance_diagonal(
    mu1: ArrayLike, var1: ArrayLike, mu2: ArrayLike, var2: ArrayLike
) -> float:
    """Fréchet distance between two Gaussians with *diagonal* covariances, in closed form.

    With Σ = diag(σ²) the matrices commute and (Σ1 Σ2)^{1/2} = diag(σ1 σ2), so
    d² = ‖μ1 − μ2‖² + Σ_i (σ1_i − σ2_i)²: the mean gap plus the gap in standard deviations.

    Args:
        mu1: mean of the first Gaussian, ``(D,)``.
        var1: variances (diagonal of Σ1), ``(D,)``, all >= 0.
        mu2: mean of the second Gaussian, ``(D,)``.
        var2: variances of the second Gaussian, ``(D,)``, all >= 0.

    Returns:
        The squared Fréchet distance d² as a float.

    Raises:
        ValueError: if the shapes differ or a variance is negative.
    """
    mu1, var1 = _as_float64(mu1), _as_float64(var1)
    mu2, var2 = _as_float64(mu2), _as_float64(var2)
    if mu1.ndim != 1 or not (mu1.shape == var1.shape == mu2.shape == var2.shape):
        raise ValueError(
            "frechet_distance_diagonal expects four (D,) vectors; got "
            f"mu1 {mu1.shape}, var1 {var1.shape}, mu2 {mu2.shape}, var2 {var2.shape}."
        )
    if (var1 < 0).any() or (var2 < 0).any():
        raise ValueError("frechet_distance_diagonal: variances must be >= 0.")
    diff = mu1 - mu2
    std_gap = np.sqrt(var1) - np.sqrt(var2)
    return float(diff @ diff + std_gap @ std_gap)


def fvd_from_features(feats_real: ArrayLike, feats_fake: ArrayLike) -> float:
    """Fréchet distance between Gaussians fitted to real and generated features.

    FVD is a biased estimator whose value shrinks as N grows: compare two FVDs only when both
    were computed with the same number of videos (and the same feature network).

    Args:
        feats_real: ``(N_real, D)`` features of real videos.
        feats_fake: ``(N_fake, D)`` features of generated videos.

    Returns:
        The Fréchet distance (FVD when the features come from a video network).

    Raises:
        ValueError: if either matrix is not 2-D with N >= 2, or the feature sizes D differ.
    """
    feats_real = _check_features(feats_real, "feats_real")
    feats_fake = _check_features(feats_fake, "feats_fake")
    if feats_real.shape[1] != feats_fake.shape[1]:
        raise ValueError(
            f"feats_real {tuple(feats_real.shape)} and feats_fake {tuple(feats_fake.shape)} "
            "must have the same feature size D."
        )
    mu_real, sigma_real = gaussian_stats(feats_real)
    mu_fake, sigma_fake = gaussian_stats(feats_fake)
    return frechet_distance(mu_real, sigma_real, mu_fake, sigma_fake)


Extractor = Callable[[Tensor], Tensor]


def _default_extractor() -> Extractor:
    """The course's toy-world video features (loaded on first use; see ``vidgen_lib.features``)."""
    from vidgen_lib import features  # imported here: features builds on this module

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


def fvd(
    real_videos: Tensor,
    fake_videos: Tensor,
    extractor: Extractor | None = None,
    batch_size: int = 64,
) -> float:
    """Fréchet Video Distance between two sets of videos, through a video feature network.

    Both sets go through ``extractor`` in batches under ``torch.no_grad()``; Gaussians are fitted
    to the features and compared with ``frechet_distance``. The FVD paper uses the 400 logits of
    an I3D network trained on Kinetics-400 (``vidgen_lib.features.I3DFeatures`` runs one you have
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
    _check_video_sets(real_videos, fake_videos)
    extractor = extractor or _default_extractor()
    feats_real = _extract_features(real_videos, extractor, batch_size, "real_videos")
    feats_fake = _extract_features(fake_videos, extractor, batch_size, "fake_videos")
    return fvd_from_features(feats_real, feats_fake)


def _check_video_sets(real_videos: Tensor, fake_videos: Tensor) -> None:
    """Validate two video sets that will be compared: same (C, T, H, W), any N."""
    validate_video(real_videos, "real_videos")
    validate_video(fake_videos, "fake_videos")
    if real_videos.shape[1:] != fake_videos.shape[1:]:
        raise ValueError(
            f"real_videos {tuple(real_videos.shape)} and fake_videos {tuple(fake_videos.shape)} "
            "must share (C, T, H, W); only N may differ."
        )


# ----------------------------------------------------------------------------------------------
# KVD: kernel distance
# ----------------------------------------------------------------------------------------------
def _mmd2_unbiased(x: Tensor, y: Tensor, gamma: float, coef0: float, degree: int) -> float:
    """Unbiased MMD² between samples ``x (m, D)`` and ``y (n, D)`` under a polynomial kernel."""
    m, n = x.shape[0], y.shape[0]
    k_xx = (gamma * x @ x.T + coef0) ** degree
    k_yy = (gamma * y @ y.T + coef0) ** degree
    k_xy = (gamma * x @ y.T + coef0) ** degree
    # Gretton et al. 2012, Eq. 3: the within-set sums leave out the diagonal (i = j) terms.
    within_x = (k_xx.sum() - k_xx.diagonal().sum()) / (m * (m - 1))
    within_y = (k_yy.sum() - k_yy.diagonal().sum()) / (n * (n - 1))
    return float(within_x + within_y - 2.0 * k_xy.mean())


def kvd(
    feats_real: ArrayLike,
    feats_fake: ArrayLike,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1.0,
    subset_size: int | None = None,
    num_subsets: int = 100,
    generator: torch.Generator | None = None,
) -> float:
    """Kernel Video Distance: unbiased squared MMD between real and generated features.

    The kernel is polynomial, k(a, b) = (γ aᵀb + coef0)^degree. The FVD paper's KVD uses
    (aᵀb + 1)³; like KID we default to γ = 1/D so the kernel's scale does not grow with D.
    The unbiased estimate is ≈ 0 (and may be slightly negative) when both sets come from the same
    distribution. Like FVD, its spread depends on N: compare values at equal N only.

    Args:
        feats_real: ``(N_real, D)`` features of real videos, N_real >= 2.
        feats_fake: ``(N_fake, D)`` features of generated videos, N_fake >= 2.
        degree: polynomial degree.
        gamma: scale of the dot product; ``None`` means 1 / D.
        coef0: constant added inside the kernel.
        subset_size: if given, average the estimate over ``num_subsets`` random subsets of this
            many rows from each set (KID's protocol, cheaper for large N); ``None`` uses all rows once.
        num_subsets: how many subsets to average when ``subset_size`` is set.
        generator: random generator for drawing the subsets.

    Returns:
        The (average) unbiased MMD² as a float.

    Raises:
        ValueError: if the features are malformed, their D differ, or ``subset_size`` is out of range.
    """
    feats_real = _check_features(feats_real, "feats_real")
    feats_fake = _check_features(feats_fake, "feats_fake")
    if feats_real.shape[1] != feats_fake.shape[1]:
        raise ValueError(
            f"feats_real {tuple(feats_real.shape)} and feats_fake {tuple(feats_fake.shape)} "
            "must have the same feature size D."
        )
    gamma = 1.0 / feats_real.shape[1] if gamma is None else gamma
    if subset_size is None:
        return _mmd2_unbiased(feats_real, feats_fake, gamma, coef0, degree)

    smallest = min(feats_real.shape[0], feats_fake.shape[0])
    if not 2 <= subset_size <= smallest:
        raise ValueError(
            f"subset_size must be between 2 and min(N_real, N_fake) = {smallest}; got {subset_size}."
        )
    estimates = []
    for _ in range(num_subsets):
        real_rows = torch.randperm(feats_real.shape[0], generator=generator)[:subset_size]
        fake_rows = torch.randperm(feats_fake.shape[0], generator=generator)[:subset_size]
        estimates.append(_mmd2_unbiased(feats_real[real_rows], feats_fake[fake_rows], gamma, coef0, degree))
    return float(np.mean(estimates))


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
    _check_video_sets(real_videos, fake_videos)
    extractor = extractor or _default_extractor()
    feats_real = _extract_features(real_videos, extractor, batch_size, "real_videos")
    feats_fake = _extract_features(fake_videos, extractor, batch_size, "fake_videos")
    return kvd(feats_real, feats_fake, **kvd_options)


# ----------------------------------------------------------------------------------------------
# Per-frame fidelity: PSNR and SSIM
# ----------------------------------------------------------------------------------------------
def _check_pair(x: Tensor, y: Tensor) -> None:
    """Validate a (prediction, target) pair of videos of identical shape."""
    validate_video(x, "x")
    validate_video(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"x {tuple(x.shape)} and y {tuple(y.shape)} must have the same shape.")


def _reduce(per_video: Tensor, reduction: str) -> Tensor:
    """Apply ``reduction`` ("mean" or "none") to a ``(N,)`` tensor of per-video scores."""
    if reduction == "mean":
        return per_video.mean()
    if reduction == "none":
        return per_video
    raise ValueError(f"reduction must be 'mean' or 'none'; got {reduction!r}.")


def psnr(x: Tensor, y: Tensor, data_range: float = 1.0, reduction: str = "mean") -> Tensor:
    """Peak signal-to-noise ratio, computed per frame and averaged over frames.

    PSNR = 10 log10(L² / MSE), with the MSE of one frame over its C, H, W values.
    A frame identical to its target has MSE = 0 and PSNR = +inf; a video containing such a frame
    then averages to +inf too (it is reported, not hidden). Higher is better.

    Args:
        x: ``(N, C, T, H, W)`` predicted videos in [0, 1].
        y: ``(N, C, T, H, W)`` target videos in [0, 1].
        data_range: L, the span of possible values (1.0 for [0, 1] videos).
        reduction: ``"mean"`` for one number over all videos, ``"none"`` for one per video, or
            ``"pooled"`` for one PSNR of the MSE over every value of the set: finite unless the
            two sets are identical, so it is what model cards (strict JSON) record.

    Returns:
        PSNR in dB: a 0-dim tensor (``"mean"``, ``"pooled"``) or ``(N,)`` (``"none"``), float64.
    """
    _check_pair(x, y)
    if reduction == "pooled":
        mse = ((x.double() - y.double()) ** 2).mean()
        return 10.0 * torch.log10(data_range**2 / mse) if mse > 0 else torch.tensor(math.inf, dtype=torch.float64)
    mse = ((x.double() - y.double()) ** 2).mean(dim=(1, 3, 4))  # (N, T): one MSE per frame
    per_frame = torch.where(
        mse > 0, 10.0 * torch.log10(data_range**2 / mse), torch.full_like(mse, math.inf)
    )
    return _reduce(per_frame.mean(dim=1), reduction)


def _gaussian_window(window_size: int, sigma: float, channels: int, like: Tensor) -> Tensor:
    """A normalised 2-D Gaussian window, one copy per channel: ``(C, 1, window_size, window_size)``."""
    coords = torch.arange(window_size, dtype=like.dtype, device=like.device) - (window_size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    window = torch.outer(g, g)  # separable: the 2-D window is an outer product
    return repeat(window, "h w -> c 1 h w", c=channels)


def ssim(
    x: Tensor,
    y: Tensor,
    window_size: int = 11,
    sigma: float = 1.5,
    data_range: float = 1.0,
    reduction: str = "mean",
) -> Tensor:
    """Structural similarity (Wang et al. 2004), per frame with a Gaussian window, then averaged.

    SSIM = ((2 μx μy + C1)(2 σxy + C2)) / ((μx² + μy² + C1)(σx² + σy² + C2))      (Eq. 13)
    with local means, variances and covariance from a Gaussian window (std ``sigma``), constants
    C1 = (0.01 L)², C2 = (0.03 L)², the window only at positions where it fits the frame ("valid"),
    and each channel filtered separately. 1 means identical; higher is better.

    Args:
        x: ``(N, C, T, H, W)`` predicted videos in [0, 1].
        y: ``(N, C, T, H, W)`` target videos in [0, 1].
        window_size: side of the Gaussian window; H and W must be at least this large.
        sigma: standard deviation of the window, in pixels.
        data_range: L, the span of possible values (1.0 for [0, 1] videos).
        reduction: ``"mean"`` for one number over all videos, ``"none"`` for one per video.

    Returns:
        SSIM: a 0-dim tensor (``"mean"``) or ``(N,)`` (``"none"``), each the mean over frames,
        float64.
    """
    _check_pair(x, y)
    n, c, t, h, w = x.shape
    if h < window_size or w < window_size:
        raise ValueError(
            f"ssim: frames of {h}x{w} are smaller than window_size={window_size}; pass a smaller window."
        )
    frames_x = rearrange(x.double(), "n c t h w -> (n t) c h w")
    frames_y = rearrange(y.double(), "n c t h w -> (n t) c h w")
    window = _gaussian_window(window_size, sigma, c, frames_x)

    def local_mean(z: Tensor) -> Tensor:  # Gaussian-weighted average around each pixel, per channel
        return F.conv2d(z, window, groups=c)

    mu_x, mu_y = local_mean(frames_x), local_mean(frames_y)
    var_x = local_mean(frames_x * frames_x) - mu_x**2
    var_y = local_mean(frames_y * frames_y) - mu_y**2
    cov_xy = local_mean(frames_x * frames_y) - mu_x * mu_y
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    luminance_num, luminance_den = 2 * mu_x * mu_y + c1, mu_x**2 + mu_y**2 + c1
    structure_num, structure_den = 2 * cov_xy + c2, var_x + var_y + c2
    ssim_map = (luminance_num * structure_num) / (luminance_den * structure_den)  # (N*T, C, H', W')

    per_frame = rearrange(ssim_map.mean(dim=(1, 2, 3)), "(n t) -> n t", n=n)
    return _reduce(per_frame.mean(dim=1), reduction)


# ----------------------------------------------------------------------------------------------
# Likelihood units
# ----------------------------------------------------------------------------------------------
def nats_per_frame(nll_nats_total: float | Tensor, num_frames: int) -> float | Tensor:
    """Negative log-likelihood per predicted frame, the unit VPN reports on Moving MNIST.

    Sum the NLL (in nats, natural log) over every pixel of every predicted frame of every test
    video, then divide by how many frames that was. For VPN's setting (10 predicted frames per
    video) that is the per-video NLL divided by 10.

    Args:
        nll_nats_total: total NLL in nats over all predicted frames (a float or 0-dim tensor).
        num_frames: the number of frames that total covers (videos × predicted frames).

    Returns:
        NLL in nats per frame, the same type as ``nll_nats_total``.
    """
    if num_frames <= 0:
        raise ValueError(f"num_frames must be positive; got {num_frames}.")
    return nll_nats_total / num_frames


def bits_per_dim(nll_nats: float | Tensor, num_dims: int) -> float | Tensor:
    """Convert an NLL in nats to bits per dimension: nats / (dims · ln 2).

    ``num_dims`` is the number of values the NLL covers, e.g. C·T·H·W for one video. Dividing by
    ln 2 turns nats into bits, so 8 bits/dim means "no better than uniform over 256 levels".

    Args:
        nll_nats: NLL in nats (a float or tensor).
        num_dims: the number of dimensions (pixel values) that NLL covers.

    Returns:
        NLL in bits per dimension, the same type as ``nll_nats``.
    """
    if num_dims <= 0:
        raise ValueError(f"num_dims must be positive; got {num_dims}.")
    return nll_nats / (num_dims * math.log(2))


# ----------------------------------------------------------------------------------------------
# Content consistency: ACD
# ----------------------------------------------------------------------------------------------
def acd(features_per_frame: ArrayLike) -> float:
    """Average Content Distance (MoCoGAN, Tulyakov et al. 2018, Sec. 4.1).

    For each video, the mean L2 distance over all pairs of its frames' content features
    (e.g. average colour, or an identity embedding), then the mean over videos. Lower means the
    content (who or what is in the video) stays the same over time; a static video scores 0.

    Args:
        features_per_frame: ``(N, T, D)`` one feature vector per frame, T >= 2.

    Returns:
        The ACD as a float.
    """
    feats = features_per_frame
    if isinstance(feats, np.ndarray):
        feats = torch.from_numpy(feats)
    if not isinstance(feats, Tensor) or feats.ndim != 3 or feats.shape[1] < 2:
        shape = tuple(feats.shape) if hasattr(feats, "shape") else type(feats).__name__
        raise ValueError(f"acd expects per-frame features of shape (N, T, D) with T >= 2; got {shape}.")
    feats = feats.detach().double()
    t = feats.shape[1]
    dist = torch.cdist(feats, feats)  # (N, T, T) pairwise L2 distances between frames
    pair_mean = dist.triu(diagonal=1).sum(dim=(1, 2)) / (t * (t - 1) / 2)  # (N,) over pairs i < j
    return float(pair_mean.mean())


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
        from vidgen_lib import features

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


# ----------------------------------------------------------------------------------------------
# Baselines and corruptions: videos to be measured exactly like a model's samples
# ----------------------------------------------------------------------------------------------
def static_baseline(real: Tensor) -> Tensor:
    """Each real video frozen on its first frame: perfect content, no motion.

    Args:
        real: ``(N, C, T, H, W)`` real videos.

    Returns:
        ``(N, C, T, H, W)``: frame 0 of each video repeated T times.
    """
    validate_video(real, "real")
    return repeat(real[:, :, 0], "n c h w -> n c t h w", t=real.shape[2]).clone()


def shuffled_baseline(real: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Real videos with their frames in a random order (one permutation per video).

    Every frame is real, only the motion is wrong: a metric that does not move under this
    baseline cannot see time.

    Args:
        real: ``(N, C, T, H, W)`` real videos.
        generator: random generator, for a repeatable shuffle.

    Returns:
        ``(N, C, T, H, W)`` shuffled videos.
    """
    validate_video(real, "real")
    t = real.shape[2]
    return torch.stack([video[:, torch.randperm(t, generator=generator)] for video in real])


def noise_baseline(like: Tensor | Sequence[int], generator: torch.Generator | None = None) -> Tensor:
    """Uniform noise videos in [0, 1]: the worst sensible "model".

    Args:
        like: a video ``(N, C, T, H, W)`` whose shape, dtype and device to copy, or a shape.
        generator: random generator (CPU), for repeatable noise.

    Returns:
        ``(N, C, T, H, W)`` noise, i.i.d. uniform in [0, 1).
    """
    if isinstance(like, Tensor):
        validate_video(like, "like")
        return torch.rand(like.shape, generator=generator, dtype=like.dtype).to(like.device)
    shape = tuple(like)
    if len(shape) != 5:
        raise ValueError(f"noise_baseline needs a video shape (N, C, T, H, W); got {shape}.")
    return torch.rand(shape, generator=generator)


def copy_last_frame(context: Tensor, horizon: int) -> Tensor:
    """The prediction baseline: repeat the last observed frame for every future step.

    Args:
        context: ``(N, C, T_ctx, H, W)`` observed frames.
        horizon: number of frames to predict, >= 1.

    Returns:
        ``(N, C, horizon, H, W)``: frame ``T_ctx - 1`` of each video, ``horizon`` times.
    """
    validate_video(context, "context")
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1; got {horizon}.")
    return repeat(context[:, :, -1], "n c h w -> n c t h w", t=horizon).clone()


def add_noise(video: Tensor, std: float, generator: torch.Generator | None = None) -> Tensor:
    """Corrupt videos with Gaussian pixel noise, clamped back to [0, 1].

    Args:
        video: ``(N, C, T, H, W)`` videos.
        std: standard deviation of the noise, >= 0 (0 returns a copy).
        generator: random generator (CPU), for repeatable noise.

    Returns:
        ``(N, C, T, H, W)`` noisy videos in [0, 1].
    """
    validate_video(video, "video")
    if std < 0:
        raise ValueError(f"std must be >= 0; got {std}.")
    noise = torch.randn(video.shape, generator=generator, dtype=video.dtype).to(video.device)
    return (video + std * noise).clamp(0.0, 1.0)


def shuffle_frames(video: Tensor, fraction: float, generator: torch.Generator | None = None) -> Tensor:
    """Corrupt the order of time: move a given fraction of frame positions, per video.

    In each video, k = round(fraction · T) positions are drawn at random and their frames rotated
    among them (a random cycle), so every drawn position receives a different frame while the
    others stay in place. Moving a single frame is impossible, so any fraction > 0 moves at least
    2 positions. ``fraction=0`` returns the videos unchanged; ``fraction=1`` moves every frame.

    Args:
        video: ``(N, C, T, H, W)`` videos.
        fraction: share of frame positions to move, in [0, 1].
        generator: random generator, for repeatable corruption.

    Returns:
        ``(N, C, T, H, W)`` videos with shuffled frames.
    """
    validate_video(video, "video")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1]; got {fraction}.")
    t = video.shape[2]
    k = round(fraction * t)
    if fraction > 0:
        k = max(k, 2)
    out = video.clone()
    if k < 2 or t < 2:
        return out
    for i in range(video.shape[0]):
        chosen = torch.randperm(t, generator=generator)[:k]  # k positions, in random order
        out[i][:, chosen] = video[i][:, chosen.roll(1)]  # position chosen[j] gets frame chosen[j-1]
    return out


def baseline_videos(real: Tensor, generator: torch.Generator | None = None) -> dict[str, Tensor]:
    """The generation baselines built from real videos, by name: static, shuffled and noise.

    Args:
        real: ``(N, C, T, H, W)`` real videos (use other videos than the reference set).
        generator: random generator, for a repeatable shuffle and noise.

    Returns:
        ``{"static": ..., "shuffled": ..., "noise": ...}``, each ``(N, C, T, H, W)``.
    """
    return {
        "static": static_baseline(real),
        "shuffled": shuffled_baseline(real, generator=generator),
        "noise": noise_baseline(real, generator=generator),
    }


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
        from vidgen_lib import features

        fake_features, fake_frame_features = features.video_and_frame_features(fake_videos, batch_size=batch_size)
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
        string) for those skipped: no checkpoint yet, a predictor, or samples of another shape.
    """
    import vidgen_lib
    from vidgen_lib import models

    results: dict[str, dict[str, float] | str] = {}
    for name in models.available() if names is None else names:
        if not (vidgen_lib.CHECKPOINT_DIR / f"{name}.pt").exists():
            results[name] = "no checkpoint yet"
            continue
        module = models.get(name)
        if not hasattr(module, "sample"):
            results[name] = "a predictor: measured in its own chapter (PSNR, SSIM or nats/frame)"
            continue
        samples = module.sample(module.load_pretrained(), real_videos.shape[0], seed=seed).cpu()
        if samples.shape[1:] != real_videos.shape[1:]:
            results[name] = f"samples {tuple(samples.shape[1:])} differ from the reference {tuple(real_videos.shape[1:])}"
            continue
        results[name] = evaluate_generator(samples, real_videos, extractor, frame_feature_fn, real_features)
    return results


def frame_differences(videos: Tensor) -> Tensor:
    """``|x_{t+1} − x_t|``: what changed between consecutive frames, as a clip ``(N, C, T − 1, H, W)`` in [0, 1].

    A clip frozen on one frame has all-black differences; a digit moving smoothly leaves two thin
    crescents that move with it; frames in a random order leave whole digits flashing.
    """
    validate_video(videos, "videos")
    return (videos[:, :, 1:] - videos[:, :, :-1]).abs()


def generator_scores(samples: Tensor, reference: Tensor, others: Tensor, seed: int = 0) -> dict[str, float]:
    """The numbers a generator's model card records: its scores next to the baselines', one protocol.

    Every distance is against the same ``reference`` clips; the baselines are built from ``others``
    (real clips disjoint from the reference). For the samples (no suffix) and for each baseline
    (suffix ``_real`` the floor at this N, ``_static``, ``_shuffled``, ``_noise``):

    - ``fvd``: the toy-world FVD, Fréchet distance of the video features;
    - ``fvd_motion``: the same distance on the clips' frame differences (:func:`frame_differences`):
      it can credit motion, which ``fvd`` barely does (a real frame frozen for 16 frames scores well
      on ``fvd`` and worst of all here);
    - ``fd_frames``: the Fréchet distance of the per-frame identity features of all frames, an FID
      of single frames: appearance alone, blind to motion.

    ``acd`` is the samples' average content distance, ``acd_real`` that of the other real clips.
    Use the same N for all three sets: every one of these distances shrinks as N grows.

    Args:
        samples: ``(N, C, T, H, W)`` generated clips in [0, 1].
        reference: ``(N, C, T, H, W)`` real test clips in [0, 1].
        others: ``(N, C, T, H, W)`` other real clips in [0, 1].
        seed: seed of the shuffled and noise baselines.

    Returns:
        the scores above, rounded (distances to 2 decimals, ACD to 4), and ``eval_videos`` (N).
    """
    from vidgen_lib import features  # imported here: features builds on this module

    def embed(videos: Tensor) -> tuple[Tensor, Tensor, Tensor]:  # video, motion and frame features
        video, frames = features.video_and_frame_features(videos)
        return video, embed_videos(frame_differences(videos)), rearrange(frames, "n t d -> (n t) d")

    ref_video, ref_motion, ref_frames = embed(reference)
    candidates = {"": samples, "_real": others}
    for name, videos in baseline_videos(others, generator=torch.Generator().manual_seed(seed)).items():
        candidates[f"_{name}"] = videos
    result: dict[str, float] = {}
    for suffix, videos in candidates.items():
        video, motion, frames = embed(videos)
        result[f"fvd{suffix}"] = round(fvd_from_features(ref_video, video), 2)
        result[f"fvd_motion{suffix}"] = round(fvd_from_features(ref_motion, motion), 2)
        result[f"fd_frames{suffix}"] = round(fvd_from_features(ref_frames, frames), 2)
    result["acd"] = round(acd_videos(samples), 4)
    result["acd_real"] = round(acd_videos(others), 4)
    return {**result, "eval_videos": samples.shape[0]}


BASELINE_ROWS = {"real (other clips)": "_real", "static": "_static", "shuffled": "_shuffled", "noise": "_noise"}


def card_rows(scores: dict[str, float], name: str = "model") -> dict[str, dict[str, float]]:
    """The rows of a ``generator_scores`` result (a model card's metrics): the baselines, then the model.

    Each row maps a score's name without its suffix (``fvd``, ``fvd_motion``, ``fd_frames``, ``acd``)
    to its value; a score a row does not have is left out (the card records ACD for real clips only).
    """
    keys = ("fvd", "fvd_motion", "fd_frames", "acd")
    rows = {label: {k: scores[k + suffix] for k in keys if k + suffix in scores} for label, suffix in BASELINE_ROWS.items()}
    return {**rows, name: {k: scores[k] for k in keys if k in scores}}


def scores_table(rows: dict[str, dict[str, float]], columns: dict[str, str], width: int = 22) -> str:
    """A plain-text table: one line per row, one column per ``{title: score name}``, "—" where a row has none."""
    lines = [" " * width + "".join(f"{title:>12}" for title in columns)]
    for label, row in rows.items():
        cells = "".join(f"{row[key]:12.2f}" if key in row else f"{'—':>12}" for key in columns.values())
        lines.append(f"{label:{width}}" + cells)
    return "\n".join(lines)
