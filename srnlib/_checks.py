"""Input checks shared by the modules: clear errors that name the argument and what was expected."""
from __future__ import annotations

import math

import numpy as np
import torch


def check_set(x, name: str, channels: int | None = None, dtype: torch.dtype | None = None) -> None:
    """A set is a float tensor (batch, n, channels) with n >= 1, of the module's weights' ``dtype`` when given."""
    if not torch.is_tensor(x):
        raise TypeError(f"{name} must be a torch.Tensor of shape (batch, n, d), got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{name} has dtype {x.dtype} but the module's weights are {dtype}; cast the set with "
                        f"{name}.to({dtype}) (or the module with .to({x.dtype}))")
    if x.dim() != 3:
        raise ValueError(f"{name} must have shape (batch, n, d), got {tuple(x.shape)}")
    if x.shape[1] == 0:
        raise ValueError(f"{name} is an empty set (n = 0); a set needs at least one element")
    if channels is not None and x.shape[2] != channels:
        raise ValueError(f"{name} must have {channels} features per element (last dim), got shape {tuple(x.shape)}")


def is_int(value) -> bool:
    """True for a Python or NumPy integer, False for a bool (``True`` is not the number of anything)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_int(value, name: str, minimum: int | None = None) -> int:
    """The one integer check: an int or NumPy integer (not a bool) that is >= ``minimum``, returned as an ``int``.

    TypeError for another type, ValueError below ``minimum``; both name the argument.
    """
    if not is_int(value):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return value


def check_ints(values, name: str, minimum: int | None = None) -> tuple[int, ...]:
    """A non-empty list or tuple of ints (see ``check_int``) -> a tuple of ``int``s."""
    if not isinstance(values, (list, tuple)) or not values:
        raise TypeError(f"{name} must be a non-empty list or tuple of ints, got {values!r}")
    return tuple(check_int(value, f"{name}[{i}]", minimum) for i, value in enumerate(values))


def check_number(value, name: str, minimum: float | None = None, strict: bool = False) -> float:
    """A finite real number (int, float or NumPy scalar, not a bool), >= ``minimum`` (> when ``strict``)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {minimum}, got {value!r}")
    return value


def check_positive(value, name: str, integer: bool = False, allow_zero: bool = False):
    """A positive (or, with ``allow_zero``, non-negative) finite int or number; returns it as int / float."""
    if integer:
        if not is_int(value):
            raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    else:
        value = check_number(value, name)
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'non-negative' if allow_zero else 'positive'}, got {value!r}")
    return int(value) if integer else value


def check_count(value, name: str, allow_zero: bool = True) -> int:
    """An int (Python or NumPy, not bool) that is >= 0, or > 0 when ``allow_zero`` is False; returned as ``int``."""
    return check_positive(value, name, integer=True, allow_zero=allow_zero)
