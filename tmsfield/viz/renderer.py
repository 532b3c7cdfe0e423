"""Drawing a :class:`~tmsfield.viz.scene.Scene` with pyvista, and PNG images off screen.

:class:`SceneRenderer` puts the scene's actors into a pyvista plotter (one sub-plot per
view), places the cameras and the orientation letters, and keeps handles on the actors so
that the interactive viewer can update the field colours and move the coil without
rebuilding anything. :func:`render` writes a PNG.
"""

from pathlib import Path

import numpy as np

from .._atomic import atomic_path
from ..errors import InputError, RenderError
from . import views as _views
from .offscreen import check_rendering, configure_offscreen

__all__ = ["render", "SceneRenderer", "DEFAULT_VIEWS", "subplot_shape"]

DEFAULT_VIEWS = ("left_lateral", "dorsal", "anterior", "coil_axis")
BACKGROUND = "white"
SCALP_COLOR = (0.93, 0.78, 0.68)
SCALP_OPACITY = 0.18
COIL_COLOR = (0.15, 0.35, 0.85)
COIL_OPACITY = 0.55
OUTLINE_COLOR = (0.35, 0.35, 0.35)
HANDLE_COLOR = (0.35, 0.35, 0.35)
CURRENT_COLOR = (0.0, 0.75, 0.25)
TARGET_COLOR = (0.0, 0.85, 0.95)


def subplot_shape(n_views):
    """Rows and columns for ``n_views`` sub-plots: one row up to 3 views, else two rows.

    Examples
    --------
    >>> subplot_shape(1), subplot_shape(3), subplot_shape(4), subplot_shape(6)
    ((1, 1), (1, 3), (2, 2), (2, 3))
    """
    if n_views <= 3:
        return 1, n_views
    return 2, int(np.ceil(n_views / 2))


def _check_window_size(window_size):
    try:
        w, h = (int(v) for v in window_size)
    except (TypeError, ValueError):
        raise InputError(f"window_size must be (width, height) in pixels; got {window_size!r}") from None
    if not (16 <= w <= 16384 and 16 <= h <= 16384):
        raise InputError(f"window_size must be between 16 and 16384 pixels each way; got {window_size!r}")
    return w, h


def _resolve_views(views, scene):
    if views is None:
        views = DEFAULT_VIEWS if scene.pose is not None else DEFAULT_VIEWS[:3]
    if isinstance(views, str):
        views = [v for v in views.replace(",", " ").split() if v]
    names = [_views.canonical_view(v) for v in views]
    if not names:
        raise InputError("views is empty; give at least one of " + ", ".join(_views.VIEW_NAMES))
    if "coil_axis" in names and scene.pose is None:
        raise InputError("the 'coil_axis' view needs a coil pose in the scene; build it with coil and pose")
    return names


class SceneRenderer:
    """A pyvista plotter showing a scene in one or more named views.

    Parameters
    ----------
    scene : Scene
    views : sequence of str
        View names (:data:`tmsfield.viz.views.VIEW_NAMES`), one sub-plot each.
    window_size : (int, int)
        Whole figure size in pixels (width, height).
    off_screen : bool
        Render without a window (OSMesa when there is no display).
    show_text, show_colorbar, show_orientation : bool
        Text block, colour bar (first sub-plot) and orientation widget + letters.

    Examples
    --------
    >>> r = SceneRenderer(scene, ["dorsal"])       # doctest: +SKIP
    >>> image = r.screenshot()                      # doctest: +SKIP
    """

    def __init__(self, scene, views=None, window_size=(1024, 768), off_screen=True, show_text=True,
                 show_colorbar=True, show_orientation=True, check=True):
        if off_screen:
            configure_offscreen()
        if check:
            check_rendering()
        import pyvista as pv

        self.scene = scene
        self.views = _resolve_views(views, scene)
        self.window_size = _check_window_size(window_size)
        self.shape = subplot_shape(len(self.views))
        theme = pv.themes.DocumentTheme()
        theme.multi_samples = 0   # anti-aliasing (MSAA, and the SSAA OSMesa falls back to) is slow in software GL
        # One headlight instead of pyvista's five-light kit, and plain alpha blending instead of VTK's
        # order-independent transparency: in software GL (llvmpipe) lighting and OIT passes are paid per
        # pixel, and together they took a live update of the template scene at 1024x768 from 133 ms to
        # 83-86 ms (see benchmarks/RESULTS.md). The translucent layers are one culled scalp face and the
        # coil, drawn after it and outside it, so blending order does not show.
        self.plotter = pv.Plotter(shape=self.shape, off_screen=off_screen, window_size=self.window_size,
                                  border=len(self.views) > 1, border_color="lightgray", border_width=1, theme=theme,
                                  lighting="none")
        self.plotter.add_light(pv.Light(light_type="headlight"))
        for ren in self.plotter.renderers:
            ren.SetUseOIT(False)
        self.plotter.set_background(BACKGROUND)
        self.cortex_actors = []
        self.coil_actors = []
        self.text_actors = []
        self.letter_actors = {}
        self.scalar_bar = None
        self._show_orientation = show_orientation
        for k, view in enumerate(self.views):
            self.plotter.subplot(*divmod(k, self.shape[1]))
            self._add_actors(first=(k == 0), show_text=show_text, show_colorbar=show_colorbar)
            if show_orientation:
                self.plotter.add_axes(xlabel="R", ylabel="A", zlabel="S", line_width=2, color="black",
                                      viewport=(0.0, 0.0, 0.16, 0.2))
            self.plotter.add_text(view.replace("_", " "), position=(0.72, 0.02), viewport=True,
                                  font_size=self._font(9), color="dimgray", render=False)
            self._place_camera(k, view)

    # ------------------------------------------------------------------ building
    def _font(self, base):
        scale = min(self.window_size[0] / self.shape[1] / 640.0, self.window_size[1] / self.shape[0] / 480.0)
        return max(6, int(round(base * min(max(scale, 0.55), 1.25))))

    def _add_actors(self, first, show_text, show_colorbar):
        p, s = self.plotter, self.scene
        actor = p.add_mesh(s.cortex, scalars="rgb", rgb=True, smooth_shading=False, interpolation="gouraud",
                           show_scalar_bar=False, ambient=0.25, diffuse=0.75, specular=0.05)
        self.cortex_actors.append(actor)
        if s.scalp is not None:
            # only the outer face of the translucent scalp: half the blending work, and the look of a head
            p.add_mesh(s.scalp, color=SCALP_COLOR, opacity=SCALP_OPACITY, smooth_shading=False, interpolation="gouraud",
                       show_scalar_bar=False, culling="back")
        coil = []
        for mesh, color in ((s.coil, COIL_COLOR), (s.coil_outline, OUTLINE_COLOR),
                            (s.handle_arrow, HANDLE_COLOR), (s.current_arrow, CURRENT_COLOR)):
            if mesh is not None:
                coil.append(p.add_mesh(mesh, color=color, smooth_shading=False, interpolation="gouraud", show_scalar_bar=False,
                                   render_points_as_spheres=True, point_size=8,
                                   opacity=COIL_OPACITY if mesh is s.coil else 1.0))
        self.coil_actors.append(coil)
        if s.target_marker is not None:
            p.add_mesh(s.target_marker, color=TARGET_COLOR, smooth_shading=False, interpolation="gouraud", show_scalar_bar=False)
        if first and show_colorbar:
            self._add_colorbar()
        if first and show_text and s.text:
            # a plain text actor at a fixed size: a corner annotation re-fits its font on every change,
            # which cost ~25 ms of each live update in software GL
            actor = p.add_text(s.text, position=(0.006, 0.994), viewport=True, font_size=self._font(10),
                               color="black", render=False)
            actor.GetTextProperty().SetVerticalJustificationToTop()
            self.text_actors.append(actor)

    def _add_colorbar(self):
        import pyvista as pv

        s = self.scene
        table = pv.LookupTable(cmap=_table_cmap(s), n_values=256)
        table.scalar_range = s.clim
        self.lookup_table = table
        bar = self.plotter.add_scalar_bar(
            title=s.colorbar_title, mapper=_DummyMapper(table), n_labels=5, fmt="%.3g", vertical=True,
            position_x=0.86, position_y=0.22, width=0.07, height=0.56, color="black",
            title_font_size=self._font(11), label_font_size=self._font(10), bold=False)
        bar.SetLookupTable(table)
        bar.SetVerticalTitleSeparation(max(4, self._font(11)))  # keep the title clear of the top label
        bar.SetBarRatio(0.45)
        self.scalar_bar = bar

    def _place_camera(self, k, view):
        import pyvista as pv

        p = self.plotter
        d, up = _views.view_vectors(view, self.scene.pose)
        if view == "coil_axis":
            focus = self._coil_axis_focus()
        else:
            focus = np.asarray(self.scene.cortex.center)
        p.camera.focal_point = tuple(focus)
        p.camera.position = tuple(focus - 400.0 * d)
        p.camera.up = tuple(up)
        p.reset_camera(render=False)
        if view == "coil_axis":
            p.camera.zoom(1.6)
        else:
            p.camera.zoom(1.15)
        letters = _views.orientation_letters(d, up)
        if k in self.letter_actors:
            for key, actor in self.letter_actors[k].items():
                actor.SetInput(letters[key])
            return
        fs = self._font(16)
        actors = {}
        for key, pos in (("left", (0.01, 0.48)), ("right", (0.99, 0.48)), ("top", (0.5, 0.93)),
                         ("bottom", (0.5, 0.015))):
            if key == "right" and k == 0 and self.scalar_bar is not None:
                pos = (0.99, 0.08)
            actors[key] = p.add_text(letters[key], position=pos, viewport=True, font_size=fs,
                                     color=pv.Color("darkred"), render=False)
            prop = actors[key].GetTextProperty()
            if key == "right":
                prop.SetJustificationToRight()
            elif key in ("top", "bottom"):
                prop.SetJustificationToCentered()
        self.letter_actors[k] = actors

    def _coil_axis_focus(self):
        s = self.scene
        m = s.pose
        pts = np.asarray(s.cortex.points)
        # the cortex point nearest the coil axis, on the near side: where the field peaks
        rel = pts - m[:3, 3]
        along = rel @ m[:3, 2]
        off = np.linalg.norm(rel - along[:, None] * m[:3, 2], axis=1)
        cand = along > 0
        if s.target_mm is not None:
            return np.asarray(s.target_mm)
        if cand.any():
            i = np.flatnonzero(cand)[np.argmin(off[cand] + 0.1 * along[cand])]
            return pts[i]
        return m[:3, 3]

    # ------------------------------------------------------------------ updates
    def update_colors(self, rgb):
        """Replace the cortex colours in every view (e.g. after the coil moved); (V, 3) uint8."""
        rgb = np.asarray(rgb, dtype=np.uint8)
        self.scene.cortex.point_data["rgb"] = rgb
        self.scene.cortex.GetPointData().Modified()

    def update_scene(self, scene):
        """Show a new scene with the same meshes' topology: new field colours, coil and text."""
        cortex = self.scene.cortex
        for name in ("value", "rgb", "field_shown"):
            cortex.point_data[name] = scene.cortex.point_data[name]
        cortex.GetPointData().Modified()
        cortex.Modified()
        for meshes_old, meshes_new in ((self.scene.coil, scene.coil), (self.scene.coil_outline, scene.coil_outline),
                                       (self.scene.handle_arrow, scene.handle_arrow),
                                       (self.scene.current_arrow, scene.current_arrow)):
            if meshes_old is not None and meshes_new is not None:
                meshes_old.copy_from(meshes_new)
        self.set_text(scene.text)
        self.scene = _rebind(scene, cortex, self.scene)

    def set_text(self, text):
        """Replace the text block (coil, stimulator, output, E at the target, peak)."""
        for actor in self.text_actors:
            actor.SetInput(text)

    def screenshot(self, filename=None):
        """Render and return the image (H, W, 3) uint8; also write it when ``filename`` is given."""
        if self.plotter.ren_win is not None:
            self.plotter.ren_win.Render()   # pyvista's render() is a no-op before the first show()
        img = self.plotter.screenshot(return_img=True)
        if filename is not None:
            write_png(filename, img)
        return img

    def set_view(self, view, index=0):
        """Point sub-plot ``index`` at another named view."""
        view = _views.canonical_view(view)
        self.plotter.subplot(*divmod(index, self.shape[1]))
        self._place_camera(index, view)
        self.views[index] = view

    def close(self):
        self.plotter.close()


def _rebind(scene, cortex, old):
    from dataclasses import replace

    return replace(scene, cortex=cortex, coil=old.coil, coil_outline=old.coil_outline,
                   handle_arrow=old.handle_arrow, current_arrow=old.current_arrow)


class _DummyMapper:
    """What pyvista's add_scalar_bar needs from a mapper: a lookup table and its range."""

    def __init__(self, table):
        self.lookup_table = table
        self.scalar_range = table.scalar_range

    def GetLookupTable(self):  # noqa: N802 (VTK naming)
        return self.lookup_table

    def __getattr__(self, name):
        return getattr(self.lookup_table, name)


def _table_cmap(scene):
    """The scene's colour table as a matplotlib ListedColormap (what pyvista's LookupTable takes)."""
    from matplotlib.colors import ListedColormap

    from .colors import colormap_table

    return ListedColormap(colormap_table(scene.cmap, scene.quantity) / 255.0)


def write_png(filename, image):
    """Write an (H, W, 3|4) uint8 image as PNG atomically (temp file + rename)."""
    from vtkmodules.util.numpy_support import numpy_to_vtk
    from vtkmodules.vtkCommonDataModel import vtkImageData
    from vtkmodules.vtkIOImage import vtkPNGWriter

    path = Path(filename)
    if path.parent and not path.parent.exists():
        raise InputError(f"cannot write {path}: folder {path.parent} does not exist; create it first")
    raw = np.asarray(image)
    if raw.dtype.kind in "fc":
        from .._outputs import require_finite
        require_finite(raw, "the image pixel", path)
    img = np.ascontiguousarray(np.asarray(raw, dtype=np.uint8)[::-1])
    h, w, c = img.shape
    data = vtkImageData()
    data.SetDimensions(w, h, 1)
    arr = numpy_to_vtk(img.reshape(-1, c), deep=True)
    data.GetPointData().SetScalars(arr)
    with atomic_path(path, suffix=".png") as tmp:
        writer = vtkPNGWriter()
        writer.SetFileName(tmp)
        writer.SetInputData(data)
        writer.Write()
        if writer.GetErrorCode():
            raise RenderError(f"could not write PNG {path} (VTK error code {writer.GetErrorCode()})")
    return path


def render(scene_or_result, filename=None, views=None, window_size=(1024, 768), **scene_options):
    """Render a scene or a placement result to a PNG off screen; return the image.

    Parameters
    ----------
    scene_or_result : Scene, dict or path
        A :class:`~tmsfield.viz.scene.Scene`, or a placement result (dict, or path to the
        result JSON; schema ``tmsfield-placement/1``) whose field is recomputed with
        :func:`tmsfield.viz.scene_from_result`.
    filename : str or Path, optional
        PNG to write (atomically). None: only return the image.
    views : sequence of str, optional
        Named views, one sub-plot each (``left_lateral``, ``right_lateral``, ``dorsal``,
        ``anterior``, ``posterior``, ``coil_axis``); default left lateral, dorsal, anterior
        (+ coil axis when there is a coil).
    window_size : (int, int)
        Size of the whole figure, pixels (width, height).
    **scene_options
        Passed to :func:`~tmsfield.viz.scene_from_result` for results (``clim``,
        ``quantity``, ``threshold``, ``head``, ``coil``, ``solver``...).

    Returns
    -------
    ndarray, shape (height, width, 3), uint8

    Raises
    ------
    RenderError
        No OpenGL (message says how to install OSMesa), or the result does not fit its head.

    Examples
    --------
    >>> from tmsfield.head import icosphere
    >>> from tmsfield.viz import build_scene, render
    >>> ctx = icosphere(70, 3, name="cortex")
    >>> img = render(build_scene(ctx, values=ctx.vertices[:, 0] + 70), "x.png", views=["dorsal"])  # doctest: +SKIP
    """
    from .scene import Scene

    if isinstance(scene_or_result, Scene):
        if scene_options:
            raise InputError(f"options {sorted(scene_options)} only apply to results; build the Scene with them")
        scene = scene_or_result
    else:
        from .result_scene import scene_from_result

        scene = scene_from_result(scene_or_result, **scene_options)
    renderer = SceneRenderer(scene, views, window_size)
    try:
        return renderer.screenshot(filename)
    finally:
        renderer.close()
