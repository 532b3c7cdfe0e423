"""The report's pictures: PNG views of a placement result, rendered off screen with tmsfield.viz."""

import numpy as np

from ..errors import RenderError

__all__ = ["REPORT_VIEWS", "render_views", "png_bytes", "result_efield"]

REPORT_VIEWS = ("left_lateral", "dorsal", "coil_axis")


def png_bytes(image):
    """Encode an (H, W, 3|4) uint8 image as PNG bytes (VTK's PNG writer, in memory).

    Examples
    --------
    >>> png_bytes(np.zeros((4, 6, 3), np.uint8))[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
    """
    from vtkmodules.util.numpy_support import numpy_to_vtk, vtk_to_numpy
    from vtkmodules.vtkCommonDataModel import vtkImageData
    from vtkmodules.vtkIOImage import vtkPNGWriter

    img = np.ascontiguousarray(np.asarray(image, dtype=np.uint8)[::-1])
    h, w, c = img.shape
    data = vtkImageData()
    data.SetDimensions(w, h, 1)
    data.GetPointData().SetScalars(numpy_to_vtk(img.reshape(-1, c), deep=True))
    writer = vtkPNGWriter()
    writer.SetWriteToMemory(1)
    writer.SetInputData(data)
    writer.Write()
    if writer.GetErrorCode():
        raise RenderError(f"could not encode the view as PNG (VTK error code {writer.GetErrorCode()})")
    return vtk_to_numpy(writer.GetResult()).tobytes()


class _SphereOnCortex:
    """``efield_on_cortex`` for the fitted-sphere model of ``tmsfield target --model sphere``: the analytic
    field inside the sphere, 0 outside it (drawn as no field)."""

    def __init__(self, head, near_point):
        from ..targets.local_sphere import LocalSphereModel

        self.head, self.model = head, LocalSphereModel(head, np.asarray(near_point, float))

    def efield_on_cortex(self, coil, pose, didt=1.0):
        e = self.model.efield(coil, self.head.cortex.vertices, pose, didt)
        return np.nan_to_num(e, nan=0.0)


def _model(result):
    settings = result.get("settings") or {}
    return settings.get("model") or (settings.get("job") or {}).get("model") or "bem"


def result_efield(result, head, coil, solver=None):
    """E on the cortex (V/m, (V, 3)) of a result's placement at its dose (per A/µs without one),
    with the result's own field model (BEM, or the fitted sphere for ``--model sphere``)."""
    from ..pose import as_pose_matrix
    from ..viz.result_scene import result_didt

    didt = result_didt(result)
    if solver is None:
        if _model(result) == "sphere":
            solver = _SphereOnCortex(head, (result.get("target") or {}).get("subject_mm") or result["position_mm"])
        else:
            from ..solver.bem import EFieldSolver

            solver = EFieldSolver(head, fast_placements=False)
    return solver.efield_on_cortex(coil, as_pose_matrix(result["pose"]), 1.0 if didt is None else didt)


def render_views(result, views=REPORT_VIEWS, size=(640, 480), head=None, coil=None, solver=None, efield=None):
    """PNG views of a placement result (E on the cortex, coil, target, colour bar in V/m).

    Parameters
    ----------
    result : dict, str or Path
        Placement result or its JSON path.
    views : sequence of str
        View names (:data:`tmsfield.viz.views.VIEW_NAMES`); default left lateral, dorsal, down the coil axis.
    size : (int, int)
        Pixels (width, height) of each view.
    head, coil : optional
        Already loaded head and coil (default: loaded from the result's sources).
    solver : object with ``efield_on_cortex(coil, pose, didt)``, optional
        Default: the result's model (a BEM solve, or the fitted sphere).
    efield : (V, 3) array, optional
        Field on the cortex at the result's dose (V/m); skips the solve.

    Returns
    -------
    dict of str -> bytes
        View name -> PNG.

    Raises
    ------
    RenderError
        No OpenGL (the message says how to install OSMesa), or the result does not fit its head.

    Examples
    --------
    >>> pngs = render_views("tmsfield-results/fox2012_sgacc.json")   # doctest: +SKIP
    >>> sorted(pngs)                                                 # doctest: +SKIP
    ['coil_axis', 'dorsal', 'left_lateral']
    """
    from ..viz.renderer import SceneRenderer
    from ..viz.result_scene import load_result, scene_from_result

    res = load_result(result)
    if head is None:
        import tmsfield

        head = tmsfield.load_head(res["head"].get("source") or res["head"].get("name"))
    if coil is None:
        import tmsfield

        coil = tmsfield.load_coil(res["coil"].get("source") or res["coil"].get("name"))
    if efield is None:
        efield = result_efield(res, head, coil, solver)
    scene = scene_from_result(res, head=head, coil=coil, efield=efield)
    views = list(views)
    if not views:
        return {}
    out = {}
    for v in views:          # one renderer per view: each image carries its own view name and colour bar
        renderer = SceneRenderer(scene, [v], window_size=size, show_text=False)
        try:
            out[v] = png_bytes(renderer.screenshot())
        finally:
            renderer.close()
    return out
