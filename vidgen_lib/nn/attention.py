"""Multi-head self-attention and the Transformer encoder (Vaswani et al., "Attention Is All You Need",
NeurIPS 2017, Sec. 3), written out so that every step can be read.

A sequence is ``(B, L, D)``: B sequences of L tokens, a D-dimensional vector per token. Each token asks
a query, offers a key and a value; its output is the average of all values weighted by
softmax(query · key / sqrt(d)), computed in ``heads`` independent subspaces of size d = D / heads.
A padding mask ``(B, L)`` (True = a real token) hides padded positions as keys, so no real token
attends to padding.

The blocks are pre-norm (LayerNorm before attention and before the MLP, as in GPT-2 and most modern
transformers; BERT puts it after): the residual path stays an identity, which trains small models
stably without warm-up tricks.

For video, attention over all T·H·W positions at once costs (T·H·W)² scores. Video diffusion models
factorise it (Ho et al., "Video Diffusion Models", NeurIPS 2022, Sec. 3): :class:`SpatialAttention`
mixes the H·W positions of each frame (time folded into the batch), :class:`TemporalAttention` mixes the
T frames at each position (space folded into the batch), with a learned bias per relative time offset:
T·(H·W)² + H·W·T² scores.
"""
from __future__ import annotations

import math

import torch
from einops import rearrange
from torch import Tensor, nn


class SelfAttention(nn.Module):
    """Multi-head self-attention over ``(B, L, dim)``; ``heads`` must divide ``dim``."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"heads={heads} must divide dim={dim}.")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)  # queries, keys and values of every head at once
        self.out = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, padding: Tensor | None = None, bias: Tensor | None = None) -> Tensor:
        """``x`` ``(B, L, dim)``, ``padding`` ``(B, L)`` bool (True = real token), ``bias`` ``(heads, L, L)``
        added to the scores (relative positions; ``-inf`` hides a key from a query) -> ``(B, L, dim)``."""
        q, k, v = rearrange(self.qkv(x), "b l (three h d) -> three b h l d", three=3, h=self.heads)
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])  # (B, heads, L queries, L keys)
        if bias is not None:
            scores = scores + bias
        if padding is not None:
            scores = scores.masked_fill(~padding[:, None, None, :], float("-inf"))  # hide padded keys
        weights = self.dropout(scores.softmax(dim=-1))
        return self.out(rearrange(weights @ v, "b h l d -> b l (h d)"))


class TransformerBlock(nn.Module):
    """x + attention(LayerNorm(x)), then x + MLP(LayerNorm(x)); the MLP is ``dim -> hidden -> dim``."""

    def __init__(self, dim: int, heads: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attention = SelfAttention(dim, heads, dropout)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim),
                                 nn.Dropout(dropout))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, padding: Tensor | None = None) -> Tensor:
        x = x + self.dropout(self.attention(self.norm1(x), padding))
        return x + self.mlp(self.norm2(x))


class TransformerEncoder(nn.Module):
    """``layers`` blocks and a final LayerNorm: ``(B, L, dim)`` -> ``(B, L, dim)``, every token sees every
    real token (bidirectional, as in BERT)."""

    def __init__(self, dim: int, heads: int, hidden: int, layers: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([TransformerBlock(dim, heads, hidden, dropout) for _ in range(layers)])
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor, padding: Tensor | None = None) -> Tensor:
        for block in self.blocks:
            x = block(x, padding)
        return self.norm(x)


# --- factorised space-time attention for videos (B, C, T, H, W) ------------------------------------

class SpatialAttention(nn.Module):
    """x + attention among the H·W positions of each frame: ``(B, C, T, H, W)`` -> same shape.

    Frames never mix: time is folded into the batch (Ho et al. 2022, Sec. 3). ``heads`` divides C. The
    pre-norm is a LayerNorm over each position's channels, which mixes nothing either.
    """

    def __init__(self, channels: int, heads: int) -> None:
        super().__init__()
        self.norm, self.attention = nn.LayerNorm(channels), SelfAttention(channels, heads)

    def forward(self, x: Tensor) -> Tensor:
        b, _, t, h, w = x.shape
        tokens = rearrange(x, "b c t h w -> (b t) (h w) c")
        mixed = self.attention(self.norm(tokens))
        return x + rearrange(mixed, "(b t) (h w) c -> b c t h w", b=b, t=t, h=h, w=w)


class TemporalAttention(nn.Module):
    """x + attention among the T frames at each position: ``(B, C, T, H, W)`` -> same shape.

    Positions never mix: space is folded into the batch. Each head adds a learned bias for each relative
    offset between two frames, from −(max_frames − 1) to max_frames − 1 (Ho et al. 2022, Sec. 3: relative
    position embeddings, so the block knows frame order without absolute positions). With
    ``independent_frames`` every frame attends only to itself, so a stack of unrelated images can pass
    through the same network as a video (Sec. 3: joint training on videos and images).
    """

    def __init__(self, channels: int, heads: int, max_frames: int) -> None:
        super().__init__()
        self.norm, self.attention = nn.LayerNorm(channels), SelfAttention(channels, heads)
        self.max_frames = max_frames
        self.relative_bias = nn.Parameter(torch.zeros(heads, 2 * max_frames - 1))

    def bias(self, frames: int, independent_frames: bool = False) -> Tensor:
        """``(heads, T, T)``: the learned bias of query frame i for key frame j, at offset j − i."""
        if frames > self.max_frames:
            raise ValueError(f"TemporalAttention was built for at most {self.max_frames} frames, "
                             f"got {frames}.")
        index = torch.arange(frames, device=self.relative_bias.device)
        bias = self.relative_bias[:, index[None, :] - index[:, None] + self.max_frames - 1]
        if independent_frames:
            alone = torch.eye(frames, dtype=torch.bool, device=bias.device)
            bias = bias.masked_fill(~alone, float("-inf"))
        return bias

    def forward(self, x: Tensor, independent_frames: bool = False) -> Tensor:
        b, _, t, h, w = x.shape
        tokens = rearrange(x, "b c t h w -> (b h w) t c")
        mixed = self.attention(self.norm(tokens), bias=self.bias(t, independent_frames))
        return x + rearrange(mixed, "(b h w) t c -> b c t h w", b=b, h=h, w=w)
