"""The live viewer's update path without a window, and the exports."""

import json

import numpy as np
import pytest

from _viz_fixtures import (CORTEX_R, PEAK_DIR, SphereSolver, figure8_coil, install_fakes, pose_over, result_dict,
                           sphere_head)
from tmsfield.errors import InputError, RenderError
from tmsfield.viz import ViewerState, colors


@pytest.fixture(scope="module")
def head():
    return sphere_head(4)


@pytest.fixture()
def state(head):
    return ViewerState(head, figure8_coil(), pose_over(PEAK_DIR), solver=SphereSolver(head), didt=50.0,
                       target_mm=PEAK_DIR * CORTEX_R, info={"coil_name": "test_fig8"})


@pytest.mark.random
def test_move_recomputes_field_and_colours(state, head, rng, test_seed):
    seed = test_seed
    solver = SphereSolver(head)
    rgb0 = state.current_colors().copy()
    dx, dy = rng.uniform(-20, 20, 2)
    pose = state.move(dx, dy)
    # still on the scalp at the same gap, axis along the inward normal (sphere: radial)
    c = pose[:3, 3]
    assert np.linalg.norm(c) == pytest.approx(np.linalg.norm(pose_over(PEAK_DIR)[:3, 3]), abs=0.6), f"seed {seed}"
    assert np.allclose(pose[:3, 2], -c / np.linalg.norm(c), atol=0.02), f"seed {seed}"
    # the field is the solver's at the new pose; colours follow it through the fixed colour map
    e_ref = solver.efield_on_cortex(state.coil, pose, 50.0)
    assert np.allclose(state.current_efield(), e_ref)
    v = np.linalg.norm(e_ref, axis=1)
    rgb_ref, _ = colors.cortex_colors(v, state.scene.clim, state.scene.threshold, head.cortex_curvature,
                                      state.scene.cmap)
    rgb1 = state.current_colors()
    assert np.array_equal(rgb1, rgb_ref)
    assert (rgb1 != rgb0).any(axis=1).sum() > 50, f"moving by ({dx:.1f}, {dy:.1f}) mm changed no colours, seed {seed}"
    # the hot spot follows the coil
    hot = head.cortex.vertices[np.argmax(v)]
    assert np.degrees(np.arccos(hot @ -pose[:3, 2] / np.linalg.norm(hot))) < 12


def test_move_is_along_the_coil_axes_and_reversible(state):
    p0 = state.pose.copy()
    state.move(10.0, 0.0)
    assert (state.pose[:3, 3] - p0[:3, 3]) @ p0[:3, 0] == pytest.approx(10.0, abs=1.0)
    state.move(-10.0, 0.0)
    assert np.allclose(state.pose[:3, 3], p0[:3, 3], atol=0.5)    # back within 0.5 mm (faceted scalp)
    assert np.allclose(state.pose[:3, :3], p0[:3, :3], atol=0.01)


def test_rotate_turns_about_the_coil_axis(state):
    p0 = state.pose.copy()
    state.rotate(90.0)
    p1 = state.pose
    assert np.allclose(p1[:3, 3], p0[:3, 3]) and np.allclose(p1[:3, 2], p0[:3, 2])
    assert abs(p1[:3, 1] @ p0[:3, 1]) < 1e-9              # handle turned by 90°
    # counter-clockwise seen from outside (looking along +z, the screen shows x to the left): y -> +x
    assert np.allclose(p1[:3, 1], p0[:3, 0], atol=1e-9)
    # the field of a figure-8 turns with it: the induced current direction rotates
    e0 = SphereSolver(state.head).efield_on_cortex(state.coil, p0, 1.0)
    e1 = state.current_efield() / state.didt
    i = np.argmax(np.linalg.norm(e0, axis=1))
    assert abs(e0[i] @ e1[i]) < 0.35 * np.linalg.norm(e0[i]) * np.linalg.norm(e1[i])


def test_snap_back_and_numbers(state):
    n0 = state.numbers()
    state.move(25.0, 10.0)
    state.rotate(30)
    moved = state.numbers()
    assert moved["e_target_v_per_m"] < n0["e_target_v_per_m"]     # off target, weaker there
    state.snap_to_optimised()
    assert state.numbers()["e_target_v_per_m"] == pytest.approx(n0["e_target_v_per_m"])
    with pytest.raises(InputError):
        state.move(float("nan"), 0)


def test_save_pose_as_result_json(tmp_path, state, head, monkeypatch):
    install_fakes(monkeypatch, head)
    state.base_result = result_dict(head, state.pose)
    state.move(0.0, 8.0)
    out = state.save(tmp_path / "manual.json")
    res = json.loads(out.read_text())
    assert res["schema"] == "tmsfield-placement/1" and res["method"] == "manual"
    assert np.allclose(res["pose"], state.pose)
    assert res["efield_at_target_v_per_m_per_a_per_us"] == pytest.approx(state.numbers()["e_target_v_per_m"] / 50.0)
    # it renders again (round trip through the result reader)
    from tmsfield.viz import scene_from_result

    s = scene_from_result(out)
    assert np.allclose(s.values, state.current_values())


def test_live_viewer_updates_the_plotter(state):
    """The on-screen path: new colours reach the actor, the coil actors move, the image changes."""
    from tmsfield.viz.interactive import LiveViewer

    lv = LiveViewer(state, views=["dorsal"], window_size=(300, 300), off_screen=True)
    try:
        lv.update(render=False)
        img0 = lv.renderer.screenshot().copy()
        state.move(30.0, 0.0)
        lv.update(render=False)
        drawn = np.asarray(lv.renderer.cortex_actors[0].mapper.dataset.point_data["rgb"])
        assert np.array_equal(drawn, state.current_colors())
        assert np.allclose(np.asarray(lv.renderer.coil_actors[0][0].user_matrix), state.coil_transform())
        img1 = lv.renderer.screenshot()
        assert (np.abs(img1.astype(int) - img0).max(axis=2) > 30).mean() > 0.005
    finally:
        lv.renderer.close()


def test_state_rejects_mismatched_result(tmp_path, head, monkeypatch):
    from tmsfield.viz.interactive import state_from_inputs

    install_fakes(monkeypatch, head)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(result_dict(head, pose_over(PEAK_DIR), n_vertices=999)))
    with pytest.raises(RenderError, match="another head"):
        state_from_inputs(path, solver=SphereSolver(head))
    with pytest.raises(InputError, match="head and a coil"):
        state_from_inputs(None)


def test_exports_open_in_their_readers(tmp_path, state, head):
    import nibabel as nib
    import pyvista as pv

    from tmsfield.viz.export import export_curv, export_gifti, export_gifti_surface, export_vtk

    scene = state.current_scene()
    g = export_gifti(tmp_path / "e.func.gii", scene)
    img = nib.load(g)
    arr = img.darrays[0]
    assert np.allclose(arr.data, scene.values, rtol=1e-6)
    assert arr.meta["Units"] == "V/m" and arr.intent == nib.nifti1.intent_codes["NIFTI_INTENT_ESTIMATE"]
    assert np.allclose(img.darrays[1].data, state.current_efield(), rtol=1e-5, atol=1e-6)
    surf = nib.load(export_gifti_surface(tmp_path / "cortex.surf.gii", head.cortex))
    assert np.allclose(surf.darrays[0].data, head.cortex.vertices, atol=1e-4)
    assert np.array_equal(surf.darrays[1].data, head.cortex.triangles)
    c = export_curv(tmp_path / "lh.efield", scene)
    assert np.allclose(nib.freesurfer.read_morph_data(c), scene.values, rtol=1e-6)
    vtm = export_vtk(tmp_path, scene)
    back = pv.read(vtm)
    assert "cortex" in back.keys() and "coil" in back.keys()
    assert np.allclose(back["cortex"].point_data["value"], scene.values)
    assert not list(tmp_path.glob(".*")), "temporary files left behind"
    with pytest.raises(InputError, match="does not exist"):
        export_gifti(tmp_path / "missing" / "e.func.gii", scene)


def test_cli_view_without_display_or_input_is_a_clear_error(tmp_path, head, monkeypatch, capsys):
    from tmsfield.cli.main import main

    install_fakes(monkeypatch, head)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["view"]) == 2
    assert "placement result" in capsys.readouterr().err
    path = tmp_path / "r.json"
    path.write_text(json.dumps(result_dict(head, pose_over(PEAK_DIR))))
    import tmsfield

    monkeypatch.setattr(tmsfield, "EFieldSolver", SphereSolver, raising=False)
    assert main(["view", str(path)]) == 2
    assert "--web" in capsys.readouterr().err


def test_window_keys_drive_the_state(tmp_path, state):
    """Key bindings of the desktop window (pressed through VTK's interactor, off screen)."""
    from tmsfield.viz.interactive import ROTATE_STEP_DEG, LiveViewer

    lv = LiveViewer(state, views=["coil_axis"], window_size=(300, 300), off_screen=True,
                    save_path=tmp_path / "k.json")
    try:
        lv.bind_controls()
        iren = lv.plotter.iren
        p0 = state.pose.copy()

        def press(sym, code=""):
            # what pyvista's KeyPressEvent observer does in a window
            iren.interactor.SetKeySym(sym)
            iren.key_press_event()

        press("bracketleft", "[")
        cosang = np.clip(state.pose[:3, 1] @ p0[:3, 1], -1, 1)
        assert np.degrees(np.arccos(cosang)) == pytest.approx(ROTATE_STEP_DEG, abs=1e-6)
        press("Up")
        assert np.linalg.norm(state.pose[:3, 3] - p0[:3, 3]) > 3.0
        press("o", "o")
        assert np.allclose(state.pose, p0)
        press("k", "k")
        assert json.loads((tmp_path / "k.json").read_text())["method"] == "manual"
    finally:
        lv.renderer.close()
