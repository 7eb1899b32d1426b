"""The blocks of video diffusion: the schedule's closed forms, DDIM, guidance, factorised attention."""
from __future__ import annotations

import math

import pytest
import torch

from vidgen_lib.nn import diffusion as d
from vidgen_lib.nn.attention import SpatialAttention, TemporalAttention


def test_the_cosine_schedule_by_hand():
    t = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)  # float32's tan near pi/2 is off by 1e-3
    log_snr = d.cosine_log_snr(t)
    # the clipped ends, and the middle: atan(e^10) + atan(e^-10) = pi/2, so a/2 + b = pi/4, tan = 1
    assert torch.allclose(log_snr, torch.tensor([20.0, 0.0, -20.0], dtype=torch.float64), atol=1e-9)
    alpha, sigma = d.alpha_sigma(log_snr)
    assert torch.allclose(alpha ** 2 + sigma ** 2, torch.ones(3, dtype=torch.float64))
    assert alpha[1].item() == pytest.approx(math.sqrt(0.5))
    assert sigma[2].item() == pytest.approx(1.0, abs=1e-4)
    unclipped = d.cosine_log_snr(torch.tensor([1 / 3]), logsnr_min=-math.inf, logsnr_max=math.inf)
    assert unclipped.item() == pytest.approx(2 * math.log(1 / math.tan(math.pi / 6)))  # alpha = cos(pi t / 2)
    assert (d.cosine_log_snr(torch.linspace(0, 1, 50)).diff() < 0).all()  # noisier as t grows


def test_v_eps_and_x_convert_into_each_other():
    g = torch.Generator().manual_seed(0)
    x, noise = torch.rand(4, 3, 2, 5, 5, generator=g) * 2 - 1, torch.randn(4, 3, 2, 5, 5, generator=g)
    log_snr = torch.tensor([-5.0, -1.0, 0.5, 6.0])
    z = d.diffuse(x, log_snr, noise)
    v = d.v_from(x, noise, log_snr)
    alpha, sigma = d.alpha_sigma(log_snr[0])
    assert torch.allclose(z[0], alpha * x[0] + sigma * noise[0])
    assert torch.allclose(d.x_from_v(z, v, log_snr), x, atol=1e-5)
    assert torch.allclose(d.eps_from_x(z, x, log_snr), noise, atol=1e-4)
    assert torch.allclose(d.x_from_eps(z, noise, log_snr), x, atol=1e-4)


def test_ddim_with_a_perfect_denoiser_returns_the_data():
    data = torch.rand(3, 1, 4, 6, 6) * 2 - 1
    out = d.ddim_sample(lambda z, log_snr: data, torch.randn(3, 1, 4, 6, 6), steps=5)
    assert torch.allclose(out, data)


def test_ddim_with_the_exact_denoiser_of_gaussian_data_draws_its_variance():
    """For x ~ N(0, s²), E[x | z] = alpha s² z / (alpha² s² + sigma²): DDIM with it must map N(0, 1) noise
    to samples of variance s² (a wrong step lands elsewhere: with z_s = z_t, the variance would be 0)."""
    s2 = 0.09

    def posterior_mean(z, log_snr):
        alpha, sigma = (v.reshape(-1, 1) for v in d.alpha_sigma(log_snr))
        return alpha * s2 * z / (alpha ** 2 * s2 + sigma ** 2)

    noise = torch.randn(20000, 1, generator=torch.Generator().manual_seed(1))
    samples = d.ddim_sample(posterior_mean, noise, steps=100, clip=False)
    assert samples.var().item() == pytest.approx(s2, rel=0.05)


def test_guidance_combines_the_two_predictions():
    cond, uncond = torch.tensor([2.0, -1.0]), torch.tensor([1.0, 1.0])
    assert torch.equal(d.guided(cond, uncond, 0.0), cond)
    assert torch.equal(d.guided(cond, uncond, 2.0), torch.tensor([4.0, -5.0]))  # 3·cond - 2·uncond


def test_spatial_attention_never_mixes_frames():
    torch.manual_seed(0)
    block = SpatialAttention(8, heads=2)
    x = torch.randn(2, 8, 5, 4, 4)
    changed = x.clone()
    changed[:, :, 2, 1, 3] += torch.randn(8)  # one position of frame 2 (not a constant: LayerNorm removes it)
    delta = (block(changed) - block(x)).abs().amax(dim=(0, 1, 3, 4))  # per frame
    assert delta[2] > 1e-3 and torch.all(delta[[0, 1, 3, 4]] == 0)


def test_temporal_attention_never_mixes_positions_and_can_keep_frames_apart():
    torch.manual_seed(0)
    block = TemporalAttention(8, heads=2, max_frames=6)
    with torch.no_grad():
        block.relative_bias.normal_()
    x = torch.randn(2, 8, 5, 4, 4)
    changed = x.clone()
    changed[:, :, 2, 1, 3] += torch.randn(8)  # frame 2 at one position
    delta = (block(changed) - block(x)).abs()
    per_position = delta.amax(dim=(0, 1, 2))
    assert per_position[1, 3] > 1e-3 and (per_position > 0).sum() == 1
    assert (delta[:, :, [0, 1, 3, 4], 1, 3] > 1e-4).any()  # the other frames at that position see it
    alone = (block(changed, independent_frames=True) - block(x, independent_frames=True)).abs()
    assert alone[:, :, 2].amax() > 1e-3 and alone[:, :, [0, 1, 3, 4]].amax() == 0


def test_the_temporal_bias_depends_only_on_the_offset():
    block = TemporalAttention(4, heads=1, max_frames=4)
    with torch.no_grad():
        block.relative_bias.copy_(torch.arange(7.0)[None])  # offsets -3..3 -> 0..6
    bias = block.bias(3)[0]
    assert torch.equal(bias, torch.tensor([[3.0, 4.0, 5.0], [2.0, 3.0, 4.0], [1.0, 2.0, 3.0]]))
    with pytest.raises(ValueError, match="at most 4 frames"):
        block.bias(5)


def test_a_ddim_step_given_the_true_clip_moves_along_the_same_noise():
    g = torch.Generator().manual_seed(5)
    x, eps = torch.rand(3, 2, 4, 4, 4, generator=g) * 2 - 1, torch.randn(3, 2, 4, 4, 4, generator=g)
    log_snr_t, log_snr_s = torch.tensor([-3.0, 0.0, 2.0]), torch.tensor([-1.0, 4.0, 6.0])
    z_s = d.ddim_step(d.diffuse(x, log_snr_t, eps), x, log_snr_t, log_snr_s)
    assert torch.allclose(z_s, d.diffuse(x, log_snr_s, eps), atol=1e-5)
