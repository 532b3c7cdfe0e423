"""Icosphere triangle meshes: single spheres and nested spherical shells (test heads)."""

import numpy as np

from ..errors import InputError
from ..validation import as_points, as_positive_float
from .surface import Surface

__all__ = ["icosphere", "nested_spheres"]


def _icosahedron():
    phi = (1.0 + np.sqrt(5.0)) / 2.0
    v = np.array([
        [-1, phi, 0], [1, phi, 0], [-1, -phi, 0], [1, -phi, 0],
        [0, -1, phi], [0, 1, phi], [0, -1, -phi], [0, 1, -phi],
        [phi, 0, -1], [phi, 0, 1], [-phi, 0, -1], [-phi, 0, 1],
    ], dtype=np.float64)
    t = np.array([
        [0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11],
        [1, 5, 9], [5, 11, 4], [11, 10, 2], [10, 7, 6], [7, 1, 8],
        [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8], [3, 8, 9],
        [4, 9, 5], [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1],
    ], dtype=np.int64)
    return v / np.linalg.norm(v, axis=1, keepdims=True), t


def _subdivide(v, t):
    """Split each triangle into four through its edge midpoints (shared midpoints reused)."""
    e = np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]])
    e_sorted = np.sort(e, axis=1)
    uniq, inverse = np.unique(e_sorted, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    mid = v[uniq[:, 0]] + v[uniq[:, 1]]
    mid /= np.linalg.norm(mid, axis=1, keepdims=True)
    nv = v.shape[0]
    nt = t.shape[0]
    m01 = nv + inverse[:nt]
    m12 = nv + inverse[nt:2 * nt]
    m20 = nv + inverse[2 * nt:]
    a, b, c = t[:, 0], t[:, 1], t[:, 2]
    new_t = np.concatenate([
        np.column_stack([a, m01, m20]),
        np.column_stack([m01, b, m12]),
        np.column_stack([m20, m12, c]),
        np.column_stack([m01, m12, m20]),
    ])
    return np.vstack([v, mid]), new_t


def _check_subdivisions(subdivisions):
    try:
        s = int(subdivisions)
    except (TypeError, ValueError):
        raise InputError(f"subdivisions must be an integer 0..7; got {subdivisions!r}") from None
    if s != subdivisions or not 0 <= s <= 7:
        raise InputError(f"subdivisions must be an integer 0..7 (20·4^s triangles: s=7 gives 327,680); "
                         f"got {subdivisions!r}")
    return s


def icosphere(radius_mm, subdivisions=3, center_mm=(0.0, 0.0, 0.0), name="sphere"):
    """A closed, outward-oriented triangulated sphere made by subdividing an icosahedron.

    Every vertex lies exactly on the sphere. Subdivision level ``s`` gives
    ``20·4**s`` triangles and ``10·4**s + 2`` vertices (s=3: 1280 triangles,
    s=4: 5120, s=5: 20480).

    Parameters
    ----------
    radius_mm : float
        Sphere radius, mm (> 0).
    subdivisions : int
        Number of 1→4 subdivisions of the icosahedron, 0..7.
    center_mm : array_like, shape (3,)
        Sphere centre, mm.
    name : str
        Surface name (used in error messages).

    Returns
    -------
    Surface
        Triangles counter-clockwise seen from outside (normals point outward).

    Raises
    ------
    InputError
        Non-positive radius, bad subdivision level or centre.

    Examples
    --------
    >>> s = icosphere(85.0, subdivisions=2, name="brain")
    >>> s.n_triangles, s.n_vertices
    (320, 162)
    >>> bool(np.allclose(np.linalg.norm(s.vertices, axis=1), 85.0))
    True
    """
    r = as_positive_float(radius_mm, "radius_mm")
    s = _check_subdivisions(subdivisions)
    c = as_points(center_mm, "center_mm")
    if c.shape[0] != 1:
        raise InputError(f"center_mm must be a single point (3,) in mm; got shape {np.shape(center_mm)}")
    v, t = _icosahedron()
    for _ in range(s):
        v, t = _subdivide(v, t)
    # make orientation outward for certain (the table above is outward; keep a cheap guard)
    p = v[t]
    if np.einsum("ij,ij->", np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), p[:, 0]) < 0:
        t = t[:, [0, 2, 1]]
    return Surface(v * r + c[0], t, name=str(name))


def nested_spheres(radii_mm, subdivisions=3, center_mm=(0.0, 0.0, 0.0), names=None):
    """Concentric icospheres for multi-shell test heads, ordered outside → in.

    Parameters
    ----------
    radii_mm : sequence of float
        Shell radii, mm, strictly distinct; returned sorted from largest to smallest.
    subdivisions : int or sequence of int
        Subdivision level for all shells or one per shell (in the order of ``radii_mm``).
    center_mm : array_like, shape (3,)
        Common centre, mm.
    names : sequence of str, optional
        One name per shell (in the order of ``radii_mm``); default ``"sphere_<r>mm"``.

    Returns
    -------
    list of Surface
        Largest radius first.

    Examples
    --------
    >>> shells = nested_spheres([95, 90, 85], subdivisions=2, names=["scalp", "skull", "brain"])
    >>> [s.name for s in shells]
    ['scalp', 'skull', 'brain']
    """
    try:
        radii = [float(r) for r in radii_mm]
    except (TypeError, ValueError):
        raise InputError(f"radii_mm must be a sequence of positive numbers (mm); got {radii_mm!r}") from None
    if len(radii) == 0:
        raise InputError("radii_mm is empty; give at least one radius in mm")
    if len(set(radii)) != len(radii):
        raise InputError(f"radii_mm must be distinct (nested shells cannot coincide); got {radii}")
    if np.ndim(subdivisions) == 0:
        subs = [subdivisions] * len(radii)
    else:
        subs = list(subdivisions)
        if len(subs) != len(radii):
            raise InputError(f"subdivisions has {len(subs)} entries but radii_mm has {len(radii)}")
    if names is None:
        names = [f"sphere_{r:g}mm" for r in radii]
    elif len(names) != len(radii):
        raise InputError(f"names has {len(names)} entries but radii_mm has {len(radii)}")
    shells = [icosphere(r, s, center_mm, n) for r, s, n in zip(radii, subs, names)]
    order = np.argsort([-r for r in radii], kind="stable")
    return [shells[i] for i in order]
