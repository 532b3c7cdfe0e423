"""Tissue junctions: checking that the tissues given on the two sides of every boundary triangle agree.

A head whose surfaces are not one nested stack (a ventricle of CSF inside the white matter, grey matter
touching the skull where the CSF is absent, pial and white surfaces merged at the medial wall) is described
by its boundary triangles and, per triangle, the tissue on each side (:attr:`tmsfield.head.Head.sides`;
column 0 the side the normal points away from, column 1 the side it points to; ``"air"`` outside the head).
Such a description is a valid partition of space into tissues exactly when

1. no triangle has the same tissue on both sides, and air is never on the inner side of a triangle
   (air only surrounds the head);
2. around every edge the triangles meeting there agree: going round the edge, the tissue on the far side of
   one triangle is the tissue on the near side of the next (this covers the ordinary edge of a closed
   surface, two triangles, and a junction edge where three or more tissues meet); an edge of only one
   triangle is a hole;
3. every connected piece of the boundary agrees with what surrounds it: a ray from its outermost triangle
   meets the next triangle on the side that carries the same tissue (or leaves the head into air).

:func:`check_sides` tests the three on global vertex indices; :func:`check_head_sides` on a
:class:`~tmsfield.head.Head` (vertices shared between surfaces are matched by their coordinates).
"""

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..errors import MeshError

__all__ = ["check_sides", "check_head_sides", "AIR"]

AIR = "air"
# ray direction for the component check: not along an axis, so it rarely grazes a vertex of a structured mesh
_RAY = np.array([1.0, 0.2718281828, 0.1414213562])
_RAY /= np.linalg.norm(_RAY)


def _fmt(p):
    return f"({p[0]:.1f}, {p[1]:.1f}, {p[2]:.1f}) mm"


def check_sides(vertices, triangles, sides, names, source="head", where=None):
    """Check that per-triangle tissue sides form a consistent partition of space (see the module docstring).

    Parameters
    ----------
    vertices : array_like (N, 3), mm
    triangles : array_like (T, 3) of int
        All boundary triangles, indices into ``vertices`` shared between surfaces (a junction edge is the same
        vertex pair in every triangle meeting there).
    sides : array_like (T, 2) of int
        Tissue code inside (column 0, the side the normal points away from) and outside each triangle;
        codes index ``names``.
    names : sequence of str
        Tissue name per code; the name ``"air"`` marks the outside of the head.
    source : str
        File or head name, for messages.
    where : callable, optional
        ``where(i) -> str`` describing triangle ``i`` in messages (e.g. its surface and tag).

    Raises
    ------
    MeshError
        The first inconsistency, naming ``source``, the tissues, where it is (mm) and what to fix.

    Examples
    --------
    >>> from tmsfield.head import icosphere
    >>> s = icosphere(50.0, 1)
    >>> import numpy as np
    >>> check_sides(s.vertices, s.triangles, np.tile([0, 1], (s.n_triangles, 1)), ["scalp", "air"])
    >>> check_sides(s.vertices, s.triangles, np.tile([1, 0], (s.n_triangles, 1)), ["scalp", "air"])
    ... # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    tmsfield.errors.MeshError: head: 80 triangle(s) have air on their inner side ...
    """
    v = np.asarray(vertices, dtype=np.float64)
    t = np.asarray(triangles, dtype=np.int64)
    sd = np.asarray(sides, dtype=np.int64)
    names = [str(n) for n in names]
    where = where or (lambda i: f"triangle {i}")
    air = names.index(AIR) if AIR in names else -1
    cen = v[t].mean(axis=1)
    # 1. per triangle
    same = np.flatnonzero(sd[:, 0] == sd[:, 1])
    if same.size:
        i = same[0]
        raise MeshError(f"{source}: {same.size} triangle(s) have the same tissue {names[sd[i, 0]]!r} on both sides "
                        f"(first: {where(i)} at {_fmt(cen[i])}); such a triangle bounds nothing — remove it or fix "
                        f"its tissue labels")
    inner_air = np.flatnonzero(sd[:, 0] == air)
    if inner_air.size:
        i = inner_air[0]
        raise MeshError(f"{source}: {inner_air.size} triangle(s) have air on their inner side (first: {where(i)} at "
                        f"{_fmt(cen[i])}); air may only surround the head. The triangles bound an air cavity inside "
                        f"the head (missing tetrahedra or a flipped normal): fill the cavity with its tissue or "
                        f"reverse the triangles")
    # 2. around every edge
    nt = t.shape[0]
    a = np.concatenate([t[:, 0], t[:, 1], t[:, 2]])
    b = np.concatenate([t[:, 1], t[:, 2], t[:, 0]])
    c = np.concatenate([t[:, 2], t[:, 0], t[:, 1]])
    tri = np.tile(np.arange(nt), 3)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    key = lo * (int(v.shape[0]) + 1) + hi
    order = np.lexsort((key,))
    key_s = key[order]
    starts = np.flatnonzero(np.r_[True, key_s[1:] != key_s[:-1]])
    counts = np.diff(np.r_[starts, key_s.size])
    if np.any(counts == 1):
        e = order[starts[np.flatnonzero(counts == 1)[0]]]
        i = tri[e]
        raise MeshError(f"{source}: the boundary has a hole — {int(np.sum(counts == 1))} edge(s) belong to one "
                        f"triangle only (first: an edge of {where(i)} at {_fmt((v[a[e]] + v[b[e]]) / 2)}, "
                        f"tissues {names[sd[i, 0]]!r}/{names[sd[i, 1]]!r}); every boundary must close on itself or "
                        f"on other boundaries — the mesh is not conforming there")
    d = v[hi] - v[lo]
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    # a basis (u, w) of the plane normal to each edge
    helper = np.where(np.abs(d[:, [0]]) < 0.9, np.array([[1.0, 0, 0]]), np.array([[0, 1.0, 0]]))
    u = np.cross(d, helper)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    w = np.cross(d, u)
    r = v[c] - v[lo]
    theta = np.arctan2(np.einsum("ij,ij->i", r, w), np.einsum("ij,ij->i", r, u))
    n = np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]])[tri]
    # the normal points towards increasing angle when n · (d × r) > 0: the outside faces +theta
    plus_is_out = np.einsum("ij,ij->i", n, np.cross(d, r)) > 0
    s_tri = sd[tri]
    plus = np.where(plus_is_out, s_tri[:, 1], s_tri[:, 0])
    minus = np.where(plus_is_out, s_tri[:, 0], s_tri[:, 1])
    order = np.lexsort((theta, key))
    nxt = np.empty_like(order)
    # successor in the cyclic order around each edge
    grp = np.repeat(np.arange(starts.size), counts)
    pos = np.arange(order.size)
    last = starts + counts - 1
    nxt_pos = np.where(pos == last[grp], starts[grp], pos + 1)
    nxt = order[nxt_pos]
    bad = np.flatnonzero(plus[order] != minus[nxt])
    if bad.size:
        e1, e2 = order[bad[0]], nxt[bad[0]]
        i, j = tri[e1], tri[e2]
        raise MeshError(f"{source}: the tissues do not agree around an edge at {_fmt((v[a[e1]] + v[b[e1]]) / 2)}: "
                        f"{where(i)} says {names[plus[e1]]!r} lies beyond it, but the next triangle round the edge, "
                        f"{where(j)}, says {names[minus[e2]]!r} ({int(bad.size)} such edge sector(s)). Each "
                        f"triangle's sides must name the tissue actually on that side — check the labels and the "
                        f"normals there")
    # 3. each connected piece against what surrounds it
    pairs_i, pairs_j = [], []
    for k in range(1, int(counts.max())):
        sel = counts > k
        pairs_i.append(tri[order[starts[sel]]])
        pairs_j.append(tri[order[starts[sel] + k]])
    gi, gj = np.concatenate(pairs_i), np.concatenate(pairs_j)
    g = coo_matrix((np.ones(gi.size, dtype=np.int8), (gi, gj)), shape=(nt, nt))
    n_comp, comp = connected_components(g, directed=False)
    if n_comp == 1 and air < 0:
        return
    tv = v[t]
    nrm = np.cross(tv[:, 1] - tv[:, 0], tv[:, 2] - tv[:, 0])
    proj = cen @ _RAY
    for k in range(n_comp):
        members = np.flatnonzero(comp == k)
        i = members[np.argmax(proj[members])]
        facing = sd[i, 1] if nrm[i] @ _RAY > 0 else sd[i, 0]
        hit, tissue_there = _first_hit(tv, nrm, sd, cen[i], exclude=i)
        expect = air if hit < 0 else tissue_there
        if facing != expect:
            there = "air (outside the head)" if hit < 0 else f"{names[expect]!r} (the side of {where(hit)})"
            raise MeshError(f"{source}: a closed piece of {members.size} boundary triangle(s) around "
                            f"{_fmt(cen[i])} ({where(i)}) has {names[facing]!r} on its outer side, but the region "
                            f"around it is {there}. The piece's tissue labels contradict its surroundings (a "
                            f"misplaced or mislabelled surface) — relabel it or check the tissue tags")


def _first_hit(tv, nrm, sd, origin, exclude, chunk=200_000):
    """First triangle a ray from ``origin`` along _RAY crosses (Möller–Trumbore), and the tissue on the side the
    ray arrives from; (-1, -1) when it leaves the head."""
    best_t, best_i = np.inf, -1
    for s in range(0, tv.shape[0], chunk):
        p0, p1, p2 = tv[s:s + chunk, 0], tv[s:s + chunk, 1], tv[s:s + chunk, 2]
        e1, e2 = p1 - p0, p2 - p0
        pv = np.cross(_RAY, e2)
        det = np.einsum("ij,ij->i", e1, pv)
        ok = np.abs(det) > 1e-14 * np.einsum("ij,ij->i", e1, e1)
        inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        tvec = origin - p0
        uu = np.einsum("ij,ij->i", tvec, pv) * inv
        qv = np.cross(tvec, e1)
        vv = (qv @ _RAY) * inv
        tt = np.einsum("ij,ij->i", e2, qv) * inv
        scale = np.sqrt(np.abs(det)) + 1e-300
        hit = ok & (uu >= 0) & (vv >= 0) & (uu + vv <= 1) & (tt > 1e-9 * scale)
        idx = np.arange(s, s + p0.shape[0])
        hit &= idx != exclude
        if hit.any():
            j = np.flatnonzero(hit)[np.argmin(tt[hit])]
            if tt[j] < best_t:
                best_t, best_i = tt[j], s + j
    if best_i < 0:
        return -1, -1
    arriving = sd[best_i, 0] if nrm[best_i] @ _RAY > 0 else sd[best_i, 1]
    return best_i, arriving


def check_head_sides(head, decimals=6):
    """Run :func:`check_sides` on a :class:`~tmsfield.head.Head` (its :meth:`~Head.triangle_sides`).

    Vertices of different surfaces are identified when their coordinates agree to ``decimals`` decimals of
    a mm (junction edges must be made of the same vertices in every surface that meets there).

    Examples
    --------
    >>> from tmsfield.head import Head, nested_spheres
    >>> h = Head.from_surfaces(nested_spheres([95, 90, 85], 1, names=["scalp", "skull_outer", "skull_inner"]))
    >>> check_head_sides(h)
    """
    verts = np.concatenate([b.vertices for b in head.boundaries])
    offs = np.cumsum([0] + [b.n_vertices for b in head.boundaries])
    tris = np.concatenate([b.triangles + o for b, o in zip(head.boundaries, offs)])
    _, first, ids = np.unique(np.round(verts, decimals), axis=0, return_index=True, return_inverse=True)
    tris = ids.reshape(-1)[tris]
    verts = verts[first]
    sides = np.concatenate([np.asarray(s, dtype=str) for s in head.triangle_sides()])
    names, codes = np.unique(sides.ravel(), return_inverse=True)
    surf_of = np.repeat(np.arange(len(head.boundaries)), [b.n_triangles for b in head.boundaries])
    offs_t = np.cumsum([0] + [b.n_triangles for b in head.boundaries])

    def where(i):
        k = int(surf_of[i])
        return f"triangle {int(i - offs_t[k])} of surface {head.boundaries[k].name!r}"
    check_sides(verts, tris, codes.reshape(-1, 2), list(names), source=head.source or head.name, where=where)
