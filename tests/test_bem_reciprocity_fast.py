"""Reciprocity (adjoint solve) and the fast repeated-placement map against full BEM solves."""

import numpy as np
import pytest

import tmsfield
from tmsfield.head.sphere_mesh import icosphere
from tmsfield.solver.bem import EFieldSolver

from test_bem_sphere import dipole_fig8, random_pose, rel_l2
from test_sphere_model import random_inside


@pytest.fixture(scope="module")
def three_shell_with_cortex():
    surfs = [icosphere(95.0, subdivisions=3, name="scalp"), icosphere(90.0, subdivisions=3, name="skull_outer"),
             icosphere(85.0, subdivisions=3, name="skull_inner")]
    cortex = icosphere(70.0, subdivisions=3).vertices
    # the default rank (400): 0.04-0.05 % from a full solve here, 0.45-0.50 % at rank 200
    return EFieldSolver(surfs, [0.465, 0.010, 0.275], cortex_points=cortex)


@pytest.mark.random
def test_reciprocal_field_gives_the_functional_of_any_dipole_coil(three_shell_with_cortex, rng, test_seed):
    solver = three_shell_with_cortex
    seed = test_seed
    roi = random_inside(rng, 20, 15.0, center=(0, 0, 65))   # within 80 mm: inside the 85 mm brain
    w = rng.normal(size=(20, 3))
    u = rng.normal(size=(6, 3)) * 0.3 + [0, 0, 1]
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    # 10-30 mm above the 95 mm scalp: more than one triangle size (7.5 mm here), where the one-point
    # centroid rule of the reciprocal route holds to 1e-4; at 5.8 mm it was 1.7e-4 off (seed 2531739391)
    pos = u * rng.uniform(105, 125, size=(6, 1))
    mom = rng.normal(size=(6, 3)) * 1e-4
    h = solver.reciprocal_field(roi, w, pos)
    assert solver.last_solve_info.adjoint and solver.last_solve_info.residual <= solver.tol
    coil = tmsfield.Coil.from_dipoles(pos, mom)
    direct = float(np.sum(w * solver.efield(coil, roi)))
    recip = float(np.sum(mom * h))
    assert abs(recip - direct) <= 1e-4 * abs(direct), f"{recip} vs {direct} (seed {seed})"


@pytest.mark.random
def test_mutual_reciprocity_of_two_coils(three_shell_with_cortex, rng, test_seed):
    # Two "coils" = two magnetic dipoles a and b outside the head; probe each with the other's
    # reciprocal field: the functional Σ w·E_a computed via h at b's position must follow from
    # linearity and agree with the direct solve for the sum coil a + b.
    solver = three_shell_with_cortex
    seed = test_seed
    roi = random_inside(rng, 10, 10.0, center=(0, 0, 60))
    w = rng.normal(size=(10, 3))
    pa, pb = np.array([[5.0, 0, 110]]), np.array([[-20.0, 10, 108]])
    ma, mb = rng.normal(size=(1, 3)) * 1e-4, rng.normal(size=(1, 3)) * 1e-4
    h = solver.reciprocal_field(roi, w, np.concatenate([pa, pb]))
    both = tmsfield.Coil.from_dipoles(np.concatenate([pa, pb]), np.concatenate([ma, mb]))
    direct = float(np.sum(w * solver.efield(both, roi)))
    assert abs(float(ma[0] @ h[0] + mb[0] @ h[1]) - direct) <= 1e-4 * abs(direct), seed


@pytest.mark.random
def test_fast_placements_match_full_solve_on_unseen_poses(three_shell_with_cortex, rng, test_seed):
    solver = three_shell_with_cortex
    fm = solver.fast_map
    assert fm is not None and fm.rank > 0
    seed = test_seed
    coils = [dipole_fig8(), tmsfield.load_coil("fig8_70mm")]
    for coil, dist in ((coils[0], 10.0), (coils[0], 1.0), (coils[1], 4.0)):
        pose, _ = random_pose(rng, dist, radius_mm=95.0)
        fast = solver.efield_on_cortex(coil, pose)
        direct = solver.efield_on_cortex(coil, pose, method="direct")
        err = rel_l2(fast, direct)
        assert err <= 0.005, f"fast vs direct {err:.4f} at {dist} mm (seed {seed}, rank {fm.rank})"


def test_fast_path_refuses_a_coil_inside_the_head(three_shell_with_cortex):
    coil = dipole_fig8()
    pose = tmsfield.CoilPose.from_axes([0, 0, 80.0], [0, 0, -1], [0, 1, 0])
    with pytest.raises(tmsfield.errors.PoseError, match="intersects the head"):
        three_shell_with_cortex.efield_on_cortex(coil, pose)


@pytest.mark.random
def test_fast_map_uses_the_coils_far_field_surrogate_within_its_bound(three_shell_with_cortex, rng, test_seed):
    # A dense dipole coil gets a far-field surrogate for the cortex and the far centroids; the
    # primary field must stay within the surrogate's bound and the total within the map's 0.5 %.
    solver = three_shell_with_cortex
    fm = solver.fast_map
    seed = test_seed
    coil = dipole_fig8(n_per_ring=200)                       # 1,200 dipoles
    sur = fm.surrogate(coil)
    assert sur is not None and sur.n_dipoles <= coil.n_dipoles / 2
    assert fm.surrogate(coil) is sur                         # fitted once per coil
    pose, _ = random_pose(rng, 4.0, radius_mm=95.0)
    pts = fm._points_both
    far = sur.is_far(pts, pose)
    assert 0 < (~far).sum() < far.sum()                      # the scalp under the coil is near
    split = fm.primary_efield(coil, pose, didt=2.0)
    full = tmsfield.primary_efield(coil, pts, pose, didt=2.0)
    assert np.array_equal(split[~far], full[~far])
    bound = 1.5 * sur.max_error * sur.field_scale * 2.0e6     # V/m for didt = 2 A/µs
    assert np.abs(split - full).max() <= bound, seed
    fast = solver.efield_on_cortex(coil, pose)
    direct = solver.efield_on_cortex(coil, pose, method="direct")
    assert rel_l2(fast, direct) <= 0.005, seed


@pytest.mark.random
def test_fast_map_cache_round_trip_and_damaged_file(tmp_path, rng):
    surfs = [icosphere(95.0, subdivisions=2, name="scalp"), icosphere(85.0, subdivisions=2, name="skull_inner")]
    cortex = icosphere(70.0, subdivisions=2).vertices
    opts = {"rank": 40, "cache_dir": tmp_path}
    a = EFieldSolver(surfs, [0.465, 0.275], cortex_points=cortex, fast_options=opts)
    assert not a.fast_map.loaded_from_cache and a.fast_map.cache_path.is_dir()
    b = EFieldSolver(surfs, [0.465, 0.275], cortex_points=cortex, fast_options=opts)
    assert b.fast_map.loaded_from_cache and b.fast_map.rank == a.fast_map.rank
    coil = dipole_fig8()
    pose, _ = random_pose(rng, 4.0, radius_mm=95.0)
    np.testing.assert_array_equal(a.efield_on_cortex(coil, pose), b.efield_on_cortex(coil, pose))
    # another head (other conductivities) does not pick up this map
    c = EFieldSolver(surfs, [0.465, 0.126], cortex_points=cortex, fast_options=opts)
    assert not c.fast_map.loaded_from_cache
    # a damaged file is rebuilt with a warning, never fatal, and replaced by a good one
    (a.fast_map.cache_path / "response.npy").write_bytes(b"not an npy")
    with pytest.warns(RuntimeWarning, match="ignoring the set-up cache entry"):
        d = EFieldSolver(surfs, [0.465, 0.275], cortex_points=cortex, fast_options=opts)
    assert not d.fast_map.loaded_from_cache
    assert EFieldSolver(surfs, [0.465, 0.275], cortex_points=cortex, fast_options=opts).fast_map.loaded_from_cache


def test_default_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    from tmsfield.solver.fast_placement import default_cache_dir
    monkeypatch.setenv("TMSFIELD_CACHE_DIR", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("TMSFIELD_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "tmsfield"


@pytest.fixture(scope="module")
def template_fast_solver():
    """The coarse template (15.5k triangles, folded cortex a few mm under the CSF boundary) with its
    fast map on 3,000 cortex vertices spread evenly over the cortex (every k-th), built once per module:
    the seed sweep then pays only for the fresh poses."""
    head = tmsfield.load_head("mni152_coarse")
    n = head.cortex.vertices.shape[0]
    cortex = head.cortex.vertices[np.linspace(0, n - 1, 3000).round().astype(int)]
    return head, EFieldSolver(head, cortex_points=cortex, factorize=True)


@pytest.mark.random
def test_fast_map_on_the_template_head_matches_full_solves_on_fresh_poses(rng, test_seed, template_fast_solver):
    # The realistic case: the coarse template, the default rank, and coil poses drawn afresh over the
    # upper scalp with random handle angles and heights: both coil kinds.
    seed = test_seed
    head, solver = template_fast_solver
    sc = head.boundaries[0]
    up = np.flatnonzero(sc.vertices[:, 2] > 20.0)
    for coil in (dipole_fig8(n_per_ring=100), tmsfield.load_coil("fig8_70mm")):
        i = int(rng.choice(up))
        nrm = sc.vertex_normals[i]
        pose = tmsfield.CoilPose.from_axes(sc.vertices[i] + rng.uniform(3, 10) * nrm, -nrm, rng.normal(size=3))
        fast = solver.efield_on_cortex(coil, pose)
        direct = solver.efield_on_cortex(coil, pose, method="direct")
        assert rel_l2(fast, direct) <= 0.005, f"{coil.name}: {rel_l2(fast, direct):.4f} (seed {seed})"
