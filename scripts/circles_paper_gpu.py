"""Circles at the paper's sizes on one GPU within a time budget: both models, Table 1, the 0-step ablation.

    .venv/bin/python scripts/circles_paper_gpu.py --minutes 8            # on a GPU: ~4 minutes per model
    .venv/bin/python scripts/circles_paper_gpu.py --profile smoke --minutes 0.2 --batch-size 32   # a CPU check

The ``paper`` profile (64,000 images, the authors' encoder and decoder, 100 epochs) takes GPU-hours; this script
keeps the paper's data, architecture and inner loop and changes only how long and how it trains, so a short GPU
lease gives a real number:

* the batch is larger (``--batch-size``, default 256) and Adam's lr grows with its square root from the paper's
  3e-4 at 64;
* bf16 autocast on CUDA (the inner loop's ``autograd.grad(create_graph=True)`` runs under it too);
* the number of epochs is what fits ``--minutes``: each model's seconds per step are measured on a few batches
  first, and the authors' switch from 10 to 20 inner steps moves to the same fraction of training (epoch 20 of 100).

Training goes through ``srnlib.circles.experiment.load_or_train`` (a resumable checkpoint keyed by these settings).
Writes ``runs/gpu/circles.<profile>.json`` (git-ignored) with the settings, device, epochs, seconds, Table 1 of
both models and the SRN's Table 1 with 0 inner steps, and prints them as markdown.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import time

import torch

from srnlib import paths, profiles, results
from srnlib.circles import experiment
from srnlib.circles.models import build_model
from srnlib.config import CirclesConfig
from srnlib.paper import CIRCLE_COUNTS, PAPER


def budgeted_settings(profile: str, batch_size: int, seconds_per_model: float, seconds_per_step: dict) -> dict:
    """The profile's settings with the batch, lr, epochs (what fits the budget) and the inner-step switch scaled."""
    cfg = profiles.get("circles", profile)
    steps_per_epoch = math.ceil(cfg["train_images"] / batch_size)
    slowest = max(seconds_per_step.values())
    epochs = max(1, int(seconds_per_model / (slowest * steps_per_epoch)))
    switch = cfg["more_steps_epoch"] / cfg["epochs"]  # the authors': epoch 20 of 100
    cfg.update(batch_size=batch_size, lr=cfg["lr"] * math.sqrt(batch_size / cfg["batch_size"]), epochs=epochs,
               more_steps_epoch=max(1, round(switch * epochs)) if epochs > 1 else 1)
    return cfg


def seconds_per_step(kind: str, cfg: dict, batch_size: int, device: torch.device, amp: bool, steps: int = 3) -> float:
    """Mean wall seconds of a training step (forward, backward, Adam) after one warm-up step, at more_steps."""
    model = build_model(kind, CirclesConfig.from_settings(cfg)).to(device).train()
    inner_steps = cfg["more_steps"] if kind == "srn" else None
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    images = torch.rand(batch_size, 3, 64, 64, device=device).round()
    timings = []
    for _ in range(steps + 1):
        started = time.perf_counter()
        with autocast(device, amp):
            loss = experiment.reconstruction_step(model, (images, None), inner_steps)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        timings.append(time.perf_counter() - started)
    return sum(timings[1:]) / steps


def autocast(device: torch.device, amp: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16) if amp else contextlib.nullcontext()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="paper", choices=profiles.PROFILES)
    parser.add_argument("--minutes", type=float, default=8.0, help="training budget for both models together")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-amp", action="store_true", help="train in float32 (bf16 autocast is used on CUDA)")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.batch_size < 1:
        parser.error("--minutes and --batch-size must be positive")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    amp = device.type == "cuda" and not args.no_amp
    base = profiles.get("circles", args.profile)
    timing = {kind: seconds_per_step(kind, dict(base, batch_size=args.batch_size), args.batch_size, device, amp)
              for kind in experiment.MODEL_KINDS}
    cfg = budgeted_settings(args.profile, args.batch_size, 60 * args.minutes / 2, timing)
    print(f"{device}, bf16 autocast {amp}: seconds per step {timing}; training {cfg['epochs']} epochs per model")
    train_set, test_set = experiment.datasets(cfg)
    out = {"profile": args.profile, "seed": args.seed, "device": results.hardware(), "amp_bf16": amp,
           "settings": dict(cfg), "seconds_per_step": timing, "models": {}}
    for kind in experiment.MODEL_KINDS:
        started = time.perf_counter()
        with autocast(device, amp):
            model, history = experiment.load_or_train(kind, cfg, args.seed, train_set=train_set, device=device)
        scores = experiment.evaluate(model, test_set)
        row = {"train_seconds": experiment.training_seconds(history), "wall_seconds": time.perf_counter() - started,
               "final_train_loss": history[-1]["train_loss"], **scores}
        if kind == "srn":
            row["table1_0_steps"] = experiment.success_by_inner_steps(model, test_set, steps=(0,))["0"]
        out["models"][kind] = row
    lines = [f"Circles, {args.profile} data and architecture, {cfg['epochs']} epochs of batch {cfg['batch_size']} "
             f"on {out['device']} (bf16 {amp}), seed {args.seed}", "",
             "| model | " + " | ".join(f"{k} circles" for k in CIRCLE_COUNTS) + " | recon MSE |",
             "|---" * (len(CIRCLE_COUNTS) + 2) + "|"]
    rows = [("baseline", out["models"]["baseline"]["table1"]), ("SRN", out["models"]["srn"]["table1"]),
            ("SRN, 0 inner steps", out["models"]["srn"]["table1_0_steps"]),
            ("paper baseline", PAPER["table1"]["baseline"]), ("paper SRN", PAPER["table1"]["srn"])]
    mse = {"baseline": out["models"]["baseline"]["recon_mse"], "SRN": out["models"]["srn"]["recon_mse"]}
    for label, table in rows:
        cells = " | ".join(f"{float(table[k]):.1f}" for k in CIRCLE_COUNTS)
        lines.append(f"| {label} | {cells} | {mse[label]:.4f} |" if label in mse else f"| {label} | {cells} | |")
    out["table"] = lines
    target = paths.repo_root() / "runs" / "gpu" / f"circles.{args.profile}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(out, indent=2) + "\n")
    print("\n".join(lines))
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
