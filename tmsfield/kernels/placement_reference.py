"""Plain-numpy reference of the placement-evaluation kernel (:mod:`tmsfield.kernels.placement`).

For each placement p (rotation R_p, centre c_p, mm) and each functional f, with the adjoint field h_f
tabulated on a regular grid (tricubic Lagrange interpolation, 4 nodes per axis)::

    F[p, f] = sum_i (R_p m_i) · h_f(c_p + R_p r_i)

Grid: ``values[ix, iy, iz, 3*f + k]`` = component k (head frame) of h_f at the node
``origin + frame @ (ix, iy, iz) * spacing`` where ``frame`` (3, 3) has the grid axes as columns.
"""

import numpy as np

__all__ = ["lagrange4_weights", "evaluate_placements_reference", "evaluate_placements_trilinear_reference"]


def lagrange4_weights(t):
    """Cubic Lagrange weights for nodes at -1, 0, 1, 2 and 0 <= t < 1; returns (..., 4)."""
    t = np.asarray(t, float)
    return np.stack([-t * (t - 1) * (t - 2) / 6.0,
                     (t + 1) * (t - 1) * (t - 2) / 2.0,
                     -(t + 1) * t * (t - 2) / 2.0,
                     (t + 1) * t * (t - 1) / 6.0], axis=-1)


def evaluate_placements_reference(values, origin, frame, spacing, rotations, centres, positions, moments):
    """Reference of :func:`tmsfield.kernels.placement.evaluate_placements` (same arguments, same result).

    Returns
    -------
    ndarray (P, F); NaN where a dipole's stencil leaves the grid.
    """
    nx, ny, nz, k = values.shape
    nf = k // 3
    out = np.empty((rotations.shape[0], nf))
    for p in range(rotations.shape[0]):
        r = positions @ rotations[p].T + centres[p]          # (D,3) head
        m = moments @ rotations[p].T                         # (D,3) head
        u = (r - origin) @ frame / spacing                   # grid coordinates
        i0 = np.floor(u).astype(int)
        t = u - i0
        n = np.array([nx, ny, nz])
        if np.any(i0 - 1 < 0) or np.any(i0 + 2 > n - 1):
            out[p] = np.nan
            continue
        w = lagrange4_weights(t)                             # (D,3,4)
        hval = np.zeros((r.shape[0], k))
        for a in range(4):
            for b in range(4):
                for c in range(4):
                    ww = w[:, 0, a] * w[:, 1, b] * w[:, 2, c]
                    hval += ww[:, None] * values[i0[:, 0] - 1 + a, i0[:, 1] - 1 + b, i0[:, 2] - 1 + c]
        for f in range(nf):
            out[p, f] = np.sum(m * hval[:, 3 * f:3 * f + 3])
    return out


def evaluate_placements_trilinear_reference(values, origin, frame, spacing, rotations, centres, positions, moments):
    """Reference of :func:`tmsfield.kernels.placement.evaluate_placements_trilinear`."""
    nx, ny, nz, k = values.shape
    nf = k // 3
    out = np.empty((rotations.shape[0], nf))
    n = np.array([nx, ny, nz])
    for p in range(rotations.shape[0]):
        r = positions @ rotations[p].T + centres[p]
        m = moments @ rotations[p].T
        u = (r - origin) @ frame / spacing
        i0 = np.floor(u).astype(int)
        t = u - i0
        if np.any(i0 < 0) or np.any(i0 + 1 > n - 1):
            out[p] = np.nan
            continue
        hval = np.zeros((r.shape[0], k))
        for a in range(2):
            for b in range(2):
                for c in range(2):
                    ww = (t[:, 0] if a else 1 - t[:, 0]) * (t[:, 1] if b else 1 - t[:, 1]) * (t[:, 2] if c else 1 - t[:, 2])
                    hval += ww[:, None] * values[i0[:, 0] + a, i0[:, 1] + b, i0[:, 2] + c]
        for f in range(nf):
            out[p, f] = np.sum(m * hval[:, 3 * f:3 * f + 3])
    return out
