"""Short Sort-of-CLEVR training runs over settings, one table: which RN settings leave the answer priors soonest.

    .venv/bin/python scripts/sortofclevr_sweep.py --list                       # the named runs and their settings
    .venv/bin/python scripts/sortofclevr_sweep.py --runs he-mean-64 [--seed 0] [--epochs 6]
    .venv/bin/python scripts/sortofclevr_sweep.py --name mine --kind rn --set rn_hidden=96 --set lr=2e-3 --epochs 4
    .venv/bin/python scripts/sortofclevr_sweep.py --table                      # rewrite the markdown from the JSON

Every run trains one model with the ``quick`` settings and its overrides through the library's own training
(``srnlib.sortofclevr.experiment.train_model``: Adam, per-update warm-up + cosine, batch-norm statistics recomputed
before every evaluation), no checkpoint (but see ``--resumable``), and measures the validation accuracy per question
type after every epoch (1,000 updates at quick). ``--kind state`` trains the state-description RN (the same head on
the true objects as vectors) instead. Each run appends one row to ``results/sweeps/sortofclevr_sweep.json``: name,
kind, seed, the overrides and the settings hash, updates, CPU-seconds of the process (training and evaluation, and
training alone), updates per CPU-second, and the learning curve (updates, CPU-seconds, validation accuracies); the
markdown table ``results/sweeps/sortofclevr_sweep.md`` is rewritten from it. A run already in the JSON (same name,
kind, seed, epochs and settings hash) is skipped. One process, one thread (``OMP_NUM_THREADS=1``). ``--resumable``
saves a checkpoint after every epoch (``checkpoints/sortofclevr/``, profile ``sweep-<base>``, keyed by the run's
settings and name) and a killed run started again resumes from its last finished epoch, CPU-seconds counted across
both.
"""
from __future__ import annotations

import argparse
import ast
import dataclasses
import datetime
import functools
import json
import math
import subprocess
import time
from pathlib import Path

import torch

from srnlib import paths, profiles
from srnlib.sortofclevr import experiment, perception
from srnlib.config import SortOfClevrConfig
from srnlib.sortofclevr.models import StateRelationNetwork, build_model
from srnlib.train import checkpoint_path, load_checkpoint

BASE = {"profile": "quick"}  # main() sets it (--base; tests use smoke)
KINDS = ("rn", "rn_srn", "state", "state_grid", "state_grid_rgb")
# name -> (kind, overrides of the quick settings). OLD: the quick profile before this sweep (width 32, PyTorch's init,
# the sum over pairs, dropout 0.5, Adam 1e-3 without warm-up, batches of 6 images x 10 questions). FIXED: He init,
# the mean over pairs, no dropout, Adam 3e-3 with a 300-update warm-up. Batch-norm statistics are always
# recomputed before evaluating. "fixed-64-30img" is the current quick profile. Every row stores its full settings.
OLD = {"train_images": 6_000, "val_images": 300, "test_images": 500, "questions_per_image": 10, "rn_hidden": 32,
       "lr": 1e-3, "warmup_steps": 0, "init": "default", "aggregate": "sum", "dropout": 0.5}
FIXED = {"init": "he", "aggregate": "mean", "dropout": 0.0, "lr": 3e-3, "warmup_steps": 300}
RUNS: dict[str, tuple[str, dict]] = {
    "quick-old": ("rn", OLD),
    "state-old-32": ("state", OLD),
    "state-old-64": ("state", dict(OLD, rn_hidden=64)),
    "state-fixed-64": ("state", dict(OLD, **FIXED, rn_hidden=64)),
    "fixed-64": ("rn", dict(OLD, **FIXED, rn_hidden=64)),
    "fixed-128": ("rn", dict(OLD, **FIXED, rn_hidden=128)),
    "fixed-64-stem0.1": ("rn", dict(OLD, **FIXED, rn_hidden=64, stem_lr=0.1)),
    # 30 images x 2 questions per batch instead of 6 x 10: the same g work, 5x the images the conv stem learns from
    "fixed-64-30img": ("rn", {}),
    "fixed-128-30img": ("rn", {"rn_hidden": 128}),
    "srn-fixed-64-30img": ("rn_srn", {}),
    "state-fixed-64-30img": ("state", {}),
    # the conv stem at a fraction of the learning rate (run with --epochs 10): 0.1 became the long profile's
    "stem0.1-10k": ("rn", {"stem_lr": 0.1}),
    "stem0.3-10k": ("rn", {"stem_lr": 0.3}),
    # the peers' learning rate and one between (run with --epochs 8), watching the stem's colour probe
    "lr1e-4-8k": ("rn", {"lr": 1e-4}),
    "lr1e-3-8k": ("rn", {"lr": 1e-3}),
    # a curriculum: non-relational questions only for the first 3,000 updates (run with --epochs 8)
    "nonrel-first-3k": ("rn", {"non_relational_steps": 3000}),
    # the conv layers' order: Santoro et al.'s ReLU-then-batch-norm, and no normalisation (run with --epochs 4)
    "stem-relu-bn": ("rn", {"stem": "conv-relu-bn"}),
    "stem-no-bn": ("rn", {"stem": "conv-relu"}),
    # each cell's mean colour appended to its conv features (a deviation from the paper; run with --epochs 6)
    "cell-rgb": ("rn", {"cell_rgb": True}),
    "srn-cell-rgb": ("rn_srn", {"cell_rgb": True}),
    # the state-description RN on the 25 cells a perfect stem would give (grid_state_vectors; --epochs 4)
    "state-grid": ("state_grid", {}),
    "state-grid-rgb": ("state_grid_rgb", {}),  # the same cells, each object's colour as its RGB
    # two 1 x 1 conv layers before the strided ones, per-pixel colour features (run with --epochs 6)
    "stem-pixel": ("rn", {"stem": "pixel-conv-bn-relu"}),
    # four conv layers whose receptive field is one 15 x 15 px cell (run with --epochs 6)
    "stem-patch": ("rn", {"stem": "patch-conv-bn-relu"}),
    # each cell's learned 16-class colour histogram appended to its conv features (models.CellColours; a deviation
    # from the paper; run with --epochs 12)
    "cell-colours": ("rn", {"cell_colours": 16}),
    "srn-cell-colours": ("rn_srn", {"cell_colours": 16}),
    "cell-colours-bn": ("rn", {"cell_colours": 16, "cell_colours_norm": True}),  # the histogram batch-normalised
    "srn-cell-colours-bn": ("rn_srn", {"cell_colours": 16, "cell_colours_norm": True}),
    # the same with an inner lr that moves the untrained set (23 % of its norm in 5 steps, against 0.2 % at 0.5;
    # the shipped long RN + SRN's loop solves 0.3 % of its inner loss): does the loop then search? (--epochs 12)
    "srn-cell-colours-bn-lr100": ("rn_srn", {"cell_colours": 16, "cell_colours_norm": True, "refiner.lr": 100.0}),
    # no outer gradient through S0 (the authors' released Circles training, s0_gradient=False): the perceptual stage
    # learns only through z, so the set the head reads improves only by the loop's search (--epochs 12)
    "srn-cell-colours-bn-detached-lr20": ("rn_srn", {"cell_colours": 16, "cell_colours_norm": True,
                                                    "s0_gradient": False, "refiner.lr": 20.0}),
    "srn-cell-colours-bn-detached": ("rn_srn", {"cell_colours": 16, "cell_colours_norm": True, "s0_gradient": False}),
    # an outer-loss term on the share of Eq. 2 the loop leaves, L(S_r) / L(S_0) (DSPN's representation loss, made
    # scale-free; inner_loss_weight), with an inner lr that moves the untrained set: does the loop then search, and
    # does the 0-step ablation grow? (--epochs 12)
    "srn-cell-colours-bn-solve-lr30": ("rn_srn", {"cell_colours": 16, "cell_colours_norm": True, "refiner.lr": 30.0,
                                                 "inner_loss_weight": 1.0}),
    # the run above met the term by shrinking the problem (z ~ H_agg(S_0), the set hardly moves); without an outer
    # gradient through S0 the head can only read what the loop puts in the set, so z must carry the scene (--epochs 12)
    "srn-cell-colours-bn-detached-solve-lr20": ("rn_srn", {"cell_colours": 16, "cell_colours_norm": True,
                                                          "s0_gradient": False, "refiner.lr": 20.0,
                                                          "inner_loss_weight": 1.0}),
}
OUT = {"dir": None}  # main() sets it: results/sweeps/ for the sweep, a temporary folder for tests


def out_dir() -> Path:
    return OUT["dir"] if OUT["dir"] is not None else paths.repo_root() / "results" / "sweeps"


def json_path() -> Path:
    return out_dir() / "sortofclevr_sweep.json"


def load_rows() -> list[dict]:
    path = json_path()
    return json.loads(path.read_text()) if path.exists() else []


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=paths.repo_root(), check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run(name: str, kind: str, overrides: dict, seed: int, epochs: int | None, resumable: bool = False) -> dict:
    """Train one model and return its table row (see the module docstring)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    cfg = profiles.get("sortofclevr", BASE["profile"])
    # sweep-only settings: SortOfClevrConfig's optional fields that no profile sets (stem_lr, stem, cell_rgb, ...)
    extra = {field.name for field in dataclasses.fields(SortOfClevrConfig)} - set(cfg)
    unknown = set(overrides) - set(profiles.setting_names(cfg)) - extra
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}")
    cfg = profiles.override(cfg, {key: value for key, value in overrides.items() if key not in extra})
    cfg.update({key: value for key, value in overrides.items() if key in extra})
    epochs = cfg["epochs"] if epochs is None else epochs
    train_set, val_set, _ = experiment.datasets(cfg)
    images_per_batch = max(1, cfg["batch_size"] // cfg["questions_per_image"])
    torch.manual_seed(seed)
    config = SortOfClevrConfig.from_settings(cfg)
    if kind.startswith("state"):
        grid, colour = kind != "state", "rgb" if kind.endswith("rgb") else "one-hot"
        model = StateRelationNetwork(config)
        data = experiment.StateQuestions(train_set, grid=grid, colour=colour)
        score = functools.partial(experiment.state_accuracy_by_category, grid=grid, colour=colour)
    else:
        model = build_model(kind, config)
        data, score = experiment.ImageQuestions(train_set), experiment.accuracy_by_category
    checkpoint = None
    if resumable:
        checkpoint = checkpoint_path(experiment.EXPERIMENT, f"sweep-{BASE['profile']}", seed, cfg, name)
    done = load_checkpoint(checkpoint, cfg) if checkpoint is not None else None
    before = done["history"][-1] if done else {}  # the epochs and CPU-seconds of the process(es) before a resume
    evaluation = {"cpu": before.get("sweep_eval_cpu_seconds", 0.0), "epochs": before.get("epoch", 0)}
    started = time.process_time() - before.get("sweep_cpu_seconds", 0.0)
    steps_per_epoch = math.ceil(len(data) / images_per_batch)

    def evaluate(trained):
        begun = time.process_time()
        if kind in ("rn", "rn_srn"):
            experiment.recompute_batch_norm(trained, train_set, images_per_batch)
        scores = score(trained, val_set)
        if kind in ("rn", "rn_srn"):  # does the conv stem still tell the colours apart? (the questions name objects by colour)
            scores["stem_colour"] = 100 * perception.stem_colour_accuracy(trained, val_set, images=600)
        evaluation["cpu"] += time.process_time() - begun
        evaluation["epochs"] += 1
        cpu_seconds = round(time.process_time() - started, 1)
        print(f"{name} seed {seed}: {evaluation['epochs'] * steps_per_epoch} updates, {cpu_seconds:.0f} CPU-s: "
              f"non-relational {scores['non_relational']:.1f} %, relational {scores['relational']:.1f} % "
              f"(closest {scores['closest']:.0f}, furthest {scores['furthest']:.0f}, count {scores['count']:.0f})"
              + (f", stem colour probe {scores['stem_colour']:.0f} %" if "stem_colour" in scores else ""), flush=True)
        return {**{f"val_{key}": value for key, value in scores.items()},
                "sweep_cpu_seconds": cpu_seconds, "sweep_eval_cpu_seconds": evaluation["cpu"]}

    history = experiment.train_model(model, cfg, data, evaluate, seed=seed, epochs=epochs, checkpoint=checkpoint,
                                     name=name, select_best=None)
    curve = [{"steps": record["epoch"] * steps_per_epoch, "cpu_seconds": round(record["sweep_cpu_seconds"], 1),
              **{key[4:]: round(value, 2) for key, value in record.items() if key.startswith("val_")}}
             for record in history]  # from the history: a resumed run's earlier epochs too
    refiner = refiner_numbers(model, val_set) if kind == "rn_srn" else {}
    cpu = time.process_time() - started
    steps = epochs * steps_per_epoch
    return {"name": name, "kind": kind, "base": BASE["profile"], "seed": seed, "epochs": epochs, "steps": steps, "overrides": overrides,
            "settings_hash": profiles.settings_hash(cfg), "settings": json.loads(json.dumps(cfg)),
            "hidden": cfg["rn_hidden"],
            "images_per_batch": images_per_batch, "cpu_seconds": round(cpu, 1),
            "train_cpu_seconds": round(cpu - evaluation["cpu"], 1),
            "steps_per_cpu_second": round(steps / max(cpu - evaluation["cpu"], 1e-9), 2),
            "colour_blind": colour_blind_scores(val_set),
            "final": curve[-1], "best_relational": max(curve, key=lambda r: r["relational"]), "curve": curve,
            **refiner,
            "commit": commit(), "date": datetime.date.today().isoformat(), "threads": torch.get_num_threads()}


def refiner_numbers(model, val_set) -> dict:
    """An RN + SRN row's extra entries, after training (batch norm as evaluated): ``final_0_steps``, the validation
    accuracies with the loop switched off, and ``inner_problem``, how much of Eq. 2 the loop solves on 200
    validation images (``srnlib.refine.inner_problem``)."""
    images = val_set.image(slice(200))
    without = experiment.accuracy_by_category(model, val_set, inner_steps=0)
    return {"final_0_steps": {key: round(value, 2) for key, value in without.items()},
            "inner_problem": {key: round(value, 5) for key, value in model.inner_problem(images).items()}}


def colour_blind_scores(val_set) -> dict:
    """A row's ``colour_blind`` entry: the colour-blind answerer's accuracies (%) on its validation set."""
    return {key: round(value, 2) for key, value in experiment.colour_blind_accuracy_by_category(val_set).items()}


def first_step(row: dict, key: str, level: float) -> str:
    """Updates (and CPU-minutes) when ``key`` first reached ``level`` % on the validation set, or "-"."""
    hit = next((point for point in row["curve"] if point[key] >= level), None)
    return "-" if hit is None else f"{hit['steps']:,} ({hit['cpu_seconds'] / 60:.1f})"


def write_table(rows: list[dict]) -> Path:
    lines = ["# Sort-of-CLEVR: short training runs", "",
             "Written by `scripts/sortofclevr_sweep.py` from `sortofclevr_sweep.json` (one row per run, with its "
             "full settings). `overrides` change the base profile's settings: `quick (before this sweep)` is the "
             "quick profile of width 32 and 6 images x 10 questions per batch, `quick` the current one (width 64, "
             "He init, mean over pairs, Adam 3e-3 with warm-up, 30 images x 2 questions). Validation accuracy "
             "after the last epoch (300 images x 10 questions or 1,500 x 2); `non-rel >= 90` and `rel >= 75` give "
             "the first update count (and CPU-minutes, training and evaluation) where the run reached it. "
             "Updates/s: training updates per CPU-second, one thread. Answer priors: non-relational ~50 %, "
             "relational ~45 %. `colour`: the conv stem's cells, linear probe of the colour whose centre lies in the "
             "cell (`srnlib.sortofclevr.perception`, held-out occupied cells of 600 validation images; chance 17 %, "
             "an untrained stem 25 %, the cells' mean RGB 84 %); `-` for rows run before the probe existed. "
             "`colour-blind`: non-relational / relational accuracy of the best answerer that sees the objects' "
             "positions and shapes but not their colours (`experiment.colour_blind_accuracy_by_category`, same "
             "validation set): a run at this level has not learned which object a question names. `SRN, 0 steps`: "
             "an RN + SRN's furthest accuracy with its loop switched off, and the share of its inner loss "
             "||H_agg(S) - z||^2 its steps remove (`srnlib.refine.inner_problem`, 200 validation images).", "",
             "| name | kind | base | seed | hidden | images/batch | overrides | updates | CPU-min | updates/s | "
             "non-rel | rel | closest | furthest | count | colour | colour-blind | non-rel >= 90 | rel >= 75 | "
             "SRN, 0 steps: furthest / solved |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        final = row["final"]
        overrides = ", ".join(f"{k}={v}" for k, v in row["overrides"].items()) or "-"
        colour = f"{final['stem_colour']:.0f}" if "stem_colour" in final else "-"
        blind = row.get("colour_blind")
        blind = f"{blind['non_relational']:.1f} / {blind['relational']:.1f}" if blind else "-"
        lines.append(f"| {row['name']} | {row['kind']} | {row.get('base', 'quick')} | {row['seed']} | {row['hidden']} | "
                     f"{row['images_per_batch']} "
                     f"| {overrides} | {row['steps']:,} | {row['cpu_seconds'] / 60:.1f} | "
                     f"{row['steps_per_cpu_second']:.1f} | {final['non_relational']:.1f} | {final['relational']:.1f} "
                     f"| {final['closest']:.1f} | {final['furthest']:.1f} | {final['count']:.1f} | {colour} | {blind} | "
                     f"{first_step(row, 'non_relational', 90)} | {first_step(row, 'relational', 75)} | "
                     f"{srn_cell(row)} |")
    path = out_dir() / "sortofclevr_sweep.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def srn_cell(row: dict) -> str:
    """The table's last cell: an RN + SRN's furthest accuracy with 0 inner steps and the share of its inner loss
    solved, or "-" (other kinds, and RN + SRN rows run before they were recorded)."""
    if "final_0_steps" not in row:
        return "-"
    return f"{row['final_0_steps']['furthest']:.1f} / {100 * row['inner_problem']['solved']:.1f} %"


def save(rows: list[dict]) -> None:
    out_dir().mkdir(parents=True, exist_ok=True)
    temporary = json_path().with_suffix(".json.tmp")
    temporary.write_text(json.dumps(rows, indent=1) + "\n")
    temporary.replace(json_path())
    write_table(rows)


def parse_set(items: list[str]) -> dict:
    overrides = {}
    for item in items:
        key, _, value = item.partition("=")
        if not key or not _:
            raise SystemExit(f"--set takes KEY=VALUE, got {item!r}")
        try:
            overrides[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            overrides[key] = value
    return overrides


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", default="", help="comma-separated names of RUNS")
    parser.add_argument("--name", help="a run of your own: its name (with --kind and --set)")
    parser.add_argument("--kind", default="rn", choices=KINDS)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a quick setting")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, help="default: the quick profile's (1,000 updates each)")
    parser.add_argument("--resumable", action="store_true", help="checkpoint every epoch; resume a killed run")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--table", action="store_true", help="only rewrite the markdown from the JSON")
    parser.add_argument("--base", default="quick", help="the profile whose settings the overrides change")
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)  # tests write elsewhere
    args = parser.parse_args(argv)
    OUT["dir"], BASE["profile"] = args.out, args.base
    torch.set_num_threads(1)
    if args.list:
        for name, (kind, overrides) in RUNS.items():
            print(f"{name:>22}: {kind:<6} {overrides}")
        return
    if args.table:  # rows run before the colour-blind column existed get it from their own validation set
        rows = load_rows()
        for row in rows:
            if "colour_blind" not in row:
                row["colour_blind"] = colour_blind_scores(experiment.datasets(row["settings"])[1])
        save(rows)
        print(f"wrote {write_table(rows)}")
        return
    todo = [(name, *RUNS[name]) for name in filter(None, args.runs.split(","))]
    if args.name:
        todo.append((args.name, args.kind, parse_set(args.set)))
    for name, kind, overrides in todo:
        cfg = dict(profiles.get("sortofclevr", BASE["profile"]), **overrides)
        epochs = args.epochs if args.epochs is not None else cfg["epochs"]
        key = (name, kind, args.seed, epochs, profiles.settings_hash(cfg))
        rows = load_rows()
        if any((r["name"], r["kind"], r["seed"], r["epochs"], r["settings_hash"]) == key for r in rows):
            print(f"{name} seed {args.seed}: already in {json_path()}, skipped")
            continue
        row = run(name, kind, overrides, args.seed, args.epochs, resumable=args.resumable)
        rows = load_rows() + [row]
        save(rows)
        print(f"{name}: {row['steps']:,} updates in {row['cpu_seconds'] / 60:.1f} CPU-minutes "
              f"({row['steps_per_cpu_second']:.1f} updates/s); wrote {json_path()}")


if __name__ == "__main__":
    main()
