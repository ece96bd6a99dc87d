"""Theorem 1 (the responsibility problem) on the smallest possible example: sets of two points in the plane.

The data: a set ``{v1, v2}`` of two points in [-1, 1]^2 is "photographed" by a continuous, permutation-invariant
generator ``g``: a blurry image, i.e. the sum of one Gaussian bump per point sampled on a fixed grid of pixels.
The task: from the image, output the list of the two points (any order; the loss matches them optimally).

Two models see the same images:
- ``ContinuousSetPredictor`` (the theorem's ``h``): an MLP that outputs the list ``[v1, v2]`` directly. It is a
  continuous function of its input, so Theorem 1 says it must fail somewhere.
- ``IterativeSetPredictor``: the same MLP proposes ``S0``, then an ``SRN`` refines it by gradient descent so that
  the set encodes to an embedding of the image (its ``H_embed`` is an MLP too). The result of an optimisation can jump, so it can hand
  responsibility from one output slot to the other cleanly.

The probe: a pair of points rotated about their midpoint by 0..360 degrees. After 180 degrees the set is the same
but the list order is swapped, so a continuous ``h`` must "cut across" somewhere; we record both models' errors.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import TensorDataset

from .config import ResponsibilityConfig
from .metrics import chamfer, matched_squared_error
from .refine import SRN, RefinerConfig
from . import train

GRID_SIZE = 16  # the "image" is GRID_SIZE x GRID_SIZE pixels covering [-1.5, 1.5]^2
BLUR = 0.3  # width of each point's Gaussian bump


def pixel_centres(grid_size: int = GRID_SIZE) -> torch.Tensor:
    """Pixel coordinates of the rendered image, (grid_size**2, 2)."""
    axis = torch.linspace(-1.5, 1.5, grid_size)
    ys, xs = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([xs.flatten(), ys.flatten()], dim=1)


def render(points: torch.Tensor, grid_size: int = GRID_SIZE, blur: float = BLUR) -> torch.Tensor:
    """The generator g: sets (batch, n, 2) -> images (batch, grid_size**2). Continuous and order-free."""
    squared = (points.unsqueeze(2) - pixel_centres(grid_size).to(points)).pow(2).sum(-1)  # (batch, n, pixels)
    return torch.exp(-squared / (2 * blur**2)).sum(dim=1)


def random_point_sets(count: int, seed: int, n_points: int = 2) -> torch.Tensor:
    """``count`` sets of ``n_points`` uniform points in [-1, 1]^2: (count, n_points, 2)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(count, n_points, 2, generator=generator) * 2 - 1


def training_data(count: int, seed: int) -> TensorDataset:
    """(image, point set) pairs for training."""
    points = random_point_sets(count, seed)
    return TensorDataset(render(points), points)


PROBE_RADIUS, PROBE_CENTRE = 0.6, (0.1, -0.05)


def rotating_pairs(angles: int, radius: torch.Tensor, centre: torch.Tensor, stop_degrees: float = 360.0):
    """Pairs ``centre +/- radius*(cos t, sin t)`` for ``angles`` values of t in [0, stop_degrees].

    radius (pairs,), centre (pairs, 2) -> (degrees (angles,), point sets (pairs, angles, 2, 2)).
    """
    degrees = torch.linspace(0.0, stop_degrees, angles)
    theta = torch.deg2rad(degrees)
    direction = torch.stack([theta.cos(), theta.sin()], dim=1)  # (angles, 2)
    offset = radius.view(-1, 1, 1) * direction  # (pairs, angles, 2)
    centre = centre.view(-1, 1, 2)
    return degrees, torch.stack([centre + offset, centre - offset], dim=2)


def rotating_pair(angles: int, radius: float = PROBE_RADIUS, centre=PROBE_CENTRE):
    """The lesson's probe: one pair rotated by 0..360 degrees -> (degrees (angles,), sets (angles, 2, 2))."""
    degrees, points = rotating_pairs(angles, torch.tensor([radius]), torch.tensor(centre))
    return degrees, points[0]


def random_rotating_pairs(pairs: int, angles: int, seed: int):
    """Held-out pairs (radius 0.3..0.7, centre in [-0.3, 0.3]^2) rotated by 0..180 degrees (enough for a swap).

    -> (degrees (angles,), sets (pairs, angles, 2, 2)).
    """
    generator = torch.Generator().manual_seed(seed)
    radius = torch.rand(pairs, generator=generator) * 0.4 + 0.3
    centre = torch.rand(pairs, 2, generator=generator) * 0.6 - 0.3
    return rotating_pairs(angles, radius, centre, stop_degrees=180.0)


def _mlp(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, out_dim))


class ContinuousSetPredictor(nn.Module):
    """Theorem 1's ``h``: image (batch, pixels) -> list of points (batch, n_points, 2), an MLP (continuous)."""

    def __init__(self, hidden: int, n_points: int = 2, pixels: int = GRID_SIZE**2):
        super().__init__()
        self.n_points = n_points
        self.net = _mlp(pixels, hidden, n_points * 2)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image).view(-1, self.n_points, 2)


class IterativeSetPredictor(nn.Module):
    """The same MLP proposes ``S0``; an ``SRN`` moves it until ``H_agg(S)`` matches ``z = H_embed(image)``.

    image (batch, pixels) -> refined points (batch, n_points, 2). ``inner_steps=0`` gives the MLP's proposal ``S0``.
    """

    def __init__(self, mlp_hidden: int, refiner: RefinerConfig, n_points: int = 2, pixels: int = GRID_SIZE**2):
        super().__init__()
        self.proposal = ContinuousSetPredictor(mlp_hidden, n_points, pixels)
        self.refiner = SRN(_mlp(pixels, mlp_hidden, refiner.embed_dim), 2, refiner)

    def forward(self, image: torch.Tensor, inner_steps: int | None = None, return_trajectory: bool = False):
        return self.refiner(self.proposal(image), image, steps=inner_steps, return_trajectory=return_trajectory)


def build_models(config: ResponsibilityConfig) -> dict[str, nn.Module]:
    """Both models of the lesson from its settings (``ResponsibilityConfig.from_profile(...)``)."""
    if not isinstance(config, ResponsibilityConfig):
        raise TypeError(f"config must be a ResponsibilityConfig (ResponsibilityConfig.from_settings(cfg) for a "
                        f"settings dict), got {type(config).__name__}")
    return {"continuous": ContinuousSetPredictor(config.mlp_hidden),
            "iterative": IterativeSetPredictor(config.mlp_hidden, config.refiner)}


def train_models(cfg, seed: int = 0, retrain: bool = False, device=None) -> tuple[dict, dict]:
    """Load-or-train both models on the same data with the same schedule -> (models, histories).

    Checkpoints are keyed by (profile, seed, settings), so re-running the lesson loads instead of training.
    """
    data = training_data(cfg.train_sets, seed=seed)
    train.seed_everything(seed)
    models = build_models(ResponsibilityConfig.from_settings(cfg))
    histories = {}
    for name, model in models.items():
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        histories[name] = train.fit(
            model, optimizer, data, training_step, epochs=cfg.epochs, batch_size=cfg.batch_size, seed=seed,
            device=device, checkpoint=train.checkpoint_path("responsibility", cfg.profile, seed, cfg, name),
            on_epoch_start=train.cosine_lr(optimizer, cfg.epochs), retrain=retrain, desc=name, settings=cfg)
    return models, histories


def training_step(model: nn.Module, batch) -> torch.Tensor:
    """Mean matched squared error between the predicted and true point sets."""
    images, points = batch
    return matched_squared_error(model(images), points).mean()


@torch.no_grad()
def predict(model: nn.Module, points: torch.Tensor) -> torch.Tensor:
    """Render sets (..., n, 2), run the model on the images -> predicted lists of the same shape (on the CPU)."""
    model.eval()
    device = next(model.parameters()).device
    flat = points.reshape(-1, *points.shape[-2:])
    return model(render(flat).to(device)).cpu().reshape(points.shape)


@torch.no_grad()
def rotation_sweep(model: nn.Module, angles: int) -> dict[str, torch.Tensor]:
    """Run a model along the rotating pair: degrees, true sets, predicted lists and Chamfer errors per angle."""
    degrees, points = rotating_pair(angles)
    predicted = predict(model, points)
    return {"degrees": degrees, "points": points, "predicted": predicted, "error": chamfer(predicted, points)}


def slot_swaps(predicted: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Which true point each output slot 0 is nearest to, per angle: (angles,) of 0/1. A change = a hand-over."""
    distances = (predicted[:, :1] - points).pow(2).sum(-1)  # (angles, 2): slot 0 to each true point
    return distances.argmin(dim=1)


def worst_case(sweep: dict[str, torch.Tensor]) -> dict[str, float]:
    """The largest Chamfer error along the rotation and where it happens."""
    index = int(sweep["error"].argmax())
    return {"max_error": float(sweep["error"][index]), "at_degrees": float(sweep["degrees"][index]),
            "mean_error": float(sweep["error"].mean())}


def wrong_fraction(sweep: dict[str, torch.Tensor], threshold: float) -> float:
    """The fraction of the sweep's angles where the Chamfer error exceeds ``threshold``: how wide the failure is."""
    if not isinstance(threshold, (int, float)) or threshold < 0:
        raise ValueError(f"threshold must be a number >= 0, got {threshold!r}")
    return float((sweep["error"] > threshold).float().mean())


def spike_rate(model: nn.Module, pairs: int, angles: int = 91, seed: int = 12345, threshold: float = 0.1) -> float:
    """Fraction of held-out rotating pairs on which the model's Chamfer error exceeds ``threshold`` at some angle.

    Theorem 1 says a continuous ``h`` must spike on every pair (the rate tends to 1 as ``angles`` grows).
    """
    _, points = random_rotating_pairs(pairs, angles, seed)
    errors = chamfer(predict(model, points).flatten(0, 1), points.flatten(0, 1)).view(pairs, angles)
    return float((errors.max(dim=1).values > threshold).float().mean())


def midpoint_error(radius: float = 0.6) -> float:
    """Chamfer error of answering the pair's midpoint twice (what "averaging" the two points costs): 4 r^2."""
    return 4 * radius**2
