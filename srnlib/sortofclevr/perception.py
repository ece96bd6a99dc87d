"""Does the RN's conv stem see colours? A linear probe of the 25 cells' features.

Every Sort-of-CLEVR question names an object by its colour, so an RN can only answer "is the red object on the
left?" if the cell holding the red object says "red". ``cell_colour_probe`` measures that directly: it labels each
of the 25 cells (15 x 15 px) with the colour of the object whose centre falls in it (or "empty"), fits a linear
softmax classifier from the cells' features on 70 % of the cells and reports its accuracy on the other 30 %, on
the occupied cells (chance: 1 in 6). ``cell_rgb_features`` gives the same probe's baseline: each cell's mean
colour, which already tells the six colours apart, so a stem whose features do worse has thrown colour away.

    features (N, 25, F), object tables (N, 6, 4) -> accuracy on occupied held-out cells, in [0, 1]
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .data import IMAGE_SIZE, N_OBJECTS, SortOfClevrDataset, check_objects, labels_to_images
from .models import CHANNELS, GRID, cell_mean_rgb

EMPTY = N_OBJECTS  # the label of a cell that holds no object's centre
CELL_PIXELS = IMAGE_SIZE / GRID  # 15 px


def cell_colours(objects) -> torch.Tensor:
    """Object tables (N, 6, 4) [colour, x, y, shape] -> (N, 25) the colour whose centre lies in each row-major
    15 x 15 px cell, ``EMPTY`` (6) where none does. Centres are at least 11 px apart, so a cell rarely holds two;
    then the later object in the table wins."""
    table = check_objects(objects)
    if table.ndim != 3:
        raise ValueError(f"objects must have shape (n, {N_OBJECTS}, 4), got {table.shape}")
    n = table.shape[0]
    column = np.clip((table[..., 1] / CELL_PIXELS).astype(int), 0, GRID - 1)
    row = np.clip((table[..., 2] / CELL_PIXELS).astype(int), 0, GRID - 1)
    labels = np.full((n, GRID * GRID), EMPTY, dtype=np.int64)
    for k in range(table.shape[1]):
        labels[np.arange(n), row[:, k] * GRID + column[:, k]] = table[:, k, 0].astype(np.int64)
    return torch.from_numpy(labels)


def cell_rgb_features(images: torch.Tensor) -> torch.Tensor:
    """The probe's baseline features: each cell's mean colour. images (N, 3, 75, 75) -> (N, 25, 3)."""
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"images must have shape (n, 3, {IMAGE_SIZE}, {IMAGE_SIZE}), got {tuple(images.shape)}")
    return cell_mean_rgb(images)


def cell_colour_probe(features: torch.Tensor, objects, steps: int = 500, seed: int = 0) -> float:
    """Held-out accuracy, on occupied cells, of a linear classifier from each cell's features to its colour.

    features (N, 25, F) (e.g. ``model.objects(images)[0]`` without its two coordinate columns), objects (N, 6, 4).
    The first 70 % of the N images train the probe (standardised features, Adam, ``steps`` full-batch steps), the
    rest test it."""
    labels = cell_colours(objects)
    if features.dim() != 3 or tuple(features.shape[:2]) != tuple(labels.shape):
        raise ValueError(f"features must have shape ({labels.shape[0]}, {GRID * GRID}, F), got "
                         f"{tuple(features.shape)}")
    n = features.shape[0]
    split = int(0.7 * n)
    if split < 1 or split >= n:
        raise ValueError(f"the probe needs at least 2 images (70 % to fit, 30 % to test), got {n}")
    x = features.detach().float()
    train_x, train_y = x[:split].reshape(-1, x.shape[-1]), labels[:split].reshape(-1)
    test_x, test_y = x[split:].reshape(-1, x.shape[-1]), labels[split:].reshape(-1)
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    generator = torch.Generator().manual_seed(seed)
    probe = nn.Linear(x.shape[-1], N_OBJECTS + 1)
    with torch.no_grad():
        probe.weight.copy_(0.01 * torch.randn(probe.weight.shape, generator=generator))
        probe.bias.zero_()
    optimizer = torch.optim.Adam(probe.parameters(), lr=0.05)
    with torch.enable_grad():
        for _ in range(steps):
            loss = nn.functional.cross_entropy(probe((train_x - mean) / std), train_y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        predicted = probe((test_x - mean) / std).argmax(dim=1)
    occupied = test_y != EMPTY
    if not occupied.any():
        raise ValueError("no occupied cell among the held-out images")
    return float((predicted[occupied] == test_y[occupied]).float().mean())


@torch.no_grad()
def stem_cells(model: nn.Module, dataset: SortOfClevrDataset, images: int = 1500) -> torch.Tensor:
    """The conv stem's features of the 25 cells (``model.objects``, in eval mode, without the coordinate columns)
    for the first ``images`` images of ``dataset``: (min(images, len), 25, 24). Recompute the model's batch-norm
    statistics first, as evaluation does."""
    if not isinstance(dataset, SortOfClevrDataset):
        raise TypeError(f"dataset must be a SortOfClevrDataset, got {type(dataset).__name__}")
    count = min(images, dataset.labels.shape[0])
    model.eval()
    device = next(model.parameters()).device
    cells = torch.cat([model.objects(labels_to_images(dataset.labels[start:min(start + 250, count)]).to(device))[0]
                       .cpu() for start in range(0, count, 250)])
    return cells[..., :CHANNELS]


def stem_colour_accuracy(model: nn.Module, dataset: SortOfClevrDataset, images: int = 1500) -> float:
    """``cell_colour_probe`` of a trained RN's conv stem (``stem_cells``) on the first ``images`` images of
    ``dataset``."""
    cells = stem_cells(model, dataset, images)
    return cell_colour_probe(cells, dataset.objects[:len(cells)])


def neighbourhood_features(features: torch.Tensor) -> torch.Tensor:
    """Each cell's features with its 8 neighbours' (zeros beyond the grid): (N, 25, F) -> (N, 25, 9F). Probing
    these asks whether a cell's colour is still in the stem's output but spread over the cells around it."""
    if features.dim() != 3 or features.shape[1] != GRID * GRID:
        raise ValueError(f"features must have shape (n, {GRID * GRID}, F), got {tuple(features.shape)}")
    grid = features.reshape(features.shape[0], GRID, GRID, -1).permute(0, 3, 1, 2)
    return nn.functional.unfold(grid, 3, padding=1).transpose(1, 2)
