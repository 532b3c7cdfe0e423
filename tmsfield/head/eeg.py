"""EEG 10-20 / 10-10 positions on a scalp surface from the four anatomical landmarks.

Follows the "unambiguously illustrated" (UI) 10/10 construction of Jurcak V, Tsuzuki D, Dan I (2007)
"10/20, 10/10, and 10/5 systems revisited: their validity as relative head-surface-based positioning
systems", NeuroImage 34:1600–1611:

1. Cz is where the sagittal arc (nasion → vertex → inion) and the coronal arc (LPA → vertex → RPA),
   both on the scalp, cross at their halves (found by iteration).
2. Midline at 10 % steps of the nasion–inion arc (Fpz 10 %, AFz 20 %, Fz 30 %, ... Oz 90 %); coronal
   row at 10 % steps of the LPA–RPA arc (T7 10 %, C5, C3, C1, Cz, C2, C4, C6, T8 90 %).
3. Each half of the circumference through Fpz, T7/T8 and Oz, divided in 10 % steps of its length
   (Fp1 10 %, AF7 20 %, F7 30 %, FT7 40 %, T7, TP7 60 %, P7 70 %, PO7 80 %, O1 90 %).
4. Each lateral row (AF, F, FC, CP, P, PO) along the arc from its left circumference point through
   its midline point to its right one, each half divided in quarters (e.g. F7, F5, F3, F1, Fz).

Arcs are plane sections of the scalp mesh (plane through the arc's two ends and one point it must
pass through), so they are "geodesic" in the sense used by the 10-20 measurement with a tape. Ear
positions below the circumference (T9, T10, A1, A2 ...) are not produced.
"""

import numpy as np

from ..errors import InputError, MeshError
from .mesh_tools import closest_points_on_triangles

__all__ = ["eeg_positions", "scalp_arc", "closest_point_on_surface", "EEG_10_20"]

EEG_10_20 = ("Fp1", "Fpz", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4", "T8",
             "P7", "P3", "Pz", "P4", "P8", "O1", "Oz", "O2")

_ROWS = {  # row prefix: (left circumference name, midline name, right circumference name)
    "AF": ("AF7", "AFz", "AF8"),
    "F": ("F7", "Fz", "F8"),
    "FC": ("FT7", "FCz", "FT8"),
    "CP": ("TP7", "CPz", "TP8"),
    "P": ("P7", "Pz", "P8"),
    "PO": ("PO7", "POz", "PO8"),
}
_MIDLINE = ["Nz", "Fpz", "AFz", "Fz", "FCz", "Cz", "CPz", "Pz", "POz", "Oz", "Iz"]
_CORONAL = ["T7", "C5", "C3", "C1", "Cz", "C2", "C4", "C6", "T8"]
_LEFT_CIRC = ["Fp1", "AF7", "F7", "FT7", "T7", "TP7", "P7", "PO7", "O1"]
_RIGHT_CIRC = ["Fp2", "AF8", "F8", "FT8", "T8", "TP8", "P8", "PO8", "O2"]


def closest_point_on_surface(surface, points):
    """Closest points on a triangle surface (exact point–triangle distance over nearby triangles).

    Parameters
    ----------
    surface : Surface
    points : array_like (N, 3), mm

    Returns
    -------
    (N, 3) closest points, mm

    Examples
    --------
    >>> from tmsfield.head import icosphere
    >>> p = closest_point_on_surface(icosphere(50.0, 3), [[0, 0, 80.0]])
    >>> bool(abs(p[0, 2] - 50.0) < 0.5)
    True
    """
    from scipy.spatial import cKDTree
    pts = np.atleast_2d(np.asarray(points, dtype=np.float64))
    tree = cKDTree(surface.centroids)
    k = min(16, surface.n_triangles)
    _, cand = tree.query(pts, k=k)
    cand = np.atleast_2d(cand).reshape(len(pts), k)
    tri = surface.vertices[surface.triangles[cand]]           # (N, k, 3, 3)
    q = closest_points_on_triangles(pts[:, None, :], tri[..., 0, :], tri[..., 1, :], tri[..., 2, :])
    d = np.linalg.norm(q - pts[:, None, :], axis=-1)
    best = d.argmin(axis=1)
    return q[np.arange(len(pts)), best]


def _plane_section_cycle(surface, point, normal, start):
    """Ordered closed polyline where the plane (point, normal) cuts the surface, on the loop nearest start."""
    v, t = surface.vertices, surface.triangles
    d = (v - point) @ normal
    d = np.where(d == 0, 1e-9, d)
    e = surface.edges
    crossing = np.sign(d[e[:, 0]]) != np.sign(d[e[:, 1]])
    ce = e[crossing]
    if len(ce) < 3:
        raise MeshError("scalp plane section is empty; are the landmarks on the scalp?")
    s = d[ce[:, 0]] / (d[ce[:, 0]] - d[ce[:, 1]])
    pts = v[ce[:, 0]] + s[:, None] * (v[ce[:, 1]] - v[ce[:, 0]])
    # edge id lookup
    key = ce[:, 0].astype(np.int64) * (len(v) + 1) + ce[:, 1]
    order = np.argsort(key)
    skey = key[order]

    def node_of(a, b):
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        k = lo.astype(np.int64) * (len(v) + 1) + hi
        pos = np.searchsorted(skey, k)
        pos = np.clip(pos, 0, len(skey) - 1)
        found = skey[pos] == k
        return np.where(found, order[pos], -1)

    n0 = node_of(t[:, 0], t[:, 1])
    n1 = node_of(t[:, 1], t[:, 2])
    n2 = node_of(t[:, 2], t[:, 0])
    nodes = np.stack([n0, n1, n2], axis=1)
    cut = (nodes >= 0).sum(axis=1) == 2
    pairs = np.sort(nodes[cut], axis=1)[:, 1:]  # drop the -1
    adj = [[] for _ in range(len(pts))]
    for a, b in pairs.tolist():
        adj[a].append(b)
        adj[b].append(a)
    first = int(np.argmin(np.linalg.norm(pts - start, axis=1)))
    cycle = [first]
    prev, cur = -1, first
    for _ in range(len(pts)):
        nxt = [n for n in adj[cur] if n != prev]
        if not nxt:
            break
        prev, cur = cur, nxt[0]
        if cur == first:
            break
        cycle.append(cur)
    return pts[cycle]


def scalp_arc(surface, start, end, via):
    """Polyline on the surface from ``start`` to ``end`` through ``via`` (section by their plane).

    Parameters
    ----------
    surface : Surface
    start, end, via : array_like (3,), mm (on or near the surface)

    Returns
    -------
    (P, 3) polyline from start to end, mm.

    Examples
    --------
    >>> from tmsfield.head import icosphere
    >>> s = icosphere(90.0, 4)
    >>> arc = scalp_arc(s, [90, 0, 0], [-90, 0, 0], [0, 0, 90])
    >>> L = np.linalg.norm(np.diff(arc, axis=0), axis=1).sum()
    >>> bool(abs(L - np.pi * 90) < 1.0)
    True
    """
    a, b, c = (np.asarray(x, dtype=np.float64) for x in (start, end, via))
    n = np.cross(b - a, c - a)
    if np.linalg.norm(n) < 1e-9:
        raise InputError("arc end points and via point are collinear; cannot define the scalp section")
    n /= np.linalg.norm(n)
    cyc = _plane_section_cycle(surface, a, n, a)
    ib = int(np.argmin(np.linalg.norm(cyc - b, axis=1)))
    ic = int(np.argmin(np.linalg.norm(cyc - c, axis=1)))
    # cycle starts at the node nearest a; go forward if via comes before end, else backward
    if not (0 < ic < ib or ib == 0):
        cyc = np.concatenate([cyc[:1], cyc[1:][::-1]])
        ib = int(np.argmin(np.linalg.norm(cyc - b, axis=1)))
    path = cyc[: ib + 1]
    return np.vstack([a, path[1:-1], b]) if len(path) > 2 else np.vstack([a, b])


def _at_fractions(poly, fractions):
    seg = np.linalg.norm(np.diff(poly, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    target = np.asarray(fractions) * cum[-1]
    out = np.empty((len(target), 3))
    for k in range(3):
        out[:, k] = np.interp(target, cum, poly[:, k])
    return out


def eeg_positions(scalp, landmarks, system="10-10", iterations=6):
    """10-20 / 10-10 electrode positions on a scalp surface (Jurcak et al. 2007 UI 10/10).

    Parameters
    ----------
    scalp : Surface
        Closed scalp surface, mm.
    landmarks : dict
        ``nasion``, ``inion``, ``lpa``, ``rpa`` → (3,) mm; projected onto the scalp first.
    system : {"10-10", "10-20"}
        ``"10-20"`` returns the 21 classic positions (T7/T8/P7/P8 names), ``"10-10"`` the 10-10 set
        (plus Nz, Iz, and the 10-5 intermediates AF5/AF1/PO5/PO1... that the row division gives).

    Returns
    -------
    dict of str -> ndarray (3,), mm, on the scalp.

    Examples
    --------
    >>> from tmsfield.head import icosphere
    >>> s = icosphere(90.0, 4, name="scalp")
    >>> lm = {"nasion": [0, 90, 0], "inion": [0, -90, 0], "lpa": [-90, 0, 0], "rpa": [90, 0, 0]}
    >>> p = eeg_positions(s, lm)
    >>> np.round(p["Cz"]).tolist()
    [0.0, 0.0, 90.0]
    """
    try:
        nz, iz, lpa, rpa = (np.asarray(landmarks[k], dtype=np.float64) for k in ("nasion", "inion", "lpa", "rpa"))
    except KeyError as exc:
        raise InputError(f"landmark {exc} missing; need nasion, inion, lpa, rpa (mm)") from None
    nz, iz, lpa, rpa = closest_point_on_surface(scalp, np.vstack([nz, iz, lpa, rpa]))
    centre = 0.25 * (nz + iz + lpa + rpa)
    up = np.cross(rpa - lpa, nz - iz)
    up /= np.linalg.norm(up)
    # initial vertex: highest scalp vertex along "up" from the landmark centre
    cz = scalp.vertices[np.argmax((scalp.vertices - centre) @ up)]
    for _ in range(iterations):
        sag = scalp_arc(scalp, nz, iz, cz)
        cz_s = _at_fractions(sag, [0.5])[0]
        cor = scalp_arc(scalp, lpa, rpa, cz_s)
        new = _at_fractions(cor, [0.5])[0]
        moved = np.linalg.norm(new - cz)
        cz = new
        if moved < 0.05:
            break
    sag = scalp_arc(scalp, nz, iz, cz)
    cor = scalp_arc(scalp, lpa, rpa, cz)
    pos = dict(zip(_MIDLINE, _at_fractions(sag, np.linspace(0, 1, 11))))
    pos.update(zip(_CORONAL, _at_fractions(cor, np.linspace(0.1, 0.9, 9))))
    pos["Cz"] = cz
    fpz, oz, t7, t8 = pos["Fpz"], pos["Oz"], pos["T7"], pos["T8"]
    left = _at_fractions(scalp_arc(scalp, fpz, oz, t7), np.linspace(0.1, 0.9, 9))
    right = _at_fractions(scalp_arc(scalp, fpz, oz, t8), np.linspace(0.1, 0.9, 9))
    for names, pts in ((_LEFT_CIRC, left), (_RIGHT_CIRC, right)):
        for nm, p in zip(names, pts):
            if nm not in ("T7", "T8"):
                pos[nm] = p
    for prefix, (lname, mname, rname) in _ROWS.items():
        lp, mp, rp = pos[lname], pos[mname], pos[rname]
        # left half: lname -> mname; right half: mname -> rname (each in quarters)
        full = scalp_arc(scalp, lp, rp, mp)
        # split the full arc at its node nearest the midline point
        im = int(np.argmin(np.linalg.norm(full - mp, axis=1)))
        lhalf = np.vstack([full[:im], mp])
        rhalf = np.vstack([mp, full[im + 1:]])
        lq = _at_fractions(lhalf, [0.25, 0.5, 0.75])
        rq = _at_fractions(rhalf, [0.25, 0.5, 0.75])
        for nm, p in zip([prefix + "5", prefix + "3", prefix + "1"], lq):
            pos[nm] = p
        for nm, p in zip([prefix + "2", prefix + "4", prefix + "6"], rq):
            pos[nm] = p
    out = {k: np.asarray(v, dtype=np.float64) for k, v in pos.items()}
    if system == "10-20":
        return {k: out[k] for k in EEG_10_20}
    if system != "10-10":
        raise InputError(f"system must be '10-10' or '10-20'; got {system!r}")
    return out
