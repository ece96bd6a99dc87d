"""The inner gradient of the SRN for the paper's ``H_agg``, written out by hand: dL/dS of L(S) = ||H_agg(S) - z||^2.

``SetRefiner`` takes one gradient of ``L`` per inner step. With autograd that is ``torch.autograd.grad(L, S,
create_graph=True)``, and the outer backward then runs autograd's double backward through every step. For a
``SetEncoder`` (a per-element MLP, then FSPool) the gradient is short enough to write out as ordinary torch ops::

    h_0 = S                                          # all batch x n elements as rows of one matrix
    a_k = h_{k-1} W_k^T + b_k,  h_k = relu(a_k)       # the per-element MLP, k = 1 .. K (no ReLU after a_K)
    f   = a_K / n                                    # divided by the set size, as the authors do
    y   = sum_t sort(f)_t w_t                        # FSPool: w_t, the weight of rank t
    L   = ||y - z||^2

    dL/da_K = 2 (y - z) w_rank(element) / n          # each element gets the weight of its own rank
    dL/da_k = (dL/da_{k+1} W_{k+1}) [h_k > 0]        # [h_k > 0]: ReLU's derivative
    dL/dS   = dL/da_1 W_1

so the outer backward differentiates a plain forward graph (matrix products, ReLU masks, a scatter) instead of
autograd's double backward, which also builds zero tensors for ReLU's second derivative and for the sort.
Ties in the sort get autograd's gradient: both read the same ``order`` from ``FSPool.sort``. Tested against
autograd in ``tests/test_encoder_gradient.py`` (dL/dS, and the outer gradients after several inner steps).

``supports(encoder)`` is True only for a plain ``SetEncoder`` (not a subclass, no hooks): any other ``H_agg``
keeps autograd.
"""
from __future__ import annotations

import os
import torch
MODE = os.environ.get('MODE', 'bool')
from torch import nn
from torch.nn import functional as F

from ._checks import check_set
from .pooling import SetEncoder, set_sizes


def supports(encoder: nn.Module) -> bool:
    """Whether ``loss_and_gradient`` computes this encoder's inner gradient (else use autograd)."""
    if type(encoder) is not SetEncoder:  # a subclass may change forward
        return False
    if any(module._forward_hooks or module._forward_pre_hooks for module in encoder.modules()):
        return False  # hooks run in forward, which the hand-written path never calls
    layers = list(encoder.element_mlp)
    expected = [nn.Linear if i % 2 == 0 else nn.ReLU for i in range(len(layers))]
    return len(layers) % 2 == 1 and all(type(layer) is kind for layer, kind in zip(layers, expected))


class InnerGradient:
    """``S -> (L (batch,), dL/dS (batch, n, d))`` for one encoder, z and mask: what the inner loop calls each step.

    The same values as ``||encoder(S, mask) - z||^2`` per set and autograd's gradient of it; both outputs are
    differentiable (w.r.t. S, z and the encoder's parameters) when grad mode is on. FSPool's rank weights depend
    only on the set sizes, so they are computed once and shared by every step.
    """

    def __init__(self, encoder: SetEncoder, z: torch.Tensor, mask: torch.Tensor | None = None):
        self.encoder, self.z, self.mask = encoder, z, mask
        self.linears = list(encoder.element_mlp)[0::2]
        self.rank_weights = None  # (batch, n, e) by sorted position, from the first call

    def __call__(self, S: torch.Tensor):
        check_set(S, "x", channels=self.encoder.in_dim, dtype=self.linears[0].weight.dtype)
        batch, n, _ = S.shape
        if self.rank_weights is None:
            self.rank_weights = self.encoder.pool.rank_weights(set_sizes(S, self.mask), n)
        sizes = n if self.mask is None else self.mask.sum(dim=1).view(-1, 1, 1)  # SetEncoder divides by these
        # Forward: the per-element MLP on all batch x n elements as one matrix.
        h = S.reshape(batch * n, -1)
        hidden = []  # ReLU outputs: ReLU's derivative is [h > 0]
        for linear in self.linears[:-1]:
            h = F.linear(h, linear.weight, linear.bias).relu_()
            hidden.append(h.detach())
        features = F.linear(h, self.linears[-1].weight, self.linears[-1].bias).view(batch, n, -1) / sizes
        sorted_features, order = self.encoder.pool.sort(features, self.mask)
        encoded = (sorted_features * self.rank_weights).sum(dim=1)  # H_agg(S): (batch, e)
        z = self.z
        if z.shape != encoded.shape:
            raise ValueError(f"z must have the encoder's output shape {tuple(encoded.shape)}, got {tuple(z.shape)}")
        residual = encoded - z
        loss = residual.pow(2).sum(dim=1)
        # Backward, by hand: FSPool hands each element the weight of its rank (padding ranks last, weight 0).
        rank_weight = torch.empty_like(self.rank_weights).scatter_(1, order, self.rank_weights)  # order: a permutation
        grad = ((2 * residual).unsqueeze(1) * rank_weight / sizes).view(batch * n, -1)  # dL/da_K
        for linear, h in zip(self.linears[:0:-1], hidden[::-1]):
            # through W_k, then ReLU's derivative: ReLU's own backward, grad where h > 0 (the fastest mask on a CPU)
            grad = torch.ops.aten.threshold_backward(grad.mm(linear.weight), h, 0)
        grad = grad.mm(self.linears[0].weight)
        return loss, grad.view(batch, n, -1)
