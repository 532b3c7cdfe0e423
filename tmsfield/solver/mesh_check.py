"""Checks that triangle surfaces can bound BEM compartments, with orientation repair.

:func:`check_surface` verifies one surface: plausible size in mm, no degenerate
triangles, closed (every edge in exactly two triangles), edge- and vertex-manifold,
consistently and outwardly oriented (repaired by flipping triangles), and not
self-intersecting. :func:`check_nested` verifies that a list of surfaces (outside → in)
is strictly nested: every vertex of each surface lies inside the previous one (fast
generalized winding number) and no triangles of the two cross.

Every failure raises :class:`tmsfield.errors.MeshError` naming the surface, the defect,
where it is (mm) and how to fix it.
"""

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order, connected_components
from scipy.spatial import cKDTree

from ..errors import MeshError
from ..head.surface import Surface

__all__ = ["check_surface", "check_nested", "winding_number", "intersecting_triangle_pairs"]

_DIAG_MIN_MM = 20.0
_DIAG_MAX_MM = 1000.0


def _fmt(p):
    return f"({p[0]:.2f}, {p[1]:.2f}, {p[2]:.2f}) mm"


# ----------------------------------------------------------------------------- units
def _check_units(surface):
    v = surface.vertices
    diag = float(np.linalg.norm(v.max(axis=0) - v.min(axis=0)))
    if _DIAG_MIN_MM <= diag <= _DIAG_MAX_MM:
        return
    if diag < _DIAG_MIN_MM:
        hint = ""
        if _DIAG_MIN_MM <= diag * 1000 <= _DIAG_MAX_MM:
            hint = " It looks like metres: multiply the vertices by 1000."
        elif _DIAG_MIN_MM <= diag * 10 <= _DIAG_MAX_MM:
            hint = " It looks like centimetres: multiply the vertices by 10."
        raise MeshError(f"surface {surface.name!r}: bounding-box diagonal is {diag:.4g}, too small for a head "
                        f"surface in mm (expected {_DIAG_MIN_MM:g}–{_DIAG_MAX_MM:g} mm).{hint}")
    hint = " It looks like micrometres: divide the vertices by 1000." if diag / 1000 >= _DIAG_MIN_MM else ""
    raise MeshError(f"surface {surface.name!r}: bounding-box diagonal is {diag:.4g}, too large for a head surface "
                    f"in mm (expected {_DIAG_MIN_MM:g}–{_DIAG_MAX_MM:g} mm).{hint}")


# ----------------------------------------------------------------------------- topology
def _degenerate(surface):
    t = surface.triangles
    v = surface.vertices
    repeated = (t[:, 0] == t[:, 1]) | (t[:, 1] == t[:, 2]) | (t[:, 2] == t[:, 0])
    e = v[t[:, [1, 2, 0]]] - v[t]
    longest = np.linalg.norm(e, axis=2).max(axis=1)
    area = surface.triangle_areas
    # area relative to the square of the longest edge: 0 for slivers and needles
    tiny = area <= 1e-10 * np.maximum(longest, 1e-300) ** 2
    bad = np.flatnonzero(repeated | tiny)
    if bad.size:
        i = bad[0]
        raise MeshError(f"surface {surface.name!r}: {bad.size} degenerate triangle(s) (zero area or a repeated "
                        f"vertex), first is triangle {i} {t[i].tolist()} at {_fmt(surface.centroids[i])}. Remove "
                        f"them and merge duplicate vertices (e.g. pyvista clean()), then re-check.")


def _half_edges(t):
    """Directed edges (3T, 2), owning triangle (3T,), and corner index of the edge start."""
    he = np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]])
    tri = np.tile(np.arange(t.shape[0]), 3)
    return he, tri


def _edge_table(surface):
    """Unique undirected edges, their use count, and the map half-edge -> edge id."""
    t = surface.triangles
    he, tri = _half_edges(t)
    key = np.sort(he, axis=1)
    uniq, inv, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    return he, tri, uniq, inv.reshape(-1), counts


def _check_closed_manifold(surface, he, tri, uniq, inv, counts):
    v = surface.vertices
    open_e = np.flatnonzero(counts == 1)
    if open_e.size:
        a, b = uniq[open_e[0]]
        raise MeshError(f"surface {surface.name!r} is not closed: {open_e.size} boundary edge(s) belong to only one "
                        f"triangle (a hole), first between vertices {a} and {b} at {_fmt((v[a] + v[b]) / 2)}. "
                        f"Fill the hole (e.g. pyvista fill_holes) or re-extract the surface from a closed label mask.")
    multi = np.flatnonzero(counts > 2)
    if multi.size:
        a, b = uniq[multi[0]]
        raise MeshError(f"surface {surface.name!r} is not manifold: {multi.size} edge(s) are shared by more than two "
                        f"triangles (duplicate triangles or touching sheets), first between vertices {a} and {b} at "
                        f"{_fmt((v[a] + v[b]) / 2)} ({counts[multi[0]]} triangles). Remove duplicate triangles or "
                        f"separate the touching parts.")
    # vertex manifoldness: the triangles around each vertex must form one fan.
    # Corners (triangle, vertex) are joined across each shared edge for both edge vertices.
    t = surface.triangles
    nt = t.shape[0]
    order = np.argsort(inv, kind="stable")
    first, second = order[0::2], order[1::2]            # the two half-edges of every edge
    t1, t2 = tri[first], tri[second]
    corner_ids = []
    for end in (0, 1):
        vert = he[first, end]
        c1 = t1 + nt * np.argmax(t[t1] == vert[:, None], axis=1)
        c2 = t2 + nt * np.argmax(t[t2] == vert[:, None], axis=1)
        corner_ids.append((c1, c2))
    rows = np.concatenate([c[0] for c in corner_ids])
    cols = np.concatenate([c[1] for c in corner_ids])
    graph = coo_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=(3 * nt, 3 * nt))
    _, labels = connected_components(graph, directed=False)
    corner_vertex = t.T.reshape(-1)                     # corner id k*nt + i -> t[i, k]
    pairs = np.unique(np.column_stack([corner_vertex, labels]), axis=0)
    fans = np.bincount(pairs[:, 0], minlength=surface.n_vertices)
    bad = np.flatnonzero(fans > 1)
    if bad.size:
        i = bad[0]
        raise MeshError(f"surface {surface.name!r} is not manifold: {bad.size} vertex/vertices join separate sheets "
                        f"(pinch points), first is vertex {i} at {_fmt(v[i])} ({fans[i]} fans). Split the vertex or "
                        f"smooth/re-mesh the region so the surfaces no longer touch.")


def _orient_consistently(surface, he, tri, inv, repair):
    """Flip triangles so that every edge is traversed in opposite directions by its two triangles."""
    t = surface.triangles
    nt = t.shape[0]
    order = np.argsort(inv, kind="stable")
    h1, h2 = order[0::2], order[1::2]
    t1, t2 = tri[h1], tri[h2]
    same = he[h1, 0] == he[h2, 0]                       # both traverse the edge in the same direction
    if not same.any():
        return t, 0
    if not repair:
        k = int(np.count_nonzero(same))
        i = t1[np.flatnonzero(same)[0]]
        raise MeshError(f"surface {surface.name!r} is inconsistently oriented: {k} edge(s) are traversed in the same "
                        f"direction by both their triangles, first near {_fmt(surface.centroids[i])}. Call "
                        f"check_surface(..., repair_orientation=True) to flip them.")
    adj = coo_matrix((np.where(same, 2, 1).astype(np.int8), (t1, t2)), shape=(nt, nt)).tocsr()
    adj = adj + adj.T
    flip = np.zeros(nt, dtype=bool)
    visited = np.zeros(nt, dtype=bool)
    indptr, indices, data = adj.indptr, adj.indices, adj.data
    for root in range(nt):
        if visited[root]:
            continue
        nodes, pred = breadth_first_order(adj, root, directed=False, return_predecessors=True)
        visited[nodes] = True
        for node in nodes[1:]:
            p = pred[node]
            row = slice(indptr[node], indptr[node + 1])
            w = data[row][indices[row] == p][0]
            flip[node] = flip[p] ^ (w == 2)
    t_new = np.where(flip[:, None], t[:, [0, 2, 1]], t)
    # start vertex of each half-edge after flipping (a flipped triangle traverses its edges backwards)
    start = np.where(flip[tri], he[:, 1], he[:, 0])
    still = start[h1] == start[h2]
    if still.any():
        i = t1[np.flatnonzero(still)[0]]
        raise MeshError(f"surface {surface.name!r} is not orientable (a Möbius-like twist): no consistent choice of "
                        f"triangle orientation exists, conflict near {_fmt(surface.centroids[i])}. Re-mesh the surface.")
    return t_new, int(flip.sum())


def _orient_outward(surface, t):
    """Flip each connected component whose signed volume is negative; refuse zero-volume parts."""
    v = surface.vertices
    nt = t.shape[0]
    he, tri = _half_edges(t)
    key = np.sort(he, axis=1)
    _, inv = np.unique(key, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    order = np.argsort(inv, kind="stable")
    g = coo_matrix((np.ones(order.size // 2), (tri[order[0::2]], tri[order[1::2]])), shape=(nt, nt))
    n_comp, comp = connected_components(g, directed=False)
    p = v[t] - v.mean(axis=0)
    vol6 = np.einsum("ij,ij->i", p[:, 0], np.cross(p[:, 1], p[:, 2]))
    comp_vol = np.bincount(comp, weights=vol6, minlength=n_comp) / 6.0
    comp_area = np.bincount(comp, weights=surface.triangle_areas, minlength=n_comp)
    flat = np.flatnonzero(np.abs(comp_vol) < 1e-6 * comp_area ** 1.5)
    if flat.size:
        raise MeshError(f"surface {surface.name!r}: a closed part encloses (almost) no volume "
                        f"({comp_area[flat[0]]:.3g} mm² of area); it is a flattened or doubled sheet. Re-mesh it.")
    neg = comp_vol < 0
    if neg.any():
        t = np.where(neg[comp][:, None], t[:, [0, 2, 1]], t)
    return t, int(neg.sum()), n_comp


# ----------------------------------------------------------------------------- intersections
def _orient3d(a, b, c, d):
    return np.einsum("ij,ij->i", b - a, np.cross(c - a, d - a))


def _segments_cross_triangles(p, q, a, b, c, eps):
    """Vectorised strict test: segment pq passes through the interior of triangle abc."""
    s1 = _orient3d(a, b, c, p)
    s2 = _orient3d(a, b, c, q)
    o1 = _orient3d(p, q, a, b)
    o2 = _orient3d(p, q, b, c)
    o3 = _orient3d(p, q, c, a)
    straddle = ((s1 > eps) & (s2 < -eps)) | ((s1 < -eps) & (s2 > eps))
    inside = ((o1 > eps) & (o2 > eps) & (o3 > eps)) | ((o1 < -eps) & (o2 < -eps) & (o3 < -eps))
    return straddle & inside


def _triangles_intersect(va, vb, eps):
    """(K,) bool: triangles va[k] (3,3) and vb[k] cross (an edge of one pierces the other)."""
    hit = np.zeros(va.shape[0], dtype=bool)
    for x, y in ((va, vb), (vb, va)):
        for i in range(3):
            p, q = x[:, i], x[:, (i + 1) % 3]
            hit |= _segments_cross_triangles(p, q, y[:, 0], y[:, 1], y[:, 2], eps)
    return hit


def _bounding_radius(v, t):
    c = v[t].mean(axis=1)
    return c, np.linalg.norm(v[t] - c[:, None], axis=2).max(axis=1)


def _size_classes(r, n_max=16):
    """Group triangles by bounding radius (factor-2 classes) so long triangles do not blow up the search."""
    r0 = max(r.min(), 1e-12)
    cls = np.minimum(np.floor(np.log2(r / r0)).astype(np.int64), n_max - 1)
    return [np.flatnonzero(cls == k) for k in np.unique(cls)]


def _candidate_pairs(c1, r1, c2=None, r2=None):
    """Triangle pairs whose bounding spheres overlap (within one mesh if c2 is None).

    Triangles are split into size classes; each pair of classes is searched with a k-d
    tree at the sum of the classes' largest radii, then filtered exactly.
    """
    same = c2 is None
    if same:
        c2, r2 = c1, r1
    g1 = _size_classes(r1)
    g2 = g1 if same else _size_classes(r2)
    trees1 = [cKDTree(c1[g]) for g in g1]
    trees2 = trees1 if same else [cKDTree(c2[g]) for g in g2]
    out = []
    for i, (ga, ta) in enumerate(zip(g1, trees1)):
        for j, (gb, tb) in enumerate(zip(g2, trees2)):
            if same and j < i:
                continue
            rad = r1[ga].max() + r2[gb].max()
            if same and i == j:
                p = ta.query_pairs(rad, output_type="ndarray").reshape(-1, 2)
            else:
                sm = ta.sparse_distance_matrix(tb, rad, output_type="coo_matrix")
                p = np.column_stack([sm.row, sm.col]).astype(np.int64)
            if p.size:
                out.append(np.column_stack([ga[p[:, 0]], gb[p[:, 1]]]))
    if not out:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.concatenate(out)
    if same:
        pairs = np.sort(pairs, axis=1)
        pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    d = np.linalg.norm(c1[pairs[:, 0]] - c2[pairs[:, 1]], axis=1)
    return pairs[d <= r1[pairs[:, 0]] + r2[pairs[:, 1]]]


def intersecting_triangle_pairs(surface, other=None, chunk=200_000):
    """Pairs of triangles that cross each other.

    Within one surface only pairs sharing no edge are tested (pairs sharing one vertex are
    tested for crossings away from that vertex). Touching and coplanar overlaps are not
    reported (strict test).

    Parameters
    ----------
    surface : Surface
    other : Surface, optional
        If given, pairs (i in surface, j in other) are returned instead.
    chunk : int
        Pairs tested per vectorised batch (bounds memory).

    Returns
    -------
    ndarray of int, shape (K, 2)
        Triangle indices.

    Examples
    --------
    >>> from tmsfield.head import icosphere
    >>> intersecting_triangle_pairs(icosphere(50.0, 2)).shape
    (0, 2)
    """
    v1, t1 = surface.vertices, surface.triangles
    c1, r1 = _bounding_radius(v1, t1)
    if other is None:
        v2, t2, c2, r2 = v1, t1, None, None
        pairs = _candidate_pairs(c1, r1)
        c2, r2 = c1, r1
        if pairs.size:
            shared = np.zeros(pairs.shape[0], dtype=np.int64)
            for i in range(3):
                for j in range(3):
                    shared += t1[pairs[:, 0], i] == t1[pairs[:, 1], j]
            pairs = pairs[shared < 2]
    else:
        v2, t2 = other.vertices, other.triangles
        c2, r2 = _bounding_radius(v2, t2)
        pairs = _candidate_pairs(c1, r1, c2, r2)
    if pairs.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    va, vb = v1[t1], v2[t2]
    lo1, hi1, lo2, hi2 = va.min(axis=1), va.max(axis=1), vb.min(axis=1), vb.max(axis=1)
    overlap = np.all((lo1[pairs[:, 0]] <= hi2[pairs[:, 1]]) & (lo2[pairs[:, 1]] <= hi1[pairs[:, 0]]), axis=1)
    pairs = pairs[overlap]
    if pairs.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    scale = max(np.percentile(r1, 50), np.percentile(r2, 50))
    eps = 1e-9 * scale ** 3
    hits = []
    for s in range(0, pairs.shape[0], chunk):
        p = pairs[s:s + chunk]
        hit = _triangles_intersect(v1[t1[p[:, 0]]], v2[t2[p[:, 1]]], eps)
        hits.append(p[hit])
    return np.concatenate(hits).astype(np.int64)


# ----------------------------------------------------------------------------- winding number
def winding_number(surface, points, cluster_size=32, far_factor=3.0):
    """Generalized winding number of a closed, outward-oriented surface at points.

    1 inside, 0 outside (0.5 on the surface). Triangles are grouped into spatial clusters
    of about ``cluster_size``; a cluster seen from farther than ``far_factor`` times its
    radius contributes its dipole (area-vector) term, nearer ones the exact solid angle
    of each triangle (fast winding number, Barill et al. 2018, ACM TOG 37:43; numba
    kernel :func:`tmsfield.kernels.winding.winding_number_clustered`). The approximation
    error (~1e-3) is far below the 0.5 threshold used to classify points.

    Parameters
    ----------
    surface : Surface
        Closed, outward-oriented (see :func:`check_surface`).
    points : array_like, shape (N, 3), mm

    Returns
    -------
    ndarray, shape (N,)

    Examples
    --------
    >>> from tmsfield.head import icosphere
    >>> w = winding_number(icosphere(50.0, 3), [[0, 0, 0], [0, 0, 60.0]])
    >>> bool(abs(w[0] - 1) < 1e-2 and abs(w[1]) < 1e-2)
    True
    """
    from ..kernels.winding import winding_number_clustered
    from ..validation import as_points
    pts = as_points(points, "points")
    v, t = surface.vertices, surface.triangles
    cen = surface.centroids
    areas = surface.triangle_areas
    area_vec = areas[:, None] * surface.triangle_normals
    # clusters: cells of a grid sized so that a cell holds ~cluster_size triangles
    h = np.sqrt(cluster_size * max(areas.mean(), 1e-12))
    cell = np.floor((cen - cen.min(axis=0)) / h).astype(np.int64)
    _, cl = np.unique(cell, axis=0, return_inverse=True)
    cl = cl.reshape(-1)
    k = int(cl.max()) + 1
    wsum = np.bincount(cl, weights=areas, minlength=k)
    cc = np.column_stack([np.bincount(cl, weights=areas * cen[:, i], minlength=k) for i in range(3)])
    cc /= np.maximum(wsum, 1e-300)[:, None]
    cv = np.column_stack([np.bincount(cl, weights=area_vec[:, i], minlength=k) for i in range(3)])
    vr = np.linalg.norm(v[t] - cc[cl][:, None, :], axis=2).max(axis=1)
    crad = np.zeros(k)
    np.maximum.at(crad, cl, vr)
    order = np.argsort(cl, kind="stable")
    starts = np.searchsorted(cl[order], np.arange(k + 1)).astype(np.int64)
    tri_v = np.ascontiguousarray(v[t[order]])
    return winding_number_clustered(pts, tri_v, starts, cc, cv, crad, float(far_factor))


# ----------------------------------------------------------------------------- public checks
def check_surface(surface, *, repair_orientation=True, check_intersections=True):
    """Check that a surface can bound a BEM compartment; repair its orientation.

    Checks, in this order: plausibly in mm (bounding-box diagonal 20–1000 mm), no
    degenerate triangles, closed (every edge in exactly two triangles), edge- and
    vertex-manifold, consistent orientation (triangles flipped to agree with their
    neighbours, by breadth-first search over the triangle adjacency), outward
    orientation (each closed part flipped if its signed volume is negative), not
    self-intersecting.

    Parameters
    ----------
    surface : Surface
        Vertices in mm.
    repair_orientation : bool
        Flip inconsistent or inward-facing triangles (default). If False, a wrongly
        oriented surface raises instead.
    check_intersections : bool
        Run the self-intersection test (default True; ~1 s for 30k triangles).

    Returns
    -------
    Surface
        The same surface, or a copy with re-oriented triangles (same vertices and name).

    Raises
    ------
    MeshError
        The message names the surface, the defect, its location (mm) and the fix.

    Examples
    --------
    >>> from tmsfield.head import icosphere, Surface
    >>> s = icosphere(80.0, 2, name="scalp")
    >>> inward = Surface(s.vertices, s.triangles[:, ::-1], name="scalp")
    >>> fixed = check_surface(inward)
    >>> bool((fixed.triangle_normals * fixed.centroids).sum(axis=1).min() > 0)
    True
    """
    if not isinstance(surface, Surface):
        raise MeshError(f"check_surface needs a tmsfield Surface; got {type(surface).__name__}. "
                        f"Build one with Surface(vertices_mm, triangles, name=...).")
    _check_units(surface)
    _degenerate(surface)
    he, tri, uniq, inv, counts = _edge_table(surface)
    _check_closed_manifold(surface, he, tri, uniq, inv, counts)
    t, n_flipped = _orient_consistently(surface, he, tri, inv, repair_orientation)
    work = surface if n_flipped == 0 else Surface(surface.vertices, t, name=surface.name)
    t2, n_inverted, _ = _orient_outward(work, t)
    if n_inverted and not repair_orientation:
        raise MeshError(f"surface {surface.name!r} is oriented inward (negative enclosed volume): its normals must "
                        f"point outward. Reverse the vertex order of every triangle (triangles[:, ::-1]) or call "
                        f"check_surface(..., repair_orientation=True).")
    if n_flipped or n_inverted:
        work = Surface(surface.vertices, t2, name=surface.name)
    if check_intersections:
        hits = intersecting_triangle_pairs(work)
        if hits.shape[0]:
            i, j = hits[0]
            raise MeshError(f"surface {surface.name!r} intersects itself: {hits.shape[0]} crossing triangle pair(s), "
                            f"first triangles {i} and {j} near {_fmt(work.centroids[i])}. Smooth or re-mesh the "
                            f"surface (e.g. remove the fold or decimate less aggressively).")
    return work


def check_nested(surfaces, *, check_each=True, repair_orientation=True):
    """Check that surfaces, ordered outside → in, are strictly nested.

    For each consecutive pair, every vertex of the inner surface must lie inside the
    outer one (generalized winding number > 0.5) and no triangle of one may cross a
    triangle of the other.

    Parameters
    ----------
    surfaces : sequence of Surface
        Outermost first (e.g. scalp, skull_outer, skull_inner, gm, wm).
    check_each : bool
        Run :func:`check_surface` on each surface first (default True).
    repair_orientation : bool
        Passed to :func:`check_surface`.

    Returns
    -------
    list of Surface
        The (possibly re-oriented) surfaces, same order.

    Raises
    ------
    MeshError
        Names both surfaces, how many vertices stick out and the first one (mm), or the
        first crossing.

    Examples
    --------
    >>> from tmsfield.head import nested_spheres
    >>> [s.name for s in check_nested(nested_spheres([95, 90, 85], 2, names=["scalp", "skull", "brain"]))]
    ['scalp', 'skull', 'brain']
    """
    surfaces = list(surfaces)
    if not surfaces:
        raise MeshError("check_nested needs at least one surface (ordered outside → in)")
    if check_each:
        surfaces = [check_surface(s, repair_orientation=repair_orientation) for s in surfaces]
    for outer, inner in zip(surfaces[:-1], surfaces[1:]):
        w = winding_number(outer, inner.vertices)
        out = np.flatnonzero(w <= 0.5)
        if out.size:
            i = out[0]
            hint = ""
            if out.size == inner.n_vertices and np.all(winding_number(inner, outer.vertices) > 0.5):
                hint = (f" {outer.name!r} lies entirely inside {inner.name!r}: the order is reversed; pass the "
                        f"surfaces outside → in.")
            else:
                hint = (f" Shrink or smooth {inner.name!r} locally, or expand {outer.name!r}, so that a gap remains "
                        f"between them.")
            raise MeshError(f"surfaces {outer.name!r} and {inner.name!r} are not nested: {out.size} of "
                            f"{inner.n_vertices} vertices of {inner.name!r} stick out of {outer.name!r}, the first "
                            f"is vertex {i} at {_fmt(inner.vertices[i])}.{hint}")
        hits = intersecting_triangle_pairs(outer, inner)
        if hits.shape[0]:
            i, j = hits[0]
            raise MeshError(f"surfaces {outer.name!r} and {inner.name!r} cross: {hits.shape[0]} triangle pair(s) "
                            f"intersect, first {outer.name!r} triangle {i} and {inner.name!r} triangle {j} near "
                            f"{_fmt(outer.centroids[i])}. Move {inner.name!r} inward there so a gap remains.")
    return surfaces
