"""Sort-of-CLEVR's robustness tasks: ``rotate`` / ``translate`` / ``shift_inside`` move object tables, and
``sample_easy`` draws "easy" furthest-object questions (furthest object at least twice as far as the second
furthest).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import check_count as _check_count
from .questions import answer, encode_questions
from .scene import MAX_CENTRE, MIN_CENTRE, N_OBJECTS, _as_numpy, check_objects, sample_objects

_MAX_EASY_BATCHES = 1_000
_ROUNDING_MARGIN = 1e-6


# ----------------------------------------------------------------------------------------- robustness: transformations
def _table_centroid(table: np.ndarray) -> np.ndarray:
    return table[..., 1:3].mean(axis=-2)


def rotate(objects, angles, centre=None) -> np.ndarray:
    """Rotate object tables' centres (not the shapes, which stay axis-aligned) about ``centre`` by ``angles``.

    objects ``(..., 6, 4)``; angles in radians, broadcastable to the batch shape ``objects.shape[:-2]`` (e.g. one
    table ``(6, 4)`` and angles ``(720,)`` give ``(720, 6, 4)``); centre ``(..., 2)`` as (x, y), broadcastable the
    same way, default each table's centroid (the mean of its object centres). In pixel coordinates (y down):
    x' = cx + cos(a) (x - cx) - sin(a) (y - cy), y' = cy + sin(a) (x - cx) + cos(a) (y - cy), i.e. a positive
    angle turns clockwise on screen. Returns float64 tables with exact (unrounded) coordinates; colours and shapes
    are kept. Pairwise distances are unchanged; objects may leave the image (``inside_image``): ``shift_inside``
    moves a rotated table back in, which always works when ``fits_every_rotation`` holds.
    """
    table = check_objects(objects)
    angles = _as_numpy(angles, "angles") if not np.isscalar(angles) else np.asarray(angles)
    if not np.issubdtype(angles.dtype, np.number) or not np.isfinite(angles).all():
        raise ValueError("angles must be finite numbers (radians)")
    angles = angles.astype(np.float64)
    centre = _table_centroid(table) if centre is None else _as_numpy(centre, "centre").astype(np.float64)
    if centre.ndim < 1 or centre.shape[-1] != 2:
        raise ValueError(f"centre must have shape (..., 2) as (x, y), got {centre.shape}")
    try:
        batch = np.broadcast_shapes(table.shape[:-2], angles.shape, centre.shape[:-1])
    except ValueError:
        raise ValueError(f"objects {table.shape}, angles {angles.shape} and centre {centre.shape} do not broadcast "
                         "(angles must broadcast to the batch shape objects.shape[:-2])") from None
    table = np.broadcast_to(table, batch + table.shape[-2:]).copy()
    cos, sin = np.cos(angles)[..., None], np.sin(angles)[..., None]  # (..., 1) against the 6 objects
    cx, cy = centre[..., 0:1], centre[..., 1:2]
    dx, dy = table[..., 1] - cx, table[..., 2] - cy
    table[..., 1] = cx + cos * dx - sin * dy
    table[..., 2] = cy + sin * dx + cos * dy
    return table


def translate(objects, offsets) -> np.ndarray:
    """Shift object tables ``(..., 6, 4)`` by ``offsets`` ``(..., 2)`` as (dx, dy), broadcast against the batch
    shape (one table and offsets ``(200, 2)`` give ``(200, 6, 4)``). Returns float64 tables."""
    table = check_objects(objects)
    offsets = _as_numpy(offsets, "offsets").astype(np.float64)
    if offsets.ndim < 1 or offsets.shape[-1] != 2:
        raise ValueError(f"offsets must have shape (..., 2) as (dx, dy), got {offsets.shape}")
    try:
        batch = np.broadcast_shapes(table.shape[:-2], offsets.shape[:-1])
    except ValueError:
        raise ValueError(f"objects {table.shape} and offsets {offsets.shape} do not broadcast") from None
    table = np.broadcast_to(table, batch + table.shape[-2:]).copy()
    table[..., 1:3] += offsets[..., None, :]
    return table


def inside_image(objects) -> np.ndarray:
    """Object tables ``(..., 6, 4)`` -> bool ``(...)``: every object wholly inside the image (centres in [5, 69],
    give or take 1e-6 px of floating-point rounding, which drawing with rounded centres absorbs)."""
    centres = check_objects(objects)[..., 1:3]
    return ((centres >= MIN_CENTRE - _ROUNDING_MARGIN) & (centres <= MAX_CENTRE + _ROUNDING_MARGIN)).all(axis=(-1, -2))


def shift_inside(objects) -> np.ndarray:
    """Translate each table ``(..., 6, 4)`` by the smallest shift (per axis) that puts every centre in [5, 69], so
    every object is wholly inside the image. Distances, hence answers, are unchanged. A table wider than 64 px
    along an axis cannot fit; it is centred on that axis and ``inside_image`` stays False for it. float64 tables.
    """
    table = check_objects(objects).copy()
    low, high = table[..., 1:3].min(axis=-2), table[..., 1:3].max(axis=-2)  # (..., 2)
    shift = np.maximum(MIN_CENTRE - low, 0.0) - np.maximum(high - MAX_CENTRE, 0.0)
    too_wide = high - low > MAX_CENTRE - MIN_CENTRE
    shift = np.where(too_wide, (MIN_CENTRE + MAX_CENTRE) / 2 - (low + high) / 2, shift)
    table[..., 1:3] += shift[..., None, :]
    return table


def fits_every_rotation(objects) -> np.ndarray:
    """Object tables ``(..., 6, 4)`` -> bool ``(...)``: every rotation of the table fits wholly inside the image
    after ``shift_inside``, i.e. the largest distance between two centres is at most 64 px (the span of [5, 69]),
    less 1e-6 px so that floating-point rounding in ``rotate`` cannot push a span of exactly 64 px over.

    Rotated tables keep their Euclidean distances (>= 11 px when generated) but their axis-aligned shapes may touch
    or overlap at some angles; ``render`` then draws the higher colour index on top.
    """
    table = check_objects(objects)
    first, second = np.triu_indices(N_OBJECTS, k=1)
    span = np.hypot(table[..., first, 1] - table[..., second, 1], table[..., first, 2] - table[..., second, 2])
    return span.max(-1) <= MAX_CENTRE - MIN_CENTRE - _ROUNDING_MARGIN


# ----------------------------------------------------------------------------------------- robustness: easy questions
def furthest_ratio(objects) -> np.ndarray:
    """Object tables ``(..., 6, 4)`` -> ``(..., 6)``: for each colour queried (column k = colour k), the distance to
    the furthest other object divided by the distance to the second furthest (inf if the latter is 0)."""
    table = check_objects(objects)
    table = np.take_along_axis(table, np.argsort(table[..., 0], axis=-1)[..., None], axis=-2)
    x, y = table[..., 1], table[..., 2]
    distance = np.sort(np.hypot(x[..., :, None] - x[..., None, :], y[..., :, None] - y[..., None, :]), axis=-1)
    furthest, second = distance[..., -1], distance[..., -2]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(second > 0, furthest / np.where(second > 0, second, 1.0), np.inf)


def is_easy(objects, colours, ratio: float = 2.0) -> np.ndarray:
    """Object tables ``(n, 6, 4)`` and queried colours ``(n,)`` -> bool ``(n,)``: the furthest object from the
    queried one is at least ``ratio`` times as far as the second furthest."""
    colours = _as_numpy(colours, "colours").astype(np.int64)
    ratios = furthest_ratio(objects)
    if ratios.ndim != 2 or colours.shape != ratios.shape[:1]:
        raise ValueError(f"colours must have shape (n,) for objects (n, 6, 4), got {colours.shape}")
    return np.take_along_axis(ratios, colours[:, None], axis=1)[:, 0] >= ratio


@dataclass
class EasyQuestions:
    """"Easy" furthest-object questions for the robustness tasks, one per table."""

    objects: np.ndarray    # (n, 6, 4) float32 tables
    colours: np.ndarray    # (n,) int64 queried colour
    questions: np.ndarray  # (n, 11) float32 one-hot "shape of the object furthest from <colour>?"
    answers: np.ndarray    # (n,) int64: 2 (square) or 3 (circle)

    def __len__(self) -> int:
        return len(self.objects)


def sample_easy(n: int, seed: int = 0, ratio: float = 2.0, rotatable: bool = True,
                batch: int = 4096) -> EasyQuestions:
    """``n`` new tables, each with a furthest-object question that is "easy": the furthest object is at least
    ``ratio`` times as far from the queried object as the second furthest (the "Dataset" robustness task).

    Tables come from the ordinary generator (``sample_objects``) and are kept when some colour qualifies; the
    queried colour is drawn uniformly among the qualifying ones. With ``rotatable`` a table must also satisfy
    ``fits_every_rotation`` (about 40 % of easy tables do), so that any rotation followed by ``shift_inside`` is
    wholly inside the image. The answer is the same at every rotation and shift (they keep distances). About
    1 % of generated tables qualify with the defaults, so 1,000 easy tables take roughly a second. Seeded and
    deterministic.
    """
    _check_count(n, "n")
    _check_count(seed, "seed")
    _check_count(batch, "batch", allow_zero=False)
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not ratio >= 1:
        raise ValueError(f"ratio must be a number >= 1, got {ratio!r}")
    if not isinstance(rotatable, bool):
        raise TypeError(f"rotatable must be a bool, got {type(rotatable).__name__}")
    rng = np.random.default_rng([seed, 0xEA5E])
    kept_objects, kept_colours, total = [], [], 0
    for _ in range(_MAX_EASY_BATCHES):
        if total >= n:
            break
        tables = sample_objects(batch, rng)
        qualifies = furthest_ratio(tables) >= ratio  # (batch, 6)
        if rotatable:
            qualifies &= fits_every_rotation(tables)[:, None]
        keep = qualifies.any(axis=1)
        # a uniform choice among the qualifying colours: the largest random key among them
        keys = np.where(qualifies, rng.random(qualifies.shape), -1.0)
        kept_objects.append(tables[keep])
        kept_colours.append(keys.argmax(axis=1)[keep])
        total += int(keep.sum())
    else:
        raise RuntimeError(f"found only {total} of {n} easy tables in {_MAX_EASY_BATCHES} batches of "
                           f"{batch}; lower ratio")
    objects = np.concatenate(kept_objects)[:n] if kept_objects else np.zeros((0, N_OBJECTS, 4), np.float32)
    colours = np.concatenate(kept_colours)[:n].astype(np.int64) if kept_colours else np.zeros(0, np.int64)
    questions = encode_questions(colours, np.ones_like(colours), np.full_like(colours, 1))
    answers = answer(objects, questions) if n else np.zeros(0, np.int64)
    return EasyQuestions(objects, colours, questions, answers)


