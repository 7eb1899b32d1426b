"""Checks for the exercises of notebook 04 (evaluating video generators).

Each check runs the learner's function on known inputs, prints one ``✓`` line when it is right, and
otherwise raises ``ExerciseError`` saying what is wrong, with a hint for the typical mistakes. The
reference answers are the library's own ``vidgen_lib.metrics`` functions (``fvd_from_features`` at the bottom
of this module is 4.5's answer written as a learner would, by eigenvalues; the tests compare it with the
library's).
"""
from __future__ import annotations

import math
from typing import Any, Callable

import scipy.linalg
import torch
from torch import Tensor

from vidgen_lib import metrics
from vidgen_lib.exercises import ExerciseError, as_float, call, passed, measure_settings, register


def _close(got: float, want: float, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    return math.isfinite(got) and abs(got - want) <= atol + rtol * abs(want)

def _gaussian_cases() -> list[tuple[str, Tensor, Tensor, Tensor, Tensor]]:
    """Test cases for 4.1: (name, mu1, var1, mu2, var2), float64."""
    g = torch.Generator().manual_seed(4)
    mu, var = (torch.randn(6, generator=g, dtype=torch.float64),
               torch.rand(6, generator=g, dtype=torch.float64) + 0.1)
    return [
        ("two random 6-d Gaussians", mu, var, torch.randn(6, generator=g, dtype=torch.float64),
         torch.rand(6, generator=g, dtype=torch.float64) + 0.5),
        ("the same Gaussian twice", mu, var, mu.clone(), var.clone()),
        ("equal variances, shifted means", mu, var, mu + 2.0, var.clone()),
        ("equal means, variances 1 vs 4", torch.zeros(3, dtype=torch.float64),
         torch.ones(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64),
         torch.full((3,), 4.0, dtype=torch.float64)),
    ]


@register("4.1")
def check_frechet_diagonal(frechet_diagonal: Callable[[Tensor, Tensor, Tensor, Tensor], Any]) -> None:
    """Check ``frechet_diagonal(mu1, var1, mu2, var2)`` = ‖μ1 − μ2‖² + Σ (σ1 − σ2)² against the general
    formula."""
    for name, mu1, var1, mu2, var2 in _gaussian_cases():
        got = as_float("4.1", call("4.1", frechet_diagonal, mu1.clone(), var1.clone(), mu2.clone(),
                                   var2.clone()), "the distance")
        want = metrics.frechet_distance(mu1, torch.diag(var1), mu2, torch.diag(var2))
        if _close(got, want):
            continue
        mean_gap = float(((mu1 - mu2) ** 2).sum())
        std_gap = float(((var1.sqrt() - var2.sqrt()) ** 2).sum())
        mistakes = [
            (mean_gap + float(((var1 - var2) ** 2).sum()), "you compared variances: the trace term compares "
             "standard deviations, Tr(Σ1 + Σ2 − 2(Σ1Σ2)^½) = Σ (σ1 − σ2)² with σ = √var."),
            (std_gap, "the mean term ‖μ1 − μ2‖² is missing."),
            (mean_gap, "the covariance term Σ (σ1 − σ2)² is missing."),
            (math.sqrt(max(want, 0.0)), "you returned the distance d; FVD reports its square, d²."),
            (mean_gap + float((var1 + var2 - 2 * var1 * var2).sum()), "(Σ1Σ2)^½ is diag(σ1 σ2), "
             "the square root of the product of the variances, not the product itself."),
        ]
        hint = next((h for value, h in mistakes if _close(got, value)), None)
        hint = hint or "expected ‖μ1 − μ2‖² + Σ_i (√var1_i − √var2_i)²."
        raise ExerciseError(f"Exercise 4.1: for {name} your distance is {got:.4f}, "
                            f"expected {want:.4f}: {hint}")
    passed("4.1", "the diagonal Fréchet distance matches the general formula on 4 pairs of Gaussians.")


@register("4.2")
def check_kvd_unbiased(kvd_unbiased: Callable[[Tensor, Tensor], Any]) -> None:
    """Check ``kvd_unbiased(x, y)``: the unbiased MMD² with k(a, b) = (aᵀb / D + 1)³, against
    ``metrics.kvd``."""
    g = torch.Generator().manual_seed(42)
    cases = [
        ("two samples of one distribution", torch.randn(40, 5, generator=g, dtype=torch.float64),
         torch.randn(30, 5, generator=g, dtype=torch.float64)),
        ("a shifted distribution", torch.randn(40, 5, generator=g, dtype=torch.float64),
         torch.randn(50, 5, generator=g, dtype=torch.float64) + 1.0),
    ]
    for name, x, y in cases:
        got = as_float("4.2", call("4.2", kvd_unbiased, x.clone(), y.clone()), "the KVD")
        want = metrics.kvd(x, y)
        if _close(got, want):
            continue
        d = x.shape[1]
        k_xx, k_yy, k_xy = ((a @ b.T / d + 1) ** 3 for a, b in ((x, x), (y, y), (x, y)))
        biased = float(k_xx.mean() + k_yy.mean() - 2 * k_xy.mean())
        unscaled = metrics.kvd(x, y, gamma=1.0)
        mistakes = [
            (biased, "that is the biased estimate: leave out the i = j terms of the within-set sums "
             "and divide by m(m − 1) and n(n − 1), not m² and n²."),
            (unscaled, "you used k(a, b) = (aᵀb + 1)³: divide the dot product by D first, (aᵀb / D + 1)³."),
            (-want, "the sign is flipped: MMD² = within x + within y − 2 · across."),
        ]
        hint = next((h for value, h in mistakes if _close(got, value)), None)
        hint = hint or "expected mean_{i≠j} k(x_i, x_j) + mean_{i≠j} k(y_i, y_j) − 2 mean k(x_i, y_j)."
        raise ExerciseError(f"Exercise 4.2: for {name} your KVD is {got:.6f}, "
                            f"expected {want:.6f}: {hint}")
    passed("4.2", "the unbiased KVD matches metrics.kvd (≈ 0 for one distribution, > 0 for a shift).")


@register("4.3")
def check_average_content_distance(average_content_distance: Callable[[Tensor], Any]) -> None:
    """Check ``average_content_distance(features)`` on ``(N, T, D)`` per-frame features against
    ``metrics.acd``."""
    g = torch.Generator().manual_seed(43)
    cases = [
        ("one video, frames (0, 0) and (3, 4)",
         torch.tensor([[[0.0, 0.0], [3.0, 4.0]]], dtype=torch.float64)),
        ("8 random videos of 5 frames", torch.randn(8, 5, 3, generator=g, dtype=torch.float64)),
        ("a static video", torch.ones(1, 6, 4, dtype=torch.float64)),
    ]
    for name, feats in cases:
        got = as_float("4.3", call("4.3", average_content_distance, feats.clone()), "the ACD")
        want = metrics.acd(feats)
        if _close(got, want):
            continue
        t = feats.shape[1]
        dist = torch.cdist(feats, feats)
        mistakes = [
            (float(dist.mean()), "you averaged over all T² pairs, "
             "including each frame with itself (distance 0): average over the T(T − 1)/2 pairs i < j."),
            (float((dist**2).triu(1).sum(dim=(1, 2)).mean() / (t * (t - 1) / 2)),
             "you averaged squared distances: ACD uses the L2 distance itself."),
            (float((feats[:, 1:] - feats[:, :-1]).norm(dim=-1).mean()),
             "you compared consecutive frames only: ACD averages over every pair of frames."),
        ]
        hint = next((h for value, h in mistakes if _close(got, value)), None)
        hint = hint or "expected the mean over videos of the mean L2 distance over frame pairs i < j."
        raise ExerciseError(f"Exercise 4.3: for {name} your ACD is {got:.4f}, "
                            f"expected {want:.4f}: {hint}")
    passed("4.3", "ACD matches metrics.acd (5 for the hand example, 0 for a static video).")


@register("4.4")
def check_blur_experiment(fvd_after_blur: Callable[[float], float]) -> None:
    """4.4: ``fvd_after_blur(sigma)``: the FVD between real clips blurred with that σ and the reference set;
    heavier blur must raise it."""
    fvds = measure_settings("4.4", fvd_after_blur, (0.5, 2.0), "the FVD")
    if not fvds[2.0] > fvds[0.5]:
        raise ExerciseError(f"Exercise 4.4: the FVD is {fvds[2.0]:.2f} with σ = 2 and {fvds[0.5]:.2f} with "
                            "σ = 0.5: heavier blur should raise it. Do you blur `other` with the given "
                            "sigma, embed the blurred clips, and compare them with `real_features`?")
    passed("4.4", f"the FVD rises from {fvds[0.5]:.2f} (σ = 0.5) to {fvds[2.0]:.2f} (σ = 2) "
                  "as the blur grows.")


def _fvd_cases() -> list[tuple[str, Tensor, Tensor, float | None]]:
    """Test cases for 4.5: (name, real features, generated features, the distance by hand or None)."""
    g = torch.Generator().manual_seed(45)
    mixing = torch.randn(5, 5, generator=g, dtype=torch.float64)  # correlated features: Σ is not diagonal
    real = torch.randn(40, 5, generator=g, dtype=torch.float64) @ mixing
    other = torch.randn(30, 5, generator=g, dtype=torch.float64) @ (mixing + 0.5 * torch.eye(5)) + 0.3
    shift = torch.tensor([1.0, -2.0, 0.5, 0.0, 2.0], dtype=torch.float64)
    centre = real.mean(0)
    trace = float(torch.cov(real.T).trace())
    return [
        ("the same features twice", real, real.clone(), 0.0),
        ("the features shifted by a vector s", real, real + shift, float(shift @ shift)),
        ("the features scaled by 2 about their mean", real, centre + 2 * (real - centre), trace),
        ("two sets of correlated features, 40 and 30 videos", real, other, None),
    ]


@register("4.5")
def check_fvd_from_features(fvd_from_features: Callable[[Tensor, Tensor], Any]) -> None:
    """4.5: ``fvd_from_features(feats_real (N, D), feats_fake (M, D))``: Gaussians fitted to both sets (means,
    full covariances), then d² = ‖μ1 − μ2‖² + Tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½), against ``metrics``."""
    for name, real, fake, by_hand in _fvd_cases():
        got = as_float("4.5", call("4.5", fvd_from_features, real.clone(), fake.clone()), "the FVD")
        want = metrics.fvd_from_features(real, fake)
        if by_hand is not None:
            assert _close(want, by_hand, rtol=1e-6, atol=1e-6), (name, want, by_hand)  # the library agrees
        if _close(got, want, rtol=1e-5, atol=1e-6):
            continue
        mu1, mu2 = real.mean(0), fake.mean(0)
        s1, s2 = torch.cov(real.T), torch.cov(fake.T)
        n, m = len(real), len(fake)
        mean_gap = float((mu1 - mu2) @ (mu1 - mu2))
        root = lambda a: torch.from_numpy(scipy.linalg.sqrtm(a.numpy()).real)  # noqa: E731
        trace_root = float(root(s1 @ s2).trace())

        def frechet(a: Tensor, b: Tensor, cross: float) -> float:
            return mean_gap + float(a.trace() + b.trace()) - 2 * cross

        biased = metrics.frechet_distance(mu1, s1 * (n - 1) / n, mu2, s2 * (m - 1) / m)
        mistakes = [
            (biased, "your covariances divide by N: the unbiased covariance divides by N − 1 "
             "(torch.cov does), as metrics.gaussian_stats does."),
            (metrics.frechet_distance_diagonal(mu1, s1.diagonal(), mu2, s2.diagonal()),
             "that is the diagonal case of Exercise 4.1: FVD fits full covariances, and the off-diagonal "
             "entries (how features vary together) count too."),
            (frechet(s1, s2, float((root(s1) @ root(s2)).trace())),
             "you multiplied the roots, Σ1^½ Σ2^½: the formula takes the root of the product, (Σ1 Σ2)^½; "
             "the two agree only when Σ1 and Σ2 commute (e.g. both diagonal)."),
            (frechet(s1, s2, float((s1 @ s2).diagonal().sqrt().sum())),
             "you took square roots entry by entry: (Σ1 Σ2)^½ is the matrix square root, the matrix R with "
             "R R = Σ1 Σ2 (scipy.linalg.sqrtm, or via eigenvalues)."),
            (frechet(s1, s2, math.sqrt(max(float((s1 @ s2).trace()), 0.0))),
             "you took the root of the trace, √Tr(Σ1 Σ2): the trace of the matrix root, Tr((Σ1 Σ2)^½), is "
             "the sum of the roots of the eigenvalues of Σ1 Σ2."),
            (frechet(s1, s2, trace_root / 2), "the cross term is −2 Tr((Σ1 Σ2)^½): you forgot the 2."),
            (mean_gap, "the covariance term Tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½) is missing."),
            (want - mean_gap, "the mean term ‖μ1 − μ2‖² is missing."),
            (math.sqrt(max(want, 0.0)), "you returned the distance d; FVD reports its square, d²."),
        ]
        if n == m:  # torch.cov(features) without .T: a covariance between videos, (N, N)
            cv1, cv2 = torch.cov(real), torch.cov(fake)
            mistakes.append((mean_gap + float(cv1.trace() + cv2.trace()) - 2 * float(root(cv1 @ cv2).trace()),
                             "your covariance is (N, N), between videos: torch.cov wants the variables in "
                             "rows, so pass features.T to get the (D, D) covariance of the features."))
        if not math.isfinite(got):
            hint = ("a NaN or inf: an entry-by-entry square root of Σ1 Σ2 meets negative entries; take the "
                    "matrix square root (scipy.linalg.sqrtm(...).real, or the eigenvalues of Σ1 Σ2).")
        else:
            hint = next((h for value, h in mistakes if _close(got, value, rtol=1e-5, atol=1e-6)), None)
        hint = hint or ("expected ‖μ1 − μ2‖² + Tr(Σ1) + Tr(Σ2) − 2 Tr((Σ1 Σ2)^½), with the means and the "
                        "unbiased (D, D) covariances of the two sets.")
        raise ExerciseError(f"Exercise 4.5: for {name} your FVD is {got:.4f}, expected {want:.4f}: {hint}")
    passed("4.5", "FVD from features matches metrics.fvd_from_features: 0 for the same set, ‖s‖² for a "
                  "shift by s, Tr(Σ) for a set scaled by 2, and full covariances count.")


def fvd_from_features(feats_real: Tensor, feats_fake: Tensor) -> float:
    """4.5's answer, as the learner writes it: the means, the unbiased covariances, and Tr((Σ1 Σ2)^½) as the
    sum of the roots of the eigenvalues of Σ1^½ Σ2 Σ1^½ (a symmetric matrix with the eigenvalues of Σ1 Σ2)."""
    x, y = torch.as_tensor(feats_real, dtype=torch.float64), torch.as_tensor(feats_fake, dtype=torch.float64)
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = torch.cov(x.T), torch.cov(y.T)
    vals, vecs = torch.linalg.eigh(s1)
    root1 = vecs @ torch.diag(vals.clamp(min=0).sqrt()) @ vecs.T
    trace_root = torch.linalg.eigvalsh(root1 @ s2 @ root1).clamp(min=0).sqrt().sum()
    return float((mu1 - mu2) @ (mu1 - mu2) + s1.trace() + s2.trace() - 2 * trace_root)
