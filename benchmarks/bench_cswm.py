"""Benchmark of the C-SWM data on one CPU core (a plain script printing numbers, not a test).

    .venv/bin/python benchmarks/bench_cswm.py [--episodes 500] [--steps 10] [--ale-steps 2000] [--skip-atari]
                                              [--skip-training]

Prints: the raw ALE rate (gymnasium steps/s and emulated frames/s, random actions, each game's frameskip), the time
to collect the ``quick``-sized data per game (``--episodes`` random-policy episodes of ``--steps`` steps after the
burn-in; the issue asks for <= 2 minutes per game on one core) and to cache and reload it (in a temporary folder,
removed afterwards), the shapes environment's transitions/s, the ranking metric's time on 1,000 eval samples, and
the training step of C-SWM and C-SWM+SRN at the ``quick`` sizes (transitions/s for K = 3 and 5; this sets how many
epochs and seeds notebook 04 can afford at ``quick``).
"""
from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch

from srnlib import cswm, profiles
from srnlib.cswm import environments, experiment, models

TARGET_SECONDS_PER_GAME = 120


def ale_rate(game: str, steps: int) -> tuple[float, float]:
    """(gymnasium steps/s, emulated frames/s) for uniformly random actions, resetting when an episode ends."""
    env = environments.make_atari_env(game)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    actions = rng.integers(0, environments.ATARI_ACTIONS, size=steps)
    started = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(int(action))
        if terminated or truncated:
            env.reset()
    elapsed = time.perf_counter() - started
    env.close()
    return steps / elapsed, steps * environments.ATARI_FRAMESKIP[game] / elapsed


def collection_times(game: str, episodes: int, steps: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        transitions = cswm.collect(game, episodes, steps, seed=0, cache_dir=folder)
        collect_and_save = time.perf_counter() - started
        started = time.perf_counter()
        cswm.collect(game, episodes, steps, seed=0, cache_dir=folder)
        reload = time.perf_counter() - started
        size = transitions.path.stat().st_size
    return {"collect_and_save_s": collect_and_save, "reload_s": reload, "file_mb": size / 1e6,
            "transitions": transitions.actions.size}


def training_rate(kind: str, objects: int, batch_size: int, batches: int = 5) -> float:
    """Transitions/s of one Adam step of the contrastive loss at the quick sizes (random 6-channel observations)."""
    cfg = profiles.get("cswm", "quick")
    settings = experiment.model_settings("space_invaders", objects, cfg, environments.ATARI_ACTIONS)
    model = models.build_model(kind, settings)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    generator = torch.Generator().manual_seed(0)
    batch = (torch.rand(batch_size, 6, 50, 50, generator=generator),
             torch.randint(0, environments.ATARI_ACTIONS, (batch_size,), generator=generator),
             torch.rand(batch_size, 6, 50, 50, generator=generator))
    times = []
    for _ in range(batches + 1):  # the first step warms up
        started = time.perf_counter()
        loss = model.contrastive_loss(*batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - started)
    return batch_size / float(np.median(times[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=500, help="episodes per game (the quick profile's size)")
    parser.add_argument("--steps", type=int, default=10, help="transitions per episode")
    parser.add_argument("--ale-steps", type=int, default=2000, help="random steps in the raw ALE timing")
    parser.add_argument("--skip-atari", action="store_true", help="only the shapes environment and the metric")
    parser.add_argument("--skip-training", action="store_true", help="skip the C-SWM / C-SWM+SRN training step")
    args = parser.parse_args()
    torch.set_num_threads(1)

    if not args.skip_atari:
        if not cswm.ale_available():
            raise SystemExit("gymnasium / ale-py not importable: `pip install gymnasium ale-py`, or --skip-atari")
        for game in environments.ATARI_GAMES:
            steps_per_second, frames_per_second = ale_rate(game, args.ale_steps)
            print(f"{game:15s} ALE: {steps_per_second:7.0f} steps/s = {frames_per_second:7.0f} frames/s "
                  f"(frameskip {environments.ATARI_FRAMESKIP[game]}, one core)")
        for game in environments.ATARI_GAMES:
            times = collection_times(game, args.episodes, args.steps)
            verdict = "OK" if times["collect_and_save_s"] <= TARGET_SECONDS_PER_GAME else "SLOWER THAN TARGET"
            burn_in = environments.ATARI_BURN_IN[game]
            print(f"{game:15s} {args.episodes} episodes x {args.steps} steps (burn-in {burn_in}): "
                  f"collect + cache {times['collect_and_save_s']:6.1f} s [{verdict}, target <= "
                  f"{TARGET_SECONDS_PER_GAME} s], reload {times['reload_s']:.2f} s, file {times['file_mb']:.1f} MB")

    episodes = 1000
    cswm.collect("shapes", 10, args.steps, seed=1, cache=False)  # warm-up
    started = time.perf_counter()
    shapes = cswm.collect("shapes", episodes, args.steps, seed=0, cache=False)
    elapsed = time.perf_counter() - started
    print(f"shapes          {episodes} episodes x {args.steps} steps: {elapsed:.2f} s = "
          f"{shapes.actions.size / elapsed:,.0f} transitions/s (simulated and rendered)")

    evaluation = cswm.multi_step_eval(shapes)[10]
    targets = torch.randn(len(evaluation), 5, 4)
    predicted = targets + 0.5 * torch.randn_like(targets)
    started = time.perf_counter()
    scores = cswm.ranking_scores(predicted, targets, evaluation.target_ids)
    print(f"ranking_scores  N = {len(evaluation)}, K = 5, D = 4: {1000 * (time.perf_counter() - started):.0f} ms "
          f"(h1 {scores['h1']:.1f}, mrr {scores['mrr']:.1f} on noisy random embeddings)")


    if not args.skip_training:
        cfg = profiles.get("cswm", "quick")
        for objects in cfg.objects:
            rates = {kind: training_rate(kind, objects, cfg.batch_size) for kind in experiment.KINDS}
            print(f"training step   K = {objects}, batch {cfg.batch_size}, quick sizes: C-SWM {rates['cswm']:,.0f} "
                  f"transitions/s, C-SWM+SRN {rates['srn']:,.0f} transitions/s "
                  f"(SRN overhead {rates['cswm'] / rates['srn']:.2f}x)")


if __name__ == "__main__":
    main()
