"""Near-pair search of the BEM by triangle size: memory O(N·k) whatever the mix of triangle sizes.

A triangle's one-point (centroid) rule is accurate beyond a few of its own sizes, so the exact
integral is needed for the points closer than ``radius_j = near_factor × size_j`` to triangle j.
Heads mix 16 mm scalp triangles with 1-2 mm cortex triangles: one search radius (the largest
triangle's) would pair every cortex triangle with thousands of others (13 GB on a 97k-triangle head).
Here the triangles are put into size classes whose radii lie within a factor 2 of each other; each
class is searched with its own largest radius (in chunks of source triangles, so the temporary
arrays stay small) and only the pairs closer than the triangle's own radius are kept. On a surface
the candidates then exceed the kept pairs by at most 2² = 4, and memory is O(N·k), k the number
of points within a triangle's own radius.
"""

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["size_classes", "iter_near_pairs", "near_pairs"]

#: source triangles per search chunk
_CHUNK = 20000


def size_classes(radii, ratio=2.0):
    """Indices of the triangles grouped by radius, each group's radii within a factor ``ratio``.

    Parameters
    ----------
    radii : array_like (T,), mm, positive
    ratio : float > 1

    Returns
    -------
    list of ndarray of int64
        Groups ordered from small to large radii; together they hold every index once.

    Examples
    --------
    >>> [g.tolist() for g in size_classes([1.0, 1.5, 4.0, 1.1])]
    [[0, 1, 3], [2]]
    """
    r = np.asarray(radii, dtype=np.float64).reshape(-1)
    if r.size == 0:
        return []
    cls = np.floor(np.log(r / r.min()) / np.log(ratio)).astype(np.int64)
    order = np.argsort(cls, kind="stable")
    bounds = np.flatnonzero(np.diff(cls[order])) + 1
    return [np.ascontiguousarray(g) for g in np.split(order, bounds)]


def iter_near_pairs(points, centroids, radii, tree_points=None, chunk=_CHUNK):
    """Yield chunks ``(i, j)`` of the pairs with ``|points[i] − centroids[j]| < radii[j]``.

    Parameters
    ----------
    points : ndarray (P, 3), mm
    centroids : ndarray (T, 3), mm
    radii : ndarray (T,), mm — each triangle's near-field radius
    tree_points : scipy.spatial.cKDTree, optional
        A tree of ``points`` (built when not given).
    chunk : int
        Source triangles searched at once.

    Yields
    ------
    (ndarray int64, ndarray int64)
        Point and triangle indices of one chunk of pairs (no order guaranteed).

    Examples
    --------
    >>> c = np.array([[0.0, 0, 0], [10.0, 0, 0]])
    >>> chunks = list(iter_near_pairs(c, c, np.array([1.0, 20.0])))
    >>> sorted((int(a), int(b)) for i, j in chunks for a, b in zip(i, j))
    [(0, 0), (0, 1), (1, 1)]
    """
    pts = np.asarray(points, dtype=np.float64)
    cen = np.asarray(centroids, dtype=np.float64)
    rad = np.asarray(radii, dtype=np.float64)
    if pts.shape[0] == 0 or cen.shape[0] == 0:
        return
    tp = cKDTree(pts) if tree_points is None else tree_points
    for group in size_classes(rad):
        for start in range(0, group.size, int(chunk)):
            idx = group[start:start + int(chunk)]
            rmax = float(rad[idx].max())
            sdm = tp.sparse_distance_matrix(cKDTree(cen[idx]), rmax, output_type="ndarray")
            if sdm.size == 0:
                continue
            j = idx[sdm["j"]]
            keep = sdm["v"] < rad[j]
            yield np.ascontiguousarray(sdm["i"][keep].astype(np.int64)), np.ascontiguousarray(j[keep])


def near_pairs(points, centroids, radii, tree_points=None):
    """All pairs of :func:`iter_near_pairs` concatenated: ``(i, j)``, int64 arrays of equal length.

    Examples
    --------
    >>> c = np.array([[0.0, 0, 0], [10.0, 0, 0]])
    >>> i, j = near_pairs(c, c, np.array([1.0, 20.0]))
    >>> sorted(zip(i.tolist(), j.tolist()))
    [(0, 0), (0, 1), (1, 1)]
    """
    parts = list(iter_near_pairs(points, centroids, radii, tree_points))
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
