"""MoCoGAN: the content/motion split, both discriminators, the losses, training, checkpoints, measurements."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from einops import rearrange

import vidgen_lib
from vidgen_lib import evaluation
from vidgen_lib.checkpoints import save_checkpoint
from vidgen_lib.evaluation import mocogan as mocogan_eval
from vidgen_lib.losses import discriminator_loss
from vidgen_lib.models import mocogan
from vidgen_lib.train import Trainer


def batch(n: int = 4) -> dict[str, torch.Tensor]:
    """A batch as the training data yields it: n random clips of 10 frames of 16x16 in [0, 1]."""
    return {"video": torch.rand(n, 1, 10, 16, 16)}


def tiny_config(**changes) -> mocogan.Config:
    """A MoCoGAN small enough to train in a second: 10 frames of 16x16. Without weight averaging
    (``ema_decay=0``), so that its samples show the generator after a few steps."""
    base = dict(num_frames=10, frame_size=16, dim_content=6, dim_motion=4, gen_width=8, image_disc_width=8,
                video_disc_width=8, batch_size=4, image_batch_size=8, eval_videos=8, ema_decay=0.0)
    return mocogan.Config(**{**base, **changes})


@pytest.fixture(scope="module")
def model() -> mocogan.MoCoGAN:
    """A tiny MoCoGAN after 5 training steps on random videos. Its generator has PyTorch's default
    initialisation: with DCGAN's small weights an untrained generator draws nearly uniform grey."""
    torch.manual_seed(0)
    m = mocogan.build(tiny_config(lr=2e-3, disc_lr=2e-3))
    for layer in m.generator.image_generator:
        if isinstance(layer, torch.nn.ConvTranspose2d):
            layer.reset_parameters()
    trainer = Trainer({"model": m}, mocogan.make_optimizers(m, m.config), progress=False)
    for _ in range(5):
        mocogan.training_step(m, trainer, batch())
    return m.eval()


def test_presets_match_the_paper_where_it_matters():
    tutorial, full = mocogan.Config.preset("tutorial"), mocogan.Config.preset("full")
    assert (tutorial.num_frames, tutorial.frame_size, tutorial.num_digits) == (16, 32, 1)
    assert (full.frame_size, full.gen_width, full.image_disc_width, full.video_disc_width) == (64, 64, 64, 64)
    assert (full.dim_content, full.dim_motion) == (tutorial.dim_content, tutorial.dim_motion) == (50, 10)
    assert tutorial.weight_decay == 1e-5  # the paper's code
    # Departures, documented in the module: TTUR, Adam (0, 0.9), hinge loss, spectral norm, DiffAugment.
    assert (tutorial.lr, tutorial.disc_lr, tutorial.betas) == (1e-4, 4e-4, (0.0, 0.9))
    assert (tutorial.loss, tutorial.disc_norm, tutorial.augment) == ("hinge", "spectral", "translation")
    mocogan.build(full)  # the paper's 64x64 sizes build
    with pytest.raises(ValueError, match="preset"):
        mocogan.Config.preset("huge")


def test_sample_shapes_and_range(model):
    videos = mocogan.sample(model, 3, seed=1)
    assert videos.shape == (3, 1, 10, 16, 16) and videos.dtype == torch.float32
    assert 0 <= videos.min() and videos.max() <= 1
    assert torch.equal(videos, mocogan.sample(model, 3, seed=1))  # a seed fixes every code
    assert not torch.equal(videos, mocogan.sample(model, 3, seed=2))


def test_content_is_constant_over_time_and_motion_varies(model):
    gen = model.generator
    z_content, z_motion = gen.sample_content(2), gen.sample_motion(2)
    latents = mocogan.frame_latents(z_content, z_motion)  # (B, T, Dc + Dm)
    assert latents.shape == (2, 10, 6 + 4)
    content_part = latents[..., :6]
    assert torch.equal(content_part, content_part[:, :1].expand_as(content_part))  # same z_C at every frame
    assert torch.equal(content_part[:, 0], z_content)
    assert (z_motion[:, 1:] - z_motion[:, :-1]).abs().amax(dim=-1).min() > 1e-3  # z_M(t) moves at every step


def test_motion_codes_are_the_gru_states_after_h0():
    torch.manual_seed(0)
    gru = torch.nn.GRUCell(3, 3)
    h0, noise = torch.randn(2, 3), torch.randn(2, 4, 3)
    codes = mocogan.motion_codes(gru, h0, noise)
    h = h0
    for t in range(4):
        h = gru(noise[:, t], h)
        assert torch.allclose(codes[:, t], h)


def test_fixed_content_or_fixed_motion_changes_only_the_other(model):
    gen = model.generator
    z_content, z_motion = gen.sample_content(1)[0], gen.sample_motion(1)[0]
    same_content = mocogan.sample(model, 3, seed=5, content=z_content)
    same_motion = mocogan.sample(model, 3, seed=5, motion=z_motion)
    for videos in (same_content, same_motion):
        assert videos.shape == (3, 1, 10, 16, 16)
        assert (videos[0] - videos[1]).abs().max() > 1e-3 and (videos[1] - videos[2]).abs().max() > 1e-3
    # The shared code is really shared: regenerating from it alone reproduces the videos.
    model.eval()
    with torch.no_grad():
        motions = gen.sample_motion(3, torch.Generator().manual_seed(5))
        rebuilt = (gen.generate(z_content.expand(3, -1), motions) + 1) / 2
    assert torch.allclose(rebuilt, mocogan.sample(model, 3, content=z_content, motion=motions), atol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        mocogan.sample(model, 3, content=torch.zeros(2, 6))


def test_content_blend_goes_from_one_code_to_the_other(model):
    gen = model.generator
    z_a, z_b, z_motion = gen.sample_content(1)[0], gen.sample_content(1)[0], gen.sample_motion(1)[0]
    videos = mocogan_eval.blend_content(model, z_a, z_b, [0.0, 0.5, 1.0], z_motion)
    assert videos.shape == (3, 1, 10, 16, 16)
    assert torch.allclose(videos[0], mocogan.sample(model, 1, content=z_a, motion=z_motion)[0], atol=1e-6)
    assert torch.allclose(videos[2], mocogan.sample(model, 1, content=z_b, motion=z_motion)[0], atol=1e-6)


def test_label_agreement_and_decomposition_grids(model):
    assert mocogan_eval.label_agreement(torch.tensor([[1, 1, 1], [2, 2, 2]])) == 1.0
    assert mocogan_eval.label_agreement(torch.tensor([[0, 1, 2], [3, 4, 5]])) == 0.0
    assert mocogan_eval.label_agreement(torch.tensor([[0, 0, 1]])) == pytest.approx(1 / 3)  # 1 equal pair
    grids = mocogan_eval.decomposition_grids(model, rows=2, per_row=3)
    for grid in grids.values():
        assert grid.shape == (2, 3, 1, 10, 16, 16)
        assert (grid[:, 0] - grid[:, 1]).abs().amax() > 1e-3  # the redrawn code changes the video
    assert not torch.equal(grids["fixed_content"], grids["fixed_motion"])


def test_image_discriminator_sees_single_frames_and_video_discriminator_clips(model):
    videos = torch.rand(4, 1, 10, 16, 16) * 2 - 1
    frames = mocogan.sample_frames(videos, 8)
    assert frames.shape == (8, 1, 16, 16)
    all_frames = rearrange(videos, "b c t h w -> (b t) c h w")
    distances = (frames[:, None] - all_frames[None]).abs().flatten(2).amax(-1)  # (8, B*T)
    assert (distances.min(dim=1).values == 0).all()  # every sampled frame is one of the videos' frames
    assert len(set(distances.argmin(dim=1).tolist())) == 8  # drawn without replacement
    assert model.image_discriminator(frames).shape[:2] == (8, 1)
    assert model.video_discriminator(videos).shape[:2] == (4, 1)
    with pytest.raises(ValueError, match="single frames"):
        model.image_discriminator(videos)
    with pytest.raises(ValueError, match="clips"):
        model.video_discriminator(frames)


@pytest.mark.parametrize(("loss", "disc_norm"), [("hinge", "spectral"), ("bce", "spectral"),
                                                  ("hinge", "batch")])
def test_gradients_reach_every_parameter(loss, disc_norm):
    """Spectral norm (ours) and BatchNorm (the paper's code, disc_norm="batch") alike."""
    torch.manual_seed(0)
    m = mocogan.build(tiny_config(loss=loss, disc_norm=disc_norm))
    if disc_norm == "batch":  # BatchNorm after every discriminator conv but the first and last, no biases
        for d in (m.image_discriminator, m.video_discriminator):
            convs = [layer for layer in d.net if isinstance(layer, (torch.nn.Conv2d, torch.nn.Conv3d))]
            norms = [layer for layer in d.net if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm)]
            assert len(norms) == len(convs) - 2 and all(conv.bias is None for conv in convs)
    trainer = Trainer({"model": m}, mocogan.make_optimizers(m, m.config), progress=False)
    grads = {}

    def record(name, loss):  # keep each update's gradients before its optimiser steps
        value = Trainer.update(trainer, name, loss)
        grads[name] = {n: p.grad for n, p in m.named_parameters() if p.grad is not None}
        return value

    trainer.update = record
    mocogan.training_step(m, trainer, batch())
    parts = {"D_image": "image_discriminator", "D_video": "video_discriminator", "G": "generator"}
    for name, attribute in parts.items():
        part, prefix = getattr(m, attribute), f"{attribute}."
        last_bias = f"net.{len(part.net) - 1}.bias" if name != "G" else None
        for pname, p in part.named_parameters():
            g = grads[name].get(prefix + pname)
            if pname == last_bias and m.config.loss == "hinge":
                # Hinge: while every logit is inside the margin, the output bias gets +1/N from each real
                # sample and -1/N from each fake, exactly 0 in all (the BCE case checks it).
                continue
            assert g is not None and g.abs().sum() > 0, f"{name}: no gradient reaches {pname}"
    trained = [p for n, p in m.named_parameters() if not n.startswith("generator_ema.")]
    assert all(p.requires_grad for p in trained)  # the G step re-enables D's gradients


def test_a_tiny_model_overfits_a_tiny_batch():
    torch.manual_seed(0)
    config = tiny_config(lr=2e-3, disc_lr=2e-3)
    m = mocogan.build(config)
    real = torch.rand(4, 1, 10, 16, 16).round()  # one fixed batch of binary "videos"
    opt = mocogan.make_optimizers(m, config)
    fake = m.generator(4).detach()

    real_frames, fake_frames = (rearrange(v, "b c t h w -> (b t) c h w") for v in (real * 2 - 1, fake))

    def d_losses() -> tuple[torch.Tensor, torch.Tensor]:
        d_i = discriminator_loss(m.image_discriminator(real_frames), m.image_discriminator(fake_frames))
        d_v = discriminator_loss(m.video_discriminator(real * 2 - 1), m.video_discriminator(fake))
        return d_i, d_v

    first = [v.item() for v in d_losses()]
    assert all(abs(v - math.log(4)) < 0.3 for v in first)  # an untrained D is near chance, log 4
    for _ in range(30):
        d_i, d_v = d_losses()
        for name, loss in (("D_image", d_i), ("D_video", d_v)):
            opt[name].zero_grad()
            loss.backward()
            opt[name].step()
    last = [v.item() for v in d_losses()]
    assert last[0] < 0.5 * first[0] and last[1] < 0.5 * first[1]  # both D's learn to tell this batch apart

    def g_loss() -> torch.Tensor:
        video = m.generator(4)
        return mocogan.generator_loss(m.image_discriminator(mocogan.sample_frames(video, 8)),
                                      m.video_discriminator(video))

    torch.manual_seed(1)
    g_first = g_loss().item()
    for _ in range(20):
        opt["G"].zero_grad()
        g_loss().backward()
        opt["G"].step()
    torch.manual_seed(1)
    assert g_loss().item() < 0.7 * g_first  # against fixed D's, G learns to fool them


def test_the_averaged_generator_follows_the_trained_one_and_samples():
    torch.manual_seed(0)
    m = mocogan.build(tiny_config(ema_decay=0.9))
    assert not any(p.requires_grad for p in m.generator_ema.parameters())
    start = {k: v.clone() for k, v in m.generator_ema.state_dict().items()}
    assert all(torch.equal(v, m.generator.state_dict()[k]) for k, v in start.items())  # starts at G
    trainer = Trainer({"model": m}, mocogan.make_optimizers(m, m.config), progress=False)
    mocogan.training_step(m, trainer, batch())
    for (name, avg), new in zip(m.generator_ema.named_parameters(), m.generator.parameters()):
        assert torch.allclose(avg, 0.9 * start[name] + 0.1 * new, atol=1e-6), name  # one averaging step
        assert avg.grad is None
    m.recalibrate_ema(batches=2, batch_size=2)
    norm = m.generator_ema.image_generator[1]
    assert not torch.equal(norm.running_mean, m.generator.image_generator[1].running_mean)  # its own stats
    m.generator_ema.image_generator[-2].weight.data.zero_()  # sample() draws from the average alone:
    assert torch.allclose(mocogan.sample(m, 2, seed=0), torch.full((2, 1, 10, 16, 16), 0.5))  # tanh(0) -> 0.5


def test_training_step_updates_in_the_paper_order(model):
    order = []
    trainer = Trainer({"model": model}, mocogan.make_optimizers(model, model.config), progress=False)
    original = trainer.update
    trainer.update = lambda name, loss: order.append(name) or original(name, loss)
    values = mocogan.training_step(model, trainer, batch())
    assert order == ["D_image", "D_video", "G"] and set(values) == set(order)


def test_train_returns_an_eval_model_and_its_training_metrics(tmp_path, monkeypatch):
    videos = [{"video": torch.rand(1, 10, 16, 16)} for _ in range(8)]  # stands in for the digit world
    monkeypatch.setattr(mocogan, "training_data", lambda config, split="train": videos)
    m, metrics = mocogan.train(tiny_config(num_videos=64), 3, run_dir=tmp_path, progress=False)
    assert not m.training and (tmp_path / "train_state.pt").exists()
    # Training metrics only: the CLI measures the model afterwards (evaluation.evaluate("mocogan", ...)).
    assert set(metrics) == {"final/D_image", "final/D_video", "final/G", "steps", "train_wall_time_s"}
    assert metrics["steps"] == 3


def test_checkpoint_round_trip_and_missing_file(model, tmp_path):
    path = tmp_path / "mocogan.pt"
    with pytest.raises(FileNotFoundError, match="python -m vidgen_lib train mocogan"):
        mocogan.load_pretrained(path=path)
    save_checkpoint(model.state_dict(), path, config=model.config, command="test", steps=0, wall_time_s=0)
    loaded = mocogan.load_pretrained("cpu", path=path)
    assert loaded.config == model.config and not loaded.training
    assert torch.equal(mocogan.sample(loaded, 2, seed=3), mocogan.sample(model, 2, seed=3))


def test_exercise_checks_pass_on_the_library_and_fail_on_stubs_and_mistakes():
    from vidgen_lib.exercises import EXERCISES, ExerciseError
    from vidgen_lib.exercises import ch03_mocogan as ex

    assert [EXERCISES[f"3.{i}"] for i in range(1, 5)] == [
        ex.check_frame_latents, ex.check_motion_codes, ex.check_sample_frames, ex.check_generator_loss]

    ex.check_frame_latents(mocogan.frame_latents)
    ex.check_motion_codes(mocogan.motion_codes)
    ex.check_sample_frames(mocogan.sample_frames)
    ex.check_generator_loss(mocogan.generator_loss)

    def stub(*args):
        raise NotImplementedError

    checks = (ex.check_frame_latents, ex.check_motion_codes, ex.check_sample_frames, ex.check_generator_loss)
    for check in checks:
        with pytest.raises(ExerciseError, match="not implemented"):
            check(stub)

    def tiled(zc, zm):  # tiles the whole batch's content codes: videos swap contents
        return torch.cat([zc.repeat(zm.shape[1], 1).view(*zm.shape[:2], -1), zm], -1)

    with pytest.raises(ExerciseError, match="content"):
        ex.check_frame_latents(tiled)

    def from_h0(gru, h0, noise):
        codes = [h0]
        for t in range(noise.shape[1] - 1):
            codes.append(gru(noise[:, t], codes[-1]))
        return torch.stack(codes, 1)

    with pytest.raises(ExerciseError, match="off by one"):
        ex.check_motion_codes(from_h0)
    with pytest.raises(ExerciseError, match="mix different"):
        ex.check_sample_frames(lambda v, n: v.reshape(-1, *v.shape[1:2], *v.shape[3:])[torch.randperm(n)])
    with pytest.raises(ExerciseError, match="same frames"):
        ex.check_sample_frames(lambda v, n: rearrange(v, "b c t h w -> (b t) c h w")[:n])
    with pytest.raises(ExerciseError, match="saturating"):
        ex.check_generator_loss(lambda i, v: -(F.softplus(i).mean() + F.softplus(v).mean()))
    with pytest.raises(ExerciseError, match="only the image term"):
        ex.check_generator_loss(lambda i, v: F.softplus(-i).mean())


def test_without_the_image_discriminator_it_is_really_gone():
    """The paper's ablation: no D_I module, no optimiser for it, no image term in G's loss."""
    m = mocogan.build(tiny_config(use_image_discriminator=False))
    assert m.image_discriminator is None
    assert not any(key.startswith("image_discriminator.") for key in m.state_dict())
    optimizers = mocogan.make_optimizers(m, m.config)
    assert set(optimizers) == {"D_video", "G"}
    trainer = Trainer({"model": m}, optimizers, progress=False)
    values = mocogan.training_step(m, trainer, batch())
    assert set(values) == {"D_video", "G"}
    logits = torch.randn(3, 1, 2, 2, 2)
    assert torch.equal(mocogan.generator_loss(None, logits, "hinge"), -logits.mean())


def test_generator_loss_hinge_and_bce():
    image, video = torch.randn(5, 1, 2, 2), torch.randn(3, 1, 2, 2, 2)
    assert torch.allclose(mocogan.generator_loss(image, video, "hinge"), -image.mean() - video.mean())
    bce = F.softplus(-image).mean() + F.softplus(-video).mean()  # -log sigmoid(l), averaged
    assert torch.allclose(mocogan.generator_loss(image, video), bce)


def test_augmentation_reaches_both_discriminators_real_and_fake_alike(monkeypatch):
    seen = []

    def record(x, policy, **kwargs):
        seen.append((x.ndim, x.grad_fn is not None, policy, kwargs.get("fill")))
        return x

    monkeypatch.setattr(mocogan, "diff_augment", record)
    m = mocogan.build(tiny_config())
    trainer = Trainer({"model": m}, mocogan.make_optimizers(m, m.config), progress=False)
    mocogan.training_step(m, trainer, batch())
    # D_I: real and detached fake frames; D_V: real and detached fake clips; G: fake clips, fake frames.
    assert [(ndim, graph) for ndim, graph, _, _ in seen] == [(4, False), (4, False), (5, False), (5, False),
                                                              (5, True), (4, True)]
    assert {(policy, fill) for *_, policy, fill in seen} == {("translation", -1.0)}  # black in [-1, 1]


def test_training_keeps_snapshots_of_the_same_codes():
    model, metrics = mocogan.train(tiny_config(), steps=10, progress=False)
    steps, clips = model.snapshots.taken()
    assert steps == [1, 3, 10] and metrics["steps"] == 10
    assert clips.shape == (3, mocogan.SNAPSHOT_SAMPLES, 1, 10, 16, 16)
    assert torch.allclose(clips[-1], mocogan.sample(model, mocogan.SNAPSHOT_SAMPLES, seed=1234), atol=1 / 255)


def test_image_pretraining_trains_the_frame_generator_against_d_i_alone():
    """MoCoGAN-HD's order: the first steps are an image GAN (G_I and D_I; D_V untouched), then the video."""
    torch.manual_seed(0)
    m = mocogan.build(tiny_config(pretrain_image_steps=2))
    trainer = Trainer({"model": m}, mocogan.make_optimizers(m, m.config), progress=False)
    seen, clips, frames = [], [], []
    record, generate, draw = trainer.update, m.generator.forward, m.generator.single_frames
    trainer.update = lambda name, loss: seen.append(name) or record(name, loss)
    m.generator.forward = lambda n: clips.append(n) or generate(n)
    m.generator.single_frames = lambda n: frames.append(n) or draw(n)
    d_video_before = {k: v.clone() for k, v in m.video_discriminator.state_dict().items()}
    g_image_before = {k: v.clone() for k, v in m.generator.image_generator.state_dict().items()}
    for _ in range(2):
        values = mocogan.training_step(m, trainer, batch())
        assert set(values) == {"D_image", "G"}
        trainer.step += 1
    assert seen == ["D_image", "G"] * 2 and clips == [] and frames == [8] * 2  # image_batch_size frames
    assert all(torch.equal(v, d_video_before[k]) for k, v in m.video_discriminator.state_dict().items())
    g_image_after = m.generator.image_generator.state_dict()
    assert not all(torch.equal(v, g_image_before[k]) for k, v in g_image_after.items())
    assert all(p.requires_grad for p in m.image_discriminator.parameters())  # unfrozen after G's step
    values = mocogan.training_step(m, trainer, batch())  # step 2: the video game
    assert set(values) == {"D_image", "D_video", "G"} and seen[4:] == ["D_image", "D_video", "G"]
    assert clips == [4] and frames == [8] * 2  # a whole batch of fake clips
    with pytest.raises(ValueError, match="needs the image discriminator"):
        tiny_config(pretrain_image_steps=5, use_image_discriminator=False)


def test_the_image_game_draws_every_frame_from_its_own_codes():
    """Pretraining frames are independent draws: no two share a content code, unlike frames of one clip."""
    m = mocogan.build(tiny_config()).eval()
    torch.manual_seed(0)
    frames = m.generator.single_frames(6)
    assert frames.shape == (6, 1, 16, 16) and frames.abs().max() <= 1
    gen = m.generator
    torch.manual_seed(0)
    z_motion, steps = gen.sample_motion(6), torch.randint(gen.config.num_frames, (6,))
    z = torch.cat([gen.sample_content(6), z_motion[torch.arange(6), steps]], -1)
    # every frame is G_I of its own [z_C, z_M(t)]: frames of one clip (one z_C) would not match
    assert torch.allclose(frames, gen.image_generator(z[:, :, None, None]))


def test_train_runs_the_image_steps_first_then_the_video_game(monkeypatch):
    games, original = [], mocogan.training_step

    def step(model, trainer, batch):
        values = original(model, trainer, batch)
        games.append("video" if "D_video" in values else "image")
        return values

    monkeypatch.setattr(mocogan, "training_step", step)
    mocogan.train(tiny_config(pretrain_image_steps=3, eval_videos=0), steps=5, progress=False)
    assert games == ["image"] * 3 + ["video"] * 2


def test_sample_rejects_bad_counts_and_codes(model):
    with pytest.raises(ValueError, match="positive number"):
        mocogan.sample(model, 0)
    with pytest.raises(ValueError, match="content must be a float tensor of shape"):
        mocogan.sample(model, 2, content=torch.zeros(2, 7))  # dim_content is 6
    with pytest.raises(ValueError, match="float tensor"):
        mocogan.sample(model, 2, content=torch.zeros(6, dtype=torch.long))
    with pytest.raises(ValueError, match="motion"):
        mocogan.sample(model, 2, motion=torch.zeros(2, 10, 5))  # dim_motion is 4
    with pytest.raises(ValueError, match="motion must be a float tensor of shape"):
        mocogan.sample(model, 2, motion=torch.zeros(3, 10, 4))  # 3 paths for 2 videos
    with pytest.raises(TypeError, match="action"):
        mocogan.sample(model, 2, action=torch.eye(3)[:2])  # no action code z_A (Sec. 4.1 is left out)
    with pytest.raises(ValueError, match="disc_norm"):
        tiny_config(disc_norm="none")
    assert mocogan.sample(model, 2, content=torch.zeros(6)).shape == (2, 1, 10, 16, 16)  # one z_C for both
    assert mocogan.sample(model, 2, motion=torch.zeros(14, 4)).shape == (2, 1, 14, 16, 16)  # a longer walk


def test_sample_restores_the_training_mode(model):
    model.train()
    mocogan.sample(model, 2, seed=0)
    assert model.training and model.generator_ema.training
    model.eval()


def test_evaluate_reports_generator_scores_and_the_decomposition_under_the_card_keys(model, monkeypatch):
    calls = {}

    def fake_scores(samples, reference, others, *, name, seed):
        calls.update(samples=samples, reference=reference, others=others, name=name, seed=seed)
        return {f"fvd/{name}": 1.0, "eval_videos": samples.shape[0]}

    monkeypatch.setattr(mocogan_eval, "generator_scores", fake_scores)
    monkeypatch.setattr(mocogan_eval, "decomposition_scores",
                        lambda model, seed=0: {"digit_agreement/fixed_content": 0.5})
    scores = evaluation.evaluate("mocogan", model, 4, seed=2)
    assert scores == {"fvd/mocogan": 1.0, "eval_videos": 4, "digit_agreement/fixed_content": 0.5}
    assert calls["name"] == "mocogan" and calls["seed"] == 2
    assert torch.equal(calls["samples"], mocogan.sample(model, 4, seed=2))
    assert torch.equal(calls["reference"], mocogan_eval.real_videos(model.config, 4))  # held-out test clips
    assert torch.equal(calls["others"], mocogan_eval.real_videos(model.config, 4, "train"))  # for baselines
    assert not torch.equal(calls["reference"], calls["others"])
    with pytest.raises(ValueError, match="positive"):
        mocogan_eval.evaluate(model, 0)


def test_decomposition_scores_are_agreements_under_the_card_keys(model):
    scores = mocogan_eval.decomposition_scores(model, rows=2, per_row=3)
    assert set(scores) == {f"{head}_agreement/{grid}" for head in ("digit", "axis")
                           for grid in ("fixed_content", "fixed_motion")}
    assert all(0 <= value <= 1 for value in scores.values())
    card = vidgen_lib.checkpoints.read_card(vidgen_lib.CHECKPOINT_DIR / "mocogan.pt")["metrics"]
    assert set(scores) <= set(card)  # the shipped card records them under the same keys


def test_instance_noise_blurs_what_the_discriminators_see_only_while_training():
    """``noise_sigma`` > 0 adds fresh N(0, sigma²) noise before every discriminator layer in training mode
    (the paper code's ``--use_noise``): two calls on the same frames differ; in eval mode they agree."""
    torch.manual_seed(0)
    d_image = mocogan.build(tiny_config(noise_sigma=0.5)).image_discriminator
    frames = torch.rand(4, 1, 16, 16) * 2 - 1
    assert not torch.equal(d_image.train()(frames), d_image(frames))
    assert torch.equal(d_image.eval()(frames), d_image(frames))
    quiet = mocogan.build(tiny_config(disc_norm="batch")).image_discriminator.train()  # no power iteration
    assert torch.equal(quiet(frames), quiet(frames))  # sigma 0: no noise at all


def test_the_shipped_ablation_table_holds_three_seeds_of_each_setting_as_its_script_trains_them():
    """data/results/mocogan_ablations.json (notebook 03) matches scripts/train_mocogan_ablations.sh."""
    import json

    table = json.loads((vidgen_lib.DATA_DIR / "results" / "mocogan_ablations.json").read_text())
    script = (vidgen_lib.DATA_DIR.parent / "scripts" / "train_mocogan_ablations.sh").read_text()
    flags = {"recipe": [], "no_image_discriminator": ["--set use_image_discriminator=false"],
             "image_pretraining": ["--set pretrain_image_steps=1000"]}
    assert sorted(table["runs"]) == sorted(f"{group}_seed{seed}" for group in flags for seed in range(3))
    for name, run in table["runs"].items():
        group, seed = name.rsplit("_seed", 1)
        assert run["seed"] == int(seed) and run["steps"] == 3000 and f"--seed {seed}" in run["command"]
        assert all(flag in run["command"] for flag in flags[group])
        scores = {"fvd/mocogan", "fvd_motion/mocogan", "fd_frames/mocogan", "acd/mocogan"}
        assert scores <= set(run["metrics"])
        assert ("final/D_image" in run["metrics"]) == (group != "no_image_discriminator")
    assert table["eval_videos"] == 1024 and "steps=${STEPS:-3000}" in script
    (continued,) = table["continued"].values()  # the script's last run: seed 1 of the recipe, twice the steps
    assert continued["steps"] == 6000 and "--seed 1 --steps 6000" in continued["command"]
    assert "--steps $(( 2 * steps ))" in script and "recipe_seed1_continued" in continued["command"]
