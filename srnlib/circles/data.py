"""The Circles Dataset (Section 2.2 of the paper): a vectorised, seeded generator and a cached Dataset.

Every image is 64x64 RGB in [0, 1] with 0 to 10 circles, red or green, of integer radius 1 to 11 pixels, each fully
inside the image; circles of the same colour never overlap (a red and a green circle may, giving yellow pixels).

Shapes and conventions:
    images   float32 tensor (n, 3, 64, 64), values 0 or 1 (channels R, G, B; B is always 0)
    objects  list of n float32 arrays (k_i, 4): columns [x, y, r, colour], colour 0 = red, 1 = green
    a pixel at row i, column j belongs to the circle (x, y, r) when (j - x)^2 + (i - y)^2 <= r^2,
    and "fully inside" means r <= x <= 63 - r and r <= y <= 63 - r.

The generator samples all circle parameters at once as a padded (n, max_circles, 4) table and resamples, in
rounds, every circle that overlaps an earlier circle of its colour (rejection sampling over the whole batch, no
per-image loop). Rendering broadcasts pixel coordinates against circle parameters (no loop over pixels).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .._checks import check_count as _check_count
from ..cache import key_hash, load_arrays, save_arrays
from ..paths import data_dir

IMAGE_SIZE = 64
MIN_RADIUS, MAX_RADIUS = 1, 11
RED, GREEN = 0, 1
GENERATOR_VERSION = 1  # bump when the sampling changes, so old caches are never reused
_MAX_ROUNDS = 100_000


def sample_objects(n: int, seed: int = 0, min_circles: int = 0, max_circles: int = 10):
    """Circle parameters of ``n`` images: ``(table (n, max_circles, 4) float32, counts (n,) int64)``.

    Rows ``table[i, :counts[i]]`` are the circles of image ``i`` as ``[x, y, r, colour]``; the padding rows are 0.
    """
    n, seed = _check_count(n, "n"), _check_count(seed, "seed")
    min_circles, max_circles = _check_count(min_circles, "min_circles"), _check_count(max_circles, "max_circles")
    if min_circles > max_circles:
        raise ValueError(f"min_circles ({min_circles}) must not exceed max_circles ({max_circles})")
    rng = np.random.default_rng(seed)
    counts = rng.integers(min_circles, max_circles + 1, size=n)
    valid = np.arange(max_circles)[None, :] < counts[:, None]  # (n, M)
    table = np.zeros((n, max_circles, 4), dtype=np.float64)

    def draw(where: np.ndarray) -> None:
        k = int(where.sum())
        radius = rng.integers(MIN_RADIUS, MAX_RADIUS + 1, size=k).astype(np.float64)
        span = (IMAGE_SIZE - 1) - 2 * radius
        table[where] = np.stack([radius + rng.random(k) * span, radius + rng.random(k) * span, radius,
                                 rng.integers(0, 2, size=k).astype(np.float64)], axis=1)

    draw(valid)
    earlier = np.tri(max_circles, k=-1, dtype=bool)[None]  # earlier[0, a, b]: b comes before a
    for _ in range(_MAX_ROUNDS):
        clash = overlapping_pairs(table, valid) & earlier
        redo = clash.any(axis=2)  # (n, M): circles that overlap an earlier circle of their colour
        if not redo.any():
            break
        draw(redo)
    else:
        raise RuntimeError(f"could not place non-overlapping circles in {_MAX_ROUNDS} rounds")
    table[~valid] = 0.0
    return table.astype(np.float32), counts.astype(np.int64)


def overlapping_pairs(table: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``(n, M, 4)`` circles and ``(n, M)`` validity -> ``(n, M, M)`` bool: distinct, valid, same colour, overlapping.

    Two disks overlap when the distance of their centres is below the sum of their radii.
    """
    x, y, r, colour = (table[..., i] for i in range(4))
    distance = np.hypot(x[:, :, None] - x[:, None, :], y[:, :, None] - y[:, None, :])
    same_colour = colour[:, :, None] == colour[:, None, :]
    both_valid = valid[:, :, None] & valid[:, None, :]
    distinct = ~np.eye(table.shape[1], dtype=bool)[None]
    return both_valid & distinct & same_colour & (distance < r[:, :, None] + r[:, None, :])


def circle_masks(table: torch.Tensor | np.ndarray, size: int = IMAGE_SIZE) -> torch.Tensor:
    """``(n, M, 4)`` circles -> ``(n, M, size, size)`` bool masks; rows with radius 0 give empty masks."""
    table = torch.as_tensor(np.asarray(table, dtype=np.float32) if not torch.is_tensor(table) else table,
                            dtype=torch.float32)
    if table.dim() != 3 or table.shape[-1] != 4:
        raise ValueError(f"table must have shape (n, M, 4), got {tuple(table.shape)}")
    coordinate = torch.arange(size, dtype=torch.float32)
    dx2 = (coordinate.view(1, 1, 1, size) - table[..., 0, None, None]).square()  # (n, M, 1, size): columns
    dy2 = (coordinate.view(1, 1, size, 1) - table[..., 1, None, None]).square()  # (n, M, size, 1): rows
    radius = table[..., 2, None, None]
    return (dx2 + dy2 <= radius.square()) & (radius > 0)


def render_table(table: torch.Tensor | np.ndarray, size: int = IMAGE_SIZE) -> torch.Tensor:
    """Render padded circle tables ``(n, M, 4)`` (padding rows have radius 0) to images ``(n, 3, size, size)``.

    Each circle is rasterised on its own (2 * 11 + 1)^2 patch around its centre (broadcasting, no loop over
    pixels or circles) and the patches are added into the colour channel of their image; circles of one colour
    never overlap, and the result is clamped to 1 in case hand-placed ones do.
    """
    table = torch.as_tensor(np.asarray(table, dtype=np.float32)) if not torch.is_tensor(table) else table.float()
    if table.dim() != 3 or table.shape[-1] != 4:
        raise ValueError(f"table must have shape (n, M, 4), got {tuple(table.shape)}")
    n = table.shape[0]
    images = torch.zeros(n * 3 * size * size)
    image_index, slot = torch.nonzero(table[..., 2] > 0, as_tuple=True)
    circles = table[image_index, slot]  # (K, 4)
    if len(circles):
        half = int(torch.ceil(circles[:, 2].max()).item()) + 1
        offset = torch.arange(-half, half + 1, dtype=torch.float32)  # (P,)
        cols = torch.floor(circles[:, 0:1]) + offset  # (K, P)
        rows = torch.floor(circles[:, 1:2]) + offset  # (K, P)
        inside = ((cols - circles[:, 0:1]).square()[:, None, :] + (rows - circles[:, 1:2]).square()[:, :, None]
                  <= circles[:, 2, None, None].square())  # (K, P rows, P cols)
        in_image = ((cols >= 0) & (cols < size))[:, None, :] & ((rows >= 0) & (rows < size))[:, :, None]
        circle, row, col = torch.nonzero(inside & in_image, as_tuple=True)  # every covered pixel once
        base = (image_index * 3 + circles[:, 3].long()) * size * size  # (K,) start of each circle's channel
        flat = base[circle] + rows[circle, row].long() * size + cols[circle, col].long()
        images.index_put_((flat,), torch.ones(len(flat)), accumulate=True)
    return images.view(n, 3, size, size).clamp_(max=1.0)


def pad_objects(objects: list, max_circles: int | None = None) -> np.ndarray:
    """A list of ``(k_i, 4)`` object arrays -> a padded ``(n, M, 4)`` table (padding rows all 0)."""
    if not isinstance(objects, (list, tuple)):
        raise TypeError(f"objects must be a list of (k, 4) arrays, got {type(objects).__name__}")
    arrays = [np.asarray(o, dtype=np.float32).reshape(-1, 4) for o in objects]
    width = max([len(a) for a in arrays] + [0, max_circles or 0])
    table = np.zeros((len(arrays), max(width, 1), 4), dtype=np.float32)
    counts = np.array([len(a) for a in arrays], dtype=np.int64)
    rows = np.arange(table.shape[1])[None, :] < counts[:, None]
    if counts.sum():
        table[rows] = np.concatenate(arrays)
    return table


def render(objects: list, size: int = IMAGE_SIZE) -> torch.Tensor:
    """Render explicit object tables (a list of ``(k_i, 4)`` arrays ``[x, y, r, colour]``) -> ``(n, 3, size, size)``.

    Used for the interpolation lessons, where circles are placed by hand (they need not avoid each other).
    """
    return render_table(pad_objects(objects), size)


def unpad(table: np.ndarray, counts: np.ndarray) -> list:
    """Padded ``(n, M, 4)`` table and ``(n,)`` counts -> list of ``(k_i, 4)`` arrays."""
    return [table[i, :counts[i]].copy() for i in range(len(counts))]


def generate(n: int, seed: int = 0, min_circles: int = 0, max_circles: int = 10):
    """``n`` Circles images: ``(images float32 (n, 3, 64, 64) in {0, 1}, objects list of (k, 4) float32 arrays)``.

    The same arguments always give the same data; a different seed gives different data.
    """
    table, counts = sample_objects(n, seed, min_circles, max_circles)
    return render_table(table), unpad(table, counts)


# ----------------------------------------------------------------------------------------------------------- cache
def _cache_key(n: int, seed: int, min_circles: int, max_circles: int) -> dict:
    return {"dataset": "circles", "version": GENERATOR_VERSION, "n": n, "seed": seed,
            "min_circles": min_circles, "max_circles": max_circles, "size": IMAGE_SIZE}


def cache_path(n: int, seed: int, min_circles: int, max_circles: int, folder: str | os.PathLike | None = None) -> Path:
    """Where the cache of these generation parameters lives: ``data/circles/<hash of the parameters>.npz``."""
    name = key_hash(_cache_key(n, seed, min_circles, max_circles))
    folder = Path(folder) if folder is not None else data_dir() / "circles"
    return folder / f"circles_{n}_seed{seed}_{name}.npz"


def _expected_shapes(key: dict) -> dict:
    n = key["n"]
    return {"table": (n, key["max_circles"], 4), "counts": (n,), "packed": (n, 3 * IMAGE_SIZE * IMAGE_SIZE // 8)}


class CirclesDataset(Dataset):
    """``n`` Circles images, generated once and cached on disk (bit-packed) under ``data/circles/``.

    ``dataset[i]`` is ``(image float32 (3, 64, 64), count int64 scalar)``; ``dataset.objects[i]`` is the
    ``(k, 4)`` object table and ``dataset.images`` the uint8 tensor ``(n, 3, 64, 64)``. A cache whose stored key
    (the generation parameters) or checksum does not match is regenerated and overwritten, never used.
    """

    def __init__(self, n: int, seed: int = 0, min_circles: int = 0, max_circles: int = 10, cache: bool = True,
                 cache_dir: str | os.PathLike | None = None):
        n, seed = _check_count(n, "n", allow_zero=False), _check_count(seed, "seed")  # NumPy ints become ints
        min_circles, max_circles = _check_count(min_circles, "min_circles"), _check_count(max_circles, "max_circles")
        key = _cache_key(n, seed, min_circles, max_circles)
        self.path = cache_path(n, seed, min_circles, max_circles, cache_dir) if cache else None
        stored = load_arrays(self.path, key, _expected_shapes(key), "circles") if cache else None
        if stored is None:
            table, counts = sample_objects(n, seed, min_circles, max_circles)
            images = render_table(table).to(torch.uint8)
            packed = np.packbits(images.numpy().reshape(n, -1), axis=1)
            if cache:
                save_arrays(self.path, key, {"table": table, "counts": np.asarray(counts), "packed": packed})
        else:
            table, counts, packed = stored["table"], stored["counts"], stored["packed"]
            bits = np.unpackbits(packed, axis=1, count=3 * IMAGE_SIZE * IMAGE_SIZE)
            images = torch.from_numpy(bits.reshape(n, 3, IMAGE_SIZE, IMAGE_SIZE))
        self.table = table  # (n, max_circles, 4)
        self.counts = torch.as_tensor(counts, dtype=torch.long)  # (n,)
        self.images = images  # (n, 3, 64, 64) uint8
        self.objects = unpad(table, counts)

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index):
        return self.images[index].float(), self.counts[index]
