"""The component-building exercises of notebooks 05-07 (5.4 the frame VAE, 6.3 Eq. 6 wired from TD-VAE's
parts, 7.4 DVG's teacher-forced pass): each check passes the solution, reports a stub, and names the typical
mistakes it detects."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from vidgen_lib import vae_toy
from vidgen_lib.losses import bernoulli_nll, gaussian_kl

from vidgen_lib.exercises import EXERCISES, ExerciseError, load_all
from vidgen_lib.exercises import ch06_tdvae as ch06
from vidgen_lib.exercises import ch07_dvg as ch07

load_all()


def stub(*args: object) -> None:
    raise NotImplementedError("Exercise N.M: a stub")


# --- 5.4: the frame VAE as a module ------------------------------------------------------------

def test_check_5_4_passes_the_library_module_and_reports_a_stub(capsys: pytest.CaptureFixture) -> None:
    EXERCISES["5.4"](vae_toy.FrameVAE)
    assert capsys.readouterr().out.startswith("✓ Exercise 5.4 passed")

    class Stub(nn.Module):
        def __init__(self, *args: object) -> None:
            super().__init__()
            raise NotImplementedError("Exercise 5.4: a stub")

    with pytest.raises(ExerciseError, match="not implemented yet"):
        EXERCISES["5.4"](Stub)


def _vae_with(*, std_power: float = 0.5, decode_mean: bool = False, recon_reduce: str = "sum",
              kl_reduce: str = "sum", kl_batch: str = "mean", detach_z: bool = False, sigmoid: bool = False,
              loss_sign: float = 1.0):
    """vae_toy.FrameVAE with one typical mistake in forward or decode_logits."""

    class Mistaken(vae_toy.FrameVAE):
        def decode_logits(self, z):
            logits = super().decode_logits(z)
            return torch.sigmoid(logits) if sigmoid else logits

        def forward(self, x):
            mu, logvar = self.encode(x)
            z = mu if decode_mean else mu + torch.exp(std_power * logvar) * torch.randn_like(mu)
            z = z.detach() if detach_z else z
            nll = bernoulli_nll(self.decode_logits(z), x)
            recon = nll.sum((1, 2, 3)) if recon_reduce == "sum" else nll.mean((1, 2, 3))
            kl = gaussian_kl(mu, logvar, torch.zeros_like(mu), torch.zeros_like(logvar))
            kl = kl.sum(-1) if kl_reduce == "sum" else kl.mean(-1)
            kl = kl.mean() if kl_batch == "mean" else kl.sum()
            return {"loss": loss_sign * recon.mean() + kl, "recon_nll": recon.mean(), "kl": kl}

    return Mistaken


class _NoHidden(vae_toy.FrameVAE):
    """The encoder without its hidden layer: Linear(2w·(S/4)², 2·z_dim) straight from the features."""

    def __init__(self, z_dim: int = 4, frame_size: int = 32, width: int = 16, hidden: int = 128) -> None:
        super().__init__(z_dim, frame_size, width, hidden)
        s = frame_size // 4
        self.encoder = nn.Sequential(*list(self.encoder)[:5], nn.Linear(2 * width * s * s, 2 * z_dim))


@pytest.mark.parametrize("mistake, message", [
    (_vae_with(std_power=1.0), r"exp\(logvar / 2\)"),
    (_vae_with(decode_mean=True), "you decoded mu"),
    (_vae_with(recon_reduce="mean"), "averaged the NLL over the pixels"),
    (_vae_with(kl_reduce="mean"), "averaged the KL over the latent dimensions"),
    (_vae_with(kl_batch="sum"), "summed the KL over the frames"),
    (_vae_with(sigmoid=True), "without a sigmoid"),
    (_vae_with(detach_z=True), "no gradient into the encoder"),
    (_vae_with(loss_sign=-1.0), r"recon_nll \+ kl"),
    (_NoHidden, "layers differ"),
])
def test_check_5_4_names_typical_mistakes(mistake, message: str) -> None:
    with pytest.raises(ExerciseError, match=message):
        EXERCISES["5.4"](mistake)


def test_check_5_4_leaves_the_learners_generator_alone() -> None:
    torch.manual_seed(0)
    before = torch.randn(3)
    torch.manual_seed(0)
    EXERCISES["5.4"](vae_toy.FrameVAE)
    assert torch.equal(torch.randn(3), before)


# --- 6.3: the five terms of Eq. 6, wired --------------------------------------------------------

def test_check_6_3_passes_the_solution_and_reports_a_stub(capsys: pytest.CaptureFixture) -> None:
    EXERCISES["6.3"](ch06.eq6_terms)
    assert capsys.readouterr().out.startswith("✓ Exercise 6.3 passed")
    with pytest.raises(ExerciseError, match="not implemented yet"):
        EXERCISES["6.3"](stub)


def _mistake(**flags):
    return lambda model, x, t1, t2, n2, n1: ch06._wired_terms(model, x, t1, t2, n2, n1, **flags)


def _detached(model, x, t1, t2, n2, n1):
    """The right values, but z_t2 and z_t1 cut from the graph: p_B and q_S get no gradient through them."""
    rows = torch.arange(len(x))
    beliefs = model.beliefs(x)
    b1, b2 = beliefs[rows, t1], beliefs[rows, t2]
    jump = model.jump_code(t2 - t1)
    z2 = model.belief.sample(b2, n2)[0].detach()
    cond = torch.cat([b1, b2, z2, *jump], -1)
    z1 = model.smoothing.sample(cond, n1)[0].detach()
    return (-model.decoder_nll(z2, x[rows, t2]), model.belief.log_prob(z1, b1),
            model.transition.log_prob(z2, torch.cat([z1, *jump], -1)), model.belief.log_prob(z2, b2),
            model.smoothing.log_prob(z1, cond))


@pytest.mark.parametrize("mistake, message", [
    (_mistake(z2_belief="t1"), "later"),
    (_mistake(qs_order="b2 b1"), "swapped the two beliefs"),
    (_mistake(pt_forward=False), "forward in time"),
    (_mistake(decode="z1 x1"), "only x_t2 is rendered"),
    (_mistake(decode="z2 x1"), r"x\[:, t2\]"),
    (_mistake(decode="z1 x2"), "not from z_t1"),
    (_mistake(pb1_belief="t2"), "earlier"),
    (_mistake(swap_noise=True), "noises are swapped"),
    (lambda *args: (-ch06.eq6_terms(*args)[0], *ch06.eq6_terms(*args)[1:]), "wrong sign"),
    (lambda *args: ch06.eq6_terms(*args)[::-1], "another order"),
    (lambda *args: (*ch06.eq6_terms(*args)[:4], torch.zeros(5)), "log_qs differs"),
    (lambda *args: ch06.eq6_terms(*args)[:4], "as a tuple"),
    (lambda *args: tuple(t.sum() for t in ch06.eq6_terms(*args)), "shape"),
    (_detached, "reparameterised"),
])
def test_check_6_3_names_typical_mistakes(mistake, message: str) -> None:
    with pytest.raises(ExerciseError, match=message):
        EXERCISES["6.3"](mistake)


# --- 7.4: DVG's teacher-forced pass -------------------------------------------------------------

def test_check_7_4_passes_the_solution_and_reports_a_stub(capsys: pytest.CaptureFixture) -> None:
    EXERCISES["7.4"](ch07.teacher_forced)
    assert capsys.readouterr().out.startswith("✓ Exercise 7.4 passed")
    with pytest.raises(ExerciseError, match="not implemented yet"):
        EXERCISES["7.4"](stub)


def test_the_answer_of_7_4_is_dvg_forward_with_its_draws_given() -> None:
    model, video, actions, noise, library = ch07._pass_cases()[0]
    mine = ch07.teacher_forced(model, video, actions, noise)
    assert all(torch.equal(mine[key], library[key]) for key in library)


def _replaced(args, key, value):
    """The right pass with one entry replaced by ``value(out)``."""
    out = ch07.teacher_forced(*args)
    return {**out, key: value(out)}


def _pass_mistake(**flags):
    return lambda model, video, actions, noise: ch07._teacher_forced(model, video, actions, noise, **flags)


@pytest.mark.parametrize("mistake, message", [
    (_pass_mistake(posterior_frame=-1), "posterior"),
    (_pass_mistake(prior_frame=0), "never see frame t"),
    (_pass_mistake(predictor_frame=0), "teacher"),
    (_pass_mistake(z_from="p"), "drawn from the posterior"),
    (_pass_mistake(skip_frame=0), "skips come from the frame before"),
    (_pass_mistake(std_power=1.0), r"exp\(logvar / 2\)"),
    (_pass_mistake(carry_states=False), "state"),
    (lambda *args: _replaced(args, "mu_p", lambda out: out["mu_q"]), "mu_p differs"),
    (lambda *args: list(ch07.teacher_forced(*args).values()), "return a dict"),
    (lambda *args: _replaced(args, "recon", lambda out: out["recon"].transpose(1, 2)), "dim 2"),
    (_pass_mistake(detach_z=True), "reparameterised"),
])
def test_check_7_4_names_typical_mistakes(mistake, message: str) -> None:
    with pytest.raises(ExerciseError, match=message):
        EXERCISES["7.4"](mistake)
