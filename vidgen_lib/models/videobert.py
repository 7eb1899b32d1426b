"""VideoBERT: videos as sequences of visual words, read by BERT together with their captions.

Sun, Myers, Vondrick, Murphy, Schmid, "VideoBERT: A Joint Model for Video and Language Representation
Learning", ICCV 2019.

1. **Visual words** (Sec. 3.2). Each clip of a video goes through a pretrained video network (the paper:
   S3D; here the course's toy-world feature network, ``vidgen_lib.features``) and its feature vector is
   quantised by hierarchical k-means (``nn.kmeans``; k = 4, depth 3: 64 words). A video becomes a short
   sequence of tokens, one per clip.
2. **One sequence, one vocabulary** (Sec. 3.3). BERT's vocabulary is extended with the visual words, and a
   caption and its video are joined as ``[CLS] caption [SEP] visual words [SEP]``, with a segment
   embedding telling text (0) from video (1).
3. **Three objectives** (Sec. 3.3): masked text tokens and masked visual tokens (BERT's masked language
   model: 15% of the tokens, 80% of those replaced by ``[MASK]``, 10% by a random token, 10% kept), and
   linguistic-visual alignment: from ``[CLS]``, does this caption belong to this video? Video-only
   sequences (no caption) are mixed in, as the paper also trains on video alone.
4. **No pixels** (Sec. 4.1). Generating means predicting visual words; a word is *shown* as the real
   training clips nearest to its centroid. ``text_to_video`` predicts the words of a caption's video
   (argmax, or iterative unmasking), ``forecast`` the next words of a video, ``alignment_logits`` scores
   caption-video pairs.

Deviations (also tabled in ``notebooks/10_videobert.ipynb``): a 4-layer, 64-wide transformer trained
from scratch (paper: BERT-large, initialised from text BERT); 64 visual words (paper: 12^4 = 20,736);
template captions with whole-word tokens (paper: WordPiece of speech recognition); in a quarter of
the captioned sequences *all* visual words are masked, so the model also learns the text-to-video task it
is used for (the paper's 15% rule alone rarely hides a whole video); pre-norm blocks.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vidgen_lib.checkpoints import load_model
from vidgen_lib.datasets.shapes import COLORS, DIRECTIONS, SHAPES
from vidgen_lib.datasets.stories import CAPTION_LENGTH, TURNS, WORDS, ShapeStories, story_caption
from vidgen_lib.features import video_features  # the pretrained clip encoder, the paper's S3D
from vidgen_lib.nn.attention import TransformerEncoder
from vidgen_lib.nn.kmeans import assign_tokens, fit_hierarchical_kmeans
from vidgen_lib.runtime import eval_mode, model_device, seed_everything
from vidgen_lib.train import Trainer, run

CHECKPOINT = "videobert"
SPECIALS = ("[PAD]", "[CLS]", "[SEP]", "[MASK]")
PAD, CLS, SEP, MASK = range(len(SPECIALS))
FIRST_WORD = len(SPECIALS)  # text word w has id FIRST_WORD + w
FIRST_VISUAL = FIRST_WORD + len(WORDS)  # visual word v has id FIRST_VISUAL + v
TEXT, VIDEO = 0, 1  # segment ids
EXEMPLARS = 8  # real clips kept per visual word: the nearest to its centroid


@dataclasses.dataclass
class Config:
    """Sizes and training settings (recorded in the model card)."""

    frame_size: int = 32
    clip_frames: int = 4  # frames per clip, one visual word each (paper: 30 frames, 1.5 s)
    min_clips: int = 3  # clips per story in the training data
    max_clips: int = 5
    sample_clips: int = 4  # clips ``sample`` generates per caption
    branching: int = 4  # hierarchical k-means: k children per node ...
    depth: int = 3  # ... for this many levels: k ** depth visual words (paper: 12 ** 4)
    dim: int = 64  # transformer width (paper: BERT-large, 1024)
    heads: int = 4
    hidden: int = 128  # MLP width
    layers: int = 4  # paper: 24
    dropout: float = 0.1
    mask_rate: float = 0.15  # BERT: 15% of the tokens are chosen ...
    video_mask_rate: float = 0.25  # ... and in this share of captioned sequences every visual word is masked
    video_only_rate: float = 0.2  # share of sequences without their caption (video-only training)
    lr: float = 1e-3
    weight_decay: float = 0.01
    batch_size: int = 128
    num_stories: int = 4000  # training stories: their clips fit the tokeniser and train BERT
    eval_videos: int = 512
    steps: int = 8000  # about 7 minutes on one CPU thread, after a few minutes of tokenising

    def __post_init__(self) -> None:
        if self.dim % self.heads:
            raise ValueError(f"heads={self.heads} must divide dim={self.dim}.")
        if not 1 <= self.min_clips <= self.max_clips or not 1 <= self.sample_clips <= self.max_clips:
            raise ValueError("need 1 <= min_clips <= max_clips and 1 <= sample_clips <= max_clips.")

    @classmethod
    def preset(cls, name: str) -> Config:
        """``tutorial``: the shipped size, minutes on a CPU. ``full``: 12 ** 3 words, a wider and deeper
        transformer, more data (a GPU)."""
        if name == "tutorial":
            return cls()
        if name == "full":
            return cls(branching=12, dim=256, heads=8, hidden=1024, layers=8, num_stories=50_000,
                       eval_videos=2000, steps=50_000)
        raise ValueError(f"Unknown preset {name!r}: use 'tutorial' or 'full'.")

    @property
    def num_visual(self) -> int:
        return self.branching ** self.depth

    @property
    def vocab_size(self) -> int:
        return FIRST_VISUAL + self.num_visual

    @property
    def max_length(self) -> int:  # [CLS] caption [SEP] visual words [SEP]
        return 1 + CAPTION_LENGTH + 1 + self.max_clips + 1

    # the uniform model API describes what ``sample`` returns
    channels = 3

    @property
    def num_frames(self) -> int:
        return self.sample_clips * self.clip_frames


# --- the model (Sec. 3.3) -------------------------------------------------------------------------

class VideoBERT(nn.Module):
    """Token, position and segment embeddings, a bidirectional transformer, and two heads: the masked-token
    head (tied to the token embedding, as in BERT) and the alignment head on ``[CLS]``.

    The tokeniser lives in the buffers, so one state dict holds everything: ``centroids_l`` (the k-means
    tree, level l ``(k ** (l+1), D)``), ``exemplars`` ``(V, 8, 2)`` (story, clip) of the training clips
    nearest each word's centroid, ``word_attributes`` ``(V, 3)`` the majority (shape, colour, direction)
    of those clips, and ``position_counts`` ``(max_clips, V)`` how often each word is clip c of a story.
    """

    def __init__(self, config: Config, feature_dim: int = 128) -> None:
        super().__init__()
        self.config = c = config
        self.token_embedding = nn.Embedding(c.vocab_size, c.dim)
        self.position_embedding = nn.Embedding(c.max_length, c.dim)
        self.segment_embedding = nn.Embedding(2, c.dim)
        self.encoder = TransformerEncoder(c.dim, c.heads, c.hidden, c.layers, c.dropout)
        self.token_bias = nn.Parameter(torch.zeros(c.vocab_size))  # the output layer is the embedding itself
        self.alignment_head = nn.Linear(c.dim, 1)
        for level in range(c.depth):
            self.register_buffer(f"centroids_{level}", torch.zeros(c.branching ** (level + 1), feature_dim))
        self.register_buffer("exemplars", torch.zeros(c.num_visual, EXEMPLARS, 2, dtype=torch.long))
        self.register_buffer("word_attributes", torch.zeros(c.num_visual, 3, dtype=torch.long))
        self.register_buffer("position_counts", torch.zeros(c.max_clips, c.num_visual, dtype=torch.long))
        self.apply(_bert_init)

    @property
    def levels(self) -> list[Tensor]:
        return [getattr(self, f"centroids_{level}") for level in range(self.config.depth)]

    def forward(self, tokens: Tensor, segments: Tensor, padding: Tensor) -> tuple[Tensor, Tensor]:
        """``tokens``, ``segments`` ``(B, L)`` int64 and ``padding`` ``(B, L)`` bool (True = real token) ->
        (token logits ``(B, L, vocab)``, alignment logit ``(B,)``)."""
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.token_embedding(tokens) + self.position_embedding(positions)
        x = x + self.segment_embedding(segments)
        h = self.encoder(x, padding)
        return h @ self.token_embedding.weight.T + self.token_bias, self.alignment_head(h[:, 0]).squeeze(-1)


def _bert_init(module: nn.Module) -> None:
    """BERT's initialisation (Devlin et al. 2019, code): weights ~ N(0, 0.02), biases 0. With PyTorch's
    default N(0, 1) embeddings the tied output layer would start with logits of size ~sqrt(dim)."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


def build(config: Config) -> VideoBERT:
    return VideoBERT(config)


# --- words: captions and visual words ------------------------------------------------------------

def encode_captions(captions: list[str]) -> Tensor:
    """Captions to text token ids ``(B, L)``, padded with ``[PAD]``; an unknown word raises ``ValueError``."""
    rows = []
    for caption in captions:
        unknown = [w for w in caption.split() if w not in WORDS]
        if unknown:
            raise ValueError(f"caption {caption!r} uses words outside the vocabulary: {unknown}; "
                             f"known words: {', '.join(WORDS)}.")
        rows.append([FIRST_WORD + WORDS.index(w) for w in caption.split()])
    width = max(map(len, rows))
    return torch.tensor([row + [PAD] * (width - len(row)) for row in rows], dtype=torch.long)


def clip_features(clips: Tensor, batch_size: int = 256) -> Tensor:
    """The pretrained video network's 128-d feature of each clip ``(N, 3, clip_frames, H, W)`` in [0, 1]."""
    return video_features(clips, batch_size=batch_size)


def visual_words(model: VideoBERT, clips: Tensor) -> Tensor:
    """The visual word (0 .. V-1) of each clip ``(N, 3, clip_frames, H, W)`` in [0, 1]: ``(N,)`` int64."""
    return assign_tokens(clip_features(clips), [level.float().cpu() for level in model.levels])


class Sequences(NamedTuple):
    """A batch of joined sequences, all ``(B, L)``: ids, segment ids, real-token mask, and where the
    caption's words and the visual words are."""

    tokens: Tensor
    segments: Tensor
    padding: Tensor
    is_text: Tensor
    is_visual: Tensor


def join(text: Tensor | None, visual: Tensor) -> Sequences:
    """``[CLS] text [SEP] visual [SEP]`` per row, padded to the longest row.

    Args:
        text: ``(B, Lt)`` text ids padded with ``[PAD]``, or ``None`` for video-only sequences.
        visual: ``(B, Lv)`` vocabulary ids (visual words, or ``[MASK]``), padded with ``[PAD]``.
    """
    rows = []
    for b in range(len(visual)):
        words = [] if text is None else [t for t in text[b].tolist() if t != PAD]
        clips = [t for t in visual[b].tolist() if t != PAD]
        rows.append(([CLS, *words, SEP, *clips, SEP], [TEXT] * (len(words) + 2) + [VIDEO] * (len(clips) + 1),
                     len(words)))
    length = max(len(tokens) for tokens, _, _ in rows)
    tokens = torch.full((len(rows), length), PAD, dtype=torch.long)
    segments = torch.zeros_like(tokens)
    is_text = torch.zeros(tokens.shape, dtype=torch.bool)
    for b, (ids, segs, num_words) in enumerate(rows):
        tokens[b, :len(ids)], segments[b, :len(ids)] = torch.tensor(ids), torch.tensor(segs)
        is_text[b, 1:1 + num_words] = True
    padding = tokens != PAD
    is_visual = padding & (segments == VIDEO) & (tokens != SEP)
    return Sequences(tokens, segments, padding, is_text, is_visual)


def mask_tokens(seq: Sequences, config: Config, generator: torch.Generator | None = None,
                mask_video: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """BERT's masking (Devlin et al. 2019, Sec. 3.1), on the caption's words and the visual words.

    Each maskable token is chosen with probability ``config.mask_rate``; a chosen token becomes ``[MASK]``
    (80%), a random token of its own kind, text or visual (10%), or stays (10%). Rows where ``mask_video``
    (``(B,)`` bool) is True have all their visual words chosen, and always replaced by ``[MASK]``.

    Returns:
        ``(inputs, targets)``, both ``(B, L)``: the masked tokens, and the original id at chosen
        positions, -100 (ignored by ``cross_entropy``) elsewhere.
    """
    maskable = seq.is_text | seq.is_visual
    u = torch.rand(seq.tokens.shape, generator=generator)
    chosen = maskable & (u < config.mask_rate)
    action = torch.rand(seq.tokens.shape, generator=generator)
    whole = torch.zeros_like(chosen) if mask_video is None else mask_video[:, None] & seq.is_visual
    inputs = seq.tokens.clone()
    inputs[(chosen & (action < 0.8)) | whole] = MASK
    random_token = chosen & (action >= 0.8) & (action < 0.9) & ~whole
    random_text = torch.randint(FIRST_WORD, FIRST_VISUAL, seq.tokens.shape, generator=generator)
    random_visual = torch.randint(FIRST_VISUAL, config.vocab_size, seq.tokens.shape, generator=generator)
    inputs = torch.where(random_token & seq.is_text, random_text, inputs)
    inputs = torch.where(random_token & seq.is_visual, random_visual, inputs)
    targets = torch.where(chosen | whole, seq.tokens, torch.full_like(seq.tokens, -100))
    return inputs, targets


# --- training (Sec. 3.3) --------------------------------------------------------------------------

def mismatch_captions(text: Tensor, rate: float = 0.5) -> tuple[Tensor, Tensor]:
    """The alignment task's negatives: each row of ``text`` ``(B, Lt)`` is, with probability ``rate``,
    replaced by the caption of the row before it. Returns ``(captions shown, mismatched (B,) bool)``; a
    borrowed caption that happens to equal the row's own counts as a match."""
    other = text.roll(1, dims=0)
    mismatched = (torch.rand(len(text)) < rate) & (other != text).any(dim=1)
    return torch.where(mismatched[:, None], other, text), mismatched


def training_step(model: VideoBERT, trainer: Trainer, batch: dict[str, Tensor]) -> dict[str, float]:
    """Masked tokens on true caption-video pairs and on video-only sequences, alignment on true and
    mismatched pairs; one forward pass for all of them.

    ``batch``: ``text`` (B, Lt) and ``visual`` (B, Lv) vocabulary ids padded with ``[PAD]``.
    """
    c, device = model.config, model_device(model)
    text, visual = batch["text"], batch["visual"]
    B = len(text)
    video_only = torch.rand(B) < c.video_only_rate
    shown, mismatched = mismatch_captions(text)
    mismatched &= ~video_only
    shown[video_only] = PAD  # [CLS] [SEP] visual words [SEP]
    seq = join(shown, visual)
    mask_video = (torch.rand(B) < c.video_mask_rate) & ~video_only
    inputs, targets = mask_tokens(seq, c, mask_video=mask_video)
    targets[mismatched] = -100  # no masked-token loss where the caption is not the video's
    logits, align = model(inputs.to(device), seq.segments.to(device), seq.padding.to(device))

    nll = F.cross_entropy(logits.flatten(0, 1), targets.flatten().to(device), ignore_index=-100,
                          reduction="none").view_as(targets)
    chosen = (targets != -100).to(device)
    masked_loss = nll.sum() / chosen.sum().clamp(min=1)
    judged = (~video_only & ~mask_video).to(device)  # a caption and a video it can see
    matches = (~mismatched).float().to(device)
    alignment_loss = F.binary_cross_entropy_with_logits(align[judged], matches[judged])
    loss = masked_loss + alignment_loss
    text_chosen, visual_chosen = chosen & seq.is_text.to(device), chosen & seq.is_visual.to(device)
    return {"loss": trainer.update("model", loss),
            "text_loss": ((nll * text_chosen).sum() / text_chosen.sum().clamp(min=1)).item(),
            "visual_loss": ((nll * visual_chosen).sum() / visual_chosen.sum().clamp(min=1)).item(),
            "alignment_loss": alignment_loss.item()}


# --- data: stories, their clips' features, the tokeniser ------------------------------------------

def story_data(config: Config, split: str, n: int) -> ShapeStories:
    """``n`` shape stories of ``split`` at the config's sizes (item i is the same for every n)."""
    return ShapeStories(split, n, clip_frames=config.clip_frames, min_clips=config.min_clips,
                        max_clips=config.max_clips, frame_size=config.frame_size)


def read_stories(config: Config, split: str, n: int, chunk: int = 256) -> dict:
    """The first ``n`` stories of ``split``: every clip's feature, and the ground truth.

    Returns a dict: ``features`` ``(N, 128)`` for all N clips (story by story, clip by clip), ``story`` and
    ``clip`` ``(N,)`` (which story, which of its clips), ``captions`` (n strings), ``num_clips`` ``(n,)``,
    ``attributes`` ``(N, 3)`` (shape, colour, direction of each clip).
    """
    data, out = story_data(config, split, n), {"features": [], "story": [], "clip": [], "captions": [],
                                                "num_clips": [], "attributes": []}
    for start in range(0, n, chunk):
        items = [data[i] for i in range(start, min(n, start + chunk))]
        out["features"].append(clip_features(torch.cat([item["clips"] for item in items])))
        for i, item in enumerate(items, start):
            k = len(item["directions"])
            out["story"].append(torch.full((k,), i))
            out["clip"].append(torch.arange(k))
            out["captions"].append(item["caption"])
            out["num_clips"].append(k)
            same = torch.tensor([item["shape"], item["color"]]).expand(k, 2)
            out["attributes"].append(torch.cat([same, item["directions"][:, None]], dim=1))
    return {"features": torch.cat(out["features"]), "story": torch.cat(out["story"]),
            "clip": torch.cat(out["clip"]), "captions": out["captions"],
            "num_clips": torch.tensor(out["num_clips"]), "attributes": torch.cat(out["attributes"])}


def fit_tokenizer(model: VideoBERT, stories: dict, seed: int = 0) -> Tensor:
    """Fit the k-means tree on the clips of ``stories`` (from ``read_stories``) and store it, with each
    word's nearest clips, their attributes, and how often each word is clip c of a story, in ``model``.
    Returns the ``(N,)`` word of every clip."""
    c = model.config
    levels = fit_hierarchical_kmeans(stories["features"], c.branching, c.depth, seed)
    for level, centroids in enumerate(levels):
        getattr(model, f"centroids_{level}").copy_(centroids)
    words = assign_tokens(stories["features"], levels)
    nearest = torch.cdist(levels[-1], stories["features"]).topk(EXEMPLARS, largest=False).indices  # (V, 8)
    model.exemplars.copy_(torch.stack([stories["story"][nearest], stories["clip"][nearest]], dim=-1))
    model.word_attributes.copy_(stories["attributes"][nearest].mode(dim=1).values)  # majority per attribute
    model.position_counts.zero_().index_put_((stories["clip"], words), torch.ones_like(words),
                                             accumulate=True)
    return words


def story_words(stories: dict, words: Tensor, max_clips: int) -> Tensor:
    """The words of every clip ``(N,)`` regrouped per story: ``(n, max_clips)``, -1 after a story's end."""
    out = torch.full((len(stories["num_clips"]), max_clips), -1, dtype=torch.long)
    out[stories["story"] - stories["story"].min(), stories["clip"]] = words
    return out


def as_vocabulary(words: Tensor) -> Tensor:
    """Visual words (-1 = none) to vocabulary ids (``[PAD]`` for none)."""
    return torch.where(words >= 0, words + FIRST_VISUAL, torch.full_like(words, PAD))


def token_batches(text: Tensor, visual: Tensor, batch_size: int):
    """Endless batches of random stories: ``{"text": (B, Lt), "visual": (B, Lv)}`` vocabulary ids."""
    while True:
        index = torch.randint(len(text), (batch_size,))
        yield {"text": text[index], "visual": visual[index]}


def train(config: Config, steps: int | None = None, *, run_dir: str | Path | None = None, seed: int = 0,
          progress: bool = True, time_limit_s: float | None = None) -> tuple[VideoBERT, dict[str, float]]:
    """Tokenise ``config.num_stories`` training stories, then train BERT on them; returns ``(model, metrics)``
    in eval mode (see ``vidgen_lib.train.run``)."""
    seed_everything(seed)
    model = build(config)
    stories = read_stories(config, "train", config.num_stories)
    words = story_words(stories, fit_tokenizer(model, stories, seed), config.max_clips)
    data = token_batches(encode_captions(stories["captions"]), as_vocabulary(words), config.batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps = config.steps if steps is None else steps
    return run(model, {"model": optimizer}, training_step, data, steps, run_dir=run_dir, seed=seed,
               grad_clip=1.0, progress=progress, time_limit_s=time_limit_s)


# --- using it: text to video, forecasting, alignment (Sec. 4) --------------------------------------

def fill_masks(model: VideoBERT, text: Tensor | None, visual: Tensor, *, one_at_a_time: bool,
               earliest_first: bool = False) -> Tensor:
    """Replace every ``[MASK]`` of ``visual`` ``(B, Lv)`` by the most likely visual word, given ``text``.

    ``one_at_a_time``: iterative unmasking, one word per forward pass and row, each time the most confident
    masked position (or, with ``earliest_first``, the earliest one: left-to-right forecasting); otherwise all
    masked positions at once (argmax). Returns ``(B, Lv)`` visual words (0 .. V-1; -1 where ``[PAD]``).
    """
    device, visual = model_device(model), visual.clone()
    with eval_mode(model):
        while (visual == MASK).any():
            seq = join(text, visual)
            logits, _ = model(seq.tokens.to(device), seq.segments.to(device), seq.padding.to(device))
            probs = logits[..., FIRST_VISUAL:].softmax(-1).cpu()  # visual words only
            # Sequence position of visual slot j: after [CLS], the words, [SEP].
            offset = seq.segments.argmax(dim=1)  # first video position of each row
            slots = offset[:, None] + torch.arange(visual.shape[1])
            probs = probs.gather(1, slots[..., None].expand(-1, -1, probs.shape[-1]))  # (B, Lv, V)
            confidence, best = probs.max(-1)
            masked = visual == MASK
            if one_at_a_time:
                earliest = -torch.arange(visual.shape[1]).float().expand_as(confidence)
                score = earliest if earliest_first else confidence
                pick = score.masked_fill(~masked, -float("inf")).argmax(dim=1)  # (B,)
                rows = masked.any(dim=1)
                chosen = torch.zeros_like(masked)
                chosen[rows, pick[rows]] = True
            else:
                chosen = masked
            visual = torch.where(chosen, best + FIRST_VISUAL, visual)
    return torch.where(visual >= FIRST_VISUAL, visual - FIRST_VISUAL, torch.full_like(visual, -1))


def text_to_video(model: VideoBERT, captions: list[str], num_clips: int | Tensor | None = None, *,
                  iterative: bool = True) -> Tensor:
    """The visual words of each caption's video: ``(B, max clips)`` words, -1 after a row's ``num_clips``.

    All visual words start as ``[MASK]`` after the caption (``[CLS] caption [SEP] [MASK] ... [SEP]``) and are
    filled by ``fill_masks``: one at a time, most confident first (``iterative``), or all at once (argmax).
    ``num_clips``: an int for every caption, or ``(B,)`` per caption (default ``config.sample_clips``).
    """
    n = torch.as_tensor(model.config.sample_clips if num_clips is None else num_clips).expand(len(captions))
    if n.min() < 1 or n.max() > model.config.max_clips:
        raise ValueError(f"num_clips must be in [1, {model.config.max_clips}], got {n.tolist()}.")
    visual = torch.where(torch.arange(int(n.max())) < n[:, None], MASK, PAD)
    return fill_masks(model, encode_captions(captions), visual, one_at_a_time=iterative)


def forecast(model: VideoBERT, words: Tensor, horizon: int, captions: list[str] | None = None) -> Tensor:
    """The next ``horizon`` visual words after ``words`` ``(B, n)`` (0 .. V-1), from the video alone (or
    with ``captions``): ``(B, horizon)``, filled left to right."""
    if horizon < 1 or words.shape[1] + horizon > model.config.max_clips:
        raise ValueError(f"horizon must be >= 1 with known + horizon <= {model.config.max_clips} clips, "
                         f"got {words.shape[1]} + {horizon}.")
    visual = torch.cat([as_vocabulary(words), torch.full((len(words), horizon), MASK)], dim=1)
    text = None if captions is None else encode_captions(captions)
    return fill_masks(model, text, visual, one_at_a_time=True, earliest_first=True)[:, -horizon:]


def alignment_logits(model: VideoBERT, captions: list[str], words: Tensor) -> Tensor:
    """How strongly the alignment head believes each caption belongs to each video ``words`` ``(B, n)``
    (-1 = padding): ``(B,)`` logits, > 0 for "matches"."""
    seq = join(encode_captions(captions), as_vocabulary(words))
    device = model_device(model)
    with eval_mode(model):
        return model(seq.tokens.to(device), seq.segments.to(device), seq.padding.to(device))[1].cpu()


def decode(model: VideoBERT, words: Tensor, exemplar: int = 0) -> Tensor:
    """Show visual words ``(B, n)`` as video: each word is its ``exemplar``-th nearest training clip (there is
    no pixel decoder, Sec. 4.1). Returns ``(B, 3, n * clip_frames, H, W)`` in [0, 1]; -1 words are black."""
    c = model.config
    pairs = model.exemplars[words.clamp(min=0), exemplar].cpu()  # (B, n, 2): story, clip
    data = story_data(c, "train", int(pairs[..., 0].max()) + 1)
    clips = torch.zeros(*words.shape, 3, c.clip_frames, c.frame_size, c.frame_size)
    for b, j in (words >= 0).nonzero().tolist():
        story, clip = pairs[b, j].tolist()
        clips[b, j] = data[story]["clips"][clip]
    return clips.permute(0, 2, 1, 3, 4, 5).flatten(2, 3)  # (B, 3, n * clip_frames, H, W)


def random_captions(n: int, seed: int | None = None) -> list[str]:
    """``n`` captions of random stories (a numpy generator: the global torch generator is left alone)."""
    rng = np.random.default_rng(seed)
    return [story_caption(rng.integers(len(SHAPES)), rng.integers(len(COLORS)), rng.integers(len(DIRECTIONS)),
                          rng.integers(len(TURNS))) for _ in range(n)]


def sample(model: VideoBERT, n: int, *, seed: int | None = None, captions: list[str] | None = None) -> Tensor:
    """Text to video: ``n`` videos ``(n, 3, sample_clips * clip_frames, H, W)`` in [0, 1], each the nearest
    training clips of the visual words predicted for a caption (random captions unless given)."""
    if n < 1:
        raise ValueError(f"n must be a positive number of videos, got {n}.")
    captions = random_captions(n, seed) if captions is None else captions
    if len(captions) != n:
        raise ValueError(f"got {len(captions)} captions for n = {n} videos.")
    return decode(model, text_to_video(model, captions))


def load_pretrained(device: torch.device | str | None = None, *, path: str | Path | None = None) -> VideoBERT:
    """The shipped checkpoint ``data/checkpoints/videobert.pt`` (or ``path``), checked against its card."""
    return load_model(CHECKPOINT, Config, build, device, path)
