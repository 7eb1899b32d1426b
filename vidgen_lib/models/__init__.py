"""The model registry: every model of the course behind one small, uniform surface.

Each module ``vidgen_lib.models.<name>`` exposes:

- ``Config``: a dataclass with ``Config.preset("tutorial" | "full")`` and a default ``steps``;
- the model class (an ``nn.Module`` built from a ``Config``) and ``build(config) -> nn.Module``;
- ``train(config, steps, *, run_dir, seed=0, progress=True) -> (model, metrics)``: the project's own
  training recipe, used by ``python -m vidgen_lib train NAME`` (the card's wall time is the training
  time summed over resumed runs, read from ``OUT/runs/NAME/train_state.pt``);
- ``load_pretrained(device=None)``: the shipped checkpoint in ``data/checkpoints/<name>.pt``;
- generators: ``sample(model, n, *, seed=None, **condition) -> (n, C, T, H, W)`` in [0, 1];
  predictors: ``predict(model, context, horizon, **condition) -> (B, C, horizon, H, W)`` and
  ``prediction_task(model, n) -> (context, future, condition)``, n held-out clips of the model's world.

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
}

REQUIRED = ("Config", "build", "train", "load_pretrained")


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
    if missing or not (hasattr(module, "sample") or hasattr(module, "predict")):
        raise TypeError(f"Model module {module.__name__} lacks {missing or ['sample or predict']}: "
                        "see vidgen_lib.models for the API every model follows.")
    return module
