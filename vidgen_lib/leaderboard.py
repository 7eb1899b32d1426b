"""The leaderboard: every shipped model in one table, built from the registry and the model cards.

Every number comes from a model card, measured when the model was trained by the same code
(``vidgen_lib.evaluation.evaluate``, on ``config.eval_videos`` held-out clips of the model's world),
so the table reads the cards and measures nothing but parameters and, if asked, sampling time on this
machine. Each row is one score of one model, next to the baseline that score must beat (or, for ACD,
the real clips it should match). ``python -m vidgen_lib leaderboard`` writes the table as Markdown
and CSV.

Models of different worlds are not ranked against each other: a row says how far a model is from its
own baseline. :func:`relative_to_baseline` turns that into one number (above 1: better than the
baseline) for the plot of quality against training minutes.
"""
from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass

import torch

import vidgen_lib
from vidgen_lib import models
from vidgen_lib.checkpoints import read_card
from vidgen_lib.runtime import single_thread


@dataclass(frozen=True)
class Score:
    """One column of a model card shown on the board: ``key`` in the card's metrics against ``baseline``."""

    label: str  # what is measured, e.g. "FVD"
    key: str  # the card's metric, e.g. "fvd/vgan"
    better: str  # "lower" or "higher"
    baseline: str  # what it is compared with, e.g. "first real frame, frozen"
    baseline_key: str  # the card's metric of the baseline, e.g. "fvd/static"


@dataclass(frozen=True)
class Entry:
    """What the board shows of one model: its family, its world, its task and its scores."""

    family: str
    world: str
    task: str
    scores: tuple[Score, ...]


FROZEN = "first real frame, frozen"  # the baseline of every generator's FVD


def _gan(name: str) -> Entry:
    return Entry("GAN", "moving digits 16x32x32", "unconditional video", (
        Score("FVD", f"fvd/{name}", "lower", FROZEN, "fvd/static"),
        Score("FVD of motion", f"fvd_motion/{name}", "lower", FROZEN, "fvd_motion/static"),
        Score("ACD", f"acd/{name}", "lower", "real clips (the floor)", "acd/real"),
    ))


def _vid2vid(name: str) -> Entry:
    return Entry("GAN", "textured shapes 32x32", "label maps to video", (
        Score("PSNR (dB)", f"psnr/{name}", "higher", "copy last frame", "psnr/copy_last"),
        Score("SSIM", f"ssim/{name}", "higher", "copy last frame", "ssim/copy_last"),
        Score("FVD", f"fvd/{name}", "lower", "copy last frame", "fvd/copy_last"),
    ))


def _vpn(name: str) -> Entry:
    return Entry("autoregressive", "moving digits 16x16, 8 levels", "likelihood of the next 5 frames", (
        Score("nats/frame", f"nats_per_frame/{name}", "lower", "copy last frame", "nats_per_frame/copy_last"),
    ))


def _graph_net(name: str) -> Entry:
    return Entry("graph network", "bouncing balls, 3 balls (states)", "rollout of 14 steps", (
        Score("ball position error, step 14", f"position_error_step14/{name}", "lower", "constant velocity",
              "position_error_step14/constant_velocity"),
    ))


#: model name -> what the board shows of it. A chapter that registers a model adds it here.
ENTRIES: dict[str, Entry] = {
    "vgan": _gan("vgan"),
    "vgan_one_stream": _gan("vgan_one_stream"),
    "mocogan": _gan("mocogan"),
    "tdvae": Entry("VAE", "shifting digits 28x28", "jumpy prediction, 10 frames", (
        Score("frames keeping the digit", "identity/tdvae", "higher", "copy last frame",
              "identity/copy_last"),
        Score("videos moving the right way", "direction/tdvae", "higher", "copy last frame",
              "direction/copy_last"),
    )),
    "dvg": Entry("VAE", "action shapes 32x32", "action-conditioned prediction, 8 frames", (
        Score("PSNR (dB)", "psnr/dvg", "higher", "copy last frame", "psnr/copy_last"),
        Score("SSIM", "ssim/dvg", "higher", "copy last frame", "ssim/copy_last"),
        Score("agent position error (px)", "position_error_px/dvg", "lower", "copy last frame",
              "position_error_px/copy_last"),
    )),
    "vpn": _vpn("vpn"),
    "vpn_independent": _vpn("vpn_independent"),
    "vid2vid": _vid2vid("vid2vid"),
    "vid2vid_no_warp": _vid2vid("vid2vid_no_warp"),
    "videobert": Entry("transformer", "shape stories 32x32", "caption to video words", (
        Score("clips with all 3 attributes right", "all_acc/text_to_video", "higher",
              "most frequent word, no caption", "all_acc/frequency"),
        Score("caption retrieval, top-1 of 10", "retrieval_top1/videobert", "higher", "chance",
              "retrieval_top1/chance"),
        Score("next visual word", "forecast_word_acc/videobert", "higher", "repeat last word",
              "forecast_word_acc/repeat_last"),
    )),
    "diffusion": Entry("diffusion", "moving shapes 8x32x32", "caption to video", (
        Score("FVD", "fvd/diffusion", "lower", FROZEN, "fvd/static"),
        Score("FVD of motion", "fvd_motion/diffusion", "lower", FROZEN, "fvd_motion/static"),
        Score("clips with all 3 attributes right", "caption_all_acc/diffusion", "higher", "chance",
              "caption_all_acc/chance"),
    )),
    "codec": Entry("codec", "moving digits 16x32x32", "compression at the card's PSNR", (
        Score("bits per pixel", "bpp/codec", "lower", "quantise + zlib per frame, same PSNR",
              "bpp/intra_zlib"),
        Score("bits per pixel", "bpp/codec", "lower", "keyframe + residuals + zlib, same PSNR",
              "bpp/keyframe_residuals_zlib"),
    )),
    "interaction_net": _graph_net("interaction_net"),
    "interaction_net_no_edges": _graph_net("interaction_net_no_edges"),
    "sound_to_video": Entry("conditional predictor", "one sounding ball 32x32", "sound to 14 frames", (
        Score("ball position error (px)", "position_error_px/sound_to_video", "lower", "copy last frame",
              "position_error_px/copy_last"),
        Score("ball position error (px)", "position_error_px/sound_to_video", "lower",
              "the same model, shuffled audio", "position_error_px/shuffled"),
    )),
}

COLUMNS = ("model", "family", "world", "task", "score", "better", "value", "baseline", "baseline_value",
           "beats_baseline", "n", "parameters", "steps", "train_minutes", "hardware")


def relative_to_baseline(value: float, baseline: float, better: str) -> float:
    """How many times better than its baseline a score is: ``value / baseline`` when higher is better,
    ``baseline / value`` when lower is; above 1 beats the baseline."""
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', got {better!r}.")
    numerator, denominator = (value, baseline) if better == "higher" else (baseline, value)
    if denominator <= 0:
        which = "baseline" if better == "higher" else "value"
        raise ValueError(f"relative_to_baseline needs a positive {which}, got {denominator}.")
    return numerator / denominator


def hardware(card: dict) -> str:
    """The card's hardware in a few words: ``"NVIDIA H200"`` or ``"CPU, 1 thread"`` (and the processes)."""
    hw = card["hardware"]
    if hw["device"].startswith("cuda"):
        text = hw["device_name"]
    else:
        threads = hw["cpu_threads"]
        text = f"CPU, {threads} thread{'s' if threads > 1 else ''}"
    return text + (f", {hw['processes']} processes" if hw.get("processes", 1) > 1 else "")


def shipped() -> list[str]:
    """The registered models whose checkpoint is shipped, in the course's order (that of :data:`ENTRIES`,
    then any the board does not know yet)."""
    names = [name for name in models.available() if (vidgen_lib.CHECKPOINT_DIR / f"{name}.pt").exists()]
    order = list(ENTRIES)
    return sorted(names, key=lambda name: order.index(name) if name in order else len(order))


def parameter_count(name: str) -> int:
    """The parameters of shipped model ``name``: every network it trains (a GAN's discriminators too)."""
    return sum(p.numel() for p in models.get(name).load_pretrained("cpu").parameters())


def rows(names: list[str] | None = None) -> list[dict]:
    """The board: one row per score of each model (default: every shipped model), values from the cards.

    Keys are :data:`COLUMNS`. ``train_minutes`` is the card's training wall time; ``hardware`` where it
    ran. Raises ``KeyError`` for a shipped model the board does not know (add it to :data:`ENTRIES`).
    """
    table = []
    for name in shipped() if names is None else names:
        if name not in ENTRIES:
            raise KeyError(f"The leaderboard has no entry for model {name!r}: add its scores to "
                           "vidgen_lib.leaderboard.ENTRIES.")
        entry, card = ENTRIES[name], read_card(vidgen_lib.CHECKPOINT_DIR / f"{name}.pt")
        metrics, params = card["metrics"], parameter_count(name)
        for score in entry.scores:
            value, baseline = metrics[score.key], metrics[score.baseline_key]
            beats = value < baseline if score.better == "lower" else value > baseline
            table.append({"model": name, "family": entry.family, "world": entry.world, "task": entry.task,
                          "score": score.label, "better": score.better, "value": value,
                          "baseline": score.baseline, "baseline_value": baseline,
                          "beats_baseline": "yes" if beats else "no", "n": int(card["config"]["eval_videos"]),
                          "parameters": params, "steps": int(card["steps"]),
                          "train_minutes": round(card["wall_time_s"] / 60, 1), "hardware": hardware(card)})
    return table


def sampling_seconds(name: str, clips: int = 4, repeats: int = 3) -> float:
    """Seconds per clip that shipped model ``name`` takes to sample (a generator), to predict a held-out
    clip's future (a predictor) or to compress and decompress a clip (a codec; random clips of the right
    shape) on the CPU, one thread: the best of ``repeats`` runs."""
    module = models.get(name)
    model = module.load_pretrained("cpu")
    if hasattr(module, "sample"):
        run = lambda: module.sample(model, clips, seed=0)  # noqa: E731
    elif hasattr(module, "compress"):  # a codec: encode and decode clips of its shape
        c = model.config
        videos = torch.rand(clips, c.channels, c.num_frames, c.frame_size, c.frame_size,
                            generator=torch.Generator().manual_seed(0))
        run = lambda: module.decompress(model, *module.compress(model, videos))  # noqa: E731
    else:
        context, future, condition = module.prediction_task(model, clips)
        run = lambda: module.predict(model, context, future.shape[2], seed=0, **condition)  # noqa: E731
    best = float("inf")
    with single_thread(), torch.no_grad():
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - start)
    return best / clips


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def to_markdown(table: list[dict]) -> str:
    """The rows as a Markdown table, with every column of the rows (values to 4 significant digits)."""
    columns = list(table[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row[c]) for c in columns) + " |" for row in table]
    return "\n".join(lines) + "\n"


def to_csv(table: list[dict]) -> str:
    """The rows as CSV, values exactly as in the cards."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(table[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(table)
    return out.getvalue()
