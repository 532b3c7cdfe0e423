"""EEG 10-10 positions: exact angles on a sphere (independent closed form) and scalp-arc helpers."""

import numpy as np
import pytest

from tmsfield.errors import InputError
from tmsfield.head import Head, icosphere
from tmsfield.head.eeg import closest_point_on_surface, eeg_positions, scalp_arc


def _sphere_head(rng):
    r = rng.uniform(80, 100)
    c = rng.normal(size=3) * 5
    scalp = icosphere(r, 4, c, name="scalp")
    lm = {"nasion": c + [0, r, 0], "inion": c + [0, -r, 0], "lpa": c + [-r, 0, 0], "rpa": c + [r, 0, 0]}
    return r, c, scalp, lm


def _on_sphere(r, azimuth_deg, elevation_deg):
    """Point at the given azimuth (0 = +y/front, 90 = +x/right) and elevation above the landmark plane."""
    a, e = np.radians(azimuth_deg), np.radians(elevation_deg)
    return r * np.array([np.cos(e) * np.sin(a), np.cos(e) * np.cos(a), np.sin(e)])


@pytest.mark.random
def test_sphere_positions_match_the_spherical_10_10_angles(rng, test_seed):
    seed = test_seed
    r, c, scalp, lm = _sphere_head(rng)
    pos = Head.from_surfaces([scalp, icosphere(0.8 * r, 3, c, name="brain")], landmarks=lm).eeg_positions()
    # on a sphere: midline/coronal at 18° steps from the landmarks; circumference at 18° elevation
    expected = {
        "Cz": _on_sphere(r, 0, 90), "Fz": _on_sphere(r, 0, 54), "Fpz": _on_sphere(r, 0, 18),
        "Pz": _on_sphere(r, 180, 54), "Oz": _on_sphere(r, 180, 18), "C3": _on_sphere(r, -90, 54),
        "T7": _on_sphere(r, -90, 18), "T8": _on_sphere(r, 90, 18), "Fp1": _on_sphere(r, -18, 18),
        "F7": _on_sphere(r, -54, 18), "O1": _on_sphere(r, -162, 18),
    }
    for name, p in expected.items():
        err = np.linalg.norm(pos[name] - (p + c))
        assert err < 0.02 * r, (name, err, seed)
    # F3 halfway between F7 and Fz along their arc: equal great-circle angles on a sphere
    ang = lambda a, b: np.degrees(np.arccos(np.clip(np.dot(a - c, b - c) / r ** 2, -1, 1)))  # noqa: E731
    assert abs(ang(pos["F7"], pos["F3"]) - ang(pos["F3"], pos["Fz"])) < 1.0, seed
    assert abs(ang(pos["F7"], pos["F5"]) - ang(pos["F5"], pos["F3"])) < 1.0, seed
    # left/right mirror symmetry
    for left, right in (("F3", "F4"), ("AF3", "AF4"), ("C3", "C4"), ("P7", "P8")):
        mirrored = pos[right] - c
        mirrored[0] *= -1
        assert np.linalg.norm(pos[left] - c - mirrored) < 0.02 * r, (left, seed)


@pytest.mark.random
def test_required_names_and_10_20_subset(rng):
    r, c, scalp, lm = _sphere_head(rng)
    pos = eeg_positions(scalp, lm)
    for name in ("Fp1", "Fpz", "Fz", "F3", "F4", "F5", "F7", "AF3", "Cz", "C3", "C4", "T7", "T8", "Pz", "Oz"):
        assert name in pos
        assert abs(np.linalg.norm(pos[name] - c) - r) < 0.5, name   # on the scalp
    assert len(eeg_positions(scalp, lm, system="10-20")) == 21
    with pytest.raises(InputError, match="10-10"):
        eeg_positions(scalp, lm, system="10-5")
    with pytest.raises(InputError, match="lacks landmarks"):
        Head.from_surfaces([scalp, icosphere(0.8 * r, 2, c, name="brain")]).eeg_positions()


@pytest.mark.random
def test_arc_length_and_closest_point(rng):
    r = rng.uniform(50, 100)
    s = icosphere(r, 5)
    arc = scalp_arc(s, [0, r, 0], [0, -r, 0], [0, 0, r])
    assert abs(np.linalg.norm(np.diff(arc, axis=0), axis=1).sum() - np.pi * r) < 0.01 * r
    assert np.all(arc[:, 2] > -1e-6)    # went over the top, not the bottom
    p = rng.normal(size=(20, 3))
    p *= rng.uniform(0.3, 2.0, (20, 1)) * r / np.linalg.norm(p, axis=1, keepdims=True)
    q = closest_point_on_surface(s, p)
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), r, rtol=2e-3)
    dirs = p / np.linalg.norm(p, axis=1, keepdims=True)
    np.testing.assert_allclose(q / np.linalg.norm(q, axis=1, keepdims=True), dirs, atol=0.02)
