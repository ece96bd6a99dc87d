"""A search for the smallest CPU setting where Table 1's direction shows: a grid of Circles runs, one table.

    .venv/bin/python scripts/circles_search.py --list                  # the grid's runs and their settings
    .venv/bin/python scripts/circles_search.py --runs srn-lr30,baseline [--seed 0]
    .venv/bin/python scripts/circles_search.py --table                 # rewrite the markdown from the JSON

Every run trains one model (``--kind`` baseline or srn) with the ``quick`` settings and the run's overrides through
``srnlib.circles.experiment.load_or_train`` (its own checkpoint, resumable after a kill), scores Table 1 every
``every`` epochs (the SRN also with 0 inner steps, decoding its own S0) and appends one row to
``results/sweeps/circles_search.json``: the overrides, seed, steps, CPU-minutes of the process, Table 1, Table 1 at 0
inner steps, reconstruction error, miscounts and how far the inner loop moves the set. ``results/sweeps/
circles_search.md`` is rewritten from the JSON after every run: each SRN row beside the baseline row of the same
data, set size, decoder, steps and seed, with the two checks of the Circles lesson (SRN >= 2x the baseline at 2-5
circles; 0 inner steps >= 10 points worse at 2-5 circles). A run already in the JSON (same name, seed and settings
hash) is skipped. Run one process per core (``OMP_NUM_THREADS=1``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from circles_training_curve import scorer  # noqa: E402

from srnlib import paths, profiles, results  # noqa: E402
from srnlib.circles import experiment  # noqa: E402
from srnlib.paper import CIRCLE_COUNTS, inner_loop_claim_holds, table1_claim_holds  # noqa: E402

BASE = "quick"
# name -> (kind, epochs, overrides of the quick settings). The quick SRN's inner loop hardly moves the set at
# initialisation (lr 0.1: 0.3 % of an element's norm in 5 steps; lr 30: about 50 %), so the grid raises the inner
# lr, with and without the gradient into S0 (s0_gradient=False is the authors' released training).
GRID: dict[str, tuple[str, int, dict]] = {
    "baseline": ("baseline", 16, {}),
    "srn": ("srn", 16, {}),
    "srn-lr30": ("srn", 16, {"refiner.lr": 30.0}),
    "srn-lr30-detached": ("srn", 16, {"refiner.lr": 30.0, "s0_gradient": False}),
    "srn-lr100": ("srn", 16, {"refiner.lr": 100.0}),
    "srn-lr100-detached": ("srn", 16, {"refiner.lr": 100.0, "s0_gradient": False}),
    "srn-lr10-detached": ("srn", 16, {"refiner.lr": 10.0, "s0_gradient": False}),
    "srn-lr100-clip": ("srn", 16, {"refiner.lr": 100.0, "refiner.grad_clip": 0.01}),
    "baseline-logit": ("baseline", 16, {"attention": "logit"}),
    "srn-lr30-logit": ("srn", 16, {"refiner.lr": 30.0, "attention": "logit"}),
    # neither long model draws circles of radius 1-2 (small_circles_drawn of experiment.circle_sharing); the
    # broadcast decoder can draw a circle of any radius at any place with one linear function of its coordinates
    "baseline-broadcast16": ("baseline", 16, {"decoder": "broadcast", "decoder_channels": [16]}),
    "srn-lr30-broadcast16": ("srn", 16, {"refiner.lr": 30.0, "decoder": "broadcast", "decoder_channels": [16]}),
    # neither long model even reconstructs circles of radius 1-2 (small_circles_reconstructed): is it the decoder's
    # width (quick's is 16, 16, 8 channels; the paper's 1024, 512, 256, 128)?
    "baseline-dec32": ("baseline", 16, {"decoder_channels": [32, 32, 16]}),
    "srn-lr30-dec32": ("srn", 16, {"refiner.lr": 30.0, "decoder_channels": [32, 32, 16]}),
    # ... or the decoder's coarse first map (8 x 8, three doublings)? start each element at 16 x 16 (two doublings)
    "baseline-start16": ("baseline", 16, {"decoder_start": 16, "decoder_channels": [16, 8]}),
    "srn-lr30-start16": ("srn", 16, {"refiner.lr": 30.0, "decoder_start": 16, "decoder_channels": [16, 8]}),
}
EVERY = 4  # score Table 1 every this many epochs
# Settings that change the data or the architecture both models share: an SRN row is compared with the baseline
# row that agrees on all of these (and on epochs and seed).
SHARED_KEYS = ("n", "d", "min_circles", "max_circles", "train_images", "test_images", "batch_size", "lr",
               "encoder_channels", "group_channels", "decoder_channels", "decoder_start", "attention", "decoder")


OUT = {"dir": None}  # main() sets it: results/sweeps/ for the search itself, runs/sweeps/ (git-ignored) for tests


def out_dir() -> Path:
    folder = OUT["dir"] or paths.results_dir() / "sweeps"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def load_rows() -> list[dict]:
    path = out_dir() / "circles_search.json"
    return json.loads(path.read_text())["runs"] if path.exists() else []


def save_rows(rows: list[dict]) -> None:
    path = out_dir() / "circles_search.json"
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps({"base_profile": BASE, "runs": rows}, indent=1) + "\n")
    temporary.replace(path)
    (out_dir() / "circles_search.md").write_text("\n".join(markdown(rows)) + "\n")


def settings_of(name: str, profile: str = BASE) -> tuple[str, dict]:
    """The run's model kind and settings: ``profile``'s (the search uses quick; tests use smoke) + overrides (a
    nested setting by its dotted name, ``refiner.lr``)."""
    kind, epochs, changes = GRID[name]
    cfg = profiles.get("circles", profile)
    unknown = set(changes) - set(profiles.setting_names(cfg))
    if unknown:
        raise ValueError(f"run {name!r} overrides settings the profile does not have: {sorted(unknown)}")
    # other profiles: one epoch, for tests
    return kind, profiles.override(cfg, dict(changes, epochs=epochs if profile == BASE else 1))


def run(name: str, seed: int, profile: str = BASE) -> dict:
    """Train (or load) one grid run and return its table row."""
    kind, cfg = settings_of(name, profile)
    started_cpu, started = time.process_time(), time.perf_counter()
    train_set, test_set = experiment.datasets(cfg)
    model, history = experiment.load_or_train(kind, cfg, seed, train_set=train_set,
                                              evaluate=scorer(kind, test_set, EVERY))
    final = experiment.evaluate(model, test_set)
    row = {"name": name, "kind": kind, "seed": seed, "overrides": GRID[name][2], "epochs": cfg["epochs"],
           "steps": cfg["epochs"] * -(-len(train_set) // cfg["batch_size"]),
           "settings_hash": profiles.settings_hash(dict(cfg)), "settings": dict(cfg),
           "train_seconds": experiment.training_seconds(history),
           "cpu_minutes_this_call": (time.process_time() - started_cpu) / 60,
           "wall_minutes_this_call": (time.perf_counter() - started) / 60,
           "device": results.hardware(), "table1": final["table1"], "recon_mse": final["recon_mse"],
           "fg_ari": final["fg_ari"], "circle_sharing": experiment.circle_sharing(model, test_set),
           "curve": [{k: v for k, v in r.items() if k.startswith(("epoch", "success", "train_loss"))}
                     for r in history if "success_1" in r]}
    if kind == "srn":
        row["table1_0_steps"] = experiment.success_by_inner_steps(model, test_set, steps=(0,))["0"]
        row["refinement"] = experiment.refinement_stats(model, test_set.images[:200])
    return row


def matching_baseline(row: dict, rows: list[dict]) -> dict | None:
    for other in rows:
        if (other["kind"] == "baseline" and other["seed"] == row["seed"] and other["epochs"] == row["epochs"]
                and all(other["settings"].get(k) == row["settings"].get(k) for k in SHARED_KEYS)):
            return other
    return None


def checks(row: dict, rows: list[dict]) -> tuple[str, str]:
    """(SRN >= 2x the matching baseline at 2-5 circles, 0 inner steps >= 10 points worse at 2-5) as ✓/✗/–."""
    baseline = matching_baseline(row, rows)
    twice = "–" if baseline is None else ("✓" if table1_claim_holds({"srn": row["table1"],
                                                                     "baseline": baseline["table1"]}) else "✗")
    return twice, "✓" if inner_loop_claim_holds(row["table1"], row["table1_0_steps"]) else "✗"


def markdown(rows: list[dict]) -> list[str]:
    counts = " | ".join(CIRCLE_COUNTS)
    lines = ["# Circles: the search for a CPU setting where Table 1's direction shows",
             "",
             f"Written by `scripts/circles_search.py` from `circles_search.json`. Every run: the `{BASE}` settings with "
             "the overrides shown, one seed, one torch thread. % of test images decomposed (Table 1's metric) for "
             f"1–5 circles ({counts}); for the SRN also with 0 inner steps (its own S0 decoded). *2x*: SRN ≥ 2x the "
             "baseline of the same data, architecture, epochs and seed at 2–5 circles; *loop*: 0 inner steps ≥ 10 "
             "points worse at 2–5 circles. *small circles in the reconstruction*: % of the circles of radius "
             "1–2 px the elements together draw more than half of (`experiment.circle_sharing`). *moved*: mean "
             "distance an element moves in the loop / mean norm of S0. Paper (GPU, 64,000 images, 16 elements, "
             "0-10 circles): baseline 45.1 / 16.5 / 7.8 / 3.2 / 1.9, SRN 95.8 / 88.7 / 79.9 / 72.7 / 65.2.",
             "",
             "| run | overrides | seed | steps | CPU min | Table 1 | 0 steps | recon MSE | over-counted % "
             "| small circles in the reconstruction % | moved | 2x | loop |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        table = " / ".join(f"{row['table1'][k]:.0f}" for k in CIRCLE_COUNTS)
        if row["kind"] == "srn":
            zero = " / ".join(f"{row['table1_0_steps'][k]:.0f}" for k in CIRCLE_COUNTS)
            moved = f"{row['refinement']['movement'] / max(row['refinement']['element_norm'], 1e-12):.2f}"
            twice, loop = checks(row, rows)
        else:
            zero, moved, twice, loop = "", "", "", ""
        overrides = ", ".join(f"{k}={v}" for k, v in row["overrides"].items()) or "–"
        small = row["circle_sharing"].get("small_circles_reconstructed")  # rows before it was measured lack it
        small = "" if small is None else f"{small:.0f}"
        lines.append(f"| {row['name']} | {overrides} | {row['seed']} | {row['steps']} | "
                     f"{row['cpu_minutes_this_call']:.1f} | {table} | {zero} | {row['recon_mse']:.4f} | "
                     f"{row['circle_sharing']['over_counted']:.0f} | {small} | {moved} | {twice} | {loop} |")
    lines += ["", "CPU min: CPU time of the process that trained and scored the run (one torch thread; several runs "
              "shared the 2 cores, so wall time was longer); each row's JSON also has the wall seconds of training "
              "(train_seconds) and the device."]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="", help="comma-separated grid names (see --list)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--list", action="store_true", help="print the grid and exit")
    parser.add_argument("--profile", default=BASE, choices=profiles.PROFILES,
                        help=f"settings the overrides apply to (default {BASE}; others train 1 epoch, for tests)")
    parser.add_argument("--table", action="store_true", help="only rewrite the markdown table from the JSON")
    args = parser.parse_args(argv)
    if args.list:
        for name, (kind, epochs, changes) in GRID.items():
            print(f"{name:24s} {kind:8s} epochs={epochs} {changes}")
        return 0
    OUT["dir"] = paths.results_dir() / "sweeps" if args.profile == BASE else paths.repo_root() / "runs" / "sweeps"
    rows = load_rows()
    if args.table:
        save_rows(rows)
        return 0
    names = [name for name in args.runs.split(",") if name]
    unknown = [name for name in names if name not in GRID]
    if not names or unknown:
        parser.error(f"--runs takes names of the grid ({', '.join(GRID)}), got {args.runs!r}")
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    for name in names:
        _, cfg = settings_of(name, args.profile)
        key = (name, args.seed, profiles.settings_hash(dict(cfg)))
        if any((r["name"], r["seed"], r["settings_hash"]) == key for r in load_rows()):
            print(f"{name} seed {args.seed}: already in the table, skipped")
            continue
        row = run(name, args.seed, args.profile)
        rows = [r for r in load_rows() if (r["name"], r["seed"], r["settings_hash"]) != key] + [row]
        save_rows(rows)
        print("\n".join(markdown([r for r in rows if r["name"] == name and r["seed"] == args.seed])[-4:]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
