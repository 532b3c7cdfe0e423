"""Coil pose from a scalp or cortical target (SimNIBS convention 4x4, mm).

Construction:

1. Scalp point: the closest scalp point to the target (``projection="closest"``), or where the ray from
   the head centre through the target leaves the scalp (``projection="normal"``, i.e. along the local
   outward direction). A scalp point is used as is.
2. Coil z axis (into the head) = −(outward scalp normal averaged, area-weighted, over the scalp vertices
   within ``normal_radius_mm`` = 10 mm).
3. Handle direction: in the coil's tangent plane, at ``handle_angle_deg`` from the *posterior midline
   direction* (the projection of the head's anterior→posterior axis, inion side, onto the tangent
   plane), turned **away from the midline** (laterally) for positive angles — towards the left ear over
   the left hemisphere, towards the right ear over the right. So 45° over left DLPFC is the clinical
   "handle pointing back, 45° from the midline, laterally"; 0° points straight back, 90° laterally.
   The coil's own handle axis (``coil.handle_direction``, coil frame) is mapped onto that direction.
4. Centre = scalp point + ``gap_mm`` (hair) along the outward normal.
5. Casing check: the casing outline (``coil.casing_outline_mm``) and a grid over the casing's face are
   mapped into the head; if any point lies inside the scalp, the coil is raised along its axis until all
   are clear, and the lift is reported.
"""

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..pose import as_pose_matrix
from .geometry import ScalpGeometry

__all__ = ["CoilPlacement", "coil_pose", "rotation_for_handle", "casing_points", "handle_angle_of_pose"]


def _unit(v):
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


def tangent_frame(geometry, point, normal):
    """(posterior, lateral) unit vectors in the tangent plane at ``point`` with outward ``normal``."""
    right, ant, up = geometry.axes
    post = -ant - (-ant @ normal) * normal
    if np.linalg.norm(post) < 1e-6:  # normal along the a-p axis: use up
        post = up - (up @ normal) * normal
    post = _unit(post)
    lat = geometry.lateral_direction(point)
    lat = lat - (lat @ normal) * normal - (lat @ post) * post
    if np.linalg.norm(lat) < 1e-9:
        lat = np.cross(normal, post)
    return post, _unit(lat)


def rotation_for_handle(coil_handle, normal, post, lat, angles_deg):
    """Rotations (A, 3, 3) coil → head: z = −normal, handle at each angle (deg) from ``post`` towards ``lat``.

    Examples
    --------
    >>> r = rotation_for_handle([0, 1, 0], [0, 0, 1.0], [0, -1.0, 0], [-1.0, 0, 0], [0.0])
    >>> np.round(r[0] @ [0, 1, 0], 6).tolist()   # handle points posterior
    [0.0, -1.0, 0.0]
    """
    h = np.asarray(coil_handle, float)
    h = _unit(h - h[2] * np.array([0.0, 0.0, 1.0]))
    cf = np.column_stack([h, np.cross(np.array([0, 0, 1.0]), h), [0, 0, 1.0]])  # h, z×h, z (right-handed)
    a = np.deg2rad(np.atleast_1d(np.asarray(angles_deg, float)))
    z = -np.asarray(normal, float)
    d = np.cos(a)[:, None] * post + np.sin(a)[:, None] * lat          # (A,3) handle in head
    e = np.cross(z[None, :], d)
    hf = np.stack([d, e, np.repeat(z[None], len(a), 0)], axis=2)      # (A,3,3)
    return hf @ cf.T


def casing_points(coil, n_grid=7):
    """Points of the casing's head-facing face (coil frame, z = 0): outline + interior grid (mm).

    Without ``casing_outline_mm``: a disc covering the dipoles/wires' footprint.
    """
    outline = getattr(coil, "casing_outline_mm", None)
    if outline is None:
        src = np.vstack([coil.dipole_positions_mm, coil.segment_start_mm]) if coil.n_segments else \
            coil.dipole_positions_mm
        r = float(np.max(np.hypot(src[:, 0], src[:, 1]))) + 5.0
        t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        outline = np.column_stack([r * np.cos(t), r * np.sin(t), np.zeros_like(t)])
    outline = np.asarray(outline, float)
    lo, hi = outline[:, :2].min(0), outline[:, :2].max(0)
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], n_grid), np.linspace(lo[1], hi[1], n_grid))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    inside = _inside_polygon(grid, outline[:, :2])
    pts = np.vstack([outline[:, :3] * [1, 1, 0], np.column_stack([grid[inside], np.zeros(inside.sum())])])
    return pts


def _inside_polygon(pts, poly):
    """Even-odd rule point-in-polygon for (N, 2) points and a closed (K, 2) polygon."""
    x, y = pts[:, 0][:, None], pts[:, 1][:, None]
    x1, y1 = poly[:, 0][None], poly[:, 1][None]
    x2, y2 = np.roll(poly[:, 0], -1)[None], np.roll(poly[:, 1], -1)[None]
    cond = (y1 > y) != (y2 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        xi = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
    return (np.sum(cond & (x < xi), axis=1) % 2) == 1


_casing_points_safe = casing_points


def required_lift(geometry, casing_pts, rotations, centres):
    """Lift (mm) along each coil's outward normal so that no casing point is inside the scalp.

    Parameters
    ----------
    casing_pts : (C, 3) coil frame; rotations (P, 3, 3); centres (P, 3)

    Returns
    -------
    ndarray (P,), >= 0
    """
    pts = np.einsum("pij,cj->pci", rotations, casing_pts) + centres[:, None, :]
    h = geometry.signed_height(pts.reshape(-1, 3)).reshape(pts.shape[:2])
    # raising by L along -z (outward) increases the height of a point by ~ L * (n_coil · n_scalp) ~ L
    return np.maximum(0.0, -h.min(axis=1))


@dataclass(frozen=True)
class CoilPlacement:
    """A coil pose with its construction details.

    Attributes
    ----------
    pose : ndarray (4, 4)
        Columns x, y, z (into the head), centre (mm).
    scalp_point_mm : ndarray (3,)
    normal : ndarray (3,)
        Smoothed outward scalp normal.
    handle_angle_deg : float
    gap_mm : float
    lift_mm : float
        Extra raise needed to keep the casing out of the scalp.
    hemisphere : str
    """

    pose: np.ndarray
    scalp_point_mm: np.ndarray
    normal: np.ndarray
    handle_angle_deg: float
    gap_mm: float
    lift_mm: float
    hemisphere: str

    @property
    def position_mm(self):
        return self.pose[:3, 3].copy()


def coil_pose(head_or_geometry, coil, target_mm, handle_angle_deg=45.0, gap_mm=4.0, projection="closest",
              on_scalp=False, normal_radius_mm=10.0, check_casing=True):
    """Coil pose over a scalp or cortical target.

    Parameters
    ----------
    head_or_geometry : tmsfield.Head or ScalpGeometry
    coil : tmsfield.coils.Coil
    target_mm : array_like (3,)
        Cortical target (projected to the scalp) or, with ``on_scalp=True``, a scalp point.
    handle_angle_deg : float
        Handle angle from the posterior midline direction, positive laterally (see module docstring).
    gap_mm : float
        Distance from the scalp to the casing's face at the centre (hair), mm.
    projection : {"closest", "normal"}
        Closest scalp point, or the scalp point on the ray from the head centre through the target.
    on_scalp : bool
        ``target_mm`` is already (near) a scalp point: snap it to the closest scalp point.
    normal_radius_mm : float
        Radius for the smoothed normal.
    check_casing : bool

    Returns
    -------
    CoilPlacement

    Examples
    --------
    >>> import numpy as np
    >>> from tmsfield.head import icosphere
    >>> from tmsfield.coils import Coil
    >>> from tmsfield.targets.geometry import ScalpGeometry
    >>> lm = {"nasion": [0, 90, 0], "inion": [0, -90, 0], "lpa": [-90, 0, 0], "rpa": [90, 0, 0]}
    >>> g = ScalpGeometry(icosphere(90.0, 4, name="scalp"), lm)
    >>> c = Coil.from_dipoles([[0, 0, -5.0]], [[0, 0, 1e-3]])
    >>> p = coil_pose(g, c, [-30.0, 30, 60], gap_mm=4)
    >>> bool(abs(np.linalg.norm(p.pose[:3, 3]) - 94.0) < 0.3)
    True
    """
    geo = head_or_geometry if isinstance(head_or_geometry, ScalpGeometry) else \
        ScalpGeometry(head_or_geometry.scalp, dict(getattr(head_or_geometry, "landmarks", {}) or {}))
    t = np.asarray(target_mm, float).reshape(3)
    if not np.all(np.isfinite(t)):
        raise InputError("target_mm must be finite (x, y, z in mm)")
    gap = float(gap_mm)
    if not np.isfinite(gap) or gap < 0:
        raise InputError(f"gap_mm must be >= 0 (mm of hair between scalp and casing); got {gap_mm!r}")
    if projection == "closest" or on_scalp:
        sp = geo.closest_points(t[None])[0]
    elif projection == "normal":
        sp = geo.ray_points(geo.centre, (t - geo.centre)[None])[0]
    else:
        raise InputError(f"projection must be 'closest' or 'normal'; got {projection!r}")
    n = geo.smoothed_normals(sp[None], normal_radius_mm)[0]
    post, lat = tangent_frame(geo, sp, n)
    rot = rotation_for_handle(coil.handle_direction, n, post, lat, [handle_angle_deg])[0]
    centre = sp + gap * n
    lift = 0.0
    if check_casing:
        cp = _casing_points_safe(coil)
        for _ in range(5):
            extra = required_lift(geo, cp, rot[None], (centre + lift * n)[None])[0]
            if extra <= 1e-3:
                break
            lift += extra + 0.05
    m = np.eye(4)
    m[:3, :3] = rot
    m[:3, 3] = centre + lift * n
    return CoilPlacement(as_pose_matrix(m), sp, n, float(handle_angle_deg), gap, float(lift), geo.hemisphere(sp))


def handle_angle_of_pose(geometry, coil, pose):
    """Handle angle (deg, in (−180, 180]) of a pose, by the convention of :func:`coil_pose`."""
    m = as_pose_matrix(pose)
    n = -m[:3, 2]
    sp = geo_point = m[:3, 3]
    post, lat = tangent_frame(geometry, geo_point, n)
    h = np.asarray(coil.handle_direction, float)
    d = m[:3, :3] @ h
    del sp
    return float(np.degrees(np.arctan2(d @ lat, d @ post)))
