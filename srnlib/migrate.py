"""Rewrite checkpoints (and the results that name their settings) from the names before issue 16 to today's.

Issue 16 gave every experiment one SRN component (``srnlib.refine.SRN``) and one name per idea in its settings.
A checkpoint written before stores the old settings (which key its file name through their hash) and the old
parameter names; ``migrate_file`` rewrites one, ``migrate_tree`` every ``<experiment>/*.pt`` under a folder such as
``checkpoints/`` or ``shipped/`` (``scripts/migrate_checkpoints.py`` is the command line). What changes:

    settings      inner_steps, inner_lr, inner_momentum, inner_grad_clip -> refiner.steps, .lr, .momentum, .grad_clip
                  agg_hidden, embed_dim -> refiner.agg_hidden, refiner.embed_dim (Circles' e -> refiner.embed_dim;
                  notebook 00's encoder_hidden -> refiner.agg_hidden)
                  hidden -> mlp_hidden (notebook 00, C-SWM), rn_hidden (Sort-of-CLEVR), lstm_hidden (CLUTRR);
                  CLUTRR's embedding_dim -> word_dim; C-SWM's steps (of an episode) -> episode_steps
                  refiner settings the old code read with a default are written out (``DEFAULTS``)
    state dict    a model's own H_embed, embed.* -> refiner.embed.*; refiner.set_encoder.* ->
                  refiner.loop.set_encoder.* (graph_encoder likewise); inside the SRN, H_embed comes before H_agg
    optimizer     its per-parameter state (keyed by the parameter's index) follows the parameters' new order
    file name     <name>.<profile>.seed<seed>.<new settings hash>.pt; a shipped file's manifest gets the new file,
                  sha256, bytes, settings and hash, and a note saying where it came from

A file already in today's names is left alone (so running it twice changes nothing). A file is never lost: the new
one is written beside the old, checked (it loads, its weights are the old ones, and it loads strictly into the model
today's code builds from its settings), and only then is the old one removed; a file that fails a check is kept.
"""
from __future__ import annotations

import copy
import json
import os
import re
from collections import OrderedDict
from pathlib import Path

import torch

from .profiles import settings_hash
from .shipped import git_commit, load_shipped, read_manifest, sha256_of
from .train import CHECKPOINT_FORMAT, checkpoint_problem, save_atomic, settings_text, weights_digest

_REFINER = {"inner_steps": "steps", "inner_lr": "lr", "inner_momentum": "momentum", "inner_grad_clip": "grad_clip",
            "agg_hidden": "agg_hidden", "embed_dim": "embed_dim"}
RENAMES = {  # experiment -> {old top-level setting: new name (refiner.<x> for the nested refiner settings)}
    "responsibility": {"hidden": "mlp_hidden", "encoder_hidden": "refiner.agg_hidden"},
    "circles": {"e": "refiner.embed_dim"},
    "sortofclevr": {"hidden": "rn_hidden"},
    "cswm": {"hidden": "mlp_hidden", "steps": "episode_steps"},
    "clutrr": {"hidden": "lstm_hidden", "embedding_dim": "word_dim"},
}
# refiner settings the old code did not read from the settings (the value it used instead)
DEFAULTS = {"responsibility": {"grad_clip": 1.0}, "sortofclevr": {"momentum": 0.0}, "cswm": {"momentum": 0.0},
            "clutrr": {"momentum": 0.0}, "circles": {}}
# settings added to an experiment's profiles after the renames, with the value that gives the old code's behaviour
# (the old checkpoints and settings have no such key): a migrated old run is today's run with these values
ADDED_SETTINGS = {"sortofclevr": {"cell_colours": 0, "cell_colours_norm": False}}
STATE_RENAMES = (("embed.", "refiner.embed."), ("refiner.set_encoder.", "refiner.loop.set_encoder."),
                 ("refiner.graph_encoder.", "refiner.loop.graph_encoder."))
BUFFERS = ("running_mean", "running_var", "num_batches_tracked")  # the only persistent buffers of srnlib's models
_NAME = re.compile(r"^(?P<name>[^.]+)\.(?P<profile>[^.]+)\.seed(?P<seed>\d+)\.(?P<hash>[0-9a-f]+)\.pt$")


def _renames(experiment: str) -> dict:
    if experiment not in RENAMES:
        raise ValueError(f"unknown experiment {experiment!r}; known: {', '.join(sorted(RENAMES))}")
    return {**{old: f"refiner.{new}" for old, new in _REFINER.items()}, **RENAMES[experiment]}


def migrate_settings(experiment: str, settings: dict) -> dict:
    """Settings with the old names -> the same settings with today's; today's settings come back unchanged."""
    renames = _renames(experiment)
    if not any(key in settings for key in renames):
        return copy.deepcopy(dict(settings))
    result, refiner = {}, {}
    for key, value in settings.items():
        new = renames.get(key, key)
        if new.startswith("refiner."):
            refiner[new[len("refiner."):]] = copy.deepcopy(value)
        else:
            result[new] = copy.deepcopy(value)
    result["refiner"] = {**DEFAULTS[experiment], **refiner}
    return result


def legacy_settings(experiment: str, settings: dict) -> dict:
    """The inverse of ``migrate_settings``: today's settings as the old code named them (for old settings hashes)."""
    inverse = {new: old for old, new in _renames(experiment).items()}
    result = {}
    for key, value in settings.items():
        if key == "refiner":
            for name, inner in value.items():
                if not (name in DEFAULTS[experiment] and inner == DEFAULTS[experiment][name]):
                    result[inverse[f"refiner.{name}"]] = copy.deepcopy(inner)
        else:
            result[inverse.get(key, key)] = copy.deepcopy(value)
    return result


def _rename(key: str) -> str:
    for old, new in STATE_RENAMES:
        if key.startswith(old):
            return new + key[len(old):]
    return key


def migrate_state_dict(state: dict) -> OrderedDict:
    """A model's state dict with the old parameter names -> today's names and order (unchanged if already so)."""
    keys = [_rename(key) for key in state]
    values = dict(zip(keys, state.values()))
    block = [i for i, key in enumerate(keys) if key.startswith("refiner.")]
    if block and block != list(range(block[0], block[-1] + 1)):
        raise ValueError("the refiner's parameters are not contiguous in this state dict; cannot reorder them")
    if block:  # the SRN registers H_embed before its loop
        inside = keys[block[0]:block[-1] + 1]
        keys[block[0]:block[-1] + 1] = ([k for k in inside if k.startswith("refiner.embed.")]
                                         + [k for k in inside if not k.startswith("refiner.embed.")])
    return OrderedDict((key, values[key]) for key in keys)


def _parameters(keys) -> list[str]:
    return [key for key in keys if key.rsplit(".", 1)[-1] not in BUFFERS]


def migrate_optimizer(optimizer: dict, old_model: dict) -> dict:
    """An optimizer state dict whose per-parameter state (keyed by the index of a parameter of ``old_model``, the
    model's old state dict) is reordered to the parameters' order after ``migrate_state_dict``."""
    before = _parameters(_rename(key) for key in old_model)
    after = _parameters(migrate_state_dict(old_model))
    if before == after:
        return optimizer
    groups = optimizer["param_groups"]
    if len(groups) != 1 or list(groups[0]["params"]) != list(range(len(after))):
        raise ValueError("the optimizer's state cannot be reordered: it has several parameter groups or other "
                         "parameters than the model")
    index = {name: i for i, name in enumerate(before)}
    state = {j: optimizer["state"][index[name]] for j, name in enumerate(after) if index[name] in optimizer["state"]}
    return {"state": state, "param_groups": groups}


def migrate_checkpoint(state: dict, experiment: str) -> dict | None:
    """A loaded format-2 checkpoint with the old names -> a new checkpoint dict with today's (settings, their hash,
    parameter names and order, optimizer state, best epoch's weights, weights digest); None when it has today's."""
    if state.get("format") != CHECKPOINT_FORMAT or state.get("settings") is None:
        raise ValueError(f"not a format-{CHECKPOINT_FORMAT} checkpoint with its settings; cannot migrate it")
    settings = json.loads(state["settings"])
    new_settings = migrate_settings(experiment, settings)
    model = migrate_state_dict(state["model"])
    if new_settings == settings and list(model) == list(state["model"]):
        return None
    best = dict(state["best"])
    if best.get("model") is not None:
        best["model"] = migrate_state_dict(best["model"])
    return dict(state, model=model, optimizer=migrate_optimizer(state["optimizer"], state["model"]), best=best,
                settings_hash=settings_hash(new_settings), settings=settings_text(new_settings),
                weights_sha256=weights_digest(model))


def model_for(experiment: str, name: str, settings: dict, model_state: dict):
    """The model today's code builds for a checkpoint ``name`` of ``experiment`` from its settings, or None when
    ``name`` is not one of the experiment's models (e.g. Sort-of-CLEVR's Figure 4 decoders)."""
    from .config import CONFIGS

    config = CONFIGS[experiment].from_settings(settings)
    if experiment == "circles" and name in ("baseline", "srn"):
        from .circles.models import build_model
        return build_model(name, config)
    if experiment == "responsibility":
        from .responsibility import build_models
        return build_models(config).get(name)
    if experiment == "sortofclevr" and name in ("rn", "rn_srn"):
        from .sortofclevr.models import build_model
        return build_model(name, config)
    match = re.fullmatch(r".+_(cswm|srn)_k\d+", name)
    if experiment == "cswm" and match:
        from .cswm.models import build_model
        return build_model(match[1], config)
    if experiment == "clutrr" and name in ("rn", "rn_srn", "rn_grn"):
        from .clutrr.models import build_model
        return build_model(name, config, model_state["sentences.embedding.weight"].shape[0])
    return None


def _check(path: Path, experiment: str, name: str, expected: dict) -> None:
    """Raise unless the checkpoint at ``path`` loads, equals ``expected`` and fits today's model strictly."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    problem = checkpoint_problem(state, json.loads(expected["settings"]))
    if problem is not None:
        raise ValueError(f"the migrated file {problem}")
    if list(state["model"]) != list(expected["model"]) or not all(
            torch.equal(state["model"][k], expected["model"][k]) for k in expected["model"]):
        raise ValueError("the migrated file's weights differ from the old file's")
    model = model_for(experiment, name, json.loads(state["settings"]), state["model"])
    if model is not None:
        model.load_state_dict(state["model"])  # strict
        if state["best"]:
            model.load_state_dict(state["best"]["model"])
        optimizer = torch.optim.Adam(model.parameters())
        optimizer.load_state_dict(state["optimizer"])
        for parameter in model.parameters():  # every moment has its parameter's shape
            for value in optimizer.state.get(parameter, {}).values():
                if torch.is_tensor(value) and value.dim() and value.shape != parameter.shape:
                    raise ValueError("the optimizer's state does not fit the model's parameters")


def migrate_file(path: str | os.PathLike, experiment: str | None = None, dry_run: bool = False,
                 tool: str = "scripts/migrate_checkpoints.py") -> tuple[str, Path | None, str]:
    """Migrate one checkpoint file (a shipped one with its manifest) -> (status, new path, message).

    status: "migrated", "current" (already today's names), "skipped" (not a checkpoint this can migrate) or
    "failed" (the old file is kept). ``experiment`` defaults to the file's folder name.
    """
    path = Path(path)
    experiment = experiment or path.parent.name
    match = _NAME.match(path.name)
    if experiment not in RENAMES or match is None:
        return "skipped", None, f"{path}: not <name>.<profile>.seed<seed>.<hash>.pt of a known experiment"
    shipped = path.with_suffix(".json").is_file()
    try:
        if shipped:
            manifest = read_manifest(path)
            state = load_shipped(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
            problem = checkpoint_problem(state)
            if problem is not None:
                raise ValueError(problem)
        migrated = migrate_checkpoint(state, experiment)
    except Exception as error:  # unreadable, damaged or foreign: leave it as it is
        return "failed", None, f"{path}: {error}"
    if migrated is None:
        return "current", path, f"{path}: already in today's names"
    target = path.with_name(f"{match['name']}.{match['profile']}.seed{match['seed']}.{migrated['settings_hash']}.pt")
    if target.exists():
        return "failed", None, f"{path}: {target.name} exists already; not overwritten (compare and remove one)"
    if dry_run:
        return "migrated", target, f"{path} -> {target.name} (dry run: nothing written)"
    temporary = target.with_name(target.name + ".migrating")
    try:
        save_atomic(migrated, temporary)
        _check(temporary, experiment, match["name"], migrated)
        os.replace(temporary, target)
        if shipped:
            _write_manifest(path, target, manifest, migrated, tool)
            load_shipped(target)
    except Exception as error:
        for leftover in (temporary, target, target.with_suffix(".json")):
            if leftover.exists() and leftover != path and leftover != path.with_suffix(".json"):
                leftover.unlink()
        return "failed", None, f"{path}: the migrated file did not check out ({error}); the old file is kept"
    path.unlink()
    if shipped:
        path.with_suffix(".json").unlink()
    return "migrated", target, f"{path} -> {target.name}"


def _write_manifest(old: Path, new: Path, manifest: dict, state: dict, tool: str) -> None:
    commit, _ = git_commit()
    note = f"migrated from {old.name} sha256 {manifest['sha256']} by {tool} at {commit}"
    if manifest.get("note"):
        note = f"{manifest['note'].rstrip('. ')}. {note[0].upper()}{note[1:]}"
    manifest = dict(manifest, file=new.name, sha256=sha256_of(new), bytes=new.stat().st_size,
                    settings=json.loads(state["settings"]), settings_hash=state["settings_hash"], note=note)
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    temporary = new.with_suffix(".json.migrating")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, new.with_suffix(".json"))


def checkpoint_files(root: str | os.PathLike) -> list[Path]:
    """The checkpoints under ``root``: ``root`` itself (a file), ``root/*.pt`` (an experiment's folder) or
    ``root/<experiment>/*.pt`` (``checkpoints/``, ``shipped/``)."""
    root = Path(root)
    if root.is_file():
        return [root]
    if root.name in RENAMES:
        return sorted(root.glob("*.pt"))
    return sorted(p for folder in sorted(root.iterdir()) if folder.is_dir() for p in folder.glob("*.pt"))


def migrate_tree(root: str | os.PathLike, dry_run: bool = False) -> list[tuple[str, Path | None, str]]:
    """``migrate_file`` on every checkpoint under ``root`` (see ``checkpoint_files``)."""
    return [migrate_file(path, dry_run=dry_run) for path in checkpoint_files(root)]


def migrate_results(results: str | os.PathLike, dry_run: bool = False) -> list[str]:
    """Results that name their settings by hash (``results/05_clutrr.*.json``) get the new hash of the same
    settings; rows of ``results/sweeps/*.json`` get today's settings, overrides and hash. -> the files changed."""
    from . import profiles

    results, changed = Path(results), []
    for path in sorted(results.glob("05_clutrr.*.json")):
        data = json.loads(path.read_text())
        profile = path.name.split(".")[1]
        if "settings_hash" not in data or not profiles.has_profile("clutrr", profile):
            continue
        from .clutrr.experiment import run_settings

        today = json.loads(json.dumps(run_settings(profiles.get("clutrr", profile))))
        if data["settings_hash"] == settings_hash(legacy_settings("clutrr", today)):
            data["settings_hash"] = settings_hash(today)
            changed.append(_write_json(path, data, dry_run))
    for path, experiment in ((results / "sweeps" / "circles_search.json", "circles"),
                             (results / "sweeps" / "sortofclevr_sweep.json", "sortofclevr")):
        if not path.is_file():
            continue
        data = json.loads(path.read_text())
        rows = data["runs"] if isinstance(data, dict) else data
        before = json.dumps(rows)
        for row in rows:
            row["settings"] = migrate_settings(experiment, row["settings"])
            row["settings_hash"] = settings_hash(row["settings"])
            renames = _renames(experiment)
            row["overrides"] = {renames.get(key, key): value for key, value in row["overrides"].items()}
        if json.dumps(rows) != before:
            changed.append(_write_json(path, data, dry_run, indent=1))
    return changed


def _write_json(path: Path, data, dry_run: bool, indent: int = 2) -> Path:
    if not dry_run:
        temporary = path.with_suffix(".json.migrating")
        temporary.write_text(json.dumps(data, indent=indent) + "\n")
        os.replace(temporary, path)
    return path
