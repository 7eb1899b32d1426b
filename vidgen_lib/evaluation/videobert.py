"""Measuring VideoBERT: do its visual words say what the caption says, can it tell a video's caption, can it
forecast?

A visual word has no pixels; it is judged by the ground truth of the training clips nearest its centroid
(``model.word_attributes``: their majority shape, colour and direction). Every score sits next to a
baseline measured the same way:

- **text to video**: the words predicted for each test caption, judged per clip against the caption's
  shape, colour and direction of that clip; baselines: the most frequent word at each clip position
  (``frequency``), and the test clips' own words (``true_words``: the best the tokeniser allows);
- **retrieval**: the alignment head ranks the true caption among ``K`` (the true one and K - 1 other test
  captions); chance is 1 / K;
- **forecasting**: from the words of a story's first two clips alone (no caption), the word of the third;
  baseline: repeat the last word.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from vidgen_lib.models import videobert
from vidgen_lib.models.videobert import VideoBERT

ATTRIBUTES = ("shape", "color", "direction")
CANDIDATES = 10  # K captions per retrieval question
KNOWN_CLIPS = 2  # forecasting: clips given before the one to predict


def test_stories(model: VideoBERT, n: int) -> dict:
    """The first ``n`` test stories (``videobert.read_stories``) with ``words`` ``(n, max_clips)`` (their
    clips' visual words, -1 after a story's end) and ``truth`` ``(n, max_clips, 3)`` (shape, colour,
    direction of each clip, -1 after the end)."""
    c = model.config
    stories = videobert.read_stories(c, "test", n)
    words = videobert.assign_tokens(stories["features"], [level.float().cpu() for level in model.levels])
    stories["words"] = videobert.story_words(stories, words, c.max_clips)
    truth = torch.full((n, c.max_clips, 3), -1, dtype=torch.long)
    truth[stories["story"], stories["clip"]] = stories["attributes"]
    stories["truth"] = truth
    return stories


def attribute_accuracy(model: VideoBERT, words: Tensor, truth: Tensor) -> dict[str, float]:
    """Share of clips whose word's attributes equal the truth: per attribute and all three at once.

    ``words`` ``(n, L)`` and ``truth`` ``(n, L', 3)``; clips where the truth is -1 are not counted, nor are
    positions beyond ``words``' length.
    """
    truth = truth[:, :words.shape[1]]
    judged = model.word_attributes.cpu()[words.clamp(min=0)]  # (n, L, 3)
    valid = (truth[..., 0] >= 0) & (words >= 0)
    same = judged == truth
    scores = {name: same[..., i][valid].float().mean().item() for i, name in enumerate(ATTRIBUTES)}
    scores["all"] = same.all(-1)[valid].float().mean().item()
    return scores


def frequency_words(model: VideoBERT, n: int) -> Tensor:
    """The baseline that ignores the caption: at each clip position, the word most often seen there in
    training, for ``n`` stories: ``(n, max_clips)``."""
    return model.position_counts.cpu().argmax(dim=1).expand(n, -1)


def retrieval_accuracy(model: VideoBERT, stories: dict, k: int = CANDIDATES, seed: int = 0) -> float:
    """Top-1 accuracy of the alignment head at picking each test video's caption among ``k`` candidates."""
    rng, captions = np.random.default_rng(seed), stories["captions"]
    rows_captions, rows_words = [], []
    for i, caption in enumerate(captions):
        others = [j for j in rng.permutation(len(captions)) if captions[j] != caption][:k - 1]
        if len(others) < k - 1:
            raise ValueError(f"retrieval needs {k} different captions; the {len(captions)} test stories have "
                             "too few: measure on more stories.")
        rows_captions += [caption] + [captions[j] for j in others]
        rows_words.append(stories["words"][i].expand(k, -1))
    logits = videobert.alignment_logits(model, rows_captions, torch.cat(rows_words)).view(-1, k)
    return (logits.argmax(dim=1) == 0).float().mean().item()  # the true caption is candidate 0


def evaluate(model: VideoBERT, n: int, *, seed: int = 0, stories: dict | None = None) -> dict[str, float]:
    """The model card's numbers, on ``n`` held-out stories (see the module docstring); ``stories``:
    ``test_stories(model, n)`` when it is already at hand."""
    stories = test_stories(model, n) if stories is None else stories
    if len(stories["captions"]) != n:
        raise ValueError(f"stories holds {len(stories['captions'])} stories, not n = {n}.")
    words, truth, num_clips = stories["words"], stories["truth"], stories["num_clips"]
    predicted = {"text_to_video": videobert.text_to_video(model, stories["captions"], num_clips),
                 "text_to_video_argmax": videobert.text_to_video(model, stories["captions"], num_clips,
                                                                 iterative=False),
                 "frequency": frequency_words(model, n), "true_words": words}
    scores = {}
    for name, guess in predicted.items():
        for attribute, value in attribute_accuracy(model, guess, truth).items():
            scores[f"{attribute}_acc/{name}"] = round(value, 4)
    scores["retrieval_top1/videobert"] = round(retrieval_accuracy(model, stories, seed=seed), 4)
    scores["retrieval_top1/chance"] = round(1 / CANDIDATES, 4)

    known, target = words[:, :KNOWN_CLIPS], words[:, KNOWN_CLIPS]
    guesses = {"videobert": videobert.forecast(model, known, 1)[:, 0], "repeat_last": known[:, -1]}
    for name, guess in guesses.items():
        scores[f"forecast_word_acc/{name}"] = round((guess == target).float().mean().item(), 4)
        judged = attribute_accuracy(model, guess[:, None], truth[:, KNOWN_CLIPS:KNOWN_CLIPS + 1])
        scores[f"forecast_direction_acc/{name}"] = round(judged["direction"], 4)
    return scores
