"""The bundled template heads: GIFTI meshes built by ``meshes/build_template.py`` (see ``meshes/README.md``
for provenance and licences).

* ``"mni152"``: five tissues — scalp, skull, CSF, grey matter (GM), white matter (WM). Boundaries ``scalp``,
  ``skull_outer``, ``skull_inner``, ``gm`` (both hemispheres' pial surfaces: two closed components) and
  ``wm`` (both white surfaces), folded, refined to 1.5 mm mean edge; 363,732 triangles.
* ``"mni152_3shell"``: three tissues (scalp, skull, lumped brain inside the inner skull), 36,052 triangles —
  fast demos and tests; ``"mni152_3shell_coarse"`` (alias ``"mni152_coarse"``): the same, 15,520 triangles.
"""

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import HeadFileError, InputError
from .surface import Surface

__all__ = ["TEMPLATES", "template_dir", "load_template"]

_FIVE = (("scalp", "mni152_scalp"), ("skull_outer", "mni152_skull_outer"), ("skull_inner", "mni152_skull_inner"),
         ("gm", "mni152_gm"), ("wm", "mni152_wm"))
_THREE = (("scalp", "mni152_scalp"), ("skull_outer", "mni152_skull_outer"), ("skull_inner", "mni152_skull_inner"))
_THREE_COARSE = (("scalp", "mni152_coarse_scalp"), ("skull_outer", "mni152_coarse_skull_outer"),
                 ("skull_inner", "mni152_coarse_skull_inner"))

#: template name -> ((boundary name, file stem) outside → in, tissues between them)
TEMPLATES = {
    "mni152": (_FIVE, ("scalp", "skull", "csf", "gm", "wm")),
    "mni152_3shell": (_THREE, ("scalp", "skull", "brain")),
    "mni152_3shell_coarse": (_THREE_COARSE, ("scalp", "skull", "brain")),
    "mni152_coarse": (_THREE_COARSE, ("scalp", "skull", "brain")),     # alias of mni152_3shell_coarse
}


def template_dir():
    """Folder holding the template meshes: ``tmsfield/_meshes`` in a wheel, else the repo's ``meshes/``.

    Examples
    --------
    >>> (template_dir() / "mni152_scalp.gii").is_file()
    True
    """
    here = Path(__file__).resolve()
    for cand in (here.parents[1] / "_meshes", here.parents[2] / "meshes"):
        if (cand / "mni152_scalp.gii").is_file():
            return cand
    raise HeadFileError(f"template meshes not found (looked in {here.parents[1] / '_meshes'} and "
                        f"{here.parents[2] / 'meshes'}); reinstall tmsfield or run meshes/build_template.py")


def _read_gifti_fast(path):
    import nibabel as nib
    img = nib.load(str(path))
    arrays = [np.asarray(d.data) for d in img.darrays]
    return arrays


@lru_cache(maxsize=6)
def _load_arrays(name):
    files, _ = TEMPLATES[name]
    d = template_dir()
    out = {}
    for n, stem in files:
        v, t = _read_gifti_fast(d / f"{stem}.gii")[:2]
        out[n] = (v.astype(np.float64), t.astype(np.int64))
    arrays = _read_gifti_fast(d / "mni152_cortex.gii")
    out["cortex"] = (arrays[0].astype(np.float64), arrays[1].astype(np.int64))
    sulc = arrays[2].astype(np.float64) if len(arrays) > 2 else None
    with open(d / "mni152_landmarks.json") as f:
        lm = json.load(f)
    return out, sulc, lm


def load_template(name="mni152"):
    """Load a bundled template head in MNI152 space (identity ``mni_transform``).

    Parameters
    ----------
    name : {"mni152", "mni152_3shell", "mni152_3shell_coarse", "mni152_coarse"}
        ``"mni152"``: five tissues (scalp, skull, csf, gm, wm; 363,732 triangles); ``"mni152_3shell"``: scalp,
        skull, lumped brain (36,052 triangles); ``"mni152_3shell_coarse"`` = ``"mni152_coarse"``: the same,
        coarser (15,520 triangles).

    Returns
    -------
    Head
        The five-tissue head is one nested stack in which ``gm`` and ``wm`` each have two closed components
        (one per hemisphere); :meth:`Head.triangle_sides` gives CSF|GM on every pial and GM|WM on every white
        triangle.

    Examples
    --------
    >>> h = load_template("mni152_3shell")
    >>> h.boundary_names
    ('scalp', 'skull_outer', 'skull_inner')
    >>> load_template("mni152").tissues
    ('scalp', 'skull', 'csf', 'gm', 'wm')
    """
    from .head import Head
    key = str(name).lower()
    if key not in TEMPLATES:
        raise InputError(f"unknown template {name!r}; available: {', '.join(TEMPLATES)} (mni152_coarse is an alias "
                         f"of mni152_3shell_coarse)")
    arrays, sulc, lm = _load_arrays(key)
    files, tissues = TEMPLATES[key]
    boundaries = tuple(Surface(*arrays[n], name=n) for n, _ in files)
    cortex = Surface(*arrays["cortex"], name="cortex")
    landmarks = {k: np.asarray(lm["landmarks_mm"][k], dtype=np.float64) for k in ("nasion", "inion", "lpa", "rpa")}
    # the template's surfaces are verified at build time and by tests; skip the slow checks on load
    return Head.from_surfaces(boundaries, tissues=tissues, cortex=cortex, landmarks=landmarks,
                              mni_transform=np.eye(4), cortex_curvature=sulc, name=key, source=key, check=False)
