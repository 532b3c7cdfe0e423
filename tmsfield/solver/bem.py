"""Surface-charge boundary element solver for the TMS-induced E-field in a layered head.

Formulation
-----------
The head is a set of closed, strictly nested triangle surfaces S_0 (outermost, e.g. the
scalp) ... S_{B-1}; compartment k (inside S_k, outside S_{k+1}) has conductivity σ_k, and
outside S_0 is air (σ = 0). The coil's primary field E_p = −∂A/∂t drives charges of
density ρ on the boundaries; their field E_s = −∇φ is the secondary field, and
E = E_p + E_s. Current continuity σ₋ E₋·n = σ₊ E₊·n across a boundary with outward unit
normal n, with the jump E₊·n − E₋·n = ρ/ε0, gives the charge equation of Barnard, Duck
& Lynn (1967, Biophys J 7: 443-462) used by the BEM-FMM of Makarov et al. (2018, J Neural
Eng 15: 046023; 2020, IEEE TBME 67: 1-12 "Boundary element fast multipole method for
enhanced modeling of neurophysiological recordings"):

    q(r) = 2K(r) [ E_p(r)·n(r) + (1/4π) PV ∫ q(r') (r − r')·n(r)/|r − r'|³ dS' ],
    K = (σ₋ − σ₊)/(σ₋ + σ₊),  q = ρ/ε0 (V/m),

σ₋ inside, σ₊ outside (K = 1 on the scalp). The charge is piecewise constant on
triangles and the equation is collocated at the centroids. Matrix entries use the exact
field of a uniformly charged flat triangle (solid angle of van Oosterom & Strackee 1983 for
the normal part, edge logarithms of Wilton et al. 1984 / Graglia 1993 for the in-plane
part; :mod:`tmsfield.kernels.triangle_integrals`) for every pair closer than
``near_factor`` triangle sizes, on the same or another surface, and the one-point
(centroid) rule beyond, summed directly (numba) or by the FMM (fmm3dpy). The self term of
a flat triangle at its own centroid has no normal principal value: the ±q/2 jump is the
``q`` on the left-hand side. On the scalp (K = 1) the operator has the equilibrium charge
in its null space (the charge of an isolated conductor, whose field inside vanishes);
it is removed by the constraint that the total charge on every closed boundary is zero
(current conservation), added as a rank-one term (deflation).

The linear system is solved by GMRES (scipy) to a relative residual
‖b − M q‖₂ / ‖b‖₂ ≤ ``tol`` (b = 2K E_p·n at the centroids).

Fast repeated placements: see :mod:`tmsfield.solver.fast_placement`.
"""

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, gmres
from scipy.spatial import cKDTree

from ..errors import ConvergenceError, InputError, MeshError, PoseError, SolverError
from ..kernels import bem as _k
from ..kernels.triangle_integrals import collapsed_gauss_rule
from ..pose import as_pose_matrix
from ..validation import as_points, as_positive_float
from .conductivity import boundary_contrasts, tissue_conductivities, triangle_contrasts
from .far_field import FarField, choose_far_field
from .near_field import iter_near_pairs, near_pairs
from .. import _progress

__all__ = ["EFieldSolver", "SolveInfo"]

_MU0_OVER_4PI = 1e-7
#: h(r) prefactor: -1e6 (A/s per A/µs) * 1e-7 (mu0/4pi) * 1e6 (1/mm² -> 1/m²)
#: FMM precision of the reciprocal-field grid sums. The grid feeds an interpolated search whose own
#: error is ~1.6e-3 and whose best candidates are re-solved in full. Measured on the 36k-triangle
#: template with 270k grid nodes (nd = 9, against eps 1e-7): eps 1e-4 → 9e-7 of the sum's norm in
#: 46 % of the time, 1e-3 → 4.6e-4 in 16 %; the search's interpolation error went from 0.158 % to
#: 0.165 % and its answer did not change (mni152_coarse, two targets).
_RECIPROCAL_FMM_EPS = 1e-3
_RECIPROCAL_PREFACTOR = -1e5
#: points per direction of the observation-averaging rule for touching triangle pairs
_TOUCH_ORDER = 6
#: the same for the other near pairs
_NEAR_ORDER = 2


@dataclass(frozen=True)
class SolveInfo:
    """Outcome of one BEM solve.

    Attributes
    ----------
    iterations : int
        GMRES inner iterations (matrix-vector products).
    residual : float
        Final relative residual ‖b − M q‖₂/‖b‖₂, recomputed after GMRES.
    tol : float
        The requested relative residual.
    seconds : float
        Wall time of the solve.
    adjoint : bool
        True for a transposed (reciprocity) solve.
    method : str
        ``"gmres"``, or ``"lu"`` for the float32 LU with iterative refinement (then ``iterations`` counts
        the refinement steps, each one float64 operator product), or ``"lu+gmres"`` when refinement
        stalled and GMRES finished from the refined solution.
    """

    iterations: int
    residual: float
    tol: float
    seconds: float
    adjoint: bool = False
    method: str = "gmres"


def _primary_efield(coil, points_mm, pose, didt):
    from ..kernels import primary_efield
    return primary_efield(coil, points_mm, pose=pose, didt=didt)


def _coil_source_points(coil, pose):
    """Head-frame positions (mm) of a coil's dipoles and wire segment end points."""
    m = as_pose_matrix(pose)
    pts = []
    for attr in ("dipole_positions_mm", "segment_start_mm", "segment_end_mm"):
        a = getattr(coil, attr, None)
        if a is not None and len(a):
            pts.append(np.asarray(a, float) @ m[:3, :3].T + m[:3, 3])
    if not pts:
        raise InputError("coil has neither dipoles nor wire segments")
    return np.concatenate(pts)


def _as_surfaces(head_or_surfaces, conductivities):
    """(surfaces, sigmas, tissue names, cortex surface or None, name)."""
    if hasattr(head_or_surfaces, "boundaries") and hasattr(head_or_surfaces, "tissues"):
        head = head_or_surfaces
        surfaces = tuple(head.boundaries)
        tissues = tuple(head.tissues)
        if len(tissues) != len(surfaces):
            raise SolverError(f"head {getattr(head, 'name', '?')!r} has {len(surfaces)} boundaries but "
                              f"{len(tissues)} tissues; they must match (tissue k lies inside boundary k)")
        hname = str(getattr(head, "name", "head"))
        if getattr(head, "sides", None) is not None and hasattr(head, "triangle_sides"):
            sides = tuple(np.asarray(a) for a in head.triangle_sides())
            if len(sides) != len(surfaces) or any(a.shape[0] != s.n_triangles for a, s in zip(sides, surfaces)):
                raise SolverError(f"head {hname!r}: sides must hold one (n_triangles, 2) array per boundary; got "
                                  f"{[a.shape for a in sides]} for {[s.n_triangles for s in surfaces]} triangles")
            if conductivities is not None and not isinstance(conductivities, Mapping):
                raise SolverError(f"conductivities for a Head must be a dict tissue -> S/m; got "
                                  f"{type(conductivities).__name__}")
            return surfaces, None, tissues, getattr(head, "cortex", None), hname, sides
        sig = tissue_conductivities(tissues, conductivities)
        return surfaces, sig, tissues, getattr(head, "cortex", None), hname, None
    try:
        surfaces = tuple(head_or_surfaces)
    except TypeError:
        surfaces = (head_or_surfaces,)
    if not surfaces:
        raise SolverError("no surfaces given: pass a Head or a sequence of nested Surfaces (outermost first)")
    for k, s in enumerate(surfaces):
        if not (hasattr(s, "vertices") and hasattr(s, "triangles")):
            raise SolverError(f"item {k} is a {type(s).__name__}, not a Surface; pass a Head or Surfaces outermost first")
    if conductivities is None:
        if len(surfaces) == 1:
            conductivities = [1.0]  # any value: a homogeneous conductor's field does not depend on it
        else:
            raise SolverError(f"{len(surfaces)} surfaces given without conductivities: pass one conductivity (S/m) "
                              f"per compartment, outermost first, e.g. [0.465, 0.010, 0.275]")
    if isinstance(conductivities, dict):
        names = [s.name for s in surfaces]
        sig = tissue_conductivities(names, conductivities)
    else:
        try:
            sig = np.asarray(conductivities, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise SolverError(f"conductivities must be numbers (S/m), one per compartment; got {conductivities!r}") from None
        if sig.shape[0] != len(surfaces):
            raise SolverError(f"{len(surfaces)} surfaces but {sig.shape[0]} conductivities; give one per compartment "
                              f"(compartment k lies inside surface k), outermost first")
    tissues = tuple(s.name for s in surfaces)
    return surfaces, sig, tissues, None, "surfaces", None


def _check_meshes(surfaces, nested=True):
    """Each surface checked (orientation repaired); strict nesting checked when ``nested``."""
    from . import mesh_check
    fixed = tuple(mesh_check.check_surface(s) for s in surfaces)
    if nested and len(fixed) > 1:
        mesh_check.check_nested(fixed)
    return fixed


def _reoriented_sides(before, after, sides):
    """Swap inside/outside of the triangles whose orientation the mesh check reversed."""
    out = []
    for s0, s1, a in zip(before, after, sides):
        t0, t1 = np.asarray(s0.triangles), np.asarray(s1.triangles)
        if t0.shape != t1.shape:
            raise SolverError(f"surface {s0.name!r}: the mesh check changed its triangles, so the head's sides no "
                              f"longer match them; repair the surface before building the Head")
        flip = np.any(t0 != t1, axis=1)
        if flip.any():
            a = a.copy()
            a[flip] = a[flip][:, ::-1]
        out.append(a)
    return tuple(out)


class EFieldSolver:
    """Surface-charge BEM for the total E-field of a TMS coil in a layered conductor.

    Parameters
    ----------
    head_or_surfaces : Head or sequence of Surface
        A ``Head`` (uses ``head.boundaries``, ``head.tissues``, ``head.cortex``) or closed,
        strictly nested surfaces in mm, outermost first. A Head with ``sides`` (the tissue inside and
        outside every triangle, :meth:`tmsfield.head.Head.triangle_sides`) need not be nested: each
        triangle gets its own contrast (:func:`tmsfield.solver.conductivity.triangle_contrasts`), the
        nesting check is skipped, and every surface with air outside carries the zero-total-charge
        constraint.
    conductivities : dict or sequence of float, optional
        S/m. For a Head: dict tissue -> S/m overriding the defaults of
        :data:`tmsfield.solver.conductivity.DEFAULT_CONDUCTIVITIES`. For surfaces: one value
        per compartment (compartment k is inside surface k), outermost first; may be omitted
        for a single surface.
    tol : float
        GMRES relative residual ‖b − M q‖₂/‖b‖₂ to reach (b = right-hand side at the
        centroids). 1e-6 is far below the discretisation error (~0.1–1 %).
    fmm : bool or "auto"
        Far-field sums by the FMM (fmm3dpy) or numba direct summation; "auto" uses the FMM
        when #sources × #targets > 2e9 (measured: numba direct is faster below).
    cortex_points : array_like (Nc, 3), mm, optional
        Where :meth:`efield_on_cortex` reports; default ``head.cortex.vertices``.
    near_factor : float
        Triangle pairs closer than ``near_factor`` × (the larger triangle's longest edge)
        are integrated exactly; beyond, the one-point rule.
    maxiter : int
        Maximum GMRES iterations (matrix-vector products) per solve.
    restart : int
        GMRES restart length.
    fast_placements : bool
        Precompute the low-rank map for :meth:`efield_on_cortex` (needs cortex points).
    check_mesh : bool
        Validate the surfaces with :mod:`tmsfield.solver.mesh_check` (orientation repaired).
    fast_options : dict, optional
        Passed to :class:`tmsfield.solver.fast_placement.FastPlacementMap`.
    factorize : bool or "lazy"
        Keep a dense float32 LU factorisation of the system matrix M and solve with it, refined
        iteratively against the float64 operator to the same ``tol`` (see :meth:`factorize`):
        ``True`` builds it now, ``"lazy"`` at the first solve, ``False`` (default) never (GMRES).
        Memory 4 T² bytes (5.2 GB for the 36k-triangle mni152 template); building it costs about as much as 5-10
        GMRES solves, after which a solve costs a triangular solve plus 1-3 operator products.
        Worth it when one head gets many solves (a batch with many rows per head).
    cache : tmsfield.cache.SetupStore, True, str or None
        On-disk set-up cache (:mod:`tmsfield.cache`): the near-field operators, the LU factors and
        the fast-placement map are read from it when an intact entry for this very mesh,
        conductivities, settings and package version exists, else built and stored. ``True``: the
        default folder (``$TMSFIELD_CACHE_DIR``, ``$XDG_CACHE_HOME/tmsfield`` or ``~/.cache/tmsfield``).
        Default None (nothing read or written).

    Attributes
    ----------
    last_solve_info : SolveInfo or None
        GMRES iterations and final relative residual of the latest solve.
    setup_seconds : float
    factorize_seconds : float or None
        Wall time of building the LU factorisation (None until built).

    Examples
    --------
    >>> import tmsfield
    >>> from tmsfield.head.sphere_mesh import icosphere
    >>> solver = EFieldSolver([icosphere(85.0, subdivisions=3, name="scalp")])
    >>> coil = tmsfield.Coil.from_dipoles([[0.0, 0.0, 0.0]], [[0.0, 0.0, 1.0]])
    >>> pose = tmsfield.CoilPose.from_axes([0, 0, 95.0], z_axis=[0, 0, -1], y_axis=[0, 1, 0])
    >>> e = solver.efield(coil, [[0.0, 0.0, 70.0]], pose=pose)
    >>> e.shape
    (1, 3)
    """

    def __init__(self, head_or_surfaces, conductivities=None, *, tol=1e-6, fmm="auto", cortex_points=None,
                 near_factor=3.0, maxiter=1000, restart=100, fast_placements=True, check_mesh=True,
                 fast_options=None, factorize=False, cache=None):
        t0 = time.perf_counter()
        from ..cache import as_store
        from ..cache import setup as _cached
        self.cache = as_store(cache)
        if factorize not in (False, True, "lazy"):
            raise InputError(f"factorize must be False, True or 'lazy'; got {factorize!r}")
        surfaces, sig, tissues, cortex, name, sides = _as_surfaces(head_or_surfaces, conductivities)
        if check_mesh:
            fixed = _check_meshes(surfaces, nested=sides is None)
            if sides is not None:
                sides = _reoriented_sides(surfaces, fixed, sides)
            surfaces = fixed
        self.surfaces = surfaces
        self.tissues = tissues
        self.name = name
        self.sides = sides
        if sides is None:
            self.conductivities = sig
            self.contrasts = boundary_contrasts(sig)
            tri_k = None
        else:
            tc = triangle_contrasts(sides, conductivities, [s.name for s in surfaces])
            self.conductivities = tc.conductivities
            tri_k = tc
            # per surface: its contrast when uniform, else NaN (see tri_contrast)
            self.contrasts = np.array([float(v[0]) if np.all(v == v[0]) else np.nan
                                       for v in np.split(tc.contrast, np.cumsum([x.n_triangles for x in surfaces])[:-1])])
        self.tol = as_positive_float(tol, "tol")
        self.maxiter = int(maxiter)
        self.restart = int(restart)
        self.near_factor = as_positive_float(near_factor, "near_factor")
        self.fmm = fmm
        self.last_solve_info = None
        self.factorize_mode = factorize
        self.factorize_seconds = None
        self._lu = None

        # --- geometry, all boundaries concatenated ---
        tv, cen, nrm, area, sid, hmax = [], [], [], [], [], []
        for k, s in enumerate(surfaces):
            v = s.vertices[s.triangles]
            tv.append(v)
            cen.append(s.centroids)
            nrm.append(s.triangle_normals)
            area.append(s.triangle_areas)
            sid.append(np.full(s.n_triangles, k))
            el = np.linalg.norm(v - np.roll(v, 1, axis=1), axis=2)
            hmax.append(el.max(axis=1))
        self.tri_vertices = np.ascontiguousarray(np.concatenate(tv))
        self.centroids = np.ascontiguousarray(np.concatenate(cen))
        self.normals = np.ascontiguousarray(np.concatenate(nrm))
        self.areas = np.concatenate(area)
        self.surface_index = np.concatenate(sid)
        self.tri_size = np.concatenate(hmax)
        self.n_triangles = int(self.centroids.shape[0])
        if tri_k is None:
            self.tri_contrast = self.contrasts[self.surface_index]
            air_out = self.surface_index == 0
        else:
            self.tri_contrast = np.ascontiguousarray(tri_k.contrast)
            air_out = tri_k.sigma_out == 0.0
        if np.any(self.areas <= 0):
            bad = int(np.flatnonzero(self.areas <= 0)[0])
            raise MeshError(f"surface {surfaces[self.surface_index[bad]].name!r} has a degenerate (zero-area) "
                            f"triangle; remove it (e.g. re-mesh or collapse the short edge)")
        self._outer = self.surface_index == 0
        self._outer_area = float(self.areas[self._outer].sum())
        # zero total charge on every closed surface with air (σ = 0) outside: one rank-one term each
        self._deflate = []
        for k in range(len(surfaces)):
            g = np.flatnonzero((self.surface_index == k) & air_out)
            if g.size:
                self._deflate.append((g, self.areas[g], float(self.areas[g].sum())))

        # --- far field and near-field corrections of the operator ---
        self._far = FarField(self.centroids, use_fmm=choose_far_field(self.n_triangles, self.n_triangles, fmm))
        self._tree = cKDTree(self.centroids)
        self._near_op = _cached.cached_near_operator(self.cache, self, self._operator_near_matrix)
        self._outer_far = FarField(self.centroids[self._outer],
                                   use_fmm=choose_far_field(int(self._outer.sum()), 20000, fmm))
        self._outer_tree = cKDTree(self.centroids[self._outer])
        self.setup_seconds_operator = time.perf_counter() - t0
        if factorize is True:
            self.factorize()

        # --- cortex points and the fast placement map ---
        if cortex_points is not None:
            cp = as_points(cortex_points, "cortex_points")
        elif cortex is not None:
            cp = np.asarray(cortex.vertices, dtype=np.float64)
        else:
            cp = None
        self.cortex_points = cp
        self._cortex_eval = None
        self.fast_map = None
        if cp is not None:
            self._cortex_eval = _cached.cached_evaluation_operator(
                self.cache, self, cp, lambda: self._evaluation_operator(cp, "cortex points"))
            if fast_placements:
                from .fast_placement import FastPlacementMap
                self.fast_map = FastPlacementMap(self, **{"store": self.cache, **(fast_options or {})})
        self.setup_seconds = time.perf_counter() - t0

    # ------------------------------------------------------------------ operator
    def _near_pairs(self, points, tree_points=None):
        """Pairs (point index, triangle index) closer than near_factor × the triangle's own size.

        Searched per triangle-size class (:mod:`tmsfield.solver.near_field`): memory O(P·k).
        """
        return near_pairs(points, self.centroids, self.near_factor * self.tri_size, tree_points)

    def _touching_pairs(self):
        """(i, j), i != j, of triangles sharing at least one vertex on the same surface."""
        rows, cols = [], []
        off = 0
        for s in self.surfaces:
            nt = s.n_triangles
            inc = sp.csr_matrix((np.ones(3 * nt), (np.repeat(np.arange(nt), 3), s.triangles.ravel())),
                                shape=(nt, s.n_vertices))
            adj = (inc @ inc.T).tocoo()
            keep = adj.row != adj.col
            rows.append(adj.row[keep] + off)
            cols.append(adj.col[keep] + off)
            off += nt
        return np.concatenate(rows).astype(np.int64), np.concatenate(cols).astype(np.int64)

    def _operator_near_matrix(self):
        """Sparse near-field part of the normal operator (exact minus one-point rule).

        Triangles sharing a vertex: exact source integral averaged over the observation
        triangle (collapsed Gauss rule of ``_TOUCH_ORDER``² points) — centroid
        collocation of flat facets misses the logarithmic edge field of the neighbouring
        facet, an O(h) error. Other near pairs: the same with ``_NEAR_ORDER``² points.
        """
        n = self.n_triangles
        ti, tj = self._touching_pairs()
        touch_keys = np.sort(ti * n + tj)
        bary_t, wq_t = collapsed_gauss_rule(_TOUCH_ORDER)
        bary_n, wq_n = collapsed_gauss_rule(_NEAR_ORDER)
        args = (self.tri_vertices, self.centroids, self.areas, self.normals)
        rows = [ti.astype(np.int32)]
        cols = [tj.astype(np.int32)]
        vals = [_k.near_normal_corrections_averaged(ti, tj, *args, bary_t, wq_t)]
        n_pairs = ti.size
        with _progress.step(f"near-field pairs of the BEM operator ({n:,} triangles)") as bar:
            for i, j in iter_near_pairs(self.centroids, self.centroids, self.near_factor * self.tri_size, self._tree):
                keys = i * n + j
                keep = i != j
                if touch_keys.size:     # touching pairs have their own, finer rule above
                    pos = np.minimum(np.searchsorted(touch_keys, keys), touch_keys.size - 1)
                    keep &= touch_keys[pos] != keys
                i, j = np.ascontiguousarray(i[keep]), np.ascontiguousarray(j[keep])
                vals.append(_k.near_normal_corrections_averaged(i, j, *args, bary_n, wq_n))
                rows.append(i.astype(np.int32))
                cols.append(j.astype(np.int32))
                n_pairs += i.size
                bar.postfix(f"{n_pairs:,} pairs")
        self.n_near_pairs = int(n_pairs)
        m = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
        del rows, cols, vals
        return m.tocsr()

    def _evaluation_operator(self, points, what):
        """Near-field correction matrix (3P × T) for the field at points, after the inside check."""
        self._require_inside(points, what)
        i, j = self._near_pairs(points)
        corr = _k.near_field_corrections(points, i, j, self.tri_vertices, self.centroids, self.areas)
        p = points.shape[0]
        rows = (3 * i[:, None] + np.arange(3)[None, :]).ravel()
        cols = np.repeat(j, 3)
        return points, sp.csr_matrix((corr.ravel(), (rows, cols)), shape=(3 * p, self.n_triangles))

    def _double_layer_normal(self, q):
        """(A q)_i = n_i · (1/4π) Σ_j q_j ∫_Tj (c_i − r')/|c_i − r'|³ dS' (no self term)."""
        e = self._far.charge_field(self.centroids, self.areas * q, targets_are_sources=True)
        return np.einsum("ij,ij->i", e, self.normals) + self._near_op @ q

    def _double_layer_normal_adjoint(self, x):
        """Aᵀ x."""
        phi = self._far.dipole_potential(self.centroids, self.normals * x[:, None], targets_are_sources=True)
        return -self.areas * phi / (4 * np.pi) + self._near_op.T @ x

    def _matvec(self, q):
        out = q - 2.0 * self.tri_contrast * self._double_layer_normal(q)
        for g, a, total in self._deflate:
            out[g] += a @ q[g] / total
        return out

    def _rmatvec(self, y):
        out = y - self._double_layer_normal_adjoint(2.0 * self.tri_contrast * y)
        for g, a, total in self._deflate:
            out[g] += a * (y[g].sum() / total)
        return out

    def _operator(self, adjoint=False):
        n = self.n_triangles
        return LinearOperator((n, n), matvec=self._rmatvec if adjoint else self._matvec, dtype=np.float64)

    def dense_matrix(self, dtype=np.float64):
        """The full system matrix M (T × T) — for small meshes and the fast map.

        Built from the same near/far split as the matrix-free operator (far part by the
        one-point rule), so ``dense_matrix() @ q`` equals the operator used by GMRES. Memory:
        T² × 4 bytes (float32) plus, for float64, a second T² × 8 bytes.
        """
        m = _k.normal_field_matrix_f32(self.centroids, self.normals, self.areas)
        if np.dtype(dtype) != np.float32:
            m = m.astype(dtype)
        near = self._near_op.tocoo()
        np.add.at(m, (near.row, near.col), near.data.astype(m.dtype))
        m *= (-2.0 * self.tri_contrast).astype(m.dtype)[:, None]
        m[np.diag_indices_from(m)] += 1.0
        for o, a, total in self._deflate:
            if o.size == m.shape[0]:
                m += (a / total).astype(m.dtype)[None, :]
            else:
                row = (a / total).astype(m.dtype)
                for i in o:
                    m[i, o] += row
        return m

    # ------------------------------------------------------------------ solves
    def factorize(self):
        """Build (once) the dense float32 LU factorisation of the system matrix M used by later solves.

        M is assembled by :meth:`dense_matrix` (float32, the same near/far split as the matrix-free
        operator) and factorised in place by LAPACK ``sgetrf`` (scipy ``lu_factor``) as Mᵀ, so no
        second T × T copy is made: memory 4 T² bytes (5.2 GB for the 36k-triangle mni152 template). Solves then apply
        the factors (``sgetrs``) and refine iteratively against the float64 operator (Wilkinson's
        mixed-precision iterative refinement; Moler 1967, J ACM 14:316-321; Higham, *Accuracy and
        Stability of Numerical Algorithms*, 2nd ed., ch. 12): x ← x + LU⁻¹(b − M x) until
        ‖b − M x‖₂/‖b‖₂ ≤ ``tol``, the same criterion as GMRES. Each step gains ~7 − log10 cond(M)
        digits, so 1e-6 takes 1-3 steps. If refinement stalls (cond(M) ≳ 1e6), GMRES finishes from
        the refined solution.

        Returns
        -------
        EFieldSolver
            ``self`` (``factorize_seconds`` set).

        Examples
        --------
        >>> from tmsfield.head.sphere_mesh import icosphere
        >>> s = EFieldSolver([icosphere(85.0, subdivisions=2, name="scalp")]).factorize()
        >>> s.solve_charges(np.ones(s.n_triangles)).shape, s.last_solve_info.method
        ((320,), 'lu')
        """
        if self._lu is None:
            import scipy.linalg as sla
            from ..cache.setup import cached_lu
            t0 = time.perf_counter()

            def build():
                # dense_matrix is C-ordered, so its .T is a Fortran-ordered view of Mᵀ: factorised in place
                return sla.lu_factor(self.dense_matrix(np.float32).T, overwrite_a=True, check_finite=False)
            self._lu = cached_lu(self.cache, self, build)
            self.factorize_seconds = time.perf_counter() - t0
        return self

    @property
    def factorized(self):
        """True when the LU factorisation has been built (see :meth:`factorize`)."""
        return self._lu is not None

    def _solve(self, rhs, adjoint=False, maxiter=None):
        """M x = rhs (or Mᵀ x = rhs) for rhs (T,) or (T, K), by the LU path when enabled, else GMRES.

        Returns x of rhs's shape; ``last_solve_info`` describes the last column.
        """
        if self._lu is None and self.factorize_mode == "lazy":
            self.factorize()
        r = np.asarray(rhs, dtype=np.float64)
        cols = r.reshape(r.shape[0], -1)
        if self._lu is not None:
            x = self._lu_refined(cols, adjoint, maxiter)
        else:
            x = np.column_stack([self._gmres(cols[:, k], adjoint=adjoint, maxiter=maxiter)[0]
                                 for k in range(cols.shape[1])])
        return x.reshape(r.shape)

    _MAX_REFINE = 6

    def _lu_refined(self, rhs, adjoint, maxiter=None):
        """Columns of rhs (T, K) solved with the float32 LU + float64 iterative refinement."""
        import scipy.linalg as sla
        t0 = time.perf_counter()
        lu = self._lu
        trans = 0 if adjoint else 1          # the factors are of Mᵀ

        def apply(r):
            scale = np.max(np.abs(r), axis=0)
            scale[scale == 0] = 1.0          # float32 range: solve for r/scale
            y = sla.lu_solve(lu, (r / scale).astype(np.float32), trans=trans, check_finite=False)
            return y.astype(np.float64) * scale

        op = self._rmatvec if adjoint else self._matvec
        bnorm = np.linalg.norm(rhs, axis=0)
        x = np.zeros_like(rhs)
        nz = bnorm > 0
        res = np.zeros(rhs.shape[1])
        steps = np.zeros(rhs.shape[1], dtype=int)
        if nz.any():
            x[:, nz] = apply(rhs[:, nz])
        resid = np.zeros_like(rhs)
        for k in np.flatnonzero(nz):
            resid[:, k] = rhs[:, k] - op(x[:, k])
            res[k] = np.linalg.norm(resid[:, k]) / bnorm[k]
        method = ["lu"] * rhs.shape[1]
        target = self.tol
        for _ in range(self._MAX_REFINE):
            act = np.flatnonzero(nz & (res > target))
            if act.size == 0:
                break
            x[:, act] += apply(resid[:, act])
            for k in act:
                prev = res[k]
                resid[:, k] = rhs[:, k] - op(x[:, k])
                res[k] = np.linalg.norm(resid[:, k]) / bnorm[k]
                steps[k] += 1
                if res[k] > 0.5 * prev:      # stalled: hand over to GMRES below
                    nz[k] = nz[k] and res[k] <= target
        for k in np.flatnonzero((bnorm > 0) & (res > target)):
            x[:, k], info = self._gmres(rhs[:, k], adjoint=adjoint, maxiter=maxiter, x0=x[:, k])
            res[k], steps[k], method[k] = info.residual, steps[k] + info.iterations, "lu+gmres"
        k = rhs.shape[1] - 1
        self.last_solve_info = SolveInfo(int(steps[k]), float(res[k]), self.tol, time.perf_counter() - t0,
                                         adjoint, method[k])
        return x

    def _gmres(self, rhs, adjoint=False, maxiter=None, x0=None):
        t0 = time.perf_counter()
        maxiter = self.maxiter if maxiter is None else int(maxiter)
        bnorm = float(np.linalg.norm(rhs))
        if bnorm == 0.0:
            info = SolveInfo(0, 0.0, self.tol, 0.0, adjoint)
            self.last_solve_info = info
            return np.zeros_like(rhs), info
        op = self._operator(adjoint)
        restart = max(1, min(self.restart, maxiter))
        count = [0]

        def cb(_):
            count[0] += 1

        if x0 is not None:   # scipy's rtol is relative to ||b||, so a good x0 simply needs fewer iterations
            x0 = np.asarray(x0, dtype=np.float64)
        x, _ = gmres(op, rhs, x0=x0, rtol=self.tol, atol=0.0, restart=restart,
                     maxiter=max(1, math.ceil(maxiter / restart)), callback=cb, callback_type="pr_norm")
        res = float(np.linalg.norm(rhs - op.matvec(x)) / bnorm)
        info = SolveInfo(int(count[0]), res, self.tol, time.perf_counter() - t0, adjoint)
        self.last_solve_info = info
        if not res <= self.tol * 1.0001:
            raise ConvergenceError(f"GMRES did not converge: relative residual {res:.3e} after {count[0]} "
                                   f"iterations (tol {self.tol:.1e}). Raise maxiter (now {maxiter}), loosen tol, "
                                   f"or check the meshes (very thin layers or tiny triangles slow convergence).")
        return x, info

    def primary_normal_field(self, coil, pose=None, didt=1.0):
        """E_p·n (V/m) at every triangle centroid, all boundaries concatenated; (T,)."""
        self._require_outside_scalp(coil, pose)
        ep = _primary_efield(coil, self.centroids, pose, didt)
        return np.einsum("ij,ij->i", ep, self.normals)

    def solve_charges(self, normal_primary, maxiter=None):
        """Charge density q (V/m, = ρ/ε0) per triangle for a given E_p·n at the centroids.

        Parameters
        ----------
        normal_primary : ndarray, shape (T,)
            Normal primary field (V/m) at the triangle centroids (see
            :meth:`primary_normal_field`).
        maxiter : int, optional
            Overrides the solver's GMRES iteration limit.

        Returns
        -------
        ndarray, shape (T,)
            Solved by GMRES, or by the LU factorisation with iterative refinement when the solver
            was built with ``factorize`` (either way to ‖b − M q‖₂/‖b‖₂ ≤ ``tol``).

        Raises
        ------
        ConvergenceError
            GMRES did not reach ``tol``; the message gives the residual reached.

        Examples
        --------
        >>> from tmsfield.head.sphere_mesh import icosphere
        >>> s = EFieldSolver([icosphere(85.0, subdivisions=2, name="scalp")])
        >>> s.solve_charges(np.zeros(s.n_triangles)).shape
        (320,)
        """
        b = np.asarray(normal_primary, dtype=np.float64).reshape(-1)
        if b.shape[0] != self.n_triangles:
            raise InputError(f"normal_primary must have one value per triangle ({self.n_triangles}); got {b.shape[0]}")
        return self._solve(2.0 * self.tri_contrast * b, maxiter=maxiter)

    def secondary_efield(self, q, points_mm):
        """Field (V/m) of the charges q at points (near-field accurate); (N, 3).

        Examples
        --------
        >>> from tmsfield.head.sphere_mesh import icosphere
        >>> s = EFieldSolver([icosphere(85.0, subdivisions=2, name="scalp")])
        >>> s.secondary_efield(np.zeros(s.n_triangles), [[0, 0, 10.0]]).shape
        (1, 3)
        """
        pts = as_points(points_mm, "points_mm")
        _, near = self._evaluation_operator(pts, "points_mm")
        return self._secondary(q, pts, near)

    def _secondary(self, q, pts, near):
        far = self._far if not self._far.use_fmm else self._far
        use_fmm = choose_far_field(self.n_triangles, pts.shape[0], self.fmm)
        ff = far if far.use_fmm == use_fmm else FarField(self.centroids, use_fmm=use_fmm)
        e = ff.charge_field(pts, self.areas * q)
        return e + (near @ q).reshape(-1, 3)

    # ------------------------------------------------------------------ checks
    def winding_number(self, points_mm):
        """Winding number of the outermost surface around points: ≈1 inside, ≈0 outside; (N,).

        Exact solid angles for triangles within ``near_factor`` sizes of a point, the
        one-point (dipole) approximation beyond, so the value is accurate to ~1e-2: use it
        with a 0.5 threshold.

        Examples
        --------
        >>> from tmsfield.head.sphere_mesh import icosphere
        >>> s = EFieldSolver([icosphere(85.0, subdivisions=2, name="scalp")])
        >>> (s.winding_number([[0, 0, 0.0], [0, 0, 100.0]]) > 0.5).tolist()
        [True, False]
        """
        pts = as_points(points_mm, "points_mm")
        o = np.flatnonzero(self._outer)
        phi = self._outer_far.dipole_potential(pts, self.normals[o] * self.areas[o][:, None])
        i, j = near_pairs(pts, self.centroids[o], self.near_factor * self.tri_size[o])
        j = np.ascontiguousarray(o[j])
        corr = _k.near_solid_angle_corrections(pts, i, j, self.tri_vertices, self.centroids, self.areas, self.normals)
        omega = phi + np.bincount(i, weights=corr, minlength=pts.shape[0])
        return -omega / (4 * np.pi)

    def _require_inside(self, points, what):
        w = self.winding_number(points)
        bad = np.flatnonzero(w < 0.5)
        if bad.size:
            p = points[bad[0]]
            raise InputError(f"{bad.size} of {points.shape[0]} {what} lie outside the conductor (outside surface "
                             f"{self.surfaces[0].name!r}); the first is row {bad[0]} at ({p[0]:.2f}, {p[1]:.2f}, "
                             f"{p[2]:.2f}) mm. The E-field is defined only inside the head: drop those points.")

    def _require_outside_scalp(self, coil, pose):
        src = _coil_source_points(coil, pose)
        w = self.winding_number(src)
        bad = np.flatnonzero(w > 0.5)
        if bad.size:
            p = src[bad[0]]
            raise PoseError(f"the coil intersects the head: {bad.size} of its {src.shape[0]} source points lie inside "
                            f"surface {self.surfaces[0].name!r} (first at ({p[0]:.1f}, {p[1]:.1f}, {p[2]:.1f}) mm). "
                            f"Move the coil out along its z axis (pose centre further from the scalp).")

    # ------------------------------------------------------------------ fields
    def efield(self, coil, points_mm, pose=None, didt=1.0):
        """Total E-field (V/m) of a coil at points inside the conductor, by a full BEM solve.

        Parameters
        ----------
        coil : tmsfield.Coil
        points_mm : array_like, shape (N, 3), mm, head coordinates
            Must lie inside the outermost surface.
        pose : None, CoilPose or array_like (4, 4)
            Coil→head transform (mm).
        didt : float
            Coil current slope, A/µs.

        Returns
        -------
        ndarray, shape (N, 3), V/m
            Primary (−∂A/∂t) plus secondary (charges) field. GMRES statistics in
            ``last_solve_info``.

        Raises
        ------
        InputError
            Points outside the conductor (message gives how many and the first).
        PoseError
            The coil's sources lie inside the scalp.
        ConvergenceError
            GMRES did not converge.

        Examples
        --------
        >>> import tmsfield
        >>> from tmsfield.head.sphere_mesh import icosphere
        >>> solver = EFieldSolver([icosphere(85.0, subdivisions=3, name="scalp")])
        >>> coil = tmsfield.Coil.from_dipoles([[0.0, 0.0, 0.0]], [[1.0, 0.0, 0.0]])
        >>> pose = tmsfield.CoilPose.from_axes([0, 0, 95.0], z_axis=[0, 0, -1], y_axis=[0, 1, 0])
        >>> solver.efield(coil, [[0.0, 0.0, 0.0]], pose=pose).shape
        (1, 3)
        """
        didt = as_positive_float(didt, "didt")
        pts = as_points(points_mm, "points_mm")
        _, near = self._evaluation_operator(pts, "points_mm")
        b = self.primary_normal_field(coil, pose, didt)
        q = self.solve_charges(b)
        return _primary_efield(coil, pts, pose, didt) + self._secondary(q, pts, near)

    def efield_on_cortex(self, coil, pose=None, didt=1.0, *, method="auto"):
        """Total E-field (V/m) at the cortex points (``head.cortex.vertices`` or ``cortex_points``).

        Parameters
        ----------
        coil : tmsfield.Coil
        pose : None, CoilPose or array_like (4, 4)
        didt : float
            A/µs.
        method : {"auto", "fast", "direct"}
            "fast": precomputed low-rank map (see :mod:`tmsfield.solver.fast_placement`,
            error vs the direct solve ≲ 0.5 %); "direct": full GMRES solve; "auto": fast when
            the map exists.

        Returns
        -------
        ndarray, shape (Nc, 3), V/m

        Examples
        --------
        >>> import tmsfield
        >>> from tmsfield.head.sphere_mesh import icosphere
        >>> solver = EFieldSolver([icosphere(85.0, subdivisions=3, name="scalp")],
        ...                       cortex_points=[[0, 0, 70.0]], fast_placements=False)
        >>> coil = tmsfield.Coil.from_dipoles([[0.0, 0.0, 0.0]], [[1.0, 0.0, 0.0]])
        >>> pose = tmsfield.CoilPose.from_axes([0, 0, 95.0], z_axis=[0, 0, -1], y_axis=[0, 1, 0])
        >>> solver.efield_on_cortex(coil, pose).shape
        (1, 3)
        """
        if self.cortex_points is None:
            raise SolverError("no cortex points: build the solver from a Head with a cortex or pass cortex_points=")
        if method not in ("auto", "fast", "direct"):
            raise InputError(f"method must be 'auto', 'fast' or 'direct'; got {method!r}")
        didt = as_positive_float(didt, "didt")
        if method == "fast" and self.fast_map is None:
            raise SolverError("fast placements were not precomputed; build the solver with fast_placements=True")
        if method != "direct" and self.fast_map is not None:
            return self.fast_map.efield(coil, pose, didt)
        pts, near = self._cortex_eval
        b = self.primary_normal_field(coil, pose, didt)
        q = self.solve_charges(b)
        return _primary_efield(coil, pts, pose, didt) + self._secondary(q, pts, near)

    # ------------------------------------------------------------------ reciprocity
    def reciprocal_field(self, points_mm, weights, eval_points_mm):
        """Reciprocal field h (V/m per A·m²) such that F = Σ_i m_i·h(r_i) for any dipole coil.

        F = Σ_j weights_j · E_total(points_j) (V/m, didt = 1 A/µs) for a magnetic-dipole
        coil with dipoles at head positions r_i (mm) and moments m_i (A·m² per A, head
        frame). Computed with one adjoint (transposed) BEM solve: F_secondary = v·e_n with
        v = 2K M⁻ᵀ Sᵀ w (e_n = E_p·n at the centroids, S the charge-to-field map), so h is a
        Biot–Savart-type sum over "current elements" w_j at the points and v_i n_i at the
        centroids (w·(m × d) = m·(d × w)).

        Parameters
        ----------
        points_mm : array_like (Np, 3), mm — inside the conductor
        weights : array_like (Np, 3) — the linear functional's weights (dimensionless)
        eval_points_mm : array_like (M, 3), mm — candidate dipole positions (outside the scalp)

        Returns
        -------
        ndarray, shape (M, 3)
            h(r) in V/m per (A·m² per A) for didt = 1 A/µs; multiply by didt for others.

        Examples
        --------
        >>> from tmsfield.head.sphere_mesh import icosphere
        >>> s = EFieldSolver([icosphere(85.0, subdivisions=3, name="scalp")])
        >>> s.reciprocal_field([[0, 0, 70.0]], [[1.0, 0, 0]], [[0, 0, 95.0]]).shape
        (1, 3)
        """
        pts = as_points(points_mm, "points_mm")
        from ..validation import as_vectors
        w = as_vectors(weights, pts.shape[0], "weights")
        return self.reciprocal_fields(pts, w[None], eval_points_mm)[0]

    def reciprocal_fields(self, points_mm, weights_stack, eval_points_mm):
        """Reciprocal fields h_k (V/m per A·m²) of K linear functionals at once; (K, M, 3).

        Same semantics as :meth:`reciprocal_field` for each functional
        F_k = Σ_j weights_stack[k, j] · E_total(points_j): F_k = Σ_i m_i·h_k(r_i) for any
        magnetic-dipole coil. K adjoint BEM solves (one blocked LU solve when the solver is
        factorised), then ONE far-field evaluation for all K:
        h_k(t) = Σ_c ∇_t(1/|t − c|) × a_{k,c} (Biot–Savart-type, vector "charges" a at the
        points and centroids, one-point centroid rule as in :meth:`reciprocal_field`), i.e. the
        gradients of 3K Laplace potentials, summed by the FMM (fmm3dpy, ``nd = 3K``) when
        sources × targets is large (``fmm="auto"``) and by the numba direct sum otherwise.

        Parameters
        ----------
        points_mm : array_like (Np, 3), mm — inside the conductor
        weights_stack : array_like (K, Np, 3) — the K functionals' weights (dimensionless)
        eval_points_mm : array_like (M, 3), mm — candidate dipole positions (outside the scalp)

        Returns
        -------
        ndarray, shape (K, M, 3)
            h_k(r) in V/m per (A·m² per A) for didt = 1 A/µs; multiply by didt for others.

        Examples
        --------
        >>> from tmsfield.head.sphere_mesh import icosphere
        >>> s = EFieldSolver([icosphere(85.0, subdivisions=3, name="scalp")])
        >>> w = np.stack([np.eye(3)[k][None] for k in range(3)])
        >>> s.reciprocal_fields([[0, 0, 70.0]], w, [[0, 0, 95.0], [0, 10, 96.0]]).shape
        (3, 2, 3)
        """
        pts = as_points(points_mm, "points_mm")
        from ..validation import as_vectors
        ws = np.asarray(weights_stack, dtype=np.float64)
        if ws.ndim != 3 or ws.shape[0] < 1:
            raise InputError(f"weights_stack must have shape (K, {pts.shape[0]}, 3); got {ws.shape}")
        ws = np.stack([as_vectors(wk, pts.shape[0], "weights_stack[k]") for wk in ws])
        n_fun = ws.shape[0]
        ev = as_points(eval_points_mm, "eval_points_mm")
        _, near = self._evaluation_operator(pts, "points_mm")
        # S^T w: far part -(a_j/4π) Σ_p w_p·(c_j − p)/|c_j − p|³, near part near^T w
        ff = FarField(pts, use_fmm=choose_far_field(pts.shape[0], self.n_triangles, self.fmm))
        pot = ff.dipole_potential(self.centroids, np.ascontiguousarray(np.transpose(ws, (1, 2, 0))))  # (T, K)
        src = np.concatenate([pts, self.centroids])
        vecs = np.empty((n_fun, src.shape[0], 3))
        stw = np.column_stack([-self.areas * pot[:, k] / (4 * np.pi) + near.T @ ws[k].ravel() for k in range(n_fun)])
        ys = self._solve(stw, adjoint=True)          # (T, K): one LU pass for all K when factorised
        for k in range(n_fun):
            vecs[k, :pts.shape[0]] = ws[k]
            vecs[k, pts.shape[0]:] = (2.0 * self.tri_contrast * ys[:, k])[:, None] * self.normals
        return _RECIPROCAL_PREFACTOR * self._current_element_fields(ev, src, vecs)

    def _current_element_fields(self, targets, sources, vectors):
        """Σ_j ((s_j − t) × a_kj)/|s_j − t|³ for vectors (K, S, 3) -> (K, N, 3) (no prefactor).

        = Σ_c ∇_t(1/|t − s|) × a: with G_kc = Σ_j a_kjc ∇_t(1/|t − s_j|) (gradient of the
        potential of the scalar density a_kc), h_k = Σ_c G_kc × e_c. FarField.charge_field
        returns (1/4π) Σ w (t − s)/|t − s|³ = −(1/4π) ∇ Σ w/|t − s|, so G = −4π × that.
        """
        n_fun = vectors.shape[0]
        if not choose_far_field(sources.shape[0], targets.shape[0], self.fmm):
            return np.stack([_k.current_element_field_direct(targets, sources, np.ascontiguousarray(vectors[k]))
                             for k in range(n_fun)])
        dens = np.ascontiguousarray(np.transpose(vectors, (1, 0, 2)).reshape(sources.shape[0], 3 * n_fun))
        g = FarField(sources, use_fmm=True, eps=_RECIPROCAL_FMM_EPS).charge_field(targets, dens)  # (N, 3, 3K)
        g = (-4 * np.pi) * g.reshape(targets.shape[0], 3, n_fun, 3)           # [t, grad comp d, k, density c]
        out = np.empty((n_fun, targets.shape[0], 3))
        out[:, :, 0] = (g[:, 1, :, 2] - g[:, 2, :, 1]).T
        out[:, :, 1] = (g[:, 2, :, 0] - g[:, 0, :, 2]).T
        out[:, :, 2] = (g[:, 0, :, 1] - g[:, 1, :, 0]).T
        return out
