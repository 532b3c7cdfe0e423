"""Read and write single triangle surfaces through nibabel: FreeSurfer geometry (``lh.pial``,
MNE ``bem/*.surf``) and GIFTI (``.gii``). Writes are atomic (temp file + ``os.replace``)."""

from pathlib import Path

import numpy as np

from .._atomic import atomic_path
from ..errors import HeadFileError
from .mesh_tools import detect_units_scale
from .surface import Surface

__all__ = ["read_surface", "read_freesurfer_surface", "read_gifti_surface", "write_gifti_surface",
           "write_freesurfer_surface", "read_gifti_scalars", "atomic_path"]


def _require(path):
    path = Path(path)
    if not path.is_file():
        raise HeadFileError(f"surface file not found: {path}; check the path (FreeSurfer surfaces live in "
                            f"<subject>/surf and <subject>/bem, GIFTI files end in .gii)")
    return path


def _surface(v, t, name, path, units):
    """Checked Surface from what a file held: any problem is a HeadFileError naming ``path``."""
    from ..errors import TmsfieldError
    try:
        v = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise HeadFileError(f"{path}: the vertex coordinates are not numbers") from None
    bad = ~np.all(np.isfinite(v), axis=-1) if v.ndim == 2 else np.zeros(0, bool)
    if bad.any():
        raise HeadFileError(f"{path}: {int(bad.sum())} vertex coordinate row(s) are NaN or inf (first at vertex "
                            f"{int(np.flatnonzero(bad)[0])}); the file is corrupt — re-export it")
    try:
        scale = detect_units_scale(v, path, units) if v.ndim == 2 and v.size else 1.0
        return Surface(v * scale, t, name=name)
    except HeadFileError:
        raise
    except TmsfieldError as exc:                 # shape, index range ... from Surface's own checks
        raise HeadFileError(f"{path}: {exc}") from None


# FreeSurfer geometry magic numbers (3-byte big-endian) and the bytes per vertex / per face they imply
_FS_TRIANGLE, _FS_QUAD, _FS_NEW_QUAD = 16777214, 16777215, 16777213


def _check_freesurfer_counts(path):
    """Refuse a FreeSurfer geometry file whose header announces more vertices/faces than its size holds,
    before nibabel allocates the announced arrays (``np.fromfile(count=...)`` allocates them up front)."""
    data = path.read_bytes()
    if len(data) < 3:
        raise HeadFileError(f"{path}: empty or truncated FreeSurfer surface ({len(data)} bytes)")
    magic = int.from_bytes(data[:3], "big")
    if magic == _FS_TRIANGLE:
        end1 = data.find(b"\n", 3)
        end2 = data.find(b"\n", end1 + 1) if end1 >= 0 else -1
        if end2 < 0 or len(data) < end2 + 9:
            raise HeadFileError(f"{path}: truncated FreeSurfer surface header (no vertex/face counts)")
        nvert, nface = (int.from_bytes(data[end2 + 1 + 4 * k:end2 + 5 + 4 * k], "big", signed=True) for k in (0, 1))
        need = end2 + 9 + 12 * nvert + 12 * nface
    elif magic in (_FS_QUAD, _FS_NEW_QUAD):
        if len(data) < 9:
            raise HeadFileError(f"{path}: truncated FreeSurfer quad surface header")
        nvert, nface = int.from_bytes(data[3:6], "big"), int.from_bytes(data[6:9], "big")
        need = 9 + nvert * 3 * (2 if magic == _FS_QUAD else 4) + nface * 12
    else:
        return                                   # nibabel refuses it with its own message
    if nvert <= 0 or nface <= 0 or need > len(data):
        raise HeadFileError(f"{path}: the FreeSurfer header announces {nvert} vertices and {nface} faces, which a "
                            f"file of {len(data)} bytes cannot hold; the file is truncated or corrupt — re-export it")


def read_freesurfer_surface(path, name=None, units="mm"):
    """Read a FreeSurfer geometry file (``lh.pial``, ``bem/outer_skin.surf`` ...) with nibabel.

    Coordinates are FreeSurfer *surface RAS* (tkr) as stored; MNE/FreeSurfer write mm.

    Parameters
    ----------
    path : str or Path
    name : str, optional
        Surface name (default: file name).
    units : {"mm", "m", "auto"}
        Unit of the stored coordinates; ``"auto"`` decides from the extent (head-sized surfaces only).

    Returns
    -------
    Surface
        Vertices (V, 3) mm, triangles (T, 3).

    Raises
    ------
    HeadFileError
        Missing, truncated or corrupt file (counts in the header beyond what the file holds, NaN/inf
        coordinates, indices out of range); the message names the file.

    Examples
    --------
    >>> import nibabel as nib, tempfile, os
    >>> from tmsfield.head import icosphere
    >>> s = icosphere(80.0, 2)
    >>> p = os.path.join(tempfile.mkdtemp(), "lh.test")
    >>> write_freesurfer_surface(p, s)
    >>> read_freesurfer_surface(p).n_triangles
    320
    """
    import nibabel.freesurfer as fs
    path = _require(path)
    try:
        _check_freesurfer_counts(path)
        v, t = fs.read_geometry(str(path))
    except HeadFileError:
        raise
    except Exception as exc:
        raise HeadFileError(f"{path}: not a readable FreeSurfer surface ({type(exc).__name__}: {exc}); "
                            f"expected a triangle geometry file such as lh.pial or bem/outer_skin.surf") from None
    return _surface(v, t, name or path.name, path, units)


def read_gifti_surface(path, name=None, units="mm"):
    """Read a GIFTI surface (``NIFTI_INTENT_POINTSET`` + ``NIFTI_INTENT_TRIANGLE`` arrays) with nibabel.

    Parameters
    ----------
    path : str or Path
        ``.gii`` or ``.gii.gz``.
    name : str, optional
    units : {"mm", "m", "auto"}

    Returns
    -------
    Surface

    Raises
    ------
    HeadFileError
        Unreadable XML, not one POINTSET + one TRIANGLE array, an impossible Dimensionality, arrays stored
        in an external file (not supported), NaN/inf coordinates; the message names the file.

    Examples
    --------
    >>> import tempfile, os
    >>> from tmsfield.head import icosphere
    >>> p = os.path.join(tempfile.mkdtemp(), "scalp.gii")
    >>> write_gifti_surface(p, icosphere(90.0, 2, name="scalp"))
    >>> read_gifti_surface(p).name
    'scalp'
    """
    import nibabel as nib
    path = _require(path)
    img = _load_gifti(path)
    pts = [d for d in img.darrays if d.intent == nib.nifti1.intent_codes["NIFTI_INTENT_POINTSET"]]
    tri = [d for d in img.darrays if d.intent == nib.nifti1.intent_codes["NIFTI_INTENT_TRIANGLE"]]
    if len(pts) != 1 or len(tri) != 1:
        raise HeadFileError(f"{path}: a GIFTI surface needs exactly one POINTSET and one TRIANGLE array; found "
                            f"{len(pts)} and {len(tri)} (is this a data/label .gii rather than a surface?)")
    meta_name = None
    try:
        meta_name = img.meta.get("Name") if img.meta is not None else None
    except Exception:
        meta_name = None
    return _surface(pts[0].data, tri[0].data, name or meta_name or _stem(path), path, units)


def read_gifti_scalars(path):
    """Read the first data array of a GIFTI file (e.g. per-vertex sulc) as a float64 vector.

    Examples
    --------
    >>> import tempfile, os, numpy as np, nibabel as nib
    >>> p = os.path.join(tempfile.mkdtemp(), "x.gii")
    >>> img = nib.gifti.GiftiImage(darrays=[nib.gifti.GiftiDataArray(np.arange(3, dtype=np.float32))])
    >>> nib.save(img, p)
    >>> read_gifti_scalars(p).tolist()
    [0.0, 1.0, 2.0]
    """
    path = _require(path)
    img = _load_gifti(path)
    if not img.darrays:
        raise HeadFileError(f"{path}: GIFTI file holds no data arrays")
    return np.asarray(img.darrays[0].data, dtype=np.float64).ravel()


def _check_gifti_arrays(path, raw):
    """Refuse, before nibabel parses them, DataArray headers that would make it loop or allocate without
    bound (nibabel runs ``range(Dimensionality)`` as given) or read another file (external encoding)."""
    from xml.parsers import expat

    problems = []

    def start(name, attrs):
        if name != "DataArray" or problems:
            return
        dims = attrs.get("Dimensionality", "1")
        try:
            ok = 1 <= int(dims) <= 6
        except ValueError:
            ok = False
        if not ok:
            problems.append(f"DataArray Dimensionality={dims[:20]!r} (GIFTI allows 1 to 6)")
        elif "external" in attrs.get("Encoding", "").lower():
            problems.append(f"DataArray with Encoding={attrs['Encoding']!r}: tmsfield reads only arrays stored in "
                            f"the .gii itself; re-save it with inline (base64) data")

    parser = expat.ParserCreate()
    parser.StartElementHandler = start
    try:
        parser.Parse(raw, True)
    except (expat.ExpatError, LookupError, ValueError) as exc:    # LookupError: unknown declared encoding
        raise HeadFileError(f"{path}: not a readable GIFTI file (XML error: {exc})") from None
    if problems:
        raise HeadFileError(f"{path}: unsupported or corrupt GIFTI: {problems[0]}")


def _load_gifti(path):
    import gzip

    import nibabel as nib
    try:
        raw = path.read_bytes()
        if str(path).endswith(".gz"):
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise HeadFileError(f"{path}: not a readable GIFTI file ({type(exc).__name__}: {exc})") from None
    _check_gifti_arrays(path, raw)
    try:
        return nib.gifti.GiftiImage.from_bytes(raw)
    except Exception as exc:
        raise HeadFileError(f"{path}: not a readable GIFTI file ({type(exc).__name__}: {exc})") from None


def _stem(path):
    n = Path(path).name
    for suf in (".gii.gz", ".gii", ".surf"):
        if n.endswith(suf):
            return n[: -len(suf)]
    return n


def read_surface(path, name=None, units="mm"):
    """Read a surface by extension: ``.gii``/``.gii.gz`` → GIFTI, otherwise FreeSurfer geometry.

    Examples
    --------
    >>> import tempfile, os
    >>> from tmsfield.head import icosphere
    >>> p = os.path.join(tempfile.mkdtemp(), "brain.gii")
    >>> write_gifti_surface(p, icosphere(80.0, 1, name="brain"))
    >>> read_surface(p).n_vertices
    42
    """
    p = str(path)
    if p.endswith(".gii") or p.endswith(".gii.gz"):
        return read_gifti_surface(path, name, units)
    return read_freesurfer_surface(path, name, units)


def write_gifti_surface(path, surface, scalars=None, precision=np.float32):
    """Write a surface (and optionally a per-vertex scalar array) as GIFTI, atomically.

    Parameters
    ----------
    path : str or Path
    surface : Surface
    scalars : array_like (V,), optional
        Written as an extra ``NIFTI_INTENT_SHAPE`` array (e.g. sulc).
    precision : dtype
        Vertex dtype (float32 default, as FreeSurfer/GIFTI tools expect).

    Examples
    --------
    >>> import tempfile, os
    >>> from tmsfield.head import icosphere
    >>> write_gifti_surface(os.path.join(tempfile.mkdtemp(), "s.gii"), icosphere(50.0, 1))
    """
    import nibabel as nib

    from .._outputs import require_finite
    require_finite(np.asarray(surface.vertices, float), f"surface {surface.name!r} vertex", path)
    if scalars is not None:
        require_finite(np.asarray(scalars, float), f"surface {surface.name!r} scalar at vertex", path)
    darrays = [
        nib.gifti.GiftiDataArray(np.asarray(surface.vertices, dtype=precision), intent="NIFTI_INTENT_POINTSET",
                                 datatype="NIFTI_TYPE_FLOAT32"),
        nib.gifti.GiftiDataArray(np.asarray(surface.triangles, dtype=np.int32), intent="NIFTI_INTENT_TRIANGLE",
                                 datatype="NIFTI_TYPE_INT32"),
    ]
    if scalars is not None:
        darrays.append(nib.gifti.GiftiDataArray(np.asarray(scalars, dtype=np.float32), intent="NIFTI_INTENT_SHAPE",
                                                datatype="NIFTI_TYPE_FLOAT32"))
    img = nib.gifti.GiftiImage(darrays=darrays, meta=nib.gifti.GiftiMetaData({"Name": surface.name}))
    for d in img.darrays:
        d.encoding = "GIFTI_ENCODING_B64GZ"
    with atomic_path(path) as tmp:
        nib.save(img, tmp)


def write_freesurfer_surface(path, surface):
    """Write a FreeSurfer geometry file (surface RAS, mm), atomically.

    Examples
    --------
    >>> import tempfile, os
    >>> from tmsfield.head import icosphere
    >>> write_freesurfer_surface(os.path.join(tempfile.mkdtemp(), "outer_skin.surf"), icosphere(90.0, 1))
    """
    import nibabel.freesurfer as fs

    from .._outputs import require_finite
    require_finite(np.asarray(surface.vertices, float), f"surface {surface.name!r} vertex", path)
    with atomic_path(path) as tmp:
        fs.write_geometry(tmp, np.asarray(surface.vertices, dtype=np.float64),
                          np.asarray(surface.triangles, dtype=np.int32))
