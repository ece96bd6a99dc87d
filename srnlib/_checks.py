"""Input checks shared by the modules: clear errors that name the argument and what was expected."""
from __future__ import annotations

import numpy as np
import torch


def check_set(x, name: str, channels: int | None = None) -> None:
    """A set is a float tensor (batch, n, channels) with n >= 1."""
    if not torch.is_tensor(x):
        raise TypeError(f"{name} must be a torch.Tensor of shape (batch, n, d), got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if x.dim() != 3:
        raise ValueError(f"{name} must have shape (batch, n, d), got {tuple(x.shape)}")
    if x.shape[1] == 0:
        raise ValueError(f"{name} is an empty set (n = 0); a set needs at least one element")
    if channels is not None and x.shape[2] != channels:
        raise ValueError(f"{name} must have {channels} features per element (last dim), got shape {tuple(x.shape)}")


def check_positive(value, name: str, integer: bool = False, allow_zero: bool = False) -> None:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"{name} must be {'an int' if integer else 'a number'}, got {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'non-negative' if allow_zero else 'positive'}, got {value!r}")


def check_count(value, name: str, allow_zero: bool = True) -> None:
    """An int (Python or NumPy, not bool) that is >= 0, or > 0 when ``allow_zero`` is False."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'non-negative' if allow_zero else 'positive'}, got {value!r}")
