"""Exceptions raised by tmsfield.

Every error a user can cause derives from :class:`TmsfieldError`, which is a
:class:`ValueError`, so ``except ValueError`` keeps working for callers that do
not know tmsfield. Messages name the problem *and* the fix (which file, which
line, which surface, which argument).
"""

__all__ = [
    "TmsfieldError",
    "InputError",
    "PoseError",
    "CoilError",
    "CoilFileError",
    "MeshError",
    "HeadFileError",
    "SolverError",
    "ConvergenceError",
    "TargetError",
    "RenderError",
    "OutputError",
    "NonFiniteError",
    "NavigationFileError",
]


class TmsfieldError(ValueError):
    """Base class of every error tmsfield raises on bad input."""


class InputError(TmsfieldError):
    """An array argument has the wrong shape, dtype, or non-finite values."""


class PoseError(TmsfieldError):
    """A coil pose is not a 4x4 right-handed rigid transform (mm)."""


class CoilError(TmsfieldError):
    """A coil definition is inconsistent (e.g. an open winding, unknown name)."""


class CoilFileError(CoilError):
    """A coil file (.ccd, .tcd) is malformed; the message names file and line/key."""


class MeshError(TmsfieldError):
    """A surface mesh is open, non-manifold, self-intersecting or badly nested."""


class HeadFileError(TmsfieldError):
    """A head file cannot be read; the message names the file and the fix."""


class SolverError(TmsfieldError):
    """The E-field solver cannot be set up or applied to the given input."""


class ConvergenceError(SolverError):
    """An iterative solve did not reach its tolerance; the message gives the residual."""


class TargetError(TmsfieldError):
    """A stimulation target is unknown, outside the brain or out of the coil's reach."""


class RenderError(TmsfieldError):
    """Rendering is impossible (no OpenGL) or the data do not belong to the scene."""


class OutputError(TmsfieldError):
    """An output cannot be written (missing or read-only folder, full disk); the message names the
    folder and the fix. Nothing half-written is left behind."""


class NonFiniteError(OutputError):
    """A value about to be saved is NaN or infinite; the message names the value and the file. Nothing
    was written."""


class NavigationFileError(InputError):
    """A neuronavigation file (Localite XML, Brainsight text, pose JSON) is malformed; the message
    names the file and the line or element."""
