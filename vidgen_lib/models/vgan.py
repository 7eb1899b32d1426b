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
import math
from typing import NamedTuple

import torch
from einops import rearrange, repeat
from torch import Tensor, nn

import vidgen_lib
from vidgen_lib.augment import diff_augment, parse_policy
from vidgen_lib.checkpoints import load_model
from vidgen_lib.datasets import MovingDigits
from vidgen_lib.losses import discriminator_loss, generator_loss
from vidgen_lib.nn.ema import ema_update, recalibrate_batchnorm
from vidgen_lib.train import Trainer, TrainingSnapshots, infinite_batches, loader, with_snapshots


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
            raise ValueError(
                f"{layers} generator layers make clips of {2 * 2**layers} frames of {4 * 2**layers}x"
                f"{4 * 2**layers} pixels, not {self.num_frames} frames of {self.frame_size}x"
                f"{self.frame_size}: use one width per doubling (frame_size = 4 * 2**layers, "
                "num_frames = frame_size / 2)."
            )
        if self.upsample_init not in ("normal", "bilinear"):
            raise ValueError(f"upsample_init must be 'normal' or 'bilinear', got {self.upsample_init!r}.")
        if self.discriminator_norm not in ("batch", "spectral"):
            raise ValueError(f"discriminator_norm must be 'batch' or 'spectral', got {self.discriminator_norm!r}.")
        if self.loss not in ("hinge", "bce"):
            raise ValueError(f"loss must be 'hinge' or 'bce', got {self.loss!r}.")
        parse_policy(self.augment)  # raises on an unknown augmentation
        if len(self.discriminator_widths) != layers:
            raise ValueError(f"discriminator_widths needs {layers} entries (one per halving), "
                             f"got {len(self.discriminator_widths)}.")

    @classmethod
    def preset(cls, name: str) -> "Config":
        """``tutorial``: 16 frames of 32×32 on one CPU thread in about 45 minutes;
        ``full``: the paper's sizes (32 frames of 64×64, widths 512…64, batch 64), for a GPU."""
        if name == "tutorial":
            return cls()
        if name == "full":
            return cls(num_frames=32, frame_size=64, generator_widths=(512, 256, 128, 64),
                       discriminator_widths=(64, 128, 256, 512), batch_size=64, steps=50_000,
                       eval_videos=2048)
        raise ValueError(f"Unknown preset {name!r}: use 'tutorial' or 'full'.")

    def paper(self) -> "Config":
        """This config with the paper's recipe: BCE loss, BatchNorm in D, one Adam (2e-4, β = (0.5, 0.999)) for
        both players, no augmentation; sizes, averaging and budget unchanged."""
        return dataclasses.replace(self, loss="bce", discriminator_norm="batch", augment="", lr=2e-4, disc_lr=2e-4,
                                   beta1=0.5, beta2=0.999)


# --- building blocks ------------------------------------------------------------------------------

def up_block(c_in: int, c_out: int, dims: int) -> nn.Sequential:
    """Transposed conv (kernel 4, stride 2, padding 1: doubles every axis) + BatchNorm + ReLU."""
    conv, norm = (nn.ConvTranspose3d, nn.BatchNorm3d) if dims == 3 else (nn.ConvTranspose2d, nn.BatchNorm2d)
    return nn.Sequential(conv(c_in, c_out, 4, 2, 1, bias=False), norm(c_out), nn.ReLU())


def init_weights(module: nn.Module) -> None:
    """Sec. 3.4: convolutions drawn from N(0, 0.01); BatchNorm scales from N(1, 0.02)."""
    if isinstance(module, (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
        nn.init.normal_(module.weight, 0.0, 0.01)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm2d, nn.BatchNorm3d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def bilinear_init(module: nn.Module) -> None:
    """Start every doubling transposed conv as bilinear up-sampling of randomly mixed channels.

    A transposed conv with kernel 4 and stride 2 draws even and odd output positions with different
    kernel taps, so random weights start with checkerboard patterns in space *and* flicker in time
    (Odena, Dumoulin, Olah, "Deconvolution and Checkerboard Artifacts", Distill 2016). Here the
    weight starts as ``mix[c_in, c_out] · k(t) k(h) k(w)`` with ``k = [1, 3, 3, 1] / 4`` (bilinear
    up-sampling), plus a little noise: the same layer, a smooth start.
    """
    if isinstance(module, (nn.ConvTranspose2d, nn.ConvTranspose3d)) and module.stride[0] == 2:
        taps = torch.tensor([1.0, 3.0, 3.0, 1.0]) / 4
        kernel = taps
        for _ in range(module.weight.ndim - 3):
            kernel = kernel[..., None] * taps  # outer product: (4,), (4, 4), (4, 4, 4)
        with torch.no_grad():
            mix = torch.randn(module.weight.shape[:2]) * 0.01
            module.weight.copy_(mix.view(*mix.shape, *[1] * kernel.ndim) * kernel)
            module.weight.add_(torch.randn_like(module.weight) * 0.001)


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
            nn.ConvTranspose3d(config.z_dim, w[0], (2, 4, 4), bias=False), nn.BatchNorm3d(w[0]), nn.ReLU(),
            *[up_block(a, b, dims=3) for a, b in zip(w, w[1:])],
        )
        self.foreground = nn.Sequential(nn.ConvTranspose3d(w[-1], c, 4, 2, 1), nn.Tanh())
        self.mask = self.background = None
        if config.two_stream:
            # Sec. 3.2: the mask shares the trunk; the background is a separate 2-D network.
            self.mask = nn.Sequential(nn.ConvTranspose3d(w[-1], 1, 4, 2, 1), nn.Sigmoid())
            self.background = nn.Sequential(
                nn.ConvTranspose2d(config.z_dim, w[0], 4, bias=False), nn.BatchNorm2d(w[0]), nn.ReLU(),
                *[up_block(a, b, dims=2) for a, b in zip(w, w[1:])],
                nn.ConvTranspose2d(w[-1], c, 4, 2, 1), nn.Tanh(),
            )
        self.apply(init_weights)
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
        for a, b in zip(w, w[1:]):
            norm = nn.Identity() if spectral else nn.BatchNorm3d(b, eps=1e-3)
            layers += [nn.Conv3d(a, b, 4, 2, 1, bias=spectral), norm, nn.LeakyReLU(0.2)]
        layers.append(nn.Conv3d(w[-1], 1, (2, 4, 4)))  # (w[-1], 2, 4, 4) -> one logit
        self.net = nn.Sequential(*layers)
        self.apply(init_weights)
        if spectral:  # Miyato et al. 2018: every conv scaled to spectral norm 1, instead of BatchNorm
            for layer in self.net:
                if isinstance(layer, nn.Conv3d):
                    nn.utils.parametrizations.spectral_norm(layer)

    def forward(self, video: Tensor) -> Tensor:
        """``(B, C, T, H, W)`` in [0, 1] → logits ``(B,)`` (positive means "real")."""
        return rearrange(self.net(video * 2 - 1), "b 1 1 1 1 -> b")


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
        device = next(self.parameters()).device
        z = lambda gen: torch.randn(batch_size, self.config.z_dim, generator=gen).to(device)
        recalibrate_batchnorm(self.generator_ema, lambda gen: self.generator_ema(z(gen)), batches)


SNAPSHOT_SAMPLES = 8  # clips per training snapshot, drawn from the same latents every time


def build(config: Config) -> VGAN:
    """A freshly initialised VGAN for ``config``."""
    return VGAN(config)


# --- the objective --------------------------------------------------------------------------------

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


def training_step(trainer: Trainer, batch: dict[str, Tensor]) -> dict[str, float]:
    """One iteration (Sec. 3.4): a discriminator step, then a generator step on the same fakes.

    D sees every clip through ``config.augment`` (DiffAugment), real and fake alike.
    """
    model: VGAN = trainer.modules["model"]
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


# --- data, training, evaluation -------------------------------------------------------------------

def dataset(config: Config, split: str = "train", num_videos: int | None = None) -> MovingDigits:
    """The moving-digits clips VGAN learns: ``config.num_digits`` digit(s), ``(1, T, H, W)`` each."""
    return MovingDigits(split, num_videos or config.train_videos, config.num_frames, config.frame_size,
                        num_digits=config.num_digits)


def make_trainer(model: VGAN, *, run_dir=None, seed: int = 0, progress: bool = True,
                 device: torch.device | None = None, log_every: int = 50) -> Trainer:
    """A :class:`Trainer` with one Adam per player: ``disc_lr`` for D, ``lr`` for G, β = (beta1, beta2)."""
    c = model.config
    adam = lambda module, lr: torch.optim.Adam(module.parameters(), lr=lr, betas=(c.beta1, c.beta2))  # noqa: E731
    return Trainer({"model": model}, {"D": adam(model.discriminator, c.disc_lr), "G": adam(model.generator, c.lr)},
                   run_dir=run_dir, checkpoint_every=500, log_every=log_every, seed=seed,
                   device=device, progress=progress)


def train(config: Config, steps: int | None = None, *, run_dir=None, seed: int = 0, progress: bool = True,
          time_limit_s: float | None = None) -> tuple[VGAN, dict[str, float]]:
    """Train a VGAN on moving digits for ``steps`` iterations (default ``config.steps``), or until
    ``time_limit_s`` seconds of training; returns ``(model, metrics)``.

    ``metrics`` holds the scores of :func:`evaluate` (``config.eval_videos`` samples; none if 0), the
    last logged losses, the steps done and the training time. Three snapshots of samples from fixed
    latents (after 10%, 30% and 100% of the run) are kept in ``model.snapshots``.
    """
    steps = config.steps if steps is None else steps
    vidgen_lib.seed_everything(seed)
    model = build(config)
    trainer = make_trainer(model, run_dir=run_dir, seed=seed, progress=progress)
    fixed_z = latents(model, SNAPSHOT_SAMPLES, seed=1234)
    draw = lambda: sample_from(model.generator_ema, fixed_z)  # noqa: E731
    step_fn = with_snapshots(training_step, model.snapshots, draw, steps, time_limit_s)
    history = trainer.fit(step_fn, infinite_batches(loader(dataset(config), config.batch_size, trainer.device)),
                          steps, time_limit_s=time_limit_s)
    model.recalibrate_ema()
    model.snapshots.record(len(model.snapshots.steps) - 1, trainer.step, draw())
    metrics = {f"final_{k}": round(v, 4) for k, v in history[-1].items() if k != "step"}
    metrics["steps"] = trainer.step
    metrics["train_wall_time_s"] = trainer.wall_time_s  # summed over resumed runs; the card's wall time
    if config.eval_videos > 0:  # 0: no evaluation (a short live run)
        metrics.update(evaluate(model, config.eval_videos, seed=seed))
    return model.eval(), metrics


@torch.no_grad()
def sample_from(generator: VGANGenerator, z: Tensor) -> Tensor:
    """Clips ``(n, C, T, H, W)`` in [0, 1] of ``generator`` in eval mode (its mode is restored)."""
    was_training = generator.training
    video = generator.eval()(z)
    generator.train(was_training)
    return video


@torch.no_grad()
def sample(model: VGAN, n: int, *, seed: int | None = None) -> Tensor:
    """``n`` generated clips ``(n, C, T, H, W)`` in [0, 1] (``seed`` makes them repeatable)."""
    parts = generate_parts(model, latents(model, n, seed=seed))
    return parts.video


def latents(model: VGAN, n: int, *, seed: int | None = None) -> Tensor:
    """``n`` latent codes z ~ N(0, I) ``(n, z_dim)`` on the model's device."""
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    z = torch.randn(n, model.config.z_dim, generator=gen)
    return z.to(next(model.parameters()).device)


@torch.no_grad()
def generate_parts(model: VGAN, z: Tensor, batch_size: int = 256) -> GeneratorOutput:
    """The clip and its foreground, mask and background for ``z`` ``(n, z_dim)``, in eval mode."""
    was_training = model.training
    model.eval()
    chunks = [model.generator_ema.generate(zb) for zb in z.split(batch_size)]
    model.train(was_training)
    join = lambda parts: None if parts[0] is None else torch.cat(parts).cpu()
    return GeneratorOutput(*(join(parts) for parts in zip(*chunks)))


def evaluate(model: VGAN, n: int, *, seed: int = 0) -> dict[str, float]:
    """The model card's scores: ``metrics.generator_scores`` of ``n`` samples against ``n`` test clips,
    next to the baselines built from ``n`` other (train split) clips, plus the samples' background
    (``background_level``, ``background_flicker``: see :func:`background_stats`). Every distance
    depends on N: compare only numbers with the same ``n``.
    """
    from vidgen_lib.datasets import video_batch
    from vidgen_lib.evaluation import generator_scores

    config = model.config
    reference = video_batch(dataset(config, "test", n), n)
    others = video_batch(dataset(config, "train", n), n)
    samples = sample(model, n, seed=seed)
    background = {f"background_{k}": round(v, 4) for k, v in background_stats(samples).items()
                  if math.isfinite(v)}  # no dark, still pixel at all (an untrained model): nothing to report
    return {**generator_scores(samples, reference, others, seed=seed), **background}


def background_stats(videos: Tensor, threshold: float = 0.25) -> dict[str, float]:
    """How dark and how still the background of clips is: the property the two streams build in.

    Background pixels are those that stay below ``threshold`` in every frame (nothing bright ever
    passes there). Returns their mean value (``level``) and their mean change between consecutive
    frames (``flicker``); both are exactly 0 for real moving digits.

    Args:
        videos: ``(N, C, T, H, W)`` in [0, 1].
    """
    still = (videos.amax(dim=2, keepdim=True) < threshold).expand_as(videos)  # (N, C, T, H, W)
    change = (videos[:, :, 1:] - videos[:, :, :-1]).abs()
    return {"level": videos[still].mean().item(), "flicker": change[still[:, :, 1:]].mean().item()}


def load_pretrained(device: torch.device | str | None = None, *, name: str = "vgan") -> VGAN:
    """The shipped checkpoint ``data/checkpoints/<name>.pt``, built from its card's config, in eval mode.

    Raises:
        FileNotFoundError: the checkpoint is missing (the message says how to train it).
        CheckpointError: the file does not match its model card.
    """
    return load_model(name, Config, build, device)
