"""Where the viewer's live update spends its time (not a pytest benchmark; ``bench_viz.py`` times it whole).

Builds the template solver with its fast map (cached in ``--cache-dir``), opens the live viewer off
screen at 1024×768 on the coil-axis view, then moves the coil 2 mm back and forth and times each part:
the pose change, the solver's fast path (and inside it: head check, primary field, low-rank products),
the plotted values, the colours, the coil and text update, and the render.

    .venv/bin/python benchmarks/profile_live_update.py --cache-dir /tmp/tmsfield_cache
"""

import argparse
import time

import numpy as np

import tmsfield
from tmsfield.kernels.lowrank import matvec_f32
from tmsfield.targets.placement import coil_pose
from tmsfield.viz import ViewerState
from tmsfield.viz.interactive import LiveViewer


def _report(title, times):
    for k, v in times.items():
        print(f"{title}{k:12s} min {min(v):6.1f} ms   median {np.median(v):6.1f} ms")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--head", default="mni152_3shell")
    ap.add_argument("--cache-dir", default=None, help="where the fast map is cached (default: rebuilt)")
    ap.add_argument("--updates", type=int, default=40)
    args = ap.parse_args(argv)
    head = tmsfield.load_head(args.head)
    coil = tmsfield.load_coil("fig8_70mm")
    target = np.array([-38.0, 44.0, 26.0])
    pose = coil_pose(head, coil, target).pose
    t0 = time.perf_counter()
    solver = tmsfield.EFieldSolver(head, fast_options={"cache_dir": args.cache_dir} if args.cache_dir else None)
    print(f"solver set-up {time.perf_counter() - t0:.1f} s")
    state = ViewerState(head, coil, pose, solver=solver, didt=60.0, target_mm=target)
    lv = LiveViewer(state, views=["coil_axis"], window_size=(1024, 768), off_screen=True)
    lv.update(render=False)
    lv.renderer.screenshot()
    steps = [(2.0, 0.0), (-2.0, 0.0)] * (args.updates // 2)
    parts = {k: [] for k in ("move", "field", "values", "colours", "coil+text", "render", "total")}
    for dx, dy in steps:
        t = [time.perf_counter()]
        state.move(dx, dy)
        t.append(time.perf_counter())
        state.current_efield()
        t.append(time.perf_counter())
        state.current_values()
        t.append(time.perf_counter())
        lv.renderer.update_colors(state.current_colors())
        t.append(time.perf_counter())
        lv.update(render=False)
        t.append(time.perf_counter())
        lv.plotter.ren_win.Render()
        t.append(time.perf_counter())
        for k, a, b in zip(parts, t[:-1], t[1:]):
            parts[k].append((b - a) * 1e3)
        parts["total"].append((t[-1] - t[0]) * 1e3)
    _report("", parts)
    fm = solver.fast_map
    inner = {k: [] for k in ("head check", "primary", "projector", "response")}
    nc = solver.cortex_points.shape[0]
    for dx, dy in steps[:10]:
        state.move(dx, dy)
        p = state.pose
        t = [time.perf_counter()]
        fm._check_pose(coil, p)
        t.append(time.perf_counter())
        both = fm.primary_efield(coil, p, 60.0)
        t.append(time.perf_counter())
        c = matvec_f32(fm.projector_t, np.einsum("ij,ij->i", both[nc:], solver.normals).astype(np.float32))
        t.append(time.perf_counter())
        matvec_f32(fm.response, c)
        t.append(time.perf_counter())
        for k, a, b in zip(inner, t[:-1], t[1:]):
            inner[k].append((b - a) * 1e3)
    _report("solver: ", inner)
    lv.renderer.close()


if __name__ == "__main__":
    main()
