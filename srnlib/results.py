"""Write a notebook's headline numbers to ``results/<notebook>.<profile>.json`` with their provenance.

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
