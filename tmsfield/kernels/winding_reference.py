"""Plain-numpy reference for :mod:`.winding`: the exact generalized winding number.

w(p) = (1/4π) Σ_triangles Ω(p), Ω the signed solid angle of each triangle seen from p
(Van Oosterom & Strackee 1983, IEEE Trans Biomed Eng 30:125):
tan(Ω/2) = a·(b×c) / (|a||b||c| + (a·b)|c| + (b·c)|a| + (c·a)|b|), a, b, c the vertices
relative to p. For a closed outward-oriented surface w is 1 inside and 0 outside.
"""

import numpy as np

__all__ = ["solid_angles_reference", "winding_number_reference"]


def solid_angles_reference(points, tri_v):
    """Signed solid angles (P,) of triangles tri_v (P,3,3) seen from points (P,3)."""
    a = tri_v[:, 0] - points
    b = tri_v[:, 1] - points
    c = tri_v[:, 2] - points
    la, lb, lc = (np.linalg.norm(x, axis=1) for x in (a, b, c))
    num = np.einsum("ij,ij->i", a, np.cross(b, c))
    den = (la * lb * lc + np.einsum("ij,ij->i", a, b) * lc + np.einsum("ij,ij->i", b, c) * la
           + np.einsum("ij,ij->i", c, a) * lb)
    return 2.0 * np.arctan2(num, den)


def winding_number_reference(vertices, triangles, points, chunk=1_000_000):
    """Exact winding number (N,) of the triangle surface at points (N,3), all pairs.

    Examples
    --------
    >>> v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1.0]])
    >>> t = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    >>> winding_number_reference(v, t, np.array([[0.1, 0.1, 0.1], [2, 2, 2.0]])).round(6)
    array([1., 0.])
    """
    points = np.asarray(points, float)
    tv = np.asarray(vertices, float)[np.asarray(triangles)]
    out = np.zeros(points.shape[0])
    rows = max(1, chunk // tv.shape[0])
    for s in range(0, points.shape[0], rows):
        p = points[s:s + rows]
        pp = np.repeat(p, tv.shape[0], axis=0)
        tt = np.tile(tv, (p.shape[0], 1, 1))
        out[s:s + rows] = solid_angles_reference(pp, tt).reshape(p.shape[0], -1).sum(axis=1)
    return out / (4.0 * np.pi)
