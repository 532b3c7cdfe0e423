"""Benchmarks of the surface BEM solver (issue 3).

Run:  .venv/bin/pytest benchmarks/bench_solver.py --benchmark-only
(quick check: add ``-k "not scaling_61k"``; the 61k-triangle cases take minutes).

* set-up time and peak memory of ``EFieldSolver`` on the template head (``mni152_coarse``,
  ~15.5k triangles, 20,484 cortex points) including the fast-placement map;
* per-placement time of ``efield_on_cortex`` at those 20,484 points with the 2,712-dipole
  Magstim 70 mm figure-8 (../shared/simnibs; the built-in wire ``fig8_70mm`` when absent),
  against the primary field alone;
* scaling with triangle count (three nested icospheres: 3,840 / 15,360 / 61,440 triangles):
  operator set-up, one matrix-vector product by numba direct sum and by the FMM, and one full
  GMRES solve.
"""

import resource
import os
import time
from pathlib import Path

import numpy as np
import pytest

import tmsfield
from tmsfield.head.sphere_mesh import icosphere

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "simnibs"


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _coil():
    ccd = SHARED / "coils" / "Magstim_70mm_Fig8.ccd"
    if ccd.is_file():
        return tmsfield.load_coil(str(ccd))
    return tmsfield.load_coil("fig8_70mm")


def _pose_on_scalp(head, direction, gap_mm=4.0):
    sc = head.boundaries[0]
    i = int(np.argmax(sc.vertices @ np.asarray(direction, float)))
    n = sc.vertex_normals[i]
    return tmsfield.CoilPose.from_axes(sc.vertices[i] + gap_mm * n, -n, [0.0, 1.0, 0.2])


# the ~15k-triangle head of issue #3's targets; TMSFIELD_BENCH_HEAD=mni152_3shell measures the bundled 36k three-shell head
TEMPLATE = os.environ.get("TMSFIELD_BENCH_HEAD", "mni152_coarse")


@pytest.fixture(scope="module")
def template_solver():
    head = tmsfield.load_head(TEMPLATE)
    rss0 = _peak_rss_mb()
    t0 = time.perf_counter()
    solver = tmsfield.EFieldSolver(head)
    return solver, time.perf_counter() - t0, rss0, _peak_rss_mb()


def test_setup_template_head(benchmark, template_solver):
    solver, seconds, rss0, rss1 = template_solver
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    fm = solver.fast_map
    benchmark.extra_info.update({
        "head": solver.name, "triangles": solver.n_triangles, "cortex_points": int(solver.cortex_points.shape[0]),
        "setup_seconds": round(seconds, 2), "operator_seconds": round(solver.setup_seconds_operator, 2),
        "fast_map_seconds": round(fm.setup_seconds, 2), "fast_map_timings": {k: round(v, 2) for k, v in fm.timings.items()},
        "fast_map_rank": fm.rank, "fast_map_relative_tail": fm.relative_tail, "fast_map_method": fm.method,
        "peak_rss_mb_before": round(rss0, 1), "peak_rss_mb_after": round(rss1, 1),
        "far_field": "fmm" if solver._far.use_fmm else "direct",
    })


def test_per_placement_template_head(benchmark, template_solver):
    solver = template_solver[0]
    coil = _coil()
    rng = np.random.default_rng(0)
    head = tmsfield.load_head(TEMPLATE)
    poses = [_pose_on_scalp(head, [rng.normal() * 0.5, rng.normal() * 0.5, 1.0]) for _ in range(5)]
    it = iter(range(10**9))

    def run():
        return solver.efield_on_cortex(coil, poses[next(it) % len(poses)])

    e = benchmark.pedantic(run, rounds=10, iterations=1, warmup_rounds=1)
    t0 = time.perf_counter()
    for p in poses:
        tmsfield.primary_efield(coil, solver.cortex_points, p)
    t_primary = (time.perf_counter() - t0) / len(poses)
    fm = solver.fast_map
    sur = fm.surrogate(coil)
    t0 = time.perf_counter()
    for p in poses:
        fm.primary_efield(coil, p)
    t_split = (time.perf_counter() - t0) / len(poses)
    b = np.ones(solver.n_triangles, dtype=np.float32)
    t0 = time.perf_counter()
    for _ in range(5):
        fm.response @ (fm.projector_t @ b)
    t_lowrank = (time.perf_counter() - t0) / 5
    t0 = time.perf_counter()
    direct = solver.efield_on_cortex(coil, poses[0], method="direct")
    t_direct = time.perf_counter() - t0
    fast = solver.efield_on_cortex(coil, poses[0])
    benchmark.extra_info.update({
        "coil": coil.name, "coil_dipoles": coil.n_dipoles, "coil_segments": coil.n_segments,
        "cortex_points": int(e.shape[0]), "primary_field_only_seconds": round(t_primary, 4),
        "surrogate_dipoles": None if sur is None else sur.n_dipoles,
        "surrogate_max_error": None if sur is None else sur.max_error,
        "near_points": None if sur is None else int((~sur.is_far(fm._points_both, poses[0])).sum()),
        "primary_cortex_and_centroids_split_seconds": round(t_split, 4), "low_rank_products_seconds": round(t_lowrank, 4),
        "direct_solve_seconds": round(t_direct, 2), "direct_gmres_iterations": solver.last_solve_info.iterations,
        "fast_vs_direct_relative_l2": float(np.linalg.norm(fast - direct) / np.linalg.norm(direct)),
    })


def _three_shells(sub):
    return [icosphere(95.0, subdivisions=sub, name="scalp"), icosphere(90.0, subdivisions=sub, name="skull_outer"),
            icosphere(85.0, subdivisions=sub, name="skull_inner")]


@pytest.mark.parametrize("sub,fmm", [(3, False), (3, True), (4, False), (4, True), (5, True)],
                         ids=["scaling_3840_direct", "scaling_3840_fmm", "scaling_15k_direct", "scaling_15k_fmm",
                              "scaling_61k_fmm"])
def test_scaling(benchmark, sub, fmm):
    shells = _three_shells(sub)
    t0 = time.perf_counter()
    solver = tmsfield.EFieldSolver(shells, [0.465, 0.010, 0.275], fmm=fmm, fast_placements=False)
    t_setup = time.perf_counter() - t0
    q = np.random.default_rng(1).normal(size=solver.n_triangles)
    solver._matvec(q)
    t_mv = benchmark.pedantic(lambda: solver._matvec(q), rounds=3, iterations=1)
    coil = _coil()
    pose = tmsfield.CoilPose.from_axes([0, 0, 105.0], [0, 0, -1], [0, 1, 0])
    t0 = time.perf_counter()
    solver.efield(coil, [[0.0, 0.0, 70.0]], pose)
    t_solve = time.perf_counter() - t0
    benchmark.extra_info.update({
        "triangles": solver.n_triangles, "far_field": "fmm" if fmm else "direct", "setup_seconds": round(t_setup, 2),
        "near_pairs": solver.n_near_pairs, "solve_seconds": round(t_solve, 2),
        "gmres_iterations": solver.last_solve_info.iterations, "peak_rss_mb": round(_peak_rss_mb(), 1),
    })
    del t_mv
