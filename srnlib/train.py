"""The one training loop every experiment uses (and its command line, for torchrun).

``fit`` trains a model for a number of epochs with explicit seeds, shows progress with ``tqdm.auto``, writes a
checkpoint after every epoch atomically (temporary file, then rename) and, when called again with the same
checkpoint path, resumes after the last finished epoch. A finished checkpoint means "load, don't train", which is
how notebooks get their cached models. Resuming gives the same weights as an uninterrupted run: each epoch's
shuffle order is seeded by ``(seed, epoch)`` and the torch RNG state is saved with the weights.

Distributed data parallel: when ``torch.distributed`` is initialised (e.g. under ``torchrun``), ``fit`` wraps the
model in ``DistributedDataParallel``, gives every rank its share of each epoch (``DistributedSampler``), and only
rank 0 writes checkpoints. To train an experiment's models at the ``paper`` profile on several processes or GPUs::

    torchrun --nproc-per-node 4 -m srnlib.train_cli --experiment responsibility --profile paper

The finished checkpoints are the ones the notebooks load (same experiment, profile, seed and settings).

A checkpoint knows what it is: it stores the code's ``CHECKPOINT_FORMAT``, the hash of the settings it was trained
with (``fit(..., settings=cfg)``) and a sha256 of its weights. On load, a file that is unreadable, of another
format, of other settings, missing a key, with weights that do not match their digest, or with a model or optimizer
state that does not fit, is set aside (renamed ``<name>.corrupt``, with a warning that names it) and training
starts from the model's and optimizer's state as they were before the load was tried, never from a half-loaded one.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import random
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm.auto import tqdm

from ._checks import check_positive
from .paths import checkpoints_dir
from .profiles import settings_hash

# 2: adds settings_hash, settings (JSON text) and weights_sha256; format-1 files are set aside and retrained.
CHECKPOINT_FORMAT = 2
CHECKPOINT_KEYS = ("format", "epoch", "epochs", "model", "optimizer", "torch_rng", "history", "best",
                   "settings_hash", "settings", "weights_sha256")


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (for model initialisation and dropout)."""
    check_positive(seed, "seed", integer=True, allow_zero=True)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def default_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else CUDA when present (this process's GPU under torchrun), else CPU."""
    if device is not None:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)) if is_distributed() else 0)
    return torch.device("cpu")


def init_distributed() -> bool:
    """Join the process group torchrun describes (nccl on GPUs, gloo on CPUs); False when not under torchrun."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return False
    if not is_distributed():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group(backend=backend)
    return True


def cosine_lr(optimizer: torch.optim.Optimizer, epochs: int) -> Callable[[torch.nn.Module, int], None]:
    """An ``on_epoch_start`` hook that anneals every group's learning rate from its initial value to 0 (cosine).

    The rate is a function of the epoch alone, so a resumed run follows the same schedule.
    """
    initial = [group.get("initial_lr", group["lr"]) for group in optimizer.param_groups]
    for group, lr in zip(optimizer.param_groups, initial):
        group["initial_lr"] = lr

    def hook(model: torch.nn.Module, epoch: int) -> None:
        for group, lr in zip(optimizer.param_groups, initial):
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * epoch / epochs))

    return hook


def checkpoint_path(experiment: str, profile: str, seed: int, settings: dict, name: str = "model") -> Path:
    """``checkpoints/<experiment>/<name>.<profile>.seed<seed>.<settings hash>.pt``."""
    folder = checkpoints_dir() / experiment
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.{profile}.seed{seed}.{settings_hash(dict(settings))}.pt"


def save_atomic(state: dict, path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename: a kill never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + f".{os.getpid()}.tmp")
    torch.save(state, temporary)
    os.replace(temporary, path)


def weights_digest(model_state: dict) -> str:
    """sha256 of a state dict's names, dtypes, shapes and bytes (in order): a flipped byte changes it."""
    digest = hashlib.sha256()
    for key, value in model_state.items():
        digest.update(str(key).encode())
        if torch.is_tensor(value):
            value = value.detach().cpu().contiguous()
            digest.update(f"{value.dtype}{tuple(value.shape)}".encode())
            digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
        else:
            digest.update(repr(value).encode())
    return digest.hexdigest()


def settings_text(settings: dict | None) -> str | None:
    """The settings as sorted JSON text (what a checkpoint stores beside their hash), or None."""
    return None if settings is None else json.dumps(dict(settings), sort_keys=True, default=str)


def checkpoint_problem(state, settings: dict | None = None) -> str | None:
    """Why ``state`` (a loaded checkpoint) cannot be used with ``settings``, or None when it can."""
    if not isinstance(state, dict):
        return f"is not a srnlib checkpoint (a {type(state).__name__}, not a dict)"
    if state.get("format") != CHECKPOINT_FORMAT:
        return f"has checkpoint format {state.get('format')!r}, this code writes format {CHECKPOINT_FORMAT}"
    missing = [key for key in CHECKPOINT_KEYS if key not in state]
    if missing:
        return f"is missing {', '.join(missing)}"
    if settings is not None and state["settings_hash"] != settings_hash(dict(settings)):
        return (f"was trained with other settings (hash {state['settings_hash']}, these settings hash to "
                f"{settings_hash(dict(settings))})")
    if not isinstance(state["model"], dict) or weights_digest(state["model"]) != state["weights_sha256"]:
        return "has weights that do not match their sha256 (the file was changed or damaged)"
    return None


def load_checkpoint(path: str | os.PathLike, settings: dict | None = None) -> dict | None:
    """Load a checkpoint with ``weights_only=True``; a missing one gives None, and one that is unreadable, of another
    format or (when ``settings`` is given) of other settings, missing a key or with damaged weights is set aside
    (with a warning naming it) and gives None."""
    path = Path(path)
    if not path.exists():
        return None
    if path.is_dir():
        raise IsADirectoryError(f"checkpoint {path} is a directory; remove or rename it so a checkpoint can be written")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # unreadable, truncated or foreign: never use it, keep it for inspection
        _set_aside(path, f"is unreadable ({str(error).splitlines()[0] if str(error) else type(error).__name__})")
        return None
    problem = checkpoint_problem(state, settings)
    if problem is not None:
        _set_aside(path, problem)
        return None
    return state


def extend_checkpoint(source: str | os.PathLike, settings: dict, destination: str | os.PathLike) -> Path:
    """Continue a finished run for more epochs: write checkpoint ``source`` to ``destination`` keyed to ``settings``,
    which must be the source's settings with a larger ``epochs`` and nothing else changed. ``fit`` with ``settings``
    then resumes after the source's last epoch; since every epoch's order is seeded by (seed, epoch) and the RNG
    state is restored, that is the run ``settings`` would have trained from the start, *if* no part of training
    depends on the total number of epochs (a constant learning rate, not ``cosine_lr``): the caller must know that.
    A damaged source, other changed settings or no extra epochs are a ``ValueError``; -> ``destination``."""
    state, new = _checkpoint_and_settings(source, settings, may_differ=("epochs",))
    if not isinstance(new.get("epochs"), int) or new["epochs"] <= state["epoch"]:
        raise ValueError(f"settings['epochs'] must exceed the {state['epoch']} epochs {source} has trained, "
                         f"got {new.get('epochs')!r}")
    state.update(epochs=new["epochs"], settings_hash=settings_hash(dict(settings)), settings=settings_text(settings))
    save_atomic(state, destination)
    return Path(destination)


def rekey_checkpoint(source: str | os.PathLike, settings: dict, destination: str | os.PathLike,
                     unread: tuple[str, ...]) -> Path:
    """Write checkpoint ``source`` to ``destination`` keyed to ``settings``, which may differ from the source's
    settings only in the top-level keys ``unread``: settings this model's training never reads (a baseline reads no
    refiner setting). The weights, history and optimizer state are the source's, which is what training under
    ``settings`` gives; the caller must know that the keys are unread (test it: train with them changed and compare
    the weights). A damaged source or any other changed setting is a ``ValueError``; -> ``destination``."""
    if not isinstance(unread, (tuple, list)) or not all(isinstance(key, str) for key in unread):
        raise TypeError(f"unread must be a tuple of setting names, got {unread!r}")
    if "epochs" in unread:
        raise ValueError("unread must not name 'epochs': more epochs are extend_checkpoint's job")
    state, _ = _checkpoint_and_settings(source, settings, may_differ=tuple(unread))
    state.update(settings_hash=settings_hash(dict(settings)), settings=settings_text(settings))
    save_atomic(state, destination)
    return Path(destination)


def changed_settings(old: dict, new: dict) -> list[str]:
    """The top-level settings whose values differ between ``old`` and ``new`` (compared as stored), sorted."""
    old, new = json.loads(settings_text(old)), json.loads(settings_text(new))
    return sorted(key for key in set(old) | set(new) if old.get(key) != new.get(key))


def _checkpoint_and_settings(source, settings: dict, may_differ: tuple[str, ...]) -> tuple[dict, dict]:
    """Load checkpoint ``source`` (refusing a damaged one) and check that ``settings`` differ from the ones it was
    trained with only in the keys ``may_differ`` -> (state, settings as stored)."""
    state = torch.load(source, map_location="cpu", weights_only=True)
    problem = checkpoint_problem(state)
    if problem is not None:
        raise ValueError(f"source checkpoint {source} {problem}")
    old, new = json.loads(state["settings"] or "{}"), json.loads(settings_text(settings))
    changed = [key for key in changed_settings(old, new) if key not in may_differ]
    if changed or "epochs" not in new:
        raise ValueError(f"settings may differ from {source}'s only in {', '.join(map(repr, may_differ))}; these "
                         f"differ: {', '.join(changed) or 'epochs (missing)'}")
    return state, new


def _set_aside(path: Path, reason: str) -> None:
    aside = path.with_name(path.name + ".corrupt")
    os.replace(path, aside)
    warnings.warn(f"checkpoint {path} {reason}; moved to {aside.name} and training from scratch")


def to_device(batch, device: torch.device):
    """Move a tensor, or a tuple/list/dict of tensors, to ``device``."""
    if torch.is_tensor(batch):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(item, device) for item in batch)
    if isinstance(batch, dict):
        return {key: to_device(value, device) for key, value in batch.items()}
    return batch


def fit(model: torch.nn.Module, optimizer: torch.optim.Optimizer, train_data: Dataset,
        step: Callable[[torch.nn.Module, object], torch.Tensor | dict], *, epochs: int, batch_size: int,
        seed: int = 0, device: str | torch.device | None = None, checkpoint: str | os.PathLike | None = None,
        evaluate: Callable[[torch.nn.Module], dict] | None = None,
        on_epoch_start: Callable[[torch.nn.Module, int], None] | None = None,
        retrain: bool = False, desc: str = "train", select_best: str | None = None,
        settings: dict | None = None) -> list[dict]:
    """Train ``model`` (in place) for ``epochs`` epochs and return the metrics history (one dict per epoch).

    Args:
        step: ``step(model, batch) -> loss`` (a scalar tensor) or a dict of scalar tensors with a ``"loss"`` key;
            the other entries are averaged over the epoch into the history.
        checkpoint: where to save after every epoch and resume from; a finished checkpoint is loaded, not retrained.
            When ``srnlib.shipped`` has a shipped checkpoint for this path, that one is loaded (after checking its
            sha256 and settings against its manifest) instead.
        evaluate: ``evaluate(model) -> dict of floats``, run in ``eval()`` mode after every epoch.
        on_epoch_start: ``hook(model, epoch)``, e.g. to raise the number of inner steps mid-training.
        retrain: ignore an existing checkpoint (and a shipped one) and train from scratch.
        select_best: a key of ``evaluate``'s dict to maximise (e.g. validation accuracy): the model ends with the
            weights of the best epoch instead of the last one (the paper's best-validation-epoch selection).
        settings: the experiment's settings (the dict that keys ``checkpoint_path``); their hash is stored in the
            checkpoint, and a checkpoint of other settings is set aside instead of loaded.
    """
    if select_best is not None and evaluate is None:
        raise ValueError("select_best needs an evaluate function that reports it")
    check_positive(epochs, "epochs", integer=True)
    check_positive(batch_size, "batch_size", integer=True)
    if len(train_data) == 0:
        raise ValueError("train_data is empty")
    device = default_device(device)
    model.to(device)
    distributed = is_distributed()
    rank = dist.get_rank() if distributed else 0
    trained = model
    if distributed:
        trained = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    history: list[dict] = []
    first_epoch = 0
    best: dict = {}  # {"epoch": int, "score": float, "model": state_dict} of the best epoch so far
    state, shipped = None, None
    if checkpoint is not None and not retrain:
        from .shipped import find_shipped, load_shipped  # here: srnlib.shipped imports this module

        shipped = find_shipped(checkpoint)  # a finished run committed under shipped/ is used instead of training
        state = load_shipped(shipped, settings) if shipped is not None else load_checkpoint(checkpoint, settings)
    if state is not None:
        fresh = copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict())
        try:
            if state["best"]:  # the best epoch's weights must fit too, or _finish would fail after training
                model.load_state_dict(state["best"]["model"])
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            torch.set_rng_state(state["torch_rng"])
            history, first_epoch = list(state["history"]), int(state["epoch"])
            best = dict(state["best"])
        except Exception as error:  # saved by another version of the model's code: start truly fresh
            model.load_state_dict(fresh[0])
            optimizer.load_state_dict(fresh[1])
            history, first_epoch, best = [], 0, {}
            if shipped is not None:  # a tracked file: never moved; the caller decides
                raise ValueError(f"shipped checkpoint {shipped} does not fit this model or optimizer ({error}); "
                                 "ship it again, or pass retrain=True to train instead") from error
            _set_aside(Path(checkpoint), f"does not fit this model or optimizer "
                                         f"({(str(error).splitlines() or [type(error).__name__])[0]})")
    if first_epoch >= epochs:
        return _finish(model, best, history)

    bar = tqdm(range(first_epoch, epochs), desc=desc, initial=first_epoch, total=epochs, unit="epoch",
               disable=True if rank != 0 else None)
    for epoch in bar:
        started = time.perf_counter()
        if on_epoch_start is not None:
            on_epoch_start(model, epoch)
        if distributed:  # every rank sees its own share of the same seeded permutation
            sampler = DistributedSampler(train_data, shuffle=True, seed=seed * 100_003)
            sampler.set_epoch(epoch)
            loader = DataLoader(train_data, batch_size=batch_size, sampler=sampler)
        else:
            order = torch.Generator().manual_seed(seed * 100_003 + epoch)
            loader = DataLoader(train_data, batch_size=batch_size, shuffle=True, generator=order)
        trained.train()
        sums: dict[str, float] = {}
        for batch in tqdm(loader, desc=f"epoch {epoch + 1}/{epochs}", leave=False, disable=True if rank != 0 else None):
            out = step(trained, to_device(batch, device))
            metrics = out if isinstance(out, dict) else {"loss": out}
            loss = metrics["loss"]
            if not torch.isfinite(loss):
                raise FloatingPointError(f"training loss is {loss.item()} at epoch {epoch + 1}; lower the learning rate")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            for key, value in metrics.items():
                sums[key] = sums.get(key, 0.0) + float(value.detach())
        record = {"epoch": epoch + 1, **{f"train_{k}": v / len(loader) for k, v in sums.items()},
                  "optimizer_steps": len(loader)}
        if evaluate is not None:
            model.eval()
            with torch.no_grad():
                record.update({key: float(value) for key, value in evaluate(model).items()})
        record["seconds"] = time.perf_counter() - started
        history.append(record)
        if select_best is not None and (not best or record[select_best] > best["score"]):
            best = {"epoch": epoch + 1, "score": record[select_best],
                    "model": {k: v.detach().clone() for k, v in model.state_dict().items()}}
        bar.set_postfix(loss=f"{record['train_loss']:.4g}")
        if checkpoint is not None and rank == 0:
            weights = model.state_dict()
            save_atomic({"format": CHECKPOINT_FORMAT, "epoch": epoch + 1, "epochs": epochs,
                         "model": weights, "optimizer": optimizer.state_dict(),
                         "torch_rng": torch.get_rng_state(), "history": history, "best": best,
                         "settings_hash": None if settings is None else settings_hash(dict(settings)),
                         "settings": settings_text(settings), "weights_sha256": weights_digest(weights)},
                        checkpoint)
        if distributed:
            dist.barrier()
    return _finish(model, best, history)


def _finish(model: torch.nn.Module, best: dict, history: list[dict]) -> list[dict]:
    """Put the best epoch's weights in place (when selecting), mark it in the history, and switch to eval mode."""
    if best:
        model.load_state_dict(best["model"])
        for record in history:
            record["selected"] = record["epoch"] == best["epoch"]
    model.eval()
    return history
