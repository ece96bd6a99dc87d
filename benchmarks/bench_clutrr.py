"""Benchmark of the CLUTRR story generator on one CPU core (a plain script printing numbers, not a test).

    .venv/bin/python benchmarks/bench_clutrr.py [--stories 3000]

Prints: generate() throughput in stories/s for each chain length k (each story with its own random tree, chain,
sentences and the check of the composed target against the tree), for the training mix k = 2, 3, 4, the cached
stories' build and reload times, the vocabulary build time and the Dataset encoding rate (in a temporary folder,
removed afterwards).
"""
from __future__ import annotations

import argparse
import tempfile
import time

import torch

from srnlib import clutrr


def rate(n: int, k) -> float:
    started = time.perf_counter()
    clutrr.generate(n, k, seed=1)
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stories", type=int, default=3000, help="stories per timed generate() call")
    args = parser.parse_args()
    torch.set_num_threads(1)
    clutrr.generate(100, seed=10_000)  # warm-up

    print(f"generate(k = 2, 3, 4 mixed): {rate(args.stories, [2, 3, 4]):,.0f} stories/s")
    for k in (2, 3, 4, 5, 6, 7, 8, 10):
        n = args.stories if k <= 6 else max(args.stories // 10, 50)
        print(f"    k = {k:2d}: {rate(n, k):8,.0f} stories/s ({n} stories)")

    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        stories = clutrr.cached_stories(args.stories, [2, 3, 4], seed=0, cache_dir=folder)
        built = time.perf_counter() - started
        started = time.perf_counter()
        clutrr.cached_stories(args.stories, [2, 3, 4], seed=0, cache_dir=folder)
        loaded = time.perf_counter() - started
        size_mb = clutrr.stories.cache_path(args.stories, [2, 3, 4], 0, folder=folder).stat().st_size / 1e6
    print(f"cached_stories({args.stories:,}): generated and cached in {built:.2f} s ({size_mb:.1f} MB), "
          f"reloaded in {loaded:.2f} s")
    started = time.perf_counter()
    vocabulary = clutrr.Vocabulary.build(stories)
    vocabulary_seconds = time.perf_counter() - started
    started = time.perf_counter()
    dataset = clutrr.ClutrrDataset(stories, vocabulary)
    encode_seconds = time.perf_counter() - started
    print(f"Vocabulary.build: {vocabulary_seconds:.2f} s ({len(vocabulary)} tokens); ClutrrDataset: "
          f"{len(stories) / encode_seconds:,.0f} stories/s encoded to {tuple(dataset.sentences.shape)}")


if __name__ == "__main__":
    main()
