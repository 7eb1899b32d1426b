"""Chapter 12's codec pieces: the factorised prior, the range-coded bytes, and the classical baselines."""
import copy
import math
import zlib

import numpy as np
import pytest
import torch

from vidgen_lib.datasets import MovingDigits, video_batch
from vidgen_lib.evaluation.coding import (bits_per_pixel, intra_zlib, keyframe_residuals_zlib, psnr,
                                          rate_distortion)
from vidgen_lib.nn.entropy import FactorizedPrior, decode, encode


def _scrambled_prior(channels: int, seed: int = 0) -> FactorizedPrior:
    """A prior with random weights: whatever they are, its CDF must stay a CDF."""
    torch.manual_seed(seed)
    prior = FactorizedPrior(channels)
    with torch.no_grad():
        for p in prior.parameters():
            p.normal_(0.0, 1.0)
    return prior


def _rounded_laplace_entropy(scale: float) -> float:
    """H(round(Y)) in bits for Y ~ Laplace(0, scale), from the closed-form bin masses."""
    k = np.arange(1, 400)
    p0 = 1 - math.exp(-0.5 / scale)
    pk = 0.5 * np.exp(-(k - 0.5) / scale) * (1 - math.exp(-1 / scale))  # each of +k and -k
    return -(p0 * math.log2(p0) + 2 * (pk * np.log2(pk)).sum())


def test_the_cdf_is_increasing_whatever_the_weights():
    prior = _scrambled_prior(16)  # gates below -1 would fold the curve back if tanh did not bound them
    x = torch.linspace(-20, 20, 2001).expand(16, 1, -1)
    assert (prior.logits(x).diff(dim=-1) > 0).all()


def test_the_pmf_is_the_likelihood_of_the_integers_sums_to_one_and_its_end_bins_hold_the_tails():
    prior = _scrambled_prior(3)
    table = prior.pmf_table(-200, 200)
    assert table.shape == (3, 401) and table.dtype == np.float64
    np.testing.assert_allclose(table.sum(axis=1), 1.0, atol=1e-6)
    integers = torch.arange(-200.0, 201.0).expand(1, 3, -1)
    np.testing.assert_allclose(table, prior.likelihood(integers)[0].detach().double().numpy(), atol=1e-7)
    torch.manual_seed(0)
    prior = FactorizedPrior(3)  # a wide density: much of its mass lies outside -2..2
    wide, narrow = prior.pmf_table(-200, 200), prior.pmf_table(-2, 2)
    np.testing.assert_allclose(narrow.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(narrow[:, 0], wide[:, :199].sum(axis=1), atol=1e-6)  # all of it below -1.5
    np.testing.assert_allclose(narrow[:, -1], wide[:, 202:].sum(axis=1), atol=1e-6)
    np.testing.assert_allclose(narrow[:, 1:-1], wide[:, 199:202], atol=1e-7)
    assert (narrow[:, 0] > 0.1).all()


def test_bits_are_minus_log2_of_the_bin_masses_of_the_cdf():
    prior = _scrambled_prior(2, seed=1)
    y = torch.tensor([[[0.3, -4.0], [0.7, -1.2]]])  # (B=1, C=2, N=2)
    exact = copy.deepcopy(prior).double()

    def cdf(v: float, c: int) -> float:
        x = torch.full((2, 1, 1), v, dtype=torch.float64)
        return torch.sigmoid(exact.logits(x))[c, 0, 0].item()

    masses = [cdf(v + 0.5, c) - cdf(v - 0.5, c) for c in range(2) for v in y[0, c].tolist()]
    assert prior.bits(y).item() == pytest.approx(-sum(math.log2(m) for m in masses), rel=1e-5)
    assert prior.likelihood(y).shape == y.shape


def test_likelihood_stays_accurate_far_in_the_right_tail():
    torch.manual_seed(0)
    prior = FactorizedPrior(1, init_scale=1.0)  # a narrow density: values of 10 and more are rare
    y = torch.arange(-18.0, 19.0).reshape(1, 1, -1)
    exact = copy.deepcopy(prior).double().likelihood(y.double())
    torch.testing.assert_close(prior.likelihood(y).double(), exact, rtol=1e-4, atol=0)

    def cdf(v: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(prior.logits(v.reshape(1, 1, -1)))

    naive = (cdf(y + 0.5) - cdf(y - 0.5)).reshape(y.shape)  # 1 - 1 in float32 loses the digits
    assert (naive[..., -1].double() / exact[..., -1] - 1).abs() > 1e-2


def test_noise_is_a_differentiable_unit_jitter_and_testing_rounds():
    torch.manual_seed(0)
    prior = FactorizedPrior(2)
    y = (torch.randn(4, 2, 50) * 3).requires_grad_()
    noisy = prior.quantize(y, noise=True)
    offset = (noisy - y).detach()
    assert offset.abs().max() <= 0.5 and offset.std().item() == pytest.approx(1 / math.sqrt(12), rel=0.1)
    assert not torch.equal(noisy, prior.quantize(y, noise=True))  # fresh noise on every call
    noisy.sum().backward()
    assert torch.equal(y.grad, torch.ones_like(y))
    rounded = prior.quantize(y, noise=False)
    assert torch.equal(rounded, torch.round(y)) and (rounded - y).abs().max() <= 0.5


def test_a_prior_fitted_to_laplace_samples_predicts_the_bytes_the_range_coder_writes():
    torch.manual_seed(0)
    laplace = torch.distributions.Laplace(0.0, 2.0)
    prior = FactorizedPrior(2)
    y = laplace.sample((2000, 2))
    optimizer = torch.optim.Adam(prior.parameters(), lr=1e-2)
    for _ in range(300):  # minimise the rate of the noisy latents: bits per value
        loss = prior.bits(prior.quantize(y, noise=True)) / y.numel()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    fresh = prior.quantize(laplace.sample((2000, 2)), noise=False)
    estimate = prior.bits(fresh).item()
    assert estimate / fresh.numel() == pytest.approx(_rounded_laplace_entropy(2.0), rel=0.02)  # ~3.46 bits
    data = encode(fresh, prior, -40, 40)
    assert 8 * len(data) == pytest.approx(estimate, rel=0.03)
    assert torch.equal(decode(data, prior, tuple(fresh.shape), -40, 40), fresh)


def test_encode_and_decode_round_trip_latents_of_any_shape_and_refuse_bad_symbols():
    prior = _scrambled_prior(3, seed=2)
    symbols = torch.randint(-6, 7, (2, 3, 4, 5)).float()
    data = encode(symbols.numpy().astype(np.int16), prior, -8, 8)
    assert torch.equal(decode(data, prior, (2, 3, 4, 5), -8, 8), symbols)
    with pytest.raises(ValueError, match="whole numbers"):
        encode(symbols + 0.3, prior, -8, 8)
    with pytest.raises(ValueError, match=r"\(B, 3, \.\.\.\)"):
        encode(symbols[:, :2], prior, -8, 8)
    with pytest.raises(ValueError, match="clamp"):
        encode(symbols * 2, prior, -8, 8)
    with pytest.raises(ValueError, match=r"\(B, 3, \.\.\.\)"):
        decode(data, prior, (2, 4, 4, 5), -8, 8)
    with pytest.raises(ValueError, match=r"\(B, 3, \.\.\.\)"):
        prior.likelihood(torch.zeros(2, 4))


def _digits() -> torch.Tensor:
    return video_batch(MovingDigits("test", 2, 8, 32, num_digits=1), 2)


def test_psnr_matches_a_hand_computed_value_and_bpp_counts_every_pixel():
    reference = torch.zeros(1, 1, 2, 4, 4)
    reconstruction = reference.clone()
    reconstruction[..., :2, :] = 0.2  # half the values off by 0.2: MSE = 0.02
    assert psnr(reference, reconstruction) == pytest.approx(10 * math.log10(1 / 0.02))
    assert psnr(reference[0], reference[0]) == math.inf
    assert bits_per_pixel(4, reference) == 1.0  # 32 bits over 2 frames of 4x4


def test_the_baselines_decode_to_the_quantised_video_and_intra_counts_the_zlib_bytes():
    video = _digits()
    for levels in (4, 256):
        expected = torch.round(video * (levels - 1)) / (levels - 1)
        num_bytes, intra = intra_zlib(video, levels)
        assert torch.equal(intra, expected) and (intra - video).abs().max() <= 0.5 / (levels - 1) + 1e-6
        indices = (expected * (levels - 1)).round().to(torch.uint8)
        frames = [indices[b, :, t].numpy().tobytes() for b in range(2) for t in range(8)]
        assert num_bytes == sum(len(zlib.compress(f, 9)) for f in frames)
        # closed loop with the same steps: the residual coder shows the decoder exactly the intra frames
        assert torch.equal(keyframe_residuals_zlib(video, levels)[1], expected)
    assert intra_zlib(video[0], 16)[1].shape == video[0].shape  # one clip (C, T, H, W) in, one out


def test_black_clips_cost_almost_nothing_and_a_still_clip_costs_one_frame_with_residuals():
    black = torch.zeros(1, 1, 8, 64, 64)
    for codec in (intra_zlib, keyframe_residuals_zlib):
        num_bytes, reconstruction = codec(black, 256)
        assert bits_per_pixel(num_bytes, black) < 0.06 and torch.equal(reconstruction, black)
    torch.manual_seed(0)
    still = torch.rand(1, 1, 1, 32, 32).expand(1, 1, 8, 32, 32)  # one noisy frame, held
    intra_bytes, residual_bytes = intra_zlib(still, 256)[0], keyframe_residuals_zlib(still, 256)[0]
    assert residual_bytes < intra_bytes / 4  # 7 residuals of zeros instead of 7 more noisy frames


def test_psnr_and_rate_rise_with_the_number_of_levels():
    video = _digits()
    for codec in (intra_zlib, keyframe_residuals_zlib):
        points = rate_distortion(codec, video, [2, 4, 16, 64])
        rates, quality = zip(*points)
        assert list(rates) == sorted(rates) and list(quality) == sorted(quality)
        assert quality[-1] > quality[0] + 20


def test_the_closed_loop_residual_coder_does_not_drift_where_an_open_loop_one_does():
    torch.manual_seed(0)
    steps = torch.rand(1, 1, 40, 16, 16) * 0.02  # a slow random walk of brightness
    video = (0.3 + steps.cumsum(dim=2)).clamp(0, 1)
    levels = 16
    error = (keyframe_residuals_zlib(video, levels)[1] - video).abs().amax(dim=(0, 1, 3, 4))  # per frame
    assert (error <= 0.5 / (levels - 1) + 1e-6).all()
    # open loop: residuals from the original previous frame; their rounding errors add up frame by frame
    residuals = torch.round(video.diff(dim=2) * (levels - 1)) / (levels - 1)
    first = torch.round(video[:, :, :1] * (levels - 1)) / (levels - 1)
    open_loop = torch.cat([first, first + residuals.cumsum(dim=2)], dim=2)
    assert (open_loop - video).abs()[:, :, -1].max() > 2 / (levels - 1)


def test_the_baselines_refuse_bad_levels_and_videos_outside_0_1():
    video = _digits()
    with pytest.raises(ValueError, match="2..256"):
        intra_zlib(video, 1)
    with pytest.raises(ValueError, match="2..256"):
        keyframe_residuals_zlib(video, 300)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        intra_zlib(video * 2 - 1, 16)
