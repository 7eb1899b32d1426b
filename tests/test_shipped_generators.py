"""The shipped GAN checkpoints: they load, sample clips of the training world, and their model cards
show where they stand among the baselines measured the same way (``metrics.generator_scores``)."""
import pytest
import torch

import vidgen_lib
from vidgen_lib import models
from vidgen_lib.checkpoints import read_card

GENERATORS = ["vgan", "vgan_one_stream", "mocogan"]


@pytest.mark.parametrize("name", GENERATORS)
def test_card_shows_the_generator_between_the_floor_and_the_shuffled_and_noise_baselines(name):
    metrics = read_card(vidgen_lib.CHECKPOINT_DIR / f"{name}.pt")["metrics"]
    assert metrics["eval_videos"] == 1024
    assert metrics["fvd_real"] < metrics["fvd"], metrics  # the floor at this N
    # Beats frames in a wrong order and noise on FVD (where it stands against a frozen real frame: notebooks 02, 03).
    assert metrics["fvd"] < min(metrics["fvd_shuffled"], metrics["fvd_noise"]), metrics
    # The motion-aware score: the samples move far more like real clips than a frozen frame or shuffled frames.
    assert metrics["fvd_motion"] < min(metrics["fvd_motion_static"], metrics["fvd_motion_shuffled"]) / 2, metrics
    assert metrics["fd_frames_real"] < metrics["fd_frames"] < metrics["fd_frames_noise"], metrics


@pytest.mark.parametrize("name", GENERATORS)
def test_card_records_how_it_was_made_and_the_snapshots_match(name):
    card = read_card(vidgen_lib.CHECKPOINT_DIR / f"{name}.pt")
    assert card["config"]["steps"] == card["steps"] and f"--steps {card['steps']}" in card["command"]
    assert card["hardware"]["device_name"] and card["wall_time_s"] > 0
    steps, clips = models.get(name).load_pretrained("cpu").snapshots.taken()
    assert len(steps) == 3 and steps == sorted(steps) and steps[-1] == card["steps"]  # blobs to digits, in order
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
