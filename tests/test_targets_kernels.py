"""Placement kernels: numba vs numpy reference, and exactness of tricubic interpolation on cubic fields."""

import numpy as np
import pytest

from tmsfield.kernels.placement import evaluate_placements, evaluate_placements_trilinear
from tmsfield.kernels.placement_reference import (evaluate_placements_reference,
                                                  evaluate_placements_trilinear_reference)


def _rot(rng, n):
    q = rng.normal(size=(n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    w, x, y, z = q.T
    return np.stack([np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
                     np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
                     np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1)], 1)


def _case(rng, nf=3):
    """A random grid and placements whose dipoles all lie inside it, with the tricubic stencil's margin.

    Valid by construction: the grid's half-extent is min(shape) * spacing / 2; tricubic interpolation
    reads nodes one below and two above a dipole's cell, so a dipole needs 3 spacings of margin. The
    coil centres lie within 1 mm of the grid centre and the dipoles within a ball that, turned by any
    rotation, stays inside that margin.
    """
    frame = _rot(rng, 1)[0]
    origin = rng.normal(size=3) * 10
    spacing = rng.uniform(1.5, 3.0)
    shape = (24, 22, 20)
    values = rng.normal(size=(*shape, 3 * nf))
    reach = 0.95 * (min(shape) * spacing / 2 - 3 * spacing - 1.0)
    pos = _in_ball(rng, 30, reach)
    mom = rng.normal(size=(30, 3))
    rots = _rot(rng, 20)
    centre_idx = (np.array(shape) - 1) * spacing / 2
    cents = origin + frame @ centre_idx + _in_ball(rng, 20, 1.0)
    return values, origin, frame, spacing, rots, cents, pos, mom


def _in_ball(rng, n, radius):
    """n points uniform in a ball of the given radius (mm)."""
    d = rng.normal(size=(n, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    return d * radius * rng.uniform(0, 1, size=(n, 1)) ** (1 / 3)


@pytest.mark.random
def test_numba_matches_reference(rng):
    for nf in (1, 3):
        args = _case(rng, nf)
        a = evaluate_placements(*args)
        b = evaluate_placements_reference(*args)
        assert np.isfinite(b).all()
        assert np.allclose(a, b, rtol=1e-10, atol=1e-10 * np.abs(b).max())
        a = evaluate_placements_trilinear(*args)
        b = evaluate_placements_trilinear_reference(*args)
        assert np.isfinite(b).all()
        assert np.allclose(a, b, rtol=1e-10, atol=1e-10 * np.abs(b).max())


@pytest.mark.random
def test_out_of_grid_gives_nan(rng):
    values, origin, frame, spacing, rots, cents, pos, mom = _case(rng)
    cents[0] = origin - 100.0
    assert np.isnan(evaluate_placements(values, origin, frame, spacing, rots, cents, pos, mom)[0]).all()
    assert np.isfinite(evaluate_placements(values, origin, frame, spacing, rots, cents, pos, mom)[1:]).all()


@pytest.mark.random
def test_tricubic_exact_for_cubic_fields(rng):
    """h = a cubic polynomial of position: the 4-point Lagrange interpolation reproduces it exactly."""
    values, origin, frame, spacing, rots, cents, pos, mom = _case(rng, 1)
    c = rng.normal(size=(3, 4))

    def h(x):  # (N,3) -> (N,3): separable cubic per component
        return np.stack([c[k, 0] + c[k, 1] * x[:, 0] ** 3 + c[k, 2] * x[:, 1] ** 2 * x[:, 2] + c[k, 3] * x[:, 2]
                         for k in range(3)], axis=1) * 1e-3

    idx = np.stack(np.meshgrid(*[np.arange(n) for n in values.shape[:3]], indexing="ij"), -1).reshape(-1, 3)
    nodes = origin + (idx * spacing) @ frame.T
    values = h(nodes).reshape(*values.shape[:3], 3)
    got = evaluate_placements(values, origin, frame, spacing, rots, cents, pos, mom)[:, 0]
    want = np.array([np.sum((mom @ r.T) * h(pos @ r.T + cc)) for r, cc in zip(rots, cents)])
    # a cubic in the rotated grid frame is still a cubic in the grid coordinates
    assert np.allclose(got, want, rtol=1e-8, atol=1e-9 * np.abs(want).max())
