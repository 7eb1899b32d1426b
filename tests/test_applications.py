"""Chapter 12's measurements (evaluation/applications.py): the prediction baselines, per-step scores, the
league, the cross-fade, centroids, interpolation by the diffusion model and editing."""
from __future__ import annotations

import types

import pytest
import torch

from vidgen_lib import models
from vidgen_lib.datasets import COLORS, DIRECTIONS, SHAPES, MovingShapes, video_batch
from vidgen_lib.evaluation import applications as app
from vidgen_lib.models import diffusion


@pytest.fixture(scope="module")
def tiny_diffusion() -> diffusion.VideoDiffusion:
    """An untrained 4-frame 8x8 diffusion model, its zero-initialised layers woken so that every input
    matters."""
    torch.manual_seed(0)
    config = diffusion.Config(num_frames=4, frame_size=8, widths=(8, 16), heads=2, embed_dim=32)
    model = diffusion.build(config).eval()
    for p in model.parameters():
        p.data += 0.05 * torch.randn_like(p)
    return model


def ramp(t: int, size: int = 16) -> torch.Tensor:
    """``(2, 3, t, size, size)``: every pixel changes by a constant amount per frame, within [0, 1]."""
    start = torch.rand(2, 3, 1, size, size, generator=torch.Generator().manual_seed(0)) * 0.5
    slope = (torch.rand(2, 3, 1, size, size, generator=torch.Generator().manual_seed(1)) - 0.5) * 0.04
    return start + 0.25 + slope * torch.arange(t).view(1, 1, t, 1, 1)


# --- the prediction baselines and scores ------------------------------------------------------------

def test_copy_last_repeats_the_last_context_frame():
    context = torch.rand(2, 3, 4, 8, 8)
    out = app.copy_last(context, 3)
    assert out.shape == (2, 3, 3, 8, 8)
    for k in range(3):
        assert torch.equal(out[:, :, k], context[:, :, -1])


def test_linear_extrapolation_is_exact_on_a_ramp_and_clips_to_the_range():
    video = ramp(10)
    assert torch.allclose(app.linear_extrapolation(video[:, :, :4], 6), video[:, :, 4:], atol=1e-6)
    rising = torch.tensor([0.2, 0.6]).view(1, 1, 2, 1, 1).expand(1, 1, 2, 2, 2)  # +0.4 a frame
    assert torch.allclose(app.linear_extrapolation(rising, 2)[0, 0, :, 0, 0], torch.tensor([1.0, 1.0]))


def test_linear_extrapolation_is_copy_last_for_one_frame_and_for_black_and_white_frames():
    one = torch.rand(2, 3, 1, 8, 8)
    assert torch.equal(app.linear_extrapolation(one, 4), app.copy_last(one, 4))
    # a pixel that turned on goes to 1 + k -> 1, one that turned off to -k -> 0: the last frame again
    binary = (torch.rand(2, 3, 3, 8, 8) > 0.5).float()
    assert torch.equal(app.linear_extrapolation(binary, 4), app.copy_last(binary, 4))


def test_step_scores_by_hand():
    future = torch.full((3, 1, 2, 16, 16), 0.5)
    prediction = future.clone()
    prediction[:, :, 0] += 0.1  # step 1: MSE 0.01 -> PSNR 20 dB
    prediction[:, :, 1] += 0.01  # step 2: MSE 1e-4 -> 40 dB
    scores = app.step_scores(prediction, future)
    assert torch.allclose(scores["psnr"], torch.tensor([20.0, 40.0], dtype=torch.float64))
    exact = app.step_scores(future, future)
    assert exact["psnr"].isinf().all() and torch.allclose(exact["ssim"], torch.ones(2, dtype=torch.float64))


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="horizon"):
        app.linear_extrapolation(torch.rand(1, 1, 2, 8, 8), 0)
    with pytest.raises(ValueError, match="not a predictor"):
        app.prediction_league(["diffusion"])  # a generator
    with pytest.raises(KeyError, match="Unknown model"):
        app.prediction_league(["no_such_model"])
    with pytest.raises(ValueError, match="score"):
        app.league_table({}, score="fvd")


def test_future_given_says_what_each_predictor_is_told():
    for name in app.PREDICTORS:
        module = models.get(name)
        _, _, condition = module.prediction_task(module.load_pretrained("cpu"), 1)
        assert bool(condition) == (name in app.FUTURE_GIVEN), name


def test_league_on_a_shipped_predictor_and_its_table():
    results = app.prediction_league(["vid2vid"], n=4)
    scores = results["vid2vid"]
    assert int(scores["clips"]) == 4
    for key in ("psnr/model", "ssim/model", "psnr/copy_last", "ssim/copy_last", "psnr/linear", "ssim/linear"):
        assert scores[key].shape == (10,) and scores[key].isfinite().all(), key
    assert (scores["psnr/model"] > scores["psnr/copy_last"]).all()  # told the future maps, it wins throughout
    line = app.league_table(results).splitlines()[-1]
    assert line.startswith("vid2vid") and line.endswith("label maps")
    assert f"{scores['psnr/model'][0].item():.2f}" in line
    assert f"{scores['psnr/linear'][-1].item():.2f}" in line


# --- interpolation ----------------------------------------------------------------------------------

def test_linear_blend_is_exact_on_a_linear_fade_and_keeps_the_known_frames():
    a, b = torch.rand(2, 3, 1, 8, 8), torch.rand(2, 3, 1, 8, 8)
    weight = torch.linspace(0, 1, 8).view(1, 1, 8, 1, 1)
    fade = (1 - weight) * a + weight * b
    assert torch.allclose(app.linear_blend(fade), fade, atol=1e-6)
    clips = torch.rand(2, 3, 8, 8, 8)
    blend = app.linear_blend(clips, known=(2, 5))
    assert torch.equal(blend[:, :, [2, 5]], clips[:, :, [2, 5]])
    assert torch.allclose(blend[:, :, 0], clips[:, :, 2]) and torch.allclose(blend[:, :, 7], clips[:, :, 5])
    assert torch.allclose(blend[:, :, 3], (2 * clips[:, :, 2] + clips[:, :, 5]) / 3)
    assert torch.equal(app.linear_blend(clips, known=(5, 2)), blend)  # in any order


def test_centroids_by_hand():
    video = torch.zeros(1, 3, 2, 8, 8)
    video[0, 0, 0, 2, 5] = 1.0
    video[0, 1, 0, 4, 1] = 0.5  # weighs half as much: centre (2 + 4/2, 5 + 1/2) / 1.5
    centres = app.centroids(video)
    assert torch.allclose(centres[0, 0], torch.tensor([8 / 3, 11 / 3], dtype=torch.float64))
    visible = app.centroids(video, threshold=0.5)  # the half-bright pixel no longer counts
    assert torch.allclose(visible[0, 0], torch.tensor([2.0, 5.0], dtype=torch.float64))
    assert centres[0, 1].isnan().all()  # an empty frame has no centre


def test_a_cross_fade_of_a_moving_shape_fools_the_centroid_but_not_the_visible_shape():
    clips = video_batch(MovingShapes("test", num_videos=4, num_frames=8, frame_size=32, speed=2), 4)
    blend, truth = app.centroids(app.linear_blend(clips)), app.centroids(clips)
    assert torch.allclose(blend, truth, atol=1e-5)  # by linearity, on the constant-speed path exactly
    visible = app.centroids(app.linear_blend(clips), threshold=app.VISIBLE)
    nearer_end = torch.tensor([0, 0, 0, 0, 7, 7, 7, 7])  # weights k/7: frame k shows the end it is closer to
    assert torch.allclose(visible, truth[:, nearer_end], atol=1e-5)  # (2 px a frame: the ends never overlap)


def test_interpolate_keeps_the_known_frames_and_reads_nothing_else(tiny_diffusion):
    clips = torch.rand(2, 3, 4, 8, 8)
    captions = ["a red circle moves left", "a blue square moves up"]
    filled = app.interpolate(tiny_diffusion, clips, captions, steps=3)
    assert filled.shape == clips.shape and 0 <= filled.min() and filled.max() <= 1
    assert torch.equal(filled[:, :, [0, 3]], clips[:, :, [0, 3]])
    scrambled = clips.clone()
    scrambled[:, :, 1:3] = torch.rand(2, 3, 2, 8, 8)
    assert torch.equal(app.interpolate(tiny_diffusion, scrambled, captions, steps=3), filled)
    moved = clips.clone()
    moved[:, :, 0] = moved[:, :, 0].flip(-1)
    assert not torch.allclose(app.interpolate(tiny_diffusion, moved, captions, steps=3)[:, :, 1:3],
                              filled[:, :, 1:3])  # the filled frames depend on the known ones


def test_reconstruction_guidance_changes_only_the_filled_frames(tiny_diffusion):
    clips = torch.rand(2, 3, 4, 8, 8)
    captions = ["a red circle moves left", ""]
    plain = app.interpolate(tiny_diffusion, clips, captions, known=[1], steps=3)
    guided = app.interpolate(tiny_diffusion, clips, captions, known=[1], steps=3,
                             reconstruction_guidance=10.0)
    assert torch.equal(guided[:, :, 1], clips[:, :, 1])
    assert not torch.allclose(guided, plain)


def test_interpolate_names_bad_input(tiny_diffusion):
    clips, captions = torch.rand(2, 3, 4, 8, 8), ["", ""]
    for known in ([0, 0], [0, 4], []):
        with pytest.raises(ValueError, match="known"):
            app.interpolate(tiny_diffusion, clips, captions, known)
    with pytest.raises(ValueError, match="4 frames"):
        app.interpolate(tiny_diffusion, torch.rand(2, 3, 5, 8, 8), captions)
    with pytest.raises(ValueError, match="one per clip"):
        app.interpolate(tiny_diffusion, clips, [""])
    with pytest.raises(ValueError, match="reconstruction_guidance"):
        app.interpolate(tiny_diffusion, clips, captions, reconstruction_guidance=-1.0)


# --- editing ----------------------------------------------------------------------------------------

def test_an_edit_keeps_the_noise_and_changes_only_the_caption(tiny_diffusion):
    captions = ["a red circle moves left", "a blue square moves up", "a green triangle moves down"]
    original, same = app.edit(tiny_diffusion, captions, captions, seed=3, steps=3)
    assert torch.equal(original, same)
    assert torch.equal(original, diffusion.sample(tiny_diffusion, 3, seed=3, caption=captions, guidance=0.0,
                                                  steps=3))
    new = ["a red circle moves left", "a red square moves up", "a green triangle moves up"]
    again, edited = app.edit(tiny_diffusion, captions, new, seed=3, steps=3)
    assert torch.equal(again, original)
    assert torch.equal(edited[0], original[0]) and not torch.allclose(edited[1:], original[1:])


def test_editing_names_bad_input(tiny_diffusion):
    with pytest.raises(ValueError, match="one each"):
        app.edit(tiny_diffusion, ["", ""], [""], seed=0)
    for n in (4, 7):
        with pytest.raises(ValueError, match="even number"):
            app.editing_scores(tiny_diffusion, n)


def test_editing_scores_pairs_the_edits_and_keeps_the_rows_apart(monkeypatch):
    """With a stand-in sampler that draws each caption as a tagged clip and a judge that reads the tag, a
    perfect edit scores 1 everywhere and an edit that ignores the new caption scores 0 on its target."""
    drawn: list[str] = []

    def draw(captions):  # one lit pixel in the middle (the centre), the caption's number hidden at (0, 0)
        video = torch.zeros(len(captions), 3, 8, 32, 32)
        video[:, 0, :, 16, 16] = 1.0
        for i, text in enumerate(captions):
            drawn.append(text)
            video[i, 1, :, 0, 0] = (len(drawn) - 1) / 1000
        return video

    def judge(videos):
        words = [drawn[round(tag * 1000)].split() for tag in videos[:, 1, 0, 0, 0].tolist()]
        return {"color": torch.tensor([COLORS.index(w[1]) for w in words]),
                "shape": torch.tensor([SHAPES.index(w[2]) for w in words]),
                "direction": torch.tensor([DIRECTIONS.index(w[4]) for w in words])}

    def perfect_edit(model, captions, new_captions, *, seed, steps):
        for i in range(0, len(captions), 2):  # pairs: each the other's edit, differing in one word
            assert new_captions[i] == captions[i + 1] and new_captions[i + 1] == captions[i]
            pair = zip(captions[i].split(), captions[i + 1].split())
            differ = [k for k, (a, b) in enumerate(pair) if a != b]
            assert differ == [[2, 1, 4][(i // 2) % 3]]  # shape, colour, direction in turn
        return draw(captions), draw(new_captions)

    model = types.SimpleNamespace(config=diffusion.Config())
    monkeypatch.setattr(app, "judged_attributes", judge)
    monkeypatch.setattr(app, "edit", perfect_edit)
    scores = app.editing_scores(model, 12)
    for key in ("target_acc/edit", "target_acc/resample", "kept_acc/original", "kept_acc/edit"):
        assert all(scores[f"{key}/{a}"] == 1.0 for a in ("shape", "color", "direction", "all")), key
    assert scores["path_distance/edit/all"] == 0.0 and scores["path_distance/resample/all"] == 0.0

    monkeypatch.setattr(app, "edit", lambda model, captions, new, **_: (draw(captions), draw(captions)))
    scores = app.editing_scores(model, 12)
    assert scores["target_acc/edit/all"] == 0.0 and scores["target_acc/resample/all"] == 1.0
    assert scores["kept_acc/edit/all"] == 1.0
