"""``load_head``: one entry point for templates, FreeSurfer/MNE subject folders, folders of GIFTI /
FreeSurfer surfaces, SimNIBS/gmsh ``.msh`` meshes and NIfTI/MGZ label volumes."""

import warnings
from pathlib import Path

import numpy as np

from ..errors import HeadFileError, InputError
from .head import BOUNDARY_NAMES, Head
from .io_msh import SIMNIBS_SURFACE_TAGS, read_msh
from .io_surface import read_surface
from .surface import Surface

__all__ = ["load_head", "MNI305_TO_MNI152", "read_talairach_xfm"]

#: MNI305 (fsaverage / FreeSurfer talairach) → MNI152 linear transform, from the FreeSurfer
#: "CoordinateSystems" documentation (also Wu et al. 2018, Hum Brain Mapp 39:3793, as the linear method).
MNI305_TO_MNI152 = np.array([
    [0.9975, -0.0073, 0.0176, -0.0429],
    [0.0146, 1.0009, -0.0024, 1.5496],
    [-0.0130, -0.0093, 0.9971, 1.1840],
    [0.0, 0.0, 0.0, 1.0],
])

# file names recognised in a folder, per boundary (first match wins)
_FOLDER_NAMES = {
    "scalp": ["scalp", "outer_skin", "head", "skin", "outer_skin_surface"],
    "skull_outer": ["skull_outer", "outer_skull", "outer_skull_surface"],
    "skull_inner": ["skull_inner", "inner_skull", "inner_skull_surface"],
    "csf": ["csf"],
    "gm": ["gm"],
    "wm": ["wm"],
    "brain": ["brain"],
}
_SURF_EXT = ["", ".surf", ".gii", ".gii.gz"]


def read_talairach_xfm(path):
    """Read a FreeSurfer/MNI ``talairach.xfm`` (``Linear_Transform`` 3x4) as a 4x4 affine.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "t.xfm")
    >>> _ = open(p, "w").write("MNI Transform File\\nTransform_Type = Linear;\\nLinear_Transform =\\n"
    ...                        "1 0 0 1\\n0 1 0 2\\n0 0 1 3;\\n")
    >>> read_talairach_xfm(p)[:3, 3].tolist()
    [1.0, 2.0, 3.0]
    """
    path = Path(path)
    try:
        text = path.read_text()
        body = text.split("Linear_Transform", 1)[1].split("=", 1)[1].replace(";", " ")
        vals = np.array(body.split()[:12], dtype=np.float64).reshape(3, 4)
    except (OSError, IndexError, ValueError):
        raise HeadFileError(f"{path}: not a readable MNI .xfm linear transform (needs 'Linear_Transform =' "
                            f"followed by 3 rows of 4 numbers)") from None
    m = np.vstack([vals, [0, 0, 0, 1]])
    if not np.all(np.isfinite(m)) or abs(np.linalg.det(m[:3, :3])) < 1e-6 or np.abs(m).max() > 1e6:
        raise HeadFileError(f"{path}: the linear transform {vals.tolist()} is not a finite invertible affine; "
                            f"re-run the talairach step (recon-all -talairach)")
    return m


def _find_surface_file(folder, stems):
    for sub in ("", "bem", "bem/watershed", "surfaces"):
        d = folder / sub if sub else folder
        if not d.is_dir():
            continue
        for stem in stems:
            for ext in _SURF_EXT:
                p = d / f"{stem}{ext}"
                if p.is_file():
                    return p
            # MNE watershed / prefixed names: <subject>_outer_skin_surface, <subject>-head.surf ...
            for p in sorted(d.glob(f"*_{stem}*")):
                if p.is_file() and not p.name.endswith((".fif", ".txt")):
                    return p
    return None


def _fs_cortex(folder):
    """Mid-thickness cortex (both hemispheres) and sulc from <subject>/surf, or (None, None, cras)."""
    import nibabel.freesurfer as fs
    surf = folder / "surf"
    if not all((surf / f"{h}.{s}").is_file() for h in ("lh", "rh") for s in ("pial", "white")):
        return None, None, None
    from .io_surface import read_freesurfer_surface
    verts, tris, sulc, off, cras = [], [], [], 0, None
    for h in ("lh", "rh"):
        pial, white = surf / f"{h}.pial", surf / f"{h}.white"
        p = read_freesurfer_surface(pial, units="mm")        # bounded, checked; errors name the file
        w = read_freesurfer_surface(white, units="mm")
        if w.vertices.shape != p.vertices.shape:
            raise HeadFileError(f"{white}: {w.n_vertices} vertices but {pial} has {p.n_vertices}; pial and white "
                                f"surfaces must match vertex for vertex — re-run recon-all")
        try:
            with warnings.catch_warnings():     # files without volume info are fine (no c_ras then)
                warnings.simplefilter("ignore", UserWarning)
                meta = fs.read_geometry(str(pial), read_metadata=True)[2]
            if "cras" in meta:
                cras = np.asarray(meta["cras"], dtype=np.float64).reshape(3)
        except Exception as exc:
            raise HeadFileError(f"{pial}: unreadable volume information ({type(exc).__name__}: {exc})") from None
        if cras is not None and not np.all(np.isfinite(cras)):
            raise HeadFileError(f"{pial}: the volume information's c_ras is not finite ({cras.tolist()})")
        verts.append(0.5 * (p.vertices + w.vertices))
        tris.append(p.triangles + off)
        off += p.n_vertices
        sp = surf / f"{h}.sulc"
        sulc.append(_read_sulc(sp, p.n_vertices) if sp.is_file() else np.zeros(p.n_vertices))
    return Surface(np.vstack(verts), np.vstack(tris), name="cortex"), np.concatenate(sulc), cras


def _read_sulc(path, n_vertices):
    """A FreeSurfer morphometry file (``lh.sulc``) with ``n_vertices`` finite values; HeadFileError naming it."""
    data = path.read_bytes()
    magic = int.from_bytes(data[:3], "big") if len(data) >= 3 else -1
    if magic == 16777215:                                   # new format: magic, vnum, fnum, values/vertex, >f4
        n = int.from_bytes(data[3:7], "big", signed=True) if len(data) >= 15 else -1
        start, dtype, scale = 15, ">f4", 1.0
    else:                                                   # old format: 3-byte vnum, 3-byte fnum, >i2 / 100
        n, start, dtype, scale = magic, 6, ">i2", 0.01
    if n != n_vertices or len(data) < start + n * np.dtype(dtype).itemsize:
        raise HeadFileError(f"{path}: not a morphometry file with one value per vertex of the surface "
                            f"({n_vertices}); the file announces {n} values in {len(data)} bytes — re-run recon-all "
                            f"or delete it (sulc is optional)")
    vals = np.frombuffer(data, dtype=dtype, count=n, offset=start).astype(np.float64) * scale
    if not np.all(np.isfinite(vals)):
        raise HeadFileError(f"{path}: holds NaN or inf values; re-run recon-all or delete it (sulc is optional)")
    return vals


def _landmarks_from_mni(scalp, mni_transform):
    """Template MNI landmarks mapped into the subject and snapped to its scalp."""
    from .eeg import closest_point_on_surface
    from .template import load_template
    t = load_template("mni152_3shell")      # same landmarks as every template, fewest triangles to read
    pts = np.vstack([t.landmarks[k] for k in ("nasion", "inion", "lpa", "rpa")])
    inv = np.linalg.inv(mni_transform)
    subj = pts @ inv[:3, :3].T + inv[:3, 3]
    snapped = closest_point_on_surface(scalp, subj)
    return dict(zip(("nasion", "inion", "lpa", "rpa"), snapped))


def _finish(boundaries, tissues, source, name, landmarks, mni_transform, cortex=None, curvature=None):
    if landmarks is None and mni_transform is not None:
        landmarks = _landmarks_from_mni(boundaries[0], mni_transform)
    return Head.from_surfaces(boundaries, tissues=tissues, cortex=cortex, landmarks=landmarks,
                              mni_transform=mni_transform, cortex_curvature=curvature, name=name, source=source)


def load_head(path_or_name="mni152", landmarks=None, mni_transform=None, units="auto", tissue_labels="simnibs",
              edge_length_mm=None, extra_tissues="map", tissue_map=None):
    """Load a head model from a template name or a file/folder, picking the loader.

    Parameters
    ----------
    path_or_name : str or Path
        * a bundled template (MNI152 space): ``"mni152"`` (default; five tissues scalp, skull, csf, gm, wm, folded
          grey/white matter, 363,732 triangles), ``"mni152_3shell"`` (scalp, skull, lumped brain; 36,052
          triangles), ``"mni152_3shell_coarse"`` (15,520 triangles; alias ``"mni152_coarse"``);
        * a FreeSurfer subject folder with ``surf/{lh,rh}.{pial,white}`` and the BEM surfaces
          (``bem/watershed/*_outer_skin_surface`` ... or ``bem/outer_skin.surf`` ...): five tissues
          scalp | skull | CSF | GM | WM in scanner RAS, mid-thickness cortex, ``talairach.xfm`` → MNI
          transform; see :mod:`tmsfield.head.freesurfer`;
        * a folder: MNE subject with BEM surfaces only (``bem/outer_skin.surf``, ``outer_skull.surf``,
          ``inner_skull.surf``, optional ``mri/transforms/talairach.xfm`` → MNI transform; surfaces as
          stored), or a folder of surfaces named
          ``scalp``, ``skull_outer``, ``skull_inner``, ``csf``, ``gm``, ``wm``, ``brain``
          (``.gii``, ``.surf`` or FreeSurfer geometry), plus optional ``cortex.gii``;
        * a SimNIBS charm folder ``m2m_<subject>/`` (``<subject>.msh``, optional ``eeg_positions/``,
          ``toMNI/``, ``surfaces/``): see :func:`tmsfield.head.charm.load_m2m`;
        * ``*.msh``: SimNIBS/gmsh 2.2 mesh. With tetrahedra (charm, tags 1..10): tissue boundaries
          extracted from them, each triangle with the tissues on its two sides (:attr:`Head.sides`),
          see :mod:`tmsfield.head.charm`. Without (surfaces only): boundary triangles tagged 1005 scalp,
          1004 skull outer, 1003 skull inner (1002 grey matter, 1001 white matter);
        * ``*.nii``, ``*.nii.gz``, ``*.mgz``: label volume → surfaces (see
          :func:`tmsfield.head.surfaces_from_label_volume`).
    landmarks : dict, optional
        ``nasion, inion, lpa, rpa`` → (3,) mm. Default: the template's MNI landmarks mapped through
        ``mni_transform`` (when known) and snapped to the scalp.
    mni_transform : array_like (4, 4), optional
        Subject → MNI152 affine (mm). FreeSurfer folders read ``talairach.xfm`` (MNI305) and convert.
    units : {"auto", "mm", "m"}
        Unit of surface coordinates; ``"auto"`` (default) decides from the scalp extent (150–250 mm vs
        0.15–0.25 m) and refuses anything ambiguous.
    tissue_labels, edge_length_mm
        For label volumes, see :func:`tmsfield.head.surfaces_from_label_volume`.
    extra_tissues, tissue_map
        For charm meshes: map SimNIBS' extra tissues (eyes, compact/spongy bone, blood, muscle) onto the
        five (``"map"``, default) or keep them (``"keep"``); per-tag / per-tissue overrides. See
        :func:`tmsfield.head.charm.head_from_tetrahedra`.

    Returns
    -------
    Head

    Raises
    ------
    HeadFileError
        Missing file/folder, unknown format, unreadable content; the message names the file and the fix.
    MeshError
        Surfaces with holes, flipped normals or not nested.

    Examples
    --------
    >>> head = load_head()            # the bundled MNI152 template
    >>> head.name
    'mni152'
    """
    from .template import TEMPLATES, load_template
    if isinstance(path_or_name, str) and path_or_name.lower() in TEMPLATES:
        return load_template(path_or_name.lower())
    if not isinstance(path_or_name, (str, Path)):
        raise InputError(f"load_head expects a template name ({', '.join(TEMPLATES)}) or a path; "
                         f"got {type(path_or_name).__name__}")
    path = Path(path_or_name)
    if not path.exists():
        raise HeadFileError(f"head not found: {path} is neither a template name ({', '.join(TEMPLATES)}) "
                            f"nor an existing file or folder")
    name = path.name.split(".")[0] or "head"
    if path.is_dir():
        from .charm import is_m2m_folder, load_m2m
        if is_m2m_folder(path) is not None:
            return load_m2m(path, extra_tissues=extra_tissues, tissue_map=tissue_map, landmarks=landmarks,
                            mni_transform=mni_transform, units=units)
        return _load_folder(path, name, landmarks, mni_transform, units)
    suffix = "".join(path.suffixes[-2:]).lower()
    if path.suffix.lower() == ".msh":
        surfs, vol = read_msh(path)
        if vol is not None:
            from .charm import head_from_tetrahedra
            from .mesh_tools import detect_units_scale
            return head_from_tetrahedra(vol.nodes * detect_units_scale(vol.nodes, path, units), vol.tetrahedra,
                                        vol.tags, extra_tissues=extra_tissues, tissue_map=tissue_map, name=name,
                                        source=str(path), landmarks=landmarks, mni_transform=mni_transform)
        boundaries = []
        for tag in sorted(SIMNIBS_SURFACE_TAGS, reverse=True):
            if tag in surfs:
                s = surfs[tag]
                boundaries.append(Surface(s.vertices, s.triangles, name=SIMNIBS_SURFACE_TAGS[tag]))
        if not boundaries or boundaries[0].name != "scalp":
            raise HeadFileError(f"{path}: no scalp surface (triangles tagged 1005) among tags {sorted(surfs)}; "
                                f"a SimNIBS head mesh carries tags 1001..1005")
        boundaries = _rescale(boundaries, path, units)
        # innermost SimNIBS boundary 1003 encloses CSF+GM+WM: lumped brain unless gm/wm follow
        tissues = None
        if [b.name for b in boundaries] == ["scalp", "skull_outer", "skull_inner"]:
            tissues = ("scalp", "skull", "brain")
        elif "skull_inner" in [b.name for b in boundaries] and len(boundaries) > 3:
            tissues = tuple({"scalp": "scalp", "skull_outer": "skull", "skull_inner": "csf", "gm": "gm",
                             "wm": "wm"}[b.name] for b in boundaries)
        return _finish(boundaries, tissues, str(path), name, landmarks, mni_transform)
    if suffix.endswith((".nii", ".nii.gz", ".mgz", ".mgh")):
        from .volume import surfaces_from_label_volume
        boundaries, tissues = surfaces_from_label_volume(path, tissue_labels=tissue_labels,
                                                         edge_length_mm=edge_length_mm)
        return _finish(boundaries, tissues, str(path), name, landmarks, mni_transform)
    if suffix.endswith((".gii", ".gii.gz", ".surf")) or path.name.startswith(("lh.", "rh.")):
        raise HeadFileError(f"{path} is a single surface; a head needs the scalp and at least one brain boundary. "
                            f"Put the surfaces in one folder named scalp/skull_outer/skull_inner (.gii or .surf) "
                            f"and load the folder, or build the head with Head.from_surfaces([...])")
    raise HeadFileError(f"{path}: unknown head format {path.suffix!r}; use a template name, a folder of surfaces, "
                        f"a SimNIBS .msh, or a label volume (.nii/.nii.gz/.mgz)")


def _rescale(boundaries, source, units):
    """Scale all surfaces to mm, deciding from the scalp (first surface) when ``units="auto"``."""
    from .mesh_tools import detect_units_scale
    scale = detect_units_scale(boundaries[0].vertices, source, units)
    if scale == 1.0:
        return list(boundaries)
    return [Surface(b.vertices * scale, b.triangles, b.name) for b in boundaries]


def _load_folder(folder, name, landmarks, mni_transform, units):
    from .freesurfer import is_freesurfer_subject, load_freesurfer_subject
    if is_freesurfer_subject(folder):          # five tissues, scanner RAS (tmsfield.head.freesurfer)
        return load_freesurfer_subject(folder, landmarks=landmarks, mni_transform=mni_transform)
    found = {}
    for bname in BOUNDARY_NAMES:
        p = _find_surface_file(folder, _FOLDER_NAMES[bname])
        if p is not None:
            found[bname] = p
    if "scalp" not in found or len(found) < 2:
        raise HeadFileError(f"{folder}: no head surfaces found (need a scalp and at least one brain boundary, named "
                            f"e.g. scalp.gii / bem/outer_skin.surf, skull_outer / outer_skull, skull_inner / "
                            f"inner_skull); found {sorted(found)}")
    raw = [read_surface(p, name=b, units="mm") for b, p in found.items()]
    cortex, curvature, cras = _fs_cortex(folder)
    if cortex is None:
        cp = _find_surface_file(folder, ["cortex", "midthickness"])
        if cp is not None:
            cortex = read_surface(cp, name="cortex", units="mm")
    scaled = _rescale(raw + ([cortex] if cortex is not None else []), folder, units)
    boundaries = scaled[:len(raw)]
    cortex = scaled[-1] if cortex is not None else None
    lm_file = folder / "landmarks.json"      # written by tmsfield.head.from_t1 (`tmsfield head T1 -o DIR`)
    if landmarks is None and lm_file.is_file():
        landmarks = _read_landmarks_json(lm_file)
    xfm = folder / "mri" / "transforms" / "talairach.xfm"
    if mni_transform is None and xfm.is_file():
        # FreeSurfer: surfaces in surface (tkr) RAS; scanner = tkr + c_ras; talairach.xfm: scanner -> MNI305
        shift = np.eye(4)
        if cras is not None:
            shift[:3, 3] = cras
        mni_transform = MNI305_TO_MNI152 @ read_talairach_xfm(xfm) @ shift
    source = str(folder)
    return _finish(boundaries, None, source, name, landmarks, mni_transform, cortex, curvature)


def _read_landmarks_json(path):
    """``{nasion, inion, lpa, rpa: [x, y, z]}`` (mm) from a folder's ``landmarks.json``."""
    import json
    try:
        with open(path) as f:
            raw = json.load(f)
        raw = raw.get("landmarks_mm", raw)
        return {k: np.asarray(raw[k], dtype=np.float64).reshape(3) for k in ("nasion", "inion", "lpa", "rpa")}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise HeadFileError(f"{path}: not a landmarks file ({type(exc).__name__}: {exc}); it needs nasion, inion, "
                            f"lpa, rpa as [x, y, z] mm") from None
