"""Coil pose construction: rigid, right-handed, z into the scalp, gap, handle angle convention, casing lift."""

import numpy as np
import pytest

from tmsfield.pose import as_pose_matrix
from tmsfield.targets.geometry import ScalpGeometry
from tmsfield.targets.placement import coil_pose, handle_angle_of_pose, required_lift, casing_points
from targets_standins import LANDMARKS, R_SCALP, fig8_dipole_coil, sphere_head


@pytest.fixture(scope="module")
def geo():
    h = sphere_head(4, 2)
    return ScalpGeometry(h.scalp, h.landmarks)


def _random_upper_dir(rng):
    v = rng.normal(size=3)
    v[2] = abs(v[2]) + 0.3
    return v / np.linalg.norm(v)


@pytest.mark.random
def test_pose_rigid_z_into_scalp_centre_at_gap(geo, rng, test_seed):
    seed = test_seed
    coil = fig8_dipole_coil()
    v, t = geo.scalp.vertices, geo.scalp.triangles
    e_max = np.linalg.norm(v[t] - v[np.roll(t, 1, axis=1)], axis=2).max()
    spurious_depth = e_max ** 2 / (3 * R_SCALP)                     # 0.22 mm on this mesh
    for _ in range(4):
        d = _random_upper_dir(rng)
        gap = float(rng.uniform(0, 8))
        angle = float(rng.uniform(-180, 180))
        pl = coil_pose(geo, coil, 70 * d, handle_angle_deg=angle, gap_mm=gap)
        m = as_pose_matrix(pl.pose)                                   # validates rigid + right-handed
        assert np.isclose(np.linalg.det(m[:3, :3]), 1.0), seed
        z = m[:3, 2]
        assert z @ d < -0.999, f"z must point into the head along the normal (seed {seed})"
        assert abs(np.linalg.norm(m[:3, 3]) - (R_SCALP + gap)) < 0.2, f"centre not gap above scalp (seed {seed})"
        # a flat casing over a convex scalp never needs lifting. The clearance check measures the height
        # above the nearest vertex's tangent plane: a point on a face lies up to rc^2/(2R) below the sphere
        # (rc = circumradius <= e/sqrt(3)), and the nearest vertex's plane adds up to rc^2/(2R) more, so a
        # casing at gap g sees at most e_max^2/(3R) - g of spurious depth; placement adds 0.05 mm margin
        # to any lift. Gaps above that bound never lift; thinner ones lift by less than bound + 0.05.
        if gap >= spurious_depth:
            assert pl.lift_mm == 0.0, f"seed {seed}, gap {gap}"
        else:
            assert pl.lift_mm <= spurious_depth + 0.05 + 1e-9, f"seed {seed}, gap {gap}, lift {pl.lift_mm}"
        assert abs(((handle_angle_of_pose(geo, coil, m) - angle) + 180) % 360 - 180) < 1e-6, seed


def test_handle_45_points_back_and_lateral(geo):
    coil = fig8_dipole_coil()
    for side in (-1, 1):
        d = np.array([side * 0.5, 0.55, 0.67])
        d /= np.linalg.norm(d)
        pl = coil_pose(geo, coil, 70 * d, handle_angle_deg=45.0)
        h = pl.pose[:3, :3] @ coil.handle_direction
        assert h[1] < -0.3, "handle points backwards"
        assert side * h[0] > 0.3, "handle turned laterally (away from the midline)"
        assert pl.hemisphere == ("left" if side < 0 else "right")


def test_casing_lift_when_inside(geo):
    coil = fig8_dipole_coil()
    pl = coil_pose(geo, coil, [0, 0, 70.0], gap_mm=0.0)
    m = pl.pose.copy()
    m[:3, 3] = [0, 0, R_SCALP - 3.0]                                     # sunk 3 mm into the scalp
    lift = required_lift(geo, casing_points(coil), m[None, :3, :3], m[None, :3, 3])[0]
    assert 3.0 - 0.2 < lift < 3.0 + 15.0


def test_pose_bad_gap(geo):
    from tmsfield.errors import InputError
    with pytest.raises(InputError, match="gap_mm"):
        coil_pose(geo, fig8_dipole_coil(), [0, 0, 70.0], gap_mm=-1)
