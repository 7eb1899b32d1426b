"""VPN (vidgen_lib.models.vpn, vidgen_lib.evaluation.vpn): masks, causality by gradients, the exact
likelihood, sampling, training, the shipped checkpoints and their measurements."""
from __future__ import annotations

import inspect
import math

import pytest
import torch

from vidgen_lib import CHECKPOINT_DIR, evaluation, models
from vidgen_lib.checkpoints import read_card
from vidgen_lib.evaluation import vpn as vpn_eval
from vidgen_lib.models import vpn, vpn_independent
from vidgen_lib.nn import masked


def tiny_config(**kw) -> vpn.Config:
    base = dict(frame_size=6, num_frames=4, context=2, levels=4, width=8, encoder_dilations=(1, 2),
                decoder_blocks=2, lstm_hidden=8, batch_size=2)
    return vpn.Config(**{**base, **kw})


def tiny_model(seed: int = 0, **kw) -> vpn.VPN:
    torch.manual_seed(seed)
    return vpn.build(tiny_config(**kw))


def constant_logits(model: vpn.VPN, logits: torch.Tensor) -> None:
    """Make the decoder output ``logits`` (levels,) at every pixel, whatever its input."""
    last = model.decoder.head[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(logits)


def test_follows_the_uniform_model_api() -> None:
    for module in (vpn, vpn_independent):
        assert all(hasattr(module, attr) for attr in models.REQUIRED) and hasattr(module, "predict")
    tutorial, full = vpn.Config.preset("tutorial"), vpn.Config.preset("full")
    assert tutorial.steps > 0 and tutorial.levels < full.levels == 256
    assert (full.frame_size, full.decoder_blocks, full.encoder_dilations) == (64, 12, (1, 2, 4, 8) * 2)
    assert not tutorial.independent_pixels
    assert vpn_independent.Config.preset("tutorial").independent_pixels
    with pytest.raises(ValueError, match="Unknown preset"):
        vpn.Config.preset("huge")
    with pytest.raises(ValueError, match="width must be even"):
        vpn.Config(width=7)


def test_signatures_and_shared_blocks() -> None:
    assert list(inspect.signature(vpn.training_step).parameters) == ["model", "trainer", "batch"]
    for module in (vpn, vpn_independent):
        params = inspect.signature(module.load_pretrained).parameters
        assert params["path"].kind is inspect.Parameter.KEYWORD_ONLY
        assert not hasattr(module, "evaluate") and not hasattr(module, "make_trainer")
    train = inspect.signature(vpn.train).parameters
    assert [n for n, p in train.items() if p.kind is inspect.Parameter.KEYWORD_ONLY] == [
        "run_dir", "seed", "progress", "time_limit_s"]
    assert vpn.causal_mask is masked.causal_mask and vpn.MaskedConv2d is masked.MaskedConv2d
    assert evaluation.for_model("vpn") is vpn_eval and evaluation.for_model("vpn_independent") is vpn_eval


# --- masks ------------------------------------------------------------------------------------------

def test_mask_a_excludes_the_centre_and_mask_b_includes_it() -> None:
    a, b = vpn.causal_mask(3, "A"), vpn.causal_mask(3, "B")
    assert torch.equal(a, torch.tensor([[1., 1., 1.], [1., 0., 0.], [0., 0., 0.]]))
    assert torch.equal(b, torch.tensor([[1., 1., 1.], [1., 1., 0.], [0., 0., 0.]]))
    big = vpn.causal_mask(5, "B")
    assert big[:2].all() and big[2, :3].all() and not big[2, 3:].any() and not big[3:].any()
    assert vpn.causal_mask(5, "A").sum() == 5 * 2 + 2


def test_the_decoder_reads_its_frame_through_mask_a_then_mask_b_only() -> None:
    model = tiny_model()
    masked = [m for m in model.decoder.modules() if isinstance(m, vpn.MaskedConv2d)]
    assert model.decoder.frame_in.mask_type == "A"
    assert [m.mask_type for m in masked].count("A") == 1 and len(masked) == 1 + 2 * 2
    baseline = tiny_model(independent_pixels=True)
    assert baseline.decoder.frame_in is None
    assert not any(isinstance(m, vpn.MaskedConv2d) for m in baseline.decoder.modules())


# --- causality, proven by gradients -------------------------------------------------------------------

@pytest.mark.parametrize("t, i, j", [(1, 0, 0), (1, 2, 3), (2, 5, 5), (3, 3, 0), (2, 0, 4)])
def test_a_pixel_depends_only_on_the_past(t: int, i: int, j: int) -> None:
    model = tiny_model()
    grad = vpn_eval.receptive_field(model, t, i, j, num_frames=4)  # (T, H, W)
    size = grad.shape[-1]
    raster = torch.arange(size * size).reshape(size, size)
    here = i * size + j
    assert (grad[t][raster >= here] == 0).all(), "sees itself or a later pixel of its frame"
    assert (grad[t + 1:] == 0).all(), "sees a later frame"
    assert (grad[t - 1] > 0).any(), "ignores the previous frame"
    if here > 0:
        assert (grad[t][raster < here] > 0).any(), "ignores the pixels before it"


def test_the_baseline_ignores_every_pixel_of_its_frame() -> None:
    model = tiny_model(independent_pixels=True)
    grad = vpn_eval.receptive_field(model, 2, 3, 3, num_frames=4)
    assert (grad[2:] == 0).all() and (grad[1] > 0).any() and (grad[0] > 0).any()


def test_the_decoder_on_a_band_of_rows_equals_the_whole_frame() -> None:
    """``sample_frame`` runs the decoder on the ``decoder_reach`` rows above a pixel only: that is exact."""
    model = tiny_model(frame_size=8).eval()
    c = model.config
    x, state = torch.rand(2, 1, 8, 8) * 2 - 1, torch.randn(2, c.lstm_hidden, 8, 8)
    with torch.no_grad():
        full = model.decoder(x, state)
        for i in range(8):
            lo = max(0, i - c.decoder_reach)
            band = model.decoder(x[:, :, lo:i + 1], state[:, :, lo:i + 1])[:, :, i - lo]
            assert torch.allclose(band, full[:, :, i], atol=1e-6)


# --- the likelihood -------------------------------------------------------------------------------------

def test_a_uniform_model_costs_h_w_ln_levels_per_frame() -> None:
    model = tiny_model()
    constant_logits(model, torch.zeros(4))
    video = torch.rand(3, 1, 4, 6, 6)
    want = 6 * 6 * math.log(4)
    assert vpn_eval.nll_nats_per_frame(model, video, context=2) == pytest.approx(want, rel=1e-5)
    assert vpn_eval.uniform_nats_per_frame(6, 4) == pytest.approx(want)
    log_p = vpn_eval.log_likelihood(model, video, context=1)
    assert torch.allclose(log_p, torch.full((3,), -3 * want), rtol=1e-5)


def test_the_likelihood_is_the_sum_of_pixel_log_probabilities() -> None:
    model = tiny_model()
    probs = torch.tensor([0.1, 0.2, 0.3, 0.4])
    constant_logits(model, probs.log())
    video = vpn.dequantize(torch.randint(4, (2, 1, 4, 6, 6)), 4)
    codes = vpn.quantize(video, 4)[:, 0, 1:]
    want = probs.log()[codes].sum(dim=(1, 2, 3))
    assert torch.allclose(vpn_eval.log_likelihood(model, video, context=1), want, atol=1e-4)
    loss = vpn.vpn_loss(model, video)["nats_per_frame"].item()
    assert loss == pytest.approx(-want.mean().item() / 3, rel=1e-5)


def test_copy_last_frame_likelihood_by_hand() -> None:
    video = torch.zeros(1, 1, 3, 2, 2)
    video[0, 0, 2, 0, 0] = 1.0  # one pixel of 8 scored changes
    nats, eps = vpn_eval.copy_last_nats_per_frame(video, levels=4, context=1)
    assert eps == pytest.approx(1 / 8)
    want = (-math.log(eps / 3) - 7 * math.log(1 - eps)) / 2
    assert nats == pytest.approx(want)
    fixed, _ = vpn_eval.copy_last_nats_per_frame(video, levels=4, context=1, eps=0.5)
    assert fixed == pytest.approx((-math.log(0.5 / 3) - 7 * math.log(0.5)) / 2)


# --- sampling -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("independent", [False, True])
def test_samples_follow_the_model(independent: bool) -> None:
    model = tiny_model(independent_pixels=independent)
    logits = torch.full((4,), -1e4)
    logits[2] = 1e4  # all mass on intensity 2 / 3
    constant_logits(model, logits)
    out = vpn.predict(model, torch.rand(2, 1, 2, 6, 6), 2, seed=0)
    assert out.shape == (2, 1, 2, 6, 6) and torch.allclose(out, torch.full_like(out, 2 / 3))


def test_sample_frequencies_match_the_probabilities() -> None:
    model = tiny_model(independent_pixels=True, frame_size=16).eval()
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    constant_logits(model, probs.log())
    codes = vpn.sample_frame(model, torch.zeros(64, 8, 16, 16), generator=torch.Generator().manual_seed(0))
    freq = torch.bincount(codes.flatten(), minlength=4).float() / codes.numel()
    assert torch.allclose(freq, probs, atol=0.01)


def test_predict_shapes_range_levels_and_seed() -> None:
    model = tiny_model().eval()
    context = torch.rand(3, 1, 2, 6, 6)
    out = vpn.predict(model, context, 2, seed=1)
    assert out.shape == (3, 1, 2, 6, 6) and out.min() >= 0 and out.max() <= 1
    assert torch.equal(vpn.dequantize(vpn.quantize(out, 4), 4), out)  # on the 4 levels
    assert torch.equal(out, vpn.predict(model, context, 2, seed=1))
    assert not torch.equal(out, vpn.predict(model, context, 2, seed=2))


# --- training -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("independent", [False, True])
def test_gradients_reach_every_parameter(independent: bool) -> None:
    model = tiny_model(independent_pixels=independent)
    vpn.vpn_loss(model, torch.rand(2, 1, 4, 6, 6))["loss"].backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not missing


def test_overfits_a_tiny_batch() -> None:
    model = tiny_model(frame_size=8)
    video = torch.zeros(2, 1, 4, 8, 8)
    for t in range(4):  # a bright square moving right, and one moving down
        video[0, 0, t, 2:4, t:t + 2] = 1.0
        video[1, 0, t, t:t + 2, 4:6] = 0.6
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        loss = vpn.vpn_loss(model, video)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < 0.25 * losses[0]  # a 4x drop


def test_train_runs_the_course_recipe_and_stops_at_the_time_limit() -> None:
    config = tiny_config(frame_size=8, num_videos=50)
    model, metrics = vpn.train(config, 3, progress=False)
    assert not model.training and metrics["steps"] == 3 and set(metrics) == {
        "final/nats_per_frame", "steps", "train_wall_time_s"}
    assert 0 < metrics["final/nats_per_frame"] < vpn_eval.uniform_nats_per_frame(8, 4) * 1.5
    _, metrics = vpn.train(config, 5, progress=False, time_limit_s=0)
    assert metrics["steps"] == 1


# --- measurements -------------------------------------------------------------------------------------------

def test_evaluate_reports_the_card_keys_for_either_model() -> None:
    for independent, name in ((False, "vpn"), (True, "vpn_independent")):
        model = tiny_model(independent_pixels=independent, frame_size=8)
        scores = evaluation.evaluate(name, model, 3, seed=0)
        assert set(scores) == {f"nats_per_frame/{name}", "nats_per_frame/copy_last", "nats_per_frame/uniform",
                               f"bits_per_dim/{name}", "copy_last_eps", "eval_videos", "eval_context",
                               "eval_scored_frames", "levels"}
        assert scores["eval_videos"] == 3 and scores["eval_scored_frames"] == 2
        assert scores[f"nats_per_frame/{name}"] < scores["nats_per_frame/uniform"] * 1.5
    with pytest.raises(ValueError, match="positive"):
        vpn_eval.evaluate(model, 0)


# --- quantisation and bad input -----------------------------------------------------------------------------

def test_quantize_dequantize_round_trip() -> None:
    codes = torch.arange(8)
    assert torch.equal(vpn.quantize(vpn.dequantize(codes, 8), 8), codes)
    x = torch.rand(1000)
    assert (vpn.dequantize(vpn.quantize(x, 8), 8) - x).abs().max() <= 0.5 / 7 + 1e-6
    assert vpn.dequantize(codes, 8)[[0, -1]].tolist() == [0.0, 1.0]


def test_bad_input_raises_clear_errors() -> None:
    model = tiny_model()
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        vpn.quantize(torch.tensor([1.5]), 8)
    with pytest.raises(ValueError, match="float intensities"):
        vpn.quantize(torch.tensor([1]), 8)
    with pytest.raises(ValueError, match="integer codes"):
        vpn.dequantize(torch.tensor([0.5]), 8)
    with pytest.raises(ValueError, match=r"codes must be in \[0, 8\)"):
        vpn.dequantize(torch.tensor([8]), 8)
    with pytest.raises(ValueError, match="levels must be >= 2"):
        vpn.Config(levels=1)
    with pytest.raises(ValueError, match="context must be"):
        vpn.Config(context=10, num_frames=10)
    with pytest.raises(ValueError, match=r"\(x \+ 1\) / 2"):
        vpn_eval.log_likelihood(model, torch.rand(1, 1, 4, 6, 6) * 2 - 1)
    with pytest.raises(ValueError, match="grey"):
        vpn_eval.log_likelihood(model, torch.rand(1, 3, 4, 6, 6))
    with pytest.raises(ValueError, match="context must be"):
        vpn_eval.nll_nats_per_frame(model, torch.rand(1, 1, 4, 6, 6), context=4)
    with pytest.raises(ValueError, match="horizon"):
        vpn.predict(model, torch.rand(1, 1, 2, 6, 6), 0)
    with pytest.raises(ValueError, match="6x6 frames"):
        vpn.predict(model, torch.rand(1, 1, 2, 8, 8), 1)
    with pytest.raises(ValueError, match="6x6 frames"):
        vpn_eval.log_likelihood(model, torch.rand(1, 1, 4, 6, 8))
    with pytest.raises(ValueError, match="grey"):
        vpn.predict(model, torch.rand(1, 3, 2, 6, 6), 1)
    with pytest.raises(ValueError, match="float tensor"):
        vpn.predict(model, torch.zeros(1, 1, 2, 6, 6, dtype=torch.uint8), 1)
    with pytest.raises(ValueError, match="mask_type"):
        vpn.causal_mask(3, "C")


def test_load_pretrained_with_a_missing_file_says_how_to_train(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="python -m vidgen_lib train vpn"):
        vpn.load_pretrained(path=tmp_path / "nothing.pt")
    with pytest.raises(FileNotFoundError, match="train vpn_independent"):
        vpn_independent.load_pretrained(path=tmp_path / "nothing.pt")


@pytest.mark.parametrize("module", [vpn, vpn_independent])
def test_shipped_checkpoints_load_strictly_and_match_their_cards(module) -> None:
    model = module.load_pretrained("cpu")  # checks the sha256 and loads strictly
    card = read_card(CHECKPOINT_DIR / f"{module.__name__.rsplit('.', 1)[-1]}.pt")
    assert "width" in card["config"] and "channels" not in card["config"]
    assert model.config.independent_pixels == (module is vpn_independent)
    scores = vpn_eval.evaluate(model, 8)
    assert set(scores) | {"final/nats_per_frame"} == set(card["metrics"])
