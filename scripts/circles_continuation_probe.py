"""Probe: does a change at the end of training lift the shipped `long` Circles models at 4 and 5 circles?

    OMP_NUM_THREADS=1 .venv/bin/python scripts/circles_continuation_probe.py --kind srn --seed 0 --lr 2e-4 --epochs 3
    OMP_NUM_THREADS=1 .venv/bin/python scripts/circles_continuation_probe.py --kind srn --seed 0 --steps 20 --epochs 4
    [--profile long] [--large-images 12000]

This continues the shipped model of ``--kind`` and ``--seed`` (loaded with its optimizer state and RNG, checked
against its manifest) for ``--epochs`` more epochs with Adam rate ``--lr`` (default: the profile's) and, for the
SRN, ``--steps`` inner steps (default: the profile's final ones), in the profile's per-epoch data order. It scores
Table 1 on the profile's test set after every epoch (the SRN also with 0 inner steps) and, at the end, on the
12,000 fresh images of ``scripts/circles_large_test.py``. Two questions it was written for: `long` trains at a
constant Adam rate and its Table 1 moves by up to 7 points between scorings (is a lower final rate better?); the
authors double their inner steps during training (does a second doubling, 10 -> 20, help?). Its checkpoint lives
under ``runs/probes/`` (resumable after a kill); the row goes to ``results/sweeps/circles_continuation.{json,md}``.
``--snapshots`` also keeps a copy of the checkpoint after each extra epoch, ``runs/probes/snapshots/<name>.ep<N>.pt``,
for ``scripts/circles_weight_average_probe.py``.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from circles_large_test import TEST_SEED, large_test_set  # noqa: E402
from circles_training_curve import scorer  # noqa: E402

from srnlib import paths, profiles, results, shipped  # noqa: E402
from srnlib.circles import experiment  # noqa: E402
from srnlib.config import CirclesConfig  # noqa: E402
from srnlib.paper import CIRCLE_COUNTS  # noqa: E402
from srnlib.train import checkpoint_path, fit, load_checkpoint, save_atomic, settings_text  # noqa: E402


def out_dir(profile: str) -> Path:
    """results/sweeps/ for the `long` probes themselves, runs/sweeps/ (git-ignored) for other profiles (tests)."""
    folder = paths.repo_root() / ("results" if profile == "long" else "runs") / "sweeps"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_row(path: Path, profile: str, row: dict, key) -> list[dict]:
    """Add ``row`` to the probe's table ``path`` (JSON ``{"profile", "rows"}``), replacing a row with the same
    ``key(row)``; -> all rows."""
    rows = json.loads(path.read_text())["rows"] if path.exists() else []
    rows = [r for r in rows if key(r) != key(row)] + [row]
    path.write_text(json.dumps({"profile": profile, "rows": rows}, indent=1) + "\n")
    return rows


def probe_checkpoint(kind: str, seed: int, lr: float, steps: int | None, epochs: int, cfg: dict
                     ) -> tuple[Path, dict]:
    """The probe's checkpoint (made on the first call from the profile's finished model: the shipped one, checked
    against its manifest, else the cached one) and the settings that key it."""
    profile = cfg["profile"]
    settings = dict(cfg, epochs=cfg["epochs"] + epochs, probe="continuation", probe_lr=lr, probe_steps=steps)
    folder = paths.repo_root() / "runs" / "probes" / "circles_continuation"
    target = folder / f"{kind}.{profile}.seed{seed}.lr{lr:g}.steps{steps}.epochs{settings['epochs']}.pt"
    if not target.exists():
        cached = checkpoint_path(experiment.EXPERIMENT, profile, seed, cfg, kind)
        source = shipped.find_shipped(cached)
        # the shipped file is checked against its manifest; a cached one against its settings and weights digest
        state = shipped.load_shipped(source, cfg) if source is not None else load_checkpoint(cached, cfg)
        if state is None:
            raise SystemExit(f"no finished {kind} model of profile {profile} seed {seed} to continue")
        if state["epoch"] != cfg["epochs"]:
            raise SystemExit(f"the {kind} model of profile {profile} seed {seed} is unfinished")
        state.update(epochs=settings["epochs"], settings_hash=profiles.settings_hash(settings),
                     settings=settings_text(settings))
        folder.mkdir(parents=True, exist_ok=True)
        save_atomic(state, target)
    return target, settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=experiment.MODEL_KINDS, required=True)
    parser.add_argument("--profile", default="long", choices=profiles.PROFILES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=None, help="Adam's rate in the extra epochs (default: lr)")
    parser.add_argument("--steps", type=int, default=None,
                        help="the SRN's inner steps in the extra epochs (default: the profile's final ones)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--large-images", type=int, default=12_000)
    parser.add_argument("--snapshots", action="store_true",
                        help="also keep a copy of the checkpoint after each extra epoch, under runs/probes/snapshots/ "
                             "(for scripts/circles_weight_average_probe.py)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    started = time.process_time()
    cfg = profiles.get("circles", args.profile)
    config = CirclesConfig.from_settings(cfg)
    lr = cfg["lr"] if args.lr is None else args.lr
    last_steps = config.inner_steps_at(cfg["epochs"] - 1)
    steps_after = None if args.kind == "baseline" else (last_steps if args.steps is None else args.steps)
    target, settings = probe_checkpoint(args.kind, args.seed, lr, steps_after, args.epochs, cfg)
    train_set, test_set = experiment.datasets(cfg)
    model = experiment.build_model(args.kind, config)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    steps = {"now": None}

    def keep_snapshot(finished: int) -> None:  # the checkpoint holds ``finished`` epochs
        if args.snapshots and finished > cfg["epochs"] and target.exists():
            folder = target.parent.parent / "snapshots"
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(target, folder / f"{target.stem}.ep{finished}.pt")

    def schedule(model, epoch):
        keep_snapshot(epoch)
        later = epoch >= cfg["epochs"]
        steps["now"] = (steps_after if later else config.inner_steps_at(epoch)) if args.kind == "srn" else None
        for group in optimizer.param_groups:
            group["lr"] = lr if later else cfg["lr"]

    history = fit(model, optimizer, train_set,
                  lambda m, batch: experiment.reconstruction_step(m, batch, steps["now"], config.foreground_weight),
                  epochs=settings["epochs"], batch_size=cfg["batch_size"], seed=args.seed, on_epoch_start=schedule,
                  evaluate=scorer(args.kind, test_set, 1), checkpoint=target, settings=settings, desc=args.kind)
    keep_snapshot(settings["epochs"])
    model.eval()
    large = large_test_set(cfg, args.large_images)

    def table1(images) -> dict:  # the SRN with the inner steps it trained with last
        return {k: round(v, 2) for k, v in experiment.evaluate(model, images, steps_after)["table1"].items()}

    row = {"kind": args.kind, "seed": args.seed, "lr": lr, "steps": steps_after, "extra_epochs": args.epochs,
           "curve": [{k: v for k, v in r.items() if k.startswith(("epoch", "success", "train_loss"))}
                     for r in history if "success_1" in r and r["epoch"] >= cfg["epochs"]],
           "extra_epoch_seconds": round(sum(r["seconds"] for r in history[cfg["epochs"]:]), 1),
           "test_final": table1(test_set), "large_test": table1(large),
           "large_images": args.large_images, "cpu_minutes_this_call": round((time.process_time() - started) / 60, 1),
           "device": results.hardware(), "date": time.strftime("%Y-%m-%d")}
    path = out_dir(args.profile) / "circles_continuation.json"
    rows = save_row(path, args.profile, row,
                    key=lambda r: (r["kind"], r["seed"], r["lr"], r["steps"], r["extra_epochs"]))
    lines = [f"# Circles: the shipped `{args.profile}` models trained on with another learning rate or more inner "
             "steps", "",
             f"Written by `scripts/circles_continuation_probe.py`. The profile's models trained {cfg['epochs']} "
             f"epochs (Adam {cfg['lr']:g}; the SRN {cfg['refiner']['steps']} inner steps, {last_steps} from epoch "
             f"{cfg['more_steps_epoch'] + 1}); each row continues one with the Adam rate and inner steps shown. "
             f"Decomposition success (%) at 1–5 circles on the profile's {cfg['test_images']:,} test images after "
             "each extra epoch (the first is the profile's model; the SRN scored with the profile's final inner "
             f"steps), and at the end (*end*, the SRN with the inner steps it trained with) on the same images and on "
             f"{args.large_images:,} fresh ones (generator seed {TEST_SEED}). *s*: wall seconds of the extra epochs "
             "(training and scoring), one torch thread, two jobs on 2 cores.", "",
             "| kind | seed | Adam lr | inner steps | epoch | test | 0 inner steps | large test | s |",
             "|---|---|---|---|---|---|---|---|---|"]

    def cells(table: dict) -> str:
        return " / ".join(f"{table[k]:.1f}" for k in CIRCLE_COUNTS)

    for r in sorted(rows, key=lambda r: (r["seed"], r["kind"], r["lr"], r["steps"] or 0)):
        start = f"| {r['kind']} | {r['seed']} | {r['lr']:g} | {r['steps'] or '–'} |"
        for point in r["curve"]:
            zero = cells({k: point["success0_" + k] for k in CIRCLE_COUNTS}) if "success0_1" in point else ""
            lines.append(f"{start} {point['epoch']} | {cells({k: point['success_' + k] for k in CIRCLE_COUNTS})} "
                         f"| {zero} | | |")
        # rows of the first version lack test_final: their inner steps were the profile's, so it is the last point
        final = r.get("test_final") or {k: r["curve"][-1]["success_" + k] for k in CIRCLE_COUNTS}
        lines.append(f"{start} end | {cells(final)} | | {cells(r['large_test'])} | "
                     f"{r.get('extra_epoch_seconds', '')} |")
    (out_dir(args.profile) / "circles_continuation.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
