"""Sounding balls: one bouncing ball that you can also hear, for sound-driven video (chapter 12).

The ball lives in ``BouncingBalls``' world (same simulator, same renderer). Its sound is synthesised
with numpy, one stretch of ``SAMPLES_PER_FRAME`` samples per frame:

- a sine tone whose **pitch follows the ball's height**: from ``F_LOW`` (220 Hz) at the bottom of the
  box to ``F_HIGH`` (880 Hz) at the top, two octaves on a log scale. The pitch is held for each frame
  and the phase is integrated across frames, so the waveform never jumps;
- a **stereo pan that follows x**: constant-power panning, left gain cos(theta), right sin(theta) with
  theta = pi/2 * x / box_size (x = 0: left ear only; x = box_size: right ear only);
- a short **click** (a decaying ``F_CLICK`` burst, above the tone's range) when the ball hits a wall
  between frames t and t + 1: it sounds in the middle of frame t's samples.

``audio_features`` turns a waveform into one spectrogram column per frame and channel: the window and
the hop are both ``SAMPLES_PER_FRAME``, so column t hears exactly frame t's samples. Band powers are
pooled into ``BANDS`` log-spaced bands per channel and mapped from decibels to [0, 1] (0: silence).
Sound2Sight (Cherian, Chatterjee & Ahuja, ECCV 2020) also feeds its model a spectrogram per frame.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from einops import rearrange
from scipy import signal
from torch import Tensor

from vidgen_lib.datasets.balls import BouncingBalls, render_balls, simulate_balls

SAMPLE_RATE = 8_000  # Hz
FPS = 8  # video frames per second
SAMPLES_PER_FRAME = SAMPLE_RATE // FPS  # 1,000: frame t owns samples [1000 t, 1000 (t + 1))
F_LOW, F_HIGH = 220.0, 880.0  # pitch at the bottom and at the top of the box (Hz)
F_CLICK = 2_640.0  # the bounce click's frequency (Hz), three times F_HIGH
TONE, CLICK = 0.8, 0.2  # peak amplitudes: their sum keeps the waveform in [-1, 1]
CLICK_DECAY_S = 0.005  # the click's amplitude falls by e every 5 ms
BANDS = 32  # feature bands per channel: F = 2 * BANDS features per frame
BAND_LOW, BAND_HIGH = F_LOW / 2**0.5, 4 * F_HIGH  # the bands span 156 Hz .. 3.5 kHz, log-spaced
NFFT = 4 * SAMPLES_PER_FRAME  # zero-padded FFT: 2 Hz bins, so even the narrowest band holds several
FLOOR_DB = -80.0  # the quietest level the features tell apart from silence (feature 0)


def pitch(height: np.ndarray) -> np.ndarray:
    """Tone frequency (Hz) for a height in [0, 1] (0: bottom, 1: top): F_LOW * (F_HIGH / F_LOW) ** height."""
    return F_LOW * (F_HIGH / F_LOW) ** height


def synthesise_audio(positions: np.ndarray, box_size: float, bounces: np.ndarray | None = None) -> np.ndarray:
    """The stereo sound of a ball: a tone panned by x whose pitch follows the height, and bounce clicks.

    Args:
        positions: (T, 2) ball centres (y, x) in world units, y pointing down (row 0 is the top).
        box_size: side of the box in world units.
        bounces: (T,) bool, True where the ball hits a wall between frame t and t + 1 (a click sounds in
            the middle of frame t's samples); None: no clicks.
    Returns:
        (2, T * SAMPLES_PER_FRAME) float32 in [-1, 1]: the left and the right channel.
    """
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 2 or positions.shape[1] != 2:
        raise ValueError(f"positions must be (T, 2) ball centres (y, x), got shape {positions.shape}.")
    t = len(positions)
    height = 1 - positions[:, 0] / box_size  # 0 at the bottom of the box, 1 at the top
    freq = np.repeat(pitch(height), SAMPLES_PER_FRAME)  # (N,): each frame's pitch, held for its samples
    phase = 2 * np.pi * np.cumsum(freq) / SAMPLE_RATE  # integrated, so the phase runs on across frames
    theta = np.repeat(np.pi / 2 * positions[:, 1] / box_size, SAMPLES_PER_FRAME)
    mono = TONE * np.sin(phase)
    if bounces is not None:
        if np.shape(bounces) != (t,):
            raise ValueError(f"bounces must be (T,) = ({t},) flags, one per frame; got {np.shape(bounces)}.")
        n = np.arange(SAMPLES_PER_FRAME // 2) / SAMPLE_RATE
        burst = CLICK * np.sin(2 * np.pi * F_CLICK * n) * np.exp(-n / CLICK_DECAY_S)
        click = np.r_[np.zeros(SAMPLES_PER_FRAME - len(burst)), burst]  # one frame, silent until its middle
        mono = mono + np.concatenate([click if b else np.zeros_like(click) for b in bounces])
    return np.stack([np.cos(theta) * mono, np.sin(theta) * mono]).astype(np.float32)  # constant-power pan


def _band_matrix() -> np.ndarray:
    """(NFFT // 2 + 1, BANDS): averages the FFT bins of each log-spaced band."""
    freqs = np.fft.rfftfreq(NFFT, 1 / SAMPLE_RATE)
    edges = np.geomspace(BAND_LOW, BAND_HIGH, BANDS + 1)
    band = np.digitize(freqs, edges) - 1  # the band of each bin; -1 or BANDS: outside all bands
    matrix = (band[:, None] == np.arange(BANDS)).astype(np.float64)
    return matrix / matrix.sum(axis=0)


_BANDS = _band_matrix()


def audio_features(audio: np.ndarray) -> np.ndarray:
    """One pooled log-spectrogram column per frame and channel.

    A Hann window of ``SAMPLES_PER_FRAME`` samples with the same hop: column t is the spectrum of frame
    t's samples and nothing else. Each band's mean power, in decibels of a full-scale sine's peak, is
    mapped from [FLOOR_DB, 0] to [0, 1]: 0 is silence (or anything quieter than FLOOR_DB).

    Args:
        audio: (2, T * SAMPLES_PER_FRAME) stereo waveform in [-1, 1].
    Returns:
        (T, 2 * BANDS) float32 in [0, 1]: the left channel's bands (low to high), then the right channel's.
    """
    audio = np.asarray(audio, dtype=np.float64)
    if audio.ndim != 2 or audio.shape[0] != 2 or audio.shape[1] % SAMPLES_PER_FRAME or not audio.shape[1]:
        raise ValueError(f"audio must be a stereo waveform (2, T * {SAMPLES_PER_FRAME}), got shape "
                         f"{audio.shape}.")
    _, _, spec = signal.spectrogram(audio, SAMPLE_RATE, window="hann", nperseg=SAMPLES_PER_FRAME,
                                    noverlap=0, nfft=NFFT, detrend=False, scaling="spectrum")  # (2, bins, T)
    power = rearrange(spec, "c f t -> t c f") @ _BANDS * 2  # (T, 2, BANDS); x2: a unit sine peaks at 1
    db = 10 * np.log10(np.maximum(power, 10 ** (FLOOR_DB / 10)))
    return rearrange(1 - db / FLOOR_DB, "t c b -> t (c b)").astype(np.float32)


def silence_like(features: Tensor) -> Tensor:
    """The features of a silent track with the shape of ``features`` (..., T, F): all zeros."""
    return torch.zeros_like(features)


def shuffled_audio(features: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Give every clip of a batch another clip's audio: a derangement, no clip keeps its own.

    The clips are lined up in a random order and each takes the audio of the next one in line (the last
    takes the first's): a random permutation without fixed points, unlike ``torch.randperm`` alone.

    Args:
        features: (B, T, F) audio features of B >= 2 clips.
        generator: makes the order repeatable.
    Returns:
        (B, T, F): the same features, clip i's moved to another clip.
    """
    b = features.shape[0]
    if b < 2:
        raise ValueError(f"shuffled_audio needs a batch of at least 2 clips to swap audio, got {b}.")
    order = torch.randperm(b, generator=generator)
    source = torch.empty_like(order)
    source[order] = order.roll(-1)  # the clip at place k of the line hears the clip at place k + 1
    return features[source.to(features.device)]


class SoundingBalls(BouncingBalls):
    """One ball of ``BouncingBalls``' world, with its sound (see the module docstring).

    ``dataset[i]`` is a dict:

    - ``"video"``: (1, T, H, W) float32 in [0, 1],
    - ``"positions"``: (T, 2) float32 ball centre (y, x) in world units,
    - ``"audio"``: (2, T * SAMPLES_PER_FRAME) float32 stereo waveform in [-1, 1],
    - ``"audio_features"``: (T, 2 * BANDS) float32 in [0, 1], column t hearing frame t.

    Args:
        clicks: add a click on the frame after each wall bounce.
        radius, box_size, speed, substeps: the world's, as in ``BouncingBalls``.
    """

    def __init__(
        self,
        split: str = "train",
        num_videos: int = 1000,
        num_frames: int = 16,
        frame_size: int = 32,
        seed: int = 0,
        *,
        clicks: bool = True,
        radius: float = 1.2,
        box_size: float = 10.0,
        speed: float = 0.5,
        substeps: int = 2,
    ) -> None:
        super().__init__(split, num_videos, num_frames, frame_size, seed, num_balls=1, radius=radius,
                         box_size=box_size, speed=speed, substeps=substeps)
        self.clicks = clicks

    def generate(self, rng: np.random.Generator) -> dict[str, Any]:
        positions, velocities = simulate_balls(rng, 1, self.num_frames, self.radius, self.box_size,
                                               self.speed, self.substeps)
        frames = render_balls(positions, self.radius, self.box_size, self.frame_size)
        positions, velocities = positions[:, 0], velocities[:, 0]  # (T, 2): the one ball
        turned = np.r_[(np.sign(velocities[1:]) != np.sign(velocities[:-1])).any(axis=1), False]  # t -> t+1
        audio = synthesise_audio(positions, self.box_size, turned if self.clicks else None)
        return {
            "video": torch.from_numpy(frames[None].astype(np.float32)),  # (1, T, H, W)
            "positions": torch.from_numpy(positions.astype(np.float32)),
            "audio": torch.from_numpy(audio),
            "audio_features": torch.from_numpy(audio_features(audio)),
        }


__all__ = ["SoundingBalls", "audio_features", "pitch", "shuffled_audio", "silence_like", "synthesise_audio",
           "SAMPLE_RATE", "FPS", "SAMPLES_PER_FRAME", "F_LOW", "F_HIGH", "BANDS"]
