"""Fast repeated coil placements: a precomputed low-rank map from boundary field to cortex field.

The secondary field at fixed cortex points is a linear function of the normal primary
field b = E_p·n at the triangle centroids:

    E_s = G b,   G = S M⁻¹ diag(2K)   (3Nc × T),

with M the BEM system matrix and S the charge-to-field map at the cortex points. Only fields b
of coils *outside the scalp* ever occur, and any coil's primary field is a superposition of the
fields of magnetic dipoles outside the scalp (A = μ0/4π m × d/|d|³). The map therefore
approximates G on those inputs, by a randomized range finder (Halko, Martinsson & Tropp 2011,
SIAM Rev 53: 217, Alg. 4.1) applied to G B, where the columns of B are the normal fields of
``sources`` random unit dipoles (three axes each) spread over the outer surface by area and
raised ``source_distance_mm`` above it:

    Y = G B Ω  (Ω Gaussian, ℓ = k + p columns),   Y = U Σ Vᵀ,
    E_s ≈ U_k U_kᵀ G b = response · (projector_t · b),   response = U_k (3Nc × k),
    projector_t = U_kᵀ G = (2K M⁻ᵀ Sᵀ U_k)ᵀ (k × T),  both stored in float32.

The fields of exterior sources are smooth on the inner boundaries near the cortex, so G B has
far fewer significant singular values than G itself. On the 36k-triangle template the error
against the full solve was 0.68-0.80 % at rank 600 with a Gaussian range finder on G (the
first version of this map); with the exterior sources it is under 0.2 % at rank 400.
Building the map takes ℓ solves with M, k adjoint solves, and two passes over the dense
one-point field blocks of the cortex points (float32 BLAS, plus the exact near-field corrections
of the direct solver), using a dense float32 LU factorisation of M (T ≤ ``dense_limit``;
relative error ~1e-7 × cond(M), far below the map's truncation error) or GMRES per column.

Per placement: the primary field at the Nc cortex points and the T centroids (the normal
component b = E_p·n at the centroids), then E = E_p(cortex) + response · (projector_t b): two
dense float32 products. The primary field is the coil's own only at points within
``surrogate_distance_mm`` of the box around its sources (the scalp under the coil); everywhere
else a fitted far-field surrogate of a few hundred dipoles replaces it, with a stated error
bound (:mod:`tmsfield.coils.far_field`): for the 2,712-dipole Magstim coil this is ~6× fewer
source–point pairs. The truncation error is measured by ``tests/test_bem_reciprocity_fast.py``
against the full solve, on coil poses that played no part in building the map (≤ 0.5 %
relative L2); ``relative_tail`` gives the first discarded singular value of Y relative to the
largest.
"""

import time
import warnings
from pathlib import Path

import numpy as np
import scipy.linalg as sla

from ..coils.far_field import far_field_surrogate
from ..errors import CoilError, InputError, PoseError
from ..validation import as_positive_float
from .bem import _coil_source_points, _primary_efield
from ..kernels import bem as _k
from ..kernels.lowrank import matvec_f32

__all__ = ["FastPlacementMap", "default_cache_dir"]


def default_cache_dir():
    """Where the set-up cache lives (:func:`tmsfield.cache.default_cache_dir`): ``$TMSFIELD_CACHE_DIR``,
    else ``$XDG_CACHE_HOME/tmsfield``, else ``~/.cache/tmsfield`` (read when called).

    Examples
    --------
    >>> isinstance(default_cache_dir(), Path)
    True
    """
    from ..cache import default_cache_dir as _d
    return _d()


_CACHE_ARRAYS = ("response", "projector_t", "singular_values")


def _cortex_blocks(solver, pts, buf):
    """Yield (row slice, block): the dense float32 one-point field matrix of successive chunks of
    the cortex points (``buf.shape[0] // 3`` points each, written into ``buf``), rows 3i..3i+2 per point."""
    step = buf.shape[0] // 3
    for c0 in range(0, pts.shape[0], step):
        c1 = min(pts.shape[0], c0 + step)
        yield slice(3 * c0, 3 * c1), _k.charge_field_matrix_f32(
            np.ascontiguousarray(pts[c0:c1]), solver.centroids, solver.areas, out=buf[:3 * (c1 - c0)])


class FastPlacementMap:
    """Low-rank precomputed map for :meth:`EFieldSolver.efield_on_cortex` (see module doc).

    Parameters
    ----------
    solver : EFieldSolver
        With cortex points.
    rank : int
        Number k of output directions kept (capped at min(T, 3Nc)). Measured error against the
        full solve (Magstim 70 mm figure-8 and the 70 mm wire figure-8, 4 mm off the scalp, 6
        poses; ``benchmarks/fast_map_accuracy.py``, figures in ``benchmarks/RESULTS.md``): on mni152_coarse
        (15.5k triangles) 0.09-0.16 % at k = 400 and 0.03-0.04 % at 600; on mni152 (36k)
        0.12-0.21 % at 400 (0.53-0.66 % at 250 in an earlier script with the same algorithm); on
        the three-shell sphere (3.8k) 0.45-0.50 % at 200 and 0.04-0.05 % at 400.
    oversample : int
        Extra random columns p of the range finder.
    dense_limit : int
        Use a dense float32 LU factorisation of M up to this many triangles (memory 4 T² bytes,
        factorised in place: 1 GB at 15.5k, 5.2 GB at 36k (the ``mni152`` template), 6.4 GB at 40k
        triangles); above, GMRES per column (slow).
    sources : int
        Number of random exterior dipole positions (three axes each) whose fields sample the
        inputs that occur.
    source_distance_mm : (float, float)
        Their height above the outer surface is drawn uniformly from this range (mm): coil
        windings sit a few mm (casing, hair) to a few cm above the scalp.
    chunk_points : int
        Cortex points per dense block of the two passes (memory 12 T × chunk bytes).
    seed : int
        Seed of the sources and the test matrix (the map is deterministic for a given head).
    store : tmsfield.cache.SetupStore, optional
        Set-up cache (:mod:`tmsfield.cache`) for the map (entry ``fastmap-<key>``, ~4 bytes × k × (3Nc + T);
        147 + 36 MB on mni152_coarse) and the coils' far-field surrogates: a later solver for the
        same head, conductivities, cortex points, options and package version loads it in about a
        second instead of rebuilding. The entry holds that key and a SHA-256 of each file: a
        truncated, damaged or foreign entry is never used but rebuilt and replaced (with a one-line
        warning); writes are atomic; two processes never build the same map at once.
    cache_dir : str or Path, optional
        Shorthand for ``store=SetupStore(cache_dir)``.
    surrogate_distance_mm, surrogate_tol : float
        Primary field at points this far (mm) outside the box around a coil's sources from the
        coil's fitted far-field surrogate (:func:`tmsfield.coils.far_field.far_field_surrogate`)
        with this relative error bound; ``None`` evaluates every coil in full.

    Attributes
    ----------
    rank : int
    singular_values : ndarray
        Singular values of the sampled outputs Y = G B Ω (their decay shows how many directions matter).
    relative_tail : float
        First discarded singular value / largest (0 when nothing was discarded).
    setup_seconds : float
    timings : dict
        Seconds spent in "factorisation", "sources", "range" and "projector".
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

    def __init__(self, solver, *, rank=400, oversample=40, dense_limit=40000, sources=3000,
                 source_distance_mm=(2.0, 40.0), chunk_points=1000, seed=0, surrogate_distance_mm=15.0,
                 surrogate_tol=5e-4, cache_dir=None, store=None):
        t0 = time.perf_counter()
        self.solver = solver
        self.surrogate_distance_mm = None if surrogate_distance_mm is None else float(surrogate_distance_mm)
        self.surrogate_tol = float(surrogate_tol)
        self._surrogates = {}
        self.cache_path = self.cache_key = None
        self.loaded_from_cache = False
        lo, hi = (float(v) for v in source_distance_mm)
        if not 0.0 < lo <= hi:
            raise InputError(f"source_distance_mm must be (min, max) with 0 < min <= max; got {source_distance_mm!r}")
        if int(sources) < 1 or int(rank) < 1:
            raise InputError(f"rank and sources must be positive; got rank={rank!r}, sources={sources!r}")
        if store is None and cache_dir is not None:
            from ..cache import SetupStore
            store = SetupStore(cache_dir)
        self.store = store
        args = (solver, rank, oversample, dense_limit, sources, (lo, hi), chunk_points, seed)
        if store is None:
            self._build_reporting(*args)
        else:
            from ..cache.setup import solver_key
            params = dict(algorithm="exterior-dipole range v1", rank=int(rank), oversample=int(oversample),
                          sources=int(sources), source_distance_mm=[lo, hi], seed=int(seed))
            self.cache_key = solver_key(solver, "fastmap", cortex_points=np.asarray(solver.cortex_points, np.float64),
                                        params=params)
            self.cache_path = store.entry_path("fastmap", self.cache_key)
            desc = f"fast-placement map of {getattr(solver, 'name', 'head')} (rank {int(rank)})"

            def make():
                self._build_reporting(*args)
                return self._arrays(), {"rank": int(self.rank), "relative_tail": float(self.relative_tail)}
            arrays, meta, built = store.get_or_build("fastmap", self.cache_key, make, description=desc, mmap=False)
            if not built and not self._adopt(arrays, meta):
                self._build_reporting(*args)                 # a stored map that does not fit: rebuild, replace
                store.save("fastmap", self.cache_key, self._arrays(),
                           {"rank": int(self.rank), "relative_tail": float(self.relative_tail)}, description=desc)
                built = True
            self.loaded_from_cache = not built
        self.setup_seconds = time.perf_counter() - t0

    def _build_reporting(self, *args):
        from .. import _progress
        with _progress.step(f"fast-placement map of {getattr(args[0], 'name', 'head')} (rank {int(args[1])}: "
                            f"{int(args[1]) + int(args[2])} solves, {int(args[1])} adjoint solves)"):
            self._build(*args)

    def _arrays(self):
        return {"response": np.ascontiguousarray(self.response, "<f4"),
                "projector_t": np.ascontiguousarray(self.projector_t, "<f4"),
                "singular_values": np.ascontiguousarray(self.singular_values, "<f8")}

    def _adopt(self, arrays, meta):
        """Use a map read from the store (already checksummed and keyed); False when its arrays do not
        fit this solver (one warning line; the caller rebuilds)."""
        s = self.solver
        try:
            response, projector_t, sv = (np.asarray(arrays[k]) for k in _CACHE_ARRAYS)
            k = projector_t.shape[0] if projector_t.ndim == 2 else -1
            if response.shape != (3 * s.cortex_points.shape[0], k) or projector_t.shape != (k, s.n_triangles) \
                    or response.dtype != np.float32 or projector_t.dtype != np.float32 or sv.ndim != 1:
                raise ValueError("array shapes do not match this head")
            tail = float(meta.get("relative_tail"))
            if not all(np.isfinite(a).all() for a in (response, projector_t, sv)) or not np.isfinite(tail):
                raise ValueError("non-finite values")
        except Exception as exc:  # never fatal: rebuild and replace
            why = " ".join(str(exc).split()) or type(exc).__name__
            warnings.warn(f"ignoring the fast-placement cache {self.cache_path} ({why}); rebuilding it",
                          RuntimeWarning, stacklevel=4)
            return False
        self.response, self.projector_t, self.singular_values = response, projector_t, sv
        self.rank, self.relative_tail = int(k), tail
        self.method, self.timings = f"loaded from {self.cache_path.name}", {}
        return True

    def _exterior_sources(self, solver, count, distance_mm, rng):
        """Positions (mm) of the sampling dipoles: uniform over the outer surface by area, each
        raised along its triangle's normal by a distance drawn uniformly from ``distance_mm``."""
        outer = np.flatnonzero(solver._outer)
        p = solver.areas[outer] / solver.areas[outer].sum()
        tri = outer[rng.choice(outer.size, size=int(count), p=p)]
        u, v = rng.random((2, tri.size))
        flip = u + v > 1.0
        u[flip], v[flip] = 1.0 - u[flip], 1.0 - v[flip]
        tv = solver.tri_vertices[tri]
        on = tv[:, 0] + u[:, None] * (tv[:, 1] - tv[:, 0]) + v[:, None] * (tv[:, 2] - tv[:, 0])
        lo, hi = distance_mm
        return on + solver.normals[tri] * rng.uniform(lo, hi, size=(tri.size, 1))

    def _build(self, solver, rank, oversample, dense_limit, sources, source_distance_mm, chunk_points, seed):
        t0 = time.perf_counter()
        pts, near = solver._cortex_eval
        n, nc = solver.n_triangles, pts.shape[0]
        k = int(min(rank, n, 3 * nc))
        ell = int(min(k + oversample, n, 3 * nc))
        d2k = 2.0 * solver.tri_contrast
        chunk = int(chunk_points)
        timings = {}
        if getattr(solver, "_lu", None) is not None or n <= dense_limit:
            # float32 LU: relative error ~1e-7 cond(M), far below the 0.5 % budget of the map.
            # Factorise Mᵀ — the Fortran-ordered view of the C-ordered M — in place (no copy), then
            # M x = b is the transposed solve with that factorisation and Mᵀ y = c the plain one.
            # A solver built with factorize=True already holds these factors: reuse them.
            lu = getattr(solver, "_lu", None)
            if lu is None:
                from ..cache.setup import cached_lu
                lu = cached_lu(getattr(self, "store", None), solver,
                               lambda: sla.lu_factor(solver.dense_matrix(np.float32).T, overwrite_a=True,
                                                     check_finite=False))

            def solve(rhs, trans=0):
                return sla.lu_solve(lu, np.asarray(rhs, dtype=np.float32), trans=1 - trans,
                                    check_finite=False).astype(np.float64)
            self.method = "dense LU (float32)"
        else:
            def solve(rhs, trans=0):
                return np.column_stack([solver._gmres(rhs[:, j], adjoint=bool(trans))[0] for j in range(rhs.shape[1])])
            self.method = "GMRES per column"
        timings["factorisation"] = time.perf_counter() - t0

        # 1. Sample the inputs that occur: normal primary fields of random exterior dipoles (each
        #    column normalised), mixed by a Gaussian test matrix: B Ω (T × ℓ), float32.
        rng = np.random.default_rng(seed)
        x = self._exterior_sources(solver, sources, source_distance_mm, rng)
        b_omega = np.zeros((n, ell), dtype=np.float32)
        step = max(1, int(2.0e8 / (12.0 * n)))             # dipole block ≤ 200 MB
        for p0 in range(0, x.shape[0], step):
            blk = _k.dipole_normal_matrix_f32(solver.centroids, solver.normals, x[p0:p0 + step])
            blk /= np.maximum(np.linalg.norm(blk, axis=0), 1e-30)
            b_omega += blk @ rng.standard_normal((blk.shape[1], ell)).astype(np.float32)
        del blk
        t1 = time.perf_counter()
        timings["sources"] = t1 - t0 - timings["factorisation"]

        # 2. Their secondary fields at every cortex point, Y = G B Ω = S M⁻¹ 2K B Ω (3Nc × ℓ): far field
        #    by float32 GEMM chunk by chunk (error ~1e-6), exact near-field corrections by a sparse product.
        qz32 = np.ascontiguousarray(solve(d2k[:, None] * b_omega), dtype=np.float32)
        del b_omega
        y32 = np.empty((3 * nc, ell), dtype=np.float32)
        blk = np.empty((3 * min(nc, chunk), n), dtype=np.float32)
        for rows, b_ in _cortex_blocks(solver, pts, blk):
            np.matmul(b_, qz32, out=y32[rows])
        nr = near.tocsr()
        _k.csr_times_dense(nr.indptr, nr.indices, nr.data, qz32, y32)
        del qz32
        # orthonormal basis U_k of the sampled outputs through the ℓ × ℓ Gram matrix (float64):
        # Y = U Σ Vᵀ, YᵀY = V Σ² Vᵀ; the kept σ are ≥ ~1e-5 σ_max, well above float32 round-off
        y = y32.astype(np.float64)
        del y32
        lam, vy = np.linalg.eigh(y.T @ y)
        lam, vy = lam[::-1], vy[:, ::-1]
        sv = np.sqrt(np.clip(lam, 0.0, None))
        u32 = np.ascontiguousarray(y @ (vy[:, :k] / np.maximum(sv[:k], 1e-300)), dtype=np.float32)
        del y
        t2 = time.perf_counter()
        timings["range"] = t2 - t1

        # 3. Projector P = U_kᵀ G, i.e. Pᵀ = 2K M⁻ᵀ Sᵀ U_k (T × k): one transposed pass over the cortex
        #    blocks and k adjoint solves.
        st = np.zeros((n, k), dtype=np.float32)
        for rows, b_ in _cortex_blocks(solver, pts, blk):
            st += b_.T @ u32[rows]
        del blk
        nt = near.T.tocsr()
        _k.csr_times_dense(nt.indptr, nt.indices, nt.data, u32, st)
        proj = d2k[:, None] * solve(st, trans=1)
        del st
        timings["projector"] = time.perf_counter() - t2
        self.timings = timings
        self.singular_values = sv
        self.relative_tail = float(sv[k] / sv[0]) if sv.size > k and sv[0] > 0 else 0.0
        self.rank = k
        # float32 halves memory and the per-placement products (relative error ~1e-7):
        # E_s ≈ U_k (U_kᵀ G b) = response · (projector_t b)
        self.response = u32                                                        # (3Nc, k)
        self.projector_t = np.ascontiguousarray(proj.T, dtype=np.float32)          # (k, T)

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

    def surrogate(self, coil):
        """The coil's far-field surrogate used by :meth:`efield` (fitted once per coil object and kept
        by this map), or None when the coil is evaluated in full (sampled-grid coils, coils too small
        to gain, or ``surrogate_distance_mm=None``)."""
        key = id(coil)
        hit = self._surrogates.get(key)
        if hit is not None and hit[0] is coil:
            return hit[1]
        sur = None
        if self.surrogate_distance_mm is not None and not getattr(coil, "sampled_grids", ()) \
                and coil.n_dipoles + coil.n_segments > 200:
            from ..cache.setup import cached_surrogate

            def fit():
                try:
                    return far_field_surrogate(coil, self.surrogate_distance_mm, tol=self.surrogate_tol,
                                               max_dipoles=800)
                except CoilError:
                    return None   # no lattice much smaller than the coil meets the bound: evaluate in full
            sur = cached_surrogate(getattr(self, "store", None), coil, fit, distance_mm=self.surrogate_distance_mm,
                                   tol=self.surrogate_tol, max_dipoles=800)
        if len(self._surrogates) >= 8:
            self._surrogates.pop(next(iter(self._surrogates)))
        self._surrogates[key] = (coil, sur)   # holds the coil, so its id is not reused meanwhile
        return sur

    def primary_efield(self, coil, pose=None, didt=1.0):
        """Primary E (V/m) at the cortex points followed by the triangle centroids; (Nc + T, 3).

        Points farther than ``surrogate_distance_mm`` outside the box around the coil's sources
        take the coil's far-field surrogate (error bound ``surrogate.max_error`` of the largest |A|
        on that box, by the maximum principle: :mod:`tmsfield.coils.far_field`); the rest (the
        scalp under the coil) the coil itself.
        """
        pts = self._points_both
        sur = self.surrogate(coil)
        if sur is None:
            return _primary_efield(coil, pts, pose, didt)
        near = ~sur.is_far(pts, pose)
        # the surrogate everywhere (cheaper than gathering the far points), then the exact coil
        # overwrites the few near points, where the surrogate is not valid
        out = sur.vector_potential(pts, pose, single=True)
        out *= -1e6 * as_positive_float(didt, "didt")
        if near.any():
            out[near] = _primary_efield(coil, pts[near], pose, didt)
        return out

    def efield(self, coil, pose=None, didt=1.0):
        """Total E-field (V/m) at the solver's cortex points; (Nc, 3)."""
        self._check_pose(coil, pose)
        s = self.solver
        both = self.primary_efield(coil, pose, didt)
        nc = s.cortex_points.shape[0]
        b = np.einsum("ij,ij->i", both[nc:], s.normals)
        c = matvec_f32(self.projector_t, b.astype(np.float32))
        return both[:nc] + matvec_f32(self.response, c).astype(np.float64).reshape(-1, 3)

    @property
    def _points_both(self):
        pb = getattr(self, "_pb", None)
        if pb is None:
            pb = np.ascontiguousarray(np.concatenate([self.solver.cortex_points, self.solver.centroids]))
            self._pb = pb
        return pb
