"""Placement search on the analytic sphere: known optimum, reciprocity/interpolation error, template check."""

import numpy as np
import pytest

from tmsfield.solver import SphereModel
from tmsfield.targets.geometry import ScalpGeometry
from tmsfield.targets.placement import handle_angle_of_pose
from tmsfield.targets.search import (PlacementEvaluator, _disc, _ranking_dipoles, build_adjoint_grid,
                                     coil_dipoles, evaluate_quantity, search_placement, target_roi)
from targets_standins import R_SCALP, fig8_dipole_coil, sphere_head


class _ExactSphereScalp(ScalpGeometry):
    """The icosphere scalp answered as the exact sphere it samples (radius R_SCALP, centre 0).

    The analytic optimum (coil centred radially over the target) holds for a true sphere. On the
    faceted mesh the search correctly finds placements over facet centres, whose scalp lies up to
    0.02 mm lower: that brings the coil closer and, the optimum being flat, moved it ~1 mm (seed
    143150117: +0.056 % field at 1.003 mm). Answering the geometry queries the search uses for the
    true sphere makes the searched problem the one whose optimum is known."""

    def ray_points(self, origin, directions):
        o = np.asarray(origin, float).reshape(3)
        d = np.asarray(directions, float).reshape(-1, 3)
        d = d / np.linalg.norm(d, axis=1, keepdims=True)
        b = d @ o
        s = -b + np.sqrt(b * b - (o @ o - R_SCALP ** 2))          # |o + s d| = R, s > 0
        return o + s[:, None] * d

    def closest_points(self, points, k=12):
        p = np.asarray(points, float).reshape(-1, 3)
        return R_SCALP * p / np.linalg.norm(p, axis=1, keepdims=True)

    def smoothed_normals(self, points, radius_mm=10.0):
        p = np.asarray(points, float).reshape(-1, 3)
        return p / np.linalg.norm(p, axis=1, keepdims=True)

    def signed_height(self, points):
        return np.linalg.norm(np.asarray(points, float).reshape(-1, 3), axis=1) - R_SCALP


@pytest.fixture(scope="module")
def setup():
    head = sphere_head(5, 5)
    # a compact figure-8 (20 mm wings): a sharper optimum, so the 0.02 mm facet heights of the icosphere
    # scalp cannot move it by ~1 mm as they can for a broad 70 mm coil
    return head, SphereModel(R_SCALP), fig8_dipole_coil(20.0), _ExactSphereScalp(head.scalp, head.landmarks)


def _target(head, rng):
    v = head.cortex.vertices
    cand = v[(v[:, 2] > 40) & (v[:, 0] < -20) & (v[:, 1] > 20)]
    return cand[rng.integers(len(cand))]


@pytest.mark.random
def test_sphere_optimum_centred_and_oriented(setup, rng, test_seed):
    """Maximise E·u at a cortex point: optimum = coil centred over it (radially) with the fig-8's central
    field (coil y axis) along ±u; found within 1 mm and 2 deg."""
    head, model, coil, geo = setup
    seed = test_seed
    t = _target(head, rng)
    r = t / np.linalg.norm(t)
    u = np.cross(r, rng.normal(size=3))
    u /= np.linalg.norm(u)
    res = search_placement(model, head, coil, t, quantity="direction", direction=u, roi_radius_mm=0.0,
                           search_radius_mm=12.0, geometry=geo)
    expected_centre = (R_SCALP + 4.0) * r
    err = np.linalg.norm(res.pose[:3, 3] - expected_centre)
    assert err < 1.0, f"centre {err:.2f} mm from the optimum (seed {seed})"
    y = res.pose[:3, 1]
    ang = np.degrees(np.arccos(min(1.0, abs(y @ u))))
    assert ang < 2.0, f"coil axis {ang:.2f} deg from the expected direction (seed {seed})"
    assert res.interpolation_rel_error < 5e-3
    # every ranked placement (reduced-coil trilinear stages included) within 0.5 % of the direct solve
    assert res.ranking_rel_error + res.interpolation_rel_error < 5e-3, (res.ranking_rel_error, seed)


@pytest.mark.random
def test_magnitude_search_centred(setup, rng, test_seed):
    head, model, coil, geo = setup
    seed = test_seed
    t = _target(head, rng)
    res = search_placement(model, head, coil, t, quantity="magnitude", roi_radius_mm=0.0, search_radius_mm=10.0,
                           geometry=geo)
    r = t / np.linalg.norm(t)
    assert np.linalg.norm(res.pose[:3, 3] - (R_SCALP + 4.0) * r) < 1.0, seed
    assert res.value > 0 and abs(res.value - res.proxy_value) < 1e-9 * res.value  # one point: |mean E| = mean |E|


@pytest.mark.random
def test_interpolation_error_below_half_percent(setup, rng, test_seed):
    """Interpolated reciprocity vs direct model.efield for random placements (full dipole set)."""
    head, model, coil, geo = setup
    seed = test_seed
    t = _target(head, rng)
    roi = target_roi(head.cortex, t, 5.0)
    sp0 = geo.closest_points(t[None])[0]
    ev = PlacementEvaluator(geo, coil, sp0, 4.0)
    frame = np.column_stack([ev.post0, np.cross(ev.n0, ev.post0), ev.n0])
    grid = build_adjoint_grid(model, roi, "magnitude", geo, sp0, frame, np.array([-110, -110, -30.0]),
                              np.array([110, 110, 25.0]), 2.5)
    pos, mom = coil_dipoles(coil)
    # the ranking stages' dipole set and interpolation, as the search picks them from its coarse placements
    rots_c, cents_c, _, _ = ev.poses(_disc(15.0, 2.0), np.arange(0.0, 360.0, 5.0))
    cell, pos_r, mom_r, _ = _ranking_dipoles(grid, rots_c, cents_c, pos, mom, "magnitude", "trilinear", 2e-3)
    ab = _disc(15.0, 1.0)
    ab = ab[rng.choice(len(ab), 6, replace=False)] + rng.uniform(-0.5, 0.5, size=(6, 2))
    angles = rng.uniform(0, 360, size=6)
    worst = worst_ranking = 0.0
    for a, ang in zip(ab, angles):
        rots, cents, _, _ = ev.poses(a[None], [ang])
        F = grid.evaluate(rots, cents, pos, mom)[0]
        F_rank = grid.evaluate(rots, cents, pos_r, mom_r, "trilinear")[0]
        pose = np.eye(4)
        pose[:3, :3], pose[:3, 3] = rots[0], cents[0]
        direct = model.efield(coil, roi.points, pose).mean(axis=0)
        worst = max(worst, np.linalg.norm(F - direct) / np.linalg.norm(direct))
        worst_ranking = max(worst_ranking, np.linalg.norm(F_rank - direct) / np.linalg.norm(direct))
    assert worst <= 5e-3, f"interpolation error {worst:.2e} > 0.5 % (seed {seed})"
    assert worst_ranking <= 5e-3, f"ranking-stage error {worst_ranking:.2e} > 0.5 % ({cell} mm cells, seed {seed})"


def test_bad_quantity(setup):
    from tmsfield.errors import InputError
    head, model, coil, geo = setup
    with pytest.raises(InputError, match="quantity"):
        search_placement(model, head, coil, head.cortex.vertices[0], quantity="energy", geometry=geo)
    with pytest.raises(InputError, match="ranking_cell_mm"):
        search_placement(model, head, coil, head.cortex.vertices[0], ranking_cell_mm="coarse", geometry=geo)


def _template_solver():
    import tmsfield
    try:
        # the coarse template (15.5k triangles): the main job's path (dense LU) in a minute, not four (36k)
        head = tmsfield.load_head("mni152_3shell_coarse")
        from tmsfield.solver.bem import EFieldSolver
        from tmsfield.targets.run import auto_factorize
        # as the main job does: the dense LU when it fits in memory (4 min vs 9 min with GMRES here)
        return head, EFieldSolver(head, fast_placements=False,
                                  factorize=auto_factorize(sum(b.n_triangles for b in head.boundaries)))
    except Exception as exc:
        pytest.skip(f"template head or BEM solver unavailable: {type(exc).__name__}: {exc}")


@pytest.mark.slow
def test_template_optimised_beats_heuristics_sphere_model():
    """Template head, analytic sphere fitted to the scalp near the target (fast): optimised beats the heuristics."""
    import tmsfield
    try:
        tmsfield.load_head("mni152_3shell")
    except Exception as exc:
        pytest.skip(f"template head unavailable: {type(exc).__name__}: {exc}")
    from tmsfield.targets.run import SetupCache, TargetJob, run_target
    res = run_target(TargetJob(model="sphere"), SetupCache())
    assert res["model"]["kind"] == "sphere" and res["model"]["conductivities_s_per_m"] is None
    best = res["efield_at_target_v_per_m_per_a_per_us"]
    for name, h in res["heuristics"].items():
        assert "error" not in h, h
        assert best >= h["efield_at_target_v_per_m_per_a_per_us"], (name, best, h)
    search = res["settings"]["search"]
    assert search["interpolation_rel_error"] + search["ranking_rel_error"] <= 5e-3, search


@pytest.mark.slow
def test_template_optimised_beats_heuristics():
    """Template + BEM: the optimised placement's target field beats EEG F3, Beam F3 and the 5.5 cm rule.
    Uses the inward normal component (one adjoint solve instead of three). The main job's real path, end
    to end (dense LU when it fits, as the main job), so it runs by default; set
    TMSFIELD_SKIP_TEMPLATE_BEM=1 to skip it during quick local runs."""
    import os
    if os.environ.get("TMSFIELD_SKIP_TEMPLATE_BEM") == "1":
        pytest.skip("skipped on request (TMSFIELD_SKIP_TEMPLATE_BEM=1)")
    head, solver = _template_solver()
    from tmsfield.targets.run import SetupCache, TargetJob, run_target
    cache = SetupCache()
    cache._heads["mni152_3shell_coarse"] = head
    cache._solvers[("mni152_3shell_coarse", "bem")] = solver
    res = run_target(TargetJob(head="mni152_3shell_coarse", quantity="normal"), cache)
    model = res["model"]                       # the result states the model it was computed on
    assert model["tissues"] == list(head.tissues)
    assert model["n_triangles"] == sum(b.triangles.shape[0] for b in head.boundaries)
    assert list(model["conductivities_s_per_m"].values()) == pytest.approx(np.ravel(solver.conductivities).tolist())
    best = res["efield_at_target_v_per_m_per_a_per_us"]
    for name, h in res["heuristics"].items():
        assert "error" not in h, h
        assert best >= h["efield_at_target_v_per_m_per_a_per_us"], (name, best, h)
    search = res["settings"]["search"]
    assert search["interpolation_rel_error"] + search["ranking_rel_error"] <= 5e-3, search


def test_auto_factorize_follows_the_memory_rule():
    from tmsfield.targets.run import auto_factorize
    assert auto_factorize(10_000) is True                      # 0.4 GB
    assert auto_factorize(40_000, max_bytes=6e9) is False      # 6.4 GB > 6 GB
    assert auto_factorize(20_000, max_bytes=1e9) is False      # 1.6 GB > 1 GB


@pytest.mark.random
def test_coil_dipoles_are_the_coils_own_in_a_cache_friendly_order(rng, test_seed):
    import tmsfield

    seed = test_seed
    pos = rng.uniform(-60, 60, size=(500, 3)) * [1, 1, 0.1]
    mom = rng.normal(size=(500, 3))
    coil = tmsfield.Coil.from_dipoles(pos, mom)
    p, m = coil_dipoles(coil)
    # the same (position, moment) pairs, reordered
    key = lambda a, b: np.lexsort(np.column_stack([a, b]).T)
    np.testing.assert_array_equal(np.column_stack([p, m])[key(p, m)], np.column_stack([pos, mom])[key(pos, mom)])
    # neighbours in the new order are close: the mean step is far below that of the random input
    step_new = np.linalg.norm(np.diff(p, axis=0), axis=1).mean()
    step_old = np.linalg.norm(np.diff(pos, axis=0), axis=1).mean()
    assert step_new < 0.3 * step_old, (step_new, step_old, seed)
