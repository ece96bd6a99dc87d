"""Table 1 of the shipped Circles models on a larger test set: is the 2x at 5 circles decided by sampling noise?

    OMP_NUM_THREADS=1 .venv/bin/python scripts/circles_large_test.py [--profile long] [--images 12000] [--seeds 0 1 2]
        [--srn-set refiner.embed_dim=128] [--set foreground_weight=2]

The profile's test set has 2,000 images, about 330 per circle count, so one count's success rate has a binomial
standard error of about 2.5 points. This scores the profile's shipped SRN and baseline of each seed (loaded, never
trained) on ``--images`` fresh test images of 1 to 5 circles, Table 1's counts (generator seed 5; the profile trains on
seed 0 and tests on seed 1), and writes Table 1, the SRN / baseline ratio per count with its standard error, and
the share of the small circles (radius 1-2 px) in each model's reconstruction (``experiment.circle_sharing`` on the
first 500 images) to ``results/sweeps/circles_large_test.{json,md}``. ``--srn-set KEY=VALUE`` (repeatable) scores
instead the SRN trained with those changes to the profile (e.g. by ``scripts/circles_training_curve.py --set ...``
with the profile's epochs; its cached checkpoint, never trained here) against the profile's baseline, into
``circles_large_test.<key>-<value>....{json,md}``; ``--set KEY=VALUE`` scores both models trained with that change
(a loss setting such as ``foreground_weight``, which the baseline reads too).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

from srnlib import paths, profiles, train
from srnlib.circles import data, experiment

TEST_SEED = 5


def large_test_set(cfg: dict, images: int) -> data.CirclesDataset:
    """``images`` fresh test images of 1 to 5 circles, Table 1's counts (the paper profile trains with up to 10),
    from generator seed ``TEST_SEED`` (the profile trains on seed 0 and tests on seed 1)."""
    return data.CirclesDataset(images, seed=TEST_SEED, min_circles=1, max_circles=min(cfg["max_circles"], 5))


def ratio_with_error(srn: float, baseline: float, n: int) -> tuple[float, float]:
    """SRN / baseline success (both %) on the same n images, and the ratio's standard error (delta method,
    independent binomial errors)."""
    p, q = srn / 100, baseline / 100
    if q == 0:
        return math.inf, math.inf
    ratio = p / q
    relative = math.sqrt(p * (1 - p) / n / max(p, 1e-9) ** 2 + q * (1 - q) / n / q ** 2)
    return ratio, ratio * relative


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="long")
    parser.add_argument("--images", type=int, default=12_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="score both models trained with this change to the profile (repeatable)")
    parser.add_argument("--srn-set", action="append", default=[], metavar="KEY=VALUE",
                        help="score the SRN trained with this change to the profile (repeatable)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cfg = profiles.get("circles", args.profile)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from circles_training_curve import overrides, settings_suffix, with_defaults  # noqa: E402  (the --set rules)

    try:
        cfg = with_defaults(cfg, "circles", args.set + args.srn_set)
        cfg = profiles.override(cfg, overrides(args.set, cfg))
        srn_cfg = profiles.override(cfg, overrides(args.srn_set, cfg))
    except ValueError as error:
        parser.error(str(error))
    suffix = settings_suffix(args.set + args.srn_set)
    test = large_test_set(cfg, args.images)
    counts = {str(k): int((test.counts == k).sum()) for k in range(1, test.table.shape[1] + 1)}  # 1 to its max
    rows = []
    for seed in args.seeds:
        row = {"seed": seed}
        for kind in ("srn", "baseline"):
            started = time.process_time()
            settings = srn_cfg if kind == "srn" else cfg
            changes = args.set + (args.srn_set if kind == "srn" else [])
            if changes:  # trained elsewhere: refuse to train it here
                path = train.checkpoint_path(experiment.EXPERIMENT, args.profile, seed, settings, kind)
                if not path.exists():
                    parser.error(f"no trained {kind} with {changes} for seed {seed} ({path.name})")
            model, _ = experiment.load_or_train(kind, settings, seed)
            row[kind] = {k: round(v, 2) for k, v in experiment.evaluate(model, test)["table1"].items()}
            sharing = experiment.circle_sharing(model, test)
            row[f"{kind}_small_reconstructed"] = round(sharing["small_circles_reconstructed"], 1)
            row[f"{kind}_cpu_seconds"] = round(time.process_time() - started, 1)
            print(f"seed {seed} {kind}: {row[kind]} ({row[f'{kind}_cpu_seconds']:.0f} CPU-s)", flush=True)
        row["ratio"] = {k: [round(x, 3) for x in ratio_with_error(row["srn"][k], row["baseline"][k], counts[k])]
                        for k in counts}
        rows.append(row)
    out = paths.repo_root() / "results" / "sweeps"
    out.mkdir(parents=True, exist_ok=True)
    result = {"profile": args.profile, "set": args.set, "srn_set": args.srn_set, "images": args.images,
              "test_seed": TEST_SEED, "images_per_count": counts, "rows": rows, "torch_threads": 1,
              "date": time.strftime("%Y-%m-%d")}
    (out / f"circles_large_test{suffix}.json").write_text(json.dumps(result, indent=1) + "\n")
    keys = list(counts)
    srn = f"the SRN with {', '.join(args.srn_set)}" if args.srn_set else "the SRN" if args.set else "the shipped SRN"
    models = (f"{srn} and the baseline, both with {', '.join(args.set)}" if args.set
              else f"{srn} and the shipped baseline")
    lines = [f"# Circles, `{args.profile}` models on {args.images:,} fresh test images (generator seed "
             f"{TEST_SEED}): {models}", "",
             "Written by `scripts/circles_large_test.py`. Decomposition success (%) per number "
             "of circles; ratio = SRN / baseline ± its standard error (binomial, delta method). Images per count: "
             + ", ".join(f"{k}: {n:,}" for k, n in counts.items()) + ". *small*: % of the circles of radius "
             "1–2 px in the model's reconstruction (first 500 images).", "",
             "| seed | model | " + " | ".join(keys) + " | small |", "|---|---|" + "---|" * (len(keys) + 1)]
    for row in rows:
        for kind in ("srn", "baseline"):
            lines.append(f"| {row['seed']} | {kind} | " + " | ".join(f"{row[kind][k]:.1f}" for k in keys)
                         + f" | {row[f'{kind}_small_reconstructed']:.1f} |")
        lines.append(f"| {row['seed']} | ratio | " + " | ".join(f"{row['ratio'][k][0]:.2f} ± {row['ratio'][k][1]:.2f}"
                                                                for k in keys) + " | |")
    (out / f"circles_large_test{suffix}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
