"""tmsfield.solver"""
from .sphere import SphereModel  # noqa: E402
from .mesh_check import check_nested, check_surface  # noqa: E402
from .bem import EFieldSolver  # noqa: E402
