"""Load-or-train and evaluation helpers behind notebook 01 (Table 1, Figure 2), also used by notebook 02 to load its
models; notebook 02's interpolation and t-SNE helpers are in ``interpolation``.

Every function takes the circles settings ``cfg = srnlib.profiles.get("circles", profile)`` (the dict that keys the
checkpoints; the models are built from it typed, ``CirclesConfig.from_settings(cfg)``). Shapes:
    images (B, 3, 64, 64); object tables (B, k, 4) as [x, y, r, colour]; sets (B, n, d);
    element images (B, n, 3, 64, 64).
"""
from __future__ import annotations

import numpy as np
import torch

from .. import metrics
from .._checks import is_int
from ..config import CirclesConfig
from ..refine import inner_problem
from ..train import checkpoint_path, fit, seed_everything
from . import data
from .models import BaselineAutoencoder, Decomposition, build_model

EXPERIMENT = "circles"
MODEL_KINDS = ("baseline", "srn")
# Top-level settings a kind's training never reads (a test trains with them changed and compares the weights): a
# change of the refiner leaves the baselines' weights as they were, so scripts/circles_reship_baselines.py re-keys
# the shipped ones to the new settings instead of training them again.
UNREAD_SETTINGS = {"baseline": ("refiner", "s0_gradient", "more_steps", "more_steps_epoch"), "srn": ()}
EVAL_BATCH = 100
SMALL_RADIUS = 2  # circles of radius 1-2 px (5-13 pixels): the ones the CPU models leave out


def datasets(cfg: dict):
    """``(train, test)`` CirclesDatasets of the profile's sizes; disjoint seeds, cached on disk."""
    train = data.CirclesDataset(cfg["train_images"], seed=0, min_circles=cfg["min_circles"],
                                max_circles=cfg["max_circles"])
    test = data.CirclesDataset(cfg["test_images"], seed=1, min_circles=cfg["min_circles"],
                               max_circles=cfg["max_circles"])
    return train, test


def reconstruction_step(model: BaselineAutoencoder, batch, inner_steps: int | None = None,
                        foreground_weight: float = 1.0) -> dict:
    """One training step's loss: mean squared reconstruction error of a batch ``(images, counts)``; ``inner_steps``:
    the SRN's for this step (None: the model's own). ``foreground_weight`` weighs the error at pixels the target
    lights (any channel > 0) against 1 at the background (1: plain MSE)."""
    if isinstance(foreground_weight, bool) or not isinstance(foreground_weight, (int, float)):
        raise TypeError(f"foreground_weight must be a number (1: plain MSE), got {type(foreground_weight).__name__}")
    if not foreground_weight > 0:
        raise ValueError(f"foreground_weight must be positive (1: plain MSE), got {foreground_weight!r}")
    images, _ = batch
    error = (model(images, inner_steps=inner_steps).reconstruction - images).square()
    if foreground_weight != 1.0:
        lit = images.amax(dim=1, keepdim=True) > 0  # (B, 1, 64, 64)
        error = error * torch.where(lit, foreground_weight, 1.0)
    return {"loss": error.mean()}


def load_or_train(kind: str, cfg: dict, seed: int = 0, retrain: bool = False, train_set=None, device=None,
                  evaluate=None):
    """The ``kind`` ("baseline" or "srn") model of this profile and seed: loaded from its checkpoint when training
    finished before, trained (and checkpointed every epoch) otherwise. Returns ``(model in eval mode, history)``.
    ``evaluate(model) -> dict of floats`` runs after every epoch into the history (see ``srnlib.train.fit``)."""
    if kind not in MODEL_KINDS:
        raise ValueError(f"kind must be one of {MODEL_KINDS}, got {kind!r}")
    seed_everything(seed)
    config = CirclesConfig.from_settings(cfg)
    model = build_model(kind, config)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    steps = {"now": None}  # the SRN's inner steps in this epoch (the model's own after training)

    def schedule(model, epoch):
        steps["now"] = config.inner_steps_at(epoch) if kind == "srn" else None

    def loss(m, batch):
        return reconstruction_step(m, batch, steps["now"], config.foreground_weight)

    if train_set is None:
        train_set, _ = datasets(cfg)
    history = fit(model, optimizer, train_set, loss,
                  epochs=cfg["epochs"], batch_size=cfg["batch_size"], seed=seed, device=device, on_epoch_start=schedule,
                  retrain=retrain, evaluate=evaluate,
                  checkpoint=checkpoint_path(EXPERIMENT, cfg["profile"], seed, cfg, name=kind), desc=kind,
                  settings=cfg)
    return model.eval(), history


def training_seconds(history: list[dict]) -> float:
    """Wall seconds the training took, summed over the epochs of a ``fit`` history (also when it was loaded)."""
    if not history or any("seconds" not in record for record in history):
        raise ValueError("history must be a non-empty fit() history whose epochs record 'seconds'")
    return float(sum(record["seconds"] for record in history))


@torch.no_grad()
def decompose(model: BaselineAutoencoder, images: torch.Tensor, inner_steps: int | None = None) -> Decomposition:
    """Run ``model`` in eval mode over ``images`` (B, 3, 64, 64) in batches; tensors concatenated on the CPU.
    ``inner_steps``: the SRN's number of inner steps (None: its own)."""
    model.eval()
    device = next(model.parameters()).device
    parts = [model(images[i:i + EVAL_BATCH].float().to(device), inner_steps=inner_steps)
             for i in range(0, len(images), EVAL_BATCH)]
    return Decomposition(*(torch.cat(tensors).cpu() for tensors in zip(*parts)))


@torch.no_grad()
def evaluate(model: BaselineAutoencoder, test_set: data.CirclesDataset, inner_steps: int | None = None) -> dict:
    """Table 1 and more on ``test_set``: ``{"table1": {"1": pct, ..., "5": pct}, "recon_mse", "fg_ari",
    "table1_by_small_circles"}``.

    fg_ari is the mean foreground ARI over test images with at least one circle. table1_by_small_circles is Table 1
    on two parts of the test set (``split_by_small_circles``). ``inner_steps``: the SRN's number of inner steps
    (None: its own).
    """
    successes, squared_errors, aris = [], [], []
    for start in range(0, len(test_set), EVAL_BATCH):
        images = test_set.images[start:start + EVAL_BATCH].float()
        counts = test_set.counts[start:start + EVAL_BATCH]
        out = decompose(model, images, inner_steps)
        successes.append(metrics.decomposition_success(out.element_images, counts))
        squared_errors.append((out.reconstruction - images).square().mean(dim=(1, 2, 3)))
        masks = data.circle_masks(test_set.table[start:start + EVAL_BATCH])
        aris.append(metrics.foreground_ari(out.element_images, masks))
    ari, success = torch.cat(aris), torch.cat(successes)
    return {"table1": metrics.success_by_count(success, test_set.counts),
            "recon_mse": float(torch.cat(squared_errors).mean()),
            "fg_ari": float(ari[~torch.isnan(ari)].mean()),
            "table1_by_small_circles": split_by_small_circles(success, test_set.counts, test_set.table)}


def split_by_small_circles(success: torch.Tensor, counts: torch.Tensor, tables) -> dict:
    """Table 1 on the images that hold a small circle (radius <= ``SMALL_RADIUS``) and on those that do not, from
    per-image success (B,) bool, counts (B,) and object tables (B, k, 4): ``{"with_small": {"1": pct, ...},
    "without_small": {...}, "images_without_small": {"1": n, ...}}``. Where the models leave small circles out, the
    second table is what they do with the rest."""
    radii = torch.as_tensor(np.asarray(tables)[..., 2])
    small = ((radii > 0) & (radii <= SMALL_RADIUS)).any(dim=1)
    return {"with_small": metrics.success_by_count(success[small], counts[small]),
            "without_small": metrics.success_by_count(success[~small], counts[~small]),
            "images_without_small": {str(k): int(((counts == k) & ~small).sum()) for k in range(1, 6)}}


@torch.no_grad()
def refinement_stats(model, images: torch.Tensor, inner_steps: int | None = None) -> dict:
    """How much the SRN's inner loop changes the set on ``images`` (B, 3, 64, 64), in eval mode, in ``inner_steps``
    steps (None: the model's own).

    Returns floats: ``inner_loss_before`` / ``inner_loss_after`` (mean ||H_agg(S) - z||^2 at S0 and after the last
    step), ``solved`` (the share of it the steps remove), ``z_sq`` and ``agg_s0_sq`` (||z||^2 and ||H_agg(S0)||^2;
    see ``srnlib.refine.inner_problem``), ``movement`` (mean L2 distance an element moves, ||S - S0||) and
    ``element_norm`` (mean ||S0||).
    """
    if not hasattr(model, "refiner"):
        raise TypeError(f"model must be an SRNAutoencoder (with a refiner), got {type(model).__name__}")
    model.eval()
    with torch.no_grad():
        initial, features = model.generator(images.float())
        refined = model.refiner(initial, features.flatten(1), steps=inner_steps)  # eval mode: no graph
    problem = inner_problem(model.refiner, initial, features.flatten(1), steps=inner_steps)
    return {"inner_loss_before": problem["loss_s0"], "inner_loss_after": problem["loss_sr"],
            "solved": problem["solved"], "z_sq": problem["z_sq"], "agg_s0_sq": problem["agg_s0_sq"],
            "movement": float((refined - initial).norm(dim=-1).mean()),
            "element_norm": float(initial.norm(dim=-1).mean())}


def ink_shares(element_images: torch.Tensor, tables) -> torch.Tensor:
    """How much of each circle each element draws: element images (B, n, 3, H, W), tables (B, k, 4) -> (B, k, n).

    An element's share of a circle is its mean intensity over the circle's pixels in the circle's own colour
    channel, so a circle drawn fully by one element gives the row (1, 0, ..., 0), a circle two elements draw with
    equal weights (0.5, 0.5, 0, ...), and a circle nobody draws zeros. Padding rows (radius 0) are NaN.
    """
    if not torch.is_tensor(element_images) or element_images.dim() != 5 or element_images.shape[2] != 3:
        shape = tuple(element_images.shape) if torch.is_tensor(element_images) else type(element_images).__name__
        raise ValueError(f"element_images must have shape (B, n, 3, H, W), got {shape}")
    table = torch.as_tensor(np.asarray(tables, dtype=np.float32))
    if table.dim() != 3 or table.shape[0] != element_images.shape[0]:
        raise ValueError(f"tables must have shape (B, k, 4) with B = {element_images.shape[0]}, "
                         f"got {tuple(table.shape)}")
    masks = data.circle_masks(table, element_images.shape[-1]).to(element_images.dtype)  # (B, k, H, W)
    ink_per_channel = torch.einsum("bkhw,bnchw->bknc", masks, element_images)  # (B, k, n, 3)
    colour = table[..., 3].long().clamp(0, 2).view(*table.shape[:2], 1, 1)  # (B, k, 1, 1)
    ink = ink_per_channel.gather(3, colour.expand(-1, -1, element_images.shape[1], 1)).squeeze(3)  # (B, k, n)
    area = masks.sum(dim=(2, 3)).unsqueeze(-1)  # (B, k, 1)
    return torch.where(area > 0, ink / area.clamp(min=1), torch.full_like(ink, float("nan")))


@torch.no_grad()
def circle_sharing(model: BaselineAutoencoder, test_set: data.CirclesDataset, share: float = 0.1,
                   limit: int = 500) -> dict:
    """How the model gets Table 1 wrong, on the first ``limit`` test images with 1-5 circles, in percent:
    ``over_counted`` / ``under_counted`` (more / fewer active elements than circles), ``shared_circles`` (circles of
    which two or more elements each draw at least ``share``, see ``ink_shares``), and ``small_circles_drawn`` /
    ``other_circles_drawn``: of the circles with radius <= ``SMALL_RADIUS`` / above it, those that one element
    draws more than half of (NaN when the images have no such circle); ``small_circles_reconstructed`` /
    ``other_circles_reconstructed``: those the elements together draw more than half of (in the reconstruction,
    whoever draws them)."""
    if not 0 < share <= 0.5:
        raise ValueError(f"share must be in (0, 0.5], got {share!r}")
    chosen = torch.nonzero((test_set.counts >= 1) & (test_set.counts <= 5)).flatten()[:limit]
    if len(chosen) == 0:
        raise ValueError("test_set has no image with 1 to 5 circles")
    counts, tables = test_set.counts[chosen], np.asarray(test_set.table)[chosen.numpy()]
    active, holders, drawn, reconstructed, radii = [], [], [], [], []
    for start in range(0, len(chosen), EVAL_BATCH):  # in batches: element images are (B, n, 3, 64, 64)
        part = slice(start, start + EVAL_BATCH)
        element_images = decompose(model, test_set.images[chosen[part]].float()).element_images
        active.append(metrics.active_elements(element_images))
        shares = ink_shares(element_images, tables[part])  # (B, k, n)
        real = torch.as_tensor(tables[part][..., 2] > 0)  # (B, k): the real circles, not padding
        holders.append((shares >= share).sum(dim=2)[real])
        drawn.append((shares.amax(dim=2) > 0.5)[real])
        reconstructed.append((shares.sum(dim=2) > 0.5)[real])
        radii.append(torch.as_tensor(tables[part][..., 2])[real])
    active, holders, drawn, radii = torch.cat(active), torch.cat(holders), torch.cat(drawn), torch.cat(radii)
    reconstructed = torch.cat(reconstructed)

    def percent(mask: torch.Tensor) -> float:
        return 100.0 * float(mask.float().mean()) if len(mask) else float("nan")

    small = radii <= SMALL_RADIUS
    return {"over_counted": percent(active > counts), "under_counted": percent(active < counts),
            "shared_circles": percent(holders >= 2), "small_circles_drawn": percent(drawn[small]),
            "other_circles_drawn": percent(drawn[~small]), "small_circles_reconstructed": percent(reconstructed[small]),
            "other_circles_reconstructed": percent(reconstructed[~small])}


def fit_decoded_set(model: BaselineAutoencoder, images: torch.Tensor, steps: int = 200,
                    lr: float = 0.0125) -> tuple[torch.Tensor, torch.Tensor]:
    """The set the model's own decoder reconstructs ``images`` (B, 3, 64, 64) best from: Adam on the set alone, every
    weight fixed, ``steps`` steps at ``lr`` times the std of the set the model makes, starting from that set (the SRN's
    refined elements are far larger than the baseline's, so one absolute rate would not suit both). Returns
    ``(fitted set (B, n, d), the model's set (B, n, d))``. Where the fitted set draws circles the model's set leaves
    out, the decoder is not what leaves them out: what makes the set is."""
    if not is_int(steps) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)):
        raise TypeError(f"lr must be a number, got {type(lr).__name__}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    model.eval()
    with torch.no_grad():
        made, _ = model.make_set(images)
    fitted = made.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([fitted], lr=lr * float(made.std()))
    with torch.enable_grad():
        for _ in range(steps):
            error = (model.decoder(fitted)[0] - images).square().mean()
            fitted.grad, = torch.autograd.grad(error, fitted)  # the weights get no gradient
            optimizer.step()
    return fitted.detach(), made


def circles_reconstructed(element_images: torch.Tensor, tables) -> dict:
    """Of the circles in ``tables`` (B, k, 4), the % of those with radius <= ``SMALL_RADIUS`` (``"small"``) and above
    it (``"other"``) that the elements (B, n, 3, H, W) together draw more than half of (``ink_shares``); NaN where
    there is no such circle."""
    radii = torch.as_tensor(np.asarray(tables, dtype=np.float32)[..., 2])
    reconstructed = ink_shares(element_images, tables).sum(dim=2) > 0.5  # (B, k)
    small, other = (radii > 0) & (radii <= SMALL_RADIUS), radii > SMALL_RADIUS
    return {name: 100.0 * float(reconstructed[mask].float().mean()) if mask.any() else float("nan")
            for name, mask in (("small", small), ("other", other))}


def success_by_inner_steps(model, test_set: data.CirclesDataset, steps=(0, 5, 20)) -> dict:
    """Table 1 of a trained SRN evaluated with other numbers of inner steps: ``{"0": {"1": pct, ...}, ...}``.

    ``0`` decodes ``S0`` itself, the set the SRN's own generator proposes. If the scores do not change with the
    number of steps, the inner loop is not what makes the model decompose (or fail to). The model is not changed:
    each number of steps is passed to its calls.
    """
    if not hasattr(model, "refiner"):
        raise TypeError(f"model must be an SRNAutoencoder (with a refiner), got {type(model).__name__}")
    if not steps or any(not is_int(k) or k < 0 for k in steps):
        raise ValueError(f"steps must be a non-empty sequence of ints >= 0, got {steps!r}")
    return {str(count): evaluate(model, test_set, inner_steps=count)["table1"] for count in steps}


def example_index(test_set: data.CirclesDataset, circles: int = 4) -> int:
    """Index of the first test image with ``circles`` circles (else the one with the most), for Figure 2."""
    matching = torch.nonzero(test_set.counts == circles).flatten()
    return int(matching[0]) if len(matching) else int(test_set.counts.argmax())
