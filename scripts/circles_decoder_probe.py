"""Can the Circles decoders draw what the models leave out? The set each model makes vs the set that fits the image.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/circles_decoder_probe.py [--profile long] [--seeds 0] [--images 200]
        [--steps 200] [--lr 0.0125] [--set KEY=VALUE ...]

The trained `long` models leave most circles of radius 1-2 px out of their reconstructions. Is that the decoder
(it cannot draw them) or what makes the set (the SRN's inner loop, the baseline's generator)? For the profile's
trained SRN and baseline of each seed (loaded, never trained here), on the first ``--images`` test images with 1 to 5
circles, this fits the decoded set itself to each image (``experiment.fit_decoded_set``: Adam on the set, every
weight fixed) and compares it with the set the model makes: reconstruction error, the % of small and other circles
the elements together draw more than half of, and Table 1's success on those images. ``--set`` scores models trained
with that change (``scripts/circles_training_curve.py --set``). Writes
``results/sweeps/circles_decoder_probe[.<key>-<value>...].{json,md}``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from srnlib import metrics, paths, profiles, train
from srnlib.circles import experiment

BATCH = 100


def probe(model, images: torch.Tensor, counts: torch.Tensor, tables: np.ndarray, steps: int, lr: float) -> dict:
    """``{"made": stats, "fitted": stats}`` for the model's own set and the set fitted to the images, each with
    ``mse``, ``small`` / ``other`` (% of circles reconstructed) and ``success`` (Table 1's criterion, % of images)."""
    sets = {"made": [], "fitted": []}
    for start in range(0, len(images), BATCH):
        fitted, made = experiment.fit_decoded_set(model, images[start:start + BATCH], steps, lr)
        sets["made"].append(made)
        sets["fitted"].append(fitted)
    result = {}
    for name, parts in sets.items():
        with torch.no_grad():
            reconstruction, element_images, _ = model.decoder(torch.cat(parts))
        stats = experiment.circles_reconstructed(element_images, tables)
        stats["mse"] = float((reconstruction - images).square().mean())
        stats["success"] = 100.0 * float(metrics.decomposition_success(element_images, counts).float().mean())
        result[name] = {k: round(v, 5 if k == "mse" else 1) for k, v in stats.items()}
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="long")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--lr", type=float, default=0.0125)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="score the models trained with this change to the profile (repeatable)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from circles_training_curve import overrides, settings_suffix, with_defaults  # noqa: E402  (the --set rules)

    cfg = profiles.get("circles", args.profile)
    try:
        cfg = with_defaults(cfg, "circles", args.set)
        cfg = profiles.override(cfg, overrides(args.set, cfg))
    except ValueError as error:
        parser.error(str(error))
    _, test = experiment.datasets(cfg)
    chosen = torch.nonzero((test.counts >= 1) & (test.counts <= 5)).flatten()[:args.images]
    images, counts = test.images[chosen].float(), test.counts[chosen]
    tables = np.asarray(test.table)[chosen.numpy()]
    rows = []
    for seed in args.seeds:
        for kind in experiment.MODEL_KINDS:
            path = train.checkpoint_path(experiment.EXPERIMENT, args.profile, seed, cfg, kind)
            if not path.exists():  # trained elsewhere (the profile's script or the shipped files): never here
                parser.error(f"no trained {kind} for seed {seed} ({path.name})")
            started = time.process_time()
            model, _ = experiment.load_or_train(kind, cfg, seed)
            row = {"seed": seed, "model": kind, **probe(model, images, counts, tables, args.steps, args.lr),
                   "cpu_seconds": round(time.process_time() - started, 1)}
            print(json.dumps(row), flush=True)
            rows.append(row)
    out = paths.repo_root() / "results" / "sweeps"
    out.mkdir(parents=True, exist_ok=True)
    name = f"circles_decoder_probe{settings_suffix(args.set)}"
    result = {"profile": args.profile, "set": args.set, "images": len(chosen), "steps": args.steps, "lr": args.lr,
              "rows": rows, "torch_threads": 1, "date": time.strftime("%Y-%m-%d")}
    (out / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n")
    changed = f" trained with {', '.join(args.set)}" if args.set else ""
    title = f"# Circles, `{args.profile}` models{changed}: the set each model makes vs the set fitted to the image"
    lines = [title, "",
             f"Written by `scripts/circles_decoder_probe.py`: the first {len(chosen)} test images with 1–5 circles; "
             f"the fitted set is the model's set after {args.steps} Adam steps on the set alone (rate {args.lr} x "
             "the set's std), every weight fixed. *small* / *other*: % of the circles of radius 1–2 px / larger that "
             "the elements together draw more than half of; *success*: Table 1's criterion, % of the images.", "",
             "| seed | model | set | mse | small | other | success |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        for which in ("made", "fitted"):
            stats = row[which]
            lines.append(f"| {row['seed']} | {row['model']} | {which} | {stats['mse']:.5f} | {stats['small']:.1f} | "
                         f"{stats['other']:.1f} | {stats['success']:.1f} |")
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
