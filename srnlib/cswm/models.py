"""Contrastively-trained Structured World Models (C-SWM, Kipf et al. 2020), with and without a Set Refiner.

    observation (B, C, 50, 50)
      --object extractor CNN--> K object masks (B, K, 10, 10) in (0, 1)
      --object encoder MLP (shared over objects)--> state vectors S0 (B, K, D)
      [C-SWM+SRN only: S = SRN(S0, flattened masks), H_embed linear]       (B, K, D)
    transition GNN over the K objects with the action --> predicted change (B, K, D)

Loss (contrastive hinge): the energy of a transition is ``||s + T(s, a) - s'||^2 / (2 sigma^2)`` summed over objects;
positives are the observed transitions, negatives are other states of the batch, pushed at least ``hinge`` away.
The SRN refines the encoder's state vectors so that they encode to an embedding of the masks; ``n = K``. Both
models are built from a ``srnlib.config.CswmConfig`` of one model (``experiment.model_settings``).
"""
from __future__ import annotations

import torch
from torch import nn

from .._checks import check_positive
from ..config import CswmConfig
from ..pooling import SetEncoder
from ..refine import SRN

MASK_SIZE = 10  # 50x50 observations -> 10x10 masks (stride 5)


class ObjectExtractor(nn.Module):
    """(B, C, 50, 50) -> K object masks (B, K, 10, 10): C-SWM's "medium" CNN for 50x50 inputs."""

    def __init__(self, in_channels: int, objects: int, hidden: int = 32):
        super().__init__()
        check_positive(hidden, "hidden", integer=True)
        self.net = nn.Sequential(nn.Conv2d(in_channels, hidden, 9, padding=4), nn.BatchNorm2d(hidden), nn.LeakyReLU(),
                                 nn.Conv2d(hidden, objects, 5, stride=5), nn.Sigmoid())

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        if observations.dim() != 4 or tuple(observations.shape[-2:]) != (5 * MASK_SIZE, 5 * MASK_SIZE):
            raise ValueError(f"observations must have shape (batch, channels, 50, 50), got {tuple(observations.shape)}")
        # channels-last runs the 9x9 convolution 2-3x faster on a CPU (oneDNN); the numbers are the same
        masks = self.net(observations.contiguous(memory_format=torch.channels_last))
        return masks.contiguous()


class ObjectEncoder(nn.Module):
    """Each mask on its own through a shared MLP: (B, K, 10, 10) -> state vectors (B, K, D)."""

    def __init__(self, state_dim: int, hidden: int = 512):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(MASK_SIZE * MASK_SIZE, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                 nn.LayerNorm(hidden), nn.ReLU(), nn.Linear(hidden, state_dim))

    def forward(self, masks: torch.Tensor) -> torch.Tensor:
        return self.net(masks.flatten(2))


class TransitionGNN(nn.Module):
    """Message passing over the complete graph of K objects, conditioned on the action.

    states (B, K, D), actions (B,) int -> predicted change of every state (B, K, D). Equivariant to the order of
    objects. ``copy_action``: every object sees the action (Atari); otherwise action ``a`` belongs to object
    ``a // action_dim`` (the block-pushing environments).
    """

    def __init__(self, state_dim: int, action_dim: int, objects: int, hidden: int = 512, copy_action: bool = True):
        super().__init__()
        self.action_dim, self.objects, self.copy_action = action_dim, objects, copy_action
        self.edge = nn.Sequential(nn.Linear(2 * state_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                  nn.LayerNorm(hidden), nn.ReLU(), nn.Linear(hidden, hidden))
        self.node = nn.Sequential(nn.Linear(state_dim + action_dim + hidden, hidden), nn.ReLU(),
                                  nn.Linear(hidden, hidden), nn.LayerNorm(hidden), nn.ReLU(), nn.Linear(hidden, state_dim))

    def action_vectors(self, actions: torch.Tensor, objects: int) -> torch.Tensor:
        """(B,) int -> (B, K, action_dim) one-hot inputs for every object."""
        if self.copy_action:
            return nn.functional.one_hot(actions, self.action_dim).float().unsqueeze(1).expand(-1, objects, -1)
        per_object = nn.functional.one_hot(actions, self.action_dim * objects).float()
        return per_object.view(-1, objects, self.action_dim)

    def forward(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        batch, objects, dim = states.shape
        if actions.shape != (batch,):
            raise ValueError(f"actions must have shape ({batch},), got {tuple(actions.shape)}")
        senders = states.unsqueeze(1).expand(batch, objects, objects, dim)
        receivers = states.unsqueeze(2).expand(batch, objects, objects, dim)
        messages = self.edge(torch.cat([receivers, senders], dim=3))  # (B, K, K, hidden): message j -> i
        not_self = 1.0 - torch.eye(objects, device=states.device).view(1, objects, objects, 1)
        incoming = (messages * not_self).sum(dim=2)
        return self.node(torch.cat([states, self.action_vectors(actions, objects), incoming], dim=2))


class WorldModel(nn.Module):
    """C-SWM, or C-SWM+SRN (``srn=True``), from the ``CswmConfig`` of one model: K = ``objects`` slots of
    ``state_dim``, MLPs of ``mlp_hidden``, ``cnn_hidden`` extractor channels and the game's ``in_channels``,
    ``action_dim`` and ``copy_action``. ``encode``: observations -> states (B, K, D)."""

    def __init__(self, config: CswmConfig, srn: bool = False, sigma: float = 0.5, hinge: float = 1.0):
        super().__init__()
        if not isinstance(config, CswmConfig):
            raise TypeError(f"config must be a CswmConfig (CswmConfig.from_settings(experiment.model_settings(...))),"
                            f" got {type(config).__name__}")
        missing = [name for name in ("in_channels", "action_dim", "copy_action") if getattr(config, name) is None]
        if missing or not isinstance(config.objects, int):
            raise ValueError(f"a world model's settings name one K (objects, an int) and the game's in_channels, "
                             f"action_dim and copy_action (experiment.model_settings); got objects={config.objects!r}"
                             + (f", no {', '.join(missing)}" if missing else ""))
        objects, state_dim, hidden = config.objects, config.state_dim, config.mlp_hidden
        # H_agg is made first: a seed gives the same initial weights as before the SRN became one module
        agg = SetEncoder(state_dim, config.refiner.embed_dim, hidden=config.refiner.agg_hidden) if srn else None
        self.extractor = ObjectExtractor(config.in_channels, objects, config.cnn_hidden)
        self.encoder = ObjectEncoder(state_dim, hidden)
        self.transition = TransitionGNN(state_dim, config.action_dim, objects, hidden, config.copy_action)
        self.refiner = SRN(objects * MASK_SIZE * MASK_SIZE, state_dim, config.refiner, agg) if srn else None
        self.sigma, self.hinge = sigma, hinge

    def encode(self, observations: torch.Tensor, inner_steps: int | None = None) -> torch.Tensor:
        masks = self.extractor(observations)
        states = self.encoder(masks)
        if self.refiner is None:
            return states
        return self.refiner(states, masks.flatten(1), steps=inner_steps)

    def energy(self, states: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """(B, K, D), (B, K, D) -> (B,): squared distance summed over objects, scaled by 1 / (2 sigma^2)."""
        return (states - targets).pow(2).sum(dim=(1, 2)) / (2 * self.sigma**2)

    def contrastive_loss(self, observations: torch.Tensor, actions: torch.Tensor, next_observations: torch.Tensor,
                         generator: torch.Generator | None = None) -> torch.Tensor:
        """C-SWM's hinge loss: positives = predicted next states; negatives = the batch's states shuffled."""
        states, next_states = self.encode(observations), self.encode(next_observations)
        predicted = states + self.transition(states, actions)
        shuffle = torch.randperm(states.shape[0], generator=generator).to(states.device)
        positive = self.energy(predicted, next_states)
        negative = (self.hinge - self.energy(states[shuffle], next_states)).clamp(min=0)
        return (positive + negative).mean()

    def predict(self, observations: torch.Tensor, action_sequence: torch.Tensor) -> torch.Tensor:
        """Roll the transition model: observations (B, C, H, W), actions (B, T) -> predicted states (B, K, D)."""
        states = self.encode(observations)
        for t in range(action_sequence.shape[1]):
            states = states + self.transition(states, action_sequence[:, t])
        return states


def build_model(kind: str, config: CswmConfig) -> WorldModel:
    """``kind`` "cswm" or "srn" from the ``CswmConfig`` of one model
    (``CswmConfig.from_settings(experiment.model_settings(game, objects, cfg, n_actions))``)."""
    if kind not in ("cswm", "srn"):
        raise ValueError(f"kind must be 'cswm' or 'srn', got {kind!r}")
    return WorldModel(config, srn=kind == "srn")
