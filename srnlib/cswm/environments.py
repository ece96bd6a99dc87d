"""The C-SWM environments (Section 3.2 of the paper; Kipf et al. 2020) and their random-policy episodes.

Three environments (``data.collect(env_name, episodes, steps=10, seed=0)`` collects, caches and wraps their episodes):

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

``collect_shapes`` / ``collect_atari`` return one environment's episodes as arrays (unchecked arguments: use
``data.collect``).
"""
from __future__ import annotations

import importlib.metadata

import numpy as np
import torch
import torch.nn.functional as F

from .._checks import check_count as _check_count

ENV_NAMES = ("pong", "space_invaders", "shapes")
ATARI_GAMES = {"pong": "ALE/Pong-v5", "space_invaders": "ALE/SpaceInvaders-v5"}
ATARI_BURN_IN = {"pong": 58, "space_invaders": 50}  # C-SWM's warmstart
ATARI_CROP_ROWS = {"pong": (35, 190), "space_invaders": (30, 200)}  # C-SWM's crop, all 160 columns kept
ATARI_FRAMESKIP = {"pong": 4, "space_invaders": 3}  # gym's "Deterministic-v4" frameskips
ATARI_STICKY_ACTION_PROBABILITY = 0.0
ATARI_ACTIONS = 6  # minimal action set of both games
NOOP = 0
FRAME_SIZE = 50

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
def check_env_name(env_name) -> str:
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


def ale_version() -> str:
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


def collect_shapes(episodes: int, steps: int, seed: int) -> dict:
    """``episodes`` seeded random-policy episodes of ``steps`` pushes: frames, actions, positions (int8)."""
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
    if check_env_name(env_name) not in ATARI_GAMES:
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


def collect_atari(env_name: str, episodes: int, steps: int, seed: int, burn_in: int) -> dict:
    """``episodes`` seeded random-policy episodes of ``steps`` actions after ``burn_in``: frames and actions."""
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
