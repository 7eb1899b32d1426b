"""``python -m vidgen_lib bench``: the one place where speed and memory are measured.

Each benchmark is a function returning ``(what, seconds per call)``; chapters add theirs to
``BENCHMARKS``. Tests never time anything: budgets are checked here, by a person, on a known machine.
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

BENCHMARKS: dict[str, Callable[[], tuple[str, float]]] = {}


def benchmark(name: str):
    """Decorator that registers a benchmark under ``name``."""
    def register(fn: Callable[[], tuple[str, float]]):
        BENCHMARKS[name] = fn
        return fn
    return register


def time_call(fn: Callable[[], object], repeats: int = 3) -> float:
    """Best wall time of ``repeats`` calls, in seconds (after one warm-up call)."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far (MB); on CUDA, peak allocated tensor memory; NaN on
    Windows, which has no ``resource`` module."""
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    if os.name != "posix":
        return float("nan")
    import resource  # POSIX only

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux


def _dataset_benchmark(name: str, **kwargs) -> tuple[str, float]:
    from vidgen_lib.datasets import DATASETS, video_batch

    dataset = DATASETS[name](split="train", num_videos=64, num_frames=16, frame_size=32, **kwargs)
    seconds = time_call(lambda: video_batch(dataset, 64))
    return "64 videos of 16x32x32", seconds


for _name in ("moving_digits", "bouncing_balls", "moving_shapes", "action_shapes"):
    benchmark(f"data/{_name}")(lambda n=_name: _dataset_benchmark(n))


def _time_training_step(module, model: torch.nn.Module, optimizers: dict, batch, grad_clip=None) -> float:
    """Seconds of one ``module.training_step(model, trainer, batch)``, the batch on the trainer's device."""
    from vidgen_lib.train import Trainer, to_device

    trainer = Trainer({"model": model}, optimizers, grad_clip=grad_clip, progress=False)
    batch = to_device(batch, trainer.device)
    return time_call(lambda: module.training_step(model, trainer, batch))


def _gan_step(name: str) -> tuple[str, float]:
    """One GAN iteration (discriminator steps, then G on the same fakes) at the tutorial config."""
    from vidgen_lib import models

    module = models.get(name)
    config = module.Config.preset("tutorial")
    model = module.build(config)
    video = torch.rand(config.batch_size, config.channels, config.num_frames, config.frame_size,
                       config.frame_size)
    seconds = _time_training_step(module, model, module.make_optimizers(model, config), {"video": video})
    return f"1 step, {config.batch_size} videos {config.num_frames}x{config.frame_size}²", seconds


for _name in ("mocogan", "vgan"):
    benchmark(f"train/{_name}")(lambda n=_name: _gan_step(n))


@benchmark("train/vid2vid")
def _vid2vid_step() -> tuple[str, float]:
    """One Vid2Vid iteration (10 frames generated per clip, both D's, then G) at the tutorial config."""
    from vidgen_lib.models import vid2vid

    config = vid2vid.Config.preset("tutorial")
    model = vid2vid.build(config)
    data = vid2vid.training_data(config, num_videos=config.batch_size)
    batch = {key: torch.stack([data[i][key] for i in range(config.batch_size)]) for key in data[0]}
    seconds = _time_training_step(vid2vid, model, vid2vid.make_optimizers(model, config), batch)
    return f"1 step, {config.batch_size} clips {config.num_frames}x{config.frame_size}²", seconds


@benchmark("train/videobert")
def _videobert_step() -> tuple[str, float]:
    """One VideoBERT iteration (masked tokens + alignment, one forward) at the tutorial config."""
    from vidgen_lib.models import videobert

    config = videobert.Config.preset("tutorial")
    model = videobert.build(config)
    captions = videobert.random_captions(config.batch_size, seed=0)
    words = torch.randint(config.num_visual, (config.batch_size, config.max_clips))
    batch = {"text": videobert.encode_captions(captions), "visual": videobert.as_vocabulary(words)}
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
    seconds = _time_training_step(videobert, model, {"model": optimizer}, batch)
    return f"1 step, {config.batch_size} stories of {config.max_length} tokens", seconds


# --- our training steps at the configurations of public implementations ----------------------------

#: name -> (the public implementation, its configuration, its seconds per step on 2 CPU cores).
PEERS = {
    "tdvae": ("the public TD-VAE reference code", "batch 512, 20 binary 28x28 frames, belief 50, "
              "2 x 8 latents, one (t1, t2) pair per sequence", 0.75),  # 670-835 ms measured: the middle
    "mocogan": ("the official MoCoGAN code", "3 x 16 x 64², image batch 10, video batch 3, content 50 + "
                "motion 10", 2.0),
    "vgan": ("a public PyTorch port of VGAN", "3 x 32 x 64², batch 8, z 100", 4.9),
}


def median_step(fn: Callable[[], object], warmup: int = 2, repeats: int = 5) -> float:
    """Median wall time of ``repeats`` calls of ``fn`` after ``warmup`` calls, in seconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def _peer_step(name: str) -> float:
    """Seconds per training step of our model ``name`` at the peer's configuration (PEERS).

    What makes ours cheaper, by construction of the training steps: TD-VAE runs its belief LSTM only up
    to the last frame the loss reads (max t2), not over all 20 frames; MoCoGAN generates the fake videos
    once per iteration and reuses them (detached) for both discriminators and then for G, where the
    official code runs its generator four times; VGAN's D step uses the fakes detached, so no backward
    pass goes through G twice, and no parameter of a network that is not being updated keeps gradients.
    """
    from vidgen_lib.train import Trainer, to_device

    if name == "tdvae":
        from vidgen_lib.models import tdvae as module
        config = module.Config(batch_size=512, num_frames=20, frame_size=28, pre_hidden=784, belief_size=50,
                               hidden=50, z_dim=8, num_layers=2, max_jump=4, pairs_per_sequence=1,
                               analytic_kl=False, jump_input=False)
        model = module.build(config)
        batch = (torch.rand(config.batch_size, config.num_frames, config.x_dim) > 0.5).float()
        optimizers = {"model": torch.optim.Adam(model.parameters(), lr=config.lr)}
    else:
        from vidgen_lib import models
        module = models.get(name)
        if name == "mocogan":
            config = module.Config(channels=3, num_frames=16, frame_size=64, dim_content=50, dim_motion=10,
                                   gen_width=64, image_disc_width=64, video_disc_width=64, batch_size=3,
                                   image_batch_size=10, loss="bce", disc_norm="batch", augment="")
        else:
            config = module.Config(channels=3, num_frames=32, frame_size=64, z_dim=100, batch_size=8,
                                   generator_widths=(512, 256, 128, 64),
                                   discriminator_widths=(64, 128, 256, 512)).paper()
        model = module.build(config)
        batch = {"video": torch.rand(config.batch_size, 3, config.num_frames, config.frame_size,
                                     config.frame_size)}
        optimizers = module.make_optimizers(model, config)
    trainer = Trainer({"model": model}, optimizers, progress=False)
    batch = to_device(batch, trainer.device)
    return median_step(lambda: module.training_step(model, trainer, batch))


def run_peers(names: list[str] | None = None) -> list[dict]:
    """Time our training steps at the public implementations' configurations (``PEERS``) and print them
    next to the public code's time on the same kind of machine (2 CPU cores), with the ratio."""
    torch.manual_seed(0)
    rows = []
    print(f"{'model':8} {'configuration':92} {'ours s':>7} {'theirs s':>8} {'speed-up':>8}")
    for name, (peer, configuration, theirs) in PEERS.items():
        if names and name not in names:
            continue
        ours = _peer_step(name)
        rows.append({"name": name, "peer": peer, "ours_s": ours, "theirs_s": theirs,
                     "speedup": theirs / ours})
        print(f"{name:8} {configuration:92} {ours:7.2f} {theirs:8.2f} {theirs / ours:7.1f}x", flush=True)
    return rows


def run(names: list[str] | None = None) -> list[dict]:
    """Run the benchmarks (all, or those whose name starts with one of ``names``) and print a table."""
    torch.manual_seed(0)
    rows = []
    print(f"{'benchmark':32} {'what':34} {'ms':>10} {'peak MB':>9}")
    for name, fn in BENCHMARKS.items():
        if names and not any(name.startswith(n) for n in names):
            continue
        what, seconds = fn()
        row = {"name": name, "what": what, "ms": seconds * 1000, "peak_mb": peak_memory_mb()}
        rows.append(row)
        print(f"{name:32} {what:34} {row['ms']:10.1f} {row['peak_mb']:9.0f}", flush=True)
    return rows


PEAK_MEMORY_CELL = """import resource, sys
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024))"""


def time_notebooks(paths: list[Path]) -> dict[str, tuple[float, float | None]]:
    """Execute each notebook top to bottom (in memory: the committed outputs stay) and print its wall
    time and the peak memory of its kernel process (a last cell reads it; ``None`` where the system
    cannot tell)."""
    import nbformat

    from vidgen_lib.course import run_notebook

    results = {}
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(PEAK_MEMORY_CELL if os.name == "posix" else "print('')"))
        seconds = run_notebook(nb, path.parent)
        text = "".join(out.get("text", "") for out in nb.cells[-1].outputs).strip()
        peak_mb = int(text) / 2**20 if text.isdigit() else None
        results[path.name] = (seconds, peak_mb)
        memory = f"{peak_mb:9.0f}" if peak_mb is not None else f"{'—':>9}"
        print(f"{'notebook/' + path.name:67} {seconds * 1000:10.0f} {memory}", flush=True)
    return results


@benchmark("metrics/fvd")
def _fvd_benchmark() -> tuple[str, float]:
    """Embed 256 videos with the shipped toy-world feature network, then FVD against a reference."""
    from vidgen_lib import features, metrics
    from vidgen_lib.datasets import MovingDigits, video_batch
    from vidgen_lib.evaluation import embed_videos

    digits = MovingDigits("test", num_videos=512, num_frames=16, frame_size=32, num_digits=1)
    reference, videos = video_batch(digits, 256), video_batch(digits, 256, start=256)
    reference_features = embed_videos(reference, features.video_features)
    seconds = time_call(lambda: metrics.fvd_from_features(reference_features, embed_videos(videos)),
                        repeats=2)
    return "embed 256 videos 16x32² + FVD", seconds


@benchmark("train/dvg")
def _dvg_step() -> tuple[str, float]:
    """One teacher-forced DVG step (encode, three LSTMs, decode, MSE + beta KL) at the tutorial config."""
    from vidgen_lib.models import dvg

    config = dvg.Config.preset("tutorial")
    model = dvg.build(config)
    batch = {"video": torch.rand(config.batch_size, config.channels, config.num_frames, config.frame_size,
                                 config.frame_size),
             "actions": torch.randint(config.num_actions, (config.batch_size, config.num_frames - 1))}
    optimizers = {"model": torch.optim.Adam(model.parameters(), lr=config.lr)}
    seconds = _time_training_step(dvg, model, optimizers, batch, grad_clip=1.0)
    return f"1 step, {config.batch_size} videos {config.num_frames}x{config.frame_size}²", seconds


@benchmark("train/tdvae")
def _tdvae_step() -> tuple[str, float]:
    """One TD-VAE step (belief LSTM, p_B, q_S, p_T, decoder; Eq. 6) at the tutorial config."""
    from vidgen_lib.models import tdvae

    config = tdvae.Config.preset("tutorial")
    model = tdvae.build(config)
    x = (torch.rand(config.batch_size, config.num_frames, config.x_dim) > 0.5).float()
    optimizers = {"model": torch.optim.Adam(model.parameters(), lr=config.lr)}
    seconds = _time_training_step(tdvae, model, optimizers, x)
    return (f"1 step, {config.batch_size} sequences of {config.num_frames} frames {config.frame_size}²",
            seconds)


@benchmark("train/frame_vae")
def _frame_vae_step() -> tuple[str, float]:
    """One step of notebook 05's convolutional VAE on 32x32 frames."""
    from vidgen_lib.vae_toy import FrameVAE

    model = FrameVAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    frames = torch.rand(32, 1, 32, 32)

    def step() -> None:
        optimizer.zero_grad()
        model(frames)["loss"].backward()
        optimizer.step()

    return "1 step, 32 frames 32²", time_call(step)


@benchmark("train/vpn")
def _vpn_step() -> tuple[str, float]:
    """One teacher-forced VPN step (encoder, ConvLSTM, masked decoder of every scored frame)."""
    from vidgen_lib.models import vpn

    config = vpn.Config.preset("tutorial")
    model = vpn.build(config)
    video = torch.rand(config.batch_size, 1, config.num_frames, config.frame_size, config.frame_size)
    optimizers = {"model": torch.optim.Adam(model.parameters(), lr=config.lr)}
    seconds = _time_training_step(vpn, model, optimizers, {"video": video}, grad_clip=config.grad_clip)
    return (f"1 step, {config.batch_size} videos {config.num_frames}x{config.frame_size}², "
            f"{config.levels} levels"), seconds


@benchmark("sample/vpn")
def _vpn_sample_frame() -> tuple[str, float]:
    """One frame drawn pixel by pixel for 4 videos after the context, at the tutorial config."""
    import vidgen_lib
    from vidgen_lib.models import vpn

    config = vpn.Config.preset("tutorial")
    model = vpn.build(config).to(vidgen_lib.device())
    context = torch.rand(4, 1, config.context, config.frame_size, config.frame_size)
    seconds = time_call(lambda: vpn.predict(model, context, 1, seed=0), repeats=2)
    return f"1 frame {config.frame_size}², 4 videos, pixel by pixel (after {config.context} frames)", seconds


@benchmark("train/diffusion")
def _diffusion_step() -> tuple[str, float]:
    """One video diffusion step (the v-loss at one noise level per clip, then the weight average)."""
    from vidgen_lib.models import diffusion

    config = diffusion.Config.preset("tutorial")
    model = diffusion.build(config)
    data = diffusion.dataset(config, num_videos=config.batch_size)
    batch = {"video": torch.stack([data[i]["video"] for i in range(config.batch_size)]),
             "caption": [data[i]["caption"] for i in range(config.batch_size)]}
    optimizers = {"model": torch.optim.Adam(model.network.parameters(), lr=config.lr)}
    seconds = _time_training_step(diffusion, model, optimizers, batch, grad_clip=1.0)
    return f"1 step, {config.batch_size} clips {config.num_frames}x{config.frame_size}²", seconds


@benchmark("sample/diffusion")
def _diffusion_sample_clip() -> tuple[str, float]:
    """One clip drawn for a caption: DDIM, guided (two network evaluations per step), tutorial config."""
    import vidgen_lib
    from vidgen_lib.models import diffusion

    config = diffusion.Config.preset("tutorial")
    model = diffusion.build(config).to(vidgen_lib.device()).eval()
    caption = "a red circle moves left"
    seconds = time_call(lambda: diffusion.sample(model, 1, seed=0, caption=caption), repeats=2)
    return (f"1 clip {config.num_frames}x{config.frame_size}², {config.sample_steps} DDIM steps, "
            f"guidance w = {config.guidance:g}"), seconds


@benchmark("train/codec")
def _codec_step() -> tuple[str, float]:
    """One step of the learned codec (rate + lambda * distortion, noise in place of rounding)."""
    from vidgen_lib.datasets import video_batch
    from vidgen_lib.models import codec

    config = codec.Config.preset("tutorial")
    model = codec.build(config)
    batch = {"video": video_batch(codec.dataset(config, num_videos=config.batch_size), config.batch_size)}
    seconds = _time_training_step(codec, model, {"model": codec.make_optimizer(model, config)}, batch)
    return f"1 step, {config.batch_size} clips {config.num_frames}x{config.frame_size}²", seconds


@benchmark("code/codec")
def _codec_round_trip() -> tuple[str, float]:
    """Compress 16 clips to real range-coded bytes and decode them back (tutorial config, untrained)."""
    import vidgen_lib
    from vidgen_lib.datasets import video_batch
    from vidgen_lib.models import codec

    config = codec.Config.preset("tutorial")
    model = codec.build(config).to(vidgen_lib.device()).eval()
    videos = video_batch(codec.dataset(config, "test", 16), 16)
    seconds = time_call(lambda: codec.decompress(model, *codec.compress(model, videos)), repeats=2)
    return f"16 clips {config.num_frames}x{config.frame_size}², compress + decompress", seconds


@benchmark("train/interaction_net")
def _interaction_net_step() -> tuple[str, float]:
    """One step of the interaction network (one-step loss on every transition of the batch's clips)."""
    from vidgen_lib.models import interaction_net

    config = interaction_net.Config.preset("tutorial")
    model = interaction_net.build(config)
    data = interaction_net.dataset(config, num_videos=config.batch_size)
    clips = [data[i] for i in range(config.batch_size)]
    batch = {key: torch.stack([clip[key] for clip in clips]) for key in ("positions", "velocities")}
    optimizers = {"model": torch.optim.Adam(model.parameters(), lr=config.lr)}
    seconds = _time_training_step(interaction_net, model, optimizers, batch)
    what = f"1 step, {config.batch_size} clips of {config.num_frames} states of {config.num_balls} balls"
    return what, seconds


@benchmark("train/sound_to_video")
def _sound_to_video_step() -> tuple[str, float]:
    """One step of the sound-driven predictor (every future frame from the context and its audio)."""
    from torch.utils.data import default_collate

    from vidgen_lib.models import sound_to_video

    config = sound_to_video.Config.preset("tutorial")
    model = sound_to_video.build(config)
    data = sound_to_video.dataset(config, num_videos=config.batch_size)
    batch = default_collate([data[i] for i in range(config.batch_size)])
    optimizers = {"model": torch.optim.Adam(model.parameters(), lr=config.lr)}
    seconds = _time_training_step(sound_to_video, model, optimizers, batch)
    return f"1 step, {config.batch_size} clips {config.num_frames}x{config.frame_size}²", seconds
