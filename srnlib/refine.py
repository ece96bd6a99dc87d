"""The Set Refiner Network (SRN): Algorithm 1 of Huang et al. (NeurIPS 2020).

Instead of reading a set straight off a feed-forward network (which is continuous, and so suffers from the
responsibility problem), search for a set that *encodes to* the input's embedding::

    S_0 = G(X)                                   # any set generator: (batch, n, d)
    z   = H_embed(X)                             # an embedding of the input: (batch, e)
    for i in 1..r:
        L(S) = || H_agg(S_{i-1}) - z ||^2        # H_agg: a permutation-invariant set encoder
        S_i  = S_{i-1} - lr * dL/dS_{i-1}        # (optionally with momentum and gradient clipping)
    S = S_r

``SRN(embed, set_dim, config)`` is that whole box: it owns ``H_embed`` (a linear map of the input features to z,
or a module you give it), ``H_agg`` (a ``SetEncoder``) and the loop, reads r, lr, momentum and clipping from a
``RefinerConfig`` (the ``refiner`` settings of every experiment), and is called as ``srn(S0, X, steps=...)``:
``steps`` changes r for one call (0 returns S0), ``return_trajectory=True`` returns every S_i with its inner loss.
``SetRefiner(H_agg, steps, lr)`` is the loop alone, for an ``H_agg`` and a z of your own.

The inner gradient is taken with ``torch.autograd.grad(..., create_graph=True)`` while training, so the outer
loss trains ``G``, ``H_embed`` and ``H_agg`` through the whole loop. For the default ``H_agg`` (a plain
``SetEncoder``) the same gradient is written out by hand (``encoder_gradient.py``): the same values, and the outer
backward is cheaper than autograd's double backward; ``SetRefiner(..., gradient="autograd")`` turns it off, and
any other ``H_agg`` always uses autograd. In ``eval()`` mode or under ``torch.no_grad()`` the loop runs without
building a graph (cheap inference).

``GraphRefiner`` (the paper's GRN) runs the same loop on a graph: node features (batch, n, d) and the weights of a
complete graph's edges (batch, n, n) are refined together so that a graph encoder maps them to ``z``; ``GRN`` is
to it what ``SRN`` is to ``SetRefiner``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from . import encoder_gradient
from ._checks import check_int, check_number, check_positive, check_set, is_int
from .pooling import GraphEncoder, SetEncoder


@dataclass(frozen=True)
class RefinerConfig:
    """The settings of an SRN (or a GRN): ``refiner=dict(...)`` in every experiment's profile."""

    steps: int  # r, the number of inner gradient steps (the paper uses 5 to 20)
    lr: float  # the inner learning rate alpha
    agg_hidden: int  # the width of H_agg's per-element MLP
    embed_dim: int | None = None  # e, the size of z = H_embed(X); None: the element size d
    momentum: float = 0.0  # heavy-ball momentum of the inner SGD (the authors' Circles code uses 0.5)
    grad_clip: float | None = None  # if set, each set's inner gradient is rescaled to at most this L2 norm


class Refinement(NamedTuple):
    """What ``SRN`` and ``SetRefiner`` return when called with ``return_trajectory=True``."""

    set: torch.Tensor  # the refined set S_r, (batch, n, d)
    sets: list  # [S_0, S_1, ..., S_r], each (batch, n, d)
    losses: list  # inner loss of S_0 ... S_r per example, each (batch,), detached


class _InnerDescent(nn.Module):
    """The inner loop shared by SetRefiner and GraphRefiner: gradient descent on a tuple of tensors."""

    def __init__(self, encoder: nn.Module, steps: int, lr: float, momentum: float, grad_clip: float | None):
        super().__init__()
        if not isinstance(encoder, nn.Module):
            raise TypeError(f"the encoder must be an nn.Module, got {type(encoder).__name__}")
        steps = check_positive(steps, "steps", integer=True)
        lr = check_number(lr, "lr", minimum=0.0, strict=True)  # finite: inf or nan would return a broken set
        momentum = check_number(momentum, "momentum", minimum=0.0)
        if not momentum < 1.0:
            raise ValueError(f"momentum must be a number in [0, 1), got {momentum!r}")
        if grad_clip is not None:
            grad_clip = check_number(grad_clip, "grad_clip", minimum=0.0, strict=True)
        self._steps, self.lr, self.momentum, self.grad_clip = steps, lr, momentum, grad_clip

    @property
    def steps(self) -> int:
        """The number of inner steps a call makes unless it passes ``steps=`` (fixed when built: read-only)."""
        return self._steps

    def parameter_dtype(self) -> torch.dtype | None:
        """The floating dtype of the encoder's weights (None for an encoder without floating parameters)."""
        return next((p.dtype for p in self.parameters() if p.is_floating_point()), None)

    def descend(self, variables: tuple, loss_of, steps: int | None, return_trajectory: bool, loss_and_grads_of=None):
        """Run ``steps`` steps of (momentum) SGD on ``loss_of(*variables) -> (batch,)`` from ``variables``.

        ``loss_and_grads_of(*variables) -> (loss (batch,), gradients)``, if given, replaces autograd's gradient.
        Returns (final variables, trajectory [variables_0 .. variables_r], losses [(batch,) per trajectory entry]).
        """
        steps = self.steps if steps is None else steps
        check_positive(steps, "steps", integer=True, allow_zero=True)
        create_graph = self.training and torch.is_grad_enabled()
        current = tuple(v if create_graph else v.detach() for v in variables)
        if create_graph:  # e.g. a frozen generator: the encoder still trains through the loop
            current = tuple(v if v.requires_grad else v.clone().requires_grad_(True) for v in current)
        velocity = tuple(torch.zeros_like(v) for v in current)
        trajectory, losses = [tuple(variables)], []
        for step in range(steps):
            if loss_and_grads_of is not None:  # the gradient written out: a plain graph, built only for training
                with torch.set_grad_enabled(create_graph):
                    loss, grads = loss_and_grads_of(*current)
            else:
                with torch.enable_grad():
                    if not create_graph:
                        current = tuple(v.detach().requires_grad_(True) for v in current)
                    loss = loss_of(*current)
                    grads = torch.autograd.grad(loss.sum(), current, create_graph=create_graph)
            if not torch.isfinite(loss).all():
                raise ValueError(f"inner loss became NaN/inf at step {step} (lr={self.lr}); lower lr or set grad_clip")
            if self.grad_clip is not None:  # one norm per example over all refined variables
                norm = torch.stack([g.flatten(1).pow(2).sum(1) for g in grads]).sum(0).sqrt()
                scale = (self.grad_clip / (norm + 1e-12)).clamp(max=1.0)
                grads = tuple(g * scale.view(-1, *[1] * (g.dim() - 1)) for g in grads)
            velocity = tuple(self.momentum * v + g for v, g in zip(velocity, grads))
            current = tuple(x - self.lr * v for x, v in zip(current, velocity))
            if not all(bool(torch.isfinite(x).all()) for x in current):  # never return a broken set
                raise ValueError(
                    f"the refined set became NaN/inf at inner step {step} of {steps} (lr={self.lr}, "
                    f"momentum={self.momentum}, grad_clip={self.grad_clip}); lower lr or set grad_clip")
            if not create_graph:
                current = tuple(x.detach() for x in current)
            if return_trajectory:
                trajectory.append(current)
                losses.append(loss.detach())
        if return_trajectory:
            with torch.no_grad():
                losses.append(loss_of(*(x.detach() for x in current)))
        return current, trajectory, losses


class SetRefiner(_InnerDescent):
    """Refine a set ``S0`` by ``steps`` gradient steps on ``||set_encoder(S) - z||^2``.

    Args:
        set_encoder: ``H_agg``, a module ``(batch, n, d) -> (batch, e)``, permutation invariant, e.g. ``SetEncoder``.
        steps: number of inner gradient steps ``r`` (the paper uses 5 to 20).
        lr: inner learning rate ``alpha``.
        momentum: heavy-ball momentum of the inner SGD (the authors' Circles code uses 0.5).
        grad_clip: if set, the inner gradient of each set is rescaled to at most this L2 norm.
        gradient: "by_hand" (default): for a plain ``SetEncoder`` the inner gradient is the hand-written one of
            ``encoder_gradient.py`` (same values, a cheaper outer backward); any other encoder uses autograd.
            "autograd": always ``torch.autograd.grad``.
    """

    def __init__(self, set_encoder: nn.Module, steps: int, lr: float, momentum: float = 0.0,
                 grad_clip: float | None = None, gradient: str = "by_hand"):
        super().__init__(set_encoder, steps, lr, momentum, grad_clip)
        if gradient not in ("by_hand", "autograd"):
            raise ValueError(f'gradient must be "by_hand" or "autograd", got {gradient!r}')
        self.set_encoder, self.gradient = set_encoder, gradient

    def inner_loss(self, S: torch.Tensor, z: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Per-example inner loss ``||H_agg(S) - z||^2``: (batch, n, d), (batch, e) -> (batch,)."""
        encoded = self.set_encoder(S) if mask is None else self.set_encoder(S, mask)
        return _distance(encoded, z)

    def _gradient_by_hand(self, z: torch.Tensor, mask: torch.Tensor | None):
        """S -> (inner loss, (dL/dS,)) written out by hand for a plain SetEncoder; None: autograd's gradient."""
        if self.gradient == "autograd" or not encoder_gradient.supports(self.set_encoder):
            return None
        inner_gradient = encoder_gradient.InnerGradient(self.set_encoder, z, mask)

        def loss_and_grads(S):
            loss, grad = inner_gradient(S)
            return loss, (grad,)
        return loss_and_grads

    def forward(self, S0: torch.Tensor, z: torch.Tensor, steps: int | None = None, return_trajectory: bool = False,
                mask: torch.Tensor | None = None):
        """S0: (batch, n, d), z: (batch, e), mask: optional (batch, n) bool -> refined set (batch, n, d).

        ``steps`` overrides the number of inner steps for this call (``0`` returns ``S0`` unchanged). With
        ``return_trajectory=True`` a ``Refinement(set, sets, losses)`` is returned instead.
        """
        check_set(S0, "S0", dtype=self.parameter_dtype())
        _check_embedding(z, S0)
        (S,), trajectory, losses = self.descend((S0,), lambda S: self.inner_loss(S, z, mask), steps, return_trajectory,
                                                self._gradient_by_hand(z, mask))
        if not return_trajectory:
            return S
        return Refinement(S, [entry[0] for entry in trajectory], losses)


class GraphRefiner(_InnerDescent):
    """The paper's GRN: refine node features and edge weights so that ``graph_encoder(nodes, edges)`` matches ``z``.

    The initial graph is the set's elements as nodes of a complete graph (edge weights 1, no self-loops) unless
    ``edges0`` is given. Same arguments as ``SetRefiner``; ``graph_encoder`` maps
    (nodes (batch, n, d), edges (batch, n, n), mask) -> (batch, e), e.g. ``srnlib.GraphEncoder``.
    """

    def __init__(self, graph_encoder: nn.Module, steps: int, lr: float, momentum: float = 0.0,
                 grad_clip: float | None = None):
        super().__init__(graph_encoder, steps, lr, momentum, grad_clip)
        self.graph_encoder = graph_encoder

    def inner_loss(self, nodes, edges, z, mask=None) -> torch.Tensor:
        """Per-example ``||H_agg(nodes, edges) - z||^2`` -> (batch,)."""
        return _distance(self.graph_encoder(nodes, edges, mask), z)

    def forward(self, nodes0: torch.Tensor, z: torch.Tensor, edges0: torch.Tensor | None = None,
                steps: int | None = None, return_trajectory: bool = False, mask: torch.Tensor | None = None):
        """nodes0 (batch, n, d), z (batch, e), edges0 (batch, n, n) or None -> (nodes, edges) refined.

        With ``return_trajectory=True`` returns ``((nodes, edges), [(nodes_i, edges_i), ...], losses)``.
        """
        check_set(nodes0, "nodes0", dtype=self.parameter_dtype())
        batch, n, _ = nodes0.shape
        _check_embedding(z, nodes0)
        if edges0 is None:
            edges0 = complete_graph(batch, n, nodes0)
        elif not torch.is_tensor(edges0) or edges0.shape != (batch, n, n):
            shape = tuple(edges0.shape) if torch.is_tensor(edges0) else type(edges0).__name__
            raise ValueError(f"edges0 must have shape (batch, n, n) = {(batch, n, n)}, got {shape}")
        elif edges0.dtype != nodes0.dtype:  # e.g. integer 0/1 edges: they cannot be refined by gradient steps
            raise TypeError(f"edges0 must be a floating-point tensor of nodes0's dtype {nodes0.dtype} (edge weights "
                            f"are refined by gradient steps), got dtype {edges0.dtype}; pass edges0.to(nodes0.dtype)")
        refined, trajectory, losses = self.descend(
            (nodes0, edges0), lambda nodes, edges: self.inner_loss(nodes, edges, z, mask), steps, return_trajectory)
        return (refined, trajectory, losses) if return_trajectory else refined


class SRN(nn.Module):
    """Algorithm 1 as one module: ``srn(S0, X)`` searches for a set that ``H_agg`` encodes to ``z = H_embed(X)``.

    Args:
        embed: ``H_embed``: the size of the input features (H_embed is then a linear map to ``e``), or a module
            that maps the inputs to z (batch, e).
        set_dim: d, the size of an element of S0.
        config: a ``RefinerConfig``: r (``steps``), ``lr``, ``momentum``, ``grad_clip``, H_agg's width
            (``agg_hidden``) and e (``embed_dim``; None: e = d).
        agg: ``H_agg`` if you bring your own (a module (batch, n, d) -> (batch, e)); default a ``SetEncoder``.

    Submodules: ``embed`` (H_embed) and ``loop``, the ``SetRefiner`` around H_agg (``loop.set_encoder``, a
    ``SetEncoder``). The number of steps is fixed when the SRN is built (``srn.steps``); a call may ask for another.
    """

    def __init__(self, embed: int | nn.Module, set_dim: int, config: RefinerConfig, agg: nn.Module | None = None):
        super().__init__()
        if not isinstance(config, RefinerConfig):
            raise TypeError(f"config must be a RefinerConfig, got {type(config).__name__}")
        self.set_dim = check_int(set_dim, "set_dim", 1)
        self.embed_dim = self.set_dim if config.embed_dim is None else check_int(config.embed_dim, "embed_dim", 1)
        if is_int(embed):
            embed = nn.Linear(check_int(embed, "embed", 1), self.embed_dim)
        elif not isinstance(embed, nn.Module):
            raise TypeError(f"embed must be the size of H_embed's input (an int) or a module, got {embed!r}")
        self.embed = embed
        self.loop = self._loop(config, agg)

    def _loop(self, config: RefinerConfig, agg: nn.Module | None) -> _InnerDescent:
        encoder = SetEncoder(self.set_dim, self.embed_dim, hidden=config.agg_hidden) if agg is None else agg
        return SetRefiner(encoder, config.steps, config.lr, config.momentum, config.grad_clip)

    @property
    def steps(self) -> int:
        """r: the number of inner steps of a call that does not pass ``steps=``."""
        return self.loop.steps

    def forward(self, S0: torch.Tensor, *inputs, steps: int | None = None, return_trajectory: bool = False,
                mask: torch.Tensor | None = None):
        """S0 (batch, n, d) and H_embed's inputs (e.g. features (batch, f)) -> the refined set (batch, n, d).

        ``steps``: r for this call (``0`` returns S0). ``return_trajectory=True``: a ``Refinement(set, sets,
        losses)`` with S_0 .. S_r and their inner losses. ``mask`` (batch, n) bool marks padding, which H_agg
        ignores and the loop leaves where it is.
        """
        return self.loop(S0, self.embed(*inputs), steps=steps, return_trajectory=return_trajectory, mask=mask)


class GRN(SRN):
    """The paper's GRN as one module, built like ``SRN``: S0 becomes the nodes of a complete graph, and the loop
    (a ``GraphRefiner`` around a ``GraphEncoder``, ``loop.graph_encoder``) refines the nodes and the edge weights.

    ``grn(nodes0, *inputs, edges0=None, steps=None)`` -> (nodes (batch, n, d), edges (batch, n, n)); with
    ``return_trajectory=True``: ((nodes, edges), [(nodes_i, edges_i) for i = 0 .. r], inner losses).
    """

    def _loop(self, config: RefinerConfig, agg: nn.Module | None) -> _InnerDescent:
        encoder = GraphEncoder(self.set_dim, self.embed_dim, hidden=config.agg_hidden) if agg is None else agg
        return GraphRefiner(encoder, config.steps, config.lr, config.momentum, config.grad_clip)

    def forward(self, nodes0: torch.Tensor, *inputs, edges0: torch.Tensor | None = None, steps: int | None = None,
                return_trajectory: bool = False, mask: torch.Tensor | None = None):
        return self.loop(nodes0, self.embed(*inputs), edges0, steps=steps, return_trajectory=return_trajectory,
                         mask=mask)


@torch.no_grad()
def inner_problem(srn: SRN, S0: torch.Tensor, *inputs, steps: int | None = None) -> dict[str, float]:
    """How much of its own problem (Eq. 2) an SRN's loop solves on a batch, as means over the batch:
    ``loss_s0`` L(S_0) and ``loss_sr`` L(S_r); ``solved`` 1 - L(S_r) / L(S_0); ``z_sq`` ||z||^2; ``agg_s0_sq``
    ||H_agg(S_0)||^2; ``move`` ||S_r - S_0|| / ||S_0||. ``S0`` (batch, n, d) and H_embed's ``inputs`` as for
    ``srn(S0, *inputs)``; ``steps``: r (default the SRN's own).

    A loop that searches brings L(S_r) well below L(S_0). When H_agg's output is near 0 (L(S_0) ~ ||z||^2) the
    inner gradient is about -2 J(S)^T z: the loop pushes the set along a learned direction and solves nothing."""
    if not isinstance(srn, SRN) or isinstance(srn, GRN):
        raise TypeError(f"srn must be an SRN (not a GRN), got {type(srn).__name__}")
    check_set(S0, "S0")
    was_training = srn.training
    srn.eval()
    try:
        run = srn(S0, *inputs, steps=steps, return_trajectory=True)
        z = srn.embed(*inputs)
        encoded = srn.loop.set_encoder(S0)
    finally:
        srn.train(was_training)
    loss_s0, loss_sr = run.losses[0].mean().item(), run.losses[-1].mean().item()
    move = (run.set - S0).flatten(1).norm(dim=1) / S0.flatten(1).norm(dim=1).clamp_min(1e-12)
    return {"loss_s0": loss_s0, "loss_sr": loss_sr, "solved": 1.0 - loss_sr / max(loss_s0, 1e-12),
            "z_sq": z.pow(2).sum(1).mean().item(), "agg_s0_sq": encoded.pow(2).sum(1).mean().item(),
            "move": move.mean().item()}


def complete_graph(batch: int, n: int, like: torch.Tensor) -> torch.Tensor:
    """Edge weights of a complete graph without self-loops: (batch, n, n), 1 off the diagonal."""
    eye = torch.eye(n, dtype=like.dtype, device=like.device)
    return (1 - eye).expand(batch, n, n).clone()


def _distance(encoded: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    if encoded.shape != z.shape:
        raise ValueError(f"z must have the encoder's output shape {tuple(encoded.shape)}, got {tuple(z.shape)}")
    return (encoded - z).pow(2).sum(dim=1)


def _check_embedding(z, initial: torch.Tensor) -> None:
    batch = initial.shape[0]
    if not torch.is_tensor(z) or z.dim() != 2 or z.shape[0] != batch:
        shape = tuple(z.shape) if torch.is_tensor(z) else type(z).__name__
        raise ValueError(f"z must have shape (batch, e) with batch = {batch} like the initial set, got {shape}")
    if z.dtype != initial.dtype:
        raise TypeError(f"z must have the initial set's dtype {initial.dtype}, got {z.dtype}; cast one of them")
