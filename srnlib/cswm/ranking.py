"""Ranking metrics for multi-step world-model prediction (C-SWM's evaluation): Hits@k and MRR, de-duplicated.

    target_ranks(predicted (N, K, D), targets (N, K, D), target_ids=None) -> int64 (N,) ranks, 1 = best
    ranking_scores(predicted, targets, target_ids=None, hits_at=(1,)) -> {"h1": pct, "mrr": pct}

Sample i has a predicted embedding ``predicted[i]`` (the model's state after k steps from observation t) and a true
target ``targets[i]`` (the encoded observation at t + k). The K object slots are flattened, so each embedding is a
vector of K * D numbers and distances are Euclidean over all of them (``(N, D)`` inputs are taken as K = 1).

Candidates are the distinct target *states* of the whole eval set, not its N rows. ``target_ids`` (int, shape (N,))
names each target's state; rows with the same id are the same state (e.g. byte-identical observations, see
``srnlib.cswm.data.observation_ids``). Without ids, rows whose target embeddings are exactly equal share an id.
The exact rule, for prediction i whose true state is ``c = target_ids[i]``:

    distance to a state s  = the smallest Euclidean distance from predicted[i] to any target row with id s
    rank_i                 = 1 + the number of states s != c strictly closer to predicted[i] than state c

So a duplicate of the true target is the correct answer, never a competitor (duplicates cannot deflate the score),
a wrong state counts once however often it appears (duplicates cannot inflate the rank), and a tie with a wrong
state is resolved in favour of the true target (as C-SWM's stable sort with the true target first). Distances are
computed exactly in float64 (no matrix-product shortcut that could split exact duplicates).

Hits@k = the percentage of samples with rank <= k; MRR = 100 * the mean of 1 / rank. Vectorised: one (N, N)
distance matrix and one scatter-min to (N, number of states).
"""
from __future__ import annotations

import numpy as np
import torch

from .._checks import is_int


def _as_embeddings(value, name: str) -> torch.Tensor:
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    if not torch.is_tensor(value):
        raise TypeError(f"{name} must be a torch.Tensor or numpy array of shape (N, K, D), got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(f"{name} must be floating point, got dtype {value.dtype}")
    if value.dim() not in (2, 3):
        raise ValueError(f"{name} must have shape (N, K, D) (or (N, D)), got {tuple(value.shape)}")
    if value.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one sample (N >= 1), got shape {tuple(value.shape)}")
    value = value.detach().to("cpu", torch.float64).reshape(value.shape[0], -1)
    if not torch.isfinite(value).all():
        raise ValueError(f"{name} must be finite")
    return value


def _as_ids(target_ids, count: int) -> torch.Tensor:
    if isinstance(target_ids, (np.ndarray, list, tuple)):
        target_ids = torch.as_tensor(np.asarray(target_ids))
    if not torch.is_tensor(target_ids):
        raise TypeError(f"target_ids must be an integer torch.Tensor or numpy array of shape (N,), "
                        f"got {type(target_ids).__name__}")
    if target_ids.is_floating_point() or target_ids.is_complex() or target_ids.dtype == torch.bool:
        raise TypeError(f"target_ids must have an integer dtype, got {target_ids.dtype}")
    if target_ids.shape != (count,):
        raise ValueError(f"target_ids must have shape ({count},) (one id per target), got {tuple(target_ids.shape)}")
    return torch.unique(target_ids.cpu().long(), return_inverse=True)[1]  # ids renumbered 0..S-1


def target_ranks(predicted, targets, target_ids=None) -> torch.Tensor:
    """int64 (N,): the rank of each prediction's true target state among all distinct target states (1 = best).

    predicted, targets: float (N, K, D) (or (N, D)), the same shape. target_ids: int (N,) state ids, or None to
    treat exactly equal target embeddings as the same state. See the module docstring for the exact rule.
    """
    predicted = _as_embeddings(predicted, "predicted")
    targets = _as_embeddings(targets, "targets")
    if predicted.shape != targets.shape:
        raise ValueError(f"predicted and targets must have the same shape, got {tuple(predicted.shape)} and "
                         f"{tuple(targets.shape)} (flattened)")
    count = predicted.shape[0]
    if target_ids is None:
        states = torch.unique(targets, dim=0, return_inverse=True)[1]
    else:
        states = _as_ids(target_ids, count)
    n_states = int(states.max()) + 1
    distances = torch.cdist(predicted, targets, compute_mode="donot_use_mm_for_euclid_dist")  # (N, N)
    state_distances = torch.full((count, n_states), torch.inf, dtype=torch.float64)
    state_distances.scatter_reduce_(1, states.expand(count, count), distances, reduce="amin")  # (N, S)
    true_distance = state_distances.gather(1, states[:, None])  # (N, 1)
    closer = state_distances < true_distance  # the true state itself is never strictly closer than itself
    return 1 + closer.sum(1)


def ranking_scores(predicted, targets, target_ids=None, hits_at=(1,)) -> dict:
    """``{"h<k>": Hits@k, "mrr": MRR}`` in percent (Python floats) for each k in ``hits_at``.

    predicted, targets: float (N, K, D); target_ids: int (N,) or None (see ``target_ranks``).
    """
    if isinstance(hits_at, (int, np.integer)) or not isinstance(hits_at, (tuple, list)):
        raise TypeError(f"hits_at must be a tuple or list of ints, got {hits_at!r}")
    for k in hits_at:
        if not is_int(k):
            raise TypeError(f"hits_at must hold ints, got {k!r}")
        if k < 1:
            raise ValueError(f"hits_at must hold positive ints, got {k!r}")
    ranks = target_ranks(predicted, targets, target_ids).double()
    scores = {f"h{int(k)}": 100.0 * float((ranks <= k).double().mean()) for k in hits_at}
    scores["mrr"] = 100.0 * float((1.0 / ranks).mean())
    return scores
