"""Cost of the Set Refiner's inner loop: time per training step and per inference call, by number of inner steps.

    python benchmarks/bench_srn.py [--threads 1] [--batch 64] [--device cpu]

Sizes are the authors' Circles setting (n = 16 elements of d = 10, embedding e = 100, H_agg hidden 512). A training
step is forward + backward through the whole loop (create_graph=True); inference runs the loop in eval mode.
"""
from __future__ import annotations

import argparse
import platform
import resource
import time

import torch

import srnlib


def timed(function, repeats: int) -> float:
    function()  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - started) / repeats


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # process peak RSS so far (Linux: KiB)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = srnlib.train.default_device(args.device)
    n, d, e = 16, 10, 100
    refiner = srnlib.SetRefiner(srnlib.SetEncoder(d, e, hidden=512), steps=1, lr=0.1, momentum=0.5).to(device)
    S0 = torch.randn(args.batch, n, d, device=device, requires_grad=True)
    z = torch.randn(args.batch, e, device=device, requires_grad=True)

    def train_step(steps):
        refiner.train()
        refiner(S0, z, steps=steps).pow(2).sum().backward()

    def inference(steps):
        refiner.eval()
        with torch.no_grad():
            refiner(S0, z, steps=steps)

    print(f"machine: {platform.processor() or platform.machine()}, {args.threads} torch thread(s), device {device}, "
          f"torch {torch.__version__}; batch {args.batch}, n={n}, d={d}, e={e}")
    print(f"{'inner steps':>11} | {'train step ms':>13} | {'sets/s train':>12} | {'inference ms':>12} | {'peak MB':>8}")
    for steps in (0, 1, 5, 10, 20):
        train_seconds = timed(lambda: train_step(steps), args.repeats) if steps else float("nan")
        infer_seconds = timed(lambda: inference(steps), args.repeats)
        rate = args.batch / train_seconds if steps else float("nan")
        print(f"{steps:>11} | {1000 * train_seconds:>13.1f} | {rate:>12.0f} | {1000 * infer_seconds:>12.1f} | "
              f"{peak_memory_mb(device):>8.0f}")


if __name__ == "__main__":
    main()
