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


# ---------------------------------------------------------------------------------- object decomposition (Circles)
def active_elements(element_images: torch.Tensor, threshold: float = 0.1) -> torch.Tensor:
    """Number of elements that "contain an object": decoded (weighted) image with L-infinity norm > threshold.

    element_images: (batch, n, channels, height, width) -> (batch,) int64.
    """
    if not torch.is_tensor(element_images) or element_images.dim() != 5:
        shape = tuple(element_images.shape) if torch.is_tensor(element_images) else type(element_images).__name__
        raise ValueError(f"element_images must be a tensor (batch, n, channels, height, width), got {shape}")
    return (element_images.flatten(2).abs().amax(dim=2) > threshold).sum(dim=1)


def decomposition_success(element_images: torch.Tensor, counts: torch.Tensor, threshold: float = 0.1) -> torch.Tensor:
    """Table 1's criterion per image: the number of active elements equals the number of objects. (batch,) bool"""
    counts = torch.as_tensor(counts)
    active = active_elements(element_images, threshold)
    if counts.shape != active.shape:
        raise ValueError(f"counts must have shape (batch,) = {tuple(active.shape)}, got {tuple(counts.shape)}")
    return active == counts.to(active.device)


def success_by_count(success: torch.Tensor, counts: torch.Tensor, values=range(1, 6)) -> dict:
    """Percent of images decomposed, per number of objects: ``{"1": pct, ...}`` (NaN where no image has that count)."""
    success, counts = torch.as_tensor(success).bool(), torch.as_tensor(counts)
    if success.shape != counts.shape:
        raise ValueError(f"success {tuple(success.shape)} and counts {tuple(counts.shape)} must have the same shape")
    table = {}
    for k in values:
        chosen = counts == k
        table[str(k)] = float(100.0 * success[chosen].float().mean()) if chosen.any() else float("nan")
    return table


def adjusted_rand_index(true_labels: torch.Tensor, predicted_labels: torch.Tensor, valid: torch.Tensor | None = None,
                        ) -> torch.Tensor:
    """Adjusted Rand index per example between two labellings of the same points, vectorised over the batch.

    true_labels, predicted_labels: (batch, points) int64 in [0, K); valid: (batch, points) bool, the points that
    count (e.g. the foreground). Returns (batch,) float; 1.0 when both labellings are a single cluster (or the
    example has fewer than two valid points), as scikit-learn does; NaN never appears.
    """
    if true_labels.shape != predicted_labels.shape or true_labels.dim() != 2:
        raise ValueError(f"true_labels {tuple(true_labels.shape)} and predicted_labels "
                         f"{tuple(predicted_labels.shape)} must both have shape (batch, points)")
    if valid is None:
        valid = torch.ones_like(true_labels, dtype=torch.bool)
    weight = valid.double()
    true_onehot = nn_one_hot(true_labels) * weight[..., None]  # (batch, points, K_true)
    pred_onehot = nn_one_hot(predicted_labels).double()  # (batch, points, K_pred)
    table = torch.einsum("bpi,bpj->bij", true_onehot, pred_onehot)  # contingency table
    points = table.sum(dim=(1, 2))

    def pairs(x):
        return x * (x - 1) / 2

    index = pairs(table).sum(dim=(1, 2))
    true_pairs, pred_pairs = pairs(table.sum(2)).sum(1), pairs(table.sum(1)).sum(1)
    total = pairs(points)
    expected = true_pairs * pred_pairs / total.clamp(min=1)
    maximum = (true_pairs + pred_pairs) / 2
    denominator = maximum - expected
    degenerate = denominator.abs() < 1e-12
    ari = (index - expected) / torch.where(degenerate, torch.ones_like(denominator), denominator)
    return torch.where(degenerate, torch.ones_like(ari), ari).float()


def nn_one_hot(labels: torch.Tensor) -> torch.Tensor:
    """(batch, points) int64 -> (batch, points, max label + 1) float64 one-hot."""
    return torch.nn.functional.one_hot(labels.long(), int(labels.max()) + 1 if labels.numel() else 1).double()


def foreground_ari(element_images: torch.Tensor, object_masks: torch.Tensor) -> torch.Tensor:
    """Foreground ARI of the per-element segmentation against the ground-truth objects, per image.

    element_images: (batch, n, channels, H, W), each element's weighted decoded image; a pixel is assigned to the
    element with the largest value there (max over channels). object_masks: (batch, k, H, W) bool, one mask per
    ground-truth object (padding objects all False). Only pixels covered by exactly one object count (pixels of
    overlapping red/green circles are ambiguous). Returns (batch,) float; NaN for images with no such pixel.
    """
    if element_images.dim() != 5 or object_masks.dim() != 4 or element_images.shape[0] != object_masks.shape[0] \
            or element_images.shape[-2:] != object_masks.shape[-2:]:
        raise ValueError(f"element_images (batch, n, C, H, W) {tuple(element_images.shape)} and object_masks "
                         f"(batch, k, H, W) {tuple(object_masks.shape)} must share batch, H and W")
    predicted = element_images.amax(dim=2).flatten(2).argmax(dim=1)  # (batch, H*W)
    masks = object_masks.flatten(2).bool()  # (batch, k, H*W)
    covered = masks.sum(dim=1)
    true = masks.float().argmax(dim=1)  # (batch, H*W)
    valid = covered == 1
    ari = adjusted_rand_index(true, predicted, valid)
    return torch.where(valid.any(dim=1), ari, torch.full_like(ari, float("nan")))
