"""Grey- and white-matter BEM boundaries from per-hemisphere pial and white surfaces (FreeSurfer style).

FreeSurfer pial and white surfaces share one triangulation per hemisphere (vertex ``i`` of the pial surface
and vertex ``i`` of the white surface are the two ends of one cortical column), and they cannot bound BEM
compartments as they come: the cortex thickness is zero on the medial wall (pial == white there), and at low
resolution the pial surface crosses the white surface, the two hemispheres' pial surfaces touch or cross in
the interhemispheric fissure, and a few triangles cross their own surface. :func:`layered_cortex` resolves
each of these explicitly, moving as few vertices as little as possible:

1. **refinement**: :func:`subdivide` splits every triangle 1:4; each new edge vertex is placed on the cubic
   Hermite (PN-triangle, Vlachos et al. 2001, Proc. I3D 159) curve through the edge's end points with their
   vertex normals, so the refined surface follows the fold instead of staying on the coarse facets. Pial and
   white are refined with the same topology, so the columns stay paired.
2. **minimum grey-matter thickness** ``min_gm_mm``: where ``|pial_i - white_i| < min_gm_mm`` both ends are
   moved apart symmetrically about their midpoint along the column's normal, so the midpoint — the
   mid-thickness reporting surface — does not move. This gives the medial wall a thin grey-matter layer
   instead of a zero-thickness junction (then every triangle of the grey-matter boundary has grey matter
   inside and CSF outside, every white triangle white inside and grey outside: the head stays one nested
   stack in which the ``"gm"`` and ``"wm"`` boundaries are each two closed components, one per hemisphere).
3. **crossings and gaps**, iterated until none are left: pial vertices closer than ``min_gap_mm`` to the other
   hemisphere's pial surface or to the inner skull, and the vertices of triangles that cross a triangle of
   their own surface, are pushed inward along their vertex normal (facing banks have facing outward normals,
   so this separates them); white vertices of triangles that cross the pial surface, or that lie outside it,
   are pushed inward; every push of a pial vertex is followed by re-imposing the minimum thickness on its
   white partner (moving white only). Pushes are smoothed over the vertex's one-ring so they make no spikes.

The result is checked by the caller with :func:`tmsfield.solver.mesh_check.check_nested` (closed, outward,
no self-intersection, nested, no crossing), which is the only guarantee: this module only moves vertices.
"""

import numpy as np
from scipy.spatial import cKDTree

from ..errors import MeshError
from .mesh_tools import closest_points_on_triangles
from .surface import Surface

__all__ = ["subdivide", "surface_distance", "layered_cortex"]


def _edge_ids(triangles):
    t = np.asarray(triangles, dtype=np.int64)
    e = np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]])
    uniq, inv = np.unique(np.sort(e, axis=1), axis=0, return_inverse=True)
    return uniq, inv.reshape(3, -1).T            # (E, 2), (T, 3): edge of side (0,1), (1,2), (2,0)


def subdivide(surface, curved=True):
    """Split every triangle into four (edge midpoints), optionally bending the midpoints with the fold.

    Parameters
    ----------
    surface : Surface
        Closed, outward-oriented triangle mesh (mm).
    curved : bool
        Place each new vertex at the midpoint of the cubic Hermite curve through the edge ends with their
        vertex normals (PN triangles, Vlachos et al. 2001): ``m = (a + b)/2 - ((b - a)·n_a n_a + (a - b)·n_b
        n_b)/8``; ``False`` keeps the flat midpoint (the same piecewise-linear surface).

    Returns
    -------
    Surface
        ``V + E`` vertices (the original ``V`` first, in order) and ``4 T`` triangles, same orientation and name.

    Examples
    --------
    >>> from tmsfield.head import icosphere
    >>> s = icosphere(50.0, 2)
    >>> f = subdivide(s)
    >>> f.n_triangles == 4 * s.n_triangles, bool(f.mean_edge_length < 0.6 * s.mean_edge_length)
    (True, True)
    >>> r = np.linalg.norm(f.vertices, axis=1)     # curved midpoints stay much closer to the sphere
    >>> bool(np.abs(r - 50).max() < 0.25 * np.abs(np.linalg.norm(subdivide(s, False).vertices, axis=1) - 50).max())
    True
    """
    v, t = surface.vertices, surface.triangles
    edges, side = _edge_ids(t)
    a, b = v[edges[:, 0]], v[edges[:, 1]]
    mid = 0.5 * (a + b)
    if curved:
        n = surface.vertex_normals
        na, nb = n[edges[:, 0]], n[edges[:, 1]]
        wa = np.einsum("ij,ij->i", b - a, na)
        wb = np.einsum("ij,ij->i", a - b, nb)
        mid = mid - (wa[:, None] * na + wb[:, None] * nb) / 8.0
    nv = v.shape[0]
    e01, e12, e20 = (side[:, k] + nv for k in range(3))
    i, j, k = t[:, 0], t[:, 1], t[:, 2]
    tris = np.concatenate([np.column_stack(c) for c in
                           ((i, e01, e20), (e01, j, e12), (e20, e12, k), (e01, e12, e20))])
    return Surface(np.vstack([v, mid]), tris, name=surface.name)


def surface_distance(points, surface, k=12):
    """Distance (mm) from points to a surface, with the closest point, via a k-d tree of triangle centroids.

    The ``k`` triangles with the nearest centroids are searched exactly; for a mesh of roughly uniform
    triangles much smaller than the distances of interest this is the exact distance.

    Parameters
    ----------
    points : ndarray (N, 3), mm
    surface : Surface
    k : int
        Candidate triangles per point.

    Returns
    -------
    dist : ndarray (N,), mm
    closest : ndarray (N, 3), mm

    Examples
    --------
    >>> from tmsfield.head import icosphere
    >>> d, _ = surface_distance(np.array([[0, 0, 60.0], [0, 0, 0.0]]), icosphere(50.0, 4))
    >>> np.round(d, 1).tolist()
    [10.0, 49.9]
    """
    p = np.asarray(points, dtype=np.float64)
    k = min(int(k), surface.n_triangles)
    _, idx = cKDTree(surface.centroids).query(p, k=k)
    idx = idx.reshape(len(p), k)
    tv = surface.vertices[surface.triangles[idx]]                 # (N, k, 3, 3)
    q = closest_points_on_triangles(p[:, None, :], tv[..., 0, :], tv[..., 1, :], tv[..., 2, :])
    d = np.linalg.norm(q - p[:, None, :], axis=2)
    best = np.argmin(d, axis=1)
    rows = np.arange(len(p))
    return d[rows, best], q[rows, best]


def _snap(v, t, name="surface"):
    """A Surface of a copy of ``v`` (Surface freezes the array it is given; the working arrays stay writable)."""
    return Surface(np.array(v, dtype=np.float64), t, name=name)


def _smooth_at(v, surface, idx, rounds=2):
    """Move vertices ``idx`` and their one-ring halfway to the mean of their neighbours, ``rounds`` times."""
    from .mesh_tools import _umbrella
    v = np.array(v, dtype=np.float64)
    sel = np.zeros(len(v), dtype=bool)
    sel[idx] = True
    e = surface.edges
    sel[e[sel[e[:, 0]], 1]] = True
    sel[e[sel[e[:, 1]], 0]] = True
    u = _umbrella(v, surface.triangles)
    for _ in range(rounds):
        v[sel] = 0.5 * v[sel] + 0.5 * (u @ v)[sel]
    return v


def _one_ring_smooth(values, surface, weight=0.5):
    """values (V,) ≥ 0 spread to the one-ring: max(own, weight × max of neighbours)."""
    e = surface.edges
    out = values.copy()
    np.maximum.at(out, e[:, 0], weight * values[e[:, 1]])
    np.maximum.at(out, e[:, 1], weight * values[e[:, 0]])
    return out


def _self_crossing_vertices(surface):
    from ..solver.mesh_check import intersecting_triangle_pairs
    pairs = intersecting_triangle_pairs(surface)
    return np.unique(surface.triangles[pairs.ravel()]) if pairs.size else np.zeros(0, np.int64), len(pairs)


def _cross_vertices(moving, fixed):
    from ..solver.mesh_check import intersecting_triangle_pairs
    pairs = intersecting_triangle_pairs(moving, fixed)
    return np.unique(moving.triangles[pairs[:, 0]]) if pairs.size else np.zeros(0, np.int64), len(pairs)


def layered_cortex(pial, white, inner_skull, *, min_gm_mm=1.0, min_gap_mm=1.0, step_mm=0.2, refine=True,
                   max_iterations=60, log=None):
    """Grey-matter (pial) and white-matter boundaries of both hemispheres, refined, nested and separated.

    Parameters
    ----------
    pial, white : sequence of Surface
        One closed, outward surface per hemisphere (mm); ``pial[h]`` and ``white[h]`` share their triangles
        (FreeSurfer columns). May cross each other and themselves (see the module docstring).
    inner_skull : Surface
        Closed, outward inner skull (mm); every pial vertex ends ≥ ``min_gap_mm`` inside it.
    min_gm_mm : float
        Minimum grey-matter thickness per column (mm); the medial wall gets this thickness.
    min_gap_mm : float
        Minimum distance (mm) between the hemispheres' pial surfaces and between pial and inner skull.
    step_mm : float
        Inward push per iteration for crossing triangles' vertices (mm).
    refine : bool
        Subdivide 1:4 first (:func:`subdivide`, curved midpoints; midpoints whose bending would add a crossing
        fall back to the flat midpoint).
    max_iterations : int
    log : callable, optional
        Called with progress strings.

    Returns
    -------
    gm, wm : Surface
        ``"gm"``: both pial surfaces (two components), ``"wm"``: both white surfaces, vertices of hemisphere 0
        first.
    mid : ndarray (sum of input V, 3), mm
        Mid-thickness ``(pial + white)/2`` of the output at the input vertices (hemisphere 0 first): the
        reporting cortex, inside the grey matter.
    report : dict
        What was moved: vertices thickened, pushed, iterations, largest displacement (mm) per surface.

    Raises
    ------
    MeshError
        If crossings remain after ``max_iterations``.

    Examples
    --------
    Two overlapping 30-mm "hemispheres" (their pial spheres cross by 2.4 mm) are pushed apart:

    >>> from tmsfield.head import icosphere
    >>> from tmsfield.solver.mesh_check import intersecting_triangle_pairs
    >>> ball = icosphere(30.0, 3)
    >>> shift = [(-29.0, 0.0, 0.0), (28.6, 0.3, 0.2)]     # not mirror images (exactly symmetric crossings are degenerate)
    >>> p = [Surface(ball.vertices + c, ball.triangles) for c in shift]
    >>> w = [Surface(0.9 * ball.vertices + c, ball.triangles) for c in shift]
    >>> len(intersecting_triangle_pairs(p[0], p[1])) > 0
    True
    >>> gm, wm, mid, rep = layered_cortex(p, w, icosphere(90.0, 3), refine=False)
    >>> gm.n_triangles, len(intersecting_triangle_pairs(gm)), len(intersecting_triangle_pairs(gm, wm))
    (2560, 0, 0)
    >>> left = Surface(gm.vertices[:ball.n_vertices], ball.triangles)
    >>> bool(surface_distance(gm.vertices[ball.n_vertices:], left)[0].min() >= 0.99)
    True
    """
    say = log or (lambda s: None)
    pial, white = list(pial), list(white)
    if len(pial) != len(white):
        raise MeshError(f"layered_cortex: {len(pial)} pial and {len(white)} white surfaces; give one of each per "
                        f"hemisphere")
    for p, w in zip(pial, white):
        if p.n_vertices != w.n_vertices or not np.array_equal(p.triangles, w.triangles):
            raise MeshError(f"layered_cortex: pial {p.name!r} and white {w.name!r} must share their triangles "
                            f"(FreeSurfer columns)")
    report = {"thickened_vertices": 0, "pushed_pial": 0, "pushed_white": 0, "smoothed_pial": 0, "smoothed_white": 0,
              "reverted_midpoints": 0}
    P, W = [], []
    n_in = [p.n_vertices for p in pial]
    for h, (p, w) in enumerate(zip(pial, white)):
        if refine:
            pc, wc = subdivide(p, True), subdivide(w, True)
            pf, wf = subdivide(p, False), subdivide(w, False)
            # bending a midpoint must not add a crossing: revert those (to the flat midpoint, the input surface)
            pv, wv = pc.vertices.copy(), wc.vertices.copy()
            for _ in range(5):
                cur_p, cur_w = _snap(pv, pc.triangles), _snap(wv, wc.triangles)
                bp, _ = _self_crossing_vertices(cur_p)
                bw, _ = _self_crossing_vertices(cur_w)
                bx, _ = _cross_vertices(cur_w, cur_p)
                bad = np.union1d(np.union1d(bp, bw), bx)
                bad = bad[bad >= p.n_vertices]
                bad = bad[np.any(pv[bad] != pf.vertices[bad], axis=1) | np.any(wv[bad] != wf.vertices[bad], axis=1)]
                if not bad.size:
                    break
                pv[bad], wv[bad] = pf.vertices[bad].copy(), wf.vertices[bad].copy()
                report["reverted_midpoints"] += int(bad.size)
            P.append(pv)
            W.append(wv)
            tri = pc.triangles
        else:
            P.append(p.vertices.copy())
            W.append(w.vertices.copy())
            tri = p.triangles
        pial[h] = _snap(P[h], tri, p.name)
        white[h] = _snap(W[h], tri, w.name)
    tris = [s.triangles for s in pial]
    p0 = [x.copy() for x in P]
    w0 = [x.copy() for x in W]

    def column_normal(h):
        n = _snap(P[h], tris[h]).vertex_normals + _snap(W[h], tris[h]).vertex_normals
        return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)

    # 2. minimum thickness, symmetric about the column midpoint (the reporting surface does not move)
    for h in range(len(P)):
        th = np.linalg.norm(P[h] - W[h], axis=1)
        thin = th < min_gm_mm
        n = column_normal(h)
        m = 0.5 * (P[h] + W[h])
        P[h][thin] = m[thin] + 0.5 * min_gm_mm * n[thin]
        W[h][thin] = m[thin] - 0.5 * min_gm_mm * n[thin]
        report["thickened_vertices"] += int(thin.sum())
    say(f"  thickness ≥ {min_gm_mm} mm imposed on {report['thickened_vertices']} columns")

    def keep_thickness(h, idx):
        """White partner of moved pial vertices: at least min_gm_mm inside along the column normal."""
        if not len(idx):
            return
        n = column_normal(h)[idx]
        d = np.einsum("ij,ij->i", P[h][idx] - W[h][idx], n)
        short = d < min_gm_mm
        W[h][idx[short]] -= (min_gm_mm - d[short])[:, None] * n[short]

    from ..solver.mesh_check import winding_number
    for it in range(max_iterations):
        issues = 0
        surfs_p = [_snap(P[h], tris[h]) for h in range(len(P))]
        for h in range(len(P)):
            sp = surfs_p[h]
            push = np.zeros(len(P[h]))
            # gap to the other hemispheres' pial and to the inner skull
            for other in [surfs_p[o] for o in range(len(P)) if o != h] + [inner_skull]:
                d, _ = surface_distance(P[h], other)
                short = d < min_gap_mm
                if other is inner_skull:         # fixed: this surface moves the whole gap
                    out = winding_number(inner_skull, P[h]) < 0.5
                    need = np.where(out, min_gap_mm + d, min_gap_mm - d) + 0.05
                    push = np.maximum(push, np.where(short | out, need, 0.0))
                else:                            # the other hemisphere moves too: half the gap each
                    into = winding_number(other, P[h]) > 0.5
                    need = 0.5 * np.where(into, min_gap_mm + d, min_gap_mm - d) + 0.05
                    push = np.maximum(push, np.where(short | into, need, 0.0))
            bad, npairs = _self_crossing_vertices(sp)
            if bad.size:                      # a surface crossing itself: untangle by local smoothing
                P[h] = _smooth_at(P[h], sp, bad)
                W[h] = _smooth_at(W[h], sp, bad)
                report["smoothed_pial"] += int(bad.size)
                issues += int(bad.size)
                sp = surfs_p[h] = _snap(P[h], tris[h])
            for o in range(len(P)):
                if o != h:
                    bo, n_o = _cross_vertices(sp, surfs_p[o])
                    push[bo] = np.maximum(push[bo], step_mm)
                    npairs += n_o
            moved = np.flatnonzero(push > 0)
            if moved.size:
                push = _one_ring_smooth(push, sp)
                moved = np.flatnonzero(push > 0)
                P[h] -= push[:, None] * sp.vertex_normals
                keep_thickness(h, moved)
                report["pushed_pial"] += int(moved.size)
                issues += int(moved.size)
            # white: inside its pial, not crossing it, not crossing itself
            sp = _snap(P[h], tris[h])
            sw = _snap(W[h], tris[h])
            wpush = np.zeros(len(W[h]))
            bw, _ = _self_crossing_vertices(sw)
            if bw.size:
                W[h] = _smooth_at(W[h], sw, bw)
                report["smoothed_white"] += int(bw.size)
                issues += int(bw.size)
                sw = _snap(W[h], tris[h])
            bx, _ = _cross_vertices(sw, sp)
            out = np.flatnonzero(winding_number(sp, W[h]) < 0.5)
            for b in (bx, out):
                wpush[b] = step_mm
            if np.any(wpush > 0):
                wpush = _one_ring_smooth(wpush, sw)
                W[h] -= wpush[:, None] * sw.vertex_normals
                report["pushed_white"] += int(np.count_nonzero(wpush))
                issues += int(np.count_nonzero(wpush))
        say(f"  iteration {it + 1}: {issues} vertices pushed")
        if issues == 0:
            break
    else:
        raise MeshError(f"layered_cortex: crossings remain after {max_iterations} iterations; lower step_mm or "
                        f"min_gap_mm, or smooth the input surfaces")
    report["iterations"] = it + 1
    report["max_pial_displacement_mm"] = float(max(np.linalg.norm(P[h] - p0[h], axis=1).max() for h in range(len(P))))
    report["max_white_displacement_mm"] = float(max(np.linalg.norm(W[h] - w0[h], axis=1).max() for h in range(len(W))))
    offs = np.cumsum([0] + [len(x) for x in P])
    tri_all = np.vstack([tris[h] + offs[h] for h in range(len(P))])
    gm = Surface(np.vstack(P), tri_all, name="gm")
    wm = Surface(np.vstack(W), tri_all, name="wm")
    mid = np.vstack([0.5 * (P[h][:n_in[h]] + W[h][:n_in[h]]) for h in range(len(P))])
    return gm, wm, mid, report
