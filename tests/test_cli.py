import dataclasses
import json
import subprocess
import sys

import pytest
from PIL import Image

from vidgen_lib import cli, models
from vidgen_lib.checkpoints import load_checkpoint


def test_doctor_reports_versions_device_and_data():
    result = subprocess.run([sys.executable, "-m", "vidgen_lib", "doctor"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    for field in ("vidgen_lib", "torch", "device", "profile", "digit sprites", "checkpoints"):
        assert field in result.stdout
    assert "MISSING" not in result.stdout and "PROBLEM" not in result.stdout


def test_train_writes_a_checkpoint_and_card_that_sample_uses(tiny_model_module, tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # else the command records it
    assert cli.main(["train", "tiny", "--steps", "4", "--out", str(tmp_path)]) == 0
    card = json.loads((tmp_path / "tiny.json").read_text())
    assert card["command"] == f"python -m vidgen_lib train tiny --steps 4 --out {tmp_path}"
    assert card["steps"] == 4 and card["config"]["frame_size"] == 8 and "final_loss" in card["metrics"]
    assert card["config"]["steps"] == 4  # the config that made the file: the steps it ran, not the preset's
    expected = dataclasses.replace(tiny_model_module.Config.preset("tutorial"), steps=4)
    load_checkpoint(tmp_path / "tiny.pt", expected_config=expected)

    gif = tmp_path / "samples.gif"
    assert cli.main(["sample", "tiny", "--n", "3", "--out", str(gif)]) == 0
    with Image.open(gif) as image:
        assert image.n_frames == 4  # the tiny model's num_frames


def test_train_full_profile_uses_the_full_preset(tiny_model_module, tmp_path):
    cli.main(["train", "tiny", "--profile", "full", "--out", str(tmp_path)])
    card = json.loads((tmp_path / "tiny.json").read_text())
    assert card["config"]["frame_size"] == 16 and card["steps"] == 10


def test_unknown_model_lists_the_registered_ones(tiny_model_module):
    with pytest.raises(KeyError, match="Unknown model 'nope'.*tiny"):
        models.get("nope")


def test_a_module_missing_the_api_is_rejected():
    import types

    models.register("broken", types.ModuleType("broken"))
    try:
        with pytest.raises(TypeError, match="lacks"):
            models.get("broken")
    finally:
        models._REGISTRY.pop("broken")


def test_set_changes_config_fields_and_rejects_unknown_ones(tiny_model_module, tmp_path):
    assert cli.main(["train", "tiny", "--steps", "2", "--set", "steps=7", "--out", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "tiny.json").read_text())["steps"] == 2  # --steps wins over the config
    config = cli.with_overrides(models.get("vgan").Config(), ["batch_size=64", "augment=", "loss=bce"])
    assert (config.batch_size, config.augment, config.loss) == (64, "", "bce")  # JSON where it parses
    with pytest.raises(SystemExit, match="KEY=VALUE with KEY one of .*batch_size"):
        cli.with_overrides(config, ["batchsize=64"])
    with pytest.raises(ValueError, match="loss must be"):  # the config's own checks still run
        cli.with_overrides(config, ["loss=wasserstein"])


def test_minutes_needs_a_model_with_a_time_limit(tiny_model_module, tmp_path):
    with pytest.raises(SystemExit, match="no time limit"):
        cli.main(["train", "tiny", "--minutes", "1", "--out", str(tmp_path)])
