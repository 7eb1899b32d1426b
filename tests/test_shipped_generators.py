"""The shipped GAN checkpoints: they load, sample clips of the training world, and their model cards
show where they stand among the baselines measured the same way (``evaluation.generator_scores``)."""
import pytest
import torch

import vidgen_lib
from vidgen_lib import evaluation, models
from vidgen_lib.checkpoints import read_card

GENERATORS = ["vgan", "vgan_one_stream", "mocogan"]


@pytest.mark.parametrize("name", GENERATORS)
def test_card_shows_the_generator_between_the_floor_and_the_shuffled_and_noise_baselines(name):
    metrics = read_card(vidgen_lib.CHECKPOINT_DIR / f"{name}.pt")["metrics"]
    rows = evaluation.card_rows(metrics, name)  # {row: {score: value}}: the baselines, then the model
    model, real, static = rows[name], rows["real (other clips)"], rows["static"]
    shuffled, noise = rows["shuffled"], rows["noise"]
    assert metrics["eval_videos"] == 1024
    assert real["fvd"] < model["fvd"], metrics  # the floor at this N
    # Beats frames in a wrong order and noise on FVD (against a frozen real frame: notebooks 02, 03).
    assert model["fvd"] < min(shuffled["fvd"], noise["fvd"]), metrics
    # The motion-aware score: the samples move far more like real clips than frozen or shuffled frames.
    assert model["fvd_motion"] < min(static["fvd_motion"], shuffled["fvd_motion"]) / 2, metrics
    assert real["fd_frames"] < model["fd_frames"] < noise["fd_frames"], metrics


@pytest.mark.parametrize("name", GENERATORS)
def test_card_records_how_it_was_made_and_the_snapshots_match(name):
    card = read_card(vidgen_lib.CHECKPOINT_DIR / f"{name}.pt")
    assert card["config"]["steps"] == card["steps"] and f"--steps {card['steps']}" in card["command"]
    assert card["hardware"]["device_name"] and card["wall_time_s"] > 0
    steps, clips = models.get(name).load_pretrained("cpu").snapshots.taken()
    assert len(steps) == 3 and steps == sorted(steps)  # blobs to digits, in order
    assert steps[-1] == card["steps"]
    assert clips.shape[2:] == (1, 16, 32, 32)


@pytest.mark.parametrize("name", GENERATORS)
def test_shipped_generator_samples_clips_of_its_world(name):
    module = models.get(name)
    model = module.load_pretrained("cpu")
    first, again = module.sample(model, 32, seed=0), module.sample(model, 32, seed=0)
    assert first.shape == (32, 1, 16, 32, 32) and 0 <= first.min() and first.max() <= 1
    assert torch.equal(first, again)  # a seed gives the same clips
    assert first.amax(dim=(1, 2, 3, 4)).median() > 0.5  # most clips draw something bright: a digit
    assert first.mean() < 0.2  # on a dark background, as the real clips
