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
"""
from __future__ import annotations

import math

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

    def forward(self, x: Tensor, padding: Tensor | None = None) -> Tensor:
        """``x`` ``(B, L, dim)``, ``padding`` ``(B, L)`` bool (True = real token) -> ``(B, L, dim)``."""
        q, k, v = rearrange(self.qkv(x), "b l (three h d) -> three b h l d", three=3, h=self.heads)
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])  # (B, heads, L queries, L keys)
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
