"""Shipped checkpoints: finished training runs committed to the repository, so a reader need not retrain them.

A shipped checkpoint lives at ``shipped/<experiment>/<name>.<profile>.seed<seed>.<settings hash>.pt`` (the same
file name ``srnlib.train.checkpoint_path`` gives under ``checkpoints/``) with a manifest beside it,
``<same name>.json``, that says what it is: the command that trained it, the git commit, the settings and their
hash, the epochs and optimizer steps, the training seconds, the file's sha256 and the metrics the caller measured.

There is one load-or-train mechanism, ``srnlib.train.fit``: when a shipped checkpoint exists for the checkpoint
path it is given (same experiment, profile, seed, settings hash and name), ``fit`` loads it, after checking it
against its manifest, instead of training; ``retrain=True`` trains anyway (into ``checkpoints/``). A shipped file
that does not match its manifest or the settings is never loaded: ``load_shipped`` raises a ``ValueError`` that
names it.

    python -m srnlib.shipped ship checkpoints/circles/srn.quick.seed0.<hash>.pt --command "..." --metric f1=0.9
    python -m srnlib.shipped verify          # check every manifest under shipped/ (exit status 1 on a problem)
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import torch

from .paths import repo_root
from .profiles import PROFILES, settings_hash
from .train import CHECKPOINT_FORMAT, changed_settings, checkpoint_path, checkpoint_problem, rekey_checkpoint

MAX_BYTES = 10 * 1024 * 1024  # a shipped checkpoint is committed to git: 10 MB at most
MANIFEST_VERSION = 1
_NAME = re.compile(r"^(?P<name>[^.]+)\.(?P<profile>[^.]+)\.seed(?P<seed>\d+)\.(?P<hash>[0-9a-f]+)\.pt$")


def shipped_dir() -> Path:
    """``<repo>/shipped`` (tracked by git; not created by looking it up)."""
    return repo_root() / "shipped"


def shipped_path(checkpoint: str | os.PathLike) -> Path:
    """Where the shipped copy of a ``checkpoint_path`` lives: ``shipped/<experiment>/<file name>``."""
    checkpoint = Path(checkpoint)
    return shipped_dir() / checkpoint.parent.name / checkpoint.name


def manifest_path(path: str | os.PathLike) -> Path:
    """``<name>.json`` beside the shipped ``<name>.pt``."""
    return Path(path).with_suffix(".json")


def find_shipped(checkpoint: str | os.PathLike) -> Path | None:
    """The shipped checkpoint for this checkpoint path, or None when none was shipped (or it has no manifest)."""
    path = shipped_path(checkpoint)
    return path if path.is_file() or manifest_path(path).is_file() else None


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_commit() -> tuple[str | None, bool | None]:
    """(HEAD's commit, whether the working tree has changes), or (None, None) outside a git checkout."""
    def run(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo_root(), capture_output=True, text=True, timeout=30,
                              check=True).stdout

    try:
        return run("rev-parse", "HEAD").strip(), bool(run("status", "--porcelain", "--untracked-files=no").strip())
    except (OSError, subprocess.SubprocessError):
        return None, None


def _write_atomic(data: bytes, path: Path) -> None:
    temporary = path.with_name(path.name + f".{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def _load(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"checkpoint {path} is unreadable ({str(error).splitlines()[0] if str(error) else error!r})")


def ship(checkpoint: str | os.PathLike, *, command: str, metrics: dict, settings: dict | None = None,
         cpu_seconds: float | None = None, steps: int | None = None, overwrite: bool = False,
         rekeyed_from: dict | None = None) -> Path:
    """Copy a finished training checkpoint to ``shipped/<experiment>/`` with its manifest; returns the copy's path.

    Args:
        checkpoint: a finished checkpoint written by ``fit`` (its file name as ``checkpoint_path`` makes it).
        command: the command line that trained it (so anyone can train it again).
        metrics: ``{name: number}`` the caller measured with it (e.g. the notebook's headline numbers).
        settings: when given, must hash to the checkpoint's settings hash (a check that the right file is shipped).
        cpu_seconds: training seconds; default: the sum of the history's per-epoch ``seconds``.
        steps: optimizer steps; default: the sum of the history's per-epoch ``optimizer_steps`` (None if not recorded).
        overwrite: replace an already shipped checkpoint of the same name.
        rekeyed_from: ``reship``'s record of the shipped file this one was re-keyed from (None: trained as named).
    """
    source = Path(checkpoint)
    if not isinstance(command, str) or not command.strip():
        raise ValueError(f"command must be the command line that trained {source.name}, got {command!r}")
    if not isinstance(metrics, dict) or not all(isinstance(k, str) for k in metrics):
        raise TypeError(f"metrics must be a dict with string keys, got {type(metrics).__name__}")
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"metrics[{key!r}] must be a finite number, got {value!r}")
    if not source.is_file():
        raise FileNotFoundError(f"no checkpoint at {source}")
    size = source.stat().st_size
    if size > MAX_BYTES:
        raise ValueError(f"checkpoint {source} is {size / 2**20:.1f} MB; a shipped checkpoint is committed to git and "
                         f"may be at most {MAX_BYTES / 2**20:.0f} MB (ship a smaller model or host it elsewhere)")
    match = _NAME.match(source.name)
    if match is None:
        raise ValueError(f"checkpoint {source} is not named like checkpoint_path() names checkpoints "
                         "(<name>.<profile>.seed<seed>.<settings hash>.pt)")
    state = _load(source)
    problem = checkpoint_problem(state, settings)
    if problem is not None:
        raise ValueError(f"checkpoint {source} {problem}; not shipped")
    if state["settings_hash"] is None or state["settings"] is None:
        raise ValueError(f"checkpoint {source} does not record its settings (train it with fit(settings=...))")
    if state["settings_hash"] != match["hash"]:
        raise ValueError(f"checkpoint {source} has settings hash {state['settings_hash']} but its name says "
                         f"{match['hash']}")
    if state["epoch"] < state["epochs"]:
        raise ValueError(f"checkpoint {source} is unfinished (epoch {state['epoch']} of {state['epochs']}); "
                         "finish training before shipping it")
    history = state["history"]
    if cpu_seconds is None:
        cpu_seconds = float(sum(record.get("seconds", 0.0) for record in history))
    if steps is None and history and all("optimizer_steps" in record for record in history):
        steps = int(sum(record["optimizer_steps"] for record in history))
    commit, dirty = git_commit()
    target = shipped_dir() / source.parent.name / source.name
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} is already shipped; pass overwrite=True (--overwrite) to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(target.name + f".{os.getpid()}.tmp")
    shutil.copyfile(source, temporary)
    digest = sha256_of(temporary)
    manifest = {
        "manifest_version": MANIFEST_VERSION, "file": target.name, "experiment": source.parent.name,
        "name": match["name"], "profile": match["profile"], "seed": int(match["seed"]),
        "command": command, "git_commit": commit, "git_dirty": dirty,
        "checkpoint_format": CHECKPOINT_FORMAT, "settings_hash": state["settings_hash"],
        "settings": json.loads(state["settings"]), "epochs": int(state["epoch"]), "optimizer_steps": steps,
        "cpu_seconds": float(cpu_seconds), "torch_version": torch.__version__,
        "bytes": size, "sha256": digest, "metrics": dict(metrics),
    }
    if rekeyed_from is not None:
        manifest["rekeyed_from"] = dict(rekeyed_from)
    _write_atomic((json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode(), manifest_path(target))
    os.replace(temporary, target)
    return target


def add_worker_arguments(parser) -> None:
    """``--worker`` and ``--workers`` for a script whose training jobs several processes share round-robin."""
    parser.add_argument("--worker", type=int, default=0, help="this process's index, 0 .. --workers - 1")
    parser.add_argument("--workers", type=int, default=1, help="how many processes share the jobs")


def add_long_run_arguments(parser) -> None:
    """The arguments every long-training script shares: ``--profile`` (default long), ``--worker`` / ``--workers``,
    ``--no-ship`` (train only) and ``--table`` (only print the shipped models' numbers)."""
    parser.add_argument("--profile", default="long", choices=PROFILES)
    add_worker_arguments(parser)
    parser.add_argument("--no-ship", action="store_true", help="train only")
    parser.add_argument("--table", action="store_true", help="only print the shipped models' numbers (markdown)")


def parsed_share(parser, args, jobs: list) -> list:
    """``worker_share`` of the parsed ``--worker`` / ``--workers``; a bad index is the parser's usage error."""
    try:
        return worker_share(jobs, args.worker, args.workers)
    except ValueError as error:
        parser.error(str(error))


def worker_flags(args) -> str:
    """``--worker W --workers N`` as parsed: the part of a shipped model's command that names its process."""
    return f"--worker {args.worker} --workers {args.workers}"


def worker_share(jobs: list, worker: int, workers: int) -> list:
    """The jobs of process ``worker`` of ``workers``: every ``workers``-th job from the ``worker``-th on."""
    if not isinstance(workers, int) or workers < 1 or not isinstance(worker, int) or not 0 <= worker < workers:
        raise ValueError(f"--worker must be in 0 .. --workers - 1 and --workers >= 1, got --worker {worker!r} "
                         f"--workers {workers!r}")
    return list(jobs)[worker::workers]


def reship(path: str | os.PathLike, settings: dict, unread: tuple[str, ...]) -> Path:
    """Ship the shipped checkpoint ``path`` again keyed to ``settings``, which may differ from its settings only in
    ``unread``, top-level settings its training never reads (``srnlib.train.rekey_checkpoint``; e.g. a baseline
    after a change of the refiner's settings). The weights stay the same; the new manifest keeps the old one's
    command, metrics, epochs, steps and CPU-seconds and adds ``rekeyed_from`` (the old file, its sha256, settings
    hash and commit, and the settings that changed). The old file and its manifest are removed. -> the new path."""
    path = Path(path)
    load_shipped(path)  # the old file must verify before anything is written
    manifest = read_manifest(path)
    if settings_hash(dict(settings)) == manifest["settings_hash"]:
        raise ValueError(f"shipped checkpoint {path} is already keyed to these settings")
    working = checkpoint_path(manifest["experiment"], manifest["profile"], manifest["seed"], settings,
                              name=manifest["name"])
    rekey_checkpoint(path, settings, working, unread)
    record = {"file": path.name, "sha256": manifest["sha256"], "settings_hash": manifest["settings_hash"],
              "git_commit": manifest.get("git_commit"),
              "changed_settings": changed_settings(manifest["settings"], settings)}
    target = ship(working, command=manifest["command"], metrics=manifest["metrics"], settings=settings,
                  cpu_seconds=manifest["cpu_seconds"], steps=manifest.get("optimizer_steps"), rekeyed_from=record)
    path.unlink()
    manifest_path(path).unlink()
    return target


def shipped_manifests(checkpoints: dict) -> tuple[dict, int]:
    """For a long-training script's table: ``checkpoints`` {job: its checkpoint path} -> ({job: manifest} of the
    jobs shipped so far, in the given order, and how many jobs are not shipped yet)."""
    found = {job: find_shipped(path) for job, path in checkpoints.items()}
    return ({job: read_manifest(path) for job, path in found.items() if path is not None},
            sum(path is None for path in found.values()))


def read_manifest(path: str | os.PathLike) -> dict:
    """The manifest of a shipped checkpoint; ValueError naming the file when it is missing or malformed."""
    manifest = manifest_path(path)
    if not manifest.is_file():
        raise ValueError(f"shipped checkpoint {path} has no manifest {manifest.name}")
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"manifest {manifest} is unreadable ({error})") from None
    required = ("file", "sha256", "settings_hash", "settings", "command", "metrics", "epochs", "cpu_seconds")
    missing = [key for key in required if not isinstance(data, dict) or key not in data]
    if missing:
        raise ValueError(f"manifest {manifest} is missing {', '.join(missing)}")
    return data


def load_shipped(path: str | os.PathLike, settings: dict | None = None) -> dict:
    """Load a shipped checkpoint (``weights_only=True``) after checking it against its manifest.

    Raises ``ValueError`` naming the file when the manifest is missing, the file's sha256 or its settings hash
    differs from the manifest, ``settings`` (when given) hash to something else, or the checkpoint is unusable.
    """
    path = Path(path)
    manifest = read_manifest(path)
    if not path.is_file():
        raise ValueError(f"shipped checkpoint {path} is missing (its manifest {manifest_path(path).name} is there)")
    if manifest["file"] != path.name:
        raise ValueError(f"manifest {manifest_path(path)} describes {manifest['file']!r}, not {path.name!r}")
    digest = sha256_of(path)
    if digest != manifest["sha256"]:
        raise ValueError(f"shipped checkpoint {path} has sha256 {digest[:12]}..., its manifest says "
                         f"{str(manifest['sha256'])[:12]}...: the file was changed or damaged; ship it again or "
                         "retrain (retrain=True)")
    if settings_hash(manifest["settings"]) != manifest["settings_hash"]:
        raise ValueError(f"manifest {manifest_path(path)} has settings that do not hash to its settings_hash")
    if settings is not None and settings_hash(dict(settings)) != manifest["settings_hash"]:
        raise ValueError(f"shipped checkpoint {path} was trained with settings hash {manifest['settings_hash']}, "
                         f"these settings hash to {settings_hash(dict(settings))}")
    state = _load(path)
    problem = checkpoint_problem(state, manifest["settings"])
    if problem is not None:
        raise ValueError(f"shipped checkpoint {path} {problem}")
    if state["epoch"] < state["epochs"]:
        raise ValueError(f"shipped checkpoint {path} is unfinished (epoch {state['epoch']} of {state['epochs']})")
    return state


def shipped_checkpoints(root: str | os.PathLike | None = None) -> list[Path]:
    """Every shipped checkpoint (each ``*.pt`` and each manifest's ``*.pt``) under ``root`` (default shipped/)."""
    root = Path(root) if root is not None else shipped_dir()
    if not root.is_dir():
        return []
    found = {p for p in root.glob("*/*.pt")} | {p.with_suffix(".pt") for p in root.glob("*/*.json")}
    return sorted(found)


def experiment_checkpoints(experiment: str, root: str | os.PathLike | None = None) -> list[tuple[Path, dict]]:
    """``(path, manifest)`` of every shipped checkpoint whose manifest names ``experiment``, under ``root``."""
    pairs = [(path, read_manifest(path)) for path in shipped_checkpoints(root)]
    return [(path, manifest) for path, manifest in pairs if manifest["experiment"] == experiment]


def verify(root: str | os.PathLike | None = None) -> dict[Path, str | None]:
    """{shipped checkpoint: None when it verifies and loads, else the problem}."""
    results = {}
    for path in shipped_checkpoints(root):
        try:
            load_shipped(path)
            results[path] = None
        except ValueError as error:
            results[path] = str(error)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m srnlib.shipped", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="action", required=True)
    check = commands.add_parser("verify", help="check every shipped checkpoint against its manifest")
    check.add_argument("--root", default=None, help="folder of shipped checkpoints (default: <repo>/shipped)")
    add = commands.add_parser("ship", help="copy a finished checkpoint to shipped/ with its manifest")
    add.add_argument("checkpoint")
    add.add_argument("--command", required=True, help="the command line that trained it")
    add.add_argument("--metric", action="append", default=[], metavar="NAME=NUMBER")
    add.add_argument("--cpu-seconds", type=float, default=None)
    add.add_argument("--steps", type=int, default=None)
    add.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    if args.action == "verify":
        results = verify(args.root)
        for path, problem in results.items():
            print(f"{'ok  ' if problem is None else 'FAIL'} {path}" + ("" if problem is None else f": {problem}"))
        bad = sum(problem is not None for problem in results.values())
        print(f"{len(results)} shipped checkpoint(s), {bad} with problems")
        return 1 if bad else 0
    metrics = {}
    for item in args.metric:
        key, sep, value = item.partition("=")
        try:
            metrics[key] = float(value)
        except ValueError:
            sep = ""
        if not sep or not key:
            parser.error(f"--metric must be NAME=NUMBER, got {item!r}")
    try:
        target = ship(args.checkpoint, command=args.command, metrics=metrics, cpu_seconds=args.cpu_seconds,
                      steps=args.steps, overwrite=args.overwrite)
    except (ValueError, TypeError, FileNotFoundError, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"shipped {target} (manifest {manifest_path(target).name})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
