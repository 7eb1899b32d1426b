"""Tests of vidgen_lib.metrics: distances checked against independent computations, baselines, errors."""
import math

import numpy as np
import pytest
import torch
from einops import rearrange

from vidgen_lib import evaluation, metrics


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _random_spd(d: int, seed: int) -> torch.Tensor:
    """A random symmetric positive-definite (d, d) float64 matrix."""
    a = torch.randn(d, d, generator=_gen(seed), dtype=torch.float64)
    return a @ a.T / d + 0.1 * torch.eye(d, dtype=torch.float64)


def _psd_sqrt(s: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric PSD matrix by eigendecomposition."""
    w, v = torch.linalg.eigh(s)
    return v @ torch.diag(w.clamp(min=0).sqrt()) @ v.T


def _frechet_reference(mu1, sigma1, mu2, sigma2) -> float:
    """Fréchet distance via Tr((Σ1Σ2)^½) = Tr((Σ1^½ Σ2 Σ1^½)^½), a symmetric PSD root (no sqrtm)."""
    root1 = _psd_sqrt(sigma1)
    middle = root1 @ sigma2 @ root1
    trace_covmean = torch.linalg.eigvalsh(middle).clamp(min=0).sqrt().sum()
    diff = mu1 - mu2
    return float(diff @ diff + sigma1.trace() + sigma2.trace() - 2 * trace_covmean)


def _video(n=2, c=1, t=8, h=16, w=16, seed=0) -> torch.Tensor:
    return torch.rand(n, c, t, h, w, generator=_gen(seed))


def _ramp_video(n=2, t=8) -> torch.Tensor:
    """Videos whose frame t is filled with the value t / T, so every frame is distinct."""
    values = torch.arange(t, dtype=torch.float32) / t
    return values.view(1, 1, t, 1, 1).expand(n, 1, t, 4, 4).clone()


# ---------------------------------------------------------------------------------------------
# Fréchet distance
# ---------------------------------------------------------------------------------------------
def test_frechet_matches_diagonal_closed_form():
    g = _gen(1)
    mu1, mu2 = torch.randn(6, generator=g), torch.randn(6, generator=g)
    var1, var2 = torch.rand(6, generator=g) + 0.1, torch.rand(6, generator=g) + 0.1
    by_hand = float(((mu1 - mu2) ** 2).sum() + ((var1.sqrt() - var2.sqrt()) ** 2).sum())
    full = metrics.frechet_distance(mu1, torch.diag(var1), mu2, torch.diag(var2))
    diagonal = metrics.frechet_distance_diagonal(mu1, var1, mu2, var2)
    assert diagonal == pytest.approx(by_hand, rel=1e-6)
    assert full == pytest.approx(by_hand, rel=1e-6)


def test_frechet_matches_independent_matrix_square_root():
    mu1 = torch.randn(5, generator=_gen(2), dtype=torch.float64)
    mu2 = torch.randn(5, generator=_gen(3), dtype=torch.float64)
    sigma1, sigma2 = _random_spd(5, seed=4), _random_spd(5, seed=5)  # do not commute
    assert not torch.allclose(sigma1 @ sigma2, sigma2 @ sigma1)
    expected = _frechet_reference(mu1, sigma1, mu2, sigma2)
    assert metrics.frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, rel=1e-8)


def test_frechet_accepts_numpy_and_torch_alike():
    mu1, mu2 = np.zeros(3), np.ones(3)
    sigma1, sigma2 = _random_spd(3, seed=6), _random_spd(3, seed=7)
    from_numpy = metrics.frechet_distance(mu1, sigma1.numpy(), mu2, sigma2.numpy())
    from_torch = metrics.frechet_distance(torch.from_numpy(mu1), sigma1, torch.from_numpy(mu2), sigma2)
    assert isinstance(from_numpy, float)
    assert from_numpy == pytest.approx(from_torch, rel=1e-12)


def test_frechet_zero_for_identical_stats():
    mu, sigma = metrics.gaussian_stats(torch.randn(200, 8, generator=_gen(8)))
    assert metrics.frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-8)


def test_frechet_is_symmetric():
    mu1, mu2 = torch.zeros(4), torch.full((4,), 0.5)
    sigma1, sigma2 = _random_spd(4, seed=9), _random_spd(4, seed=10)
    forward = metrics.frechet_distance(mu1, sigma1, mu2, sigma2)
    backward = metrics.frechet_distance(mu2, sigma2, mu1, sigma1)
    assert forward == pytest.approx(backward, rel=1e-9)


def test_frechet_of_translated_mean_is_squared_shift():
    sigma = _random_spd(4, seed=11)
    mu = torch.randn(4, generator=_gen(12), dtype=torch.float64)
    shift = torch.tensor([1.0, -2.0, 0.5, 0.0], dtype=torch.float64)
    assert metrics.frechet_distance(mu, sigma, mu + shift, sigma) == pytest.approx(5.25, rel=1e-8)


def test_frechet_rejects_mismatched_dimensions():
    with pytest.raises(ValueError, match=r"mu1 \(3,\).*mu2 \(4,\)"):
        metrics.frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match=r"sigma1 \(3, 2\)"):
        metrics.frechet_distance(np.zeros(3), np.ones((3, 2)), np.zeros(3), np.eye(3))


def test_frechet_finite_for_rank_deficient_covariance():
    # N < D: both covariances are singular, as with too few videos for a 32-d feature.
    feats_a = torch.randn(5, 32, generator=_gen(13), dtype=torch.float64)
    feats_b = torch.randn(6, 32, generator=_gen(14), dtype=torch.float64) + 0.3
    mu_a, sigma_a = metrics.gaussian_stats(feats_a)
    mu_b, sigma_b = metrics.gaussian_stats(feats_b)
    assert torch.linalg.matrix_rank(sigma_a) < 32
    value = metrics.frechet_distance(mu_a, sigma_a, mu_b, sigma_b)
    assert math.isfinite(value) and value > 0
    assert value == pytest.approx(_frechet_reference(mu_a, sigma_a, mu_b, sigma_b), rel=1e-4)


def test_frechet_retries_with_ridge_when_square_root_fails(monkeypatch):
    real_sqrtm = metrics.distances.scipy.linalg.sqrtm
    calls = []

    def failing_once(a):  # simulate SciPy giving up on a singular product the first time
        calls.append(a)
        return np.full_like(a, np.nan) if len(calls) == 1 else real_sqrtm(a)

    monkeypatch.setattr(metrics.distances.scipy.linalg, "sqrtm", failing_once)
    sigma1, sigma2 = _random_spd(3, seed=37), _random_spd(3, seed=38)
    value = metrics.frechet_distance(torch.zeros(3), sigma1, torch.ones(3), sigma2, eps=1e-6)
    assert len(calls) == 2
    ridge = 1e-6 * np.eye(3)
    np.testing.assert_allclose(calls[1], (sigma1.numpy() + ridge) @ (sigma2.numpy() + ridge))
    assert value == pytest.approx(_frechet_reference(torch.zeros(3), sigma1, torch.ones(3), sigma2), rel=1e-4)


def test_frechet_rejects_non_psd_covariance():
    # Σ1Σ2 = -I has a purely imaginary square root: not a valid pair of covariances.
    with pytest.raises(ValueError, match="imaginary"):
        metrics.frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), -np.eye(2))


def test_gaussian_stats_matches_numpy_and_needs_two_samples():
    feats = torch.randn(50, 3, generator=_gen(15))
    mu, sigma = metrics.gaussian_stats(feats)
    assert mu.shape == (3,) and sigma.shape == (3, 3) and sigma.dtype == torch.float64
    np.testing.assert_allclose(sigma.numpy(), np.cov(feats.double().numpy(), rowvar=False), rtol=1e-10)
    with pytest.raises(ValueError, match="at least 2 samples"):
        metrics.gaussian_stats(torch.randn(1, 3))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        metrics.gaussian_stats(torch.randn(10))


# ---------------------------------------------------------------------------------------------
# FVD and KVD
# ---------------------------------------------------------------------------------------------
def _mean_per_frame(videos: torch.Tensor) -> torch.Tensor:
    """A toy extractor: (B, C, T, H, W) -> (B, C*T) mean brightness of each frame and channel."""
    return rearrange(videos, "b c t h w -> b (c t) (h w)").mean(dim=-1)


def test_fvd_from_features_equals_frechet_of_fitted_gaussians():
    real = torch.randn(100, 4, generator=_gen(16))
    fake = torch.randn(120, 4, generator=_gen(17)) * 2 + 1
    expected = metrics.frechet_distance(*metrics.gaussian_stats(real), *metrics.gaussian_stats(fake))
    assert metrics.fvd_from_features(real, fake) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="same feature size"):
        metrics.fvd_from_features(real, torch.randn(10, 5))


def test_fvd_runs_extractor_in_batches():
    real, noise = _video(n=12, t=4, h=4, w=4, seed=18), _video(n=12, t=4, h=4, w=4, seed=19)
    fake = metrics.static_baseline(real)
    assert evaluation.fvd(real, real, extractor=_mean_per_frame) == pytest.approx(0.0, abs=1e-10)
    small = evaluation.fvd(real, fake, extractor=_mean_per_frame, batch_size=5)
    large = evaluation.fvd(real, fake, extractor=_mean_per_frame, batch_size=64)
    assert small == pytest.approx(large, rel=1e-9) and small > 0
    assert evaluation.fvd(real, noise, extractor=_mean_per_frame) > 0


def test_fvd_checks_clip_shapes_and_extractor_output():
    real = _video(n=4)
    with pytest.raises(ValueError, match=r"\(C, T, H, W\)"):
        evaluation.fvd(real, _video(n=4, t=6), extractor=_mean_per_frame)
    with pytest.raises(ValueError, match=r"\(B, D\)"):
        evaluation.fvd(real, real, extractor=lambda v: v.mean(dim=(1, 3, 4)).unsqueeze(-1))


def test_kvd_matches_brute_force_unbiased_estimator():
    x = torch.randn(5, 3, generator=_gen(20), dtype=torch.float64)
    y = torch.randn(4, 3, generator=_gen(21), dtype=torch.float64)

    def k(a, b):
        return (a @ b / 3 + 1) ** 3

    within_x = sum(k(x[i], x[j]) for i in range(5) for j in range(5) if i != j) / (5 * 4)
    within_y = sum(k(y[i], y[j]) for i in range(4) for j in range(4) if i != j) / (4 * 3)
    cross = sum(k(x[i], y[j]) for i in range(5) for j in range(4)) / (5 * 4)
    assert metrics.kvd(x, y) == pytest.approx(float(within_x + within_y - 2 * cross), rel=1e-10)


def test_kvd_near_zero_for_same_distribution_and_positive_for_shift():
    g = _gen(22)
    real, same = torch.randn(400, 8, generator=g), torch.randn(400, 8, generator=g)
    shifted = torch.randn(400, 8, generator=g) + 1.0
    same_value = metrics.kvd(real, same)
    shifted_value = metrics.kvd(real, shifted)
    assert abs(same_value) < 0.05
    assert shifted_value > 1.0 and shifted_value > 50 * abs(same_value)
    subsets = metrics.kvd(real, shifted, subset_size=100, num_subsets=10, generator=_gen(23))
    assert subsets == pytest.approx(shifted_value, rel=0.2)
    with pytest.raises(ValueError, match="subset_size"):
        metrics.kvd(real, shifted, subset_size=1000)


# ---------------------------------------------------------------------------------------------
# PSNR and SSIM
# ---------------------------------------------------------------------------------------------
def test_psnr_of_constant_offset_is_20_db():
    x = torch.full((2, 1, 4, 8, 8), 0.5)
    y = x + 0.1  # MSE = 0.01, PSNR = 10 log10(1 / 0.01) = 20 dB
    assert float(metrics.psnr(x, y)) == pytest.approx(20.0, abs=1e-5)
    per_video = metrics.psnr(x, y, reduction="none")
    assert per_video.shape == (2,)
    assert float(metrics.psnr(x, y, data_range=2.0)) == pytest.approx(20.0 + 20 * math.log10(2), abs=1e-5)


def test_pooled_psnr_is_the_psnr_of_the_mse_over_the_whole_set():
    x = torch.zeros(2, 1, 2, 4, 4)
    y = x.clone()
    y[0] = 0.2  # video 0 off by 0.2 everywhere, video 1 exact: per-video mean PSNR is +inf
    assert math.isinf(float(metrics.psnr(x, y)))
    pooled = float(metrics.psnr(x, y, reduction="pooled"))  # MSE = 0.04 / 2 = 0.02
    assert pooled == pytest.approx(10 * math.log10(1 / 0.02), abs=1e-5)
    assert math.isinf(float(metrics.psnr(x, x, reduction="pooled")))


def test_psnr_of_identical_videos_is_inf():
    x = _video()
    assert math.isinf(float(metrics.psnr(x, x)))
    with pytest.raises(ValueError, match="reduction"):
        metrics.psnr(x, x, reduction="sum")


def test_ssim_of_identical_videos_is_one():
    x = _video(c=3)
    assert float(metrics.ssim(x, x)) == pytest.approx(1.0, abs=1e-10)
    assert metrics.ssim(x, x, reduction="none").shape == (2,)


def test_ssim_decreases_with_noise():
    x = _video(seed=24) * 0.5 + 0.25  # room for noise before clamping
    scores = [float(metrics.ssim(x, metrics.add_noise(x, std, _gen(25)))) for std in (0.02, 0.1, 0.3)]
    assert 1.0 > scores[0] > scores[1] > scores[2]


def test_ssim_with_one_flat_window_equals_global_formula():
    # A window as large as the frame with a huge sigma is one uniform average: SSIM then uses the
    # plain mean, variance and covariance of the whole frame.
    x, y = _video(n=1, t=1, h=7, w=7, seed=35), _video(n=1, t=1, h=7, w=7, seed=36)
    a, b = x.double().flatten(), y.double().flatten()
    c1, c2 = 0.01**2, 0.03**2
    mu_a, mu_b = a.mean(), b.mean()
    var_a, var_b = ((a - mu_a) ** 2).mean(), ((b - mu_b) ** 2).mean()
    cov = ((a - mu_a) * (b - mu_b)).mean()
    expected = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    assert float(metrics.ssim(x, y, window_size=7, sigma=1e6)) == pytest.approx(float(expected), rel=1e-6)


def test_ssim_rejects_frames_smaller_than_window():
    x = _video(h=8, w=8)
    with pytest.raises(ValueError, match="window_size"):
        metrics.ssim(x, x)
    assert float(metrics.ssim(x, x, window_size=5)) == pytest.approx(1.0, abs=1e-10)


# ---------------------------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "bad, pattern",
    [
        (torch.rand(2, 1, 16, 16), r"\(N, C, T, H, W\).*4 dimensions"),
        (torch.rand(1, 1, 2, 4, 4) * 2, r"\[0, 1\]"),
        (torch.rand(1, 1, 2, 4, 4) * 2 - 1, r"\(x \+ 1\) / 2"),
        (torch.randint(0, 255, (1, 1, 2, 4, 4)), r"float tensor.*dtype torch.int64"),
        (torch.full((1, 1, 2, 4, 4), float("nan")), "NaN"),
        (np.zeros((1, 1, 2, 4, 4)), "got a ndarray"),
    ],
)
def test_validate_video_rejects_bad_input(bad, pattern):
    with pytest.raises(ValueError, match=pattern):
        metrics.validate_video(bad)


def test_validate_video_accepts_round_off_and_names_the_argument():
    metrics.validate_video(torch.full((1, 1, 2, 4, 4), 1.0 + 1e-7))
    with pytest.raises(ValueError, match="^context must be"):
        metrics.copy_last_frame(torch.rand(1, 2, 4, 4), horizon=2)
    with pytest.raises(ValueError, match="^x must be"):
        metrics.psnr(torch.rand(1, 1, 2, 4, 4) + 1.5, torch.rand(1, 1, 2, 4, 4))


# ---------------------------------------------------------------------------------------------
# Likelihood units
# ---------------------------------------------------------------------------------------------
def test_likelihood_units():
    assert metrics.nats_per_frame(876.0, 10) == pytest.approx(87.6)
    assert metrics.bits_per_dim(100 * math.log(2), 100) == pytest.approx(1.0)
    assert metrics.bits_per_dim(256 * 8 * math.log(2), 256) == pytest.approx(8.0)
    with pytest.raises(ValueError, match="num_frames"):
        metrics.nats_per_frame(1.0, 0)


# ---------------------------------------------------------------------------------------------
# ACD
# ---------------------------------------------------------------------------------------------
def test_acd_hand_computed_values():
    two_frames = torch.tensor([[[0.0, 0.0], [3.0, 4.0]]])  # one video, ‖(3, 4)‖ = 5
    assert metrics.acd(two_frames) == pytest.approx(5.0)
    three_frames = torch.tensor([[[0.0], [1.0], [3.0]]])  # pairs: 1, 3, 2 -> mean 2
    assert metrics.acd(three_frames) == pytest.approx(2.0)
    two_videos = torch.tensor([[[0.0, 0.0], [3.0, 4.0]], [[1.0, 1.0], [1.0, 1.0]]])  # 5 and 0
    assert metrics.acd(two_videos) == pytest.approx(2.5)


def test_acd_zero_for_identical_frames_and_positive_otherwise():
    static = torch.randn(3, 1, 6, generator=_gen(26)).expand(3, 5, 6)
    assert metrics.acd(static) == pytest.approx(0.0, abs=1e-12)
    assert metrics.acd(torch.randn(3, 5, 6, generator=_gen(27))) > 0
    with pytest.raises(ValueError, match=r"\(N, T, D\)"):
        metrics.acd(torch.randn(3, 1, 6))


def test_acd_videos_applies_frame_features():
    def mean_colour(frames):  # (B, C, H, W) -> (B, C)
        return frames.mean(dim=(2, 3))

    real = _video(c=3, seed=28)
    by_hand = metrics.acd(rearrange(real.mean(dim=(3, 4)), "n c t -> n t c"))
    assert evaluation.acd_videos(real, mean_colour) == pytest.approx(by_hand, rel=1e-6)
    assert evaluation.acd_videos(metrics.static_baseline(real), mean_colour) == pytest.approx(0.0, abs=1e-6)


# ---------------------------------------------------------------------------------------------
# Baselines and corruptions
# ---------------------------------------------------------------------------------------------
def test_copy_last_frame_shape_and_content():
    context = _video(n=2, c=3, t=4)
    prediction = metrics.copy_last_frame(context, horizon=6)
    assert prediction.shape == (2, 3, 6, 16, 16)
    for step in range(6):
        assert torch.equal(prediction[:, :, step], context[:, :, -1])


def test_static_baseline_repeats_first_frame():
    real = _video()
    static = metrics.static_baseline(real)
    assert static.shape == real.shape
    assert torch.equal(static, real[:, :, :1].expand_as(real))


def test_shuffled_baseline_permutes_frames_deterministically():
    real = _ramp_video(n=3, t=8)
    shuffled = metrics.shuffled_baseline(real, _gen(29))
    assert torch.equal(shuffled, metrics.shuffled_baseline(real, _gen(29)))
    frame_values = shuffled[:, 0, :, 0, 0]  # (N, T)
    assert torch.equal(frame_values.sort(dim=1).values, real[:, 0, :, 0, 0])  # same frames
    assert not torch.equal(shuffled, real)


def test_shuffle_frames_fraction_controls_how_many_move():
    video = _ramp_video(n=3, t=8)
    assert torch.equal(metrics.shuffle_frames(video, 0.0, _gen(30)), video)
    fully = metrics.shuffle_frames(video, 1.0, _gen(30))
    assert (fully[:, 0, :, 0, 0] != video[:, 0, :, 0, 0]).all()  # every position moved
    half = metrics.shuffle_frames(video, 0.5, _gen(31))
    moved = (half[:, 0, :, 0, 0] != video[:, 0, :, 0, 0]).sum(dim=1)
    assert moved.tolist() == [4, 4, 4]
    assert torch.equal(half, metrics.shuffle_frames(video, 0.5, _gen(31)))
    with pytest.raises(ValueError, match="fraction"):
        metrics.shuffle_frames(video, 1.5)


def test_noise_baseline_in_range_and_deterministic():
    real = _video(n=3, c=1, t=5)
    noise = metrics.noise_baseline(real, _gen(32))
    assert noise.shape == real.shape and noise.dtype == real.dtype
    assert noise.min() >= 0 and noise.max() <= 1
    assert torch.equal(noise, metrics.noise_baseline((3, 1, 5, 16, 16), _gen(32)))
    with pytest.raises(ValueError, match=r"\(N, C, T, H, W\)"):
        metrics.noise_baseline((3, 16, 16))


def test_add_noise_clamps_and_is_deterministic():
    video = _video(seed=33)
    noisy = metrics.add_noise(video, 0.5, _gen(34))
    assert noisy.min() >= 0 and noisy.max() <= 1
    assert not torch.equal(noisy, video)
    assert torch.equal(noisy, metrics.add_noise(video, 0.5, _gen(34)))
    assert torch.equal(metrics.add_noise(video, 0.0, _gen(34)), video)


# ---------------------------------------------------------------------------------------------
# Videos in, numbers out: embeddings, KVD on videos, the evaluation protocol
# ---------------------------------------------------------------------------------------------
def _mean_colour(frames):
    """A toy per-frame content feature: (B, C, H, W) -> (B, C)."""
    return frames.mean(dim=(2, 3))


def test_embed_videos_and_kvd_videos_use_the_extractor_in_batches():
    real, fake = _video(n=10, t=4, seed=40), _video(n=8, t=4, seed=41)
    feats = evaluation.embed_videos(real, _mean_per_frame, batch_size=3)
    assert torch.allclose(feats, _mean_per_frame(real))
    by_features = metrics.kvd(_mean_per_frame(real), _mean_per_frame(fake), degree=2)
    assert (evaluation.kvd_videos(real, fake, _mean_per_frame, batch_size=4, degree=2)
            == pytest.approx(by_features))
    with pytest.raises(ValueError, match=r"\(C, T, H, W\)"):
        evaluation.kvd_videos(real, _video(n=4, t=5), _mean_per_frame)


def test_baseline_videos_are_named_and_shaped_like_the_real_ones():
    real = _video(n=3, c=3, t=6, seed=42)
    baselines = metrics.baseline_videos(real, generator=_gen(43))
    assert set(baselines) == {"static", "shuffled", "noise"}
    assert all(v.shape == real.shape for v in baselines.values())
    assert torch.equal(baselines["static"][:, :, -1], real[:, :, 0])


def test_evaluate_generator_is_one_protocol_for_models_and_baselines():
    real, other = _video(n=12, t=4, seed=44), _video(n=12, t=4, seed=45)
    scores = evaluation.evaluate_generator(other, real, _mean_per_frame, _mean_colour)
    assert scores["n"] == 12
    assert scores["fvd"] == pytest.approx(evaluation.fvd(real, other, _mean_per_frame))
    assert scores["kvd"] == pytest.approx(metrics.kvd(_mean_per_frame(real), _mean_per_frame(other)))
    assert scores["acd"] == pytest.approx(evaluation.acd_videos(other, _mean_colour))
    again = evaluation.evaluate_generator(other, real, _mean_per_frame, _mean_colour,
                                       real_features=_mean_per_frame(real))
    assert again == scores


def test_evaluate_models_measures_shipped_generators_and_explains_the_rest(tiny_model_module, tmp_path,
                                                                           monkeypatch):
    import vidgen_lib
    from vidgen_lib.checkpoints import save_checkpoint

    model, _ = tiny_model_module.train(tiny_model_module.Config(), 2)
    save_checkpoint(model.state_dict(), tmp_path / "tiny.pt", config=tiny_model_module.Config(),
                    command="test", steps=2, wall_time_s=0.0)
    reference = torch.rand(6, 1, 4, 8, 8, generator=_gen(46))
    monkeypatch.setattr(vidgen_lib, "CHECKPOINT_DIR", tmp_path)
    result = evaluation.evaluate_models(reference, names=["tiny"], extractor=_mean_per_frame,
                                     frame_feature_fn=_mean_colour)
    samples = tiny_model_module.sample(model, 6, seed=0)
    assert result["tiny"] == evaluation.evaluate_generator(samples, reference, _mean_per_frame, _mean_colour)
    other_shape = evaluation.evaluate_models(torch.rand(6, 1, 5, 8, 8), names=["tiny"],
                                             extractor=_mean_per_frame)
    assert "differ" in other_shape["tiny"]
    monkeypatch.setattr(vidgen_lib, "CHECKPOINT_DIR", tmp_path / "empty")
    assert evaluation.evaluate_models(reference, names=["tiny"]) == {"tiny": "no checkpoint yet"}


def test_frechet_retries_with_ridge_when_the_root_is_too_complex(monkeypatch):
    real_sqrtm = metrics.distances.scipy.linalg.sqrtm
    calls = []

    def complex_once(a):  # what sqrtm can return for a singular product (N < D): large imaginary noise
        calls.append(a)
        root = real_sqrtm(a)
        return root + 0.01j * np.abs(root).max() if len(calls) == 1 else root

    monkeypatch.setattr(metrics.distances.scipy.linalg, "sqrtm", complex_once)
    sigma1, sigma2 = _random_spd(3, seed=39), _random_spd(3, seed=40)
    value = metrics.frechet_distance(torch.zeros(3), sigma1, torch.ones(3), sigma2)
    assert len(calls) == 2
    assert value == pytest.approx(_frechet_reference(torch.zeros(3), sigma1, torch.ones(3), sigma2), rel=1e-4)


def test_frame_differences_are_absolute_changes_between_consecutive_frames():
    video = torch.zeros(2, 1, 3, 4, 4)
    video[0, 0, 1, 0, 0] = 0.75  # a pixel lights up at t = 1 and goes dark at t = 2
    diffs = metrics.frame_differences(video)
    assert diffs.shape == (2, 1, 2, 4, 4) and diffs.min() >= 0
    assert diffs[0, 0, 0, 0, 0] == 0.75 and diffs[0, 0, 1, 0, 0] == 0.75 and diffs.sum() == 1.5
    assert metrics.frame_differences(metrics.static_baseline(torch.rand(3, 1, 5, 4, 4))).abs().sum() == 0


def test_generator_scores_credit_motion_that_plain_fvd_misses():
    """With the shipped feature network: a frozen real frame is close to real clips on FVD and on single
    frames, yet the motion FVD puts it far from them, farther than other real clips by a wide margin."""
    from vidgen_lib.datasets import MovingDigits, video_batch

    clips = video_batch(MovingDigits("test", 96, 16, 32, num_digits=1), 96)
    scores = evaluation.generator_scores(metrics.static_baseline(clips[48:]), clips[:48], clips[48:],
                                         name="frozen")
    assert (scores["fvd/frozen"] == scores["fvd/static"]
            and scores["fd_frames/frozen"] == scores["fd_frames/static"])
    # the same frames: appearance is real
    assert scores["fd_frames/static"] < 2 * scores["fd_frames/real"] + 1
    assert scores["fvd_motion/static"] > 5 * scores["fvd_motion/real"]  # no motion at all
    assert scores["acd/frozen"] == 0.0  # a frozen frame never changes content
    assert scores["eval_videos"] == 48


def test_card_rows_and_scores_table_lay_out_a_model_card():
    scores = {"fvd/gan": 3.0, "fvd/real": 1.0, "fvd/static": 2.0, "fvd/shuffled": 4.0, "fvd/noise": 9.0,
              "acd/gan": 0.5, "acd/real": 0.25}
    rows = evaluation.card_rows(scores, "gan")
    assert list(rows) == ["real (other clips)", "static", "shuffled", "noise", "gan"]
    assert rows["real (other clips)"] == {"fvd": 1.0, "acd": 0.25} and rows["gan"] == {"fvd": 3.0, "acd": 0.5}
    lines = evaluation.scores_table(rows, {"FVD": "fvd", "ACD": "acd"}, width=8).splitlines()
    assert lines[0] == " " * 8 + f"{'FVD':>12}{'ACD':>12}"
    assert lines[2] == f"{'static':8}{2.0:12.2f}{'—':>12}"  # no ACD recorded for the static baseline
