"""The model registry: every model of the course behind one small, uniform surface.

Each module ``vidgen_lib.models.<name>`` exposes, with exactly these signatures
(``tests/test_model_api.py`` checks every registered model):

- ``Config``: a dataclass with ``Config.preset("tutorial" | "full")``, ``steps`` (its training
  length) and ``eval_videos`` (the N of its model card's metrics);
- ``build(config) -> nn.Module``: the model, all its parts in one module (one state dict);
- ``training_step(model, trainer, batch) -> dict``: one step of the paper's objective;
- ``train(config, steps=None, *, run_dir=None, seed=0, progress=True, time_limit_s=None) -> (model,
  metrics)``: the project's recipe (``vidgen_lib.train.run``), used by ``python -m vidgen_lib train
  NAME``, which then measures the model with ``vidgen_lib.evaluation.evaluate`` for its card;
- ``load_pretrained(device=None, *, path=None)``: the shipped checkpoint ``data/checkpoints/<name>.pt``;
- generators: ``sample(model, n, *, seed=None, **condition) -> (n, C, T, H, W)`` in [0, 1];
  predictors: ``predict(model, context, horizon, *, seed=None, **condition) -> (B, C, horizon, H, W)``
  and ``prediction_task(model, n) -> (context, future, condition)``, n held-out clips of the model's world;
- codecs: ``compress(model, videos) -> (bytes, shape)`` and ``decompress(model, data, shape) -> videos``
  ``(B, C, T, H, W)`` in [0, 1], the decoder's reconstruction of what was compressed.

``get(name)`` returns the module; ``available()`` lists the names.
"""
from __future__ import annotations

import importlib
from types import ModuleType

#: name -> importable module path. Chapters add their model here.
_REGISTRY: dict[str, str | ModuleType] = {
    "vgan": "vidgen_lib.models.vgan",
    "vgan_one_stream": "vidgen_lib.models.vgan_one_stream",
    "mocogan": "vidgen_lib.models.mocogan",
    "tdvae": "vidgen_lib.models.tdvae",
    "dvg": "vidgen_lib.models.dvg",
    "vpn": "vidgen_lib.models.vpn",
    "vpn_independent": "vidgen_lib.models.vpn_independent",
    "vid2vid": "vidgen_lib.models.vid2vid",
    "vid2vid_no_warp": "vidgen_lib.models.vid2vid_no_warp",
    "videobert": "vidgen_lib.models.videobert",
    "diffusion": "vidgen_lib.models.diffusion",
    "codec": "vidgen_lib.models.codec",
    "interaction_net": "vidgen_lib.models.interaction_net",
    "interaction_net_no_edges": "vidgen_lib.models.interaction_net_no_edges",
    "sound_to_video": "vidgen_lib.models.sound_to_video",
}

REQUIRED = ("Config", "build", "training_step", "train", "load_pretrained")
KINDS = ("sample", "predict", "compress")  # a generator, a predictor, a codec


def register(name: str, module: str | ModuleType) -> None:
    """Register a model module (or its import path) under ``name``."""
    _REGISTRY[name] = module


def available() -> list[str]:
    """Names of every registered model, sorted."""
    return sorted(_REGISTRY)


def get(name: str) -> ModuleType:
    """The module of model ``name``, checked to expose the uniform API."""
    if name not in _REGISTRY:
        known = ", ".join(available()) or "none yet"
        raise KeyError(f"Unknown model {name!r}. Registered models: {known}.")
    module = _REGISTRY[name]
    if isinstance(module, str):
        module = importlib.import_module(module)
    missing = [attr for attr in REQUIRED if not hasattr(module, attr)]
    if missing or not any(hasattr(module, kind) for kind in KINDS):
        raise TypeError(f"Model module {module.__name__} lacks {missing or ['sample, predict or compress']}: "
                        "see vidgen_lib.models for the API every model follows.")
    return module
