"""DiffAugment (vidgen_lib.augment): one transform per clip, differentiable, real and fake alike."""
from __future__ import annotations

import pytest
import torch

from vidgen_lib.augment import cutout, diff_augment, parse_policy, translate


def dot_clips(n: int = 6, t: int = 4, size: int = 16) -> torch.Tensor:
    """Clips with one bright pixel at (8, 8) in every frame: where it lands shows the shift."""
    x = torch.zeros(n, 1, t, size, size)
    x[..., 8, 8] = 1.0
    return x


def test_translation_moves_every_frame_of_a_clip_by_the_same_whole_shift():
    out = translate(dot_clips(), ratio=0.25, generator=torch.Generator().manual_seed(0))
    assert out.shape == (6, 1, 4, 16, 16)
    shifts = set()
    for clip in out:
        where = [tuple((frame[0] == 1).nonzero()[0].tolist()) for frame in clip.unbind(1)]
        assert len(set(where)) == 1  # the same shift in all four frames: no motion added
        dy, dx = where[0][0] - 8, where[0][1] - 8
        assert abs(dy) <= 4 and abs(dx) <= 4  # ratio 0.25 of 16 pixels
        shifts.add((dy, dx))
        assert clip.sum() == 4  # nothing else appears: the pixels shifted in are the fill value
    assert len(shifts) > 1  # each clip gets its own shift


def test_translation_fills_with_the_background_and_works_on_frames():
    frames = torch.full((3, 1, 8, 8), 0.5)
    out = translate(frames, ratio=0.25, fill=-1.0, generator=torch.Generator().manual_seed(1))
    assert out.shape == frames.shape
    assert set(out.unique().tolist()) <= {-1.0, 0.5}


def test_cutout_blanks_one_square_in_every_frame():
    x = torch.ones(5, 1, 3, 16, 16)
    out = cutout(x, ratio=0.5, fill=0.0, generator=torch.Generator().manual_seed(0))
    for clip in out:
        holes = [(frame == 0).nonzero() for frame in clip.unbind(1)]
        assert all(len(h) == 64 for h in holes)  # an 8 x 8 square (half of 16 on each side)
        assert all(torch.equal(h, holes[0]) for h in holes)  # the same square in every frame


def test_augmentation_is_differentiable():
    x = torch.rand(4, 1, 3, 16, 16, requires_grad=True)
    diff_augment(x, "translation,cutout").sum().backward()
    assert x.grad is not None and x.grad.sum() > 0
    assert set(x.grad.unique().tolist()) <= {0.0, 1.0}  # each kept pixel passes its gradient once


def test_policy_names_are_checked_and_empty_is_identity():
    assert parse_policy(" translation , cutout ") == ("translation", "cutout")
    x = torch.rand(2, 1, 3, 8, 8)
    assert diff_augment(x, "") is x
    with pytest.raises(ValueError, match="Unknown augmentation 'color'"):
        parse_policy("translation,color")
