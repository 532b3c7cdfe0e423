"""Scalp geometry for targeting: ray casting, closest points, smoothed normals, head axes.

All positions in mm (head frame). A :class:`ScalpGeometry` is built once per head and reused
by the heuristics, the pose construction and the placement search.
"""

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError, TargetError
from ..head.mesh_tools import closest_points_on_triangles
from ..validation import as_points

__all__ = ["ScalpGeometry", "head_axes"]


def head_axes(landmarks):
    """Head frame from the landmarks: right (+x), anterior (+y), up (+z) unit vectors and centre.

    Parameters
    ----------
    landmarks : dict
        ``nasion``, ``inion``, ``lpa``, ``rpa`` -> (3,) mm.

    Returns
    -------
    right, anterior, up : ndarray (3,)
        Orthonormal, right-handed (right x anterior = up).
    centre : ndarray (3,)
        Midpoint of lpa and rpa (mm).

    Examples
    --------
    >>> lm = {"nasion": [0, 90, 0], "inion": [0, -90, 0], "lpa": [-80, 0, 0], "rpa": [80, 0, 0]}
    >>> r, a, u, c = head_axes(lm)
    >>> u.tolist()
    [0.0, 0.0, 1.0]
    """
    missing = [k for k in ("nasion", "inion", "lpa", "rpa") if k not in landmarks]
    if missing:
        raise InputError(f"the head lacks landmarks {missing}; targeting needs nasion, inion, lpa, rpa "
                         f"(pass landmarks= when building the head)")
    n, i, l, r = (np.asarray(landmarks[k], float).reshape(3) for k in ("nasion", "inion", "lpa", "rpa"))
    right = r - l
    right /= np.linalg.norm(right)
    ant = n - i
    ant = ant - ant.dot(right) * right
    ant /= np.linalg.norm(ant)
    up = np.cross(right, ant)
    return right, ant, up, 0.5 * (l + r)


@dataclass(frozen=True, eq=False)
class ScalpGeometry:
    """Queries on a closed scalp surface (mm): rays from the head centre, closest points, normals.

    Parameters
    ----------
    scalp : tmsfield.head.Surface
        Closed, outward-oriented scalp surface (mm).
    landmarks : dict, optional
        ``nasion, inion, lpa, rpa`` (mm); needed for head axes, arcs and handle angles.

    Examples
    --------
    >>> from tmsfield.head import icosphere
    >>> g = ScalpGeometry(icosphere(90.0, 3, name="scalp"))
    >>> p = g.ray_points(np.zeros(3), [[0, 0, 1.0]])
    >>> bool(abs(p[0, 2] - 90.0) < 0.5)
    True
    """

    scalp: object
    landmarks: dict = field(default_factory=dict)

    def __post_init__(self):
        from scipy.spatial import cKDTree
        v = np.asarray(self.scalp.vertices, float)
        t = np.asarray(self.scalp.triangles, np.int64)
        object.__setattr__(self, "_v", v)
        object.__setattr__(self, "_t", t)
        object.__setattr__(self, "_tree", cKDTree(v))
        object.__setattr__(self, "_vn", np.asarray(self.scalp.vertex_normals, float))
        object.__setattr__(self, "_va", np.asarray(self.scalp.vertex_areas, float))
        # vertex -> incident triangles (CSR)
        order = np.argsort(t.reshape(-1), kind="stable")
        counts = np.bincount(t.reshape(-1), minlength=v.shape[0])
        ptr = np.concatenate([[0], np.cumsum(counts)])
        object.__setattr__(self, "_vt_ptr", ptr)
        object.__setattr__(self, "_vt_idx", order // 3)
        if self.landmarks and all(k in self.landmarks for k in ("nasion", "inion", "lpa", "rpa")):
            right, ant, up, c = head_axes(self.landmarks)
            # centre of the rays: between the ears, raised to the level of the nasion-inion line
            ni = 0.5 * (np.asarray(self.landmarks["nasion"], float) + np.asarray(self.landmarks["inion"], float))
            centre = c + up * max(0.0, float((ni - c) @ up))
        else:
            right, ant, up = np.eye(3)
            centre = v.mean(axis=0)
        object.__setattr__(self, "axes", (right, ant, up))
        object.__setattr__(self, "centre", centre)

    # ------------------------------------------------------------------ rays
    def ray_points(self, origin, directions):
        """Outermost intersection of rays ``origin + s·d`` (s > 0) with the scalp.

        Parameters
        ----------
        origin : array_like (3,)
        directions : array_like (R, 3)

        Returns
        -------
        ndarray (R, 3), mm

        Raises
        ------
        TargetError
            A ray misses the scalp (origin outside the head).
        """
        o = np.asarray(origin, float).reshape(3)
        d = as_points(directions, "directions")
        d = d / np.linalg.norm(d, axis=1, keepdims=True)
        v, t = self._v, self._t
        # cull: keep triangles within the cone of the rays (plus the largest triangle's angular size)
        vd = v - o
        vn = np.linalg.norm(vd, axis=1)
        if np.all(vn > 1e-9):
            vd = vd / vn[:, None]
            m = d.sum(axis=0)
            if np.linalg.norm(m) > 1e-6 * d.shape[0]:
                m /= np.linalg.norm(m)
                ang = np.arccos(np.clip(d @ m, -1, 1)).max()
                tri_ang = np.arccos(np.clip(np.einsum("ij,ij->i", vd[t[:, 0]], vd[t[:, 1]]), -1, 1)).max()
                tri_ang = max(tri_ang, np.arccos(np.clip(np.einsum("ij,ij->i", vd[t[:, 0]], vd[t[:, 2]]), -1, 1)).max())
                lim = ang + 2 * tri_ang + 1e-3
                if lim < np.pi:
                    cosv = vd @ m
                    keep = np.max(cosv[t], axis=1) >= np.cos(lim)
                    t = t[keep]
        a, e1, e2 = v[t[:, 0]], v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]]
        tvec = o - a
        qvec = np.cross(tvec, e1)                       # (T,3)
        best = np.full(d.shape[0], -np.inf)
        chunk = max(1, 4_000_000 // max(1, t.shape[0]))
        for s in range(0, d.shape[0], chunk):
            dd = d[s:s + chunk]
            pvec = np.cross(dd[:, None, :], e2[None, :, :])          # (R,T,3)
            det = np.einsum("rtk,tk->rt", pvec, e1)
            with np.errstate(divide="ignore", invalid="ignore"):
                inv = 1.0 / det
                u = np.einsum("rtk,tk->rt", pvec, tvec) * inv
                vv = np.einsum("rk,tk->rt", dd, qvec) * inv
                dist = np.einsum("tk,tk->t", e2, qvec)[None, :] * inv
                ok = (np.abs(det) > 1e-14) & (u >= -1e-9) & (vv >= -1e-9) & (u + vv <= 1 + 1e-9) & (dist > 0)
            dist = np.where(ok, dist, -np.inf)
            best[s:s + chunk] = dist.max(axis=1)
        if not np.all(np.isfinite(best)):
            raise TargetError("a ray from the head centre misses the scalp: the scalp is not closed around the "
                              "centre between the ear landmarks; check the landmarks and the scalp surface")
        return o + d * best[:, None]

    def arc(self, p_from, p_to, n=200, via=None, origin=None):
        """Scalp path from ``p_from`` to ``p_to``: rays from the centre swept in the plane of the two.

        Parameters
        ----------
        p_from, p_to : array_like (3,)
        n : int
            Number of samples.
        via : array_like (3,), optional
            A point the sweep must pass (for arcs over ~180°, e.g. nasion → vertex → inion).
        origin : array_like (3,), optional
            Origin of the rays (default: the head centre). With ``via``, the sweep stays in the plane of
            ``p_from``, ``via`` and ``p_to`` when ``origin`` lies in that plane.

        Returns
        -------
        points : ndarray (n, 3)
        cumulative_length : ndarray (n,), mm

        Examples
        --------
        >>> from tmsfield.head import icosphere
        >>> g = ScalpGeometry(icosphere(90.0, 4, name="scalp"))
        >>> _, s = g.arc([90.0, 0, 0], [0, 90.0, 0])
        >>> bool(abs(s[-1] - np.pi / 2 * 90) < 1.0)
        True
        """
        c = self.centre if origin is None else np.asarray(origin, float).reshape(3)
        if via is not None:
            p1, s1 = self.arc(p_from, via, n=max(2, n // 2), origin=c)
            p2, s2 = self.arc(via, p_to, n=max(2, n - n // 2 + 1), origin=c)
            return np.vstack([p1, p2[1:]]), np.concatenate([s1, s1[-1] + s2[1:]])
        a = np.asarray(p_from, float) - c
        b = np.asarray(p_to, float) - c
        a /= np.linalg.norm(a)
        b /= np.linalg.norm(b)
        omega = np.arccos(np.clip(a @ b, -1.0, 1.0))
        ts = np.linspace(0.0, 1.0, n)
        if omega < 1e-9:
            dirs = np.repeat(a[None], n, axis=0)
        else:
            dirs = (np.sin((1 - ts) * omega)[:, None] * a + np.sin(ts * omega)[:, None] * b) / np.sin(omega)
        pts = self.ray_points(c, dirs)
        seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
        return pts, np.concatenate([[0.0], np.cumsum(seg)])

    def plane_origin(self, a, b, c):
        """Projection of the head centre onto the plane through points a, b, c (ray origin for in-plane arcs)."""
        a, b, c = (np.asarray(x, float) for x in (a, b, c))
        n = np.cross(b - a, c - a)
        n /= np.linalg.norm(n)
        return self.centre - ((self.centre - a) @ n) * n

    @staticmethod
    def point_at_length(points, cumlen, length):
        """Point at arc length ``length`` (mm) along a sampled path (linear between samples)."""
        L = float(np.clip(length, 0.0, cumlen[-1]))
        k = int(np.clip(np.searchsorted(cumlen, L) - 1, 0, len(cumlen) - 2))
        f = (L - cumlen[k]) / max(cumlen[k + 1] - cumlen[k], 1e-12)
        return points[k] + f * (points[k + 1] - points[k])

    # ------------------------------------------------------------------ distances
    def closest_points(self, points, k=12):
        """Closest points on the scalp surface to (N, 3) points (mm).

        Examples
        --------
        >>> from tmsfield.head import icosphere
        >>> g = ScalpGeometry(icosphere(90.0, 4, name="scalp"))
        >>> q = g.closest_points([[0, 0, 50.0]])
        >>> bool(abs(np.linalg.norm(q) - 90) < 0.2)
        True
        """
        p = as_points(points, "points")
        k = min(k, self._v.shape[0])
        _, idx = self._tree.query(p, k=k)
        idx = np.atleast_2d(idx)
        out = np.empty_like(p)
        for i in range(p.shape[0]):
            tris = np.unique(np.concatenate([self._vt_idx[self._vt_ptr[j]:self._vt_ptr[j + 1]] for j in idx[i]]))
            tt = self._t[tris]
            q = closest_points_on_triangles(np.repeat(p[i][None], len(tris), 0),
                                            self._v[tt[:, 0]], self._v[tt[:, 1]], self._v[tt[:, 2]])
            out[i] = q[np.argmin(np.linalg.norm(q - p[i], axis=1))]
        return out

    def signed_height(self, points):
        """Approximate signed distance above the scalp (mm; > 0 outside), via the nearest vertex's
        normal plane. Accurate to O(edge²/curvature radius); used for casing clearance."""
        p = np.asarray(points, float).reshape(-1, 3)
        _, idx = self._tree.query(p)
        return np.einsum("ij,ij->i", p - self._v[idx], self._vn[idx])

    def smoothed_normals(self, points, radius_mm=10.0):
        """Outward scalp normals averaged over vertices within ``radius_mm``, weighted by vertex area times the
        smooth kernel (1 − d²/radius²)², so the normal varies continuously with the point.

        Returns
        -------
        ndarray (N, 3), unit vectors
        """
        p = np.asarray(points, float).reshape(-1, 3)
        out = np.empty_like(p)
        lists = self._tree.query_ball_point(p, r=float(radius_mm))
        for i, ids in enumerate(lists):
            if len(ids) == 0:
                _, j = self._tree.query(p[i])
                ids = [j]
            ids = np.asarray(ids)
            d2 = np.sum((self._v[ids] - p[i]) ** 2, axis=1) / float(radius_mm) ** 2
            w = self._va[ids] * np.clip(1.0 - d2, 0.0, None) ** 2 + 1e-12   # smooth compact kernel: no jumps
            n = (self._vn[ids] * w[:, None]).sum(axis=0)
            out[i] = n / np.linalg.norm(n)
        return out

    # ------------------------------------------------------------------ head sides
    def lateral_direction(self, point):
        """Unit vector pointing away from the midline at ``point`` (left for the left hemisphere)."""
        right = self.axes[0]
        side = float((np.asarray(point, float) - self.centre) @ right)
        return right if side >= 0 else -right

    def hemisphere(self, point):
        """``"left"`` or ``"right"`` (midline = plane through the centre normal to lpa→rpa)."""
        return "right" if float((np.asarray(point, float) - self.centre) @ self.axes[0]) >= 0 else "left"
