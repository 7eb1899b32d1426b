"""The one training loop every chapter reuses, and the one recipe every model's ``train`` calls.

A model writes only its *step*: ``training_step(model, trainer, batch) -> dict`` computes its losses
and calls ``trainer.update(name, loss)`` once per optimiser (a GAN updates ``"D"`` then ``"G"``; a VAE
updates ``"model"``). :func:`run` is the recipe: it builds a :class:`Trainer`, trains, and returns the
model in eval mode with its training metrics, so every ``models/<name>.train`` is a few lines.
The :class:`Trainer` does the rest:

- device and seeding, a ``tqdm.auto`` progress bar with running losses, a history of logged values;
- ``update`` zeroes gradients, checks the loss is finite (a NaN/inf raises :class:`NonFiniteLossError`
  naming the loss and the step), back-propagates, clips gradients if asked, and steps;
- training state (modules, optimisers, step, history, RNG) saved atomically every
  ``checkpoint_every`` steps in ``run_dir`` and resumed from there;
- data parallelism when ``torchrun`` starts several processes (:func:`vidgen_lib.runtime.init_distributed`):
  every process starts from rank 0's weights, trains on its own shard of the data with its own random
  draws, and ``update`` averages the gradients of all processes before stepping, so the weights stay
  identical everywhere. That average is what ``torch.nn.parallel.DistributedDataParallel`` computes;
  here it is one all-reduce in ``update`` because a model's step calls its sub-networks directly (a GAN
  runs D in both of its updates) instead of through one wrapped ``forward``. Only rank 0 writes files
  and shows progress.
"""
from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from vidgen_lib.checkpoints import atomic_torch_save, safe_torch_load
from vidgen_lib.runtime import device as default_device
from vidgen_lib.runtime import seed_everything, world

StepFn = Callable[["Trainer", Any], dict[str, float]]
ModelStep = Callable[[nn.Module, "Trainer", Any], dict[str, float]]


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite: training stops instead of silently producing garbage."""


def infinite_batches(loader: Iterable) -> Iterator:
    """Loop over a DataLoader (or any iterable) forever, one epoch after another (each epoch in a new
    order where the loader's sampler has ``set_epoch``)."""
    for epoch in itertools.count():
        sampler = getattr(loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ValueError("The data loader yielded no batches: is the dataset empty?")


def to_device(batch: Any, dev: torch.device) -> Any:
    """Move every tensor inside a batch (tensor, dict, list or tuple) to ``dev``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(dev, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, dev) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, dev) for v in batch)
    return batch


class Trainer:
    """Runs ``step_fn`` for a number of steps with progress, logging, clipping and checkpoints.

    Args:
        modules: the networks, by name (e.g. ``{"G": generator, "D": discriminator}``); moved to the device.
        optimizers: one optimiser per update name used by ``step_fn`` (e.g. ``{"G": ..., "D": ...}``).
        grad_clip: max gradient norm per update (``None``: no clipping).
        run_dir: where ``train_state.pt`` is written and resumed from (``None``: no checkpoints).
        checkpoint_every: save the training state every this many steps (and always at the end).
        log_every: append running means of the step's values to ``history`` this often.
        seed: seeds Python, NumPy and PyTorch before training starts.
        device: defaults to :func:`vidgen_lib.device`.
        progress: show a progress bar (on rank 0 only, when several processes train).
    """

    def __init__(
        self,
        modules: dict[str, nn.Module],
        optimizers: dict[str, torch.optim.Optimizer],
        *,
        grad_clip: float | None = None,
        run_dir: str | Path | None = None,
        checkpoint_every: int = 0,
        log_every: int = 50,
        seed: int = 0,
        device: torch.device | None = None,
        progress: bool = True,
    ) -> None:
        self.device = device or default_device()
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels once
        self.modules = {name: m.to(self.device) for name, m in modules.items()}
        self.rank, self.world_size = world()
        if self.world_size > 1:  # every process starts from rank 0's weights (and buffers)
            for m in self.modules.values():
                for tensor in m.state_dict().values():
                    torch.distributed.broadcast(tensor, src=0)
        self.optimizers = optimizers
        self.grad_clip = grad_clip
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.checkpoint_every = checkpoint_every
        self.log_every = max(1, log_every)
        self.seed = seed
        self.progress = progress and self.rank == 0
        self.step = 0  # number of completed steps
        self.history: list[dict[str, float]] = []
        self.wall_time_s = 0.0

    # --- what a step function calls -------------------------------------------------------------
    def update(self, name: str, loss: torch.Tensor) -> float:
        """One optimiser step for ``optimizers[name]`` on ``loss``; returns the loss as a float."""
        value = loss.detach().item()
        if not math.isfinite(value):
            raise NonFiniteLossError(
                f"Loss for '{name}' is {value} at step {self.step}. Lower the learning rate, "
                "clip gradients (grad_clip=1.0), or check the inputs are in the expected range."
            )
        optimizer = self.optimizers[name]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for group in optimizer.param_groups for p in group["params"]]
        if self.world_size > 1:
            average_gradients(params, self.world_size)
        if self.grad_clip is not None:
            nn.utils.clip_grad_norm_(params, self.grad_clip)
        optimizer.step()
        return value

    # --- checkpoints ----------------------------------------------------------------------------
    @property
    def state_path(self) -> Path | None:
        return self.run_dir / "train_state.pt" if self.run_dir is not None else None

    def save_state(self) -> None:
        """Write everything needed to resume (atomically) to ``run_dir/train_state.pt``; with several
        processes, rank 0 writes it, with every rank's random state."""
        if self.state_path is None:
            return
        rng_states = [torch.get_rng_state()]
        if self.world_size > 1:
            rng_states = [None] * self.world_size
            torch.distributed.all_gather_object(rng_states, torch.get_rng_state())
        if self.rank != 0:
            return
        atomic_torch_save(
            {
                "step": self.step,
                "wall_time_s": self.wall_time_s,
                "modules": {k: m.state_dict() for k, m in self.modules.items()},
                "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                "history": self.history,
                "torch_rng": rng_states[0],
                **({"torch_rng_ranks": rng_states} if self.world_size > 1 else {}),
            },
            self.state_path,
        )

    def load_state(self) -> bool:
        """Resume from ``run_dir/train_state.pt`` if it exists; returns whether it did."""
        if self.state_path is None or not self.state_path.exists():
            return False
        state = safe_torch_load(self.state_path, map_location=self.device)
        for k, m in self.modules.items():
            m.load_state_dict(state["modules"][k])
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        self.step, self.wall_time_s = int(state["step"]), float(state["wall_time_s"])
        self.history = list(state["history"])
        rng_states = state.get("torch_rng_ranks", [state["torch_rng"]])
        if len(rng_states) == self.world_size:
            torch.set_rng_state(rng_states[self.rank].cpu())
        else:  # resumed with another number of processes: a fresh, different stream per rank
            seed_everything(self.seed + self.rank + self.step)
        return True

    # --- the loop -------------------------------------------------------------------------------
    def fit(self, step_fn: StepFn, batches: Iterable, steps: int, *, resume: bool = True,
            time_limit_s: float | None = None) -> list[dict[str, float]]:
        """Train until ``steps`` steps in total are done (resuming from ``run_dir`` if possible).

        Args:
            step_fn: ``step_fn(trainer, batch) -> {"loss_name": float, ...}`` for one step.
            batches: an iterable of batches (e.g. ``infinite_batches(loader)``); moved to the device.
            steps: the total number of steps (a resumed run only does the remaining ones).
            time_limit_s: stop earlier, after the step during which the training time (summed over
                resumed runs) reaches this many seconds; ``self.step`` then says how far it got.
        Returns:
            The history: one dict of running means per ``log_every`` steps, with its ``step``.
        """
        seed_everything(self.seed + self.rank)  # each process draws its own noise
        if resume:
            self.load_state()
        for m in self.modules.values():
            m.train()
        running: dict[str, float] = {}
        count = 0
        batch_iter = iter(batches)
        bar = tqdm(total=steps, initial=self.step, disable=not self.progress, desc="training", leave=True)
        start = time.perf_counter() - self.wall_time_s
        try:
            while self.step < steps:
                values = step_fn(self, to_device(next(batch_iter), self.device))
                self.step += 1
                count += 1
                for k, v in values.items():
                    running[k] = running.get(k, 0.0) + float(v)
                self.wall_time_s = time.perf_counter() - start
                out_of_time = time_limit_s is not None and self.wall_time_s >= time_limit_s
                if time_limit_s is not None and self.world_size > 1:  # all processes stop at rank 0's step
                    flag = torch.tensor([float(out_of_time)], device=self.device)
                    torch.distributed.broadcast(flag, src=0)
                    out_of_time = bool(flag.item())
                if self.step % self.log_every == 0 or self.step == steps or out_of_time:
                    means = {k: v / count for k, v in running.items()}
                    self.history.append({"step": self.step, **means})
                    bar.set_postfix({k: f"{v:.4f}" for k, v in means.items()})
                    running, count = {}, 0
                bar.update(1)
                if self.checkpoint_every and self.step % self.checkpoint_every == 0:
                    self.save_state()
                if out_of_time:
                    break
        finally:
            bar.close()
        self.save_state()
        for m in self.modules.values():
            m.eval()
        return self.history


def average_gradients(params: list[nn.Parameter], world_size: int) -> None:
    """Replace every gradient by its mean over the ``world_size`` processes: one all-reduce of all the
    gradients, flattened into one tensor. With each process's loss a mean over its own shard, the
    result is the gradient of the mean over the whole (global) batch."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    torch.distributed.all_reduce(flat)
    flat /= world_size
    for grad, chunk in zip(grads, flat.split([g.numel() for g in grads])):
        grad.copy_(chunk.view_as(grad))


def loader(dataset: Any, batch_size: int, dev: torch.device | None = None) -> torch.utils.data.DataLoader:
    """Shuffled batches of ``dataset``, dropping the last incomplete one.

    On a CPU the clips are generated in the training process itself (workers would compete with
    training for the same cores); on a GPU two worker processes generate them while the GPU trains.
    With several processes each reads its own shard (a ``DistributedSampler`` over the clip indices,
    shuffled with the run's seed): ``batch_size`` clips per process, a global batch of
    ``world_size * batch_size``.
    """
    on_gpu = (dev or default_device()).type == "cuda"
    rank, world_size = world()
    sampler = None
    if world_size > 1:  # seed: the one the model's train() set; the same on every rank
        sampler = torch.utils.data.DistributedSampler(dataset, num_replicas=world_size, rank=rank,
                                                      shuffle=True, seed=torch.initial_seed(), drop_last=True)
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=sampler is None,
                                       sampler=sampler, drop_last=True, num_workers=2 if on_gpu else 0,
                                       pin_memory=on_gpu, persistent_workers=on_gpu)


def batches(dataset: Any, batch_size: int) -> Iterator:
    """Endless shuffled batches of ``dataset`` (see :func:`loader`), one epoch after another."""
    return infinite_batches(loader(dataset, batch_size))


def run(model: nn.Module, optimizers: dict[str, torch.optim.Optimizer], step_fn: ModelStep, data: Iterable,
        steps: int, *, run_dir: str | Path | None = None, seed: int = 0, grad_clip: float | None = None,
        progress: bool = True, time_limit_s: float | None = None, checkpoint_every: int = 500,
        log_every: int = 50, snapshot: Callable[[], Tensor] | None = None,
        finish: Callable[[], None] | None = None) -> tuple[nn.Module, dict[str, float]]:
    """The course's training recipe: ``step_fn(model, trainer, batch)`` for ``steps`` steps, then the model.

    Args:
        model: the network (all its parts in one module: one state dict, one checkpoint).
        optimizers: one optimiser per name that ``step_fn`` passes to ``trainer.update``.
        step_fn: the model's ``training_step(model, trainer, batch)``.
        data: an endless iterable of batches (e.g. :func:`batches`).
        steps: the total number of steps (a run resumed from ``run_dir`` does the remaining ones).
        run_dir: where the training state is saved every ``checkpoint_every`` steps and resumed from.
        seed: seeds every random draw of the run.
        grad_clip: max gradient norm per update (None: no clipping).
        time_limit_s: stop after this many seconds of training instead, if that comes first.
        snapshot: ``snapshot()`` draws clips ``(n, C, T, H, W)`` from fixed latents; they are kept in
            ``model.snapshots`` (a ``TrainingSnapshots``) along the run and at its end.
        finish: called once training ends, before the last snapshot (e.g. BatchNorm recalibration).
    Returns:
        ``(model, metrics)``: the model in eval mode; ``final/<value>`` for each value of the last
        logged step (running means), ``steps`` done and ``train_wall_time_s`` (summed over resumed runs).
    """
    if steps < 1:
        raise ValueError(f"steps must be a positive number of training steps, got {steps}.")
    trainer = Trainer({"model": model}, optimizers, grad_clip=grad_clip, run_dir=run_dir,
                      checkpoint_every=checkpoint_every if run_dir else 0, log_every=log_every, seed=seed,
                      progress=progress)
    step = lambda tr, batch: step_fn(model, tr, batch)  # noqa: E731
    if snapshot is not None:
        step = with_snapshots(step, model.snapshots, snapshot, steps, time_limit_s)
    history = trainer.fit(step, data, steps, time_limit_s=time_limit_s)
    if finish is not None:
        finish()
    if snapshot is not None:
        model.snapshots.record(len(model.snapshots.steps) - 1, trainer.step, snapshot())
    metrics = {f"final/{k}": round(v, 4) for k, v in history[-1].items() if k != "step"}
    metrics.update(steps=trainer.step, train_wall_time_s=round(trainer.wall_time_s, 1))
    return model.eval(), metrics


# --- training snapshots: what a generator drew along the way ------------------------------------

SNAPSHOT_FRACTIONS = (0.1, 0.3, 1.0)  # of the run's steps, or of its time limit


class TrainingSnapshots(nn.Module):
    """Samples drawn from fixed latents at a few points of training, kept inside the checkpoint.

    Buffers: ``steps`` ``(K,)`` (0: not taken) and ``videos`` ``(K, n, C, T, H, W)`` uint8, so a
    notebook can show blobs turning into digits without training anything. About 0.4 MB for
    K = 3 snapshots of n = 8 clips of 16 × 32 × 32.
    """

    def __init__(self, samples: int, shape: tuple[int, ...], count: int = len(SNAPSHOT_FRACTIONS)) -> None:
        super().__init__()
        self.register_buffer("steps", torch.zeros(count, dtype=torch.int64))
        self.register_buffer("videos", torch.zeros(count, samples, *shape, dtype=torch.uint8))

    @torch.no_grad()
    def record(self, index: int, step: int, videos: Tensor) -> None:
        """Store ``videos`` ``(n, C, T, H, W)`` in [0, 1] as snapshot ``index``, taken after ``step``
        steps."""
        self.steps[index] = step
        self.videos[index] = (videos.detach().clamp(0, 1) * 255).round().to(self.videos.device, torch.uint8)

    def taken(self) -> tuple[list[int], Tensor]:
        """The steps of the snapshots taken and their clips ``(K', n, C, T, H, W)`` in [0, 1]."""
        keep = self.steps > 0
        return self.steps[keep].tolist(), self.videos[keep].float() / 255


def with_snapshots(step_fn: StepFn, snapshots: TrainingSnapshots, draw: Callable[[], Tensor], steps: int,
                   time_limit_s: float | None = None) -> StepFn:
    """``step_fn`` that also records ``draw()`` into ``snapshots`` when the run passes each of
    ``SNAPSHOT_FRACTIONS[:-1]`` (of ``steps``, or of ``time_limit_s`` when one is set). The caller
    records the last snapshot itself, when training ends."""
    def step(trainer: Trainer, batch: Any) -> dict[str, float]:
        values = step_fn(trainer, batch)
        progress = trainer.wall_time_s / time_limit_s if time_limit_s else (trainer.step + 1) / steps
        for index, fraction in enumerate(SNAPSHOT_FRACTIONS[:-1]):
            if progress >= fraction and snapshots.steps[index] == 0:
                snapshots.record(index, trainer.step + 1, draw())
        return values
    return step
