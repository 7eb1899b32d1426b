"""MoCoGAN: a video is a fixed content code plus a path of motion codes.

Tulyakov, Liu, Yang, Kautz, "MoCoGAN: Decomposing Motion and Content for Video Generation", CVPR 2018.
Every frame is drawn by the *same* 2-D image generator from a latent [z_C, z_M(t)]: the content code
z_C ~ N(0, I) is drawn once per video, the motion codes z_M(1..T) are the states of a GRU driven by fresh
noise at every step. D_I judges single frames, D_V whole clips (Sec. 4). The paper's one-hot action code
z_A (Sec. 4.1) is left out: the course's digit world has no action categories (its action-conditioned
model is DVG, notebook 07).

Departures from the paper's code, each measured (notebook 03 and the model card), are VGAN's small-GAN
recipe: spectrally normalised discriminators instead of BatchNorm, which overpowered the generator within
a few hundred steps (``disc_norm="batch"`` restores it); the hinge loss; TTUR with Adam β = (0, 0.9);
DiffAugment before both discriminators; samples from a running average of G's weights (``ema_decay``).
``use_image_discriminator=False`` is the paper's ablation of D_I. Taught in ``notebooks/03_mocogan.ipynb``,
measured by ``vidgen_lib.evaluation.mocogan``. Videos are (B, C, T, H, W) in [0, 1] at the public
boundary; inside, the networks work in [-1, 1].
"""
from __future__ import annotations

import copy
import dataclasses
import itertools
import math
from pathlib import Path

import torch
from einops import rearrange, repeat
from torch import Tensor, nn

from vidgen_lib import losses
from vidgen_lib.augment import diff_augment, parse_policy
from vidgen_lib.checkpoints import load_model
from vidgen_lib.datasets import MovingDigits
from vidgen_lib.nn.conv import activation, conv_block, norm_layer, normal_init, up_block
from vidgen_lib.nn.ema import ema_update, recalibrate_batchnorm
from vidgen_lib.runtime import eval_mode, model_device, rng, seed_everything
from vidgen_lib.train import Trainer, TrainingSnapshots, batches, run
from vidgen_lib.video import fold_time, from_signed, to_signed, unfold_time

CHECKPOINT = "mocogan"
SNAPSHOT_SAMPLES = 8  # clips per training snapshot, drawn from the same codes every time


@dataclasses.dataclass
class Config:
    """Sizes, data and optimisation of a MoCoGAN run (recorded in the model card)."""

    num_frames: int = 16  # T, as in the paper
    frame_size: int = 32  # H = W; a power of two >= 16
    channels: int = 1
    num_digits: int = 1  # moving digits with one digit: identity = content, trajectory = motion
    dim_content: int = 50  # z_C (paper: 50)
    dim_motion: int = 10  # z_M(t), the GRU's hidden size (paper: 10)
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
    pretrain_image_steps: int = 0  # the first steps train G_I on single frames against D_I alone
    noise_sigma: float = 0.0  # instance noise added to every discriminator layer's input while training
    ema_decay: float = 0.99  # samples come from a running average of G's weights (0: G itself), as in VGAN
    num_videos: int = 100_000  # training videos (each a pure function of its index)
    eval_videos: int = 1024  # N of the model card's FVD and ACD (as for VGAN); 0: no evaluation
    steps: int = 7000

    def __post_init__(self) -> None:
        self.betas = tuple(self.betas)  # a list when read back from a model card
        if self.loss not in ("hinge", "bce"):
            raise ValueError(f"loss must be 'hinge' or 'bce', got {self.loss!r}.")
        if self.disc_norm not in ("spectral", "batch"):
            raise ValueError(f"disc_norm must be 'spectral' or 'batch', got {self.disc_norm!r}.")
        parse_policy(self.augment)  # raises on an unknown augmentation
        if self.pretrain_image_steps and not self.use_image_discriminator:
            raise ValueError("pretrain_image_steps needs the image discriminator (use_image_discriminator).")

    @classmethod
    def preset(cls, name: str) -> Config:
        """``tutorial``: 16 frames of 32x32, two hours on a CPU thread; ``full``: the paper's 64x64 sizes."""
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


# --- the generator: content, motion, then one image generator per frame --------------------------

def frame_latents(z_content: Tensor, z_motion: Tensor) -> Tensor:
    """The per-frame latents [z_C, z_M(t)] (Sec. 4): z_content (B, dim_content), one per video, repeated
    over time beside z_motion (B, T, dim_motion) -> (B, T, dim_content + dim_motion)."""
    return torch.cat([repeat(z_content, "b d -> b t d", t=z_motion.shape[1]), z_motion], dim=-1)


def motion_codes(gru: nn.GRUCell, h0: Tensor, noise: Tensor) -> Tensor:
    """The motion path (Sec. 4): h_t = GRU(ε_t, h_{t-1}), z_M(t) = h_t, from h0 (B, dim_motion) on the
    noise ε_t (B, T, dim_motion). Returns h_1 .. h_T (B, T, dim_motion); h_0 is not a frame's code."""
    h, codes = h0, []
    for t in range(noise.shape[1]):
        h = gru(noise[:, t], h)
        codes.append(h)
    return torch.stack(codes, dim=1)


class MoCoGANGenerator(nn.Module):
    """G_M (a GRU over noise) and G_I (a DCGAN image generator applied to every frame). The ``sample_*``
    methods draw codes with ``generator`` (a CPU ``torch.Generator``; None: the global RNG)."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = c = config
        self.gru = nn.GRUCell(c.dim_motion, c.dim_motion)  # Sec. 4: the motion generator R_M
        widths = [c.gen_width * 2**i for i in reversed(range(c.num_upsamplings))]  # e.g. 128, 64, 32
        layers = [*conv_block(c.dim_content + c.dim_motion, widths[0], transpose=True, stride=1,
                              padding=0)]  # 1x1 -> 4x4
        for w_in, w_out in itertools.pairwise(widths):
            layers += up_block(w_in, w_out)  # doubles H and W
        layers += [nn.ConvTranspose2d(widths[-1], c.channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.image_generator = nn.Sequential(*layers)  # G_I

    def sample_content(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """z_C ~ N(0, I): (n, dim_content), one per video."""
        return torch.randn(n, self.config.dim_content, generator=generator).to(model_device(self))

    def sample_motion(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """z_M(1..T): (n, T, dim_motion), the GRU run from h_0 ~ N(0, I) on fresh ε_t ~ N(0, I)."""
        c, dev = self.config, model_device(self)
        h0 = torch.randn(n, c.dim_motion, generator=generator).to(dev)
        noise = torch.randn(n, c.num_frames, c.dim_motion, generator=generator).to(dev)
        return motion_codes(self.gru, h0, noise)

    def generate(self, z_content: Tensor, z_motion: Tensor) -> Tensor:
        """Frames from codes (B, dim_content), (B, T, dim_motion): a video (B, C, T, H, W) in [-1, 1]."""
        z = frame_latents(z_content, z_motion)
        frames = self.image_generator(rearrange(z, "b t d -> (b t) d 1 1"))  # every frame through G_I
        return unfold_time(frames, z.shape[0])

    def forward(self, n: int) -> Tensor:
        """n fresh videos (n, C, T, H, W) in [-1, 1], from new content and motion codes."""
        return self.generate(self.sample_content(n), self.sample_motion(n))

    def single_frames(self, n: int) -> Tensor:
        """n independent frames (n, C, H, W) in [-1, 1]: each from its own content code and the motion code
        of one random step of its own path, the samples of G_I's image game (one code per frame, where n
        frames of few clips would share few content codes)."""
        z_motion = self.sample_motion(n)  # (n, T, dim_motion)
        steps = torch.randint(self.config.num_frames, (n,), device=z_motion.device)
        z = torch.cat([self.sample_content(n), z_motion[torch.arange(n, device=z_motion.device), steps]], -1)
        return self.image_generator(rearrange(z, "b d -> b d 1 1"))


# --- the two discriminators -----------------------------------------------------------------------

class InstanceNoise(nn.Module):
    """Adds N(0, sigma²) noise to its input while training (``--use_noise`` in the paper's code)."""

    def __init__(self, sigma: float) -> None:
        super().__init__()
        self.sigma = sigma

    def forward(self, x: Tensor) -> Tensor:
        return x + self.sigma * torch.randn_like(x) if self.training and self.sigma > 0 else x


def disc_layers(c_in: int, c_out: int, config: Config, *, dims: int = 2, stride: int | tuple[int, ...] = 2,
                padding: int | tuple[int, ...] = 1, first: bool = False, last: bool = False,
                noise: bool = True) -> list[nn.Module]:
    """One discriminator layer: instance noise (none if not ``noise``), a kernel-4 convolution, its
    normalisation, LeakyReLU(0.2) (none after the ``last``). ``disc_norm="batch"`` is the paper's code
    (BatchNorm after every conv but the first and last, convs without biases); ``"spectral"`` divides each
    conv's weights by their largest singular value (Miyato et al., ICLR 2018), which keeps D smooth. It
    needs biases: bias-free convs and LeakyReLUs give D(a x) = a D(x), an all-grey frame the logit 0.
    """
    spectral = config.disc_norm == "spectral"
    conv = (nn.Conv3d if dims == 3 else nn.Conv2d)(c_in, c_out, 4, stride, padding, bias=spectral)
    layers: list[nn.Module] = [InstanceNoise(config.noise_sigma if noise else 0.0)]
    if spectral:
        layers.append(nn.utils.parametrizations.spectral_norm(conv))
    else:
        layers += [conv] if first or last else [conv, norm_layer("batch", c_out, dims)]
    return layers if last else [*layers, activation("lrelu")]


class ImageDiscriminator(nn.Module):
    """D_I: a patch discriminator on single frames, four stride-2 convolutions."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        w = config.image_disc_width
        widths = [config.channels, w, 2 * w, 4 * w, 1]  # a logit per patch at the end
        self.net = nn.Sequential(*itertools.chain.from_iterable(
            disc_layers(c_in, c_out, config, first=i == 0, last=i == 3)
            for i, (c_in, c_out) in enumerate(itertools.pairwise(widths))))

    def forward(self, frames: Tensor) -> Tensor:
        """Frames (B, C, H, W) in [-1, 1] -> real/fake logits (B, 1, h, w)."""
        if frames.ndim != 4:
            raise ValueError(f"D_I judges single frames (B, C, H, W); got shape {tuple(frames.shape)}.")
        return self.net(frames)


class VideoDiscriminator(nn.Module):
    """D_V: 3-D convolutions with stride (1, 2, 2) on clips."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        n = config.num_upsamplings
        if config.num_frames - 3 * n < 4:  # each layer trims 3 frames; the last needs 4
            raise ValueError(f"D_V needs num_frames >= {3 * n + 4} at frame_size {config.frame_size}; "
                             f"got {config.num_frames}.")
        widths = [config.channels] + [config.video_disc_width * 2**i for i in range(n)]  # e.g. 1, 16, 32, 64
        # Time keeps full resolution (stride 1): the kernel only trims 3 frames per layer.
        layers = [disc_layers(c_in, c_out, config, dims=3, stride=(1, 2, 2), padding=(0, 1, 1), first=i == 0)
                  for i, (c_in, c_out) in enumerate(itertools.pairwise(widths))]
        last = disc_layers(widths[-1], 1, config, dims=3, stride=1, padding=0, last=True, noise=False)
        self.net = nn.Sequential(*itertools.chain(*layers, last))

    def forward(self, videos: Tensor) -> Tensor:
        """Clips (B, C, T, H, W) in [-1, 1] -> real/fake logits (B, 1, t, h, w)."""
        if videos.ndim != 5:
            raise ValueError(f"D_V judges clips (B, C, T, H, W); got shape {tuple(videos.shape)}.")
        return self.net(videos)


class MoCoGAN(nn.Module):
    """The generator, its running average and both discriminators: one state dict, one checkpoint.
    ``generator`` is trained; ``generator_ema``, a moving average of its weights, samples (as in VGAN)."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.generator = MoCoGANGenerator(config)
        self.image_discriminator = ImageDiscriminator(config) if config.use_image_discriminator else None
        self.video_discriminator = VideoDiscriminator(config)
        self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)
        self.snapshots = TrainingSnapshots(SNAPSHOT_SAMPLES, (config.channels, config.num_frames,
                                                              config.frame_size, config.frame_size))

    def recalibrate_ema(self, batches: int = 50, batch_size: int = 16) -> None:
        """Re-estimate the averaged generator's BatchNorm statistics for its averaged weights."""
        ema = self.generator_ema  # codes drawn as in sample: content, then motion
        recalibrate_batchnorm(ema, lambda g: ema.generate(ema.sample_content(batch_size, g),
                                                          ema.sample_motion(batch_size, g)), batches)


def build(config: Config) -> MoCoGAN:
    """A fresh MoCoGAN with DCGAN initialisation (weights N(0, 0.02), BatchNorm scales N(1, 0.02)).
    Spectrally normalised discriminators keep PyTorch's default: with weights of std 0.02 and no
    BatchNorm to rescale them, their logits would start vanishingly small."""
    model = MoCoGAN(config)
    discriminators = [d for d in (model.image_discriminator, model.video_discriminator) if d is not None]
    for part in [model.generator, *(discriminators if config.disc_norm == "batch" else [])]:
        part.apply(normal_init)
    model.generator_ema.load_state_dict(model.generator.state_dict())  # the average starts at G
    return model


# --- the losses and one training iteration ------------------------------------------------------

def sample_frames(videos: Tensor, n: int) -> Tensor:
    """n of the B * T frames of videos (B, C, T, H, W), at random, without replacement: (n, C, H, W),
    what D_I sees. Gradients flow through the chosen frames."""
    frames = fold_time(videos)
    return frames[torch.randperm(frames.shape[0])[:n].to(frames.device)]


def generator_loss(image_logits: Tensor | None, video_logits: Tensor | None, kind: str = "bce") -> Tensor:
    """G's loss: the image GAN term plus the video GAN term (Sec. 4, the objective F_V).
    ``bce``: -mean log D_I(x̃) - mean log D_V(ṽ), BCE against the label "real" (non-saturating);
    ``hinge``: -mean D_I(x̃) - mean D_V(ṽ) on the raw logits. ``None`` leaves a term out (no D_I, or
    no D_V while the image generator is pretrained).
    """
    kind = "hinge" if kind == "hinge" else "non_saturating"
    terms = [logits for logits in (image_logits, video_logits) if logits is not None]
    return sum(losses.generator_loss(logits, kind) for logits in terms)


def training_step(model: MoCoGAN, trainer: Trainer, batch: dict[str, Tensor]) -> dict[str, float]:
    """One iteration of Sec. 4's alternating updates: D_I, then D_V, then G, on one batch of fakes, which
    both discriminators see through DiffAugment, as they see the real ones. The first
    ``pretrain_image_steps`` play an image GAN instead (D_I, then G against D_I alone, on
    ``image_batch_size`` independent frames): a good image generator first, then a motion path through
    its latent space, is the insight of MoCoGAN-HD (Tian et al., ICLR 2021).

    Args:
        batch: ``{"video": (B, C, T, H, W)}`` real videos in [0, 1], as the training data yields them.
    Returns:
        The losses ``D_image`` (with D_I), ``D_video`` (not while pretraining) and ``G``.
    """
    config, d_image, d_video = model.config, model.image_discriminator, model.video_discriminator
    real, n_frames = to_signed(batch["video"]), config.image_batch_size  # the networks work in [-1, 1]

    def augment(x: Tensor) -> Tensor:  # the same for real and fake; -1 (black) fills the border
        return diff_augment(x, config.augment, fill=-1.0)

    if trainer.step < config.pretrain_image_steps:  # the image game (MoCoGAN-HD): D_V sits out
        d_video, real_frames = None, sample_frames(real, n_frames)
        fake_frames = model.generator.single_frames(n_frames)
    else:
        fake = model.generator(real.shape[0])  # generated once, reused by all three updates
        if d_image is not None:
            fake_frames, real_frames = sample_frames(fake, n_frames), sample_frames(real, n_frames)
    values = {}
    if d_image is not None:  # Sec. 4, F_V's image term: real frames "real", generated frames "fake"
        loss = losses.discriminator_loss(d_image(augment(real_frames)),
                                         d_image(augment(fake_frames.detach())), config.loss)
        values["D_image"] = trainer.update("D_image", loss)
    if d_video is not None:  # F_V's video term
        loss = losses.discriminator_loss(d_video(augment(real)), d_video(augment(fake.detach())), config.loss)
        values["D_video"] = trainer.update("D_video", loss)
    discriminators = [d for d in (d_image, d_video) if d is not None]
    for d in discriminators:
        d.requires_grad_(False)  # G's update needs no D weight gradients
    video_logits = d_video(augment(fake)) if d_video is not None else None
    image_logits = d_image(augment(fake_frames)) if d_image is not None else None
    values["G"] = trainer.update("G", generator_loss(image_logits, video_logits, config.loss))
    for d in discriminators:
        d.requires_grad_(True)
    ema_update(model.generator_ema, model.generator, config.ema_decay)
    return values


# --- training, sampling, the shipped checkpoint ------------------------------------------------

def training_data(config: Config, split: str = "train") -> MovingDigits:
    """The world MoCoGAN learns: one handwritten digit bouncing in a square (Moving-MNIST rules)."""
    return MovingDigits(split, num_videos=config.num_videos, num_frames=config.num_frames,
                        frame_size=config.frame_size, num_digits=config.num_digits)


def make_optimizers(model: MoCoGAN, config: Config) -> dict[str, torch.optim.Optimizer]:
    """Adam for G (``lr``), D_I and D_V (``disc_lr``), β = ``betas``, weight decay as in the paper's code."""
    parts = {"D_image": (model.image_discriminator, config.disc_lr),
             "D_video": (model.video_discriminator, config.disc_lr), "G": (model.generator, config.lr)}
    return {name: torch.optim.Adam(part.parameters(), lr, config.betas, weight_decay=config.weight_decay)
            for name, (part, lr) in parts.items() if part is not None}  # no D_I: no optimiser for it


def train(config: Config, steps: int | None = None, *, run_dir: str | Path | None = None, seed: int = 0,
          progress: bool = True, time_limit_s: float | None = None) -> tuple[MoCoGAN, dict[str, float]]:
    """Train on moving digits for ``steps`` (default ``config.steps``) or ``time_limit_s`` seconds.

    Runs :func:`training_step` with ``vidgen_lib.train.run``, then recalibrates the averaged generator's
    BatchNorm. Snapshots from fixed codes (10%, 30%, 100% of the run) are kept in ``model.snapshots``.
    Returns the model in eval mode and its training metrics (``final/<loss>``, ``steps``, wall time).
    """
    seed_everything(seed)
    model = build(config)
    data = batches(training_data(config), config.batch_size)
    return run(model, make_optimizers(model, config), training_step, data,
               config.steps if steps is None else steps, run_dir=run_dir, seed=seed, progress=progress,
               time_limit_s=time_limit_s, snapshot=lambda: sample(model, SNAPSHOT_SAMPLES, seed=1234),
               finish=model.recalibrate_ema)


def _code(code: Tensor | None, n: int, dim: int, name: str, per_frame: bool = False) -> Tensor | None:
    """None, or a code checked: (n, [T,] dim), or without the first axis (one code for all n videos)."""
    if code is None:
        return None
    ndim = 3 if per_frame else 2
    if not (isinstance(code, Tensor) and code.is_floating_point() and code.shape[-1:] == (dim,)
            and (code.ndim == ndim - 1 or (code.ndim == ndim and len(code) == n))):
        shape = f"({n}, T, {dim})" if per_frame else f"({n}, {dim})"
        got = f"shape {tuple(code.shape)}, {code.dtype}" if isinstance(code, Tensor) else type(code).__name__
        raise ValueError(f"{name} must be a float tensor of shape {shape}, or without its first axis "
                         f"(one code shared by all {n} videos); got {got}.")
    return repeat(code, "... -> n ...", n=n) if code.ndim < ndim else code


def sample(model: MoCoGAN, n: int, *, seed: int | None = None, content: Tensor | None = None,
           motion: Tensor | None = None) -> Tensor:
    """n videos (n, C, T, H, W) in [0, 1] on the CPU, from the averaged generator; fix ``content`` or
    ``motion`` to see the decomposition.

    Args:
        seed: makes the draw of every code that is not given repeatable.
        content: (n, dim_content) or (dim_content,) z_C, shared by every video when 1-D.
        motion: (n, T, dim_motion) or (T, dim_motion) z_M(1..T), shared by every video when 2-D.
    """
    c, gen, g = model.config, model.generator_ema, rng(seed)
    if n < 1:
        raise ValueError(f"n must be a positive number of videos, got {n}.")
    content = _code(content, n, c.dim_content, "content")
    motion = _code(motion, n, c.dim_motion, "motion", per_frame=True)
    with eval_mode(model):
        dev = model_device(gen)
        z_content = gen.sample_content(n, g) if content is None else content.to(dev)
        z_motion = gen.sample_motion(n, g) if motion is None else motion.to(dev)
        video = gen.generate(z_content, z_motion)
    return from_signed(video).clamp(0, 1).cpu()


def load_pretrained(device: torch.device | str | None = None, *, path: str | Path | None = None) -> MoCoGAN:
    """The shipped checkpoint ``data/checkpoints/mocogan.pt``, checked against its card, in eval mode."""
    return load_model(CHECKPOINT, Config, build, device, path)
