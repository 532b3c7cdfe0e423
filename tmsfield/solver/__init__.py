"""tmsfield.solver"""
from .sphere import SphereModel  # noqa: E402
