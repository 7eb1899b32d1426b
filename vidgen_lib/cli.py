"""The command line: ``python -m vidgen_lib COMMAND``.

    doctor [--imports]           versions, device, profile, data found (paste it into a bug report);
                                 --imports: the import graph by layer, and any upward import
    bench [NAME ...] [--notebooks | --peer-configs]  speed and memory of data, training steps and notebooks;
                                 or our steps at public implementations' configurations
    train NAME [--profile P] [--steps N | --minutes M] [--set KEY=VALUE] [--out DIR] [--seed S]
                                 train, then write checkpoint + card; under
                                 ``torchrun --nproc_per_node K -m vidgen_lib train NAME``, K processes
                                 train one model on K shards of the data (batch_size per process)
    sample NAME [--n 16] [--out samples.gif] [--seed S]          samples of a shipped model as a GIF
    predict NAME [--n 4] [--out predictions.gif] [--seed S]      a predictor's continuations of held-out clips
    train-features [--steps N] [--out DIR] [--seed S]   the video feature network behind FVD and ACD
    leaderboard [--out DIR] [--no-time]  every shipped model's scores next to their baselines, from the
                                 model cards, as DIR/leaderboard.md and .csv (with sampling time per clip)
    student OUT_DIR              the student edition of the notebooks (solutions removed)
    grade SUBMISSIONS [--out grades.csv] [--timeout S]   run each student's notebooks, one CSV row per
                                 student and exercise (passed, not done, failed with the check's message)
    translate [--lang zh] [--update]  build notebooks/zh/ from the English notebooks and the translation
                                 files in notebooks/zh/translations/ (--update: add new cells to translate)
    execute NOTEBOOK ...         run notebooks top to bottom in place (to commit their outputs)

A mistake in a command (an unknown model, a count that is not positive, a missing or changed
checkpoint, a folder that cannot be written, a notebook that does not exist) ends in one line that
says what was wrong and what to do, with exit status 2; add ``--debug`` to see the traceback.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import vidgen_lib
from vidgen_lib import models
from vidgen_lib.checkpoints import CheckpointError

NOTEBOOK_DIR = vidgen_lib.DATA_DIR.parent / "notebooks"


class UsageError(Exception):
    """A mistake in how a command was called: reported in one line, with exit status 2."""


def get_model(name: str):
    """The registered model module ``name``; an unknown name is a :class:`UsageError` listing the
    known ones."""
    try:
        return models.get(name)
    except KeyError as err:
        raise UsageError(err.args[0]) from err


def positive(value: float | None, option: str) -> None:
    """Reject a count or a duration that is not positive (``None``: the option was not given)."""
    if value is not None and value <= 0:
        raise UsageError(f"{option} must be positive, got {value}.")


def writable_dir(path: Path, option: str) -> Path:
    """Create ``path`` if needed and check a file can be written there, before any long work starts."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {path} is a file, not a folder: choose another {option}.")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".vidgen_write_test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise UsageError(f"cannot write to {option} {path} ({err.strerror or err}): "
                         f"choose another {option}.") from err
    return path


def doctor() -> int:
    """Print what a bug report needs: versions, device, profile, threads, data and checkpoints."""
    import torch

    print(f"vidgen_lib     {vidgen_lib.__version__}")
    print(f"python         {platform.python_version()} ({platform.system()} {platform.machine()})")
    for package in ("torch", "numpy", "einops", "matplotlib", "scipy", "sklearn", "mlxtend", "ipywidgets",
                    "tqdm"):
        try:
            version = importlib.import_module(package).__version__
        except ImportError:
            version = "MISSING: pip install -e .[dev]"
        print(f"{package:14} {version}")
    print(f"torch build    {torch_build()}")
    if torch.version.cuda and not torch.cuda.is_available():
        print("               warning: a CUDA build of PyTorch on a machine without a usable GPU; "
              "the CPU build is several GB smaller and runs the course the same (README, Quickstart)")
    print(f"device         {vidgen_lib.device()} (CUDA available: {torch.cuda.is_available()})")
    print(f"cpu threads    {torch.get_num_threads()}")
    print(f"profile        {vidgen_lib.profile()} (set VIDGEN_PROFILE=full for GPU-sized runs)")
    print(f"data dir       {'found' if vidgen_lib.DATA_DIR.is_dir() else 'MISSING'}")
    try:
        from vidgen_lib.datasets import load_digit_sprites

        images, _ = load_digit_sprites("train")
        print(f"digit sprites  {len(images)} train sprites of {images.shape[1]}x{images.shape[2]}")
    except Exception as err:  # a diagnosis tool reports problems instead of stopping at the first
        print(f"digit sprites  PROBLEM: {err}")
    if os.environ.get("VIDGEN_MNIST_DIR"):
        print("MNIST IDX dir  set (VIDGEN_MNIST_DIR)")
    shipped = sorted(p.stem for p in vidgen_lib.CHECKPOINT_DIR.glob("*.pt"))
    print(f"checkpoints    {', '.join(shipped) or 'none'}")
    print(f"models         {', '.join(models.available()) or 'none'}")
    return 0


def torch_build() -> str:
    """Which build of PyTorch is installed: ``"CPU"``, ``"CUDA 12.4"`` or ``"ROCm 6.2"``."""
    import torch

    if torch.version.cuda:
        return f"CUDA {torch.version.cuda}"
    hip = getattr(torch.version, "hip", None)
    return f"ROCm {hip}" if hip else "CPU"


def train(name: str, profile: str | None, steps: int | None, out: Path, seed: int, argv: list[str],
          minutes: float | None = None, overrides: list[str] | None = None) -> int:
    """Train model ``name`` with its preset and write ``out/<name>.pt`` plus its model card.

    ``minutes`` stops training after that much training time; the card records the steps actually
    done. ``overrides`` are ``KEY=VALUE`` changes to the preset's config (values read as JSON where
    they parse, else as strings). After training, ``evaluation.evaluate`` measures the model on
    ``config.eval_videos`` held-out clips (none if 0) for the card. The weights are stored in half
    precision, and measured as stored: the model is given back its rounded weights before it is measured.
    Started by ``torchrun``, every process trains (see :mod:`vidgen_lib.train`) and rank 0 alone
    measures the model and writes the checkpoint and card.
    """
    from vidgen_lib import evaluation
    from vidgen_lib.checkpoints import half_precision
    from vidgen_lib.runtime import end_distributed_process, init_distributed

    module = get_model(name)
    positive(steps, "--steps")
    positive(minutes, "--minutes")
    writable_dir(out, "--out")
    config = with_overrides(module.Config.preset(profile or vidgen_lib.profile()), overrides or [])
    steps = steps if steps is not None else config.steps
    time_limit_s = 60 * minutes if minutes is not None else None
    start = time.perf_counter()
    rank, processes = init_distributed()
    model, metrics = module.train(config, steps, run_dir=out / "runs" / name, seed=seed,
                                  time_limit_s=time_limit_s)
    if rank == 0:
        steps_done = int(metrics.pop("steps", steps))
        weights = half_precision(model.state_dict())
        model.load_state_dict(weights)  # the card measures the weights as they are shipped
        if config.eval_videos > 0:
            metrics.update(evaluation.evaluate(name, model, config.eval_videos, seed=seed))
        write_card(weights, out, name, dataclasses.replace(config, steps=steps_done), steps_done, start,
                   metrics, argv, notes="Weights stored in float16; the metrics were measured with them.")
    if processes > 1:
        end_distributed_process()  # all processes wait for rank 0's files, then exit together
    return 0


def with_overrides(config, overrides: list[str]):
    """``config`` with ``KEY=VALUE`` changes (``batch_size=64``, ``augment=""``), checked against its
    fields."""
    changes = {}
    fields = {f.name for f in dataclasses.fields(config)}
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or key not in fields:
            raise UsageError(f"--set {item!r}: expected KEY=VALUE with KEY one of "
                             f"{', '.join(sorted(fields))}.")
        try:
            changes[key] = json.loads(text)
        except ValueError:
            changes[key] = text
    try:
        return dataclasses.replace(config, **changes)
    except (TypeError, ValueError) as err:  # the config's own checks
        raise UsageError(f"--set: {err}") from err


def train_features(steps: int | None, out: Path, seed: int, argv: list[str]) -> int:
    """Train the video feature network behind FVD and ACD; write ``out/video_features.pt`` + card."""
    from vidgen_lib import features

    steps = steps if steps is not None else features.DEFAULT_STEPS
    config = features.FeatureConfig()
    start = time.perf_counter()
    run_dir = out / "runs" / features.CHECKPOINT_NAME
    model, metrics = features.train_features(steps, seed, config, run_dir=run_dir,
                                             eval_videos=features.EVAL_VIDEOS)
    write_card(model.state_dict(), out, features.CHECKPOINT_NAME, config, steps, start, metrics, argv,
               notes="Toy-world video features for FVD/ACD; not comparable with I3D numbers.")
    return 0


def write_card(state_dict: dict, out: Path, name: str, config, steps: int, start: float,
               metrics: dict[str, float], argv: list[str], notes: str = "") -> dict:
    """Save ``out/<name>.pt`` and its model card: the command that made it, steps, wall time, metrics.

    The wall time is the training time summed over resumed runs when the run left its state in
    ``out/runs/<name>/train_state.pt``, else the time since ``start``.
    """
    from vidgen_lib.checkpoints import safe_torch_load, save_checkpoint

    wall = metrics.pop("train_wall_time_s", time.perf_counter() - start)
    state_file = out / "runs" / name / "train_state.pt"
    if state_file.exists():  # a resumed run: the training time summed over its runs
        wall = float(safe_torch_load(state_file)["wall_time_s"])
    from vidgen_lib.runtime import world

    threads = os.environ.get("OMP_NUM_THREADS")
    processes = world()[1]
    launcher = f"torchrun --nproc_per_node {processes} -m" if processes > 1 else "python -m"
    command = f"{launcher} vidgen_lib {shlex.join(argv)}"
    if threads:
        command = f"OMP_NUM_THREADS={threads} {command}"
    card = save_checkpoint(state_dict, out / f"{name}.pt", config=config, command=command,
                           steps=steps, wall_time_s=wall, metrics=metrics, notes=notes)
    print(f"wrote {out / (name + '.pt')} ({steps} steps, {wall:.0f} s); metrics: {card['metrics']}")
    return card


def grade(submissions: Path, out: Path, timeout: int) -> int:
    """Grade every student's notebooks in ``submissions/<student>/NN_*.ipynb``; write ``out`` as CSV."""
    import csv

    from vidgen_lib.course import GRADE_COLUMNS, grade_submissions

    if not submissions.is_dir() or not any(p.is_dir() for p in submissions.iterdir()):
        raise UsageError(f"{submissions} should be a folder with one sub-folder of notebooks per student.")
    positive(timeout, "--timeout")
    writable_dir(out.parent, "--out")
    rows = grade_submissions(submissions, NOTEBOOK_DIR, timeout)
    with open(out, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=GRADE_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    students = len({row["student"] for row in rows})
    print(f"wrote {out}: {len(rows)} rows for {students} students; "
          f"{sum(row['status'] == 'passed' for row in rows)} exercises passed")
    return 0


def shipped_model(name: str, verb: str, n: int, out: Path):
    """The module and shipped model ``name`` for ``sample`` or ``predict``, after checking the call."""
    module = get_model(name)
    if hasattr(module, "compress"):
        raise UsageError(f"{name} is a codec: it compresses clips rather than drawing or continuing them; "
                         f"use vidgen_lib.models.{name}.compress and .decompress (notebook 12).")
    if not hasattr(module, verb):
        kind, other = (("a prediction model: it continues given clips", "predict") if verb == "sample"
                       else ("a generator: it draws new clips", "sample"))
        raise UsageError(f"{name} is {kind}; use `python -m vidgen_lib {other} {name}`.")
    positive(n, "--n")
    writable_dir(out.parent, "--out")
    return module, module.load_pretrained()


def sample(name: str, n: int, out: Path, seed: int) -> int:
    """Write ``n`` samples of the shipped model ``name`` as a GIF."""
    from vidgen_lib.viz import save_gif

    module, model = shipped_model(name, "sample", n, out)
    videos = module.sample(model, n, seed=seed)
    print(f"wrote {save_gif(videos, out)} ({n} videos of shape {tuple(videos.shape[1:])})")
    return 0


def predict(name: str, n: int, out: Path, seed: int) -> int:
    """Write ``n`` held-out clips of the model's own world, truth and continuation side by side, as a GIF
    (or a PNG grid of frames when ``out`` ends in ``.png``). DVG continues under the clips' true actions."""
    import torch

    from vidgen_lib.viz import frame_grid, save_gif

    module, model = shipped_model(name, "predict", n, out)
    context, future, condition = module.prediction_task(model, n)
    guess = module.predict(model, context, future.shape[2], seed=seed, **condition).cpu()
    truth, continued = torch.cat([context, future], dim=2), torch.cat([context, guess], dim=2)
    pairs = torch.stack([truth, continued], dim=1).flatten(0, 1)  # truth, model, truth, model, ...
    if out.suffix.lower() == ".png":
        labels = [label for i in range(n) for label in (f"truth {i}", f"{name} {i}")]
        frame_grid(pairs, labels=labels).savefig(out, dpi=80)
    else:
        save_gif(pairs, out, ncols=2)
    print(f"wrote {out}: {n} held-out clips, {context.shape[2]} context frames then {future.shape[2]} more; "
          f"the truth (left or top) next to {name}'s continuation")
    return 0


def leaderboard(out: Path, timed: bool) -> int:
    """Write ``out/leaderboard.md`` and ``out/leaderboard.csv`` (see :mod:`vidgen_lib.leaderboard`) and
    print the Markdown; ``timed`` adds each model's sampling seconds per clip on this machine's CPU."""
    from vidgen_lib import leaderboard as board

    table = board.rows()
    if timed:
        seconds = {name: board.sampling_seconds(name) for name in dict.fromkeys(r["model"] for r in table)}
        for row in table:
            row["sample_s_per_clip"] = round(seconds[row["model"]], 4)
    writable_dir(out, "--out")
    (out / "leaderboard.md").write_text(board.to_markdown(table), encoding="utf-8")
    (out / "leaderboard.csv").write_text(board.to_csv(table), encoding="utf-8")
    print(board.to_markdown(table))
    print(f"wrote {out / 'leaderboard.md'} and {out / 'leaderboard.csv'}: {len(table)} scores of "
          f"{len({r['model'] for r in table})} models")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m vidgen_lib", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)
    add = lambda name, **kwargs: sub.add_parser(name, parents=[common], **kwargs)  # noqa: E731
    p = add("doctor", help="versions, device, profile, data found")
    p.add_argument("--imports", action="store_true", help="also the library's import graph, layer by layer")
    p = add("bench", help="speed and memory")
    p.add_argument("names", nargs="*", help="only benchmarks whose name starts with one of these")
    p.add_argument("--notebooks", action="store_true", help="also time every notebook (minutes)")
    p.add_argument("--peer-configs", action="store_true",
                   help="instead, time TD-VAE, MoCoGAN and VGAN at public implementations' configurations")
    p = add("train", help="train a model and write checkpoint + model card")
    p.add_argument("name")
    p.add_argument("--profile", choices=vidgen_lib.runtime.PROFILES)
    p.add_argument("--steps", type=int)
    p.add_argument("--minutes", type=float, help="stop after this much training time")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="change one config field")
    p.add_argument("--out", type=Path, default=vidgen_lib.CHECKPOINT_DIR)
    p.add_argument("--seed", type=int, default=0)
    p = add("sample", help="samples of a shipped model as a GIF")
    p.add_argument("name")
    p.add_argument("--n", type=int, default=16)
    p.add_argument("--out", type=Path, default=Path("samples.gif"))
    p.add_argument("--seed", type=int, default=0)
    p = add("predict", help="a predictor's continuations of held-out clips next to the truth")
    p.add_argument("name")
    p.add_argument("--n", type=int, default=4)
    p.add_argument("--out", type=Path, default=Path("predictions.gif"))
    p.add_argument("--seed", type=int, default=0)
    p = add("train-features", help="train the video feature network used by FVD and ACD")
    p.add_argument("--steps", type=int)
    p.add_argument("--out", type=Path, default=vidgen_lib.CHECKPOINT_DIR)
    p.add_argument("--seed", type=int, default=0)
    p = add("leaderboard", help="every shipped model's scores and baselines, from the model cards")
    p.add_argument("--out", type=Path, default=Path("."))
    p.add_argument("--no-time", action="store_true", help="skip timing each model's sampling")
    p = add("student", help="write the student edition of the notebooks")
    p.add_argument("out_dir", type=Path)
    p = add("grade", help="run every student's notebooks and every exercise check; write one CSV row each")
    p.add_argument("submissions", type=Path, help="a folder with one sub-folder of notebooks per student")
    p.add_argument("--out", type=Path, default=Path("grades.csv"))
    p.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell")
    p = add("translate", help="build the translated notebooks from their translation files")
    p.add_argument("--lang", default="zh", help="the edition: notebooks/LANG/translations/*.md (default zh)")
    p.add_argument("--update", action="store_true",
                   help="first add the English notebooks' new markdown cells to the translation files")
    p = add("execute", help="run notebooks in place and save their outputs")
    p.add_argument("notebooks", nargs="+", type=Path)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; a user's mistake prints one line on stderr and returns 2 (see the module
    docstring)."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    try:
        return run(args, argv)
    except (UsageError, FileNotFoundError, CheckpointError) as err:
        if args.debug:
            raise
        print(f"error: {err} (add --debug for the traceback)", file=sys.stderr)
        return 2


def run(args: argparse.Namespace, argv: list[str]) -> int:
    if args.command == "doctor":
        if args.imports:
            from vidgen_lib import layers

            print(layers.report())
            return 1 if layers.violations() else doctor()
        return doctor()
    if args.command == "bench":
        from vidgen_lib import bench

        if args.peer_configs:
            bench.run_peers(args.names)
            return 0
        bench.run(args.names)
        if args.notebooks:
            bench.time_notebooks(sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb")))
        return 0
    if args.command == "train":
        return train(args.name, args.profile, args.steps, args.out, args.seed, argv, args.minutes, args.set)
    if args.command == "train-features":
        positive(args.steps, "--steps")
        writable_dir(args.out, "--out")
        return train_features(args.steps, args.out, args.seed, argv)
    if args.command == "leaderboard":
        return leaderboard(args.out, not args.no_time)
    if args.command == "sample":
        return sample(args.name, args.n, args.out, args.seed)
    if args.command == "predict":
        return predict(args.name, args.n, args.out, args.seed)
    if args.command == "student":
        from vidgen_lib.course import build_student_edition

        written = build_student_edition(NOTEBOOK_DIR, writable_dir(args.out_dir, "OUT_DIR"))
        print(f"wrote {len(written)} student notebooks to {args.out_dir}")
        return 0
    if args.command == "translate":
        from vidgen_lib.course import build_translations

        if not (NOTEBOOK_DIR / args.lang / "translations").is_dir():
            raise UsageError(f"no translation files in {NOTEBOOK_DIR / args.lang / 'translations'}.")
        try:
            written = build_translations(NOTEBOOK_DIR, args.lang, args.update)
        except ValueError as err:
            raise UsageError(str(err)) from None
        print(f"wrote {len(written)} {args.lang} notebooks to {NOTEBOOK_DIR / args.lang}")
        return 0
    if args.command == "grade":
        return grade(args.submissions, args.out, args.timeout)
    if args.command == "execute":
        from vidgen_lib.course import execute_notebook

        missing = [str(path) for path in args.notebooks if not path.is_file()]
        if missing:
            raise UsageError(f"no such notebook: {', '.join(missing)} (notebooks live in {NOTEBOOK_DIR}).")
        for path in args.notebooks:
            print(f"{path.name}: {execute_notebook(path):.1f} s", flush=True)
        return 0
    return 1
