"""What every navigator module shares: the pose record, axis conventions, rigid-matrix checks.

A neuronavigator stores a coil placement as a 4x4 matrix in the coordinates of the T1 image it
loaded (mm), but each vendor draws the coil's axes its own way. With ``P`` the tmsfield/SimNIBS
pose (columns x, y, z, centre; +z into the head) the file holds ``M = S · P · F``, where ``F``
re-labels the coil axes (a fixed rotation per vendor) and ``S`` flips the head coordinates
(identity for RAS, ``diag(-1, -1, 1, 1)`` for LPS). Both are proper rotations, so ``M`` is
rigid whenever ``P`` is, and ``P = S⁻¹ · M · F⁻¹``.

Reading is strict: a matrix that is not finite, whose bottom row is not (0, 0, 0, 1), whose
rotation part is further than :data:`ORTHO_TOL` from orthonormal (navigators write 3-17
digits, so a little rounding is normal and is removed by taking the nearest rotation), or
that is a mirror, raises :class:`~tmsfield.errors.NavigationFileError` naming the file and
the line or element.
"""

import warnings
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from ..errors import NavigationFileError, PoseError
from ..pose import CoilPose

__all__ = ["NavPose", "NavigationWarning", "ORTHO_TOL", "LPS_FLIP", "rigid_pose", "to_navigator",
           "from_navigator", "coerce_placements", "unique_name", "template_warning", "is_template_head"]

#: Largest accepted max |RᵀR − I| of a navigator's rotation (4-digit rounding gives ~1e-3).
ORTHO_TOL = 1e-2

#: RAS <-> LPS: x and y negated (its own inverse).
LPS_FLIP = np.diag([-1.0, -1.0, 1.0, 1.0])

SPACES = ("RAS", "LPS")


class NavigationWarning(UserWarning):
    """Something in a navigator file was skipped or is suspicious (e.g. untracked trigger markers)."""


@dataclass(frozen=True, eq=False)
class NavPose:
    """One coil placement read from (or written to) a neuronavigation file.

    Attributes
    ----------
    name : str
        Marker / target / sample name (unique within the file as read).
    pose : CoilPose
        tmsfield/SimNIBS coil frame (columns x, y, z, centre in mm; +z into the head), in the
        RAS coordinates of the image the navigator loaded.
    kind : str
        ``"localite-instrument"``, ``"localite-trigger"``, ``"brainsight-target"``,
        ``"brainsight-sample"``, ``"tmsfield"`` (a tmsfield result or pose file).
    didt_a_per_us : float or None
        Recorded dI/dt of the pulse (A/µs; Localite trigger markers' ``valueA``), where known.
    percent_output : float or None
        Recorded stimulator output (% of maximum; Localite ``amplitudeA``), where known.
    info : mapping
        Other recorded fields (e.g. ``recording_time_ms``, ``coordinate_system``, ``line``).

    Examples
    --------
    >>> p = NavPose("M1", CoilPose.from_axes([0, 0, 90], [0, 0, -1], [0, 1, 0]), "localite-instrument")
    >>> p.matrix[:3, 3].tolist()
    [0.0, 0.0, 90.0]
    """

    name: str
    pose: CoilPose
    kind: str = "tmsfield"
    didt_a_per_us: float = None
    percent_output: float = None
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.pose, CoilPose):
            object.__setattr__(self, "pose", CoilPose(self.pose))
        object.__setattr__(self, "name", str(self.name))
        object.__setattr__(self, "info", MappingProxyType(dict(self.info)))

    @property
    def matrix(self):
        """(4, 4) pose matrix (mm), a copy."""
        return self.pose.matrix.copy()

    def as_dict(self):
        """JSON-able dict (the entries of a ``tmsfield-poses/1`` file)."""
        return {"name": self.name, "kind": self.kind, "matrix": self.pose.tolist(),
                "didt_a_per_us": self.didt_a_per_us, "percent_output": self.percent_output, "info": dict(self.info)}


def rigid_pose(m, where, tol=ORTHO_TOL):
    """Check a navigator's 4x4 matrix and return it as the nearest exactly rigid matrix.

    Parameters
    ----------
    m : array_like, shape (4, 4)
    where : str
        "file, line/element" for the error message.
    tol : float
        Largest accepted max |RᵀR − I|; within it the rotation is replaced by the nearest
        rotation (polar decomposition by SVD), beyond it the matrix is refused.

    Returns
    -------
    ndarray, shape (4, 4)

    Raises
    ------
    NavigationFileError
        Not 4x4, NaN/inf, bottom row not (0, 0, 0, 1), scaled/sheared beyond ``tol`` or a mirror.

    Examples
    --------
    >>> m = np.eye(4); m[0, 0] = 1.0004          # 4-digit rounding: accepted, made exact
    >>> float(rigid_pose(m, "x")[0, 0])
    1.0
    >>> rigid_pose(2 * np.eye(4), "plan.xml, marker 1")
    Traceback (most recent call last):
    ...
    tmsfield.errors.NavigationFileError: plan.xml, marker 1: the bottom row of the matrix must be (0, 0, 0, 1) for a rigid transform; got [0.0, 0.0, 0.0, 2.0]
    """
    try:
        a = np.asarray(m, dtype=np.float64)
    except (TypeError, ValueError):
        raise NavigationFileError(f"{where}: the matrix is not numeric") from None
    if a.shape != (4, 4):
        raise NavigationFileError(f"{where}: expected a 4x4 matrix; got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise NavigationFileError(f"{where}: the matrix contains NaN or inf (an untracked coil?); remove the entry "
                                  f"or re-record it")
    if np.abs(a[3] - [0, 0, 0, 1]).max() > 1e-6:
        raise NavigationFileError(f"{where}: the bottom row of the matrix must be (0, 0, 0, 1) for a rigid "
                                  f"transform; got {a[3].tolist()}")
    r = a[:3, :3]
    err = float(np.abs(r.T @ r - np.eye(3)).max())
    if err > tol:
        raise NavigationFileError(f"{where}: the rotation part is not orthonormal (max |R^T R - I| = {err:.3g}, "
                                  f"tolerance {tol:g}): the axes are scaled or sheared, so this is not a coil pose. "
                                  f"Check that the columns/rows were not mixed up, or re-export the file")
    if np.linalg.det(r) < 0:
        raise NavigationFileError(f"{where}: the matrix is a mirror (determinant -1), not a coil pose; the file's "
                                  f"axes or coordinate space (RAS/LPS) are inconsistent")
    u, _, vt = np.linalg.svd(r)
    out = np.eye(4)
    out[:3, :3] = u @ vt
    out[:3, 3] = a[:3, 3]
    return out


def _space_flip(space):
    s = str(space).upper()
    if s not in SPACES:
        raise NavigationFileError(f"coordinate space {space!r} is not supported; use 'RAS' (NIfTI) or 'LPS' (DICOM)")
    return LPS_FLIP if s == "LPS" else np.eye(4)


def to_navigator(pose, axes, space="RAS"):
    """tmsfield pose (RAS) → the navigator's matrix ``S · P · F``.

    Examples
    --------
    >>> to_navigator(np.eye(4), np.eye(4), "LPS")[:3, :3].diagonal().tolist()
    [-1.0, -1.0, 1.0]
    """
    p = pose.matrix if isinstance(pose, CoilPose) else np.asarray(pose, float)
    return _space_flip(space) @ p @ np.asarray(axes, float)


def from_navigator(m, axes, space, where):
    """The navigator's matrix → a :class:`CoilPose` (RAS), checked by :func:`rigid_pose`.

    Examples
    --------
    >>> from_navigator(np.eye(4), np.eye(4), "RAS", "x").center_mm.tolist()
    [0.0, 0.0, 0.0]
    """
    s = _space_flip(space)
    f = np.asarray(axes, float)
    m = rigid_pose(m, where)
    try:
        return CoilPose(rigid_pose(s.T @ m @ f.T, where))
    except PoseError as exc:  # pragma: no cover - rigid_pose already guarantees a rigid matrix
        raise NavigationFileError(f"{where}: {exc}") from None


def unique_name(name, taken):
    """``name``, or ``name #2``, ``name #3``... if already in ``taken`` (a set, updated)."""
    out, k = name, 2
    while out in taken:
        out, k = f"{name} #{k}", k + 1
    taken.add(out)
    return out


def coerce_placements(placements):
    """Mapping or sequence of placements → list of (name, CoilPose).

    Accepts a dict ``name → pose``, a sequence of ``(name, pose)`` pairs or of :class:`NavPose`,
    where a pose is a :class:`CoilPose`, a :class:`NavPose` or a 4x4 array (mm).

    Examples
    --------
    >>> [n for n, _ in coerce_placements({"a": np.eye(4), "b": np.eye(4)})]
    ['a', 'b']
    """
    from ..errors import InputError

    if isinstance(placements, dict):
        items = list(placements.items())
    elif isinstance(placements, (NavPose, CoilPose, np.ndarray)):
        items = [placements]
    else:
        items = list(placements)
    out, taken = [], set()
    for i, it in enumerate(items):
        if isinstance(it, NavPose):
            name, pose = it.name, it.pose
        elif isinstance(it, CoilPose) or (isinstance(it, np.ndarray) and it.shape == (4, 4)):
            name, pose = f"{i + 1:03d}", it
        else:
            try:
                name, pose = it
            except (TypeError, ValueError):
                raise InputError(f"placement {i}: expected (name, pose), a NavPose or a CoilPose; "
                                 f"got {type(it).__name__}") from None
        if isinstance(pose, NavPose):
            pose = pose.pose
        try:
            pose = pose if isinstance(pose, CoilPose) else CoilPose(pose)
        except PoseError as exc:
            raise InputError(f"placement {name!r}: {exc}") from None
        name = " ".join(str(name).split()) or f"{i + 1:03d}"   # no tabs/newlines in navigator names
        out.append((unique_name(name, taken), pose))
    if not out:
        raise InputError("no placements to write")
    return out


def is_template_head(head_name):
    """True for the bundled MNI152 template heads (``mni152*``).

    Examples
    --------
    >>> is_template_head("mni152_coarse"), is_template_head("subject01")
    (True, False)
    """
    from pathlib import Path

    return Path(str(head_name or "")).name.lower().startswith("mni152")


def template_warning(head_name):
    """The warning put into files (and printed) when a plan was made on the template head."""
    return (f"WARNING: planned on the template head {head_name!r}: these coordinates are in template MNI152 "
            f"space, NOT in this patient's scanner space. Do not use them to guide the coil on a patient's "
            f"own T1 without registering them to it (plan on the patient's head instead).")


def warn(message):
    """Emit a :class:`NavigationWarning` (shown by the command line)."""
    warnings.warn(message, NavigationWarning, stacklevel=3)
