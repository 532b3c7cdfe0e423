"""``tmsfield view --web``: the live placement viewer served to a browser through trame.

The scene is rendered on the server (off screen, OSMesa where there is no display) and
streamed as images (trame ``VtkRemoteView``), so the browser needs no WebGL; buttons move
and turn the coil, snap to the optimised placement and save the pose, through the same
:class:`~tmsfield.viz.interactive.ViewerState` as the desktop window. The server listens on
127.0.0.1 only (loopback) unless told otherwise.
"""

import itertools

from ..errors import InputError
from .interactive import MOVE_STEP_MM, ROTATE_STEP_DEG

__all__ = ["build_web_app", "serve_web"]

_counter = itertools.count()


def build_web_app(state, *, save_path="placement_manual.json", views=("coil_axis", "left_lateral"),
                  window_size=(1200, 600)):
    """Build (not start) the trame server for a :class:`ViewerState`.

    Returns
    -------
    server : trame_server.Server
    viewer : LiveViewer
        The off-screen viewer whose render window is streamed.

    Examples
    --------
    >>> server, viewer = build_web_app(state)   # doctest: +SKIP
    >>> server.start(host="127.0.0.1", port=8080, open_browser=False)   # doctest: +SKIP
    """
    from trame.app import get_server
    from trame.ui.vuetify3 import SinglePageLayout
    from trame.widgets import html
    from trame.widgets import vtk as vtk_widgets
    from trame.widgets import vuetify3 as v3
    from vtkmodules.vtkInteractionStyle import vtkInteractorStyleTrackballCamera  # noqa: F401 (registers styles)
    from vtkmodules.vtkRenderingCore import vtkRenderWindowInteractor

    from .interactive import LiveViewer

    viewer = LiveViewer(state, views, window_size=window_size, off_screen=True, save_path=save_path)
    viewer.update(render=False)
    ren_win = viewer.plotter.ren_win
    interactor = vtkRenderWindowInteractor()   # camera interaction from the browser (never started)
    interactor.SetRenderWindow(ren_win)
    interactor.GetInteractorStyle().SetCurrentStyleToTrackballCamera()
    viewer.web_interactor = interactor

    server = get_server(f"tmsfield-view-{next(_counter)}", client_type="vue3")
    ctrl, tstate = server.controller, server.state
    tstate.numbers = state.text()
    tstate.message = ""

    def act(fn):
        def run(*_):
            fn()
            viewer.update(render=False)
            tstate.numbers = state.text()
            tstate.message = viewer.message or ""
            ctrl.view_update()
        return run

    def save():
        viewer._save()

    with SinglePageLayout(server) as layout:
        layout.title.set_text("tmsfield: coil placement")
        with layout.toolbar:
            v3.VSpacer()
            for label, fn in (("↑ handle", lambda: state.move(0.0, -MOVE_STEP_MM)),
                              ("↓ handle", lambda: state.move(0.0, MOVE_STEP_MM)),
                              ("← x", lambda: state.move(-MOVE_STEP_MM, 0.0)),
                              ("→ x", lambda: state.move(MOVE_STEP_MM, 0.0)),
                              (f"⟲ {ROTATE_STEP_DEG:g}°", lambda: state.rotate(ROTATE_STEP_DEG)),
                              (f"⟳ {ROTATE_STEP_DEG:g}°", lambda: state.rotate(-ROTATE_STEP_DEG)),
                              ("snap to optimised", state.snap_to_optimised),
                              ("save pose", save)):
                v3.VBtn(label, click=act(fn), variant="outlined", density="compact", classes="mx-1")
        with layout.content:
            with v3.VContainer(fluid=True, classes="pa-0 fill-height d-flex flex-column"):
                html.Pre("{{ numbers }}\n{{ message }}", style="margin: 4px 8px; font-size: 12px;")
                with html.Div(style="flex: 1 1 auto; width: 100%; min-height: 480px; position: relative;"):
                    view = vtk_widgets.VtkRemoteView(ren_win, interactive_ratio=1, still_ratio=1)
                    ctrl.view_update = view.update
                    ctrl.view_reset_camera = view.reset_camera
    return server, viewer


def serve_web(state, *, host="127.0.0.1", port=8080, save_path="placement_manual.json", open_browser=False,
              views=("coil_axis", "left_lateral")):
    """Serve the live viewer on ``http://host:port/`` (blocks until stopped).

    Parameters
    ----------
    state : ViewerState
    host : str
        Interface to listen on; default loopback only (127.0.0.1). Reach a remote server
        through an SSH tunnel rather than opening it to the network.
    port : int
    save_path : path
        Where "save pose" writes the result JSON.

    Examples
    --------
    >>> serve_web(state, port=8080)   # doctest: +SKIP
    """
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise InputError(f"port must be an integer 1..65535; got {port!r}") from None
    if not 0 < port < 65536:
        raise InputError(f"port must be an integer 1..65535; got {port}")
    server, _viewer = build_web_app(state, save_path=save_path, views=views)
    print(f"tmsfield view: serving on http://{host}:{port}/ (Ctrl+C to stop)", flush=True)
    server.start(host=host, port=port, open_browser=open_browser, show_connection_info=False)
    return 0
