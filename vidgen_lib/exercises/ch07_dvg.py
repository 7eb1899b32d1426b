"""Checks for the exercises of notebook 07 (DVG, action-conditioned SVG-LP).

Each check calls the learner's function on known inputs, prints one ``✓`` line when it is right, and
otherwise raises ``ExerciseError`` with what is wrong and a hint. The reference answers are the
library's own: ``vidgen_lib.models.dvg`` (the free-bits charge of ``dvg_loss``, the KL schedule, the
predictor's input) and ``vidgen_lib.evaluation.dvg.agent_centroids``.
"""
from __future__ import annotations


import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from vidgen_lib.datasets.shapes import RGB
from vidgen_lib.evaluation.dvg import agent_centroids
from vidgen_lib.exercises import ExerciseError, as_float, as_tensor, call, passed, measure_settings, register
from vidgen_lib.models import dvg
from vidgen_lib.runtime import single_thread


@register("7.1")
def check_dvg_free_bits(charged_kl: Callable[[Tensor, float], Tensor]) -> None:
    """7.1: ``charged_kl(kl, free_bits)``: kl (B, T, Z), the KL per video, step and latent dimension -> the
    number the posterior is charged, sum over (t, i) of max(free_bits, the batch mean of kl[:, t, i])."""
    g = torch.Generator().manual_seed(71)
    kl = torch.rand(6, 4, 3, generator=g, dtype=torch.float64) * 0.6  # some dimensions below 0.25, some above
    got = as_float("7.1", call("7.1", charged_kl, kl, 0.25), "the charged KL")
    want = kl.mean(dim=0).clamp(min=0.25).sum().item()
    if math.isclose(got, want, rel_tol=1e-6):
        plain = as_float("7.1", call("7.1", charged_kl, kl, 0.0), "the charged KL")
        if not math.isclose(plain, kl.sum(dim=(1, 2)).mean().item(), rel_tol=1e-6):
            raise ExerciseError("Exercise 7.1: with free_bits = 0 the charge should be the plain KL, summed "
                                "over steps and dimensions and averaged over the batch.")
        passed("7.1", "each (step, dimension) is charged max(λ, its batch-mean KL); with λ = 0 the plain KL.")
        return
    slips = {kl.clamp(min=0.25).mean(dim=0).sum().item():
             "you applied the floor to each video before averaging: free bits compare λ with the KL "
             "averaged over the batch, E_batch[KL_{t,i}].",
             max(0.25, kl.mean(dim=0).sum().item()):
             "λ is a floor per latent dimension and step, not one floor for the whole sum.",
             kl.mean(dim=0).sum().item():
             "below λ a dimension is still charged λ: take max(λ, KL) per (t, i).",
             kl.sum(dim=0).clamp(min=0.25).sum().item():
             "average the KL over the batch (dim 0), do not sum it."}
    hint = next((text for value, text in slips.items() if math.isclose(got, value, rel_tol=1e-6)),
                "kl.mean(dim=0) gives (T, Z); floor it at free_bits, then sum.")
    raise ExerciseError(f"Exercise 7.1: the charged KL is {got:.4f}, expected {want:.4f}: {hint}")


@register("7.3")
def check_dvg_kl_weight(kl_weight: Callable[[int, float, int], float]) -> None:
    """7.3: ``kl_weight(step, beta, warmup_steps)``: a linear ramp from 0 to beta over warmup_steps, then
    beta."""
    cases = [(0, 1e-4, 1000), (250, 1e-4, 1000), (1000, 1e-4, 1000), (5000, 1e-4, 1000), (3, 0.5, 6),
             (7, 0.5, 0)]
    for step, beta, warmup in cases:
        got = as_float("7.3", call("7.3", kl_weight, step, beta, warmup), "the KL weight")
        want = dvg.kl_weight(step, beta, warmup)
        if math.isfinite(got) and abs(got - want) <= 1e-12 + 1e-6 * abs(want):
            continue
        where = f"at step {step} (beta={beta}, warmup_steps={warmup}): got {got:.6g}, expected {want:.6g}"
        if warmup == 0:
            hint = "with warmup_steps = 0 there is no warm-up: return beta (and do not divide by zero)."
        elif step > warmup and got > beta:
            hint = "the weight keeps growing after the warm-up: cap it at beta (min(1, step / warmup_steps))."
        elif step == 0 and got == beta:
            hint = "at step 0 the KL should be switched off (weight 0), and reach beta at warmup_steps."
        else:
            hint = "beta * min(1, step / warmup_steps)."
        raise ExerciseError(f"Exercise 7.3: wrong weight {where}: {hint}")
    passed("7.3", "beta rises linearly from 0 to beta over the warm-up, then stays at beta.")


@register("7.2")
def check_dvg_predictor_input(predictor_input: Callable[[Tensor, Tensor, Tensor, int], Tensor]) -> None:
    """7.2: ``predictor_input(h_prev (B, G), z (B, Z), action (B,) int, num_actions)`` -> [h, z, one-hot a],
    (B, G + Z + A)."""
    g = torch.Generator().manual_seed(74)
    h, z = torch.randn(3, 6, generator=g), torch.randn(3, 2, generator=g)
    action = torch.tensor([0, 4, 2])
    got = as_tensor("7.2", call("7.2", predictor_input, h, z, action, 5), (3, 13),
                  "the predictor's input [h_{t-1}, z_t, one_hot(a_t)]")
    want = torch.cat([h, z, F.one_hot(action, 5).float()], dim=-1)
    if torch.allclose(got.float(), want):
        passed("7.2", "the predictor sees [h_{t-1}, z_t, one_hot(a_t)], in that order.")
        return
    if torch.allclose(got[:, :6].float(), h) and torch.allclose(got[:, 6:8].float(), z):
        hint = "h and z are right, the action part is not: one_hot(action, num_actions) as floats."
    elif torch.allclose(got[:, :2].float(), z):
        hint = "the order is [h_{t-1}, z_t, action], h first."
    else:
        hint = "torch.cat([h_prev, z, F.one_hot(action, num_actions).float()], dim=-1)."
    raise ExerciseError(f"Exercise 7.2: your input is wrong: {hint}")


@register("7.5")
def check_dvg_agent_centroid(centroid: Callable[[Tensor, Tensor], Tensor]) -> None:
    """7.5: ``centroid(video, rgb)``: video (B, 3, T, H, W) in [0, 1], rgb (B, 3) the agent's colour ->
    (B, T, 2), the (y, x) centroid of the pixels within 0.5 of rgb in every channel; the frame's centre
    where there are none."""
    video = torch.full((2, 3, 3, 8, 8), 0.05)
    video[0, :, 0, 1:3, 2:5] = torch.tensor([0.95, 0.1, 0.1])[:, None, None]  # red agent, not exactly 1
    video[0, :, 1, 5:7, 4:6] = torch.tensor([0.9, 0.0, 0.0])[:, None, None]
    video[0, :, :, 3:6, 0:2] = torch.tensor([0.9, 0.9, 0.0])[:, None, None, None]  # yellow: red and green
    video[1, :, 0:2, 6:8, 6:8] = torch.tensor([0.0, 0.0, 1.0])[:, None, None, None]  # blue; frame 2 empty
    colors = torch.tensor([0, 2])  # red, blue
    rgb = torch.as_tensor(RGB, dtype=torch.float32)[colors]
    got = as_tensor("7.5", call("7.5", centroid, video, rgb), (2, 3, 2), "one (y, x) per video and frame")
    want = agent_centroids(video, colors)
    if torch.allclose(got.float(), want, atol=1e-4):
        passed("7.5", "the centroid of the agent's pixels, other shapes ignored, the centre if it is gone.")
        return
    if torch.allclose(got.float(), want.flip(-1), atol=1e-4):
        hint = "y and x are swapped: return (row, column), the order of the frame's axes."
    elif torch.allclose(got[0, 0].float(), want[0, 0], atol=1e-4) and not torch.allclose(
            got[1, 2].float(), want[1, 2], atol=1e-4):
        hint = "a frame without the agent should give the frame's centre ((H - 1) / 2, (W - 1) / 2), not NaN."
    elif not torch.allclose(got[0, 0].float(), want[0, 0], atol=1e-4):
        hint = ("a pixel is the agent's when every channel is within 0.5 of its colour: the yellow shape is "
                "not red, and 0.95 is red enough.")
    else:
        hint = "average the row and column indices of the agent's pixels in each frame."
    raise ExerciseError(f"Exercise 7.5: your centroids are wrong: {hint}")



@register("7.6")
def check_free_bits_experiment(kl_after: Callable[[float], float]) -> None:
    """7.6: ``kl_after(free_bits)``: the KL(q || p) per clip on held-out clips of a DVG trained briefly with
    that free-bits floor (and a strong KL weight); free bits must leave the posterior more KL."""
    kls = measure_settings("7.6", kl_after, (0.0, 0.25), "the KL")
    if not kls[0.25] > kls[0.0]:
        raise ExerciseError(f"Exercise 7.6: with free bits the held-out KL is {kls[0.25]:.4f}, without them "
                            f"{kls[0.0]:.4f}: free bits should keep it higher. Do both runs use the same "
                            "config, steps and seed, with only free_bits changed, and do you measure the KL "
                            "of the posterior against the prior on the held-out clips?")
    passed("7.6", f"the KL the posterior keeps is {kls[0.0]:.4f} nats per clip without free bits and "
                  f"{kls[0.25]:.4f} with λ = 0.25, after the same training.")

# --- 7.4: the teacher-forced pass, wired from the model's parts ------------------------------------

PASS_KEYS = ("mu_q", "logvar_q", "mu_p", "logvar_p")


def _teacher_forced(model: dvg.DVG, video: Tensor, actions: Tensor, noise: Tensor, *,
                    posterior_frame: int = 0, prior_frame: int = -1, predictor_frame: int = -1,
                    z_from: str = "q", skip_frame: int = -1, std_power: float = 0.5,
                    carry_states: bool = True, detach_z: bool = False) -> dict[str, Tensor]:
    """``DVG.forward`` with the draws of z given: noise (B, T-1, Z), ``noise[:, t - 1]`` for z_t. The keywords
    give the typical mistakes (frames as offsets from t; the defaults are the right wiring)."""
    b, t_total = video.shape[0], video.shape[2]
    h, skips = model.encode(video)

    def fresh_states() -> tuple:
        return tuple(part.initial_state(b, h) for part in (model.posterior, model.prior, model.predictor))

    post, prior, pred = fresh_states()
    recon, stats = [], []
    for t in range(1, t_total):
        if not carry_states:
            post, prior, pred = fresh_states()
        mu_q, logvar_q, post = model.posterior(h[:, t + posterior_frame], post)
        a = actions[:, t - 1]  # a_t moves frame t - 1 to frame t
        mu_p, logvar_p, prior = model.prior_step(h[:, t + prior_frame], a, prior)
        mu, logvar = (mu_q, logvar_q) if z_from == "q" else (mu_p, logvar_p)
        z = mu + torch.exp(std_power * logvar) * noise[:, t - 1]
        z = z.detach() if detach_z else z
        g, pred = model.predictor_step(h[:, t + predictor_frame], z, a, pred)
        maps = model.decoder_maps(a, z)
        recon.append(model.decoder(g, [skip[:, t + skip_frame] for skip in skips], maps))
        stats.append((mu_q, logvar_q, mu_p, logvar_p))
    out = {"recon": torch.stack(recon, dim=2)}
    out.update({key: torch.stack([step[i] for step in stats], dim=1) for i, key in enumerate(PASS_KEYS)})
    return out


_PASS_MISTAKES = [
    ({"posterior_frame": -1}, "the posterior q(z_t | x_<=t) is fed h_t, the code of frame t itself: it is "
                              "the part that has seen the frame to explain (h[:, t], not h[:, t - 1])."),
    ({"prior_frame": 0}, "the learned prior must never see frame t: feed it h_{t-1} (h[:, t - 1]) and the "
                         "action; at test time, when frame t does not exist yet, it has nothing else."),
    ({"predictor_frame": 0}, "the predictor reads [h_{t-1}, z_t, a_t]: the previous frame's code (teacher "
                             "forcing), not h_t, the frame it has to predict."),
    ({"z_from": "p"}, "in training z_t is drawn from the posterior q (mu_q, logvar_q), which has seen "
                      "frame t; the prior only learns to match it through the KL (drawing from the prior is "
                      "the test-time pass)."),
    ({"skip_frame": 0}, "the decoder's skips come from the frame before, skip[:, t - 1]: the skips of frame "
                        "t would hand it the frame it has to predict."),
    ({"std_power": 1.0}, "z_t = mu + sigma * eps with sigma = exp(logvar / 2), not exp(logvar)."),
    ({"carry_states": False}, "each LSTM call returns its new state: pass it on to the next step (start from "
                              "initial_state once, before the loop), or the LSTMs forget the past."),
]


def _tiny_dvg(seed: int, **changes) -> dvg.DVG:
    base = {"frame_size": 16, "width": 8, "g_dim": 16, "z_dim": 3, "rnn_size": 16, "latent_rnn_size": 8}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return dvg.build(dvg.Config(**{**base, **changes}))


def _pass_cases() -> list[tuple]:
    """Two small seeded models (z and the action as decoder maps and a prior that sees the action; neither),
    clips, actions, and the library's teacher-forced pass under a seed with the same draws as ``noise``."""
    g = torch.Generator().manual_seed(76)
    models = [_tiny_dvg(760, action_maps=True, z_maps=True),
              _tiny_dvg(761, prior_sees_action=False, predictor_layers=1)]
    cases = []
    for model in models:
        b, t, z_dim = 3, 5, model.config.z_dim
        video = torch.rand(b, 3, t, 16, 16, generator=g)
        actions = torch.randint(model.config.num_actions, (b, t - 1), generator=g)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(7600)  # DVG.forward draws one (B, Z) eps per step, in order
            noise = torch.stack([torch.randn(b, z_dim) for _ in range(t - 1)], dim=1)
            torch.manual_seed(7600)
            library = model(video, actions)
        cases.append((model, video, actions, noise, library))
    return cases


def _same(a: Tensor, b: Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a.detach(), b.detach(), atol=1e-5, rtol=1e-4)


@register("7.4")
def check_teacher_forced_pass(fn: Callable[..., dict[str, Tensor]]) -> None:
    """7.4: ``fn(model, video, actions, noise)``: video (B, C, T, H, W), actions (B, T-1), noise (B, T-1, Z)
    -> {"recon": (B, C, T-1, H, W), "mu_q", "logvar_q", "mu_p", "logvar_p": (B, T-1, Z)}, the teacher-forced
    pass of ``DVG.forward`` with z_t = mu_q + sigma_q * noise[:, t - 1]; compared with
    ``model(video, actions)`` under the same draws, and the gradients of ``dvg.dvg_loss``."""
    with single_thread():
        _check_teacher_forced_pass(fn)


def _check_teacher_forced_pass(fn: Callable[..., dict[str, Tensor]]) -> None:
    for model, video, actions, noise, library in _pass_cases():
        got = call("7.4", fn, model, video, actions, noise)
        if not isinstance(got, dict) or not {"recon", *PASS_KEYS} <= set(got):
            keys = sorted(got) if isinstance(got, dict) else type(got).__name__
            raise ExerciseError("Exercise 7.4: return a dict with the keys 'recon', 'mu_q', 'logvar_q', "
                                f"'mu_p' and 'logvar_p', as model(video, actions) does; got {keys}.")
        b, c, t, size = video.shape[:4]
        shapes = {"recon": (b, c, t - 1, size, size)}
        shapes.update({key: (b, t - 1, model.config.z_dim) for key in PASS_KEYS})
        for key, shape in shapes.items():
            what = "the frames 1..T-1 stacked on the time axis, dim 2" if key == "recon" else "(B, T-1, Z)"
            as_tensor("7.4", got[key], shape, f"'{key}' ({what})")
        if not all(_same(got[key], library[key]) for key in shapes):
            for flags, hint in _PASS_MISTAKES:
                variant = _teacher_forced(model, video, actions, noise, **flags)
                if all(_same(got[key], variant[key]) for key in shapes):
                    raise ExerciseError(f"Exercise 7.4: {hint}")
            wrong = [key for key in shapes if not _same(got[key], library[key])]
            raise ExerciseError(
                f"Exercise 7.4: {', '.join(wrong)} differ{'s' if len(wrong) == 1 else ''} from "
                "model(video, actions) under the same draws. For t = 1 .. T-1, with a_t = actions[:, t - 1]: "
                "the posterior reads h[:, t], the prior h[:, t - 1] and a_t, z_t = mu_q + exp(logvar_q / 2) "
                "* noise[:, t - 1], the predictor reads h[:, t - 1], z_t and a_t, and the decoder g_t with "
                "the skips of frame t - 1 and model.decoder_maps(a_t, z_t); each LSTM's state goes on to the "
                "next step.")
        mine = dvg.dvg_loss(got, video, beta=1.0)["loss"]
        if not mine.requires_grad:
            raise ExerciseError("Exercise 7.4: the pass carries no gradient: build it from the model's parts "
                                "without torch.no_grad() or .detach(), so that the loss can train them.")
        theirs = dvg.dvg_loss(library, video, beta=1.0)["loss"]
        params = [p for p in model.parameters()]
        grads = zip(torch.autograd.grad(mine, params, allow_unused=True),
                    torch.autograd.grad(theirs, params, allow_unused=True))
        for (name, _), (a, want) in zip(model.named_parameters(), grads):
            a = torch.zeros_like(want) if a is None and want is not None else a
            if want is not None and not torch.allclose(a, want, atol=1e-5, rtol=1e-3):
                raise ExerciseError(f"Exercise 7.4: the values are right but the gradient of {name} is not "
                                    "the library's: z_t must stay reparameterised (mu + sigma * eps, no "
                                    ".detach()), so that the reconstruction trains the posterior and the "
                                    "encoder through it.")
    passed("7.4", "your teacher-forced pass matches model(video, actions) under the same draws, with the "
                  "same gradients, on two small models.")


# --- answers with the learner's signatures, where the library has no such function: a notebook goes on
# with these while an exercise is not done yet (``use_answer``) --------------------------------------

def charged_kl(kl: Tensor, free_bits: float) -> Tensor:
    """7.1's answer: the free-bits charge of ``dvg.dvg_loss``, from the KL per video, step and dimension."""
    return kl.mean(dim=0).clamp(min=free_bits).sum()


def predictor_input(h_prev: Tensor, z: Tensor, action: Tensor, num_actions: int) -> Tensor:
    """7.2's answer: what ``DVG.predictor_step`` feeds its LSTM."""
    return torch.cat([h_prev, z, dvg.action_one_hot(action, num_actions)], dim=-1)


def teacher_forced(model: dvg.DVG, video: Tensor, actions: Tensor, noise: Tensor) -> dict[str, Tensor]:
    """7.4's answer: ``DVG.forward``'s teacher-forced pass, the draws of z_1..z_{T-1} given as ``noise``."""
    return _teacher_forced(model, video, actions, noise)
