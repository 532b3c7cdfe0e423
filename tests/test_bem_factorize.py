"""The LU-factorised solve path of EFieldSolver (float32 LU + float64 iterative refinement).

References: the GMRES path of the same solver driven to a tight residual, and the analytic sphere
(Heller & van Hulsteyn 1992) for the E-field itself.
"""

import numpy as np
import pytest

from tmsfield.errors import InputError
from tmsfield.head.sphere_mesh import icosphere
from tmsfield.solver.bem import EFieldSolver
from tmsfield.solver.sphere import SphereModel

from test_bem_sphere import OBS, dipole_fig8, random_pose, rel_l2

SIGMA = [0.465, 0.010, 0.275]


def shells(sub=3):
    return [icosphere(85.0, sub, name="scalp"), icosphere(79.0, sub, name="skull"), icosphere(72.0, sub, name="brain")]


@pytest.fixture(scope="module")
def pair():
    """Three-shell sphere (3840 triangles), GMRES and LU solvers, both to a residual of 1e-10."""
    s = shells()
    g = EFieldSolver(s, SIGMA, tol=1e-10, fmm=False, fast_placements=False)
    f = EFieldSolver(s, SIGMA, tol=1e-10, fmm=False, fast_placements=False, factorize=True)
    return g, f


@pytest.mark.random
def test_lu_solve_matches_gmres_and_meets_residual(pair, rng):
    g, f = pair
    rng = rng
    b = rng.normal(size=g.n_triangles)
    qg = g.solve_charges(b)
    qf = f.solve_charges(b)
    info = f.last_solve_info
    assert info.method == "lu" and not info.adjoint
    assert info.iterations >= 1           # float32 factors alone cannot reach 1e-10: refinement ran
    assert info.residual <= f.tol
    # residual against the separately assembled dense matrix (its far entries are float32-rounded,
    # ~1e-8 relative here, so it cannot check 1e-10; it does catch a wrong transpose or scaling)
    m = f.dense_matrix(np.float64)
    rhs = 2.0 * f.tri_contrast * b
    assert np.linalg.norm(rhs - m @ qf) / np.linalg.norm(rhs) < 1e-6
    assert rel_l2(qf, qg) < 1e-6


@pytest.mark.random
def test_lu_adjoint_reciprocal_fields_match_gmres(pair, rng):
    g, f = pair
    rng = rng
    d = rng.normal(size=(6, 3))
    pts = 40.0 * d / np.linalg.norm(d, axis=1, keepdims=True)
    w = rng.normal(size=(3, 6, 3))
    ev = np.array([[0.0, 0.0, 95.0], [12.0, -5.0, 93.0], [0.0, 40.0, 88.0]])
    hg = g.reciprocal_fields(pts, w, ev)
    hf = f.reciprocal_fields(pts, w, ev)
    assert f.last_solve_info.adjoint and f.last_solve_info.method == "lu"
    assert f.last_solve_info.residual <= f.tol
    assert rel_l2(hf, hg) < 1e-6
    # the stacked solve equals K separate ones
    h1 = f.reciprocal_field(pts, w[1], ev)
    assert rel_l2(h1, hf[1]) < 1e-9


@pytest.mark.random
def test_lu_efield_matches_analytic_sphere(rng):
    """One shell (5120 triangles) factorised at the default tol: within the GMRES path's 1 % bound."""
    solver = EFieldSolver([icosphere(85.0, subdivisions=4, name="scalp")], factorize="lazy", fast_placements=False)
    assert not solver.factorized
    rng = rng
    coil = dipole_fig8()
    pose, z = random_pose(rng, 10.0)
    pts = np.concatenate([OBS, np.linspace(0.0, 75.0, 31)[:, None] * z])
    e = solver.efield(coil, pts, pose)
    assert solver.factorized and solver.last_solve_info.method == "lu"
    assert rel_l2(e, SphereModel(85.0).efield(coil, pts, pose)) < 0.01


@pytest.mark.random
def test_stalled_refinement_falls_back_to_gmres(rng):
    """Factors of a different matrix (M + 2I) refine slowly: GMRES must finish, to the same answer."""
    import scipy.linalg as sla
    s = [icosphere(85.0, 2, name="scalp")]
    g = EFieldSolver(s, tol=1e-9, fmm=False, fast_placements=False)
    f = EFieldSolver(s, tol=1e-9, fmm=False, fast_placements=False)
    m = f.dense_matrix(np.float32) + 2.0 * np.eye(f.n_triangles, dtype=np.float32)
    f._lu = sla.lu_factor(np.ascontiguousarray(m.T))
    b = np.random.default_rng(3).normal(size=f.n_triangles)
    qf = f.solve_charges(b)
    assert f.last_solve_info.method == "lu+gmres"
    assert f.last_solve_info.residual <= f.tol * 1.0001
    assert rel_l2(qf, g.solve_charges(b)) < 1e-6


def test_bad_factorize_value():
    with pytest.raises(InputError, match="factorize"):
        EFieldSolver([icosphere(85.0, 1, name="scalp")], factorize="yes")
