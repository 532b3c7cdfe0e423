"""Placement kernels: numba vs numpy reference, and exactness of tricubic interpolation on cubic fields."""

import numpy as np

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
    frame = _rot(rng, 1)[0]
    origin = rng.normal(size=3) * 10
    spacing = rng.uniform(1.5, 3.0)
    shape = (24, 22, 20)
    values = rng.normal(size=(*shape, 3 * nf))
    pos = rng.uniform(-8, 8, size=(30, 3))
    mom = rng.normal(size=(30, 3))
    rots = _rot(rng, 20)
    centre_idx = np.array(shape) * spacing / 2
    cents = origin + frame @ centre_idx + rng.normal(size=(20, 3))
    return values, origin, frame, spacing, rots, cents, pos, mom


def test_numba_matches_reference():
    seed = np.random.default_rng().integers(1 << 31)
    rng = np.random.default_rng(seed)
    for nf in (1, 3):
        args = _case(rng, nf)
        a = evaluate_placements(*args)
        b = evaluate_placements_reference(*args)
        assert np.allclose(a, b, rtol=1e-10, atol=1e-10 * np.abs(b).max()), seed
        a = evaluate_placements_trilinear(*args)
        b = evaluate_placements_trilinear_reference(*args)
        assert np.allclose(a, b, rtol=1e-10, atol=1e-10 * np.abs(b).max()), seed


def test_out_of_grid_gives_nan():
    rng = np.random.default_rng()
    values, origin, frame, spacing, rots, cents, pos, mom = _case(rng)
    cents[0] = origin - 100.0
    assert np.isnan(evaluate_placements(values, origin, frame, spacing, rots, cents, pos, mom)[0]).all()


def test_tricubic_exact_for_cubic_fields():
    """h = a cubic polynomial of position: the 4-point Lagrange interpolation reproduces it exactly."""
    seed = np.random.default_rng().integers(1 << 31)
    rng = np.random.default_rng(seed)
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
    assert np.allclose(got, want, rtol=1e-8, atol=1e-9 * np.abs(want).max()), seed
