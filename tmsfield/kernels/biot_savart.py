"""numba Biot–Savart kernels: A and B of straight wire segments and magnetic dipoles.

Low-level, array-in/array-out functions in **SI units** (positions in metres, currents in A,
moments in A·m²; A in T·m, B in T). The coil-level public API (mm, poses, ``Coil`` objects)
is in :mod:`tmsfield.kernels.coil_fields`. The formulas, their source (Hanson & Hirshman
2002, Phys. Plasmas 9:4410) and the on-wire regularisation are documented in
:mod:`tmsfield.kernels.biot_savart_reference`, the plain-numpy twin these kernels are tested
against.

How the kernels are organised (for speed)
-----------------------------------------
* Points are split into blocks of ``_BLOCK`` points; blocks run in parallel (``prange``).
  Each block keeps its coordinates, accumulators and distances in a few ``_BLOCK``-long
  scratch arrays (L1-resident). There is no N×M temporary: memory is O(N + M) whatever N is.
* Inside a block the *sources* are the outer loop and the points the inner loop, so the inner
  loop is branch-free and SIMD-vectorised by LLVM (``fastmath``, ``error_model="numpy"``),
  with the source's data as loop-invariant scalars.
* Consecutive segments of a polyline share a node: the distance to the shared node is reused
  (one square root per segment and point instead of two).
* The log uses :func:`tmsfield.kernels._fast_log.fast_log` (vectorisable fdlibm log), since
  libm's log would stop vectorisation (a one-division log-of-ratio variant was measured
  slower). When a whole block of points is at least 3 segment lengths from a segment (the
  usual case: head points vs a coil's short segments), ``ln((S+L)/(S−L)) = 2 atanh(L/S)`` is
  evaluated by the fdlibm series instead (one division, no range reduction; same accuracy),
  which roughly doubled the A throughput in our measurements.
"""

import math

import numpy as np
from numba import njit, prange

from ..validation import as_points
from ..errors import InputError
from ._fast_log import atanh_series2, fast_log
from .biot_savart_reference import MU0_OVER_4PI, _SEG_FLOOR, _DIP_FLOOR_M2

__all__ = [
    "segment_vector_potential",
    "segment_magnetic_field",
    "dipole_vector_potential",
    "dipole_magnetic_field",
    "SegmentSources",
    "DipoleSources",
]

_BLOCK = 128
_FM = True
_OPTS = dict(parallel=True, fastmath=_FM, error_model="numpy", cache=True, boundscheck=False)


# --------------------------------------------------------------------------- numba kernels
@njit(**_OPTS)
def _segments_a(pts, sx, sy, sz, ex, ey, ez, wx, wy, wz, length, chained, out):
    n = pts.shape[0]
    m = sx.shape[0]
    nblocks = (n + _BLOCK - 1) // _BLOCK
    for blk in prange(nblocks):
        i0 = blk * _BLOCK
        nb = min(_BLOCK, n - i0)
        qx = np.empty(_BLOCK)
        qy = np.empty(_BLOCK)
        qz = np.empty(_BLOCK)
        r1 = np.empty(_BLOCK)
        ax = np.zeros(_BLOCK)
        ay = np.zeros(_BLOCK)
        az = np.zeros(_BLOCK)
        lox = hix = pts[i0, 0]
        loy = hiy = pts[i0, 1]
        loz = hiz = pts[i0, 2]
        for j in range(nb):
            qx[j] = pts[i0 + j, 0]
            qy[j] = pts[i0 + j, 1]
            qz[j] = pts[i0 + j, 2]
            lox = min(lox, qx[j])
            hix = max(hix, qx[j])
            loy = min(loy, qy[j])
            hiy = max(hiy, qy[j])
            loz = min(loz, qz[j])
            hiz = max(hiz, qz[j])
        for k in range(m):
            if not chained[k]:
                cx, cy, cz = sx[k], sy[k], sz[k]
                for j in range(nb):
                    dx = qx[j] - cx
                    dy = qy[j] - cy
                    dz = qz[j] - cz
                    r1[j] = math.sqrt(dx * dx + dy * dy + dz * dz)
            cx, cy, cz = ex[k], ey[k], ez[k]
            lk = length[k]
            tx, ty, tz = wx[k], wy[k], wz[k]
            # gap between the block's bounding box and the segment's: if every point of the block
            # is >= 3 L from the segment, eps = L/(R1+R2) <= 1/6 and ln((S+L)/(S-L)) = 2 atanh(eps)
            # is the fdlibm series 2 eps + eps R(eps^2) (full double accuracy for eps <= 0.1716):
            # one division, no range reduction.
            gx = max(0.0, min(sx[k], cx) - hix, lox - max(sx[k], cx))
            gy = max(0.0, min(sy[k], cy) - hiy, loy - max(sy[k], cy))
            gz = max(0.0, min(sz[k], cz) - hiz, loz - max(sz[k], cz))
            if gx * gx + gy * gy + gz * gz >= 9.0 * lk * lk:
                for j in range(nb):
                    dx = qx[j] - cx
                    dy = qy[j] - cy
                    dz = qz[j] - cz
                    r2 = math.sqrt(dx * dx + dy * dy + dz * dz)
                    eps = lk / (r1[j] + r2)
                    lg = atanh_series2(eps)
                    ax[j] += tx * lg
                    ay[j] += ty * lg
                    az[j] += tz * lg
                    r1[j] = r2
            else:
                floor = _SEG_FLOOR * lk
                for j in range(nb):
                    dx = qx[j] - cx
                    dy = qy[j] - cy
                    dz = qz[j] - cz
                    r2 = math.sqrt(dx * dx + dy * dy + dz * dz)
                    s = r1[j] + r2
                    lg = fast_log((s + lk) / max(s - lk, floor))
                    ax[j] += tx * lg
                    ay[j] += ty * lg
                    az[j] += tz * lg
                    r1[j] = r2
        for j in range(nb):
            out[i0 + j, 0] = ax[j]
            out[i0 + j, 1] = ay[j]
            out[i0 + j, 2] = az[j]


@njit(**_OPTS)
def _segments_b(pts, sx, sy, sz, ex, ey, ez, wx, wy, wz, length, chained, out):
    n = pts.shape[0]
    m = sx.shape[0]
    nblocks = (n + _BLOCK - 1) // _BLOCK
    for blk in prange(nblocks):
        i0 = blk * _BLOCK
        nb = min(_BLOCK, n - i0)
        qx = np.empty(_BLOCK)
        qy = np.empty(_BLOCK)
        qz = np.empty(_BLOCK)
        r1 = np.empty(_BLOCK)
        bx = np.zeros(_BLOCK)
        by = np.zeros(_BLOCK)
        bz = np.zeros(_BLOCK)
        for j in range(nb):
            qx[j] = pts[i0 + j, 0]
            qy[j] = pts[i0 + j, 1]
            qz[j] = pts[i0 + j, 2]
        for k in range(m):
            if not chained[k]:
                cx, cy, cz = sx[k], sy[k], sz[k]
                for j in range(nb):
                    dx = qx[j] - cx
                    dy = qy[j] - cy
                    dz = qz[j] - cz
                    r1[j] = math.sqrt(dx * dx + dy * dy + dz * dz)
            cx, cy, cz = ex[k], ey[k], ez[k]
            lk = length[k]
            floor = _SEG_FLOOR * lk
            tx, ty, tz = wx[k], wy[k], wz[k]
            for j in range(nb):
                dx = qx[j] - cx
                dy = qy[j] - cy
                dz = qz[j] - cz
                r2 = math.sqrt(dx * dx + dy * dy + dz * dz)
                ra = r1[j]
                s = ra + r2
                den = ra * r2 * max(s - lk, floor) * (s + lk)
                coef = 2.0 * lk * s / max(den, 1e-290)
                bx[j] += coef * (ty * dz - tz * dy)
                by[j] += coef * (tz * dx - tx * dz)
                bz[j] += coef * (tx * dy - ty * dx)
                r1[j] = r2
        for j in range(nb):
            out[i0 + j, 0] = bx[j]
            out[i0 + j, 1] = by[j]
            out[i0 + j, 2] = bz[j]


@njit(**_OPTS)
def _dipoles_a(pts, px, py, pz, mx, my, mz, out):
    n = pts.shape[0]
    m = px.shape[0]
    nblocks = (n + _BLOCK - 1) // _BLOCK
    for blk in prange(nblocks):
        i0 = blk * _BLOCK
        nb = min(_BLOCK, n - i0)
        qx = np.empty(_BLOCK)
        qy = np.empty(_BLOCK)
        qz = np.empty(_BLOCK)
        ax = np.zeros(_BLOCK)
        ay = np.zeros(_BLOCK)
        az = np.zeros(_BLOCK)
        for j in range(nb):
            qx[j] = pts[i0 + j, 0]
            qy[j] = pts[i0 + j, 1]
            qz[j] = pts[i0 + j, 2]
        for k in range(m):
            cx, cy, cz = px[k], py[k], pz[k]
            ux, uy, uz = mx[k], my[k], mz[k]
            for j in range(nb):
                dx = qx[j] - cx
                dy = qy[j] - cy
                dz = qz[j] - cz
                r2 = max(dx * dx + dy * dy + dz * dz, _DIP_FLOOR_M2)
                inv3 = 1.0 / (r2 * math.sqrt(r2))
                ax[j] += inv3 * (uy * dz - uz * dy)
                ay[j] += inv3 * (uz * dx - ux * dz)
                az[j] += inv3 * (ux * dy - uy * dx)
        for j in range(nb):
            out[i0 + j, 0] = ax[j]
            out[i0 + j, 1] = ay[j]
            out[i0 + j, 2] = az[j]


@njit(**_OPTS)
def _dipoles_b(pts, px, py, pz, mx, my, mz, out):
    n = pts.shape[0]
    m = px.shape[0]
    nblocks = (n + _BLOCK - 1) // _BLOCK
    for blk in prange(nblocks):
        i0 = blk * _BLOCK
        nb = min(_BLOCK, n - i0)
        qx = np.empty(_BLOCK)
        qy = np.empty(_BLOCK)
        qz = np.empty(_BLOCK)
        bx = np.zeros(_BLOCK)
        by = np.zeros(_BLOCK)
        bz = np.zeros(_BLOCK)
        for j in range(nb):
            qx[j] = pts[i0 + j, 0]
            qy[j] = pts[i0 + j, 1]
            qz[j] = pts[i0 + j, 2]
        for k in range(m):
            cx, cy, cz = px[k], py[k], pz[k]
            ux, uy, uz = mx[k], my[k], mz[k]
            for j in range(nb):
                dx = qx[j] - cx
                dy = qy[j] - cy
                dz = qz[j] - cz
                r2 = max(dx * dx + dy * dy + dz * dz, _DIP_FLOOR_M2)
                inv2 = 1.0 / r2
                inv3 = inv2 / math.sqrt(r2)
                md3 = 3.0 * (ux * dx + uy * dy + uz * dz) * inv2
                bx[j] += inv3 * (md3 * dx - ux)
                by[j] += inv3 * (md3 * dy - uy)
                bz[j] += inv3 * (md3 * dz - uz)
        for j in range(nb):
            out[i0 + j, 0] = bx[j]
            out[i0 + j, 1] = by[j]
            out[i0 + j, 2] = bz[j]


@njit(**_OPTS)
def _dipoles_a_single(pts, px, py, pz, mx, my, mz, out):
    """:func:`_dipoles_a` in float32 with lengths in mm (inputs and accumulators): ~3x the pairs/s where double
    division and square root are slow (measured on a Cascade Lake Xeon: LLVM then uses the
    AVX-512 reciprocal square root with a Newton step). Relative error ~1e-6."""
    n = pts.shape[0]
    m = px.shape[0]
    nblocks = (n + _BLOCK - 1) // _BLOCK
    floor = np.float32(_DIP_FLOOR_M2 * 1e6)   # the caller works in mm
    one = np.float32(1.0)
    for blk in prange(nblocks):
        i0 = blk * _BLOCK
        nb = min(_BLOCK, n - i0)
        qx = np.empty(_BLOCK, np.float32)
        qy = np.empty(_BLOCK, np.float32)
        qz = np.empty(_BLOCK, np.float32)
        ax = np.zeros(_BLOCK, np.float32)
        ay = np.zeros(_BLOCK, np.float32)
        az = np.zeros(_BLOCK, np.float32)
        for j in range(nb):
            qx[j] = pts[i0 + j, 0]
            qy[j] = pts[i0 + j, 1]
            qz[j] = pts[i0 + j, 2]
        for k in range(m):
            cx, cy, cz = px[k], py[k], pz[k]
            ux, uy, uz = mx[k], my[k], mz[k]
            for j in range(nb):
                dx = qx[j] - cx
                dy = qy[j] - cy
                dz = qz[j] - cz
                r2 = max(dx * dx + dy * dy + dz * dz, floor)
                inv = one / math.sqrt(r2)
                inv3 = inv * inv * inv
                ax[j] += inv3 * (uy * dz - uz * dy)
                ay[j] += inv3 * (uz * dx - ux * dz)
                az[j] += inv3 * (ux * dy - uy * dx)
        for j in range(nb):
            out[i0 + j, 0] = ax[j]
            out[i0 + j, 1] = ay[j]
            out[i0 + j, 2] = az[j]


# --------------------------------------------------------------------------- prepared sources
class SegmentSources:
    """Straight current segments prepared for the kernels (SI, structure-of-arrays).

    Build once, evaluate at many point sets (e.g. in a placement search). Zero-length
    segments are dropped; consecutive segments sharing a node are flagged so the kernel
    reuses the distance to that node.

    Parameters
    ----------
    starts_m, ends_m : array_like, shape (M, 3)
        Segment end points in metres.
    currents_a : array_like, shape (M,)
        Current in each segment (A), positive from start to end.

    Examples
    --------
    >>> src = SegmentSources([[0, 0, 0]], [[0, 0, 0.01]], [1.0])
    >>> src.vector_potential(np.array([[0.01, 0.0, 0.005]])).shape
    (1, 3)
    """

    def __init__(self, starts_m, ends_m, currents_a):
        s = as_points(starts_m, "starts_m", allow_empty=True)
        e = as_points(ends_m, "ends_m", allow_empty=True)
        c = np.asarray(currents_a, dtype=np.float64).reshape(-1)
        if s.shape != e.shape or c.shape[0] != s.shape[0]:
            raise InputError(f"starts_m {s.shape}, ends_m {e.shape} and currents_a {c.shape} must describe the "
                             f"same number of segments: shapes (M, 3), (M, 3) and (M,)")
        if not np.all(np.isfinite(c)):
            raise InputError("currents_a contains NaN or inf")
        d = e - s
        length = np.sqrt(np.einsum("ij,ij->i", d, d))
        keep = length > 0
        s, e, c, d, length = s[keep], e[keep], c[keep], d[keep], length[keep]
        w = (MU0_OVER_4PI * c / np.where(length > 0, length, 1.0))[:, None] * d   # μ0 I/(4π) · t̂
        chained = np.zeros(s.shape[0], dtype=np.bool_)
        if s.shape[0] > 1:
            chained[1:] = np.all(s[1:] == e[:-1], axis=1)
        self.n = int(s.shape[0])
        self._args = tuple(np.ascontiguousarray(a) for a in
                           (s[:, 0], s[:, 1], s[:, 2], e[:, 0], e[:, 1], e[:, 2], w[:, 0], w[:, 1], w[:, 2], length))
        self._chained = chained

    def vector_potential(self, points_m, out=None):
        """A (T·m) at (N, 3) points in metres; ``out`` (N, 3) float64 is overwritten if given."""
        return self._run(_segments_a, points_m, out)

    def magnetic_field(self, points_m, out=None):
        """B (T) at (N, 3) points in metres; ``out`` (N, 3) float64 is overwritten if given."""
        return self._run(_segments_b, points_m, out)

    def _run(self, kernel, points_m, out):
        p = as_points(points_m, "points_m", allow_empty=True)
        res = _out(out, p.shape[0])
        if self.n == 0 or p.shape[0] == 0:
            res[:] = 0.0
            return res
        kernel(p, *self._args, self._chained, res)
        return res


class DipoleSources:
    """Magnetic dipoles prepared for the kernels (SI, structure-of-arrays).

    Parameters
    ----------
    positions_m : array_like, shape (D, 3)
        Dipole positions in metres.
    moments_am2 : array_like, shape (D, 3)
        Dipole moments in A·m² (for the coil current the caller scaled them to).

    Examples
    --------
    >>> src = DipoleSources([[0, 0, 0]], [[0, 0, 1.0]])
    >>> src.magnetic_field(np.array([[0, 0, 1.0]]))
    array([[0.e+00, 0.e+00, 2.e-07]])
    """

    def __init__(self, positions_m, moments_am2):
        p = as_points(positions_m, "positions_m", allow_empty=True)
        m = as_points(moments_am2, "moments_am2", allow_empty=True)
        if p.shape != m.shape:
            raise InputError(f"positions_m {p.shape} and moments_am2 {m.shape} must both have shape (D, 3)")
        m = MU0_OVER_4PI * m
        self.n = int(p.shape[0])
        self._args = tuple(np.ascontiguousarray(a) for a in (p[:, 0], p[:, 1], p[:, 2], m[:, 0], m[:, 1], m[:, 2]))

    def vector_potential(self, points_m, out=None):
        """A (T·m) at (N, 3) points in metres."""
        return self._run(_dipoles_a, points_m, out)

    def magnetic_field(self, points_m, out=None):
        """B (T) at (N, 3) points in metres."""
        return self._run(_dipoles_b, points_m, out)

    def vector_potential_single(self, points_m, origin_m=None):
        """A (T·m) at (N, 3) points in metres, computed in float32 (relative error ~1e-6; the
        coordinates are taken relative to ``origin_m``, default the dipoles' centroid, so float32
        keeps ~1e-9 m resolution). Returns float64 (N, 3)."""
        p = as_points(points_m, "points_m", allow_empty=True)
        if self.n == 0 or p.shape[0] == 0:
            return np.zeros((p.shape[0], 3))
        o = np.array([a.mean() for a in self._args[:3]]) if origin_m is None else np.asarray(origin_m, float)
        # scale lengths to mm so that 1/r³ stays well inside float32's range; A = Σ m×d/|d|³ (SI)
        # = 1e6 Σ m×d_mm/|d_mm|³ with m already multiplied by μ0/4π
        pos = [np.ascontiguousarray((a - o[i]) * 1e3, dtype=np.float32) for i, a in enumerate(self._args[:3])]
        mom = [np.ascontiguousarray(a, dtype=np.float32) for a in self._args[3:]]
        q = np.ascontiguousarray((p - o) * 1e3, dtype=np.float32)
        out = np.empty((p.shape[0], 3), dtype=np.float32)
        _dipoles_a_single(q, *pos, *mom, out)
        return out.astype(np.float64) * 1e6

    def _run(self, kernel, points_m, out):
        p = as_points(points_m, "points_m", allow_empty=True)
        res = _out(out, p.shape[0])
        if self.n == 0 or p.shape[0] == 0:
            res[:] = 0.0
            return res
        kernel(p, *self._args, res)
        return res


def _out(out, n):
    if out is None:
        return np.empty((n, 3))
    if not (isinstance(out, np.ndarray) and out.shape == (n, 3) and out.dtype == np.float64
            and out.flags.c_contiguous and out.flags.writeable):
        raise InputError(f"out must be a writeable C-contiguous float64 array of shape ({n}, 3)")
    return out


# --------------------------------------------------------------------------- functional API
def segment_vector_potential(starts_m, ends_m, currents_a, points_m):
    """Vector potential of finite straight current segments (exact closed form).

    ``A(r) = μ0/(4π) Σ_k I_k t̂_k ln((R1+R2+L)/(R1+R2−L))`` (Hanson & Hirshman 2002).

    Parameters
    ----------
    starts_m, ends_m : array_like, shape (M, 3)
        Segment end points, metres.
    currents_a : array_like, shape (M,)
        Segment currents, A (positive from start to end).
    points_m : array_like, shape (N, 3)
        Field points, metres.

    Returns
    -------
    ndarray, shape (N, 3)
        A in T·m.

    Notes
    -----
    For repeated evaluation with the same sources build a :class:`SegmentSources` once.
    Points exactly on a wire get a finite, regularised value (see
    :mod:`tmsfield.kernels.biot_savart_reference`).

    Examples
    --------
    >>> a = segment_vector_potential([[0, 0, -1.0]], [[0, 0, 1.0]], [1.0], [[0.01, 0, 0]])
    >>> bool(a[0, 2] > 0)
    True
    """
    return SegmentSources(starts_m, ends_m, currents_a).vector_potential(points_m)


def segment_magnetic_field(starts_m, ends_m, currents_a, points_m):
    """Flux density of finite straight current segments (exact closed form).

    ``B(r) = μ0/(4π) Σ_k I_k · 2 L S / (R1 R2 (S² − L²)) · t̂_k × (r − a_k)``, S = R1 + R2
    (Hanson & Hirshman 2002). Parameters as :func:`segment_vector_potential`.

    Returns
    -------
    ndarray, shape (N, 3)
        B in T.

    Examples
    --------
    >>> b = segment_magnetic_field([[0, 0, -1.0]], [[0, 0, 1.0]], [1.0], [[0.01, 0, 0]])
    >>> round(float(b[0, 1]) / 2e-5, 3)    # ≈ μ0 I / (2π d) of an infinite wire
    1.0
    """
    return SegmentSources(starts_m, ends_m, currents_a).magnetic_field(points_m)


def dipole_vector_potential(positions_m, moments_am2, points_m):
    """Vector potential of magnetic dipoles: ``A = μ0/(4π) Σ m × d / |d|³``.

    Parameters
    ----------
    positions_m : array_like, shape (D, 3)
        Dipole positions, metres.
    moments_am2 : array_like, shape (D, 3)
        Dipole moments, A·m².
    points_m : array_like, shape (N, 3)
        Field points, metres.

    Returns
    -------
    ndarray, shape (N, 3)
        A in T·m.

    Examples
    --------
    >>> dipole_vector_potential([[0, 0, 0]], [[0, 0, 1.0]], [[1.0, 0, 0]])
    array([[0.e+00, 1.e-07, 0.e+00]])
    """
    return DipoleSources(positions_m, moments_am2).vector_potential(points_m)


def dipole_magnetic_field(positions_m, moments_am2, points_m):
    """Flux density of magnetic dipoles: ``B = μ0/(4π) Σ (3 d (m·d)/|d|⁵ − m/|d|³)``.

    Parameters as :func:`dipole_vector_potential`.

    Returns
    -------
    ndarray, shape (N, 3)
        B in T.

    Examples
    --------
    >>> dipole_magnetic_field([[0, 0, 0]], [[0, 0, 1.0]], [[0, 0, 1.0]])
    array([[0.e+00, 0.e+00, 2.e-07]])
    """
    return DipoleSources(positions_m, moments_am2).magnetic_field(points_m)
