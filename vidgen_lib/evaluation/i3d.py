"""I3D, FVD's original feature network, from a TorchScript file you already have.

Nothing here downloads weights: pass the path of a copy exported with ``torch.jit.save``.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor

import vidgen_lib
from vidgen_lib.video import validate_video


class I3DFeatures:
    """FVD's original feature network, from a TorchScript file you already have.

    Applies the FVD paper's preprocessing: grey tiled to 3 channels, every frame resized
    bilinearly to 224×224, values scaled from [0, 1] to [−1, 1]; then calls the module on
    ``(B, 3, T, 224, 224)``. I3D's temporal pooling needs at least 9 frames (use 16 or more).

    Args:
        path: a TorchScript file whose module maps ``(B, 3, T, 224, 224)`` in [−1, 1] to ``(B, D)``.
        device: where to run it (default ``vidgen_lib.device()``).
        **call_kwargs: extra keyword arguments for every call of the module (some ports take
            options, e.g. ``return_features=True``).

    Use it as an extractor: ``evaluation.fvd(real, fake, extractor=I3DFeatures("i3d.pt"))``.
    """

    MIN_FRAMES = 9
    SIZE = 224

    def __init__(self, path: str | Path, device: torch.device | str | None = None, **call_kwargs) -> None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"No TorchScript file at {path}. I3DFeatures needs a copy of I3D "
                                    "exported with torch.jit.save; the course's own extractor is "
                                    "load_features().")
        self.device = torch.device(device or vidgen_lib.device())
        with warnings.catch_warnings():  # TorchScript is deprecated, but it is the format I3D ports ship in
            warnings.filterwarnings("ignore", message=".*torch.jit.load.*", category=DeprecationWarning)
            self.module = torch.jit.load(str(path), map_location=self.device).eval()
        self.call_kwargs = call_kwargs

    def preprocess(self, videos: Tensor) -> Tensor:
        """``(B, C, T, H, W)`` in [0, 1] -> ``(B, 3, T, 224, 224)`` in [−1, 1] (FVD's input format)."""
        validate_video(videos, "videos")
        b, c, t = videos.shape[:3]
        if c not in (1, 3):
            raise ValueError(f"videos must have 1 (grey) or 3 (RGB) channels; got C={c}.")
        if t < self.MIN_FRAMES:
            raise ValueError(f"I3D needs at least {self.MIN_FRAMES} frames per clip (its temporal pooling "
                             f"fails on shorter ones); got T={t}. Use 16 frames or more.")
        frames = rearrange(videos.float(), "b c t h w -> (b t) c h w").expand(-1, 3, -1, -1)
        frames = F.interpolate(frames, size=(self.SIZE, self.SIZE), mode="bilinear", align_corners=False)
        frames = frames.clamp(0, 1) * 2 - 1
        return rearrange(frames, "(b t) c h w -> b c t h w", b=b)

    def __call__(self, videos: Tensor) -> Tensor:
        """``(B, C, T, H, W)`` in [0, 1] -> ``(B, D)`` features on the CPU."""
        with torch.no_grad():
            feats = self.module(self.preprocess(videos).to(self.device), **self.call_kwargs)
        return feats.float().cpu()
