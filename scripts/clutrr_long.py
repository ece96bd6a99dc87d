"""Train and ship notebook 05's models for one profile: RN, RN + SRN and RN + GRN for every seed, resumably, in any
number of worker processes.

    OMP_NUM_THREADS=1 TQDM_DISABLE=1 nohup .venv/bin/python scripts/clutrr_long.py --worker 0 --workers 2 &
    OMP_NUM_THREADS=1 TQDM_DISABLE=1 nohup .venv/bin/python scripts/clutrr_long.py --worker 1 --workers 2 &
    .venv/bin/python scripts/clutrr_long.py --table         # the shipped models' numbers (markdown)

The jobs (seed-major: RN seed 0, RN + SRN seed 0, RN + GRN seed 0, RN seed 1, ...) are split round-robin between
the workers. Each job is exactly what notebook 05 does for that model, ``experiment.train_models(cfg, seed,
kinds=[kind])``: its checkpoint is the one the notebook loads, saved after every epoch, and a killed job resumes
from its last finished epoch. A finished job is shipped to ``shipped/clutrr/`` with a manifest (command, commit,
settings hash, steps, CPU-seconds, sha256, and the paper's number: the best epoch's test accuracy, overall and per
k); a job already shipped is skipped. ``--no-ship`` only trains.
"""
from __future__ import annotations

import argparse
import time

from srnlib import profiles, shipped
from srnlib.clutrr import experiment
from srnlib.train import checkpoint_path

COMMAND = "OMP_NUM_THREADS=1 TQDM_DISABLE=1 .venv/bin/python scripts/clutrr_long.py"


def jobs(seeds: int) -> list[tuple[str, int]]:
    """[(kind, seed)] for seeds 0..seeds-1, seed-major."""
    return [(kind, seed) for seed in range(seeds) for kind in experiment.KINDS]


def checkpoint_of(kind: str, seed: int, cfg):
    """The path of the job's checkpoint, as ``train_models`` names it."""
    return checkpoint_path("clutrr", cfg["profile"], seed, experiment.run_settings(cfg), kind)


def shipped_metrics(history: list[dict]) -> dict:
    """The manifest's numbers: the best epoch (the paper's measure) and its test accuracy, overall and per k."""
    best = experiment.best_epoch(history)
    metrics = {"best_epoch": best["epoch"], "epochs": len(history), "test_accuracy": round(best["accuracy"], 2)}
    metrics.update({f"test_accuracy_k{k}": round(value, 2) for k, value in experiment.accuracy_by_k(best).items()})
    return metrics


def run_job(kind: str, seed: int, cfg, ship: bool, workers: str) -> None:
    path = checkpoint_of(kind, seed, cfg)
    if shipped.find_shipped(path) is not None:
        print(f"skip {path.name}: already shipped", flush=True)
        return
    started = time.process_time()
    _, histories, _ = experiment.train_models(cfg, seed, kinds=(kind,))
    print(f"{path.name}: trained ({time.process_time() - started:.0f} CPU-s in this call)", flush=True)
    if ship:
        metrics = shipped_metrics(histories[kind])
        command = f"{COMMAND} --profile {cfg['profile']} {workers}"
        print(f"shipped {shipped.ship(path, command=command, metrics=metrics)}: {metrics}", flush=True)


def shipped_table(cfg, seeds: int) -> list[str]:
    """Markdown: every shipped model of the profile with its manifest's numbers; the jobs not shipped are counted."""
    lines = ["| model | seed | best epoch | test accuracy | k = 2 | k = 3 | k = 4 | CPU-min |", "|---" * 8 + "|"]
    manifests, missing = shipped.shipped_manifests({job: checkpoint_of(*job, cfg) for job in jobs(seeds)})
    for (kind, seed), manifest in manifests.items():
        m = manifest["metrics"]
        by_k = " | ".join(f"{m.get(f'test_accuracy_k{k}', float('nan')):.1f}" for k in (2, 3, 4))
        lines.append(f"| {experiment.MODEL_NAMES[kind]} | {seed} | {m['best_epoch']} of {m['epochs']} | "
                     f"{m['test_accuracy']:.1f} | {by_k} | {manifest['cpu_seconds'] / 60:.1f} |")
    lines.append("")
    lines.append(f"{missing} of {len(jobs(seeds))} models not shipped yet.")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (the paper's 5 runs)")
    shipped.add_long_run_arguments(parser)
    args = parser.parse_args(argv)
    cfg = profiles.get("clutrr", args.profile)
    if args.table:
        print("\n".join(shipped_table(cfg, args.seeds)))
        return 0
    share = shipped.parsed_share(parser, args, jobs(args.seeds))
    for kind, seed in share:
        run_job(kind, seed, cfg, ship=not args.no_ship, workers=shipped.worker_flags(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
