"""How Table 1 changes with training length: one Circles model trained beyond its profile's epochs, scored as it goes.

    .venv/bin/python scripts/circles_training_curve.py --kind srn --epochs 48 --every 8 [--profile quick] [--seed 0]
        [--set n=16 --set d=10 --set max_circles=10 --set refiner.lr=30.0]
    .venv/bin/python scripts/circles_training_curve.py --kind srn --profile long --epochs 60 --every 5 --continue

Trains the ``--kind`` model (baseline or srn) with the profile's settings except ``--epochs`` (and any ``--set``),
through ``srnlib.circles.experiment.load_or_train``: its checkpoint is keyed by the settings (with the profile's
own epochs it is notebook 01's checkpoint, otherwise one of its own), saved every epoch and resumed after a kill.
Every ``--every`` epochs (counted from the start, or from a resume) and after the last it scores Table 1 on the
test set of those settings; the SRN also with 0 inner steps (decoding its own S0). Prints a markdown table and
the final model's miscounts (``experiment.circle_sharing``, notebook 01's section 7), and writes both with the
numbers to ``runs/curves/circles.<kind>.<profile>[.<key>-<value>...].seed<seed>.epochs<epochs>.json`` (git-ignored).
``--continue`` starts from the profile's finished model (shipped or cached) and trains only the extra epochs.
Run the two kinds as two processes (``OMP_NUM_THREADS=1`` each) to use two cores.
"""
from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import re
from pathlib import Path

from srnlib import config, paths, profiles, results, shipped, train
from srnlib.train import checkpoint_path
from srnlib.paper import CIRCLE_COUNTS as COUNTS
from srnlib.circles import experiment


def scorer(kind: str, test_set, every: int):
    """``evaluate(model)`` for ``fit``: Table 1 as flat floats every ``every``-th call (epoch), else nothing."""
    epochs_seen = [0]

    def evaluate(model) -> dict:
        epochs_seen[0] += 1
        if epochs_seen[0] % every:
            return {}
        scores = {f"success_{k}": v for k, v in experiment.evaluate(model, test_set)["table1"].items()}
        if kind == "srn":
            without = experiment.success_by_inner_steps(model, test_set, steps=(0,))["0"]
            scores.update({f"success0_{k}": v for k, v in without.items()})
        return scores

    return evaluate


def table(kind: str, history: list[dict]) -> list[str]:
    """Markdown: one row per scored epoch (and, for the SRN, one with 0 inner steps)."""
    lines = ["| epoch | steps | inner steps | " + " | ".join(f"{k} circles" for k in COUNTS) + " |", "|---" * 8 + "|"]
    for record in history:
        if "success_1" not in record:
            continue
        variants = [("trained", "success_")] + ([("0", "success0_")] if kind == "srn" else [])
        for label, prefix in variants:
            cells = " | ".join(f"{record[prefix + k]:.1f}" for k in COUNTS)
            lines.append(f"| {record['epoch']} | {record['steps']} | {label} | {cells} |")
    return lines


def overrides(pairs: list[str], cfg: dict) -> dict:
    """``["n=16", "attention='logit'", "refiner.lr=30"]`` -> ``{"n": 16, "attention": "logit", "refiner.lr": 30.0}``:
    Python literals, for settings the profile has (a nested one by its dotted name), with the type of the value they
    replace (an int may replace a float). ``profiles.override(cfg, ...)`` makes the changes."""
    names = [name for name in profiles.setting_names(cfg) if name not in ("profile", "epochs")]
    changed = {}
    for pair in pairs:
        key, separator, text = pair.partition("=")
        if not separator or key not in names:
            raise ValueError(f"--set takes KEY=VALUE with KEY one of {', '.join(names)} (--epochs sets the epochs), "
                             f"got {pair!r}")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text  # a bare word: a string
        old = cfg
        for part in key.split("."):
            old = old[part]
        compatible = (old is None or value is None or type(value) is type(old)
                      or (isinstance(old, float) and type(value) is int)
                      or (isinstance(old, (list, tuple)) and isinstance(value, (list, tuple))))
        if not compatible:
            raise ValueError(f"--set {key} needs a value of type {type(old).__name__} like {old!r}, got {value!r}")
        changed[key] = float(value) if isinstance(old, float) and type(value) is int else value
    return changed


def add_curve_arguments(parser: argparse.ArgumentParser, set_example: str) -> None:
    """The options every training-curve script takes: --profile, --epochs, --every, --seed and --set."""
    parser.add_argument("--profile", default="quick", choices=profiles.PROFILES)
    parser.add_argument("--epochs", type=int, required=True, help="epochs to train (the profile's are replaced)")
    parser.add_argument("--every", type=int, default=1, help="score every this many epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help=f"replace one more setting, e.g. {set_example} (repeatable)")


def with_defaults(cfg: dict, experiment_name: str, pairs) -> dict:
    """``cfg`` plus the default of each top-level setting a ``--set`` names that the profile leaves out (a field of
    the experiment's config with a default, e.g. circles' ``foreground_weight``), so that ``--set`` may change it;
    settings no ``--set`` names stay out, and the profile's checkpoint keys with them."""
    named = {pair.partition("=")[0] for pair in pairs}
    defaults = {field.name: field.default for field in dataclasses.fields(config.CONFIGS[experiment_name])
                if field.default is not dataclasses.MISSING and field.name not in cfg and field.name in named}
    return dict(cfg, **defaults)


def settings_from(parser: argparse.ArgumentParser, args, experiment_name: str) -> dict:
    """The profile's settings of ``experiment_name`` with ``--set`` and ``--epochs`` applied (a bad ``--set`` is a
    parser error)."""
    cfg = with_defaults(profiles.get(experiment_name, args.profile), experiment_name, args.set)
    try:
        cfg = profiles.override(cfg, overrides(args.set, cfg))
    except ValueError as error:
        parser.error(str(error))
    cfg["epochs"] = args.epochs
    return cfg


def settings_suffix(pairs) -> str:
    """``["refiner.lr=30.0", "n=16"]`` -> ``".refiner.lr-30.0.n-16"``: one file-name part per ``--set``."""
    return "".join("." + re.sub(r"[^A-Za-z0-9_.-]", "", pair.replace("=", "-")) for pair in pairs)


def curve_path(stem: str, profile: str, pairs, seed: int, epochs: int) -> Path:
    """``runs/curves/<stem>.<profile>[.<key>-<value>...].seed<seed>.epochs<epochs>.json`` (one part per ``--set``)."""
    return (paths.repo_root() / "runs" / "curves"
            / f"{stem}.{profile}{settings_suffix(pairs)}.seed{seed}.epochs{epochs}.json")


def write_curve(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")


def continue_from_profile(parser: argparse.ArgumentParser, args, cfg: dict) -> None:
    """``--continue``: unless this run's checkpoint exists, make it from the profile's own finished checkpoint of the
    same kind, seed and ``--set`` (the shipped copy, checked against its manifest by ``shipped.load_shipped``, else
    the cached one), re-keyed to ``--epochs`` (``train.extend_checkpoint``). Circles trains at a constant learning
    rate, so the resumed run is the one ``--epochs`` trains from scratch."""
    target = checkpoint_path(experiment.EXPERIMENT, args.profile, args.seed, cfg, args.kind)
    if target.exists():
        return
    own = dict(cfg, epochs=profiles.get("circles", args.profile)["epochs"])
    source = checkpoint_path(experiment.EXPERIMENT, args.profile, args.seed, own, args.kind)
    found = shipped.find_shipped(source)
    if found is None and not source.exists():
        parser.error(f"--continue: no finished {args.kind} model of profile {args.profile} seed {args.seed} "
                     f"({source.name}) to continue from")
    try:
        if found is not None:
            shipped.load_shipped(found, own)  # its manifest, sha256 and settings checked, as notebook 01 loads it
            source = found
        train.extend_checkpoint(source, cfg, target)
    except ValueError as error:
        parser.error(str(error))
    print(f"continuing {source} for epochs {own['epochs'] + 1}-{args.epochs} in {target.name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=experiment.MODEL_KINDS, required=True)
    add_curve_arguments(parser, "--set n=16 --set max_circles=10")
    parser.add_argument("--continue", dest="continue_run", action="store_true",
                        help="start from the profile's finished model of this kind and seed (shipped or cached) "
                             "and train only the extra epochs")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.every < 1:
        parser.error("--epochs and --every must be at least 1")
    cfg = settings_from(parser, args, "circles")
    if args.continue_run:
        continue_from_profile(parser, args, cfg)
    train_set, test_set = experiment.datasets(cfg)
    model, history = experiment.load_or_train(args.kind, cfg, args.seed, train_set=train_set,
                                              evaluate=scorer(args.kind, test_set, args.every))
    if "success_1" not in history[-1]:  # the cadence restarts on resume: always score the final model
        history[-1] = dict(history[-1], **scorer(args.kind, test_set, 1)(model))
    steps_per_epoch = -(-len(train_set) // cfg["batch_size"])
    history = [dict(record, steps=record["epoch"] * steps_per_epoch) for record in history]
    lines = table(args.kind, history)
    sharing = experiment.circle_sharing(model, test_set)  # the final model's miscounts, as in notebook 01
    lines += ["", f"After epoch {args.epochs}: " + ", ".join(f"{name.replace('_', ' ')} {pct:.1f} %"
                                                              for name, pct in sharing.items())]
    print("\n".join(lines))
    out = curve_path(f"circles.{args.kind}", args.profile, args.set, args.seed, args.epochs)
    write_curve(out, {"kind": args.kind, "profile": args.profile, "seed": args.seed, "settings": cfg,
                      "device": results.hardware(), "history": history, "table": lines, "circle_sharing": sharing})
    print(f"wrote {out} ({experiment.training_seconds(history):.0f} s of training and scoring)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
