"""Placement result files (schema ``"tmsfield-placement/1"``): validated atomic write and read."""

import json
from pathlib import Path

import numpy as np

from .. import _atomic
from ..errors import InputError

__all__ = ["SCHEMA", "validate_result", "write_result", "read_result", "atomic_write_text"]

SCHEMA = "tmsfield-placement/1"
_REQUIRED = {"schema": str, "tmsfield_version": str, "created_utc": str, "head": dict, "coil": dict,
             "stimulator": dict, "target": dict, "method": str, "pose": list, "position_mm": list,
             "scalp_point_mm": list, "handle_angle_deg": (int, float), "gap_mm": (int, float),
             "efield_at_target_v_per_m_per_a_per_us": (int, float),
             "peak_efield_v_per_m_per_a_per_us": (int, float, type(None)), "dose": dict, "settings": dict}
_METHODS = ("optimised", "eeg_f3", "beam_f3", "rule_5p5cm", "manual")


def validate_result(result, where="result"):
    """Check a result dict against the schema; raise InputError naming the first problem.

    Examples
    --------
    >>> validate_result({"schema": "x"})
    Traceback (most recent call last):
    ...
    tmsfield.errors.InputError: result: schema is 'x', expected 'tmsfield-placement/1'
    """
    if not isinstance(result, dict):
        raise InputError(f"{where}: a placement result must be a JSON object; got {type(result).__name__}")
    if result.get("schema") != SCHEMA:
        raise InputError(f"{where}: schema is {result.get('schema')!r}, expected {SCHEMA!r}")
    for key, typ in _REQUIRED.items():
        if key not in result:
            raise InputError(f"{where}: missing key {key!r}")
        if not isinstance(result[key], typ) or (typ is not dict and isinstance(result[key], bool)):
            raise InputError(f"{where}: key {key!r} has type {type(result[key]).__name__}")
    _check_finite(result, where)
    if result["method"] not in _METHODS:
        raise InputError(f"{where}: method {result['method']!r} not one of {_METHODS}")
    try:
        pose = np.asarray(result["pose"], float)
    except (TypeError, ValueError):
        pose = None
    if pose is None or pose.shape != (4, 4) or not np.all(np.isfinite(pose)):
        raise InputError(f"{where}: pose must be a finite 4x4 matrix of numbers")
    from ..pose import as_pose_matrix
    as_pose_matrix(pose, name=f"{where}: pose")
    for k in ("position_mm", "scalp_point_mm"):
        if len(result[k]) != 3 or not all(_is_number(x) for x in result[k]):
            raise InputError(f"{where}: {k} must have 3 numbers (mm)")
    for k in ("name", "source"):
        if k not in result["head"] or k not in result["coil"]:
            raise InputError(f"{where}: head and coil need {k!r}")
    if "n_cortex_vertices" not in result["head"]:
        raise InputError(f"{where}: head.n_cortex_vertices missing")
    for k in ("name", "subject_mm", "roi_radius_mm", "quantity"):
        if k not in result["target"]:
            raise InputError(f"{where}: target.{k} missing")
    for k in ("reachable", "warnings"):
        if k not in result["dose"]:
            raise InputError(f"{where}: dose.{k} missing")
    # what the viewer turns into a current: None or a number >= 0
    for block, k in (("dose", "percent_output"), ("dose", "didt_a_per_us"), ("stimulator", "max_didt_a_per_us")):
        v = result[block].get(k)
        if v is not None and not (_is_number(v) and v >= 0):
            raise InputError(f"{where}: {block}.{k} must be a number >= 0 or null; got {v!r}")
    _validate_motor_threshold(result["dose"].get("motor_threshold"), where)
    return result


def _is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _check_finite(x, where, key="result"):
    """InputError naming the key of the first NaN/inf (a result never holds them; see _jsonable)."""
    if isinstance(x, float) and not np.isfinite(x):
        raise InputError(f"{where}: {key} is {x!r}; a placement result holds only finite numbers — the file is "
                         f"corrupt, re-run the placement")
    if isinstance(x, dict):
        for k, v in x.items():
            _check_finite(v, where, f"{key}.{k}" if key != "result" else str(k))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            _check_finite(v, where, f"{key}[{i}]")


_MT_KEYS = ("rmt_percent", "m1", "e_m1_v_per_m", "percent_output_matched", "percent_output_120",
            "e_target_v_per_m", "stokes_percent", "reachable_matched", "reachable_120")


def _validate_motor_threshold(mt, where):
    """Check the optional ``dose.motor_threshold`` block (issue 15)."""
    if mt is None:
        return
    if not isinstance(mt, dict):
        raise InputError(f"{where}: dose.motor_threshold must be an object")
    for k in _MT_KEYS:
        if k not in mt:
            raise InputError(f"{where}: dose.motor_threshold.{k} missing")
    for k in ("rmt_percent", "percent_output_matched", "percent_output_120"):
        if not isinstance(mt[k], (int, float)) or not np.isfinite(mt[k]) or mt[k] <= 0:
            raise InputError(f"{where}: dose.motor_threshold.{k} must be a positive number; got {mt[k]!r}")
    pose = np.asarray(mt["m1"].get("pose") if isinstance(mt["m1"], dict) else None, float)
    if pose.shape != (4, 4) or not np.all(np.isfinite(pose)):
        raise InputError(f"{where}: dose.motor_threshold.m1.pose must be a finite 4x4 matrix")


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.floating,)):
        x = float(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.bool_,)):
        return bool(x)
    return x


def atomic_write_text(path, text):
    """Write text to ``path`` atomically, creating its folder (see :mod:`tmsfield._atomic`).

    Raises
    ------
    OutputError
        The folder cannot be created or written (read-only, permission, full disk).
    """
    from .._outputs import output_folder
    path = Path(path)
    if not path.parent.is_dir():
        output_folder(path.parent, option="output folder", create_parents=True)
    return _atomic.atomic_write_text(path, text)


def write_result(path, result):
    """Validate and write a placement result JSON atomically.

    Parameters
    ----------
    path : str or Path
    result : dict
        Schema ``tmsfield-placement/1`` (numpy values are converted). Values that are not available
        are ``None``; a NaN or infinity anywhere is refused.

    Returns
    -------
    Path

    Raises
    ------
    InputError
        The dict does not follow the schema.
    NonFiniteError
        A value is NaN or infinite (the message gives its key); nothing is written.
    OutputError
        The folder is read-only or the disk is full; nothing half-written is left.

    Examples
    --------
    >>> write_result("/nonexistent/x.json", {})   # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    tmsfield.errors.InputError: result: schema is None, expected 'tmsfield-placement/1'
    """
    from .._outputs import require_finite
    require_finite(result, "result key", path)
    clean = _jsonable(result)
    validate_result(clean)
    atomic_write_text(path, json.dumps(clean, indent=1, allow_nan=False) + "\n")
    return Path(path)


def read_result(path):
    """Read and validate a placement result JSON.

    Raises
    ------
    InputError
        Missing/unreadable file, bad JSON, or schema problems (the message names the file).

    Examples
    --------
    >>> read_result("missing.json")   # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    tmsfield.errors.InputError: missing.json: cannot read
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{p}: cannot read the result file ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{p}: not valid JSON (line {exc.lineno}: {exc.msg}); the file is corrupt — "
                         f"delete it and re-run") from None
    except (UnicodeDecodeError, RecursionError) as exc:
        why = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else "nested too deeply"
        raise InputError(f"{p}: not a result JSON ({why}); the file is corrupt — delete it and re-run") from None
    return validate_result(data, where=str(p))
