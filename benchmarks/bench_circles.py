"""Benchmark of the Circles experiment on one CPU core (a plain script printing numbers, not a test).

    .venv/bin/python benchmarks/bench_circles.py [--profile quick] [--steps 5]

Prints: generator images/s (generate() in chunks of 1,000), and training-step images/s of the baseline and the SRN
model at the profile's architecture (same generator and decoder), with the SRN overhead ratio (baseline / SRN
throughput; the issue asks for <= 1.5).
"""
from __future__ import annotations

import argparse
import time

import torch

from srnlib import profiles
from srnlib.circles import data, experiment, models
from srnlib.config import CirclesConfig


def generator_rate(chunks: int = 5, chunk: int = 1000) -> float:
    data.generate(chunk, seed=10_000)  # warm-up
    started = time.perf_counter()
    for seed in range(chunks):
        data.generate(chunk, seed=seed)
    return chunks * chunk / (time.perf_counter() - started)


def training_rate(kind: str, cfg: dict, steps: int) -> float:
    torch.manual_seed(0)
    config = CirclesConfig.from_settings(cfg)
    model = models.build_model(kind, config).train()
    inner_steps = config.inner_steps_at(0) if kind == "srn" else None
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    images, _ = data.generate(cfg["batch_size"], seed=1)
    batch = (images, torch.zeros(len(images)))
    for step in range(steps + 1):
        if step == 1:  # the first step is a warm-up
            started = time.perf_counter()
        loss = experiment.reconstruction_step(model, batch, inner_steps)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return steps * len(images) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=profiles.PROFILES)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = profiles.get("circles", args.profile)
    print(f"generator: {generator_rate():,.0f} images/s (1 thread)")
    baseline = training_rate("baseline", cfg, args.steps)
    srn = training_rate("srn", cfg, args.steps)
    print(f"training step ({args.profile}, batch {cfg['batch_size']}, {cfg['refiner']['steps']} inner steps): "
          f"baseline {baseline:,.1f} images/s, SRN {srn:,.1f} images/s")
    print(f"SRN overhead: {baseline / srn:.2f}x (baseline throughput / SRN throughput)")


if __name__ == "__main__":
    main()
