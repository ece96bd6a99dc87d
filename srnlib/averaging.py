"""Weight averaging over the last epochs of a run (stochastic weight averaging, Izmailov et al. 2018).

A model trained at a constant learning rate wanders between epochs: the Circles ``long`` SRN trained on past its
20 epochs decomposes 26-36 % of the images with 5 circles over epochs 21-27, up to 7 points apart from one epoch
to the next. Averaging the weights of several late epochs gives one model near the middle of where they wander. Batch-norm statistics are not averages of the epochs' statistics: they are
computed again for the averaged weights, by running it in training mode over training batches.

    states = [torch.load(path, weights_only=True)["model"] for path in snapshots]
    model.load_state_dict(average_weights(states))
    recompute_batch_norm(model, (images for images, _ in loader))  # or forward=lambda x: model(x, inner_steps=10)

Shapes: each state is a ``model.state_dict()`` of the same model; batches are whatever ``model(batch)`` takes.
"""
from __future__ import annotations

from typing import Callable, Iterable

import torch
from torch import nn


def average_weights(states: list[dict]) -> dict:
    """The mean of ``states`` (state dicts of one model), key by key, for floating-point tensors; an integer
    tensor (e.g. batch norm's ``num_batches_tracked``) is taken from the last state."""
    if not isinstance(states, (list, tuple)) or not states:
        raise ValueError("states must be a non-empty list of state dicts")
    keys = list(states[-1])
    for index, state in enumerate(states):
        if list(state) != keys:
            raise ValueError(f"states[{index}] has other keys than states[-1]: not the same model")
        for key in keys:
            if state[key].shape != states[-1][key].shape:
                raise ValueError(f"states[{index}][{key!r}] has shape {tuple(state[key].shape)}, "
                                 f"states[-1] {tuple(states[-1][key].shape)}")
    return {key: (torch.stack([state[key].double() for state in states]).mean(dim=0).to(states[-1][key].dtype)
                  if states[-1][key].is_floating_point() else states[-1][key].clone())
            for key in keys}


@torch.no_grad()
def recompute_batch_norm(model: nn.Module, batches: Iterable, forward: Callable | None = None) -> int:
    """Reset every batch-norm layer of ``model`` and set its running mean and variance to their averages over
    ``batches``, each run through ``forward(batch)`` (default ``model(batch)``; e.g. an SRN with the inner steps it
    trained with) in training mode, without gradient. Returns the number of batches; the model is left in eval
    mode."""
    norms = [module for module in model.modules() if isinstance(module, nn.modules.batchnorm._BatchNorm)]
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average over the batches
    model.train()
    seen = 0
    for batch in batches:
        (model if forward is None else forward)(batch)
        seen += 1
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
    model.eval()
    if norms and seen == 0:
        raise ValueError("batches must hold at least one batch to compute the batch-norm statistics from")
    return seen
