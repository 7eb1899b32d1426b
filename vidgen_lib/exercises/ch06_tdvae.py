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


@register("6.4")
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
            got = call("6.4", fn, model, x, jumps)
    want = tdvae.rollout(model, x, jumps, seed=9)
    if not isinstance(got, Tensor) or got.shape != want.shape:
        shape = tuple(got.shape) if isinstance(got, Tensor) else type(got).__name__
        raise ExerciseError(f"Exercise 6.4: expected shape {tuple(want.shape)} (batch, one frame per jump, "
                            f"x_dim); got {shape}.")
    if torch.allclose(got, want, atol=1e-5):
        passed("6.4", "your latent rollout matches tdvae.rollout draw for draw.")
        return
    raise ExerciseError("Exercise 6.4: the frames differ from tdvae.rollout with the same seed. Start from "
                        "the *last* belief, sample z once from model.belief, then for every jump sample from "
                        "model.transition given [z, jump code] and decode with model.decode_mean; draw "
                        "nothing else at random.")



@register("6.5")
def check_max_jump_experiment(jump_error_after: Callable[[int], float]) -> None:
    """6.5: ``jump_error_after(max_jump)``: the RMSE of one jump of 10 steps from the belief, against the
    clean oscillator, of a model trained briefly with jumps of at most ``max_jump``; training jumps that
    reach 10 must lower it."""
    errors = measure_settings("6.5", jump_error_after, (1, 10), "the RMSE")
    if not errors[10] < errors[1]:
        raise ExerciseError(f"Exercise 6.5: trained with jumps up to 10 the error of a jump of 10 is "
                            f"{errors[10]:.4f}, with jumps of 1 only {errors[1]:.4f}: the longer training "
                            "jumps should lower it. Do both runs use the same steps and seed and no long "
                            "jumps (long_jump_prob=0), and do you measure one jump of 10 against the clean "
                            "signal?")
    passed("6.5", f"the RMSE of one jump of 10 steps falls from {errors[1]:.3f} (trained on jumps of 1) to "
                  f"{errors[10]:.3f} (jumps of 1..10) after the same training.")

# --- 6.3: the five terms of Eq. 6 from the model's parts ------------------------------------------

TERMS = ("log_pd", "log_pb_t1", "log_pt", "log_pb_t2", "log_qs")


def _wired_terms(model, x: Tensor, t1: Tensor, t2: Tensor, noise_2: Tensor, noise_1: Tensor, *,
                 z2_belief: str = "t2", qs_order: str = "b1 b2", pt_forward: bool = True,
                 decode: str = "z2 x2", pb1_belief: str = "t1",
                 swap_noise: bool = False) -> tuple[Tensor, ...]:
    """The five log-densities of Eq. 6 at one sample per sequence, wired as ``tdvae.tdvae_loss`` wires them;
    the keywords give the typical mistakes (the defaults are the right wiring)."""
    rows = torch.arange(x.shape[0])
    beliefs = model.beliefs(x)
    b = {"t1": beliefs[rows, t1], "t2": beliefs[rows, t2]}
    jump = model.jump_code(t2 - t1)
    if swap_noise:
        noise_2, noise_1 = noise_1, noise_2
    z2, _, _ = model.belief.sample(b[z2_belief], noise_2)  # z_t2 ~ p_B(z | b_t2)
    first, second = (b["t1"], b["t2"]) if qs_order == "b1 b2" else (b["t2"], b["t1"])
    cond_q = torch.cat([first, second, z2, *jump], -1)
    z1, _, _ = model.smoothing.sample(cond_q, noise_1)  # z_t1 ~ q_S(z | z_t2, b_t1, b_t2)
    z_decoded, t_decoded = decode.split()
    log_pd = -model.decoder_nll({"z2": z2, "z1": z1}[z_decoded], x[rows, {"x2": t2, "x1": t1}[t_decoded]])
    log_pt = (model.transition.log_prob(z2, torch.cat([z1, *jump], -1)) if pt_forward
              else model.transition.log_prob(z1, torch.cat([z2, *jump], -1)))
    return (log_pd, model.belief.log_prob(z1, b[pb1_belief]), log_pt, model.belief.log_prob(z2, b["t2"]),
            model.smoothing.log_prob(z1, cond_q))


_WIRING_MISTAKES = [
    ({"z2_belief": "t1"}, "z_t2 is drawn from the belief at t1: draw it from the *later* belief, "
                          "p_B(z | b_t2), the one that has seen x_t2."),
    ({"qs_order": "b2 b1"}, "q_S's input is [b_t1, b_t2, z_t2, jump code], in that order: you swapped the "
                            "two beliefs."),
    ({"pt_forward": False}, "p_T runs forward in time: score z_t2 given [z_t1, jump code], "
                            "model.transition.log_prob(z_t2, cond), not z_t1 given z_t2."),
    ({"decode": "z1 x1"}, "only x_t2 is rendered, from z_t2: log p_D(x_t2 | z_t2), not the frame at t1."),
    ({"decode": "z1 x2"}, "the decoder renders x_t2 from z_t2 (the state drawn from the later belief), not "
                          "from z_t1."),
    ({"decode": "z2 x1"}, "decode z_t2 and score it against the frame at t2, x[:, t2], not x[:, t1]."),
    ({"pb1_belief": "t2"}, "log p_B(z_t1 | b_t1) scores z_t1 under the *earlier* belief: that is the "
                           "temporal-difference term, which pulls b_t1 towards what q_S learned from b_t2."),
    ({"swap_noise": True}, "the noises are swapped: noise_2 draws z_t2 (first, from p_B), noise_1 draws z_t1 "
                           "(from q_S)."),
]


def _tiny_tdvae(seed: int, **sizes):
    from vidgen_lib.models import tdvae

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return tdvae.build(tdvae.Config(pre_hidden=16, belief_size=12, z_dim=3, hidden=10, decoder_hidden=12,
                                        analytic_kl=False, **sizes))


def _wiring_cases() -> list[tuple]:
    """Two small seeded models (digits: Bernoulli frames, the jump as dt / D; oscillator: a Gaussian 1-D
    value, a one-hot jump code, a residual p_T) with sequences, time pairs and noise."""
    g = torch.Generator().manual_seed(65)
    digits = _tiny_tdvae(650, data="digits", frame_size=4, max_jump=4)
    oscillator = _tiny_tdvae(651, data="oscillator", max_jump=5, jump_one_hot=8, residual_transition=True,
                             likelihood="gaussian", obs_std=0.1)
    t1, t2 = torch.tensor([0, 3, 1, 5, 2]), torch.tensor([2, 4, 5, 8, 3])
    cases = []
    for model, x in ((digits, (torch.rand(5, 10, 16, generator=g) > 0.5).float()),
                     (oscillator, torch.randn(5, 10, 1, generator=g))):
        noise = [torch.randn(5, model.config.latent_size, generator=g) for _ in range(2)]
        cases.append((model, x, t1, t2, *noise))
    return cases


def _same(a: Tensor, b: Tensor) -> bool:
    return torch.allclose(a.detach(), b.detach(), atol=1e-4, rtol=1e-4)


@register("6.3")
def check_eq6_wiring(fn: Callable[..., tuple[Tensor, ...]]) -> None:
    """6.3: ``fn(model, x, t1, t2, noise_2, noise_1)``: x (B, T, x_dim), t1 < t2 (B,), noise (B, latent_size)
    for z_t2 and z_t1 -> (log_pd, log_pb_t1, log_pt, log_pb_t2, log_qs), each (B,), at one sample per
    sequence; compared with ``tdvae.tdvae_loss`` (its single-sample form) term by term, and its gradients."""
    from vidgen_lib.models import tdvae

    for model, x, t1, t2, noise_2, noise_1 in _wiring_cases():
        kind = f"the {model.config.data} model"
        model.zero_grad()
        got = call("6.3", fn, model, x, t1, t2, noise_2, noise_1)
        if not (isinstance(got, (tuple, list)) and len(got) == 5):
            raise ExerciseError("Exercise 6.3: return the five log-densities as a tuple "
                                "(log_pd, log_pb_t1, log_pt, log_pb_t2, log_qs), the order td_loss takes.")
        for name, term in zip(TERMS, got):
            if not isinstance(term, Tensor) or tuple(term.shape) != (x.shape[0],):
                shape = tuple(term.shape) if isinstance(term, Tensor) else type(term).__name__
                raise ExerciseError(f"Exercise 6.3: {name} should have shape ({x.shape[0]},), one "
                                    f"log-density per sequence (summed over the latent layers and the "
                                    f"frame's values); got {shape}.")
        want = _wired_terms(model, x, t1, t2, noise_2, noise_1)
        close = [_same(g, w) for g, w in zip(got, want)]
        if not all(close):
            for flags, hint in _WIRING_MISTAKES:
                variant = _wired_terms(model, x, t1, t2, noise_2, noise_1, **flags)
                if all(_same(g, v) for g, v in zip(got, variant)):
                    raise ExerciseError(f"Exercise 6.3: {hint}")
            if _same(got[0], -want[0]):
                raise ExerciseError("Exercise 6.3: log_pd has the wrong sign: model.decoder_nll returns "
                                    "−log p_D, the reconstruction cost.")
            if all(any(_same(g, w) for w in want) for g in got):
                raise ExerciseError("Exercise 6.3: every term is right but they come in another order: "
                                    "return (log_pd, log_pb_t1, log_pt, log_pb_t2, log_qs), the order "
                                    "td_loss takes.")
            wrong = [name for name, ok in zip(TERMS, close) if not ok]
            raise ExerciseError(
                f"Exercise 6.3: on {kind}, {', '.join(wrong)} differ{'s' if len(wrong) == 1 else ''} from "
                "tdvae_loss's wiring. Read b_t1 and b_t2 from model.beliefs(x) at t1 and t2; draw z_t2 from "
                "model.belief given b_t2 with noise_2, then z_t1 from model.smoothing given "
                "[b_t1, b_t2, z_t2, jump] with noise_1; score z_t1 under model.belief given b_t1 and under "
                "model.smoothing, z_t2 under model.belief given b_t2 and under model.transition given "
                "[z_t1, jump]; log_pd = −model.decoder_nll(z_t2, x_t2).")
        library = tdvae.tdvae_loss(model, x, t1, t2, noise=(noise_2, noise_1))
        parts = {"loss": -(got[0] + got[1] + got[2] - got[3] - got[4]).mean(), "recon_nll": -got[0].mean(),
                 "kl_smoothing": (got[4] - got[1]).mean(), "kl_transition": (got[3] - got[2]).mean()}
        for key, value in parts.items():
            if not torch.allclose(value.detach(), library[key].detach(), atol=1e-4, rtol=1e-4):
                raise ExerciseError(f"Exercise 6.3: on {kind} your terms give {key} = {value.item():.4f}, "
                                    f"tdvae.tdvae_loss {library[key].item():.4f}.")
        if not parts["loss"].requires_grad:
            raise ExerciseError("Exercise 6.3: the terms carry no gradient: compute them with the model's "
                                "parts, without torch.no_grad() or .detach(), so that the loss trains them.")
        mine = torch.autograd.grad(parts["loss"], list(model.parameters()), allow_unused=True)
        theirs = torch.autograd.grad(library["loss"], list(model.parameters()), allow_unused=True)
        for (name, _), a, b in zip(model.named_parameters(), mine, theirs):
            a = torch.zeros_like(b) if a is None and b is not None else a
            if b is not None and not torch.allclose(a, b, atol=1e-4, rtol=1e-3):
                raise ExerciseError(f"Exercise 6.3: the values are right but the gradient of {name} is not "
                                    "tdvae_loss's: the samples must stay reparameterised (no .detach() on "
                                    "z_t2 or z_t1), so that the loss trains p_B and q_S through them.")
    passed("6.3", "the five terms of Eq. 6 match tdvae.tdvae_loss (single sample) term by term, with the "
                  "same gradients, on a digits and an oscillator model.")


# --- answers with the learner's signatures, where the library has no such function: a notebook goes on
# with these while an exercise is not done yet (``use_answer``) --------------------------------------

def td_loss(log_pd: Tensor, log_pb_t1: Tensor, log_pt: Tensor, log_pb_t2: Tensor, log_qs: Tensor) -> Tensor:
    """6.2's answer: the negative ELBO of Eq. 6 from its terms, averaged over the batch."""
    return -(log_pd + log_pb_t1 + log_pt - log_pb_t2 - log_qs).mean()


def eq6_terms(model, x: Tensor, t1: Tensor, t2: Tensor, noise_2: Tensor,
              noise_1: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """6.3's answer: (log_pd, log_pb_t1, log_pt, log_pb_t2, log_qs), each (B,), at one sample of (z_t2, z_t1),
    wired as ``tdvae.tdvae_loss`` wires them."""
    return _wired_terms(model, x, t1, t2, noise_2, noise_1)
