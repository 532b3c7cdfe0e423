"""Numba kernel: evaluate many coil placements against tabulated adjoint (reciprocal) fields.

Same formula, arguments and result as :func:`tmsfield.kernels.placement_reference.evaluate_placements_reference`
(the plain-numpy reference that tests compare against)::

    F[p, f] = sum_i (R_p m_i) · h_f(c_p + R_p r_i)

with tricubic Lagrange interpolation of h_f on a regular (possibly rotated) grid. Parallel over
placements. Units follow the caller (mm positions, moments in A·m² per A, h per A·m²).
"""

import numba as nb
import numpy as np

__all__ = ["evaluate_placements", "evaluate_placements_trilinear"]


@nb.njit(cache=True, inline="always")
def _w4(t, w):
    w[0] = -t * (t - 1.0) * (t - 2.0) / 6.0
    w[1] = (t + 1.0) * (t - 1.0) * (t - 2.0) / 2.0
    w[2] = -(t + 1.0) * t * (t - 2.0) / 2.0
    w[3] = (t + 1.0) * t * (t - 1.0) / 6.0


@nb.njit(cache=True, parallel=True, fastmath=True)
def evaluate_placements(values, origin, frame, spacing, rotations, centres, positions, moments):
    """F (P, nf) for placements (rotations (P,3,3), centres (P,3)) of dipoles (positions, moments (D,3)).

    ``values`` (nx, ny, nz, 3*nf) holds h on the grid ``origin + frame @ idx * spacing``; NaN where a
    dipole's 4x4x4 stencil leaves the grid.
    """
    nx, ny, nz, k = values.shape
    nf = k // 3
    npl = rotations.shape[0]
    nd = positions.shape[0]
    out = np.zeros((npl, nf))
    inv = 1.0 / spacing
    for p in nb.prange(npl):
        wx = np.empty(4)
        wy = np.empty(4)
        wz = np.empty(4)
        acc = np.zeros(k)
        R = rotations[p]
        # combined map coil frame -> grid index space: u = G^T (c - o)/s + (G^T R / s) r
        A = np.empty((3, 3))
        b = np.empty(3)
        for i in range(3):
            s = 0.0
            for j in range(3):
                s += frame[j, i] * (centres[p, j] - origin[j])
                t = 0.0
                for q in range(3):
                    t += frame[q, i] * R[q, j]
                A[i, j] = t * inv
            b[i] = s * inv
        bad = False
        tot = np.zeros(nf)
        for d in range(nd):
            r0 = positions[d, 0]
            r1 = positions[d, 1]
            r2 = positions[d, 2]
            u0 = b[0] + A[0, 0] * r0 + A[0, 1] * r1 + A[0, 2] * r2
            u1 = b[1] + A[1, 0] * r0 + A[1, 1] * r1 + A[1, 2] * r2
            u2 = b[2] + A[2, 0] * r0 + A[2, 1] * r1 + A[2, 2] * r2
            i0 = int(np.floor(u0))
            i1 = int(np.floor(u1))
            i2 = int(np.floor(u2))
            if i0 < 1 or i1 < 1 or i2 < 1 or i0 + 2 > nx - 1 or i1 + 2 > ny - 1 or i2 + 2 > nz - 1:
                bad = True
                break
            _w4(u0 - i0, wx)
            _w4(u1 - i1, wy)
            _w4(u2 - i2, wz)
            for c in range(k):
                acc[c] = 0.0
            for a in range(4):
                for bb in range(4):
                    wab = wx[a] * wy[bb]
                    for cc in range(4):
                        w = wab * wz[cc]
                        row = values[i0 - 1 + a, i1 - 1 + bb, i2 - 1 + cc]
                        for c in range(k):
                            acc[c] += w * row[c]
            m0 = R[0, 0] * moments[d, 0] + R[0, 1] * moments[d, 1] + R[0, 2] * moments[d, 2]
            m1 = R[1, 0] * moments[d, 0] + R[1, 1] * moments[d, 1] + R[1, 2] * moments[d, 2]
            m2 = R[2, 0] * moments[d, 0] + R[2, 1] * moments[d, 1] + R[2, 2] * moments[d, 2]
            for f in range(nf):
                tot[f] += m0 * acc[3 * f] + m1 * acc[3 * f + 1] + m2 * acc[3 * f + 2]
        for f in range(nf):
            out[p, f] = np.nan if bad else tot[f]
    return out


@nb.njit(cache=True, parallel=True, fastmath=True)
def evaluate_placements_trilinear(values, origin, frame, spacing, rotations, centres, positions, moments):
    """As :func:`evaluate_placements` with trilinear interpolation (8 nodes per dipole; for fast ranking).

    NaN where a dipole's 2x2x2 cell leaves the grid or touches a NaN node.
    """
    nx, ny, nz, k = values.shape
    nf = k // 3
    npl = rotations.shape[0]
    nd = positions.shape[0]
    out = np.zeros((npl, nf))
    inv = 1.0 / spacing
    for p in nb.prange(npl):
        acc = np.zeros(k)
        R = rotations[p]
        A = np.empty((3, 3))
        b = np.empty(3)
        for i in range(3):
            s = 0.0
            for j in range(3):
                s += frame[j, i] * (centres[p, j] - origin[j])
                t = 0.0
                for q in range(3):
                    t += frame[q, i] * R[q, j]
                A[i, j] = t * inv
            b[i] = s * inv
        bad = False
        tot = np.zeros(nf)
        for d in range(nd):
            r0 = positions[d, 0]
            r1 = positions[d, 1]
            r2 = positions[d, 2]
            u0 = b[0] + A[0, 0] * r0 + A[0, 1] * r1 + A[0, 2] * r2
            u1 = b[1] + A[1, 0] * r0 + A[1, 1] * r1 + A[1, 2] * r2
            u2 = b[2] + A[2, 0] * r0 + A[2, 1] * r1 + A[2, 2] * r2
            i0 = int(np.floor(u0))
            i1 = int(np.floor(u1))
            i2 = int(np.floor(u2))
            if i0 < 0 or i1 < 0 or i2 < 0 or i0 + 1 > nx - 1 or i1 + 1 > ny - 1 or i2 + 1 > nz - 1:
                bad = True
                break
            t0 = u0 - i0
            t1 = u1 - i1
            t2 = u2 - i2
            for c in range(k):
                acc[c] = 0.0
            for a in range(2):
                wa = t0 if a == 1 else 1.0 - t0
                for bb in range(2):
                    wab = wa * (t1 if bb == 1 else 1.0 - t1)
                    for cc in range(2):
                        w = wab * (t2 if cc == 1 else 1.0 - t2)
                        row = values[i0 + a, i1 + bb, i2 + cc]
                        for c in range(k):
                            acc[c] += w * row[c]
            m0 = R[0, 0] * moments[d, 0] + R[0, 1] * moments[d, 1] + R[0, 2] * moments[d, 2]
            m1 = R[1, 0] * moments[d, 0] + R[1, 1] * moments[d, 1] + R[1, 2] * moments[d, 2]
            m2 = R[2, 0] * moments[d, 0] + R[2, 1] * moments[d, 1] + R[2, 2] * moments[d, 2]
            for f in range(nf):
                tot[f] += m0 * acc[3 * f] + m1 * acc[3 * f + 1] + m2 * acc[3 * f + 2]
        for f in range(nf):
            out[p, f] = np.nan if bad else tot[f]
    return out
