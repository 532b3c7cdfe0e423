"""Numba kernel: fast generalized winding number of a closed triangle surface.

Triangles are grouped into clusters; a cluster seen from farther than ``far_factor``
times its radius contributes its dipole term A·(c − p)/|c − p|³ (A = Σ area·normal,
c its area centroid), nearer clusters the exact solid angle of each triangle (Van
Oosterom & Strackee 1983). This is the order-1 fast winding number of Barill et al.
(2018, ACM TOG 37:43). The exact all-pairs sum is in :mod:`.winding_reference`.
"""

import numba as nb
import numpy as np

__all__ = ["winding_number_clustered"]


@nb.njit(cache=True, parallel=True)
def winding_number_clustered(points, tri_v, cluster_start, cluster_center, cluster_area_vec, cluster_radius,
                             far_factor):
    """Winding number (N,) at points (N,3).

    Parameters
    ----------
    points : (N, 3) float64
    tri_v : (T, 3, 3) float64
        Triangle vertices, sorted so cluster k holds triangles cluster_start[k]:cluster_start[k+1].
    cluster_start : (K+1,) int64
    cluster_center, cluster_area_vec : (K, 3) float64
    cluster_radius : (K,) float64
    far_factor : float

    Examples
    --------
    >>> tv = np.array([[[0, 0, 0], [0, 1, 0], [1, 0, 0]], [[0, 0, 0], [1, 0, 0], [0, 0, 1]],
    ...                [[0, 0, 0], [0, 0, 1], [0, 1, 0]], [[1, 0, 0], [0, 1, 0], [0, 0, 1]]], float)
    >>> w = winding_number_clustered(np.array([[0.1, 0.1, 0.1]]), tv, np.array([0, 4]),
    ...                              np.array([[0.3, 0.3, 0.3]]), np.zeros((1, 3)), np.array([1.0]), 3.0)
    >>> round(float(w[0]), 6)
    1.0
    """
    n = points.shape[0]
    k = cluster_center.shape[0]
    out = np.zeros(n)
    for i in nb.prange(n):
        px, py, pz = points[i, 0], points[i, 1], points[i, 2]
        total = 0.0
        for c in range(k):
            dx = cluster_center[c, 0] - px
            dy = cluster_center[c, 1] - py
            dz = cluster_center[c, 2] - pz
            d2 = dx * dx + dy * dy + dz * dz
            lim = far_factor * cluster_radius[c]
            if d2 > lim * lim:
                d = np.sqrt(d2)
                total += (cluster_area_vec[c, 0] * dx + cluster_area_vec[c, 1] * dy
                          + cluster_area_vec[c, 2] * dz) / (d2 * d)
                continue
            for t in range(cluster_start[c], cluster_start[c + 1]):
                ax, ay, az = tri_v[t, 0, 0] - px, tri_v[t, 0, 1] - py, tri_v[t, 0, 2] - pz
                bx, by, bz = tri_v[t, 1, 0] - px, tri_v[t, 1, 1] - py, tri_v[t, 1, 2] - pz
                cx, cy, cz = tri_v[t, 2, 0] - px, tri_v[t, 2, 1] - py, tri_v[t, 2, 2] - pz
                la = np.sqrt(ax * ax + ay * ay + az * az)
                lb = np.sqrt(bx * bx + by * by + bz * bz)
                lc = np.sqrt(cx * cx + cy * cy + cz * cz)
                num = ax * (by * cz - bz * cy) + ay * (bz * cx - bx * cz) + az * (bx * cy - by * cx)
                den = (la * lb * lc + (ax * bx + ay * by + az * bz) * lc + (bx * cx + by * cy + bz * cz) * la
                       + (cx * ax + cy * ay + cz * az) * lb)
                total += 2.0 * np.arctan2(num, den)
        out[i] = total / (4.0 * np.pi)
    return out
