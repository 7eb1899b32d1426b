"""The component exercises of notebooks 01, 03 and 04 (1.6 one GAN training step, 3.6 MoCoGAN's video
discriminator, 4.5 FVD from features): each check passes the solution, reports a stub, and names the typical
mistakes."""
from __future__ import annotations

import math

import pytest
import scipy.linalg
import torch
from torch import nn

from vidgen_lib import losses, metrics
from vidgen_lib.exercises import EXERCISES, ExerciseError, load_all
from vidgen_lib.exercises import ch01_gan_math as ch01
from vidgen_lib.exercises import ch03_mocogan as ch03
from vidgen_lib.exercises import ch04_evaluation as ch04
from vidgen_lib.models import mocogan


def stub(*args: object) -> None:
    raise NotImplementedError("Exercise N.M: a stub")


def test_checks_are_registered() -> None:
    checks = load_all()
    assert checks["1.6"] is ch01.check_training_step
    assert checks["3.6"] is ch03.check_video_discriminator
    assert checks["4.5"] is ch04.check_fvd_from_features


@pytest.mark.parametrize("exercise_id, solution", [
    ("1.6", ch01.training_step), ("3.6", ch03.VideoDiscriminator), ("4.5", ch04.fvd_from_features),
    ("4.5", metrics.fvd_from_features),
])
def test_checks_pass_solutions_and_report_stubs(exercise_id, solution, capsys) -> None:
    EXERCISES[exercise_id](solution)
    assert capsys.readouterr().out.startswith(f"✓ Exercise {exercise_id} passed")
    with pytest.raises(ExerciseError, match="not implemented yet"):
        EXERCISES[exercise_id](stub)


# --- 1.6: one alternating training step ----------------------------------------------------------------

def step(*, swap=False, kind="non_saturating", detach=True, fresh_fakes_for_g=False, zero_d=True, zero_g=True,
         g_first=False, reuse_logits=False, g_loss_first=False, detach_for_g=False, one_value=False):
    """An alternating step with at most one typical mistake switched on."""
    def training_step(G, D, opt_G, opt_D, real, z):
        fake = G(z)
        d_in = fake.detach() if detach else fake

        def g_update(fakes):
            g_loss = losses.generator_loss(D(fakes.detach() if detach_for_g else fakes), kind)
            if zero_g:
                opt_G.zero_grad()
            g_loss.backward()
            opt_G.step()
            return g_loss

        if g_first:
            g_loss = g_update(fake)
        old_logits = D(fake)
        d_loss = (losses.discriminator_loss(D(d_in), D(real)) if swap
                  else losses.discriminator_loss(D(real), D(d_in)))
        if zero_d:
            opt_D.zero_grad()
        d_loss.backward()
        if g_loss_first:
            g_loss = losses.generator_loss(old_logits, kind)
            opt_G.zero_grad()
            g_loss.backward()
        opt_D.step()
        if reuse_logits:
            g_loss = losses.generator_loss(old_logits, kind)
            opt_G.zero_grad()
            g_loss.backward()
            opt_G.step()
        elif g_loss_first:
            opt_G.step()
        elif not g_first:
            g_loss = g_update(G(z) if fresh_fakes_for_g else fake)
        return d_loss.item() if one_value else (d_loss.item(), g_loss.item())

    return training_step


def test_training_step_accepts_fresh_fakes_for_the_g_step(capsys) -> None:
    ch01.check_training_step(step(fresh_fakes_for_g=True))  # the same z: the same fakes, drawn twice
    assert "passed" in capsys.readouterr().out


@pytest.mark.parametrize("mistake, message", [
    (dict(swap=True), "real and fake are swapped"),
    (dict(kind="saturating"), "saturating loss"),
    (dict(g_loss_first=True), r"\*before\* its update"),
    (dict(reuse_logits=True), "call D on the fakes again"),
    (dict(detach=False), "freed G's graph"),
    (dict(detach=False, fresh_fakes_for_g=True), "a gradient reached G's parameters"),
    (dict(zero_d=False), r"opt_D.zero_grad\(\)"),
    (dict(zero_g=False), r"opt_G.zero_grad\(\)"),
    (dict(g_first=True), "G was updated before D"),
    (dict(detach_for_g=True), "G did not change"),
    (dict(one_value=True), r"return the two losses"),
])
def test_training_step_names_mistakes(mistake, message) -> None:
    with pytest.raises(ExerciseError, match=message):
        ch01.check_training_step(step(**mistake))


def test_training_step_leaves_the_global_generator_alone() -> None:
    before = torch.random.get_rng_state()
    ch01.check_training_step(ch01.training_step)
    assert torch.equal(before, torch.random.get_rng_state())


# --- 3.6: the video discriminator D_V ------------------------------------------------------------------

class Dv(nn.Module):
    """D_V with optional typical mistakes: another conv type, stride, padding, kernel; no bias; no spectral
    norm; another activation (or one after the last conv); an extra norm layer; a flattened output."""

    def __init__(self, channels=1, width=16, *, conv=nn.Conv3d, stride=(1, 2, 2), padding=(0, 1, 1), kernel=4,
                 bias=True, spectral=True, act=lambda: nn.LeakyReLU(0.2), last=None, norm=False, flat=False):
        super().__init__()
        wrap = nn.utils.parametrizations.spectral_norm if spectral else (lambda m: m)
        widths = [channels, width, 2 * width, 4 * width]
        blocks = []
        for c_in, c_out in zip(widths, widths[1:]):
            blocks += [wrap(conv(c_in, c_out, kernel, stride=stride, padding=padding, bias=bias)), act()]
            if norm:
                blocks.append(nn.BatchNorm3d(c_out))
        blocks.append(wrap(conv(4 * width, 1, 4)))
        if last is not None:
            blocks.append(last)
        self.blocks = nn.ModuleList(blocks)  # other names than the library's: the check matches by order
        self.flat = flat

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return x.flatten(1).mean(1) if self.flat else x


def test_video_discriminator_accepts_other_module_names(capsys) -> None:
    ch03.check_video_discriminator(Dv)
    assert "passed" in capsys.readouterr().out


@pytest.mark.parametrize("mistake, message", [
    (dict(conv=nn.Conv2d), "a 2-D convolution judges each frame on its own"),
    (dict(stride=2), "halves time as well"),
    (dict(padding=1), "pads time"),
    (dict(kernel=(1, 4, 4), padding=(0, 1, 1)), "a kernel of one frame"),
    (dict(bias=False), "keep bias=True"),
    (dict(spectral=False), "not spectrally normalised"),
    (dict(act=nn.LeakyReLU), "slope 0.01"),
    (dict(act=nn.ReLU), "ReLU: use LeakyReLU"),
    (dict(act=nn.Identity), "no activations"),
    (dict(last=nn.LeakyReLU(0.2)), "an activation after the last convolution"),
    (dict(last=nn.Sigmoid()), "a sigmoid at the end"),
    (dict(norm=True), "extra layer with weights"),
    (dict(flat=True), r"keep the logits"),
])
def test_video_discriminator_names_mistakes(mistake, message) -> None:
    with pytest.raises(ExerciseError, match=message):
        ch03.check_video_discriminator(lambda channels, width: Dv(channels, width, **mistake))


def test_video_discriminator_names_a_missing_layer_and_a_non_module() -> None:
    class Short(Dv):
        def __init__(self, channels, width):
            super().__init__(channels, width)
            del self.blocks[4:6]

    with pytest.raises(ExerciseError, match="3 convolutions"):
        ch03.check_video_discriminator(Short)
    with pytest.raises(ExerciseError, match="should build an nn.Module"):
        ch03.check_video_discriminator(lambda channels, width: (lambda x: x))


def test_the_answer_holds_the_library_weights() -> None:
    library = mocogan.VideoDiscriminator(mocogan.Config(video_disc_width=4)).eval()
    mine = ch03.copy_conv_weights(ch03.VideoDiscriminator(1, 4), library).eval()
    clips = torch.rand(2, 1, 16, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(mine(clips), library(clips), atol=1e-6)
    assert sum(p.numel() for p in mine.parameters()) == sum(p.numel() for p in library.parameters())


# --- 4.5: FVD from features ----------------------------------------------------------------------------

def fvd(*, biased=False, diagonal=False, roots="matrix", two=2.0, mean=True, cov=True, root_d=False,
        transposed=False):
    """FVD from features with optional typical mistakes."""
    def fvd_from_features(x, y):
        mu1, mu2 = x.mean(0), y.mean(0)
        s1, s2 = (torch.cov(a) if transposed else torch.cov(a.T) for a in (x, y))
        if biased:
            s1, s2 = s1 * (len(x) - 1) / len(x), s2 * (len(y) - 1) / len(y)
        if diagonal:
            s1, s2 = torch.diag(s1.diagonal()), torch.diag(s2.diagonal())
        sqrtm = lambda a: torch.from_numpy(scipy.linalg.sqrtm(a.numpy()).real)  # noqa: E731
        cross = {"matrix": lambda: sqrtm(s1 @ s2).trace(),
                 "product": lambda: (sqrtm(s1) @ sqrtm(s2)).trace(),
                 "entrywise": lambda: (s1 @ s2).diagonal().sqrt().sum(),
                 "trace": lambda: (s1 @ s2).trace().sqrt()}[roots]()
        value = (((mu1 - mu2) ** 2).sum() if mean else 0.0) + (
            (s1.trace() + s2.trace() - two * cross) if cov else 0.0)
        return math.sqrt(max(float(value), 0.0)) if root_d else float(value)

    return fvd_from_features


@pytest.mark.parametrize("mistake, message", [
    (dict(biased=True), "divides by N − 1"),
    (dict(diagonal=True), "the diagonal case of Exercise 4.1"),
    (dict(roots="product"), "you multiplied the roots"),
    (dict(roots="entrywise"), "entry by entry"),
    (dict(roots="trace"), "the root of the trace"),
    (dict(two=1.0), "you forgot the 2"),
    (dict(cov=False), "covariance term"),
    (dict(mean=False), "mean term"),
    (dict(root_d=True), "its square, d²"),
    (dict(transposed=True), r"\(N, N\), between videos"),
])
def test_fvd_names_mistakes(mistake, message) -> None:
    with pytest.raises(ExerciseError, match=message):
        ch04.check_fvd_from_features(fvd(**mistake))


def test_fvd_cases_match_their_values_by_hand() -> None:
    for name, real, fake, by_hand in ch04._fvd_cases():
        if by_hand is not None:
            value = metrics.fvd_from_features(real, fake)
            assert math.isclose(value, by_hand, rel_tol=1e-6, abs_tol=1e-6), name
    assert ch04._fvd_cases()[-1][1].shape[0] != ch04._fvd_cases()[-1][2].shape[0]  # N != M somewhere


def test_fvd_answer_agrees_with_the_library_on_many_dimensions() -> None:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(300, 64, generator=g), torch.randn(200, 64, generator=g) * 1.2 + 0.1
    assert math.isclose(ch04.fvd_from_features(x, y), metrics.fvd_from_features(x, y), rel_tol=1e-6)


def test_fvd_reports_a_single_number() -> None:
    with pytest.raises(ExerciseError, match="single number"):
        ch04.check_fvd_from_features(lambda x, y: (x.mean(0) - y.mean(0)) ** 2)
