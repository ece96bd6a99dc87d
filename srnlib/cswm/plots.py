"""Figures and text tables of notebook 04 (C-SWM, Table 3). Every figure function returns a matplotlib Figure and
never calls ``show``.

    stacked_frames(observations, titles)      each observation (C = 6: [frame t+1 | frame t], or C = 3) as its frames
    object_masks(observation, masks)          one observation and, for each model, its K object masks (10x10)
    table3(table, table_std, paper)           H@1 and MRR by prediction steps, one row of panels per game, ± std
    table3_text(table, table_std, paper)      the same numbers as a fixed-width text table
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

MODEL_NAMES = {"cswm": "C-SWM", "srn": "C-SWM+SRN"}
MODEL_COLOURS = {"cswm": "tab:red", "srn": "tab:blue"}
GAME_NAMES = {"pong": "Pong", "space_invaders": "Space Invaders", "shapes": "2D shapes"}
STEPS = ("1", "5", "10")


def model_label(key: str) -> str:
    """"srn_k5" -> "C-SWM+SRN, K=5"."""
    kind, _, objects = key.rpartition("_k")
    if kind not in MODEL_NAMES or not objects.isdigit():
        raise ValueError(f"model keys look like 'cswm_k3' or 'srn_k5', got {key!r}")
    return f"{MODEL_NAMES[kind]}, K={objects}"


def frames_of(observation: torch.Tensor) -> list[np.ndarray]:
    """An observation (C, H, W), uint8 or float in [0, 1], C = 6 or 3 -> its RGB frames (H, W, 3) in [0, 1],
    oldest first (stacked Atari observations hold [frame t+1 | frame t])."""
    if not torch.is_tensor(observation) or observation.dim() != 3 or observation.shape[0] not in (3, 6):
        shape = tuple(observation.shape) if torch.is_tensor(observation) else type(observation).__name__
        raise ValueError(f"observation must be a tensor of shape (6 or 3, height, width), got {shape}")
    picture = observation.float() / 255.0 if observation.dtype == torch.uint8 else observation.float()
    frames = [picture[3:], picture[:3]] if picture.shape[0] == 6 else [picture]
    return [frame.permute(1, 2, 0).clamp(0, 1).cpu().numpy() for frame in frames]


def _blank(axis) -> None:
    axis.set_xticks([])
    axis.set_yticks([])


def stacked_frames(observations, titles: list[str]):
    """One row per observation: its frames side by side (t, then t + 1 for a stacked Atari observation)."""
    if len(observations) != len(titles) or len(observations) == 0:
        raise ValueError(f"need one title per observation (and at least one), got {len(observations)} observations "
                         f"and {len(titles)} titles")
    rows = [frames_of(observation) for observation in observations]
    columns = max(len(row) for row in rows)
    figure, axes = plt.subplots(len(rows), columns, figsize=(2.4 * columns, 2.4 * len(rows)), squeeze=False)
    for r, (row, title) in enumerate(zip(rows, titles)):
        for c, axis in enumerate(axes[r]):
            _blank(axis)
            if c < len(row):
                axis.imshow(row[c], interpolation="nearest")
                label = "frame t" if c == 0 else "frame t+1"
                axis.set_title(f"{title}: {label}" if len(row) > 1 else title, fontsize=9)
            else:
                axis.axis("off")
    figure.tight_layout()
    return figure


def object_masks(observation: torch.Tensor, masks: dict):
    """The observation's newest frame, then one row per model of its K object masks.

    observation (C, 50, 50); masks {model key ("cswm_k3", ...): tensor (K, 10, 10) in [0, 1]}.
    """
    if not masks:
        raise ValueError("masks must name at least one model")
    for key, value in masks.items():
        if not torch.is_tensor(value) or value.dim() != 3:
            raise ValueError(f"masks[{key!r}] must be a tensor of shape (K, height, width)")
    columns = 1 + max(value.shape[0] for value in masks.values())
    figure, axes = plt.subplots(len(masks), columns, figsize=(1.7 * columns, 1.8 * len(masks)), squeeze=False)
    newest = frames_of(observation)[-1]
    for row, (key, value) in zip(axes, masks.items()):
        for axis in row:
            _blank(axis)
        row[0].imshow(newest, interpolation="nearest")
        row[0].set_ylabel(model_label(key), fontsize=8)
        for k, mask in enumerate(value):
            row[1 + k].imshow(mask.detach().cpu().numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            row[1 + k].set_title(f"object {k + 1}", fontsize=8)
        for axis in row[1 + value.shape[0]:]:
            axis.axis("off")
    figure.tight_layout()
    return figure


def _paper_value(paper: dict, game: str, model: str, steps: str, metric: str):
    pair = paper.get(game, {}).get(model, {}).get(steps)
    return None if pair is None else pair[0 if metric == "h1" else 1]


def table3(table: dict, table_std: dict, paper: dict | None = None):
    """Rows: games; columns: H@1, MRR; x: prediction steps; a line per model (± std over seeds); the paper's
    numbers (when it has the game) dotted, in the same colour."""
    paper = paper or {}
    games = list(table)
    if not games:
        raise ValueError("table must hold at least one game")
    figure, axes = plt.subplots(len(games), 2, figsize=(9, 3.2 * len(games)), squeeze=False)
    for row, game in zip(axes, games):
        for axis, metric, name in zip(row, ("h1", "mrr"), ("Hits@1 (%)", "MRR (%)")):
            for model, by_steps in table[game].items():
                kind, _, objects = model.rpartition("_k")
                style = dict(color=MODEL_COLOURS.get(kind), marker="o" if objects == "3" else "s")
                means = [by_steps[s][metric] for s in STEPS]
                stds = [table_std[game][model][s][metric] for s in STEPS]
                axis.errorbar(STEPS, means, yerr=stds, capsize=3, label=f"{model_label(model)} (here)",
                              linestyle="-" if objects == "3" else "--", **style)
                reported = [_paper_value(paper, game, model, s, metric) for s in STEPS]
                if all(v is not None for v in reported):
                    axis.plot(STEPS, reported, linestyle=":", alpha=0.5, **style)
            axis.set_title(f"{GAME_NAMES.get(game, game)}: {name}", fontsize=10)
            axis.set_xlabel("prediction steps")
            axis.set_ylim(0, 100)
            axis.grid(alpha=0.3)
    axes[0, 1].legend(fontsize=7, title="dotted: the paper", title_fontsize=7)
    figure.tight_layout()
    return figure


def table3_text(table: dict, table_std: dict, paper: dict | None = None) -> str:
    """Fixed-width Table 3: game, model, steps, H@1 and MRR here (mean ± std) and in the paper."""
    paper = paper or {}
    lines = [f"{'game':>15} {'model':>18} {'steps':>5} | {'H@1 here':>12} {'MRR here':>12} | {'H@1 paper':>9} "
             f"{'MRR paper':>9}"]
    for game, models in table.items():
        for model, by_steps in models.items():
            for steps, scores in by_steps.items():
                spread = table_std[game][model][steps]
                here = [f"{scores[m]:5.1f} ± {spread[m]:4.1f}" for m in ("h1", "mrr")]
                there = [_paper_value(paper, game, model, steps, m) for m in ("h1", "mrr")]
                there = ["–" if v is None else f"{v:.1f}" for v in there]
                lines.append(f"{game:>15} {model_label(model):>18} {steps:>5} | {here[0]:>12} {here[1]:>12} | "
                             f"{there[0]:>9} {there[1]:>9}")
    return "\n".join(lines)
