"""Write a notebook's headline numbers to ``results/<notebook>.<profile>.json`` with their provenance, and pool
per-seed scores into mean and standard deviation (``mean_and_std``, the one helper every notebook uses for seeds).

A run whose (first) seed is k > 0 (e.g. ``python -m srnlib.run --seeds 3``, or a notebook that pools seeds k, k + 1,
...) writes ``<notebook>.<profile>.seed<k>.json`` instead, so extra seeds never overwrite the main result.
"""
from __future__ import annotations

import json
import math
import os
import platform
from pathlib import Path

import torch

from .paths import results_dir


def hardware() -> str:
    """A one-line description of the machine the numbers came from."""
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (CUDA)"
    return f"{platform.processor() or platform.machine()} CPU, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"


def _check_finite(value, key: str) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _check_finite(v, f"{key}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_finite(v, f"{key}[{i}]")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"result {key} is not finite: {value}")


def mean_and_std(runs: list) -> tuple:
    """Per-seed scores -> (mean, std) with the same nesting. Sample standard deviation (n - 1), 0.0 for one seed.

    runs: one score per seed, each a number or a dict (nested to any depth) of numbers, all with the same keys,
    e.g. ``[{"furthest": 61.0, "count": 35.0}, {"furthest": 63.0, "count": 35.0}]`` ->
    ``({"furthest": 62.0, "count": 35.0}, {"furthest": 1.414..., "count": 0.0})``.
    """
    if not isinstance(runs, (list, tuple)) or not runs:
        raise ValueError(f"runs must be a non-empty list of per-seed scores, got {runs!r}")
    first = runs[0]
    if isinstance(first, dict):
        for i, run in enumerate(runs):
            if not isinstance(run, dict) or set(run) != set(first):
                keys = sorted(run) if isinstance(run, dict) else type(run).__name__
                raise ValueError(f"every seed's scores need the same keys: seed {i} has {keys}, seed 0 {sorted(first)}")
        pooled = {key: mean_and_std([run[key] for run in runs]) for key in first}
        return {key: m for key, (m, _) in pooled.items()}, {key: s for key, (_, s) in pooled.items()}
    if any(isinstance(run, bool) or not isinstance(run, (int, float)) for run in runs):
        raise ValueError(f"scores must be numbers or dicts of numbers, got {[type(run).__name__ for run in runs]}")
    values = torch.tensor([float(run) for run in runs], dtype=torch.float64)
    return float(values.mean()), float(values.std()) if len(values) > 1 else 0.0


def write_results(notebook: str, profile: str, seeds: list[int], wall_seconds: float, **metrics) -> Path:
    """Write the JSON (``profile``, ``seeds``, ``wall_seconds``, ``torch_version``, ``device`` + ``metrics``)."""
    payload = {"notebook": notebook, "profile": profile, "seeds": list(seeds), "wall_seconds": round(wall_seconds, 2),
               "torch_version": torch.__version__, "device": hardware(), **metrics}
    _check_finite(payload, "results")
    seed_suffix = f".seed{seeds[0]}" if seeds and seeds[0] != 0 else ""  # pooled seeds k, k+1, ... too
    path = results_dir() / f"{notebook}.{profile}{seed_suffix}.json"
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    os.replace(temporary, path)
    return path
