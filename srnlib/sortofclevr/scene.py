"""Sort-of-CLEVR scenes (Section 3.1 of the paper; Santoro et al. 2017): the object tables and their sampler.

Each image is 75x75 RGB on a white background with 6 objects, one per colour (red, green, blue, orange, grey, yellow,
the RGB values of the common generator), each a square or a circle of half-size 5 px, never overlapping.

    objects     float32 numpy array (n, 6, 4): rows [colour index, x, y, shape]; the generator puts colour k in row k.
                colour 0..5 = red, green, blue, orange, grey, yellow; shape 0 = square, 1 = circle.
                x is the column and y the row of the centre (y grows downwards), integers in [5, 69] when generated;
                rotated tables hold exact float coordinates.
                Non-overlapping: the 11x11 boxes of two objects never share a pixel (centres at Chebyshev
                distance >= 11), stricter than the common generator (Euclidean distance >= 10, where squares
                can overlap by a pixel or two).

Centres are sampled by rejection over the whole batch: every table with a clash is redrawn entirely, so a table is
uniform over the valid placements. Changing how tables are sampled changes the generated data: bump
``data.GENERATOR_VERSION`` so old caches are never reused.
"""
from __future__ import annotations

import numpy as np
import torch

from .._checks import check_count as _check_count

IMAGE_SIZE = 75
HALF_SIZE = 5  # an object covers centre +- 5 px: 11x11 px
N_OBJECTS = 6
COLOUR_NAMES = ("red", "green", "blue", "orange", "grey", "yellow")
COLOURS_RGB = ((255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 156, 0), (128, 128, 128), (255, 255, 0))
SHAPE_NAMES = ("square", "circle")
SQUARE, CIRCLE = 0, 1
MIN_CENTRE, MAX_CENTRE = HALF_SIZE, IMAGE_SIZE - 1 - HALF_SIZE  # 5 and 69: the whole object inside the image
MIN_SEPARATION = 2 * HALF_SIZE + 1  # Chebyshev distance of centres so that two 11x11 boxes share no pixel
_MAX_ROUNDS = 10_000


# ----------------------------------------------------------------------------------------------------------- checks
def _as_numpy(value, name: str) -> np.ndarray:
    if torch.is_tensor(value):
        return value.detach().cpu().numpy()
    if isinstance(value, (np.ndarray, list, tuple)):
        return np.asarray(value)
    raise TypeError(f"{name} must be a numpy array or torch.Tensor, got {type(value).__name__}")


def check_objects(objects, name: str = "objects") -> np.ndarray:
    """Validate object tables ``(..., 6, 4)`` and return them as float64 numpy (shape kept).

    Each table must hold every colour index 0..5 exactly once, shapes 0 or 1, and finite coordinates.
    """
    table = _as_numpy(objects, name)
    if not np.issubdtype(table.dtype, np.number):
        raise TypeError(f"{name} must be numeric, got dtype {table.dtype}")
    if table.ndim < 2 or table.shape[-2:] != (N_OBJECTS, 4):
        raise ValueError(f"{name} must have shape (..., {N_OBJECTS}, 4) [colour, x, y, shape], got {table.shape}")
    table = table.astype(np.float64)
    if not np.isfinite(table).all():
        raise ValueError(f"{name} must be finite")
    colours = table[..., 0]
    if not (np.sort(colours, axis=-1) == np.arange(N_OBJECTS)).all():
        raise ValueError(f"{name}: every table must hold each colour index 0..{N_OBJECTS - 1} exactly once")
    if not np.isin(table[..., 3], (SQUARE, CIRCLE)).all():
        raise ValueError(f"{name}: shape (column 3) must be {SQUARE} (square) or {CIRCLE} (circle)")
    return table


# ---------------------------------------------------------------------------------------------------------- objects
def _clashes(centres: np.ndarray) -> np.ndarray:
    """``(m, 6, 2)`` centres -> ``(m,)`` bool: some two objects' 11x11 boxes share a pixel."""
    first, second = np.triu_indices(N_OBJECTS, k=1)
    gap = np.abs(centres[:, first] - centres[:, second]).max(-1)  # Chebyshev distance, (m, 15)
    return (gap < MIN_SEPARATION).any(-1)


def sample_objects(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random object tables ``(n, 6, 4)`` float32, row k = colour k; integer centres in [5, 69], no overlap.

    Whole tables with a clash are redrawn (about 5 rounds on average), vectorised over the batch.
    """
    _check_count(n, "n")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    centres = np.empty((n, N_OBJECTS, 2), dtype=np.int64)
    pending = np.arange(n)
    for _ in range(_MAX_ROUNDS):
        if not len(pending):
            break
        draw = rng.integers(MIN_CENTRE, MAX_CENTRE + 1, size=(len(pending), N_OBJECTS, 2))
        bad = _clashes(draw)
        centres[pending[~bad]] = draw[~bad]
        pending = pending[bad]
    else:
        raise RuntimeError(f"could not place {N_OBJECTS} non-overlapping objects in {_MAX_ROUNDS} rounds")
    shapes = rng.integers(0, 2, size=(n, N_OBJECTS))
    colours = np.broadcast_to(np.arange(N_OBJECTS), (n, N_OBJECTS))
    return np.stack([colours, centres[..., 0], centres[..., 1], shapes], axis=-1).astype(np.float32)

