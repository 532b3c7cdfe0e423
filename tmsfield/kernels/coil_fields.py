"""Public coil-field API: A, B and the primary E-field of a :class:`~tmsfield.Coil` at points.

Units: points in mm (head frame), pose a 4x4 coil→head transform in mm (columns x, y, z axes
and centre), A in T·m per ampere of coil current, B in T per ampere, E in V/m for a current
slope ``didt`` in A/µs. The coil's sources (segment end points, dipole positions and moments)
are moved into the head frame once, which is cheaper than moving the points.

Sampled-A grids (``Coil.sampled_grids``, SimNIBS ``.tcd`` element type 3) work the other way:
the points are moved into the coil frame, A is interpolated trilinearly there and rotated
back to the head frame. **Points outside a grid get 0 from it.** B of a grid is the curl of A
by central differences at the nodes (2nd order in the grid spacing), interpolated trilinearly.
"""

import numpy as np

from ..pose import as_pose_matrix
from ..validation import as_points, as_positive_float
from ..errors import InputError, CoilError
from .biot_savart import SegmentSources, DipoleSources
from .sampled_grid import points_to_voxel, trilinear_interpolate, central_difference_curl

__all__ = ["CoilFieldSources", "vector_potential", "magnetic_field", "primary_efield"]

_MM = 1e-3


class CoilFieldSources:
    """A coil's wire segments and dipoles placed in the head frame, ready for evaluation.

    Build once per pose and evaluate at many point sets (what the solver and the
    placement search do). Holds only arrays derived from the coil; no global cache.

    Parameters
    ----------
    coil : tmsfield.Coil
    pose : None, CoilPose or array_like (4, 4)
        Coil→head transform, mm. ``None``: coil frame == head frame.

    Examples
    --------
    >>> from tmsfield.coils import load_coil
    >>> src = CoilFieldSources(load_coil("round_90mm"))
    >>> src.vector_potential([[0.0, 0.0, 20.0]]).shape
    (1, 3)
    """

    def __init__(self, coil, pose=None):
        for attr in ("segment_start_mm", "segment_end_mm", "segment_current", "dipole_positions_mm", "dipole_moments"):
            if not hasattr(coil, attr):
                raise InputError(f"coil must be a tmsfield.Coil (e.g. tmsfield.load_coil('fig8_70mm')); "
                                 f"got {type(coil).__name__}")
        m = as_pose_matrix(pose)
        rot, centre = m[:3, :3], m[:3, 3]
        self.pose = m
        self.n_segments = int(coil.segment_start_mm.shape[0])
        self.n_dipoles = int(coil.dipole_positions_mm.shape[0])
        self._segments = None
        self._dipoles = None
        self._grids = tuple(getattr(coil, "sampled_grids", ()) or ())
        self.n_sampled_grids = len(self._grids)
        self._grid_curls = None
        if self.n_segments:
            s = (coil.segment_start_mm @ rot.T + centre) * _MM
            e = (coil.segment_end_mm @ rot.T + centre) * _MM
            self._segments = SegmentSources(s, e, coil.segment_current)
        if self.n_dipoles:
            p = (coil.dipole_positions_mm @ rot.T + centre) * _MM
            mom = coil.dipole_moments @ rot.T
            self._dipoles = DipoleSources(p, mom)

    @property
    def n_sources(self):
        """Number of segments plus dipoles (for pairs-per-second figures)."""
        return self.n_segments + self.n_dipoles

    def _grid_eval(self, which, points_mm):
        """Sum of the sampled grids' A (or B) at head-frame points (mm); 0 outside each grid."""
        rot, centre = self.pose[:3, :3], self.pose[:3, 3]
        local = (points_mm - centre) @ rot            # head → coil frame: R^T (x − c)
        if which == "magnetic_field" and self._grid_curls is None:
            for g in self._grids:
                if min(g.shape) < 3:
                    raise CoilError(f"a sampled A grid of shape {g.shape} is too small for B (curl needs >= 3 "
                                    f"nodes along each axis)")
            self._grid_curls = tuple(central_difference_curl(g.values, g.affine) for g in self._grids)
        acc = np.zeros((points_mm.shape[0], 3))
        for n, g in enumerate(self._grids):
            field = g.values if which == "vector_potential" else self._grid_curls[n]
            acc += trilinear_interpolate(field, points_to_voxel(g.affine, local))
        return acc @ rot.T                              # coil-frame components → head frame

    def _eval(self, which, points):
        p_mm = as_points(points, "points")
        p = p_mm * _MM
        out = np.zeros((p.shape[0], 3))
        tmp = np.empty_like(out) if (self._segments is not None and self._dipoles is not None) else None
        first = True
        for src in (self._segments, self._dipoles):
            if src is None:
                continue
            if first:
                getattr(src, which)(p, out=out)
                first = False
            else:
                out += getattr(src, which)(p, out=tmp)
        if self._grids:
            out += self._grid_eval(which, p_mm)
        return out

    def vector_potential(self, points):
        """A at (N, 3) points in mm (head frame); (N, 3) T·m per ampere (sampled grids: 0 outside)."""
        return self._eval("vector_potential", points)

    def magnetic_field(self, points):
        """B at (N, 3) points in mm (head frame); (N, 3) T per ampere (sampled grids: curl by central
        differences, 0 outside)."""
        return self._eval("magnetic_field", points)

    def primary_efield(self, points, didt=1.0):
        """Primary E = −dI/dt · A at (N, 3) points in mm; V/m for ``didt`` in A/µs."""
        didt = as_positive_float(didt, "didt")
        return -didt * 1e6 * self._eval("vector_potential", points)


def vector_potential(coil, points, pose=None):
    """Magnetic vector potential of a coil per ampere of coil current.

    Wires use the exact closed form of finite straight segments, dipoles the point-dipole
    formula, sampled-A grids (``coil.sampled_grids``, SimNIBS ``.tcd`` type 3) trilinear
    interpolation of the samples — **0 at points outside the grid** (error O(h²) inside for a
    smooth A and grid spacing h); a coil with several kinds sums them.

    Parameters
    ----------
    coil : tmsfield.Coil
    points : array_like, shape (N, 3)
        Field points in mm, head frame.
    pose : None, CoilPose or array_like (4, 4), optional
        Coil→head transform (mm). ``None`` = coil frame.

    Returns
    -------
    ndarray, shape (N, 3), float64
        A in T·m per A.

    Raises
    ------
    InputError, PoseError
        Bad points (NaN/inf, wrong shape, empty) or a pose that is not a rigid transform.

    Examples
    --------
    >>> import tmsfield
    >>> coil = tmsfield.load_coil("fig8_70mm")
    >>> a = tmsfield.vector_potential(coil, [[0.0, 0.0, 20.0]])
    >>> a.shape
    (1, 3)
    """
    return CoilFieldSources(coil, pose).vector_potential(points)


def magnetic_field(coil, points, pose=None):
    """Magnetic flux density of a coil per ampere of coil current.

    Wires and dipoles: exact closed forms. Sampled-A grids: curl of the samples by central
    differences at the nodes (one-sided, 2nd order, on the boundary nodes), interpolated
    trilinearly — O(h²) for a smooth A, **0 outside the grid**; needs >= 3 nodes per axis
    (else :class:`~tmsfield.errors.CoilError`).

    Parameters
    ----------
    coil : tmsfield.Coil
    points : array_like, shape (N, 3)
        Field points in mm, head frame.
    pose : None, CoilPose or array_like (4, 4), optional
        Coil→head transform (mm).

    Returns
    -------
    ndarray, shape (N, 3), float64
        B in T per A.

    Examples
    --------
    >>> import tmsfield
    >>> b = tmsfield.magnetic_field(tmsfield.load_coil("round_90mm"), [[0.0, 0.0, 20.0]])
    >>> bool(abs(b[0, 2]) > 0)
    True
    """
    return CoilFieldSources(coil, pose).magnetic_field(points)


def primary_efield(coil, points, pose=None, didt=1.0):
    """Primary (coil-induced) electric field ``E = −dI/dt · A``.

    This is the field in free space; the head's charge field comes from the solver.
    Sampled-A grid parts contribute only inside their grid (0 outside).

    Parameters
    ----------
    coil : tmsfield.Coil
    points : array_like, shape (N, 3)
        Field points in mm, head frame.
    pose : None, CoilPose or array_like (4, 4), optional
        Coil→head transform (mm).
    didt : float
        Current slope in A/µs (1.0 = 1e6 A/s).

    Returns
    -------
    ndarray, shape (N, 3), float64
        E in V/m.

    Examples
    --------
    >>> import tmsfield
    >>> e = tmsfield.primary_efield(tmsfield.load_coil("fig8_70mm"), [[0.0, 0.0, 20.0]], didt=100.0)
    >>> e.shape
    (1, 3)
    """
    return CoilFieldSources(coil, pose).primary_efield(points, didt=didt)
