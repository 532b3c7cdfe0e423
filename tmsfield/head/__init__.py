"""Heads: surfaces, head models, loaders (through nibabel), template head, EEG positions."""

from .surface import Surface

__all__ = ["Surface"]
from .sphere_mesh import icosphere, nested_spheres  # noqa: E402
__all__ += ["icosphere", "nested_spheres"]
