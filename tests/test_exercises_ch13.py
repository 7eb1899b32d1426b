"""The checks of notebook 13 pass on the solutions, report stubs, and name the typical mistakes."""
from __future__ import annotations

import random

import pytest
import torch

from vidgen_lib.exercises import ExerciseError, load_all
from vidgen_lib.exercises import ch13_leaderboard as ch13


def stub(*args: object) -> None:
    raise NotImplementedError("Exercise 13.M: a stub")


def fake_fvd(name: str, seed: int) -> float:
    """A stand-in for FVD: VGAN about 20, MoCoGAN about 35, each moved a little by the seed."""
    return {"vgan": 20.0, "mocogan": 35.0}[name] + 0.5 * seed


def test_checks_are_registered():
    checks = load_all()
    assert checks["13.1"] is ch13.check_fvd_across_seeds
    assert checks["13.2"] is ch13.check_data_parallel_gradients


def test_fvd_across_seeds_passes_a_seeded_answer_and_names_the_mistakes(capsys):
    assert ch13.check_fvd_across_seeds(fake_fvd) == {"vgan": [20.0, 20.0, 20.5], "mocogan": [35.0, 35.5]}
    assert capsys.readouterr().out.startswith("✓ Exercise 13.1 passed")
    with pytest.raises(ExerciseError, match="not implemented yet"):
        ch13.check_fvd_across_seeds(stub)
    with pytest.raises(ExerciseError, match="not repeatable"):
        ch13.check_fvd_across_seeds(lambda name, seed: fake_fvd(name, 0) + random.random())
    with pytest.raises(ExerciseError, match="the seed is not used"):
        ch13.check_fvd_across_seeds(lambda name, seed: fake_fvd(name, 0))
    with pytest.raises(ExerciseError, match="no more than a seed"):
        ch13.check_fvd_across_seeds(lambda name, seed: 20.0 + 10 * seed + (name == "mocogan"))
    with pytest.raises(ExerciseError, match="finite and >= 0"):
        ch13.check_fvd_across_seeds(lambda name, seed: -1.0 - seed)


def test_the_seeded_fvd_reference_repeats_a_seed():
    from vidgen_lib import features, models
    from vidgen_lib.datasets import video_batch

    vgan = models.get("vgan")
    model = vgan.load_pretrained("cpu")
    reference = features.video_features(video_batch(vgan.dataset(model.config, "test", 16), 16))
    fvd = ch13.seeded_fvd({"vgan": model}, reference, 16)
    assert fvd("vgan", 3) == fvd("vgan", 3) != fvd("vgan", 4)


def test_data_parallel_gradients_passes_the_reference_and_names_the_mistakes(capsys):
    ch13.check_data_parallel_gradients(ch13.data_parallel_gradients)
    assert capsys.readouterr().out.startswith("✓ Exercise 13.2 passed")
    with pytest.raises(ExerciseError, match="not implemented yet"):
        ch13.check_data_parallel_gradients(stub)

    def summed(loss_fn, params, batch, processes):
        grads = [torch.autograd.grad(loss_fn(shard), params) for shard in batch.chunk(processes)]
        return [torch.stack(g).sum(dim=0) for g in zip(*grads)]

    def whole_batch(loss_fn, params, batch, processes):
        return list(torch.autograd.grad(loss_fn(batch), params))

    def first_shard_only(loss_fn, params, batch, processes):  # rank 0's gradient, never averaged
        grads = [torch.autograd.grad(loss_fn(shard), params) for shard in batch.chunk(processes)]
        return list(grads[0])

    def one_tensor(loss_fn, params, batch, processes):
        grads = ch13.data_parallel_gradients(loss_fn, params, batch, processes)
        return torch.cat([g.reshape(-1) for g in grads])

    mistakes = {"times too large": summed, "shards of \\[12\\] rows": whole_batch,
                "differ from the whole batch": first_shard_only, "one gradient per": one_tensor}
    for message, wrong in mistakes.items():
        with pytest.raises(ExerciseError, match=message):
            ch13.check_data_parallel_gradients(wrong)
