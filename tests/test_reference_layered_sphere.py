"""The layered-sphere current-dipole reference (tests/reference_layered_sphere.py) checked on its own.

Harmonic by construction in every compartment, the series is the solution once it meets the interface
conditions (φ and σ ∂φ/∂r continuous, ∂φ/∂r = 0 on the outer surface) and carries the dipole's
singularity; both are checked here, and the homogeneous sphere against its closed form.
"""

import numpy as np
import pytest

from reference_layered_sphere import LayeredSphereDipole, dipole_field_infinite


def _unit(rng, n):
    u = rng.normal(size=(n, 3))
    return u / np.linalg.norm(u, axis=1, keepdims=True)


def test_homogeneous_sphere_centred_dipole_closed_form():
    # insulated sphere of radius R, radial dipole p at the centre:
    # φ = p cos θ /(4πσ) (1/r² + 2r/R³) (e.g. Frank 1952, J Appl Phys 23: 1225)
    R, sigma, p = 0.09, 0.3, 1e-8
    ref = LayeredSphereDipole([90.0], [sigma], [0.0, 0.0, 1e-6], [0.0, 0.0, p])
    pts = np.array([[10.0, 20.0, 30.0], [0.0, 0.0, -60.0], [40.0, -30.0, 50.0], [80.0, 5.0, 1.0]])
    r = np.linalg.norm(pts, axis=1) * 1e-3
    expected = p * (pts[:, 2] * 1e-3 / r) / (4 * np.pi * sigma) * (1 / r ** 2 + 2 * r / R ** 3)
    assert np.abs(ref.potential(pts) - expected).max() <= 1e-6 * np.abs(expected).max()   # offset 1e-6 mm: O(1e-8)
    # and far from the boundary the field approaches the unbounded medium's
    near = np.array([[0.0, 0.0, 3.0], [2.0, 0.0, 0.0]])
    assert np.allclose(ref.efield(near), dipole_field_infinite(near, [0, 0, 1e-6], [0, 0, p], sigma), rtol=1e-3)


@pytest.mark.random
@pytest.mark.parametrize("n_shells", [3, 5])
def test_interface_conditions(rng, n_shells):
    # radii: outer 80-95 mm, shells 3-10 mm thick; conductivities log-uniform 0.005-2 S/m;
    # the dipole in a random compartment, 20-80 % of the way through it
    R = [rng.uniform(80.0, 95.0)]
    for _ in range(n_shells - 1):
        R.append(R[-1] - rng.uniform(3.0, 10.0))
    sig = np.exp(rng.uniform(np.log(0.005), np.log(2.0), size=n_shells))
    ks = int(rng.integers(n_shells))
    lo = R[ks + 1] if ks + 1 < n_shells else 0.0
    r0 = _unit(rng, 1)[0] * (lo + (R[ks] - lo) * rng.uniform(0.2, 0.8))
    p = _unit(rng, 1)[0] * 1e-8
    ref = LayeredSphereDipole(R, sig, r0, p)
    assert ref.source_compartment == ks
    u = _unit(rng, 40)
    scale = np.abs(ref.efield(u * (0.5 * (R[0] + R[1])), region=0)).max()
    for k in range(1, n_shells):
        x = u * R[k]
        po, pi = ref.potential(x, region=k - 1), ref.potential(x, region=k)
        eo, ei = ref.efield(x, region=k - 1), ref.efield(x, region=k)
        assert np.abs(po - pi).max() <= 1e-9 * np.abs(po).max(), f"φ jumps across interface {k}"
        jo, ji = sig[k - 1] * np.sum(eo * u, axis=1), sig[k] * np.sum(ei * u, axis=1)
        jscale = max(sig[k - 1] * np.abs(eo).max(), sig[k] * np.abs(ei).max())   # |J| there, any direction
        assert np.abs(jo - ji).max() <= 1e-7 * jscale, f"normal current jumps across interface {k}"
        # tangential E continuous too (follows from φ continuous; checks the finite differences)
        to, ti = eo - np.sum(eo * u, 1)[:, None] * u, ei - np.sum(ei * u, 1)[:, None] * u
        assert np.abs(to - ti).max() <= 1e-7 * np.abs(to).max()
    jn = np.sum(ref.efield(u * R[0], region=0) * u, axis=1)
    assert np.abs(jn).max() <= 1e-8 * scale, "current leaves the outer surface"


def test_depends_on_every_conductivity():
    # the point of this reference: the field in the innermost compartment moves with the other shells'
    # conductivities (here the five-tissue values; each halved)
    R, sig = [92.0, 86.0, 80.0, 76.0, 70.0], np.array([0.465, 0.010, 1.654, 0.275, 0.126])
    r0, p = np.array([10.0, -15.0, 10.0]), np.array([1e-8, 0.5e-8, 2e-8])
    pts = np.array([[0.0, 0.0, 50.0], [40.0, 20.0, -10.0], [-30.0, -30.0, 20.0], [5.0, 45.0, 5.0]])
    e = LayeredSphereDipole(R, sig, r0, p).efield(pts)
    for k in range(4):
        s2 = sig.copy()
        s2[k] *= 0.5
        e2 = LayeredSphereDipole(R, s2, r0, p).efield(pts)
        assert np.linalg.norm(e2 - e) > 1e-3 * np.linalg.norm(e), f"compartment {k}'s conductivity has no effect"


def test_rejects_bad_input():
    with pytest.raises(ValueError):
        LayeredSphereDipole([80.0, 90.0], [0.3, 0.3], [0, 0, 10.0], [0, 0, 1e-8])
    with pytest.raises(ValueError):
        LayeredSphereDipole([90.0, 80.0], [0.3, 0.3], [0, 0, 80.0], [0, 0, 1e-8])   # on an interface
    with pytest.raises(ValueError):
        LayeredSphereDipole([90.0], [0.3], [0, 0, 95.0], [0, 0, 1e-8])              # outside
