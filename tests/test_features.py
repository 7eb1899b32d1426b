"""Tests of vidgen_lib.features: the toy-world network behind FVD and ACD, and the I3D path."""
import json
import warnings

import pytest
import torch

import vidgen_lib
from vidgen_lib import evaluation, metrics
from vidgen_lib.datasets import MovingDigits, MovingShapes, video_batch
from vidgen_lib import features
from vidgen_lib.evaluation.i3d import I3DFeatures


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    """128 held-out one-digit videos (1, 16, 32, 32): the first 64 are the FVD reference."""
    return video_batch(MovingDigits("test", 128, 16, 32, num_digits=1), 128)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------------------------------------
# The network and its shapes
# ---------------------------------------------------------------------------------------------
def test_feature_shapes_for_grey_and_rgb_at_any_size():
    model = features.ToyVideoFeatures().eval()
    grey = torch.rand(3, 1, 20, 64, 64, generator=_gen(0))
    rgb = torch.rand(2, 3, 16, 32, 32, generator=_gen(1))
    assert features.video_features(grey, model).shape == (3, 128)
    assert features.video_features(rgb, model).shape == (2, 128)
    assert features.frame_features(grey, model).shape == (3, 20, 128)  # time is not resampled
    out = model(rgb)
    assert out["digit"].shape == (2, 10) and out["frame_color"].shape == (2, 16, 6)
    for videos in (rgb, grey):  # one pass (T = 16) or two (T = 20): the same features either way
        both = features.video_and_frame_features(videos, model)
        assert torch.allclose(both[0], features.video_features(videos, model), atol=1e-5)
        assert torch.allclose(both[1], features.frame_features(videos, model), atol=1e-5)


def test_frame_features_see_only_their_own_frame():
    model = features.ToyVideoFeatures().eval()
    video = torch.rand(1, 1, 8, 32, 32, generator=_gen(2))
    changed = video.clone()
    changed[:, :, 5] = 0.0
    before, after = features.frame_features(video, model), features.frame_features(changed, model)
    assert torch.allclose(before[:, :5], after[:, :5]) and torch.allclose(before[:, 6:], after[:, 6:])
    assert not torch.allclose(before[:, 5], after[:, 5])


def test_digit_axis_is_the_larger_component_and_ignores_bounces():
    velocity = torch.tensor([[0.5, -2.0], [0.5, 2.0], [-2.0, 1.0], [2.0, -1.0], [1.0, 1.0]])  # (dy, dx)
    names = [features.AXES[i] for i in features.digit_axis(velocity)]
    assert names == ["horizontal", "horizontal", "vertical", "vertical", "horizontal"]
    assert torch.equal(features.digit_axis(velocity), features.digit_axis(-velocity))  # a bounce flips signs


def test_identity_swap_keeps_the_first_half_and_changes_the_second():
    real, swapped = features.identity_swap_digits(4, num_frames=8)
    assert torch.equal(real[:, :, :4], swapped[:, :, :4])
    assert (real[:, :, 4:] - swapped[:, :, 4:]).abs().sum(dim=(1, 3, 4)).min() > 0


def test_training_reports_every_head_and_resumes(tmp_path):
    from vidgen_lib.checkpoints import safe_torch_load

    config = features.FeatureConfig(batch_size=2)
    model, acc = features.train_features(steps=2, config=config, run_dir=tmp_path, progress=False,
                                         eval_videos=4)
    assert {key.rsplit("_acc/", 1)[0] for key in acc} == set(features.HEADS)
    assert all(0.0 <= value <= 1.0 for value in acc.values()) and not model.training
    features.train_features(steps=3, config=config, run_dir=tmp_path, progress=False, eval_videos=2)
    assert safe_torch_load(tmp_path / "train_state.pt")["step"] == 3  # continued from step 2


def test_every_fourth_training_clip_is_shuffled_and_labelled_for_the_order_head():
    config = features.FeatureConfig(batch_size=8)
    batch = next(features.training_batches(config))
    original = features.worlds("train", config, num_videos=8)["digits"][0]  # step 0: frame size 32
    for i in range(8):
        clean = original[i]["video"]
        if i % 4 == 0:  # shuffled: the same frames, in another order
            assert batch["digits"]["order"][i] == 1 and not torch.equal(batch["digits"]["video"][i], clean)
            frame_sums = batch["digits"]["video"][i].sum(dim=(2, 3))  # (C, T): one number per frame
            assert torch.allclose(frame_sums.sort(dim=1).values, clean.sum(dim=(2, 3)).sort(dim=1).values)
        else:
            assert batch["digits"]["order"][i] == 0 and torch.equal(batch["digits"]["video"][i], clean)
    assert batch["shapes"]["order"].tolist() == [1, 0, 0, 0, 1, 0, 0, 0]
    again = next(features.training_batches(config))
    assert torch.equal(again["digits"]["video"], batch["digits"]["video"])  # batch k is the same in every run


def test_motion_heads_learn_only_from_clips_in_order(monkeypatch):
    batch = next(features.training_batches(features.FeatureConfig(batch_size=4)))
    model = features.ToyVideoFeatures().eval()
    losses = features.multitask_loss(model, batch)
    assert set(losses) == set(features.HEADS)
    with torch.no_grad():
        out = model(batch["digits"]["video"])
    in_order = batch["digits"]["order"] == 0
    want = torch.nn.functional.cross_entropy(out["axis"][in_order], batch["digits"]["axis"][in_order])
    assert torch.allclose(losses["axis"], want, atol=1e-5)


def test_learning_rate_follows_one_cycle():
    lrs = [features.one_cycle_lr(step, 100, 1e-3) for step in range(101)]
    assert lrs[0] == pytest.approx(1e-3 / 25) and max(lrs) == pytest.approx(1e-3) == lrs[30]
    assert lrs[-1] == pytest.approx(1e-3 / 25e4) and lrs[30:] == sorted(lrs[30:], reverse=True)


def test_cli_writes_a_checkpoint_with_its_exact_command_that_loads(tmp_path, monkeypatch, capsys):
    from vidgen_lib import cli

    monkeypatch.setattr(features, "EVAL_VIDEOS", 2)
    assert cli.main(["train-features", "--steps", "1", "--out", str(tmp_path)]) == 0
    card = json.loads((tmp_path / "video_features.json").read_text())
    assert card["command"].endswith(f"python -m vidgen_lib train-features --steps 1 --out {tmp_path}")
    assert card["steps"] == 1 and len(card["metrics"]) == 2 * len(features.HEADS)
    model = features.load_features(device="cpu", path=tmp_path / "video_features.pt")
    assert isinstance(model, features.ToyVideoFeatures) and not model.training
    assert "wrote" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# The shipped checkpoint
# ---------------------------------------------------------------------------------------------
def test_shipped_checkpoint_is_small_and_accurate_on_held_out_videos():
    weights = vidgen_lib.CHECKPOINT_DIR / "video_features.pt"
    card = json.loads(weights.with_suffix(".json").read_text())
    assert weights.stat().st_size < 5 * 2**20
    assert "python -m vidgen_lib train-features" in card["command"]
    assert len(card["metrics"]) == 2 * len(features.HEADS)  # every head at frame sizes 32 and 64
    assert min(card["metrics"].values()) >= 0.95, card["metrics"]
    model = features.load_features()
    assert features.load_features() is model and not model.training  # cached, eval mode


def test_missing_checkpoint_names_the_command(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="python -m vidgen_lib train-features"):
        features.load_features(path=tmp_path / "video_features.pt")
    monkeypatch.setattr(vidgen_lib, "CHECKPOINT_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="python -m vidgen_lib train-features"):
        evaluation.fvd(torch.rand(4, 1, 8, 16, 16), torch.rand(4, 1, 8, 16, 16))


@pytest.mark.parametrize(
    "bad, pattern",
    [
        (torch.rand(2, 16, 32, 32), r"\(N, C, T, H, W\)"),
        (torch.rand(2, 1, 16, 32, 32) * 2 - 1, r"\[-1, 1\]"),
        (torch.rand(2, 2, 16, 32, 32), "1 \\(grey\\) or 3 \\(RGB\\) channels"),
        ((torch.rand(2, 1, 16, 32, 32) * 255).to(torch.uint8), "255"),
    ],
)
def test_bad_input_raises_clearly(bad, pattern):
    with pytest.raises(ValueError, match=pattern):
        features.video_features(bad, features.ToyVideoFeatures())


# ---------------------------------------------------------------------------------------------
# FVD and ACD with the shipped features: the FVD paper's sensitivity study at toy scale
# ---------------------------------------------------------------------------------------------
def test_fvd_rises_monotonically_with_noise(digits):
    reference = evaluation.embed_videos(digits[:64])
    scores = []
    for std in (0.0, 0.05, 0.1, 0.2, 0.4):
        noisy = metrics.add_noise(digits[64:], std, generator=_gen(3))
        scores.append(metrics.fvd_from_features(reference, evaluation.embed_videos(noisy)))
    assert scores == sorted(scores) and scores[-1] > 2 * scores[0], scores


def test_fvd_rises_monotonically_with_temporal_shuffling(digits):
    reference = evaluation.embed_videos(digits[:64])
    scores = []
    for fraction in (0.0, 0.25, 0.5, 1.0):
        shuffled = metrics.shuffle_frames(digits[64:], fraction, generator=_gen(4))
        scores.append(metrics.fvd_from_features(reference, evaluation.embed_videos(shuffled)))
    assert scores == sorted(scores) and scores[-1] > 2 * scores[0], scores


def test_acd_ranks_static_below_real_below_identity_swap():
    real, swapped = features.identity_swap_digits(32)
    static = evaluation.acd_videos(metrics.static_baseline(real))
    assert static == pytest.approx(0.0, abs=1e-6)
    assert static < evaluation.acd_videos(real) < evaluation.acd_videos(swapped)


def test_evaluate_generator_reports_every_metric(digits):
    scores = evaluation.evaluate_generator(metrics.static_baseline(digits[64:]), digits[:64])
    assert set(scores) == {"n", "fvd", "kvd", "acd"} and scores["n"] == 64
    floor = evaluation.evaluate_generator(digits[64:], digits[:64])
    assert floor["fvd"] < scores["fvd"] and floor["acd"] > scores["acd"] == pytest.approx(0.0, abs=1e-6)


def test_default_extractor_works_on_rgb_shapes():
    shapes = video_batch(MovingShapes("test", 16, 16, 32), 16)
    assert evaluation.fvd(shapes[:8], shapes[8:]) >= 0.0
    assert evaluation.kvd_videos(shapes[:8], shapes[8:]) == pytest.approx(metrics.kvd(
        evaluation.embed_videos(shapes[:8]), evaluation.embed_videos(shapes[8:])))


# ---------------------------------------------------------------------------------------------
# I3D from a TorchScript file
# ---------------------------------------------------------------------------------------------
class _InputProbe(torch.nn.Module):
    """Stands in for I3D: returns what it was given (channels, T, H, W, min, max) as features."""

    def forward(self, x: torch.Tensor, offset: float = 0.0) -> torch.Tensor:
        b, c, t, h, w = x.shape
        flat = x.reshape(b, -1)
        size = torch.tensor([c, t, h, w], dtype=x.dtype).expand(b, 4)
        return torch.cat([size, flat.min(dim=1, keepdim=True).values, flat.max(dim=1, keepdim=True).values,
                          flat.mean(dim=1, keepdim=True) + offset], dim=1)


@pytest.fixture
def probe_path(tmp_path):
    path = tmp_path / "i3d_probe.pt"
    with warnings.catch_warnings():  # TorchScript is deprecated in recent torch; I3D ports still use it
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(_InputProbe()), str(path))
    return path


def test_i3d_preprocessing_matches_the_fvd_paper(probe_path):
    i3d = I3DFeatures(probe_path, device="cpu")
    grey = torch.zeros(2, 1, 10, 32, 32)
    grey[1] = 1.0
    feats = i3d(grey)
    assert feats.shape == (2, 7)
    assert feats[:, :4].tolist() == [[3, 10, 224, 224]] * 2  # 3 channels, T kept, 224 x 224
    assert feats[0, 4] == -1 and feats[1, 5] == 1  # [0, 1] mapped to [-1, 1]
    assert I3DFeatures(probe_path, device="cpu", offset=5.0)(grey)[0, 6] == -1 + 5  # call options


def test_i3d_extractor_plugs_into_fvd_and_refuses_short_clips(probe_path):
    i3d = I3DFeatures(probe_path, device="cpu")
    real = torch.rand(6, 3, 9, 16, 16, generator=_gen(5))
    assert evaluation.fvd(real, real, extractor=i3d) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="at least 9 frames"):
        i3d(torch.rand(2, 3, 8, 16, 16))
    with pytest.raises(FileNotFoundError, match="TorchScript"):
        I3DFeatures(probe_path.with_name("missing.pt"))
