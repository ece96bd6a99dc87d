"""Train an experiment's models from the command line, on one process or under torchrun (DDP).

    python -m srnlib.train_cli --experiment responsibility --profile paper
    torchrun --nproc-per-node 4 -m srnlib.train_cli --experiment responsibility --profile paper

The checkpoints land where the notebooks look for them, so a notebook run afterwards loads instead of training.
"""
from __future__ import annotations

import argparse
import importlib

import torch.distributed as dist

from . import profiles
from .train import init_distributed

# Experiments that can be trained from the command line: name -> function (cfg, seed, retrain, device) in a module.
TRAINABLE = {"responsibility": "srnlib.responsibility:train_models", "clutrr": "srnlib.clutrr.experiment:train_models"}


def main(argv: list[str] | None = None) -> int:
    """``python -m srnlib.train_cli --experiment NAME --profile paper [--seed 0] [--retrain]`` (also under torchrun)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--experiment", required=True, choices=sorted(TRAINABLE))
    parser.add_argument("--profile", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--retrain", action="store_true")
    args = parser.parse_args(argv)
    try:
        cfg = profiles.get(args.experiment, args.profile)
    except ValueError as error:
        parser.error(str(error))
    distributed = init_distributed()
    module_name, function_name = TRAINABLE[args.experiment].split(":")
    train_models = getattr(importlib.import_module(module_name), function_name)
    try:
        train_models(cfg, seed=args.seed, retrain=args.retrain)
    finally:
        if distributed:
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
