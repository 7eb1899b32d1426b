"""The video diffusion model (models/diffusion.py): captions, the factorised U-Net, guidance, learning."""
import dataclasses

import pytest
import torch

from vidgen_lib.evaluation import diffusion as measure
from vidgen_lib.models import diffusion
from vidgen_lib.models.diffusion import PAD, WORDS, Config, build, diffusion_loss, drop_captions, tokenize


def tiny() -> Config:
    return Config(num_frames=4, frame_size=8, widths=(8, 16), heads=2, embed_dim=32, sample_steps=3)


def test_tokenize_maps_words_to_ids_and_the_empty_caption_to_padding():
    ids = tokenize(["a red circle moves left", ""])
    expected = [WORDS.index(w) + 1 for w in "a red circle moves left".split()]
    assert ids[0].tolist() == expected
    assert ids[1].tolist() == [PAD] * 5


@pytest.mark.parametrize("text, message", [("a purple circle moves left", "purple"),
                                           ("a red circle moves left and up", "at most 5")])
def test_tokenize_names_what_it_cannot_read(text, message):
    with pytest.raises(ValueError, match=message):
        tokenize([text])


def test_config_from_a_card_and_bad_sizes():
    assert Config(widths=[16, 32, 64]).widths == (16, 32, 64)  # JSON gives lists
    with pytest.raises(ValueError, match="halve"):
        Config(frame_size=30)
    with pytest.raises(ValueError, match="multiple of 8"):
        Config(widths=(12, 32, 64))


def test_network_shapes_and_every_parameter_learns():
    torch.manual_seed(0)
    config = tiny()
    network = build(config).network
    z = torch.randn(2, 3, 4, 8, 8)
    tokens = tokenize(["a red circle moves left", "a blue square moves up"])
    assert network(z, torch.tensor([0.0, 3.0]), tokens).shape == z.shape
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-2)
    for _ in range(2):  # the residual blocks start as identities: their first layers learn from step 2
        optimizer.zero_grad()
        diffusion_loss(network, z.clamp(-1, 1), tokens).backward()
        optimizer.step()
    silent = [name for name, p in network.named_parameters()
              if name not in ("embed_words.weight", "empty_caption") and (p.grad is None or not p.grad.any())]
    assert not silent, f"no gradient reaches {silent}"
    assert network.embed_words.weight.grad[tokens.unique()].any(dim=1).all()  # every caption word learns


def test_space_mixes_only_within_a_frame_and_time_only_through_temporal_attention():
    torch.manual_seed(0)
    network = build(tiny()).network.eval()
    for p in network.parameters():  # wake the zero-initialised convolutions
        p.data += 0.05 * torch.randn_like(p)
    z, log_snr, tokens = torch.randn(1, 3, 4, 8, 8), torch.zeros(1), tokenize(["a red circle moves left"])
    changed = z.clone()
    changed[:, :, 2] += 1.0  # change frame 2 only
    with torch.no_grad():
        frame_moves = (network(changed, log_snr, tokens, independent_frames=True)
                       - network(z, log_snr, tokens, independent_frames=True)).abs().amax(dim=(0, 1, 3, 4))
        video_moves = (network(changed, log_snr, tokens)
                       - network(z, log_snr, tokens)).abs().amax(dim=(0, 1, 3, 4))
    assert frame_moves[2] > 1e-3 and torch.all(frame_moves[[0, 1, 3]] == 0)  # frames alone: only frame 2
    assert torch.all(video_moves > 1e-3)  # as a video: temporal attention carries it to every frame


def test_dropped_captions_are_the_empty_caption_and_guidance_needs_a_caption():
    torch.manual_seed(0)
    model = build(tiny()).eval()
    tokens = tokenize(["a red circle moves left"] * 4)
    assert torch.equal(drop_captions(tokens, 1.0), torch.zeros_like(tokens))
    assert torch.equal(drop_captions(tokens, 0.0), tokens)
    empty = model.network.caption_embedding(torch.zeros_like(tokens))
    assert torch.equal(empty, model.network.empty_caption.expand(4, -1))
    unguided = diffusion.sample(model, 2, seed=3, caption="", guidance=0.0)
    assert torch.equal(diffusion.sample(model, 2, seed=3, caption="", guidance=4.0), unguided)
    red_circle = "a red circle moves left"
    captioned = diffusion.sample(model, 2, seed=3, caption=red_circle, guidance=0.0)
    assert not torch.equal(diffusion.sample(model, 2, seed=3, caption=red_circle, guidance=4.0), captioned)


def test_sample_shape_range_repeatability_and_errors():
    model = build(tiny()).eval()
    captions = ["a red circle moves left", "", "a blue square moves up"]
    clips = diffusion.sample(model, 3, seed=1, caption=captions)
    assert clips.shape == (3, 3, 4, 8, 8) and clips.min() >= 0 and clips.max() <= 1
    assert torch.equal(clips, diffusion.sample(model, 3, seed=1, caption=captions))
    with pytest.raises(ValueError, match="one per clip"):
        diffusion.sample(model, 3, seed=1, caption=["a red circle moves left"])
    with pytest.raises(ValueError, match="positive"):
        diffusion.sample(model, 0)


def test_a_tiny_batch_is_learnt():
    """On two fixed clips, the loss at fixed noise levels and noise falls far below where it started."""
    torch.manual_seed(0)
    config = dataclasses.replace(tiny(), frame_size=12)  # shapes of 3 pixels
    network = build(config).network
    x = diffusion.dataset(config, num_videos=2)
    clips = torch.stack([x[i]["video"] for i in range(2)]) * 2 - 1
    tokens = tokenize([x[i]["caption"] for i in range(2)])

    def fixed_loss() -> float:
        with torch.no_grad():
            return diffusion_loss(network, clips.repeat(8, 1, 1, 1, 1), tokens.repeat(8, 1),
                                  generator=torch.Generator().manual_seed(0)).item()

    before = fixed_loss()
    optimizer = torch.optim.Adam(network.parameters(), lr=3e-3)
    for _ in range(150):
        optimizer.zero_grad()
        diffusion_loss(network, clips, tokens).backward()
        optimizer.step()
    assert fixed_loss() < 0.5 * before


def test_the_judge_reads_real_clips_and_chance_is_what_it_says():
    config = Config()
    captions, truth = measure.heldout_captions(config, 24)
    assert captions[0] == diffusion.dataset(config, "test", 24)[0]["caption"]
    real = torch.stack([diffusion.dataset(config, "test", 24)[i]["video"] for i in range(24)])
    accuracy = measure.caption_accuracy(real, truth)
    assert accuracy["all"] >= 0.9
    shuffled = {name: values.roll(1) for name, values in truth.items()}
    assert measure.caption_accuracy(real, shuffled)["all"] < 0.5


def test_many_clips_are_drawn_in_chunks_each_with_its_own_captions():
    model = build(tiny()).eval()
    captions = ["a red circle moves left", ""] * 35  # 70 clips: two chunks of at most 64
    clips = diffusion.sample(model, 70, seed=2, caption=captions, steps=1)
    assert clips.shape == (70, 3, 4, 8, 8)
    assert torch.equal(clips[64:66], diffusion.sample(model, 70, seed=2, caption=captions, steps=1)[64:66])
    noise = torch.randn(70, 3, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    alone = diffusion.sample_from_noise(model, noise[65:66], captions[65:66], steps=1)
    together = diffusion.sample_from_noise(model, noise, captions, steps=1)
    assert torch.allclose(alone[0], together[65], atol=1e-5)  # clip 65 got its own (empty) caption


def test_joint_training_adds_image_stacks_whose_frames_are_denoised_alone():
    """Sec. 3's joint training: with ``joint_images`` per video, the batch's extra clips go through the
    network with temporal attention masked, the videos without, and the loss averages over all clips."""
    config = dataclasses.replace(tiny(), frame_size=12, batch_size=4, joint_images=3, caption_dropout=0.0)
    assert config.image_stacks == 3  # 4 videos x 3 images = 12 frames: 3 clips of 4 frames
    with pytest.raises(ValueError, match="joint_images"):
        dataclasses.replace(tiny(), joint_images=-1)
    model = build(config)
    data = diffusion.dataset(config, num_videos=config.batch_size + config.image_stacks)
    batch = {"video": torch.stack([data[i]["video"] for i in range(len(data))]),
             "caption": [data[i]["caption"] for i in range(len(data))]}
    calls = []
    forward = model.network.forward
    model.network.forward = lambda z, *args: calls.append((len(z), args[-1])) or forward(z, *args)
    frozen = torch.optim.SGD(model.network.parameters(), lr=0.0)
    torch.manual_seed(0)
    trainer = diffusion.Trainer({"model": model}, {"model": frozen}, progress=False)
    loss = diffusion.training_step(model, trainer, batch)["loss"]
    assert calls == [(4, False), (3, True)]  # the videos, then the image stacks
    # The loss is the clip-weighted mean of the two, recomputed with the same random draws.
    model.network.forward = forward
    torch.manual_seed(0)
    torch.rand(7)  # the caption-dropout draw
    x, tokens = batch["video"] * 2 - 1, tokenize(batch["caption"])
    videos = diffusion_loss(model.network, x[:4], tokens[:4]).item()
    images = diffusion_loss(model.network, x[4:], tokens[4:], independent_frames=True).item()
    assert loss == pytest.approx((4 * videos + 3 * images) / 7, rel=1e-5)
    assert images != pytest.approx(videos, rel=1e-3)
