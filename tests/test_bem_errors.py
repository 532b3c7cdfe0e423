"""Bad input to the BEM solver: each gives a clear error naming the problem and the fix."""

import numpy as np
import pytest

import tmsfield
from tmsfield.errors import ConvergenceError, InputError, MeshError, PoseError, SolverError
from tmsfield.head.sphere_mesh import icosphere
from tmsfield.head.surface import Surface
from tmsfield.solver.bem import EFieldSolver
from tmsfield.solver.conductivity import boundary_contrasts, tissue_conductivities


@pytest.fixture(scope="module")
def small():
    return EFieldSolver([icosphere(85.0, subdivisions=2, name="scalp")])


def _coil():
    return tmsfield.Coil.from_dipoles([[0.0, 0, -5], [20.0, 0, -5]], [[0, 0, 1e-4], [0, 0, -1e-4]])


def test_open_surface_is_refused():
    s = icosphere(85.0, subdivisions=2, name="scalp")
    open_s = Surface(s.vertices, s.triangles[1:], name="scalp")
    with pytest.raises(MeshError, match="scalp"):
        EFieldSolver([open_s])


def test_non_manifold_surface_is_refused():
    s = icosphere(85.0, subdivisions=2, name="scalp")
    t = np.concatenate([s.triangles, s.triangles[:1]])
    with pytest.raises(MeshError, match="scalp"):
        EFieldSolver([Surface(s.vertices, t, name="scalp")])


def test_crossing_surfaces_are_refused():
    a = icosphere(85.0, subdivisions=2, name="scalp")
    b = icosphere(80.0, subdivisions=2, center_mm=(10.0, 0, 0), name="skull")
    with pytest.raises(MeshError):
        EFieldSolver([a, b], [0.465, 0.01])


def test_inward_orientation_is_repaired():
    s = icosphere(85.0, subdivisions=2, name="scalp")
    flipped = Surface(s.vertices, s.triangles[:, ::-1], name="scalp")
    solver = EFieldSolver([flipped])
    c = solver.centroids
    assert np.all(np.einsum("ij,ij->i", solver.normals, c) > 0)


def test_points_outside_the_conductor(small):
    pts = [[0, 0, 0.0], [0, 0, 200.0], [0, 0, 300.0]]
    pose = tmsfield.CoilPose.from_axes([0, 0, 100.0], [0, 0, -1], [0, 1, 0])
    with pytest.raises(InputError, match=r"2 of 3 points_mm lie outside.*row 1"):
        small.efield(_coil(), pts, pose)


def test_coil_inside_the_scalp(small):
    pose = tmsfield.CoilPose.from_axes([0, 0, 70.0], [0, 0, -1], [0, 1, 0])
    with pytest.raises(PoseError, match="intersects the head"):
        small.efield(_coil(), [[0, 0, 0.0]], pose)


@pytest.mark.parametrize("bad", [[0.465, 0.0], [0.465, -1.0], [0.465, float("nan")]])
def test_non_positive_conductivities(bad):
    surfs = [icosphere(90.0, subdivisions=1, name="scalp"), icosphere(80.0, subdivisions=1, name="skull")]
    with pytest.raises(SolverError, match="positive"):
        EFieldSolver(surfs, bad)


def test_conductivity_bookkeeping_errors():
    surfs = [icosphere(90.0, subdivisions=1, name="scalp"), icosphere(80.0, subdivisions=1, name="brain")]
    with pytest.raises(SolverError, match="one per compartment"):
        EFieldSolver(surfs, [0.465])
    with pytest.raises(SolverError, match="without conductivities"):
        EFieldSolver(surfs)
    with pytest.raises(SolverError, match="does not have"):
        tissue_conductivities(["scalp", "brain"], {"csf": 1.0})
    with pytest.raises(SolverError, match="no default conductivity"):
        tissue_conductivities(["scalp", "marrow"])
    with pytest.raises(SolverError, match="positive"):
        tissue_conductivities(["scalp", "brain"], {"brain": 0})
    k = boundary_contrasts(tissue_conductivities(["scalp", "skull", "brain"]))
    assert k[0] == 1.0 and k[1] < 0 < k[2]


def test_gmres_non_convergence_reports_the_residual():
    surfs = [icosphere(95.0, subdivisions=2, name="scalp"), icosphere(90.0, subdivisions=2, name="skull_outer"),
             icosphere(85.0, subdivisions=2, name="skull_inner")]
    solver = EFieldSolver(surfs, [0.465, 0.010, 0.275], maxiter=1)
    pose = tmsfield.CoilPose.from_axes([0, 0, 105.0], [0, 0, -1], [0, 1, 0])
    with pytest.raises(ConvergenceError, match=r"relative residual \d\.\d+e[-+]\d+ after 1 iterations"):
        solver.efield(_coil(), [[0, 0, 70.0]], pose)
    assert solver.last_solve_info.residual > solver.tol


def test_bad_arguments(small):
    pose = tmsfield.CoilPose.from_axes([0, 0, 100.0], [0, 0, -1], [0, 1, 0])
    with pytest.raises(InputError):
        small.efield(_coil(), [[0, 0]], pose)
    with pytest.raises(InputError):
        small.efield(_coil(), [[0, 0, 0.0]], pose, didt=-1)
    with pytest.raises(SolverError, match="cortex"):
        small.efield_on_cortex(_coil(), pose)
    with pytest.raises(SolverError, match="not a Surface"):
        EFieldSolver(["scalp"])
