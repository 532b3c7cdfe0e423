"""Off-screen rendering set-up: pick OSMesa when there is no display, and probe OpenGL safely.

VTK picks its OpenGL window class when the first render window is created. On a machine
without a display (a server, CI, a headless clinic PC) the X11 window would fail, so before
any window exists we point ``VTK_DEFAULT_OPENGL_WINDOW`` at ``vtkOSOpenGLRenderWindow``
(Mesa's software OSMesa, Debian package ``libosmesa6``). A missing or broken GL library can
abort the whole process inside VTK, so :func:`check_rendering` first renders a tiny scene in
a *subprocess* and turns any failure into a :class:`~tmsfield.errors.RenderError` with the fix.
"""

import os
import re
import subprocess
import sys

from ..errors import RenderError

__all__ = ["has_display", "configure_offscreen", "probe_rendering", "check_rendering"]

OSMESA_WINDOW = "vtkOSOpenGLRenderWindow"

# The probe renders 32x32 pixels with bare VTK (no pyvista import: fast) and prints the mean
# pixel value so that a window that "renders" nothing is caught too.
_PROBE = r"""
import sys
from vtkmodules.vtkFiltersSources import vtkSphereSource
from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper, vtkRenderWindow, vtkRenderer, vtkWindowToImageFilter
import vtkmodules.vtkRenderingOpenGL2  # noqa: F401  (registers the OpenGL back end)
src = vtkSphereSource(); mapper = vtkPolyDataMapper(); mapper.SetInputConnection(src.GetOutputPort())
actor = vtkActor(); actor.SetMapper(mapper)
ren = vtkRenderer(); ren.AddActor(actor); ren.SetBackground(0, 0, 0)
win = vtkRenderWindow(); win.SetOffScreenRendering(1); win.SetSize(32, 32); win.AddRenderer(ren)
win.Render()
grab = vtkWindowToImageFilter(); grab.SetInput(win); grab.Update()
img = grab.GetOutput()
from vtkmodules.util.numpy_support import vtk_to_numpy
pix = vtk_to_numpy(img.GetPointData().GetScalars())
print("TMSFIELD_PROBE_OK", win.GetClassName(), float(pix.mean()))
"""

# Successful probes, keyed by the window class asked for (per process; a probe costs ~1 s).
_probe_ok = {}


def has_display(environ=None):
    """Whether an X11 or Wayland display is available to this process.

    Examples
    --------
    >>> has_display({"DISPLAY": ":0"})
    True
    >>> has_display({})
    False
    """
    env = os.environ if environ is None else environ
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def configure_offscreen(force=False):
    """Select OSMesa for VTK when there is no display (or ``force``); call before any window exists.

    Sets ``VTK_DEFAULT_OPENGL_WINDOW=vtkOSOpenGLRenderWindow`` in this process's environment
    unless the user already chose a window class there.

    Parameters
    ----------
    force : bool
        Use OSMesa even when a display exists (e.g. for reproducible images on a desktop).

    Returns
    -------
    str or None
        The window class now requested, or None when VTK chooses (a display exists).

    Examples
    --------
    >>> configure_offscreen() in (None, "vtkOSOpenGLRenderWindow") or True
    True
    """
    current = os.environ.get("VTK_DEFAULT_OPENGL_WINDOW")
    if current:
        return current
    if force or not has_display():
        os.environ["VTK_DEFAULT_OPENGL_WINDOW"] = OSMESA_WINDOW
        return OSMESA_WINDOW
    return None


def probe_rendering(timeout_s=60.0):
    """Render a tiny scene in a subprocess; return ``(ok, message)`` without raising.

    Parameters
    ----------
    timeout_s : float
        Seconds before the probe counts as failed (a hung GL driver).

    Returns
    -------
    ok : bool
    message : str
        The window class used, or the error output of the failed probe.

    Examples
    --------
    >>> ok, msg = probe_rendering()  # doctest: +SKIP
    """
    window = configure_offscreen()
    env = dict(os.environ)
    try:
        proc = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                              timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        return False, f"the OpenGL probe did not finish within {timeout_s:g} s (window class {window or 'default'})"
    except OSError as exc:  # pragma: no cover - cannot start python itself
        return False, f"could not start the OpenGL probe: {exc}"
    if proc.returncode == 0 and "TMSFIELD_PROBE_OK" in proc.stdout:
        return True, proc.stdout.strip().split()[1]
    text = re.sub(r"\x1b\[[0-9;]*m", "", proc.stderr or proc.stdout or "").strip()
    tail = [line.strip() for line in text.splitlines()[-6:] if line.strip()]
    code = proc.returncode
    what = f"crashed with signal {-code}" if code < 0 else f"exit code {code}"
    return False, f"{what}: " + (" | ".join(tail) or "no output")


def check_rendering(timeout_s=60.0, use_cache=True):
    """Make sure VTK can render here (off screen if there is no display), or raise RenderError.

    Configures OSMesa when there is no display, then probes once per process and window
    class (later calls return at once unless ``use_cache=False``).

    Returns
    -------
    str
        The VTK render-window class that rendered the probe.

    Raises
    ------
    RenderError
        No working OpenGL: the message says what failed and how to fix it (install
        ``libosmesa6`` or run under a display).

    Examples
    --------
    >>> check_rendering()  # doctest: +SKIP
    'vtkOSOpenGLRenderWindow'
    """
    key = os.environ.get("VTK_DEFAULT_OPENGL_WINDOW") or configure_offscreen() or "default"
    if use_cache and key in _probe_ok:
        return _probe_ok[key]
    ok, message = probe_rendering(timeout_s)
    if not ok:
        raise RenderError(
            f"VTK cannot render on this machine ({message}). Without a display tmsfield renders off screen "
            f"through OSMesa: install it (Debian/Ubuntu: `apt-get install libosmesa6`), or run with a display "
            f"(DISPLAY set, or under xvfb-run). VTK_DEFAULT_OPENGL_WINDOW="
            f"{os.environ.get('VTK_DEFAULT_OPENGL_WINDOW', '(unset)')}.")
    _probe_ok[key] = message
    return message
