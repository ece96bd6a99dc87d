"""Transition data for the C-SWM world models (Section 3.2 of the paper; Kipf et al. 2020), made on this machine.

Three environments, one entry point, ``collect(env_name, episodes, steps=10, seed=0)``:

    "pong", "space_invaders"   Atari through gymnasium + ale-py (the ROMs ship in the ale-py wheel).
                               ``ALE/Pong-v5`` / ``ALE/SpaceInvaders-v5`` with a fixed frameskip (4 for Pong, 3 for
                               Space Invaders, whose lasers flicker and vanish at 4), repeat_action_probability 0 (no
                               sticky actions) and the minimal action set (6 actions each): the settings of C-SWM's
                               ``PongDeterministic-v4`` / ``SpaceInvadersDeterministic-v4``.
    "shapes"                   C-SWM's ROM-free "2D shapes" block pushing: 5 objects on a 5x5 grid, 20 actions.

Atari episodes follow C-SWM's public generator (``data_gen/env.py``): reset, ``burn_in`` random actions (58 for Pong,
50 for Space Invaders, C-SWM's ``warmstart``), keep that frame, one NOOP step, then ``steps`` random actions. Each
raw frame (210, 160, 3) is cropped to rows 35:190 (Pong: drops the score bar and the bottom border) or 30:200
(Space Invaders: drops the score and the ground line), all 160 columns, and resized to 50x50 with area averaging
(``torch.nn.functional.interpolate(mode="area")``, a box-filter anti-aliased resize; C-SWM used PIL's Lanczos
filter). The emulator is deterministic without sticky actions, so all randomness is the seeded random policy
(``numpy.random.default_rng``). An Atari episode that ends (game over) before its last step is discarded and
replayed with fresh actions, so every stored episode has exactly ``steps`` transitions.

Shapes episodes start from 5 distinct uniformly drawn cells and take ``steps`` uniformly random actions; action
``a`` moves object ``a // 4`` one cell in direction ``a % 4`` (0 up = row - 1, 1 right = column + 1, 2 down, 3 left),
and a push into a wall or onto another object leaves the state unchanged (C-SWM's ``BlockPushing``). Object ``i``
has colour ``SHAPE_COLOURS[i]`` and shape circle / triangle / square for ``i % 3`` = 0 / 1 / 2 and fills at most
its 10x10 px cell (rows 10 r .. 10 r + 9, columns 10 c .. 10 c + 9) on a black background. Simulation and
rendering are vectorised over episodes.

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

import importlib.metadata
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from .._checks import check_count as _check_count
from .._checks import is_int
from ..cache import key_hash, load_arrays, save_arrays
from ..paths import data_dir

ENV_NAMES = ("pong", "space_invaders", "shapes")
ATARI_GAMES = {"pong": "ALE/Pong-v5", "space_invaders": "ALE/SpaceInvaders-v5"}
ATARI_BURN_IN = {"pong": 58, "space_invaders": 50}  # C-SWM's warmstart
ATARI_CROP_ROWS = {"pong": (35, 190), "space_invaders": (30, 200)}  # C-SWM's crop, all 160 columns kept
ATARI_FRAMESKIP = {"pong": 4, "space_invaders": 3}  # gym's "Deterministic-v4" frameskips
ATARI_STICKY_ACTION_PROBABILITY = 0.0
ATARI_ACTIONS = 6  # minimal action set of both games
NOOP = 0
FRAME_SIZE = 50
EVAL_HORIZONS = (1, 5, 10)

GRID_SIZE = 5
CELL_PIXELS = FRAME_SIZE // GRID_SIZE  # 10
N_OBJECTS = 5
SHAPE_ACTIONS = 4 * N_OBJECTS  # 20: object a // 4 moved in direction a % 4
DIRECTIONS = np.array([(-1, 0), (0, 1), (1, 0), (0, -1)], dtype=np.int64)  # (row, column): up, right, down, left
SHAPE_NAMES = ("circle", "triangle", "square")  # object i has shape SHAPE_NAMES[i % 3]
SHAPE_COLOURS = np.array([(230, 25, 75), (255, 225, 25), (60, 180, 75), (0, 130, 200), (240, 50, 230)],
                         dtype=np.uint8)  # red, yellow, green, blue, magenta: object i has colour row i

GENERATOR_VERSION = 1  # bump when simulation, cropping or rendering changes, so old caches are never reused
_MAX_REPLAYS_PER_EPISODE = 100


# ----------------------------------------------------------------------------------------------------------- checks
def _check_env_name(env_name) -> str:
    if not isinstance(env_name, str):
        raise TypeError(f"env_name must be a str, one of {ENV_NAMES}, got {type(env_name).__name__}")
    if env_name not in ENV_NAMES:
        raise ValueError(f"env_name must be one of {ENV_NAMES}, got {env_name!r}")
    return env_name


def ale_available() -> bool:
    """True when gymnasium and ale-py can be imported (needed to collect Atari data)."""
    try:
        import ale_py  # noqa: F401
        import gymnasium  # noqa: F401
    except ImportError:
        return False
    return True


_ATARI_INSTALL_HINT = ("Atari data needs gymnasium and ale-py (`pip install gymnasium ale-py`; the ale-py wheel ships "
                       "the ROMs); use env_name='shapes' for the ROM-free environment")


def _ale_version() -> str:
    try:
        return importlib.metadata.version("ale-py")
    except importlib.metadata.PackageNotFoundError as error:
        raise ImportError(_ATARI_INSTALL_HINT) from error


# ----------------------------------------------------------------------------------------------- shapes environment
def initial_positions(episodes: int, rng: np.random.Generator) -> np.ndarray:
    """``episodes`` start states int64 (episodes, 5, 2): 5 distinct cells (row, column) drawn uniformly."""
    _check_count(episodes, "episodes", allow_zero=True)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    cells = np.argsort(rng.random((episodes, GRID_SIZE * GRID_SIZE)), axis=1)[:, :N_OBJECTS]
    return np.stack(np.divmod(cells, GRID_SIZE), axis=-1).astype(np.int64)


def push(positions, actions) -> np.ndarray:
    """One block-pushing step for a batch: positions int (E, 5, 2), actions int (E,) in 0..19 -> new positions.

    Object ``a // 4`` moves one cell in direction ``a % 4`` (up, right, down, left) unless the target cell is
    outside the 5x5 grid or holds another object; then nothing changes. Returns a new int64 array.
    """
    positions = np.asarray(positions)
    actions = np.asarray(actions)
    if positions.ndim != 3 or positions.shape[1:] != (N_OBJECTS, 2):
        raise ValueError(f"positions must have shape (episodes, {N_OBJECTS}, 2), got {positions.shape}")
    if actions.shape != positions.shape[:1]:
        raise ValueError(f"actions must have shape ({positions.shape[0]},) (one per episode), got {actions.shape}")
    if not np.issubdtype(actions.dtype, np.integer) or ((actions < 0) | (actions >= SHAPE_ACTIONS)).any():
        raise ValueError(f"actions must be integers in 0..{SHAPE_ACTIONS - 1}")
    positions = positions.astype(np.int64)
    episode = np.arange(len(actions))
    moved = actions // 4
    target = positions[episode, moved] + DIRECTIONS[actions % 4]  # (E, 2)
    inside = ((target >= 0) & (target < GRID_SIZE)).all(-1)
    occupied = (positions == target[:, None, :]).all(-1).any(-1)  # the moved object never sits on its target
    allowed = inside & ~occupied
    new_positions = positions.copy()
    new_positions[episode[allowed], moved[allowed]] = target[allowed]
    return new_positions


def _shape_masks() -> np.ndarray:
    """bool (3, 10, 10): circle (radius 5 about the cell centre), triangle (apex up), square (the whole cell)."""
    rows, columns = np.mgrid[0:CELL_PIXELS, 0:CELL_PIXELS] + 0.5  # pixel centres
    half = CELL_PIXELS / 2
    circle = (rows - half) ** 2 + (columns - half) ** 2 <= half ** 2
    triangle = np.abs(columns - half) <= rows / 2  # widens from the top centre to the full bottom row
    square = np.ones((CELL_PIXELS, CELL_PIXELS), dtype=bool)
    return np.stack([circle, triangle, square])


_OBJECT_MASKS = np.concatenate([np.zeros((1, CELL_PIXELS, CELL_PIXELS), bool),  # label 0: background
                                _shape_masks()[np.arange(N_OBJECTS) % 3]])       # label 1 + i: object i
_PALETTE = np.concatenate([np.zeros((1, 3), np.uint8), SHAPE_COLOURS])
_LABEL_TILES = (_OBJECT_MASKS * np.arange(N_OBJECTS + 1)[:, None, None]).astype(np.uint8)  # (6, 10, 10)
_RGB_TILES = np.where(_OBJECT_MASKS[:, None], _PALETTE[:, :, None, None], 0).astype(np.uint8)  # (6, 3, 10, 10)


def _cell_labels(positions) -> tuple[np.ndarray, tuple]:
    """Object cells int (..., 5, 2) -> (uint8 (n, 5, 5) cell labels 0 / 1 + i, the batch shape ``...``)."""
    positions = np.asarray(positions)
    if positions.ndim < 2 or positions.shape[-2:] != (N_OBJECTS, 2):
        raise ValueError(f"positions must have shape (..., {N_OBJECTS}, 2), got {positions.shape}")
    if ((positions < 0) | (positions >= GRID_SIZE)).any():
        raise ValueError(f"positions must be cells in 0..{GRID_SIZE - 1}")
    batch = positions.shape[:-2]
    flat = positions.reshape(-1, N_OBJECTS, 2).astype(np.int64)
    labels = np.zeros((len(flat), GRID_SIZE * GRID_SIZE), dtype=np.uint8)
    np.put_along_axis(labels, flat[..., 0] * GRID_SIZE + flat[..., 1],
                      np.arange(1, N_OBJECTS + 1, dtype=np.uint8)[None], axis=1)
    return labels.reshape(-1, GRID_SIZE, GRID_SIZE), batch


def render_labels(positions) -> np.ndarray:
    """Object cells int (..., 5, 2) -> uint8 label maps (..., 50, 50): 0 background, 1 + i on object i's pixels."""
    cells, batch = _cell_labels(positions)
    tiles = _LABEL_TILES[cells]  # (n, 5, 5, 10, 10): one 10x10 tile per cell
    labels = tiles.transpose(0, 1, 3, 2, 4).reshape(-1, FRAME_SIZE, FRAME_SIZE)
    return labels.reshape(batch + (FRAME_SIZE, FRAME_SIZE))


def render_shapes(positions) -> np.ndarray:
    """Object cells int (..., 5, 2) -> uint8 RGB frames (..., 3, 50, 50), C-contiguous."""
    cells, batch = _cell_labels(positions)
    tiles = _RGB_TILES[cells]  # (n, 5, 5, 3, 10, 10)
    frames = tiles.transpose(0, 3, 1, 4, 2, 5).reshape(-1, 3, FRAME_SIZE, FRAME_SIZE)
    return frames.reshape(batch + (3, FRAME_SIZE, FRAME_SIZE))


def _collect_shapes(episodes: int, steps: int, seed: int) -> dict:
    rng = np.random.default_rng([seed, 0x5A4E5])
    positions = np.empty((episodes, steps + 1, N_OBJECTS, 2), dtype=np.int64)
    positions[:, 0] = initial_positions(episodes, rng)
    actions = rng.integers(0, SHAPE_ACTIONS, size=(episodes, steps), dtype=np.int64)
    for t in range(steps):
        positions[:, t + 1] = push(positions[:, t], actions[:, t])
    return {"frames": render_shapes(positions), "actions": actions, "positions": positions.astype(np.int8)}


# ---------------------------------------------------------------------------------------------------------- Atari
def make_atari_env(env_name: str):
    """The gymnasium environment of a game: its fixed frameskip, no sticky actions, minimal action set (6 actions)."""
    if _check_env_name(env_name) not in ATARI_GAMES:
        raise ValueError(f"env_name must be one of {tuple(ATARI_GAMES)} for an Atari environment, got {env_name!r}")
    try:
        import ale_py
        import gymnasium
    except ImportError as error:
        raise ImportError(f"{_ATARI_INSTALL_HINT} ({error})") from error
    gymnasium.register_envs(ale_py)
    return gymnasium.make(ATARI_GAMES[env_name], frameskip=ATARI_FRAMESKIP[env_name],
                          repeat_action_probability=ATARI_STICKY_ACTION_PROBABILITY, full_action_space=False)


def crop_resize(frames: np.ndarray, env_name: str) -> np.ndarray:
    """Raw Atari frames uint8 (n, 210, 160, 3) -> uint8 (n, 3, 50, 50): the game's row crop, area-averaged resize."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must have shape (n, height, width, 3), got {frames.shape}")
    if env_name not in ATARI_CROP_ROWS:
        raise ValueError(f"env_name must be one of {tuple(ATARI_CROP_ROWS)}, got {env_name!r}")
    top, bottom = ATARI_CROP_ROWS[env_name]
    cropped = torch.from_numpy(np.ascontiguousarray(frames[:, top:bottom])).permute(0, 3, 1, 2).float()
    resized = F.interpolate(cropped, size=(FRAME_SIZE, FRAME_SIZE), mode="area")
    return resized.round_().clamp_(0, 255).to(torch.uint8).numpy()


def _play_episode(env, actions: np.ndarray, burn_in: int, raw: np.ndarray) -> bool:
    """Reset, take ``actions[:burn_in]``, keep that frame, NOOP, keep, then one frame per remaining action, into
    ``raw`` (steps + 2, 210, 160, 3). False (and stops) when the episode ends before its last action."""
    observation, _ = env.reset()
    last = len(actions) - 1
    for action in actions[:burn_in]:
        observation, _, terminated, truncated, _ = env.step(int(action))
        if terminated or truncated:
            return False
    raw[0] = observation
    observation, _, terminated, truncated, _ = env.step(NOOP)
    if terminated or truncated:
        return False
    raw[1] = observation
    for index in range(burn_in, len(actions)):
        observation, _, terminated, truncated, _ = env.step(int(actions[index]))
        raw[index - burn_in + 2] = observation
        if (terminated or truncated) and index < last:
            return False
    return True


def _collect_atari(env_name: str, episodes: int, steps: int, seed: int, burn_in: int) -> dict:
    rng = np.random.default_rng([seed, ENV_NAMES.index(env_name)])
    env = make_atari_env(env_name)
    frames = np.empty((episodes, steps + 2, 3, FRAME_SIZE, FRAME_SIZE), dtype=np.uint8)
    actions = np.empty((episodes, steps), dtype=np.int64)
    raw = np.empty((steps + 2,) + env.observation_space.shape, dtype=np.uint8)  # (steps + 2, 210, 160, 3)
    try:
        env.reset(seed=seed)
        for episode in range(episodes):
            for _ in range(_MAX_REPLAYS_PER_EPISODE):
                episode_actions = rng.integers(0, ATARI_ACTIONS, size=burn_in + steps)
                if _play_episode(env, episode_actions, burn_in, raw):
                    break
            else:
                raise RuntimeError(f"{env_name}: every one of {_MAX_REPLAYS_PER_EPISODE} tries of episode {episode} "
                                   f"ended before {steps} steps; lower burn_in or steps")
            frames[episode] = crop_resize(raw, env_name)
            actions[episode] = episode_actions[burn_in:]
    finally:
        env.close()
    return {"frames": frames, "actions": actions}


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
                   ale_py=_ale_version())
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
    env_name = _check_env_name(env_name)
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
    env_name = _check_env_name(env_name)
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
            arrays = _collect_shapes(int(episodes), int(steps), int(seed))
        else:
            arrays = _collect_atari(env_name, int(episodes), int(steps), int(seed), burn_in)
        if cache:
            save_arrays(path, key, arrays, compress=True)
    return Transitions(env_name, arrays["frames"], arrays["actions"].astype(np.int64),
                       arrays["positions"].astype(np.int64) if "positions" in arrays else None, path)
