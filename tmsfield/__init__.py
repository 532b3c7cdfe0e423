"""tmsfield: TMS coil fields, induced E-fields in the head, and left-DLPFC targeting.

Units everywhere: positions in mm (head = scanner/MNI RAS), E in V/m, B in T, A in T·m
per ampere, dI/dt in A/µs (``didt=1.0`` is 1 A/µs = 1e6 A/s). A coil pose is a 4x4
matrix whose columns are the coil's x, y, z axes and centre in head coordinates (mm),
with +z pointing into the head (SimNIBS convention).

Where things live: ``tmsfield.coils`` (coil models and files), ``tmsfield.kernels``
(Biot–Savart and BEM kernels, numba beside plain-numpy references), ``tmsfield.head``
(surfaces, heads, loaders, template, EEG positions), ``tmsfield.solver`` (analytic sphere,
BEM E-field solver, mesh checks), ``tmsfield.targets`` (DLPFC targets, heuristics, coil
placement search, dose), ``tmsfield.viz`` (3-D viewer and rendering), ``tmsfield.cli``
(the ``tmsfield`` command).
"""

from ._lazy import lazy_exports
from ._version import __version__

# Public names -> the module that defines them. Imported on first use so that
# ``import tmsfield`` stays fast and does not pull in pyvista/VTK.
_PUBLIC = {
    "Coil": "tmsfield.coils",
    "load_coil": "tmsfield.coils",
    "available_coils": "tmsfield.coils",
    "CoilPose": "tmsfield.pose",
    "vector_potential": "tmsfield.kernels",
    "magnetic_field": "tmsfield.kernels",
    "primary_efield": "tmsfield.kernels",
    "SphereModel": "tmsfield.solver",
    "EFieldSolver": "tmsfield.solver",
    "Surface": "tmsfield.head",
    "Head": "tmsfield.head",
    "load_head": "tmsfield.head",
}

# Subpackages, also imported on first attribute access (``tmsfield.targets.coil_pose``).
_SUBPACKAGES = ("coils", "kernels", "head", "solver", "targets", "viz", "cli", "pose", "errors", "validation",
               "navigation")

__all__ = ["__version__", *_PUBLIC]

__getattr__, __dir__ = lazy_exports(__name__, _PUBLIC, _SUBPACKAGES)
