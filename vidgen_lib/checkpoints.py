"""Checkpoints with model cards: state dicts saved atomically, verified by sha256 on load.

A shipped checkpoint is two files in ``data/checkpoints/``:

- ``<name>.pt``: the model's ``state_dict`` only (tensors; loaded with ``weights_only=True``, so a
  file can never run code on your machine);
- ``<name>.json``: its model card: the config, the exact command that trained it, steps, wall time,
  hardware, metrics and the sha256 of the ``.pt`` file.

Loading checks the sha256 and the config and says what to do when either does not match.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import os
import pickle
import platform
import tempfile
from pathlib import Path
from typing import Any

import torch

import vidgen_lib
from vidgen_lib.runtime import world


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt, unsafe or does not match the model it is loaded into."""


def sha256_of(path: str | Path) -> str:
    """The hex sha256 digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` to a temporary file in the same folder, then rename: never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes the file private; a checkpoint is for everyone to read
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _atomic_write_text(text: str, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def safe_torch_load(path: str | Path, map_location: str | torch.device | None = "cpu") -> Any:
    """``torch.load`` with ``weights_only=True``: tensors and plain containers only, never pickled code."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"{path} holds more than tensors (pickled Python objects), so it was refused for safety. "
            "Only load checkpoints saved by vidgen_lib (state dicts); retrain it with its command."
        ) from err
    except (RuntimeError, EOFError) as err:
        raise CheckpointError(f"{path} is not a readable PyTorch checkpoint ({err}). "
                              "The file is truncated or corrupt: regenerate it with its command.") from err


def config_dict(config: Any) -> dict:
    """A config (dataclass or dict) as a plain, JSON-ready dict."""
    if dataclasses.is_dataclass(config):
        config = dataclasses.asdict(config)
    return json.loads(json.dumps(config))  # tuples -> lists, as in the card


def hardware() -> dict:
    """What the run used: device, CPU threads, versions, and the number of processes when ``torchrun``
    started several (recorded in every model card)."""
    dev = vidgen_lib.device()
    processes = world()[1]
    return {
        "device": str(dev),
        "device_name": (torch.cuda.get_device_name(dev) if dev.type == "cuda"
                        else platform.processor() or "cpu"),
        "cpu_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        **({"processes": processes} if processes > 1 else {}),
    }


def half_precision(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict with every float32 tensor stored as float16 (half the file); other tensors unchanged.

    ``load_state_dict`` casts them back to the model's float32, so a model that loads them computes
    with the rounded weights: measure it after loading them (as ``python -m vidgen_lib train`` does).
    """
    return {k: v.half() if v.dtype == torch.float32 else v for k, v in state_dict.items()}


def card_path(weights_path: str | Path) -> Path:
    return Path(weights_path).with_suffix(".json")


def save_checkpoint(
    state_dict: dict[str, torch.Tensor],
    path: str | Path,
    *,
    config: Any,
    command: str,
    steps: int,
    wall_time_s: float,
    metrics: dict[str, float] | None = None,
    notes: str = "",
) -> dict:
    """Save a state dict to ``path`` (``.pt``) and its model card beside it (``.json``).

    Returns the card. Both files are written atomically; the card records the file's sha256.
    """
    path = Path(path)
    atomic_torch_save(state_dict, path)
    card = {
        "name": path.stem,
        "config": config_dict(config),
        "command": command,
        "steps": int(steps),
        "wall_time_s": round(float(wall_time_s), 1),
        "hardware": hardware(),
        "metrics": {k: float(v) for k, v in (metrics or {}).items()},
        "notes": notes,
        "created": _dt.date.today().isoformat(),
        "vidgen_lib": vidgen_lib.__version__,
        "sha256": sha256_of(path),
    }
    _atomic_write_text(json.dumps(card, indent=2) + "\n", card_path(path))
    return card


def read_card(path: str | Path) -> dict:
    """The model card (``.json``) of a checkpoint, with a clear error if it is missing or invalid."""
    card_file = card_path(path)
    if not card_file.exists():
        raise CheckpointError(f"No model card {card_file.name} beside {Path(path).name}: "
                              "a checkpoint without its card cannot be verified.")
    try:
        return json.loads(card_file.read_text(encoding="utf-8"))
    except ValueError as err:
        raise CheckpointError(f"The model card {card_file} is not valid JSON ({err}).") from err


def load_checkpoint(
    path: str | Path,
    *,
    expected_config: Any = None,
    map_location: str | torch.device | None = "cpu",
) -> tuple[dict[str, torch.Tensor], dict]:
    """Load ``(state_dict, card)`` after checking the file against its card.

    Raises:
        FileNotFoundError: no such checkpoint (the message says how to train one).
        CheckpointError: sha256 mismatch (corrupt or edited file), unsafe payload, or a config
            that differs from ``expected_config`` (the message lists the differing keys).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"Checkpoint {path} not found. Train it with `python -m vidgen_lib train {path.stem}` "
            f"(it writes {path.name} and its model card), or check the path."
        )
    card = read_card(path)
    actual = sha256_of(path)
    if card.get("sha256") != actual:
        raise CheckpointError(
            f"{path.name} does not match its model card (sha256 {actual[:12]}… vs recorded "
            f"{str(card.get('sha256'))[:12]}…): the file is corrupt or was changed. "
            f"Regenerate it with: {card.get('command', 'its training command')}"
        )
    if expected_config is not None:
        expected, recorded = config_dict(expected_config), card.get("config", {})
        differing = sorted(k for k in set(expected) | set(recorded) if expected.get(k) != recorded.get(k))
        if differing:
            details = ", ".join(f"{k}: checkpoint {recorded.get(k)!r} vs model {expected.get(k)!r}"
                                for k in differing)
            raise CheckpointError(
                f"{path.name} was trained with a different config ({details}). Build the model from the "
                "checkpoint's config (its card's 'config'), or retrain with the config you want."
            )
    state = safe_torch_load(path, map_location=map_location)
    if not isinstance(state, dict):
        raise CheckpointError(f"{path.name} should hold a state dict, found {type(state).__name__}.")
    return state, card


def load_model(name: str, config_cls: Any, build: Any, device: torch.device | str | None = None,
               path: str | Path | None = None) -> torch.nn.Module:
    """A shipped model: ``data/checkpoints/<name>.pt`` (or ``path``), verified against its card,
    built from the card's config as ``build(config_cls(**config))``, on ``device``, in eval mode.

    Raises:
        FileNotFoundError: no such checkpoint (the message gives the command that trains it).
        CheckpointError: the file does not match its model card.
    """
    path = Path(path) if path is not None else vidgen_lib.CHECKPOINT_DIR / f"{name}.pt"
    if not path.exists():  # named after the model, not the file: a custom path may have any name
        raise FileNotFoundError(f"No {name} checkpoint at {path}. "
                                f"Train it with `python -m vidgen_lib train {name}` "
                                f"(it writes data/checkpoints/{name}.pt and its model card).")
    state, card = load_checkpoint(path, map_location="cpu")
    model = build(config_cls(**card["config"]))
    model.load_state_dict(state)
    return model.to(device or vidgen_lib.device()).eval()
