"""Checks for the exercises of notebook 01 (GAN math).

The reference answers are the library's own functions in ``vidgen_lib.gan_toy`` and ``vidgen_lib.losses``,
and for 1.6 (one alternating training step, which the library only writes inside ``gan_toy.train_gan``)
``training_step`` at the bottom of this module; each check also recognises the typical mistakes and names
them.
"""
from __future__ import annotations

import copy
import math
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vidgen_lib import gan_toy, losses
from vidgen_lib.exercises import ExerciseError, as_float, call, passed, measure_settings, register, seeded


def _close(got: float, want: float, rtol: float = 1e-3, atol: float = 1e-5) -> bool:
    return math.isfinite(got) and abs(got - want) <= atol + rtol * abs(want)


def _density_pairs() -> list[tuple[str, gan_toy.Mixture1D, gan_toy.Mixture1D]]:
    """Test cases for 1.1: (name, p_data, p_g)."""
    M = gan_toy.Mixture1D
    return [
        ("two shifted Gaussians", M((0.0,), (1.0,)), M((1.0,), (1.0,))),
        ("a bimodal p_data vs a wide p_g", M((-2.0, 2.0), (0.5, 0.5), (0.3, 0.7)), M((0.0,), (1.5,))),
        ("a narrow vs a wide Gaussian", M((0.0,), (0.5,)), M((0.0,), (2.0,))),
        ("three modes vs one", M((-2.0, 0.0, 2.0), (0.4, 0.4, 0.4)), M((1.0,), (1.0,))),
        ("p_g = p_data", M((0.5,), (1.0,)), M((0.5,), (1.0,))),
    ]


@register("1.1")
def check_optimal_discriminator(
    optimal_discriminator: Callable[[Tensor, Callable, Callable], Tensor]
) -> None:
    """Check ``optimal_discriminator(x, p_data, p_g)`` = p_data(x) / (p_data(x) + p_g(x)) on 5 density
    pairs."""
    x = torch.linspace(-4, 4, 81, dtype=torch.float64)
    for name, p_data, p_g in _density_pairs():
        got = call("1.1", optimal_discriminator, x, p_data.pdf, p_g.pdf)
        if not isinstance(got, Tensor):
            raise ExerciseError(f"Exercise 1.1: return a torch.Tensor of D*(x) values, "
                                f"got {type(got).__name__}.")
        if got.shape != x.shape:
            raise ExerciseError(
                f"Exercise 1.1: D*(x) should have one value per point, shape {tuple(x.shape)}; got "
                f"{tuple(got.shape)}. Did you sum or average over x?"
            )
        got = got.detach().double()
        want = gan_toy.optimal_discriminator(x, p_data.pdf, p_g.pdf)
        if torch.allclose(got, want, atol=1e-6):
            continue
        bad = int((got - want).abs().nan_to_num(math.inf).argmax())
        at = f"at x={x[bad].item():.2f} ({name}): got {got[bad].item():.4f}, expected {want[bad].item():.4f}"
        if torch.isnan(got).any():
            hint = "it is NaN: check the formula divides by p_data(x) + p_g(x), which is positive here."
        elif torch.allclose(got, 1 - want, atol=1e-6):
            hint = "you computed 1 - D*, i.e. p_g/(p_data + p_g): D* is the probability that x is *real*."
        elif (got > 1 + 1e-9).any():
            bad = int(got.argmax())
            at = f"at x={x[bad].item():.2f} ({name}): got {got[bad].item():.4f}"
            hint = ("D* is above 1, so it cannot be a probability: did you swap numerator and denominator, "
                    "or divide by p_g(x) alone? D*(x) = p_data(x) / (p_data(x) + p_g(x)).")
        elif (got < 0).any():
            hint = ("D* is negative, so it cannot be a probability: return the ratio itself, "
                    "not its log or logit.")
        else:
            hint = "compare with D*(x) = p_data(x) / (p_data(x) + p_g(x)), evaluated at the same x."
        raise ExerciseError(f"Exercise 1.1: your D*(x) is wrong {at}: {hint}")
    passed("1.1", "D* matches p_data/(p_data+p_g) on 5 test densities.")


def _jsd_pairs() -> tuple[Tensor, float, list[tuple[str, Tensor, Tensor]]]:
    """Test cases for 1.2: a grid, its spacing, and (name, p, q) density values on it."""
    x = torch.linspace(-8, 8, 1601, dtype=torch.float64)
    dx = float(x[1] - x[0])
    M = gan_toy.Mixture1D

    def uniform(a: float, b: float) -> Tensor:
        inside = ((x >= a) & (x < b)).double()
        return inside / (inside.sum() * dx)  # normalised on the grid, so that the identity holds exactly

    pairs = [
        ("two shifted Gaussians", M((0.0,), (1.0,)).pdf(x), M((1.0,), (1.0,)).pdf(x)),
        ("a bimodal vs a wide density", M((-2.0, 2.0), (0.5, 0.5)).pdf(x), M((0.0,), (1.5,)).pdf(x)),
        ("identical densities", M((0.0,), (1.0,)).pdf(x), M((0.0,), (1.0,)).pdf(x)),
        ("half-overlapping uniforms", uniform(-2, 2), uniform(0, 4)),
        ("densities with disjoint supports", uniform(-6, -2), uniform(2, 6)),
    ]
    return x, dx, pairs


def _kl(p: Tensor, q: Tensor, dx: float) -> float:
    return float(((torch.xlogy(p, p) - torch.xlogy(p, q)) * dx).sum())


@register("1.2")
def check_js_divergence(js_divergence: Callable[[Tensor, Tensor, float], Any]) -> None:
    """Check ``js_divergence(p, q, dx)`` (densities on a uniform grid, in nats) on 5 pairs, and the identity
    V(D*, G) = -log 4 + 2 JSD(p_data || p_g)."""
    _, dx, pairs = _jsd_pairs()
    for name, p, q in pairs:
        got = as_float("1.2", call("1.2", js_divergence, p.clone(), q.clone(), dx), "JSD")
        want = gan_toy.js_divergence(p, q, dx)
        if _close(got, want, rtol=1e-2, atol=1e-3):
            continue
        m = (p + q) / 2
        mistakes = [  # (value a typical mistake gives, hint)
            (2 * want, "twice the JSD: did you forget the ½ in JSD = ½ KL(p || m) + ½ KL(q || m)?"),
            (want / 2, "half the JSD: each KL gets a factor ½, not ¼."),
            (want / math.log(2), "the JSD in bits: use the natural log (nats), as GAN theory does (log 4)."),
            (want / dx, "the sum without dx: an integral on a grid is Σ f(x_i) · dx."),
            (0.5 * _kl(p, m, dx), "only ½ KL(p || m): add the second half, ½ KL(q || m)."),
            (_kl(p, m, dx), "only KL(p || m): JSD = ½ KL(p || m) + ½ KL(q || m)."),
        ]
        direct = ("you compared p with q directly (a KL(p || q)): the JSD compares each with the mixture "
                  "m = (p + q) / 2.")
        mistakes += [(_kl(p, q, dx), direct), (0.5 * (_kl(p, q, dx) + _kl(q, p, dx)), direct)]
        if math.isnan(got):
            hint = ("NaN, where a density is 0 (0 · log 0): the limit of p log p is 0, "
                    "so use torch.xlogy(p, p / m) or keep only the points where p > 0.")
        elif math.isinf(got):
            hint = ("infinite: did you compare p with q directly (KL(p || q))? The JSD compares each density "
                    "with the mixture m = (p + q) / 2, which is positive wherever p or q is.")
        elif got < -1e-9:
            hint = ("negative, but a divergence never is: KL(p || m) = ∫ p log(p / m) dx, "
                    "check the sign and the order.")
        else:
            hint = next((h for value, h in mistakes if _close(got, value, rtol=1e-2, atol=1e-3)), None)
            if hint is None and got > math.log(2) + 1e-3:
                hint = "above log 2 ≈ 0.6931, the largest JSD in nats: check the ½ factors and the mixture m."
            hint = hint or "compare with JSD = ½ KL(p || m) + ½ KL(q || m), m = (p + q) / 2, KL in nats."
        raise ExerciseError(f"Exercise 1.2: for {name} your JSD is {got:.4f}, "
                            f"expected {want:.4f}: {hint}")
    for name, p, q in pairs:  # Thm. 1 with your JSD: V(D*, G) = -log 4 + 2 JSD(p_data || p_g)
        # where p = q = 0 both terms vanish
        value = gan_toy.value_on_grid(p / (p + q).clamp_min(1e-300), p, q, dx)
        identity = -math.log(4) + 2 * as_float("1.2", js_divergence(p.clone(), q.clone(), dx), "JSD")
        if not _close(value, identity, rtol=1e-2, atol=1e-3):
            raise ExerciseError(f"Exercise 1.2: for {name}, V(D*, G) = {value:.4f} "
                                f"but -log 4 + 2 JSD = {identity:.4f}.")
    passed("1.2", "JSD is right on 5 pairs (0 for identical, log 2 for disjoint), "
                  "and V(D*, G) = -log 4 + 2 JSD.")


def _check_loss_gradient(exercise_id: str, loss: Tensor, logits: list[Tensor], want: list[Tensor]) -> None:
    """The loss must be a differentiable tensor whose gradients w.r.t. the logits match ``want``."""
    if not isinstance(loss, Tensor) or not loss.requires_grad:
        raise ExerciseError(
            f"Exercise {exercise_id}: no gradient flows through your loss: keep it a torch computation on "
            "the logits (no .item(), .detach(), numpy or math functions), so that the optimiser can use it."
        )
    grads = torch.autograd.grad(loss, logits, allow_unused=True)
    for grad, expected in zip(grads, want):
        if grad is None or not torch.allclose(grad, expected, atol=1e-5):
            raise ExerciseError(
                f"Exercise {exercise_id}: your loss has the right value but the wrong gradient: "
                "did you detach part of it, or apply a function that changes the slope (like a clamp)?"
            )


@register("1.3")
def check_non_saturating_loss(generator_loss: Callable[[Tensor], Tensor]) -> None:
    """Check ``generator_loss(fake_logits)`` = -mean log D(G(z)), the non-saturating loss, from logits."""
    values = [-3.0, -1.0, 0.0, 2.0, 5.0]
    logits = torch.tensor(values, requires_grad=True)
    loss = call("1.3", generator_loss, logits)
    got = as_float("1.3", loss, "the loss (a mean over the batch)")
    want = losses.generator_loss(logits.detach(), "non_saturating").item()
    if not _close(got, want):
        l = torch.tensor(values)
        mistakes = [
            (-F.softplus(l).mean().item(), "that is the saturating loss log(1 - D(G(z))): "
             "the non-saturating generator maximises log D(G(z)), i.e. minimises -log D(G(z))."),
            (F.softplus(l).mean().item(), "that is -log(1 - D(G(z))), which pushes D(G(z)) towards 0, "
             "the wrong way: minimise -log D(G(z))."),
            (-want, "the sign is flipped: minimise -log D(G(z)), which is positive."),
            (want * len(values), "you summed over the batch: take the mean, "
             "so the loss does not grow with batch size."),
        ]
        if math.isnan(got):
            hint = ("NaN: the inputs are logits (any real number), not probabilities D: "
                    "get log D from the logits with F.logsigmoid(logits) (or -F.softplus(-logits)).")
        else:
            hint = next((h for value, h in mistakes if _close(got, value)), None) or (
                "expected -mean log sigmoid(logits); are you treating the logits as probabilities?")
        raise ExerciseError(f"Exercise 1.3: for logits {values} your loss is {got:.4f}, "
                            f"expected {want:.4f}: {hint}")
    _check_loss_gradient("1.3", loss, [logits], [-torch.sigmoid(-logits.detach()) / len(values)])
    extreme = torch.tensor([-200.0, 0.0, 200.0])
    got = as_float("1.3", call("1.3", generator_loss, extreme), "the loss")
    want = losses.generator_loss(extreme, "non_saturating").item()
    if not _close(got, want):
        raise ExerciseError(
            f"Exercise 1.3: for logits [-200, 0, 200] your loss is {got:.4f}, expected {want:.4f}: "
            "log(sigmoid(x)) underflows for very negative logits (and BCE on probabilities clips it); "
            "use F.logsigmoid or F.softplus, which are exact for any logit."
        )
    passed("1.3", "-mean log D(G(z)) from logits: right value and gradient, stable for logits of ±200.")


@register("1.4")
def check_discriminator_loss(discriminator_loss: Callable[[Tensor, Tensor], Tensor]) -> None:
    """Check ``discriminator_loss(real_logits, fake_logits)`` = -V(D, G) on a batch, from logits."""
    real_values, fake_values = [2.0, 0.5, -1.0, 3.0], [-2.0, 1.0, 0.0, -4.0, 0.5, -0.5]
    real = torch.tensor(real_values, requires_grad=True)
    fake = torch.tensor(fake_values, requires_grad=True)
    loss = call("1.4", discriminator_loss, real, fake)
    got = as_float("1.4", loss, "the loss")
    want = losses.discriminator_loss(real.detach(), fake.detach()).item()
    if not _close(got, want):
        r, f = torch.tensor(real_values), torch.tensor(fake_values)
        pooled = (F.softplus(-r).sum() + F.softplus(f).sum()) / (len(r) + len(f))
        mistakes = [
            (-want, "the sign is flipped: D maximises V(D, G), so its loss to minimise is -V(D, G)."),
            ((F.softplus(r).mean() + F.softplus(-f).mean()).item(),
             "real and fake are swapped: real samples get -log D(x), fakes get -log(1 - D(G(z)))."),
            (pooled.item(), "you averaged over real and fake pooled together: "
             "V is a sum of two expectations, mean over the real batch plus mean over the fake batch."),
            (want / 2, "half the loss: V(D, G) adds the two expectations, it does not average them."),
        ]
        if math.isnan(got):
            hint = ("NaN: the inputs are logits, not probabilities: "
                    "use F.softplus or F.logsigmoid on the logits.")
        else:
            hint = next((h for value, h in mistakes if _close(got, value)), None) or (
                "expected -mean log D(x) - mean log(1 - D(G(z))) with D = sigmoid(logit).")
        raise ExerciseError(f"Exercise 1.4: your loss is {got:.4f}, expected {want:.4f}: {hint}")
    _check_loss_gradient("1.4", loss, [real, fake], [-torch.sigmoid(-real.detach()) / len(real_values),
                                                     torch.sigmoid(fake.detach()) / len(fake_values)])
    half = as_float("1.4", call("1.4", discriminator_loss, torch.zeros(8), torch.zeros(8)), "the loss")
    if not _close(half, math.log(4)):
        raise ExerciseError(f"Exercise 1.4: at D = ½ (all logits 0) the loss should be log 4 = 1.3863, "
                            f"got {half:.4f}.")
    extreme = torch.tensor([-200.0, 200.0])
    got = as_float("1.4", call("1.4", discriminator_loss, extreme, -extreme), "the loss")
    want = losses.discriminator_loss(extreme, -extreme).item()
    if not _close(got, want):
        raise ExerciseError(
            f"Exercise 1.4: for logits of ±200 your loss is {got:.4f}, expected {want:.4f}: "
            "log(sigmoid(x)) underflows; "
            "use F.softplus / F.logsigmoid (or F.binary_cross_entropy_with_logits), exact for any logit."
        )
    passed("1.4", "-V(D, G) from logits: right value and gradients, log 4 at D = ½, "
                  "stable for logits of ±200.")


@register("1.5")
def check_generator_loss_experiment(distance_after: Callable[[str], float]) -> None:
    """1.5: ``distance_after(loss)``: |mean of G's samples - mean of the data| after a short training run
    with ``ToyGANConfig(loss=loss)``, from the same start; the non-saturating loss must get closer."""
    distances = measure_settings("1.5", distance_after, ("saturating", "non_saturating"), "the distance")
    saturating, non_saturating = distances["saturating"], distances["non_saturating"]
    if not non_saturating < saturating:
        raise ExerciseError(f"Exercise 1.5: with the non-saturating loss the generator's mean ends "
                            f"{non_saturating:.4f} from the data's, with the saturating loss "
                            f"{saturating:.4f}: "
                            "the non-saturating loss should get closer. Do both runs use the same config "
                            "apart from `loss`, the same steps and seed, and do you pass the loss name to "
                            "ToyGANConfig(loss=...)?")
    passed("1.5", f"after the same training the generator's mean is {saturating:.3f} from the data's with "
                  f"the saturating loss, {non_saturating:.3f} with the non-saturating one.")


# --- 1.6: one alternating training step --------------------------------------------------------------

STEP_LR = 0.1  # the check's optimisers: plain SGD, so that every update can be recomputed exactly
STALE_GRAD = 0.5  # what the check leaves in every .grad before the step: a step must clear it first


def _toy_pair(seed: int = 16) -> tuple[nn.Module, nn.Module, Tensor, Tensor]:
    """A small generator and discriminator of ``gan_toy`` (2-D latent and data), a real batch and latents."""
    with seeded(seed):
        generator, discriminator = gan_toy.mlp(2, 2, hidden=16), gan_toy.mlp(2, 1, hidden=16)
        real = gan_toy.sample_ring(32, torch.Generator().manual_seed(seed))
        z = torch.randn(32, 2)
    return generator, discriminator, real, z


def _with_stale_grads(*modules: nn.Module) -> None:
    for module in modules:
        for p in module.parameters():
            p.grad = torch.full_like(p, STALE_GRAD)


def _flat(module: nn.Module) -> Tensor:
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def _reference_step(G: nn.Module, D: nn.Module, real: Tensor, z: Tensor, *, zero_d: bool = True,
                    zero_g: bool = True, g_loss_kind: str = "non_saturating",
                    g_loss_before_d_step: bool = False) -> dict[str, Any]:
    """Run one step on copies of G and D (SGD, stale gradients left in .grad, as the check does), right or
    with one typical mistake; returns the losses and the parameters afterwards."""
    G, D = copy.deepcopy(G), copy.deepcopy(D)
    opt_g, opt_d = (torch.optim.SGD(m.parameters(), lr=STEP_LR) for m in (G, D))
    _with_stale_grads(G, D)
    fake = G(z)
    d_loss = losses.discriminator_loss(D(real), D(fake.detach()))
    if zero_d:
        opt_d.zero_grad()
    d_loss.backward()
    if not g_loss_before_d_step:
        opt_d.step()
    g_loss = losses.generator_loss(D(fake), g_loss_kind)  # with the mistake: G's gradient from the old D
    if zero_g:
        opt_g.zero_grad()
    g_loss.backward()
    if g_loss_before_d_step:
        opt_d.step()
    opt_g.step()
    return {"d_loss": d_loss.item(), "g_loss": g_loss.item(), "G": _flat(G), "D": _flat(D)}


def _call_step(training_step: Callable[..., Any], *args: Any) -> Any:
    """``call`` with hints for the errors an alternating step typically raises."""
    try:
        return training_step(*args)
    except NotImplementedError:
        return call("1.6", lambda: training_step(*args))  # raises again: reported as "not implemented yet"
    except Exception as err:
        text = str(err)
        if not isinstance(err, RuntimeError):
            raise ExerciseError(f"Exercise 1.6: your function raised {type(err).__name__}: {err}") from err
        if "inplace" in text or "in-place" in text:
            raise ExerciseError(
                "Exercise 1.6: PyTorch refuses to back-propagate G's loss through D's old weights, which D's "
                "update has changed in place: after opt_D.step(), call D on the fakes again for G's "
                f"loss.\n(RuntimeError: {text.splitlines()[0]})") from None
        if "second time" in text:
            raise ExerciseError(
                "Exercise 1.6: the D step back-propagated through the fakes into G and freed G's graph, so "
                "G's loss cannot use it again: give D fake.detach() in the D step.\n"
                f"(RuntimeError: {text.splitlines()[0]})") from None
        raise ExerciseError(f"Exercise 1.6: your function raised RuntimeError: {err}") from err


@register("1.6")
def check_training_step(training_step: Callable[..., tuple[Any, Any]]) -> None:
    """1.6: ``training_step(G, D, opt_G, opt_D, real, z) -> (d_loss, g_loss)``: one update of D on real and
    detached fakes, then one of G with the non-saturating loss, against the updated D."""
    G0, D0, real, z = _toy_pair()
    want = _reference_step(G0, D0, real, z)
    G, D = copy.deepcopy(G0), copy.deepcopy(D0)
    opt_g, opt_d = (torch.optim.SGD(m.parameters(), lr=STEP_LR) for m in (G, D))
    _with_stale_grads(G, D)
    events: list[str] = []  # "D" / "G": an optimiser step; "grad G": a gradient reached G's parameters
    opt_d.register_step_pre_hook(lambda *_: events.append("D"))
    opt_g.register_step_pre_hook(lambda *_: events.append("G"))
    for p in G.parameters():
        p.register_hook(lambda grad: events.append("grad G"))
    with seeded(16):
        result = _call_step(training_step, G, D, opt_g, opt_d, real, z)
    if not isinstance(result, tuple) or len(result) != 2:
        raise ExerciseError("Exercise 1.6: return the two losses, (d_loss, g_loss), as numbers.")
    d_loss, g_loss = (as_float("1.6", value, what) for value, what in zip(result, ("d_loss", "g_loss")))
    steps = [e for e in events if e in ("D", "G")]
    if steps != ["D", "G"]:
        if sorted(steps) == ["D", "G"]:
            raise ExerciseError("Exercise 1.6: G was updated before D: update D first (on the fakes of the "
                                "current G), then G against the updated D (Goodfellow et al. 2014, Alg. 1).")
        raise ExerciseError(f"Exercise 1.6: the optimisers stepped {steps or 'never'}: call opt_D.step() "
                            "once, then opt_G.step() once.")
    if not _close(d_loss, want["d_loss"], rtol=1e-5, atol=1e-6):
        swapped = losses.discriminator_loss(D0(G0(z)), D0(real)).item()
        hint = ("real and fake are swapped: discriminator_loss(D(real), D(fake))." if _close(d_loss, swapped)
                else "the D step's loss is -mean log D(x) - mean log(1 - D(G(z))), before D's update.")
        raise ExerciseError(f"Exercise 1.6: d_loss is {d_loss:.4f}, expected {want['d_loss']:.4f}: {hint}")
    d_right = torch.allclose(_flat(D), want["D"], atol=1e-6)
    stale_d = _reference_step(G0, D0, real, z, zero_d=False)["D"]
    if not d_right and torch.allclose(_flat(D), stale_d, atol=1e-6):
        raise ExerciseError("Exercise 1.6: D's update used stale gradients (e.g. those G's backward pass "
                            "left in D's .grad): call opt_D.zero_grad() before d_loss.backward().")
    if not _close(g_loss, want["g_loss"], rtol=1e-5, atol=1e-6):
        mistakes = [
            (_reference_step(G0, D0, real, z, g_loss_kind="saturating")["g_loss"],
             "that is the saturating loss log(1 - D(G(z))): G minimises the non-saturating -log D(G(z)) "
             "(Exercise 1.3)."),
            (_reference_step(G0, D0, real, z, g_loss_before_d_step=True)["g_loss"],
             "that is G's loss against D *before* its update: compute it after opt_D.step(), so that G "
             "answers the discriminator it will face."),
            (-want["g_loss"], "the sign is flipped: -log D(G(z)) is positive."),
        ]
        hint = next((h for value, h in mistakes if _close(g_loss, value, rtol=1e-5, atol=1e-6)), None)
        if hint or d_right:
            raise ExerciseError(f"Exercise 1.6: g_loss is {g_loss:.4f}, expected {want['g_loss']:.4f}: "
                                + (hint or "the non-saturating loss -mean log D(G(z)) on the same fakes, "
                                           "with the updated D."))
    if not d_right:
        raise ExerciseError("Exercise 1.6: D's weights after the step differ from one SGD step on the "
                            "discriminator loss (and nothing else: G's backward pass must come after D's "
                            "update).")
    if "grad G" in events[:events.index("D")]:
        raise ExerciseError("Exercise 1.6: in the D step a gradient reached G's parameters: D's loss must "
                            "see fake.detach(), so that the D step costs no backward pass through G and "
                            "leaves nothing in G's .grad.")
    if torch.equal(_flat(G), _flat(G0)):
        raise ExerciseError("Exercise 1.6: G did not change: G's loss must reach G through D (no detach in "
                            "the G step), then opt_G.step().")
    if not torch.allclose(_flat(G), want["G"], atol=1e-6):
        if torch.allclose(_flat(G), _reference_step(G0, D0, real, z, zero_g=False)["G"], atol=1e-6):
            raise ExerciseError("Exercise 1.6: G's update used stale gradients (whatever was left in G's "
                                ".grad): call opt_G.zero_grad() before g_loss.backward().")
        raise ExerciseError("Exercise 1.6: G's weights after the step differ from one SGD step on the "
                            "non-saturating loss against the updated D.")
    passed("1.6", "D is updated first, on detached fakes (no gradient reaches G), then G with the "
                  "non-saturating loss against the updated D; both losses and both updates match.")


def training_step(G: nn.Module, D: nn.Module, opt_G: torch.optim.Optimizer, opt_D: torch.optim.Optimizer,
                  real: Tensor, z: Tensor) -> tuple[float, float]:
    """1.6's answer: one alternating step, the fakes generated once (Goodfellow et al. 2014, Alg. 1)."""
    fake = G(z)
    d_loss = losses.discriminator_loss(D(real), D(fake.detach()))
    opt_D.zero_grad()
    d_loss.backward()
    opt_D.step()
    g_loss = losses.generator_loss(D(fake), "non_saturating")
    opt_G.zero_grad()
    g_loss.backward()
    opt_G.step()
    return d_loss.item(), g_loss.item()
