"""Conductivity-dependent references for the BEM: larger cases than the unit tests (issue 13).

Run:  PYTHONPATH=$PWD .venv/bin/pytest benchmarks/bench_references.py --benchmark-only \
          --benchmark-json=benchmarks/runs/DATE_references.json

* BEM vs the independent P2 FEM (tests/reference_fem.py) on the nested ellipsoids with and without the
  CSF ventricle (tests/_fem_cases.py), BEM on the FEM's interfaces and on the same polyhedra split 1:4
  (``subdivide=1``): the BEM's convergence towards the FEM under refinement of the same geometry;
* BEM vs the five-shell layered-sphere current dipole at icosphere levels 2, 3, 4.
Errors (relative L2 over brain points) go in extra_info.
"""

import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _fem_cases import SIGMAS, brain_points, coil_and_pose, mesh, rel_l2  # noqa: E402
from reference_fem import FEMProblem  # noqa: E402
from reference_layered_sphere import LayeredSphereDipole, bem_efield  # noqa: E402
from tmsfield.head.sphere_mesh import icosphere  # noqa: E402
from tmsfield.kernels import primary_efield  # noqa: E402
from tmsfield.solver import EFieldSolver  # noqa: E402


@pytest.fixture(scope="module")
def fem_case():
    coil, pose = coil_and_pose()
    lm = mesh(3, ventricle=True)
    t0 = time.perf_counter()
    prob = FEMProblem(lm, lambda x: primary_efield(coil, x, pose=pose, didt=1.0))
    t1 = time.perf_counter()
    with_v = prob.solve(SIGMAS)
    t2 = time.perf_counter()
    without_v = prob.solve(SIGMAS[:3] + (SIGMAS[2],))
    return coil, pose, lm, prob, with_v, without_v, {"fem_setup_s": round(t1 - t0, 2), "fem_solve_s": round(t2 - t1, 2),
                                                       "fem_dofs": int(prob.n_dofs), "fem_cg_iterations": with_v.iterations}


@pytest.mark.parametrize("ventricle", [False, True], ids=["ellipsoids", "ventricle"])
@pytest.mark.parametrize("subdivide", [0, 1])
def test_bem_vs_fem(benchmark, fem_case, ventricle, subdivide):
    coil, pose, lm, prob, with_v, without_v, info = fem_case
    surfaces = lm.surfaces(subdivide=subdivide)
    n = 4 if ventricle else 3
    pts = brain_points(np.random.default_rng(2), ventricle=ventricle)
    ref = (with_v if ventricle else without_v).efield(pts)

    def run():
        s = EFieldSolver(surfaces[:n], conductivities=SIGMAS[:n], fast_placements=False)
        return s, s.efield(coil, pts, pose=pose)

    solver, e = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(dict(info, triangles=solver.n_triangles, rel_l2_brain=round(rel_l2(e, ref), 5),
                                     gmres_iterations=solver.last_solve_info.iterations))


@pytest.mark.parametrize("subdivisions", [2, 3, 4])
def test_bem_vs_layered_sphere_five_shells(benchmark, subdivisions):
    radii, sig = [92.0, 86.0, 80.0, 76.0, 70.0], [0.465, 0.010, 1.654, 0.275, 0.126]
    ref = LayeredSphereDipole(radii, sig, [5.0, 10.0, -8.0], [0.0, 1e-8, 1e-8])
    rng = np.random.default_rng(7)
    u = rng.normal(size=(300, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    pts = u * (70.0 * rng.uniform(0.6, 0.85, 300))[:, None]

    def run():
        s = EFieldSolver([icosphere(r, subdivisions=subdivisions, name=f"s{k}") for k, r in enumerate(radii)],
                         conductivities=sig, fast_placements=False)
        return s, bem_efield(s, ref.primary_field, pts)

    solver, e = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(triangles=solver.n_triangles, rel_l2_inner=round(rel_l2(e, ref.efield(pts)), 5),
                                gmres_iterations=solver.last_solve_info.iterations)
