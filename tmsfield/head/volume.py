"""Label volumes (NIfTI / MGZ through nibabel) → closed, smooth, nested boundary surfaces.

Pipeline per boundary (outside → in): binary mask of all tissues inside it → largest connected
component, holes filled → clipped to lie at least ``min_gap_mm`` inside the previous boundary
(nesting by construction) → Gaussian blur (σ = ½ target spacing) → resampled on a grid whose
spacing sets the edge length → marching cubes (scikit-image, Lewiner) at the 0.5 level → mapped
through the affine to scanner RAS (mm) → largest component, Taubin λ|μ smoothing and tangential
relaxation → outward orientation.
"""

import math
from pathlib import Path

import numpy as np

from ..errors import HeadFileError, InputError, MeshError
from .mesh_tools import (boundary_edge_count, largest_component, remove_degenerate, signed_volume,
                         tangential_relax, taubin_smooth)
from .surface import Surface

__all__ = ["mesh_from_mask", "surfaces_from_label_volume", "LABEL_PRESETS", "boundary_name_for"]

#: Label presets: tissue -> label values, ordered outside -> in.
LABEL_PRESETS = {
    # SimNIBS charm/headreco final_tissues: 1 WM, 2 GM, 3 CSF, 4 bone, 5 scalp, 6 eyes, 7 compact bone,
    # 8 spongy bone, 9 blood, 10 muscle. Three-layer BEM head with lumped brain (CSF+GM+WM).
    "simnibs": {"scalp": (5, 6, 9, 10), "skull": (4, 7, 8), "brain": (1, 2, 3)},
    # SimNIBS labels with CSF, grey and white matter kept separate (five boundaries)
    "simnibs5": {"scalp": (5, 6, 9, 10), "skull": (4, 7, 8), "csf": (3,), "gm": (2,), "wm": (1,)},
}

# ratio mean edge length / marching-cubes grid spacing (measured on spheres)
_EDGE_PER_SPACING = 0.9


def boundary_name_for(tissues):
    """Boundary names for an outside → in tissue list (outer surface of each tissue).

    Examples
    --------
    >>> boundary_name_for(["scalp", "skull", "brain"])
    ['scalp', 'skull_outer', 'skull_inner']
    """
    out = []
    for k, t in enumerate(tissues):
        if t == "skull":
            out.append("skull_outer")
        elif k > 0 and tissues[k - 1] == "skull":
            out.append("skull_inner")
        else:
            out.append(t)
    return out


def _voxel_sizes(affine):
    return np.linalg.norm(np.asarray(affine)[:3, :3], axis=0)


def mesh_from_mask(mask, affine, edge_length_mm=3.0, name="surface", smooth_iterations=10, source="mask"):
    """Closed smooth outward surface around a binary mask (largest component, holes filled).

    Parameters
    ----------
    mask : ndarray of bool, shape (I, J, K)
    affine : ndarray (4, 4)
        Voxel index → scanner RAS mm.
    edge_length_mm : float
        Target mean edge length, mm.
    name : str
    smooth_iterations : int
        Taubin λ|μ pairs.

    Returns
    -------
    Surface
        Vertices in mm (scanner RAS), outward normals.

    Raises
    ------
    MeshError
        Empty mask or a surface that cannot be closed.

    Examples
    --------
    >>> g = np.indices((40, 40, 40)) - 19.5
    >>> s = mesh_from_mask((g ** 2).sum(0) < 15 ** 2, np.eye(4), 2.0, name="ball")
    >>> bool(abs(np.linalg.norm(s.vertices - s.vertices.mean(0), axis=1).mean() - 15) < 0.7)
    True
    """
    from scipy import ndimage
    from skimage.measure import marching_cubes
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        raise MeshError(f"{source}: the mask for surface {name!r} is empty; check the label values")
    affine = np.asarray(affine, dtype=np.float64)
    lab, n = ndimage.label(mask)
    if n > 1:
        sizes = np.bincount(lab.ravel())
        sizes[0] = 0
        mask = lab == sizes.argmax()
    mask = ndimage.binary_fill_holes(mask)
    vs = _voxel_sizes(affine)
    h = float(edge_length_mm) / _EDGE_PER_SPACING
    # crop to the bounding box with a margin, for speed
    margin = np.ceil(2.5 * h / vs).astype(int) + 2
    idx = np.argwhere(mask)
    lo = np.maximum(idx.min(0) - margin, 0)
    hi = np.minimum(idx.max(0) + margin + 1, mask.shape)
    sub = mask[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]].astype(np.float32)
    sigma_vox = 0.5 * h / vs
    field = ndimage.gaussian_filter(sub, sigma=sigma_vox, mode="constant", cval=0.0)
    step = h / vs
    axes = [np.arange(-margin[k], sub.shape[k] + margin[k], step[k]) for k in range(3)]
    grid = np.meshgrid(*axes, indexing="ij")
    coarse = ndimage.map_coordinates(field, [g.ravel() for g in grid], order=1, mode="constant", cval=0.0)
    coarse = coarse.reshape(grid[0].shape)
    # keep grid values away from the iso level: avoids sliver triangles from near-zero edge cuts
    eps = 0.03
    near = np.abs(coarse - 0.5) < eps
    coarse[near] = 0.5 + np.where(coarse[near] >= 0.5, eps, -eps)
    coarse[0], coarse[-1], coarse[:, 0], coarse[:, -1], coarse[:, :, 0], coarse[:, :, -1] = 0, 0, 0, 0, 0, 0
    try:
        v, t, _, _ = marching_cubes(coarse, level=0.5, allow_degenerate=False)
    except (ValueError, RuntimeError) as exc:
        raise MeshError(f"{source}: marching cubes failed for surface {name!r} ({exc}); the structure may be "
                        f"thinner than the target edge length {edge_length_mm} mm — use a smaller edge length") \
            from None
    # grid index -> voxel index (of the full volume) -> mm
    vox = v * step + np.array([a[0] for a in axes]) + lo
    xyz = vox @ affine[:3, :3].T + affine[:3, 3]
    xyz, t = remove_degenerate(xyz, t)
    xyz, t = largest_component(xyz, t)
    nb = boundary_edge_count(t)
    if nb:
        raise MeshError(f"{source}: surface {name!r} from marching cubes is not closed ({nb} open edges); "
                        f"try a different edge_length_mm")
    if smooth_iterations:
        xyz = taubin_smooth(xyz, t, smooth_iterations)
        xyz = tangential_relax(xyz, t, 3)
    if signed_volume(xyz, t) < 0:
        t = t[:, ::-1]
    return Surface(xyz, np.ascontiguousarray(t), name=name)


def _load_label_volume(volume, affine=None):
    """Return (integer labels, affine, source string)."""
    if isinstance(volume, (str, Path)):
        import nibabel as nib
        path = Path(volume)
        if not path.is_file():
            raise HeadFileError(f"label volume not found: {path}; check the path (SimNIBS: m2m_<subject>/"
                                f"final_tissues.nii.gz, FreeSurfer: <subject>/mri/aseg.mgz)")
        try:
            img = nib.load(str(path))
        except Exception as exc:
            raise HeadFileError(f"{path}: not a readable NIfTI/MGZ volume ({type(exc).__name__}: {exc})") from None
        hdr = img.header
        try:
            no_affine = hasattr(hdr, "get_sform") and hasattr(hdr, "get_qform") and \
                hdr.get_sform(coded=True)[1] == 0 and hdr.get_qform(coded=True)[1] == 0
        except Exception as exc:
            raise HeadFileError(f"{path}: unreadable NIfTI orientation header ({type(exc).__name__}: {exc})") from None
        if no_affine:
            raise HeadFileError(f"{path}: the volume has no affine (sform and qform codes are 0), so its voxels "
                                f"cannot be placed in scanner space; set the qform/sform (e.g. `fslorient "
                                f"-copyqform2sform` or re-export from the segmentation tool) or pass the array "
                                f"with affine=")
        data = _read_voxels(img, path)
        aff = img.affine if affine is None else affine
        source = str(path)
    else:
        data = np.asarray(volume)
        if affine is None:
            raise HeadFileError("label array given without an affine: pass affine= (4x4, voxel index → scanner "
                                "RAS mm), e.g. img.affine from nibabel")
        aff = affine
        source = "label array"
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise HeadFileError(f"{source}: a label volume must be 3-D; got shape {data.shape}")
    aff = np.asarray(aff, dtype=np.float64)
    if aff.shape != (4, 4) or not np.all(np.isfinite(aff)) or abs(np.linalg.det(aff[:3, :3])) < 1e-12:
        raise HeadFileError(f"{source}: affine must be an invertible 4x4 matrix (voxel → mm)")
    if data.dtype.kind not in "biuf":
        raise HeadFileError(f"{source}: label volume has voxel type {data.dtype}; a segmentation holds integer "
                            f"labels (uint8/int16/int32)")
    if data.dtype.kind == "f" and not np.all(np.isfinite(data)):
        raise HeadFileError(f"{source}: label volume holds NaN or inf; pass a segmentation (integer labels)")
    if data.size == 0:
        raise HeadFileError(f"{source}: the label volume is empty (shape {data.shape})")
    if data.size and (data.min() < -2**31 or data.max() >= 2**31):
        raise HeadFileError(f"{source}: labels {data.min()}..{data.max()} do not fit 32-bit integers; pass a "
                            f"segmentation with ordinary label values")
    if not np.all(np.equal(np.mod(data, 1), 0)):
        raise HeadFileError(f"{source}: label volume holds non-integer values; pass a segmentation (labels), "
                            f"not an intensity image")
    vs = _voxel_sizes(aff)
    if vs.max() < 0.02:
        raise HeadFileError(f"{source}: voxel size {vs.round(5).tolist()} looks like metres; tmsfield expects the "
                            f"affine in mm — rescale the affine by 1000 (affine[:3] *= 1000)")
    if vs.max() > 5:
        raise HeadFileError(f"{source}: voxel size {vs.round(2).tolist()} mm is too coarse for a head model "
                            f"(need ≤ 5 mm); check the affine's units")
    return data.astype(np.int32, copy=False), aff, source


# deflate (gzip) expands at most ~1032:1, so no compressed volume can hold more than this many bytes per file byte
_MAX_GZIP_RATIO = 1100


def _read_voxels(img, path):
    """The voxel array, after checking that the file can hold what its header announces (no giant allocation
    from a damaged header); any failure is a HeadFileError naming ``path``."""
    try:
        shape = tuple(int(n) for n in img.shape)
        itemsize = np.dtype(img.get_data_dtype()).itemsize
    except Exception as exc:
        raise HeadFileError(f"{path}: unreadable volume header ({type(exc).__name__}: {exc})") from None
    nbytes = math.prod(shape) * itemsize
    size = path.stat().st_size
    compressed = path.name.lower().endswith((".gz", ".mgz"))
    if min(shape, default=0) <= 0 or nbytes > size * (_MAX_GZIP_RATIO if compressed else 1):
        raise HeadFileError(f"{path}: the header announces a {' x '.join(map(str, shape))} volume "
                            f"({nbytes} bytes), which a {'compressed ' if compressed else ''}file of {size} bytes "
                            f"cannot hold; the file is truncated or its header is corrupt — re-export it")
    try:
        return np.asanyarray(img.dataobj)
    except Exception as exc:
        raise HeadFileError(f"{path}: cannot read the voxels ({type(exc).__name__}: {exc}); the file is truncated "
                            f"or corrupt — re-export it") from None


def surfaces_from_label_volume(volume, tissue_labels="simnibs", edge_length_mm=None, affine=None,
                               min_gap_mm=1.0, smooth_iterations=10):
    """Turn a label volume into nested closed surfaces (outside → in) in scanner RAS mm.

    Parameters
    ----------
    volume : str, Path or ndarray (I, J, K) of int
        NIfTI / MGZ label file (SimNIBS ``final_tissues.nii.gz``, a FreeSurfer ``aseg.mgz`` with a
        user mapping ...) or an array with ``affine``.
    tissue_labels : str or dict
        Preset name (:data:`LABEL_PRESETS`: ``"simnibs"`` three layers, ``"simnibs5"`` five; ``"aseg"``:
        FreeSurfer ``aseg.mgz``, all non-zero labels → one ``"brain"`` surface, to combine with a scalp
        from elsewhere via ``Head.from_surfaces``) or an
        ordered mapping tissue → label values, outside → in, tissue names from
        ``scalp, skull, csf, gm, wm, brain``. Boundary ``k`` encloses tissues ``k..end``.
    edge_length_mm : float or sequence, optional
        Target mean edge length per boundary, mm (default scalp 5, skull 4, inner ones 3).
    affine : ndarray (4, 4), optional
        Needed for an array; overrides the file's affine.
    min_gap_mm : float
        Minimum distance kept between successive boundaries (nesting by construction).

    Returns
    -------
    boundaries : list of Surface
        Outside → in, names from :func:`boundary_name_for`.
    tissues : list of str

    Raises
    ------
    HeadFileError
        Missing/unreadable file, no affine, metre-scaled affine, unknown labels.

    Examples
    --------
    >>> g = np.indices((60, 60, 60)) - 29.5
    >>> r = np.sqrt((g ** 2).sum(0))
    >>> lab = np.select([r < 18, r < 22, r < 26], [1, 4, 5], 0)
    >>> b, t = surfaces_from_label_volume(lab, affine=np.eye(4) * [2, 2, 2, 1], edge_length_mm=4.0)
    >>> [s.name for s in b], t
    (['scalp', 'skull_outer', 'skull_inner'], ['scalp', 'skull', 'brain'])
    """
    from scipy import ndimage
    data, aff, source = _load_label_volume(volume, affine)
    # pad with background so that a head cut by the field of view (e.g. at the neck) is closed there and
    # distances to the volume edge count as distances to the outside
    pad = 3
    data = np.pad(data, pad)
    aff = aff.copy()
    aff[:3, 3] -= aff[:3, :3] @ np.full(3, float(pad))
    if isinstance(tissue_labels, str) and tissue_labels == "aseg":
        # FreeSurfer aseg/aparc+aseg: every non-zero label is brain; there is no scalp or skull in it
        mapping = {"brain": sorted(set(np.unique(data).tolist()) - {0})}
    elif isinstance(tissue_labels, str):
        if tissue_labels not in LABEL_PRESETS:
            raise InputError(f"unknown label preset {tissue_labels!r}; use one of {sorted(LABEL_PRESETS)} or a dict "
                             f"tissue -> labels (outside → in)")
        mapping = LABEL_PRESETS[tissue_labels]
    else:
        mapping = dict(tissue_labels)
    tissues = [str(t) for t in mapping]
    names = boundary_name_for(tissues)
    present = set(np.unique(data).tolist())
    for t, labs in mapping.items():
        labs = np.atleast_1d(labs).tolist()
        if not present.intersection(labs):
            raise HeadFileError(f"{source}: none of the labels {labs} for tissue {t!r} occur in the volume (labels "
                                f"present: {sorted(present)[:20]}); pass tissue_labels= matching your segmentation")
    if edge_length_mm is None:
        edges = [5.0 if n == "scalp" else 4.0 if n == "skull_outer" else 3.0 for n in names]
    elif np.ndim(edge_length_mm) == 0:
        edges = [float(edge_length_mm)] * len(names)
    else:
        edges = [float(e) for e in edge_length_mm]
        if len(edges) != len(names):
            raise InputError(f"edge_length_mm has {len(edges)} values for {len(names)} boundaries")
    vs = _voxel_sizes(aff)
    surfaces, prev = [], None
    for k, name in enumerate(names):
        labs = sorted({int(x) for t in tissues[k:] for x in np.atleast_1d(mapping[t])})
        mask = np.isin(data, labs)
        if prev is not None:
            gap = min_gap_mm + 0.25 * max(edges[k - 1], edges[k])
            mask &= ndimage.distance_transform_edt(prev, sampling=vs) > gap
        if not mask.any():
            raise HeadFileError(f"{source}: tissue {tissues[k]!r} (labels {labs}) vanishes once kept {min_gap_mm} mm "
                                f"inside {names[k - 1]!r}; the segmentation is too thin there")
        lab, n = ndimage.label(mask)
        if n > 1:
            sizes = np.bincount(lab.ravel())
            sizes[0] = 0
            mask = lab == sizes.argmax()
        mask = ndimage.binary_fill_holes(mask)
        surfaces.append(mesh_from_mask(mask, aff, edges[k], name=name, smooth_iterations=smooth_iterations,
                                       source=source))
        prev = mask
    return surfaces, tissues
