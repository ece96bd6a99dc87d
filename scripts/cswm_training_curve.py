"""How Table 3 changes with training length: one C-SWM world model trained beyond its profile's epochs, scored as
it goes.

    .venv/bin/python scripts/cswm_training_curve.py --game space_invaders --objects 5 --kind srn --epochs 30 \
        --every 3 [--profile quick] [--seed 0] [--set eval_episodes=200 --set lr=1e-3]

Trains the ``--kind`` model (cswm or srn) with K = ``--objects`` slots on ``--game`` with the profile's settings
except ``--epochs`` (and any ``--set``), through ``srnlib.cswm.experiment.load_or_train``: its checkpoint is keyed
by the settings (with the profile's own epochs it is notebook 04's checkpoint), saved every epoch and resumed after
a kill. Every ``--every`` epochs (counted from the start, or from a resume) and after the last it scores Hits@1
and MRR after 1, 5 and 10 predicted steps on the evaluation episodes (identical target states de-duplicated),
and prints a markdown table with the chance level (1 / the number of distinct target states). Writes the numbers to
``runs/curves/cswm.<game>.<kind>.k<K>.<profile>[.<key>-<value>...].seed<seed>.epochs<epochs>.json`` (git-ignored).
Run two models as two processes (``OMP_NUM_THREADS=1`` each) to use two cores.
"""
from __future__ import annotations

import argparse

from circles_training_curve import add_curve_arguments, curve_path, settings_from, write_curve  # shared
from srnlib import results
from srnlib.cswm import experiment
from srnlib.cswm.data import EVAL_HORIZONS


def scorer(evaluations: dict, every: int):
    """``evaluate(model)`` for ``fit``: {"h1_<k>", "mrr_<k>"} for k = 1, 5, 10 every ``every``-th epoch."""
    epochs_seen = [0]

    def evaluate(model) -> dict:
        epochs_seen[0] += 1
        if epochs_seen[0] % every:
            return {}
        scores = experiment.evaluate(model, evaluations)
        return {f"{metric}_{k}": value for k, metric_values in scores.items() for metric, value in metric_values.items()}

    return evaluate


def curve_file(game: str, kind: str, objects: int, profile: str, seed: int, epochs: int, pairs=()):
    """Where the curve of one world model is written (``circles_training_curve.curve_path``)."""
    return curve_path(f"cswm.{game}.{kind}.k{objects}", profile, pairs, seed, epochs)


def table(history: list[dict], chance_h1: dict) -> list[str]:
    """Markdown: one row per scored epoch."""
    horizons = [str(k) for k in EVAL_HORIZONS]
    lines = ["| epoch | loss | " + " | ".join(f"H@1 {k} / MRR {k}" for k in horizons) + " |", "|---" * 5 + "|"]
    for record in history:
        if "h1_1" in record:
            cells = " | ".join(f"{record[f'h1_{k}']:.1f} / {record[f'mrr_{k}']:.1f}" for k in horizons)
            lines.append(f"| {record['epoch']} | {record.get('train_loss', float('nan')):.4f} | {cells} |")
    lines.append("| chance | | " + " | ".join(f"{chance_h1[k]:.2f} / –" for k in horizons) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--game", choices=("pong", "space_invaders", "shapes"), required=True)
    parser.add_argument("--objects", type=int, required=True, help="K, the number of object slots")
    parser.add_argument("--kind", choices=experiment.KINDS, required=True)
    add_curve_arguments(parser, "--set eval_episodes=200")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.every < 1 or args.objects < 1:
        parser.error("--epochs, --every and --objects must be at least 1")
    cfg = settings_from(parser, args, "cswm")
    _, evaluations = experiment.data(args.game, cfg)
    model, history = experiment.load_or_train(args.kind, args.game, args.objects, cfg, args.seed,
                                              evaluate=scorer(evaluations, args.every))
    if "h1_1" not in history[-1]:  # the cadence restarts on resume: always score the final model
        history[-1] = dict(history[-1], **scorer(evaluations, 1)(model))
    chance_h1 = experiment.chance_hits(evaluations)
    lines = table(history, chance_h1)
    print("\n".join(lines))
    out = curve_file(args.game, args.kind, args.objects, args.profile, args.seed, args.epochs, args.set)
    write_curve(out, {"game": args.game, "objects": args.objects, "kind": args.kind, "profile": args.profile,
                      "seed": args.seed, "settings": cfg, "device": results.hardware(), "history": history,
                      "chance_h1": chance_h1, "table": lines})
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
