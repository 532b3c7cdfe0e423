"""Public coil-field API: A, B and the primary E-field of a :class:`~tmsfield.Coil` at points.

Units: points in mm (head frame), pose a 4x4 coil→head transform in mm (columns x, y, z axes
and centre), A in T·m per ampere of coil current, B in T per ampere, E in V/m for a current
slope ``didt`` in A/µs. The coil's sources (segment end points, dipole positions and moments)
are moved into the head frame once, which is cheaper than moving the points.
"""

import numpy as np

from ..pose import as_pose_matrix
from ..validation import as_points, as_positive_float
from ..errors import InputError
from .biot_savart import SegmentSources, DipoleSources

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

    def _eval(self, which, points):
        p = as_points(points, "points") * _MM
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
        return out

    def vector_potential(self, points):
        """A at (N, 3) points in mm (head frame); (N, 3) T·m per ampere."""
        return self._eval("vector_potential", points)

    def magnetic_field(self, points):
        """B at (N, 3) points in mm (head frame); (N, 3) T per ampere."""
        return self._eval("magnetic_field", points)

    def primary_efield(self, points, didt=1.0):
        """Primary E = −dI/dt · A at (N, 3) points in mm; V/m for ``didt`` in A/µs."""
        didt = as_positive_float(didt, "didt")
        return -didt * 1e6 * self._eval("vector_potential", points)


def vector_potential(coil, points, pose=None):
    """Magnetic vector potential of a coil per ampere of coil current.

    Wires use the exact closed form of finite straight segments, dipoles the point-dipole
    formula; a coil with both sums both.

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
