"""ITK HDF5 transform files (``.h5``, as ``antsRegistration --write-composite-transform`` writes) → a grid warp.

Layout read (ITK's HDF5 transform I/O, as documented by ITK; the code here is this project's own):
``/TransformGroup/<k>/TransformType`` (a string such as ``DisplacementFieldTransform_double_3_3``),
``/TransformGroup/<k>/TransformParameters`` and ``.../TransformFixedParameters`` (float arrays), k = 0, 1, ...

* A **composite** file has ``CompositeTransform_*`` in group 0 and its components in groups 1..n, in ITK's queue
  order: a point is transformed by the *last* component first (ITK ``CompositeTransform``).
* ``DisplacementFieldTransform``: fixed parameters = size (3), origin (3), spacing (3), direction (3×3, row by
  row), all in ITK's LPS physical space; parameters = one LPS displacement (mm) per grid point, x fastest.
* ``AffineTransform`` / ``MatrixOffsetTransformBase`` (12 parameters: the 3×3 matrix row by row, then the
  translation; fixed parameters = the centre c): ``y = M (x − c) + t + c`` in LPS.

The composite (at most one displacement field, any affine components before or after it) is sampled on the
displacement field's grid (pulled back through the affines applied before the field), giving the absolute
RAS positions of :class:`tmsfield.head.warps.Warp`.

References: ITK Software Guide, "Transforms" and "Reading and writing transforms" (HDF5TransformIO);
Avants et al. (2011) NeuroImage 54: 2033–2044 (ANTs).
"""

from pathlib import Path

import numpy as np

from ..errors import HeadFileError

__all__ = ["read_itk_h5"]

_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])     # LPS <-> RAS (its own inverse)


def _affine_component(kind, params, fixed, where):
    if params.size != 12:
        raise HeadFileError(f"{where}: {kind} needs 12 parameters (3x3 matrix + translation); got {params.size}")
    c = fixed[:3] if fixed.size >= 3 else np.zeros(3)
    m = params[:9].reshape(3, 3)
    out = np.eye(4)
    out[:3, :3] = m
    out[:3, 3] = params[9:12] + c - m @ c
    return out                                   # LPS → LPS, 4x4


def _field_component(kind, params, fixed, where):
    if fixed.size != 18:
        raise HeadFileError(f"{where}: {kind} fixed parameters must be size, origin, spacing and direction "
                            f"(18 numbers); got {fixed.size}")
    size = fixed[:3]
    if np.any(size < 2) or np.any(size != np.round(size)) or np.prod(size) > 512 ** 3:
        raise HeadFileError(f"{where}: {kind} grid size {size.tolist()} is not a plausible 3-D grid")
    n = size.astype(int)
    if params.size != 3 * int(np.prod(n)):
        raise HeadFileError(f"{where}: {kind} holds {params.size} numbers; a {n.tolist()} grid of 3-vectors needs "
                            f"{3 * int(np.prod(n))} (file truncated?)")
    origin, spacing, direction = fixed[3:6], fixed[6:9], fixed[9:18].reshape(3, 3)
    if np.any(spacing <= 0) or abs(np.linalg.det(direction)) < 1e-6:
        raise HeadFileError(f"{where}: {kind} has a degenerate grid (spacing {spacing.tolist()}, direction "
                            f"determinant {np.linalg.det(direction):.3g})")
    grid = np.eye(4)                             # voxel index → LPS mm
    grid[:3, :3] = direction @ np.diag(spacing)
    grid[:3, 3] = origin
    disp = params.reshape(n[2], n[1], n[0], 3).transpose(2, 1, 0, 3)     # x fastest → (nx, ny, nz, 3)
    return grid, disp


_H5_ERRORS = (OSError, RuntimeError, KeyError, ValueError, TypeError, IndexError, SystemError, AttributeError)


def _read_groups(p):
    """The file's transform groups; a damaged HDF5 file (h5py raises many types) becomes a HeadFileError."""
    from ..errors import TmsfieldError
    try:
        return _read_groups_unchecked(p)
    except TmsfieldError:
        raise
    except _H5_ERRORS as exc:
        raise HeadFileError(f"warp file {p}: cannot read it as an HDF5 (ITK .h5) transform; the file is damaged "
                            f"or not HDF5 ({type(exc).__name__}: {exc})") from None


def _read_groups_unchecked(p):
    import h5py
    f = h5py.File(str(p), "r")
    with f:
        tg = f.get("TransformGroup")
        if not isinstance(tg, h5py.Group) or not len(tg):
            raise HeadFileError(f"warp file {p}: no /TransformGroup in it; is it an ITK/ANTs transform (.h5)?")
        try:
            keys = sorted(tg.keys(), key=int)
        except ValueError:
            raise HeadFileError(f"warp file {p}: /TransformGroup holds {list(tg.keys())[:5]}, expected groups "
                                f"0, 1, ...") from None
        out = []
        for k in keys:
            g = tg[k]
            where = f"warp file {p}, /TransformGroup/{k}"
            try:
                t = g["TransformType"][()]
                t = t[0] if isinstance(t, np.ndarray) and t.size else t
                kind = t.decode("utf-8", "replace") if isinstance(t, bytes) else str(t)
                params = (np.asarray(g["TransformParameters"][()], dtype=float).reshape(-1)
                          if "TransformParameters" in g else np.zeros(0))
                fixed = (np.asarray(g["TransformFixedParameters"][()], dtype=float).reshape(-1)
                         if "TransformFixedParameters" in g else np.zeros(0))
            except _H5_ERRORS as exc:
                raise HeadFileError(f"{where}: unreadable ({type(exc).__name__}: {exc})") from None
            if not (np.all(np.isfinite(params)) and np.all(np.isfinite(fixed))):
                raise HeadFileError(f"{where}: holds NaN/Inf parameters; the file is corrupt")
            out.append((kind, params, fixed, where))
        return out


def read_itk_h5(path, direction="mni2subject"):
    """Read an ITK/ANTs ``.h5`` transform (a displacement field, alone or in a composite with affines).

    Parameters
    ----------
    path : str or Path
        The ``.h5`` file (e.g. ``antsRegistration`` of the subject to MNI with ``--write-composite-transform 1``:
        its ``…Composite.h5`` maps MNI points to the subject).
    direction : {"mni2subject", "subject2mni"}
        Which way the file maps points.

    Returns
    -------
    tmsfield.head.warps.Warp
        ``kind="itk-h5"``; absolute RAS positions (mm) on the displacement field's grid.

    Raises
    ------
    HeadFileError
        Not HDF5, no ``/TransformGroup``, a component type other than a displacement field or an affine, no
        or two displacement fields, parameter counts that do not match, NaN/Inf.

    Examples
    --------
    >>> read_itk_h5("missing.h5")   # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    tmsfield.errors.HeadFileError: warp file missing.h5 does not exist
    """
    from .warps import Warp, _grid_world

    p = Path(path)
    if not p.is_file():
        raise HeadFileError(f"warp file {p} does not exist")
    try:
        import h5py  # noqa: F401
    except ImportError:  # pragma: no cover - h5py is a dependency
        raise HeadFileError(f"warp file {p}: reading ITK .h5 transforms needs h5py (pip install h5py)") from None
    groups = _read_groups(p)
    if groups[0][0].startswith("CompositeTransform"):
        groups = groups[1:]
        if not groups:
            raise HeadFileError(f"warp file {p}: an empty composite transform")
    comps = []
    for kind, params, fixed, where in groups:
        if kind.startswith("DisplacementFieldTransform"):
            comps.append(("field", _field_component(kind, params, fixed, where)))
        elif kind.startswith(("AffineTransform", "MatrixOffsetTransformBase")):
            comps.append(("affine", _affine_component(kind, params, fixed, where)))
        else:
            raise HeadFileError(f"{where}: transform type {kind!r} is not read (only DisplacementFieldTransform "
                                f"and AffineTransform components); write the composite as one displacement "
                                f"field: antsApplyTransforms -t {p.name} -r REF.nii.gz -o [field.nii.gz,1]")
    fields = [i for i, (c, _) in enumerate(comps) if c == "field"]
    if len(fields) != 1:
        raise HeadFileError(f"warp file {p}: holds {len(fields)} displacement fields; --mni-warp needs exactly one "
                            f"(a nonlinear warp; a purely affine transform is given as the head's MNI affine)"
                            if not fields else
                            f"warp file {p}: holds {len(fields)} displacement fields; collapse them into one: "
                            f"antsApplyTransforms -t {p.name} -r REF.nii.gz -o [field.nii.gz,1]")
    k = fields[0]
    # ITK applies the last component first: before the field come components k+1..n-1, after it 0..k-1
    before, after = np.eye(4), np.eye(4)
    for _, a in comps[k + 1:]:
        before = a @ before
    for _, a in comps[:k]:
        after = a @ after
    grid_lps, disp = comps[k][1]
    pts = _grid_world(grid_lps, disp.shape[:3]) + disp                       # D(g), LPS
    pts = pts @ after[:3, :3].T + after[:3, 3]                               # then the later affines
    field = pts @ _LPS[:3, :3].T                                             # LPS → RAS
    try:
        grid_in = _LPS @ np.linalg.inv(before) @ grid_lps                    # voxel → input RAS
    except np.linalg.LinAlgError:
        raise HeadFileError(f"warp file {p}: an affine applied before the field is singular") from None
    return Warp(grid_in, field, direction, "itk-h5", str(p))
