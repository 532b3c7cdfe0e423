"""Plain-numpy references of the numba BEM kernels in :mod:`tmsfield.kernels.bem` (tests only)."""

import numpy as np

from .triangle_integrals import triangle_field_integral, triangle_solid_angle

__all__ = [
    "charge_field_direct",
    "dipole_potential_direct",
    "current_element_field_direct",
    "near_field_corrections",
    "near_solid_angle_corrections",
]


def _pairs(targets, sources):
    d = targets[:, None, :] - sources[None, :, :]
    r2 = np.einsum("ijk,ijk->ij", d, d)
    inv3 = np.where(r2 > 0, 1.0 / np.where(r2 > 0, r2, 1.0) ** 1.5, 0.0)
    return d, inv3


def charge_field_direct(targets, sources, weights):
    """(1/4π) Σ_j w_j (t − s_j)/|t − s_j|³; (N, 3).

    Examples
    --------
    >>> charge_field_direct(np.array([[0.0, 0, 2]]), np.zeros((1, 3)), np.array([4 * np.pi]))
    array([[0.  , 0.  , 0.25]])
    """
    d, inv3 = _pairs(targets, sources)
    return np.einsum("ijk,ij,j->ik", d, inv3, weights) / (4 * np.pi)


def dipole_potential_direct(targets, sources, dipoles):
    """Σ_j d_j·(t − s_j)/|t − s_j|³; (N,)."""
    d, inv3 = _pairs(targets, sources)
    return np.einsum("ijk,jk,ij->i", d, dipoles, inv3)


def current_element_field_direct(targets, sources, vectors):
    """Σ_j ((s_j − t) × w_j)/|s_j − t|³; (N, 3)."""
    d, inv3 = _pairs(targets, sources)
    return np.einsum("ijk,ij->ik", np.cross(-d, vectors[None, :, :]), inv3)


def near_field_corrections(points, pair_point, pair_tri, tri_vertices, centroids, areas):
    """(F_exact − F_centroid)/(4π) per pair; (K, 3)."""
    p = points[pair_point]
    tv = tri_vertices[pair_tri]
    f = triangle_field_integral(p, tv[:, 0], tv[:, 1], tv[:, 2])
    d = p - centroids[pair_tri]
    r2 = np.einsum("ij,ij->i", d, d)
    inv3 = np.where(r2 > 0, 1.0 / np.where(r2 > 0, r2, 1.0) ** 1.5, 0.0)
    return (f - (areas[pair_tri] * inv3)[:, None] * d) / (4 * np.pi)


def near_solid_angle_corrections(points, pair_point, pair_tri, tri_vertices, centroids, areas, normals):
    """Ω_exact − a n·(r − c)/|r − c|³ per pair; (K,)."""
    p = points[pair_point]
    tv = tri_vertices[pair_tri]
    om = triangle_solid_angle(p, tv[:, 0], tv[:, 1], tv[:, 2])
    d = p - centroids[pair_tri]
    r2 = np.einsum("ij,ij->i", d, d)
    inv3 = np.where(r2 > 0, 1.0 / np.where(r2 > 0, r2, 1.0) ** 1.5, 0.0)
    return om - areas[pair_tri] * np.einsum("ij,ij->i", normals[pair_tri], d) * inv3


def dipole_normal_matrix(centroids, normals, positions):
    """Reference of :func:`tmsfield.kernels.bem.dipole_normal_matrix_f32` in float64: (T, 3P),
    entry [t, 3p + a] = (d × n_t)_a / |d|³ with d = c_t − x_p."""
    d = np.asarray(centroids, float)[:, None, :] - np.asarray(positions, float)[None, :, :]
    r3 = np.linalg.norm(d, axis=2) ** 3
    cross = np.cross(d, np.asarray(normals, float)[:, None, :]) / r3[..., None]
    return cross.reshape(d.shape[0], -1)
