"""One table of every Circles training run of a profile whose checkpoint is on this machine, finished or stopped.

    .venv/bin/python scripts/circles_runs_table.py [--profile long]

Reads each checkpoint under ``checkpoints/circles/`` and ``shipped/circles/`` of ``--profile`` (never trains) and
writes, per run, the settings that differ from the profile's, the epochs done of those planned, the seconds its
epochs took, and Table 1 at every epoch it was scored (``scripts/circles_training_curve.py --every``; the SRN also
with 0 inner steps) to ``results/sweeps/circles_runs.<profile>.{md,json}``. A run stopped by hand keeps its scored
epochs here, where its curve JSON (written at the end) never came. Runs whose checkpoints are gone are in
docs/results.md only. ``--figure-seed`` (default 0) also draws that seed's curves at 2-5 circles, against 2x the
shipped baseline, to ``circles_runs.<profile>.png`` (``plots.training_curves``; skipped when it has no scored run).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from srnlib import paths, profiles, shipped, train
from srnlib.circles import plots
from srnlib.paper import CIRCLE_COUNTS as COUNTS


def dotted(settings: dict) -> dict:
    """``{"n": 8, "refiner": {"lr": 30.0}}`` -> ``{"n": 8, "refiner.lr": 30.0}``: one level of nesting, dotted."""
    return {name: value for key, outer in settings.items()
            for name, value in (((f"{key}.{inner}", v) for inner, v in outer.items()) if isinstance(outer, dict)
                                else ((key, outer),))}


def differences(settings: dict, reference: dict) -> str:
    """``"foreground_weight=2.0, refiner.embed_dim=256"``: the settings (a nested one dotted) that differ from
    ``reference``, other than the epochs; ``"the profile's"`` when none do."""
    flat, base = dotted({key: value for key, value in settings.items() if key != "epochs"}), dotted(reference)
    changed = [f"{name}={flat[name]!r}" for name in sorted(flat) if base.get(name, "absent") != flat[name]]
    return ", ".join(changed) or "the profile's"


def run_record(path: Path, reference: dict) -> dict | None:
    """One run's row from its checkpoint, or None when it is not a readable checkpoint."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file is skipped, named
        print(f"skipped {path}: not a readable checkpoint ({type(error).__name__})")
        return None
    problem = train.checkpoint_problem(state)
    if problem is not None:
        print(f"skipped {path}: {problem}")
        return None
    settings = json.loads(state["settings"] or "{}")
    kind, _, rest = path.name.partition(".")
    scored = [{"epoch": record["epoch"], "trained": [record[f"success_{k}"] for k in COUNTS],
               "zero_steps": [record[f"success0_{k}"] for k in COUNTS] if f"success0_{COUNTS[0]}" in record else None}
              for record in state["history"] if f"success_{COUNTS[0]}" in record]
    return {"file": str(path.relative_to(paths.repo_root())), "kind": kind, "seed": int(rest.split(".")[1][4:]),
            "settings_hash": state["settings_hash"], "differs": differences(settings, reference),
            "epochs_done": int(state["epoch"]), "epochs_planned": int(state["epochs"]),
            "seconds": round(sum(record.get("seconds", 0.0) for record in state["history"])), "scored": scored,
            "shipped": path.parent.name == "circles" and path.parent.parent.name == "shipped"}


def markdown(profile: str, records: list[dict]) -> list[str]:
    lines = [f"# Circles training runs at `{profile}` on this machine", "",
             "Written by `scripts/circles_runs_table.py` from the checkpoints (never trained). Success (%) at "
             + " / ".join(COUNTS) + " circles on the profile's test set; the SRN also with 0 inner steps.", "",
             "| model | seed | settings other than the profile's | epochs | seconds | epoch scored | success | "
             "0 inner steps |", "|---" * 8 + "|"]
    for record in records:
        head = (f"| {record['kind']}{' (shipped)' if record['shipped'] else ''} | {record['seed']} | "
                f"{record['differs']} | {record['epochs_done']} of {record['epochs_planned']} | {record['seconds']} |")
        for point in record["scored"] or [None]:
            if point is None:
                lines.append(head + " not scored | | |")
                continue
            zero = " / ".join(f"{v:.1f}" for v in point["zero_steps"]) if point["zero_steps"] else ""
            lines.append(f"{head} {point['epoch']} | {' / '.join(f'{v:.1f}' for v in point['trained'])} | {zero} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="long", choices=profiles.PROFILES)
    parser.add_argument("--figure-seed", type=int, default=0, help="the seed whose training curves are drawn")
    args = parser.parse_args(argv)
    reference = profiles.get("circles", args.profile)
    folders = [paths.checkpoints_dir() / "circles", shipped.shipped_dir() / "circles"]
    found = sorted(path for folder in folders if folder.is_dir() for path in folder.glob(f"*.{args.profile}.seed*.pt"))
    records, seen = [], set()
    for path in sorted(found, key=lambda path: path.parent.parent.name != "shipped"):  # a shipped copy first
        record = run_record(path, reference)
        if record is None:
            continue
        run = tuple(record[key] for key in ("settings_hash", "kind", "seed", "epochs_done", "seconds"))
        if run not in seen:  # a cached copy of a shipped run is the same run: once
            seen.add(run)
            records.append(record)
    records.sort(key=lambda record: (record["differs"], record["kind"], record["seed"], not record["shipped"]))
    out = paths.repo_root() / "results" / "sweeps"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"circles_runs.{args.profile}.md").write_text("\n".join(markdown(args.profile, records)) + "\n")
    (out / f"circles_runs.{args.profile}.json").write_text(json.dumps({"profile": args.profile, "runs": records},
                                                                      indent=1) + "\n")
    print(f"wrote {out}/circles_runs.{args.profile}.md and .json: {len(records)} runs")
    if any(record["seed"] == args.figure_seed and record["scored"] for record in records):
        figure = plots.training_curves(records, seed=args.figure_seed)
        figure.savefig(out / f"circles_runs.{args.profile}.png", dpi=110, bbox_inches="tight")
        plt.close(figure)
        print(f"wrote {out}/circles_runs.{args.profile}.png (seed {args.figure_seed})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
