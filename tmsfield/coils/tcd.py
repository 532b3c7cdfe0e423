"""SimNIBS ``.tcd`` coil files (JSON): read and write (:func:`write_tcd`, at the end).

What is read (learned from SimNIBS' ``two_stimulator_example_coil.tcd``):

* top level: ``name``, ``brand``, ``version``, ``limits``/``resolution`` (of the sampled-A
  grid SimNIBS would build, ignored here), ``coilElementList``, ``stimulatorList``, and
  optionally ``deformList`` and ``coilModels`` (casing meshes, ignored).
* ``stimulatorList[i]``: ``name``, ``brand``, ``maxdIdt`` in **A/s** (converted to A/µs).
* ``coilElementList[j]``: ``type`` (1 = magnetic dipoles, 2 = line segments, 3 = sampled
  A grid), ``stimulator`` (index into ``stimulatorList``), ``points`` and ``values`` (N×3,
  mm), optional ``deformations`` (indices into ``deformList``).

  - type 1: ``points`` are dipole positions (mm), ``values`` the moments (A·m² per A);
  - type 2: ``points`` are segment **midpoints** (mm) and ``values`` the segment vectors
    (end − start, mm); we turn them into exact finite segments
    ``start = p − v/2``, ``end = p + v/2`` (zero-length elements are dropped);
  - type 3 (sampled A grid): ``data`` (A at the grid nodes, T·m per ampere, shape
    nx×ny×nz×3, node ``[i][j][k]`` first) and ``affine`` (4×4, voxel index → coil-frame mm),
    (``points``/``values`` are not used); read into a :class:`~tmsfield.coils.SampledAField` (A is
    interpolated trilinearly, 0 outside the grid). Layout from the SimNIBS JSON schema
    ``simnibs/resources/coil_models/coil_model.schema.json`` ("data": "Magnetic vector
    potential field (A-field) in Tm, for every (x, y, z) coordinate in voxel space";
    "affine": "Affine matrix (4x4 in mm) used to transform the A-field from voxel space into
    world space").

* ``points``/``values`` arrays are either JSON lists of numbers or base64 strings of
  zlib-compressed little-endian float64 (decoded with ``numpy.frombuffer``).
* A type-3 ``data`` is a nested JSON list, or (what SimNIBS writes) a base64 string of a
  zlib-compressed *pickled numpy array* — raw float64 bytes would lose the grid shape. tmsfield
  never unpickles it: :func:`tmsfield.coils.numpy_pickle.array_from_numpy_pickle` reads shape,
  dtype and buffer from the disassembled opcode stream without executing anything, and refuses
  every pickle that is not a plain numeric array (:class:`CoilFileError`). Uncompressed base64
  (older SimNIBS) is accepted too.
* Deformations are accepted only at their default (``initial`` 0, i.e. the identity);
  anything else raises :class:`CoilFileError` naming the element and deformation. The
  initial value is read from ``deformRangeList[deformList[d].deformRange].initial`` (the
  schema's layout) or, if present, from ``deformList[d].initial``.

Several stimulators: a file whose elements belong to more than one stimulator needs
``stimulator=<index>``; only that stimulator's elements are loaded and its ``maxdIdt`` is
used. (Combining stimulators would need their relative currents, which the file does not
define.)
"""

import base64
import binascii
import json
import zlib
from pathlib import Path

import numpy as np

from .coil import Coil, SampledAField
from .numpy_pickle import array_from_numpy_pickle
from .._atomic import atomic_write_text
from ..errors import CoilFileError, CoilError, TmsfieldError

__all__ = ["read_tcd", "write_tcd"]


def _array(value, path, where):
    if isinstance(value, str):
        try:
            raw = zlib.decompress(base64.b64decode(value, validate=True))
        except (binascii.Error, zlib.error, ValueError) as exc:
            raise CoilFileError(f"{path}, {where}: not valid base64 of zlib-compressed float64 data ({exc})") from None
        if len(raw) % 8:
            raise CoilFileError(f"{path}, {where}: decoded {len(raw)} bytes, not a whole number of float64 values")
        arr = np.frombuffer(raw, dtype="<f8").astype(np.float64)
    else:
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            raise CoilFileError(f"{path}, {where}: expected a list of numbers or a base64 string") from None
    if arr.size % 3:
        raise CoilFileError(f"{path}, {where}: {arr.size} values is not a multiple of 3 (expected N×3)")
    arr = arr.reshape(-1, 3)
    if not np.all(np.isfinite(arr)):
        raise CoilFileError(f"{path}, {where}: contains NaN or inf")
    return arr


def _grid_data(value, path, where):
    """A type-3 ``data`` → float64 array (nx, ny, nz, 3)."""
    if isinstance(value, str):
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CoilFileError(f"{path}, {where}: not valid base64 ({exc})") from None
        try:
            raw = zlib.decompress(raw)
        except zlib.error:
            pass                                         # older SimNIBS: base64 without zlib
        if not raw.startswith(b"\x80"):
            raise CoilFileError(f"{path}, {where}: the base64 data is not a pickled numpy array, and raw float64 "
                                f"bytes carry no grid shape; write 'data' as a nested JSON list [nx][ny][nz][3] "
                                f"or as SimNIBS does (base64 of a zlib-compressed pickled numpy array)")
        try:
            arr = array_from_numpy_pickle(raw).astype(np.float64)
        except ValueError as exc:
            raise CoilFileError(f"{path}, {where}: cannot read the stored array: {exc}") from None
    else:
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            raise CoilFileError(f"{path}, {where}: expected a nested list [nx][ny][nz][3] of numbers "
                                f"(rows of unequal length?) or a base64 string") from None
    if arr.ndim != 4 or arr.shape[3] != 3 or min(arr.shape[:3]) < 2:
        raise CoilFileError(f"{path}, {where}: expected A samples of shape (nx, ny, nz, 3) with each n >= 2; "
                            f"got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise CoilFileError(f"{path}, {where}: contains NaN or inf")
    return arr


def _grid_affine(value, path, where):
    try:
        aff = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise CoilFileError(f"{path}, {where}: expected a 4x4 list of numbers (voxel index -> mm)") from None
    if aff.shape != (4, 4) or not np.all(np.isfinite(aff)):
        raise CoilFileError(f"{path}, {where}: expected a finite 4x4 matrix (voxel index -> mm); got shape {aff.shape}")
    return aff


_SNAP_MM = 1e-9


def _snap_chain(starts, ends):
    """Make consecutive segments share their node exactly where they meet to within 1e-9 mm.

    Midpoint ± half-vector leaves rounding-level gaps; closing them lets the kernels reuse the
    node distance and lets :func:`dipole_equivalent` see closed polylines.
    """
    starts, ends = starts.copy(), ends.copy()
    if starts.shape[0] > 1:
        gap = np.linalg.norm(starts[1:] - ends[:-1], axis=1)
        join = np.flatnonzero(gap < _SNAP_MM) + 1
        starts[join] = ends[join - 1]
    return starts, ends


def _polylines(starts, ends):
    """Split chained segments into polylines (vertex arrays); close loops exactly."""
    if starts.shape[0] == 0:
        return []
    breaks = np.flatnonzero(np.any(starts[1:] != ends[:-1], axis=1)) + 1
    out = []
    for a, b in zip(np.r_[0, breaks], np.r_[breaks, starts.shape[0]]):
        verts = np.vstack([starts[a:b], ends[b - 1:b]])
        if np.linalg.norm(verts[-1] - verts[0]) < _SNAP_MM:
            verts[-1] = verts[0]
        out.append(verts)
    return out


def _deformation_initial(dd, deform_ranges):
    """Initial value of a deformList entry: its own ``initial`` or that of ``deformRangeList[deformRange]``."""
    if not isinstance(dd, dict):
        return None
    try:
        if "initial" in dd:
            return float(dd["initial"])
        if "deformRange" in dd:
            rng = deform_ranges[int(dd["deformRange"])]
            return float(rng.get("initial", 0.0)) if isinstance(rng, dict) else None
    except (IndexError, KeyError, TypeError, ValueError, OverflowError):
        return None
    return 0.0


def _stimulator_of(el, path, key):
    """The element's ``stimulator`` index (default 0) as an int; CoilFileError unless a whole number >= 0."""
    if not isinstance(el, dict):
        raise CoilFileError(f"{path}, {key}: must be a JSON object")
    s = el.get("stimulator", 0)
    if isinstance(s, bool) or not isinstance(s, (int, float)) or not np.isfinite(s) or s != int(s) or s < 0:
        raise CoilFileError(f"{path}, {key}.stimulator: {s!r} is not an index into stimulatorList "
                            f"(a whole number >= 0)")
    return int(s)


def read_tcd(path, stimulator=None, name=None):
    """Read a SimNIBS ``.tcd`` coil (dipole, line-segment and sampled-A-grid elements).

    Parameters
    ----------
    path : str or Path
    stimulator : int, optional
        Index into the file's ``stimulatorList``; required when the elements use more
        than one stimulator.
    name : str, optional
        Coil name (default: the file's ``name``, else the file stem).

    Returns
    -------
    Coil
        Segments, dipoles and/or sampled A grids (``sampled_grids``), mm; ``max_didt_a_per_us`` from the stimulator's
        ``maxdIdt`` (A/s in the file).

    Raises
    ------
    CoilFileError
        Invalid JSON (with line number), missing keys, bad arrays (e.g. a type-3 ``data`` not
        shaped nx×ny×nz×3, a missing or non-4x4 ``affine``), non-default deformations, or an
        ambiguous/invalid ``stimulator``.

    Examples
    --------
    >>> import tempfile, pathlib, json
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "d.tcd"
    >>> _ = p.write_text(json.dumps({"name": "d", "stimulatorList": [{"name": "s", "maxdIdt": 1e8}],
    ...     "coilElementList": [{"type": 1, "stimulator": 0, "points": [[0, 0, -10]], "values": [[0, 0, 1e-3]]}]}))
    >>> read_tcd(p).max_didt_a_per_us
    100.0
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CoilFileError(f"cannot read coil file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CoilFileError(f"{path} is not a text .tcd (JSON) file") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CoilFileError(f"{path}, line {exc.lineno}: invalid JSON ({exc.msg})") from None
    except RecursionError:
        raise CoilFileError(f"{path}: JSON nested too deeply to be a coil file") from None
    if not isinstance(doc, dict):
        raise CoilFileError(f"{path}: the top level of a .tcd must be a JSON object")
    elements = doc.get("coilElementList")
    if not isinstance(elements, list) or not elements:
        raise CoilFileError(f"{path}: key 'coilElementList' is missing or empty")
    stims = doc.get("stimulatorList") or []
    deforms = doc.get("deformList") or []
    deform_ranges = doc.get("deformRangeList") or []
    for key, val in (("stimulatorList", stims), ("deformList", deforms), ("deformRangeList", deform_ranges)):
        if not isinstance(val, list):
            raise CoilFileError(f"{path}: key {key!r} must be a list; got {type(val).__name__}")

    used = sorted({_stimulator_of(e, path, f"coilElementList[{j}]") for j, e in enumerate(elements)})
    if stimulator is None:
        if len(used) > 1:
            listing = ", ".join(f"{i}: {stims[i].get('name', '?') if isinstance(stims[i], dict) else '?'}"
                                if 0 <= i < len(stims) else str(i) for i in used)
            raise CoilFileError(f"{path}: the coil has elements for {len(used)} stimulators ({listing}); "
                                f"choose one with stimulator=<index>, e.g. load_coil(path, stimulator={used[0]})")
        stimulator = used[0]
    if not isinstance(stimulator, (int, np.integer)) or stimulator not in used:
        raise CoilFileError(f"{path}: stimulator={stimulator!r} is not used by any element; available: {used}")

    starts, ends, seg_cur, dpos, dmom, grids = [], [], [], [], [], []
    for j, el in enumerate(elements):
        key = f"coilElementList[{j}]"
        if _stimulator_of(el, path, key) != stimulator:
            continue
        el_deforms = el.get("deformations") or []
        if not isinstance(el_deforms, list):
            raise CoilFileError(f"{path}, {key}.deformations: must be a list of indices into deformList")
        for d in el_deforms:
            try:
                if isinstance(d, bool) or not isinstance(d, int) or d < 0:
                    raise TypeError
                dd = deforms[d]
            except (IndexError, ValueError, TypeError):
                raise CoilFileError(f"{path}, {key}.deformations: index {d!r} not in deformList") from None
            init = _deformation_initial(dd, deform_ranges)
            if init is None or init != 0.0:
                raise CoilFileError(f"{path}, {key}.deformations: deformList[{d}] has a non-default value "
                                    f"({dd!r}); deformed coils are not supported — set it to its default (0)")
        etype = el.get("type")
        if etype == 3:
            for k in ("data", "affine"):
                if k not in el:
                    raise CoilFileError(f"{path}, {key}: key {k!r} is missing (a type 3 sampled-grid element needs "
                                        f"'data' (nx×ny×nz×3 A-field, T·m) and 'affine' (4x4 voxel -> mm))")
            data = _grid_data(el["data"], path, f"{key}.data")
            aff = _grid_affine(el["affine"], path, f"{key}.affine")
            try:
                grids.append(SampledAField(data, aff))
            except CoilError as exc:
                raise CoilFileError(f"{path}, {key}: {exc}") from None
            continue
        if etype not in (1, 2):
            raise CoilFileError(f"{path}, {key}.type: unknown element type {etype!r} (1 dipoles, 2 line segments, 3 grid)")
        for k in ("points", "values"):
            if k not in el:
                raise CoilFileError(f"{path}, {key}: key {k!r} is missing")
        pts = _array(el["points"], path, f"{key}.points")
        val = _array(el["values"], path, f"{key}.values")
        if pts.shape != val.shape:
            raise CoilFileError(f"{path}, {key}: {pts.shape[0]} points but {val.shape[0]} values")
        if etype == 1:
            dpos.append(pts)
            dmom.append(val)
        else:
            keep = np.any(val != 0, axis=1)
            s, e = _snap_chain(pts[keep] - 0.5 * val[keep], pts[keep] + 0.5 * val[keep])
            starts.append(s)
            ends.append(e)
            seg_cur.append(np.ones(s.shape[0]))

    didt = None
    if 0 <= stimulator < len(stims) and isinstance(stims[stimulator], dict) and "maxdIdt" in stims[stimulator]:
        try:
            didt = float(stims[stimulator]["maxdIdt"]) / 1e6
        except (TypeError, ValueError, OverflowError):
            raise CoilFileError(f"{path}, stimulatorList[{stimulator}].maxdIdt: not a number (A/s)") from None
        if not np.isfinite(didt):
            raise CoilFileError(f"{path}, stimulatorList[{stimulator}].maxdIdt: {stims[stimulator]['maxdIdt']!r} "
                                f"is not a finite number (A/s); give the stimulator's maximum dI/dt, e.g. 1.5e8")
    cat = lambda xs: np.concatenate(xs) if xs else np.zeros((0, 3))
    windings = tuple(w for s, e in zip(starts, ends) for w in _polylines(s, e))
    meta = {k: str(doc[k]) for k in ("brand", "version") if k in doc}
    if 0 <= stimulator < len(stims) and isinstance(stims[stimulator], dict):
        meta["stimulator"] = str(stims[stimulator].get("name", stimulator))
    try:
        return Coil(name=name or str(doc.get("name") or path.stem),
                    segment_start_mm=cat(starts), segment_end_mm=cat(ends),
                    segment_current=np.concatenate(seg_cur) if seg_cur else np.zeros(0),
                    dipole_positions_mm=cat(dpos), dipole_moments=cat(dmom),
                    max_didt_a_per_us=didt if (didt and didt > 0) else None, metadata=meta, windings=windings,
                    sampled_grids=tuple(grids),
                    description=f"SimNIBS .tcd coil read from {path.name} (stimulator {stimulator})")
    except TmsfieldError as exc:            # CoilError, or InputError from the array checks (e.g. overflow to inf)
        raise CoilFileError(f"{path}: {exc}") from None


# ---------------------------------------------------------------------------------------------- writing
def _encode(arr, ascii_mode):
    """(N, 3) float64 → JSON list, or base64 of zlib-compressed little-endian float64 (what SimNIBS writes)."""
    a = np.ascontiguousarray(arr, dtype="<f8")
    if ascii_mode:
        return a.tolist()
    return base64.b64encode(zlib.compress(a.tobytes())).decode("ascii")


def _segment_elements(coil, currents):
    """Wire segments → type-2 (points = midpoints, values = end − start, mm) arrays."""
    s, e, c = coil.segment_start_mm, coil.segment_end_mm, coil.segment_current
    keep = c != 0
    s, e, c = s[keep], e[keep], c[keep]
    mag = np.abs(c)
    unit = np.isclose(mag, 1.0, rtol=0, atol=1e-12)
    whole = np.isclose(mag, np.round(mag), rtol=0, atol=1e-12) & (mag >= 1)
    if currents == "exact":
        if not np.all(whole):
            bad = c[~whole][0]
            raise CoilError(f"coil {coil.name!r}: a .tcd line element carries the coil current (1 A per A); a segment "
                            f"current of {bad:g} A per A has no exact form in the file. Build the coil with whole "
                            f"currents (e.g. n_filaments=1), or write_tcd(..., currents='scale') to scale each "
                            f"element's vector by its current (SimNIBS' current-element form, exact in SimNIBS' "
                            f"point-element model; tmsfield then reads a shortened segment)")
        reps = np.round(mag).astype(int)
        idx = np.repeat(np.arange(s.shape[0]), reps)          # a whole current k: the segment k times
        s, e, c = s[idx], e[idx], np.sign(c[idx])
        scale = np.ones(s.shape[0])
    elif currents == "scale":
        scale = np.where(unit, 1.0, mag)
        c = np.sign(c)
    else:
        raise CoilError(f"currents must be 'exact' or 'scale'; got {currents!r}")
    fwd = c > 0
    a, b = np.where(fwd[:, None], s, e), np.where(fwd[:, None], e, s)   # current runs from a to b
    return 0.5 * (a + b), (b - a) * scale[:, None]


def write_tcd(coil, path, ascii_mode=False, currents="exact", limits_mm=None, resolution_mm=None):
    """Write a coil as a SimNIBS ``.tcd`` file (JSON), so that SimNIBS (>= 4) can use it.

    Layout (SimNIBS' schema ``coil_model.schema.json``; read back by :func:`read_tcd`):
    wire segments become one element of type 2 (``points`` = segment midpoints, ``values`` =
    end − start in mm, in the direction of the current), dipoles one element of type 1
    (positions in mm, moments in A·m² per A), each sampled A grid one element of type 3
    (``data`` as a nested list, T·m per A; ``affine`` voxel → mm). One stimulator, with
    ``maxdIdt`` in A/s from the coil's ``max_didt_a_per_us`` when known. Casing, handle
    direction and description are not part of the format and are not written.

    Parameters
    ----------
    coil : Coil
    path : str or Path
        Output file (written atomically).
    ascii_mode : bool
        Write ``points``/``values`` as JSON lists (default: base64 of zlib-compressed
        float64, as SimNIBS does). Both keep every bit of the float64 values.
    currents : {"exact", "scale"}
        A line element carries the full coil current. ``"exact"`` (default) writes a segment with
        a whole current k (±1, ±2, ...) as |k| copies in the direction of the current and
        refuses fractional currents; ``"scale"`` multiplies each element's vector by |current|
        (SimNIBS evaluates line elements as point current elements, for which this is exact).
    limits_mm : array_like (3, 2), optional
        ``limits`` for SimNIBS' NIfTI / grid expansion ([[xmin, xmax], [ymin, ymax], [zmin, zmax]], mm).
    resolution_mm : array_like (3,), optional
        ``resolution`` (mm) of that expansion.

    Returns
    -------
    Path

    Raises
    ------
    CoilError
        A fractional segment current with ``currents="exact"``, or bad limits/resolution.

    Examples
    --------
    >>> import tempfile, os
    >>> from tmsfield.coils import load_coil
    >>> p = os.path.join(tempfile.mkdtemp(), "fig8.tcd")
    >>> _ = write_tcd(load_coil("fig8_70mm"), p)
    >>> read_tcd(p).n_segments == load_coil("fig8_70mm").n_segments
    True
    """
    if not isinstance(coil, Coil):
        raise CoilError(f"write_tcd needs a tmsfield Coil; got {type(coil).__name__}")
    elements = []
    if coil.n_segments:
        pts, vals = _segment_elements(coil, currents)
        if pts.shape[0]:
            elements.append({"name": "wires", "stimulator": 0, "type": 2,
                             "points": _encode(pts, ascii_mode), "values": _encode(vals, ascii_mode)})
    if coil.n_dipoles:
        elements.append({"name": "dipoles", "stimulator": 0, "type": 1,
                         "points": _encode(coil.dipole_positions_mm, ascii_mode),
                         "values": _encode(coil.dipole_moments, ascii_mode)})
    for i, g in enumerate(coil.sampled_grids):
        elements.append({"name": f"grid_{i}", "stimulator": 0, "type": 3,
                         "data": np.asarray(g.values, dtype=np.float64).tolist(),
                         "affine": np.asarray(g.affine, dtype=np.float64).tolist()})
    if not elements:
        raise CoilError(f"coil {coil.name!r} has nothing to write (no segment with a current, dipole or grid)")
    stim = {"name": str(coil.metadata.get("stimulator", "stimulator"))}
    if coil.max_didt_a_per_us is not None:
        stim["maxdIdt"] = float(coil.max_didt_a_per_us) * 1e6          # A/us -> A/s
    doc = {"name": str(coil.name)}
    for k in ("brand", "version"):
        if k in coil.metadata:
            doc[k] = str(coil.metadata[k])
    if limits_mm is not None:
        lim = np.asarray(limits_mm, dtype=np.float64)
        if lim.shape != (3, 2) or not np.all(np.isfinite(lim)) or np.any(lim[:, 1] <= lim[:, 0]):
            raise CoilError(f"limits_mm must be [[xmin, xmax], [ymin, ymax], [zmin, zmax]] (mm, min < max); "
                            f"got {limits_mm!r}")
        doc["limits"] = lim.tolist()
    if resolution_mm is not None:
        res = np.asarray(resolution_mm, dtype=np.float64).reshape(-1)
        if res.shape != (3,) or not np.all(np.isfinite(res)) or np.any(res <= 0):
            raise CoilError(f"resolution_mm must be three positive step widths (mm); got {resolution_mm!r}")
        doc["resolution"] = res.tolist()
    doc["coilElementList"] = elements
    doc["stimulatorList"] = [stim]
    path = Path(path)
    atomic_write_text(path, json.dumps(doc, indent=1, allow_nan=False) + "\n")
    return path
