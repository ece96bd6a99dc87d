"""Figures of notebook 05 (CLUTRR). Every function returns a matplotlib Figure and never calls ``show``.

    family_tree(story)                       the story's family: generations as rows, marriages, parent-child lines,
                                             the chain of the story in bold, the queried pair highlighted
    accuracy_by_k(accuracy_by_k, paper)      grouped bars: each model's test accuracy for k = 2, 3, 4 (+ the paper's)
    refined_graph(inside)                    the GRN's refined edge weights over the set (sentences + padding)
    refined_set(inside)                      the SRN's elements' norms before (S0) and after refinement
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .kinship import MALE
from .models import MODEL_NAMES
from .stories import Story

MODEL_COLOURS = {"rn": "tab:red", "rn_srn": "tab:blue", "rn_grn": "tab:green"}


def tree_layout(tree) -> dict[int, tuple[float, float]]:
    """Person -> (x, y): generation g on row y = -g; couples side by side, children centred under their parents."""
    positions: dict[int, tuple[float, float]] = {}
    placed: set[int] = set()
    column = [0.0]

    def place(person: int, generation: int) -> None:
        if person in placed:
            return
        children = [c for c in tree.children(person)]
        partner = tree.spouse[person]
        if children:
            for child in children:
                place(child, generation + 1)
            middle = float(np.mean([positions[c][0] for c in children]))
        else:
            middle = column[0] + (0.5 if partner >= 0 else 0.0)
            column[0] += 2.0 if partner >= 0 else 1.0
        if partner >= 0 and partner not in placed:
            positions[person] = (middle - 0.5, -generation)
            positions[partner] = (middle + 0.5, -generation)
            placed.update((person, partner))
        else:
            positions[person] = (middle, -generation)
            placed.add(person)

    roots = [p for p in range(len(tree)) if tree.generations[p] == 0 and tree.genders[p] == MALE] or [0]
    for root in roots:
        place(root, 0)
    for person in range(len(tree)):  # anyone the walk missed (never in generated trees)
        if person not in placed:
            positions[person] = (column[0], -tree.generations[person])
            column[0] += 1.0
            placed.add(person)
    return positions


def family_tree(story: Story, axis=None):
    """Draw ``story.tree``: men as squares, women as circles; marriages as double lines, parent-child lines from
    the couple's midpoint; the people in the story in colour, the story's chain in bold orange, the queried pair
    (A, B) ringed with the answer "B is A's <target>" in the title."""
    if story.tree is None:
        raise ValueError("this story has no family tree (loaded from CSV?)")
    tree = story.tree
    position = tree_layout(tree)
    if axis is None:
        figure, axis = plt.subplots(figsize=(max(5.0, 0.9 * len(tree)), 3.6))
    else:
        figure = axis.figure
    for person in range(len(tree)):
        partner = tree.spouse[person]
        if partner > person:
            (x0, y0), (x1, y1) = position[person], position[partner]
            axis.plot([x0, x1], [y0 + 0.03, y1 + 0.03], color="0.5", lw=1)
            axis.plot([x0, x1], [y0 - 0.03, y1 - 0.03], color="0.5", lw=1)
    for child in range(len(tree)):
        parents = tree.parents(child)
        if parents:
            top = np.mean([position[p] for p in parents], axis=0)
            x, y = position[child]
            axis.plot([top[0], top[0], x, x], [top[1], (top[1] + y) / 2, (top[1] + y) / 2, y], color="0.7", lw=1)
    path = [tree.index(name) for name in story.path]
    for first, second in zip(path, path[1:]):
        (x0, y0), (x1, y1) = position[first], position[second]
        axis.annotate("", xy=(x1, y1), xytext=(x0, y0),
                      arrowprops=dict(arrowstyle="->", color="tab:orange", lw=2.5, shrinkA=12, shrinkB=12))
    asked = {tree.index(name) for name in story.query}
    in_story = set(path)
    for person in range(len(tree)):
        x, y = position[person]
        colour = "tab:blue" if tree.genders[person] == MALE else "tab:pink"
        axis.scatter([x], [y], s=420, marker="s" if tree.genders[person] == MALE else "o",
                     color=colour if person in in_story else "white", edgecolors=colour, linewidths=1.5, zorder=3)
        if person in asked:
            axis.scatter([x], [y], s=900, facecolors="none", edgecolors="tab:orange", linewidths=2.5, zorder=4)
        axis.text(x, y - 0.28, tree.names[person], ha="center", va="top", fontsize=8,
                  fontweight="bold" if person in asked else "normal")
    first, last = story.query
    axis.set_title(f"k = {story.k}: {last} is {first}'s {story.target}", fontsize=10)
    xs = [x for x, _ in position.values()]
    axis.set_xlim(min(xs) - 0.8, max(xs) + 0.8)
    axis.set_ylim(-max(tree.generations) - 0.7, 0.5)
    axis.set_yticks([-g for g in range(max(tree.generations) + 1)])
    axis.set_yticklabels([f"generation {g}" for g in range(max(tree.generations) + 1)], fontsize=8)
    axis.set_xticks([])
    for side in ("top", "right", "bottom"):
        axis.spines[side].set_visible(False)
    return figure


def accuracy_by_k(accuracy_by_k: dict[str, dict[str, float]], paper: dict[str, float] | None = None):
    """Grouped bars: accuracy (%) of each model for each k; the paper's average per model as a dashed line."""
    kinds = list(accuracy_by_k)
    ks = sorted({k for by_k in accuracy_by_k.values() for k in by_k}, key=int)
    figure, axis = plt.subplots(figsize=(1.6 + 1.4 * len(ks), 3.4))
    width = 0.8 / max(len(kinds), 1)
    for i, kind in enumerate(kinds):
        xs = np.arange(len(ks)) + (i - (len(kinds) - 1) / 2) * width
        values = [accuracy_by_k[kind].get(k, np.nan) for k in ks]
        axis.bar(xs, values, width, color=MODEL_COLOURS.get(kind), label=MODEL_NAMES.get(kind, kind))
        if paper is not None and kind in paper:
            axis.axhline(paper[kind], color=MODEL_COLOURS.get(kind), ls="--", lw=1)
    axis.set_xticks(np.arange(len(ks)))
    axis.set_xticklabels([f"k = {k}" for k in ks])
    axis.set_ylabel("test accuracy (%)")
    axis.set_ylim(0, 100)
    title = "accuracy by chain length k"
    axis.set_title(title + (" (dashed: paper's average over k = 2, 3, 4)" if paper else ""), fontsize=9)
    axis.legend(fontsize=8, loc="upper right")
    figure.tight_layout()
    return figure


def _slot_labels(size: int, sentences: int) -> list[str]:
    return [f"s{i + 1}" if i < sentences else "pad" for i in range(size)]


def refined_graph(inside: dict, title: str = ""):
    """Left: the GRN's refined edge weights (sender j -> receiver i) over the set's elements; the first
    ``inside["sentences"]`` are the story's sentences, the rest zero padding. Right: the inner loss per step."""
    edges = inside["edges"].detach().cpu().numpy()
    labels = _slot_labels(edges.shape[0], inside["sentences"])
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8), gridspec_kw={"width_ratios": [1.4, 1]})
    shown = edges.copy()
    np.fill_diagonal(shown, np.nan)  # no self-loops: drawn blank
    limit = max(float(np.nanmax(np.abs(shown - 1))), 1e-6)
    image = left.imshow(np.ma.masked_invalid(shown), cmap="RdBu_r", vmin=1 - limit, vmax=1 + limit)
    left.set_xticks(range(len(labels)))
    left.set_xticklabels(labels, rotation=90, fontsize=7)
    left.set_yticks(range(len(labels)))
    left.set_yticklabels(labels, fontsize=7)
    left.set_xlabel("sender j")
    left.set_ylabel("receiver i")
    left.set_title("refined edge weights (start: 1; no self-loops)", fontsize=9)
    figure.colorbar(image, ax=left, fraction=0.046)
    _inner_loss(right, inside["inner_loss"])
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def refined_set(inside: dict, title: str = ""):
    """Left: each element's norm in S0 (the padded sentence embeddings) and after refinement; the padding starts at
    zero, so any norm it gains is made up by the refiner. Right: the inner loss per step."""
    before = inside["S0"].detach().norm(dim=1).cpu().numpy()
    after = inside["refined"].detach().norm(dim=1).cpu().numpy()
    labels = _slot_labels(len(before), inside["sentences"])
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4), gridspec_kw={"width_ratios": [1.4, 1]})
    xs = np.arange(len(before))
    left.bar(xs - 0.2, before, 0.4, color="lightskyblue", label="S0 (sentences, zero padding)")
    left.bar(xs + 0.2, after, 0.4, color="tab:blue", label="refined set")
    left.set_xticks(xs)
    left.set_xticklabels(labels, fontsize=7, rotation=90)
    left.set_ylabel("element norm")
    left.legend(fontsize=7)
    left.set_title("what the SRN does to each element", fontsize=9)
    _inner_loss(right, inside["inner_loss"])
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def _inner_loss(axis, losses) -> None:
    axis.plot(range(len(losses)), losses, "o-", color="0.3")
    axis.set_xlabel("inner step")
    axis.set_ylabel("||H_agg(S) - z||²")
    axis.set_title("inner loss", fontsize=9)
