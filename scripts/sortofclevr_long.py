"""Train and ship notebook 03's models for one profile: RN and RN + SRN for every seed, resumably, in any number of
worker processes.

    OMP_NUM_THREADS=1 TQDM_DISABLE=1 nohup .venv/bin/python scripts/sortofclevr_long.py --worker 0 --workers 2 &
    OMP_NUM_THREADS=1 TQDM_DISABLE=1 nohup .venv/bin/python scripts/sortofclevr_long.py --worker 1 --workers 2 &
    .venv/bin/python scripts/sortofclevr_long.py --progress      # every job's learning curve so far
    .venv/bin/python scripts/sortofclevr_long.py --table         # the shipped models' numbers (markdown)

The jobs (seed-major: RN seed 0, RN + SRN seed 0, RN seed 1, ...) are split round-robin between the workers. Each
job is exactly what notebook 03 does, ``experiment.load_or_train(kind, cfg, seed)``: its checkpoint is the one the
notebook loads, saved after every epoch (an epoch of ``long`` is 3,334 updates, ~5 CPU-minutes for the RN), and a
killed job resumes from its last finished epoch. A finished job is shipped to ``shipped/sortofclevr/`` with a
manifest (command, commit, settings hash, steps, CPU-seconds, sha256, and the best epoch's validation accuracies
and the test accuracies of the weights shipped); a job already shipped is skipped. For seed 0 the job then trains
and ships Figure 4's image decoder on the model's sets too (``reconstruction.train_decoder``, as the notebook does).
``--no-ship`` only trains.
"""
from __future__ import annotations

import argparse
import time

from srnlib import profiles, shipped
from srnlib.sortofclevr import experiment, reconstruction
from srnlib.train import checkpoint_path, load_checkpoint

COMMAND = "OMP_NUM_THREADS=1 TQDM_DISABLE=1 .venv/bin/python scripts/sortofclevr_long.py"
CURVE_KEYS = ("non_relational", "relational", "furthest", "closest", "count")


def jobs(cfg) -> list[tuple[str, int]]:
    """[(kind, seed)] of the profile, seed-major."""
    return [(kind, seed) for seed in range(cfg["n_seeds"]) for kind in experiment.KINDS]


def checkpoint_of(kind: str, seed: int, cfg):
    """The path of the job's checkpoint, as ``load_or_train`` names it."""
    return checkpoint_path(experiment.EXPERIMENT, cfg["profile"], seed, cfg, kind)


def shipped_metrics(model, history: list[dict], test_set) -> dict:
    """The manifest's numbers: the selected epoch, its validation accuracies, and the shipped weights' test
    accuracies per question type (percent)."""
    best = next((record for record in history if record.get("selected")), history[-1])
    metrics = {"best_epoch": best["epoch"]}
    metrics.update({f"val_{key}": round(best[f"val_{key}"], 2) for key in CURVE_KEYS})
    scores = experiment.accuracy_by_category(model, test_set)
    metrics.update({f"test_{key}": round(scores[key], 2) for key in CURVE_KEYS})
    return metrics


def run_job(kind: str, seed: int, cfg, ship: bool, workers: str) -> None:
    path = checkpoint_of(kind, seed, cfg)
    decoder_path = checkpoint_path(experiment.EXPERIMENT, cfg["profile"], 0, cfg, f"decoder_{kind}")
    model_done = shipped.find_shipped(path) is not None
    if model_done and (seed != 0 or shipped.find_shipped(decoder_path) is not None):
        print(f"skip {path.name}: already shipped", flush=True)
        return
    started = time.process_time()
    model, history = experiment.load_or_train(kind, cfg, seed)  # the shipped model when there is one
    print(f"{path.name}: trained ({time.process_time() - started:.0f} CPU-s in this call)", flush=True)
    if not ship:
        return
    command = f"{COMMAND} --profile {cfg['profile']} {workers}"
    if not model_done:
        metrics = shipped_metrics(model, history, experiment.datasets(cfg)[2])
        print(f"shipped {shipped.ship(path, command=command, metrics=metrics)}: {metrics}", flush=True)
    if seed == 0:  # Figure 4: notebook 03 decodes the first seed's models
        ship_decoder(model, kind, cfg, decoder_path, command)


def ship_decoder(model, kind: str, cfg, decoder_path, command: str) -> None:
    """Train (or resume) Figure 4's image decoder on the shipped model's sets, as notebook 03 does, and ship it with
    its squared error per image on the reconstruction images."""
    images = reconstruction.reconstruction_images(cfg)
    decoder, _ = reconstruction.train_decoder(model, kind, cfg, 0, images=images)
    metrics = {"squared_error_per_image": round(reconstruction.reconstruction_error(model, decoder, images), 2)}
    print(f"shipped {shipped.ship(decoder_path, command=command, metrics=metrics)}: {metrics}", flush=True)


def progress(cfg) -> list[str]:
    """One line per epoch of every job's checkpoint so far: updates, CPU-seconds, validation accuracies."""
    lines = []
    for kind, seed in jobs(cfg):
        path = checkpoint_of(kind, seed, cfg)
        found = shipped.find_shipped(path) or (path if path.exists() else None)
        if found is None:
            lines.append(f"{kind} seed {seed}: not started")
            continue
        state = load_checkpoint(found, cfg)
        if state is None:
            lines.append(f"{kind} seed {seed}: {found.name} is not a usable checkpoint")
            continue
        updates = seconds = 0
        lines.append(f"{kind} seed {seed} ({found}): epoch {state['epoch']} of {state['epochs']}")
        for record in state["history"]:
            updates += record["optimizer_steps"]
            seconds += record["seconds"]
            scores = " ".join(f"{key} {record[f'val_{key}']:5.1f}" for key in CURVE_KEYS)
            lines.append(f"  epoch {record['epoch']:3d} {updates:8,d} updates {seconds / 60:6.1f} min  {scores}")
    return lines


def shipped_table(cfg) -> list[str]:
    """Markdown: every shipped model of the profile with its manifest's numbers; the jobs not shipped are counted."""
    lines = ["| model | seed | best epoch | validation non-rel / rel | test non-rel / rel | furthest | closest | count "
             "| CPU-h |", "|---" * 9 + "|"]
    manifests, missing = shipped.shipped_manifests({job: checkpoint_of(*job, cfg) for job in jobs(cfg)})
    for (kind, seed), manifest in manifests.items():
        m = manifest["metrics"]
        lines.append(f"| {kind} | {seed} | {m['best_epoch']} | {m['val_non_relational']:.1f} / "
                     f"{m['val_relational']:.1f} | {m['test_non_relational']:.1f} / {m['test_relational']:.1f} | "
                     f"{m['test_furthest']:.1f} | {m['test_closest']:.1f} | {m['test_count']:.1f} | "
                     f"{manifest['cpu_seconds'] / 3600:.2f} |")
    lines.append("")
    lines.append(f"{missing} of {len(jobs(cfg))} models not shipped yet.")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shipped.add_long_run_arguments(parser)
    parser.add_argument("--progress", action="store_true", help="only print every job's learning curve so far")
    args = parser.parse_args(argv)
    cfg = profiles.get("sortofclevr", args.profile)
    if args.progress or args.table:
        print("\n".join(progress(cfg) if args.progress else shipped_table(cfg)))
        return 0
    share = shipped.parsed_share(parser, args, jobs(cfg))
    for kind, seed in share:
        run_job(kind, seed, cfg, ship=not args.no_ship, workers=shipped.worker_flags(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
