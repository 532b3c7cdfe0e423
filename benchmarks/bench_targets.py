"""Targeting benchmarks: placements/s of the reciprocity kernel, the full default search on the template,
a 100-row batch on the template.

Run: .venv/bin/pytest benchmarks/bench_targets.py --benchmark-only
Target: >= 1e4 placements/s on 2 cores with a 2,712-dipole coil (Magstim 70 mm figure-8 .ccd) — the
ranking stage uses a reduced dipole set (7 mm cells) with trilinear interpolation; the full coil with
tricubic interpolation is measured too.
"""

import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
SHARED = ROOT.parent / "shared" / "simnibs"


def _coil_2712():
    p = SHARED / "coils" / "Magstim_70mm_Fig8.ccd"
    if not p.is_file():
        pytest.skip(f"{p} not found (the 2,712-dipole reference coil)")
    import tmsfield
    return tmsfield.load_coil(p)


@pytest.fixture(scope="module")
def sphere_grid():
    from targets_standins import R_SCALP, sphere_head
    from tmsfield.solver import SphereModel
    from tmsfield.targets.geometry import ScalpGeometry
    from tmsfield.targets.search import (PlacementEvaluator, _disc, build_adjoint_grid, coil_dipoles,
                                         reduce_dipoles, target_roi)
    coil = _coil_2712()
    head = sphere_head(5, 5)
    geo = ScalpGeometry(head.scalp, head.landmarks)
    model = SphereModel(R_SCALP)
    t = np.array([-40.0, 40.0, 52.0])
    t = 75 * t / np.linalg.norm(t)
    roi = target_roi(head.cortex, t, 5.0)
    sp0 = geo.closest_points(t[None])[0]
    ev = PlacementEvaluator(geo, coil, sp0, 4.0)
    frame = np.column_stack([ev.post0, np.cross(ev.n0, ev.post0), ev.n0])
    t0 = time.perf_counter()
    grid = build_adjoint_grid(model, roi, "magnitude", geo, sp0, frame, np.array([-125, -125, -35.0]),
                              np.array([125, 125, 45.0]), 2.5)
    grid_s = time.perf_counter() - t0
    ab = _disc(20.0, 2.0)
    rots, cents, _, _ = ev.poses(ab, np.arange(0, 360, 5.0))
    pos, mom = coil_dipoles(coil)
    rpos, rmom = reduce_dipoles(pos, mom, 7.0)
    return grid, rots, cents, (pos, mom), (rpos, rmom), grid_s


@pytest.mark.parametrize("stage", ["ranking_reduced_trilinear", "full_coil_trilinear", "full_coil_tricubic"])
def test_placements_per_second(benchmark, sphere_grid, stage):
    from numba import get_num_threads
    grid, rots, cents, full, reduced, grid_s = sphere_grid
    if stage == "ranking_reduced_trilinear":
        (pos, mom), interp, n = reduced, "trilinear", len(rots)
    elif stage == "full_coil_trilinear":
        (pos, mom), interp, n = full, "trilinear", 5000
    else:
        (pos, mom), interp, n = full, "tricubic", 2000
    r, c = rots[:n], cents[:n]
    grid.evaluate(r[:4], c[:4], pos, mom, interp)          # compile / load cache
    out = benchmark.pedantic(grid.evaluate, args=(r, c, pos, mom, interp), rounds=3, iterations=1)
    assert np.isfinite(out).all()
    benchmark.extra_info.update({"placements": int(n), "dipoles": int(len(pos)), "functionals": 3,
                                 "placements_per_s": round(n / benchmark.stats.stats.min),
                                 "numba_threads": get_num_threads(), "grid_shape": list(grid.values.shape[:3]),
                                 "grid_build_s_sphere": round(grid_s, 2)})


def _template():
    import tmsfield
    try:
        head = tmsfield.load_head("mni152")
        from tmsfield.solver.bem import EFieldSolver
        t0 = time.perf_counter()
        solver = EFieldSolver(head)
        return head, solver, time.perf_counter() - t0
    except Exception as exc:
        pytest.skip(f"template head / BEM solver unavailable: {type(exc).__name__}: {exc}")


def test_full_default_search_template(benchmark):
    from tmsfield.targets.run import SetupCache, TargetJob, run_target
    head, solver, setup_s = _template()
    cache = SetupCache()
    cache._heads["mni152"] = head
    cache._solvers[("mni152", "bem")] = solver
    cache.dipole_coil("fig8_70mm")
    res = benchmark.pedantic(run_target, args=(TargetJob(heuristics=False), cache), rounds=1, iterations=1)
    s = res["settings"]["search"]
    benchmark.extra_info.update({"solver_setup_s": round(setup_s, 1), "search_timings_s": s["timings_s"],
                                 "n_placements": s["n_placements"],
                                 "interpolation_rel_error": s["interpolation_rel_error"],
                                 "efield_v_per_m_per_a_per_us": res["efield_at_target_v_per_m_per_a_per_us"]})


@pytest.mark.parametrize("model", ["bem", "sphere"])
def test_batch_100_rows_template(benchmark, tmp_path, model):
    import tmsfield
    from tmsfield.cli.main import main
    try:
        tmsfield.load_head("mni152")
    except Exception as exc:
        pytest.skip(f"template head unavailable: {type(exc).__name__}: {exc}")
    rng = np.random.default_rng(0)
    base = np.array([-38.0, 44.0, 26.0])
    rows = ["head,target,coil"] + [f"mni152,mni:{' '.join(f'{v:.1f}' for v in base + rng.uniform(-6, 6, 3))},fig8_70mm"
                                   for _ in range(100)]
    m = tmp_path / "m.csv"
    m.write_text("\n".join(rows) + "\n")
    t0 = time.perf_counter()
    rc = benchmark.pedantic(main, args=(["batch", str(m), "--out", str(tmp_path / "res"), "--model", model,
                                         "--no-heuristics", "--quiet", "--workers", "1"],), rounds=1, iterations=1)
    benchmark.extra_info.update({"rows": 100, "exit_code": rc, "seconds": round(time.perf_counter() - t0, 1)})
