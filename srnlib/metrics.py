"""Metrics on sets and predictions, checked on hand-made cases in tests/test_metrics.py.

Sets are tensors ``(batch, n, d)``; every function returns one value per example, ``(batch,)``.
"""
from __future__ import annotations

import itertools

import torch

from ._checks import check_set


def _pair_distances(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    check_set(predicted, "predicted")
    check_set(target, "target")
    if predicted.shape[0] != target.shape[0] or predicted.shape[2] != target.shape[2]:
        raise ValueError(f"predicted {tuple(predicted.shape)} and target {tuple(target.shape)} must share batch and d")
    return (predicted.unsqueeze(2) - target.unsqueeze(1)).pow(2).sum(-1)  # (batch, n_pred, n_target)


def chamfer(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Symmetric Chamfer distance with squared Euclidean costs: for every element, the cost to its nearest
    element of the other set, summed over both sets. Zero iff the sets are equal. (batch,)"""
    costs = _pair_distances(predicted, target)
    return costs.min(dim=2).values.sum(1) + costs.min(dim=1).values.sum(1)


def matched_squared_error(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared error under the best one-to-one matching (Hungarian), found by trying every permutation:
    exact, vectorised, and meant for small sets (n <= 6). (batch,)"""
    costs = _pair_distances(predicted, target)
    n = costs.shape[1]
    if costs.shape[2] != n:
        raise ValueError(f"matched_squared_error needs equal set sizes, got {costs.shape[1]} and {costs.shape[2]}")
    if n > 6:
        raise ValueError(f"matched_squared_error tries all n! matchings; n = {n} is too large (max 6)")
    perms = torch.tensor(list(itertools.permutations(range(n))), device=costs.device)  # (n!, n)
    rows = torch.arange(n, device=costs.device)
    per_perm = costs[:, rows, perms].sum(-1)  # (batch, n!)
    return per_perm.min(dim=1).values
