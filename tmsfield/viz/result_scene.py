"""Placement results (schema ``tmsfield-placement/1``) → scenes: read, check, recompute the field.

The result JSON stores the head, coil, pose and dose but not the field; the viewer loads
the head (``tmsfield.load_head(head.source)``) and coil (``tmsfield.load_coil(coil.source)``)
and recomputes E on the cortex with ``tmsfield.EFieldSolver(head).efield_on_cortex``.
"""

import json
from pathlib import Path

import numpy as np

from ..errors import RenderError, TmsfieldError
from ..pose import as_pose_matrix

__all__ = ["SCHEMA", "load_result", "scene_from_result", "result_didt"]

SCHEMA = "tmsfield-placement/1"
_REQUIRED = (("head",), ("coil",), ("pose",))


def _where(source):
    return f"result file {source}" if source else "result"


def load_result(result):
    """Read and check a placement result for drawing; return it as a dict.

    Parameters
    ----------
    result : dict, str or Path
        The result, or the path to its JSON file (written by ``tmsfield target``).

    Returns
    -------
    dict
        With an extra key ``"_path"`` (str or None).

    Raises
    ------
    RenderError
        File missing, not JSON, not a tmsfield placement result, or missing fields the
        viewer needs (head, coil, pose): the message names the file and the fix.

    Examples
    --------
    >>> load_result({"schema": "x"})
    Traceback (most recent call last):
    ...
    tmsfield.errors.RenderError: result is not a tmsfield placement result (schema 'x', expected 'tmsfield-placement/1'); pass the JSON written by `tmsfield target` or `tmsfield batch`
    """
    path = None
    reader = None
    if isinstance(result, (str, Path)):
        path = Path(result)
        if not path.is_file():
            raise RenderError(f"result file {path} does not exist; pass the JSON written by `tmsfield target`")
        try:
            from ..targets import read_result as reader  # the targeting helper's validating reader
        except ImportError:
            reader = None
        try:
            text = path.read_text(encoding="utf-8")
            data = json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise RenderError(f"{path} is not a tmsfield placement result: it is not JSON text ({exc}); pass the "
                              f"JSON written by `tmsfield target` or `tmsfield batch`") from None
    elif isinstance(result, dict):
        data = dict(result)
        path = data.get("_path")
    else:
        raise RenderError(f"expected a placement result (dict or path to its JSON); got {type(result).__name__}")
    where = _where(path)
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise RenderError(f"{where} is not a tmsfield placement result (schema {found!r}, expected {SCHEMA!r}); "
                          f"pass the JSON written by `tmsfield target` or `tmsfield batch`")
    missing = [k[0] for k in _REQUIRED if data.get(k[0]) in (None, {}, [])]
    for key in ("head", "coil"):
        block = data.get(key)
        if isinstance(block, dict) and not (block.get("source") or block.get("name")):
            missing.append(f"{key}.source")
    if missing:
        raise RenderError(f"{where} lacks field(s) {', '.join(missing)} needed to redraw the placement; re-run "
                          f"`tmsfield target` to write a complete result")
    try:
        as_pose_matrix(data["pose"], name=f"pose in {where}")
    except TmsfieldError as exc:
        raise RenderError(str(exc)) from None
    if reader is not None:   # the targeting helper's full schema check, after the viewer's own
        try:
            data = dict(reader(path))
        except TmsfieldError as exc:
            msg = str(exc)
            raise RenderError(msg if str(path) in msg else f"{path}: {msg}") from None
    data["_path"] = None if path is None else str(path)
    return data


def result_didt(result):
    """dI/dt of the result's dose (A/µs), or None when no dose was set (field per 1 A/µs)."""
    dose = result.get("dose") or {}
    didt = dose.get("didt_a_per_us")
    if didt is None and dose.get("percent_output") is not None:
        maxd = (result.get("stimulator") or {}).get("max_didt_a_per_us")
        if maxd:
            didt = float(dose["percent_output"]) / 100.0 * float(maxd)
    return None if didt is None else float(didt)


def scene_from_result(result, *, head=None, coil=None, solver=None, efield=None, quantity=None, cache=None,
                      **options):
    """Build a :class:`~tmsfield.viz.scene.Scene` from a placement result, recomputing the field.

    Parameters
    ----------
    result : dict, str or Path
        Placement result (schema ``tmsfield-placement/1``) or its JSON path.
    head : tmsfield.Head, optional
        Default ``tmsfield.load_head(result["head"]["source"])``.
    coil : tmsfield.Coil, optional
        Default ``tmsfield.load_coil(result["coil"]["source"])``.
    solver : object with ``efield_on_cortex(coil, pose, didt)``, optional
        Default ``tmsfield.EFieldSolver(head, fast_placements=False)`` (one direct solve).
    efield : array_like (V, 3), optional
        Already computed field (V/m) at the result's dose; skips the solver.
    quantity : {"magnitude", "normal"}, optional
        Default: the target's quantity in the result, else magnitude.
    cache : tmsfield.cache.SetupStore, True or None
        Set-up cache of the default solver (``EFieldSolver(cache=...)``).
    **options
        Passed to :func:`~tmsfield.viz.scene.build_scene` (``clim``, ``threshold``, ``cmap``...).

    Returns
    -------
    Scene

    Raises
    ------
    RenderError
        Not a result, missing fields, or a head whose cortex has a different vertex count
        than the one the result was computed on.

    Examples
    --------
    >>> scene = scene_from_result("placement.json")  # doctest: +SKIP
    """
    from .scene import SceneInfo, scene_from_head

    res = load_result(result)
    where = _where(res["_path"])
    if head is None:
        import tmsfield

        src = res["head"].get("source") or res["head"].get("name")
        head = tmsfield.load_head(src)
    cortex = getattr(head, "cortex", None)
    if cortex is None:
        raise RenderError(f"head {getattr(head, 'name', '?')!r} has no cortex surface; {where} cannot be drawn on it")
    n_expected = res["head"].get("n_cortex_vertices")
    if n_expected is not None and int(n_expected) != cortex.n_vertices:
        raise RenderError(f"{where} was computed on a head whose cortex has {int(n_expected)} vertices, but head "
                          f"{getattr(head, 'name', '?')!r} has {cortex.n_vertices}: the result belongs to another "
                          f"head. Load the head it names ({res['head'].get('source') or res['head'].get('name')!r}).")
    if coil is None:
        import tmsfield

        coil = tmsfield.load_coil(res["coil"].get("source") or res["coil"].get("name"))
    pose = as_pose_matrix(res["pose"])
    didt = result_didt(res)
    if efield is None:
        if solver is None:
            import tmsfield

            try:   # one placement: a direct solve is cheaper than precomputing the fast placement map
                solver = tmsfield.EFieldSolver(head, fast_placements=False,
                                               **({"cache": cache} if cache is not None else {}))
            except TypeError:
                solver = tmsfield.EFieldSolver(head)
        from .. import _progress
        with _progress.step("E-field of the placement (one full solve)"):
            efield = solver.efield_on_cortex(coil, pose, 1.0 if didt is None else didt)
    efield = np.asarray(efield, float)
    if efield.shape != (cortex.n_vertices, 3):
        raise RenderError(f"the field for {where} has shape {efield.shape} but the cortex has {cortex.n_vertices} "
                          f"vertices (expected ({cortex.n_vertices}, 3) V/m)")
    target = res.get("target") or {}
    if quantity is None:
        quantity = target.get("quantity") if target.get("quantity") in ("magnitude", "normal") else "magnitude"
    stim = res.get("stimulator") or {}
    dose = res.get("dose") or {}
    info = SceneInfo(coil_name=res["coil"].get("name") or getattr(coil, "name", None), stimulator=stim.get("name"),
                     percent_output=dose.get("percent_output"), didt_a_per_us=didt,
                     target_name=target.get("name"), method=res.get("method"), per_a_per_us=didt is None)
    options.setdefault("roi_radius_mm", float(target.get("roi_radius_mm") or 5.0))
    return scene_from_head(head, efield, coil=coil, pose=pose, target_mm=target.get("subject_mm"),
                           quantity=quantity, info=info, **options)
