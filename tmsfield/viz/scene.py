"""The viewer's scene as data: pyvista meshes and arrays, no rendering (testable without OpenGL).

A :class:`Scene` holds everything drawn: the cortex with its field values and per-vertex
colours (see :mod:`tmsfield.viz.colors`), the semi-transparent scalp, the coil windings
(or casing outline) placed by the pose, an arrow along the handle and one along the
induced current under the coil centre, the target marker and the text block (coil,
stimulator, % output, E at the target, peak). :func:`build_scene` takes explicit arrays;
:func:`scene_from_head` takes a :class:`tmsfield.Head`; results of the placement search drop
in through :func:`tmsfield.viz.scene_from_result`.
"""

from dataclasses import dataclass, field, replace

import numpy as np
import pyvista as pv

from ..errors import InputError, RenderError
from ..pose import as_pose_matrix
from ..validation import as_points
from . import colors as _colors

__all__ = ["Scene", "SceneInfo", "build_scene", "scene_from_head", "field_values", "surface_polydata",
           "coil_polydata", "target_value"]

HANDLE_ARROW_MM = 45.0
CURRENT_ARROW_MM = 30.0
TARGET_RADIUS_MM = 3.0
ARROW_OFFSET_MM = 7.0
WIRE_TUBE_RADIUS_MM = 1.2


@dataclass(frozen=True)
class SceneInfo:
    """Numbers shown in the text block (all optional).

    Attributes
    ----------
    coil_name, stimulator : str or None
    percent_output : float or None
        Stimulator output, % of maximum.
    didt_a_per_us : float or None
        dI/dt the field was computed for (A/µs); None means per 1 A/µs.
    target_name : str or None
    e_target_v_per_m, peak_v_per_m : float or None
        Field at the target and the 99.9th-percentile peak, V/m (filled in by build_scene
        from the field when not given).
    method : str or None
        How the placement was found ("optimised", "eeg_f3", ...).
    per_a_per_us : bool
        The field was computed for dI/dt = 1 A/µs (no dose given): numbers read "V/m per A/µs".
    """

    coil_name: str = None
    stimulator: str = None
    percent_output: float = None
    didt_a_per_us: float = None
    target_name: str = None
    e_target_v_per_m: float = None
    peak_v_per_m: float = None
    method: str = None
    per_a_per_us: bool = False

    def lines(self, quantity="magnitude"):
        """The text block as lines (units stated)."""
        per = " per A/µs" if self.per_a_per_us else ""
        sym = "E" if quantity == "magnitude" else "E normal"
        out = []
        if self.coil_name:
            out.append(f"Coil: {self.coil_name}" + (f"  ({self.method})" if self.method else ""))
        if self.stimulator:
            out.append(f"Stimulator: {self.stimulator}")
        dose = []
        if self.percent_output is not None:
            dose.append(f"{self.percent_output:.0f} % output")
        if self.didt_a_per_us is not None:
            dose.append(f"dI/dt {self.didt_a_per_us:.0f} A/µs")
        if dose:
            out.append(", ".join(dose))
        if self.e_target_v_per_m is not None:
            tgt = f" ({self.target_name})" if self.target_name else ""
            out.append(f"{sym} at target{tgt}: {self.e_target_v_per_m:.3g} V/m{per}")
        if self.peak_v_per_m is not None:
            out.append(f"Peak {sym} (99.9th pct): {self.peak_v_per_m:.3g} V/m{per}")
        return out


@dataclass(frozen=True, eq=False)
class Scene:
    """Everything the viewer draws, in head coordinates (mm) — pure data.

    Attributes
    ----------
    cortex : pyvista.PolyData
        Point arrays ``"value"`` (the plotted quantity, V/m), ``"rgb"`` (uint8 colours),
        ``"field_shown"`` (bool, above threshold) and, when given, ``"efield"`` (V, 3) V/m.
    values : ndarray, shape (V,)
        Plotted quantity per cortex vertex, V/m.
    quantity : {"magnitude", "normal"}
    clim : (float, float)
        Colour range, V/m.
    threshold : float
        |value| below which the curvature underlay shows, V/m.
    cmap : str
        matplotlib colour-map name.
    curvature : ndarray (V,) or None
    scalp : pyvista.PolyData or None
    coil : pyvista.PolyData or None
        Coil windings as tubes (or the casing outline), head frame.
    coil_outline : pyvista.PolyData or None
        Casing outline as a thin tube.
    handle_arrow, current_arrow : pyvista.PolyData or None
    target_mm : ndarray (3,) or None
    target_marker : pyvista.PolyData or None
    pose : ndarray (4, 4) or None
    info : SceneInfo
    """

    cortex: pv.PolyData
    values: np.ndarray
    quantity: str
    clim: tuple
    threshold: float
    cmap: str
    curvature: np.ndarray = None
    scalp: pv.PolyData = None
    coil: pv.PolyData = None
    coil_outline: pv.PolyData = None
    handle_arrow: pv.PolyData = None
    current_arrow: pv.PolyData = None
    target_mm: np.ndarray = None
    target_marker: pv.PolyData = None
    pose: np.ndarray = None
    info: SceneInfo = field(default_factory=SceneInfo)

    @property
    def colorbar_title(self):
        """Title of the colour bar, with units."""
        return "E-field (V/m)" if self.quantity == "magnitude" else "E normal, + into cortex (V/m)"

    @property
    def rgb(self):
        """(V, 3) uint8 per-vertex colours of the cortex."""
        return np.asarray(self.cortex.point_data["rgb"])

    @property
    def text(self):
        """The text block (coil, stimulator, % output, E at target, peak) as one string."""
        return "\n".join(self.info.lines(self.quantity))

    def with_field(self, efield=None, values=None, info=None):
        """A new scene with another field on the same cortex (colour range and threshold kept).

        Used by the interactive viewer: only the cortex arrays are rebuilt.
        """
        normals = np.asarray(self.cortex.point_data["Normals"])
        vals = field_values(efield, values, normals, self.quantity)
        if vals.shape[0] != self.values.shape[0]:
            raise RenderError(f"the new field has {vals.shape[0]} values but the cortex has "
                              f"{self.values.shape[0]} vertices")
        rgb, shown = _colors.cortex_colors(vals, self.clim, self.threshold, self.curvature, self.cmap, self.quantity)
        cortex = self.cortex.copy(deep=False)
        cortex.point_data["value"] = vals
        cortex.point_data["rgb"] = rgb
        cortex.point_data["field_shown"] = shown
        if efield is not None:
            cortex.point_data["efield"] = np.asarray(efield, float)
        return replace(self, cortex=cortex, values=vals, info=info or self.info)


def surface_polydata(surface):
    """A :class:`tmsfield.Surface` (or ``(vertices, triangles)``) as pyvista PolyData (mm).

    Examples
    --------
    >>> from tmsfield.head import icosphere
    >>> surface_polydata(icosphere(10, 1)).n_points
    42
    """
    if isinstance(surface, (tuple, list)) and len(surface) == 2:
        verts, tris = surface
    else:
        verts, tris = surface.vertices, surface.triangles
    verts = np.asarray(verts, dtype=float)
    tris = np.asarray(tris, dtype=np.int64)
    faces = np.hstack([np.full((tris.shape[0], 1), 3, dtype=np.int64), tris]).ravel()
    mesh = pv.PolyData(verts, faces)
    normals = getattr(surface, "vertex_normals", None)
    if normals is None:
        normals = mesh.compute_normals(point_normals=True, cell_normals=False).point_data["Normals"]
    mesh.point_data["Normals"] = np.asarray(normals, dtype=float)
    mesh.point_data.active_normals = mesh.point_data["Normals"]
    return mesh


def field_values(efield=None, values=None, normals_out=None, quantity="magnitude"):
    """The plotted quantity per vertex (V/m) from E vectors or given values.

    Parameters
    ----------
    efield : array_like, shape (V, 3), optional
        E-field, V/m.
    values : array_like, shape (V,), optional
        Already the plotted quantity (used as is).
    normals_out : ndarray, shape (V, 3)
        Outward unit normals of the cortex (for ``quantity="normal"``).
    quantity : {"magnitude", "normal"}
        ``"normal"`` is E·n with n pointing *into* the cortex (the SimNIBS sign: positive
        = field entering the cortical surface).

    Examples
    --------
    >>> field_values(np.array([[3.0, 4.0, 0.0]])).tolist()
    [5.0]
    """
    _colors.check_quantity(quantity)
    if (efield is None) == (values is None):
        raise InputError("give exactly one of efield (V, 3) in V/m or values (V,) in V/m")
    if values is not None:
        v = np.asarray(values, dtype=float)
        if v.ndim != 1:
            raise InputError(f"values must be one number per cortex vertex, shape (V,); got {v.shape}")
    else:
        e = np.asarray(efield, dtype=float)
        if e.ndim != 2 or e.shape[1] != 3:
            raise InputError(f"efield must have shape (V, 3) (V/m per cortex vertex); got {e.shape}")
        if quantity == "magnitude":
            v = np.linalg.norm(e, axis=1)
        else:
            v = -np.einsum("ij,ij->i", e, normals_out)
    if not np.all(np.isfinite(v)):
        bad = int(np.sum(~np.isfinite(v)))
        raise InputError(f"the field has {bad} non-finite value(s) (NaN/inf); fix the solver output first")
    return v


def target_value(vertices, values, target_mm, roi_radius_mm=5.0):
    """Mean plotted value (V/m) over cortex vertices within ``roi_radius_mm`` of the target.

    Falls back to the nearest vertex when none lies within the radius.

    Examples
    --------
    >>> target_value(np.array([[0, 0, 0.0], [10, 0, 0]]), np.array([1.0, 3.0]), [9, 0, 0], 2.0)
    3.0
    """
    d = np.linalg.norm(np.asarray(vertices) - np.asarray(target_mm, float).reshape(1, 3), axis=1)
    near = d <= roi_radius_mm
    return float(values[near].mean()) if near.any() else float(values[int(np.argmin(d))])


def _lines_polydata(polylines):
    pieces = [pv.lines_from_points(np.asarray(p, float)) for p in polylines if len(p) >= 2]
    if not pieces:
        return None
    return pieces[0].merge(pieces[1:]) if len(pieces) > 1 else pieces[0]


def _arrow(start, direction, length_mm, shaft=0.06, tip=0.16):
    d = np.asarray(direction, float)
    return pv.Arrow(start=np.asarray(start, float), direction=d / np.linalg.norm(d), scale=length_mm,
                    shaft_radius=shaft, tip_radius=tip, tip_length=0.3, tip_resolution=24, shaft_resolution=24)


def current_direction(coil, pose, depth_mm=15.0):
    """Unit direction (head frame) of the induced current under the coil centre.

    The primary E-field of the coil (``-dA/dt``, Biot–Savart) ``depth_mm`` below the centre,
    projected onto the coil plane. Falls back to the coil's x axis when the coil has no
    sources there (E ≈ 0, e.g. a round coil on its axis).

    Returns
    -------
    ndarray, shape (3,)
    """
    m = as_pose_matrix(pose)
    z = m[:3, 2]
    point = m[:3, 3] + depth_mm * z
    try:
        from ..kernels import primary_efield
        e = primary_efield(coil, point[None, :], m)[0]
    except Exception:  # a coil the kernels cannot evaluate: show the stated axis
        e = np.zeros(3)
    e = e - np.dot(e, z) * z
    if np.linalg.norm(e) < 1e-12 * max(1.0, np.abs(e).max()) or not np.all(np.isfinite(e)) or not e.any():
        return m[:3, 0].copy()
    return e / np.linalg.norm(e)


def coil_polydata(coil, pose):
    """The coil in the head frame: windings as tubes (or the casing outline) and arrows.

    Returns
    -------
    dict with keys ``"coil"``, ``"coil_outline"``, ``"handle_arrow"``, ``"current_arrow"``
        pyvista PolyData (or None), mm, head frame.
    """
    m = as_pose_matrix(pose)
    rot, centre = m[:3, :3], m[:3, 3]
    windings = [np.asarray(w) @ rot.T + centre for w in getattr(coil, "windings", ()) or ()]
    outline = getattr(coil, "casing_outline_mm", None)
    outline_pd = None
    if outline is not None and len(outline) >= 2:
        o = np.asarray(outline, float)
        o = np.vstack([o, o[:1]]) @ rot.T + centre
        outline_pd = pv.lines_from_points(o).tube(radius=0.6, n_sides=8)
    wires = _lines_polydata(windings)
    if wires is None and getattr(coil, "n_dipoles", 0):
        wires = pv.PolyData(coil.dipole_positions_mm @ rot.T + centre)
    coil_pd = None
    if wires is not None:
        coil_pd = wires.tube(radius=WIRE_TUBE_RADIUS_MM, n_sides=6) if wires.n_lines else wires
    # the wires' height above the head (coil frame z < 0): arrows are drawn on top of them
    top_z = min(float(np.min(np.concatenate(windings)[:, 2])) if windings else 0.0, 0.0)
    handle = rot @ np.asarray(getattr(coil, "handle_direction", (0.0, 1.0, 0.0)), float)
    # the handle arrow starts at the edge of the coil (casing or windings) on the handle side and points
    # outward along the handle; the current arrow starts a little off the axis. Seen down the coil axis,
    # neither hides the target under the centre.
    h_coil = np.asarray(getattr(coil, "handle_direction", (0.0, 1.0, 0.0)), float)
    h_coil = h_coil / np.linalg.norm(h_coil)
    extent = [0.0]
    if outline is not None and len(outline):
        extent.append(float(np.max(np.asarray(outline, float) @ h_coil)))
    if windings:
        loops = [np.asarray(w) for w in coil.windings]
        extent.append(float(np.max(np.concatenate(loops) @ h_coil))) if not extent[1:] else None
    edge = max(extent) + 3.0
    handle_arrow = _arrow(centre + top_z * m[:3, 2] + edge * handle, handle, HANDLE_ARROW_MM)
    cur = current_direction(coil, m)
    current_arrow = _arrow(centre + 1.0 * m[:3, 2] + ARROW_OFFSET_MM * cur, cur, CURRENT_ARROW_MM, shaft=0.08, tip=0.2)
    return {"coil": coil_pd, "coil_outline": outline_pd, "handle_arrow": handle_arrow, "current_arrow": current_arrow}


def build_scene(cortex, efield=None, *, values=None, quantity="magnitude", curvature=None, scalp=None, coil=None,
                pose=None, target_mm=None, clim=None, threshold=None, cmap=None, info=None, roi_radius_mm=5.0,
                percentile=99.9):
    """Build a :class:`Scene` from explicit arrays (any solver output drops in).

    Parameters
    ----------
    cortex : tmsfield.Surface or (vertices (V, 3) mm, triangles (T, 3))
    efield : array_like, shape (V, 3), optional
        E-field on the cortex vertices, V/m. Give this or ``values``.
    values : array_like, shape (V,), optional
        The quantity to plot (V/m) when E vectors are not available.
    quantity : {"magnitude", "normal"}
        |E| with a sequential map, or E·n (positive into the cortex) with a diverging map.
    curvature : array_like, shape (V,), optional
        Positive in sulci; shown below the threshold (light gyri, dark sulci).
    scalp : tmsfield.Surface, optional
        Drawn semi-transparent.
    coil : tmsfield.Coil, optional
    pose : array_like (4, 4) or CoilPose, optional
        Coil → head transform (mm), needed with ``coil``.
    target_mm : array_like, shape (3,), optional
    clim : (float, float), optional
        Fixed colour range, V/m; default ``[0, p99.9]`` (magnitude) or ``[-p, p]`` (normal).
    threshold : float, optional
        |value| (V/m) below which the underlay shows; default 25 % of the range's top.
    cmap : str, optional
        matplotlib colour map.
    info : SceneInfo or dict, optional
        Numbers for the text block; E at the target and the peak are computed from the
        field when missing.
    roi_radius_mm : float
        Radius around the target over which the target value is averaged.

    Returns
    -------
    Scene

    Raises
    ------
    InputError, RenderError
        Field and cortex disagree in size (message gives both counts), bad shapes.

    Examples
    --------
    >>> import numpy as np
    >>> from tmsfield.head import icosphere
    >>> ctx = icosphere(70, 2, name="cortex")
    >>> s = build_scene(ctx, values=ctx.vertices[:, 2] + 70, clim=(0, 140))
    >>> s.clim, s.rgb.shape
    ((0.0, 140.0), (162, 3))
    """
    _colors.check_quantity(quantity)
    mesh = surface_polydata(cortex)
    nv = mesh.n_points
    normals = np.asarray(mesh.point_data["Normals"], float)
    if efield is not None and np.asarray(efield).shape[:1] != (nv,):
        raise RenderError(f"the E-field has {np.asarray(efield).shape[0] if np.ndim(efield) else 0} rows but the "
                          f"cortex has {nv} vertices: field and cortex come from different heads or meshes. "
                          f"Recompute the field on this head's cortex.")
    if values is not None and np.asarray(values).shape[:1] != (nv,):
        raise RenderError(f"{np.asarray(values).shape[0] if np.ndim(values) else 0} field values for a cortex of "
                          f"{nv} vertices: field and cortex come from different heads or meshes.")
    vals = field_values(efield, values, normals, quantity)
    crange = _colors.color_range(vals, clim, quantity, percentile)
    thr = _colors.default_threshold(crange) if threshold is None else float(threshold)
    cmap = cmap or _colors.DEFAULT_CMAPS[quantity]
    curv = None if curvature is None else np.asarray(curvature, float).reshape(-1)
    rgb, shown = _colors.cortex_colors(vals, crange, thr, curv, cmap, quantity)
    mesh.point_data["value"] = vals
    mesh.point_data["rgb"] = rgb
    mesh.point_data["field_shown"] = shown
    if efield is not None:
        mesh.point_data["efield"] = np.asarray(efield, float)

    if info is None:
        info = SceneInfo(coil_name=getattr(coil, "name", None))
    elif isinstance(info, dict):
        info = SceneInfo(**info)
    tgt = None
    if target_mm is not None:
        tgt = as_points(target_mm, "target_mm")[0]
    if info.e_target_v_per_m is None and tgt is not None:
        info = replace(info, e_target_v_per_m=target_value(mesh.points, vals, tgt, roi_radius_mm))
    if info.peak_v_per_m is None:
        info = replace(info, peak_v_per_m=float(np.percentile(np.abs(vals), 99.9)))

    parts = {"coil": None, "coil_outline": None, "handle_arrow": None, "current_arrow": None}
    m = None
    if coil is not None:
        m = as_pose_matrix(pose)
        parts = coil_polydata(coil, m)
    elif pose is not None:
        m = as_pose_matrix(pose)
    marker = pv.Sphere(radius=TARGET_RADIUS_MM, center=tgt, theta_resolution=24, phi_resolution=24) \
        if tgt is not None else None
    return Scene(cortex=mesh, values=vals, quantity=quantity, clim=crange, threshold=thr, cmap=cmap, curvature=curv,
                 scalp=None if scalp is None else surface_polydata(scalp), target_mm=tgt, target_marker=marker,
                 pose=m, info=info, **parts)


def scene_from_head(head, efield=None, *, values=None, coil=None, pose=None, target_mm=None, **options):
    """Build a :class:`Scene` from a :class:`tmsfield.Head` (cortex, curvature, scalp) and a field.

    Parameters
    ----------
    head : tmsfield.Head
        Uses ``head.cortex``, ``head.cortex_curvature`` and the outermost boundary (scalp).
    efield, values, coil, pose, target_mm, **options
        As :func:`build_scene`.

    Returns
    -------
    Scene

    Examples
    --------
    >>> scene = scene_from_head(head, efield, coil=coil, pose=pose)  # doctest: +SKIP
    """
    cortex = getattr(head, "cortex", None)
    if cortex is None:
        raise RenderError(f"head {getattr(head, 'name', '?')!r} has no cortex surface to draw the field on; "
                          f"load a head with a cortex (e.g. tmsfield.load_head('mni152')) or call build_scene "
                          f"with the surface the field was computed on")
    boundaries = getattr(head, "boundaries", ()) or ()
    scalp = getattr(head, "scalp", None) or (boundaries[0] if boundaries else None)
    options.setdefault("curvature", getattr(head, "cortex_curvature", None))
    return build_scene(cortex, efield, values=values, coil=coil, pose=pose, target_mm=target_mm, scalp=scalp,
                       **options)
