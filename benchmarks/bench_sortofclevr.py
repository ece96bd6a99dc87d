"""Benchmark of the Sort-of-CLEVR generator on one CPU core (a plain script printing numbers, not a test).

    .venv/bin/python benchmarks/bench_sortofclevr.py [--chunks 5] [--chunk 1000] [--cache-images 5000]

Prints: generate() throughput in images/s, each image with its 20 questions, answers and categories and rendered to
float32 RGB (the issue asks for >= 2,000 images/s), the time per stage for one chunk, the "easy" table sampler's
rate, and the cached Dataset's build and reload times (in a temporary folder, removed afterwards).
"""
from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch

from srnlib.sortofclevr import data

TARGET_IMAGES_PER_SECOND = 2_000


def generator_rate(chunks: int, chunk: int) -> float:
    data.generate(chunk, seed=10_000)  # warm-up
    started = time.perf_counter()
    for seed in range(chunks):
        data.generate(chunk, seed=seed)
    return chunks * chunk / (time.perf_counter() - started)


def stage_times(chunk: int) -> dict:
    rng = np.random.default_rng(0)
    times = {}
    started = time.perf_counter()
    objects = data.sample_objects(chunk, rng)
    times["objects"] = time.perf_counter() - started
    started = time.perf_counter()
    questions = data.sample_questions(chunk, 20, rng)
    times["questions"] = time.perf_counter() - started
    started = time.perf_counter()
    data.answer(objects, questions)
    times["answers"] = time.perf_counter() - started
    started = time.perf_counter()
    labels = data.render_labels(objects)
    times["render labels"] = time.perf_counter() - started
    started = time.perf_counter()
    data.labels_to_images(labels)
    times["labels -> RGB float"] = time.perf_counter() - started
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=5, help="timed generate() calls")
    parser.add_argument("--chunk", type=int, default=1000, help="images per generate() call")
    parser.add_argument("--cache-images", type=int, default=5000, help="images in the cached Dataset timing")
    args = parser.parse_args()
    torch.set_num_threads(1)

    rate = generator_rate(args.chunks, args.chunk)
    verdict = "meets" if rate >= TARGET_IMAGES_PER_SECOND else "MISSES"
    print(f"generate(): {rate:,.0f} images/s with 20 questions each, one thread "
          f"({verdict} the target of {TARGET_IMAGES_PER_SECOND:,})")
    for stage, seconds in stage_times(args.chunk).items():
        print(f"    {stage:<22s} {1000 * seconds:7.1f} ms per {args.chunk} images")

    started = time.perf_counter()
    data.sample_easy(1000, seed=0)
    print(f"sample_easy(1000): {time.perf_counter() - started:.2f} s")

    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        dataset = data.SortOfClevrDataset(args.cache_images, seed=0, cache_dir=folder)
        built = time.perf_counter() - started
        started = time.perf_counter()
        data.SortOfClevrDataset(args.cache_images, seed=0, cache_dir=folder)
        loaded = time.perf_counter() - started
        size_mb = dataset.path.stat().st_size / 1e6
        started = time.perf_counter()
        for index in range(0, len(dataset), len(dataset) // 2000):
            dataset[index]
        per_item = (time.perf_counter() - started) / len(range(0, len(dataset), len(dataset) // 2000))
    print(f"SortOfClevrDataset({args.cache_images:,}): built and cached in {built:.2f} s ({size_mb:.1f} MB), "
          f"reloaded in {loaded:.2f} s, {1e6 * per_item:.0f} us per item")


if __name__ == "__main__":
    main()
