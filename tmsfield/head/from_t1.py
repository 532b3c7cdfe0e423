"""A head from a T1 alone: register the MNI152 T1 to the patient's T1 and warp the template into the subject.

Steps of :func:`head_from_t1` (each reports a line on stderr):

1. read and check the patient's T1 (3-D NIfTI/MGZ, finite, head-sized foreground);
2. **scalp from the patient's own T1**: air/tissue threshold (``air + 0.25·(Otsu − air)``, which gives
   the template's own threshold, 1177 vs 1200, on the MNI152 T1), closing, hole filling, largest
   component, then the marching-cubes mesher of the template build (``tmsfield.head.mesh_from_mask``).
   The patient's own skin boundary is used rather than the warped template scalp because the scalp is
   where the coil sits: its position is what the coil-to-cortex distance and the placement depend on,
   and it is directly visible in any T1 (the skin–air contrast is the strongest in the image), whereas
   a registration driven mostly by the brain can leave the skin several mm off. The warped template
   scalp is still computed and its distance to the patient's scalp is recorded as a registration check;
3. register the template T1 (moving) to the patient's T1 (fixed) with antspyx: affine (mutual
   information) then SyN (Avants et al. 2008, Med Image Anal 12:26), at ``resolution_mm``;
4. evaluate the full MNI → subject point mapping (affine and SyN together) on a regular grid over the
   template's field of view and save it as an ITK/ANTs displacement field (5-D NIfTI (x, y, z, 1, 3),
   intent vector, LPS displacements in mm, on the MNI grid: point x of the grid maps to
   x + d(x)), ``HEAD_DIR/mni_to_subject_warp.nii.gz``, the format ``antsRegistration`` writes for
   ``…1Warp.nii.gz`` of a subject registered to MNI;
5. push every template boundary (any number of tissues), the cortex, the landmarks and the EEG
   10-10 positions through that field (trilinear interpolation, :func:`mni_to_subject`), so targets and
   surfaces use one and the same warp; keep every inner boundary inside the patient's scalp;
6. write ``HEAD_DIR`` (``scalp.gii``, the other boundaries by name, ``cortex.gii`` with ``sulc``,
   ``landmarks.json``, ``eeg_positions.json``, the warp and ``provenance.json``), read by
   ``tmsfield.load_head(HEAD_DIR)``.

antspyx is an optional dependency: ``pip install tmsfield[t1]``.
"""

import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._atomic import atomic_write_text
from ..errors import HeadFileError, InputError, MeshError
from .surface import Surface

__all__ = ["head_from_t1", "mni_to_subject", "read_mni_warp", "template_t1_path", "scalp_from_t1",
           "T1Head", "WARP_FILE", "TEMPLATE_T1_FILE"]

#: name of the MNI → subject displacement field written into HEAD_DIR
WARP_FILE = "mni_to_subject_warp.nii.gz"
#: the whole-head MNI152 NLin6 Asym T1 the bundled template was built from (meshes/build_template.py)
TEMPLATE_T1_FILE = "tpl-MNI152NLin6Asym_res-01_T1w.nii.gz"
_TEMPLATE_T1_WHEEL = ("nimare", "0.22.1", "nimare/resources/templates/" + TEMPLATE_T1_FILE)
_LPS = np.array([-1.0, -1.0, 1.0])
#: head foreground volume accepted as "a head" (litres): whole heads with neck are ~3-7 L
_HEAD_LITRES = (1.0, 15.0)


@dataclass(frozen=True)
class T1Head:
    """What :func:`head_from_t1` produced.

    Attributes
    ----------
    head : tmsfield.Head
        The subject's head (as ``load_head(head_dir)`` reads it).
    head_dir : Path
    warp_path : Path
        MNI → subject displacement field (ITK/ANTs format), see :func:`mni_to_subject`.
    provenance : dict
        The content of ``provenance.json``.
    """

    head: object
    head_dir: Path
    warp_path: Path
    provenance: dict


# ---------------------------------------------------------------------------------------------- helpers
def _say(progress, msg):
    if progress:
        print(f"tmsfield head: {msg}", file=sys.stderr, flush=True)


class _Step:
    """Context manager printing 'step ...' and 'done in N s' lines, and recording the time."""

    def __init__(self, progress, timings, key, msg):
        self.progress, self.timings, self.key, self.msg = progress, timings, key, msg

    def __enter__(self):
        _say(self.progress, f"{self.msg} ...")
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        dt = time.perf_counter() - self.t0
        self.timings[self.key] = round(dt, 2)
        if exc[0] is None:
            _say(self.progress, f"{self.msg}: done in {dt:.1f} s")
        return False


def _require_ants():
    try:
        import ants  # noqa: F401
    except ImportError:
        raise InputError("a head from a T1 needs antspyx (registration), which is not installed; install it with "
                         "`pip install tmsfield[t1]` (or `pip install antspyx`)") from None
    import ants
    return ants


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tmsfield" / "templates"


def template_t1_path(template_t1=None, download=True):
    """Path of the whole-head MNI152 NLin6 Asym T1 (1 mm) the template surfaces were built from.

    Looked up in order: ``template_t1``; the ``TMSFIELD_TEMPLATE_T1`` environment variable; the cache
    ``~/.cache/tmsfield/templates/``; else (``download=True``) extracted from the same pinned PyPI wheel
    as ``meshes/build_template.py`` (``pip download nimare==0.22.1 --no-deps``, 16 MB, once) into the cache.

    Parameters
    ----------
    template_t1 : str or Path, optional
    download : bool

    Returns
    -------
    Path

    Raises
    ------
    HeadFileError
        Not found and not downloadable; the message says which file to pass as ``template_t1``.

    Examples
    --------
    >>> template_t1_path("missing.nii.gz")   # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    tmsfield.errors.HeadFileError: template T1 missing.nii.gz does not exist
    """
    for cand, what in ((template_t1, "template T1"), (os.environ.get("TMSFIELD_TEMPLATE_T1"), "TMSFIELD_TEMPLATE_T1")):
        if cand:
            p = Path(cand)
            if not p.is_file():
                raise HeadFileError(f"{what} {p} does not exist; give the whole-head MNI152 NLin6 Asym T1 "
                                    f"({TEMPLATE_T1_FILE})")
            return p
    cached = _cache_dir() / TEMPLATE_T1_FILE
    if cached.is_file():
        return cached
    if not download:
        raise HeadFileError(f"template T1 not found in {cached.parent}; pass template_t1= (--template-t1) the "
                            f"whole-head MNI152 NLin6 Asym T1 {TEMPLATE_T1_FILE}")
    import subprocess
    import tempfile
    import zipfile
    pkg, ver, member = _TEMPLATE_T1_WHEEL
    with tempfile.TemporaryDirectory() as tmp:
        res = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                              f"{pkg}=={ver}", "-d", tmp], capture_output=True, text=True)
        wheels = sorted(Path(tmp).glob(f"{pkg}-{ver}-*.whl"))
        if res.returncode != 0 or not wheels:
            raise HeadFileError(f"cannot get the template T1: `pip download {pkg}=={ver}` failed "
                                f"({res.stderr.strip()[-300:]}); pass template_t1= (--template-t1) the file "
                                f"{TEMPLATE_T1_FILE} (in that wheel at {member})")
        cached.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheels[0]) as z:
            data = z.read(member)
    from .._atomic import atomic_write_bytes
    atomic_write_bytes(cached, data)
    return cached


def _read_t1(path):
    """(data float32 (I, J, K), affine) of a 3-D T1, with clear errors."""
    import nibabel as nib
    p = Path(path)
    if not p.is_file():
        raise HeadFileError(f"T1 image {p} does not exist; give a T1-weighted NIfTI (.nii/.nii.gz) or .mgz")
    try:
        img = nib.load(str(p))
        data = np.asarray(img.dataobj, dtype=np.float32)
    except Exception as exc:
        raise HeadFileError(f"T1 image {p}: cannot read it as NIfTI/MGZ ({type(exc).__name__}: {exc}); give a "
                            f"T1-weighted .nii/.nii.gz/.mgz") from None
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise HeadFileError(f"T1 image {p}: a 3-D volume is needed, got shape {data.shape}; for a 4-D series give "
                            f"one volume (e.g. fslroi in out 0 1)")
    if min(data.shape) < 16:
        raise HeadFileError(f"T1 image {p}: shape {data.shape} is too small for a head image")
    if not np.all(np.isfinite(data)):
        raise HeadFileError(f"T1 image {p}: holds NaN/Inf voxels; it is corrupt")
    aff = np.asarray(img.affine, dtype=np.float64)
    if abs(np.linalg.det(aff[:3, :3])) < 1e-6:
        raise HeadFileError(f"T1 image {p}: its voxel → mm affine is singular; fix the header")
    return data, aff


def _ball(r):
    g = np.indices((2 * r + 1,) * 3) - r
    return np.sum(g ** 2, axis=0) <= r * r


def _head_mask(data, affine, source):
    """Binary head (skin and everything inside) of a T1: (mask, its affine, threshold, litres)."""
    from scipy import ndimage
    from skimage.filters import threshold_otsu
    sub = data[::2, ::2, ::2] if data.size > 4e6 else data
    if float(sub.max()) <= float(sub.min()):
        raise HeadFileError(f"T1 image {source}: constant intensity; this is not a head image")
    # zero padding (field of view enlarged, defacing) is not air noise: leave it out of both levels
    vals = sub[sub > float(sub.min()) + 0.01 * (float(threshold_otsu(sub)) - float(sub.min()))]
    otsu = float(threshold_otsu(vals))
    low = vals[vals < otsu]
    air = float(np.median(low)) if low.size else float(vals.min())
    thr = air + 0.25 * (otsu - air)
    vs = np.linalg.norm(affine[:3, :3], axis=0)
    if vs.max() > 1.2:
        # coarse image: threshold and close on a ~1 mm grid, as the template was built (ears, nose)
        from scipy.ndimage import zoom
        n_in = np.asarray(data.shape)
        data = zoom(data, vs, order=1)
        step = (n_in - 1) / (np.asarray(data.shape) - 1.0)       # output voxel → input voxel (scipy zoom)
        affine = affine @ np.diag(list(step) + [1.0])
        vs = np.linalg.norm(affine[:3, :3], axis=0)
    r = max(1, int(round(3.0 / float(vs.mean()))))
    head = data > thr
    head = ndimage.binary_closing(np.pad(head, r + 1), structure=_ball(r))[r + 1:-r - 1, r + 1:-r - 1, r + 1:-r - 1]
    for k in range(head.shape[2]):                 # nasal cavity / ear canals, slice by slice
        head[:, :, k] = ndimage.binary_fill_holes(head[:, :, k])
    head = ndimage.binary_fill_holes(head)
    lab, n = ndimage.label(head)
    if n == 0:
        raise HeadFileError(f"T1 image {source}: no foreground above the air level; this is not a head image")
    head = lab == np.argmax(np.bincount(lab.ravel())[1:]) + 1
    litres = float(head.sum() * np.prod(vs)) / 1e6
    ext = (np.ptp(np.argwhere(head), axis=0) + 1) * vs
    if not (_HEAD_LITRES[0] <= litres <= _HEAD_LITRES[1]) or ext.max() < 120 or ext.min() < 60 or ext.max() > 400:
        raise HeadFileError(f"T1 image {source}: the foreground ({litres:.2f} L, extent "
                            f"{np.round(ext).astype(int).tolist()} mm) does not look like a head "
                            f"(expected {_HEAD_LITRES[0]:g}-{_HEAD_LITRES[1]:g} L, 120-400 mm across); give a "
                            f"whole-head T1 in mm (not skull-stripped, not a brain mask)")
    return head, affine, thr, litres


def scalp_from_t1(t1_path, edge_length_mm=7.0):
    """Scalp surface of a head T1: air/tissue threshold, morphology, marching cubes.

    Parameters
    ----------
    t1_path : str or Path
        T1-weighted NIfTI/MGZ (whole head, not skull-stripped).
    edge_length_mm : float
        Target mean edge of the mesh, mm.

    Returns
    -------
    Surface
        Closed outward scalp (mm, the image's RAS), name ``"scalp"``.

    Raises
    ------
    HeadFileError
        Missing/unreadable/not-3-D file, or a foreground that is not head-sized.

    Examples
    --------
    >>> scalp_from_t1("no_such_t1.nii.gz")   # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    tmsfield.errors.HeadFileError: T1 image no_such_t1.nii.gz does not exist
    """
    from .volume import mesh_from_mask
    data, aff = _read_t1(t1_path)
    mask, maff, _, _ = _head_mask(data, aff, t1_path)
    return mesh_from_mask(mask, maff, edge_length_mm, name="scalp", source=str(t1_path))


# ---------------------------------------------------------------------------------------------- the warp
def read_mni_warp(path):
    """Read an ITK/ANTs MNI → subject displacement field as (grid affine, absolute positions).

    Parameters
    ----------
    path : str or Path
        5-D NIfTI (x, y, z, 1, 3) of LPS displacements (mm) on an MNI grid, as written by
        :func:`head_from_t1` (``HEAD_DIR/mni_to_subject_warp.nii.gz``) and by ``antsRegistration``.

    Returns
    -------
    affine : ndarray (4, 4)
        Grid voxel → MNI RAS mm.
    field : ndarray (nx, ny, nz, 3)
        Subject RAS position (mm) of every grid point.

    Raises
    ------
    HeadFileError

    Examples
    --------
    >>> read_mni_warp("no_warp.nii.gz")   # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    tmsfield.errors.HeadFileError: warp file no_warp.nii.gz does not exist
    """
    from .warps import load_warp             # the one ITK reader (also behind --mni-warp)
    w = load_warp(path, kind="itk", direction="mni2subject")
    return w.affine, w.field


def _grid_world(aff, shape):
    ijk = np.stack(np.meshgrid(*[np.arange(s, dtype=np.float64) for s in shape], indexing="ij"), axis=-1)
    return ijk @ aff[:3, :3].T + aff[:3, 3]


def _interp_field(aff, field, points, what="points"):
    """Absolute field (grid affine, positions) at points (N, 3) mm: :meth:`tmsfield.head.warps.Warp.map`."""
    from .warps import Warp
    return Warp(aff, field, "mni2subject", "absolute", what).map(points)


def mni_to_subject(points, warp):
    """Map MNI points (N, 3) mm into the subject (mm) through a saved nonlinear warp.

    Parameters
    ----------
    points : array_like (N, 3) or (3,)
        MNI152 coordinates, mm.
    warp : str or Path
        ``HEAD_DIR`` of :func:`head_from_t1` or its ``mni_to_subject_warp.nii.gz`` (ITK/ANTs format).

    Returns
    -------
    ndarray (N, 3)
        Subject (scanner RAS) mm.

    Examples
    --------
    >>> mni_to_subject([[-38, 44, 26]], "no_head_dir")   # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    tmsfield.errors.HeadFileError: warp file no_head_dir/mni_to_subject_warp.nii.gz does not exist
    """
    w = Path(warp)
    if w.is_dir() or not str(w).endswith((".nii", ".nii.gz")):
        w = w / WARP_FILE
    from .warps import load_warp
    return load_warp(w, kind="itk", direction="mni2subject").mni_to_subject(points)


def _write_warp(path, aff, absolute):
    import nibabel as nib
    from .._atomic import atomic_path
    disp = ((absolute - _grid_world(aff, absolute.shape[:3])) * _LPS).astype(np.float32)
    img = nib.Nifti1Image(disp[:, :, :, None, :], aff)
    img.header.set_intent("vector")
    img.header.set_xyzt_units("mm")
    with atomic_path(path) as tmp:
        nib.save(img, tmp)


def _register(ants, t1_img_path, template_path, resolution_mm, iterations, seed, threads, tmpdir):
    """antspyx affine + SyN, template (moving) → patient (fixed); returns (reg dict, fixed, moving) images."""
    os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = str(int(threads))
    fixed = ants.image_read(str(t1_img_path))
    moving = ants.image_read(str(template_path))
    if resolution_mm:
        fixed = ants.resample_image(fixed, (resolution_mm,) * 3, use_voxels=False, interp_type=0)
        moving = ants.resample_image(moving, (resolution_mm,) * 3, use_voxels=False, interp_type=0)
    fixed = ants.iMath(fixed, "Normalize")
    moving = ants.iMath(moving, "Normalize")
    reg = ants.registration(fixed, moving, type_of_transform="SyN", reg_iterations=tuple(iterations),
                            aff_iterations=(1000, 500, 250, 0) if resolution_mm and resolution_mm >= 3
                            else (1000, 500, 250, 100),
                            aff_shrink_factors=(6, 4, 2, 1), aff_smoothing_sigmas=(3, 2, 1, 0),
                            random_seed=int(seed), outprefix=str(Path(tmpdir) / "reg_"), verbose=False)
    return reg, fixed, moving


def _mni_grid(template_path, spacing_mm, pad_mm=12.0):
    import nibabel as nib
    img = nib.load(str(template_path))
    a = img.affine
    lo = a[:3, 3] - pad_mm
    hi = a[:3, :3] @ (np.asarray(img.shape[:3]) - 1.0) + a[:3, 3] + pad_mm
    lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
    n = np.ceil((hi - lo) / spacing_mm).astype(int) + 1
    aff = np.diag([spacing_mm] * 3 + [1.0])
    aff[:3, 3] = lo
    return aff, tuple(int(v) for v in n)


def _map_points_ants(ants, reg, points_ras):
    """MNI (moving) points → patient (fixed) points through the registration's transforms (RAS mm)."""
    import pandas as pd
    lps = np.asarray(points_ras, dtype=np.float64) * _LPS
    df = pd.DataFrame({"x": lps[:, 0], "y": lps[:, 1], "z": lps[:, 2]})
    # points move opposite to images: moving-space points → fixed space use the inverse transforms
    out = ants.apply_transforms_to_points(3, df, reg["invtransforms"], whichtoinvert=[True, False])
    return out[["x", "y", "z"]].to_numpy(dtype=np.float64) * _LPS


def _keep_inside(outer, surf, gap_mm):
    """Move the vertices of ``surf`` that are outside ``outer`` or nearer than ``gap_mm`` to it inward."""
    from ..solver.mesh_check import winding_number
    from .eeg import closest_point_on_surface
    v = np.array(surf.vertices)
    q = closest_point_on_surface(outer, v)
    d = np.linalg.norm(v - q, axis=1)
    inside = winding_number(outer, v) > 0.5
    bad = ~inside | (d < gap_mm)
    if bad.any():
        # inward direction at the closest point: from the vertex normals of the nearest outer vertices
        from scipy.spatial import cKDTree
        _, idx = cKDTree(outer.vertices).query(q[bad])
        v[bad] = q[bad] - gap_mm * outer.vertex_normals[idx]
    return Surface(v, surf.triangles, surf.name), int(bad.sum())


def _versions(ants):
    import nibabel
    import scipy
    import skimage

    from .._version import __version__
    return {"tmsfield": __version__, "antspyx": getattr(ants, "__version__", "?"), "numpy": np.__version__,
            "scipy": scipy.__version__, "nibabel": nibabel.__version__, "scikit-image": skimage.__version__,
            "python": sys.version.split()[0]}


# ---------------------------------------------------------------------------------------------- main entry
def head_from_t1(t1_path, out_dir, template="mni152_3shell", template_t1=None, resolution_mm=2.0,
                 syn_iterations=(100, 70, 30), warp_spacing_mm=2.0, scalp_edge_mm=None, min_gap_mm=1.0,
                 threads=2, seed=1, progress=True, overwrite=False):
    """Build a subject head from a T1 alone by warping the template into it; write it to ``out_dir``.

    Parameters
    ----------
    t1_path : str or Path
        The patient's whole-head T1-weighted image (NIfTI ``.nii``/``.nii.gz`` or ``.mgz``; 3-D).
    out_dir : str or Path
        HEAD_DIR to write (created; must be empty or absent unless ``overwrite``).
    template : str
        Bundled template whose surfaces are warped (every boundary it has, any number, and its cortex); default
        ``"mni152_3shell"`` (``"mni152"`` gives five tissues but 363,732 triangles, not yet solvable in minutes).
    template_t1 : str or Path, optional
        The whole-head MNI152 NLin6 Asym T1 (see :func:`template_t1_path` for the default lookup).
    resolution_mm : float or None
        Both images are resampled to this isotropic voxel size for the registration (``None``: the
        patient's own). 2 mm (default) takes ~2-3 min on 2 cores; 1 mm is ~8× the work.
    syn_iterations : tuple of int
        SyN iterations per level (shrink factors 4, 2, 1 of the registration grid).
    warp_spacing_mm : float
        Grid spacing of the saved MNI → subject displacement field, mm.
    scalp_edge_mm : float, optional
        Mean edge of the patient's scalp mesh (default: the template scalp's).
    min_gap_mm : float
        Every warped boundary is kept at least this far inside the one outside it (its vertices moved).
    threads : int
        ITK threads for the registration.
    seed : int
        Registration random seed (metric sampling), for reproducible results.
    progress : bool
        Print a line per step on stderr.
    overwrite : bool

    Returns
    -------
    T1Head
        ``head`` (as ``load_head(out_dir)`` reads it), ``warp_path``, ``provenance``.

    Raises
    ------
    InputError
        antspyx missing (``pip install tmsfield[t1]``), bad arguments, ``out_dir`` not empty.
    HeadFileError
        T1 missing, unreadable, not 3-D, not a head; template T1 unavailable.
    MeshError
        The warped surfaces cannot be made to nest.

    Examples
    --------
    >>> head_from_t1("no_such_t1.nii.gz", "head_out")   # doctest: +SKIP
    Traceback (most recent call last):
    tmsfield.errors.HeadFileError: T1 image no_such_t1.nii.gz does not exist; ...
    """
    import tempfile

    from .eeg import closest_point_on_surface
    from .io_surface import write_gifti_surface
    from .loaders import load_head
    from .template import load_template
    from .volume import mesh_from_mask
    t_all = time.perf_counter()
    timings = {}
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not overwrite)):
        raise InputError(f"output folder {out} exists and is not empty; choose a new HEAD_DIR or pass "
                         f"overwrite=True (--overwrite)")
    if resolution_mm is not None and not 0.5 <= float(resolution_mm) <= 8.0:
        raise InputError(f"resolution_mm={resolution_mm}: use 0.5-8 mm (2 mm default)")
    if not 0.5 <= float(warp_spacing_mm) <= 8.0:
        raise InputError(f"warp_spacing_mm={warp_spacing_mm}: use 0.5-8 mm")
    its = tuple(int(i) for i in syn_iterations)
    if not its or min(its) < 0:
        raise InputError(f"syn_iterations={syn_iterations}: give non-negative integers, one per level")
    # --- 1. inputs
    with _Step(progress, timings, "read_t1", f"reading {t1_path}"):
        data, aff = _read_t1(t1_path)
        tpl = load_template(template)
    ants = _require_ants()
    tpl_t1 = template_t1_path(template_t1)
    # --- 2. scalp from the patient's T1
    edge = float(scalp_edge_mm) if scalp_edge_mm else float(tpl.scalp.mean_edge_length)
    with _Step(progress, timings, "scalp", "scalp from the T1 (threshold, morphology, marching cubes)"):
        mask, maff, thr, litres = _head_mask(data, aff, t1_path)
        scalp = mesh_from_mask(mask, maff, edge, name="scalp", source=str(t1_path))
        del mask, data
    # --- 3. registration
    with tempfile.TemporaryDirectory() as tmp:
        with _Step(progress, timings, "registration",
                   f"registering the MNI152 T1 to the T1 (affine + SyN {list(its)} at "
                   f"{resolution_mm or 'native'} mm, {threads} threads)"):
            reg, fixed, moving = _register(ants, t1_path, tpl_t1, resolution_mm, its, seed, threads, tmp)
            warped = reg["warpedmovout"]
            mi = float(ants.image_similarity(fixed, warped, metric_type="Correlation"))
            aff_txt = ants.read_transform(reg["fwdtransforms"][-1])
        # --- 4. the warp on an MNI grid
        with _Step(progress, timings, "warp_field", f"MNI → subject displacement field ({warp_spacing_mm} mm grid)"):
            gaff, gshape = _mni_grid(tpl_t1, float(warp_spacing_mm))
            grid = _grid_world(gaff, gshape).reshape(-1, 3)
            absolute = _map_points_ants(ants, reg, grid).reshape(gshape + (3,))
            if not np.all(np.isfinite(absolute)):
                raise MeshError(f"{t1_path}: the registration produced a non-finite warp; check the image")
            out.mkdir(parents=True, exist_ok=True)
            warp_path = out / WARP_FILE
            _write_warp(warp_path, gaff, absolute)
        # affine part (subject → MNI), for provenance: least squares over the grid
        A = np.column_stack([absolute.reshape(-1, 3), np.ones(grid.shape[0])])
        sol, *_ = np.linalg.lstsq(A, grid, rcond=None)
        subj_to_mni = np.eye(4)
        subj_to_mni[:3, :] = sol.T
        del A, grid
    # --- 5. surfaces, landmarks, EEG through the warp
    with _Step(progress, timings, "surfaces", f"warping {len(tpl.boundaries)} template surfaces, the cortex, "
                                              f"landmarks and EEG positions"):
        def warp_pts(p):
            return _interp_field(gaff, absolute, p, "template points")
        warped_b = [Surface(warp_pts(b.vertices), b.triangles, b.name) for b in tpl.boundaries]
        tpl_scalp_w = warped_b[0]
        q = closest_point_on_surface(scalp, tpl_scalp_w.vertices)
        dscalp = np.linalg.norm(q - tpl_scalp_w.vertices, axis=1)
        boundaries = [scalp]
        moved = {}
        for b in warped_b[1:]:
            nb, n_moved = _keep_inside(boundaries[-1], b, float(min_gap_mm))
            boundaries.append(nb)
            moved[b.name] = n_moved
        cortex = None
        if tpl.cortex is not None:
            cortex = Surface(warp_pts(tpl.cortex.vertices), tpl.cortex.triangles, "cortex")
        lm = {k: closest_point_on_surface(scalp, warp_pts(v[None]))[0] for k, v in tpl.landmarks.items()}
        eeg_t = tpl.eeg_positions()
        names = list(eeg_t)
        eeg_w = closest_point_on_surface(scalp, warp_pts(np.vstack([eeg_t[k] for k in names])))
    # --- 6. write HEAD_DIR
    with _Step(progress, timings, "write", f"writing {out}"):
        for b in boundaries:
            write_gifti_surface(out / f"{b.name}.gii", b)
        if cortex is not None:
            write_gifti_surface(out / "cortex.gii", cortex, scalars=tpl.cortex_curvature)
        atomic_write_text(out / "landmarks.json", json.dumps(
            {k: np.round(v, 3).tolist() for k, v in lm.items()}, indent=1) + "\n")
        atomic_write_text(out / "eeg_positions.json", json.dumps(
            {k: np.round(p, 3).tolist() for k, p in zip(names, eeg_w)}, indent=1) + "\n")
        prov = {
            "description": "tmsfield head from a T1 alone: template surfaces warped into the subject by a nonlinear "
                           "registration of the MNI152 T1 to the subject's T1; scalp from the subject's T1",
            "subject_t1": {"path": str(Path(t1_path).resolve()), "sha256": _sha256(t1_path)},
            "template": {"name": template, "boundaries": {b.name: b.n_triangles for b in tpl.boundaries},
                         "tissues": list(tpl.tissues), "t1": {"path": str(tpl_t1), "sha256": _sha256(tpl_t1),
                                                              "source": "PyPI wheel %s==%s, %s" % _TEMPLATE_T1_WHEEL}},
            "registration": {"tool": "antspyx ants.registration", "fixed": "subject T1", "moving": "template T1",
                             "type_of_transform": "SyN (affine: rigid+affine, mattes MI; then SyN, mattes MI)",
                             "resolution_mm": resolution_mm, "syn_iterations": list(its), "seed": int(seed),
                             "threads": int(threads), "intensity": "each image normalised to [0, 1]",
                             "ants_correlation_after": round(mi, 4),
                             "ants_correlation_note": "ants.image_similarity Correlation: -1 is a perfect match",
                             "affine_file_parameters": np.asarray(aff_txt.parameters).round(6).tolist()},
            "warp": {"file": WARP_FILE, "format": "ITK/ANTs displacement field: NIfTI (x, y, z, 1, 3), intent vector, "
                                                  "LPS displacements (mm) on an MNI152 grid; grid point x (MNI) maps "
                                                  "to x + d(x) in the subject",
                     "direction": "mni2subject", "grid_spacing_mm": float(warp_spacing_mm), "grid_shape": list(gshape),
                     "use": "tmsfield target --head HEAD_DIR --mni-warp HEAD_DIR/" + WARP_FILE +
                            "; from Python tmsfield.head.from_t1.mni_to_subject(points, HEAD_DIR)"},
            "subject_to_mni_affine_lstsq": np.round(subj_to_mni, 6).tolist(),
            "scalp": {"method": "threshold air + 0.25*(Otsu - air), closing, hole filling, largest component, "
                                "marching cubes (tmsfield.head.mesh_from_mask)", "threshold": round(thr, 3),
                      "head_volume_litres": round(litres, 3), "mean_edge_mm": round(scalp.mean_edge_length, 2),
                      "warped_template_scalp_distance_mm": {"mean": round(float(dscalp.mean()), 2),
                                                            "p95": round(float(np.percentile(dscalp, 95)), 2)}},
            "vertices_moved_inside_outer_boundary": moved, "min_gap_mm": float(min_gap_mm),
            "timings_s": timings, "versions": _versions(ants),
            "license": "surfaces derive from the bundled template (meshes/README.md: MNI152 and FreeSurfer terms)",
        }
        timings["total"] = round(time.perf_counter() - t_all, 2)
        atomic_write_text(out / "provenance.json", json.dumps(prov, indent=1) + "\n")
    head = load_head(out)
    _say(progress, f"wrote {out} ({', '.join(f'{b.name}:{b.n_triangles}' for b in head.boundaries)} triangles) in "
                   f"{timings['total']:.0f} s")
    return T1Head(head=head, head_dir=out, warp_path=warp_path, provenance=prov)
