"""The :class:`Surface`: an immutable closed triangle mesh in head coordinates (mm)."""

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..errors import MeshError
from ..validation import as_points

__all__ = ["Surface"]


@dataclass(frozen=True, eq=False)
class Surface:
    """A triangle surface: vertices in mm (scanner/MNI RAS), triangles as vertex indices.

    Triangles are ordered counter-clockwise seen from outside, so normals point outward.
    Derived quantities (normals, areas, centroids, neighbours) are computed on first use.

    Parameters
    ----------
    vertices : array_like, shape (V, 3), mm
    triangles : array_like of int, shape (T, 3)
    name : str
        Which boundary this is (``"scalp"``, ``"skull_outer"``, ``"skull_inner"``,
        ``"gm"``, ``"wm"``, ``"cortex"``...), used in error messages.

    Examples
    --------
    >>> import numpy as np
    >>> v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1.0]])
    >>> t = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    >>> s = Surface(v, t, name="tetra")
    >>> round(float(s.triangle_areas.sum()), 4)
    2.366
    """

    vertices: np.ndarray
    triangles: np.ndarray
    name: str = "surface"

    def __post_init__(self):
        v = as_points(self.vertices, f"vertices of surface {self.name!r}")
        try:
            t = np.asarray(self.triangles)
        except Exception:
            raise MeshError(f"triangles of surface {self.name!r} must be an integer array of shape (T, 3)") from None
        if t.ndim != 2 or t.shape[1] != 3 or t.shape[0] == 0:
            raise MeshError(f"triangles of surface {self.name!r} must have shape (T, 3), T > 0; got {t.shape}")
        if not np.issubdtype(t.dtype, np.integer):
            if not np.all(np.equal(np.mod(t, 1), 0)):
                raise MeshError(f"triangles of surface {self.name!r} must hold integer vertex indices")
        t = np.ascontiguousarray(t, dtype=np.int64)
        if t.min() < 0 or t.max() >= v.shape[0]:
            raise MeshError(f"surface {self.name!r}: triangle vertex indices must lie in [0, {v.shape[0] - 1}]; "
                            f"found {t.min()}..{t.max()}")
        v.setflags(write=False)
        t.setflags(write=False)
        object.__setattr__(self, "vertices", v)
        object.__setattr__(self, "triangles", t)

    @property
    def n_vertices(self):
        return int(self.vertices.shape[0])

    @property
    def n_triangles(self):
        return int(self.triangles.shape[0])

    @cached_property
    def _cross(self):
        p = self.vertices[self.triangles]
        return np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])

    @cached_property
    def triangle_areas(self):
        """(T,) triangle areas, mm²."""
        return 0.5 * np.linalg.norm(self._cross, axis=1)

    @cached_property
    def triangle_normals(self):
        """(T, 3) unit normals (outward for a correctly oriented closed surface)."""
        n = self._cross
        ln = np.linalg.norm(n, axis=1, keepdims=True)
        return n / np.where(ln > 0, ln, 1.0)

    @cached_property
    def centroids(self):
        """(T, 3) triangle centroids, mm."""
        return self.vertices[self.triangles].mean(axis=1)

    @cached_property
    def vertex_normals(self):
        """(V, 3) area-weighted unit vertex normals."""
        n = np.zeros_like(self.vertices)
        for k in range(3):
            np.add.at(n, self.triangles[:, k], self._cross)
        ln = np.linalg.norm(n, axis=1, keepdims=True)
        return n / np.where(ln > 0, ln, 1.0)

    @cached_property
    def vertex_areas(self):
        """(V,) one third of the area of the triangles around each vertex, mm²."""
        a = np.zeros(self.n_vertices)
        for k in range(3):
            np.add.at(a, self.triangles[:, k], self.triangle_areas / 3.0)
        return a

    @cached_property
    def edges(self):
        """(E, 2) unique undirected edges (sorted vertex pairs)."""
        e = np.concatenate([self.triangles[:, [0, 1]], self.triangles[:, [1, 2]], self.triangles[:, [2, 0]]])
        return np.unique(np.sort(e, axis=1), axis=0)

    @cached_property
    def vertex_neighbors(self):
        """Tuple of arrays: the vertices sharing an edge with each vertex."""
        e = self.edges
        both = np.concatenate([e, e[:, ::-1]])
        order = np.argsort(both[:, 0], kind="stable")
        both = both[order]
        splits = np.searchsorted(both[:, 0], np.arange(1, self.n_vertices))
        return tuple(np.split(both[:, 1], splits))

    @cached_property
    def mean_edge_length(self):
        """Mean edge length, mm."""
        e = self.edges
        return float(np.linalg.norm(self.vertices[e[:, 0]] - self.vertices[e[:, 1]], axis=1).mean())

    def __repr__(self):
        return f"Surface(name={self.name!r}, vertices={self.n_vertices}, triangles={self.n_triangles})"
