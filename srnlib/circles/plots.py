"""Figures of notebooks 01-02: data samples, Table 1 next to the paper, Figure 2 panels, interpolation strips,
the slider callback, Figure 3 (t-SNE), and the training curves of scripts/circles_runs_table.py. Every function
returns a matplotlib Figure and never shows it.

Shapes: images (B, 3, 64, 64) in [0, 1]; element images (B, n, 3, 64, 64); responsible (B, k) element indices.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..paper import PAPER
from .models import BaselineAutoencoder

PAPER_TABLE1 = PAPER["table1"]  # the paper's Table 1, typed once in srnlib/paper.py
MODEL_NAMES = {"baseline": "Baseline", "srn": "SRN"}


def _as_picture(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) tensor -> (H, W, 3) array clipped to [0, 1] for ``imshow``."""
    return image.detach().float().clamp(0, 1).permute(1, 2, 0).numpy()


def _blank(axis) -> None:
    axis.set_xticks([])
    axis.set_yticks([])


def show_images(images: torch.Tensor, counts=None, columns: int = 8):
    """A grid of input images (B, 3, 64, 64), titled with their number of circles when ``counts`` is given."""
    rows = int(np.ceil(len(images) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.7 * rows), squeeze=False)
    for index, axis in enumerate(axes.flat):
        _blank(axis)
        if index < len(images):
            axis.imshow(_as_picture(images[index]))
            if counts is not None:
                axis.set_title(f"{int(counts[index])} circles", fontsize=8)
        else:
            axis.axis("off")
    figure.tight_layout()
    return figure


def figure2(image: torch.Tensor, decompositions: dict, active_threshold: float = 0.1):
    """Figure 2: for each model a row with the input, the reconstruction and every element's decoded image.

    image: (3, 64, 64); decompositions: {"baseline": (reconstruction (3, 64, 64), element_images (n, 3, 64, 64))}.
    Elements counted as "containing an object" (L-infinity norm > threshold) get a coloured frame.
    """
    n = max(elements.shape[0] for _, elements in decompositions.values())
    figure, axes = plt.subplots(len(decompositions), n + 2, figsize=(1.3 * (n + 2), 1.55 * len(decompositions)),
                                squeeze=False)
    for row, (name, (reconstruction, elements)) in enumerate(decompositions.items()):
        panels = [("input", image), ("reconstruction", reconstruction)] + \
                 [(f"element {i}", elements[i]) for i in range(elements.shape[0])]
        active = elements.flatten(1).amax(dim=1) > active_threshold
        for column, axis in enumerate(axes[row]):
            _blank(axis)
            if column >= len(panels):
                axis.axis("off")
                continue
            title, picture = panels[column]
            axis.imshow(_as_picture(picture))
            axis.set_title(title, fontsize=7)
            if column >= 2 and bool(active[column - 2]):
                for spine in axis.spines.values():
                    spine.set_edgecolor("orange")
                    spine.set_linewidth(2.5)
        axes[row, 0].set_ylabel(f"{MODEL_NAMES.get(name, name)}\n{int(active.sum())} active", fontsize=9)
    figure.tight_layout()
    return figure


def table1(scores: dict):
    """Table 1 as a figure: our success rates per number of circles next to the paper's.

    scores: {"baseline": {"1": pct, ..., "5": pct}, "srn": {...}}.
    """
    counts = sorted(next(iter(scores.values())).keys(), key=int)
    header = ["# circles"] + [f"{MODEL_NAMES.get(k, k)} (ours)" for k in scores] + \
             [f"{MODEL_NAMES.get(k, k)} (paper)" for k in scores]
    cells = [[c] + [f"{scores[k][c]:.1f}" for k in scores] + [f"{PAPER_TABLE1.get(k, {}).get(c, float('nan')):.1f}"
                                                              for k in scores] for c in counts]
    figure, axis = plt.subplots(figsize=(1.6 * len(header), 0.35 * (len(cells) + 2)))
    axis.axis("off")
    axis.table(cellText=cells, colLabels=header, loc="center", cellLoc="center")
    axis.set_title("Table 1: % of images decomposed (active elements = circles)", fontsize=10)
    figure.tight_layout()
    return figure


def table1_text(scores: dict) -> str:
    """Table 1 as plain text, ours next to the paper's."""
    lines = [f"{'circles':>8} " + " ".join(f"{MODEL_NAMES.get(k, k) + ' ours':>14} {MODEL_NAMES.get(k, k) + ' paper':>14}"
                                           for k in scores)]
    for c in sorted(next(iter(scores.values())).keys(), key=int):
        lines.append(f"{c:>8} " + " ".join(f"{scores[k][c]:>14.1f} {PAPER_TABLE1.get(k, {}).get(c, float('nan')):>14.1f}"
                                           for k in scores))
    return "\n".join(lines)


def interpolation_strip(results: dict, columns: int | None = None):
    """Static strip for headless runs: per model, the images (top row) and the responsible element's image at
    each position (below), titled with the responsible element indices.

    results: {"baseline": interpolate(...) output, "srn": ...} (see ``interpolation.interpolate``).
    """
    names = list(results)
    positions = len(next(iter(results.values()))["images"])
    columns = positions if columns is None else min(columns, positions)
    figure, axes = plt.subplots(1 + len(names), columns, figsize=(1.25 * columns, 1.45 * (1 + len(names))),
                                squeeze=False)
    first = results[names[0]]
    for column in range(columns):
        axes[0, column].imshow(_as_picture(first["images"][column]))
        _blank(axes[0, column])
    axes[0, 0].set_ylabel("input", fontsize=8)
    for row, name in enumerate(names, start=1):
        responsible = results[name]["responsible"]  # (positions, k)
        elements = results[name]["decomposition"].element_images  # (positions, n, 3, H, W)
        for column in range(columns):
            chosen = elements[column, responsible[column].unique()].sum(dim=0)  # the objects' elements together
            axes[row, column].imshow(_as_picture(chosen))
            axes[row, column].set_title("el " + ",".join(str(int(i)) for i in responsible[column]), fontsize=7)
            _blank(axes[row, column])
        axes[row, 0].set_ylabel(MODEL_NAMES.get(name, name), fontsize=8)
    figure.tight_layout()
    return figure


def interpolation_frame(models: dict, position: float, crossing: bool = False, radius: float = 6.0):
    """The slider callback (pure: inputs -> figure): the circle(s) at ``position`` in [0, 1] (0 = left) and, per
    model, every element's decoded image with the responsible one(s) framed.

    models: {"baseline": model, "srn": model}. Returns a matplotlib Figure (``figure.responsible`` holds
    {model name: list of responsible element indices}, for checks).
    """
    from . import data, interpolation  # local import: interpolation imports this module's siblings

    if not 0.0 <= float(position) <= 1.0:
        raise ValueError(f"position must be in [0, 1], got {position!r}")
    span = data.IMAGE_SIZE - 1 - 2 * radius
    x = radius + float(position) * span
    rows = [[x, 32.0, radius, data.RED]] + ([[data.IMAGE_SIZE - 1 - x, 32.0, radius, data.GREEN]] if crossing else [])
    table = np.array([rows], dtype=np.float32)
    results = {name: interpolation.interpolate(model, table) for name, model in models.items()}
    n = max(r["decomposition"].element_images.shape[1] for r in results.values())
    figure, axes = plt.subplots(len(results), n + 1, figsize=(1.1 * (n + 1), 1.3 * len(results)), squeeze=False)
    figure.responsible = {}
    for row, (name, result) in enumerate(results.items()):
        axes[row, 0].imshow(_as_picture(result["images"][0]))
        axes[row, 0].set_ylabel(MODEL_NAMES.get(name, name), fontsize=8)
        responsible = [int(i) for i in result["responsible"][0]]
        figure.responsible[name] = responsible
        elements = result["decomposition"].element_images[0]
        for column in range(1, n + 1):
            axis = axes[row, column]
            _blank(axis)
            if column - 1 >= elements.shape[0]:
                axis.axis("off")
                continue
            axis.imshow(_as_picture(elements[column - 1]))
            if column - 1 in responsible:
                for spine in axis.spines.values():
                    spine.set_edgecolor("orange")
                    spine.set_linewidth(2.5)
        _blank(axes[row, 0])
    figure.tight_layout()
    return figure


def figure3_tsne(embeddings: dict, tables: np.ndarray, smoothness: dict | None = None):
    """Figure 3: t-SNE of the responsible elements of single circles, one row per model, coloured by x and by y
    (circles for red, triangles for green). embeddings: {"baseline": (B, 2), ...}; tables (B, 1, 4)."""
    figure, axes = plt.subplots(len(embeddings), 2, figsize=(8, 3.6 * len(embeddings)), squeeze=False)
    colours = tables[:, 0, 3]
    for row, (name, points) in enumerate(embeddings.items()):
        for column, (coordinate, label) in enumerate(((0, "x"), (1, "y"))):
            axis = axes[row, column]
            for colour, marker in ((0, "o"), (1, "^")):
                chosen = colours == colour
                scatter = axis.scatter(points[chosen, 0], points[chosen, 1], c=tables[chosen, 0, coordinate],
                                       cmap="viridis", marker=marker, s=14, vmin=0, vmax=63)
            figure.colorbar(scatter, ax=axis, label=f"circle {label}")
            title = f"{MODEL_NAMES.get(name, name)}: coloured by {label}"
            if smoothness is not None:
                title += f" (smoothness {smoothness[name]:.2f})"
            axis.set_title(title, fontsize=9)
            _blank(axis)
    figure.tight_layout()
    return figure


def count_parameters(model: BaselineAutoencoder) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = ["figure2", "figure3_tsne", "interpolation_frame", "interpolation_strip", "show_images", "table1",
           "table1_text", "count_parameters", "PAPER_TABLE1"]


def training_curves(runs: list[dict], seed: int = 0, counts=("2", "3", "4", "5")):
    """Table 1 success against the epoch for every run of ``seed``: one panel per circle count in ``counts``, the
    SRN solid and the baseline dashed, one colour per setting (the shipped runs in black), and a dotted line at 2x
    the shipped baseline's last score, the size the paper's Table 1 shows. ``runs``: the records
    ``scripts/circles_runs_table.py`` writes (``kind``, ``seed``, ``differs``, ``shipped``, ``scored``: a list of
    ``{"epoch", "trained": [success % at 1..5 circles]}``)."""
    chosen = [run for run in runs if run["seed"] == seed and run["scored"]]
    if not chosen:
        raise ValueError(f"runs has no scored run of seed {seed}")
    settings = sorted({run["differs"] for run in chosen if not run["shipped"]})
    colours = dict(zip(settings, plt.cm.tab10.colors * (len(settings) // 10 + 1)))
    figure, axes = plt.subplots(1, len(counts), figsize=(3.6 * len(counts), 3.6), sharey=True, squeeze=False)
    for axis, count in zip(axes[0], counts):
        column = int(count) - 1
        for run in chosen:
            epochs = [point["epoch"] for point in run["scored"]]
            success = [point["trained"][column] for point in run["scored"]]
            label = f"{MODEL_NAMES[run['kind']]}: {'shipped' if run['shipped'] else run['differs']}"
            axis.plot(epochs, success, "-" if run["kind"] == "srn" else "--", marker=".", label=label,
                      color="black" if run["shipped"] else colours[run["differs"]],
                      linewidth=2.0 if run["shipped"] else 1.0)
            if run["shipped"] and run["kind"] == "baseline":
                axis.axhline(2 * success[-1], color="grey", linestyle=":", label="2x the shipped baseline")
        axis.set_title(f"{count} circles")
        axis.set_xlabel("epoch")
    axes[0][0].set_ylabel("decomposition success (%)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.suptitle(f"Circles training runs, seed {seed}")
    figure.tight_layout()
    # below the panels: save with bbox_inches="tight" to keep it
    figure.legend(handles, labels, loc="upper center", ncol=2, fontsize=7, bbox_to_anchor=(0.5, 0.0))
    return figure
