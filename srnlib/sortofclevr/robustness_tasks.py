"""The paper's two robustness tasks (Section 3.1), run on trained models.

Both ask "what is the shape of the object furthest from <colour>?" about "easy" tables (the furthest object at least
twice as far as the second furthest) and rotate the objects' *coordinates* (the shapes stay axis-aligned, as in
training). A rotated table that leaves the image is translated back inside (``shift_inside``), which keeps every
distance and so the answer. A model is robust on a table when it answers correctly at every rotation angle.
    Synthetic: one easy table, translated to ``robust_positions`` positions, each rotated by ``robust_angles`` angles.
        The paper "construct[s] an easy input configuration on which both models provide the correct answer with very
        high confidence": ``synthetic_tables(cfg, seed, models)`` picks, among ``SYNTHETIC_CANDIDATES`` easy tables,
        the one whose least confident model is most confident of the right answer (unturned, unmoved). Without
        models it takes the first candidate, whatever the models make of it.
    Dataset:   ``robust_images`` new easy tables, each rotated by ``robust_angles`` angles.

Shapes: object tables (N, 6, 4) = [colour, x, y, shape]; answers index ``ANSWER_NAMES``.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
import torch
from torch import nn

from .data import FURTHEST_Q, encode_questions, render, rotate, sample_easy, shift_inside, translate
from .models import answer_probabilities, predict

ROBUSTNESS_TASKS = ("synthetic", "dataset")
SYNTHETIC_CANDIDATES = 32  # easy tables the Synthetic configuration is chosen from when models are given


class SyntheticTask(NamedTuple):
    """The Synthetic task's inputs: tables (positions, 6, 4), the queried colour, the right answer, and how sure the
    least confident of the choosing models was of it on the chosen table (None when no models chose)."""
    tables: np.ndarray
    colour: int
    answer: int
    confidence: float | None


def furthest_questions(colours: np.ndarray) -> torch.Tensor:
    """One-hot "shape of the object furthest from <colour>?" questions: (N,) -> (N, 11)."""
    colours = np.asarray(colours)
    return torch.from_numpy(encode_questions(colours, np.ones_like(colours), np.full_like(colours, FURTHEST_Q - 3)))


def rotations(tables: np.ndarray, angles: int) -> np.ndarray:
    """Every table at ``angles`` evenly spaced rotations about its centroid, moved inside the image
    (``shift_inside``): tables (N, 6, 4) -> (N, angles, 6, 4)."""
    radians = np.linspace(0.0, 2 * np.pi, angles, endpoint=False)
    return shift_inside(rotate(tables[:, None], radians[None, :]))


def answers_under_rotation(model: nn.Module, tables: np.ndarray, colours: np.ndarray, angles: int,
                           batch_size: int = 256, inner_steps: int | None = None) -> torch.Tensor:
    """The model's furthest-object answers for every table at ``angles`` evenly spaced rotations about its centroid.

    tables (N, 6, 4), colours (N,) -> answers (N, angles), rendered after ``shift_inside``. ``inner_steps``: an
    RN+SRN's number of refinement steps for these answers (None: its own).
    """
    rotated = rotations(tables, angles)
    images = render(rotated.reshape(-1, *rotated.shape[-2:]).astype(np.float32))
    questions = furthest_questions(np.repeat(np.asarray(colours), angles))
    return predict(model, images, questions, batch_size, inner_steps).view(len(tables), angles)


def synthetic_tables(cfg, seed: int = 0, models: Sequence[nn.Module] = ()) -> SyntheticTask:
    """The Synthetic task for ``seed``: one easy table translated to ``robust_positions`` positions (inside the image).

    With ``models`` (the RN and RN + SRN of one seed), the table is chosen as the paper does: among
    ``SYNTHETIC_CANDIDATES`` easy tables, the one that maximises the smallest probability any model gives the right
    answer. Without, it is the first candidate. The positions depend on ``seed`` only."""
    if isinstance(models, nn.Module):
        raise TypeError("models must be a sequence of models (e.g. [rn, rn_srn]), got one model")
    easy = sample_easy(SYNTHETIC_CANDIDATES if models else 1, seed=seed)
    chosen, confidence = 0, None
    if models:
        images = render(shift_inside(easy.objects).astype(np.float32))
        questions, right = furthest_questions(easy.colours), torch.from_numpy(easy.answers).long()[:, None]
        sure = torch.stack([answer_probabilities(model, images, questions).gather(1, right)[:, 0] for model in models])
        least = sure.min(dim=0).values  # (candidates,): the least confident model's probability of the right answer
        chosen = int(least.argmax())
        confidence = float(least[chosen])
    offsets = np.random.default_rng([seed, 200]).uniform(-20, 20, size=(cfg["robust_positions"], 2))
    tables = shift_inside(translate(easy.objects[chosen], offsets))
    return SyntheticTask(tables, int(easy.colours[chosen]), int(easy.answers[chosen]), confidence)


def right_under_rotation(model: nn.Module, cfg, task: str, seed: int = 0, inner_steps: int | None = None,
                         synthetic: SyntheticTask | None = None) -> torch.Tensor:
    """Whether ``model`` answers a robustness task right: bool (configurations, robust_angles). ``task``
    "synthetic": ``synthetic`` (default: ``synthetic_tables(cfg, seed)``, chosen by no model); "dataset":
    ``robust_images`` new easy tables; each turned through ``robust_angles`` rotations (``inner_steps``: an RN+SRN's
    steps, None: its own)."""
    if task == "synthetic":
        tables, colour, truth, _ = synthetic if synthetic is not None else synthetic_tables(cfg, seed)
        colours = np.full(len(tables), colour)
    elif task == "dataset":
        easy = sample_easy(cfg["robust_images"], seed=seed + 1)
        tables, colours, truth = easy.objects, easy.colours, torch.from_numpy(easy.answers).unsqueeze(1)
    else:
        raise ValueError(f"task must be one of {ROBUSTNESS_TASKS}, got {task!r}")
    return answers_under_rotation(model, tables, colours, cfg["robust_angles"], inner_steps=inner_steps) == truth
