"""Geometries, coil and points shared by the FEM-vs-BEM tests and benchmarks (not a test module).

Three compartments that break spherical symmetry (nested origin-centred ellipsoids: scalp, skull,
brain), optionally with a "ventricle": an off-centre CSF sphere inside the brain (it contains the origin,
so it is a fourth star-shaped level of the layered mesh). A 144-dipole figure-8 10 mm above the scalp.
"""

import numpy as np

import tmsfield
from reference_fem import ellipsoid_radius, layered_mesh

SEMI_AXES = ((92.0, 78.0, 86.0), (86.0, 72.0, 80.0), (80.0, 66.0, 74.0))
VENTRICLE_CENTER, VENTRICLE_RADIUS = (3.0, -5.0, 8.0), 18.0
#: scalp, skull, brain (grey-matter value for the lumped brain), ventricle CSF (S/m)
SIGMAS = (0.465, 0.010, 0.275, 1.654)
COIL_DIRECTION = np.array([0.3, 0.2, 1.0]) / np.linalg.norm([0.3, 0.2, 1.0])


def offset_sphere_radius(center_mm, radius_mm):
    """r(u) of a sphere of radius R about c (|c| < R), seen from the origin along unit directions u."""
    c = np.asarray(center_mm, float)

    def r(u):
        uc = u @ c
        return uc + np.sqrt(uc * uc - c @ c + radius_mm ** 2)
    return r


def radius_functions(ventricle=True):
    f = [ellipsoid_radius(a) for a in SEMI_AXES]
    if ventricle:
        f.append(offset_sphere_radius(VENTRICLE_CENTER, VENTRICLE_RADIUS))
    return f


def mesh(subdivisions=3, ventricle=True):
    return layered_mesh(radius_functions(ventricle), subdivisions, [2, 2, 3][: 3 if ventricle else 2],
                        names=("scalp", "skull", "brain", "ventricle")[: 4 if ventricle else 3])


def dipole_fig8(n_per_ring=24, radius_mm=(8.0, 18.0, 28.0), offset_mm=30.0, depth_mm=-5.0):
    """A figure-8 made of dipoles: two wings of concentric rings, opposite moments (A·m² per A)."""
    pos, mom = [], []
    for sign in (1.0, -1.0):
        for r in radius_mm:
            a = np.linspace(0, 2 * np.pi, n_per_ring, endpoint=False)
            pos.append(np.column_stack([sign * offset_mm + r * np.cos(a), r * np.sin(a), np.full(a.size, depth_mm)]))
            mom.append(np.tile([0.0, 0.0, sign * 2e-5], (a.size, 1)))
    return tmsfield.Coil.from_dipoles(np.concatenate(pos), np.concatenate(mom), name="dipole fig8")


def coil_and_pose(gap_mm=10.0, direction=COIL_DIRECTION, y_axis=(0.0, 1.0, 0.0)):
    z = np.asarray(direction, float) / np.linalg.norm(direction)
    rs = radius_functions(False)[0](z[None])[0]
    return dipole_fig8(), tmsfield.CoilPose.from_axes(z * (rs + gap_mm), -z, list(y_axis))


def brain_points(rng, n=600, ventricle=True, band=(0.15, 0.85)):
    """Points in the brain compartment: along random directions, a fraction t in ``band`` of the way from
    the ventricle (or the centre) to the brain surface; (n, 3) mm. Valid by construction."""
    u = rng.normal(size=(n, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    f = radius_functions(ventricle)
    rb = f[2](u)
    rv = f[3](u) if ventricle else np.zeros(n)
    t = rng.uniform(band[0], band[1], n)
    return u * (rv + t * (rb - rv))[:, None]


def rel_l2(e, ref):
    return float(np.linalg.norm(e - ref) / np.linalg.norm(ref))
