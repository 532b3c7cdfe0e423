"""Input checks shared by every public function.

Each check returns a clean float64 array or raises a :class:`tmsfield.errors.InputError`
whose message names the argument and says what was expected, so that users never see a
traceback from deep inside numpy.
"""

import numpy as np

from .errors import InputError

__all__ = ["as_points", "as_vectors", "as_positive_float"]


def as_points(points, name="points", allow_empty=False):
    """Validate an array of 3-D points.

    Parameters
    ----------
    points : array_like, shape (N, 3) or (3,)
        Coordinates (any unit; tmsfield uses mm for positions).
    name : str
        Argument name used in the error message.
    allow_empty : bool
        Whether N == 0 is accepted.

    Returns
    -------
    ndarray, shape (N, 3), float64, C-contiguous
        A single point of shape (3,) is returned as shape (1, 3).

    Raises
    ------
    InputError
        Wrong shape, non-numeric values, NaN/inf, or an empty array.

    Examples
    --------
    >>> as_points([0.0, 0.0, 10.0]).shape
    (1, 3)
    """
    try:
        arr = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be numeric, shape (N, 3) in mm; got {type(points).__name__} ({exc})") from None
    if arr.ndim == 1 and arr.shape[0] == 3:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise InputError(f"{name} must have shape (N, 3) (x, y, z in mm); got shape {arr.shape}. "
                         f"Stack coordinates as rows, e.g. np.column_stack([x, y, z]).")
    if arr.shape[0] == 0 and not allow_empty:
        raise InputError(f"{name} is empty (shape {arr.shape}); pass at least one point.")
    if not np.all(np.isfinite(arr)):
        bad = np.flatnonzero(~np.all(np.isfinite(arr), axis=1))
        raise InputError(f"{name} contains NaN or inf in {bad.size} row(s), first at row {bad[0]}; "
                         f"remove or fix those points.")
    return np.ascontiguousarray(arr)


def as_vectors(vectors, n, name="vectors"):
    """Validate an (n, 3) array of vectors matching n points; see :func:`as_points`.

    Examples
    --------
    >>> as_vectors([[1, 0, 0]], 1).shape
    (1, 3)
    """
    arr = as_points(vectors, name=name, allow_empty=(n == 0))
    if arr.shape[0] != n:
        raise InputError(f"{name} has {arr.shape[0]} rows but {n} were expected (one per point).")
    return arr


def as_positive_float(value, name):
    """Validate a finite, strictly positive scalar.

    Examples
    --------
    >>> as_positive_float(2, "didt")
    2.0
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a positive number; got {value!r}") from None
    if not np.isfinite(v) or v <= 0:
        raise InputError(f"{name} must be a positive finite number; got {value!r}")
    return v
