"""The entropy model of a learned codec: a factorised prior over integer latents, its rate, and the bytes.

Ballé, Minnen, Singh, Hwang, Johnston, "Variational image compression with a scale hyperprior", ICLR 2018,
App. 6.1 (the density of Ballé, Laparra, Simoncelli, ICLR 2017). Every channel of the latent ``y`` has its
own learned distribution, shared by all positions. It is given by a cumulative distribution function
``c(y) = sigmoid(f_K(... f_1(y)))``, where each ``f_k`` is a tiny network that is monotone by construction,
so ``c`` is a valid CDF whatever the weights. The probability of an integer ``k`` is the mass of its unit
bin, ``c(k + 1/2) - c(k - 1/2)``; ``-log2`` of it is the number of bits an ideal coder spends on ``k``.

Training cannot round (no gradient), so it adds uniform noise instead (:meth:`FactorizedPrior.quantize`);
``bits`` of the noisy latent is the rate term of the loss. At test time the rounded latents are written
as a real byte stream with ``constriction``'s range coder (:func:`encode`, :func:`decode`): its length is
the real rate, and it comes within a fraction of a percent of the estimate.
"""
from __future__ import annotations

import math

import constriction
import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

LIKELIHOOD_BOUND = 1e-9  # the smallest probability of a bin: keeps -log2 finite (at most ~30 bits)


class FactorizedPrior(nn.Module):
    """A learned, per-channel distribution over integer latents (Ballé et al. 2018, App. 6.1).

    Args:
        channels: C, the number of latent channels, each with its own density.
        filters: the widths of the hidden layers of each channel's CDF network, ``(3, 3, 3)`` in the paper.
        init_scale: the initial density is spread over about this many units.
    """

    def __init__(self, channels: int, filters: tuple[int, ...] = (3, 3, 3), init_scale: float = 10.0) -> None:
        super().__init__()
        self.channels = channels
        widths = (1, *filters, 1)
        scale = init_scale ** (1 / (len(widths) - 1))  # shared out over the layers
        self.matrices, self.biases, self.gates = nn.ParameterList(), nn.ParameterList(), nn.ParameterList()
        for k in range(len(widths) - 1):
            # softplus(H) starts at 1 / (scale * width): together the layers start as y / init_scale
            start = math.log(math.expm1(1 / scale / widths[k + 1]))
            self.matrices.append(nn.Parameter(torch.full((channels, widths[k + 1], widths[k]), start)))
            self.biases.append(nn.Parameter(torch.rand(channels, widths[k + 1], 1) - 0.5))
            if k < len(widths) - 2:  # the last layer has no gate
                self.gates.append(nn.Parameter(torch.zeros(channels, widths[k + 1], 1)))

    def logits(self, x: Tensor) -> Tensor:
        """``f_K(... f_1(x))``, the logit of the CDF: ``(C, 1, N)`` -> ``(C, 1, N)``, increasing in x.

        ``f_k(x) = h_k(softplus(H_k) x + b_k)`` with ``h_k(x) = x + tanh(a_k) tanh(x)`` (App. 6.1).
        softplus keeps every weight positive and tanh(a_k) > -1 keeps h_k increasing, so f is monotone.
        """
        for k, (matrix, bias) in enumerate(zip(self.matrices, self.biases)):
            x = F.softplus(matrix) @ x + bias  # (C, d_out, d_in) @ (C, d_in, N) -> (C, d_out, N)
            if k < len(self.gates):
                x = x + torch.tanh(self.gates[k]) * torch.tanh(x)
        return x

    def _check(self, y: Tensor) -> None:
        if y.ndim < 2 or y.shape[1] != self.channels:
            raise ValueError(f"y must be (B, {self.channels}, ...) with the channels on axis 1, "
                             f"got shape {tuple(y.shape)}.")

    def quantize(self, y: Tensor, noise: bool) -> Tensor:
        """Latents as the coder will see them. ``noise=True`` (training): ``y + u``, ``u ~ U(-1/2, 1/2)``,
        a differentiable stand-in with the same bin probabilities (Ballé et al. 2018, Sec. 2).
        ``noise=False`` (testing): ``round(y)``. Any shape; returns the same shape."""
        if noise:
            return y + torch.empty_like(y).uniform_(-0.5, 0.5)
        return torch.round(y)

    def likelihood(self, y: Tensor) -> Tensor:
        """The probability of the unit bin around each value, ``c(y + 1/2) - c(y - 1/2)``.

        Args: y ``(B, C, ...)``, any real values. Returns: the same shape, in [LIKELIHOOD_BOUND, 1].
        """
        self._check(y)
        flat = rearrange(y.reshape(y.shape[0], self.channels, -1), "b c n -> c 1 (b n)")
        lower, upper = self.logits(flat - 0.5), self.logits(flat + 0.5)
        # far right both sigmoids are near 1 and their difference loses its digits; there the same number
        # is sigmoid(-l) - sigmoid(-u), a difference of values near 0: flip the signs where l + u > 0
        sign = torch.where(lower + upper > 0, -1.0, 1.0)
        p = (torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower)).abs()
        p = rearrange(p, "c 1 (b n) -> b c n", b=y.shape[0]).reshape(y.shape)
        return p.clamp_min(LIKELIHOOD_BOUND)

    def bits(self, y: Tensor) -> Tensor:
        """The rate: ``sum(-log2 likelihood(y))`` over all of ``y`` ``(B, C, ...)``, a 0-dim tensor."""
        return -torch.log2(self.likelihood(y)).sum()

    @torch.no_grad()
    def pmf_table(self, low: int, high: int) -> np.ndarray:
        """The probability of each integer ``low..high`` in each channel: ``(C, high - low + 1)`` float64.

        The two end bins also hold the tails (``P(low) = c(low + 1/2)``, ``P(high) = 1 - c(high - 1/2)``),
        so each row sums to 1 and is the exact distribution of latents clamped into ``[low, high]``.
        """
        if high <= low:
            raise ValueError(f"the support low..high must hold at least two integers, got {low}..{high}.")
        k = torch.arange(low, high + 1, dtype=torch.float32)
        p = self.likelihood(k.expand(1, self.channels, -1))[0]  # (C, K)
        ends = self.logits(torch.tensor([low + 0.5, high - 0.5]).expand(self.channels, 1, 2))[:, 0]  # (C, 2)
        p[:, 0] = torch.sigmoid(ends[:, 0])  # c(low + 1/2): all the mass below low + 1/2
        p[:, -1] = torch.sigmoid(-ends[:, 1])  # 1 - c(high - 1/2), written so it does not cancel
        return p.double().numpy()


def _as_symbols(symbols: np.ndarray | Tensor, prior: FactorizedPrior, low: int, high: int) -> np.ndarray:
    """Check that ``symbols`` are integer latents ``(B, C, ...)`` in ``low..high``; return them as int64."""
    array = symbols.detach().cpu().numpy() if isinstance(symbols, Tensor) else np.asarray(symbols)
    if array.ndim < 2 or array.shape[1] != prior.channels:
        raise ValueError(f"symbols must be (B, {prior.channels}, ...) with the channels on axis 1, "
                         f"got shape {array.shape}.")
    if not np.issubdtype(array.dtype, np.number) or np.any(array != np.round(array)):
        raise ValueError("symbols must be whole numbers: round the latents first, "
                         "prior.quantize(y, noise=False).")
    if array.min() < low or array.max() > high:
        raise ValueError(f"symbols must lie in {low}..{high}, the support of the pmf table; got "
                         f"{array.min():g}..{array.max():g}. Widen the support or clamp them first "
                         f"(y.clamp({low}, {high}): the end bins hold the tails).")
    return array.astype(np.int64)


def encode(symbols: np.ndarray | Tensor, prior: FactorizedPrior, low: int, high: int) -> bytes:
    """Integer latents ``(B, C, ...)`` in ``low..high`` -> a byte string, with a range coder.

    Each channel's values are coded with that channel's categorical distribution, ``prior.pmf_table``.
    The decoder must rebuild the same table, so it needs the same prior (and, across machines, the same
    floating-point results: real codecs store integer CDF tables for this reason).
    """
    array = _as_symbols(symbols, prior, low, high)
    table = prior.pmf_table(low, high)
    encoder = constriction.stream.queue.RangeEncoder()
    for c in range(prior.channels):
        model = constriction.stream.model.Categorical(table[c], perfect=False)
        encoder.encode((array[:, c] - low).ravel().astype(np.int32), model)  # the coder counts from 0
    return encoder.get_compressed().astype("<u4").tobytes()  # 32-bit words, little-endian on every machine


def decode(data: bytes, prior: FactorizedPrior, shape: tuple[int, ...], low: int, high: int) -> Tensor:
    """The inverse of :func:`encode`: bytes -> the integer latents of ``shape`` ``(B, C, ...)``, float32."""
    if len(shape) < 2 or shape[1] != prior.channels:
        raise ValueError(f"shape must be (B, {prior.channels}, ...), channels on axis 1, got {shape}.")
    if len(data) % 4:
        raise ValueError(f"data must be whole 32-bit words as encode writes them, got {len(data)} bytes.")
    table = prior.pmf_table(low, high)
    decoder = constriction.stream.queue.RangeDecoder(np.frombuffer(data, dtype="<u4").astype(np.uint32))
    per_channel = math.prod(shape) // shape[1]
    channels = [decoder.decode(constriction.stream.model.Categorical(table[c], perfect=False), per_channel)
                for c in range(prior.channels)]  # in the order encode wrote them
    symbols = rearrange(np.stack(channels), "c (b n) -> b c n", b=shape[0]).reshape(shape) + low
    return torch.from_numpy(symbols).float()
