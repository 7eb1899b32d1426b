"""Data-parallel training: K processes, each on its shard of a batch, train exactly like one process on the
whole batch (gloo between CPU processes, as ``torchrun`` sets it up); and ``torchrun`` runs the course's
own ``train`` command with rank 0 alone writing the checkpoint and card."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import torch
import torch.multiprocessing as mp
from torch.utils.data import DataLoader, DistributedSampler

from vidgen_lib import models
from vidgen_lib.runtime import init_distributed, seed_everything
from vidgen_lib.train import Trainer, infinite_batches, loader

PER_RANK_BATCH, STEPS, WORLD = 2, 3, 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def setup(name: str):
    """Model ``name`` (seed 0), its optimisers and its training clips. The optimisers are plain SGD: equal
    gradients then give equal weights. (Adam divides each step by the gradient's own size, so its first
    step turns rounding differences in near-zero gradients into full-size steps.)"""
    module = models.get(name)
    config = module.Config.preset("tutorial")
    seed_everything(0)
    model = module.build(config)
    sgd = lambda module: torch.optim.SGD(module.parameters(), lr=1e-3)  # noqa: E731
    if name == "vid2vid":  # a GAN: D then G, two optimisers
        optimizers, clip = {"D": sgd(torch.nn.ModuleList([model.D_image, model.D_video])),
                            "G": sgd(model.generator)}, None
    else:  # DVG, a VAE: one optimiser, gradients clipped at 1 as in its train()
        optimizers, clip = {"model": sgd(model)}, 1.0
    return module, model, optimizers, clip, module.training_data(config, num_videos=64)


def train_steps(name: str, data) -> dict[str, torch.Tensor]:
    """``STEPS`` steps of ``name``'s training step on ``data``; the weights after them."""
    module, model, optimizers, clip, _ = setup(name)
    trainer = Trainer({"model": model}, optimizers, grad_clip=clip, seed=0, progress=False)
    trainer.fit(lambda tr, batch: module.training_step(model, tr, batch), data, STEPS, resume=False)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def follow_means(mu: torch.Tensor, logvar: torch.Tensor, generator=None) -> torch.Tensor:
    """DVG's one random draw made the same in every run: z = mu + sigma * eps with eps = 0."""
    return mu


def rank_main(rank: int, port: int, out: str) -> None:
    """One of the ``WORLD`` processes: join the group, train each model on this rank's shards."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(WORLD), LOCAL_RANK=str(rank), VIDGEN_DEVICE="cpu")
    torch.set_num_threads(1)
    init_distributed()
    from vidgen_lib.models import dvg

    dvg.reparameterize = follow_means
    results = {}
    for name in ("vid2vid", "dvg"):
        *_, dataset = setup(name)
        seed_everything(0)  # the sampler's seed, as a model's train() sets it
        results[name] = train_steps(name, infinite_batches(loader(dataset, PER_RANK_BATCH)))
    draws = [None] * WORLD  # what each rank's generator draws next: must differ
    torch.distributed.all_gather_object(draws, torch.rand(4))
    results["draws"] = draws
    if rank == 0:
        torch.save(results, out)
    torch.distributed.destroy_process_group()


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("ddp") / "rank0.pt"
    mp.spawn(rank_main, args=(free_port(), str(out)), nprocs=WORLD, join=True)
    return torch.load(out, weights_only=True)


@pytest.mark.parametrize("name", ["vid2vid", "dvg"])
def test_two_processes_train_like_one_on_the_doubled_batch(two_ranks, name, monkeypatch):
    from vidgen_lib.models import dvg

    monkeypatch.setattr(dvg, "reparameterize", follow_means)
    *_, dataset = setup(name)
    # One process, batches of WORLD * PER_RANK_BATCH in the same order as the shards: batch s of
    # rank r is items r, r + WORLD, ... of the global batch s.
    sampler = DistributedSampler(dataset, num_replicas=1, rank=0, shuffle=True, seed=0, drop_last=True)
    whole = infinite_batches(DataLoader(dataset, batch_size=WORLD * PER_RANK_BATCH, sampler=sampler))
    single = train_steps(name, whole)
    start = setup(name)[1].state_dict()
    keys = [k for k in single if single[k].is_floating_point()]
    moved = max((single[k] - start[k]).abs().max().item() for k in keys)
    assert moved > 1e-4  # training changed the weights, and the two processes changed them the same way:
    apart = max((two_ranks[name][k] - single[k]).abs().max().item() for k in keys)
    assert apart < 1e-4 * moved, f"{name}: weights {apart:.2e} apart after moving {moved:.2e}"


def test_each_process_draws_its_own_noise(two_ranks):
    first, second = two_ranks["draws"]
    assert not torch.equal(first, second)


def test_torchrun_trains_resumes_and_rank0_alone_writes_the_card(tmp_path):
    env = {**os.environ, "VIDGEN_DEVICE": "cpu", "OMP_NUM_THREADS": "1"}

    def torchrun(steps: int) -> None:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                   "-m", "vidgen_lib", "train", "dvg", "--steps", str(steps), "--set", "batch_size=2",
                   "--set", "eval_videos=0", "--out", str(tmp_path)]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]

    torchrun(1)
    torchrun(2)  # resumes after step 1: both processes load the state rank 0 wrote
    card = json.loads((tmp_path / "dvg.json").read_text())
    assert card["hardware"]["processes"] == 2
    assert card["command"].startswith("OMP_NUM_THREADS=1 torchrun --nproc_per_node 2 -m vidgen_lib train dvg")
    assert card["steps"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dvg.json", "dvg.pt", "runs"]
    state = torch.load(tmp_path / "runs" / "dvg" / "train_state.pt", weights_only=True)
    assert state["step"] == 2 and [row["step"] for row in state["history"]] == [1, 2]
    first, second = state["torch_rng_ranks"]  # each process's own random state, for the next resume
    assert not torch.equal(first, second)
