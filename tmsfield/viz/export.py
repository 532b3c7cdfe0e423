"""Exports that other tools open: GIFTI overlays, FreeSurfer curv files, VTK/VTP scenes, result JSON.

* :func:`export_gifti` — the E-field on the cortex as a GIFTI functional overlay (``.func.gii``;
  |E| or E·n as ``NIFTI_INTENT_ESTIMATE``, the vectors as ``NIFTI_INTENT_VECTOR``), units in
  the metadata; :func:`export_gifti_surface` writes the matching surface (``.surf.gii``) so
  that viewers (FreeSurfer freeview, Connectome Workbench, nilearn) can overlay it.
* :func:`export_curv` — one value per vertex in FreeSurfer "curv" (morph data) format.
* :func:`export_vtk` — every mesh of a scene as ``.vtp`` files plus a ``.vtm`` multiblock
  (ParaView opens it), with the field arrays on the cortex.
* :func:`export_pose_json` — a placement result JSON (schema ``tmsfield-placement/1``).

Every file is written to a temporary name in the target folder and renamed into place, so
no half-written file is left behind.
"""

import json
from pathlib import Path

import numpy as np

from .._atomic import atomic_path
from .._outputs import require_finite
from ..errors import InputError

__all__ = ["export_gifti", "export_gifti_surface", "export_curv", "export_vtk", "export_pose_json"]


def _atomic(path, write, suffix=None):
    """Call ``write(tmp_path)`` then rename into ``path``; removes the temp file on failure."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"cannot write {path}: folder {folder} does not exist; create it first")
    with atomic_path(path, suffix=suffix) as tmp:
        write(tmp)
    return path


def _values_and_vectors(scene_or_values, n_vertices=None):
    from .scene import Scene

    if isinstance(scene_or_values, Scene):
        cd = scene_or_values.cortex.point_data
        vec = np.asarray(cd["efield"]) if "efield" in cd else None
        return np.asarray(scene_or_values.values, float), vec, scene_or_values.quantity
    v = np.asarray(scene_or_values, float)
    if v.ndim == 2 and v.shape[1] == 3:
        return np.linalg.norm(v, axis=1), v, "magnitude"
    if v.ndim != 1:
        raise InputError(f"values must be (V,) V/m or (V, 3) E vectors in V/m; got shape {v.shape}")
    return v, None, "magnitude"


def export_gifti(path, scene_or_values, *, name=None, include_vectors=True):
    """Write the cortex field as a GIFTI functional overlay (``.func.gii``).

    Parameters
    ----------
    path : str or Path
        Output file, conventionally ``*.func.gii``.
    scene_or_values : Scene, or array_like (V,) or (V, 3)
        A scene (its plotted quantity and, if present, E vectors), per-vertex values in
        V/m, or E vectors (V, 3) in V/m (the magnitude is written too).
    name : str, optional
        Data array name (default ``"E_magnitude"`` or ``"E_normal"``).
    include_vectors : bool
        Also write the E vectors as a second (V, 3) array when available.

    Returns
    -------
    Path

    Examples
    --------
    >>> export_gifti("e.func.gii", np.ones(4))   # doctest: +SKIP
    """
    import nibabel as nib

    vals, vec, quantity = _values_and_vectors(scene_or_values)
    require_finite(vals, "the E-field overlay (V/m) at vertex", path)
    if include_vectors and vec is not None:
        require_finite(np.asarray(vec, float), "the E-field vectors (V/m) at vertex", path)
    name = name or ("E_magnitude" if quantity == "magnitude" else "E_normal_into_cortex")
    desc = "|E|, induced electric field magnitude" if quantity == "magnitude" else \
        "E·n, normal component of the induced electric field, positive into the cortex"
    meta = {"Name": name, "Units": "V/m", "Description": desc, "Software": "tmsfield"}
    arrays = [nib.gifti.GiftiDataArray(vals.astype(np.float32), intent="NIFTI_INTENT_ESTIMATE",
                                       datatype="NIFTI_TYPE_FLOAT32", meta=nib.gifti.GiftiMetaData(meta))]
    if include_vectors and vec is not None:
        arrays.append(nib.gifti.GiftiDataArray(
            np.asarray(vec, np.float32), intent="NIFTI_INTENT_VECTOR", datatype="NIFTI_TYPE_FLOAT32",
            meta=nib.gifti.GiftiMetaData({"Name": "E_vector", "Units": "V/m",
                                          "Description": "induced electric field vector (x, y, z RAS)"})))
    img = nib.gifti.GiftiImage(darrays=arrays, meta=nib.gifti.GiftiMetaData({"Units": "V/m", "Software": "tmsfield"}))
    return _atomic(path, lambda tmp: nib.save(img, tmp), suffix=".gii")


def export_gifti_surface(path, surface, *, structure="Cortex"):
    """Write a triangle surface (mm) as GIFTI (``.surf.gii``) to pair with an overlay.

    Parameters
    ----------
    path : str or Path
    surface : tmsfield.Surface or Scene (its cortex)
    structure : str
        ``AnatomicalStructurePrimary`` metadata (e.g. ``CortexLeft``).
    """
    import nibabel as nib

    from .scene import Scene

    if isinstance(surface, Scene):
        verts = np.asarray(surface.cortex.points)
        tris = np.asarray(surface.cortex.faces).reshape(-1, 4)[:, 1:]
    else:
        verts, tris = np.asarray(surface.vertices), np.asarray(surface.triangles)
    require_finite(np.asarray(verts, float), "the surface vertices (mm)", path)
    coords = nib.gifti.GiftiDataArray(verts.astype(np.float32), intent="NIFTI_INTENT_POINTSET",
                                      datatype="NIFTI_TYPE_FLOAT32",
                                      meta=nib.gifti.GiftiMetaData({"AnatomicalStructurePrimary": structure}))
    coords.coordsys = nib.gifti.GiftiCoordSystem(dataspace=3, xformspace=3)   # talairach (scanner RAS), mm
    faces = nib.gifti.GiftiDataArray(tris.astype(np.int32), intent="NIFTI_INTENT_TRIANGLE",
                                     datatype="NIFTI_TYPE_INT32")
    img = nib.gifti.GiftiImage(darrays=[coords, faces])
    return _atomic(path, lambda tmp: nib.save(img, tmp), suffix=".gii")


def export_curv(path, scene_or_values, n_faces=None):
    """Write one value per vertex (V/m) in FreeSurfer curv format (``nibabel.freesurfer.write_morph_data``).

    Parameters
    ----------
    path : str or Path
        e.g. ``lh.efield`` (FreeSurfer convention: no extension).
    scene_or_values : Scene or array_like (V,) / (V, 3)
    n_faces : int, optional
        Number of triangles of the surface (stored in the header); taken from a scene.

    Examples
    --------
    >>> export_curv("lh.efield", np.ones(4), n_faces=4)   # doctest: +SKIP
    """
    from nibabel.freesurfer import write_morph_data

    from .scene import Scene

    vals, _, _ = _values_and_vectors(scene_or_values)
    require_finite(vals, "the values (V/m) at vertex", path)
    if isinstance(scene_or_values, Scene):
        n_faces = scene_or_values.cortex.n_cells
    return _atomic(path, lambda tmp: write_morph_data(tmp, vals.astype(np.float32), fnum=int(n_faces or 0)),
                   suffix=".curv")


def export_vtk(folder, scene, *, prefix="scene"):
    """Write every mesh of a scene as ``.vtp`` (plus a ``.vtm`` multiblock) into ``folder``.

    The cortex carries the point arrays ``value`` (V/m), ``rgb``, ``field_shown`` and
    ``efield`` (V, 3) V/m when available. Returns the ``.vtm`` path (ParaView opens it and
    loads the ``.vtp`` files it lists).

    Examples
    --------
    >>> export_vtk("out", scene)   # doctest: +SKIP
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"export folder {folder} does not exist; create it first")
    parts = {"cortex": scene.cortex, "scalp": scene.scalp, "coil": scene.coil, "coil_outline": scene.coil_outline,
             "handle_arrow": scene.handle_arrow, "current_arrow": scene.current_arrow,
             "target": scene.target_marker}
    entries = []
    for name, mesh in parts.items():
        if mesh is None:
            continue
        out = folder / f"{prefix}_{name}.vtp"
        m = mesh.copy()
        require_finite(np.asarray(m.points, float), f"the {name} mesh points (mm)", out)
        for key in m.point_data.keys():
            arr = np.asarray(m.point_data[key])
            if arr.dtype.kind == "f":
                require_finite(arr, f"the {name} point array {key!r} at", out)
        if name == "cortex":
            m.field_data["units"] = ["V/m"]
            m.field_data["quantity"] = [scene.quantity]
            m.field_data["clim_v_per_m"] = np.asarray(scene.clim, float)
        _atomic(out, lambda tmp, m=m: m.save(tmp), suffix=".vtp")
        entries.append(f'    <DataSet index="{len(entries)}" name="{name}" file="{out.name}"/>')
    xml = ('<?xml version="1.0"?>\n<VTKFile type="vtkMultiBlockDataSet" version="1.0">\n  <vtkMultiBlockDataSet>\n'
           + "\n".join(entries) + "\n  </vtkMultiBlockDataSet>\n</VTKFile>\n")
    vtm = folder / f"{prefix}.vtm"
    return _atomic(vtm, lambda tmp: Path(tmp).write_text(xml, encoding="utf-8"), suffix=".vtm")


def export_pose_json(path, result):
    """Write a placement result dict as JSON (schema ``tmsfield-placement/1``), atomically.

    Uses the targeting module's validating writer when available.
    """
    try:
        from ..targets import write_result
    except ImportError:
        write_result = None
    clean = {k: v for k, v in result.items() if k != "_path"}
    if write_result is not None:
        return Path(write_result(path, clean))

    def default(o):
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, np.generic):
            return o.item()
        raise TypeError(f"cannot write {type(o).__name__} to JSON")

    text = json.dumps(clean, indent=1, default=default) + "\n"
    return _atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"), suffix=".json")
