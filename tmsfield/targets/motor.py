"""Motor-threshold E-field dosing: the output that gives the treatment target the field M1 gets at threshold.

The resting motor threshold (RMT, % of maximum stimulator output) is measured over the M1 hand knob with
the same coil and stimulator. With ``e_m1`` and ``e_t`` the fields (V/m per A/µs) at the M1 hotspot and at
the treatment target for their best placements, and ``D`` the stimulator's dI/dt at 100 % output (A/µs):

* field at M1 at threshold: ``E_m1 = e_m1 · D · RMT / 100`` (V/m);
* output giving the target the same field: ``p_matched = RMT · e_m1 / e_t`` (%); the usual treatment dose is
  120 % of it (``p_120 = 1.2 · p_matched``);
* for comparison, the scalp–cortex distance adjustment of Stokes et al.:
  ``p_stokes = RMT + k · (d_target − d_m1)`` with ``d`` the scalp-to-cortex distance (mm) at each site and
  ``k = 2.8`` % per mm (Stokes MG, et al. (2007) Distance-adjusted motor threshold for transcranial magnetic
  stimulation. Clin Neurophysiol 118:1617–1625: "an additional ~2.8% of absolute stimulator output" per mm,
  70 and 50 mm figure-8 coils; Stokes MG, et al. (2005) J Neurophysiol 94:4520–4527 gave about 3 % per mm).
  Here ``d`` is the distance from the cortical target point to the nearest scalp point (``depth_mm`` of
  the resolved target), the same measure at both sites.

Outputs above 100 % cannot be delivered: they are flagged ``reachable_* = False`` with a warning.
"""

import numpy as np

from ..errors import InputError

__all__ = ["STOKES_SLOPE_PERCENT_PER_MM", "M1_TARGET", "motor_threshold_dose", "motor_threshold_block"]

#: Stokes et al. (2007) Clin Neurophysiol 118:1617: ~2.8 % of stimulator output per mm of coil-cortex distance
STOKES_SLOPE_PERCENT_PER_MM = 2.8
#: name of the M1 hand-knob entry of the target table
M1_TARGET = "mayka2006_m1"


def _pct(x):
    return None if x is None or not np.isfinite(x) else float(x)


def motor_threshold_dose(rmt_percent, e_m1_per_didt, e_target_per_didt, max_didt_a_per_us=None,
                         depth_m1_mm=None, depth_target_mm=None, stokes_slope=STOKES_SLOPE_PERCENT_PER_MM):
    """Dose from a resting motor threshold (formulas in the module docstring).

    Parameters
    ----------
    rmt_percent : float
        Resting motor threshold, % of maximum stimulator output, in (0, 100].
    e_m1_per_didt, e_target_per_didt : float
        Field (V/m per A/µs) at the M1 hotspot and at the target, same quantity (e.g. mean |E| over the ROI).
    max_didt_a_per_us : float, optional
        Stimulator dI/dt at 100 % output (A/µs); without it the fields in V/m are None (the % outputs do not
        need it).
    depth_m1_mm, depth_target_mm : float, optional
        Scalp-to-cortex distances (mm) for the Stokes adjustment.
    stokes_slope : float
        % output per mm (default 2.8, Stokes et al. 2007).

    Returns
    -------
    dict
        ``rmt_percent, e_m1_v_per_m, percent_output_matched, percent_output_120, e_target_v_per_m,
        e_target_v_per_m_120, stokes_percent, stokes_slope_percent_per_mm, depth_m1_mm, depth_target_mm,
        reachable_matched, reachable_120, reachable_stokes, warnings``.

    Raises
    ------
    InputError
        RMT outside (0, 100] or non-positive fields.

    Examples
    --------
    >>> d = motor_threshold_dose(50, 1.0, 0.8, max_didt_a_per_us=100, depth_m1_mm=15, depth_target_mm=17)
    >>> d["e_m1_v_per_m"], d["percent_output_matched"], d["percent_output_120"], round(d["stokes_percent"], 1)
    (50.0, 62.5, 75.0, 55.6)
    """
    r = float(rmt_percent)
    if not np.isfinite(r) or not 0 < r <= 100:
        raise InputError(f"motor threshold must be in (0, 100] % of maximum output; got {rmt_percent!r}")
    em, et = float(e_m1_per_didt), float(e_target_per_didt)
    if not (np.isfinite(em) and em > 0 and np.isfinite(et) and et > 0):
        raise InputError(f"fields at M1 ({em!r}) and at the target ({et!r}) must be positive (V/m per A/us)")
    matched = r * em / et
    p120 = 1.2 * matched
    out = {"rmt_percent": r, "e_m1_v_per_m_per_a_per_us": em, "e_target_v_per_m_per_a_per_us": et,
           "max_didt_a_per_us": None if max_didt_a_per_us is None else float(max_didt_a_per_us),
           "e_m1_v_per_m": None, "percent_output_matched": matched, "percent_output_120": p120,
           "e_target_v_per_m": None, "e_target_v_per_m_120": None,
           "stokes_percent": None, "stokes_percent_120": None, "stokes_slope_percent_per_mm": float(stokes_slope),
           "depth_m1_mm": _pct(depth_m1_mm), "depth_target_mm": _pct(depth_target_mm),
           "reachable_matched": matched <= 100.0, "reachable_120": p120 <= 100.0, "reachable_stokes": None,
           "warnings": []}
    if max_didt_a_per_us is not None:
        dmax = float(max_didt_a_per_us)
        out["e_m1_v_per_m"] = em * dmax * r / 100.0
        out["e_target_v_per_m"] = et * dmax * matched / 100.0          # = e_m1_v_per_m by construction
        out["e_target_v_per_m_120"] = et * dmax * p120 / 100.0
    else:
        out["warnings"].append("no stimulator dI/dt at 100 % known: fields in V/m not computed (give "
                               "--stimulator or --max-didt); the % outputs do not depend on it")
    if depth_m1_mm is not None and depth_target_mm is not None:
        s = r + float(stokes_slope) * (float(depth_target_mm) - float(depth_m1_mm))
        out["stokes_percent"], out["stokes_percent_120"] = s, 1.2 * s
        out["reachable_stokes"] = s <= 100.0
    for key, label in (("percent_output_matched", "matching the M1 field"), ("percent_output_120", "120 % of it")):
        if out[key] > 100.0:
            out["warnings"].append(f"{label} needs {out[key]:.0f} % of maximum output: NOT reachable with this "
                                   f"stimulator and coil")
    if out["stokes_percent"] is not None and out["stokes_percent"] > 100.0:
        out["warnings"].append(f"the Stokes distance-adjusted threshold is {out['stokes_percent']:.0f} % of "
                               f"maximum output: NOT reachable")
    return out


def motor_threshold_block(job, cache, head, coil, dip, geo, tgt, e_target_per_didt, max_didt_a_per_us):
    """The ``dose.motor_threshold`` block of a run: find the M1 hotspot with the same search, then dose.

    Parameters
    ----------
    job : TargetJob
        Uses ``motor_threshold``, ``m1_subject`` (else the table's M1 target through the head's MNI
        transform / ``mni_warp``), ``model``, ``quantity``, ``roi_radius_mm``, ``search_radius_mm``, ``gap_mm``.
    cache : SetupCache
    head, coil, dip, geo : the run's head, coil, its dipole equivalent and scalp geometry
    tgt : ResolvedTarget
        The treatment target (its ``depth_mm`` for the Stokes adjustment).
    e_target_per_didt : float
        Target field of the chosen placement (V/m per A/µs).
    max_didt_a_per_us : float or None

    Returns
    -------
    dict
        :func:`motor_threshold_dose` plus ``m1`` (target block, hotspot pose, position, handle angle).

    Examples
    --------
    >>> motor_threshold_block  # doctest: +ELLIPSIS
    <function motor_threshold_block at ...>
    """
    from dataclasses import replace

    from .search import search_placement, target_roi
    from .table import resolve_target
    if job.m1_subject is not None:
        m1 = resolve_target(head, subject_mm=job.m1_subject, geometry=geo, mni_warp=cache.warp(job))
        m1 = replace(m1, name="m1_user", citation="user-given M1 hotspot (subject mm)")
    else:
        m1 = resolve_target(head, name=M1_TARGET, geometry=geo, mni_warp=cache.warp(job))
    model = cache.solver(job.head, job.model, near_point=m1.subject_mm, landmarks=job.landmarks)
    roi = target_roi(head.cortex, m1.subject_mm, job.roi_radius_mm)
    res = search_placement(model, head, coil if job.model == "bem" else dip, m1.subject_mm, quantity=job.quantity,
                           roi_radius_mm=job.roi_radius_mm, search_radius_mm=job.search_radius_mm,
                           gap_mm=job.gap_mm, geometry=geo, roi=roi, dipole_coil=dip)
    out = motor_threshold_dose(job.motor_threshold, res.value, e_target_per_didt, max_didt_a_per_us,
                               depth_m1_mm=m1.depth_mm, depth_target_mm=tgt.depth_mm)
    out["warnings"] = list(m1.warnings) + out["warnings"]
    out["m1"] = {"target": m1.as_dict(job.roi_radius_mm, job.quantity), "pose": np.asarray(res.pose).tolist(),
                 "position_mm": np.asarray(res.pose)[:3, 3].tolist(), "scalp_point_mm": res.scalp_point_mm.tolist(),
                 "handle_angle_deg": float(res.handle_angle_deg), "lift_mm": float(res.lift_mm),
                 "efield_v_per_m_per_a_per_us": float(res.value)}
    out["method"] = ("same placement search at the M1 hotspot as at the target; p_matched = RMT * e_m1 / e_target "
                     "(same quantity, same coil and stimulator); Stokes: RMT + 2.8 %/mm * (depth_target - depth_m1)")
    return out
