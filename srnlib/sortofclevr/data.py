"""Sort-of-CLEVR (Section 3.1 of the paper; Santoro et al. 2017): a seeded, vectorised generator and a cached Dataset.

The data is built from four modules, each one idea, whose names are all importable from here too:
    scene       object tables (n, 6, 4) [colour, x, y, shape], ``check_objects`` and the sampler ``sample_objects``
    questions   one-hot questions (n, q, 11), their categories, ``sample_questions`` and ``answer`` (the one function
                computing answers from object tables)
    rendering   object tables -> label maps (n, 75, 75) and RGB images (n, 3, 75, 75): ``render``
    robustness  ``rotate`` / ``translate`` / ``shift_inside`` and the "easy" furthest-object questions ``sample_easy``

This module puts them together: ``generate`` (a ``SortOfClevr`` set of images, objects, questions, answers and
categories) and ``SortOfClevrDataset`` (the same data, cached under ``data/sortofclevr/``).
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
from .questions import (ANSWER_NAMES, CATEGORY_NAMES, CLOSEST_Q, COUNT_Q, FURTHEST_Q,  # noqa: F401 (re-exported)
                        HORIZONTAL_Q, NO, NON_RELATIONAL_SUBTYPES, QUESTION_SIZE, RELATIONAL_SUBTYPES, SHAPE_Q,
                        SUBTYPE_OFFSET, TYPE_OFFSET, VERTICAL_Q, YES, answer, category_masks, colour_blind_answers,
                        decode_questions, describe_question, encode_questions, question_categories, sample_questions)
from .rendering import BACKGROUND_RGB, PALETTE, labels_to_images, render, render_labels  # noqa: F401 (re-exported)
from .robustness import (EasyQuestions, fits_every_rotation, furthest_ratio, inside_image,  # noqa: F401 (re-exported)
                         is_easy, rotate, sample_easy, shift_inside, translate)
from .scene import (CIRCLE, COLOUR_NAMES, COLOURS_RGB, HALF_SIZE, IMAGE_SIZE, MAX_CENTRE,  # noqa: F401 (re-exported)
                    MIN_CENTRE, MIN_SEPARATION, N_OBJECTS, SHAPE_NAMES, SQUARE, check_objects, sample_objects)

GENERATOR_VERSION = 1  # bump when sampling or rendering changes, so old caches are never reused


# ------------------------------------------------------------------------------------------------------- generation
@dataclass
class SortOfClevr:
    """A generated Sort-of-CLEVR set (shapes in the docstrings of scene, questions and rendering)."""

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

    def image(self, index: int | slice) -> torch.Tensor:
        """Image ``index`` (of the n images) as float32 ``(3, 75, 75)`` in [0, 1]; a slice gives a batch
        ``(B, 3, 75, 75)``, e.g. ``image(slice(200))`` the first 200 (or all, when there are fewer)."""
        return labels_to_images(self.labels[index])

    def __getitem__(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        image_index, question_index = divmod(index % len(self), self.questions_per_image)
        return (self.image(image_index), self.questions[image_index, question_index],
                self.answers[image_index, question_index], self.categories[image_index, question_index])
