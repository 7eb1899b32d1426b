"""Recurrent blocks stepped one frame at a time: a stacked LSTM, its Gaussian variant, a ConvLSTM."""
from __future__ import annotations

import torch
from torch import Tensor, nn

State = list[tuple[Tensor, Tensor]]


class StackedLSTM(nn.Module):
    """Linear -> stacked LSTM cells -> linear head, one step per call (SVG's LSTMs, Denton & Fergus 2018).

    x (B, in_dim) and the state -> (B, out_dim) and the new state; ``initial_state`` gives zeros.
    """

    def __init__(self, in_dim: int, hidden: int, out_dim: int, layers: int = 1) -> None:
        super().__init__()
        self.embed = nn.Linear(in_dim, hidden)
        self.cells = nn.ModuleList(nn.LSTMCell(hidden, hidden) for _ in range(layers))
        self.head = nn.Linear(hidden, out_dim)

    def initial_state(self, batch: int, like: Tensor) -> State:
        """Zeros for ``batch`` sequences, on the device and dtype of ``like``."""
        zeros = like.new_zeros(batch, self.embed.out_features)
        return [(zeros, zeros) for _ in self.cells]

    def forward(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        x, new_state = self.embed(x), []
        for cell, hc in zip(self.cells, state):
            h, c = cell(x, hc)
            new_state.append((h, c))
            x = h
        return self.head(x), new_state


class GaussianLSTM(StackedLSTM):
    """A StackedLSTM whose head gives (mu, logvar) of a diagonal Gaussian over z_t: (B, z_dim) each."""

    def __init__(self, in_dim: int, hidden: int, z_dim: int, layers: int = 1) -> None:
        super().__init__(in_dim, hidden, 2 * z_dim, layers)

    def forward(self, x: Tensor, state: State) -> tuple[Tensor, Tensor, State]:
        out, state = super().forward(x, state)
        mu, logvar = out.chunk(2, dim=-1)
        return mu, logvar, state


class ConvLSTMCell(nn.Module):
    """An LSTM whose gates are convolutions, so the state keeps the frame's resolution (Shi et al.,
    "Convolutional LSTM Network", NIPS 2015, without peepholes).

    x (N, C_in, H, W), state (h, c) each (N, hidden, H, W) -> the new (h, c).
    """

    def __init__(self, in_channels: int, hidden: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.hidden = hidden
        self.conv = nn.Conv2d(in_channels + hidden, 4 * hidden, kernel_size, padding=kernel_size // 2)
        with torch.no_grad():
            self.conv.bias[hidden:2 * hidden].fill_(1.0)  # forget gate open at the start

    def initial_state(self, like: Tensor) -> tuple[Tensor, Tensor]:
        """Zeros (N, hidden, H, W) shaped like the input ``like`` (N, C_in, H, W)."""
        zeros = like.new_zeros(like.shape[0], self.hidden, *like.shape[2:])
        return zeros, zeros

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        h, c = state
        i, f, o, g = self.conv(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c
