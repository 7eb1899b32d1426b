"""Sounding balls (chapter 12): the pitch follows the height and the pan follows x in every frame's column,
the waveform never jumps, clicks sound where the ball turns, items are pure functions of (seed, split,
index), and the shuffled-audio control is a derangement."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vidgen_lib.datasets import SoundingBalls
from vidgen_lib.datasets import sounds
from vidgen_lib.datasets.balls import render_balls

BOX = 10.0
EDGES = np.geomspace(sounds.BAND_LOW, sounds.BAND_HIGH, sounds.BANDS + 1)  # the feature bands, by hand


@pytest.fixture(scope="module")
def clips() -> list[dict[str, torch.Tensor]]:
    data = SoundingBalls("train", num_videos=8)
    return [data[i] for i in range(8)]


def test_an_item_has_the_promised_shapes_ranges_and_video(clips):
    clip, t = clips[0], 16
    assert clip["video"].shape == (1, t, 32, 32) and clip["positions"].shape == (t, 2)
    assert clip["audio"].shape == (2, t * sounds.SAMPLES_PER_FRAME) == (2, 16_000)
    assert clip["audio_features"].shape == (t, 2 * sounds.BANDS) == (t, 64)
    assert all(v.dtype == torch.float32 for v in clip.values())
    for c in clips:
        assert 0 <= c["video"].min() and c["video"].max() <= 1 and c["audio"].abs().max() <= 1
        assert 0 <= c["audio_features"].min() and c["audio_features"].max() <= 1
        ball = render_balls(c["positions"].double().numpy()[:, None], 1.2, BOX, 32)  # BouncingBalls' renderer
        np.testing.assert_allclose(c["video"][0].numpy(), ball, atol=1e-5)  # positions stored as float32


def test_items_are_a_pure_function_of_seed_split_and_index(clips):
    again = SoundingBalls("train", num_videos=8)[3]
    assert all(torch.equal(again[k], clips[3][k]) for k in clips[3])
    for other in (SoundingBalls("train", num_videos=8)[4], SoundingBalls("test", num_videos=8)[3],
                  SoundingBalls("train", num_videos=8, seed=1)[3]):
        assert not torch.equal(other["audio"], clips[3]["audio"])


def test_the_peak_band_of_column_t_follows_the_balls_height_at_frame_t(clips):
    for clip in clips:
        height = 1 - clip["positions"][:, 0].double().numpy() / BOX  # 0 at the bottom, 1 at the top
        expected = np.digitize(sounds.pitch(height), EDGES) - 1  # the band of frame t's pitch
        left, right = clip["audio_features"][:, :sounds.BANDS], clip["audio_features"][:, sounds.BANDS:]
        peak = left.argmax(dim=1).numpy()
        assert np.all(np.abs(peak - expected) <= 1)  # the right band, or its neighbour at a band's edge
        assert np.array_equal(peak, right.argmax(dim=1).numpy())  # both ears hear the same pitch
        by_height = peak[np.argsort(height)]
        assert np.all(np.diff(by_height) >= 0)  # higher ball, higher band, over every pair of frames
    assert sounds.pitch(np.array([0.0, 0.5, 1.0])) == pytest.approx([220, 440, 880])  # two octaves


def test_the_left_right_balance_of_every_frame_is_the_constant_power_pan_of_x(clips):
    n = sounds.SAMPLES_PER_FRAME
    for clip in clips:
        theta = np.pi / 2 * clip["positions"][:, 1].double().numpy() / BOX
        energy = clip["audio"].double().numpy().reshape(2, -1, n) ** 2
        left, right = energy.sum(axis=2)  # (T,) each
        np.testing.assert_allclose(right / left, np.tan(theta) ** 2, rtol=1e-5)  # (sin / cos)^2
        features = clip["audio_features"].double().numpy()
        peak = features[:, :sounds.BANDS].argmax(axis=1)
        rows = np.arange(len(peak))
        level = features[rows, sounds.BANDS + peak] - features[rows, peak]  # right minus left, feature units
        np.testing.assert_allclose(level, 20 * np.log10(np.tan(theta)) / -sounds.FLOOR_DB, atol=1e-4)


def test_the_waveform_is_continuous_across_frames():
    t = 16
    positions = np.stack([np.linspace(1.5, 8.5, t), np.full(t, 5.0)], axis=1)  # rising pitch, centred pan
    audio = sounds.synthesise_audio(positions, BOX).astype(np.float64)
    gain = sounds.TONE * np.cos(np.pi / 4)
    bound = gain * 2 * np.pi * sounds.pitch(1 - 1.5 / BOX) / sounds.SAMPLE_RATE  # |d sin| <= phase step
    assert np.abs(np.diff(audio, axis=1)).max() <= bound * (1 + 1e-6)
    # The same tone with the phase restarted in every frame jumps at the frame boundaries.
    n = np.arange(sounds.SAMPLES_PER_FRAME) / sounds.SAMPLE_RATE
    pitches = sounds.pitch(1 - positions[:, 0] / BOX)
    restarted = gain * np.concatenate([np.sin(2 * np.pi * f * n) for f in pitches])
    assert np.abs(np.diff(restarted)).max() > 1.5 * bound


def test_a_click_sounds_in_the_frames_where_the_ball_hits_a_wall():
    t = 8
    positions = np.stack([np.full(t, 5.0), np.full(t, 5.0)], axis=1)
    bounces = np.zeros(t, dtype=bool)
    bounces[[2, 5]] = True
    features = sounds.audio_features(sounds.synthesise_audio(positions, BOX, bounces))
    quiet = sounds.audio_features(sounds.synthesise_audio(positions, BOX))
    high = EDGES[:-1] > 2 * sounds.F_HIGH  # bands above the tone's range
    loud = features[:, :sounds.BANDS][:, high].max(axis=1)
    assert np.all(loud[bounces] > 0.3) and np.all(loud[~bounces] < 0.05)
    assert quiet[:, :sounds.BANDS][:, high].max() < 0.05  # no bounces, no clicks
    with pytest.raises(ValueError, match="bounces"):
        sounds.synthesise_audio(positions, BOX, bounces[:-1])


def test_silence_has_the_features_of_a_silent_track_and_bad_audio_is_named():
    silent = sounds.audio_features(np.zeros((2, 3 * sounds.SAMPLES_PER_FRAME)))
    assert silent.shape == (3, 64)
    assert torch.equal(sounds.silence_like(torch.from_numpy(silent + 0.5)), torch.from_numpy(silent))
    for bad in (np.zeros(1000), np.zeros((1, 1000)), np.zeros((2, 1500))):
        with pytest.raises(ValueError, match="stereo waveform"):
            sounds.audio_features(bad)
    with pytest.raises(ValueError, match="positions"):
        sounds.synthesise_audio(np.zeros((4, 3)), BOX)


@pytest.mark.parametrize("b", [2, 3, 5, 8])
def test_shuffled_audio_is_a_derangement_of_the_batch(b):
    features = torch.arange(b, dtype=torch.float32)[:, None, None].expand(b, 4, 6)  # clip i's audio is all i
    generator = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(200):
        source = sounds.shuffled_audio(features, generator)[:, 0, 0].long()
        assert sorted(source.tolist()) == list(range(b))  # every clip's audio is used once
        assert torch.all(source != torch.arange(b))  # and none stays with its own clip
        seen.add(tuple(source.tolist()))
    assert len(seen) > 1 or b == 2  # random: more than one derangement comes up
    first = sounds.shuffled_audio(features, torch.Generator().manual_seed(7))
    assert torch.equal(first, sounds.shuffled_audio(features, torch.Generator().manual_seed(7)))


def test_shuffled_audio_refuses_a_batch_of_one():
    with pytest.raises(ValueError, match="at least 2"):
        sounds.shuffled_audio(torch.zeros(1, 16, 64))
