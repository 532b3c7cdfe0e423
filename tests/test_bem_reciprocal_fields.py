"""EFieldSolver.reciprocal_fields: K functionals at once (one far-field pass) vs K single calls; FMM vs direct."""

import numpy as np
import pytest

from tmsfield.head.sphere_mesh import icosphere
from tmsfield.kernels import bem_reference as ref
from tmsfield.solver.bem import _RECIPROCAL_FMM_EPS, EFieldSolver

from test_sphere_model import random_inside


@pytest.fixture(scope="module")
def two_shell():
    surfs = [icosphere(95.0, subdivisions=3, name="scalp"), icosphere(90.0, subdivisions=3, name="skull_outer")]
    return EFieldSolver(surfs, [0.465, 0.010], fmm=False, fast_placements=False)


def _shell_points(rng, n, r_lo, r_hi):
    u = rng.normal(size=(n, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    return u * rng.uniform(r_lo, r_hi, size=(n, 1))


@pytest.mark.random
def test_stacked_functionals_equal_separate_calls(two_shell, rng, test_seed):
    seed = test_seed
    roi = random_inside(rng, 12, 10.0, center=(0, 0, 60))
    ws = rng.normal(size=(3, 12, 3))
    ev = _shell_points(rng, 40, 100, 130)
    stacked = two_shell.reciprocal_fields(roi, ws, ev)
    assert stacked.shape == (3, 40, 3)
    for k in range(3):
        single = two_shell.reciprocal_field(roi, ws[k], ev)
        np.testing.assert_allclose(stacked[k], single, rtol=1e-9, atol=1e-12 * np.abs(single).max(),
                                   err_msg=f"functional {k} (seed {seed})")


@pytest.mark.random
def test_fmm_far_field_equals_direct_sum(two_shell, rng, test_seed):
    # the Biot–Savart-type sum h_k(t) = Σ_j ((s_j − t) × a_kj)/|s_j − t|³ for 3 stacked vector densities:
    # FMM (nd = 9 Laplace densities, gradients at targets) vs the numba direct sum, on a case big enough
    # for the FMM tree to split (surface-like sources with cancelling vectors, targets outside)
    seed = test_seed
    src = _shell_points(rng, 20000, 60, 95)
    vec = rng.normal(size=(3, src.shape[0], 3))
    tgt = _shell_points(rng, 3000, 100, 140)
    solver = two_shell
    old = solver.fmm
    try:
        solver.fmm = True
        fmm = solver._current_element_fields(tgt, src, vec)
        solver.fmm = False
        direct = solver._current_element_fields(tgt, src, vec)
    finally:
        solver.fmm = old
    err = np.linalg.norm(fmm - direct) / np.linalg.norm(direct)
    # the grid sum asks the FMM for _RECIPROCAL_FMM_EPS: it must deliver what it asks for
    assert err < _RECIPROCAL_FMM_EPS, f"relative error {err:.2e} (seed {seed})"
    few = rng.choice(tgt.shape[0], 5, replace=False)
    np.testing.assert_allclose(direct[1, few], ref.current_element_field_direct(tgt[few], src, vec[1]),
                               rtol=1e-9, err_msg=f"seed {seed}")
