"""Heads: surfaces, head models, loaders (through nibabel), template head, EEG positions."""

from .surface import Surface
from .head import Head
from .loaders import load_head
from .io_msh import read_msh_surfaces, write_msh_surfaces
from .io_surface import (read_freesurfer_surface, read_gifti_surface, read_surface, write_freesurfer_surface,
                         write_gifti_surface)
from .volume import mesh_from_mask, surfaces_from_label_volume
from .eeg import eeg_positions

__all__ = ["Surface", "Head", "load_head", "read_msh_surfaces", "write_msh_surfaces", "read_freesurfer_surface",
           "read_gifti_surface", "read_surface", "write_freesurfer_surface", "write_gifti_surface",
           "mesh_from_mask", "surfaces_from_label_volume", "eeg_positions"]
from .sphere_mesh import icosphere, nested_spheres  # noqa: E402
__all__ += ["icosphere", "nested_spheres"]
