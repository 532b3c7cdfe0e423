"""Viewer speed on the template cortex at 1024x768, off screen (OSMesa where there is no display).

Targets (issue 6): first image <= 3 s, each further view <= 0.5 s, a live update (move coil ->
new field -> new colours on screen) <= 100 ms.

Run: ``.venv/bin/pytest benchmarks/bench_viz.py --benchmark-only``

* ``test_first_image`` — plotter creation, actors, first render (shader compilation) and the
  PNG, for the template head with a fig-8 coil (the once-per-process OpenGL probe is measured
  separately, in ``extra_info["gl_probe_s"]``).
* ``test_further_view`` — another named view of an open renderer: camera, letters, render.
* ``test_live_update_render`` — the viewer's share of a live update: colours from a new field
  through the colour map, coil transform, text, render.
* ``test_live_update_with_solver`` — the whole live update including
  ``EFieldSolver.efield_on_cortex`` (its fast per-placement path); skipped when the template
  solver cannot be built here. Solver set-up time goes to ``extra_info``.
"""

import time

import numpy as np
import pytest

WINDOW = (1024, 768)
VIEWS = ("left_lateral", "dorsal", "anterior", "coil_axis", "right_lateral", "posterior")


@pytest.fixture(scope="module")
def template():
    import tmsfield
    from tmsfield.targets.placement import coil_pose

    try:
        head = tmsfield.load_head("mni152_3shell")
    except Exception as exc:  # pragma: no cover - template not built on this machine
        pytest.skip(f"template head not available: {exc}")
    coil = tmsfield.load_coil("fig8_70mm")
    target = np.array([-38.0, 44.0, 26.0])
    pose = coil_pose(head, coil, target).pose
    # a smooth synthetic field peaking under the coil: rendering cost does not depend on the values
    d = np.linalg.norm(head.cortex.vertices - target, axis=1)
    e = np.zeros((head.cortex.n_vertices, 3))
    e[:, 0] = 120.0 * np.exp(-(d / 25.0) ** 2)
    return head, coil, pose, target, e


@pytest.fixture(scope="module")
def scene(template):
    from tmsfield.viz import scene_from_head

    head, coil, pose, target, e = template
    return scene_from_head(head, e, coil=coil, pose=pose, target_mm=target,
                           info={"coil_name": coil.name, "stimulator": "Magstim Rapid2", "percent_output": 60,
                                 "didt_a_per_us": 60})


def test_first_image(benchmark, scene, tmp_path):
    from tmsfield.viz import render
    from tmsfield.viz.offscreen import check_rendering

    t0 = time.perf_counter()
    check_rendering(use_cache=False)
    benchmark.extra_info["gl_probe_s"] = time.perf_counter() - t0
    benchmark.extra_info["cortex_vertices"] = int(scene.cortex.n_points)
    out = tmp_path / "first.png"
    img = benchmark.pedantic(lambda: render(scene, out, views=["left_lateral"], window_size=WINDOW),
                             rounds=3, iterations=1)
    assert img.shape == (WINDOW[1], WINDOW[0], 3)


def test_four_view_figure(benchmark, scene, tmp_path):
    from tmsfield.viz import render

    out = tmp_path / "four.png"
    img = benchmark.pedantic(lambda: render(scene, out, views=list(VIEWS[:4]), window_size=WINDOW),
                             rounds=2, iterations=1)
    assert img.shape == (WINDOW[1], WINDOW[0], 3)


def test_further_view(benchmark, scene):
    from tmsfield.viz.renderer import SceneRenderer

    r = SceneRenderer(scene, ["left_lateral"], WINDOW)
    r.screenshot()
    views = iter(VIEWS * 50)

    def next_view():
        r.set_view(next(views))
        return r.screenshot()

    try:
        benchmark.pedantic(next_view, rounds=6, iterations=1)
    finally:
        r.close()


class _Precomputed:
    """Solver stand-in returning a field that moves with the coil (no solve): isolates the viewer."""

    def __init__(self, head, target, e):
        self.v = head.cortex.vertices

    def efield_on_cortex(self, coil, pose, didt=1.0):
        d = np.linalg.norm(self.v - (np.asarray(pose)[:3, 3] * 0.8), axis=1)
        e = np.zeros((self.v.shape[0], 3))
        e[:, 0] = didt * np.exp(-(d / 25.0) ** 2)
        return e


def _live(benchmark, state):
    from tmsfield.viz.interactive import LiveViewer

    lv = LiveViewer(state, views=["coil_axis"], window_size=WINDOW, off_screen=True)
    lv.update(render=False)
    lv.renderer.screenshot()
    steps = iter([(2.0, 0.0), (-2.0, 0.0)] * 100)

    def update():
        state.move(*next(steps))
        lv.update(render=False)
        lv.plotter.ren_win.Render()

    try:
        benchmark.pedantic(update, rounds=10, iterations=1)
    finally:
        lv.renderer.close()


def test_live_update_render(benchmark, template):
    from tmsfield.viz import ViewerState

    head, coil, pose, target, e = template
    state = ViewerState(head, coil, pose, solver=_Precomputed(head, target, e), didt=60.0, target_mm=target)
    _live(benchmark, state)


def test_live_update_with_solver(benchmark, template):
    import tmsfield
    from tmsfield.viz import ViewerState

    head, coil, pose, target, e = template
    t0 = time.perf_counter()
    try:
        solver = tmsfield.EFieldSolver(head)
    except Exception as exc:  # pragma: no cover
        pytest.skip(f"EFieldSolver(template) failed here: {exc}")
    benchmark.extra_info["solver_setup_s"] = time.perf_counter() - t0
    state = ViewerState(head, coil, pose, solver=solver, didt=60.0, target_mm=target)
    _live(benchmark, state)
