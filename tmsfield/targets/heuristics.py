"""Clinical scalp heuristics for the left DLPFC: EEG F3, Beam F3, and the 5.5 cm rule.

Each returns a scalp position (mm, head frame). Scalp paths are traced by rays from the head centre
(between the ear landmarks) swept in a plane, so distances are measured along the scalp as a tape
measure would.
"""

from dataclasses import dataclass

import numpy as np

from ..errors import InputError, TargetError
from .geometry import ScalpGeometry

__all__ = ["beam_f3_distances", "beam_f3_position", "eeg_f3_position", "rule_5p5cm_position",
           "head_measurements", "HeadMeasurements"]


def beam_f3_distances(nasion_inion_cm, tragus_tragus_cm, circumference_cm):
    """Beam F3 calculator: distances X and Y (cm) locating F3 from three head measurements.

    Beam W, Borckardt JJ, Reeves ST, George MS (2009) An efficient and accurate new method for locating
    the F3 position for prefrontal TMS applications. Brain Stimul 2(1):50-54. These are the equations of
    the authors' web calculator (the printed paper's versions differ by typographical slips and do not
    reproduce its own worked example): with R1 = 0.4·NI and R2 = 0.4·TT (the Cz–Fpz and Cz–T3 arcs of the
    10-20 system, flattened onto a plane with Cz at the origin)::

        A = (R2·sin 324° + R1/2) / R2
        B = R1·sin 298° / (R1·cos 298° − R2/2)
        x = (R1 − R2·B) / (2 (A − B));   y = A·x − R1/2
        θ = atan(y / x);  Y = 0.91·sqrt(x² + y²);  X = (C/4)·(90° + θ)/90°

    X is measured along the head circumference (at the Fpz–T3–Oz level) from the front midline (Fpz)
    towards the left; Y along the scalp from the vertex (Cz) towards that point. F3 lies at Y.

    Parameters
    ----------
    nasion_inion_cm, tragus_tragus_cm, circumference_cm : float
        Tape measurements in cm.

    Returns
    -------
    x_cm, y_cm : float

    Examples
    --------
    >>> x, y = beam_f3_distances(38, 36, 60)      # the calculator's worked example
    >>> round(x, 2), round(y, 2)
    (6.95, 9.79)
    """
    vals = []
    for nm, v in (("nasion_inion_cm", nasion_inion_cm), ("tragus_tragus_cm", tragus_tragus_cm),
                  ("circumference_cm", circumference_cm)):
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise InputError(f"{nm} must be a number in cm; got {v!r}") from None
        if not np.isfinite(f) or not 10.0 <= f <= 100.0:
            raise InputError(f"{nm} = {v!r} cm is not a plausible head measurement (10-100 cm); "
                             f"measurements are in centimetres")
        vals.append(f)
    ni, tt, circ = vals
    r1, r2 = 0.4 * ni, 0.4 * tt
    s = np.deg2rad
    a = (r2 * np.sin(s(324.0)) + r1 / 2.0) / r2
    b = r1 * np.sin(s(298.0)) / (r1 * np.cos(s(298.0)) - r2 / 2.0)
    x = 0.5 * (r1 - r2 * b) / (a - b)
    y = a * x - r1 / 2.0
    theta = np.degrees(np.arctan(y / x))
    return float(circ / 4.0 * (90.0 + theta) / 90.0), float(0.91 * np.hypot(x, y))


@dataclass(frozen=True)
class HeadMeasurements:
    """Landmark-derived scalp points and tape measurements of a head mesh (mm).

    Attributes
    ----------
    nasion_inion_mm, tragus_tragus_mm, circumference_mm : float
    cz, fpz, oz, t7, t8 : ndarray (3,)
    """

    nasion_inion_mm: float
    tragus_tragus_mm: float
    circumference_mm: float
    cz: np.ndarray
    fpz: np.ndarray
    oz: np.ndarray
    t7: np.ndarray
    t8: np.ndarray
    left_half: tuple  # (points, cumulative length) from Fpz through T7 to Oz


def head_measurements(geometry, n=240):
    """Measure nasion–inion, tragus–tragus (over the vertex) and circumference (Fpz–T7–Oz–T8) on a mesh.

    Parameters
    ----------
    geometry : ScalpGeometry
        With landmarks.

    Returns
    -------
    HeadMeasurements

    Examples
    --------
    >>> import tmsfield
    >>> from tmsfield.targets.geometry import ScalpGeometry
    >>> h = tmsfield.load_head("mni152")                          # doctest: +SKIP
    >>> m = head_measurements(ScalpGeometry(h.scalp, h.landmarks))  # doctest: +SKIP
    """
    lm = geometry.landmarks
    if not lm:
        raise InputError("the head has no landmarks (nasion, inion, lpa, rpa); Beam F3 needs them")
    right, ant, up = geometry.axes
    c = geometry.centre
    top = geometry.ray_points(c, up[None])[0]
    nas, ini = np.asarray(lm["nasion"], float), np.asarray(lm["inion"], float)
    lpa, rpa = np.asarray(lm["lpa"], float), np.asarray(lm["rpa"], float)
    mid, smid = geometry.arc(nas, ini, n=n, via=top)
    ni = smid[-1]
    cz = geometry.point_at_length(mid, smid, 0.5 * ni)
    fpz = geometry.point_at_length(mid, smid, 0.1 * ni)
    oz = geometry.point_at_length(mid, smid, 0.9 * ni)
    cor, scor = geometry.arc(lpa, rpa, n=n, via=cz)
    tt = scor[-1]
    t7 = geometry.point_at_length(cor, scor, 0.1 * tt)
    t8 = geometry.point_at_length(cor, scor, 0.9 * tt)
    left, sleft = geometry.arc(fpz, oz, n=n, via=t7, origin=geometry.plane_origin(fpz, t7, oz))
    right_half, sright = geometry.arc(oz, fpz, n=n, via=t8, origin=geometry.plane_origin(fpz, t8, oz))
    return HeadMeasurements(float(ni), float(tt), float(sleft[-1] + sright[-1]), cz, fpz, oz, t7, t8,
                            (left, sleft))


def beam_f3_position(head, nasion_inion_cm=None, tragus_tragus_cm=None, circumference_cm=None, geometry=None):
    """Beam F3 scalp position: the calculator's X and Y laid out on the head's scalp.

    Measurements not given are measured on the scalp mesh (:func:`head_measurements`). X (cm) is walked
    from Fpz along the left half circumference (Fpz–T7–Oz); Y (cm) from Cz along the scalp towards that
    point.

    Parameters
    ----------
    head : tmsfield.Head
        Needs ``scalp`` and ``landmarks``.
    nasion_inion_cm, tragus_tragus_cm, circumference_cm : float, optional
        Tape measurements (cm) taken by the clinician.
    geometry : ScalpGeometry, optional

    Returns
    -------
    position_mm : ndarray (3,)
    info : dict
        The measurements used (cm), whether each was measured on the mesh, X and Y (cm).

    Examples
    --------
    >>> import tmsfield
    >>> p, info = beam_f3_position(tmsfield.load_head("mni152"))   # doctest: +SKIP
    """
    geo = geometry or ScalpGeometry(head.scalp, dict(head.landmarks))
    m = head_measurements(geo)
    given = {"nasion_inion_cm": nasion_inion_cm, "tragus_tragus_cm": tragus_tragus_cm,
             "circumference_cm": circumference_cm}
    used = {"nasion_inion_cm": m.nasion_inion_mm / 10, "tragus_tragus_cm": m.tragus_tragus_mm / 10,
            "circumference_cm": m.circumference_mm / 10}
    measured = {}
    for k, v in given.items():
        measured[k] = v is None
        if v is not None:
            used[k] = float(v)
    x_cm, y_cm = beam_f3_distances(used["nasion_inion_cm"], used["tragus_tragus_cm"], used["circumference_cm"])
    pts, s = m.left_half
    a = geo.point_at_length(pts, s, 10.0 * x_cm)
    arc, sarc = geo.arc(m.cz, a, n=200)
    if 10.0 * y_cm > sarc[-1]:
        raise TargetError(f"Beam F3: Y = {y_cm:.2f} cm exceeds the scalp distance from Cz to the circumference "
                          f"point ({sarc[-1] / 10:.2f} cm); the measurements do not fit this head")
    p = geo.point_at_length(arc, sarc, 10.0 * y_cm)
    info = {**used, "measured_on_mesh": measured, "x_cm": x_cm, "y_cm": y_cm,
            "citation": "Beam W et al. (2009) Brain Stimul 2(1):50-54 (web-calculator equations)"}
    return geo.ray_points(geo.centre, (p - geo.centre)[None])[0], info


def eeg_f3_position(head):
    """EEG 10-20 F3 of the head (``head.eeg_positions()["F3"]``), mm.

    Examples
    --------
    >>> import tmsfield
    >>> eeg_f3_position(tmsfield.load_head("mni152")).shape      # doctest: +SKIP
    (3,)
    """
    pos = head.eeg_positions()
    if "F3" not in pos:
        raise TargetError("the head's EEG positions lack F3")
    return np.asarray(pos["F3"], float).reshape(3)


def rule_5p5cm_position(head, hotspot_mm=None, distance_mm=55.0, geometry=None):
    """The 5.5 cm rule: from the motor hotspot, ``distance_mm`` forward along the parasagittal line.

    The parasagittal line is the scalp curve in the plane through the hotspot parallel to the midsagittal
    plane (normal lpa→rpa). Without a hotspot, the EEG C3 position stands in for it (the hand knob lies
    near C3; Herwig et al. 2003 Brain Topogr 16:95-99).

    Parameters
    ----------
    head : tmsfield.Head
    hotspot_mm : array_like (3,), optional
    distance_mm : float
        55 mm for the 5.5 cm rule (50 for the classic 5 cm rule).

    Returns
    -------
    position_mm : ndarray (3,)
    info : dict

    Examples
    --------
    >>> import tmsfield
    >>> p, info = rule_5p5cm_position(tmsfield.load_head("mni152"))   # doctest: +SKIP
    """
    geo = geometry or ScalpGeometry(head.scalp, dict(head.landmarks))
    proxy = hotspot_mm is None
    if proxy:
        hs = np.asarray(head.eeg_positions()["C3"], float).reshape(3)
    else:
        hs = geo.closest_points(np.asarray(hotspot_mm, float).reshape(1, 3))[0]
    right, ant, up = geo.axes
    c = geo.centre + ((hs - geo.centre) @ right) * right  # centre of the parasagittal plane
    d0 = hs - c
    phi0 = np.arctan2(d0 @ up, d0 @ ant)
    phis = np.linspace(phi0, phi0 - np.deg2rad(100.0), 400)  # sweep forward (towards +anterior)
    dirs = np.cos(phis)[:, None] * ant + np.sin(phis)[:, None] * up
    pts = geo.ray_points(c, dirs)
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
    p = geo.point_at_length(pts, s, distance_mm)
    return p, {"hotspot_mm": hs.tolist(), "hotspot_is_c3_proxy": proxy, "distance_mm": float(distance_mm)}
