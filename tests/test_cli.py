import dataclasses
import json
import subprocess
import sys

import pytest
import torch
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
    import torch

    assert f"torch build    {'CUDA' if torch.version.cuda else 'CPU'}" in result.stdout


def test_doctor_warns_about_a_cuda_build_without_a_gpu(monkeypatch, capsys):
    import torch

    monkeypatch.setattr(torch.version, "cuda", "12.4")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert cli.doctor() == 0
    out = capsys.readouterr().out
    assert "torch build    CUDA 12.4" in out
    assert "warning: a CUDA build of PyTorch on a machine without a usable GPU" in out


def test_train_writes_a_checkpoint_and_card_that_sample_uses(tiny_model_module, tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # else the command records it
    assert cli.main(["train", "tiny", "--steps", "4", "--out", str(tmp_path)]) == 0
    card = json.loads((tmp_path / "tiny.json").read_text())
    assert card["command"] == f"python -m vidgen_lib train tiny --steps 4 --out {tmp_path}"
    assert card["steps"] == 4 and card["config"]["frame_size"] == 8 and "final/loss" in card["metrics"]
    assert card["config"]["steps"] == 4  # the config that made the file: the steps it ran, not the preset's
    expected = dataclasses.replace(tiny_model_module.Config.preset("tutorial"), steps=4)
    state, _ = load_checkpoint(tmp_path / "tiny.pt", expected_config=expected)
    assert state["logits"].dtype == torch.float16 and "float16" in card["notes"]  # half the file
    model = tiny_model_module.load_pretrained()
    assert model.logits.dtype == torch.float32 and torch.equal(model.logits, state["logits"].float())

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
    with pytest.raises(cli.UsageError, match="KEY=VALUE with KEY one of .*batch_size"):
        cli.with_overrides(config, ["batchsize=64"])
    with pytest.raises(cli.UsageError, match="loss must be"):  # the config's own checks still run
        cli.with_overrides(config, ["loss=wasserstein"])


def test_minutes_stops_training_and_the_card_records_the_steps_done(tiny_model_module, tmp_path):
    assert cli.main(["train", "tiny", "--steps", "1000", "--minutes", "1e-9", "--out", str(tmp_path)]) == 0
    card = json.loads((tmp_path / "tiny.json").read_text())
    assert card["steps"] == 1 and card["config"]["steps"] == 1  # out of time after the first step


def one_line_error(capsys, argv: list[str], message: str) -> None:
    """``argv`` is a user's mistake: exit status 2 and one line on stderr that contains ``message``."""
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    assert "Traceback" not in err


def test_every_command_line_mistake_is_one_line_and_exit_status_2(tiny_model_module, tmp_path, capsys):
    one_line_error(capsys, ["train", "nonexistent"], "Unknown model 'nonexistent'. Registered models:")
    one_line_error(capsys, ["sample", "vgan", "--n", "0"], "--n must be positive, got 0")
    one_line_error(capsys, ["sample", "vgan", "--n", "-3"], "--n must be positive, got -3")
    one_line_error(capsys, ["train", "tiny", "--steps", "0", "--out", str(tmp_path)],
                   "--steps must be positive")
    one_line_error(capsys, ["sample", "tdvae"], "tdvae is a prediction model")
    one_line_error(capsys, ["predict", "codec"], "codec is a codec")
    one_line_error(capsys, ["sample", "tiny", "--out", str(tmp_path / "s.gif")],
                   "python -m vidgen_lib train tiny")
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    one_line_error(capsys, ["train", "tiny", "--out", str(a_file)], "is a file, not a folder")
    one_line_error(capsys, ["sample", "tiny", "--out", str(a_file / "s.gif")], "is a file, not a folder")
    one_line_error(capsys, ["execute", str(tmp_path / "nope.ipynb")], "no such notebook")
    one_line_error(capsys, ["train", "tiny", "--set", "nope=1", "--out", str(tmp_path)], "expected KEY=VALUE")
    # A checkpoint changed after it was written: its sha256 no longer matches the card.
    assert cli.main(["train", "tiny", "--steps", "2", "--out", str(tmp_path)]) == 0
    with open(tmp_path / "tiny.pt", "ab") as f:
        f.write(b"tampered")
    capsys.readouterr()
    one_line_error(capsys, ["sample", "tiny", "--out", str(tmp_path / "s.gif")],
                   "does not match its model card")


def test_debug_shows_the_traceback(tiny_model_module):
    with pytest.raises(cli.UsageError, match="Unknown model"):
        cli.main(["train", "nonexistent", "--debug"])
    result = subprocess.run([sys.executable, "-m", "vidgen_lib", "sample", "vgan", "--n", "0"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.strip().startswith("error: --n must be positive")


PREDICTORS = [name for name in models.available() if hasattr(models.get(name), "predict")]


@pytest.mark.parametrize("name", PREDICTORS)
def test_predict_writes_truth_and_continuation_for_every_predictor(name, tmp_path, capsys):
    out = tmp_path / f"{name}.gif"
    assert cli.main(["predict", name, "--n", "2", "--out", str(out)]) == 0
    module = models.get(name)
    context, future, _ = module.prediction_task(module.load_pretrained("cpu"), 1)
    with Image.open(out) as gif:
        assert gif.n_frames == context.shape[2] + future.shape[2]  # the context, then the continuation
    assert f"2 held-out clips, {context.shape[2]} context frames" in capsys.readouterr().out


def test_predict_png_grid_and_mistakes(tmp_path, capsys):
    assert cli.main(["predict", "tdvae", "--n", "1", "--out", str(tmp_path / "grid.png")]) == 0
    with Image.open(tmp_path / "grid.png") as png:
        assert png.size[0] > png.size[1]  # one row per clip, time along the width
    capsys.readouterr()
    one_line_error(capsys, ["predict", "vgan"], "vgan is a generator")
    one_line_error(capsys, ["predict", "tdvae", "--n", "0"], "--n must be positive")
    one_line_error(capsys, ["sample", "dvg"], "python -m vidgen_lib predict dvg")


def test_bench_peer_configs_builds_each_model_at_the_public_configuration(monkeypatch):
    from vidgen_lib import bench

    timed = []
    monkeypatch.setattr(bench, "median_step", lambda fn: timed.append(fn) or 0.5)  # build, never run a step
    calls = []
    real_run_peers = bench.run_peers
    monkeypatch.setattr(bench, "run_peers", lambda names: calls.append(names) or real_run_peers(names))
    assert cli.main(["bench", "--peer-configs", "tdvae", "mocogan"]) == 0
    assert calls == [["tdvae", "mocogan"]] and len(timed) == 2
    rows = real_run_peers(["vgan"])
    assert rows[0]["speedup"] == bench.PEERS["vgan"][2] / 0.5
