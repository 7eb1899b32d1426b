"""vidgen_lib: the library behind the vidgen course on generative models for video.

Video tensors are ``(B, C, T, H, W)`` float32 in [0, 1] at every public boundary.
"""
from pathlib import Path

from vidgen_lib.runtime import device, profile, seed_everything

__version__ = "0.1.0"

#: Shipped data: digit credits, pretrained checkpoints and their model cards.
DATA_DIR = Path(__file__).resolve().parent.parent / "data"
CHECKPOINT_DIR = DATA_DIR / "checkpoints"

__all__ = ["device", "profile", "seed_everything", "DATA_DIR", "CHECKPOINT_DIR", "__version__"]
