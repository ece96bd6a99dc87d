"""Interpolation and t-SNE helpers behind notebook 02 (Section 2.2, Figure 3): how the responsible element moves
when a circle moves, and how smoothly an element's latent follows the circle's position.

Shapes: object tables (B, k, 4) as [x, y, r, colour]; images (B, 3, 64, 64); element images (B, n, 3, 64, 64);
sets (B, n, d); responsibility (B, k) element index per object. Models are trained by ``experiment.load_or_train``.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.manifold import TSNE

from . import data
from .experiment import decompose
from .models import BaselineAutoencoder


# ------------------------------------------------------------------------------------------------- interpolation
def moving_circle(positions: int, radius: float = 6.0, y: float = 32.0, colour: int = data.RED) -> np.ndarray:
    """One circle moving left to right: object tables ``(positions, 1, 4)``."""
    x = np.linspace(radius, data.IMAGE_SIZE - 1 - radius, positions)
    table = np.zeros((positions, 1, 4), dtype=np.float32)
    table[:, 0] = np.stack([x, np.full_like(x, y), np.full_like(x, radius), np.full_like(x, colour)], axis=1)
    return table


def crossing_circles(positions: int, radius: float = 6.0) -> np.ndarray:
    """A red circle moving right and a green one moving left on the same row: tables ``(positions, 2, 4)``."""
    red = moving_circle(positions, radius, colour=data.RED)
    green = moving_circle(positions, radius, colour=data.GREEN)[::-1]
    return np.concatenate([red, green], axis=1)


def responsibility(element_images: torch.Tensor, tables: np.ndarray) -> torch.Tensor:
    """Which element draws each object: for every object, the element with the largest summed intensity inside
    the object's mask. element_images (B, n, 3, H, W), tables (B, k, 4) -> (B, k) int64."""
    masks = data.circle_masks(tables, element_images.shape[-1]).float()  # (B, k, H, W)
    intensity = element_images.amax(dim=2)  # (B, n, H, W)
    inside = torch.einsum("bkhw,bnhw->bkn", masks, intensity)
    return inside.argmax(dim=2)


def interpolate(model: BaselineAutoencoder, tables: np.ndarray) -> dict:
    """Render ``tables`` (B, k, 4), decompose them and find the responsible elements.

    Returns ``{"images" (B, 3, 64, 64), "decomposition": Decomposition, "responsible" (B, k)}``.
    """
    images = data.render_table(tables)
    out = decompose(model, images)
    return {"images": images, "decomposition": out, "responsible": responsibility(out.element_images, tables)}


def responsibility_switches(responsible: torch.Tensor) -> int:
    """How often the responsible element changes between consecutive positions, summed over objects. (B, k) -> int"""
    return int((responsible[1:] != responsible[:-1]).sum())


# ------------------------------------------------------------------------------------------------------ t-SNE
def single_circle_grid(grid: int, radius: float = 6.0) -> np.ndarray:
    """Single red and single green circles on a ``grid x grid`` lattice of centres: tables ``(2 * grid^2, 1, 4)``
    (all red positions first, then all green), rows ordered by y then x."""
    axis = np.linspace(radius, data.IMAGE_SIZE - 1 - radius, grid)
    y, x = np.meshgrid(axis, axis, indexing="ij")
    centres = np.stack([x.ravel(), y.ravel()], axis=1)  # (grid^2, 2)
    tables = []
    for colour in (data.RED, data.GREEN):
        rows = np.concatenate([centres, np.full((len(centres), 1), radius), np.full((len(centres), 1), colour)], 1)
        tables.append(rows)
    return np.concatenate(tables).astype(np.float32)[:, None, :]


def responsible_elements(model: BaselineAutoencoder, tables: np.ndarray) -> torch.Tensor:
    """The decoded set's element responsible for the single circle of each table: (B, 1, 4) -> (B, d)."""
    result = interpolate(model, tables)
    chosen = result["responsible"][:, 0]
    return result["decomposition"].set[torch.arange(len(chosen)), chosen]


def latent_smoothness(latents: torch.Tensor, tables: np.ndarray) -> float:
    """How smoothly the latents follow the circles' positions: Spearman correlation between pairwise latent
    distances and pairwise centre distances, per colour, averaged over the colours. latents (B, d), tables (B, 1, 4).
    1 = nearby circles always have nearby latents; about 0 = no relation."""
    latents = np.asarray(latents, dtype=np.float64)
    colours = tables[:, 0, 3]
    correlations = []
    for colour in np.unique(colours):
        chosen = colours == colour
        latent_distance = _pairwise(latents[chosen])
        position_distance = _pairwise(tables[chosen, 0, :2].astype(np.float64))
        upper = np.triu_indices(int(chosen.sum()), k=1)
        correlations.append(spearmanr(latent_distance[upper], position_distance[upper]).statistic)
    return float(np.mean(correlations))


def _pairwise(points: np.ndarray) -> np.ndarray:
    return np.sqrt(np.square(points[:, None, :] - points[None, :, :]).sum(-1))


def tsne(latents: torch.Tensor, seed: int = 0) -> np.ndarray:
    """2-D t-SNE (scikit-learn) of latents (B, d) -> (B, 2), seeded."""
    latents = np.asarray(latents, dtype=np.float64)
    perplexity = float(min(30.0, max(2.0, (len(latents) - 1) / 3)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(latents)
