"""The sound-to-video model (chapter 12): the model API, shapes and ranges, what each frame hears, predict's
input checks, gradients, overfitting a tiny batch (and then following its audio, not another clip's), and
the measurements of ``evaluation.sound_to_video``."""
from __future__ import annotations

import inspect

import pytest
import torch
from torch.utils.data import default_collate

from vidgen_lib.datasets import SoundingBalls
from vidgen_lib.datasets.sounds import shuffled_audio, silence_like
from vidgen_lib.evaluation import sound_to_video as s2v_eval
from vidgen_lib.models import sound_to_video as s2v
from vidgen_lib.train import Trainer


def tiny_config(**changes) -> s2v.Config:
    """A model small enough to train in a second: 16x16 frames, 2 + 4 frames."""
    base = {"frame_size": 16, "num_frames": 6, "context": 2, "width": 8, "code_dim": 16, "audio_dim": 16,
            "batch_size": 4, "train_videos": 8, "eval_videos": 0}
    return s2v.Config(**{**base, **changes})


def tiny_batch(config: s2v.Config, n: int = 4) -> dict[str, torch.Tensor]:
    data = s2v.dataset(config, "train", n)
    return default_collate([data[i] for i in range(n)])


@pytest.fixture(scope="module")
def model() -> s2v.SoundToVideo:
    torch.manual_seed(0)
    return s2v.build(tiny_config()).eval()


def test_the_model_api_signatures_and_presets():
    P, K, E = inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.empty
    params = lambda fn: [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]  # noqa: E731
    assert params(s2v.train) == [("config", P, E), ("steps", P, None), ("run_dir", K, None), ("seed", K, 0),
                                 ("progress", K, True), ("time_limit_s", K, None)]
    assert params(s2v.load_pretrained) == [("device", P, None), ("path", K, None)]
    assert [p[0] for p in params(s2v.training_step)] == ["model", "trainer", "batch"]
    assert params(s2v.predict)[:4] == [("model", P, E), ("context", P, E), ("horizon", P, E),
                                       ("seed", K, None)]
    assert params(s2v.prediction_task) == [("model", P, E), ("n", P, E)]
    assert params(s2v_eval.evaluate)[:3] == [("model", P, E), ("n", P, E), ("seed", K, 0)]
    for name in ("tutorial", "full"):
        config = s2v.Config.preset(name)
        assert config.steps > 0 and config.eval_videos > 0 and config.horizon == 14
        s2v.build(config)
    tutorial = s2v.build(s2v.Config.preset("tutorial"))
    assert sum(p.numel() for p in tutorial.parameters()) < 300_000
    with pytest.raises(ValueError, match="preset"):
        s2v.Config.preset("huge")
    with pytest.raises(ValueError, match="power of two"):
        s2v.build(tiny_config(frame_size=24))
    with pytest.raises(FileNotFoundError, match="train sound_to_video"):
        s2v.load_pretrained("cpu", path="no_such_checkpoint.pt")


def test_predictions_have_the_futures_shape_and_range_and_repeat(model):
    context, future, condition = s2v.prediction_task(model, 3)
    assert context.shape == (3, 1, 2, 16, 16) and future.shape == (3, 1, 4, 16, 16)
    assert condition["audio_features"].shape == (3, 6, s2v.AUDIO_FEATURES)
    logits = model(context, condition["audio_features"])
    assert logits.shape == future.shape
    state = torch.get_rng_state()
    frames = s2v.predict(model, context, 4, seed=0, **condition)
    assert torch.equal(torch.get_rng_state(), state)  # a deterministic model draws nothing
    assert frames.shape == future.shape and frames.dtype == torch.float32
    assert 0 <= frames.min() and frames.max() <= 1
    torch.testing.assert_close(frames, torch.sigmoid(logits.detach()))
    assert torch.equal(frames, s2v.predict(model, context, 4, seed=5, **condition))
    shorter = s2v.predict(model, context, 2, audio_features=condition["audio_features"][:, :4])
    assert shorter.shape == (3, 1, 2, 16, 16)  # any horizon, given the audio of its frames


def test_frame_t_hears_the_audio_of_frames_t_minus_2_to_t_plus_2_and_the_context(model):
    context, _, condition = s2v.prediction_task(model, 2)
    audio = condition["audio_features"]
    frames = s2v.predict(model, context, 4, audio_features=audio)
    louder = audio.clone()
    louder[:, 2] += 0.5  # the column of clip frame 2, the first future frame
    changed = (s2v.predict(model, context, 4, audio_features=louder) - frames).abs().amax(dim=(0, 1, 3, 4))
    assert torch.all(changed[:3] > 0) and changed[3] == 0  # clip frames 2, 3, 4 hear it; frame 5 does not
    moved = s2v.predict(model, context.flip(-1), 4, audio_features=audio)  # the same audio, another start
    assert not torch.allclose(moved, frames)
    for other in (silence_like(audio), shuffled_audio(audio, torch.Generator().manual_seed(0))):
        assert not torch.allclose(s2v.predict(model, context, 4, audio_features=other), frames)


def test_predict_names_what_is_wrong_with_bad_input(model):
    context, _, condition = s2v.prediction_task(model, 2)
    audio = condition["audio_features"]
    with pytest.raises(ValueError, match="horizon"):
        s2v.predict(model, context, 0, audio_features=audio)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        s2v.predict(model, context * 2 - 1, 4, audio_features=audio)
    with pytest.raises(ValueError, match="frame"):
        big = torch.nn.functional.interpolate(context, scale_factor=(1, 2, 2))  # frames twice the size
        s2v.predict(model, big, 4, audio_features=audio)
    with pytest.raises(ValueError, match="grey"):
        s2v.predict(model, context.repeat(1, 3, 1, 1, 1), 4, audio_features=audio)
    with pytest.raises(ValueError, match="2 context frames"):
        s2v.predict(model, context[:, :, :1], 4, audio_features=audio)
    with pytest.raises(ValueError, match=r"Tc \+ horizon"):
        s2v.predict(model, context, 3, audio_features=audio)  # audio for 4 future frames, 3 asked for
    with pytest.raises(ValueError, match=r"Tc \+ horizon"):
        s2v.predict(model, context, 4, audio_features=audio[..., :32])  # one channel's bands only
    with pytest.raises(ValueError, match="float"):
        s2v.predict(model, context, 4, audio_features=audio.long())
    with pytest.raises(ValueError, match="NaN"):
        s2v.predict(model, context, 4, audio_features=audio.clone().fill_(float("nan")))


def test_gradient_reaches_every_parameter():
    torch.manual_seed(0)
    config = tiny_config()
    net, batch = s2v.build(config), tiny_batch(config)
    video = batch["video"]
    s2v.frame_loss(net(video[:, :, :2], batch["audio_features"]), video[:, :, 2:]).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_the_loss_is_the_mean_binary_cross_entropy_per_pixel():
    logits, target = torch.tensor([0.0, 2.0]), torch.tensor([1.0, 0.25])
    p = torch.sigmoid(logits)
    by_hand = -(target * p.log() + (1 - target) * (1 - p).log()).mean()
    torch.testing.assert_close(s2v.frame_loss(logits, target), by_hand)


def test_a_tiny_model_overfits_a_tiny_batch_and_then_follows_its_audio():
    torch.manual_seed(0)
    config = tiny_config()
    net, batch = s2v.build(config), tiny_batch(config)
    video, audio = batch["video"], batch["audio_features"]
    context, future = video[:, :, :2], video[:, :, 2:]
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(200):
        loss = s2v.frame_loss(net(context, audio), future)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    truth = batch["positions"][:, 2:] * 16 / 10 - 0.5  # ball centres in pixels
    error = lambda frames: (s2v_eval.centroids(frames) - truth).norm(dim=-1).mean().item()  # noqa: E731
    own = s2v.predict(net, context, 4, audio_features=audio)
    assert ((own - future) ** 2).mean() < 0.005 and error(own) < 0.5
    other = s2v.predict(net, context, 4, audio_features=audio[[1, 2, 3, 0]])  # each clip hears another
    assert error(other) > 1.5


def test_training_step_and_the_recipe():
    config = tiny_config()
    torch.manual_seed(0)
    net = s2v.build(config)
    trainer = Trainer({"model": net}, {"model": torch.optim.Adam(net.parameters())}, progress=False,
                      device=torch.device("cpu"))
    values = s2v.training_step(net, trainer, tiny_batch(config))
    assert set(values) == {"bce"} and 0 < values["bce"] < 1
    trained, metrics = s2v.train(config, 3, progress=False)
    assert metrics["steps"] == 3 and "final/bce" in metrics and not trained.training


def test_centroids_by_hand():
    video = torch.zeros(1, 2, 3, 6, 8)
    video[0, 0, 0, 1, 2] = 1.0  # one pixel
    video[0, 0, 1, 2, 2], video[0, 1, 1, 2, 6] = 0.75, 0.25  # two pixels, each in one channel
    found = s2v_eval.centroids(video)
    torch.testing.assert_close(found, torch.tensor([[[1.0, 2.0], [2.0, 3.0], [2.5, 3.5]]]))  # black: centre


def test_centroids_find_the_ball_of_sounding_balls():
    data = SoundingBalls("test", num_videos=16)
    batch = default_collate([data[i] for i in range(16)])
    error = (s2v_eval.centroids(batch["video"]) - (batch["positions"] * 32 / 10 - 0.5)).norm(dim=-1)
    assert error.mean() < 0.02 and error.max() < 0.25  # only a ball at a wall is cut by the frame's edge


def test_evaluate_reports_each_way_and_copy_last_by_hand(model):
    metrics = s2v_eval.evaluate(model, 4)
    ways = ("sound_to_video", "silence", "shuffled", "copy_last")
    assert set(metrics) == {"eval_videos", *(f"{m}/{w}" for m in ("position_error_px", "psnr") for w in ways)}
    context, future, _ = s2v.prediction_task(model, 4)
    data = s2v.dataset(model.config, "test", 4)
    truth = torch.stack([data[i]["positions"][2:] for i in range(4)]) * 16 / 10 - 0.5
    last = s2v_eval.centroids(context[:, :, -1:])  # (4, 1, 2): copy-last keeps the ball there
    assert metrics["position_error_px/copy_last"] == pytest.approx((last - truth).norm(dim=-1).mean().item(),
                                                                   abs=1e-4)
    assert metrics == s2v_eval.evaluate(model, 4)
    with pytest.raises(ValueError, match="at least 2"):
        s2v_eval.evaluate(model, 1)
