"""Placement search: the coil position and orientation that maximise the E-field at a target.

Quantity (per 1 A/µs) over a region of interest (ROI) = the cortex vertices within ``roi_radius_mm``
(default 5 mm) of the target (at least the nearest vertex):

* ``"magnitude"``: mean |E| over the ROI. Ranked by the fast proxy |mean E| (the magnitude of the
  ROI-averaged field vector, three linear functionals); the best candidates are then re-evaluated with
  the full solver (``model.efield``) and the one with the highest true mean |E| wins. |mean E| <= mean |E|,
  equal when E is uniform over the ROI (a 5 mm ROI under a figure-8 coil: within ~1-2 %).
* ``"normal"``: mean E·(−n) over the ROI, n = outward cortex vertex normal, i.e. the component *into* the
  cortex (positive = inward). Linear: one functional, exact.
* ``"direction"``: mean E·u for a given unit vector u (e.g. a preferred current direction). Linear.

Reciprocity: for a linear functional F = Σ_j w_j·E(x_j) (V/m at 1 A/µs) the model returns an adjoint
field h with F = Σ_i m_i·h(r_i) for any dipole coil (dipoles r_i, moments m_i in the head frame). h is
computed once on a regular grid in the frame of the target's scalp tangent plane, covering every dipole
position the search can visit (plus stencil margin), and interpolated tricubically (4-point Lagrange per
axis, error O(spacing⁴)). Default spacing 3 mm; the interpolation error against direct
``model.efield`` is reported for every verified candidate (``interpolation_rel_error``) and tested to be
<= 0.5 %.

Speed: placements are evaluated by the numba kernel :func:`tmsfield.kernels.placement.evaluate_placements`
(parallel over placements). The coarse and refine stages rank with a *reduced* dipole set (the coil's
dipoles merged, moment-weighted, in square cells of the coil plane, the coarsest of 8-2 mm that keeps the
ranking values within 0.2 % of the full coil on a probe of placements) and trilinear interpolation (8 nodes
instead of 64); their error against the full coil at the full-coil candidates is reported
(``ranking_rel_error``). The best ``n_full`` candidates are re-evaluated with the full dipole set and tricubic
interpolation, then with the full solver. Ranking approximations therefore only decide which candidates reach
the exact stages.

Stages: coarse (2 mm, 5° over the disc of ``search_radius_mm`` and 0-360°), refine around the best 5
(0.5 mm, 1°), full-coil re-ranking with the casing lift applied, solver verification.
"""

import time
from dataclasses import dataclass, field

import numpy as np

from .. import _progress

from ..errors import InputError, TargetError
from ..pose import as_pose_matrix
from .geometry import ScalpGeometry
from .placement import _casing_points_safe, required_lift, rotation_for_handle, tangent_frame

__all__ = ["TargetROI", "target_roi", "AdjointGrid", "build_adjoint_grid", "reduce_dipoles", "coil_dipoles",
           "search_placement", "SearchResult", "evaluate_quantity", "PlacementEvaluator"]


@dataclass(frozen=True)
class TargetROI:
    """Cortex vertices around a target.

    Attributes
    ----------
    points : ndarray (N, 3), mm
    normals : ndarray (N, 3)
        Outward cortex vertex normals.
    indices : ndarray (N,)
        Cortex vertex indices.
    target_mm : ndarray (3,)
    radius_mm : float
    weights : ndarray (N,) or None
        Per-vertex weights summing to 1 (a target map's, :mod:`tmsfield.targets.target_map`); None = the
        plain mean (1/N each).
    """

    points: np.ndarray
    normals: np.ndarray
    indices: np.ndarray
    target_mm: np.ndarray
    radius_mm: float
    weights: np.ndarray = None

    def vertex_weights(self):
        """Weights (N,) summing to 1: ``weights``, or 1/N each."""
        n = self.points.shape[0]
        if self.weights is None:
            return np.full(n, 1.0 / n)
        w = np.asarray(self.weights, float).reshape(-1)
        return w / w.sum()


def target_roi(cortex, target_mm, radius_mm=5.0):
    """ROI = cortex vertices within ``radius_mm`` of the target (the nearest one if none).

    Examples
    --------
    >>> from tmsfield.head import icosphere
    >>> roi = target_roi(icosphere(70.0, 4, name="cortex"), [0, 0, 70.0], 5.0)
    >>> bool(roi.points.shape[0] >= 3)
    True
    """
    t = np.asarray(target_mm, float).reshape(3)
    r = float(radius_mm)
    if not np.isfinite(r) or r < 0:
        raise InputError(f"roi_radius_mm must be >= 0 mm; got {radius_mm!r}")
    v = np.asarray(cortex.vertices, float)
    d = np.linalg.norm(v - t, axis=1)
    idx = np.flatnonzero(d <= r)
    if idx.size == 0:
        idx = np.array([int(np.argmin(d))])
    return TargetROI(v[idx], np.asarray(cortex.vertex_normals, float)[idx], idx, t, r)


def _functional_weights(roi, quantity, direction=None):
    n = roi.points.shape[0]
    w = roi.vertex_weights()[:, None]   # 1/n each, or a target map's weights
    if quantity == "magnitude":
        return [np.tile(np.eye(3)[k], (n, 1)) * w for k in range(3)]
    if quantity == "normal":
        return [-roi.normals * w]
    if quantity == "direction":
        u = np.asarray(direction, float).reshape(3)
        if not np.isfinite(np.linalg.norm(u)) or np.linalg.norm(u) == 0:
            raise InputError("quantity 'direction' needs a non-zero direction vector")
        return [np.tile(u / np.linalg.norm(u), (n, 1)) * w]
    raise InputError(f"quantity must be 'magnitude', 'normal' or 'direction'; got {quantity!r}")


def _has_fast_path(model, method):
    """True when ``evaluate_quantity(..., method)`` uses the solver's fast per-placement map (no full solve)."""
    return method == "fast" and hasattr(model, "efield_on_cortex") and getattr(model, "fast_map", True) is not None


def evaluate_quantity(model, coil, roi, pose, quantity="magnitude", direction=None, method="direct"):
    """Target quantity (V/m per A/µs) from the solver at one pose.

    Parameters
    ----------
    method : {"direct", "fast"}
        ``"direct"``: ``model.efield`` at the ROI points (full solve). ``"fast"``: the solver's fast
        per-placement path ``model.efield_on_cortex`` (ROI = cortex vertices), when it has one; otherwise
        direct.

    Returns
    -------
    value : float
        mean |E| (magnitude), mean inward normal component (normal) or mean E·u (direction).
    proxy : float
        The reciprocity-ranked quantity computed from the same field (|mean E| for magnitude).
    """
    if _has_fast_path(model, method):
        e = np.asarray(model.efield_on_cortex(coil, pose, 1.0))[roi.indices]
    else:
        e = np.asarray(model.efield(coil, roi.points, pose, 1.0))
    if quantity == "magnitude":
        wv = roi.vertex_weights()
        return float(np.sum(wv * np.linalg.norm(e, axis=1))), float(np.linalg.norm(wv @ e))
    w = _functional_weights(roi, quantity, direction)[0]
    v = float(np.sum(w * e))
    return v, v


def coil_dipoles(coil):
    """Dipole positions (mm, coil frame) and moments (A·m² per A) representing ``coil``.

    Wire coils use :func:`tmsfield.coils.dipole_equivalent`. The dipoles come sorted along a
    space-filling order of 4 mm cells (so that consecutive dipoles read neighbouring nodes of an
    adjoint grid, which keeps the placement kernel's reads in cache); the set is the coil's.
    """
    if coil.n_dipoles and not coil.n_segments:
        return _spatially_sorted(np.array(coil.dipole_positions_mm, float), np.array(coil.dipole_moments, float))
    try:
        from ..coils import dipole_equivalent
    except ImportError:
        raise InputError(f"coil {coil.name!r} has wire segments and this build has no dipole_equivalent "
                         f"conversion; use a dipole coil (.ccd)") from None
    d = dipole_equivalent(coil)
    return _spatially_sorted(np.array(d.dipole_positions_mm, float), np.array(d.dipole_moments, float))


def _spatially_sorted(positions, moments, cell_mm=4.0):
    """Positions and moments reordered by the Morton (Z-order) code of their 4 mm cell."""
    if positions.shape[0] < 2:
        return positions, moments
    cell = np.floor((positions - positions.min(axis=0)) / cell_mm).astype(np.int64)
    code = np.zeros(positions.shape[0], dtype=np.int64)
    for bit in range(16):
        for axis in range(3):
            code |= ((cell[:, axis] >> bit) & 1) << (3 * bit + axis)
    order = np.argsort(code, kind="stable")
    return np.ascontiguousarray(positions[order]), np.ascontiguousarray(moments[order])


def reduce_dipoles(positions, moments, cell_mm):
    """Merge dipoles in square cells of the coil plane (all z together): moment sum at the |m|-weighted centroid.

    Returns
    -------
    positions (K, 3), moments (K, 3)

    Examples
    --------
    >>> p = np.array([[0.0, 0, -5], [1.0, 0, -5], [20.0, 0, -5]])
    >>> m = np.array([[0, 0, 1.0], [0, 0, 1.0], [0, 0, 2.0]])
    >>> rp, rm = reduce_dipoles(p, m, 5.0)
    >>> rp.shape[0], float(rm[:, 2].sum())
    (2, 4.0)
    """
    key = np.floor(positions[:, :2] / float(cell_mm)).astype(np.int64)
    _, inv = np.unique(key, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    k = inv.max() + 1
    w = np.linalg.norm(moments, axis=1)
    wsum = np.bincount(inv, w, k)
    pos = np.column_stack([np.bincount(inv, w * positions[:, j], k) for j in range(3)]) / np.maximum(wsum, 1e-300)[:, None]
    mom = np.column_stack([np.bincount(inv, moments[:, j], k) for j in range(3)])
    keep = np.linalg.norm(mom, axis=1) > 1e-12 * max(w.max(), 1e-300)
    return np.ascontiguousarray(pos[keep]), np.ascontiguousarray(mom[keep])


@dataclass(frozen=True, eq=False)
class AdjointGrid:
    """Adjoint fields h_f tabulated on a regular grid (head-frame components).

    Attributes
    ----------
    values : ndarray (nx, ny, nz, 3·nf)
        NaN at nodes inside the scalp (never needed by valid placements).
    origin : ndarray (3,); frame : ndarray (3, 3) (columns = grid axes); spacing : float (mm)
    """

    values: np.ndarray
    origin: np.ndarray
    frame: np.ndarray
    spacing: float

    @property
    def n_functionals(self):
        return self.values.shape[3] // 3

    def evaluate(self, rotations, centres, positions, moments, interpolation="tricubic"):
        """F (P, nf) for placements, via the numba kernel (``"tricubic"`` or ``"trilinear"``)."""
        from ..kernels.placement import evaluate_placements, evaluate_placements_trilinear
        kern = evaluate_placements if interpolation == "tricubic" else evaluate_placements_trilinear
        c = lambda a: np.array(a, dtype=np.float64, order="C", copy=True)  # writable: one numba signature
        return kern(self.values, c(self.origin), c(self.frame), float(self.spacing),
                                   c(rotations), c(centres), c(positions), c(moments))


def needed_nodes(nodes, centres, axes_in, rho_max, z_lo, z_hi):
    """Mask of grid nodes that some coil placement can need: within ``rho_max`` of a coil centre's axis and
    between ``z_lo`` and ``z_hi`` along its into-the-head axis (all orientations about the axis covered).

    Parameters
    ----------
    nodes : (N, 3); centres : (P, 3) coil centres; axes_in : (P, 3) unit into-the-head axes
    rho_max, z_lo, z_hi : float (mm, margins included by the caller)
    """
    need = np.zeros(nodes.shape[0], bool)
    for c, a in zip(centres, axes_in):
        d = nodes - c
        z = d @ a
        ok = (z >= z_lo) & (z <= z_hi)
        rho2 = np.einsum("ij,ij->i", d, d) - z * z
        need |= ok & (rho2 <= rho_max * rho_max)
    return need


def build_adjoint_grid(model, roi, quantity, geometry, frame_origin, frame, bounds_lo, bounds_hi, spacing_mm,
                       direction=None, min_height_mm=0.3, node_mask=None):
    """Tabulate h_f = model.reciprocal_field(roi points, w_f, nodes) on a grid.

    Uses ``model.reciprocal_fields`` (all functionals at once) when the model has it.

    Parameters
    ----------
    frame_origin : (3,) ; frame : (3, 3), columns = grid axes (orthonormal)
    bounds_lo, bounds_hi : (3,)
        Extent in frame coordinates (mm); the grid covers it.
    spacing_mm : float
    node_mask : callable, optional
        ``node_mask(nodes) -> bool mask`` of the nodes worth computing (others stay NaN).
    """
    s = float(spacing_mm)
    n = np.ceil((np.asarray(bounds_hi) - np.asarray(bounds_lo)) / s).astype(int) + 1
    origin = frame_origin + frame @ np.asarray(bounds_lo, float)
    ii = [np.arange(k) * s for k in n]
    g = np.stack(np.meshgrid(*ii, indexing="ij"), axis=-1).reshape(-1, 3)
    nodes = origin + g @ frame.T
    height = geometry.signed_height(nodes)
    use = height > min_height_mm
    if node_mask is not None:
        idx = np.flatnonzero(use)
        use[idx] = node_mask(nodes[idx])
    if hasattr(model, "radius_mm") and hasattr(model, "center_mm"):  # analytic sphere: sources must be outside
        use &= np.linalg.norm(nodes - np.asarray(model.center_mm, float), axis=1) > float(model.radius_mm) * (1 + 1e-9)
    weights = _functional_weights(roi, quantity, direction)
    vals = np.full((nodes.shape[0], 3 * len(weights)), np.nan)
    if hasattr(model, "reciprocal_fields"):  # all functionals in one far-field pass (EFieldSolver)
        h = np.asarray(model.reciprocal_fields(roi.points, np.stack(weights), nodes[use]))
        vals[use] = np.transpose(h, (1, 0, 2)).reshape(-1, 3 * len(weights))
    else:
        for f, w in enumerate(weights):
            vals[use, 3 * f:3 * f + 3] = np.asarray(model.reciprocal_field(roi.points, w, nodes[use]))
    return AdjointGrid(np.ascontiguousarray(vals.reshape(*n, 3 * len(weights))), origin,
                       np.ascontiguousarray(frame), s)


class PlacementEvaluator:
    """Candidate positions on the scalp disc around a target and their evaluation via an AdjointGrid.

    Positions are parametrised by tangent-plane offsets (a, b) (mm, along the posterior and lateral
    directions at the target's scalp point), projected onto the scalp by rays from the head centre;
    orientations by the handle angle (deg, :mod:`tmsfield.targets.placement` convention).
    """

    def __init__(self, geometry, coil, scalp_point, gap_mm, normal_radius_mm=10.0):
        self.geo = geometry
        self.coil = coil
        self.sp0 = np.asarray(scalp_point, float)
        self.n0 = geometry.smoothed_normals(self.sp0[None], normal_radius_mm)[0]
        self.post0, self.lat0 = tangent_frame(geometry, self.sp0, self.n0)
        self.gap = float(gap_mm)
        self.normal_radius = float(normal_radius_mm)
        self._cache = {}

    def positions(self, ab):
        """Scalp points, smoothed normals, posterior/lateral frames for offsets ab (P, 2)."""
        ab = np.asarray(ab, float).reshape(-1, 2)
        out_p, out_n, out_post, out_lat = [], [], [], []
        miss = [tuple(np.round(x, 6)) for x in ab if tuple(np.round(x, 6)) not in self._cache]
        if miss:
            m = np.asarray(miss)
            q = self.sp0 + m[:, :1] * self.post0 + m[:, 1:] * self.lat0
            sp = self.geo.ray_points(self.geo.centre, q - self.geo.centre)
            nn = self.geo.smoothed_normals(sp, self.normal_radius)
            for key, p, n in zip(miss, sp, nn):
                post, lat = tangent_frame(self.geo, p, n)
                self._cache[key] = (p, n, post, lat)
        for x in ab:
            p, n, post, lat = self._cache[tuple(np.round(x, 6))]
            out_p.append(p), out_n.append(n), out_post.append(post), out_lat.append(lat)
        return np.array(out_p), np.array(out_n), np.array(out_post), np.array(out_lat)

    def poses(self, ab, angles_deg, lift=None):
        """Rotations (P·A, 3, 3) and centres (P·A, 3) for every (position, angle) pair (position-major)."""
        sp, nn, post, lat = self.positions(ab)
        angles = np.atleast_1d(np.asarray(angles_deg, float))
        rots = np.concatenate([rotation_for_handle(self.coil.handle_direction, n, po, la, angles)
                               for n, po, la in zip(nn, post, lat)]) if len(sp) else np.zeros((0, 3, 3))
        centres = np.repeat(sp + self.gap * nn, len(angles), axis=0)
        if lift is not None:
            centres = centres + np.asarray(lift).reshape(-1, 1) * np.repeat(nn, len(angles), axis=0)
        return rots, centres, np.repeat(sp, len(angles), axis=0), np.repeat(nn, len(angles), axis=0)


def _disc(radius, step):
    k = int(np.floor(radius / step))
    a = np.arange(-k, k + 1) * step
    aa, bb = np.meshgrid(a, a, indexing="ij")
    ab = np.column_stack([aa.ravel(), bb.ravel()])
    return ab[np.hypot(ab[:, 0], ab[:, 1]) <= radius + 1e-9]


def _score(F, quantity):
    if quantity == "magnitude":
        return np.linalg.norm(F, axis=1)
    return F[:, 0]


@dataclass
class SearchResult:
    """Outcome of :func:`search_placement`.

    Attributes
    ----------
    pose : ndarray (4, 4)
        Best pose (columns x, y, z into the head, centre; mm).
    value : float
        Target quantity at the best pose from the full solver, V/m per A/µs.
    proxy_value : float
        Reciprocity value of the same pose (|mean E| for magnitude).
    handle_angle_deg : float
    offset_mm : ndarray (2,)
        Tangent-plane offset of the best position from the target's scalp point (posterior, lateral).
    scalp_point_mm, normal : ndarray (3,)
    lift_mm : float
    ranked : list of dict
        Verified/evaluated candidates, best first (position, handle angle, value, proxy, reciprocity value).
    interpolation_rel_error : float
        Max relative difference between the interpolated reciprocity value and the direct solver value over
        the verified candidates. It includes the interpolation error and, for wire coils, the error of the
        dipole equivalent used by the reciprocity route (the direct solve uses the wires).
    n_placements : int
        Placements evaluated by the kernel.
    timings_s : dict
    settings : dict
    ranking_rel_error : float
        Max relative difference between the ranking stages' value (reduced dipole set, ranking
        interpolation) and the full-coil tricubic value, over the full-coil candidates. A ranked placement's
        value is within about ``ranking_rel_error + interpolation_rel_error`` of the direct solve.
    """

    pose: np.ndarray
    value: float
    proxy_value: float
    handle_angle_deg: float
    offset_mm: np.ndarray
    scalp_point_mm: np.ndarray
    normal: np.ndarray
    lift_mm: float
    ranked: list
    interpolation_rel_error: float
    n_placements: int
    timings_s: dict
    settings: dict = field(default_factory=dict)
    ranking_rel_error: float = float("nan")


def _ranking_dipoles(grid, rots, cents, pos_full, mom_full, quantity, interpolation, tol,
                     cells=(8.0, 6.0, 4.0, 3.0, 2.0), n_probe=128):
    """Coarsest reduced dipole set whose ranking values stay within ``tol`` of the full coil.

    The reference is the full dipole set with tricubic interpolation on ``n_probe`` placements spread over the
    coarse stage's; errors are relative to the largest reference value (the ranking decides among the best).
    The error of a reduction is not monotone in the cell size (cell edges cut the windings differently), so
    every size is tried from coarse to fine. Returns ``(cell_mm, positions, moments, probe_error)``; cell 0
    means the full set.
    """
    idx = np.unique(np.linspace(0, len(rots) - 1, min(n_probe, len(rots))).astype(int))
    r, c = rots[idx], cents[idx]
    ref = _score(grid.evaluate(r, c, pos_full, mom_full, "tricubic"), quantity)
    ok = np.isfinite(ref)
    if not ok.any():
        return 0.0, pos_full, mom_full, float("nan")
    scale = max(float(np.max(np.abs(ref[ok]))), 1e-300)

    def err(p, m):
        v = _score(grid.evaluate(r, c, p, m, interpolation), quantity)
        d = np.abs(v[ok] - ref[ok])
        return float(np.max(np.where(np.isfinite(d), d, np.inf))) / scale

    for cell in cells:
        p, m = reduce_dipoles(pos_full, mom_full, cell)
        if len(p) > 0.7 * len(pos_full):
            break   # too little reduction to be worth an error
        e = err(p, m)
        if e <= tol:
            return float(cell), p, m, e
    return 0.0, pos_full, mom_full, err(pos_full, mom_full)


def search_placement(model, head, coil, target_mm, *, quantity="magnitude", direction=None, roi_radius_mm=5.0,
                     search_radius_mm=20.0, gap_mm=4.0, coarse_step_mm=2.0, coarse_angle_deg=5.0,
                     fine_step_mm=0.5, fine_angle_deg=1.0, n_refine=5, n_full=12, n_verify=3,
                     grid_spacing_mm=3.0, ranking_cell_mm="auto", max_lift_mm=6.0, normal_radius_mm=10.0,
                     ranking_interpolation="trilinear", geometry=None, roi=None, dipole_coil=None,
                     mask_nodes=False, verify_method="fast", ranking_tol=2e-3):
    """Find the coil position and orientation maximising the target quantity.

    Parameters
    ----------
    model : object
        ``model.reciprocal_field(points, weights, eval_points)`` and ``model.efield(coil, points, pose, didt)``
        (:class:`tmsfield.SphereModel` or :class:`tmsfield.EFieldSolver`).
    head : tmsfield.Head
        ``scalp``, ``cortex``, ``landmarks``.
    coil : tmsfield.coils.Coil
    target_mm : array_like (3,)
        Cortical target, head coordinates (mm).
    quantity : {"magnitude", "normal", "direction"}
    direction : array_like (3,), optional
        For ``quantity="direction"``.
    roi_radius_mm : float
    search_radius_mm : float
        Positions within this distance (tangent-plane) of the target's closest scalp point.
    gap_mm : float
    coarse_step_mm, coarse_angle_deg, fine_step_mm, fine_angle_deg : float
        Resolutions of the coarse and refine stages.
    n_refine, n_full, n_verify : int
        Candidates refined / re-ranked with the full dipole set / checked with the full solver.
    grid_spacing_mm : float
        Adjoint-grid spacing (tricubic interpolation), default 3 mm.
    verify_method : {"fast", "direct"}
        How the ``n_verify`` best candidates are re-evaluated: the solver's fast per-placement path (when it
        has one) or full solves. The winner is always confirmed with a full solve (``model.efield``).
    mask_nodes : bool
        Compute h only at grid nodes some placement can reach (the rest stay NaN; a placement touching them
        is discarded), which saves most of the reciprocal-field evaluations.
    ranking_cell_mm : "auto" or float
        Cell size (mm) for the reduced ranking dipole set (0 = rank with the full set). ``"auto"``: the
        coarsest of 8, 6, 4, 3 and 2 mm whose ranking values are within ``ranking_tol`` (relative to the
        largest value) of the full coil with tricubic interpolation on a probe of coarse-stage placements,
        else the full set.
    ranking_tol : float
        Error budget of the ranking stages for ``ranking_cell_mm="auto"`` (default 0.2 %).
    ranking_interpolation : {"trilinear", "tricubic"}
        Interpolation of the coarse/refine ranking stages (the full-coil re-ranking is always tricubic).
    dipole_coil : Coil, optional
        Precomputed dipole equivalent of ``coil`` (wire coils are converted otherwise).
    max_lift_mm : float
        Head-room included in the grid for raising the coil when its casing would cut the scalp.

    Returns
    -------
    SearchResult

    Examples
    --------
    >>> import tmsfield
    >>> head = tmsfield.load_head("mni152")                                   # doctest: +SKIP
    >>> res = search_placement(tmsfield.EFieldSolver(head), head, tmsfield.load_coil("fig8_70mm"),
    ...                        [-38, 44, 26])                                   # doctest: +SKIP
    """
    t0 = time.perf_counter()
    geo = geometry or ScalpGeometry(head.scalp, dict(getattr(head, "landmarks", {}) or {}))
    target = np.asarray(target_mm, float).reshape(3)
    roi = roi or target_roi(head.cortex, target, roi_radius_mm)
    _functional_weights(roi, quantity, direction)  # validate early
    pos_full, mom_full = coil_dipoles(dipole_coil if dipole_coil is not None else coil)
    auto_cell = isinstance(ranking_cell_mm, str)
    if auto_cell and ranking_cell_mm != "auto":
        raise InputError(f"ranking_cell_mm must be 'auto' or a size in mm; got {ranking_cell_mm!r}")
    if not auto_cell and ranking_cell_mm and ranking_cell_mm > 0:
        pos_rank, mom_rank = reduce_dipoles(pos_full, mom_full, ranking_cell_mm)
    else:
        pos_rank, mom_rank = pos_full, mom_full
    sp0 = geo.closest_points(target[None])[0]
    ev = PlacementEvaluator(geo, coil, sp0, gap_mm, normal_radius_mm)

    # ---- grid frame and bounds: every dipole position over the disc, all angles, lift allowance
    frame = np.column_stack([ev.post0, np.cross(ev.n0, ev.post0), ev.n0])
    R = float(search_radius_mm)
    rim = np.column_stack([np.cos(np.linspace(0, 2 * np.pi, 24, endpoint=False)),
                           np.sin(np.linspace(0, 2 * np.pi, 24, endpoint=False))]) * (R + fine_step_mm)
    bab = np.vstack([_disc(R, max(coarse_step_mm, 1.0)), rim])
    bsp, bn, _, _ = ev.positions(bab)
    rho = np.hypot(pos_full[:, 0], pos_full[:, 1])
    zc = pos_full[:, 2]
    lo = np.full(3, np.inf)
    hi = np.full(3, -np.inf)
    for lift in (0.0, max_lift_mm):
        c = bsp + (gap_mm + lift) * bn                   # (B,3) centres
        zax = -bn
        cg = (c - sp0) @ frame                           # (B,3) frame coords of centres
        zg = zax @ frame                                 # (B,3)
        spread = np.sqrt(np.clip(1 - zg ** 2, 0, 1))     # (B,3)
        for k in range(3):
            base = cg[:, k:k + 1] + zc[None, :] * zg[:, k:k + 1]
            lo[k] = min(lo[k], np.min(base - rho[None, :] * spread[:, k:k + 1]))
            hi[k] = max(hi[k], np.max(base + rho[None, :] * spread[:, k:k + 1]))
    s = float(grid_spacing_mm)
    lo -= 2.5 * s
    hi += 2.5 * s
    t1 = time.perf_counter()
    # nodes some placement can touch: within the coil's radius of a centre's axis, in its dipole slab
    # (+ lift), with margins for the stencil (2 cells) and for positions between the sampled ones
    margin = 2.0 * s * np.sqrt(3.0) + max(coarse_step_mm, 1.0) * (1.0 + rho.max() / 90.0)
    cen = bsp + gap_mm * bn
    mask = (lambda nodes: needed_nodes(nodes, cen, -bn, rho.max() + margin, zc.min() - max_lift_mm - margin,
                                       zc.max() + margin)) if mask_nodes else None
    with _progress.step(f"reciprocal fields of the target ROI ({roi.points.shape[0]} cortex points) on the "
                        f"search grid"):
        grid = build_adjoint_grid(model, roi, quantity, geo, sp0, frame, lo, hi, s, direction, node_mask=mask)
    t2 = time.perf_counter()

    n_eval = 0
    # ---- coarse
    ab_c = _disc(R, coarse_step_mm)
    ang_c = np.arange(0.0, 360.0, coarse_angle_deg)
    rots, cents, _, _ = ev.poses(ab_c, ang_c)
    probe_err = None
    if auto_cell:
        ranking_cell_mm, pos_rank, mom_rank, probe_err = _ranking_dipoles(
            grid, rots, cents, pos_full, mom_full, quantity, ranking_interpolation, ranking_tol)
    Fc = grid.evaluate(rots, cents, pos_rank, mom_rank, ranking_interpolation)
    n_eval += len(rots)
    sc = _score(Fc, quantity)
    sc = np.where(np.isfinite(sc), sc, -np.inf)
    if not np.any(np.isfinite(sc)):
        raise TargetError("no coil placement could be evaluated: the coil's dipoles leave the adjoint grid or "
                          "come too close to the scalp (reduce grid_spacing_mm or increase gap_mm)")
    order = np.argsort(-sc)
    seeds = []
    for i in order:
        p_i, a_i = divmod(int(i), len(ang_c))
        cand = (ab_c[p_i], ang_c[a_i])
        if all(np.hypot(*(cand[0] - s_[0])) > coarse_step_mm or
               abs((cand[1] - s_[1] + 180) % 360 - 180) > coarse_angle_deg for s_ in seeds):
            seeds.append(cand)
        if len(seeds) >= n_refine:
            break
    t3 = time.perf_counter()
    # ---- refine
    cands = []
    offs = np.arange(-coarse_step_mm, coarse_step_mm + 1e-9, fine_step_mm)
    angs = np.arange(-coarse_angle_deg, coarse_angle_deg + 1e-9, fine_angle_deg)
    for ab0, a0 in seeds:
        oa, ob = np.meshgrid(offs, offs, indexing="ij")
        ab = ab0 + np.column_stack([oa.ravel(), ob.ravel()])
        ab = ab[np.hypot(ab[:, 0], ab[:, 1]) <= R + 1e-9]
        aa = (a0 + angs) % 360.0
        rots, cents, _, _ = ev.poses(ab, aa)
        F = grid.evaluate(rots, cents, pos_rank, mom_rank, ranking_interpolation)
        n_eval += len(rots)
        scr = np.where(np.isfinite(_score(F, quantity)), _score(F, quantity), -np.inf)
        for i in np.argsort(-scr)[:max(1, n_full // max(1, len(seeds)) + 1)]:
            p_i, a_i = divmod(int(i), len(aa))
            cands.append((ab[p_i], aa[a_i]))
    t4 = time.perf_counter()
    # ---- full dipole set with casing lift
    cp = _casing_points_safe(coil)
    rows = []
    seen = set()
    uniq = []
    for ab, a in cands:  # refine regions overlap: drop repeated candidates
        key = (round(float(ab[0]), 6), round(float(ab[1]), 6), round(float(a) % 360.0, 6))
        if key not in seen:
            seen.add(key)
            uniq.append((ab, a))
    for ab, a in uniq:
        rots, cents, sp, nn = ev.poses(ab[None], [a])
        lift = float(required_lift(geo, cp, rots, cents)[0])
        if lift > 0:
            lift = min(lift + 0.05, max_lift_mm)
            cents = cents + lift * nn
        F = grid.evaluate(rots, cents, pos_full, mom_full)
        n_eval += 1
        rows.append({"offset": ab, "angle": float(a), "rot": rots[0], "centre": cents[0], "scalp": sp[0],
                     "normal": nn[0], "lift": lift, "reciprocity": float(_score(F, quantity)[0]),
                     "F": F[0]})
    rows = [r for r in rows if np.isfinite(r["reciprocity"])]
    # the ranking stages' own error (reduced dipoles, ranking interpolation) against the full coil with
    # tricubic interpolation, at the same poses: with interpolation_rel_error (full coil vs the solver) it
    # bounds how far any ranked placement's value is from the direct solve
    ranking_err = 0.0
    if rows and (pos_rank is not pos_full or ranking_interpolation != "tricubic"):
        Fr = grid.evaluate(np.array([r["rot"] for r in rows]), np.array([r["centre"] for r in rows]),
                           pos_rank, mom_rank, ranking_interpolation)
        full = np.array([r["reciprocity"] for r in rows])
        ranking_err = float(np.nanmax(np.abs(_score(Fr, quantity) - full) / np.maximum(np.abs(full), 1e-300)))
    rows.sort(key=lambda r: -r["reciprocity"])
    t5 = time.perf_counter()
    # ---- verification with the full solver
    errs = []
    with _progress.step(f"confirming the best {min(n_verify, len(rows))} placements with the solver",
                        total=min(n_verify, len(rows)), unit="placement") as bar:
        for r in rows[:n_verify]:
            m = np.eye(4)
            m[:3, :3], m[:3, 3] = r["rot"], r["centre"]
            r["pose"] = as_pose_matrix(m)
            val, proxy = evaluate_quantity(model, coil, roi, r["pose"], quantity, direction, verify_method)
            r["value"], r["proxy"] = val, proxy
            bar.update()
    verified = rows[:n_verify]
    verified.sort(key=lambda r: -r["value"])
    best = verified[0]
    # confirm the winner with the full solve, unless the verification already was one (no fast map)
    verified_by_full_solve = not _has_fast_path(model, verify_method)
    if not verified_by_full_solve:
        with _progress.step("full solve of the best placement"):
            best["value"], best["proxy"] = evaluate_quantity(model, coil, roi, best["pose"], quantity, direction)
    errs.append(abs(best["reciprocity"] - best["proxy"]) / max(abs(best["proxy"]), 1e-300))
    if verified_by_full_solve:
        errs += [abs(r["reciprocity"] - r["proxy"]) / max(abs(r["proxy"]), 1e-300) for r in verified[1:]]
    t6 = time.perf_counter()
    ranked = [{"position_mm": (r["centre"]).tolist(), "scalp_point_mm": r["scalp"].tolist(),
               "offset_mm": [float(v) for v in r["offset"]], "handle_angle_deg": r["angle"],
               "lift_mm": r["lift"], "reciprocity_value": r["reciprocity"],
               "value": r.get("value"), "proxy_value": r.get("proxy")} for r in verified + rows[n_verify:]]
    settings = {"quantity": quantity, "direction": None if direction is None else list(map(float, direction)),
                "roi_radius_mm": float(roi.radius_mm), "roi_n_vertices": int(roi.points.shape[0]),
                "search_radius_mm": R, "gap_mm": float(gap_mm), "coarse_step_mm": coarse_step_mm,
                "coarse_angle_deg": coarse_angle_deg, "fine_step_mm": fine_step_mm,
                "fine_angle_deg": fine_angle_deg, "grid_spacing_mm": s, "grid_shape": list(grid.values.shape[:3]),
                "grid_nodes_evaluated": int(np.isfinite(grid.values[..., 0]).sum()),
                "ranking_dipoles": int(pos_rank.shape[0]), "full_dipoles": int(pos_full.shape[0]),
                "ranking_cell_mm": ranking_cell_mm, "ranking_probe_rel_error": probe_err,
                "ranking_interpolation": ranking_interpolation, "n_refine": n_refine, "n_full": n_full,
                "n_verify": n_verify,
                "normal_radius_mm": normal_radius_mm, "verify_method": verify_method, "max_lift_mm": max_lift_mm,
                "interpolation": "tricubic Lagrange (4 nodes/axis) of reciprocal fields on a regular grid"}
    return SearchResult(best["pose"], float(best["value"]), float(best["proxy"]),
                        float((best["angle"] + 180.0) % 360.0 - 180.0),
                        np.asarray(best["offset"]), best["scalp"], best["normal"], best["lift"], ranked,
                        float(max(errs)) if errs else float("nan"), n_eval,
                        {"setup": t1 - t0, "adjoint_grid": t2 - t1, "coarse": t3 - t2, "refine": t4 - t3,
                         "full_coil": t5 - t4, "verify": t6 - t5, "total": t6 - t0}, settings, ranking_err)
