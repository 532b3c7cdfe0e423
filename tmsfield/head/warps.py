"""Nonlinear MNI ↔ subject warps: FSL FNIRT displacement fields, ANTs/ITK displacement fields, SimNIBS m2m warps.

Every supported file is a vector field sampled on a regular grid (its NIfTI affine, voxel → RAS mm). At load
time it is turned into one internal form: the *absolute* RAS position (mm) each grid point maps to. Points
are then mapped by trilinear interpolation of that field (exact for the identity part, so a displacement
field and its absolute form give the same answer), and the opposite direction by fixed-point iteration
(:meth:`Warp.inverse`).

Conventions read (each documented by its package; the code here is this project's own):

* **SimNIBS** ``m2m_<sub>/toMNI/MNI2Conform_nonl.nii.gz``: on the MNI grid, each voxel holds the *absolute*
  subject (T1 RAS) coordinate in mm; ``Conform2MNI_nonl.nii.gz``: on the subject grid, absolute MNI
  coordinates. The direction is taken from the file name.
* **ANTs / ITK** displacement field (``*Warp.nii.gz``, ``*InverseWarp.nii.gz``): a 5-D NIfTI
  (x, y, z, 1, 3), intent "vector"; each vector is a *displacement in LPS* mm (ITK's physical space)
  from a point of the field's grid (the fixed image) to its place in the moving image. For
  ``antsRegistration`` of a subject (moving) to MNI (fixed), ``…1Warp.nii.gz`` maps MNI points to the
  subject: direction ``"mni2subject"``. ITK/ANTs ``.h5`` transforms (a displacement field, alone or composed
  with affines, e.g. ``…Composite.h5``) are read by :mod:`tmsfield.head.itk_h5`.
* **FSL FNIRT** displacement field (``--fout``, or ``fnirtfileutils --withaff --out``; NIfTI intent 2006):
  4-D (x, y, z, 3) on the reference (MNI) grid, *relative* displacements in mm in FSL's scaled-voxel
  coordinates (``diag(pixdim) · voxel``, with the voxel x index reversed when the image's
  voxel → world determinant is positive), pointing into the input image's FSL coordinates. Turning
  those into world RAS needs the input image's header (``source=``: the subject T1 the warp was computed
  from). Cubic-spline coefficient files (``--cout``, intent 2007) on FSL's MNI152 grid are evaluated by
  :mod:`tmsfield.head.fnirt_coefficients`; DCT and quadratic ones are refused with the conversion command.

References: FSL FNIRT user guide ("--fout", "fnirtfileutils"); ANTs ``antsApplyTransforms`` / ITK
DisplacementFieldTransform documentation; SimNIBS documentation "Coordinates in SimNIBS" (MNI
transformations in ``m2m_<sub>/toMNI``).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import HeadFileError, InputError

__all__ = ["Warp", "load_warp", "write_displacement_field", "WARP_KINDS"]

WARP_KINDS = ("auto", "simnibs", "itk", "fsl", "absolute")
_DIRECTIONS = ("mni2subject", "subject2mni")
_LPS = np.diag([-1.0, -1.0, 1.0])


def _fsl_vox2fsl(img_affine, shape, zooms):
    """4x4 matrix voxel → FSL scaled-voxel mm (x index reversed for a positive-determinant affine)."""
    m = np.diag([float(zooms[0]), float(zooms[1]), float(zooms[2]), 1.0])
    if np.linalg.det(np.asarray(img_affine)[:3, :3]) > 0:
        flip = np.eye(4)
        flip[0, 0], flip[0, 3] = -1.0, shape[0] - 1.0
        m = m @ flip
    return m


def _fsl_source_to_ras(path, source):
    """4x4 FSL scaled-voxel mm → RAS mm of an FSL warp's input image ``source`` (the subject T1)."""
    if source is None:
        raise HeadFileError(f"warp file {path}: an FSL warp points into the input image's coordinates; give that "
                            f"image (the subject T1 of the registration) as source= (--mni-warp-source on the "
                            f"command line)")
    import nibabel as nib
    try:
        src = nib.load(str(source))
    except Exception as exc:
        raise HeadFileError(f"FSL warp source image {source}: cannot read it ({type(exc).__name__}: {exc})") from None
    return src.affine @ np.linalg.inv(_fsl_vox2fsl(src.affine, src.shape[:3], src.header.get_zooms()[:3]))


@dataclass(frozen=True)
class Warp:
    """A nonlinear point mapping sampled on a grid.

    Attributes
    ----------
    affine : ndarray (4, 4)
        The grid's voxel → RAS mm affine (the space the warp maps *from*).
    field : ndarray (nx, ny, nz, 3)
        Absolute RAS position (mm) that each grid point maps *to*.
    direction : {"mni2subject", "subject2mni"}
        What :meth:`map` does.
    kind : str
        File convention it was read from (``simnibs``, ``itk``, ``fsl``, ``absolute``).
    source : str
        File it came from.

    Examples
    --------
    >>> import numpy as np
    >>> g = np.stack(np.meshgrid(*[np.arange(5.0)] * 3, indexing="ij"), axis=-1)
    >>> w = Warp(np.eye(4), g + [1.0, 0.0, 0.0], "mni2subject", "absolute", "memory")
    >>> w.mni_to_subject([[2.0, 2.0, 2.0]]).tolist()
    [[3.0, 2.0, 2.0]]
    >>> np.round(w.subject_to_mni([[3.0, 2.0, 2.0]]), 6).tolist()
    [[2.0, 2.0, 2.0]]
    """

    affine: np.ndarray
    field: np.ndarray
    direction: str
    kind: str
    source: str

    def __post_init__(self):
        if self.direction not in _DIRECTIONS:
            raise InputError(f"warp {self.source}: direction must be one of {_DIRECTIONS}; got {self.direction!r}")
        f = np.asarray(self.field, float)
        if f.ndim != 4 or f.shape[3] != 3 or min(f.shape[:3]) < 2:
            raise HeadFileError(f"warp {self.source}: needs a 3-vector per voxel on a grid of at least 2 voxels "
                                f"per axis; got an array of shape {f.shape}")
        if not np.all(np.isfinite(f)):
            raise HeadFileError(f"warp {self.source}: holds NaN/Inf values; it is corrupt or was not written as "
                                f"a displacement/deformation field")
        a = np.asarray(self.affine, float)
        if a.shape != (4, 4) or not np.all(np.isfinite(a)):
            raise HeadFileError(f"warp {self.source}: its grid's voxel -> mm affine must be a finite 4x4 matrix")
        vox = np.linalg.norm(a[:3, :3], axis=0)
        if np.any(vox < 1e-3) or np.any(vox > 1e3) or abs(np.linalg.det(a[:3, :3])) < 1e-9 * np.prod(vox):
            raise HeadFileError(f"warp {self.source}: its grid's affine is degenerate (voxel sizes "
                                f"{np.round(vox, 6).tolist()} mm); the header is damaged or not a warp's")
        object.__setattr__(self, "field", f)
        object.__setattr__(self, "affine", a)

    def map(self, points):
        """Map points (N, 3) mm the way the file goes (``direction``), by trilinear interpolation.

        Raises
        ------
        InputError
            A point outside the warp's grid (the message names it and the grid's extent).
        """
        from scipy.ndimage import map_coordinates
        p = np.atleast_2d(np.asarray(points, float))
        if p.shape[1] != 3:
            raise InputError(f"points must be (N, 3) mm; got shape {p.shape}")
        vox = (np.linalg.inv(self.affine) @ np.column_stack([p, np.ones(len(p))]).T)[:3]
        n = np.asarray(self.field.shape[:3])
        out = (vox < -1e-6) | (vox > (n - 1)[:, None] + 1e-6)
        if out.any():
            bad = int(np.flatnonzero(out.any(axis=0))[0])
            lo = self.affine @ np.array([0, 0, 0, 1.0])
            hi = self.affine @ np.r_[n - 1, 1.0]
            raise InputError(f"warp {self.source}: point ({p[bad, 0]:.1f}, {p[bad, 1]:.1f}, {p[bad, 2]:.1f}) mm "
                             f"is outside the warp's grid (corners {np.round(lo[:3], 1).tolist()} and "
                             f"{np.round(hi[:3], 1).tolist()} mm); is it in the right space "
                             f"({self.direction.split('2')[0]})?")
        vox = np.clip(vox, 0, (n - 1)[:, None])
        return np.column_stack([map_coordinates(self.field[..., k], vox, order=1, mode="nearest")
                                for k in range(3)])

    def inverse(self, points, tol_mm=1e-4, max_iter=100):
        """Map points (N, 3) mm the opposite way: solve ``map(x) = y`` by fixed-point iteration.

        Starts from the least-squares affine inverse of the field and iterates ``x ← x − (map(x) − y)``
        (converges where the warp's Jacobian stays near the identity, as for brain registrations).

        Raises
        ------
        InputError
            No convergence within ``max_iter`` or a point whose preimage leaves the grid.
        """
        y = np.atleast_2d(np.asarray(points, float))
        n = self.field.shape[:3]
        ijk = np.stack(np.meshgrid(*[np.linspace(0, s - 1, min(s, 8)) for s in n], indexing="ij"), -1).reshape(-1, 3)
        src = (self.affine @ np.column_stack([ijk, np.ones(len(ijk))]).T)[:3].T
        dst = self.map(src)
        a, *_ = np.linalg.lstsq(np.column_stack([src, np.ones(len(src))]), dst, rcond=None)   # src → dst
        A = np.eye(4)
        A[:3, :] = a.T
        x = (np.linalg.inv(A) @ np.column_stack([y, np.ones(len(y))]).T)[:3].T
        err = np.inf
        for _ in range(int(max_iter)):
            r = self.map(x) - y
            err = float(np.max(np.linalg.norm(r, axis=1))) if len(r) else 0.0
            if err < tol_mm:
                return x
            x = x - r
        raise InputError(f"warp {self.source}: inverting it did not converge (residual {err:.3g} mm after "
                         f"{max_iter} iterations); give the warp of the opposite direction instead")

    def mni_to_subject(self, points):
        """MNI mm (N, 3) → subject mm (N, 3)."""
        return self.map(points) if self.direction == "mni2subject" else self.inverse(points)

    def subject_to_mni(self, points):
        """Subject mm (N, 3) → MNI mm (N, 3)."""
        return self.map(points) if self.direction == "subject2mni" else self.inverse(points)


def _grid_world(affine, shape):
    ijk = np.stack(np.meshgrid(*[np.arange(s, dtype=float) for s in shape], indexing="ij"), axis=-1)
    return ijk @ np.asarray(affine)[:3, :3].T + np.asarray(affine)[:3, 3]


def _load_nifti(path):
    import nibabel as nib
    try:
        img = nib.load(str(path))
        data = np.asarray(img.dataobj, dtype=float)
    except FileNotFoundError:
        raise HeadFileError(f"warp file {path} does not exist") from None
    except Exception as exc:  # nibabel raises many types for a broken file
        raise HeadFileError(f"warp file {path}: cannot read it as NIfTI ({type(exc).__name__}: {exc})") from None
    return img, data


def load_warp(path, kind="auto", direction="auto", source=None):
    """Read a nonlinear warp file.

    Parameters
    ----------
    path : str or Path
        ``.nii``/``.nii.gz`` warp (see the module docstring for each convention).
    kind : {"auto", "simnibs", "itk", "fsl", "absolute"}
        ``"auto"``: SimNIBS by file name (``MNI2Conform_nonl`` / ``Conform2MNI_nonl``), ITK by its 5-D
        vector layout, FSL by its NIfTI intent (2006). ``"absolute"``: a 4-D field of absolute RAS
        coordinates (as SimNIBS) under another name.
    direction : {"auto", "mni2subject", "subject2mni"}
        Which way the file maps points of its own grid. ``"auto"``: from a SimNIBS file name, else
        ``"mni2subject"`` (what FNIRT and antsRegistration write for a subject registered to MNI).
    source : str or Path, optional
        FSL only: the input image of the registration (the subject T1), whose header turns FSL's
        scaled-voxel coordinates into RAS mm.

    Returns
    -------
    Warp

    Raises
    ------
    HeadFileError
        Missing/unreadable file, wrong layout, an FSL coefficient file that is not read (DCT, quadratic, or
        not on the MNI152 grid; with the ``fnirtfileutils`` command that converts it), an ITK ``.h5`` without exactly one displacement field, FSL field without ``source``.

    Examples
    --------
    >>> load_warp("missing_warp.nii.gz")   # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    tmsfield.errors.HeadFileError: warp file missing_warp.nii.gz does not exist
    """
    p = Path(path)
    name = p.name.lower()
    if kind not in WARP_KINDS:
        raise InputError(f"warp kind must be one of {WARP_KINDS}; got {kind!r}")
    if direction not in ("auto",) + _DIRECTIONS:
        raise InputError(f"warp direction must be 'auto', 'mni2subject' or 'subject2mni'; got {direction!r}")
    if name.endswith((".h5", ".hdf5")):
        if kind not in ("auto", "itk"):
            raise HeadFileError(f"warp file {p}: an .h5 file is an ITK/ANTs transform; give kind='itk' or 'auto'")
        from .itk_h5 import read_itk_h5
        return read_itk_h5(p, "mni2subject" if direction == "auto" else direction)
    if not p.is_file():
        raise HeadFileError(f"warp file {p} does not exist")
    if not name.endswith((".nii", ".nii.gz")):
        raise HeadFileError(f"warp file {p}: expected a NIfTI (.nii/.nii.gz) displacement or deformation field")
    img, data = _load_nifti(p)
    intent = int(img.header.get("intent_code", 0)) if hasattr(img.header, "get") else 0
    simnibs_dir = "mni2subject" if "mni2conform" in name else "subject2mni" if "conform2mni" in name else None
    if kind == "auto":
        if simnibs_dir is not None:
            kind = "simnibs"
        elif data.ndim == 5:
            kind = "itk"
        elif intent in (2006, 2007, 2008, 2009):
            kind = "fsl"
        else:
            raise HeadFileError(f"warp file {p}: cannot tell its convention (shape {data.shape}, NIfTI intent "
                                f"{intent}); give kind='fsl' (FNIRT --fout), 'itk' (ANTs) or 'absolute' "
                                f"(absolute RAS coordinates, as SimNIBS) (--mni-warp-kind on the command line)")
    if direction == "auto":
        direction = simnibs_dir or "mni2subject"
    if intent == 2007 and kind in ("auto", "fsl"):                    # FNIRT --cout: cubic B-spline coefficients
        from .fnirt_coefficients import coefficient_warp
        aff, field = coefficient_warp(img, data, p, source)
        return Warp(aff, field, direction, "fsl-coefficients", str(p))
    if intent in (2008, 2009):
        raise HeadFileError(f"warp file {p} holds FNIRT {'DCT' if intent == 2008 else 'quadratic-spline'} "
                            f"coefficients (intent {intent}), which are not read (cubic splines are); convert it: "
                            f"fnirtfileutils --in={p.name} --ref=MNI152_T1_2mm --out=field --withaff (then give "
                            f"field.nii.gz)")
    aff = img.affine
    if kind == "itk":
        if data.ndim == 5 and data.shape[3] == 1:
            data = data[:, :, :, 0, :]
        if data.ndim != 4 or data.shape[3] != 3:
            raise HeadFileError(f"warp file {p}: an ITK displacement field is (x, y, z, 1, 3); got {data.shape}")
        field = _grid_world(aff, data.shape[:3]) + data @ _LPS.T      # LPS displacement → RAS
    elif kind in ("simnibs", "absolute"):
        if data.ndim == 5 and data.shape[3] == 1:
            data = data[:, :, :, 0, :]
        if data.ndim != 4 or data.shape[3] != 3:
            raise HeadFileError(f"warp file {p}: a deformation field is (x, y, z, 3) absolute RAS mm; got "
                                f"{data.shape}")
        field = data
    else:  # fsl
        if data.ndim != 4 or data.shape[3] != 3:
            raise HeadFileError(f"warp file {p}: an FSL displacement field is (x, y, z, 3); got {data.shape}")
        m = _fsl_source_to_ras(p, source)                              # input FSL mm → input RAS
        ref_v2f = _fsl_vox2fsl(aff, data.shape[:3], img.header.get_zooms()[:3])
        ijk = np.stack(np.meshgrid(*[np.arange(s, dtype=float) for s in data.shape[:3]], indexing="ij"), -1)
        fsl_ref = ijk @ ref_v2f[:3, :3].T + ref_v2f[:3, 3]
        fsl_in = fsl_ref + data
        field = fsl_in @ m[:3, :3].T + m[:3, 3]
    return Warp(aff, field, direction, kind, str(p))


def write_displacement_field(path, affine, absolute, kind="itk", source_affine=None, source_shape=None,
                             source_zooms=None):
    """Write a warp in one of the read conventions (for tests and for handing warps to other tools).

    Parameters
    ----------
    path : str or Path
        ``.nii.gz`` output.
    affine : ndarray (4, 4)
        Grid voxel → RAS mm.
    absolute : ndarray (nx, ny, nz, 3)
        Absolute RAS position (mm) each grid point maps to.
    kind : {"itk", "fsl", "simnibs", "absolute"}
    source_affine, source_shape, source_zooms
        FSL only: the input image's header (see :func:`load_warp`).

    Returns
    -------
    Path

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> g = np.stack(np.meshgrid(*[np.arange(4.0)] * 3, indexing="ij"), -1)
    >>> f = os.path.join(tempfile.mkdtemp(), "w.nii.gz")
    >>> _ = write_displacement_field(f, np.eye(4), g + 0.5, kind="itk")
    >>> load_warp(f).map([[1.0, 1.0, 1.0]]).round(6).tolist()
    [[1.5, 1.5, 1.5]]
    """
    import nibabel as nib
    absolute = np.asarray(absolute, float)
    aff = np.asarray(affine, float)
    if kind == "itk":
        disp = (absolute - _grid_world(aff, absolute.shape[:3])) @ _LPS.T
        img = nib.Nifti1Image(disp[:, :, :, None, :].astype(np.float32), aff)
        img.header.set_intent("vector")
    elif kind in ("simnibs", "absolute"):
        img = nib.Nifti1Image(absolute.astype(np.float32), aff)
    elif kind == "fsl":
        zooms = np.sqrt((aff[:3, :3] ** 2).sum(axis=0))
        ref_v2f = _fsl_vox2fsl(aff, absolute.shape[:3], zooms)
        src_v2f = _fsl_vox2fsl(source_affine, source_shape, source_zooms)
        m = src_v2f @ np.linalg.inv(np.asarray(source_affine, float))    # input RAS → input FSL mm
        fsl_in = absolute @ m[:3, :3].T + m[:3, 3]
        ijk = np.stack(np.meshgrid(*[np.arange(s, dtype=float) for s in absolute.shape[:3]], indexing="ij"), -1)
        disp = fsl_in - (ijk @ ref_v2f[:3, :3].T + ref_v2f[:3, 3])
        img = nib.Nifti1Image(disp.astype(np.float32), aff)
        img.header["intent_code"] = 2006
    else:
        raise InputError(f"kind must be 'itk', 'fsl', 'simnibs' or 'absolute'; got {kind!r}")
    nib.save(img, str(path))
    return Path(path)
