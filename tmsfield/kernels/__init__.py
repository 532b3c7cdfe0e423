"""Field kernels. Biot–Savart: A and B of coils (wire segments and dipoles).

Public, coil-level (mm, poses): :func:`vector_potential`, :func:`magnetic_field`,
:func:`primary_efield`, :class:`CoilFieldSources`.
Low-level, SI arrays (metres, A, A·m²): :func:`segment_vector_potential`,
:func:`segment_magnetic_field`, :func:`dipole_vector_potential`,
:func:`dipole_magnetic_field`, and the reusable :class:`SegmentSources`,
:class:`DipoleSources`. numba kernels live in :mod:`.biot_savart`, their plain-numpy
reference in :mod:`.biot_savart_reference`.
"""

from .biot_savart import (
    DipoleSources,
    SegmentSources,
    dipole_magnetic_field,
    dipole_vector_potential,
    segment_magnetic_field,
    segment_vector_potential,
)
from .coil_fields import CoilFieldSources, magnetic_field, primary_efield, vector_potential

__all__ = [
    "vector_potential",
    "magnetic_field",
    "primary_efield",
    "CoilFieldSources",
    "segment_vector_potential",
    "segment_magnetic_field",
    "dipole_vector_potential",
    "dipole_magnetic_field",
    "SegmentSources",
    "DipoleSources",
]
