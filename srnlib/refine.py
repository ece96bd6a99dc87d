"""The Set Refiner Network (SRN): Algorithm 1 of Huang et al. (NeurIPS 2020).

Instead of reading a set straight off a feed-forward network (which is continuous, and so suffers from the
responsibility problem), search for a set that *encodes to* the input's embedding::

    S_0 = G(X)                                   # any set generator: (batch, n, d)
    z   = H_embed(X)                             # an embedding of the input: (batch, e)
    for i in 1..r:
        L(S) = || H_agg(S_{i-1}) - z ||^2        # H_agg: a permutation-invariant set encoder
        S_i  = S_{i-1} - lr * dL/dS_{i-1}        # (optionally with momentum and gradient clipping)
    S = S_r

The inner gradient is taken with ``torch.autograd.grad(..., create_graph=True)`` while training, so the outer
loss trains ``G``, ``H_embed`` and ``H_agg`` through the whole loop. In ``eval()`` mode or under
``torch.no_grad()`` the loop runs without building a graph (cheap inference).
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ._checks import check_positive, check_set


class Refinement(NamedTuple):
    """What ``SetRefiner(..., return_trajectory=True)`` returns."""

    set: torch.Tensor  # the refined set S_r, (batch, n, d)
    sets: list  # [S_0, S_1, ..., S_r], each (batch, n, d)
    losses: list  # inner loss of S_0 ... S_r per example, each (batch,), detached


class SetRefiner(nn.Module):
    """Refine a set ``S0`` by ``steps`` gradient steps on ``||set_encoder(S) - z||^2``.

    Args:
        set_encoder: ``H_agg``, a module ``(batch, n, d) -> (batch, e)``, permutation invariant, e.g. ``SetEncoder``.
        steps: number of inner gradient steps ``r`` (the paper uses 5 to 20).
        lr: inner learning rate ``alpha``.
        momentum: heavy-ball momentum of the inner SGD (the authors' Circles code uses 0.5).
        grad_clip: if set, the inner gradient of each set is rescaled to at most this L2 norm.
    """

    def __init__(self, set_encoder: nn.Module, steps: int, lr: float, momentum: float = 0.0,
                 grad_clip: float | None = None):
        super().__init__()
        if not isinstance(set_encoder, nn.Module):
            raise TypeError(f"set_encoder must be an nn.Module, got {type(set_encoder).__name__}")
        check_positive(steps, "steps", integer=True)
        check_positive(lr, "lr")
        if not isinstance(momentum, (int, float)) or not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be a number in [0, 1), got {momentum!r}")
        if grad_clip is not None:
            check_positive(grad_clip, "grad_clip")
        self.set_encoder = set_encoder
        self.steps, self.lr, self.momentum, self.grad_clip = steps, float(lr), float(momentum), grad_clip

    def inner_loss(self, S: torch.Tensor, z: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Per-example inner loss ``||H_agg(S) - z||^2``: (batch, n, d), (batch, e) -> (batch,)."""
        encoded = self.set_encoder(S) if mask is None else self.set_encoder(S, mask)
        if encoded.shape != z.shape:
            raise ValueError(f"z must have the set encoder's output shape {tuple(encoded.shape)}, got {tuple(z.shape)}")
        return (encoded - z).pow(2).sum(dim=1)

    def forward(self, S0: torch.Tensor, z: torch.Tensor, steps: int | None = None, return_trajectory: bool = False,
                mask: torch.Tensor | None = None):
        """S0: (batch, n, d), z: (batch, e), mask: optional (batch, n) bool -> refined set (batch, n, d).

        ``steps`` overrides the number of inner steps for this call (``0`` returns ``S0`` unchanged). With
        ``return_trajectory=True`` a ``Refinement(set, sets, losses)`` is returned instead.
        """
        check_set(S0, "S0")
        if not torch.is_tensor(z) or z.dim() != 2 or z.shape[0] != S0.shape[0]:
            shape = tuple(z.shape) if torch.is_tensor(z) else type(z).__name__
            raise ValueError(f"z must have shape (batch, e) with batch = {S0.shape[0]} like S0, got {shape}")
        steps = self.steps if steps is None else steps
        check_positive(steps, "steps", integer=True, allow_zero=True)

        create_graph = self.training and torch.is_grad_enabled()
        S = S0 if create_graph else S0.detach()
        if create_graph and not S.requires_grad:  # e.g. a frozen generator: still train H_agg through the loop
            S = S.clone().requires_grad_(True)
        velocity = torch.zeros_like(S)
        sets, losses = [S0], []
        for step in range(steps):
            with torch.enable_grad():
                if not create_graph:
                    S = S.detach().requires_grad_(True)
                loss = self.inner_loss(S, z, mask)
                if not torch.isfinite(loss).all():
                    raise ValueError(f"inner loss became NaN/inf at step {step} (lr={self.lr}); lower lr or set grad_clip")
                (grad,) = torch.autograd.grad(loss.sum(), S, create_graph=create_graph)
            if self.grad_clip is not None:
                norm = grad.flatten(1).norm(dim=1).view(-1, 1, 1)
                grad = grad * (self.grad_clip / (norm + 1e-12)).clamp(max=1.0)
            velocity = self.momentum * velocity + grad
            S = S - self.lr * velocity
            if not create_graph:
                S = S.detach()
            if return_trajectory:
                sets.append(S)
                losses.append(loss.detach())
        if not return_trajectory:
            return S
        with torch.no_grad():
            losses.append(self.inner_loss(S.detach(), z.detach(), mask))
        return Refinement(S, sets, losses)
