"""Does the Sort-of-CLEVR RN + SRN use its inner loop? Probe the shipped ``long`` model, and copies of it fine-tuned
with other refiner settings, on what the loop does and what it is worth.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/sortofclevr_refiner_probe.py                     # the shipped model
    OMP_NUM_THREADS=1 .venv/bin/python scripts/sortofclevr_refiner_probe.py --name lr5 --set refiner.lr=5.0
    .venv/bin/python scripts/sortofclevr_refiner_probe.py --table

Each run loads the shipped RN + SRN of ``--profile`` (default ``long``) and ``--seed``; with ``--set`` overrides
(dotted names, e.g. ``refiner.lr=5.0``) it fine-tunes a copy for ``--updates`` updates through the library's
training (Adam ``--lr`` with the profile's warm-up and a cosine decay, no checkpoint) and then measures, on the
validation set:

- ``inner loss``: ||H_agg(S) - z||^2 per image at S_0 and at S_r (200 images), and ||z||^2: how much of its own
  problem (Eq. 2) the loop solves, and how far it moves the set (||S_r - S_0|| / ||S_0||);
- accuracy per question type with the model's inner steps and with 0 steps (the ablation of Table 2);
- the Synthetic robustness task on ``--positions`` positions x the profile's angles: the share of (position, angle)
  pairs answered right and the share of positions right at every angle. Its configuration is the seed's first easy
  table (``synthetic_tables(cfg, seed)``, chosen by no model), so that every probed copy is scored on the same one;
  notebook 03 scores the table its two models are surest of.

Rows go to ``results/sweeps/sortofclevr_refiner_probe.json`` (with settings, updates and CPU-seconds) and the table
``results/sweeps/sortofclevr_refiner_probe.md``. One thread.
"""
from __future__ import annotations

import argparse
import datetime
import json
import time

import torch

from srnlib import paths, profiles
from srnlib.sortofclevr import experiment

RESULTS = ("non_relational", "relational", "furthest", "closest", "count")


def json_path():
    return paths.repo_root() / "results" / "sweeps" / "sortofclevr_refiner_probe.json"


def probe(name: str, overrides: dict, seed: int, updates: int, lr: float, positions: int,
          profile: str = "long") -> dict:
    base = profiles.get("sortofclevr", profile)
    model, _ = experiment.load_or_train("rn_srn", base, seed)  # the shipped weights
    cfg = profiles.override(base, overrides)
    started = time.process_time()
    train_set, val_set, _ = experiment.datasets(cfg)
    batch_images = cfg["batch_size"] // cfg["questions_per_image"]
    if overrides:
        if set(overrides) - {"refiner.lr", "refiner.momentum", "refiner.grad_clip"}:
            raise SystemExit(f"a fine-tuned copy keeps its networks and step count: --set may change refiner.lr, "
                             f"refiner.momentum or refiner.grad_clip, got {sorted(overrides)}")
        loop = model.refiner.loop
        loop.lr, loop.momentum, loop.grad_clip = (cfg["refiner"][k] for k in ("lr", "momentum", "grad_clip"))
        data = FirstImages(train_set, updates * batch_images)
        experiment.train_model(model, profiles.override(cfg, {"lr": lr, "epochs": 1}), data, lambda trained: {},
                               seed=seed, epochs=1, checkpoint=None, name=name, select_best=None)
    train_cpu = time.process_time() - started
    experiment.recompute_batch_norm(model, train_set, batch_images)
    model.eval()
    images = val_set.image(slice(200))
    row = {"name": name, "profile": profile, "seed": seed, "overrides": overrides,
           "updates": updates if overrides else 0,
           "finetune_lr": lr if overrides else None, "inner": dict(model.inner_problem(images), images=len(images))}
    row["val"] = {k: round(v, 2) for k, v in experiment.accuracy_by_category(model, val_set).items() if k in RESULTS}
    row["val_0_steps"] = {k: round(v, 2) for k, v in experiment.accuracy_by_category(model, val_set, inner_steps=0)
                          .items() if k in RESULTS}
    right = experiment.right_under_rotation(model, profiles.override(cfg, {"robust_positions": positions}),
                                            "synthetic", seed)
    row["synthetic_pairs_right"] = round(100 * right.float().mean().item(), 2)
    row["synthetic_robust"] = round(100 * right.all(dim=1).float().mean().item(), 2)
    row.update(positions=positions, angles=cfg["robust_angles"], train_cpu_seconds=round(train_cpu, 1),
               cpu_seconds=round(time.process_time() - started, 1), date=datetime.date.today().isoformat(),
               settings_hash=profiles.settings_hash(cfg))
    return row


class FirstImages(experiment.ImageQuestions):
    """The first ``n`` images of a training set, read image by image (``updates`` batches of one epoch)."""

    def __init__(self, dataset, n: int):
        super().__init__(dataset)
        self.n = n

    def __len__(self) -> int:
        return min(self.n, super().__len__())


def write_table(rows: list[dict]) -> None:
    lines = ["# Sort-of-CLEVR: what the RN + SRN's inner loop does", "",
             "Written by `scripts/sortofclevr_refiner_probe.py`: the shipped `long` RN + SRN, and copies fine-tuned "
             "with other refiner settings (`updates` updates at Adam `ft lr`, warm-up and cosine). Validation set. "
             "Inner loss per image (200 images; `*`: 100 images each counted twice, an early version): at S_0, "
             "at S_r, ||z||^2 and ||H_agg(S_0)||^2 (`-`: not measured in that row); move: ||S_r - S_0|| / ||S_0||. "
             "`0 steps`: furthest accuracy with the loop switched off. Synthetic: positions x angles of the "
             "robustness task, % of pairs right / % of positions right at every angle.", "",
             "| name | seed | overrides | updates | ft lr | L(S0) | L(Sr) | z^2 | H_agg(S0)^2 | move | non-rel | rel "
             "| furthest | closest | furthest, 0 steps | Synthetic pairs | Synthetic robust | CPU-min |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        i, v = r["inner"], r["val"]
        overrides = ", ".join(f"{k}={x}" for k, x in r["overrides"].items()) or "- (shipped)"
        lines.append(f"| {r['name']} ({r.get('profile', 'long')}) | {r['seed']} | {overrides} | {r['updates']:,} | "
                     f"{r['finetune_lr'] or '-'} | "
                     f"{i['loss_s0']:.1f}{'' if 'images' in i else '*'} | {i['loss_sr']:.1f} | {i['z_sq']:.1f} | "
                     f"{format(i['agg_s0_sq'], '.2f') if 'agg_s0_sq' in i else '-'} | {i['move']:.2f} | "
                     f"{v['non_relational']:.1f} | {v['relational']:.1f} | {v['furthest']:.1f} | {v['closest']:.1f} | "
                     f"{r['val_0_steps']['furthest']:.1f} | {r['synthetic_pairs_right']:.1f} | "
                     f"{r['synthetic_robust']:.1f} ({r['positions']} x {r['angles']}) | {r['cpu_seconds'] / 60:.1f} |")
    json_path().with_suffix(".md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", default="shipped")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--lr", type=float, default=1e-3, help="the fine-tuning's peak Adam lr")
    parser.add_argument("--positions", type=int, default=40)
    parser.add_argument("--profile", default="long", help="whose shipped (or cached) RN + SRN to probe")
    parser.add_argument("--table", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = json.loads(json_path().read_text()) if json_path().exists() else []
    if args.updates < 1:
        raise SystemExit(f"--updates must be at least 1, got {args.updates}")
    if not args.table:
        overrides = {k: json.loads(v) for k, _, v in (item.partition("=") for item in args.set)}
        row = probe(args.name, overrides, args.seed, args.updates, args.lr, args.positions, args.profile)
        print(json.dumps(row))
        rows = (json.loads(json_path().read_text()) if json_path().exists() else []) + [row]
        json_path().parent.mkdir(parents=True, exist_ok=True)
        json_path().write_text(json.dumps(rows, indent=1) + "\n")
    write_table(rows)


if __name__ == "__main__":
    main()
