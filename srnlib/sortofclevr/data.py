"""Sort-of-CLEVR (Section 3.1 of the paper; Santoro et al. 2017): a seeded, vectorised generator and a cached Dataset.

Each image is 75x75 RGB on a white background with 6 objects, one per colour (red, green, blue, orange, grey, yellow,
the RGB values of the common generator), each a square or a circle of half-size 5 px, never overlapping. Every
image comes with questions about one coloured object, as in the common Santoro-style generator.

Shapes and conventions (n images, q questions per image):
    objects     float32 numpy array (n, 6, 4): rows [colour index, x, y, shape]; the generator puts colour k in row k.
                colour 0..5 = red, green, blue, orange, grey, yellow; shape 0 = square, 1 = circle.
                x is the column and y the row of the centre (y grows downwards), integers in [5, 69] when generated;
                rotated tables hold exact float coordinates.
    images      float32 torch tensor (n, 3, 75, 75) in [0, 1] (colours / 255); ``render_labels`` gives the uint8
                label map (n, 75, 75) with 0 = background and 1 + colour index on an object's pixels.
                A square covers the pixels with |column - x| <= 5 and |row - y| <= 5 (11x11 px); a circle those with
                (column - x)^2 + (row - y)^2 <= 25. Centres are rounded to the nearest pixel before drawing, so a
                rotated object looks exactly like a training object.
                Non-overlapping: the 11x11 boxes of two objects never share a pixel (centres at Chebyshev
                distance >= 11), stricter than the common generator (Euclidean distance >= 10, where squares
                can overlap by a pixel or two).
    questions   float32 (n, q, 11) one-hot: [colour (6) | type (2): non-relational, relational | subtype (3)].
                Non-relational subtypes: 0 shape of the object, 1 is it on the left (x < 37.5), 2 is it on the top
                (y < 37.5). Relational subtypes: 0 shape of the closest object, 1 shape of the furthest object,
                2 how many objects (the queried one included) have its shape.
    answers     int64 (n, q), class indices into ANSWER_NAMES = (yes, no, square, circle, 1, 2, 3, 4, 5, 6).
    categories  int64 (n, q), 3 * relational + subtype, indices into CATEGORY_NAMES
                = (shape, horizontal, vertical, closest, furthest, count); ``category_masks`` adds
                "non_relational" (0..2) and "relational" (3..5).

Centres are sampled by rejection over the whole batch: every table with a clash is redrawn entirely, so a table is
uniform over the valid placements. Answers are computed from object tables by ``answer`` only; rendering is
``render``. ``rotate`` / ``translate`` / ``shift_inside`` move object tables for the robustness tasks and
``sample_easy`` draws "easy" furthest-object questions (furthest object at least twice as far as the second
furthest).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .._checks import check_count as _check_count
from ..cache import key_hash, load_arrays, save_arrays
from ..paths import data_dir

IMAGE_SIZE = 75
HALF_SIZE = 5  # an object covers centre +- 5 px: 11x11 px
N_OBJECTS = 6
COLOUR_NAMES = ("red", "green", "blue", "orange", "grey", "yellow")
COLOURS_RGB = ((255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 156, 0), (128, 128, 128), (255, 255, 0))
BACKGROUND_RGB = (255, 255, 255)
SHAPE_NAMES = ("square", "circle")
SQUARE, CIRCLE = 0, 1
ANSWER_NAMES = ("yes", "no", "square", "circle", "1", "2", "3", "4", "5", "6")
YES, NO = 0, 1
QUESTION_SIZE = 11  # 6 colours + 2 types + 3 subtypes
TYPE_OFFSET, SUBTYPE_OFFSET = 6, 8
NON_RELATIONAL_SUBTYPES = ("shape", "horizontal", "vertical")
RELATIONAL_SUBTYPES = ("closest", "furthest", "count")
CATEGORY_NAMES = NON_RELATIONAL_SUBTYPES + RELATIONAL_SUBTYPES
SHAPE_Q, HORIZONTAL_Q, VERTICAL_Q, CLOSEST_Q, FURTHEST_Q, COUNT_Q = range(6)
MIN_CENTRE, MAX_CENTRE = HALF_SIZE, IMAGE_SIZE - 1 - HALF_SIZE  # 5 and 69: the whole object inside the image
MIN_SEPARATION = 2 * HALF_SIZE + 1  # Chebyshev distance of centres so that two 11x11 boxes share no pixel
GENERATOR_VERSION = 1  # bump when sampling or rendering changes, so old caches are never reused
_MAX_ROUNDS = 10_000
_MAX_EASY_BATCHES = 1_000
_ROUNDING_MARGIN = 1e-6

# label map value -> RGB in [0, 1]: 0 is the background, 1 + k is colour k
PALETTE = torch.tensor((BACKGROUND_RGB,) + COLOURS_RGB, dtype=torch.float32) / 255.0


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


def _check_questions(questions, name: str = "questions") -> np.ndarray:
    encoded = _as_numpy(questions, name)
    if encoded.ndim < 1 or encoded.shape[-1] != QUESTION_SIZE:
        raise ValueError(f"{name} must have shape (..., {QUESTION_SIZE}) (one-hot questions), got {encoded.shape}")
    if not np.isin(encoded, (0, 1)).all():
        raise ValueError(f"{name} must be one-hot (only 0 and 1)")
    for part, start, stop in (("colour", 0, TYPE_OFFSET), ("type", TYPE_OFFSET, SUBTYPE_OFFSET),
                              ("subtype", SUBTYPE_OFFSET, QUESTION_SIZE)):
        if not (encoded[..., start:stop].sum(-1) == 1).all():
            raise ValueError(f"{name}: every question needs exactly one {part} bit (entries {start}..{stop - 1})")
    return encoded


# -------------------------------------------------------------------------------------------------------- questions
def encode_questions(colours, relational, subtypes) -> np.ndarray:
    """Integer arrays (same shape ``S``) -> one-hot questions float32 ``S + (11,)``.

    colours in 0..5, relational 0 (non-relational) or 1 (relational), subtypes in 0..2 (see the module docstring).
    """
    colours, relational, subtypes = (_as_numpy(v, name).astype(np.int64) for v, name in
                                     ((colours, "colours"), (relational, "relational"), (subtypes, "subtypes")))
    if not (colours.shape == relational.shape == subtypes.shape):
        raise ValueError(f"colours {colours.shape}, relational {relational.shape} and subtypes {subtypes.shape} "
                         "must have the same shape")
    for values, name, high in ((colours, "colours", N_OBJECTS), (relational, "relational", 2),
                               (subtypes, "subtypes", 3)):
        if ((values < 0) | (values >= high)).any():
            raise ValueError(f"{name} must be in 0..{high - 1}")
    encoded = np.zeros(colours.shape + (QUESTION_SIZE,), dtype=np.float32)
    np.put_along_axis(encoded, colours[..., None], 1.0, axis=-1)
    np.put_along_axis(encoded, TYPE_OFFSET + relational[..., None], 1.0, axis=-1)
    np.put_along_axis(encoded, SUBTYPE_OFFSET + subtypes[..., None], 1.0, axis=-1)
    return encoded


def decode_questions(questions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-hot questions ``S + (11,)`` -> ``(colours, relational, subtypes)``, int64 arrays of shape ``S``."""
    encoded = _check_questions(questions)
    return (encoded[..., :TYPE_OFFSET].argmax(-1), encoded[..., TYPE_OFFSET:SUBTYPE_OFFSET].argmax(-1),
            encoded[..., SUBTYPE_OFFSET:].argmax(-1))


def question_categories(questions) -> np.ndarray:
    """One-hot questions ``S + (11,)`` -> category indices ``S`` into CATEGORY_NAMES (3 * relational + subtype)."""
    _, relational, subtypes = decode_questions(questions)
    return 3 * relational + subtypes


def category_masks(categories) -> dict:
    """Category indices -> ``{name: bool array}`` for "non_relational", "relational" and each of CATEGORY_NAMES."""
    categories = _as_numpy(categories, "categories")
    masks = {"non_relational": categories < 3, "relational": categories >= 3}
    masks.update({name: categories == index for index, name in enumerate(CATEGORY_NAMES)})
    return masks


def describe_question(question) -> str:
    """One one-hot question ``(11,)`` -> its English wording, e.g. "What is the shape of the object furthest from
    the red object?"."""
    colours, relational, subtypes = decode_questions(_as_numpy(question, "question").reshape(1, -1))
    colour, category = int(colours[0]), int(3 * relational[0] + subtypes[0])
    obj = f"the {COLOUR_NAMES[colour]} object"
    wording = (f"What is the shape of {obj}?", f"Is {obj} on the left?", f"Is {obj} on the top?",
               f"What is the shape of the object closest to {obj}?",
               f"What is the shape of the object furthest from {obj}?",
               f"How many objects have the same shape as {obj}?")
    return wording[category]


# ---------------------------------------------------------------------------------------------------------- answers
def answer(objects, questions) -> np.ndarray:
    """The answer to every question, from the object tables alone (vectorised over the batch).

    objects:   ``(n, 6, 4)`` tables [colour, x, y, shape] (any row order).
    questions: ``(n, q, 11)`` one-hot questions about table i's objects (or ``(n, 11)``, one per table).
    Returns int64 class indices into ANSWER_NAMES, shape ``(n, q)`` (or ``(n,)``):

    - shape:      square (2) or circle (3) of the queried object;
    - horizontal: yes (0) if its x < 75 / 2 (left half), else no (1);
    - vertical:   yes (0) if its y < 75 / 2 (top half, rows grow downwards), else no (1);
    - closest:    shape (2 / 3) of the other object with the smallest Euclidean centre distance;
    - furthest:   shape (2 / 3) of the object with the largest Euclidean centre distance;
    - count:      3 + the number of objects with the queried object's shape, itself included (1..6 -> 4..9).

    Ties in distance go to the lowest colour index.
    """
    table = check_objects(objects)
    encoded = _check_questions(questions)
    if table.ndim != 3:
        raise ValueError(f"objects must have shape (n, 6, 4), got {table.shape}")
    single = encoded.ndim == 2
    if single:
        encoded = encoded[:, None, :]
    if encoded.ndim != 3 or encoded.shape[0] != table.shape[0]:
        raise ValueError(f"questions must have shape (n, q, 11) or (n, 11) with n = {table.shape[0]} (the number "
                         f"of object tables), got {_as_numpy(questions, 'questions').shape}")
    colours, relational, subtypes = decode_questions(encoded)  # (n, q) each
    table = np.take_along_axis(table, np.argsort(table[..., 0], axis=1)[..., None], axis=1)  # row k = colour k
    x, y, shape = table[..., 1], table[..., 2], table[..., 3].astype(np.int64)  # (n, 6)
    queried_x = np.take_along_axis(x, colours, axis=1)  # (n, q)
    queried_y = np.take_along_axis(y, colours, axis=1)
    queried_shape = np.take_along_axis(shape, colours, axis=1)
    squared_distance = (x[:, None, :] - queried_x[..., None]) ** 2 + (y[:, None, :] - queried_y[..., None]) ** 2
    is_self = np.arange(N_OBJECTS) == colours[..., None]  # (n, q, 6)
    closest = np.where(is_self, np.inf, squared_distance).argmin(-1)  # first minimum: lowest colour on ties
    furthest = np.where(is_self, -np.inf, squared_distance).argmax(-1)
    shapes = np.broadcast_to(shape[:, None, :], squared_distance.shape)
    same_shape_count = (shapes == queried_shape[..., None]).sum(-1)
    by_category = [
        2 + queried_shape,                                   # shape
        np.where(queried_x < IMAGE_SIZE / 2, YES, NO),       # horizontal: on the left?
        np.where(queried_y < IMAGE_SIZE / 2, YES, NO),       # vertical: on the top?
        2 + np.take_along_axis(shapes, closest[..., None], -1)[..., 0],   # closest
        2 + np.take_along_axis(shapes, furthest[..., None], -1)[..., 0],  # furthest
        3 + same_shape_count,                                # count
    ]
    answers = np.choose(3 * relational + subtypes, by_category).astype(np.int64)
    return answers[:, 0] if single else answers


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


def sample_questions(n: int, questions_per_image: int, rng: np.random.Generator) -> np.ndarray:
    """One-hot questions ``(n, q, 11)``: the first q/2 non-relational, the rest relational (as the common generator's
    10 + 10), colour and subtype uniform."""
    _check_count(questions_per_image, "questions_per_image", allow_zero=False)
    if questions_per_image % 2:
        raise ValueError(f"questions_per_image must be even (half non-relational, half relational), "
                         f"got {questions_per_image}")
    colours = rng.integers(0, N_OBJECTS, size=(n, questions_per_image))
    subtypes = rng.integers(0, 3, size=(n, questions_per_image))
    relational = np.broadcast_to(np.arange(questions_per_image) >= questions_per_image // 2, colours.shape)
    return encode_questions(colours, relational.astype(np.int64), subtypes)


# -------------------------------------------------------------------------------------------------------- rendering
def _stencils() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pixel offsets of the 11x11 box around a centre, ``(121,)`` each for x and y, and which of them each shape
    covers, ``(2, 121)`` bool: row 0 the square (all), row 1 the circle (dx^2 + dy^2 <= 25)."""
    steps = torch.arange(-HALF_SIZE, HALF_SIZE + 1)
    offset_y, offset_x = (grid.reshape(-1) for grid in torch.meshgrid(steps, steps, indexing="ij"))
    covers = torch.stack([torch.ones_like(offset_x, dtype=torch.bool),
                          offset_x.square() + offset_y.square() <= HALF_SIZE ** 2])
    return offset_x, offset_y, covers


_OFFSET_X, _OFFSET_Y, _COVERS = _stencils()


def render_labels(objects) -> torch.Tensor:
    """Object tables ``(n, 6, 4)`` -> uint8 label maps ``(n, 75, 75)``: 0 background, 1 + colour on object pixels.

    Every object's centre (rounded to the nearest pixel, halves up) is broadcast against the offsets of its shape's
    11x11 stencil, and all covered pixels of the batch are written in one scatter (no loop over pixels or
    objects). Where objects overlap (only in hand-made or rotated tables) the higher colour index is drawn; pixels
    outside the image are dropped.
    """
    table = check_objects(objects)
    if table.ndim != 3:
        raise ValueError(f"objects must have shape (n, 6, 4), got {table.shape}")
    table = torch.from_numpy(table)
    n = len(table)
    centre = torch.floor(table[..., 1:3] + 0.5).long()  # (n, 6, 2) pixel centres
    column = centre[..., 0:1] + _OFFSET_X  # (n, 6, 121)
    row = centre[..., 1:2] + _OFFSET_Y
    drawn = _COVERS[table[..., 3].long()] & (column >= 0) & (column < IMAGE_SIZE) & (row >= 0) & (row < IMAGE_SIZE)
    pixel = (torch.arange(n).view(n, 1, 1) * IMAGE_SIZE + row) * IMAGE_SIZE + column
    label = (table[..., 0].long() + 1).to(torch.uint8).unsqueeze(-1).expand_as(drawn)
    labels = torch.zeros(n * IMAGE_SIZE * IMAGE_SIZE, dtype=torch.uint8)
    labels.scatter_reduce_(0, pixel[drawn], label[drawn], reduce="amax")
    return labels.view(n, IMAGE_SIZE, IMAGE_SIZE)


def labels_to_images(labels: torch.Tensor) -> torch.Tensor:
    """uint8 label maps ``(..., H, W)`` -> float32 RGB images ``(..., 3, H, W)`` in [0, 1] (PALETTE colours)."""
    if not torch.is_tensor(labels) or labels.dtype != torch.uint8:
        raise TypeError("labels must be a uint8 torch.Tensor (from render_labels)")
    if labels.dim() < 2 or (labels.numel() and int(labels.max()) > N_OBJECTS):
        raise ValueError(f"labels must have shape (..., H, W) with values 0..{N_OBJECTS}, got {tuple(labels.shape)}")
    *batch, height, width = labels.shape
    flat = labels.reshape(-1, height * width)
    images = torch.ones(flat.shape[0], 3, height * width)  # white background, then only the object pixels
    image_index, pixel = torch.nonzero(flat, as_tuple=True)
    images[image_index, :, pixel] = PALETTE[flat[image_index, pixel].long()]
    return images.view(*batch, 3, height, width)


def render(objects) -> torch.Tensor:
    """Object tables ``(n, 6, 4)`` (or one table ``(6, 4)``) -> float32 RGB images ``(n, 3, 75, 75)`` (or
    ``(3, 75, 75)``) in [0, 1], white background. See ``render_labels`` for how objects are drawn."""
    table = check_objects(objects)
    if table.ndim == 2:
        return labels_to_images(render_labels(table[None]))[0]
    return labels_to_images(render_labels(table))


# ------------------------------------------------------------------------------------------------------- generation
@dataclass
class SortOfClevr:
    """A generated Sort-of-CLEVR set (shapes in the module docstring)."""

    images: torch.Tensor      # (n, 3, 75, 75) float32 in [0, 1]
    objects: np.ndarray       # (n, 6, 4) float32 [colour, x, y, shape]
    questions: np.ndarray     # (n, q, 11) float32 one-hot
    answers: np.ndarray       # (n, q) int64 into ANSWER_NAMES
    categories: np.ndarray    # (n, q) int64 into CATEGORY_NAMES

    def __len__(self) -> int:
        return len(self.objects)


def _generate_tables(n: int, seed: int, questions_per_image: int):
    _check_count(n, "n")
    _check_count(seed, "seed")
    _check_count(questions_per_image, "questions_per_image", allow_zero=False)
    rng = np.random.default_rng(seed)
    objects = sample_objects(n, rng)
    questions = sample_questions(n, questions_per_image, rng)
    return objects, questions, answer(objects, questions), question_categories(questions)


def generate(n: int, seed: int = 0, questions_per_image: int = 20) -> SortOfClevr:
    """``n`` Sort-of-CLEVR images with ``questions_per_image`` questions each (half non-relational, half
    relational; 20 as in the common generator's 10 + 10). The same arguments always give the same data."""
    objects, questions, answers, categories = _generate_tables(n, seed, questions_per_image)
    return SortOfClevr(render(objects) if n else torch.zeros(0, 3, IMAGE_SIZE, IMAGE_SIZE), objects, questions,
                       answers, categories)


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


# ------------------------------------------------------------------------------------------------------------ cache
def _cache_key(n: int, seed: int, questions_per_image: int) -> dict:
    return {"dataset": "sort_of_clevr", "version": GENERATOR_VERSION, "n": n, "seed": seed,
            "questions_per_image": questions_per_image, "size": IMAGE_SIZE}


def cache_path(n: int, seed: int, questions_per_image: int = 20, folder: str | os.PathLike | None = None) -> Path:
    """Where the cache of these generation parameters lives: ``data/sortofclevr/<parameters and their hash>.npz``."""
    name = key_hash(_cache_key(n, seed, questions_per_image))
    folder = Path(folder) if folder is not None else data_dir() / "sortofclevr"
    return folder / f"sortofclevr_{n}_seed{seed}_q{questions_per_image}_{name}.npz"


def _load_cache(path: Path, key: dict):
    """The cached arrays when the file's key, checksum and shapes match, else None (never trusts a bad file)."""
    n, q = key["n"], key["questions_per_image"]
    expected = {"objects": (n, N_OBJECTS, 4), "question_codes": (n, q, 3), "answers": (n, q),
                "labels": (n, IMAGE_SIZE, IMAGE_SIZE)}
    return load_arrays(path, key, expected, "Sort-of-CLEVR")


class SortOfClevrDataset(Dataset):
    """``n`` Sort-of-CLEVR images with ``questions_per_image`` questions each, generated once and cached under
    ``data/sortofclevr/`` (object tables, question codes, answers and uint8 label maps; ~5.6 kB per image).

    One item per (image, question), image-major: ``dataset[i]`` is ``(image float32 (3, 75, 75) in [0, 1],
    question float32 (11,), answer int64 scalar, category int64 scalar)`` for image ``i // q`` and its question
    ``i % q``. Attributes: ``objects`` (n, 6, 4) numpy, ``labels`` uint8 (n, 75, 75), ``questions`` (n, q, 11),
    ``answers`` and ``categories`` (n, q) torch tensors. A cache whose stored key (the generation parameters) or
    checksum does not match is regenerated and overwritten, never used. Identical to ``generate(n, seed, q)``.
    """

    def __init__(self, n: int, seed: int = 0, questions_per_image: int = 20, cache: bool = True,
                 cache_dir: str | os.PathLike | None = None):
        n, seed = _check_count(n, "n", allow_zero=False), _check_count(seed, "seed")  # NumPy ints become ints
        questions_per_image = _check_count(questions_per_image, "questions_per_image", allow_zero=False)
        if not isinstance(cache, bool):
            raise TypeError(f"cache must be a bool, got {type(cache).__name__}")
        key = _cache_key(n, seed, questions_per_image)
        self.path = cache_path(n, seed, questions_per_image, cache_dir) if cache else None
        stored = _load_cache(self.path, key) if cache else None
        if stored is None:
            objects, questions, answers, _ = _generate_tables(n, seed, questions_per_image)
            codes = np.stack(decode_questions(questions), axis=-1).astype(np.int8)
            stored = {"objects": objects, "question_codes": codes, "answers": answers.astype(np.int8),
                      "labels": render_labels(objects).numpy()}
            if cache:
                save_arrays(self.path, key, stored)
        codes = stored["question_codes"].astype(np.int64)
        self.questions_per_image = questions_per_image
        self.objects = stored["objects"]  # (n, 6, 4) float32
        self.labels = torch.from_numpy(stored["labels"])  # (n, 75, 75) uint8
        self.questions = torch.from_numpy(encode_questions(codes[..., 0], codes[..., 1], codes[..., 2]))
        self.answers = torch.from_numpy(stored["answers"].astype(np.int64))  # (n, q)
        self.categories = torch.from_numpy(3 * codes[..., 1] + codes[..., 2])  # (n, q)

    def __len__(self) -> int:
        return self.labels.shape[0] * self.questions_per_image

    def image(self, index: int) -> torch.Tensor:
        """Image ``index`` (of the n images) as float32 ``(3, 75, 75)`` in [0, 1]."""
        return labels_to_images(self.labels[index])

    def __getitem__(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        image_index, question_index = divmod(index % len(self), self.questions_per_image)
        return (self.image(image_index), self.questions[image_index, question_index],
                self.answers[image_index, question_index], self.categories[image_index, question_index])
