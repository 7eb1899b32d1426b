import numpy as np
import pytest
import torch
from PIL import Image

from vidgen_lib import viz


def _video(c=1, t=5, size=8):
    return torch.linspace(0, 1, c * t * size * size).reshape(c, t, size, size)


def test_show_videos_returns_an_html_animation_with_every_frame():
    html = viz.show_videos(torch.stack([_video(), _video()]), titles=["a", "b"])
    assert "<script" in html.data and "animation" in html.data.lower()
    assert html.data.count("data:image/png;base64") == 5


def test_show_video_accepts_a_single_rgb_video():
    assert "<script" in viz.show_video(_video(c=3), title="rgb").data


def test_frame_image_is_uint8_rgb_and_correct():
    video = _video()
    image = viz.frame_image(video, t=2)
    assert image.shape == (8, 8, 3) and image.dtype == np.uint8
    assert np.array_equal(image[..., 0], (video[0, 2].numpy() * 255).round().astype(np.uint8))
    with pytest.raises(IndexError, match="outside"):
        viz.frame_image(video, t=5)


def test_save_gif_tiles_the_batch(tmp_path):
    path = viz.save_gif(torch.stack([_video()] * 3), tmp_path / "x.gif", ncols=2, scale=1)
    with Image.open(path) as image:
        assert image.n_frames == 5 and image.size == (8 * 2 + 1, 8 * 2 + 1)


@pytest.mark.parametrize("bad, message", [(torch.zeros(2, 8, 8), "Expected a video"),
                                          (torch.zeros(1, 2, 3, 8, 8), "C = 1 or 3"),
                                          (torch.full((1, 3, 8, 8), -1.0), r"\[0, 1\]")])
def test_bad_input_names_what_was_expected(bad, message):
    with pytest.raises(ValueError, match=message):
        viz.as_batch(bad)


def test_frame_grid_has_one_row_per_video():
    fig = viz.frame_grid(torch.stack([_video()] * 2), max_frames=3)
    assert len(fig.axes) == 6
    assert [ax.get_title() for ax in fig.axes[:3]] == ["t=0", "t=1", "t=2"] and fig.axes[3].get_title() == ""


def test_frame_grid_names_columns_that_are_not_time():
    fig = viz.frame_grid(torch.stack([_video()] * 2), max_frames=3, column_labels=["-1", "0", "+1"])
    assert [ax.get_title() for ax in fig.axes[:3]] == ["-1", "0", "+1"]
    assert all(ax.get_title() == "" for ax in viz.frame_grid(_video(), max_frames=3, column_labels=[]).axes)


def test_frame_scrubber_builds_a_slider_over_time():
    widget = viz.frame_scrubber(_video())
    slider = widget.children[0]
    assert (slider.min, slider.max) == (0, 4)


def test_snapshot_grid_has_one_row_per_latent_and_snapshot():
    import matplotlib.pyplot as plt

    from vidgen_lib.viz import snapshot_grid

    clips = torch.rand(3, 8, 1, 16, 8, 8)
    fig = snapshot_grid([10, 30, 100], clips, latents=2, max_frames=4)
    axes = fig.axes
    assert len(axes) == 2 * 3 * 4  # (latents x snapshots) rows, 4 frames each
    assert axes[0].get_ylabel() == "latent 0, step 10" and axes[4 * 5].get_ylabel() == "latent 1, step 100"
    # row 2: snapshot 1, latent 0
    assert np.allclose(axes[4].get_images()[0].get_array()[..., 0], clips[1, 0, 0, 0].numpy())
    plt.close(fig)
