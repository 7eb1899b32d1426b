"""The learned video codec (vidgen_lib.models.codec): shapes, real bytes, the rate term, the lambda trade."""
from __future__ import annotations

import copy
import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F
from einops import rearrange

import vidgen_lib
from vidgen_lib.checkpoints import save_checkpoint
from vidgen_lib.datasets import video_batch
from vidgen_lib.models import codec
from vidgen_lib.nn.entropy import FactorizedPrior
from vidgen_lib.train import Trainer
from vidgen_lib.video import from_signed

TINY = dict(num_frames=4, frame_size=16, width=8, latent_channels=4, batch_size=4)


def clips(config: codec.Config, n: int, split: str = "test") -> torch.Tensor:
    return video_batch(codec.dataset(config, split, n), n)


def make_trainer(model: codec.VideoCodec) -> Trainer:
    return Trainer({"model": model}, {"model": codec.make_optimizer(model, model.config)}, progress=False,
                   device=torch.device("cpu"), log_every=1)


def test_shapes_latent_size_and_range():
    torch.manual_seed(0)
    config = codec.Config.preset("tutorial")
    model = codec.build(config)
    video = clips(config, 2)
    y = model.encode_latents(video)
    assert y.shape == (2, config.latent_channels, 8, 8, 8)  # (C, T/2, H/4, W/4)
    reconstruction, y_noisy = model(video)
    assert reconstruction.shape == video.shape and y_noisy.shape == y.shape
    decoded = model.decode_latents(y * 1000)  # large latents: the decoder still clips to [0, 1]
    assert decoded.shape == video.shape and decoded.min() == 0 and decoded.max() == 1
    torch.testing.assert_close(decoded, from_signed(model.synthesis(y * 1000)).clamp(0, 1))
    assert 0 < (y_noisy - y).abs().max() <= 0.5  # the training pass adds the unit noise
    tiny = codec.build(codec.Config(**TINY))
    assert tiny.encode_latents(clips(tiny.config, 1)).shape == (1, 4, 2, 4, 4)


def test_the_support_is_where_the_tails_of_every_channel_fall_below_1e_9():
    prior = FactorizedPrior(2, filters=())  # one layer: c(y) = sigmoid(a y + b), a logistic density
    with torch.no_grad():
        prior.matrices[0].fill_(math.log(math.expm1(1.0)))  # a = softplus(.) = 1
        prior.biases[0].copy_(torch.tensor([0.0, 5.0]).reshape(2, 1, 1))  # channel 1 sits at y = -5
    # logit(1e-9) = -20.72: channel 0 keeps k + 1/2 > -20.72 and k - 1/2 < 20.72, i.e. -21..21;
    # channel 1, shifted by -5, keeps -26..16; the table covers both
    assert codec.support(prior) == (-26, 21)
    low, high = codec.support(prior)
    table = prior.pmf_table(low - 1, high + 1)
    assert table[:, 0].max() <= 1e-9 and table[:, -1].max() <= 1e-9  # what lies outside is below the tail
    assert prior.pmf_table(low, high)[:, 0].max() > 1e-9  # and the range is the narrowest such
    with torch.no_grad():
        prior.matrices[0].fill_(1000.0)  # a = 1000: all the mass on 0
    assert codec.support(prior) == (0, 1)  # still two integers: a range coder's table needs them


def test_decompress_is_the_synthesis_of_the_rounded_latents_and_the_bytes_match_the_estimate():
    torch.manual_seed(0)
    model = codec.build(codec.Config(width=8)).eval()
    video = clips(model.config, 4)  # 4 x 8 x (8 x 8 x 8) = 16k latents
    data, shape = codec.compress(model, video)
    assert shape == (4, 8, 8, 8, 8)
    with torch.no_grad():
        expected = model.decode_latents(torch.round(model.encode_latents(video)))
    assert torch.equal(codec.decompress(model, data, shape), expected)
    assert 8 * len(data) == pytest.approx(codec.estimated_bits(model, video), rel=0.02)


def test_latents_beyond_the_support_are_clamped_into_it():
    torch.manual_seed(0)
    model = codec.build(codec.Config(**TINY)).eval()
    with torch.no_grad():
        model.analysis[-1].weight.mul_(1e4)  # latents in the thousands: far outside the prior's support
    video = clips(model.config, 2)
    low, high = codec.support(model.prior)
    with torch.no_grad():
        rounded = torch.round(model.encode_latents(video))
    clamped = rounded.clamp(low, high)
    assert (rounded != clamped).any()
    assert torch.equal(codec.quantized_latents(model, video), clamped)
    data, shape = codec.compress(model, video)
    with torch.no_grad():
        assert torch.equal(codec.decompress(model, data, shape), model.decode_latents(clamped))


def test_the_rate_term_is_the_priors_bits_of_the_noisy_latents_per_pixel():
    torch.manual_seed(0)
    model = codec.build(codec.Config(**TINY))
    model.prior = FactorizedPrior(4, init_scale=0.3)  # a narrow prior: the bits depend on the noise drawn
    video = clips(model.config, 3, "train")
    before = copy.deepcopy(model)
    torch.manual_seed(7)
    values = codec.training_step(model, make_trainer(model), {"video": video})
    with torch.no_grad():  # by hand, under the same noise: -log2(c(v + 1/2) - c(v - 1/2)), v = y + u
        torch.manual_seed(7)
        y = before.encode_latents(video)
        noisy = y + torch.empty_like(y).uniform_(-0.5, 0.5)
        v = rearrange(noisy, "b c t h w -> c 1 (b t h w)").double()
        prior = copy.deepcopy(before.prior).double()
        bits = -torch.log2(torch.sigmoid(prior.logits(v + 0.5)) - torch.sigmoid(prior.logits(v - 0.5))).sum()
        mse = F.mse_loss(from_signed(before.synthesis(noisy)), video)  # unclipped, as training sees it
    assert values["bpp"] == pytest.approx(bits.item() / (3 * 4 * 16 * 16), rel=1e-5)
    assert values["mse"] == pytest.approx(mse.item(), rel=1e-5)
    with torch.no_grad():
        rounded = before.prior.bits(torch.round(y)).item() / (3 * 4 * 16 * 16)
    assert abs(values["bpp"] - rounded) > 1e-3  # the rate was taken of the noisy latents, not the rounded
    assert not torch.equal(model.analysis[0].weight, before.analysis[0].weight)  # and a step was taken


def test_every_parameter_gets_a_gradient():
    torch.manual_seed(0)
    model = codec.build(codec.Config(**TINY))
    bpp, mse = codec.rate_distortion_loss(model, clips(model.config, 2, "train"))
    (bpp + model.config.lmbda * mse).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and (p.grad != 0).all(), name


def test_a_larger_lambda_trades_rate_for_distortion():
    config = codec.Config(**TINY, lr=3e-3)  # a faster rate than the preset's: 300 steps on 4 clips
    video = clips(config, 4, "train")
    points = {}
    for lmbda in (10.0, 3000.0):  # the same start, the same noise: only the weight of the distortion differs
        torch.manual_seed(0)
        model = codec.build(dataclasses.replace(config, lmbda=lmbda))
        step = lambda tr, b: codec.training_step(model, tr, b)  # noqa: E731
        make_trainer(model).fit(step, iter(lambda: {"video": video}, None), 300)  # 4 clips, over and over
        data, shape = codec.compress(model, video)
        reconstruction = codec.decompress(model, data, shape)
        points[lmbda] = (8 * len(data) / video[:, 0].numel(), F.mse_loss(reconstruction, video).item())
    (bpp_low, mse_low), (bpp_high, mse_high) = points[10.0], points[3000.0]
    assert bpp_high > 2 * bpp_low and mse_high < mse_low / 2, points


def test_bad_input_gets_a_clear_error():
    model = codec.build(codec.Config(**TINY))
    video = clips(model.config, 1)
    with pytest.raises(ValueError, match=r"\(B, 1, T, H, W\) with T even"):
        codec.compress(model, video[:, :, :3])
    with pytest.raises(ValueError, match=r"\(B, 1, T, H, W\)"):
        codec.estimated_bits(model, video.expand(1, 3, -1, -1, -1))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        codec.training_step(model, make_trainer(model), {"video": video * 2 - 1})
    with pytest.raises(ValueError, match=r"\(B, 4, \.\.\.\)"):
        codec.decompress(model, *codec.compress(model, video)[:1], (1, 8, 2, 4, 4))
    with pytest.raises(ValueError, match="even"):
        codec.Config(num_frames=15)
    with pytest.raises(ValueError, match="lmbda"):
        codec.Config(lmbda=0.0)
    with pytest.raises(ValueError, match="tutorial"):
        codec.Config.preset("huge")


def test_load_pretrained_says_how_to_train_and_round_trips(tmp_path, monkeypatch):
    monkeypatch.setattr(vidgen_lib, "CHECKPOINT_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="python -m vidgen_lib train codec"):
        codec.load_pretrained()
    config = codec.Config(**TINY, lmbda=300.0)
    model = codec.build(config).eval()
    save_checkpoint(model.state_dict(), tmp_path / "codec.pt", config=config, command="test", steps=0,
                    wall_time_s=0.0)
    loaded = codec.load_pretrained("cpu")
    assert loaded.config == config and not loaded.training
    video = clips(config, 1)
    assert codec.compress(loaded, video) == codec.compress(model, video)


def test_rate_at_psnr_reads_the_curve_between_its_points_and_clamps_below_it():
    from vidgen_lib.evaluation import codec as codec_eval
    from vidgen_lib.evaluation.coding import rate_distortion

    def fake(videos, levels):  # a codec whose curve is bpp = levels / 10 and PSNR = 10 * levels dB exactly
        mse = 10.0 ** (-levels)  # PSNR = 10 log10(1 / mse) = 10 * levels
        return 10 * levels, videos + mse**0.5  # 80 * levels bits over the 800 pixels

    curve = rate_distortion(fake, torch.zeros(1, 1, 2, 20, 20), (4, 2, 3))
    assert codec_eval.rate_at_psnr(curve, 25.0) == pytest.approx(0.25)
    assert codec_eval.rate_at_psnr(curve, 5.0) == pytest.approx(0.2)  # below the curve: its coarsest point
    with pytest.raises(ValueError, match="above the curve"):
        codec_eval.rate_at_psnr(curve, 45.0)
