"""Training and evaluation behind the C-SWM lesson (Table 3): Hits@1 and MRR after 1, 5 and 10 predicted steps.

Settings ``cfg``: ``srnlib.profiles.get("cswm", profile)`` (typed: ``srnlib.config.CswmConfig``): the episodes
(``train_episodes``, ``eval_episodes`` of ``episode_steps``), the training (``epochs``, ``batch_size``, ``lr``), the
model (``state_dim``, ``mlp_hidden``, ``cnn_hidden``) and the SRN (``refiner``); the notebook also reads ``games``,
``objects`` (the K values) and ``n_seeds``. Train and evaluation episodes come from different seeds. ``game`` is "pong",
"space_invaders" or "shapes" (the ROM-free block pushing of C-SWM, for CI and users without Atari); ``kind`` is
"cswm" or "srn"; ``objects`` is K. Shapes: observations (B, C, 50, 50) with C = 6 (Atari: two stacked frames) or
3 (shapes).
"""
from __future__ import annotations

import torch
from torch import nn

from ..paper import far_above_chance, srn_at_least_cswm, srn_minus_cswm  # noqa: F401 (notebook 04's claims)
from ..config import CswmConfig
from ..results import mean_and_std
from ..train import checkpoint_path, cosine_lr, default_device, fit, seed_everything
from .data import TransitionDataset, collect, multi_step_eval
from .models import build_model
from .ranking import ranking_scores

EXPERIMENT = "cswm"
KINDS = ("cswm", "srn")
TRAIN_SEED, EVAL_SEED = 1, 2


def data(game: str, cfg) -> tuple[TransitionDataset, dict]:
    """(training transitions, {k: MultiStepEval} for k = 1, 5, 10) for ``game``; cached on disk by ``collect``."""
    train = collect(game, cfg["train_episodes"], steps=cfg["episode_steps"], seed=TRAIN_SEED)
    evaluation = collect(game, cfg["eval_episodes"], steps=cfg["episode_steps"], seed=EVAL_SEED)
    return TransitionDataset(train), multi_step_eval(evaluation)


def model_settings(game: str, objects: int, cfg, n_actions: int) -> dict:
    """The model's settings: the profile's plus the game's channels/actions and the number of object slots K."""
    channels = 3 if game == "shapes" else 6
    # block pushing with one slot per object: action a moves object a // 4; otherwise every slot sees the action
    per_object_actions = game == "shapes" and n_actions == 4 * objects
    return dict(cfg, in_channels=channels, objects=objects, copy_action=not per_object_actions,
                action_dim=n_actions // objects if per_object_actions else n_actions)


def model_config(game: str, objects: int, cfg, n_actions: int) -> CswmConfig:
    """``model_settings`` typed: what ``models.build_model`` takes."""
    return CswmConfig.from_settings(model_settings(game, objects, cfg, n_actions))


def contrastive_step(model: nn.Module, batch) -> torch.Tensor:
    observations, actions, next_observations = batch
    return model.contrastive_loss(observations, actions, next_observations)


def load_or_train(kind: str, game: str, objects: int, cfg, seed: int = 0, retrain: bool = False, device=None,
                  evaluate=None):
    """The C-SWM (``kind`` "cswm") or C-SWM+SRN ("srn") world model with K = ``objects`` slots for ``game``,
    trained with Adam and a cosine schedule; cached by (game, K, profile, seed, settings). -> (model, history).
    ``evaluate(model) -> dict`` (optional) is run after every epoch and its numbers kept in the history."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    train_set, _ = data(game, cfg)
    settings = model_settings(game, objects, cfg, train_set.n_actions)
    seed_everything(seed)
    model = build_model(kind, CswmConfig.from_settings(settings)).to(default_device(device))
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    history = fit(model, optimizer, train_set, contrastive_step, epochs=cfg["epochs"], batch_size=cfg["batch_size"],
                  seed=seed, device=device, on_epoch_start=cosine_lr(optimizer, cfg["epochs"]), retrain=retrain,
                  checkpoint=checkpoint_path(EXPERIMENT, cfg["profile"], seed, settings, f"{game}_{kind}_k{objects}"),
                  desc=f"{game} {kind} K={objects}", settings=settings, evaluate=evaluate)
    return model, history


@torch.no_grad()
def evaluate(model: nn.Module, evaluations: dict, batch_size: int = 100) -> dict[str, dict[str, float]]:
    """{"1": {"h1": pct, "mrr": pct}, "5": ..., "10": ...}: rank each rolled-out prediction's true next state among
    all evaluation targets (identical targets de-duplicated, see ``srnlib.cswm.ranking``)."""
    model.eval()
    device = next(model.parameters()).device
    scores = {}
    for k, sample in evaluations.items():
        predicted, targets = [], []
        for start in range(0, len(sample.obs), batch_size):
            part = slice(start, start + batch_size)
            predicted.append(model.predict(sample.obs[part].to(device).float() / 255, sample.actions[part].to(device)))
            targets.append(model.encode(sample.next_obs[part].to(device).float() / 255))
        scores[str(k)] = ranking_scores(torch.cat(predicted).cpu(), torch.cat(targets).cpu(), sample.target_ids)
    return scores


def chance_hits(evaluations: dict) -> dict[str, float]:
    """{"1": pct, "5": pct, "10": pct}: the Hits@1 of a model that ranks at random, 100 / the number of distinct
    target states (``evaluate`` ranks among de-duplicated states)."""
    return {str(k): 100.0 / len(torch.unique(sample.target_ids)) for k, sample in evaluations.items()}


@torch.no_grad()
def object_masks(model: nn.Module, observation: torch.Tensor) -> torch.Tensor:
    """The K object masks (K, 10, 10) in (0, 1) the model's extractor sees in one observation (C, 50, 50), uint8
    or float in [0, 1]."""
    if not torch.is_tensor(observation) or observation.dim() != 3:
        raise ValueError("observation must be one tensor of shape (channels, 50, 50)")
    model.eval()
    device = next(model.parameters()).device
    picture = observation.float() / 255 if observation.dtype == torch.uint8 else observation.float()
    return model.extractor(picture.unsqueeze(0).to(device))[0].cpu()


def summarise(runs: dict) -> tuple[dict, dict]:
    """Per-seed scores -> (mean, std) in Table 3's layout (``srnlib.results.mean_and_std``: sample std, 0.0 for
    a single seed).

    runs: {game: {model: [{"1": {"h1": pct, "mrr": pct}, "5": ..., "10": ...}, one per seed]}}.
    """
    means, stds = {}, {}
    for game, models in runs.items():
        for model, per_seed in models.items():
            if not per_seed:
                raise ValueError(f"no scores for {game} {model}")
            means.setdefault(game, {})[model], stds.setdefault(game, {})[model] = mean_and_std(per_seed)
    return means, stds
