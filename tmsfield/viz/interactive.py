"""Interactive placement preview: move and turn the coil over the scalp, the E-map updates live.

:class:`ViewerState` is the window-free update path (coil pose → field → colours → numbers),
used by the desktop window (:func:`show`), the browser viewer (:mod:`tmsfield.viz.web`) and
the tests. The field comes from the fast per-placement solver
(``tmsfield.EFieldSolver(head).efield_on_cortex(coil, pose, didt)``) or any object with that
method; the colour range stays fixed while the coil moves so that colours compare.

Keys in the window: arrow keys move the coil 5 mm (up/down along the handle axis, left/right
across it), ``[`` / ``]`` turn it 5° (counter-clockwise / clockwise seen from outside the head),
``o`` snaps back to the optimised placement, ``k`` saves the pose as result JSON; the sphere
widget at the coil centre can be dragged over the scalp.
"""

import copy
import datetime as _dt
from pathlib import Path

import numpy as np

from ..errors import InputError, RenderError
from ..pose import as_pose_matrix
from . import colors as _colors

__all__ = ["ViewerState", "show", "LiveViewer"]

MOVE_STEP_MM = 5.0
ROTATE_STEP_DEG = 5.0


class _ScalpProjector:
    """Closest point and smoothed outward normal on the scalp (VTK static cell locator)."""

    def __init__(self, scalp):
        from vtkmodules.vtkCommonDataModel import vtkStaticCellLocator

        from .scene import surface_polydata

        self.mesh = surface_polydata(scalp)
        self.normals = np.asarray(self.mesh.point_data["Normals"])
        self.triangles = np.asarray(scalp.triangles)
        self.locator = vtkStaticCellLocator()
        self.locator.SetDataSet(self.mesh)
        self.locator.BuildLocator()

    def project(self, point):
        """(closest scalp point (3,), outward unit normal (3,)) for a point (mm)."""
        import vtk  # noqa: F401  (vtkmodules types for the out-arguments)
        from vtkmodules.vtkCommonCore import mutable

        closest = [0.0, 0.0, 0.0]
        cell, sub, dist2 = mutable(0), mutable(0), mutable(0.0)
        self.locator.FindClosestPoint([float(v) for v in point], closest, cell, sub, dist2)
        tri = self.triangles[int(cell)]
        p = np.asarray(closest)
        a, b, c = self.mesh.points[tri]
        # barycentric weights of the closest point: interpolate the vertex normals (smooth motion)
        v0, v1, v2 = b - a, c - a, p - a
        d00, d01, d11 = v0 @ v0, v0 @ v1, v1 @ v1
        d20, d21 = v2 @ v0, v2 @ v1
        den = d00 * d11 - d01 * d01
        w1 = (d11 * d20 - d01 * d21) / den if den else 0.0
        w2 = (d00 * d21 - d01 * d20) / den if den else 0.0
        n = (1 - w1 - w2) * self.normals[tri[0]] + w1 * self.normals[tri[1]] + w2 * self.normals[tri[2]]
        return p, n / np.linalg.norm(n)


def _rotation_about(axis, deg):
    a = np.asarray(axis, float) / np.linalg.norm(axis)
    t = np.radians(deg)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + np.sin(t) * k + (1 - np.cos(t)) * (k @ k)


class ViewerState:
    """The live viewer without a window: coil pose, field, colours and numbers.

    Parameters
    ----------
    head : tmsfield.Head (or object with ``cortex``, ``boundaries``/``scalp``, ``cortex_curvature``)
    coil : tmsfield.Coil
    pose : array_like (4, 4) or CoilPose
        Starting coil pose (mm, +z into the head).
    solver : object with ``efield_on_cortex(coil, pose, didt) -> (V, 3)`` V/m, optional
        Default ``tmsfield.EFieldSolver(head, cache=True)``: its set-up (near field, fast map) in the
        on-disk set-up cache (:mod:`tmsfield.cache`; ``TMSFIELD_CACHE_DIR`` moves it).
    didt : float
        dI/dt (A/µs) the field is shown for.
    target_mm : array_like (3,), optional
    quantity : {"magnitude", "normal"}
    clim : (float, float), optional
        Fixed colour range, V/m; default from the starting field (99.9th percentile), then kept.
    threshold : float, optional
        V/m below which the curvature underlay shows.
    optimised_pose : array_like (4, 4), optional
        Where :meth:`snap_to_optimised` goes (default: the starting pose).
    base_result : dict, optional
        Placement result the saved pose JSON starts from (head, coil, target, stimulator...).
    info : SceneInfo or dict, optional
        Text-block fields (coil, stimulator, % output).

    Examples
    --------
    >>> state = ViewerState(head, coil, pose, solver=solver)   # doctest: +SKIP
    >>> state.move(5.0, 0.0); state.rotate(10.0)                # doctest: +SKIP
    >>> rgb = state.current_colors()                            # doctest: +SKIP
    """

    def __init__(self, head, coil, pose, *, solver=None, didt=1.0, target_mm=None, quantity="magnitude", clim=None,
                 threshold=None, optimised_pose=None, base_result=None, info=None, roi_radius_mm=5.0, cmap=None):
        from .scene import SceneInfo, scene_from_head

        self.head = head
        self.coil = coil
        if solver is None:
            import tmsfield

            # the set-up (near field, fast map) is cached on disk (tmsfield.cache): only the first viewer
            # of a head waits for it
            solver = tmsfield.EFieldSolver(head, cache=True)
        if not hasattr(solver, "efield_on_cortex"):
            raise InputError(f"solver must have efield_on_cortex(coil, pose, didt); got {type(solver).__name__}")
        self.solver = solver
        self.didt = float(didt)
        boundaries = getattr(head, "boundaries", ()) or ()
        scalp = getattr(head, "scalp", None) or (boundaries[0] if boundaries else None)
        if scalp is None:
            raise RenderError("the head has no scalp surface to move the coil over")
        self._projector = _ScalpProjector(scalp)
        self.pose = as_pose_matrix(pose)
        self.optimised_pose = as_pose_matrix(optimised_pose) if optimised_pose is not None else self.pose.copy()
        sp, n = self._projector.project(self.pose[:3, 3])
        self.gap_mm = float(max((self.pose[:3, 3] - sp) @ n, 0.0))
        self.base_result = copy.deepcopy(base_result) if base_result else None
        self.roi_radius_mm = float(roi_radius_mm)
        self._field = {}
        if isinstance(info, dict):
            info = SceneInfo(**info)
        info = info or SceneInfo(coil_name=getattr(coil, "name", None))
        if info.didt_a_per_us is None:   # the field is shown at this dI/dt, not per A/us
            from dataclasses import replace

            info = replace(info, didt_a_per_us=self.didt)
        e0 = self.current_efield()
        self.initial_pose = self.pose.copy()
        self.scene = scene_from_head(head, e0, coil=coil, pose=self.pose, target_mm=target_mm, quantity=quantity,
                                     clim=clim, threshold=threshold, info=info, roi_radius_mm=roi_radius_mm, cmap=cmap)
        self.scene_pose = self.pose.copy()   # pose the scene's coil meshes were built at

    # ------------------------------------------------------------------ pose changes
    def _place(self, centre_guess, y_guess):
        sp, n = self._projector.project(centre_guess)
        z = -n
        y = y_guess - (y_guess @ z) * z
        if np.linalg.norm(y) < 1e-9:
            y = self.pose[:3, 0] - (self.pose[:3, 0] @ z) * z
        y /= np.linalg.norm(y)
        m = np.eye(4)
        m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = np.cross(y, z), y, z, sp + self.gap_mm * n
        self.pose = as_pose_matrix(m)
        return self.pose

    def move(self, dx_mm, dy_mm):
        """Slide the coil over the scalp by (dx, dy) mm along its own x and y (handle) axes.

        The centre is re-projected onto the scalp (same gap) and the coil re-aligned with
        the local normal. Returns the new pose (4, 4).
        """
        dx, dy = float(dx_mm), float(dy_mm)
        if not (np.isfinite(dx) and np.isfinite(dy)):
            raise InputError(f"move needs finite mm; got ({dx_mm!r}, {dy_mm!r})")
        m = self.pose
        return self._place(m[:3, 3] + dx * m[:3, 0] + dy * m[:3, 1], m[:3, 1])

    def move_to(self, point_mm):
        """Put the coil centre over the scalp point closest to ``point_mm`` (orientation kept)."""
        p = np.asarray(point_mm, float).reshape(3)
        return self._place(p, self.pose[:3, 1])

    def rotate(self, deg):
        """Turn the coil about its axis by ``deg``, counter-clockwise seen from outside the head."""
        d = float(deg)
        if not np.isfinite(d):
            raise InputError(f"rotate needs a finite angle in degrees; got {deg!r}")
        m = self.pose.copy()
        r = _rotation_about(-m[:3, 2], d)
        m[:3, :3] = r @ m[:3, :3]
        self.pose = as_pose_matrix(m)
        return self.pose

    def snap_to(self, pose):
        """Jump to a given pose (4, 4)."""
        self.pose = as_pose_matrix(pose)
        return self.pose

    def snap_to_optimised(self):
        """Jump back to the optimised placement."""
        return self.snap_to(self.optimised_pose)

    # ------------------------------------------------------------------ field and colours
    def current_efield(self):
        """(V, 3) E on the cortex (V/m) at the current pose (computed once per pose)."""
        key = self.pose.tobytes()
        if key not in self._field:
            e = np.asarray(self.solver.efield_on_cortex(self.coil, self.pose, self.didt), float)
            self._field = {key: e}   # keep only the latest pose (field and values)
        return self._field[key]

    def current_values(self):
        """(V,) plotted quantity (V/m) at the current pose."""
        from .scene import field_values

        key = ("values", self.pose.tobytes())
        if key not in self._field:
            s = self.scene
            v = field_values(self.current_efield(), None, np.asarray(s.cortex.point_data["Normals"]), s.quantity)
            self._field[key] = v
        return self._field[key]

    def current_colors(self):
        """(V, 3) uint8 cortex colours at the current pose (fixed colour range)."""
        s = self.scene
        rgb, _ = _colors.cortex_colors(self.current_values(), s.clim, s.threshold, s.curvature, s.cmap, s.quantity)
        return rgb

    def numbers(self):
        """Dict: ``e_target_v_per_m`` (or None), ``peak_v_per_m`` (99.9th pct), ``position_mm``, ``didt_a_per_us``."""
        from .scene import target_value

        v = self.current_values()
        tgt = self.scene.target_mm
        return {"e_target_v_per_m": None if tgt is None else target_value(self.scene.cortex.points, v, tgt,
                                                                            self.roi_radius_mm),
                "peak_v_per_m": float(np.percentile(np.abs(v), 99.9)),
                "position_mm": self.pose[:3, 3].tolist(), "didt_a_per_us": self.didt}

    def current_scene(self):
        """The scene at the current pose (new field colours; coil meshes rebuilt)."""
        from dataclasses import replace

        from .scene import coil_polydata

        nums = self.numbers()
        info = replace(self.scene.info, e_target_v_per_m=nums["e_target_v_per_m"], peak_v_per_m=nums["peak_v_per_m"])
        s = self.scene.with_field(self.current_efield(), info=info)
        return replace(s, pose=self.pose.copy(), **coil_polydata(self.coil, self.pose))

    def coil_transform(self):
        """4x4 transform taking the coil meshes of :attr:`scene` to the current pose."""
        return self.pose @ np.linalg.inv(self.scene_pose)

    def text(self):
        """Text block at the current pose."""
        from dataclasses import replace

        nums = self.numbers()
        info = replace(self.scene.info, e_target_v_per_m=nums["e_target_v_per_m"], peak_v_per_m=nums["peak_v_per_m"])
        return "\n".join(info.lines(self.scene.quantity))

    # ------------------------------------------------------------------ saving
    def to_result(self):
        """The current placement as a result dict (schema ``tmsfield-placement/1``, method "manual")."""
        from .result_scene import SCHEMA

        from .._version import __version__

        res = copy.deepcopy(self.base_result) if self.base_result else {}
        res.pop("_path", None)
        nums = self.numbers()
        sp, _ = self._projector.project(self.pose[:3, 3])
        per = 1.0 / self.didt
        e_t = nums["e_target_v_per_m"]
        cortex = self.head.cortex
        res.update({
            "schema": SCHEMA, "tmsfield_version": __version__,
            "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "method": "manual", "pose": self.pose.tolist(), "position_mm": self.pose[:3, 3].tolist(),
            "scalp_point_mm": sp.tolist(), "gap_mm": self.gap_mm,
            "efield_at_target_v_per_m_per_a_per_us": None if e_t is None else e_t * per,
            "peak_efield_v_per_m_per_a_per_us": nums["peak_v_per_m"] * per,
        })
        res.setdefault("head", {"name": getattr(self.head, "name", "head"), "source": getattr(self.head, "source", ""),
                                "n_cortex_vertices": cortex.n_vertices})
        res.setdefault("coil", {"name": self.coil.name, "source": self.coil.name})
        res.setdefault("stimulator", {"name": None, "max_didt_a_per_us": self.coil.max_didt_a_per_us})
        if "target" not in res and self.scene.target_mm is not None:
            res["target"] = {"name": "user", "mni_mm": None, "subject_mm": self.scene.target_mm.tolist(),
                             "roi_radius_mm": self.roi_radius_mm, "quantity": self.scene.quantity, "citation": ""}
        dose = dict(res.get("dose") or {})
        dose.setdefault("percent_output", None)
        dose["didt_a_per_us"] = self.didt
        dose["efield_at_target_v_per_m"] = e_t
        dose.setdefault("requested_v_per_m", None)
        dose.setdefault("percent_output_needed", None)
        dose.setdefault("reachable", True)
        dose.setdefault("warnings", [])
        res["dose"] = dose
        res.setdefault("settings", {})
        res["handle_angle_deg"] = _handle_angle_fallback(self.pose, self.coil)
        try:
            from ..targets.geometry import ScalpGeometry
            from ..targets.placement import handle_angle_of_pose

            lm = dict(getattr(self.head, "landmarks", {}) or {})
            if lm:
                res["handle_angle_deg"] = handle_angle_of_pose(ScalpGeometry(self._projector_surface(), lm),
                                                               self.coil, self.pose)
        except Exception:   # no landmarks or targeting module: the angle stays as it was
            pass
        return res

    def _projector_surface(self):
        boundaries = getattr(self.head, "boundaries", ()) or ()
        return getattr(self.head, "scalp", None) or boundaries[0]

    def save(self, path):
        """Write the current placement as result JSON (atomically); returns the Path."""
        from .export import export_pose_json

        return export_pose_json(path, self.to_result())


def _handle_angle_fallback(pose, coil):
    """Handle angle (deg) from the posterior direction, positive laterally (as tmsfield.targets, RAS axes)."""
    m = np.asarray(pose, float)
    n = -m[:3, 2]
    post = np.array([0.0, -1.0, 0.0]) - (-n[1]) * n
    if np.linalg.norm(post) < 1e-6:
        post = np.array([0.0, 0.0, 1.0]) - n[2] * n
    post /= np.linalg.norm(post)
    lat = np.array([np.sign(m[0, 3]) or 1.0, 0.0, 0.0])
    lat = lat - (lat @ n) * n - (lat @ post) * post
    lat = lat / np.linalg.norm(lat) if np.linalg.norm(lat) > 1e-9 else np.cross(n, post)
    d = m[:3, :3] @ np.asarray(getattr(coil, "handle_direction", (0.0, 1.0, 0.0)), float)
    return float(np.degrees(np.arctan2(d @ lat, d @ post)))


class LiveViewer:
    """A :class:`~tmsfield.viz.renderer.SceneRenderer` driven by a :class:`ViewerState`.

    ``update()`` pushes the state's colours, coil transform and numbers into the plotter
    (no mesh is rebuilt): this is the live path measured by the benchmark.
    """

    def __init__(self, state, views=("coil_axis", "left_lateral"), window_size=(1280, 720), off_screen=False,
                 save_path="placement_manual.json", check=True):
        from .renderer import SceneRenderer

        self.state = state
        self.save_path = Path(save_path)
        self.renderer = SceneRenderer(state.scene, list(views), window_size, off_screen=off_screen, check=check)
        self.plotter = self.renderer.plotter
        self.message = None
        self.sphere_widget = None

    def update(self, render=True):
        """Recompute the field for the state's pose and refresh colours, coil and text."""
        st, r = self.state, self.renderer
        r.update_colors(st.current_colors())
        t = st.coil_transform()
        for actors in r.coil_actors:
            for a in actors:
                a.user_matrix = t
        text = st.text()
        if self.message:
            text += "\n" + self.message
        r.set_text(text)
        widget = getattr(self, "sphere_widget", None)
        if widget is not None:   # keep the drag handle on the coil centre
            widget.SetCenter(*st.pose[:3, 3])
        if render:
            self.plotter.render()

    # key and button handlers
    def _do(self, fn):
        def handler():   # pyvista key callbacks take no arguments
            fn()
            self.update()
        return handler

    def _save(self):
        path = self.state.save(self.save_path)
        self.message = f"saved pose to {path}"

    def bind_controls(self):
        p, st = self.plotter, self.state
        p.add_key_event("Up", self._do(lambda: st.move(0.0, -MOVE_STEP_MM)))
        p.add_key_event("Down", self._do(lambda: st.move(0.0, MOVE_STEP_MM)))
        p.add_key_event("Left", self._do(lambda: st.move(-MOVE_STEP_MM, 0.0)))
        p.add_key_event("Right", self._do(lambda: st.move(MOVE_STEP_MM, 0.0)))
        p.add_key_event("bracketleft", self._do(lambda: st.rotate(ROTATE_STEP_DEG)))
        p.add_key_event("bracketright", self._do(lambda: st.rotate(-ROTATE_STEP_DEG)))
        p.add_key_event("o", self._do(st.snap_to_optimised))
        p.add_key_event("k", self._do(self._save))
        p.subplot(0, 0)
        p.add_checkbox_button_widget(lambda _v: self._do(st.snap_to_optimised)(), value=False, position=(10, 60),
                                     size=30, color_on="green", color_off="green")
        p.add_text("snap to optimised (o)", position=(45, 65), font_size=8, color="black")
        p.add_checkbox_button_widget(lambda _v: self._do(self._save)(), value=False, position=(10, 100), size=30,
                                     color_on="royalblue", color_off="royalblue")
        p.add_text("save pose (k)", position=(45, 105), font_size=8, color="black")

        def moved(point, *_):
            if np.linalg.norm(np.asarray(point, float) - st.pose[:3, 3]) < 0.5:
                return   # the widget reporting where it already is (e.g. when it is created)
            st.move_to(point)
            self.update()

        self.sphere_widget = p.add_sphere_widget(moved, center=tuple(st.pose[:3, 3]), radius=6.0, color="orange",
                                                 interaction_event="end")

    def show(self):
        self.bind_controls()
        self.update(render=False)
        self.plotter.show(title="tmsfield: coil placement (arrows move, [ ] turn, o snap, k save)")


def show(result=None, *, head=None, coil=None, pose=None, target_mm=None, solver=None, didt=None, save_path=None,
         views=("coil_axis", "left_lateral"), **options):
    """Open the interactive placement viewer (needs a display; use ``tmsfield view --web`` without one).

    Parameters
    ----------
    result : dict or path, optional
        Placement result to start from (head, coil, pose, target, dose).
    head, coil, pose, target_mm, solver, didt
        Override or replace what the result gives.
    save_path : path, optional
        Where ``k`` saves the pose (default ``<result>_manual.json`` or ``placement_manual.json``).

    Examples
    --------
    >>> show("placement.json")   # doctest: +SKIP
    """
    from .offscreen import has_display

    if not has_display():
        raise RenderError("no display for an interactive window (DISPLAY is not set); use `tmsfield view --web` "
                          "and open the printed address in a browser, or `tmsfield render` for images")
    state, save_default = state_from_inputs(result, head=head, coil=coil, pose=pose, target_mm=target_mm,
                                            solver=solver, didt=didt, **options)
    LiveViewer(state, views, save_path=save_path or save_default).show()


def state_from_inputs(result=None, *, head=None, coil=None, pose=None, target_mm=None, solver=None, didt=None,
                      **options):
    """A :class:`ViewerState` from a result and/or explicit head, coil, pose, target; plus a save path."""
    import tmsfield

    save_default = Path("placement_manual.json")
    res = None
    if result is not None:
        from .result_scene import load_result, result_didt

        res = load_result(result)
        if res.get("_path"):
            p = Path(res["_path"])
            save_default = p.with_name(p.stem + "_manual.json")
        head = head or tmsfield.load_head(res["head"].get("source") or res["head"].get("name"))
        n_expected = res["head"].get("n_cortex_vertices")
        if n_expected is not None and head.cortex is not None and int(n_expected) != head.cortex.n_vertices:
            raise RenderError(f"the result was computed on a cortex of {n_expected} vertices but head "
                              f"{getattr(head, 'name', '?')!r} has {head.cortex.n_vertices}: it belongs to another head")
        coil = coil or tmsfield.load_coil(res["coil"].get("source") or res["coil"].get("name"))
        pose = res["pose"] if pose is None else pose
        tgt = (res.get("target") or {}).get("subject_mm")
        target_mm = tgt if target_mm is None else target_mm
        didt = result_didt(res) if didt is None else didt
        stim = res.get("stimulator") or {}
        dose = res.get("dose") or {}
        options.setdefault("info", {"coil_name": res["coil"].get("name"), "stimulator": stim.get("name"),
                                    "percent_output": dose.get("percent_output"), "didt_a_per_us": didt,
                                    "target_name": (res.get("target") or {}).get("name"), "method": "manual"})
        q = (res.get("target") or {}).get("quantity")
        if q in ("magnitude", "normal"):
            options.setdefault("quantity", q)
    if head is None or coil is None:
        raise InputError("give a placement result, or a head and a coil (and a target or pose)")
    if pose is None:
        if target_mm is None:
            raise InputError("give a pose or a target (mm) to place the coil over")
        from ..targets.placement import coil_pose

        pose = coil_pose(head, coil, target_mm).pose
    state = ViewerState(head, coil, pose, solver=solver, didt=1.0 if didt is None else didt, target_mm=target_mm,
                        optimised_pose=pose, base_result={k: v for k, v in (res or {}).items() if k != "_path"}
                        or None, **options)
    return state, save_default
