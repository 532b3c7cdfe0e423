"""Fast repeated coil placements: a precomputed low-rank map from boundary field to cortex field.

The secondary field at fixed cortex points is a linear function of the normal primary
field b = E_p·n at the triangle centroids:

    E_s = G b,   G = S M⁻¹ diag(2K)   (3Nc × T),

with M the BEM system matrix and S the charge-to-field map at the cortex points. Because
the cortex lies well inside the scalp, G is strongly smoothing and numerically of low rank
(it filters out the fine detail of b near the coil). The map is built once per head by a
randomized SVD of G (Halko, Martinsson & Tropp 2011, SIAM Rev 53: 217, with one power
iteration), using a dense LU factorisation of M (T ≤ ``dense_limit``) or GMRES per column:

    Y = G_sᵀ Ω (Ω Gaussian, k + p columns),  Y ← G_sᵀ G_s Y,  Z = orth(Y),
    W = G Z = U Σ Vᵀ,  response = U_k Σ_k (3Nc × k),  projector = Z V_k (T × k), both stored in float32.

The range (the boundary-field directions that matter) is found with G_s, the rows of G
at ``range_points`` random cortex points, whose one-point field matrix is held densely; W
is then formed for all cortex points chunk by chunk with BLAS (one-point far field plus the
exact near-field corrections of the direct solver). M is factorised in float32 (relative
error ~1e-7 × cond(M), far below the map's truncation error).

Per placement: the normal primary field at the T centroids and the primary field at the
Nc cortex points (two calls of the coil's Biot–Savart kernel), then
E = E_p(cortex) + response · (projectorᵀ b): two dense float32 products. The truncation
error is measured by ``tests/test_bem_fast_placement.py`` against the full solve, on coil
poses that played no part in building the map (≤ 0.5 % relative L2); ``relative_tail``
gives the first discarded singular value relative to the largest.
"""

import time

import numpy as np
import scipy.linalg as sla

from ..errors import PoseError
from .bem import _coil_source_points, _primary_efield
from ..kernels import bem as _k

__all__ = ["FastPlacementMap"]


class FastPlacementMap:
    """Low-rank precomputed map for :meth:`EFieldSolver.efield_on_cortex` (see module doc).

    Parameters
    ----------
    solver : EFieldSolver
        With cortex points.
    rank : int
        Number k of singular triplets of G kept (capped at min(T, 3Nc)). On the template head
        (mni152_coarse, 15.5k triangles, 20,484 cortex points, Magstim 70 mm figure-8 4 mm off
        the scalp) the error against the full solve was 1.2-1.3 % at k = 250, 0.64-0.69 % at
        400 and 0.41-0.47 % at 600 (3 poses); on the three-shell sphere ~0.1 % at 250.
    oversample : int
        Extra random vectors p of the randomized SVD.
    power_iterations : int
        Power iterations (each costs one more G and Gᵀ application).
    dense_limit : int
        Use a dense float32 LU factorisation of M up to this many triangles (memory 4 T² bytes,
        factorised in place: 1 GB at 15.5k, 4.1 GB at 32k triangles); above, GMRES per column (slow).
    range_points : int
        Number of random cortex points used to find the range (all when fewer).
    chunk_points : int
        Cortex points per dense block when forming the responses (memory 24 T × chunk bytes).
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
    timings : dict
        Seconds spent in "factorisation", "range" and "responses".
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

    def __init__(self, solver, *, rank=600, oversample=20, power_iterations=1, dense_limit=32000,
                 range_points=4000, chunk_points=1000, seed=0):
        t0 = time.perf_counter()
        self.solver = solver
        pts, near = solver._cortex_eval
        n, nc = solver.n_triangles, pts.shape[0]
        k = int(min(rank, n, 3 * nc))
        ell = int(min(k + oversample, n, 3 * nc))
        d2k = 2.0 * solver.tri_contrast
        timings = {}
        if n <= dense_limit:
            # float32 LU: relative error ~1e-7 cond(M), far below the 0.5 % budget of the map.
            # Factorise Mᵀ — the Fortran-ordered view of the C-ordered M — in place (no copy), then
            # M x = b is the transposed solve with that factorisation and Mᵀ y = c the plain one.
            lu = sla.lu_factor(solver.dense_matrix(np.float32).T, overwrite_a=True, check_finite=False)

            def solve(rhs, trans=0):
                return sla.lu_solve(lu, rhs.astype(np.float32), trans=1 - trans,
                                    check_finite=False).astype(np.float64)
            self.method = "dense LU (float32)"
        else:
            def solve(rhs, trans=0):
                return np.column_stack([solver._gmres(rhs[:, j], adjoint=bool(trans))[0] for j in range(rhs.shape[1])])
            self.method = "GMRES per column"
        timings["factorisation"] = time.perf_counter() - t0

        # Range finding on a random subset of the cortex points (the field there is smooth on the
        # scale of their spacing), with the dense one-point field matrix of that subset.
        rng = np.random.default_rng(seed)
        sub = np.sort(rng.choice(nc, size=min(nc, int(range_points)), replace=False))
        rows = (3 * sub[:, None] + np.arange(3)[None, :]).ravel()
        s_sub = _k.charge_field_matrix(np.ascontiguousarray(pts[sub]), solver.centroids, solver.areas)
        nsub = near[rows].tocoo()
        np.add.at(s_sub, (nsub.row, nsub.col), nsub.data)
        s_sub = s_sub.astype(np.float32)  # float32 BLAS: the range only needs a few digits

        def g(x):  # (T, L) -> (3 n_sub, L)
            return (s_sub @ solve(d2k[:, None] * x).astype(np.float32)).astype(np.float64)

        def gt(y):  # (3 n_sub, L) -> (T, L)
            return d2k[:, None] * solve((s_sub.T @ y.astype(np.float32)).astype(np.float64), trans=1)

        y = gt(rng.standard_normal((rows.size, ell)))
        for _ in range(int(power_iterations)):
            z, _ = np.linalg.qr(y)
            w, _ = np.linalg.qr(g(z))
            y = gt(w)
        z, _ = np.linalg.qr(y)
        del s_sub
        timings["range"] = time.perf_counter() - t0 - timings["factorisation"]

        # Responses of the basis at every cortex point, chunk by chunk (BLAS).
        qz = solve(d2k[:, None] * z)
        qz32 = qz.astype(np.float32)
        w = np.empty((3 * nc, z.shape[1]))
        for c0 in range(0, nc, int(chunk_points)):
            c1 = min(nc, c0 + int(chunk_points))
            blk = _k.charge_field_matrix(np.ascontiguousarray(pts[c0:c1]), solver.centroids, solver.areas)
            w[3 * c0:3 * c1] = blk.astype(np.float32) @ qz32  # far field: float32 GEMM (error ~1e-7)
        w += near @ qz
        uw, sv, vwt = np.linalg.svd(w, full_matrices=False)
        timings["responses"] = time.perf_counter() - t0 - timings["factorisation"] - timings["range"]
        self.timings = timings
        self.singular_values = sv
        self.relative_tail = float(sv[k] / sv[0]) if sv.size > k and sv[0] > 0 else 0.0
        self.rank = k
        # float32 halves memory and the per-placement products (relative error ~1e-7)
        self.response = np.ascontiguousarray(uw[:, :k] * sv[:k], dtype=np.float32)      # (3Nc, k)
        self.projector_t = np.ascontiguousarray((z @ vwt[:k].T).T, dtype=np.float32)   # (k, T)
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
        c = self.projector_t @ b.astype(np.float32)
        return both[:nc] + (self.response @ c).astype(np.float64).reshape(-1, 3)

    @property
    def _points_both(self):
        pb = getattr(self, "_pb", None)
        if pb is None:
            pb = np.ascontiguousarray(np.concatenate([self.solver.cortex_points, self.solver.centroids]))
            self._pb = pb
        return pb
