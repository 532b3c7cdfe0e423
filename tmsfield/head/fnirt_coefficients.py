"""FSL FNIRT coefficient files (``fnirt --cout``, NIfTI intent 2007: cubic B-spline) → a grid warp.

What the file holds (FNIRT's use of the NIfTI header, as FSL's technical report TR07JA2 and the fslpy
documentation describe it; the code here is this project's own):

* the data: (nx, ny, nz, 3) spline coefficients of the displacement (mm, FSL scaled-voxel coordinates of the
  reference, i.e. MNI, image) on a knot grid overlaid on the reference voxel grid;
* ``pixdim[1:4]``: the knot spacing in reference voxels; ``intent_p1..p3``: the reference voxel size (mm);
  the qform offsets: the reference image's shape; the sform: the initial affine (``fnirt --aff``, a FLIRT
  matrix from source to reference FSL coordinates).

The displacement at reference voxel x (per axis: i = x / spacing, u = i − ⌊i⌋) is
d(x) = Σ_{l,m,n=0..3} c[⌊i⌋+l, ⌊j⌋+m, ⌊k⌋+n] b_l(u) b_m(v) b_n(w), with the uniform cubic B-spline pieces
b_0 = (1−u)³/6, b_1 = (3u³ − 6u² + 4)/6, b_2 = (−3u³ + 3u² + 3u + 1)/6, b_3 = u³/6 (coefficient m is centred
on reference voxel (m − 1)·spacing). The source FSL coordinate of the reference point x_f is
A⁻¹ x_f + d(x) (A the initial affine, applied as ``fnirtfileutils --withaff`` does), then the source image's
header gives RAS mm.

The reference image's own header is not in the file; the FSL MNI152 templates (1 mm: 182×218×182, 2 mm:
91×109×91, as ``fnirt --ref=MNI152_T1_{1,2}mm``) are recognised from the shape and voxel size stored in it.
For another reference the message gives the ``fnirtfileutils`` command that writes a field instead.

References: Andersson, Jenkinson & Smith (2007) "Non-linear registration, aka spatial normalisation", FMRIB
technical report TR07JA2; Rueckert et al. (1999) IEEE TMI 18: 712–721 (cubic B-spline free-form deformations).
"""

import numpy as np

from ..errors import HeadFileError

__all__ = ["coefficient_warp", "bspline_basis_matrix", "MNI152_GRIDS"]

#: FSL's MNI152 templates: (shape, voxel mm) -> voxel → MNI RAS mm affine
MNI152_GRIDS = {
    ((182, 218, 182), 1.0): np.array([[-1.0, 0, 0, 90], [0, 1, 0, -126], [0, 0, 1, -72], [0, 0, 0, 1]]),
    ((91, 109, 91), 2.0): np.array([[-2.0, 0, 0, 90], [0, 2, 0, -126], [0, 0, 2, -72], [0, 0, 0, 1]]),
}


def _pieces(u):
    return np.stack([(1 - u) ** 3 / 6, (3 * u ** 3 - 6 * u ** 2 + 4) / 6, (-3 * u ** 3 + 3 * u ** 2 + 3 * u + 1) / 6,
                     u ** 3 / 6], axis=-1)


def bspline_basis_matrix(n_ref, n_coef, spacing):
    """Uniform cubic B-spline weights of ``n_coef`` FNIRT coefficients at reference voxels 0..n_ref−1.

    Parameters
    ----------
    n_ref, n_coef : int
        Reference voxels and coefficients along one axis.
    spacing : float
        Knot spacing in reference voxels.

    Returns
    -------
    ndarray (n_ref, n_coef)
        Row x holds b_l(u) in columns ⌊x/spacing⌋ + l (l = 0..3; columns past the grid dropped).

    Examples
    --------
    >>> m = bspline_basis_matrix(10, 7, 2.0)
    >>> np.allclose(m[2:9].sum(axis=1), 1.0)       # partition of unity where all four knots exist
    True
    """
    i = np.arange(n_ref) / float(spacing)
    fi = np.floor(i).astype(int)
    w = _pieces(i - fi)
    m = np.zeros((n_ref, n_coef))
    for lag in range(4):
        col = fi + lag
        ok = (col >= 0) & (col < n_coef)
        m[np.flatnonzero(ok), col[ok]] += w[ok, lag]
    return m


def coefficient_warp(img, data, path, source):
    """Evaluate a FNIRT cubic-spline coefficient file on its (MNI152) reference grid.

    Parameters
    ----------
    img : nibabel.Nifti1Image
        The coefficient file (intent 2007).
    data : ndarray (nx, ny, nz, 3)
        Its data.
    path : Path
        For messages.
    source : str or Path
        The registration's input image (subject T1), whose header turns FSL coordinates into RAS mm.

    Returns
    -------
    (affine, field)
        Reference voxel → MNI RAS mm, and the subject RAS position (mm) of every reference voxel.

    Raises
    ------
    HeadFileError
        Wrong layout, unknown reference grid, missing/unreadable source, a singular initial affine.

    Examples
    --------
    >>> coefficient_warp  # doctest: +ELLIPSIS
    <function coefficient_warp at ...>
    """
    from .warps import _fsl_source_to_ras, _fsl_vox2fsl

    convert = (f"convert it to a field: fnirtfileutils --in={path.name} --ref=REFERENCE.nii.gz --out=field "
               f"--withaff (then give field.nii.gz)")
    if data.ndim != 4 or data.shape[3] != 3 or min(data.shape[:3]) < 4:
        raise HeadFileError(f"warp file {path}: a FNIRT coefficient file is (x, y, z, 3) with at least 4 knots per "
                            f"axis; got {data.shape}")
    hdr = img.header
    spacing = np.asarray(hdr.get_zooms()[:3], float)
    ref_vox = np.array([float(hdr["intent_p1"]), float(hdr["intent_p2"]), float(hdr["intent_p3"])])
    q = hdr.get_qform(coded=False)
    ref_shape = tuple(int(round(v)) for v in q[:3, 3])
    if not (np.all(np.isfinite(spacing)) and np.all(spacing >= 1) and np.all(spacing <= 64)):
        raise HeadFileError(f"warp file {path}: knot spacing {spacing.tolist()} (voxels) is not plausible; {convert}")
    key = (ref_shape, float(np.round(ref_vox[0], 3)))
    if key not in MNI152_GRIDS or not np.allclose(ref_vox, ref_vox[0]):
        raise HeadFileError(f"warp file {path}: its reference grid {list(ref_shape)} at {ref_vox.tolist()} mm is "
                            f"not FSL's MNI152 1 mm or 2 mm template; {convert}")
    ref_aff = MNI152_GRIDS[key]
    m = _fsl_source_to_ras(path, source)                               # source FSL mm → source RAS
    premat = np.asarray(hdr.get_sform(coded=False), float)
    if not np.all(np.isfinite(premat)) or abs(np.linalg.det(premat[:3, :3])) < 1e-6:
        raise HeadFileError(f"warp file {path}: its initial affine (sform) is singular or not finite; {convert}")
    # displacement on the reference grid, separably: d = Bx ⊗ By ⊗ Bz applied to the coefficients
    bx, by, bz = (bspline_basis_matrix(n, c, s) for n, c, s in zip(ref_shape, data.shape[:3], spacing))
    d = np.einsum("xa,abcv->xbcv", bx, data)
    d = np.einsum("yb,xbcv->xycv", by, d)
    d = np.einsum("zc,xycv->xyzv", bz, d)
    ijk = np.stack(np.meshgrid(*[np.arange(s, dtype=float) for s in ref_shape], indexing="ij"), -1)
    ref_v2f = _fsl_vox2fsl(ref_aff, ref_shape, ref_vox)
    x_f = ijk @ ref_v2f[:3, :3].T + ref_v2f[:3, 3]                     # reference FSL mm
    inv = np.linalg.inv(premat)
    src_f = x_f @ inv[:3, :3].T + inv[:3, 3] + d                       # source FSL mm (fnirtfileutils --withaff)
    return ref_aff, src_f @ m[:3, :3].T + m[:3, 3]
