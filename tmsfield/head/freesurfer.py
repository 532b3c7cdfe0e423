"""FreeSurfer subjects as five-tissue heads: ``bem/`` watershed surfaces + ``surf/{lh,rh}.{pial,white}``.

A subject folder (``$SUBJECTS_DIR/<subject>``) with

* the BEM surfaces of MNE's watershed (``bem/watershed/<subject>_outer_skin_surface``,
  ``_outer_skull_surface``, ``_inner_skull_surface``) or their copies ``bem/outer_skin.surf``,
  ``outer_skull.surf``, ``inner_skull.surf``, and
* the cortical surfaces ``surf/lh.pial``, ``rh.pial``, ``lh.white``, ``rh.white`` (recon-all),

becomes the head scalp | skull | CSF | GM | WM: boundaries ``scalp`` (outer skin), ``skull_outer``,
``skull_inner`` (CSF inside: the CSF fills the space between the inner skull and the pial surface),
``gm`` (both pial surfaces) and ``wm`` (both white surfaces). The reporting cortex is the mid-thickness
surface (mean of pial and white, vertex by vertex) with ``?h.sulc`` as curvature when present, and
``mri/transforms/talairach.xfm`` gives the MNI transform (MNI305, converted to MNI152).

**Coordinates.** FreeSurfer surfaces are in *tkregister* (surface) RAS; tmsfield returns scanner RAS (the
space of the T1 NIfTI, of neuronavigation and of SimNIBS): scanner = tkr + c_ras. The c_ras of each surface
is the one in its own volume information (the ``cras`` line recon-all and MNE write); a surface without
one takes the subject's: that of the pial/white surfaces, else of ``mri/orig.mgz``, else of ``mri/T1.mgz``
(``vox2ras · vox2ras_tkr⁻¹``). When none is available the surfaces are kept as they are (c_ras = 0, i.e.
tkr = scanner) and a warning says so. ``talairach.xfm`` maps scanner RAS to MNI305.

**Medial wall.** Where the cortex has no thickness (the medial wall, where recon-all leaves the pial
surface on the white one), pial and white triangles would coincide — two boundaries on top of each other.
There the pial triangles are dropped and the white triangles get the sides (``wm``, ``csf``): white matter
meets the CSF directly, a tissue junction (:attr:`Head.sides`), checked for consistency like any other.
"""

import warnings
from pathlib import Path

import numpy as np

from ..errors import HeadFileError
from .head import Head
from .surface import Surface

__all__ = ["is_freesurfer_subject", "load_freesurfer_subject", "subject_cras", "MEDIAL_WALL_MM"]

#: pial–white distance (mm) below which a vertex counts as having no cortical thickness
MEDIAL_WALL_MM = 1e-3


def is_freesurfer_subject(folder):
    """True when ``folder`` has ``surf/{lh,rh}.{pial,white}`` and the three BEM surfaces.

    Examples
    --------
    >>> is_freesurfer_subject(".")
    False
    """
    from .loaders import _FOLDER_NAMES, _find_surface_file
    folder = Path(folder)
    surf = folder / "surf"
    if not all((surf / f"{h}.{s}").is_file() for h in ("lh", "rh") for s in ("pial", "white")):
        return False
    return all(_find_surface_file(folder, _FOLDER_NAMES[b]) is not None
               for b in ("scalp", "skull_outer", "skull_inner"))


def _own_cras(path):
    """The c_ras of a FreeSurfer surface's volume information, or None."""
    import nibabel.freesurfer as fs
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            meta = fs.read_geometry(str(path), read_metadata=True)[2]
    except Exception as exc:
        raise HeadFileError(f"{path}: unreadable volume information ({type(exc).__name__}: {exc}); re-run "
                            f"recon-all / mne watershed_bem, or write the surface again") from None
    if "cras" not in meta:
        return None
    c = np.asarray(meta["cras"], dtype=np.float64).reshape(-1)
    if c.shape != (3,) or not np.all(np.isfinite(c)) or np.abs(c).max() > 1000:
        raise HeadFileError(f"{path}: the volume information's c_ras {c.tolist()} is not 3 finite numbers (mm)")
    return c


def subject_cras(folder):
    """(c_ras (3,) mm, where it came from) of a subject: pial/white volume info, orig.mgz, T1.mgz, or (0, "none").

    Examples
    --------
    >>> subject_cras(".")[1]
    'none'
    """
    folder = Path(folder)
    for h in ("lh", "rh"):
        for s in ("pial", "white"):
            p = folder / "surf" / f"{h}.{s}"
            if p.is_file():
                c = _own_cras(p)
                if c is not None:
                    return c, f"{p} (volume info)"
    for name in ("orig.mgz", "T1.mgz"):
        p = folder / "mri" / name
        if p.is_file():
            import nibabel as nib
            try:
                img = nib.load(str(p))
                m = img.header.get_vox2ras() @ np.linalg.inv(img.header.get_vox2ras_tkr())
            except Exception as exc:
                raise HeadFileError(f"{p}: cannot read its header for c_ras ({type(exc).__name__}: {exc}); "
                                    f"re-run recon-all or remove the file") from None
            c = m[:3, 3]
            if not np.all(np.isfinite(c)) or not np.allclose(m[:3, :3], np.eye(3), atol=1e-4):
                raise HeadFileError(f"{p}: vox2ras · vox2ras_tkr⁻¹ is not a shift ({np.round(m, 4).tolist()}); "
                                    f"is it a conformed FreeSurfer volume?")
            return c, str(p)
    return np.zeros(3), "none"


def load_freesurfer_subject(folder, landmarks=None, mni_transform=None):
    """Five-tissue head of a FreeSurfer subject folder (see the module docstring).

    Parameters
    ----------
    folder : str or Path
        ``$SUBJECTS_DIR/<subject>`` with ``surf/`` and ``bem/``.
    landmarks : dict, optional
        ``nasion, inion, lpa, rpa`` → (3,) mm in **scanner RAS**; default: the template's, through the MNI
        transform, snapped to the scalp.
    mni_transform : array_like (4, 4), optional
        Scanner RAS → MNI152 affine; default from ``mri/transforms/talairach.xfm``.

    Returns
    -------
    Head
        Boundaries scalp, skull_outer, skull_inner, gm, wm (tissues scalp, skull, csf, gm, wm), in scanner
        RAS mm; ``sides`` set when the medial wall makes a WM/CSF junction.

    Raises
    ------
    HeadFileError
        A missing/unreadable file, pial and white of different vertex counts, bad c_ras.
    MeshError
        Surfaces open, flipped, not nested (pial outside the inner skull ...), inconsistent sides.

    Examples
    --------
    >>> load_freesurfer_subject("no_such_subject")   # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    tmsfield.errors.HeadFileError: no_such_subject is not a FreeSurfer subject
    """
    from .io_surface import read_freesurfer_surface, read_surface
    from .loaders import (MNI305_TO_MNI152, _FOLDER_NAMES, _find_surface_file, _finish, _read_sulc,
                          read_talairach_xfm)
    folder = Path(folder)
    if not is_freesurfer_subject(folder):
        raise HeadFileError(f"{folder} is not a FreeSurfer subject with BEM surfaces: it needs surf/lh.pial, rh.pial, "
                            f"lh.white, rh.white and bem/outer_skin, outer_skull, inner_skull surfaces (run "
                            f"`mne watershed_bem -s <subject>`)")
    cras, cras_from = subject_cras(folder)
    if cras_from == "none":
        warnings.warn(f"{folder}: no c_ras found (no volume information in the surfaces, no mri/orig.mgz or "
                      f"T1.mgz); the surfaces are taken as scanner RAS (c_ras = 0)", UserWarning, stacklevel=3)

    def shifted(p, name, fs_reader=False):
        s = read_freesurfer_surface(p, name=name, units="mm") if fs_reader else read_surface(p, name=name, units="mm")
        own = _own_cras(p) if not str(p).endswith((".gii", ".gii.gz")) else None
        c = own if own is not None else cras
        return Surface(s.vertices + c, s.triangles, name)

    outer = [shifted(_find_surface_file(folder, _FOLDER_NAMES[b]), b) for b in ("scalp", "skull_outer", "skull_inner")]
    pial_v, pial_t, white_v, white_t, flat, sulc, off = [], [], [], [], [], [], 0
    for h in ("lh", "rh"):
        pp, wp = folder / "surf" / f"{h}.pial", folder / "surf" / f"{h}.white"
        p = shifted(pp, "gm", fs_reader=True)
        w = shifted(wp, "wm", fs_reader=True)
        if w.n_vertices != p.n_vertices or not np.array_equal(w.triangles, p.triangles):
            raise HeadFileError(f"{wp}: {w.n_vertices} vertices but {pp} has {p.n_vertices} (or other triangles); "
                                f"pial and white surfaces must match vertex for vertex — re-run recon-all")
        thin = np.linalg.norm(p.vertices - w.vertices, axis=1) < MEDIAL_WALL_MM
        pv = np.where(thin[:, None], w.vertices, p.vertices)          # exactly on the white surface there
        pial_v.append(pv)
        white_v.append(w.vertices)
        pial_t.append(p.triangles + off)
        white_t.append(w.triangles + off)
        flat.append(thin[p.triangles].all(axis=1))
        sp = folder / "surf" / f"{h}.sulc"
        sulc.append(_read_sulc(sp, p.n_vertices) if sp.is_file() else np.zeros(p.n_vertices))
        off += p.n_vertices
    pial_v, white_v = np.vstack(pial_v), np.vstack(white_v)
    pial_t, white_t, flat = np.vstack(pial_t), np.vstack(white_t), np.concatenate(flat)
    cortex = Surface(0.5 * (pial_v + white_v), pial_t, name="cortex")
    curvature = np.concatenate(sulc)
    xfm = folder / "mri" / "transforms" / "talairach.xfm"
    if mni_transform is None and xfm.is_file():
        mni_transform = MNI305_TO_MNI152 @ read_talairach_xfm(xfm)   # talairach.xfm: scanner RAS -> MNI305
    source, name = str(folder), folder.name or "head"
    wm = Surface(white_v, white_t, "wm")
    tissues = ("scalp", "skull", "csf", "gm", "wm")
    if not flat.any():
        gm = Surface(pial_v, pial_t, "gm")
        return _finish(outer + [gm, wm], tissues, source, name, landmarks, mni_transform, cortex, curvature)
    if flat.all():
        raise HeadFileError(f"{folder}: the pial and white surfaces coincide everywhere (no cortical thickness); "
                            f"re-run recon-all (the pial surface is missing)")
    gm = Surface(pial_v, pial_t[~flat], "gm")
    return _sided_head(outer, gm, wm, flat, tissues, source, name, landmarks, mni_transform, cortex, curvature)


def _sided_head(outer, gm, wm, flat, tissues, source, name, landmarks, mni_transform, cortex, curvature):
    """A head whose white surface meets the CSF where the pial triangles were dropped (medial wall)."""
    from dataclasses import replace
    from .head import _check_inside
    from .junctions import check_head_sides
    from .loaders import _finish
    sides = []
    for s, pair in zip(outer, (("scalp", "air"), ("skull", "scalp"), ("csf", "skull"))):
        sides.append(np.tile(np.array(pair, dtype="<U16"), (s.n_triangles, 1)))
    sides.append(np.tile(np.array(("gm", "csf"), dtype="<U16"), (gm.n_triangles, 1)))
    w = np.tile(np.array(("wm", "gm"), dtype="<U16"), (wm.n_triangles, 1))
    w[flat] = ("wm", "csf")
    sides.append(w)
    for a in sides:
        a.setflags(write=False)
    # the closed outer shells: nested checks of the usual head; then the cortex inside the inner skull
    base = _finish(outer, tissues[:3], source, name, landmarks, mni_transform)
    _check_inside(outer[2], gm.vertices, f"{source}: the pial surfaces", "'skull_inner'")
    head = replace(base, boundaries=tuple(outer) + (gm, wm), tissues=tissues, sides=tuple(sides), cortex=cortex,
                   cortex_curvature=np.asarray(curvature, dtype=np.float64))
    check_head_sides(head)
    return head
