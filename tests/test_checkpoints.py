import json

import pytest
import torch

import vidgen_lib
from vidgen_lib.checkpoints import CheckpointError, load_checkpoint, save_checkpoint, sha256_of


def _save(tmp_path, config=None):
    state = {"w": torch.arange(6.0).reshape(2, 3), "b": torch.ones(3)}
    path = tmp_path / "toy.pt"
    card = save_checkpoint(state, path, config=config or {"width": 3},
                           command="python -m vidgen_lib train toy", steps=10, wall_time_s=1.25,
                           metrics={"fvd": 12.5})
    return state, path, card


def test_round_trip_restores_tensors_and_card(tmp_path):
    state, path, card = _save(tmp_path)
    loaded, loaded_card = load_checkpoint(path, expected_config={"width": 3})
    assert set(loaded) == {"w", "b"}
    assert torch.equal(loaded["w"], state["w"]) and torch.equal(loaded["b"], state["b"])
    assert loaded_card == card
    for key in ("config", "command", "steps", "wall_time_s", "hardware", "metrics", "sha256"):
        assert key in card
    assert card["sha256"] == sha256_of(path) and card["metrics"] == {"fvd": 12.5}


def test_sha256_mismatch_is_refused_with_the_command_to_regenerate(tmp_path):
    _, path, _ = _save(tmp_path)
    path.write_bytes(path.read_bytes() + b"tampered")
    with pytest.raises(CheckpointError, match="does not match its model card.*train toy"):
        load_checkpoint(path)


def test_config_mismatch_names_the_differing_key(tmp_path):
    _, path, _ = _save(tmp_path)
    with pytest.raises(CheckpointError, match="width: checkpoint 3 vs model 4"):
        load_checkpoint(path, expected_config={"width": 4})


def test_missing_checkpoint_says_how_to_train_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m vidgen_lib train nothing"):
        load_checkpoint(tmp_path / "nothing.pt")


def test_missing_card_is_an_error(tmp_path):
    _, path, _ = _save(tmp_path)
    path.with_suffix(".json").unlink()
    with pytest.raises(CheckpointError, match="No model card"):
        load_checkpoint(path)


class Payload:
    """Anything that is not a tensor would need unpickling arbitrary code."""


def test_pickled_payload_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"w": torch.zeros(1), "obj": Payload()}, path)
    path.with_suffix(".json").write_text(json.dumps({"sha256": sha256_of(path), "config": {}}))
    with pytest.raises(CheckpointError, match="refused for safety"):
        load_checkpoint(path)


def test_truncated_file_is_reported_as_corrupt(tmp_path):
    path = tmp_path / "cut.pt"
    torch.save({"w": torch.zeros(100)}, path)
    path.write_bytes(path.read_bytes()[:50])
    path.with_suffix(".json").write_text(json.dumps({"sha256": sha256_of(path), "config": {}}))
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(path)


def test_save_leaves_no_temporary_files(tmp_path):
    _save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy.json", "toy.pt"]


def strict_json(text: str):
    """json.loads that rejects NaN and ±Infinity, which strict parsers (and the JSON standard) do not
    allow."""
    def reject(constant: str):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(text, parse_constant=reject)


CARDS = sorted(path for path in (vidgen_lib.DATA_DIR / "checkpoints").rglob("*.json")
               if "runs" not in path.parts)  # data/checkpoints/codec_curve/ holds cards too


@pytest.mark.parametrize("path", CARDS, ids=lambda p: str(p.relative_to(vidgen_lib.DATA_DIR / "checkpoints")))
def test_every_shipped_card_is_strict_json_with_the_card_keys(path):
    card = strict_json(path.read_text(encoding="utf-8"))
    required = {"name", "config", "command", "steps", "wall_time_s", "hardware", "metrics", "notes",
                "created", "sha256"}
    assert required <= set(card), required - set(card)
    assert card["name"] == path.stem and (path.parent / f"{path.stem}.pt").exists()
    assert all(isinstance(v, (int, float)) for v in card["metrics"].values())


def test_shipped_results_are_strict_json():
    for path in (vidgen_lib.DATA_DIR / "results").glob("*.json"):
        strict_json(path.read_text(encoding="utf-8"))
