"""Off-screen rendering of a known scene: size, colour bar, hot spot, target/coil in view, colours."""

import json

import numpy as np
import pytest

from _viz_fixtures import (CORTEX_R, PEAK_DIR, PEAK_V_PER_M, SphereSolver, figure8_coil, gaussian_field,
                           install_fakes, pose_over, result_dict, sphere_head)
from tmsfield.errors import InputError, RenderError
from tmsfield.viz import build_scene, colors, render, scene_from_head
from tmsfield.viz.renderer import SceneRenderer


def _project(renderer_index, sr, point):
    from vtkmodules.vtkRenderingCore import vtkCoordinate

    ren = sr.plotter.renderers[renderer_index]
    c = vtkCoordinate()
    c.SetCoordinateSystemToWorld()
    c.SetValue(*map(float, point))
    x, y = c.GetComputedDoubleDisplayValue(ren)
    h = sr.window_size[1]
    return x, h - 1 - y    # column, row in the screenshot


def _table_index(img, table, max_dist=8):
    """Nearest colour-table entry of each pixel, -1 where no entry is within max_dist (RGB)."""
    px = img.reshape(-1, 3).astype(np.int32)
    d = np.abs(px[:, None, :] - table[None, :, :].astype(np.int32)).max(axis=2)
    idx = d.argmin(axis=1)
    idx[d[np.arange(len(idx)), idx] > max_dist] = -1
    return idx.reshape(img.shape[:2])


@pytest.fixture(scope="module")
def head():
    return sphere_head(4)


@pytest.fixture(scope="module")
def full_scene(head):
    pose = pose_over(PEAK_DIR)
    e = gaussian_field(head.cortex.vertices)
    return scene_from_head(head, e, coil=figure8_coil(), pose=pose, target_mm=PEAK_DIR * CORTEX_R,
                           clim=(0, PEAK_V_PER_M), info={"coil_name": "test_fig8", "stimulator": "Test Stim",
                                                         "percent_output": 50, "didt_a_per_us": 75})


def test_png_has_requested_size(tmp_path, full_scene):
    out = tmp_path / "x.png"
    img = render(full_scene, out, views=["left_lateral", "dorsal", "anterior", "coil_axis"], window_size=(640, 400))
    assert img.shape == (400, 640, 3)
    import pyvista as pv

    back = pv.read(out)
    assert back.dimensions[:2] == (640, 400)
    assert not list(tmp_path.glob(".x.*")), "temporary file left behind"
    # four sub-plots each show cortex colours (not an empty white figure)
    for rows, cols in ((slice(0, 200), slice(0, 320)), (slice(200, 400), slice(320, 640))):
        assert (img[rows, cols].std(axis=2) > 20).mean() > 0.01


def test_colorbar_spans_stated_range(full_scene):
    clim = (0.0, PEAK_V_PER_M)
    sr = SceneRenderer(full_scene, ["dorsal"], window_size=(600, 450))
    try:
        assert sr.scalar_bar.GetLookupTable().GetRange() == pytest.approx(clim)
        assert "V/m" in sr.scalar_bar.GetTitle()
        img = sr.screenshot()
    finally:
        sr.close()
    table = colors.colormap_table(full_scene.cmap, "magnitude")
    w = img.shape[1]
    right = _table_index(img[:, int(0.8 * w):], table, max_dist=3)
    cols = np.flatnonzero((right >= 0).mean(axis=0) > 0.3)     # the bar: columns of pure table colours
    assert cols.size >= 4, "colour bar not found at the right of the first view"
    idx = right[:, cols[1]:cols[-1]]
    rows = np.flatnonzero((idx >= 0).mean(axis=1) > 0.8)
    assert rows.size > 0.3 * img.shape[0], "colour bar not found at the right of the first view"
    per_row = np.array([np.median(idx[r][idx[r] >= 0]) for r in rows])
    assert per_row[0] >= 250 and per_row[-1] <= 5, (per_row[0], per_row[-1])   # top = high end, bottom = low end
    assert np.all(np.diff(per_row) <= 0), "colour bar is not monotonic from top (high) to bottom (low)"


def test_hottest_pixels_where_the_field_peaks(head):
    e = gaussian_field(head.cortex.vertices)
    scene = build_scene(head.cortex, e, clim=(0, PEAK_V_PER_M), threshold=0.0)
    sr = SceneRenderer(scene, ["dorsal"], window_size=(400, 400), show_text=False, show_colorbar=False,
                       show_orientation=False)
    try:
        sr.cortex_actors[0].prop.lighting = False     # pixel colour = colour-mapped value
        img = sr.screenshot()
        col, row = _project(0, sr, PEAK_DIR * CORTEX_R)
    finally:
        sr.close()
    idx = _table_index(img, colors.colormap_table(scene.cmap, "magnitude"))
    hot_r, hot_c = np.nonzero(idx >= 245)
    assert hot_r.size > 20
    dist = np.hypot(hot_r.mean() - row, hot_c.mean() - col)
    assert dist < 12, f"hot spot at ({hot_c.mean():.0f}, {hot_r.mean():.0f}) px, field peak projects to ({col:.0f}, {row:.0f})"
    # far from the peak the map is at its low end
    assert np.median(idx[idx >= 0]) < 128


def test_target_marker_and_coil_in_view(full_scene):
    sr = SceneRenderer(full_scene, ["coil_axis", "left_lateral"], window_size=(800, 400))
    try:
        img = sr.screenshot().astype(int)
        for k in range(2):
            col, row = _project(k, sr, full_scene.target_mm)
            x0 = 400 * k
            assert x0 <= col < x0 + 400 and 0 <= row < 400, f"target outside view {k}"
            win = img[max(0, int(row) - 8):int(row) + 9, max(0, int(col) - 8):int(col) + 9]
            cyan = (win[..., 2] - win[..., 0] > 80) & (win[..., 1] - win[..., 0] > 60)
            assert cyan.sum() >= 5, f"target marker not visible in view {k}"
        # coil: blue wire pixels around the projected coil centre in the left-lateral view
        ccol, crow = _project(1, sr, full_scene.pose[:3, 3])
        assert 400 <= ccol < 800 and 0 <= crow < 400
        win = img[max(0, int(crow) - 60):int(crow) + 60, max(400, int(ccol) - 60):min(800, int(ccol) + 60)]
        blue = (win[..., 2] - win[..., 0] > 70) & (win[..., 2] - win[..., 1] > 40)
        assert blue.sum() > 30, "coil windings not visible"
    finally:
        sr.close()


def test_vertex_colours_follow_the_colour_map(full_scene, head):
    s = full_scene
    v = s.values
    rgb = s.rgb
    lo, hi = s.clim
    # what is drawn is these colours
    sr = SceneRenderer(s, ["dorsal"], window_size=(200, 150), show_text=False)
    try:
        drawn = np.asarray(sr.cortex_actors[0].mapper.dataset.point_data["rgb"])
        assert np.array_equal(drawn, rgb)
        bar_table = sr.scalar_bar.GetLookupTable()
    finally:
        sr.close()
    # shown vertices: the colour bar's own lookup table (VTK) gives the same colour within one table step
    shown = s.cortex.point_data["field_shown"].astype(bool)
    assert np.array_equal(shown, np.abs(v) >= s.threshold)
    table = colors.colormap_table(s.cmap, "magnitude").astype(int)
    step = np.abs(np.diff(table, axis=0)).max()
    for i in np.flatnonzero(shown):
        ref = [0.0, 0.0, 0.0]
        bar_table.GetColor(float(v[i]), ref)
        ref = np.array(ref)
        assert np.abs(np.round(ref * 255) - rgb[i]).max() <= step + 1, (i, v[i], ref * 255, rgb[i])
    # the peak vertex takes the top colour, values at or above the range top too
    assert np.array_equal(rgb[np.argmax(v)], table[-1]) or v.max() < hi
    # below the threshold: curvature underlay, light on gyri (curv <= 0), dark in sulci (curv > 0)
    under = ~shown
    curv = head.cortex_curvature
    assert np.all(rgb[under & (curv > 0)] == colors.SULCUS_GREY)
    assert np.all(rgb[under & (curv <= 0)] == colors.GYRUS_GREY)


@pytest.mark.random
def test_random_values_map_monotonically(rng, test_seed):
    seed = test_seed
    vals = rng.uniform(0, 200, 500)
    clim = (0.0, float(rng.uniform(50, 250)))
    rgb = colors.map_values(vals, clim)
    table = colors.colormap_table(None, "magnitude")
    idx = np.array([np.flatnonzero((table == c).all(axis=1))[0] for c in rgb])
    order = np.argsort(vals)
    assert np.all(np.diff(idx[order]) >= 0), f"seed {seed}"
    assert np.all(rgb[vals >= clim[1]] == table[-1]), f"seed {seed}"


@pytest.mark.random
def test_default_range_is_99_9th_percentile(head, rng):
    vals = rng.gamma(2.0, 10.0, head.cortex.n_vertices)
    vals[rng.integers(vals.size)] = 1e4            # one spike must not set the range
    s = build_scene(head.cortex, values=vals)
    assert s.clim == (0.0, pytest.approx(np.percentile(vals, 99.9)))
    assert s.info.peak_v_per_m == pytest.approx(np.percentile(vals, 99.9))


def test_normal_component_uses_signed_diverging_map(head):
    n = head.cortex.vertex_normals
    e = -30.0 * n                     # field pointing into the cortex everywhere
    left = head.cortex.vertices[:, 0] < 0
    e[~left] *= -1                    # out of it on the right
    s = build_scene(head.cortex, e, quantity="normal", threshold=0)
    assert np.allclose(s.values[left], 30) and np.allclose(s.values[~left], -30)
    assert s.clim == pytest.approx((-30, 30))
    red_high = s.rgb[left][:, 0].astype(int) - s.rgb[left][:, 2]
    assert np.all(red_high > 50) and np.all(s.rgb[~left][:, 2].astype(int) - s.rgb[~left][:, 0] > 50)
    assert "normal" in s.colorbar_title


def test_text_block_states_numbers(full_scene):
    text = full_scene.text
    assert "test_fig8" in text and "Test Stim" in text and "50 % output" in text
    assert "at target" in text and "V/m" in text and "Peak" in text
    assert full_scene.info.e_target_v_per_m == pytest.approx(PEAK_V_PER_M, rel=0.05)


def test_field_from_another_mesh_is_a_clear_error(head):
    with pytest.raises(RenderError, match="vertices"):
        build_scene(head.cortex, np.zeros((head.cortex.n_vertices - 3, 3)))
    with pytest.raises(InputError, match="view"):
        render(build_scene(head.cortex, values=np.ones(head.cortex.n_vertices)), views=["sideways"])


def test_result_from_another_head_is_rejected(tmp_path, head, monkeypatch):
    install_fakes(monkeypatch, head)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(result_dict(head, pose_over(PEAK_DIR), n_vertices=20484)))
    with pytest.raises(RenderError, match="20484 vertices.*another head"):
        render(path, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("content,match", [
    ("hello, not json", "not JSON"),
    (json.dumps({"some": "thing"}), "not a tmsfield placement result"),
    (json.dumps({"schema": "tmsfield-placement/1", "head": {"source": "x"}}), "lacks field.*coil.*pose"),
])
def test_bad_result_files(tmp_path, content, match):
    from tmsfield.viz import load_result

    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(RenderError, match=match):
        load_result(path)


def test_cli_render_recomputes_the_field(tmp_path, head, monkeypatch, capsys):
    from tmsfield.cli.main import main

    install_fakes(monkeypatch, head)
    pose = pose_over(PEAK_DIR)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(result_dict(head, pose, didt=80.0)))
    out = tmp_path / "fig.png"
    exp = tmp_path / "exports"
    assert main(["render", str(path), "-o", str(out), "--views", "dorsal", "left_lateral", "--size", "480x240",
                 "--export", str(exp)]) == 0
    import nibabel as nib

    gii = nib.load(exp / "efield.func.gii").darrays[0].data
    assert np.allclose(nib.freesurfer.read_morph_data(exp / "lh.efield"), gii)
    assert np.allclose(json.loads((exp / "placement.json").read_text())["pose"], pose)
    import pyvista as pv

    assert pv.read(out).dimensions[:2] == (480, 240)
    # the same numbers from the library: field recomputed at the result's dose (80 A/us)
    from tmsfield.viz import scene_from_result

    s = scene_from_result(path)
    e_ref = SphereSolver(head).efield_on_cortex(figure8_coil(), pose, 80.0)
    assert np.allclose(s.values, np.linalg.norm(e_ref, axis=1))
    assert "dI/dt 80 A/µs" in s.text
    # bad input through the CLI: exit code 2 and a message, no traceback
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert main(["render", str(bad), "-o", str(tmp_path / "b.png")]) == 2
    assert "not a tmsfield placement result" in capsys.readouterr().err


def test_no_gl_gives_a_clear_error(tmp_path, monkeypatch):
    """A GL library that cannot load crashes VTK; the subprocess probe turns that into RenderError."""
    from tmsfield.viz.offscreen import check_rendering

    for name in ("libOSMesa.so.8", "libOSMesa.so.6", "libOSMesa.so", "libEGL.so.1", "libGL.so.1"):
        (tmp_path / name).write_text("not a library")
    monkeypatch.setenv("LD_LIBRARY_PATH", str(tmp_path))
    monkeypatch.setenv("VTK_DEFAULT_OPENGL_WINDOW", "vtkOSOpenGLRenderWindow")
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(RenderError, match="libosmesa6"):
        check_rendering(use_cache=False)


def test_result_without_dose_is_drawn_per_a_per_us(head, monkeypatch):
    from tmsfield.viz import scene_from_result

    install_fakes(monkeypatch, head)
    pose = pose_over(PEAK_DIR)
    res = result_dict(head, pose)
    res["dose"] = {k: None for k in res["dose"]}
    s = scene_from_result(res)
    e1 = SphereSolver(head).efield_on_cortex(figure8_coil(), pose, 1.0)
    assert np.allclose(s.values, np.linalg.norm(e1, axis=1))
    assert "V/m per A/µs" in s.text


@pytest.mark.parametrize("view,letters", [
    ("left_lateral", {"left": "A", "right": "P", "top": "S", "bottom": "I"}),
    ("right_lateral", {"left": "P", "right": "A", "top": "S", "bottom": "I"}),
    ("dorsal", {"left": "L", "right": "R", "top": "A", "bottom": "P"}),
    ("anterior", {"left": "R", "right": "L", "top": "S", "bottom": "I"}),
    ("posterior", {"left": "L", "right": "R", "top": "S", "bottom": "I"}),
])
def test_named_views_follow_mne_conventions(view, letters):
    from tmsfield.viz.views import orientation_letters, view_vectors

    assert orientation_letters(*view_vectors(view)) == letters


def test_coil_axis_view_looks_down_the_coil():
    from tmsfield.viz.views import screen_axes, view_vectors

    pose = pose_over(PEAK_DIR)
    d, up = view_vectors("coil_axis", pose)
    assert np.allclose(d, pose[:3, 2])                 # looking along +z, into the head
    _, screen_up = screen_axes(d, up)
    assert screen_up @ pose[:3, 1] < -0.99             # handle towards the bottom of the screen
    with pytest.raises(InputError, match="pose"):
        view_vectors("coil_axis")
