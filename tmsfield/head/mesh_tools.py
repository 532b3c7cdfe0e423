"""Small triangle-mesh utilities used by the head loaders: topology checks, orientation,
components, Taubin smoothing, inside tests, units detection.

These are the loaders' own repair steps; the authoritative BEM check is
:mod:`tmsfield.solver.mesh_check` (see :func:`run_bem_mesh_check`).
"""

import numpy as np

from ..errors import HeadFileError, MeshError

__all__ = ["boundary_edge_count", "signed_volume", "largest_component", "taubin_smooth",
           "closest_points_on_triangles", "detect_units_scale", "remove_degenerate", "run_bem_mesh_check"]


def _directed_edges(t):
    return np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]])


def boundary_edge_count(triangles):
    """Number of undirected edges not shared by exactly two triangles (0 for a closed manifold).

    Examples
    --------
    >>> boundary_edge_count(np.array([[0, 1, 2]]))
    3
    """
    e = np.sort(_directed_edges(np.asarray(triangles)), axis=1)
    _, counts = np.unique(e, axis=0, return_counts=True)
    return int(np.count_nonzero(counts != 2))


def signed_volume(vertices, triangles):
    """Enclosed volume, mm³ (positive when normals point outward).

    Examples
    --------
    >>> v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1.0]])
    >>> round(signed_volume(v, np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])), 4)
    0.1667
    """
    p = np.asarray(vertices)[np.asarray(triangles)]
    return float(np.einsum("ij,ij->", p[:, 0], np.cross(p[:, 1], p[:, 2])) / 6.0)


def remove_degenerate(vertices, triangles):
    """Drop triangles with repeated vertex indices and unused vertices.

    Examples
    --------
    >>> v, t = remove_degenerate(np.eye(3), np.array([[0, 1, 2], [0, 0, 1]]))
    >>> t.shape
    (1, 3)
    """
    t = np.asarray(triangles)
    ok = (t[:, 0] != t[:, 1]) & (t[:, 1] != t[:, 2]) & (t[:, 2] != t[:, 0])
    t = t[ok]
    used, inv = np.unique(t, return_inverse=True)
    return np.asarray(vertices)[used], inv.reshape(-1, 3)


def largest_component(vertices, triangles):
    """Keep the largest edge-connected component (by triangle count).

    Examples
    --------
    >>> v = np.vstack([np.eye(3), np.eye(3) + 5])
    >>> largest_component(v, np.array([[0, 1, 2], [3, 4, 5]]))[1].shape
    (1, 3)
    """
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components
    t = np.asarray(triangles)
    n = len(vertices)
    e = _directed_edges(t)
    g = sparse.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    ncomp, lab = connected_components(g, directed=False)
    if ncomp == 1:
        return np.asarray(vertices), t
    tri_lab = lab[t[:, 0]]
    best = np.bincount(tri_lab).argmax()
    return remove_degenerate(vertices, t[tri_lab == best])


def _umbrella(vertices, triangles):
    from scipy import sparse
    n = len(vertices)
    e = _directed_edges(np.asarray(triangles))
    e = np.unique(np.sort(e, axis=1), axis=0)
    both = np.concatenate([e, e[:, ::-1]])
    a = sparse.csr_matrix((np.ones(len(both)), (both[:, 0], both[:, 1])), shape=(n, n))
    deg = np.asarray(a.sum(axis=1)).ravel()
    return sparse.diags(1.0 / np.maximum(deg, 1)) @ a


def taubin_smooth(vertices, triangles, iterations=10, lam=0.5, mu=-0.53):
    """Taubin λ|μ smoothing (low-pass, nearly volume preserving).

    Taubin G. (1995) "A signal processing approach to fair surface design", SIGGRAPH '95, 351–358.

    Parameters
    ----------
    vertices : (V, 3) mm
    triangles : (T, 3)
    iterations : int
        Number of λ/μ pairs.

    Returns
    -------
    (V, 3) smoothed vertices, mm.

    Examples
    --------
    >>> from tmsfield.head import icosphere
    >>> s = icosphere(10.0, 2)
    >>> v = taubin_smooth(s.vertices, s.triangles, 5)
    >>> bool(abs(np.linalg.norm(v, axis=1).mean() - 10.0) < 0.2)
    True
    """
    w = _umbrella(vertices, triangles)
    v = np.array(vertices, dtype=np.float64)
    for _ in range(int(iterations)):
        v = v + lam * (w @ v - v)
        v = v + mu * (w @ v - v)
    return v


def tangential_relax(vertices, triangles, iterations=5, step=0.5):
    """Move vertices toward their neighbours' centroid within the tangent plane (evens triangle shapes
    without shrinking the surface).

    Examples
    --------
    >>> from tmsfield.head import icosphere
    >>> s = icosphere(10.0, 2)
    >>> tangential_relax(s.vertices, s.triangles, 2).shape
    (162, 3)
    """
    w = _umbrella(vertices, triangles)
    v = np.array(vertices, dtype=np.float64)
    t = np.asarray(triangles)
    for _ in range(int(iterations)):
        p = v[t]
        cr = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
        n = np.zeros_like(v)
        for k in range(3):
            np.add.at(n, t[:, k], cr)
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
        d = w @ v - v
        d -= np.sum(d * n, axis=1, keepdims=True) * n
        v = v + step * d
    return v


def closest_points_on_triangles(p, a, b, c):
    """Closest points on triangles abc to points p (Ericson 2005, Real-Time Collision Detection, §5.1.5).

    Parameters
    ----------
    p, a, b, c : ndarray, shape (..., 3)
        Points and triangle corners, broadcast against each other (any unit).

    Returns
    -------
    ndarray, shape (..., 3)

    Examples
    --------
    >>> tri = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0.0]])
    >>> closest_points_on_triangles(np.array([0.2, 0.2, 5.0]), *tri)
    array([0.2, 0.2, 0. ])
    """
    ab, ac, ap = b - a, c - a, p - a
    d1 = np.einsum("...i,...i", ab, ap)
    d2 = np.einsum("...i,...i", ac, ap)
    bp = p - b
    d3 = np.einsum("...i,...i", ab, bp)
    d4 = np.einsum("...i,...i", ac, bp)
    cp = p - c
    d5 = np.einsum("...i,...i", ab, cp)
    d6 = np.einsum("...i,...i", ac, cp)
    va = d3 * d6 - d5 * d4
    vb = d5 * d2 - d1 * d6
    vc = d1 * d4 - d3 * d2
    denom = va + vb + vc
    denom = np.where(np.abs(denom) < 1e-30, 1e-30, denom)
    v = vb / denom
    w = vc / denom
    res = a + ab * v[..., None] + ac * w[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        # edge regions
        m_ab = (vc <= 0) & (d1 >= 0) & (d3 <= 0)
        t_ab = np.clip(d1 / np.where(d1 - d3 == 0, 1, d1 - d3), 0, 1)
        m_ac = (vb <= 0) & (d2 >= 0) & (d6 <= 0)
        t_ac = np.clip(d2 / np.where(d2 - d6 == 0, 1, d2 - d6), 0, 1)
        m_bc = (va <= 0) & ((d4 - d3) >= 0) & ((d5 - d6) >= 0)
        t_bc = np.clip((d4 - d3) / np.where((d4 - d3) + (d5 - d6) == 0, 1, (d4 - d3) + (d5 - d6)), 0, 1)
    res = np.where(m_bc[..., None], b + (c - b) * t_bc[..., None], res)
    res = np.where(m_ac[..., None], a + ac * t_ac[..., None], res)
    res = np.where(m_ab[..., None], a + ab * t_ab[..., None], res)
    # vertex regions
    res = np.where(((d6 >= 0) & (d5 <= d6))[..., None], c, res)
    res = np.where(((d3 >= 0) & (d4 <= d3))[..., None], b, res)
    res = np.where(((d1 <= 0) & (d2 <= 0))[..., None], a, res)
    return res


def detect_units_scale(vertices, source, units="auto"):
    """Scale factor to mm for head-surface coordinates: 1 for mm, 1000 for metres.

    ``units="auto"`` decides from the bounding-box extent: 60–400 → mm, 0.06–0.4 → metres;
    anything else is refused (pass ``units="mm"`` or ``units="m"``).

    Examples
    --------
    >>> detect_units_scale(np.array([[0, 0, 0], [0.18, 0.2, 0.15]]), "x.surf")
    1000.0
    """
    if units in ("mm", "millimetre", "millimeter"):
        return 1.0
    if units in ("m", "metre", "meter"):
        return 1000.0
    if units != "auto":
        raise HeadFileError(f"{source}: units must be 'auto', 'mm' or 'm'; got {units!r}")
    extent = float(np.ptp(np.asarray(vertices), axis=0).max())
    if 60.0 <= extent <= 400.0:
        return 1.0
    if 0.06 <= extent <= 0.4:
        return 1000.0
    raise HeadFileError(f"{source}: cannot tell whether coordinates are mm or metres (largest extent "
                        f"{extent:g}; a head is ~150-250 mm or 0.15-0.25 m). Pass units='mm' or units='m' "
                        f"explicitly, or check that this is a head surface")


def run_bem_mesh_check(boundaries, source="head"):
    """Run the BEM solver's mesh check on head boundaries (outside → in), if that module is present.

    Uses :func:`tmsfield.solver.mesh_check.check_nested` (which also checks each surface: closed,
    manifold, outward, not self-intersecting). Falls back to a topological
    closedness and orientation test if the solver module is not installed.

    Raises
    ------
    MeshError
        The message names the surface and the source file.

    Examples
    --------
    >>> from tmsfield.head import nested_spheres
    >>> run_bem_mesh_check(nested_spheres([95, 85], 2))
    """
    try:
        from ..solver import mesh_check
    except ImportError:
        mesh_check = None
    if mesh_check is not None:
        try:
            mesh_check.check_nested(list(boundaries), repair_orientation=False)
        except MeshError as exc:
            raise MeshError(f"{source}: {exc}") from None
        return
    for s in boundaries:
        nb = boundary_edge_count(s.triangles)
        if nb:
            raise MeshError(f"{source}: surface {s.name!r} is not closed ({nb} edges not shared by exactly two "
                            f"triangles); fill its holes or remesh it")
        if signed_volume(s.vertices, s.triangles) <= 0:
            raise MeshError(f"{source}: surface {s.name!r} has inward normals; flip its triangles "
                            f"(reverse the vertex order of every triangle)")
