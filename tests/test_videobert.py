"""VideoBERT: the stories, the attention block, the hierarchical tokeniser, BERT's masking, the joined
sequences, the alignment pairs, and a tiny model that learns a batch by heart."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vidgen_lib.datasets.shapes import DIRECTION_MOVES
from vidgen_lib.datasets.stories import NEXT_DIRECTION, TURNS, ShapeStories, clip_directions
from vidgen_lib.models import videobert as vb
from vidgen_lib.nn.attention import SelfAttention, TransformerEncoder
from vidgen_lib.nn.kmeans import assign_tokens, fit_hierarchical_kmeans, token_path


# --- the stories ---------------------------------------------------------------------------------

def test_turns_follow_the_screen_and_undo_each_other():
    # left, right, up, down = 0, 1, 2, 3: clockwise on screen goes right -> down -> left -> up.
    assert clip_directions(1, TURNS.index("clockwise"), 5).tolist() == [1, 3, 0, 2, 1]
    assert clip_directions(1, TURNS.index("anticlockwise"), 5).tolist() == [1, 2, 0, 3, 1]
    assert clip_directions(0, TURNS.index("back"), 3).tolist() == [0, 1, 0]
    for d in range(4):
        assert NEXT_DIRECTION[1, NEXT_DIRECTION[0, d]] == d  # anticlockwise undoes clockwise


def test_a_story_moves_as_its_caption_says_and_stays_inside():
    data = ShapeStories("train", 50)
    for i in range(50):
        item = data[i]
        n, c = len(item["directions"]), data.clip_frames
        assert item["video"].shape == (3, n * c, 32, 32) and item["clips"].shape == (n, 3, c, 32, 32)
        assert data.min_clips <= n <= data.max_clips
        words = item["caption"].split()
        assert words[-1] == TURNS[item["turn"]]
        first = item["directions"][0].item()
        assert item["directions"].tolist() == clip_directions(first, item["turn"], n).tolist()
        moves = item["positions"].diff(dim=0)  # frame t - 1 -> t moves in the direction of t's clip
        want = torch.from_numpy(DIRECTION_MOVES[item["directions"].repeat_interleave(c)[1:].numpy()]) * 2
        assert torch.equal(moves, want.float())
        corners = item["positions"]
        assert corners.min() >= 0 and corners.max() <= 32 - data.shape_size
        # The painted shape is where the positions say.
        y, x = corners[-1].long().tolist()
        assert item["video"][:, -1, y:y + 8, x:x + 8].sum() > 0


# --- attention ----------------------------------------------------------------------------------

def test_self_attention_equals_pytorchs_scaled_dot_product_attention():
    torch.manual_seed(0)
    attention = SelfAttention(16, heads=4)
    x = torch.randn(3, 7, 16)
    padding = torch.ones(3, 7, dtype=torch.bool)
    padding[1, 5:] = padding[2, 2:] = False
    q, k, v = attention.qkv(x).chunk(3, dim=-1)
    split = lambda t: t.view(3, 7, 4, 4).transpose(1, 2)  # noqa: E731
    want = F.scaled_dot_product_attention(split(q), split(k), split(v), attn_mask=padding[:, None, None, :])
    want = attention.out(want.transpose(1, 2).reshape(3, 7, 16))
    assert torch.allclose(attention(x, padding), want, atol=1e-5)


def test_padding_changes_nothing_for_the_real_tokens():
    torch.manual_seed(0)
    encoder = TransformerEncoder(16, heads=2, hidden=32, layers=2).eval()
    x = torch.randn(2, 6, 16)
    padding = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    y = encoder(x, padding)
    x2 = x.clone()
    x2[1, 4:] = torch.randn(2, 16) * 100  # whatever sits in the padded positions
    y2 = encoder(x2, padding)
    assert torch.allclose(y[:, :4], y2[:, :4], atol=1e-5) and torch.allclose(y[0], y2[0])
    assert not torch.allclose(encoder(x2), y2)  # without the mask the padding would leak in


# --- the tokeniser -------------------------------------------------------------------------------

def blobs(n_per: int = 30) -> torch.Tensor:
    """Points around the 16 corners of a 4-d hypercube: a tree with k = 2 should split them cleanly."""
    g = torch.Generator().manual_seed(0)
    corners = torch.tensor([[(i >> b) & 1 for b in range(4)] for i in range(16)], dtype=torch.float) * 10
    return (corners[:, None] + 0.1 * torch.randn(16, n_per, 4, generator=g)).flatten(0, 1)


def test_tokeniser_is_deterministic_and_every_token_is_its_centroid_path():
    x = blobs()
    levels = fit_hierarchical_kmeans(x, branching=2, depth=4, seed=0)
    assert [tuple(level.shape) for level in levels] == [(2, 4), (4, 4), (8, 4), (16, 4)]
    again = fit_hierarchical_kmeans(x, branching=2, depth=4, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(levels, again))
    tokens = assign_tokens(x, levels)
    assert len(tokens.unique()) == 16  # one leaf per blob
    assert all(len(tokens[i * 30:(i + 1) * 30].unique()) == 1 for i in range(16))
    for i in range(0, len(x), 37):
        node = 0
        for level, digit in enumerate(token_path(tokens[i].item(), 2, 4)):
            children = levels[level][node * 2:node * 2 + 2]
            assert (x[i] - children).norm(dim=1).argmin().item() == digit  # the nearest child at every level
            node = node * 2 + digit
        assert node == tokens[i]
    with pytest.raises(ValueError, match="token"):
        token_path(16, 2, 4)


def test_a_node_with_too_few_members_gives_unused_leaves():
    x = torch.tensor([[0.0], [0.1], [10.0], [10.1], [10.2]])
    levels = fit_hierarchical_kmeans(x, branching=2, depth=3)
    assert levels[-1].shape == (8, 1)
    assert len(assign_tokens(x, levels).unique()) <= 5


# --- sequences and masking -----------------------------------------------------------------------

CAPTIONS = ["a red circle moves left and turns clockwise", "a blue square moves up and turns back"]


def test_sequences_join_caption_and_video_with_segments_and_padding():
    text = vb.encode_captions(CAPTIONS)
    visual = vb.as_vocabulary(torch.tensor([[3, 5, 7, -1, -1], [1, 2, 3, 4, 5]]))
    seq = vb.join(text, visual)
    assert seq.tokens.shape == (2, 16)  # [CLS] 8 words [SEP] 5 words [SEP]
    row = seq.tokens[0].tolist()
    assert row[0] == vb.CLS and row[9] == vb.SEP and row[10:13] == [vb.FIRST_VISUAL + w for w in (3, 5, 7)]
    assert row[13] == vb.SEP and row[14:] == [vb.PAD] * 2
    assert seq.segments[0].tolist() == [0] * 10 + [1] * 4 + [0] * 2
    assert seq.padding[0].tolist() == [True] * 14 + [False] * 2 and seq.padding[1].all()
    assert seq.is_text[0].tolist() == [False] + [True] * 8 + [False] * 7
    assert seq.is_visual.sum(1).tolist() == [3, 5]
    alone = vb.join(None, visual)  # video-only: [CLS] [SEP] visual words [SEP]
    assert alone.tokens[1, :2].tolist() == [vb.CLS, vb.SEP] and not alone.is_text.any()
    with pytest.raises(ValueError, match="vocabulary"):
        vb.encode_captions(["a purple circle moves left and turns clockwise"])


def test_masking_follows_the_15_percent_and_80_10_10_rule_and_never_touches_padding_or_specials():
    config = vb.Config()
    g = torch.Generator().manual_seed(0)
    n = 4000
    words = torch.randint(config.num_visual, (n, 5), generator=g)
    words[::2, 3:] = -1  # half the rows are shorter: padding
    seq = vb.join(vb.encode_captions(CAPTIONS * (n // 2)), vb.as_vocabulary(words))
    inputs, targets = vb.mask_tokens(seq, config, g)
    chosen = targets != -100
    maskable = seq.is_text | seq.is_visual
    assert not (chosen & ~maskable).any()  # never padding, [CLS] or [SEP]
    assert torch.equal(inputs[~chosen], seq.tokens[~chosen])
    assert torch.equal(targets[chosen], seq.tokens[chosen])
    assert abs(chosen.sum() / maskable.sum() - 0.15) < 0.01
    to_mask = (inputs == vb.MASK)[chosen].float().mean()
    kept = (inputs == seq.tokens)[chosen].float().mean()  # includes the rare random draw of the same token
    assert abs(to_mask - 0.8) < 0.02 and abs(kept - 0.1) < 0.02
    swapped = chosen & (inputs != vb.MASK) & (inputs != seq.tokens)
    assert (inputs[swapped & seq.is_text] < vb.FIRST_VISUAL).all()  # a random word of the same kind
    assert (inputs[swapped & seq.is_visual] >= vb.FIRST_VISUAL).all()
    # Whole-video masking hides every visual word of the chosen rows, and nothing else beyond the 15% rule.
    rows = torch.arange(n) % 3 == 0
    inputs, targets = vb.mask_tokens(seq, config, g, mask_video=rows)
    assert (inputs[rows[:, None] & seq.is_visual] == vb.MASK).all()
    assert (targets[rows[:, None] & seq.is_visual] >= vb.FIRST_VISUAL).all()
    assert (inputs[~seq.padding] == vb.PAD).all()


def test_alignment_pairs_have_both_labels_and_the_negatives_carry_another_caption():
    torch.manual_seed(0)
    text = vb.encode_captions(CAPTIONS * 50)
    shown, mismatched = vb.mismatch_captions(text)
    assert 0.3 < mismatched.float().mean() < 0.7
    assert torch.equal(shown[~mismatched], text[~mismatched])
    assert (shown[mismatched] != text[mismatched]).any(dim=1).all()
    same = vb.encode_captions(CAPTIONS[:1] * 20)  # a borrowed caption equal to the own one is a match
    assert not vb.mismatch_captions(same)[1].any()


# --- the model -----------------------------------------------------------------------------------

def tiny_config(**changes) -> vb.Config:
    return vb.Config(dim=32, heads=2, hidden=64, layers=2, dropout=0.0, batch_size=8, **changes)


def test_a_tiny_videobert_learns_a_batch_by_heart():
    torch.manual_seed(0)
    config = tiny_config(video_only_rate=0.0, video_mask_rate=0.5)
    model = vb.build(config)
    g = torch.Generator().manual_seed(1)
    captions = CAPTIONS + ["a green triangle moves down and turns anticlockwise",
                           "a cyan circle moves right and turns back"]
    words = torch.randint(config.num_visual, (4, 4), generator=g)
    text, visual = vb.encode_captions(captions), vb.as_vocabulary(words)
    batch = {"text": text.repeat(4, 1), "visual": visual.repeat(4, 1)}
    model, metrics = vb.run(model, {"model": torch.optim.Adam(model.parameters(), lr=3e-3)}, vb.training_step,
                            iter(lambda: batch, None), 500, progress=False)
    assert metrics["final/visual_loss"] < 0.3 and metrics["final/text_loss"] < 0.5
    assert torch.equal(vb.text_to_video(model, captions), words)  # each caption brings back its own words
    logits = vb.alignment_logits(model, captions + captions[1:] + captions[:1], torch.cat([words, words]))
    assert (logits[:4] > logits[4:]).all()  # true pairs score above mismatched ones


def test_every_parameter_gets_a_gradient():
    torch.manual_seed(0)
    config = tiny_config()
    model = vb.build(config)
    seq = vb.join(vb.encode_captions(CAPTIONS), vb.as_vocabulary(torch.tensor([[1, 2, 3], [4, 5, 6]])))
    logits, align = model(seq.tokens, seq.segments, seq.padding)
    assert logits.shape == (2, seq.tokens.shape[1], config.vocab_size) and align.shape == (2,)
    (logits.logsumexp(-1).mean() + align.sum()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_generation_fills_only_the_masks_and_checks_its_arguments():
    torch.manual_seed(0)
    model = vb.build(tiny_config())
    words = vb.text_to_video(model, CAPTIONS, torch.tensor([2, 4]))
    assert words.shape == (2, 4) and words[0, 2:].tolist() == [-1, -1] and (words[1] >= 0).all()
    assert vb.text_to_video(model, CAPTIONS, 3, iterative=False).shape == (2, 3)
    future = vb.forecast(model, torch.tensor([[1, 2], [3, 4]]), 2)
    assert future.shape == (2, 2) and (future >= 0).all() and (future < model.config.num_visual).all()
    with pytest.raises(ValueError, match="num_clips"):
        vb.text_to_video(model, CAPTIONS, 6)
    with pytest.raises(ValueError, match="horizon"):
        vb.forecast(model, torch.tensor([[1, 2]]), 4)
