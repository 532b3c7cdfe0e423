"""3-D viewer and rendering of E-fields on the cortex (pyvista/VTK).

Scene data (no rendering): :func:`build_scene`, :func:`scene_from_head`,
:func:`scene_from_result`; images off screen: :func:`render`; interactive and browser
viewers: :class:`ViewerState`, :func:`show`, :func:`serve_web`; exports: GIFTI,
FreeSurfer curv, VTK/VTP and result JSON (:mod:`tmsfield.viz.export`).

Imported lazily: ``import tmsfield.viz`` does not load pyvista until a name is used.
"""

from .._lazy import lazy_exports

_PUBLIC = {
    "Scene": ".scene", "SceneInfo": ".scene", "build_scene": ".scene", "scene_from_head": ".scene",
    "render": ".renderer", "SceneRenderer": ".renderer",
    "scene_from_result": ".result_scene", "load_result": ".result_scene",
    "ViewerState": ".interactive", "show": ".interactive",
    "serve_web": ".web",
    "export_gifti": ".export", "export_curv": ".export", "export_vtk": ".export", "export_pose_json": ".export",
    "check_rendering": ".offscreen", "configure_offscreen": ".offscreen",
    "VIEW_NAMES": ".views",
}

__all__ = list(_PUBLIC)

__getattr__, __dir__ = lazy_exports(__name__, _PUBLIC)
