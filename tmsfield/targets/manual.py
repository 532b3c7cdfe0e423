"""A given coil pose (recorded by a neuronavigator, or planned elsewhere) evaluated like a placement.

:func:`run_pose` computes the field of one pose on the head, the target quantity at the target
(V/m per A/µs) and the dose, and returns a ``tmsfield-placement/1`` result with method
``"manual"``: ``tmsfield render`` and ``tmsfield view`` then draw it like any other placement.
"""

import datetime as _dt

import numpy as np

from .._version import __version__
from ..errors import InputError
from ..pose import CoilPose

__all__ = ["run_pose", "pose_plausibility"]

#: a coil centre farther than this above the scalp (mm) is reported as implausible
_MAX_ABOVE_MM = 30.0
#: ... or deeper than this below it
_MAX_BELOW_MM = 3.0


def pose_plausibility(geometry, pose):
    """Warnings when a pose cannot be a coil on this head (another coordinate space?).

    Parameters
    ----------
    geometry : ScalpGeometry
    pose : CoilPose

    Returns
    -------
    height_mm : float
        Signed height of the coil centre above the scalp (mm; < 0 inside).
    warnings : list of str

    Examples
    --------
    >>> from tmsfield.head import icosphere
    >>> from tmsfield.targets.geometry import ScalpGeometry
    >>> g = ScalpGeometry(icosphere(90.0, 4, name="scalp"))
    >>> h, w = pose_plausibility(g, CoilPose.from_axes([0, 0, 200], [0, 0, -1], [0, 1, 0]))
    >>> round(h), len(w)
    (110, 1)
    """
    c = pose.center_mm
    q = geometry.closest_points(c[None])[0]
    dist = float(np.linalg.norm(c - q))
    height = float(geometry.signed_height(c[None])[0])
    height = dist if height >= 0 else -dist
    warnings = []
    hint = ("is the file in this head's coordinate space (the T1 the navigator loaded; RAS vs LPS; the patient's "
            "scanner space vs the MNI template)?")
    if height > _MAX_ABOVE_MM:
        warnings.append(f"the coil centre is {height:.0f} mm above the scalp, too far for a coil on this head: {hint}")
    elif height < -_MAX_BELOW_MM:
        warnings.append(f"the coil centre is {-height:.0f} mm inside the scalp: {hint}")
    outward = geometry.smoothed_normals(q[None])[0]
    if float(np.dot(pose.z_axis, outward)) > 0.0:
        warnings.append("the coil's +z axis points away from the head (it should point into it): " + hint)
    return height, warnings


def _target_value(e_roi, roi, quantity):
    from .search import _functional_weights

    if quantity == "magnitude":   # the ROI's (map) weights, as the search's evaluate_quantity
        return float(np.sum(roi.vertex_weights() * np.linalg.norm(e_roi, axis=1)))
    w = _functional_weights(roi, quantity)[0]
    return float(np.sum(w * e_roi))


def run_pose(job, pose, *, name="manual", source=None, recorded_didt_a_per_us=None, recorded_percent_output=None,
             cache=None):
    """Evaluate one given coil pose on a head: E at the target, peak E, dose → result dict.

    Parameters
    ----------
    job : TargetJob
        Head, coil, target, model, ROI, quantity and dose settings (its method and search
        settings are not used).
    pose : CoilPose or array_like (4, 4)
        Coil pose in the head's coordinates (mm; columns x, y, z, centre; +z into the head).
    name : str
        Name of the pose (e.g. the navigator's marker name).
    source : dict, optional
        Where the pose came from (``{"file", "kind", ...}``), stored in ``settings.pose_source``.
    recorded_didt_a_per_us : float, optional
        The dI/dt recorded with the pulse (A/µs): the result's dose also gives E at it.
    recorded_percent_output : float, optional
        The stimulator output recorded with the pulse (%), used when ``job.percent_output`` is unset.
    cache : SetupCache, optional

    Returns
    -------
    dict
        ``tmsfield-placement/1`` result with ``method`` ``"manual"``; the handle angle is measured
        from the pose by the convention of :func:`tmsfield.targets.coil_pose`; ``scalp_point_mm``
        is the scalp point nearest the coil centre; ``dose.warnings`` carries plausibility
        warnings (coil far from or inside the scalp, +z pointing outwards).

    Raises
    ------
    TmsfieldError
        Bad head, coil, target or pose.

    Examples
    --------
    >>> from tmsfield.targets.run import TargetJob
    >>> res = run_pose(TargetJob(head="mni152_coarse"), pose_matrix, name="M1")   # doctest: +SKIP
    >>> res["method"]                                                             # doctest: +SKIP
    'manual'
    """
    import time

    from .dose import dose_report
    from .placement import handle_angle_of_pose
    from .run import SetupCache, _peak, job_target

    t0 = time.perf_counter()
    try:
        pose = pose if isinstance(pose, CoilPose) else CoilPose(pose)
    except ValueError as exc:
        raise InputError(f"pose {name!r}: {exc}") from None
    cache = cache or SetupCache(factorize=False)
    head = cache.head(job.head, job.landmarks)
    coil = cache.coil(job.coil)
    geo = cache.geometry(job.head, job.landmarks)
    tgt, _, roi = job_target(job, cache, head, geo)   # --mni-warp, --target-map: as the search does
    model = cache.solver(job.head, job.model, near_point=tgt.subject_mm, landmarks=job.landmarks)
    m = pose.matrix
    if job.model == "bem":
        e_cortex = np.asarray(model.efield_on_cortex(coil, m, 1.0))
        value = _target_value(e_cortex[roi.indices], roi, job.quantity)
        mag = np.linalg.norm(e_cortex, axis=1)
        mag = mag[np.isfinite(mag)]
        peak = float(np.percentile(mag, 99.9)) if mag.size else None
    else:
        dip = cache.dipole_coil(job.coil)
        value = _target_value(np.asarray(model.efield(dip, roi.points, m, 1.0)), roi, job.quantity)
        peak = _peak(model, dip, dip, head, m)
    height, warnings = pose_plausibility(geo, pose)
    warnings = list(tgt.warnings) + warnings
    scalp_point = geo.closest_points(pose.center_mm[None])[0]
    angle = handle_angle_of_pose(geo, coil, m)
    pct = job.percent_output if job.percent_output is not None else recorded_percent_output
    stim, dose = dose_report(value, coil=coil, stimulator=job.stimulator, max_didt_a_per_us=job.max_didt_a_per_us,
                             percent_output=pct, requested_v_per_m=job.requested_v_per_m)
    if recorded_didt_a_per_us is not None and np.isfinite(value):
        dose["recorded_didt_a_per_us"] = float(recorded_didt_a_per_us)
        dose["efield_at_recorded_didt_v_per_m"] = float(value * recorded_didt_a_per_us)
    if recorded_percent_output is not None:
        dose["recorded_percent_output"] = float(recorded_percent_output)
    dose["warnings"] = warnings + dose["warnings"]
    if job.motor_threshold is not None:        # the same dose rule as for a searched placement
        from .motor import motor_threshold_block
        mt = motor_threshold_block(job, cache, head, coil, cache.dipole_coil(job.coil), geo, tgt, value,
                                   stim["max_didt_a_per_us"])
        dose["motor_threshold"] = mt
        dose["warnings"] += [f"motor threshold: {w}" for w in mt["warnings"]]
    job_settings = job.settings()
    job_settings["method"] = "manual"
    settings = {"job": job_settings, "model": job.model, "gap_mm": None, "lift_mm": None,
                "pose_source": {"name": str(name), **(source or {})},
                "coil_height_above_scalp_mm": height,
                "handle_angle_convention":
                    "degrees from the posterior midline direction in the coil's tangent plane, positive laterally "
                    "(away from the midline); 45 = handle back and 45 deg lateral",
                "conductivities": getattr(model, "conductivities", None) if job.model == "bem" else None,
                "timings_s": {"total": time.perf_counter() - t0}}
    return {
        "schema": "tmsfield-placement/1", "tmsfield_version": __version__,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "head": {"name": getattr(head, "name", str(job.head)), "source": str(job.head),
                 "n_cortex_vertices": int(head.cortex.n_vertices)},
        "coil": {"name": coil.name, "source": str(job.coil)},
        "stimulator": stim,
        "target": tgt.as_dict(job.roi_radius_mm, job.quantity),
        "method": "manual",
        "pose": m.tolist(),
        "position_mm": m[:3, 3].tolist(),
        "scalp_point_mm": np.asarray(scalp_point).tolist(),
        "handle_angle_deg": float(angle),
        "gap_mm": float(max(height, 0.0)),
        "efield_at_target_v_per_m_per_a_per_us": float(value),
        "peak_efield_v_per_m_per_a_per_us": peak,
        "dose": dose,
        "settings": settings,
        "heuristics": {},
    }
