"""The leaderboard says exactly what the model cards say, for every shipped model."""
from __future__ import annotations

import csv

import pytest

import vidgen_lib
from vidgen_lib import cli, leaderboard, models
from vidgen_lib.checkpoints import read_card


def card(name: str) -> dict:
    return read_card(vidgen_lib.CHECKPOINT_DIR / f"{name}.pt")


def test_every_shipped_model_is_on_the_board_and_every_entry_is_a_model():
    assert set(leaderboard.ENTRIES) <= set(models.available())
    for entry in leaderboard.ENTRIES.values():  # a row is named by what it measures and against what
        pairs = [(score.label, score.baseline) for score in entry.scores]
        assert len(set(pairs)) == len(pairs), pairs
    assert set(leaderboard.shipped()) <= set(leaderboard.ENTRIES)
    names = list(dict.fromkeys(row["model"] for row in leaderboard.rows()))
    assert names == leaderboard.shipped() and len(names) >= 10


def test_the_command_writes_the_table_the_cards_hold(tmp_path, capsys):
    assert cli.main(["leaderboard", "--out", str(tmp_path), "--no-time"]) == 0
    with open(tmp_path / "leaderboard.csv", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    expected = sum(len(leaderboard.ENTRIES[name].scores) for name in leaderboard.shipped())
    assert len(table) == expected
    for row in table:
        entry, recorded = leaderboard.ENTRIES[row["model"]], card(row["model"])
        score = next(s for s in entry.scores if (s.label, s.baseline) == (row["score"], row["baseline"]))
        value, baseline = float(row["value"]), float(row["baseline_value"])
        assert value == recorded["metrics"][score.key] and baseline == recorded["metrics"][score.baseline_key]
        assert row["beats_baseline"] == ("yes" if (value < baseline if score.better == "lower"
                                                   else value > baseline) else "no")
        assert int(row["n"]) == recorded["config"]["eval_videos"] and int(row["steps"]) == recorded["steps"]
        assert float(row["train_minutes"]) == round(recorded["wall_time_s"] / 60, 1)
        assert row["hardware"] == leaderboard.hardware(recorded)
    markdown = (tmp_path / "leaderboard.md").read_text(encoding="utf-8").splitlines()
    assert len(markdown) == 2 + len(table) and markdown[0].startswith("| model | family |")
    assert markdown == capsys.readouterr().out.splitlines()[:len(markdown)]


def test_the_board_shows_the_vgan_card_row_by_row():
    metrics = card("vgan")["metrics"]
    rows = [r for r in leaderboard.rows(["vgan"])]
    assert [(r["score"], r["value"], r["baseline_value"]) for r in rows] == [
        ("FVD", metrics["fvd/vgan"], metrics["fvd/static"]),
        ("FVD of motion", metrics["fvd_motion/vgan"], metrics["fvd_motion/static"]),
        ("ACD", metrics["acd/vgan"], metrics["acd/real"])]


def test_relative_to_baseline_by_hand():
    assert leaderboard.relative_to_baseline(10.0, 20.0, "lower") == 2.0  # half the baseline's distance
    assert leaderboard.relative_to_baseline(0.5, 0.25, "higher") == 2.0  # twice the baseline's accuracy
    assert leaderboard.relative_to_baseline(30.0, 20.0, "lower") == pytest.approx(2 / 3)  # loses to it
    with pytest.raises(ValueError, match="lower' or 'higher"):
        leaderboard.relative_to_baseline(1.0, 1.0, "smaller")
    with pytest.raises(ValueError, match="positive baseline"):
        leaderboard.relative_to_baseline(0.9, 0.0, "higher")


def test_hardware_in_a_few_words():
    cpu = {"hardware": {"device": "cpu", "device_name": "x86_64", "cpu_threads": 1}}
    gpu = {"hardware": {"device": "cuda", "device_name": "NVIDIA H200", "cpu_threads": 16, "processes": 4}}
    assert leaderboard.hardware(cpu) == "CPU, 1 thread"
    assert leaderboard.hardware(gpu) == "NVIDIA H200, 4 processes"


def test_a_model_the_board_does_not_know_is_named():
    with pytest.raises(KeyError, match="no entry for model 'newcomer'"):
        leaderboard.rows(["newcomer"])


def test_sampling_seconds_per_clip_are_measured():
    assert 0 < leaderboard.sampling_seconds("mocogan", clips=2, repeats=1) < 5
    assert 0 < leaderboard.sampling_seconds("codec", clips=2, repeats=1) < 5  # compress and decompress
