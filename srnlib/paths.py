"""Where things live: the repo root is found from the package, never from the current directory.

``SRN_HOME`` overrides the root (useful when ``srnlib`` is installed without the repo next to it).
"""
from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    if os.environ.get("SRN_HOME"):
        return Path(os.environ["SRN_HOME"]).resolve()
    package_parent = Path(__file__).resolve().parent.parent
    if (package_parent / "pyproject.toml").exists():
        return package_parent
    return Path.cwd().resolve()


def _folder(name: str) -> Path:
    path = repo_root() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def figures_dir(profile: str | None = None, seed: int = 0) -> Path:
    """PNG figures the notebooks write, named after the paper's figure or table.

    ``quick`` (the main job) writes to ``figures/``; ``long`` and ``paper`` to their own committed
    ``figures/<profile>/``, so a run of the shipped long models never replaces the quick figures. ``smoke`` runs
    (CI, nbval) write to the git-ignored ``figures/smoke/`` and runs with another ``seed`` than 0 (e.g. ``python -m
    srnlib.run --seeds 3``) to the git-ignored ``figures/seed<k>/`` (``figures/<profile>/seed<k>/`` for long and
    paper), so neither replaces the committed seed-0 figures; ``profile=None`` reads ``$SRN_PROFILE`` like the
    notebooks do.
    """
    from .profiles import resolve

    from ._checks import check_int

    seed = check_int(seed, "seed", 0)
    name = resolve(profile)
    if name == "smoke":
        return _folder("figures/smoke")
    base = "figures" if name == "quick" else f"figures/{name}"
    return _folder(f"{base}/seed{seed}" if seed else base)


def results_dir() -> Path:
    """``<notebook>.<profile>.json`` metrics and the runner's summaries."""
    return _folder("results")


def checkpoints_dir() -> Path:
    """Trained models (git-ignored)."""
    return _folder("checkpoints")


def data_dir() -> Path:
    """Generated dataset caches (git-ignored)."""
    return _folder("data")


def notebooks_dir() -> Path:
    return repo_root() / "notebooks"
