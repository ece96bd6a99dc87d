"""On-disk caches of generated datasets: one ``.npz`` per set of generation parameters, never trusted blindly.

A cache file stores its ``key`` (the generation parameters, as JSON), a SHA-256 ``checksum`` of its arrays, and the
arrays. ``load_arrays`` returns them only when the key, the checksum and the expected shapes all match; anything
else (a truncated or tampered file, another generation's file, an old format) gives a warning and ``None``, so the
caller regenerates. ``save_arrays`` writes a temporary file and renames it, so a kill never leaves half a cache.

Data that are not arrays (CLUTRR's stories) go to a ``.json`` file instead: ``save_json`` writes a JSON object the
caller builds (its ``key``, a ``json_checksum`` of its payload, the payload) atomically, and ``load_json`` returns it
only when its key matches and the caller's ``read`` accepts it (checksum, sizes); otherwise a warning and ``None``.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np


def key_hash(key: dict) -> str:
    """A short stable hash of a cache key (16 hex digits)."""
    return json_checksum(key)[:16]


def json_checksum(payload) -> str:
    """SHA-256 of ``payload`` written as JSON with sorted keys (64 hex digits)."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def checksum(arrays: dict) -> str:
    """SHA-256 over the arrays' names, dtypes, shapes and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def check_not_directory(path: Path, label: str) -> None:
    """A directory where a cache file should be cannot be read, replaced or regenerated: say so, naming it."""
    if Path(path).is_dir():
        raise IsADirectoryError(f"the {label} cache {path} is a directory, not a file; remove or rename that directory "
                                "so the cache can be written")


def load_arrays(path: Path, key: dict, expected_shapes: dict[str, tuple], label: str) -> dict | None:
    """The cached arrays named in ``expected_shapes`` if the file matches ``key``, its checksum and the shapes."""
    path = Path(path)
    check_not_directory(path, label)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            stored_key = json.loads(str(stored["key"]))
            stored_checksum = str(stored["checksum"])
            arrays = {name: stored[name] for name in expected_shapes}
        if stored_key != key:
            raise ValueError(f"cache key {stored_key} does not match {key}")
        if any(arrays[name].shape != tuple(shape) for name, shape in expected_shapes.items()):
            raise ValueError("array shapes do not match the key")
        if stored_checksum != checksum(arrays):
            raise ValueError("checksum mismatch")
        return arrays
    except Exception as error:  # corrupt, truncated, foreign or stale: regenerate, never use
        warnings.warn(f"{label} cache {path.name} is unusable ({error}); regenerating it")
        return None


def save_arrays(path: Path, key: dict, arrays: dict, compress: bool = False) -> None:
    """Write ``arrays`` with their key and checksum atomically (temporary file, then rename)."""
    path = Path(path)
    check_not_directory(path, "data")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + f".{os.getpid()}.tmp.npz")
    save = np.savez_compressed if compress else np.savez
    try:
        save(temporary, key=np.array(json.dumps(key, sort_keys=True)), checksum=np.array(checksum(arrays)), **arrays)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def load_json(path: Path, key: dict, label: str, read):
    """``read(stored)`` for the JSON object in ``path`` if its ``"key"`` equals ``key``, else ``None``.

    ``read`` checks the rest (the checksum, the sizes) and raises on anything wrong. No file gives ``None``; an
    unusable file (not JSON, another key, or ``read`` raised) gives a warning and ``None``, so the caller regenerates.
    """
    path = Path(path)
    check_not_directory(path, label)
    if not path.exists():
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            stored = json.load(handle)
        if stored.get("key") != key:
            raise ValueError(f"cache key {stored.get('key')} does not match {key}")
        return read(stored)
    except Exception as error:  # corrupt, truncated, foreign or stale: regenerate, never use
        warnings.warn(f"{label} cache {path.name} is unusable ({error}); regenerating it")
        return None


def save_json(path: Path, stored: dict, label: str = "data") -> None:
    """Write the JSON object ``stored`` atomically (temporary file, then rename)."""
    path = Path(path)
    check_not_directory(path, label)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + f".{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(stored, handle)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
