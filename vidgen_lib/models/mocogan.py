"""MoCoGAN: a video is a fixed content code plus a path of motion codes.

Tulyakov, Liu, Yang, Kautz, "MoCoGAN: Decomposing Motion and Content for Video Generation",
CVPR 2018. Every frame is drawn by the *same* 2-D image generator from a latent
[z_C, z_A, z_M(t)]: the content code z_C ~ N(0, I) is drawn once per video and repeated over time,
the motion codes z_M(1..T) are the hidden states of a GRU driven by fresh noise ε_t at every step,
and an optional one-hot action code z_A picks a kind of motion (Sec. 4.1, categorical dynamics).
Two discriminators judge the result: D_I on single frames (is each frame a plausible image?) and
D_V on whole clips (is the motion plausible?) (Sec. 4). Fixing z_C and redrawing the motion changes only
the trajectory; fixing the motion and redrawing z_C changes only the identity.

Departures from the paper's code, each measured (notebook 03 and the model card): the game is played
with today's small-GAN recipe, as in VGAN: spectrally normalised discriminators (with biases) instead
of BatchNorm, which overpowered the generator and collapsed its samples within a few hundred steps
(``Config(disc_norm="batch")`` restores the original); the hinge loss; separate learning rates for
the discriminators and the generator (TTUR) with Adam β = (0, 0.9); clips and frames shifted at
random before either discriminator sees them, real and fake alike (DiffAugment); and samples from a
running average of the generator's weights (``ema_decay``; 0 samples the trained generator itself).
``Config(use_image_discriminator=False)`` removes D_I: the paper's ablation of it.

Taught in ``notebooks/03_mocogan.ipynb``. Videos are (B, C, T, H, W) in [0, 1] at the public
boundary (``sample``, ``train``); inside, the generator and discriminators work in [-1, 1].
"""
from __future__ import annotations

import copy
import dataclasses
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import Tensor, nn

from vidgen_lib.augment import diff_augment, parse_policy
from vidgen_lib.checkpoints import load_model
from vidgen_lib.datasets import MovingDigits, video_batch
from vidgen_lib.losses import discriminator_loss
from vidgen_lib.evaluation import generator_scores
from vidgen_lib.runtime import seed_everything
from vidgen_lib.nn.ema import ema_update, recalibrate_batchnorm
from vidgen_lib.train import Trainer, TrainingSnapshots, infinite_batches, loader, with_snapshots

CHECKPOINT = "mocogan"


@dataclasses.dataclass
class Config:
    """Sizes, data and optimisation of a MoCoGAN run (recorded in the model card)."""

    num_frames: int = 16  # T, as in the paper
    frame_size: int = 32  # H = W; a power of two >= 16
    channels: int = 1
    num_digits: int = 1  # moving digits with one digit: identity = content, trajectory = motion
    dim_content: int = 50  # z_C (paper: 50)
    dim_motion: int = 10  # z_M(t), the GRU's hidden size (paper: 10)
    num_actions: int = 0  # categories of the one-hot action code z_A (paper: 6; 0 = no z_A)
    gen_width: int = 32  # channels of the image generator's last hidden layer (paper: 64)
    image_disc_width: int = 32  # channels of D_I's first layer (paper: 64); cheap, so wide
    video_disc_width: int = 16  # channels of D_V's first layer (paper: 64); 3-D convs dominate the cost
    batch_size: int = 16  # videos per step, for D_V and G
    image_batch_size: int = 64  # frames per step for D_I, sampled from those videos
    lr: float = 1e-4  # the generator's learning rate (paper: 2e-4)
    disc_lr: float = 4e-4  # the discriminators' learning rate (TTUR; paper: 2e-4)
    betas: tuple[float, float] = (0.0, 0.9)  # Adam's (paper: (0.5, 0.999))
    weight_decay: float = 1e-5
    disc_norm: str = "spectral"  # discriminators' normalisation: "spectral", or the paper code's "batch"
    loss: str = "hinge"  # "hinge", or "bce" as in the paper (non-saturating for G)
    augment: str = "translation"  # DiffAugment policy before both discriminators ("" for none)
    use_image_discriminator: bool = True  # False: the paper's ablation without D_I (D_V alone)
    pretrain_image_steps: int = 0  # the first steps train G_I on single frames against D_I alone (see image_step)
    noise_sigma: float = 0.0  # instance noise added to every discriminator layer's input while training
    ema_decay: float = 0.99  # samples come from a running average of G's weights (0: G itself), as in VGAN
    num_videos: int = 100_000  # training videos (each a pure function of its index)
    eval_videos: int = 1024  # N for the FVD and ACD written into the model card (as for VGAN)
    steps: int = 7000

    def __post_init__(self) -> None:
        self.betas = tuple(self.betas)  # a list when read back from a model card
        if self.loss not in ("hinge", "bce"):
            raise ValueError(f"loss must be 'hinge' or 'bce', got {self.loss!r}.")
        parse_policy(self.augment)  # raises on an unknown augmentation
        if self.pretrain_image_steps and not self.use_image_discriminator:
            raise ValueError("pretrain_image_steps needs the image discriminator (use_image_discriminator=True).")

    @classmethod
    def preset(cls, name: str) -> "Config":
        """``tutorial``: 16 frames of 32x32, about two hours on one CPU thread; ``full``: the paper's 64x64 sizes."""
        if name == "tutorial":
            return cls()
        if name == "full":
            return cls(frame_size=64, gen_width=64, image_disc_width=64, video_disc_width=64, batch_size=32,
                       image_batch_size=32, eval_videos=2048, steps=100_000)
        raise ValueError(f"Unknown preset {name!r}: use 'tutorial' or 'full'.")

    @property
    def num_upsamplings(self) -> int:
        """How many stride-2 layers take 4x4 to ``frame_size`` (3 for 32x32, 4 for 64x64)."""
        n = int(math.log2(self.frame_size // 4))
        if self.frame_size < 16 or 4 * 2**n != self.frame_size:
            raise ValueError(f"frame_size must be a power of two >= 16, got {self.frame_size}.")
        return n


# --- the latent: content, action, motion --------------------------------------------------------

def frame_latents(z_content: Tensor, z_motion: Tensor, z_action: Tensor | None = None) -> Tensor:
    """The per-frame latents [z_C, z_A, z_M(t)]: content and action repeated over time (Sec. 4).

    Args:
        z_content: (B, dim_content), one content code per video.
        z_motion: (B, T, dim_motion), one motion code per frame.
        z_action: (B, num_actions) one-hot action codes, or None.
    Returns:
        (B, T, dim_content + num_actions + dim_motion).
    """
    t = z_motion.shape[1]
    parts = [repeat(z_content, "b d -> b t d", t=t)]
    if z_action is not None:
        parts.append(repeat(z_action, "b d -> b t d", t=t))
    return torch.cat([*parts, z_motion], dim=-1)


def motion_codes(gru: nn.GRUCell, h0: Tensor, noise: Tensor, z_action: Tensor | None = None) -> Tensor:
    """Run the motion GRU: h_t = GRU([ε_t, z_A], h_{t-1}), and z_M(t) = h_t for t = 1..T (Sec. 4).

    Args:
        gru: a GRUCell with hidden size dim_motion.
        h0: (B, dim_motion) initial state, drawn from N(0, I).
        noise: (B, T, dim_motion) the ε_t, one fresh draw per step.
        z_action: (B, num_actions) one-hot action codes fed at every step, or None.
    Returns:
        (B, T, dim_motion): h_1 .. h_T (h_0 itself is not a frame's code).
    """
    h, codes = h0, []
    for t in range(noise.shape[1]):
        step_input = noise[:, t] if z_action is None else torch.cat([noise[:, t], z_action], dim=-1)
        h = gru(step_input, h)
        codes.append(h)
    return torch.stack(codes, dim=1)


class MoCoGANGenerator(nn.Module):
    """G_M (a GRU over noise) and G_I (a DCGAN image generator applied to every frame)."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        c = config
        self.gru = nn.GRUCell(c.dim_motion + c.num_actions, c.dim_motion)  # Sec. 4: the motion generator R_M
        dim_z = c.dim_content + c.num_actions + c.dim_motion
        widths = [c.gen_width * 2**i for i in reversed(range(c.num_upsamplings))]  # e.g. 128, 64, 32
        layers: list[nn.Module] = [nn.ConvTranspose2d(dim_z, widths[0], 4, 1, 0, bias=False),  # 1x1 -> 4x4
                                   nn.BatchNorm2d(widths[0]), nn.ReLU(True)]
        for w_in, w_out in zip(widths, widths[1:]):
            layers += [nn.ConvTranspose2d(w_in, w_out, 4, 2, 1, bias=False), nn.BatchNorm2d(w_out), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], c.channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.image_generator = nn.Sequential(*layers)  # G_I

    # Drawing codes. ``generator`` makes a draw repeatable; the default uses the global RNG.
    def sample_content(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """z_C ~ N(0, I): (n, dim_content), one per video."""
        return torch.randn(n, self.config.dim_content, generator=generator).to(self._device)

    def sample_action(self, n: int, generator: torch.Generator | None = None) -> Tensor | None:
        """z_A: (n, num_actions) one-hot with a uniform category, or None when the config has no actions."""
        if self.config.num_actions == 0:
            return None
        labels = torch.randint(self.config.num_actions, (n,), generator=generator)
        return F.one_hot(labels, self.config.num_actions).float().to(self._device)

    def sample_motion(self, n: int, generator: torch.Generator | None = None, z_action: Tensor | None = None,
                      num_frames: int | None = None) -> Tensor:
        """z_M(1..T): (n, T, dim_motion), the GRU run from h_0 ~ N(0, I) on fresh ε_t ~ N(0, I)."""
        t = num_frames or self.config.num_frames
        h0 = torch.randn(n, self.config.dim_motion, generator=generator).to(self._device)
        noise = torch.randn(n, t, self.config.dim_motion, generator=generator).to(self._device)
        return motion_codes(self.gru, h0, noise, z_action)

    def generate(self, z_content: Tensor, z_motion: Tensor, z_action: Tensor | None = None) -> Tensor:
        """Frames from given codes: (B, dim_content), (B, T, dim_motion) -> video (B, C, T, H, W) in [-1, 1]."""
        z = frame_latents(z_content, z_motion, z_action)
        frames = self.image_generator(rearrange(z, "b t d -> (b t) d 1 1"))  # every frame through G_I
        return rearrange(frames, "(b t) c h w -> b c t h w", b=z.shape[0])

    def forward(self, n: int) -> tuple[Tensor, Tensor | None]:
        """n fresh videos (n, C, T, H, W) in [-1, 1], and their action codes (or None)."""
        z_action = self.sample_action(n)
        return self.generate(self.sample_content(n), self.sample_motion(n, z_action=z_action), z_action), z_action

    @property
    def _device(self) -> torch.device:
        return self.gru.weight_hh.device


class InstanceNoise(nn.Module):
    """Adds N(0, sigma²) noise to its input while training, so real and fake overlap and D's gradients
    stay informative (the ``--use_noise`` option of the paper's code)."""

    def __init__(self, sigma: float) -> None:
        super().__init__()
        self.sigma = sigma

    def forward(self, x: Tensor) -> Tensor:
        return x + self.sigma * torch.randn_like(x) if self.training and self.sigma > 0 else x


def has_bias(config: Config) -> bool:
    """Discriminator convs need biases unless BatchNorm supplies the shifts (the paper's code has none).

    A network of bias-free convs and LeakyReLUs is positively homogeneous, D(a x) = a D(x): it gives
    an all-grey frame (0 in [-1, 1]) the logit 0 however it trains, and a generator stuck at grey
    gets no push towards a black background.
    """
    return config.disc_norm != "batch"


def disc_layers(conv: nn.Conv2d | nn.Conv3d, config: Config, *, first: bool = False,
                last: bool = False) -> list[nn.Module]:
    """One discriminator layer: instance noise, the convolution, its normalisation, LeakyReLU(0.2).

    ``disc_norm="batch"`` is the paper's code (BatchNorm after every conv but the first and last);
    ``"spectral"`` instead divides each conv's weights by their largest singular value (Miyato et al.,
    "Spectral Normalization for Generative Adversarial Networks", ICLR 2018), which keeps D smooth.
    """
    layers: list[nn.Module] = [InstanceNoise(config.noise_sigma)]
    if config.disc_norm == "spectral":
        layers.append(nn.utils.parametrizations.spectral_norm(conv))
    elif config.disc_norm == "batch":
        batch_norm = nn.BatchNorm3d if isinstance(conv, nn.Conv3d) else nn.BatchNorm2d
        layers += [conv] if first or last else [conv, batch_norm(conv.out_channels)]
    elif config.disc_norm == "none":
        layers.append(conv)
    else:
        raise ValueError(f"disc_norm={config.disc_norm!r}: use 'spectral', 'batch' or 'none'.")
    return layers if last else [*layers, nn.LeakyReLU(0.2, True)]


class ImageDiscriminator(nn.Module):
    """D_I: a patch discriminator on single frames (B, C, H, W) in [-1, 1] -> logits (B, 1, h, w)."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        w, bias = config.image_disc_width, has_bias(config)
        self.net = nn.Sequential(
            *disc_layers(nn.Conv2d(config.channels, w, 4, 2, 1, bias=bias), config, first=True),
            *disc_layers(nn.Conv2d(w, 2 * w, 4, 2, 1, bias=bias), config),
            *disc_layers(nn.Conv2d(2 * w, 4 * w, 4, 2, 1, bias=bias), config),
            *disc_layers(nn.Conv2d(4 * w, 1, 4, 2, 1, bias=bias), config, last=True),  # a logit per patch
        )

    def forward(self, frames: Tensor) -> Tensor:
        if frames.ndim != 4:
            raise ValueError(f"D_I judges single frames (B, C, H, W); got shape {tuple(frames.shape)}.")
        return self.net(frames)


class VideoDiscriminator(nn.Module):
    """D_V: 3-D convolutions, stride (1, 2, 2), on clips (B, C, T, H, W) in [-1, 1].

    Returns real/fake logits (B, 1, t, h, w) and, with actions, category logits (B, num_actions).
    """

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.num_actions = config.num_actions
        if config.num_frames - 3 * config.num_upsamplings < 4:  # each layer trims 3 frames; the last needs 4
            raise ValueError(f"D_V needs num_frames >= {3 * config.num_upsamplings + 4} at frame_size "
                             f"{config.frame_size}; got {config.num_frames}.")
        widths = [config.video_disc_width * 2**i for i in range(config.num_upsamplings)]  # e.g. 16, 32, 64
        layers: list[nn.Module] = []
        for i, (w_in, w_out) in enumerate(zip([config.channels, *widths], widths)):
            # Time keeps full resolution (stride 1): the kernel only trims 3 frames per layer.
            conv = nn.Conv3d(w_in, w_out, 4, stride=(1, 2, 2), padding=(0, 1, 1), bias=has_bias(config))
            layers += disc_layers(conv, config, first=i == 0)
        conv = nn.Conv3d(widths[-1], 1 + config.num_actions, 4, 1, 0, bias=has_bias(config))
        last = disc_layers(conv, dataclasses.replace(config, noise_sigma=0), last=True)  # no noise here
        self.net = nn.Sequential(*layers, *last)

    def forward(self, videos: Tensor) -> tuple[Tensor, Tensor | None]:
        if videos.ndim != 5:
            raise ValueError(f"D_V judges clips (B, C, T, H, W); got shape {tuple(videos.shape)}.")
        out = self.net(videos)
        if self.num_actions == 0:
            return out, None
        return out[:, :1], out[:, 1:].mean(dim=(2, 3, 4))  # Sec. 4.1: D_V also predicts z_A


class MoCoGAN(nn.Module):
    """The generator, its running average and both discriminators: one state dict, one checkpoint.

    ``generator`` is trained; ``generator_ema`` (GRU and image generator) follows it as an exponential
    moving average of its weights and is the one that samples, as in VGAN (``vidgen_lib.train.ema_update``).
    """

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.generator = MoCoGANGenerator(config)
        self.image_discriminator = ImageDiscriminator(config) if config.use_image_discriminator else None
        self.video_discriminator = VideoDiscriminator(config)
        self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)
        self.snapshots = TrainingSnapshots(SNAPSHOT_SAMPLES, (config.channels, config.num_frames,
                                                              config.frame_size, config.frame_size))

    @torch.no_grad()
    def recalibrate_ema(self, batches: int = 50, batch_size: int = 16) -> None:
        """Re-estimate the averaged generator's BatchNorm statistics for its averaged weights."""
        ema = self.generator_ema
        recalibrate_batchnorm(
            ema, lambda g: ema.generate(ema.sample_content(batch_size, g), ema.sample_motion(batch_size, g)), batches)


SNAPSHOT_SAMPLES = 8  # clips per training snapshot, drawn from the same codes every time


def build(config: Config) -> MoCoGAN:
    """A fresh MoCoGAN with DCGAN initialisation (weights N(0, 0.02), BatchNorm scales N(1, 0.02)).

    Discriminators without BatchNorm keep PyTorch's default initialisation: with weights of
    std 0.02 and nothing to rescale them, their logits would start vanishingly small.
    """
    model = MoCoGAN(config)
    discriminators = [d for d in (model.image_discriminator, model.video_discriminator) if d is not None]
    parts = [model.generator] + (discriminators if config.disc_norm == "batch" else [])
    for m in (m for part in parts for m in part.modules()):
        if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    model.generator_ema.load_state_dict(model.generator.state_dict())  # the average starts at G
    return model


# --- the losses ---------------------------------------------------------------------------------

def sample_frames(videos: Tensor, n: int, generator: torch.Generator | None = None) -> Tensor:
    """n frames drawn at random (without replacement) from all frames of a batch: what D_I sees.

    Args:
        videos: (B, C, T, H, W); gradients flow through the chosen frames.
        n: how many frames, at most B * T.
    Returns:
        (n, C, H, W).
    """
    frames = rearrange(videos, "b c t h w -> (b t) c h w")
    return frames[torch.randperm(frames.shape[0], generator=generator)[:n].to(frames.device)]


def generator_loss(image_logits: Tensor | None, video_logits: Tensor | None, kind: str = "bce") -> Tensor:
    """G's loss: the image GAN term plus the video GAN term (Sec. 4, the objective F_V).

    ``bce``: each term is BCE-with-logits against the label "real" (non-saturating):
    -mean log D_I(x̃) - mean log D_V(ṽ). ``hinge``: -mean D_I(x̃) - mean D_V(ṽ) on the raw logits.
    ``None`` leaves a term out: ``image_logits=None`` without D_I, ``video_logits=None`` while
    only the image generator is pretrained.
    """
    terms = [logits for logits in (image_logits, video_logits) if logits is not None]
    if kind == "hinge":
        return sum(-logits.mean() for logits in terms)
    return sum(F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits)) for logits in terms)


def training_step(model: MoCoGAN, trainer: Trainer, real: Tensor) -> dict[str, float]:
    """One iteration of Sec. 4's alternating updates: D_I, then D_V, then G, on one batch of fakes.

    Both discriminators see their inputs through ``config.augment`` (DiffAugment), real and fake alike.

    Args:
        real: (B, C, T, H, W) real videos in [0, 1].
    """
    config, gen = model.config, model.generator
    d_image, d_video = model.image_discriminator, model.video_discriminator
    augment = lambda x: diff_augment(x, config.augment, fill=-1.0)  # noqa: E731  (-1 is black here)
    d_loss = lambda real_logits, fake_logits: discriminator_loss(real_logits, fake_logits, config.loss)  # noqa: E731
    real = real * 2 - 1  # the networks work in [-1, 1]
    fake, z_action = gen(real.shape[0])  # generated once, reused by all three updates
    values = {}
    if d_image is not None:
        fake_frames = sample_frames(fake, config.image_batch_size)
        real_frames = sample_frames(real, config.image_batch_size)
        # Sec. 4, F_V's image term: real frames "real", generated frames "fake".
        loss_d_image = d_loss(d_image(augment(real_frames)), d_image(augment(fake_frames.detach())))
        values["D_image"] = trainer.update("D_image", loss_d_image)

    real_logits, _ = d_video(augment(real))
    fake_logits, fake_category = d_video(augment(fake.detach()))
    loss_d_video = d_loss(real_logits, fake_logits)  # Sec. 4, F_V's video term: clips
    if z_action is not None:  # Sec. 4.1: D_V learns to recover z_A from the fakes (InfoGAN)
        loss_d_video = loss_d_video + F.cross_entropy(fake_category, z_action.argmax(dim=1))
    values["D_video"] = trainer.update("D_video", loss_d_video)

    discriminators = [d for d in (d_image, d_video) if d is not None]
    for d in discriminators:
        d.requires_grad_(False)  # G's update needs no D weight gradients
    fake_logits, fake_category = d_video(augment(fake))
    image_logits = d_image(augment(fake_frames)) if d_image is not None else None
    loss_g = generator_loss(image_logits, fake_logits, config.loss)
    if z_action is not None:  # ... and G learns to make z_A recoverable
        loss_g = loss_g + F.cross_entropy(fake_category, z_action.argmax(dim=1))
    values["G"] = trainer.update("G", loss_g)
    for d in discriminators:
        d.requires_grad_(True)
    ema_update(model.generator_ema, gen, config.ema_decay)
    return values


def image_step(model: MoCoGAN, trainer: Trainer, real: Tensor) -> dict[str, float]:
    """One step of an *image* GAN that pretrains the frame generator G_I: D_I on single frames, then G
    against D_I alone; D_V waits. A good image generator first, then a motion path through its latent
    space, is the insight of MoCoGAN-HD (Tian et al., ICLR 2021); ``Config.pretrain_image_steps``
    runs this step before the video game of :func:`training_step`.

    Only as many clips are generated as the frames D_I needs: ceil(image_batch_size / T).

    Args:
        real: (B, C, T, H, W) real videos in [0, 1].
    """
    config, gen, d_image = model.config, model.generator, model.image_discriminator
    augment = lambda x: diff_augment(x, config.augment, fill=-1.0)  # noqa: E731  (-1 is black here)
    real_frames = sample_frames(real * 2 - 1, config.image_batch_size)
    fake, _ = gen(-(-config.image_batch_size // config.num_frames))
    fake_frames = sample_frames(fake, config.image_batch_size)
    loss_d = discriminator_loss(d_image(augment(real_frames)), d_image(augment(fake_frames.detach())), config.loss)
    values = {"D_image": trainer.update("D_image", loss_d)}
    d_image.requires_grad_(False)
    values["G"] = trainer.update("G", generator_loss(d_image(augment(fake_frames)), None, config.loss))
    d_image.requires_grad_(True)
    ema_update(model.generator_ema, gen, config.ema_decay)
    return values


# --- training, sampling, the shipped checkpoint ------------------------------------------------

def training_data(config: Config, split: str = "train") -> MovingDigits:
    """The world MoCoGAN learns: one handwritten digit bouncing in a square (Moving-MNIST rules)."""
    return MovingDigits(split, num_videos=config.num_videos, num_frames=config.num_frames,
                        frame_size=config.frame_size, num_digits=config.num_digits)


def make_optimizers(model: MoCoGAN, config: Config) -> dict[str, torch.optim.Optimizer]:
    """Adam for G (``lr``), D_I and D_V (``disc_lr``), β = ``betas``, weight decay 1e-5 as in the paper's code."""
    parts = {"D_image": (model.image_discriminator, config.disc_lr),
             "D_video": (model.video_discriminator, config.disc_lr), "G": (model.generator, config.lr)}
    parts = {name: part for name, part in parts.items() if part[0] is not None}  # no D_I: no optimiser for it
    return {name: torch.optim.Adam(part.parameters(), lr=lr, betas=config.betas,
                                   weight_decay=config.weight_decay) for name, (part, lr) in parts.items()}


def train(config: Config, steps: int | None = None, *, run_dir: str | Path | None = None, seed: int = 0,
          progress: bool = True, time_limit_s: float | None = None) -> tuple[MoCoGAN, dict[str, float]]:
    """Train MoCoGAN on moving digits for ``steps`` (default ``config.steps``) or until ``time_limit_s``
    seconds of training; returns the model (in eval mode) and its metrics. The first
    ``config.pretrain_image_steps`` of the steps pretrain the image generator (:func:`image_step`).

    The metrics are the last logged losses, the steps done, the training time and, unless
    ``config.eval_videos`` is 0, the scores of :func:`evaluate`. Three snapshots of samples from
    fixed codes (after 10%, 30% and 100% of the run) are kept in ``model.snapshots``.
    """
    steps = config.steps if steps is None else steps
    seed_everything(seed)
    model = build(config)
    trainer = Trainer({"model": model}, make_optimizers(model, config), run_dir=run_dir,
                      checkpoint_every=500 if run_dir else 0, log_every=50, seed=seed, progress=progress)
    draw = lambda: sample(model, SNAPSHOT_SAMPLES, seed=1234)  # noqa: E731
    def step(tr: Trainer, batch: dict[str, Tensor]) -> dict[str, float]:  # images first, if asked, then video
        return (image_step if tr.step < config.pretrain_image_steps else training_step)(model, tr, batch["video"])

    step_fn = with_snapshots(step, model.snapshots, draw, steps, time_limit_s)
    batches = infinite_batches(loader(training_data(config), config.batch_size, trainer.device))
    history = trainer.fit(step_fn, batches, steps, time_limit_s=time_limit_s)
    model.recalibrate_ema()
    model.snapshots.record(len(model.snapshots.steps) - 1, trainer.step, draw())
    metrics = {f"final_loss_{k}": round(v, 4) for k, v in history[-1].items() if k != "step"}
    metrics["steps"] = trainer.step
    if config.eval_videos > 0:
        metrics.update(evaluate(model, config.eval_videos))
    metrics["train_wall_time_s"] = trainer.wall_time_s  # summed over resumed runs: the card's wall time
    return model, metrics


@torch.no_grad()
def sample(model: MoCoGAN, n: int, *, seed: int | None = None, content: Tensor | None = None,
           motion: Tensor | None = None, action: Tensor | None = None) -> Tensor:
    """n videos (n, C, T, H, W) in [0, 1] from the averaged generator; fix ``content`` or ``motion``
    to see the decomposition.

    Args:
        seed: makes the draw of every code that is not given repeatable.
        content: (n, dim_content) or (dim_content,) z_C, shared by every video when 1-D.
        motion: (n, T, dim_motion) or (T, dim_motion) z_M(1..T), shared by every video when 2-D.
        action: (n, num_actions) one-hot z_A (models with actions only).
    """
    gen = model.generator_ema
    was_training = model.training
    model.eval()
    g = torch.Generator().manual_seed(seed) if seed is not None else None
    dev = gen._device
    z_content = gen.sample_content(n, g) if content is None else _expand(content.to(dev), n, 2)
    z_action = gen.sample_action(n, g) if action is None else action.to(dev)
    z_motion = gen.sample_motion(n, g, z_action) if motion is None else _expand(motion.to(dev), n, 3)
    video = gen.generate(z_content, z_motion, z_action)
    model.train(was_training)
    return ((video + 1) / 2).clamp(0, 1).cpu()


def _expand(code: Tensor, n: int, ndim: int) -> Tensor:
    """A code for one video repeated n times, or a batch of n codes checked."""
    if code.ndim == ndim - 1:
        return repeat(code, "... -> n ...", n=n)
    if code.ndim != ndim or code.shape[0] != n:
        raise ValueError(f"expected a code of {ndim - 1} dims (shared) or {ndim} dims with {n} rows; "
                         f"got shape {tuple(code.shape)}.")
    return code


def load_pretrained(device: torch.device | str | None = None, path: str | Path | None = None) -> MoCoGAN:
    """The shipped checkpoint ``data/checkpoints/mocogan.pt``, checked against its card, in eval mode."""
    return load_model(CHECKPOINT, Config, build, device, path)


def blend_content(model: MoCoGAN, z_from: Tensor, z_to: Tensor, alphas: list[float] | Tensor,
                  motion: Tensor) -> Tensor:
    """Videos along the straight line from one content code to another, all with the same motion.

    Args:
        z_from, z_to: (dim_content,) the two content codes.
        alphas: (K,) blend weights; 0 gives ``z_from``, 1 gives ``z_to``.
        motion: (T, dim_motion) the shared motion codes z_M(1..T).
    Returns:
        (K, C, T, H, W) in [0, 1].
    """
    alphas = torch.as_tensor(alphas, dtype=z_from.dtype, device=z_from.device)[:, None]
    return sample(model, len(alphas), content=(1 - alphas) * z_from + alphas * z_to, motion=motion)


# --- measuring: FVD and ACD with the course's feature network ------------------------------------

def real_videos(config: Config, n: int) -> Tensor:
    """The first n held-out (test split) videos of the training world: (n, C, T, H, W) in [0, 1]."""
    return video_batch(training_data(dataclasses.replace(config, num_videos=n), "test"), n)


def decomposition_grids(model: MoCoGAN, rows: int, per_row: int, seed: int = 0) -> dict[str, Tensor]:
    """Videos for the swap test: rows that share one code while the other is redrawn.

    Returns:
        ``"fixed_content"``: (rows, per_row, C, T, H, W), one z_C per row, a new motion per video;
        ``"fixed_motion"``: the same layout, one motion path z_M(1..T) per row, a new z_C per video.
    """
    gen, g = model.generator_ema, torch.Generator().manual_seed(seed)
    contents, motions = gen.sample_content(rows, g), gen.sample_motion(rows, g)
    fixed_content = [sample(model, per_row, seed=seed + 1 + r, content=contents[r]) for r in range(rows)]
    fixed_motion = [sample(model, per_row, seed=seed + 1 + r, motion=motions[r]) for r in range(rows)]
    return {"fixed_content": torch.stack(fixed_content), "fixed_motion": torch.stack(fixed_motion)}


def label_agreement(labels: Tensor) -> float:
    """How often two videos of the same row get the same label: the share of equal pairs within rows.

    Args:
        labels: (R, K) integer labels, K >= 2 videos per row.
    Returns:
        A number in [0, 1]: 1 if every row is constant, about 1 / (number of classes) for random labels.
    """
    r, k = labels.shape
    same = labels[:, :, None] == labels[:, None, :]  # (R, K, K), the diagonal pairs a video with itself
    return float((same.sum() - r * k) / (r * k * (k - 1)))


@torch.no_grad()
def decomposition_scores(model: MoCoGAN, rows: int = 32, per_row: int = 8, seed: int = 0) -> dict[str, float]:
    """Does identity follow z_C and the motion follow z_M? Label agreement within rows, as the course's
    feature network names each video's digit and its axis of motion (horizontal or vertical).

    Returns:
        ``{"digit|fixed_content", "digit|fixed_motion", "axis|fixed_content", "axis|fixed_motion"}``.
    """
    from vidgen_lib import features

    net = features.load_features()
    scores = {}
    for grid_name, grid in decomposition_grids(model, rows, per_row, seed).items():
        out = net(rearrange(grid, "r k c t h w -> (r k) c t h w").to(next(net.parameters()).device))
        for head in ("digit", "axis"):
            labels = rearrange(out[head].argmax(dim=1).cpu(), "(r k) -> r k", r=rows)
            scores[f"{head}|{grid_name}"] = label_agreement(labels)
    return scores


def evaluate(model: MoCoGAN, n: int, seed: int = 0) -> dict[str, float]:
    """The model card's scores: ``metrics.generator_scores`` of ``n`` samples (FVD, motion FVD, frame FD,
    ACD next to the baselines', as for VGAN) and the decomposition scores of :func:`decomposition_scores`.

    The distances are against ``n`` held-out (test) clips; the baselines are built from ``n`` training
    clips. Needs the shipped feature network (``data/checkpoints/video_features.pt``).
    """
    others = video_batch(training_data(dataclasses.replace(model.config, num_videos=n), "train"), n)
    scores = generator_scores(sample(model, n, seed=seed), real_videos(model.config, n), others, seed=seed)
    decomposition = {key: round(value, 4) for key, value in decomposition_scores(model, seed=seed).items()}
    return {**scores, **decomposition}
