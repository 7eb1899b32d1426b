"""Checks for the exercises of notebook 06 (TD-VAE).

The reference answers are ``vidgen_lib.models.tdvae``'s own functions; each check also recognises
the typical mistakes and names them. Checks that seed the global generator (a learner's code draws from
it) restore its state afterwards.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from vidgen_lib.exercises import ExerciseError, as_float, call, passed, measure_settings, register


@register("6.1")
def check_time_pairs(fn: Callable[[int, int, int], tuple[Tensor, Tensor]]) -> None:
    """Check ``fn(batch_size, num_frames, max_jump)`` -> (t1, t2), 1 <= t2 − t1 <= D, 0 <= t1 < t2 < T."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        outs = [(T, D, call("6.1", fn, 4000, T, D)) for T, D in [(20, 4), (6, 5), (10, 1)]]
    for T, D, out in outs:
        if not (isinstance(out, tuple) and len(out) == 2):
            raise ExerciseError("Exercise 6.1: return a pair (t1, t2) of tensors.")
        t1, t2 = (torch.as_tensor(t) for t in out)
        if t1.shape != (4000,) or t2.shape != (4000,):
            raise ExerciseError(f"Exercise 6.1: t1 and t2 should each have shape (4000,), got "
                                f"{tuple(t1.shape)} and {tuple(t2.shape)}.")
        dt = t2 - t1
        where = f"(T={T}, D={D})"
        if dt.min() < 1:
            raise ExerciseError(f"Exercise 6.1: some t2 − t1 = {int(dt.min())} {where}; the jump must be at "
                                "least 1, so that t2 is strictly after t1: torch.randint's upper bound is "
                                "exclusive.")
        if dt.max() > D:
            raise ExerciseError(f"Exercise 6.1: some t2 − t1 = {int(dt.max())} > D = {D}.")
        if t1.min() < 0 or t2.max() > T - 1:
            raise ExerciseError(f"Exercise 6.1: times must be frame indices 0..{T - 1} {where}; got t1 from "
                                f"{int(t1.min())}, t2 up to {int(t2.max())}.")
        if set(dt.tolist()) != set(range(1, D + 1)):
            raise ExerciseError(f"Exercise 6.1: every jump in 1..{D} should occur (T={T}); you drew only "
                                f"{sorted(set(dt.tolist()))}.")
        if int(t1.min()) != 0 or int(t1.max()) != T - 2:
            raise ExerciseError(f"Exercise 6.1: t1 should be able to take every value 0..{T - 2} {where}; "
                                f"you drew {int(t1.min())}..{int(t1.max())}.")
    passed("6.1", "1 <= t2 − t1 <= D, every pair inside the sequence, every jump and every start used.")


@register("6.2")
def check_td_loss(fn: Callable[..., Tensor]) -> None:
    """Check ``fn(log_pd, log_pb_t1, log_pt, log_pb_t2, log_qs)`` = mean of the negated Eq. 6 terms."""
    g = torch.Generator().manual_seed(8)
    log_pd, log_pb1, log_pt, log_pb2, log_qs = (torch.randn(7, generator=g) * 3 for _ in range(5))
    got = as_float("6.2", call("6.2", fn, log_pd, log_pb1, log_pt, log_pb2, log_qs), "the loss")
    elbo = log_pd + log_pb1 + log_pt - log_pb2 - log_qs
    want = float(-elbo.mean())
    if abs(got - want) < 1e-4:
        passed("6.2", "loss = −mean[log p_D + log p_B(z1|b1) + log p_T − log p_B(z2|b2) − log q_S] = "
                      f"{got:.4f}.")
        return
    if abs(got + want) < 1e-4:
        hint = "the sign is flipped: the loss is the *negative* ELBO."
    elif abs(got - float(-(log_pd + log_pb1 + log_pt + log_pb2 + log_qs).mean())) < 1e-4:
        hint = ("log p_B(z_t2|b_t2) and log q_S(z_t1|...) enter the ELBO with a minus sign: they are the "
                "densities the samples were drawn from (entropy terms).")
    elif abs(got - float(-(log_pd + log_pb1 + log_pt - log_pb2 - log_qs).sum())) < 1e-4:
        hint = "average over the batch instead of summing."
    else:
        hint = ("ELBO = log p_D + log p_B(z_t1|b_t1) + log p_T − log p_B(z_t2|b_t2) − log q_S; "
                "return −mean(ELBO).")
    raise ExerciseError(f"Exercise 6.2: got {got:.4f}, expected {want:.4f}: {hint}")


@register("6.3")
def check_rollout(fn: Callable[..., Tensor]) -> None:
    """Check ``fn(model, x, jumps)`` against ``tdvae.rollout`` with the same random seed, on a small model."""
    from vidgen_lib.datasets.shifting import oscillator_batch
    from vidgen_lib.models import tdvae

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = tdvae.build(tdvae.Config.preset("oscillator")).eval()
        x = oscillator_batch(3, 30, generator=torch.Generator().manual_seed(1))["x"]
        jumps = [5, 1, 1, 3]
        torch.manual_seed(9)  # the learner's draws: the same as tdvae.rollout's with seed=9
        with torch.no_grad():
            got = call("6.3", fn, model, x, jumps)
    want = tdvae.rollout(model, x, jumps, seed=9)
    if not isinstance(got, Tensor) or got.shape != want.shape:
        shape = tuple(got.shape) if isinstance(got, Tensor) else type(got).__name__
        raise ExerciseError(f"Exercise 6.3: expected shape {tuple(want.shape)} (batch, one frame per jump, "
                            f"x_dim); got {shape}.")
    if torch.allclose(got, want, atol=1e-5):
        passed("6.3", "your latent rollout matches tdvae.rollout draw for draw.")
        return
    raise ExerciseError("Exercise 6.3: the frames differ from tdvae.rollout with the same seed. Start from "
                        "the *last* belief, sample z once from model.belief, then for every jump sample from "
                        "model.transition given [z, jump code] and decode with model.decode_mean; draw "
                        "nothing else at random.")



@register("6.4")
def check_max_jump_experiment(jump_error_after: Callable[[int], float]) -> None:
    """6.4: ``jump_error_after(max_jump)``: the RMSE of one jump of 10 steps from the belief, against the
    clean oscillator, of a model trained briefly with jumps of at most ``max_jump``; training jumps that
    reach 10 must lower it."""
    errors = measure_settings("6.4", jump_error_after, (1, 10), "the RMSE")
    if not errors[10] < errors[1]:
        raise ExerciseError(f"Exercise 6.4: trained with jumps up to 10 the error of a jump of 10 is "
                            f"{errors[10]:.4f}, with jumps of 1 only {errors[1]:.4f}: the longer training "
                            "jumps should lower it. Do both runs use the same steps and seed and no long "
                            "jumps (long_jump_prob=0), and do you measure one jump of 10 against the clean "
                            "signal?")
    passed("6.4", f"the RMSE of one jump of 10 steps falls from {errors[1]:.3f} (trained on jumps of 1) to "
                  f"{errors[10]:.3f} (jumps of 1..10) after the same training.")

# --- answers with the learner's signatures, where the library has no such function: a notebook goes on
# with these while an exercise is not done yet (``use_answer``) --------------------------------------

def td_loss(log_pd: Tensor, log_pb_t1: Tensor, log_pt: Tensor, log_pb_t2: Tensor, log_qs: Tensor) -> Tensor:
    """6.2's answer: the negative ELBO of Eq. 6 from its terms, averaged over the batch."""
    return -(log_pd + log_pb_t1 + log_pt - log_pb_t2 - log_qs).mean()
