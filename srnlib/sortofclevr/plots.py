"""Figures of the Sort-of-CLEVR lesson (notebook 03). Every function returns a matplotlib Figure, never calls ``show``.

Images are float tensors (3, 75, 75) in [0, 1]; model names are "rn" and "rn_srn".
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..paper import TABLE2_KEYS  # Table 2's rows, typed once in srnlib/paper.py
from .data import ANSWER_NAMES, describe_question

NAMES = {"rn": "RN", "rn_srn": "RN + SRN"}
COLOURS = {"rn": "tab:red", "rn_srn": "tab:blue"}


def _check_image(image) -> None:
    if not torch.is_tensor(image) or tuple(image.shape) != (3, 75, 75):
        shape = tuple(image.shape) if torch.is_tensor(image) else type(image).__name__
        raise ValueError(f"image must be a tensor of shape (3, 75, 75), got {shape}")


def _show(axis, image: torch.Tensor, title: str = "") -> None:
    axis.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
    axis.set_xticks([]), axis.set_yticks([])
    if title:
        axis.set_title(title, fontsize=8)


def image_with_questions(image: torch.Tensor, questions, answers, predicted: dict | None = None):
    """One image (3, 75, 75) beside its questions (q, 11) and true answers (q,); ``predicted`` optionally maps a
    model name to its answers (q,), shown after the truth."""
    _check_image(image)
    questions, answers = torch.as_tensor(questions), torch.as_tensor(answers)
    if questions.dim() != 2 or len(questions) != len(answers):
        raise ValueError("questions (q, 11) and answers (q,) must have the same length")
    figure, (picture, text) = plt.subplots(1, 2, figsize=(9, 2.6), gridspec_kw={"width_ratios": [1, 2.6]})
    _show(picture, image)
    lines = []
    for i, (question, truth) in enumerate(zip(questions, answers)):
        line = f"{describe_question(question):<62} {ANSWER_NAMES[int(truth)]:>6}"
        for name, guesses in (predicted or {}).items():
            line += f"   {NAMES.get(name, name)}: {ANSWER_NAMES[int(guesses[i])]}"
        lines.append(line)
    text.text(0, 1, "\n".join(lines), family="monospace", fontsize=8, va="top")
    text.axis("off")
    figure.tight_layout()
    return figure


def table2_bars(mean: dict, std: dict, paper: dict):
    """Table 2 as bars: this run's mean (error bar: std over seeds) per model and task, the paper's as black ticks.

    mean, std: {"rn": {task: percent}, "rn_srn": {...}}; paper alike (tasks it lacks are left out)."""
    figure, axis = plt.subplots(figsize=(10, 3.6))
    x = np.arange(len(TABLE2_KEYS))
    for offset, kind in ((-0.2, "rn"), (0.2, "rn_srn")):
        heights = [mean[kind][key] for key in TABLE2_KEYS]
        axis.bar(x + offset, heights, 0.38, yerr=[std[kind][key] for key in TABLE2_KEYS], color=COLOURS[kind],
                 alpha=0.8, label=f"{NAMES[kind]} (here)", capsize=2)
        marks = [paper[kind].get(key, np.nan) for key in TABLE2_KEYS]
        axis.plot(x + offset, marks, "k_", ms=14, mew=2, label="paper" if kind == "rn" else None)
    axis.set_xticks(x, [key.replace("_", "\n") for key in TABLE2_KEYS], fontsize=8)
    axis.set_ylabel("% correct / robust")
    axis.set_ylim(0, 105)
    axis.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False)
    figure.tight_layout()
    return figure


def rotation_flips(images: torch.Tensor, degrees, answers: dict, truth: int, shown: int = 8):
    """Where each model flips its answer as one configuration turns.

    images (angles, 3, 75, 75): the configuration at each angle; degrees (angles,); answers {model: (angles,)
    answer indices}; truth: the right answer. Top: ``shown`` of the rotated images; below: one strip per model,
    green where it answers right, red where it is wrong."""
    degrees = np.asarray(degrees, dtype=np.float64)
    if images.dim() != 4 or len(images) != len(degrees) or any(len(a) != len(degrees) for a in answers.values()):
        raise ValueError("images (angles, 3, 75, 75), degrees (angles,) and every model's answers (angles,) must "
                         "have the same length")
    picks = np.linspace(0, len(degrees), shown, endpoint=False).astype(int)
    figure = plt.figure(figsize=(12, 2.0 + 0.55 * len(answers)))
    grid = figure.add_gridspec(2, shown, height_ratios=[1.6, 0.45 * len(answers)])
    for column, index in enumerate(picks):
        _show(figure.add_subplot(grid[0, column]), images[index], f"{degrees[index]:.0f}°")
    strip = figure.add_subplot(grid[1, :])
    step = degrees[1] - degrees[0] if len(degrees) > 1 else 1.0
    for row, (name, guesses) in enumerate(answers.items()):
        right = np.asarray(guesses) == truth
        strip.bar(degrees, 0.8, width=step, bottom=row - 0.4, align="edge",
                  color=np.where(right, "tab:green", "tab:red"))
    strip.set_yticks(range(len(answers)), [f"{NAMES.get(n, n)}: {100 * np.mean(np.asarray(a) == truth):.0f} % right"
                                           for n, a in answers.items()], fontsize=8)
    strip.set_xlim(0, 360)
    strip.set_xticks(range(0, 361, 45))
    strip.set_xlabel(f"rotation (degrees); green = right ({ANSWER_NAMES[truth]}), red = wrong")
    figure.tight_layout()
    return figure


def figure4(image: torch.Tensor, panels: dict, k: int = 9):
    """Figure 4: for each model, the input, the decoder's reconstruction and its top-``k`` elements.

    panels: {model: (reconstruction (3, 75, 75), ink (n, 3, 75, 75), top indices (k,), error per image)}; each
    element is drawn as what it paints on the white page (1 - ink)."""
    _check_image(image)
    figure, axes = plt.subplots(len(panels), k + 2, figsize=(1.35 * (k + 2), 1.8 * len(panels)), squeeze=False)
    for row, (name, (reconstruction, ink, top, error)) in enumerate(panels.items()):
        _show(axes[row, 0], image, "input")
        _show(axes[row, 1], reconstruction, f"{NAMES.get(name, name)}\nerror {error:.0f}")
        for column, index in enumerate(top[:k]):
            _show(axes[row, 2 + column], 1 - ink[int(index)], f"element {int(index)}")
    figure.tight_layout()
    return figure
