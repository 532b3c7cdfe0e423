"""Fast repeated coil placements: a precomputed low-rank map from boundary field to cortex field.

The secondary field at fixed cortex points is a linear function of the normal primary
field b = E_p·n at the triangle centroids:

    E_s = G b,   G = S M⁻¹ diag(2K)   (3Nc × T),

with M the BEM system matrix and S the charge-to-field map at the cortex points. Because
the cortex lies well inside the scalp, G is strongly smoothing and numerically of low rank
(it filters out the fine detail of b near the coil). The map is built once per head by a
randomized SVD of G (Halko, Martinsson & Tropp 2011, SIAM Rev 53: 217, with one power
iteration), using a dense LU factorisation of M (T ≤ ``dense_limit``) or GMRES per column:

    Y = Gᵀ Ω (Ω Gaussian, 3Nc × (k + p)),  Y ← Gᵀ G Y,  Z = orth(Y),  W = G Z = U Σ Vᵀ,
    response = U_k Σ_k  (3Nc × k),   projector = Z V_k  (T × k).

G applications need S (charge field at the cortex, FMM or direct) and M⁻¹; Gᵀ needs Sᵀ
(dipole potentials) and M⁻ᵀ — the same operators as the direct solver.

Per placement: the normal primary field at the T centroids and the primary field at the
Nc cortex points (two calls of the coil's Biot–Savart kernel), then
E = E_p(cortex) + response · (projectorᵀ b): two small dense products. The truncation
error is measured by ``tests/test_bem_fast_placement.py`` against the full solve, on coil
poses that played no part in building the map (≤ 0.5 % relative L2); ``relative_tail``
gives the first discarded singular value relative to the largest.
"""

import time

import numpy as np
import scipy.linalg as sla

from ..errors import PoseError
from .bem import _coil_source_points, _primary_efield
from .far_field import FarField, choose_far_field

__all__ = ["FastPlacementMap"]


class FastPlacementMap:
    """Low-rank precomputed map for :meth:`EFieldSolver.efield_on_cortex` (see module doc).

    Parameters
    ----------
    solver : EFieldSolver
        With cortex points.
    rank : int
        Number k of singular triplets of G kept (capped at min(T, 3Nc)).
    oversample : int
        Extra random vectors p of the randomized SVD.
    power_iterations : int
        Power iterations (each costs one more G and Gᵀ application).
    dense_limit : int
        Use a dense LU factorisation of M up to this many triangles (memory 8 T² bytes).
    seed : int
        Seed of the random test matrix (the map is deterministic for a given head).

    Attributes
    ----------
    rank : int
    singular_values : ndarray
        Singular values of G Z (estimates of those of G), V/m per V/m.
    relative_tail : float
        First discarded singular value / largest (0 when nothing was discarded).
    setup_seconds : float
    method : str

    Examples
    --------
    >>> from tmsfield.head.sphere_mesh import icosphere
    >>> from tmsfield.solver.bem import EFieldSolver
    >>> s = EFieldSolver([icosphere(85.0, subdivisions=2, name="scalp")], cortex_points=[[0, 0, 70.0]],
    ...                  fast_options={"rank": 3})
    >>> s.fast_map.rank
    3
    """

    def __init__(self, solver, *, rank=250, oversample=20, power_iterations=1, dense_limit=16000, seed=0):
        t0 = time.perf_counter()
        self.solver = solver
        pts, near = solver._cortex_eval
        n, nc3 = solver.n_triangles, 3 * pts.shape[0]
        k = int(min(rank, n, nc3))
        ell = int(min(k + oversample, n, nc3))
        d2k = 2.0 * solver.tri_contrast
        if n <= dense_limit:
            lu = sla.lu_factor(solver.dense_matrix(), overwrite_a=True, check_finite=False)

            def solve(rhs, trans=0):
                return sla.lu_solve(lu, rhs, trans=trans, check_finite=False)
            self.method = "dense LU"
        else:
            def solve(rhs, trans=0):
                return np.column_stack([solver._gmres(rhs[:, j], adjoint=bool(trans))[0] for j in range(rhs.shape[1])])
            self.method = "GMRES per column"
        far_fwd = FarField(solver.centroids, use_fmm=choose_far_field(n, pts.shape[0], solver.fmm))
        far_adj = FarField(pts, use_fmm=choose_far_field(n, pts.shape[0], solver.fmm))

        def g(x):  # (T, L) -> (3Nc, L)
            q = solve(d2k[:, None] * x)
            return far_fwd.charge_field(pts, solver.areas[:, None] * q).reshape(nc3, -1) + near @ q

        def gt(y):  # (3Nc, L) -> (T, L)
            dip = y.reshape(pts.shape[0], 3, -1)
            st = -solver.areas[:, None] * far_adj.dipole_potential(solver.centroids, dip) / (4 * np.pi)
            st += near.T @ y
            return d2k[:, None] * solve(st, trans=1)

        rng = np.random.default_rng(seed)
        y = gt(rng.standard_normal((nc3, ell)))
        for _ in range(int(power_iterations)):
            z, _ = np.linalg.qr(y)
            w, _ = np.linalg.qr(g(z))
            y = gt(w)
        z, _ = np.linalg.qr(y)
        w = g(z)
        uw, sv, vwt = np.linalg.svd(w, full_matrices=False)
        self.singular_values = sv
        self.relative_tail = float(sv[k] / sv[0]) if sv.size > k and sv[0] > 0 else 0.0
        self.rank = k
        self.response = np.ascontiguousarray(uw[:, :k] * sv[:k])      # (3Nc, k)
        self.projector = np.ascontiguousarray(z @ vwt[:k].T)           # (T, k)
        self.setup_seconds = time.perf_counter() - t0

    def _check_pose(self, coil, pose):
        s = self.solver
        src = _coil_source_points(coil, pose)
        _, idx = s._outer_tree.query(src)
        o = np.flatnonzero(s._outer)[idx]
        side = np.einsum("ij,ij->i", src - s.centroids[o], s.normals[o])
        suspect = np.flatnonzero(side < 0)
        if suspect.size and np.any(s.winding_number(src[suspect]) > 0.5):
            s._require_outside_scalp(coil, pose)
            raise PoseError("the coil intersects the head")  # pragma: no cover - raised above

    def efield(self, coil, pose=None, didt=1.0):
        """Total E-field (V/m) at the solver's cortex points; (Nc, 3)."""
        self._check_pose(coil, pose)
        s = self.solver
        both = _primary_efield(coil, self._points_both, pose, didt)
        nc = s.cortex_points.shape[0]
        b = np.einsum("ij,ij->i", both[nc:], s.normals)
        return both[:nc] + (self.response @ (self.projector.T @ b)).reshape(-1, 3)

    @property
    def _points_both(self):
        pb = getattr(self, "_pb", None)
        if pb is None:
            pb = np.ascontiguousarray(np.concatenate([self.solver.cortex_points, self.solver.centroids]))
            self._pb = pb
        return pb
