"""Sort-of-CLEVR questions and their answers: every image comes with questions about one coloured object, as in the
common Santoro-style generator. Answers are computed from object tables by ``answer`` only.

Shapes and conventions (n images, q questions per image):
    questions   float32 (n, q, 11) one-hot: [colour (6) | type (2): non-relational, relational | subtype (3)].
                Non-relational subtypes: 0 shape of the object, 1 is it on the left (x < 37.5), 2 is it on the top
                (y < 37.5). Relational subtypes: 0 shape of the closest object, 1 shape of the furthest object,
                2 how many objects (the queried one included) have its shape.
    answers     int64 (n, q), class indices into ANSWER_NAMES = (yes, no, square, circle, 1, 2, 3, 4, 5, 6).
    categories  int64 (n, q), 3 * relational + subtype, indices into CATEGORY_NAMES
                = (shape, horizontal, vertical, closest, furthest, count); ``category_masks`` adds
                "non_relational" (0..2) and "relational" (3..5).
"""
from __future__ import annotations

import numpy as np

from .._checks import check_count as _check_count
from .scene import COLOUR_NAMES, IMAGE_SIZE, N_OBJECTS, _as_numpy, check_objects

ANSWER_NAMES = ("yes", "no", "square", "circle", "1", "2", "3", "4", "5", "6")
YES, NO = 0, 1
QUESTION_SIZE = 11  # 6 colours + 2 types + 3 subtypes
TYPE_OFFSET, SUBTYPE_OFFSET = 6, 8
NON_RELATIONAL_SUBTYPES = ("shape", "horizontal", "vertical")
RELATIONAL_SUBTYPES = ("closest", "furthest", "count")
CATEGORY_NAMES = NON_RELATIONAL_SUBTYPES + RELATIONAL_SUBTYPES
SHAPE_Q, HORIZONTAL_Q, VERTICAL_Q, CLOSEST_Q, FURTHEST_Q, COUNT_Q = range(6)


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


def colour_blind_answers(objects, questions) -> np.ndarray:
    """The best answers of a model that sees every object's position and shape but not its colour.

    Each scene has one object of each colour, so to such a model the queried object is any of the six, equally
    likely: it answers what most of the six would give (``answer`` with the question's colour replaced by each
    colour in turn; ties go to the lowest answer index), which is the Bayes-optimal colour-blind answer. An RN whose
    accuracy sits at this level per question type has learned the scenes' shapes and layout but not which object a
    question names. Same shapes as ``answer``: objects (n, 6, 4), questions (n, q, 11) or (n, 11) -> int64 (n, q)
    or (n,)."""
    encoded = _check_questions(questions)
    single = encoded.ndim == 2
    encoded = encoded[:, None, :] if single else encoded
    candidates = []
    for colour in range(N_OBJECTS):
        recoloured = encoded.copy()
        recoloured[..., :TYPE_OFFSET] = 0.0
        recoloured[..., colour] = 1.0
        candidates.append(answer(objects, recoloured))
    stacked = np.stack(candidates, axis=-1)  # (n, q, 6): the answer if each colour were the queried one
    votes = (stacked[..., None] == np.arange(len(ANSWER_NAMES))).sum(axis=-2)  # (n, q, 10)
    best = votes.argmax(axis=-1).astype(np.int64)  # the first of the most common answers
    return best[:, 0] if single else best


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

