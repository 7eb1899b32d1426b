"""The checks of notebook 10 pass on the solutions, report stubs, and name the typical mistakes."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vidgen_lib.exercises import EXERCISES, ExerciseError, load_all
from vidgen_lib.exercises import ch10_videobert as ch10
from vidgen_lib.models import videobert as vb
from vidgen_lib.nn.kmeans import assign_tokens


def stub(*args: object) -> None:
    raise NotImplementedError("Exercise 10.M: a stub")


SOLUTIONS = {"10.1": assign_tokens, "10.2": ch10.bert_mask, "10.3": ch10.alignment_loss}


def test_checks_are_registered():
    checks = load_all()
    assert [checks[f"10.{i}"] for i in (1, 2, 3, 4)] == [
        ch10.check_assign_words, ch10.check_bert_mask, ch10.check_alignment_loss,
        ch10.check_whole_video_masking_experiment]


@pytest.mark.parametrize("exercise_id", ["10.1", "10.2", "10.3"])
def test_checks_pass_solutions_and_report_stubs(exercise_id: str, capsys: pytest.CaptureFixture) -> None:
    EXERCISES[exercise_id](SOLUTIONS[exercise_id])
    assert capsys.readouterr().out.startswith(f"✓ Exercise {exercise_id} passed")
    with pytest.raises(ExerciseError, match="not implemented yet"):
        EXERCISES[exercise_id](stub)


def flat_nearest_leaf(features, levels):
    return torch.cdist(features, levels[-1]).argmin(dim=1)


def first_children_only(features, levels):
    return torch.cdist(features, levels[-1][:len(levels[0])]).argmin(dim=1)


@pytest.mark.parametrize("mistake, message", [(flat_nearest_leaf, "flat k-means"),
                                              (first_children_only, "children of the current node"),
                                              (lambda f, levels: assign_tokens(f, levels) // 2, "differ")])
def test_tree_walk_names_the_mistake(mistake, message):
    with pytest.raises(ExerciseError, match=message):
        ch10.check_assign_words(mistake)


def all_masked(tokens, maskable, random_tokens):
    chosen = maskable & (torch.rand(tokens.shape) < 0.15)
    return torch.where(chosen, vb.MASK, tokens), torch.where(chosen, tokens, -100)


def targets_everywhere(tokens, maskable, random_tokens):
    inputs, _ = ch10.bert_mask(tokens, maskable, random_tokens)
    return inputs, tokens


def padding_too(tokens, maskable, random_tokens):
    return ch10.bert_mask(tokens, torch.ones_like(maskable), random_tokens)


def rate_on_top(tokens, maskable, random_tokens):  # 15% of 80% masked: 12% chosen
    chosen = maskable & (torch.rand(tokens.shape) < 0.12)
    return torch.where(chosen, vb.MASK, tokens), torch.where(chosen, tokens, -100)


def swapped_shares(tokens, maskable, random_tokens):  # 10% [MASK], 80% random
    chosen = maskable & (torch.rand(tokens.shape) < 0.15)
    action = torch.rand(tokens.shape)
    inputs = torch.where(chosen & (action < 0.1), torch.full_like(tokens, vb.MASK), tokens)
    inputs = torch.where(chosen & (action >= 0.1) & (action < 0.9), random_tokens, inputs)
    return inputs, torch.where(chosen, tokens, -100)


@pytest.mark.parametrize("mistake, message", [(all_masked, "every chosen token became"),
                                              (targets_everywhere, "-100"),
                                              (padding_too, "not maskable"),
                                              (rate_on_top, "15%"),
                                              (swapped_shares, "80% / 10% / 10%")])
def test_masking_rule_names_the_mistake(mistake, message):
    with pytest.raises(ExerciseError, match=message):
        ch10.check_bert_mask(mistake)


def labels_flipped(model, text, visual, mismatched):
    shown = torch.where(mismatched[:, None], text.roll(1, dims=0), text)
    seq = vb.join(shown, visual)
    logits = model(seq.tokens, seq.segments, seq.padding)[1]
    return F.binary_cross_entropy_with_logits(logits, mismatched.float())


def no_swap(model, text, visual, mismatched):
    seq = vb.join(text, visual)
    return F.binary_cross_entropy_with_logits(model(seq.tokens, seq.segments, seq.padding)[1],
                                              (~mismatched).float())


def summed_not_averaged(model, text, visual, mismatched):  # a loss off by a factor: named by its value
    return ch10.alignment_loss(model, text, visual, mismatched) * len(text)


@pytest.mark.parametrize("mistake, message", [(labels_flipped, "inverted"), (no_swap, "not swapped"),
                                              (summed_not_averaged, "expected"),
                                              (lambda *a: ch10.alignment_loss(*a).item(), "one tensor")])
def test_alignment_loss_names_the_mistake(mistake, message):
    with pytest.raises(ExerciseError, match=message):
        ch10.check_alignment_loss(mistake)


def test_the_experiment_check_wants_whole_video_masking_to_win(capsys):
    ch10.check_whole_video_masking_experiment(lambda rate: 0.05 + rate)
    assert "passed" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="same config"):
        ch10.check_whole_video_masking_experiment(lambda rate: 0.3 - rate)
    with pytest.raises(ExerciseError, match="in \\[0, 1\\]"):
        ch10.check_whole_video_masking_experiment(lambda rate: 2.0)
