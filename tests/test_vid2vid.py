"""Vid2Vid (notebook 09): the warp, the world's exact flow, the composition, what each discriminator
sees, the no-warp switch, gradient flow, a tiny batch overfitted, and the measurements' reference values."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vidgen_lib.datasets.scenes import (LABELS, TexturedShapes, add_object, render_scene, reverse_object,
                                       swap_class)
from vidgen_lib.evaluation import vid2vid as measure
from vidgen_lib.models import vid2vid, vid2vid_no_warp
from vidgen_lib.models.vid2vid import (Config, build, compose, explained_pixels, generate, image_pairs,
                                       one_hot_maps, translate, video_windows)
from vidgen_lib.nn.warp import warp
from vidgen_lib.train import Trainer


def small_config(**changes) -> Config:
    return Config(width=8, blocks=1, d_width=8, batch_size=2, **changes)


def clips(n: int = 2, split: str = "train", config: Config | None = None) -> dict[str, torch.Tensor]:
    data = vid2vid.training_data(config or small_config(), split, 50)
    items = [data[i] for i in range(n)]
    return {key: torch.stack([item[key] for item in items]) for key in items[0]}


# --- the warp -----------------------------------------------------------------------------------

def test_warp_with_zero_flow_is_the_identity():
    image = torch.rand(2, 3, 9, 7)
    assert torch.allclose(warp(image, torch.zeros(2, 2, 9, 7)), image, atol=1e-6)


@pytest.mark.parametrize("dx, dy", [(1, 0), (0, -2), (-3, 1)])
def test_warp_with_an_integer_flow_shifts_exactly_away_from_the_borders(dx, dy):
    image = torch.rand(1, 3, 12, 12)
    flow = torch.tensor([float(dx), float(dy)]).view(1, 2, 1, 1).expand(1, 2, 12, 12)
    out = warp(image, flow)
    inner = (slice(3, 9), slice(3, 9))  # output pixels whose sources (p + flow) lie inside the image
    expected = image[:, :, 3 + dy:9 + dy, 3 + dx:9 + dx]
    assert torch.allclose(out[(..., *inner)], expected, atol=1e-6)


def test_warp_with_half_a_pixel_averages_the_two_neighbours():
    image = torch.rand(1, 1, 5, 5)
    flow = torch.zeros(1, 2, 5, 5)
    flow[:, 0] = 0.5
    assert torch.allclose(warp(image, flow)[..., :4], (image[..., :4] + image[..., 1:]) / 2, atol=1e-6)


def test_warp_names_the_shapes_it_needs():
    with pytest.raises(ValueError, match=r"flow \(N, 2, H, W\)"):
        warp(torch.rand(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))


# --- the world --------------------------------------------------------------------------------------

def test_the_world_is_deterministic_and_its_maps_agree_with_its_objects():
    data = TexturedShapes("test", 10)
    a, b = data[3], data[3]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert a["video"].shape == (3, 12, 32, 32) and a["flow"].shape == (2, 12, 32, 32)
    assert torch.equal(a["labels"] > 0, a["objects"] > 0)
    assert 0 <= a["video"].min() and a["video"].max() <= 1 and a["labels"].max() < len(LABELS)
    assert not torch.equal(data[3]["video"], TexturedShapes("train", 10)[3]["video"])


def test_the_true_flow_explains_every_pixel_but_the_occlusions():
    data = TexturedShapes("train", 20)
    for i in range(20):
        item = data[i]
        video, flow, objects = item["video"][None], item["flow"][None], item["objects"]
        assert torch.all(item["flow"][:, objects == 0] == 0)  # the background stands still
        assert torch.all(flow[:, :, 0] == 0)
        explained = explained_pixels(video, flow)[0, 0]  # (T - 1, H, W)
        assert explained.mean() > 0.85
        # On the background (flow 0) a pixel is unexplained exactly where an object stood a frame before.
        background = objects[1:] == 0
        assert torch.equal((explained == 0) & background, background & (objects[:-1] > 0))


def test_edits_keep_the_given_frames_and_change_only_what_they_say():
    data = TexturedShapes("test", 5)
    scene = data.scene(0)
    reversed_ = render_scene(reverse_object(scene, 0, 2), 32)
    swapped = render_scene(swap_class(scene, 0, scene["classes"][0, 0] % 3 + 1, 2), 32)
    original = data[0]
    for edited in (reversed_, swapped):
        assert torch.equal(edited["video"][:, :2], original["video"][:, :2])
        assert not torch.equal(edited["labels"][2:], original["labels"][2:])
    assert np.array_equal(reverse_object(scene, 0, 2)["positions"][2, 0], scene["positions"][0, 0])
    with pytest.raises(ValueError, match="new_class"):
        swap_class(scene, 0, 0, 2)
    path = np.stack([[2, 20 - t] for t in range(12)])
    added = render_scene(add_object(scene, 1, path, scene["textures"][0], from_frame=2), 32)
    assert torch.equal(added["video"][:, :2], original["video"][:, :2])  # absent before frame 2
    assert torch.all(added["objects"][2:].flatten(1).max(1).values == 3)  # object 3 drawn from frame 2 on


# --- the model ----------------------------------------------------------------------------------

def test_the_composition_blends_warp_and_hallucination_by_the_mask():
    warped, hallucinated = torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4)
    mask = torch.rand(2, 1, 4, 4)
    assert torch.allclose(compose(warped, hallucinated, torch.zeros_like(mask)), warped)
    assert torch.allclose(compose(warped, hallucinated, torch.ones_like(mask)), hallucinated)
    blend = warped + mask * (hallucinated - warped)
    assert torch.allclose(compose(warped, hallucinated, mask), blend, atol=1e-6)


def test_each_frame_is_the_composition_of_the_generators_three_heads():
    torch.manual_seed(0)
    config = small_config()
    model, batch = build(config), clips(config=config)
    maps = one_hot_maps(batch["labels"], config.num_classes)
    first = batch["video"][:, :, :2] * 2 - 1
    with torch.no_grad():
        out = generate(model.generator, maps, first)
    assert out.video.shape == (2, 3, 12, 32, 32) and out.flow.shape == (2, 2, 10, 32, 32)
    assert torch.equal(out.video[:, :, :2], first)  # the L given frames are kept
    assert 0 <= out.mask.min() and out.mask.max() <= 1
    t = 5  # frame L + 3: built from frame L + 2 by the heads of step 3
    expected = compose(warp(out.video[:, :, t - 1], out.flow[:, :, t - 2]), out.hallucinated[:, :, t - 2],
                       out.mask[:, :, t - 2])
    assert torch.allclose(out.video[:, :, t], expected, atol=1e-5)


def test_the_no_warp_switch_removes_the_flow_branch_and_warping():
    model = build(small_config(warp=False))
    assert not hasattr(model.generator, "flow_branch")
    batch = clips()
    out = generate(model.generator, one_hot_maps(batch["labels"], 4), batch["video"][:, :, :2] * 2 - 1)
    assert out.flow is None and out.mask is None
    assert torch.equal(out.video[:, :, 2:], out.hallucinated)  # m = 1: every frame is the hallucination
    assert vid2vid.Config().warp and not vid2vid_no_warp.Config().warp


def test_each_discriminator_sees_the_frames_it_should():
    config = small_config()
    model, batch = build(config), clips(config=config)
    video, flow = batch["video"], batch["flow"]
    maps = one_hot_maps(batch["labels"], config.num_classes)
    pairs = image_pairs(maps, video, 2)
    assert pairs.shape == (2 * 10, config.num_classes + 3, 32, 32)  # one (map, frame) per generated frame
    windows = video_windows(video, flow, 3, 2)
    assert windows.shape == (2 * 10, 3 * 3 + 2 * 2, 32, 32)  # K = 3 frames + 2 flows, a window per frame >= L
    # window 4 of clip 0 holds frames 4, 5, 6 and the true flows into frames 5 and 6
    assert torch.equal(windows[4, :9], video[0, :, 4:7].transpose(0, 1).reshape(9, 32, 32))
    assert torch.equal(windows[4, 9:], flow[0, :, 5:7].transpose(0, 1).reshape(4, 32, 32))
    assert len(model.D_image(pairs)) == config.d_scales and len(model.D_video(windows)) == 1


class RecordingTrainer(Trainer):
    """A Trainer that remembers which parameters got a gradient in each update."""

    def __init__(self, model, optimizers):
        super().__init__({"model": model}, optimizers, progress=False, device=torch.device("cpu"))
        self.model, self.reached = model, {}

    def update(self, name, loss):
        optimizer = self.optimizers[name]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        ids = {id(p) for group in optimizer.param_groups for p in group["params"]
               if p.grad is not None and p.grad.abs().sum() > 0}
        self.reached[name] = {n for n, p in self.model.named_parameters() if id(p) in ids}
        optimizer.step()
        return loss.item()


@pytest.mark.parametrize("warps", [True, False])
def test_gradients_reach_every_parameter_and_only_the_updated_players(warps):
    torch.manual_seed(0)
    config = small_config(warp=warps)
    model = build(config)
    trainer = RecordingTrainer(model, vid2vid.make_optimizers(model, config))
    vid2vid.training_step(model, trainer, clips(config=config))
    names = dict(model.named_parameters())
    generator = {n for n in names if n.startswith("generator.")}
    assert trainer.reached["G"] == generator
    assert trainer.reached["D"] == set(names) - generator


def test_a_tiny_batch_is_overfitted():
    torch.manual_seed(0)
    config = small_config(lr=1e-3)
    model = build(config)
    batch = clips(config=config)
    first, truth = batch["video"][:, :, :2], batch["video"]
    before = measure.frame_quality(translate(model, batch["labels"], first), truth, 2)[0]
    trainer = Trainer({"model": model}, vid2vid.make_optimizers(model, config), progress=False,
                      device=torch.device("cpu"))
    losses = [vid2vid.training_step(model.train(), trainer, batch)["flow_loss"] for _ in range(60)]
    after = measure.frame_quality(translate(model, batch["labels"], first), truth, 2)[0]
    assert np.mean(losses[-10:]) < 0.8 * np.mean(losses[:5])
    assert after > before + 3  # dB


def test_translate_names_what_is_wrong_with_bad_input():
    model, batch = build(small_config()), clips()
    first = batch["video"][:, :, :2]
    with pytest.raises(ValueError, match="first L = 2 frames"):
        translate(model, batch["labels"], batch["video"][:, :, :3])
    with pytest.raises(ValueError, match="class indices"):
        translate(model, batch["labels"] + 4, first)
    with pytest.raises(ValueError, match="labels must be"):
        translate(model, batch["labels"][:1], first)


# --- the measurements -------------------------------------------------------------------------------

def test_real_video_has_no_warping_error_and_no_flicker_and_a_frozen_frame_only_the_first():
    batch = clips(4)
    video, flow, labels = batch["video"], batch["flow"], batch["labels"]
    assert measure.warping_error(video, video, flow, 2) == pytest.approx(0, abs=1e-6)
    assert measure.flicker(video, labels, 2) == 0
    copy = torch.cat([video[:, :, :2], video[:, :, 1:2].expand(-1, -1, 10, -1, -1)], dim=2)
    assert measure.warping_error(copy, video, flow, 2) > 0.01  # moving objects are not carried along
    assert measure.flicker(copy, labels, 2) == 0  # a frozen frame never flickers: why both scores are needed
    assert measure.frame_quality(video, video, 2)[1] == pytest.approx(1.0)


def test_edit_clips_are_the_truth_of_the_edited_maps():
    config = small_config()
    edited, original = measure.edit_clips(config, 3, "swap"), vid2vid.test_clips(config, 3)
    assert torch.equal(edited["video"][:, :, :2], original["video"][:, :, :2])
    assert not torch.equal(edited["labels"], original["labels"])
    with pytest.raises(ValueError, match="kind"):
        measure.edit_clips(config, 3, "grow")


def test_edit_followed_is_one_for_the_edit_and_zero_for_the_unedited_clip():
    config = small_config()
    edited, original = measure.edit_clips(config, 3, "reverse"), vid2vid.test_clips(config, 3)
    assert measure.edit_followed(edited["video"], edited["video"], original["video"], 2) == 1.0
    assert measure.edit_followed(original["video"], edited["video"], original["video"], 2) == 0.0
