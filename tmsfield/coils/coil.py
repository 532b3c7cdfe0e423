"""The :class:`Coil`: an immutable TMS coil model in its own frame.

Coil frame (SimNIBS convention): millimetres, origin at the centre of the casing's
head-facing surface, **+z pointing into the head**. A coil is made of wire windings
(polylines of straight segments carrying a signed share of the coil current) and/or
magnetic dipoles (positions in mm, moments in A·m² per ampere of coil current).
"""

from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from ..errors import CoilError
from ..validation import as_points

__all__ = ["Coil", "SampledAField"]

_NODE_TOL_MM = 1e-6


def _frozen(a):
    a = np.ascontiguousarray(a, dtype=np.float64)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class SampledAField:
    """The coil's vector potential A sampled on a regular grid (coil frame).

    What SimNIBS stores as a ``.tcd`` element of type 3 (or as a NIfTI A-field). The field
    is evaluated by trilinear interpolation; **outside the grid it is taken as 0**.

    Attributes
    ----------
    values : ndarray, shape (nx, ny, nz, 3)
        A at the grid nodes, T·m per ampere of coil current, coil-frame components.
        Each of nx, ny, nz must be >= 2 (>= 3 for :func:`tmsfield.magnetic_field`).
    affine : ndarray, shape (4, 4)
        Voxel index ``(i, j, k, 1)`` → coil-frame position in mm (invertible, last row
        ``0 0 0 1``).

    Examples
    --------
    >>> import numpy as np
    >>> aff = np.eye(4); aff[:3, :3] *= 5.0; aff[:3, 3] = -10.0
    >>> g = SampledAField(np.zeros((5, 5, 5, 3)), aff)
    >>> g.spacing_mm.tolist(), g.shape
    ([5.0, 5.0, 5.0], (5, 5, 5))
    """

    values: np.ndarray
    affine: np.ndarray

    def __post_init__(self):
        try:
            v = np.asarray(self.values, dtype=np.float64)
            a = np.asarray(self.affine, dtype=np.float64)
        except (TypeError, ValueError):
            raise CoilError("sampled A grid: values and affine must be numeric arrays") from None
        if v.ndim != 4 or v.shape[3] != 3 or min(v.shape[:3]) < 2:
            raise CoilError(f"sampled A grid: values must have shape (nx, ny, nz, 3) with each n >= 2; got {v.shape}")
        if not np.all(np.isfinite(v)):
            raise CoilError("sampled A grid: values contain NaN or inf")
        if a.shape != (4, 4) or not np.all(np.isfinite(a)):
            raise CoilError(f"sampled A grid: affine must be a finite 4x4 matrix (voxel index -> mm); got shape {a.shape}")
        if not np.allclose(a[3], [0.0, 0.0, 0.0, 1.0]):
            raise CoilError(f"sampled A grid: the affine's last row must be [0, 0, 0, 1]; got {a[3].tolist()}")
        lin = a[:3, :3]
        if abs(np.linalg.det(lin)) <= 1e-12 * max(np.abs(lin).max(), 1e-300) ** 3:
            raise CoilError("sampled A grid: the affine's 3x3 part is singular (zero voxel size?)")
        object.__setattr__(self, "values", _frozen(v))
        object.__setattr__(self, "affine", _frozen(a))

    @property
    def shape(self):
        """Grid size (nx, ny, nz)."""
        return tuple(int(n) for n in self.values.shape[:3])

    @property
    def spacing_mm(self):
        """Length of the voxel edges (mm) along i, j, k; ndarray (3,)."""
        return np.linalg.norm(self.affine[:3, :3], axis=0)

    @property
    def node_positions_mm(self):
        """Coil-frame positions of all nodes (mm), shape (nx, ny, nz, 3)."""
        idx = np.stack(np.meshgrid(*[np.arange(n, dtype=np.float64) for n in self.shape], indexing="ij"), axis=-1)
        return idx @ self.affine[:3, :3].T + self.affine[:3, 3]


@dataclass(frozen=True, eq=False)
class Coil:
    """A TMS coil: wire windings and/or magnetic dipoles in the coil frame.

    Use :meth:`from_wires`, :meth:`from_dipoles`, :func:`tmsfield.load_coil` rather than
    the raw constructor.

    Attributes
    ----------
    name : str
        Model name (e.g. ``"fig8_70mm"``).
    segment_start_mm, segment_end_mm : ndarray, shape (M, 3)
        Straight wire segments (mm), coil frame.
    segment_current : ndarray, shape (M,)
        Current in each segment per ampere of coil current (sign gives direction from
        start to end; a winding split into n filaments carries 1/n per filament).
    windings : tuple of ndarray, each shape (K_i, 3)
        The polylines the segments came from (mm), kept for drawing.
    dipole_positions_mm : ndarray, shape (D, 3)
    dipole_moments : ndarray, shape (D, 3)
        Magnetic dipole moments, A·m² per ampere of coil current.
    sampled_grids : tuple of SampledAField
        Vector potential sampled on grids (SimNIBS ``.tcd`` element type 3); added to the
        wires' and dipoles' A by trilinear interpolation, 0 outside each grid. Such parts
        have no dipole equivalent (:meth:`to_dipoles`, the sphere model and the placement
        search's dipole route refuse them).
    handle_direction : ndarray, shape (3,)
        Unit vector (coil frame) along which the handle points.
    casing_outline_mm : ndarray, shape (P, 3) or None
        Closed outline of the casing's head-facing surface (z = 0 plane), for drawing
        and for the collision check with the scalp.
    max_didt_a_per_us : float or None
        Stimulator dI/dt at 100 % output (A/µs), where known.
    description : str
        Geometry and the source of its numbers.
    metadata : mapping of str to str
        Extra key/value pairs read from a coil file header (e.g. ``stimulator``, ``brand``);
        written back by :func:`tmsfield.coils.write_ccd`. Read-only.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.linspace(0, 2 * np.pi, 65)
    >>> loop = np.column_stack([40 * np.cos(t), 40 * np.sin(t), -5 + 0 * t])
    >>> coil = Coil.from_wires([loop], name="loop")
    >>> coil.segment_start_mm.shape
    (64, 3)
    """

    name: str
    segment_start_mm: np.ndarray
    segment_end_mm: np.ndarray
    segment_current: np.ndarray
    dipole_positions_mm: np.ndarray
    dipole_moments: np.ndarray
    windings: tuple = ()
    handle_direction: np.ndarray = field(default_factory=lambda: np.array([0.0, 1.0, 0.0]))
    casing_outline_mm: np.ndarray = None
    max_didt_a_per_us: float = None
    description: str = ""
    metadata: dict = field(default_factory=dict)
    sampled_grids: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "metadata", MappingProxyType({str(k): str(v) for k, v in dict(self.metadata).items()}))
        s = as_points(self.segment_start_mm, "segment_start_mm", allow_empty=True)
        e = as_points(self.segment_end_mm, "segment_end_mm", allow_empty=True)
        c = np.asarray(self.segment_current, dtype=np.float64).reshape(-1)
        if not (s.shape == e.shape and c.shape[0] == s.shape[0]):
            raise CoilError(f"coil {self.name!r}: segment arrays disagree in length "
                            f"({s.shape[0]} starts, {e.shape[0]} ends, {c.shape[0]} currents)")
        if not np.all(np.isfinite(c)):
            raise CoilError(f"coil {self.name!r}: segment currents contain NaN or inf")
        p = as_points(self.dipole_positions_mm, "dipole_positions_mm", allow_empty=True)
        m = as_points(self.dipole_moments, "dipole_moments", allow_empty=True)
        if p.shape != m.shape:
            raise CoilError(f"coil {self.name!r}: {p.shape[0]} dipole positions but {m.shape[0]} moments")
        grids = tuple(self.sampled_grids or ())
        for i, g in enumerate(grids):
            if not isinstance(g, SampledAField):
                raise CoilError(f"coil {self.name!r}: sampled_grids[{i}] must be a tmsfield.coils.SampledAField; "
                                f"got {type(g).__name__}")
        object.__setattr__(self, "sampled_grids", grids)
        if s.shape[0] == 0 and p.shape[0] == 0 and not grids:
            raise CoilError(f"coil {self.name!r} has neither wire segments, dipoles nor sampled A grids")
        h = np.asarray(self.handle_direction, dtype=np.float64).reshape(3)
        nh = np.linalg.norm(h)
        if not np.isfinite(nh) or nh == 0:
            raise CoilError(f"coil {self.name!r}: handle_direction must be a non-zero vector")
        for name, val in (("segment_start_mm", s), ("segment_end_mm", e), ("segment_current", c),
                          ("dipole_positions_mm", p), ("dipole_moments", m), ("handle_direction", h / nh)):
            object.__setattr__(self, name, _frozen(val))
        object.__setattr__(self, "windings", tuple(_frozen(w) for w in self.windings))
        if self.casing_outline_mm is not None:
            object.__setattr__(self, "casing_outline_mm", _frozen(as_points(self.casing_outline_mm, "casing_outline_mm")))
        if self.max_didt_a_per_us is not None:
            v = float(self.max_didt_a_per_us)
            if not np.isfinite(v) or v <= 0:
                raise CoilError(f"coil {self.name!r}: max_didt_a_per_us must be positive; got {self.max_didt_a_per_us!r}")
            object.__setattr__(self, "max_didt_a_per_us", v)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_wires(cls, polylines, currents=None, name="wire coil", check_closed=True, **kwargs):
        """Build a coil from wire polylines (mm, coil frame).

        Parameters
        ----------
        polylines : sequence of array_like, each shape (K_i, 3), K_i >= 2
            Wire paths in mm. Each consecutive pair of points is a straight segment.
            Together (leads included) they must form closed circuits: at every wire
            junction the signed currents in and out balance (Kirchhoff's current law).
            A single loop closes when its last point equals its first.
        currents : sequence of float, optional
            Current in each polyline per ampere of coil current (default 1 each); the
            sign gives the direction of travel along the polyline.
        name : str
        check_closed : bool
            Verify that the wires form closed circuits (default True).
        **kwargs
            Other :class:`Coil` attributes (handle_direction, casing_outline_mm,
            max_didt_a_per_us, description).

        Raises
        ------
        CoilError
            A polyline with fewer than 2 points or non-finite values, or wires that do
            not form closed circuits (the message gives the first dangling end, mm).
        """
        polylines = list(polylines)
        if not polylines:
            raise CoilError(f"coil {name!r}: no polylines given")
        if currents is None:
            currents = np.ones(len(polylines))
        currents = np.asarray(currents, dtype=np.float64).reshape(-1)
        if currents.shape[0] != len(polylines):
            raise CoilError(f"coil {name!r}: {len(polylines)} polylines but {currents.shape[0]} currents")
        starts, ends, cur, wind = [], [], [], []
        for i, (pl, ci) in enumerate(zip(polylines, currents)):
            pts = as_points(pl, f"polyline {i} of coil {name!r}")
            if pts.shape[0] < 2:
                raise CoilError(f"coil {name!r}: polyline {i} has {pts.shape[0]} point(s); a wire needs at least 2")
            seg_len = np.linalg.norm(np.diff(pts, axis=0), axis=1)
            keep = seg_len > 0
            starts.append(pts[:-1][keep])
            ends.append(pts[1:][keep])
            cur.append(np.full(int(keep.sum()), ci))
            wind.append(pts)
        s, e, c = np.concatenate(starts), np.concatenate(ends), np.concatenate(cur)
        if check_closed:
            _check_closed_circuit(s, e, c, name)
        return cls(name=name, segment_start_mm=s, segment_end_mm=e, segment_current=c,
                   dipole_positions_mm=np.zeros((0, 3)), dipole_moments=np.zeros((0, 3)),
                   windings=tuple(wind), **kwargs)

    @classmethod
    def from_dipoles(cls, positions_mm, moments, name="dipole coil", **kwargs):
        """Build a coil from magnetic dipoles.

        Parameters
        ----------
        positions_mm : array_like, shape (D, 3)
            Dipole positions in mm, coil frame.
        moments : array_like, shape (D, 3)
            Dipole moments, A·m² per ampere of coil current.

        Examples
        --------
        >>> coil = Coil.from_dipoles([[0, 0, -10]], [[0, 0, 1e-3]])
        >>> coil.n_dipoles
        1
        """
        p = as_points(positions_mm, "positions_mm")
        m = as_points(moments, "moments")
        if p.shape != m.shape:
            raise CoilError(f"coil {name!r}: {p.shape[0]} positions but {m.shape[0]} moments")
        return cls(name=name, segment_start_mm=np.zeros((0, 3)), segment_end_mm=np.zeros((0, 3)),
                   segment_current=np.zeros(0), dipole_positions_mm=p, dipole_moments=m, **kwargs)

    # ------------------------------------------------------------------ properties
    @property
    def n_segments(self):
        return int(self.segment_start_mm.shape[0])

    @property
    def n_dipoles(self):
        return int(self.dipole_positions_mm.shape[0])

    @property
    def has_wires(self):
        return self.n_segments > 0

    @property
    def has_dipoles(self):
        return self.n_dipoles > 0

    @property
    def has_sampled_grids(self):
        return len(self.sampled_grids) > 0

    def to_dipoles(self, max_patch_mm=2.0, merge_mm=4.0, window=32):
        """Equivalent dipole coil; see :func:`tmsfield.coils.dipole_equivalent`.

        The result is not cached: keep the returned :class:`Coil` if you need it again.

        Examples
        --------
        >>> from tmsfield.coils import load_coil
        >>> load_coil("round_90mm").to_dipoles().has_wires
        False
        """
        from .dipole_equivalent import dipole_equivalent

        _refuse_sampled_grids(self, "to_dipoles()")
        return dipole_equivalent(self, max_patch_mm=max_patch_mm, merge_mm=merge_mm, window=window)

    def __repr__(self):
        grids = f", sampled_grids={len(self.sampled_grids)}" if self.sampled_grids else ""
        return (f"Coil(name={self.name!r}, segments={self.n_segments}, dipoles={self.n_dipoles}{grids}, "
                f"max_didt_a_per_us={self.max_didt_a_per_us})")


def _refuse_sampled_grids(coil, what):
    """Raise CoilError if ``coil`` has sampled-A grids (they have no dipole/wire equivalent)."""
    if getattr(coil, "sampled_grids", ()):
        raise CoilError(f"coil {coil.name!r} has {len(coil.sampled_grids)} sampled A grid(s): sampled-grid coils have "
                        f"no dipole equivalent, so {what} cannot use it; use a wire or dipole coil file "
                        f"(.ccd, or a .tcd with element types 1/2)")


def _check_closed_circuit(starts, ends, currents, name):
    """Kirchhoff's current law at every wire node: net current in == out."""
    pts = np.concatenate([starts, ends])
    key = np.round(pts / _NODE_TOL_MM).astype(np.int64)
    _, inv = np.unique(key, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    n = starts.shape[0]
    net = np.zeros(inv.max() + 1)
    np.add.at(net, inv[:n], -currents)   # current leaves the start node
    np.add.at(net, inv[n:], currents)    # and arrives at the end node
    scale = max(np.abs(currents).max(), 1e-30)
    bad = np.flatnonzero(np.abs(net) > 1e-9 * scale)
    if bad.size:
        node = pts[np.flatnonzero(inv == bad[0])[0]]
        raise CoilError(f"coil {name!r}: the wires do not form a closed circuit: {bad.size} node(s) where current "
                        f"does not balance, first at ({node[0]:.3f}, {node[1]:.3f}, {node[2]:.3f}) mm "
                        f"(net {net[bad[0]]:+.3g}). Close each loop (last point = first) or add the leads "
                        f"that connect the winding ends.")
