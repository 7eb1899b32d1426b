"""Looking at videos: inline animations, frame grids, GIF files and a frame scrubber.

Every function takes a video ``(C, T, H, W)`` or a batch ``(B, C, T, H, W)``, float in [0, 1],
with C = 1 (grey) or 3 (RGB), on any device.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from einops import rearrange
from matplotlib import animation
from PIL import Image


def as_batch(video: torch.Tensor | np.ndarray) -> np.ndarray:
    """A video or batch as a NumPy array ``(B, T, H, W, 3)`` in [0, 1], ready to draw.

    Raises ValueError naming the expected shape and range when the input is not a video.
    """
    x = torch.as_tensor(video).detach().float().cpu()
    if x.ndim == 4:
        x = x.unsqueeze(0)
    if x.ndim != 5 or x.shape[1] not in (1, 3):
        raise ValueError(f"Expected a video (C, T, H, W) or batch (B, C, T, H, W) with C = 1 or 3, "
                         f"got shape {tuple(x.shape)}.")
    if x.numel() and (x.min() < -1e-4 or x.max() > 1 + 1e-4 or not torch.isfinite(x).all()):
        raise ValueError(f"Expected values in [0, 1], got [{x.min():.3g}, {x.max():.3g}]: "
                         "convert from [-1, 1] with (x + 1) / 2 first.")
    x = x.clamp(0, 1)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1, -1)
    return rearrange(x, "b c t h w -> b t h w c").numpy()


def frame_image(video: torch.Tensor, t: int, index: int = 0) -> np.ndarray:
    """Frame ``t`` of video ``index`` as an ``(H, W, 3)`` uint8 image (what the scrubber shows)."""
    frames = as_batch(video)[index]
    if not 0 <= t < len(frames):
        raise IndexError(f"Frame {t} is outside the video's {len(frames)} frames.")
    return (frames[t] * 255).round().astype(np.uint8)


def _panel_figure(n: int, ncols: int, titles: list[str] | None, size: float):
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.25 if titles else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if titles and i < n:
            ax.set_title(titles[i], fontsize=8)
    return fig, axes.flat[:n]


def show_videos(videos: torch.Tensor, *, ncols: int = 8, titles: list[str] | None = None,
                fps: int = 8, size: float = 1.2):
    """Animate a batch ``(B, C, T, H, W)`` side by side as an inline HTML player (JavaScript).

    Returns an ``IPython.display.HTML`` object; in a notebook it shows as a looping animation.
    """
    from IPython.display import HTML

    frames = as_batch(videos)
    fig, axes = _panel_figure(len(frames), ncols, titles, size)
    images = [ax.imshow(f[0], interpolation="nearest", vmin=0, vmax=1) for ax, f in zip(axes, frames)]
    fig.tight_layout(pad=0.2)

    def draw(t: int):
        for image, f in zip(images, frames):
            image.set_data(f[t])
        return images

    anim = animation.FuncAnimation(fig, draw, frames=frames.shape[1], interval=1000 / fps, blit=True)
    html = anim.to_jshtml(default_mode="loop")
    plt.close(fig)  # the animation replaces the static figure
    return HTML(html)


def show_video(video: torch.Tensor, *, fps: int = 8, size: float = 2.0, title: str | None = None):
    """Animate one video ``(C, T, H, W)`` (or the first of a batch) as an inline HTML player."""
    video = torch.as_tensor(video)
    batch = video[:1] if video.ndim == 5 else video.unsqueeze(0)
    return show_videos(batch, ncols=1, fps=fps, size=size, titles=[title] if title else None)


def frame_grid(videos: torch.Tensor, *, max_frames: int = 16, labels: list[str] | None = None,
               size: float = 0.9, column_labels: list[str] | None = None):
    """A figure with one row per video and one column per frame (time runs left to right).

    Columns are titled ``t=0``, ``t=1``, ...; pass ``column_labels`` when the columns are not time steps
    (e.g. different examples, or values of a latent), ``[]`` for no titles.
    """
    frames = as_batch(videos)[:, :max_frames]
    b, t = frames.shape[:2]
    column_labels = [f"t={j}" for j in range(t)] if column_labels is None else column_labels
    fig, axes = plt.subplots(b, t, figsize=(size * t, size * b), squeeze=False)
    for i in range(b):
        for j in range(t):
            axes[i, j].imshow(frames[i, j], interpolation="nearest", vmin=0, vmax=1)
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
            if i == 0 and j < len(column_labels):
                axes[i, j].set_title(column_labels[j], fontsize=7)
        if labels:
            axes[i, 0].set_ylabel(labels[i], fontsize=7, rotation=0, ha="right", va="center")
    fig.tight_layout(pad=0.1)
    return fig


def snapshot_grid(steps: list[int], clips: torch.Tensor, *, latents: int = 3, max_frames: int = 8):
    """Training snapshots as a frame grid: for each of the first ``latents`` latents, one row per snapshot.

    Args:
        steps: the step of each snapshot, as ``TrainingSnapshots.taken()`` returns them.
        clips: ``(K, n, C, T, H, W)`` in [0, 1], snapshot k's clip i drawn from latent i.
    """
    rows = [clips[k, i] for i in range(latents) for k in range(len(steps))]
    labels = [f"latent {i}, step {s:,}" for i in range(latents) for s in steps]
    return frame_grid(torch.stack(rows), max_frames=max_frames, labels=labels)


def save_gif(videos: torch.Tensor, path: str | Path, *, fps: int = 8, ncols: int = 8, scale: int = 2) -> Path:
    """Write a video or a batch (tiled ``ncols`` wide, 1-pixel gaps) as a looping GIF; returns the path."""
    frames = as_batch(videos)
    b, t, h, w, _ = frames.shape
    ncols = min(ncols, b)
    nrows = -(-b // ncols)
    canvas = np.ones((t, nrows * (h + 1) - 1, ncols * (w + 1) - 1, 3), dtype=np.float32)
    for i in range(b):
        r, c = divmod(i, ncols)
        canvas[:, r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = frames[i]
    canvas = np.kron(canvas, np.ones((1, scale, scale, 1), dtype=np.float32))
    images = [Image.fromarray((f * 255).round().astype(np.uint8)) for f in canvas]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    return path


def frame_scrubber(videos: torch.Tensor, *, size: float = 2.5):
    """An ipywidgets slider over time that shows frame t of every video in the batch."""
    import ipywidgets as widgets

    frames = as_batch(videos)
    out = widgets.Output()
    slider = widgets.IntSlider(value=0, min=0, max=frames.shape[1] - 1, description="frame t")

    def draw(change=None) -> None:
        with out:
            out.clear_output(wait=True)
            fig, axes = _panel_figure(len(frames), 8, None, size)
            for ax, f in zip(axes, frames):
                ax.imshow(f[slider.value], interpolation="nearest", vmin=0, vmax=1)
            plt.show()

    slider.observe(draw, names="value")
    draw()
    return widgets.VBox([slider, out])


def flow_to_rgb(flow: torch.Tensor | np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """An optical flow field ``(2, H, W)`` (dx, dy in pixels) as a colour image ``(H, W, 3)`` in [0, 1].

    The usual colour wheel: the hue says the direction of motion, the brightness its length (black: no
    motion). ``max_magnitude`` is the length shown at full brightness (default: the largest in ``flow``),
    so pass the same value to compare two fields.
    """
    from matplotlib.colors import hsv_to_rgb

    dx, dy = np.asarray(torch.as_tensor(flow).detach().cpu().float())
    magnitude = np.hypot(dx, dy)
    top = max_magnitude or max(float(magnitude.max()), 1e-6)
    hue = (np.arctan2(dy, dx) / (2 * np.pi)) % 1.0
    value = np.clip(magnitude / top, 0, 1)
    return hsv_to_rgb(np.stack([hue, np.ones_like(hue), value], axis=-1))
