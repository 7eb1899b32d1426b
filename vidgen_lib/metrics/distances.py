"""Distances between two sets of features: the Fréchet distance (FVD's formula) and KVD's MMD².

Unterthiner et al., "Towards Accurate Generative Models of Video: A New Metric & Challenges",
arXiv 1812.01717, 2018. Features are ``(N, D)`` matrices, one row per video (or frame); which
network makes them is the caller's choice (``vidgen_lib.evaluation`` runs the course's own).
Both distances depend on N: compare two values only at equal N.
"""
from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg
import torch
from torch import Tensor

ArrayLike = np.ndarray | Tensor

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


def _check_feature_pair(feats_real: ArrayLike, feats_fake: ArrayLike) -> tuple[Tensor, Tensor]:
    """Two feature matrices to compare: each ``(N, D)`` with N >= 2, the same D; float64 CPU tensors."""
    feats_real = _check_features(feats_real, "feats_real")
    feats_fake = _check_features(feats_fake, "feats_fake")
    if feats_real.shape[1] != feats_fake.shape[1]:
        raise ValueError(f"feats_real {tuple(feats_real.shape)} and feats_fake {tuple(feats_fake.shape)} "
                         "must have the same feature size D.")
    return feats_real, feats_fake


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
    feats_real, feats_fake = _check_feature_pair(feats_real, feats_fake)
    mu_real, sigma_real = gaussian_stats(feats_real)
    mu_fake, sigma_fake = gaussian_stats(feats_fake)
    return frechet_distance(mu_real, sigma_real, mu_fake, sigma_fake)


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
    feats_real, feats_fake = _check_feature_pair(feats_real, feats_fake)
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
