"""Probe: is a Circles model with its weights averaged over its last epochs steadier at 4 and 5 circles?

    OMP_NUM_THREADS=1 .venv/bin/python scripts/circles_weight_average_probe.py --kind srn --seed 0 \\
        --snapshots runs/probes/snapshots/srn.long.seed0.lr0.002.steps10.epochs36.ep{29..36}.pt \\
        [--profile long] [--bn-images 4000] [--large-images 12000]

The `long` models train at a constant Adam rate, and their Table 1 moves by several points from one epoch to the
next (the seed-0 SRN trained on past 20 epochs: 26-36 % at 5 circles over epochs 21-27), so whether the SRN is 2x
the baseline there depends on the epoch where training stops. This averages the weights of ``--snapshots``
(checkpoints of one run at several epochs: copies of the run's checkpoint taken after each epoch, e.g. by
``scripts/circles_continuation_probe.py --snapshots``; each checked for damage and for the profile's settings, never
trained), computes its batch-norm statistics again on the first ``--bn-images`` training images
(``srnlib.averaging``; the SRN with the inner steps it trained with last), and scores Table 1 on the profile's test
set and on the fresh images of ``scripts/circles_large_test.py``. The row goes to
``results/sweeps/circles_weight_average.{json,md}`` (``runs/sweeps/`` for other profiles than `long`)."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from circles_continuation_probe import out_dir, save_row  # noqa: E402
from circles_large_test import TEST_SEED, large_test_set  # noqa: E402

from srnlib import profiles, results, train  # noqa: E402
from srnlib.averaging import average_weights, recompute_batch_norm  # noqa: E402
from srnlib.circles import experiment  # noqa: E402
from srnlib.config import CirclesConfig  # noqa: E402
from srnlib.paper import CIRCLE_COUNTS  # noqa: E402

PROBE_KEYS = ("epochs", "probe", "probe_lr", "probe_steps")  # what a continuation's settings add to the profile's


def load_snapshot(path: Path, cfg: dict) -> dict:
    """One snapshot's checkpoint, refused (SystemExit naming the file) when damaged or of other settings than the
    profile's (a continuation's extra epochs, rate and steps aside)."""
    if not path.is_file():
        raise SystemExit(f"snapshot {path} does not exist")
    state = torch.load(path, map_location="cpu", weights_only=True)
    problem = train.checkpoint_problem(state)
    if problem is None:
        changed = [key for key in train.changed_settings(json.loads(state["settings"] or "{}"), cfg)
                   if key not in PROBE_KEYS]
        if changed:
            problem = f"was trained with other settings than profile {cfg['profile']}'s ({', '.join(changed)})"
    if problem is not None:
        raise SystemExit(f"snapshot {path} {problem}")
    return state


def trained_steps(state: dict, config: CirclesConfig) -> int:
    """The inner steps the SRN of checkpoint ``state`` trained its last epoch with: a continuation's
    ``probe_steps`` (``scripts/circles_continuation_probe.py --steps``), else the profile's schedule at that epoch."""
    steps = json.loads(state["settings"] or "{}").get("probe_steps")
    return config.inner_steps_at(int(state["epoch"]) - 1) if steps is None else int(steps)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=experiment.MODEL_KINDS, required=True)
    parser.add_argument("--profile", default="long", choices=profiles.PROFILES)
    parser.add_argument("--seed", type=int, default=0,
                        help="the seed the snapshots' run trained with (the row's label)")
    parser.add_argument("--snapshots", type=Path, nargs="+", required=True)
    parser.add_argument("--bn-images", type=int, default=4000)
    parser.add_argument("--large-images", type=int, default=12_000)
    args = parser.parse_args(argv)
    if args.bn_images < 1:
        parser.error("--bn-images must be at least 1")
    torch.set_num_threads(1)
    started = time.process_time()
    cfg = profiles.get("circles", args.profile)
    config = CirclesConfig.from_settings(cfg)
    snapshots = [load_snapshot(path, cfg) for path in args.snapshots]
    epochs = sorted(int(state["epoch"]) for state in snapshots)
    if len(set(epochs)) != len(epochs):
        raise SystemExit(f"--snapshots holds the same epoch twice: {epochs}")
    model = experiment.build_model(args.kind, config)
    model.load_state_dict(average_weights([state["model"] for state in snapshots]))
    last = max(snapshots, key=lambda state: int(state["epoch"]))
    steps = trained_steps(last, config) if args.kind == "srn" else None
    train_set, test_set = experiment.datasets(cfg)
    images = train_set.images[:args.bn_images]
    batches = (images[i:i + cfg["batch_size"]].float() for i in range(0, len(images), cfg["batch_size"]))
    recompute_batch_norm(model, batches, forward=lambda batch: model(batch, inner_steps=steps))

    def table1(test) -> dict:
        return {k: round(v, 2) for k, v in experiment.evaluate(model, test, steps)["table1"].items()}

    row = {"kind": args.kind, "seed": args.seed, "epochs": epochs, "inner_steps": steps, "bn_images": len(images),
           "test": table1(test_set), "large_test": table1(large_test_set(cfg, args.large_images)),
           "large_images": args.large_images, "cpu_minutes": round((time.process_time() - started) / 60, 1),
           "device": results.hardware(), "date": time.strftime("%Y-%m-%d")}
    path = out_dir(args.profile) / "circles_weight_average.json"
    rows = save_row(path, args.profile, row, key=lambda r: (r["kind"], r["seed"], r["epochs"]))
    lines = [f"# Circles: `{args.profile}` models with their weights averaged over their last epochs", "",
             "Written by `scripts/circles_weight_average_probe.py`. Each row averages one run's weights over the "
             "epochs shown, computes the batch-norm statistics again on the first training images, and scores "
             f"decomposition success (%) at 1–5 circles on the profile's {cfg['test_images']:,} test images and on "
             f"fresh ones (generator seed {TEST_SEED}); the SRN with the inner steps shown. One torch thread.", "",
             "| kind | seed | epochs averaged | inner steps | test | large test (images) | CPU-min |",
             "|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["seed"], r["kind"], r["epochs"])):
        cells = [" / ".join(f"{r[part][k]:.1f}" for k in CIRCLE_COUNTS) for part in ("test", "large_test")]
        lines.append(f"| {r['kind']} | {r['seed']} | {r['epochs'][0]}–{r['epochs'][-1]} ({len(r['epochs'])}) | "
                     f"{r['inner_steps'] or '–'} | {cells[0]} | {cells[1]} ({r['large_images']:,}) | "
                     f"{r['cpu_minutes']} |")
    (path.with_suffix(".md")).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
