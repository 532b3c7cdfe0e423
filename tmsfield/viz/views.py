"""Named camera views (MNE-Python Brain viewer conventions) and the orientation letters they show.

Head coordinates are RAS (x right, y anterior, z superior), mm. Each view gives the
direction the camera looks along and the screen's up direction:

==============  ======================  =========  ===================================
name            camera sits at / looks  up         screen left / right
==============  ======================  =========  ===================================
left_lateral    left (-x), looks +x     superior   anterior / posterior (nose left)
right_lateral   right (+x), looks -x    superior   posterior / anterior (nose right)
dorsal          above (+z), looks -z    anterior   left / right (neurological)
anterior        front (+y), looks -y    superior   right / left (facing the subject)
posterior       back (-y), looks +y     superior   left / right
coil_axis       behind the coil, looks  -handle    (depends on the pose)
                along the coil +z axis
==============  ======================  =========  ===================================
"""

import numpy as np

from ..errors import InputError

__all__ = ["VIEW_NAMES", "view_vectors", "screen_axes", "orientation_letters"]

_FIXED = {
    "left_lateral": ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
    "right_lateral": ((-1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
    "dorsal": ((0.0, 0.0, -1.0), (0.0, 1.0, 0.0)),
    "anterior": ((0.0, -1.0, 0.0), (0.0, 0.0, 1.0)),
    "posterior": ((0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
}
VIEW_NAMES = tuple(_FIXED) + ("coil_axis",)
_ALIASES = {"lateral": "left_lateral", "top": "dorsal", "frontal": "anterior", "rostral": "anterior",
            "caudal": "posterior", "coil": "coil_axis"}
_LETTERS = (("R", "L"), ("A", "P"), ("S", "I"))


def canonical_view(name):
    """Resolve a view name or alias (``lateral``, ``rostral``...) to one of :data:`VIEW_NAMES`."""
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    key = _ALIASES.get(key, key)
    if key not in VIEW_NAMES:
        raise InputError(f"unknown view {name!r}; choose from {', '.join(VIEW_NAMES)}")
    return key


def view_vectors(name, pose=None):
    """Direction of projection and view-up (unit vectors, head frame) of a named view.

    Parameters
    ----------
    name : str
        One of :data:`VIEW_NAMES` (or an alias).
    pose : array_like (4, 4), optional
        Coil pose; required for ``"coil_axis"`` (looks along the coil's +z axis, with the
        handle pointing to the bottom of the screen).

    Returns
    -------
    direction, view_up : ndarray, shape (3,)

    Examples
    --------
    >>> d, up = view_vectors("dorsal")
    >>> d.tolist(), up.tolist()
    ([0.0, 0.0, -1.0], [0.0, 1.0, 0.0])
    """
    key = canonical_view(name)
    if key != "coil_axis":
        d, up = _FIXED[key]
        return np.array(d), np.array(up)
    if pose is None:
        raise InputError("the 'coil_axis' view needs a coil pose; give the scene a coil and pose or pick "
                         f"another view ({', '.join(_FIXED)})")
    m = np.asarray(pose, dtype=float)
    d = m[:3, 2] / np.linalg.norm(m[:3, 2])
    handle = m[:3, 1]
    up = -(handle - np.dot(handle, d) * d)
    if np.linalg.norm(up) < 1e-9:
        up = np.array([0.0, 1.0, 0.0]) - d[1] * d
    return d, up / np.linalg.norm(up)


def screen_axes(direction, view_up):
    """Head-frame unit vectors pointing to the screen's right and up for a camera.

    VTK's screen-right is ``direction x view_up``.

    Examples
    --------
    >>> r, u = screen_axes([1.0, 0, 0], [0, 0, 1.0])   # left lateral: nose to the left
    >>> r.round(6).tolist()
    [0.0, -1.0, 0.0]
    """
    d = np.asarray(direction, float)
    d = d / np.linalg.norm(d)
    u = np.asarray(view_up, float)
    u = u - np.dot(u, d) * d
    u = u / np.linalg.norm(u)
    r = np.cross(d, u)
    return r, u


def _letters_for(vec):
    """Anatomical letters (one or two, dominant first) for a head-frame direction."""
    order = np.argsort(-np.abs(vec))
    out = ""
    for k, axis in enumerate(order[:2]):
        if k == 1 and abs(vec[axis]) < 0.45:
            break
        out += _LETTERS[axis][0 if vec[axis] > 0 else 1]
    return out


def orientation_letters(direction, view_up):
    """Letters at the screen edges: dict with keys ``left``, ``right``, ``top``, ``bottom``.

    R/L, A/P, S/I name the head direction that points toward each edge; oblique directions
    get two letters (dominant first), e.g. ``"SA"``.

    Examples
    --------
    >>> orientation_letters(*view_vectors("dorsal"))
    {'left': 'L', 'right': 'R', 'top': 'A', 'bottom': 'P'}
    >>> orientation_letters(*view_vectors("left_lateral"))
    {'left': 'A', 'right': 'P', 'top': 'S', 'bottom': 'I'}
    """
    r, u = screen_axes(direction, view_up)
    return {"left": _letters_for(-r), "right": _letters_for(r), "top": _letters_for(u), "bottom": _letters_for(-u)}
