"""The bundled template head (``"mni152"``, ``"mni152_coarse"``): GIFTI meshes built by
``meshes/build_template.py`` (see ``meshes/README.md`` for provenance and licences)."""

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import HeadFileError, InputError
from .surface import Surface

__all__ = ["TEMPLATES", "template_dir", "load_template"]

#: template name -> (boundary names outside → in, file prefix)
TEMPLATES = {
    "mni152": ("mni152", ("scalp", "skull_outer", "skull_inner")),
    "mni152_coarse": ("mni152_coarse", ("scalp", "skull_outer", "skull_inner")),
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


@lru_cache(maxsize=4)
def _load_arrays(name):
    prefix, names = TEMPLATES[name]
    d = template_dir()
    out = {}
    for n in names:
        v, t = _read_gifti_fast(d / f"{prefix}_{n}.gii")[:2]
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
    name : {"mni152", "mni152_coarse"}

    Returns
    -------
    Head

    Examples
    --------
    >>> h = load_template("mni152")
    >>> h.boundary_names
    ('scalp', 'skull_outer', 'skull_inner')
    """
    from .head import Head
    key = str(name).lower()
    if key not in TEMPLATES:
        raise InputError(f"unknown template {name!r}; available: {sorted(TEMPLATES)}")
    arrays, sulc, lm = _load_arrays(key)
    _, names = TEMPLATES[key]
    boundaries = tuple(Surface(*arrays[n], name=n) for n in names)
    cortex = Surface(*arrays["cortex"], name="cortex")
    landmarks = {k: np.asarray(lm["landmarks_mm"][k], dtype=np.float64) for k in ("nasion", "inion", "lpa", "rpa")}
    # the template's surfaces are verified at build time and by tests; skip the slow checks on load
    return Head.from_surfaces(boundaries, tissues=("scalp", "skull", "brain"), cortex=cortex, landmarks=landmarks,
                              mni_transform=np.eye(4), cortex_curvature=sulc, name=key, source=key, check=False)
