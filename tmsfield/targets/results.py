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
        if not isinstance(result[key], typ):
            raise InputError(f"{where}: key {key!r} has type {type(result[key]).__name__}")
    if result["method"] not in _METHODS:
        raise InputError(f"{where}: method {result['method']!r} not one of {_METHODS}")
    pose = np.asarray(result["pose"], float)
    if pose.shape != (4, 4) or not np.all(np.isfinite(pose)):
        raise InputError(f"{where}: pose must be a finite 4x4 matrix")
    from ..pose import as_pose_matrix
    as_pose_matrix(pose, name=f"{where}: pose")
    for k in ("position_mm", "scalp_point_mm"):
        if len(result[k]) != 3:
            raise InputError(f"{where}: {k} must have 3 values")
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
    _validate_motor_threshold(result["dose"].get("motor_threshold"), where)
    return result


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
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x


def atomic_write_text(path, text):
    """Write text to ``path`` atomically, creating its folder (see :mod:`tmsfield._atomic`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return _atomic.atomic_write_text(path, text)


def write_result(path, result):
    """Validate and write a placement result JSON atomically.

    Parameters
    ----------
    path : str or Path
    result : dict
        Schema ``tmsfield-placement/1`` (numpy values are converted).

    Returns
    -------
    Path

    Examples
    --------
    >>> write_result("/nonexistent/x.json", {})   # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    tmsfield.errors.InputError: result: schema is None, expected 'tmsfield-placement/1'
    """
    clean = _jsonable(result)
    validate_result(clean)
    atomic_write_text(path, json.dumps(clean, indent=1) + "\n")
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
        data = json.loads(p.read_text())
    except OSError as exc:
        raise InputError(f"{p}: cannot read the result file ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{p}: not valid JSON (line {exc.lineno}: {exc.msg}); the file is corrupt — "
                         f"delete it and re-run") from None
    return validate_result(data, where=str(p))
