"""VGAN (vidgen_lib.models.vgan, vidgen_lib.evaluation.vgan): shapes, the two-stream composition, the mask
prior, training, sampling, loading, measuring."""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch

import vidgen_lib
from vidgen_lib import evaluation, models
from vidgen_lib.checkpoints import save_checkpoint
from vidgen_lib.evaluation import vgan as vgan_eval
from vidgen_lib.models import vgan
from vidgen_lib.train import Trainer

TINY = dict(generator_widths=(8, 8, 4), discriminator_widths=(4, 8, 8), batch_size=4, eval_videos=8)
TINY_FULL = dict(num_frames=32, frame_size=64, generator_widths=(8, 8, 4, 4),
                 discriminator_widths=(4, 4, 8, 8), batch_size=2)


def tiny(**changes) -> vgan.Config:
    return vgan.Config(**{**TINY, **changes})


def tiny_trainer(config: vgan.Config, seed: int = 0) -> tuple[vgan.VGAN, Trainer]:
    torch.manual_seed(seed)
    model = vgan.build(config)
    trainer = Trainer({"model": model}, vgan.make_optimizers(model, config), progress=False,
                      device=torch.device("cpu"), log_every=1)
    return model, trainer


def fit(model: vgan.VGAN, trainer: Trainer, batch: dict[str, torch.Tensor], steps: int) -> list[dict]:
    """``steps`` training steps on the same batch (``steps`` counts from the start of ``trainer``)."""
    return trainer.fit(lambda tr, b: vgan.training_step(model, tr, b), iter(lambda: batch, None), steps)


def real_batch(config: vgan.Config, n: int) -> dict[str, torch.Tensor]:
    """``n`` clips of a bright square sliding diagonally on black: a fixed, known "real" batch."""
    video = torch.zeros(n, 1, config.num_frames, config.frame_size, config.frame_size)
    for i in range(n):
        for t in range(config.num_frames):
            y = x = (t + 3 * i) % (config.frame_size - 8)
            video[i, 0, t, y:y + 8, x:x + 8] = 1.0
    return {"video": video}


@pytest.mark.parametrize("sizes", [TINY, TINY_FULL], ids=["tutorial-shape", "full-shape"])
@pytest.mark.parametrize("two_stream", [True, False])
def test_generator_and_discriminator_shapes_and_ranges(sizes, two_stream):
    config = vgan.Config(**{**sizes, "two_stream": two_stream})
    model = vgan.build(config)
    z = torch.randn(3, config.z_dim)
    out = model.generator.generate(z)
    T, S = config.num_frames, config.frame_size
    assert out.video.shape == (3, 1, T, S, S)
    assert 0 <= out.video.min() and out.video.max() <= 1
    assert model.discriminator(out.video).shape == (3,)
    if two_stream:
        assert out.mask.shape == (3, 1, T, S, S) and out.background.shape == (3, 1, S, S)
        assert 0 <= out.mask.min() and out.mask.max() <= 1


def test_presets_have_the_papers_geometry():
    tutorial, full = vgan.Config.preset("tutorial"), vgan.Config.preset("full")
    assert (tutorial.num_frames, tutorial.frame_size, tutorial.two_stream) == (16, 32, True)
    assert (full.num_frames, full.frame_size, full.generator_widths) == (32, 64, (512, 256, 128, 64))
    assert tutorial.mask_weight == 0.1
    paper = tutorial.paper()  # the paper's game at the same sizes
    assert (paper.loss, paper.discriminator_norm, paper.augment) == ("bce", "batch", "")
    assert (paper.lr, paper.disc_lr, paper.beta1, paper.beta2) == (2e-4, 2e-4, 0.5, 0.999)
    assert (tutorial.loss, tutorial.discriminator_norm) == ("hinge", "spectral")
    assert (tutorial.lr, tutorial.disc_lr) == (1e-4, 4e-4)
    with pytest.raises(ValueError, match="one width per doubling"):
        vgan.Config(frame_size=64)  # 3 generator layers cannot reach 64x64
    with pytest.raises(ValueError, match="preset"):
        vgan.Config.preset("huge")


def test_composition_is_exactly_mask_times_foreground_plus_rest_times_background():
    model = vgan.build(tiny())
    out = model.generator.generate(torch.randn(2, 100))
    still = out.background[:, :, None]  # (B, C, 1, H, W) broadcast over time
    assert torch.equal(out.video, out.mask * out.foreground + (1 - out.mask) * still)
    assert torch.equal(vgan.compose(out.foreground, out.mask, out.background), out.video)


def test_background_is_constant_over_time_and_foreground_moves():
    model = vgan.build(tiny())
    with torch.no_grad():  # switch the mask off: the clip must then be the still background
        head = model.generator.mask[0]
        head.weight.zero_()
        head.bias.fill_(-30.0)
    out = model.generator.generate(torch.randn(2, 100))
    assert torch.allclose(out.video, out.video[:, :, :1].expand_as(out.video), atol=1e-6)
    assert not torch.allclose(out.foreground, out.foreground[:, :, :1].expand_as(out.foreground))


def test_one_stream_has_no_mask_and_no_background():
    model = vgan.build(tiny(two_stream=False))
    out = model.generator.generate(torch.randn(2, 100))
    assert out.mask is None and out.background is None and torch.equal(out.video, out.foreground)
    assert not any(k.startswith(("generator.mask", "generator.background")) for k in model.state_dict())
    two = vgan.build(tiny())
    assert sum(p.numel() for p in model.parameters()) < sum(p.numel() for p in two.parameters())
    one_stream = models.get("vgan_one_stream")
    assert one_stream.Config.preset("tutorial").two_stream is False


def test_mask_penalty_is_lambda_times_mean_absolute_mask():
    mask = torch.rand(2, 1, 4, 8, 8)
    assert math.isclose(vgan.mask_penalty(mask).item(), 0.1 * mask.abs().mean().item(), rel_tol=1e-6)
    assert vgan.mask_penalty(torch.ones(1, 1, 2, 2, 2), weight=0.5).item() == 0.5


def test_mask_penalty_shrinks_the_mask_during_training():
    """The prior enters the generator's loss: a large λ drives the mask towards 0, λ = 0 does not."""
    batch = real_batch(tiny(), 4)
    means = {}
    for weight in (0.0, 50.0):
        model, trainer = tiny_trainer(tiny(mask_weight=weight, lr=5e-3))
        history = fit(model, trainer, batch, 15)
        means[weight] = history[-1]["mask_mean"]
    assert means[50.0] < 0.7 * means[0.0]


def test_one_step_updates_every_parameter_of_both_networks():
    config = tiny()
    model, trainer = tiny_trainer(config)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    values = vgan.training_step(model, trainer, real_batch(config, 4))
    assert set(values) == {"d_loss", "g_loss", "mask_mean"}
    last_bias = f"discriminator.net.{len(model.discriminator.net) - 1}.bias"
    for name, param in model.named_parameters():
        if name.startswith("generator_ema."):
            continue  # the running average has no gradient: it follows the generator
        if name == last_bias:
            # Hinge loss: while every logit is inside the margin, the output bias gets +1/B from each real
            # clip and -1/B from each fake: exactly 0. It moves once some samples leave the margin.
            continue
        assert param.grad is not None and param.grad.abs().sum() > 0, f"no gradient reached {name}"
        assert not torch.equal(param, before[name]), f"{name} was not updated"


def test_the_averaged_generator_follows_the_trained_one():
    config = tiny(ema_decay=0.9)
    model, trainer = tiny_trainer(config)
    assert not any(p.requires_grad for p in model.generator_ema.parameters())
    start = {k: v.clone() for k, v in model.generator_ema.state_dict().items()}
    vgan.training_step(model, trainer, real_batch(config, 4))
    for (name, avg), new in zip(model.generator_ema.named_parameters(), model.generator.parameters()):
        expected = 0.9 * start[name] + 0.1 * new  # one step of the moving average
        assert torch.allclose(avg, expected, atol=1e-6), name


def test_discriminator_learns_then_generator_fools_it_on_a_fixed_batch():
    config = dataclasses.replace(tiny().paper(), lr=1e-3, disc_lr=1e-3)  # BCE: D starts at log 4
    batch = real_batch(config, 4)
    model, trainer = tiny_trainer(config)
    # Phase 1: the generator frozen (lr 0), the discriminator separates real from fake.
    trainer.optimizers["G"].param_groups[0]["lr"] = 0.0
    history = fit(model, trainer, batch, 20)
    first, last = history[0]["d_loss"], history[-1]["d_loss"]
    assert math.isclose(first, math.log(4), abs_tol=0.15)  # D starts near chance: log 4
    assert last < 0.25 * first
    # Phase 2: the discriminator frozen, the generator lowers its loss against it.
    trainer.optimizers["G"].param_groups[0]["lr"] = 1e-3
    trainer.optimizers["D"].param_groups[0]["lr"] = 0.0
    history = fit(model, trainer, batch, 40)
    fooled_before, fooled_after = history[19]["g_loss"], history[-1]["g_loss"]
    assert fooled_before > 1.0 and fooled_after < 0.5 * fooled_before


def test_sample_is_repeatable_and_in_range():
    model = vgan.build(tiny())
    a, b = vgan.sample(model, 3, seed=7), vgan.sample(model, 3, seed=7)
    assert a.shape == (3, 1, 16, 32, 32) and torch.equal(a, b)
    assert 0 <= a.min() and a.max() <= 1 and model.training  # sampling restores the mode
    parts = vgan.generate_parts(model, vgan.latents(model, 3, seed=7))
    assert torch.equal(parts.video, a)


def test_the_model_files_hold_the_model_and_evaluation_measures_it():
    for module in (vgan, models.get("vgan_one_stream")):
        assert not any(hasattr(module, name) for name in ("evaluate", "background_stats", "make_trainer"))
    assert evaluation.for_model("vgan_one_stream") is vgan_eval


@pytest.mark.parametrize("n", [0, -2])
def test_sample_asks_for_a_positive_number_of_clips(n):
    with pytest.raises(ValueError, match=f"n must be a positive number of clips, got {n}"):
        vgan.sample(vgan.build(tiny()), n)


def test_load_pretrained_missing_file_says_how_to_train(tmp_path, monkeypatch):
    monkeypatch.setattr(vidgen_lib, "CHECKPOINT_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="python -m vidgen_lib train vgan"):
        vgan.load_pretrained()


def test_load_pretrained_round_trip_with_the_cards_config(tmp_path, monkeypatch):
    monkeypatch.setattr(vidgen_lib, "CHECKPOINT_DIR", tmp_path)
    one_stream = models.get("vgan_one_stream")
    config = one_stream.Config(**TINY)  # two_stream=False
    model = one_stream.build(config)
    save_checkpoint(model.state_dict(), tmp_path / "vgan_one_stream.pt", config=config,
                    command="test", steps=0, wall_time_s=0.0)
    loaded = one_stream.load_pretrained("cpu")
    assert loaded.config == config and not loaded.training and not loaded.config.two_stream
    assert torch.equal(vgan.sample(loaded, 2, seed=0), vgan.sample(model.eval(), 2, seed=0))
    elsewhere = tmp_path / "run" / "vgan_one_stream.pt"  # a checkpoint of one's own, with its card beside it
    elsewhere.parent.mkdir()
    for suffix in (".pt", ".json"):
        (tmp_path / f"vgan_one_stream{suffix}").rename(elsewhere.with_suffix(suffix))
    assert one_stream.load_pretrained("cpu", path=elsewhere).config == config


def test_evaluate_gives_the_card_keys_under_the_models_name():
    """``evaluation.evaluate`` (what ``python -m vidgen_lib train`` writes in the card), for both variants."""
    for name, two_stream in (("vgan", True), ("vgan_one_stream", False)):
        scores = evaluation.evaluate(name, vgan.build(tiny(two_stream=two_stream)), 8, seed=0)
        rows = evaluation.card_rows(scores, name)
        assert set(rows[name]) == {"fvd", "fvd_motion", "fd_frames", "acd"}, scores
        assert set(rows["static"]) == {"fvd", "fvd_motion", "fd_frames"} and scores["eval_videos"] == 8
        assert all(key.startswith("background_") or "/" in key for key in scores if key != "eval_videos")
    with pytest.raises(ValueError, match="positive number of clips"):
        vgan_eval.evaluate(vgan.build(tiny()), 0)


# --- the exercise checks of notebook 02 -------------------------------------------------------------

def _stub(*args):
    raise NotImplementedError("Exercise 2.N: ...")


def test_exercise_checks_pass_on_solutions_and_name_typical_mistakes(capsys):
    from vidgen_lib.exercises import EXERCISES, ExerciseError
    from vidgen_lib.exercises import ch02_vgan as ex
    from vidgen_lib.losses import discriminator_loss

    assert {"2.2", "2.1", "2.3", "2.4"} <= set(EXERCISES)
    solutions = {
        ex.check_compose: vgan.compose,
        ex.check_transposed_size: lambda n, k, s, p: (n - 1) * s - 2 * p + k,
        ex.check_mask_penalty: vgan.mask_penalty,
        ex.check_discriminator_step: lambda D, real, fake: discriminator_loss(D(real), D(fake.detach())),
    }
    mistakes = {
        ex.check_compose: (lambda f, m, b: (1 - m) * f + m * b[:, :, None], "swapped"),
        ex.check_transposed_size: (lambda n, k, s, p: (n + 2 * p - k) // s + 1, "ordinary"),
        ex.check_mask_penalty: (lambda m, w: w * m.abs().sum(), "summed"),
        ex.check_discriminator_step: (lambda D, real, fake: discriminator_loss(D(real), D(fake)), "detach"),
    }
    for check, solution in solutions.items():
        check(solution)
        assert capsys.readouterr().out.startswith("✓ Exercise 2.")
        with pytest.raises(ExerciseError, match="not implemented yet"):
            check(_stub)
        wrong, message = mistakes[check]
        with pytest.raises(ExerciseError, match=message):
            check(wrong)


def test_background_stats_are_zero_for_a_black_still_background_and_see_flicker():
    clips = real_batch(tiny(), 3)["video"]
    assert vgan_eval.background_stats(clips) == {"level": 0.0, "flicker": 0.0}
    flickering = clips.clone()
    flickering[:, :, ::2] += 0.1  # every other frame a little brighter everywhere
    stats = vgan_eval.background_stats(flickering.clamp(0, 1))
    assert math.isclose(stats["flicker"], 0.1, rel_tol=1e-4) and 0.04 < stats["level"] < 0.06


def test_augmentation_reaches_real_and_fake_clips_alike(monkeypatch):
    """DiffAugment is applied before every call of D: real clips, detached fakes, the fakes of G's step."""
    seen = []

    def record(clips, policy, **kwargs):
        seen.append((clips.requires_grad, clips.grad_fn is not None, policy))
        return clips

    monkeypatch.setattr(vgan, "diff_augment", record)
    config = tiny()
    model, trainer = tiny_trainer(config)
    vgan.training_step(model, trainer, real_batch(config, 4))
    assert [policy for *_, policy in seen] == ["translation"] * 3
    assert [has_graph for _, has_graph, _ in seen] == [False, False, True]  # real, detached fake, fake for G


def test_training_keeps_snapshots_of_fixed_latents_in_the_checkpoint(tmp_path):
    model, metrics = vgan.train(tiny(), steps=10, progress=False)
    assert set(metrics) == {"final/d_loss", "final/g_loss", "final/mask_mean", "steps", "train_wall_time_s"}
    steps, clips = model.snapshots.taken()
    assert steps == [1, 3, 10] and metrics["steps"] == 10  # after 10%, 30% and 100% of the run
    assert clips.shape == (3, vgan.SNAPSHOT_SAMPLES, 1, 16, 32, 32) and 0 <= clips.min() and clips.max() <= 1
    assert torch.allclose(clips[-1], vgan.sample_from(model.generator_ema, vgan.latents(model, 8, seed=1234)),
                          atol=1 / 255)  # the last one is the final model's samples, stored as uint8
    reloaded = vgan.build(model.config)
    reloaded.load_state_dict(model.state_dict())
    assert reloaded.snapshots.taken()[0] == [1, 3, 10]


def test_a_time_limit_stops_training_early():
    model, metrics = vgan.train(tiny(eval_videos=0), steps=10_000, progress=False, time_limit_s=0.5)
    assert 1 <= metrics["steps"] < 10_000
    assert model.snapshots.taken()[0][-1] == metrics["steps"]


def test_bilinear_upsample_init_starts_smooth_where_the_papers_init_starts_checkered():
    """``upsample_init="bilinear"``: a constant latent gives a clip whose neighbouring pixels differ less than
    with the paper's N(0, 0.01) start (Odena et al. 2016's checkerboard)."""
    def roughness(config: vgan.Config) -> float:
        torch.manual_seed(0)
        with torch.no_grad():
            clip = vgan.build(config).generator.generate(torch.ones(4, config.z_dim)).foreground
        return (clip[..., 1:] - clip[..., :-1]).abs().mean().item() / clip.std().item()

    assert roughness(tiny(upsample_init="bilinear")) < 0.5 * roughness(tiny(upsample_init="normal"))
    with pytest.raises(ValueError, match="upsample_init"):
        tiny(upsample_init="nearest")
