"""VGAN: a GAN for video with a moving foreground over a static background.

Vondrick, Pirsiavash, Torralba, "Generating Videos with Scene Dynamics", NIPS 2016.

The generator turns one noise vector ``z`` into a whole clip at once with *3-D* transposed
convolutions (space and time up-sampled together). Its two-stream form splits the scene in two: a
3-D stream draws a moving foreground video ``f`` and a mask ``m`` that says where the foreground is,
a 2-D stream draws one still background image ``b`` that is repeated over time, and the clip is
``G(z) = m ⊙ f + (1 − m) ⊙ b``. A small L1 penalty on ``m`` pushes the model to leave static
pixels to the background. The discriminator is a 3-D convolutional network that judges whole clips.
``Config.two_stream = False`` gives the paper's one-stream ablation: the 3-D stream alone.

Taught in ``notebooks/02_vgan.ipynb``.
"""
from __future__ import annotations

import copy
import dataclasses
import functools
import itertools
from pathlib import Path
from typing import NamedTuple

import torch
from einops import rearrange, repeat
from torch import Tensor, nn

from vidgen_lib.augment import diff_augment, parse_policy
from vidgen_lib.checkpoints import load_model
from vidgen_lib.datasets import MovingDigits
from vidgen_lib.losses import discriminator_loss, generator_loss
from vidgen_lib.nn.conv import bilinear_init, conv_block, normal_init, up_block
from vidgen_lib.nn.ema import ema_update, recalibrate_batchnorm
from vidgen_lib.runtime import eval_mode, model_device, rng, seed_everything
from vidgen_lib.train import Trainer, TrainingSnapshots, batches, run


@dataclasses.dataclass
class Config:
    """Sizes and training settings. ``Config.preset("tutorial" | "full")`` gives the named presets.

    The geometry follows the paper: the 3-D stream starts from a ``(2, 4, 4)`` volume and every
    layer doubles time, height and width, so ``frame_size = 4 · 2^L`` and ``num_frames =
    frame_size / 2`` for ``L = len(generator_widths)`` layers.

    Departures from the paper, each measured (notebook 02 and the model cards): the networks are
    narrow at tutorial size (the paper's 512…64 channels in ``full``), and the game is played with
    today's small-GAN recipe instead of the paper's BCE + BatchNorm discriminator:
    ``loss="hinge"`` (Lim & Ye 2017), a spectrally normalised discriminator (Miyato et al. 2018),
    separate learning rates for D and G (TTUR, Heusel et al. 2017) with Adam β = (0, 0.9), clips
    shifted at random before D sees them, real and fake alike (DiffAugment, Zhao et al. 2020), and
    samples from a moving average of the generator's weights (``ema_decay``). ``Config.paper()``
    gives the paper's recipe back at the same sizes.
    """

    num_frames: int = 16
    frame_size: int = 32
    channels: int = 1
    z_dim: int = 100
    generator_widths: tuple[int, ...] = (128, 64, 32)  # channels after each hidden layer, deepest first
    discriminator_widths: tuple[int, ...] = (16, 32, 64)  # channels after each strided 3-D conv
    two_stream: bool = True  # False: the one-stream ablation (foreground stream only, no mask)
    discriminator_norm: str = "spectral"  # "spectral", or "batch" as in the paper (see VGANDiscriminator)
    loss: str = "hinge"  # "hinge", or "bce" as in the paper (with the non-saturating G loss)
    augment: str = "translation"  # DiffAugment policy applied before D ("" for none), see vidgen_lib.augment
    upsample_init: str = "normal"  # "normal": N(0, 0.01) as in the paper; "bilinear": see bilinear_init
    ema_decay: float = 0.999  # samples come from a running average of G's weights (0: G itself)
    mask_weight: float = 0.1  # λ of the mask's L1 sparsity prior
    lr: float = 1e-4  # the generator's learning rate (paper: 2e-4 for both)
    disc_lr: float = 4e-4  # the discriminator's learning rate (TTUR)
    beta1: float = 0.0  # Adam's β1 (paper: 0.5)
    beta2: float = 0.9  # Adam's β2 (paper: 0.999)
    batch_size: int = 32
    steps: int = 4000
    num_digits: int = 1
    train_videos: int = 60_000
    eval_videos: int = 1024  # N of the FVD numbers in the model card (real and generated each)

    def __post_init__(self) -> None:
        self.generator_widths = tuple(self.generator_widths)  # lists when read from a model card
        self.discriminator_widths = tuple(self.discriminator_widths)
        layers = len(self.generator_widths)
        if self.frame_size != 4 * 2**layers or self.num_frames != self.frame_size // 2:
            side, asked = 4 * 2**layers, f"{self.num_frames} frames of {self.frame_size}x{self.frame_size}"
            raise ValueError(f"{layers} generator layers make clips of {side // 2} frames of {side}x{side} "
                             f"pixels, not {asked}: use one width per doubling (frame_size = 4 * 2**layers, "
                             "num_frames = frame_size / 2).")
        choices = {"upsample_init": ("normal", "bilinear"), "discriminator_norm": ("batch", "spectral"),
                   "loss": ("hinge", "bce")}
        for field, allowed in choices.items():
            value = getattr(self, field)
            if value not in allowed:
                raise ValueError(f"{field} must be '{allowed[0]}' or '{allowed[1]}', got {value!r}.")
        parse_policy(self.augment)  # raises on an unknown augmentation
        if len(self.discriminator_widths) != layers:
            raise ValueError(f"discriminator_widths needs {layers} entries (one per halving), "
                             f"got {len(self.discriminator_widths)}.")

    @classmethod
    def preset(cls, name: str) -> Config:
        """``tutorial``: 16 frames of 32×32 on one CPU thread in about 45 minutes;
        ``full``: the paper's sizes (32 frames of 64×64, widths 512…64, batch 64), for a GPU."""
        if name == "tutorial":
            return cls()
        if name == "full":
            return cls(num_frames=32, frame_size=64, generator_widths=(512, 256, 128, 64),
                       discriminator_widths=(64, 128, 256, 512), batch_size=64, steps=50_000,
                       eval_videos=2048)
        raise ValueError(f"Unknown preset {name!r}: use 'tutorial' or 'full'.")

    def paper(self) -> Config:
        """This config with the paper's recipe: BCE loss, BatchNorm in D, one Adam (2e-4, β = (0.5, 0.999))
        for both players, no augmentation; sizes, averaging and budget unchanged."""
        return dataclasses.replace(self, loss="bce", discriminator_norm="batch", augment="", lr=2e-4,
                                   disc_lr=2e-4, beta1=0.5, beta2=0.999)


# --- building blocks ------------------------------------------------------------------------------

def compose(foreground: Tensor, mask: Tensor, background: Tensor) -> Tensor:
    """The two-stream composition G(z) = m ⊙ f + (1 − m) ⊙ b (Sec. 3.2).

    Args:
        foreground: ``(B, C, T, H, W)`` the moving stream f.
        mask: ``(B, 1, T, H, W)`` in [0, 1]; 1 shows the foreground, 0 the background.
        background: ``(B, C, H, W)`` one still image b, repeated over the T frames.

    Returns:
        ``(B, C, T, H, W)`` the composed clip.
    """
    still = repeat(background, "b c h w -> b c t h w", t=foreground.shape[2])
    return mask * foreground + (1 - mask) * still


class GeneratorOutput(NamedTuple):
    """Everything the generator draws for one batch of ``z``, in [0, 1]."""

    video: Tensor  # (B, C, T, H, W) the clip G(z)
    foreground: Tensor  # (B, C, T, H, W) f(z); the clip itself in the one-stream model
    mask: Tensor | None  # (B, 1, T, H, W) m(z); None in the one-stream model
    background: Tensor | None  # (B, C, H, W) b(z); None in the one-stream model


# --- the networks ---------------------------------------------------------------------------------

class VGANGenerator(nn.Module):
    """z ``(B, z_dim)`` → a clip ``(B, C, T, H, W)`` in [0, 1] (two-stream or one-stream)."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        w, c = config.generator_widths, config.channels
        self.config = config
        # Sec. 3.2, foreground stream: z as a (z_dim, 1, 1, 1) volume -> (w0, 2, 4, 4) -> ... doubling.
        self.trunk = nn.Sequential(
            *conv_block(config.z_dim, w[0], dims=3, transpose=True, kernel=(2, 4, 4), stride=1, padding=0),
            *[up_block(a, b, dims=3) for a, b in itertools.pairwise(w)],
        )
        self.foreground = nn.Sequential(nn.ConvTranspose3d(w[-1], c, 4, 2, 1), nn.Tanh())
        self.mask = self.background = None
        if config.two_stream:
            # Sec. 3.2: the mask shares the trunk; the background is a separate 2-D network.
            self.mask = nn.Sequential(nn.ConvTranspose3d(w[-1], 1, 4, 2, 1), nn.Sigmoid())
            self.background = nn.Sequential(
                *conv_block(config.z_dim, w[0], dims=2, transpose=True, kernel=4, stride=1, padding=0),
                *[up_block(a, b, dims=2) for a, b in itertools.pairwise(w)],
                nn.ConvTranspose2d(w[-1], c, 4, 2, 1), nn.Tanh(),
            )
        self.apply(functools.partial(normal_init, std=0.01))  # Sec. 3.4: weights from N(0, 0.01)
        if config.upsample_init == "bilinear":
            self.apply(bilinear_init)

    def generate(self, z: Tensor) -> GeneratorOutput:
        """The clip and its parts for latents ``z`` ``(B, z_dim)``; see :class:`GeneratorOutput`."""
        hidden = self.trunk(rearrange(z, "b z -> b z 1 1 1"))  # (B, w[-1], T/2, H/2, W/2)
        foreground = (self.foreground(hidden) + 1) / 2  # tanh's [-1, 1] -> [0, 1]
        if not self.config.two_stream:
            return GeneratorOutput(foreground, foreground, None, None)
        mask = self.mask(hidden)  # (B, 1, T, H, W)
        background = (self.background(rearrange(z, "b z -> b z 1 1")) + 1) / 2  # (B, C, H, W)
        # Composing in [0, 1] equals composing in [-1, 1] and rescaling: the mix is convex.
        return GeneratorOutput(compose(foreground, mask, background), foreground, mask, background)

    def forward(self, z: Tensor) -> Tensor:
        """``(B, z_dim)`` → ``(B, C, T, H, W)`` in [0, 1]."""
        return self.generate(z).video


class VGANDiscriminator(nn.Module):
    """A clip ``(B, C, T, H, W)`` in [0, 1] → one real-vs-fake logit per clip ``(B,)``."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        w, spectral = config.discriminator_widths, config.discriminator_norm == "spectral"
        # Sec. 3.3: strided 3-D convs halve time and space; LeakyReLU 0.2; BatchNorm after all but the first.
        layers: list[nn.Module] = [nn.Conv3d(config.channels, w[0], 4, 2, 1), nn.LeakyReLU(0.2)]
        for a, b in itertools.pairwise(w):
            block = conv_block(a, b, dims=3, norm="none" if spectral else "batch", act="lrelu")
            if not spectral:
                block[1].eps = 1e-3  # as the reference code's VolumetricBatchNormalization
            layers += block
        layers.append(nn.Conv3d(w[-1], 1, (2, 4, 4)))  # (w[-1], 2, 4, 4) -> one logit
        self.net = nn.Sequential(*layers)
        self.apply(functools.partial(normal_init, std=0.01))
        if spectral:  # Miyato et al. 2018: every conv scaled to spectral norm 1, instead of BatchNorm
            for layer in self.net:
                if isinstance(layer, nn.Conv3d):
                    nn.utils.parametrizations.spectral_norm(layer)

    def forward(self, video: Tensor) -> Tensor:
        """``(B, C, T, H, W)`` in [0, 1] → logits ``(B,)`` (positive means "real")."""
        return rearrange(self.net(video * 2 - 1), "b 1 1 1 1 -> b")


SNAPSHOT_SAMPLES = 8  # clips per training snapshot, drawn from the same latents every time


class VGAN(nn.Module):
    """The generator, its running average and the discriminator: one ``state_dict``, one checkpoint.

    ``generator`` is trained; ``generator_ema`` follows it as an exponential moving average of its
    weights and is the one that samples (Yazıcı et al., "The Unusual Effectiveness of Averaging in GAN
    Training", ICLR 2019): averaging smooths the oscillation of the game without changing it.
    """

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.generator = VGANGenerator(config)
        self.discriminator = VGANDiscriminator(config)
        self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)
        self.snapshots = TrainingSnapshots(SNAPSHOT_SAMPLES, (config.channels, config.num_frames,
                                                              config.frame_size, config.frame_size))

    def update_ema(self) -> None:
        """generator_ema ← decay · generator_ema + (1 − decay) · generator; buffers (BatchNorm) copied."""
        ema_update(self.generator_ema, self.generator, self.config.ema_decay)

    def forward(self, z: Tensor) -> Tensor:
        """``(B, z_dim)`` → clips ``(B, C, T, H, W)`` in [0, 1], from the averaged generator."""
        return self.generator_ema(z)

    def recalibrate_ema(self, batches: int = 50, batch_size: int = 64) -> None:
        """Re-estimate the averaged generator's BatchNorm statistics for its averaged weights."""
        device = model_device(self)
        z = lambda gen: torch.randn(batch_size, self.config.z_dim, generator=gen).to(device)  # noqa: E731
        recalibrate_batchnorm(self.generator_ema, lambda gen: self.generator_ema(z(gen)), batches)


def build(config: Config) -> VGAN:
    """A freshly initialised VGAN for ``config``."""
    return VGAN(config)


# --- the objective and training -------------------------------------------------------------------

def mask_penalty(mask: Tensor, weight: float = 0.1) -> Tensor:
    """The sparsity prior λ‖m(z)‖₁ on the mask (Sec. 3.2), averaged over its elements.

    The reference code averages (an L1 penalty with size averaging), so λ = 0.1 does not depend
    on the clip size or the batch size. The mask is in [0, 1], so ``|m| = m``.

    Args:
        mask: ``(B, 1, T, H, W)`` in [0, 1].
    Returns:
        a scalar: ``weight · mean(|m|)``.
    """
    return weight * mask.abs().mean()


def training_step(model: VGAN, trainer: Trainer, batch: dict[str, Tensor]) -> dict[str, float]:
    """One iteration (Sec. 3.4): a discriminator step, then a generator step on the same fakes.

    ``batch["video"]`` is ``(B, C, T, H, W)`` in [0, 1]. D sees every clip through ``config.augment``
    (DiffAugment), real and fake alike. Returns the losses and, with two streams, the mean mask.
    """
    G, D, config = model.generator, model.discriminator, model.config
    judge = lambda clips: D(diff_augment(clips, config.augment))  # noqa: E731
    real = batch["video"]  # (B, C, T, H, W) in [0, 1]
    out = G.generate(torch.randn(real.shape[0], config.z_dim, device=real.device))

    # D: tell real clips from the fakes; detach, so no gradient flows into G.
    d_loss = discriminator_loss(judge(real), judge(out.video.detach()), config.loss)
    d_value = trainer.update("D", d_loss)

    # G: fool the just-updated D + the mask's sparsity prior.
    D.requires_grad_(False)  # only the gradient w.r.t. the fakes is needed, not D's own
    g_adv = generator_loss(judge(out.video), "hinge" if config.loss == "hinge" else "non_saturating")
    sparsity = mask_penalty(out.mask, config.mask_weight) if out.mask is not None else torch.zeros(())
    g_value = trainer.update("G", g_adv + sparsity)
    D.requires_grad_(True)
    model.update_ema()
    values = {"d_loss": d_value, "g_loss": g_value - sparsity.item()}
    if out.mask is not None:
        values["mask_mean"] = out.mask.mean().item()
    return values


def dataset(config: Config, split: str = "train", num_videos: int | None = None) -> MovingDigits:
    """The moving-digits clips VGAN learns: ``config.num_digits`` digit(s), ``(1, T, H, W)`` each."""
    return MovingDigits(split, num_videos or config.train_videos, config.num_frames, config.frame_size,
                        num_digits=config.num_digits)


def make_optimizers(model: VGAN, config: Config) -> dict[str, torch.optim.Optimizer]:
    """One Adam per player (TTUR): ``disc_lr`` for D, ``lr`` for G, β = (beta1, beta2)."""
    betas = (config.beta1, config.beta2)
    return {"D": torch.optim.Adam(model.discriminator.parameters(), lr=config.disc_lr, betas=betas),
            "G": torch.optim.Adam(model.generator.parameters(), lr=config.lr, betas=betas)}


def train(config: Config, steps: int | None = None, *, run_dir: str | Path | None = None, seed: int = 0,
          progress: bool = True, time_limit_s: float | None = None) -> tuple[VGAN, dict[str, float]]:
    """Train a VGAN on moving digits for ``steps`` iterations (default ``config.steps``), or until
    ``time_limit_s`` seconds of training; returns ``(model, metrics)`` (see ``vidgen_lib.train.run``).

    Samples from fixed latents after 10%, 30% and 100% of the run are kept in ``model.snapshots``;
    the averaged generator's BatchNorm statistics are re-estimated at the end.
    """
    seed_everything(seed)
    model = build(config)
    fixed_z = latents(model, SNAPSHOT_SAMPLES, seed=1234)
    data = batches(dataset(config), config.batch_size)
    return run(model, make_optimizers(model, config), training_step, data,
               config.steps if steps is None else steps, run_dir=run_dir, seed=seed, progress=progress,
               time_limit_s=time_limit_s, snapshot=lambda: sample_from(model.generator_ema, fixed_z),
               finish=model.recalibrate_ema)


# --- sampling -------------------------------------------------------------------------------------

def sample_from(generator: VGANGenerator, z: Tensor) -> Tensor:
    """Clips ``(n, C, T, H, W)`` in [0, 1] of ``generator`` for ``z`` ``(n, z_dim)``, drawn in eval mode."""
    with eval_mode(generator):
        return generator(z.to(model_device(generator)))


def sample(model: VGAN, n: int, *, seed: int | None = None) -> Tensor:
    """``n`` generated clips ``(n, C, T, H, W)`` in [0, 1] on the CPU (``seed`` makes them repeatable)."""
    return generate_parts(model, latents(model, n, seed=seed)).video


def latents(model: VGAN, n: int, *, seed: int | None = None) -> Tensor:
    """``n`` latent codes z ~ N(0, I) ``(n, z_dim)`` on the model's device."""
    if n < 1:
        raise ValueError(f"n must be a positive number of clips, got {n}.")
    return torch.randn(n, model.config.z_dim, generator=rng(seed)).to(model_device(model))


def generate_parts(model: VGAN, z: Tensor, batch_size: int = 256) -> GeneratorOutput:
    """The clip and its foreground, mask and background for ``z`` ``(n, z_dim)``, in eval mode, on the CPU."""
    with eval_mode(model):
        chunks = [model.generator_ema.generate(zb) for zb in z.split(batch_size)]
    join = lambda parts: None if parts[0] is None else torch.cat(parts).cpu()  # noqa: E731
    return GeneratorOutput(*(join(parts) for parts in zip(*chunks)))


def load_pretrained(device: torch.device | str | None = None, *, path: str | Path | None = None) -> VGAN:
    """The shipped checkpoint ``data/checkpoints/vgan.pt`` (or ``path``), built from its card's config, in
    eval mode. Raises FileNotFoundError (saying how to train it) or CheckpointError (not as its card says)."""
    return load_model("vgan", Config, build, device, path)
