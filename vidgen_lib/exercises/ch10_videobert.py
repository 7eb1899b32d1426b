"""Checks for the exercises of notebook 10 (VideoBERT).

Each check calls the learner's answer on known inputs, prints one ``✓`` line when it is right, and
otherwise raises ``ExerciseError`` with what is wrong and a hint. The reference answers are the
library's: ``vidgen_lib.nn.kmeans.assign_tokens``, ``vidgen_lib.models.videobert.mask_tokens`` (its
80-10-10 rule) and the alignment term of ``videobert.training_step``.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from vidgen_lib.exercises import ExerciseError, as_tensor, call, measure_settings, passed, register, seeded
from vidgen_lib.models import videobert as vb
from vidgen_lib.nn.kmeans import assign_tokens


def _tree_case() -> tuple[Tensor, list[Tensor]]:
    """A tree (k = 2, depth 2) where the walk down and the nearest leaf disagree for some points."""
    levels = [torch.tensor([[0.0, 0.0], [10.0, 0.0]]),
              torch.tensor([[-3.0, 0.0], [3.0, 0.0], [7.0, 0.0], [13.0, 0.0]])]
    g = torch.Generator().manual_seed(101)
    features = torch.cat([torch.tensor([[4.6, 0.0], [5.4, 0.0]]), torch.randn(40, 2, generator=g) * 6 + 5])
    return features, levels


@register("10.1")
def check_assign_words(fn: Callable[[Tensor, list[Tensor]], Tensor]) -> None:
    """10.1: ``assign_words(features (N, D), levels) -> (N,)``: walk down the k-means tree."""
    features, levels = _tree_case()
    for feats, tree in ((features, levels), _random_tree()):
        got = as_tensor("10.1", call("10.1", fn, feats, tree), (len(feats),), "the words (N,)")
        want = assign_tokens(feats, tree)
        if torch.equal(got.long(), want):
            continue
        flat = torch.cdist(feats, tree[-1]).argmin(dim=1)
        if torch.equal(got.long(), flat):
            raise ExerciseError("Exercise 10.1: that is the nearest leaf over all leaves (a flat k-means). "
                                "The tree compares only the k children of the node reached so far: a point "
                                "at (5.4, 0) goes to the right root child (10, 0), then to its nearest child "
                                "(7, 0), even though the leaf (3, 0) of the other branch is as near.")
        if torch.equal(got.long(), torch.cdist(feats, tree[-1][:len(tree[0])]).argmin(dim=1)):
            raise ExerciseError("Exercise 10.1: at each level the candidates are the children of the current "
                                "node, nodes node·k .. node·k + k − 1 of that level, not the first k nodes.")
        raise ExerciseError("Exercise 10.1: some words differ from the walk down the tree. Start at the root "
                            "(node 0); at level l compare the point with levels[l][node·k : node·k + k] and "
                            "move to node·k + (index of the nearest); the last node is the word.")
    passed("10.1", "each feature walks down the tree to the nearest child at every level; the leaf is its "
                   "word.")


def _random_tree() -> tuple[Tensor, list[Tensor]]:
    g = torch.Generator().manual_seed(102)
    levels = [torch.randn(3 ** (level + 1), 4, generator=g) for level in range(3)]
    return torch.randn(50, 4, generator=g), levels


@register("10.2")
def check_bert_mask(fn: Callable[[Tensor, Tensor, Tensor], tuple[Tensor, Tensor]]) -> None:
    """10.2: ``bert_mask(tokens (B, L), maskable (B, L), random_tokens (B, L)) -> (inputs, targets)``."""
    with seeded(102):
        g = torch.Generator().manual_seed(103)
        tokens = torch.randint(vb.FIRST_WORD, 80, (400, 40), generator=g)
        maskable = torch.rand(400, 40, generator=g) < 0.7
        tokens[~maskable] = vb.PAD
        random_tokens = torch.randint(vb.FIRST_WORD, 80, (400, 40), generator=g)
        out = call("10.2", fn, tokens.clone(), maskable, random_tokens)
        if not isinstance(out, tuple) or len(out) != 2:
            raise ExerciseError("Exercise 10.2: return two tensors, (inputs, targets).")
        inputs = as_tensor("10.2", out[0], tuple(tokens.shape), "inputs (B, L)").long()
        targets = as_tensor("10.2", out[1], tuple(tokens.shape), "targets (B, L)").long()
    chosen = targets != -100
    if chosen.all():
        raise ExerciseError("Exercise 10.2: every position has a target. Positions that were not chosen must "
                            "have target -100, which cross_entropy(ignore_index=-100) skips.")
    if (chosen & ~maskable).any():
        raise ExerciseError("Exercise 10.2: a position that is not maskable (padding, [CLS], [SEP]) was "
                            "chosen.")
    if not torch.equal(targets[chosen], tokens[chosen]):
        raise ExerciseError("Exercise 10.2: the target of a chosen position is the original token (what the "
                            "model must recover), not the replacement.")
    if not torch.equal(inputs[~chosen], tokens[~chosen]):
        raise ExerciseError("Exercise 10.2: positions that were not chosen must stay unchanged in inputs.")
    rate = (chosen.sum() / maskable.sum()).item()
    if not 0.13 < rate < 0.17:
        raise ExerciseError(f"Exercise 10.2: {rate:.1%} of the maskable tokens were chosen; BERT chooses "
                            "15%.")
    masked = (inputs[chosen] == vb.MASK).float().mean().item()
    swapped = (inputs[chosen] == random_tokens[chosen]).float().mean().item()
    kept = (inputs[chosen] == tokens[chosen]).float().mean().item()
    if masked > 0.97:
        raise ExerciseError("Exercise 10.2: every chosen token became [MASK]. BERT replaces 80% by [MASK], "
                            "10% by a random token and keeps 10%, so the model cannot trust an unmasked "
                            "token blindly, and [MASK], never seen when the model is used, is not all it "
                            "learns from.")
    if not (0.76 < masked < 0.84 and 0.07 < swapped < 0.13 and 0.07 < kept < 0.13):
        raise ExerciseError(f"Exercise 10.2: of the chosen tokens {masked:.0%} became [MASK], {swapped:.0%} "
                            f"the random token and {kept:.0%} stayed; BERT's rule is 80% / 10% / 10%.")
    passed("10.2", f"{rate:.1%} chosen; of those {masked:.0%} [MASK], {swapped:.0%} random, {kept:.0%} kept; "
                   "targets only where chosen.")


def _alignment_case() -> tuple[vb.VideoBERT, Tensor, Tensor, Tensor]:
    with seeded(104):
        model = vb.build(vb.Config(dim=16, heads=2, hidden=32, layers=1, dropout=0.0)).eval()
        for module in model.modules():  # PyTorch's larger default init: logits far from 0 tell mistakes apart
            if module is not model and hasattr(module, "reset_parameters"):
                module.reset_parameters()
    g = torch.Generator().manual_seed(104)
    captions = vb.random_captions(6, seed=104)
    words = torch.randint(model.config.num_visual, (6, 4), generator=g)
    words[0, 3] = -1  # one shorter video: padding
    mismatched = torch.tensor([True, False, True, False, False, True])
    return model, vb.encode_captions(captions), vb.as_vocabulary(words), mismatched


def alignment_loss(model: vb.VideoBERT, text: Tensor, visual: Tensor, mismatched: Tensor) -> Tensor:
    """10.3's answer: rows where ``mismatched`` show the caption of the row before them; BCE of the
    alignment logit against "this is the video's caption"."""
    return _with_labels(model, text, visual, mismatched)


@register("10.3")
def check_alignment_loss(fn: Callable[[vb.VideoBERT, Tensor, Tensor, Tensor], Tensor]) -> None:
    """10.3: ``alignment_loss(model, text (B, Lt), visual (B, Lv), mismatched (B,)) -> scalar``."""
    model, text, visual, mismatched = _alignment_case()
    got = call("10.3", fn, model, text, visual, mismatched)
    if not isinstance(got, Tensor) or got.numel() != 1 or not got.requires_grad:
        raise ExerciseError("Exercise 10.3: return the loss as one tensor that the model's parameters can be "
                            "differentiated through (do not call .item()).")
    want = alignment_loss(model, text, visual, mismatched)
    if math.isclose(got.item(), want.item(), rel_tol=1e-4, abs_tol=1e-6):
        got.backward()
        if model.alignment_head.weight.grad is None:
            raise ExerciseError("Exercise 10.3: no gradient reaches the alignment head.")
        passed("10.3", "negatives carry the previous row's caption; BCE of the [CLS] logit against "
                       "'matches'.")
        return
    slips = {"the labels are inverted: a true pair (mismatched False) has target 1.":
             _with_labels(model, text, visual, mismatched, flip=True),
             "the captions were not swapped: the negatives must *show* another row's caption "
             "(text.roll(1, 0)), or the model only sees true pairs with random labels.":
             _with_labels(model, text, visual, mismatched, swap=False)}
    for hint, value in slips.items():
        if math.isclose(got.item(), value.item(), rel_tol=1e-4):
            raise ExerciseError(f"Exercise 10.3: {hint}")
    raise ExerciseError(f"Exercise 10.3: expected {want.item():.4f}, got {got.item():.4f}. Show "
                        "text.roll(1, 0) where mismatched, join caption and video with vb.join, run the "
                        "model, and take binary_cross_entropy_with_logits of its alignment logit against "
                        "(~mismatched).float().")


def _with_labels(model: vb.VideoBERT, text: Tensor, visual: Tensor, mismatched: Tensor, *, flip: bool = False,
                 swap: bool = True) -> Tensor:
    shown = torch.where(mismatched[:, None], text.roll(1, dims=0), text) if swap else text
    seq = vb.join(shown, visual)
    _, logits = model(seq.tokens, seq.segments, seq.padding)
    target = mismatched.float() if flip else (~mismatched).float()
    return F.binary_cross_entropy_with_logits(logits, target)


@register("10.4")
def check_whole_video_masking_experiment(accuracy_after: Callable[[float], float]) -> None:
    """10.4: ``accuracy_after(video_mask_rate)``: the share of text-to-video clips whose word has the
    caption's shape, colour and direction, for a small VideoBERT trained briefly with that share of wholly
    masked videos; 0.25 must beat 0."""
    scores = measure_settings("10.4", accuracy_after, (0.0, 0.25), "the attribute accuracy", high=1.0)
    if not scores[0.25] > scores[0.0]:
        raise ExerciseError(f"Exercise 10.4: with video_mask_rate = 0.25 the attribute accuracy is "
                            f"{scores[0.25]:.3f}, with 0 it is {scores[0.0]:.3f}. Do both runs use the same "
                            "config apart from `video_mask_rate`, the same steps and seed, and measure "
                            "text_to_video on the same test stories?")
    passed("10.4", f"text-to-video attribute accuracy {scores[0.0]:.3f} with BERT's 15% rule alone, "
                   f"{scores[0.25]:.3f} when a quarter of the videos are masked whole.")


# --- answers with the learner's signatures, where the library has no such function ----------------

def bert_mask(tokens: Tensor, maskable: Tensor, random_tokens: Tensor) -> tuple[Tensor, Tensor]:
    """10.2's answer: BERT's 15% / 80-10-10 rule, as ``videobert.mask_tokens`` applies it."""
    chosen = maskable & (torch.rand(tokens.shape) < 0.15)
    action = torch.rand(tokens.shape)
    inputs = torch.where(chosen & (action < 0.8), torch.full_like(tokens, vb.MASK), tokens)
    inputs = torch.where(chosen & (action >= 0.8) & (action < 0.9), random_tokens, inputs)
    return inputs, torch.where(chosen, tokens, torch.full_like(tokens, -100))
