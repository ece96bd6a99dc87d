"""Figures shared by the lessons. Every function returns a matplotlib Figure and never calls ``show``."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import torch

from .paths import figures_dir

MODEL_COLOURS = {"continuous": "tab:red", "baseline": "tab:red", "iterative": "tab:blue", "srn": "tab:blue"}


def save(figure, name: str, profile: str | None = None, seed: int = 0) -> Path:
    """Save ``figure`` as ``figures/<name>.png`` (150 dpi) and return the path; ``figures/smoke/`` at smoke and
    ``figures/seed<k>/`` for another seed than 0 (see ``srnlib.paths.figures_dir``)."""
    path = figures_dir(profile, seed) / f"{name}.png"
    figure.savefig(path, dpi=150, bbox_inches="tight")
    return path


def image_strip(images: torch.Tensor, titles: list[str], grid_size: int, points: torch.Tensor | None = None):
    """A row of flat images (k, grid_size**2) with optional true points (k, n, 2) drawn on top."""
    figure, axes = plt.subplots(1, len(images), figsize=(2.0 * len(images), 2.2))
    for i, (axis, image) in enumerate(zip(axes, images)):
        axis.imshow(image.view(grid_size, grid_size), origin="lower", extent=(-1.5, 1.5, -1.5, 1.5), cmap="gray")
        if points is not None:
            axis.scatter(points[i, :, 0], points[i, :, 1], s=12, c=["tab:orange", "tab:green"])
        axis.set_title(titles[i], fontsize=9)
        axis.set_xticks([]), axis.set_yticks([])
    figure.tight_layout()
    return figure


def rotation_figure(sweeps: dict[str, dict], title: str = ""):
    """Theorem 1 along a rotation: for each model, where its output slot 0 points (angle about the pair's
    centre, so the truth is a straight line that wraps) and its Chamfer error per rotation angle."""
    figure, (slot_axis, error_axis) = plt.subplots(2, 1, figsize=(8, 5.5), sharex=True)
    first = next(iter(sweeps.values()))
    centre = first["points"].mean(dim=1)  # (angles, 2)
    truth = torch.rad2deg(torch.atan2(*(first["points"][:, 0] - centre).flip(-1).unbind(-1))) % 360
    slot_axis.plot(first["degrees"], truth, ".", ms=2, color="0.6", label="true point A")
    slot_axis.plot(first["degrees"], (truth + 180) % 360, ".", ms=2, color="0.8", label="true point B")
    for name, sweep in sweeps.items():
        slot = sweep["predicted"][:, 0] - centre
        direction = torch.rad2deg(torch.atan2(slot[:, 1], slot[:, 0])) % 360
        slot_axis.plot(sweep["degrees"], direction, ".", ms=2.5, color=MODEL_COLOURS.get(name), label=f"{name}: slot 0")
        error_axis.plot(sweep["degrees"], sweep["error"], color=MODEL_COLOURS.get(name), label=name)
    slot_axis.set_ylabel("direction of slot 0 (deg)")
    slot_axis.set_yticks([0, 90, 180, 270, 360])
    slot_axis.legend(fontsize=8, markerscale=4, loc="upper left", ncol=2)
    error_axis.set_ylabel("Chamfer error")
    error_axis.set_xlabel("rotation of the pair (degrees)")
    error_axis.set_xticks(range(0, 361, 45))
    error_axis.legend(fontsize=8)
    slot_axis.set_title(title)
    figure.tight_layout()
    return figure


def refinement_panels(images: torch.Tensor, points: torch.Tensor, continuous: torch.Tensor, proposals: torch.Tensor,
                      refined: torch.Tensor, titles: list[str], grid_size: int):
    """One panel per input: the image, the true points (white rings), the continuous model's list (red), the
    iterative model's proposal S0 (light blue) and its refined set S_r (blue), arrows from S0 to S_r.

    images (k, grid_size**2); points, continuous, proposals, refined (k, n, 2).
    """
    figure, axes = plt.subplots(1, len(images), figsize=(2.8 * len(images), 3.0))
    for i, axis in enumerate(axes):
        axis.imshow(images[i].view(grid_size, grid_size), origin="lower", extent=(-1.5, 1.5, -1.5, 1.5), cmap="gray")
        axis.scatter(*points[i].T, s=140, facecolors="none", edgecolors="white", linewidths=1.5, label="truth")
        axis.scatter(*continuous[i].T, s=30, marker="x", color=MODEL_COLOURS["continuous"], label="continuous")
        axis.scatter(*proposals[i].T, s=25, color="lightskyblue", label="S0 (proposal)")
        axis.scatter(*refined[i].T, s=25, color=MODEL_COLOURS["iterative"], label="S_r (refined)")
        for start, end in zip(proposals[i], refined[i]):
            axis.annotate("", xy=end.tolist(), xytext=start.tolist(),
                          arrowprops=dict(arrowstyle="->", color="lightskyblue", lw=1))
        axis.set_title(titles[i], fontsize=9)
        axis.set_xticks([]), axis.set_yticks([])
    axes[-1].legend(fontsize=7, loc="lower right", framealpha=0.8)
    figure.tight_layout()
    return figure
