"""Permutation-invariant pooling of sets: FSPool and the set encoder built on it (the paper's ``H_agg``).

FSPool (featurewise sort pooling, Zhang et al. 2020) sorts every feature across the elements of a set, then takes
a weighted sum along the sorted axis. The weight of the element at relative rank ``t`` in [0, 1] comes from a
learned piecewise-linear function with ``n_pieces`` pieces, so one set of parameters serves every set size.

Shapes: a set is ``(batch, n, channels)``; an optional ``mask`` of shape ``(batch, n)`` (``True`` = real element)
marks padding, which never changes the result.
"""
from __future__ import annotations

import torch
from torch import nn

from ._checks import check_int, check_set


class FSPool(nn.Module):
    """Featurewise sort pooling: ``(batch, n, channels) -> (batch, channels)``, invariant to the order of elements."""

    def __init__(self, channels: int, n_pieces: int = 20):
        super().__init__()
        channels, n_pieces = check_int(channels, "channels", 1), check_int(n_pieces, "n_pieces", 1)
        self.channels = channels
        self.n_pieces = n_pieces
        # weight[c, k]: value of channel c's weighting function at relative rank k / n_pieces.
        self.weight = nn.Parameter(torch.randn(channels, n_pieces + 1) / n_pieces**0.5)

    def rank_weights(self, sizes: torch.Tensor, n: int) -> torch.Tensor:
        """Weights for sorted positions: ``sizes`` (batch,) -> (batch, n, channels); zero past each set's size."""
        position = torch.arange(n, device=sizes.device, dtype=self.weight.dtype)  # (n,)
        denominator = (sizes.to(self.weight.dtype) - 1).clamp(min=1).unsqueeze(1)  # (batch, 1)
        relative_rank = (position.unsqueeze(0) / denominator).clamp(max=1.0)  # (batch, n) in [0, 1]
        index = relative_rank * self.n_pieces
        left = index.floor().long().clamp(max=self.n_pieces)
        right = (left + 1).clamp(max=self.n_pieces)
        fraction = (index - left.to(index.dtype)).unsqueeze(-1)  # (batch, n, 1)
        weight = self.weight.t()  # (n_pieces + 1, channels)
        interpolated = (1 - fraction) * weight[left] + fraction * weight[right]  # (batch, n, channels)
        valid = position.unsqueeze(0) < sizes.unsqueeze(1)  # (batch, n)
        return interpolated * valid.unsqueeze(-1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x: (batch, n, channels); mask: (batch, n) bool or None -> (batch, channels)."""
        sorted_x, _ = self.sort(x, mask)
        return (sorted_x * self.rank_weights(set_sizes(x, mask), x.shape[1])).sum(dim=1)  # padding: x weight 0 = 0

    def sort(self, x: torch.Tensor, mask: torch.Tensor | None = None):
        """x (batch, n, channels) -> (each channel sorted descending along the elements, padding last; the element
        each sorted entry came from), both (batch, n, channels)."""
        check_set(x, "x", channels=self.channels, dtype=self.weight.dtype)
        if mask is not None:  # padding sorts to the end; its weight is zero, so its value never matters
            x = x.masked_fill(~_check_mask(mask, x).unsqueeze(-1), torch.finfo(x.dtype).min)
        return x.sort(dim=1, descending=True)


def set_sizes(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """The number of real elements of each set of x (batch, n, ...): (batch,) integers."""
    if mask is None:
        return torch.full((x.shape[0],), x.shape[1], device=x.device)
    return _check_mask(mask, x).sum(dim=1)


class SetEncoder(nn.Module):
    """The paper's ``H_agg``: a per-element MLP followed by FSPool, ``(batch, n, in_dim) -> (batch, out_dim)``.

    Following the authors' code, the per-element activations are divided by the set size before pooling, so the
    scale of the embedding does not grow with ``n``.
    """

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 512, layers: int = 3, n_pieces: int = 20):
        super().__init__()
        in_dim, out_dim = check_int(in_dim, "in_dim", 1), check_int(out_dim, "out_dim", 1)
        hidden, layers = check_int(hidden, "hidden", 1), check_int(layers, "layers", 1)
        self.in_dim, self.out_dim = in_dim, out_dim
        widths = [in_dim] + [hidden] * (layers - 1) + [out_dim]
        blocks: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            blocks.append(nn.Linear(a, b))
            if i < len(widths) - 2:
                blocks.append(nn.ReLU())
        self.element_mlp = nn.Sequential(*blocks)
        self.pool = FSPool(out_dim, n_pieces)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x: (batch, n, in_dim); mask: (batch, n) bool or None -> (batch, out_dim)."""
        check_set(x, "x", channels=self.in_dim, dtype=self.element_mlp[0].weight.dtype)
        features = self.element_mlp(x)
        if mask is None:
            features = features / x.shape[1]
        else:
            features = features / _check_mask(mask, x).sum(dim=1).view(-1, 1, 1)
        return self.pool(features, mask)


def _check_mask(mask: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    if not torch.is_tensor(mask) or mask.dtype != torch.bool:
        raise TypeError(f"mask must be a bool tensor of shape (batch, n), got {type(mask).__name__}"
                        f"{'' if not torch.is_tensor(mask) else ' of dtype ' + str(mask.dtype)}")
    if mask.shape != x.shape[:2]:
        raise ValueError(f"mask must have shape (batch, n) = {tuple(x.shape[:2])}, got {tuple(mask.shape)}")
    if not bool(mask.any(dim=1).all()):
        raise ValueError("mask marks an empty set (a row with no True element); every set needs one element")
    return mask


class GraphEncoder(nn.Module):
    """The GRN's ``H_agg``: one round of weighted message passing, then FSPool over the nodes.

    nodes (batch, n, in_dim), edges (batch, n, n) weights of the edge j -> i, mask (batch, n) or None
    -> (batch, out_dim). Invariant to relabelling the nodes (permuting nodes, and edges' rows and columns alike);
    the edge weights scale the messages, so refining them changes which nodes talk to which.
    """

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 128, n_pieces: int = 20):
        super().__init__()
        in_dim, out_dim, hidden = check_int(in_dim, "in_dim", 1), check_int(out_dim, "out_dim", 1), check_int(
            hidden, "hidden", 1)
        self.in_dim, self.out_dim = in_dim, out_dim
        self.message = nn.Sequential(nn.Linear(2 * in_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
        self.update = nn.Sequential(nn.Linear(in_dim + hidden, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))
        self.pool = FSPool(out_dim, n_pieces)

    def forward(self, nodes: torch.Tensor, edges: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        check_set(nodes, "nodes", channels=self.in_dim, dtype=self.message[0].weight.dtype)
        batch, n, dim = nodes.shape
        if not torch.is_tensor(edges) or edges.shape != (batch, n, n):
            raise ValueError(f"edges must have shape (batch, n, n) = {(batch, n, n)}, got "
                             f"{tuple(edges.shape) if torch.is_tensor(edges) else type(edges).__name__}")
        if edges.dtype != nodes.dtype:
            raise TypeError(f"edges must be a floating-point tensor of the nodes' dtype {nodes.dtype}, got {edges.dtype}")
        receivers = nodes.unsqueeze(2).expand(batch, n, n, dim)
        senders = nodes.unsqueeze(1).expand(batch, n, n, dim)
        messages = self.message(torch.cat([receivers, senders], dim=3))  # (batch, n, n, hidden): j -> i
        weights = edges if mask is None else edges * _check_mask(mask, nodes).unsqueeze(1)  # no messages from padding
        incoming = (weights.unsqueeze(-1) * messages).sum(dim=2)
        features = self.update(torch.cat([nodes, incoming], dim=2))
        sizes = n if mask is None else mask.sum(dim=1).view(-1, 1, 1)
        return self.pool(features / sizes, mask)
