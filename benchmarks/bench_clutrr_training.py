"""What notebook 05's training costs per model at a profile's sizes, measured on a few steps and extrapolated (a
plain script printing numbers, not a test; it trains nothing to the end and writes no checkpoint).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_clutrr_training.py [--profile paper] [--steps 40]

For each model (RN, RN + SRN, RN + GRN) built with the profile's settings: ``--steps`` training steps (Adam, the
notebook's training_step, batches of the profile's batch size drawn from the training stories, after 3 warm-up
steps), then one evaluation of the whole test set (the notebook scores it after every epoch). Prints seconds per
step, per epoch (ceil(train_stories / batch_size) steps + one test evaluation) and for the profile's epochs, and
the data preparation time (stories generated and split, or read from data/clutrr/).
"""
from __future__ import annotations

import argparse
import math
import time

import torch

from srnlib import profiles, train
from srnlib.clutrr import experiment


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="paper", choices=profiles.PROFILES)
    parser.add_argument("--steps", type=int, default=40, help="timed training steps per model (default 40)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    cfg = profiles.get("clutrr", args.profile)
    started = time.perf_counter()
    data = experiment.load_data(cfg, args.seed)
    print(f"{args.profile}: {len(data['train'])} training / {len(data['test'])} test stories, {cfg.epochs} epochs, "
          f"batch {cfg.batch_size}, torch threads {torch.get_num_threads()}; data ready in "
          f"{time.perf_counter() - started:.1f} s")
    steps_per_epoch = math.ceil(len(data["train"]) / cfg.batch_size)
    generator = torch.Generator().manual_seed(args.seed)
    print("| model | s / training step | test evaluation | one epoch | "
          f"{cfg.epochs} epochs |\n|---|---|---|---|---|")
    for kind in experiment.KINDS:
        train.seed_everything(args.seed)
        model = experiment.build_model(kind, cfg, len(data["vocabulary"])).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay[kind])
        timed = 0.0
        for step in range(3 + args.steps):
            rows = torch.randint(len(data["train"]), (cfg.batch_size,), generator=generator)
            batch = (data["train"].sentences[rows], data["train"].mask[rows], data["train"].query[rows],
                     data["train"].target[rows], data["train"].k[rows])
            begun = time.perf_counter()
            optimizer.zero_grad()
            experiment.training_step(model, batch)["loss"].backward()
            optimizer.step()
            if step >= 3:
                timed += time.perf_counter() - begun
        per_step = timed / args.steps
        begun = time.perf_counter()
        experiment.evaluate(model, data["test"])
        evaluation = time.perf_counter() - begun
        epoch = steps_per_epoch * per_step + evaluation
        print(f"| {experiment.NAMES[kind]} | {per_step:.3f} s | {evaluation:.1f} s | {epoch:.0f} s "
              f"({steps_per_epoch} steps) | {cfg.epochs * epoch / 60:.0f} min = {cfg.epochs * epoch / 3600:.2f} h |")


if __name__ == "__main__":
    main()
