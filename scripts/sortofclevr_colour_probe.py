"""Does a trained Sort-of-CLEVR RN's conv stem still tell the colours apart? Linear colour probes of its cells.

    .venv/bin/python scripts/sortofclevr_colour_probe.py checkpoints/sortofclevr/rn.long.seed0.<hash>.pt \
        [--profile long] [--images 1500]

Loads the checkpoint's last weights (``model``) into the profile's RN (or RN + SRN, from the file name), recomputes
its batch-norm statistics as evaluation does, and prints the held-out occupied-cell accuracy of
``perception.cell_colour_probe`` on each cell's features and on each cell with its 8 neighbours
(``perception.neighbourhood_features``), next to the same probes of an untrained stem (seed 0) and of the cells'
mean RGB. Chance: 1 in 6.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from srnlib import profiles
from srnlib.config import SortOfClevrConfig
from srnlib.sortofclevr import experiment, perception
from srnlib.sortofclevr.data import labels_to_images
from srnlib.sortofclevr.models import build_model


def probes(model, dataset, images: int) -> dict[str, float]:
    """{"cell": accuracy, "3x3": accuracy} of the model's stem on the first ``images`` images of ``dataset``."""
    cells = perception.stem_cells(model, dataset, images)
    tables = dataset.objects[:len(cells)]
    return {"cell": perception.cell_colour_probe(cells, tables),
            "3x3": perception.cell_colour_probe(perception.neighbourhood_features(cells), tables)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--profile", default="long", choices=profiles.PROFILES)
    parser.add_argument("--images", type=int, default=1500)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cfg = profiles.get("sortofclevr", args.profile)
    train_set, val_set, _ = experiment.datasets(cfg)
    images = min(args.images, len(val_set.objects))
    kind = "rn_srn" if args.checkpoint.name.startswith("rn_srn") else "rn"
    batch_images = max(1, cfg["batch_size"] // cfg["questions_per_image"])
    rows = {}
    for name in ("trained", "untrained"):
        torch.manual_seed(0)
        model = build_model(kind, SortOfClevrConfig.from_settings(cfg))
        if name == "trained":
            model.load_state_dict(torch.load(args.checkpoint, weights_only=True)["model"])
        experiment.recompute_batch_norm(model, train_set, batch_images)
        rows[name] = probes(model, val_set, images)
    rgb = perception.cell_rgb_features(labels_to_images(val_set.labels[:images]))
    rows["mean RGB"] = {"cell": perception.cell_colour_probe(rgb, val_set.objects[:images]),
                        "3x3": perception.cell_colour_probe(perception.neighbourhood_features(rgb),
                                                            val_set.objects[:images])}
    print(f"| features ({args.checkpoint.name}, {images} validation images) | cell | cell + 8 neighbours |")
    print("|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {100 * row['cell']:.1f} % | {100 * row['3x3']:.1f} % |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
