"""Coil poses: 4x4 rigid transforms from the coil frame to head coordinates (mm).

Convention (as SimNIBS, so poses interoperate): the columns of the 4x4 matrix are the
coil's x, y and z axes and its centre, expressed in head (scanner/MNI RAS) coordinates in
millimetres. The coil frame has its origin at the centre of the casing's head-facing
surface and **+z pointing into the head**.
"""

from dataclasses import dataclass

import numpy as np

from .errors import PoseError

__all__ = ["CoilPose", "as_pose_matrix"]

_ORTHO_TOL = 1e-6


def as_pose_matrix(pose, name="pose"):
    """Validate a coil pose and return it as a 4x4 float64 matrix.

    Parameters
    ----------
    pose : None, CoilPose or array_like, shape (4, 4)
        ``None`` means the identity (coil frame == head frame). Columns are the coil's
        x, y, z axes and centre (mm) in head coordinates.

    Returns
    -------
    ndarray, shape (4, 4), float64

    Raises
    ------
    PoseError
        Not 4x4, non-finite, bottom row not (0, 0, 0, 1), rotation not orthonormal, or
        left-handed (determinant -1, i.e. a mirror).

    Examples
    --------
    >>> as_pose_matrix(None)[3]
    array([0., 0., 0., 1.])
    """
    if pose is None:
        return np.eye(4)
    if isinstance(pose, CoilPose):
        return pose.matrix.copy()
    try:
        m = np.asarray(pose, dtype=np.float64)
    except (TypeError, ValueError):
        raise PoseError(f"{name} must be a 4x4 matrix (columns x, y, z, centre in mm); got {type(pose).__name__}") from None
    if m.shape != (4, 4):
        raise PoseError(f"{name} must have shape (4, 4) (columns x, y, z axes and centre in mm); got {m.shape}")
    if not np.all(np.isfinite(m)):
        raise PoseError(f"{name} contains NaN or inf")
    if not np.allclose(m[3], [0, 0, 0, 1], atol=1e-9):
        raise PoseError(f"{name} bottom row must be (0, 0, 0, 1) for a rigid transform; got {m[3].tolist()}")
    r = m[:3, :3]
    err = np.abs(r.T @ r - np.eye(3)).max()
    if err > _ORTHO_TOL:
        raise PoseError(f"{name} rotation part is not orthonormal (max |R^T R - I| = {err:.2e}): it scales or "
                        f"shears. Normalise the axis columns, e.g. with CoilPose.from_axes(center, z_axis, y_axis).")
    if np.linalg.det(r) < 0:
        raise PoseError(f"{name} is left-handed (det = -1, a mirror); use x = y cross z for a right-handed frame.")
    return m


@dataclass(frozen=True, eq=False)
class CoilPose:
    """A validated coil pose (rigid transform coil frame -> head frame, mm).

    Parameters
    ----------
    matrix : array_like, shape (4, 4)
        Columns: coil x, y, z axes (unit vectors) and centre (mm) in head coordinates.

    Examples
    --------
    >>> p = CoilPose.from_axes(center_mm=[0, 0, 95], z_axis=[0, 0, -1], y_axis=[0, -1, 0])
    >>> p.center_mm
    array([ 0.,  0., 95.])
    >>> p.transform_points([[0, 0, 10]])   # 10 mm along +z goes into the head
    array([[ 0.,  0., 85.]])
    """

    matrix: np.ndarray

    def __post_init__(self):
        m = as_pose_matrix(self.matrix)
        m.setflags(write=False)
        object.__setattr__(self, "matrix", m)

    @classmethod
    def from_axes(cls, center_mm, z_axis, y_axis):
        """Build a pose from the centre (mm), the z axis (into the head) and the y axis.

        ``y_axis`` need not be exactly perpendicular to ``z_axis``: its component along z
        is removed. x = y x z completes a right-handed frame.
        """
        c = np.asarray(center_mm, dtype=float).reshape(3)
        z = np.asarray(z_axis, dtype=float).reshape(3)
        y = np.asarray(y_axis, dtype=float).reshape(3)
        nz = np.linalg.norm(z)
        if not np.isfinite(nz) or nz == 0:
            raise PoseError("z_axis must be a non-zero finite vector")
        z = z / nz
        y = y - np.dot(y, z) * z
        ny = np.linalg.norm(y)
        if not np.isfinite(ny) or ny < 1e-9:
            raise PoseError("y_axis must not be parallel to z_axis")
        y = y / ny
        x = np.cross(y, z)
        m = np.eye(4)
        m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = x, y, z, c
        return cls(m)

    @property
    def rotation(self):
        """(3, 3) rotation, columns = coil axes in head coordinates."""
        return self.matrix[:3, :3]

    @property
    def center_mm(self):
        """(3,) coil centre in head coordinates, mm."""
        return self.matrix[:3, 3].copy()

    @property
    def x_axis(self):
        return self.matrix[:3, 0].copy()

    @property
    def y_axis(self):
        return self.matrix[:3, 1].copy()

    @property
    def z_axis(self):
        """(3,) unit vector pointing into the head."""
        return self.matrix[:3, 2].copy()

    def transform_points(self, points_mm):
        """Map (N, 3) points from the coil frame to head coordinates (mm)."""
        p = np.asarray(points_mm, dtype=float)
        return p @ self.rotation.T + self.matrix[:3, 3]

    def transform_vectors(self, vectors):
        """Rotate (N, 3) vectors from the coil frame to head coordinates."""
        return np.asarray(vectors, dtype=float) @ self.rotation.T

    def inverse(self):
        """The head -> coil-frame transform as a CoilPose."""
        m = np.eye(4)
        m[:3, :3] = self.rotation.T
        m[:3, 3] = -self.rotation.T @ self.matrix[:3, 3]
        return CoilPose(m)

    def tolist(self):
        """4x4 nested list (for JSON)."""
        return self.matrix.tolist()
