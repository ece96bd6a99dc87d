"""Transition data for the C-SWM world models (Section 3.2 of the paper; Kipf et al. 2020), made on this machine.

One entry point, ``collect(env_name, episodes, steps=10, seed=0)``, over the three environments of
``environments`` ("pong", "space_invaders": Atari through gymnasium + ale-py; "shapes": C-SWM's ROM-free 2D shapes
block pushing), then the datasets built from its ``Transitions``.

Shapes and conventions (E episodes of T = ``steps`` transitions; C = 6 for Atari, 3 for shapes):
    Transitions.frames     uint8 numpy (E, T + history, 3, 50, 50): the rendered frames, history = 2 for Atari
                           (the burn-in frame, the NOOP frame, then one per action) and 1 for shapes.
    Transitions.actions    int64 (E, T), action t leads from observation t to observation t + 1.
    Transitions.positions  shapes only: int64 (E, T + 1, 5, 2) object cells (row, column), stored as int8;
                           None for Atari.
    observations           uint8 (E, T + 1, C, 50, 50). Atari observation t stacks the current frame and the
                           previous one, channels [frame t+1 RGB | frame t RGB] (C-SWM's order: newest first);
                           shapes observation t is frame t (3 channels).
    TransitionDataset[i]   (obs float32 (C, 50, 50) in [0, 1], action int64 scalar, next_obs float32 (C, 50, 50)),
                           episode-major: item i is episode i // T, step i % T.
    multi_step_eval(...)   {k: MultiStepEval} for k in (1, 5, 10): one sample per episode starting at step 0 (as
                           C-SWM's ``PathDataset``): obs uint8 (E, C, 50, 50) at t = 0, actions int64 (E, k) for
                           t = 0..k-1, next_obs uint8 (E, C, 50, 50) at t = k, and target_ids int64 (E,): equal ids
                           exactly when the target observations are byte-identical (for the ranking's
                           de-duplication, see ``srnlib.cswm.ranking``).

Caching: ``collect`` stores frames, actions (and positions) in ``data/cswm/<env>_<parameters>_<hash>.npz``
(compressed npz, uint8 frames). The file holds its parameters key (environment, sizes, seed, burn-in, crop,
frameskip, sticky-action probability, ale-py version for Atari) and a SHA-256 checksum of the arrays; a file whose
key, checksum or shapes do not match is reported with a warning and regenerated, never used. Files are written to
a temporary name and moved into place with ``os.replace``, and loaded with ``allow_pickle=False``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .._checks import check_count as _check_count
from .._checks import is_int
from ..cache import key_hash, load_arrays, save_arrays
from ..paths import data_dir
from .environments import (ATARI_ACTIONS, ATARI_BURN_IN, ATARI_CROP_ROWS, ATARI_FRAMESKIP, ATARI_GAMES,
                           ATARI_STICKY_ACTION_PROBABILITY, FRAME_SIZE, GENERATOR_VERSION, GRID_SIZE, N_OBJECTS,
                           SHAPE_ACTIONS, ale_version, check_env_name, collect_atari, collect_shapes)

EVAL_HORIZONS = (1, 5, 10)


# ------------------------------------------------------------------------------------------------------ the dataset
@dataclass
class Transitions:
    """Collected episodes (see the module docstring for the shapes)."""

    env_name: str
    frames: np.ndarray            # uint8 (E, T + history, 3, 50, 50)
    actions: np.ndarray           # int64 (E, T)
    positions: np.ndarray | None  # shapes: int64 (E, T + 1, 5, 2); Atari: None
    path: Path | None = None      # the cache file, None when not cached

    @property
    def history(self) -> int:
        """Frames stacked into one observation: 2 for Atari, 1 for shapes."""
        return 1 if self.env_name == "shapes" else 2

    @property
    def n_actions(self) -> int:
        return SHAPE_ACTIONS if self.env_name == "shapes" else ATARI_ACTIONS

    @property
    def channels(self) -> int:
        return 3 * self.history

    @property
    def episodes(self) -> int:
        return self.actions.shape[0]

    @property
    def steps(self) -> int:
        return self.actions.shape[1]

    def observations(self, t=slice(None)) -> np.ndarray:
        """uint8 observations (E, T + 1, C, 50, 50), or (E, C, 50, 50) for an int ``t`` (negative counts back)."""
        if self.history == 1:
            return self.frames[:, t]
        steps = np.arange(self.steps + 1)[t]
        return np.concatenate([self.frames[:, steps + 1], self.frames[:, steps]], axis=-3)


def observation_ids(observations) -> np.ndarray:
    """uint8 observations (N, ...) -> int64 ids (N,): equal exactly when the observations are byte-identical.

    Ids are 0.. in the order of the sorted distinct observations (``numpy.unique`` over the flattened rows).
    """
    flat = np.ascontiguousarray(np.asarray(observations).reshape(len(observations), -1))
    if len(flat) == 0:
        return np.zeros(0, dtype=np.int64)
    _, inverse = np.unique(flat, axis=0, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64)


@dataclass
class MultiStepEval:
    """k-step evaluation samples, one per episode, starting at step 0."""

    steps: int               # k
    obs: torch.Tensor        # uint8 (N, C, 50, 50), observation at t = 0
    actions: torch.Tensor    # int64 (N, k), actions at t = 0..k-1
    next_obs: torch.Tensor   # uint8 (N, C, 50, 50), observation at t = k
    target_ids: torch.Tensor  # int64 (N,), equal when the next_obs are byte-identical

    def __len__(self) -> int:
        return self.obs.shape[0]

    def float_obs(self) -> torch.Tensor:
        """obs as float32 in [0, 1]."""
        return self.obs.float() / 255.0

    def float_next_obs(self) -> torch.Tensor:
        """next_obs as float32 in [0, 1]."""
        return self.next_obs.float() / 255.0


def multi_step_eval(transitions: Transitions, horizons=EVAL_HORIZONS) -> dict:
    """``{k: MultiStepEval}`` for each k in ``horizons`` (each 1..T): obs at t = 0, actions 0..k-1, obs at t = k."""
    if not isinstance(transitions, Transitions):
        raise TypeError(f"transitions must be a Transitions (from collect), got {type(transitions).__name__}")
    if isinstance(horizons, (int, np.integer)) or not all(
            is_int(k) for k in horizons):
        raise TypeError(f"horizons must be a sequence of ints, got {horizons!r}")
    for k in horizons:
        if not 1 <= k <= transitions.steps:
            raise ValueError(f"horizons must be in 1..{transitions.steps} (the episode length), got {k}")
    start = torch.from_numpy(np.ascontiguousarray(transitions.observations(0)))
    evaluations = {}
    for k in horizons:
        target = np.ascontiguousarray(transitions.observations(int(k)))
        evaluations[int(k)] = MultiStepEval(int(k), start, torch.from_numpy(transitions.actions[:, :k].copy()),
                                            torch.from_numpy(target), torch.from_numpy(observation_ids(target)))
    return evaluations


class TransitionDataset(Dataset):
    """One-step transitions of ``Transitions``: item i is ``(obs float32 (C, 50, 50) in [0, 1], action int64
    scalar, next_obs float32 (C, 50, 50))`` for episode ``i // T`` and step ``i % T``.

    Holds the uint8 frames (E, T + history, 3, 50, 50) as one torch tensor (``frames``, shared with the numpy
    array) and stacks and converts one item at a time, so the set is never copied to float or duplicated by the
    frame stacking.
    """

    def __init__(self, transitions: Transitions):
        if not isinstance(transitions, Transitions):
            raise TypeError(f"transitions must be a Transitions (from collect), got {type(transitions).__name__}")
        self.transitions = transitions
        self.env_name = transitions.env_name
        self.n_actions = transitions.n_actions
        self.history = transitions.history
        self.steps = transitions.steps
        self.frames = torch.from_numpy(np.ascontiguousarray(transitions.frames))
        self.actions = torch.from_numpy(np.ascontiguousarray(transitions.actions))

    def __len__(self) -> int:
        return self.actions.numel()

    def observation(self, episode: int, step: int) -> torch.Tensor:
        """Observation ``step`` (0..T) of ``episode`` as float32 (C, 50, 50) in [0, 1]."""
        if self.history == 1:
            stacked = self.frames[episode, step]
        else:  # [current frame | previous frame]
            stacked = torch.cat([self.frames[episode, step + 1], self.frames[episode, step]])
        return stacked.float() / 255.0

    def __getitem__(self, index):
        if not is_int(index):
            raise TypeError(f"index must be an int, got {type(index).__name__}")
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} transitions")
        episode, step = divmod(int(index) % len(self), self.steps)
        return self.observation(episode, step), self.actions[episode, step], self.observation(episode, step + 1)


# ------------------------------------------------------------------------------------------------------------ cache
def _cache_key(env_name: str, episodes: int, steps: int, seed: int, burn_in: int) -> dict:
    key = {"dataset": "cswm_transitions", "version": GENERATOR_VERSION, "env": env_name, "episodes": episodes,
           "steps": steps, "seed": seed, "burn_in": burn_in, "size": FRAME_SIZE}
    if env_name in ATARI_GAMES:
        key.update(game=ATARI_GAMES[env_name], crop_rows=list(ATARI_CROP_ROWS[env_name]),
                   frameskip=ATARI_FRAMESKIP[env_name], repeat_action_probability=ATARI_STICKY_ACTION_PROBABILITY,
                   ale_py=ale_version())
    else:
        key.update(grid=GRID_SIZE, objects=N_OBJECTS)
    return key



def _expected_shapes(key: dict) -> dict:
    episodes, steps = key["episodes"], key["steps"]
    history = 1 if key["env"] == "shapes" else 2
    shapes = {"frames": (episodes, steps + history, 3, FRAME_SIZE, FRAME_SIZE), "actions": (episodes, steps)}
    if key["env"] == "shapes":
        shapes["positions"] = (episodes, steps + 1, N_OBJECTS, 2)
    return shapes


def cache_path(env_name: str, episodes: int, steps: int = 10, seed: int = 0, burn_in: int | None = None,
               folder: str | os.PathLike | None = None) -> Path:
    """Where ``collect`` caches these parameters: ``data/cswm/<env>_<episodes>x<steps>_seed<seed>_<hash>.npz``."""
    env_name = check_env_name(env_name)
    burn_in = _default_burn_in(env_name, burn_in)
    name = key_hash(_cache_key(env_name, episodes, steps, seed, burn_in))
    folder = Path(folder) if folder is not None else data_dir() / "cswm"
    return folder / f"{env_name}_{episodes}x{steps}_seed{seed}_burn{burn_in}_{name}.npz"


def _default_burn_in(env_name: str, burn_in) -> int:
    if burn_in is None:
        return ATARI_BURN_IN.get(env_name, 0)
    _check_count(burn_in, "burn_in", allow_zero=True)
    if env_name == "shapes" and burn_in != 0:
        raise ValueError(f"burn_in must be 0 (or None) for env_name='shapes', got {burn_in!r}")
    return int(burn_in)


def collect(env_name: str, episodes: int, steps: int = 10, seed: int = 0, burn_in: int | None = None,
            cache: bool = True, cache_dir: str | os.PathLike | None = None) -> Transitions:
    """Collect (or load from the cache) ``episodes`` random-policy episodes of ``steps`` transitions.

    env_name: "pong", "space_invaders" (gymnasium + ale-py) or "shapes" (ROM-free block pushing).
    burn_in:  random actions before recording (Atari; None = C-SWM's 58 for Pong, 50 for Space Invaders; shapes: 0).
    cache:    read / write ``cache_path(...)`` (under ``cache_dir`` when given, else ``data/cswm/``).
    Deterministic for a given seed; use different seeds for the train and eval sets.
    """
    env_name = check_env_name(env_name)
    _check_count(episodes, "episodes", allow_zero=False)
    _check_count(steps, "steps", allow_zero=False)
    _check_count(seed, "seed", allow_zero=True)
    burn_in = _default_burn_in(env_name, burn_in)
    if not isinstance(cache, bool):
        raise TypeError(f"cache must be a bool, got {type(cache).__name__}")
    key = _cache_key(env_name, int(episodes), int(steps), int(seed), burn_in)
    path = cache_path(env_name, int(episodes), int(steps), int(seed), burn_in, cache_dir) if cache else None
    arrays = load_arrays(path, key, _expected_shapes(key), "C-SWM data") if cache else None
    if arrays is None:
        if env_name == "shapes":
            arrays = collect_shapes(int(episodes), int(steps), int(seed))
        else:
            arrays = collect_atari(env_name, int(episodes), int(steps), int(seed), burn_in)
        if cache:
            save_arrays(path, key, arrays, compress=True)
    return Transitions(env_name, arrays["frames"], arrays["actions"].astype(np.int64),
                       arrays["positions"].astype(np.int64) if "positions" in arrays else None, path)
