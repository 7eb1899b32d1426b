"""Every registered model follows the one API of ``vidgen_lib.models``: signatures, shapes, ranges,
repeatable seeds, shipped checkpoints that match their cards, and clear errors for bad input."""
from __future__ import annotations

import dataclasses
import inspect
import re

import pytest
import torch

import vidgen_lib
from vidgen_lib import evaluation, models
from vidgen_lib.checkpoints import config_dict, read_card

NAMES = models.available()
GENERATORS = [name for name in NAMES if hasattr(models.get(name), "sample")]
PREDICTORS = [name for name in NAMES if hasattr(models.get(name), "predict")]
CODECS = [name for name in NAMES if hasattr(models.get(name), "compress")]


def test_every_model_is_of_exactly_one_kind():
    kinds = {name: [kind for kind in models.KINDS if hasattr(models.get(name), kind)] for name in NAMES}
    assert {name: len(found) for name, found in kinds.items()} == {name: 1 for name in NAMES}, kinds
    assert GENERATORS and PREDICTORS and CODECS


def parameters(fn) -> list[tuple[str, object, object]]:
    """(name, kind, default) of each parameter of ``fn``."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


P, K, E = inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.empty


@pytest.fixture(scope="module")
def shipped():
    """Each model's shipped checkpoint, loaded once for the module."""
    return {name: models.get(name).load_pretrained("cpu") for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_one_signature_for_every_api_function(name):
    module = models.get(name)
    assert parameters(module.train) == [("config", P, E), ("steps", P, None), ("run_dir", K, None),
                                        ("seed", K, 0), ("progress", K, True), ("time_limit_s", K, None)]
    assert parameters(module.load_pretrained) == [("device", P, None), ("path", K, None)]
    assert [p[0] for p in parameters(module.training_step)] == ["model", "trainer", "batch"]
    assert parameters(evaluation.for_model(name).evaluate)[:3] == [("model", P, E), ("n", P, E),
                                                                   ("seed", K, 0)]
    if hasattr(module, "sample"):
        assert parameters(module.sample)[:3] == [("model", P, E), ("n", P, E), ("seed", K, None)]
    elif hasattr(module, "compress"):
        assert parameters(module.compress) == [("model", P, E), ("videos", P, E)]
        assert parameters(module.decompress) == [("model", P, E), ("data", P, E), ("shape", P, E)]
    else:
        assert parameters(module.predict)[:3] == [("model", P, E), ("context", P, E), ("horizon", P, E)]
        assert ("seed", K, None) in parameters(module.predict)
        assert parameters(module.prediction_task) == [("model", P, E), ("n", P, E)]


@pytest.mark.parametrize("name", NAMES)
def test_presets_name_their_training_length_and_evaluation_size(name):
    config_cls = models.get(name).Config
    for preset in ("tutorial", "full"):
        config = config_cls.preset(preset)
        assert dataclasses.is_dataclass(config) and config.steps > 0 and config.eval_videos >= 0
    with pytest.raises(ValueError, match="preset"):
        config_cls.preset("huge")


@pytest.mark.parametrize("name", NAMES)
def test_load_pretrained_matches_its_model_card(name, shipped):
    model = shipped[name]
    card = read_card(vidgen_lib.CHECKPOINT_DIR / f"{name}.pt")
    command = re.sub(r"^(\w+=\S+ )+", "", card["command"])  # without environment settings (OMP_NUM_THREADS=1)
    assert command.startswith(f"python -m vidgen_lib train {name}")
    assert config_dict(model.config) == card["config"] and card["config"]["steps"] == card["steps"]
    assert not model.training and all(p.device.type == "cpu" for p in model.parameters())
    metric_keys = [key for key in card["metrics"] if "|" not in key and not key.startswith("final_")]
    assert metric_keys == list(card["metrics"])  # metric keys are name/variant


@pytest.mark.parametrize("name", GENERATORS)
def test_samples_have_the_worlds_shape_and_range_and_a_seed_repeats_them(name, shipped):
    module, model = models.get(name), shipped[name]
    c = model.config
    state = torch.get_rng_state()
    videos = module.sample(model, 2, seed=3)
    assert torch.equal(torch.get_rng_state(), state)  # a seeded draw leaves the global generator alone
    assert videos.shape == (2, c.channels, c.num_frames, c.frame_size, c.frame_size)
    assert videos.dtype == torch.float32 and 0 <= videos.min() and videos.max() <= 1
    assert torch.equal(videos, module.sample(model, 2, seed=3))
    assert not torch.equal(videos, module.sample(model, 2, seed=4))


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("n", [0, -1])
def test_sample_rejects_a_count_that_is_not_positive(name, n, shipped):
    with pytest.raises(ValueError, match="n must be"):
        models.get(name).sample(shipped[name], n)


def _predict(name, model, context, horizon, condition, seed=0):
    return models.get(name).predict(model, context, horizon, seed=seed, **condition)


@pytest.mark.parametrize("name", PREDICTORS)
def test_predictions_continue_the_context_in_range_and_a_seed_repeats_them(name, shipped):
    module, model = models.get(name), shipped[name]
    context, future, condition = module.prediction_task(model, 2)
    assert context.shape[:2] == future.shape[:2] and context.shape[3:] == future.shape[3:]
    state = torch.get_rng_state()
    prediction = _predict(name, model, context, future.shape[2], condition)
    assert torch.equal(torch.get_rng_state(), state)
    assert prediction.shape == future.shape and 0 <= prediction.min() and prediction.max() <= 1
    assert torch.equal(prediction, _predict(name, model, context, future.shape[2], condition))


@pytest.mark.parametrize("name", PREDICTORS)
def test_predict_names_what_is_wrong_with_bad_input(name, shipped):
    module, model = models.get(name), shipped[name]
    context, future, condition = module.prediction_task(model, 2)
    horizon = future.shape[2]
    with pytest.raises(ValueError, match="horizon"):
        _predict(name, model, context, 0, condition)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        _predict(name, model, context * 2 - 1, horizon, condition)  # values in [-1, 1]
    with pytest.raises(ValueError, match="frame"):
        big = torch.nn.functional.interpolate(context, scale_factor=(1, 2, 2))  # frames twice the size
        _predict(name, model, big, horizon, condition)
    with pytest.raises(ValueError, match="channels|grey"):
        _predict(name, model, context.repeat(1, 2, 1, 1, 1), horizon, condition)  # a channel too many


@pytest.mark.parametrize("name", CODECS)
def test_a_codec_writes_bytes_its_decoder_turns_back_into_clips_of_the_same_shape(name, shipped):
    module, model = models.get(name), shipped[name]
    c = model.config
    shape = (2, c.channels, c.num_frames, c.frame_size, c.frame_size)
    videos = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    data, shape = module.compress(model, videos)
    assert isinstance(data, bytes) and len(data) > 0 and data == module.compress(model, videos)[0]
    decoded = module.decompress(model, data, shape)
    assert decoded.shape == videos.shape and 0 <= decoded.min() and decoded.max() <= 1
    assert len(module.compress(model, videos[:1])[0]) < len(data)  # one clip costs fewer bytes than two


@pytest.mark.parametrize("name", CODECS)
def test_compress_names_what_is_wrong_with_bad_input(name, shipped):
    module, model = models.get(name), shipped[name]
    c = model.config
    videos = torch.rand(1, c.channels, c.num_frames, c.frame_size, c.frame_size)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        module.compress(model, videos * 2 - 1)
    with pytest.raises(ValueError, match="channels|shape"):
        module.compress(model, videos.repeat(1, 2, 1, 1, 1))
