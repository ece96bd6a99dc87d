"""Train and ship notebook 04's models for one profile: every game x K x kind x seed, resumably, in any number of
worker processes.

    OMP_NUM_THREADS=1 nohup .venv/bin/python scripts/cswm_long.py --worker 0 --workers 2 [--profile long] &
    OMP_NUM_THREADS=1 nohup .venv/bin/python scripts/cswm_long.py --worker 1 --workers 2 [--profile long] &

The jobs (seed-major, so the first seeds of every model finish first) are split round-robin between the workers.
Each job is ``scripts/cswm_training_curve.py`` with the profile's own epochs, so its checkpoint is exactly the one
notebook 04 loads; it resumes after a kill from the last finished epoch. A finished job is shipped to
``shipped/cswm/`` with a manifest (command, commit, settings hash, steps, CPU seconds, sha256, Hits@1 and MRR at 1,
5 and 10 steps); a job already shipped is skipped. ``--no-ship`` only trains (the tests use it at ``smoke``).
"""
from __future__ import annotations

import argparse
import json
import time

import cswm_training_curve
from srnlib import paths, profiles, shipped
from srnlib.cswm import experiment


def jobs(cfg) -> list[tuple[str, int, str, int]]:
    """[(game, K, kind, seed)] of the profile, seed-major."""
    return [(game, objects, kind, seed) for seed in range(cfg["n_seeds"]) for game in cfg["games"]
            for objects in cfg["objects"] for kind in experiment.KINDS]


def checkpoint_of(game: str, objects: int, kind: str, seed: int, profile: str):
    """The newest training checkpoint of the job (its name as ``load_or_train`` makes it), or None."""
    found = sorted((paths.checkpoints_dir() / experiment.EXPERIMENT).glob(f"{game}_{kind}_k{objects}.{profile}."
                                                                          f"seed{seed}.*.pt"),
                   key=lambda path: path.stat().st_mtime)
    return found[-1] if found else None


def run_job(game: str, objects: int, kind: str, seed: int, profile: str, epochs: int, every: int, ship: bool) -> None:
    existing = checkpoint_of(game, objects, kind, seed, profile)
    if existing is not None and shipped.find_shipped(existing) is not None:
        print(f"skip {existing.name}: already shipped", flush=True)
        return
    arguments = ["--game", game, "--objects", str(objects), "--kind", kind, "--profile", profile,
                 "--epochs", str(epochs), "--every", str(every), "--seed", str(seed)]
    started = time.process_time()
    cswm_training_curve.main(arguments)
    cpu_seconds = time.process_time() - started
    if not ship:
        return
    checkpoint = checkpoint_of(game, objects, kind, seed, profile)
    curve = cswm_training_curve.curve_file(game, kind, objects, profile, seed, epochs)
    final = json.loads(curve.read_text())["history"][-1]
    metrics = {key: round(value, 2) for key, value in final.items() if key.startswith(("h1_", "mrr_"))}
    # the manifest's cpu_seconds: the sum of the history's per-epoch seconds (shipped.ship's default), which spans
    # resumes; this call's own process time is only printed
    command = "OMP_NUM_THREADS=1 .venv/bin/python scripts/cswm_training_curve.py " + " ".join(arguments)
    print(f"shipped {shipped.ship(checkpoint, command=command, metrics=metrics)} "
          f"(this call: {cpu_seconds:.0f} CPU-s)", flush=True)


def shipped_table(cfg) -> list[str]:
    """Markdown: every shipped model of the profile (from its manifest) with Hits@1 / MRR after 1, 5 and 10 steps
    and its 10-step Hits@1 as a multiple of the game's chance level; the jobs not shipped yet are counted."""
    lines = ["| game | K | model | seed | H@1 / MRR, 1 step | 5 steps | 10 steps | 10-step H@1 / chance |",
             "|---" * 8 + "|"]
    chance, missing = {}, 0
    for game, objects, kind, seed in jobs(cfg):
        found = next(iter(sorted((shipped.shipped_dir() / experiment.EXPERIMENT).glob(
            f"{game}_{kind}_k{objects}.{cfg['profile']}.seed{seed}.*.json"))), None)
        if found is None:
            missing += 1
            continue
        if game not in chance:
            chance[game] = experiment.chance_hits(experiment.data(game, cfg)[1])["10"]
        metrics = shipped.read_manifest(found.with_suffix(".pt"))["metrics"]
        cells = " | ".join(f"{metrics[f'h1_{k}']:.1f} / {metrics[f'mrr_{k}']:.1f}" for k in (1, 5, 10))
        lines.append(f"| {game} | {objects} | {kind} | {seed} | {cells} | {metrics['h1_10'] / chance[game]:.1f}x |")
    lines.append("")
    lines.append("Chance (10 steps): " + ", ".join(f"{game} {pct:.2f} %" for game, pct in chance.items())
                 + f"; {missing} of {len(jobs(cfg))} models not shipped yet.")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shipped.add_long_run_arguments(parser)
    parser.add_argument("--every", type=int, default=5, help="score the evaluation set every this many epochs")
    args = parser.parse_args(argv)
    cfg = profiles.get("cswm", args.profile)
    if args.table:
        print("\n".join(shipped_table(cfg)))
        return 0
    share = shipped.parsed_share(parser, args, jobs(cfg))
    for job in share:
        run_job(*job, profile=args.profile, epochs=cfg["epochs"], every=args.every, ship=not args.no_ship)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
