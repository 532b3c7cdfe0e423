"""Fuzzed readers (issue 12, item 4): every file a user can hand tmsfield, damaged every way we can think of.

Each reader starts from a small VALID file written here (a .ccd, a .tcd, sphere meshes in gmsh ASCII and
binary, GIFTI and FreeSurfer surfaces, a NIfTI label volume, landmark JSON, a batch manifest, a result
JSON) and gets it back truncated, with garbage or flipped bytes, numbers replaced by NaN/inf/absurd
values, JSON values of the wrong type, absurd counts in headers, empty, not UTF-8. The property, for
every input:

* the reader returns a valid object (finite arrays of the right shapes), or
* it raises a :class:`tmsfield.errors.TmsfieldError` whose message names the file (its full path) and
  says what is wrong;
* never another exception type, never NaN/inf in what it returns, never a hang (each call runs under a
  wall-clock alarm, so a hang fails the test instead of blocking CI), and never an allocation far beyond
  what the file's size allows (peak traced memory, for the absurd-count cases).

The hypothesis tests take their budget from ``TMSFIELD_FUZZ_EXAMPLES`` (default 25, CI) and their seed
from ``TMSFIELD_TEST_SEED`` (tests/conftest.py); a deeper run::

    TMSFIELD_FUZZ_EXAMPLES=500 python -m pytest tests/test_fuzz_readers.py

The second half checks that no reader ever unpickles a file (issue 12, item 8).
"""

import ast
import base64
import copy
import gzip
import io
import json
import math
import pickle
import re
import signal
import struct
import tracemalloc
import warnings
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

from tmsfield.coils import Coil
from tmsfield.errors import TmsfieldError
from tmsfield.head import Head, Surface, icosphere

REPO = Path(__file__).resolve().parents[1]
TIME_LIMIT_S = 20.0          # per reader call; every reader here finishes a valid file in well under 1 s


# ------------------------------------------------------------------------------------------------ guards
class ReaderHang(BaseException):
    """Raised by the alarm; a BaseException so that no reader's ``except Exception`` can swallow it."""


@contextmanager
def _time_limit(seconds, what):
    def _alarm(signum, frame):
        raise ReaderHang(f"{what} did not finish within {seconds} s (a hang on a damaged file)")
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def call_reader(read, path, validate, max_bytes=None, named=None):
    """Run ``read(path)``; check the property. Returns the object read, or None when it raised.

    ``max_bytes``: bound on the peak memory traced while reading (numpy arrays included), for inputs
    whose header announces absurd counts. ``named``: the path the error must name (default ``path``).
    """
    path = Path(path)
    named = path if named is None else Path(named)
    if max_bytes is not None:
        tracemalloc.start()
    hang = None
    try:
        with _time_limit(TIME_LIMIT_S, f"{getattr(read, '__name__', read)}({path.name})"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")      # readers may warn; only errors and results are judged
                out = read(path)
    except ReaderHang as exc:
        # re-raised below, outside this handler: the hung traceback may hold C frames (pyexpat) whose missing
        # line numbers crash pytest's report formatting
        hang, out = str(exc), None
    except TmsfieldError as exc:
        _event(f"refused: {type(exc).__name__}")
        msg = str(exc)
        assert str(named) in msg, f"the error does not name the file {named}: {msg!r}"
        rest = msg.replace(str(named), "").strip(" :,.;-")
        assert len(rest) >= 12, f"the error names the file but not the problem: {msg!r}"
        out = None
    finally:
        if max_bytes is not None:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    if hang is not None:
        raise AssertionError(hang)
    if max_bytes is not None:
        assert peak <= max_bytes, f"reading {path.name} ({path.stat().st_size} bytes) peaked at {peak / 2**20:.0f} MiB"
    if out is not None:
        _event("read")
        validate(out)
    return out


def _event(what):
    """Count outcomes in hypothesis' statistics (``--hypothesis-show-statistics``)."""
    from hypothesis import event
    from hypothesis.control import currently_in_test_context
    if currently_in_test_context():
        event(what)


def _finite(a, what, shape=None, dtype_kind="f"):
    a = np.asarray(a)
    assert a.dtype.kind in dtype_kind, f"{what}: dtype {a.dtype}"
    if shape is not None:
        assert a.ndim == len(shape) and all(s is None or s == n for s, n in zip(shape, a.shape)), \
            f"{what}: shape {a.shape}, expected {shape}"
    if a.dtype.kind == "f":
        assert np.all(np.isfinite(a)), f"{what}: NaN or inf in what the reader returned"


def valid_coil(c):
    assert isinstance(c, Coil)
    _finite(c.segment_start_mm, "segment starts", (None, 3))
    _finite(c.segment_end_mm, "segment ends", (c.n_segments, 3))
    _finite(c.segment_current, "segment currents", (c.n_segments,))
    _finite(c.dipole_positions_mm, "dipole positions", (None, 3))
    _finite(c.dipole_moments, "dipole moments", (c.n_dipoles, 3))
    for g in c.sampled_grids:
        _finite(g.values, "grid values", (None, None, None, 3))
        _finite(g.affine, "grid affine", (4, 4))
    assert c.n_segments + c.n_dipoles + len(c.sampled_grids) > 0, "a coil with nothing in it"
    if c.max_didt_a_per_us is not None:
        assert math.isfinite(c.max_didt_a_per_us) and c.max_didt_a_per_us > 0


def valid_surface(s):
    assert isinstance(s, Surface)
    _finite(s.vertices, f"vertices of {s.name}", (None, 3))
    _finite(s.triangles, f"triangles of {s.name}", (None, 3), "iu")
    assert s.n_triangles > 0 and s.triangles.min() >= 0 and s.triangles.max() < s.n_vertices


def valid_surfaces(d):
    assert isinstance(d, dict) and d
    for tag, s in d.items():
        assert isinstance(tag, int)
        valid_surface(s)


def valid_head(h):
    assert isinstance(h, Head)
    for b in h.boundaries:
        valid_surface(b)
    if h.cortex is not None:
        valid_surface(h.cortex)
    for k, p in (h.landmarks or {}).items():
        _finite(p, f"landmark {k}", (3,))


def valid_landmarks(d):
    assert isinstance(d, dict) and sorted(d) == ["inion", "lpa", "nasion", "rpa"]
    for k, v in d.items():
        _finite(v, f"landmark {k}", (3,))


def _json_finite(x, where="result"):
    if isinstance(x, float):
        assert math.isfinite(x), f"{where}: non-finite number {x!r}"
    elif isinstance(x, dict):
        for k, v in x.items():
            _json_finite(v, f"{where}.{k}")
    elif isinstance(x, (list, tuple)):
        for i, v in enumerate(x):
            _json_finite(v, f"{where}[{i}]")


def valid_result(r):
    assert isinstance(r, dict)
    _json_finite(r)
    _finite(np.asarray(r["pose"], dtype=float), "pose", (4, 4))
    _finite(np.asarray(r["position_mm"], dtype=float), "position_mm", (3,))


def valid_scene_result(r):
    valid_result(r)
    from tmsfield.viz.result_scene import result_didt
    try:
        d = result_didt(r)
    except TmsfieldError as exc:                   # allowed, if it names the file
        assert r["_path"] in str(exc), str(exc)
        return
    assert d is None or (isinstance(d, float) and math.isfinite(d) and d > 0), d


def valid_manifest(rows):
    assert isinstance(rows, list) and rows
    for r in rows:
        assert r.id and "/" not in r.id and "\\" not in r.id and r.id not in (".", "..")
        for k, v in r.job.settings().items():
            _json_finite(v, f"row {r.line}.{k}")


# ------------------------------------------------------------------------------------------- mutations
_BAD_TOKENS = [b"nan", b"NaN", b"-nan", b"inf", b"-inf", b"Infinity", b"1e309", b"-1e309", b"1e308",
               b"-1", b"0", b"-0", b"1000000000000", b"99999999999999999999999999", b"2147483647",
               b"2147483648", b"4294967296", b"-2147483649", b"1.5", b"0x1F", b"1e", b".", b"x", b"",
               b"  ", b"\xff\xfe", b"\xc3\xa9", b"1e-320", b"--1", b"sNaN", b"1_000"]
_NUMBER = re.compile(rb"(?<![A-Za-z_$])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


@st.composite
def byte_mutations(draw, valid):
    """Truncation, flipped/inserted/overwritten/deleted/duplicated bytes (1-4 edits)."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["truncate", "flip", "insert", "overwrite", "delete", "duplicate"]))
        n = len(data)
        at = draw(st.integers(0, max(n - 1, 0)))
        if op == "truncate":
            data = data[:at]
        elif op == "flip" and n:
            data[at] ^= draw(st.integers(1, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "overwrite":
            b = draw(st.binary(min_size=1, max_size=8))
            data[at:at + len(b)] = b
        elif op == "delete":
            del data[at:at + draw(st.integers(1, 64))]
        elif op == "duplicate":
            data[at:at] = data[at:at + draw(st.integers(1, 64))]
    return bytes(data)


@st.composite
def number_mutations(draw, valid, header_tokens=8):
    """Replace 1-3 numbers in a text file by NaN/inf/absurd/garbage tokens (often in the header)."""
    spans = [m.span() for m in _NUMBER.finditer(valid)]
    out = bytearray(valid)
    picks = set()
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            picks.add(draw(st.integers(0, min(header_tokens, len(spans)) - 1)))
        else:
            picks.add(draw(st.integers(0, len(spans) - 1)))
    for i in sorted(picks, reverse=True):
        a, b = spans[i]
        out[a:b] = draw(st.sampled_from(_BAD_TOKENS))
    return bytes(out)


_junk = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=6) | st.sampled_from(["", "nan", "mni:1 2", "fig8_70mm", "AAAA", "eJwDAAAAAAE="]),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=4), c, max_size=3), max_leaves=6)


@st.composite
def json_mutations(draw, doc):
    """1-3 structural edits: a value replaced by one of the wrong type (NaN, inf, huge ints, strings,
    nested lists ...), deleted, wrapped in a list or turned into a string; written with NaN/Infinity."""
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 3))):
        parent, key, node = None, None, doc
        while isinstance(node, (dict, list)) and node and draw(st.integers(0, 9)) < 8:
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            parent, key = node, draw(st.sampled_from(keys))
            node = node[key]
        action = draw(st.sampled_from(["replace", "replace", "delete", "wrap", "stringify", "number"]))
        if action == "replace":
            new = draw(_junk)
        elif action == "wrap":
            new = [node]
        elif action == "stringify":
            new = str(node)
        elif action == "number":
            new = draw(st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e308, -1, 0, 10**12,
                                        2**63, 1.5, -1e-320]))
        if parent is None:
            doc = new if action != "delete" else {}
        elif action == "delete":
            del parent[key]
        else:
            parent[key] = new
    return json.dumps(doc, allow_nan=True).encode()


def _put(path, data):
    Path(path).write_bytes(data)
    return path


# ---------------------------------------------------------------------------------------- valid files
def _ccd_bytes():
    return (b"# tiny.ccd version 1.0 number of elements; dIdtmax=150.0;brand=test;\n3\n"
            b"# centers and weighted directions of the elements (magnetic dipoles)\n"
            b"0.001 0.0 -0.002 0.0 0.0 1.5e-06\n-0.001 0.0 -0.002 0.0 0.0 -1.5e-06\n0.0 0.01 -0.003 1e-07 0.0 0.0\n")


def _tcd_doc():
    pts = np.array([[0.0, 0, -5], [1, 0, -5], [1, 1, -5]])
    b64 = base64.b64encode(zlib.compress(np.array([[0.0, 0, 1e-4]]).astype("<f8").tobytes())).decode()
    grid = np.zeros((2, 2, 2, 3))
    grid[..., 0] = 1e-7
    aff = [[5.0, 0, 0, -2.5], [0, 5.0, 0, -2.5], [0, 0, 5.0, -20], [0, 0, 0, 1]]
    return {"name": "tiny", "brand": "test", "version": "1",
            "stimulatorList": [{"name": "s0", "brand": "b", "maxdIdt": 1.5e8}],
            "deformList": [{"deformRange": 0, "type": "x"}], "deformRangeList": [{"initial": 0.0, "range": [-1, 1]}],
            "coilElementList": [
                {"type": 2, "stimulator": 0, "points": pts.tolist(), "values": [[1.0, 0, 0], [0, 1, 0], [-1, 0, 0]],
                 "deformations": [0]},
                {"type": 1, "stimulator": 0, "points": [[0.0, 0, -8]], "values": b64},
                {"type": 3, "stimulator": 0, "data": grid.tolist(), "affine": aff}]}


def _tcd_bytes():
    return json.dumps(_tcd_doc(), indent=1).encode()


def _msh_bytes(binary):
    from tmsfield.head.io_msh import write_msh_surfaces
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "s.msh"
        write_msh_surfaces(p, {1005: icosphere(95.0, 1), 1004: icosphere(88.0, 1), 1003: icosphere(80.0, 1)},
                           binary=binary)
        return p.read_bytes()


def _charm_bytes(binary):
    """A tiny charm-like tetrahedral head (five shells, tags 1..5) with one eye (tag 6) and a vessel (tag 9)."""
    from _charm_cases import EYES, BLOOD, FIVE_RADII, FIVE_TAGS, layered_mesh
    from tmsfield.head.io_msh import write_msh_volume
    import tempfile

    def tag_of(layer, cen, tt):
        u = cen / np.linalg.norm(cen, axis=1, keepdims=True)
        tt[(layer == 4) & (u[:, 1] > 0.9)] = EYES
        tt[(layer == 2) & (u[:, 2] > 0.9)] = BLOOD
        return tt
    nodes, tets, tags = layered_mesh(FIVE_RADII, FIVE_TAGS, [0, 0, 0, 1, 1], tag_of=tag_of)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "c.msh"
        write_msh_volume(p, nodes, tets, tags, binary=binary)
        return p.read_bytes()


_EEG_CSV = (b"Fiducial,0.0,95.0,0.0,Nz\nFiducial,0.0,-95.0,0.0,Iz\nFiducial,-95.0,0.0,0.0,LPA\n"
            b"Fiducial,95.0,0.0,0.0,RPA\nElectrode,-40.0,60.0,60.0,F3\nReferenceElectrode,0.0,0.0,95.0,Cz\n")


def _read_eeg_csv(p):
    from tmsfield.head.charm import read_simnibs_eeg_csv
    return read_simnibs_eeg_csv(p)


def valid_eeg_csv(out):
    el, fid = out
    for d in (el, fid):
        for k, p in d.items():
            _finite(p, f"EEG position {k}", (3,))


def valid_sided_head(h):
    valid_head(h)
    sides = h.triangle_sides()
    assert len(sides) == len(h.boundaries)
    for b, s in zip(h.boundaries, sides):
        assert s.shape == (b.n_triangles, 2) and np.all(s[:, 0] != s[:, 1]) and not np.any(s[:, 0] == "air")


def _gifti_bytes(encoding):
    import nibabel as nib
    s = icosphere(90.0, 1, name="scalp")
    arrays = [nib.gifti.GiftiDataArray(s.vertices.astype(np.float32), intent="NIFTI_INTENT_POINTSET",
                                       datatype="NIFTI_TYPE_FLOAT32", encoding=encoding),
              nib.gifti.GiftiDataArray(s.triangles.astype(np.int32), intent="NIFTI_INTENT_TRIANGLE",
                                       datatype="NIFTI_TYPE_INT32", encoding=encoding)]
    img = nib.gifti.GiftiImage(darrays=arrays, meta=nib.gifti.GiftiMetaData({"Name": "scalp"}))
    return img.to_bytes()


def _freesurfer_bytes():
    from tmsfield.head.io_surface import write_freesurfer_surface
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "lh.test"
        write_freesurfer_surface(p, icosphere(80.0, 1))
        return p.read_bytes()


def _nifti_image():
    import nibabel as nib
    g = np.indices((22, 22, 22)) - 10.5
    r = np.sqrt((g ** 2).sum(0)) * 4.5
    lab = np.select([r < 28, r < 35, r < 43], [1, 4, 5], 0).astype(np.uint8)
    return nib.Nifti1Image(lab, np.diag([4.5, 4.5, 4.5, 1.0]))


def _nifti_bytes(compressed):
    raw = _nifti_image().to_bytes()
    return gzip.compress(raw, mtime=0) if compressed else raw


def _landmarks_doc():
    return {"nasion": [0.0, 95.0, 0.0], "inion": [0.0, -95.0, 0.0], "lpa": [-95.0, 0.0, 0.0], "rpa": [95.0, 0.0, 0.0]}


_MANIFEST = (b"id,head,target,coil,method,roi_radius,gap,handle_angle,percent_output,model\n"
             b"a,mni152,mni:-38 44 26,fig8_70mm,optimised,5,4,45,60,sphere\n"
             b"b,mni152,,round_90mm,eeg_f3,3.5,2.5,-30,,bem\n"
             b"c,mni152,subject:-40 40 30,fig8_70mm,optimised,5,4,45,70,sphere\n")


def _result_doc():
    pose = np.eye(4)
    pose[:3, 2] = [0, 0, -1]
    pose[:3, 1] = [0, -1, 0]
    pose[:3, 3] = [0, 0, 99]
    return {"schema": "tmsfield-placement/1", "tmsfield_version": "0.1.0", "created_utc": "2026-01-01T00:00:00Z",
            "head": {"name": "h", "source": "mni152", "n_cortex_vertices": 10},
            "coil": {"name": "fig8_70mm", "source": "fig8_70mm"},
            "stimulator": {"name": "s", "max_didt_a_per_us": 150.0},
            "target": {"name": "user", "mni_mm": [-38.0, 44.0, 26.0], "subject_mm": [0.0, 0.0, 70.0],
                       "roi_radius_mm": 5.0, "quantity": "magnitude", "citation": ""},
            "method": "optimised", "pose": pose.tolist(), "position_mm": [0.0, 0.0, 99.0],
            "scalp_point_mm": [0.0, 0.0, 95.0], "handle_angle_deg": 45.0, "gap_mm": 4.0,
            "efield_at_target_v_per_m_per_a_per_us": 1.2, "peak_efield_v_per_m_per_a_per_us": 1.5,
            "dose": {"percent_output": 60.0, "didt_a_per_us": 90.0, "reachable": True, "warnings": []},
            "settings": {"roi_radius_mm": 5.0, "gap_mm": 4.0}}


# ---------------------------------------------------------------------------------------------- readers
def _read_ccd(p):
    from tmsfield.coils import load_coil
    return load_coil(p)


def _read_tcd(p):
    from tmsfield.coils import load_coil
    return load_coil(p)


def _read_msh(p):
    from tmsfield.head.io_msh import read_msh_surfaces
    return read_msh_surfaces(p)


def _load_head(p):
    from tmsfield.head import load_head
    return load_head(p)


def _load_nifti_head(p):
    from tmsfield.head import load_head
    return load_head(p, edge_length_mm=8.0)      # coarse surfaces: the file parsing is what is fuzzed


def _read_surface(p):
    from tmsfield.head.io_surface import read_surface
    return read_surface(p)


def _read_surface_mm(p):
    from tmsfield.head.io_surface import read_surface
    return read_surface(p, units="mm")


def _read_landmarks(p):
    from tmsfield.targets.run import _read_landmarks as read      # what `--landmarks FILE` goes through
    return read(p)


def _read_manifest(p):
    from tmsfield.cli.batch import read_manifest
    return read_manifest(p, {})


def _read_result(p):
    from tmsfield.targets.results import read_result
    return read_result(p)


def _load_result(p):
    from tmsfield.viz.result_scene import load_result      # what `tmsfield render` / `view` read
    return load_result(p)


def _warp_grid():
    ijk = np.stack(np.meshgrid(*[np.arange(6.0)] * 3, indexing="ij"), -1)
    aff = np.array([[8.0, 0, 0, -20], [0, 8, 0, -20], [0, 0, 8, -20], [0, 0, 0, 1]])
    g = ijk @ aff[:3, :3].T + aff[:3, 3]
    return aff, g, g + np.stack([2 * np.sin(g[..., 1] / 20), 0 * g[..., 0] + 1.0, np.cos(g[..., 0] / 20)], -1)


def _warp_nii_bytes():
    import tempfile

    from tmsfield.head.warps import write_displacement_field
    aff, _, fwd = _warp_grid()
    with tempfile.TemporaryDirectory() as d:
        return write_displacement_field(Path(d) / "w_1Warp.nii", aff, fwd, kind="itk").read_bytes()


def _warp_h5_bytes():
    import tempfile

    import h5py
    aff, g, fwd = _warp_grid()
    lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ aff
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    fixed = np.r_[6.0, 6.0, 6.0, lps[:3, 3], spacing, (lps[:3, :3] / spacing).reshape(-1)]
    disp = ((fwd - g) * [-1.0, -1.0, 1.0]).transpose(2, 1, 0, 3).reshape(-1)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "Composite.h5"
        with h5py.File(str(p), "w") as f:
            for k, (kind, par, fix) in enumerate([("CompositeTransform_double_3_3", np.zeros(0), np.zeros(0)),
                                                   ("AffineTransform_double_3_3", np.r_[np.eye(3).ravel(), 1, 2, 3],
                                                    np.zeros(3)),
                                                   ("DisplacementFieldTransform_double_3_3", disp, fixed)]):
                grp = f.create_group(f"TransformGroup/{k}")
                grp.create_dataset("TransformType", data=[kind.encode()])
                grp.create_dataset("TransformParameters", data=par)
                grp.create_dataset("TransformFixedParameters", data=fix)
        return p.read_bytes()


def _read_warp(p):
    from tmsfield.head.warps import load_warp
    return load_warp(p)


def valid_warp(w):
    _finite(w.field, "warp field")
    _finite(w.affine, "warp affine", shape=(4, 4))
    centre = (w.affine @ np.r_[(np.asarray(w.field.shape[:3]) - 1) / 2.0, 1.0])[:3]
    _finite(w.map(centre[None]), "mapped point")


# name -> (file name, valid bytes (callable), reader, validator, kind of mutation for the structured test)
READERS = {
    "warp_itk_nii": ("sub_1Warp.nii", _warp_nii_bytes, _read_warp, valid_warp, "nifti"),
    "warp_itk_h5": ("sub_Composite.h5", _warp_h5_bytes, _read_warp, valid_warp, "bytes"),
    "ccd": ("tiny.ccd", _ccd_bytes, _read_ccd, valid_coil, "numbers"),
    "tcd": ("tiny.tcd", _tcd_bytes, _read_tcd, valid_coil, "json"),
    "msh_ascii": ("sphere.msh", lambda: _msh_bytes(False), _read_msh, valid_surfaces, "numbers"),
    "msh_binary": ("sphere.msh", lambda: _msh_bytes(True), _read_msh, valid_surfaces, "bytes"),
    "head_msh_ascii": ("head.msh", lambda: _msh_bytes(False), _load_head, valid_head, "numbers"),
    "head_msh_binary": ("head.msh", lambda: _msh_bytes(True), _load_head, valid_head, "bytes"),
    "charm_msh_ascii": ("charm head.msh", lambda: _charm_bytes(False), _load_head, valid_sided_head, "numbers"),
    "charm_msh_binary": ("charm head.msh", lambda: _charm_bytes(True), _load_head, valid_sided_head, "bytes"),
    "charm_eeg_csv": ("EEG10-10_UI_Jurak_2007.csv", lambda: _EEG_CSV, _read_eeg_csv, valid_eeg_csv, "numbers"),
    "gifti_b64gz": ("scalp.gii", lambda: _gifti_bytes("GIFTI_ENCODING_B64GZ"), _read_surface, valid_surface, "bytes"),
    "gifti_ascii": ("scalp.gii", lambda: _gifti_bytes("GIFTI_ENCODING_ASCII"), _read_surface_mm, valid_surface,
                    "numbers"),
    "freesurfer": ("lh.test", _freesurfer_bytes, _read_surface_mm, valid_surface, "bytes"),
    "nifti": ("labels.nii", lambda: _nifti_bytes(False), _load_nifti_head, valid_head, "nifti"),
    "nifti_gz": ("labels.nii.gz", lambda: _nifti_bytes(True), _load_nifti_head, valid_head, "bytes"),
    "landmarks": ("landmarks.json", lambda: json.dumps(_landmarks_doc()).encode(), _read_landmarks,
                  valid_landmarks, "json"),
    "manifest": ("manifest.csv", lambda: _MANIFEST, _read_manifest, valid_manifest, "numbers"),
    "result": ("result.json", lambda: json.dumps(_result_doc(), indent=1).encode(), _read_result, valid_result,
               "json"),
    "result_render": ("placement.json", lambda: json.dumps(_result_doc(), indent=1).encode(), _load_result,
                      valid_scene_result, "json"),
}

_VALID_CACHE = {}


def _valid(name):
    if name not in _VALID_CACHE:
        _VALID_CACHE[name] = READERS[name][1]()
    return _VALID_CACHE[name]


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz readers")      # a space in the path: messages must still name it


def _target(fuzz_dir, name):
    d = fuzz_dir / name
    d.mkdir(exist_ok=True)
    return d / READERS[name][0]


# --------------------------------------------------------------------------------------- the fuzz tests
@pytest.mark.parametrize("name", sorted(READERS))
def test_valid_file_reads(name, fuzz_dir):
    """The starting point of every mutation reads cleanly (else the fuzzing would test nothing)."""
    fname, _make, read, validate, _kind = READERS[name]
    p = _put(_target(fuzz_dir, name), _valid(name))
    out = call_reader(read, p, validate)
    assert out is not None


@pytest.mark.parametrize("name", sorted(READERS))
def test_truncated_anywhere(name, fuzz_dir):
    """Truncation at every byte boundary of the header region and at a sample of offsets beyond it."""
    _f, _m, read, validate, _k = READERS[name]
    data = _valid(name)
    p = _target(fuzz_dir, name)
    cuts = sorted(set(range(0, min(len(data), 160))) | set(np.linspace(0, len(data) - 1, 40).astype(int).tolist()))
    for cut in cuts:
        call_reader(read, _put(p, data[:cut]), validate)


@pytest.mark.parametrize("name", sorted(READERS))
@given(data=st.data())
def test_byte_mutations(name, fuzz_dir, data):
    """Garbage, flipped, inserted, deleted, duplicated bytes and truncation, combined."""
    _f, _m, read, validate, _k = READERS[name]
    blob = data.draw(byte_mutations(_valid(name)), label="file bytes")
    call_reader(read, _put(_target(fuzz_dir, name), blob), validate)


_STRUCTURED = sorted(n for n in READERS if READERS[n][4] in ("numbers", "json", "nifti"))


@pytest.mark.parametrize("name", _STRUCTURED)
@given(data=st.data())
def test_value_mutations(name, fuzz_dir, data):
    """Numbers replaced by NaN/inf/absurd tokens (text formats), JSON values of the wrong type, NIfTI
    header fields set to absurd values."""
    _f, _m, read, validate, kind = READERS[name]
    valid = _valid(name)
    if kind == "numbers":
        blob = data.draw(number_mutations(valid), label="file bytes")
    elif kind == "json":
        blob = data.draw(json_mutations(json.loads(valid)), label="file bytes")
    else:
        blob = data.draw(nifti_header_mutations(valid), label="file bytes")
    call_reader(read, _put(_target(fuzz_dir, name), blob), validate)


# NIfTI-1 header fields (offset, struct format) that a damaged or hostile file can set
_NIFTI_FIELDS = {"dim": (40, "8h"), "datatype": (70, "h"), "bitpix": (72, "h"), "pixdim": (76, "8f"),
                 "vox_offset": (108, "f"), "scl_slope": (112, "f"), "scl_inter": (116, "f"),
                 "qform_code": (252, "h"), "sform_code": (254, "h"), "quatern": (256, "6f"), "srow": (280, "12f")}
_ABSURD_SHORT = [0, -1, 1, 2, 3, 4, 5, 7, 8, 16, 32, 128, 256, 511, 768, 1024, 1536, 2048, 32767, -32768]
_ABSURD_FLOAT = [float("nan"), float("inf"), -float("inf"), 0.0, -1.0, 1e-30, 1e30, 3.4e38, 352.0, 1e9]


@st.composite
def nifti_header_mutations(draw, valid):
    out = bytearray(valid)
    for _ in range(draw(st.integers(1, 3))):
        field = draw(st.sampled_from(sorted(_NIFTI_FIELDS)))
        off, fmt = _NIFTI_FIELDS[field]
        n, code = (int(fmt[:-1]) if len(fmt) > 1 else 1), fmt[-1]
        k = draw(st.integers(0, n - 1))
        pool = _ABSURD_SHORT if code == "h" else _ABSURD_FLOAT
        size = struct.calcsize("<" + code)
        out[off + k * size: off + (k + 1) * size] = struct.pack("<" + code, draw(st.sampled_from(pool)))
    return bytes(out)


# ---------------------------------------------------------------------- hand-made hostile inputs, absurd counts
def _msh_with_nodes_count(binary, count):
    data = _msh_bytes(binary)
    i = data.index(b"$Nodes\n") + len(b"$Nodes\n")
    j = data.index(b"\n", i)
    return data[:i] + str(count).encode() + data[j:]


def _msh_with_elements_count(binary, count):
    data = _msh_bytes(binary)
    i = data.index(b"$Elements\n") + len(b"$Elements\n")
    j = data.index(b"\n", i)
    return data[:i] + str(count).encode() + data[j:]


def _msh_binary_element_header(n_follow, n_tags=2, etype=2):
    data = bytearray(_msh_bytes(True))
    i = data.index(b"$Elements\n") + len(b"$Elements\n")
    i = data.index(b"\n", i) + 1
    data[i:i + 12] = struct.pack("<3i", etype, n_follow, n_tags)
    return bytes(data)


def _freesurfer_with_counts(nvert, nface):
    data = bytearray(_freesurfer_bytes())
    i = data.index(b"\n\n", 3) + 2
    data[i:i + 8] = struct.pack(">2i", nvert, nface)
    return bytes(data)


def _nifti_with_dims(dims, datatype=None, bitpix=None):
    out = bytearray(_nifti_bytes(False))
    out[40:56] = struct.pack("<8h", *dims)
    if datatype is not None:
        out[70:74] = struct.pack("<2h", datatype, bitpix)
    return bytes(out)


def _gifti_with_dim0(n):
    text = _gifti_bytes("GIFTI_ENCODING_B64GZ").decode()
    return text.replace('Dim0="42"', f'Dim0="{n}"', 1).encode()


def _tcd_with(**element):
    doc = _tcd_doc()
    doc["coilElementList"][0].update(element)
    return json.dumps(doc, allow_nan=True).encode()


def _pickled_array_b64(arr_or_obj, compress=True, protocol=4):
    raw = pickle.dumps(arr_or_obj, protocol=protocol)
    return base64.b64encode(zlib.compress(raw) if compress else raw).decode()


class _FakeBigArray:
    """Pickles like a numpy array whose state claims a gigantic shape but carries a tiny buffer."""

    def __init__(self, shape):
        self.shape = shape

    def __reduce__(self):
        from numpy._core.multiarray import _reconstruct
        return (_reconstruct, (np.ndarray, (0,), b"b"), (1, self.shape, np.dtype("<f8"), False, b"\0" * 8))


HOSTILE = {
    # .ccd
    "ccd_empty": ("ccd", b""),
    "ccd_not_utf8": ("ccd", b"\xff\xfe# coil\n1\n#\n0 0 0 0 0 1\n"),
    "ccd_count_1e12": ("ccd", _ccd_bytes().replace(b"\n3\n", b"\n1000000000000\n")),
    "ccd_count_huge_float": ("ccd", _ccd_bytes().replace(b"\n3\n", b"\n1e12\n")),
    "ccd_count_negative": ("ccd", _ccd_bytes().replace(b"\n3\n", b"\n-3\n")),
    "ccd_nan_row": ("ccd", _ccd_bytes().replace(b"0.01 -0.003", b"nan -0.003")),
    "ccd_inf_moment": ("ccd", _ccd_bytes().replace(b"1e-07", b"inf")),
    "ccd_overflow_position": ("ccd", _ccd_bytes().replace(b"0.01 -0.003", b"1e306 -0.003")),
    "ccd_snan": ("ccd", _ccd_bytes().replace(b"0.01 -0.003", b"sNaN -0.003")),
    "ccd_decimal_exponent": ("ccd", _ccd_bytes().replace(b"0.01 -0.003", b"1e999999999999999999 -0.003")),
    "ccd_didt_nan": ("ccd", _ccd_bytes().replace(b"dIdtmax=150.0", b"dIdtmax=nan")),
    "ccd_didt_inf": ("ccd", _ccd_bytes().replace(b"dIdtmax=150.0", b"dIdtmax=1e999")),
    "ccd_zero_moments": ("ccd", b"# z\n1\n#\n0 0 -0.01 0 0 0\n"),
    "ccd_nul_bytes": ("ccd", _ccd_bytes().replace(b"0.0 0.0 1.5e-06", b"0.0\0 0.0 1.5e-06")),
    # .tcd
    "tcd_empty": ("tcd", b""),
    "tcd_not_utf8": ("tcd", b'{"name": "\xff"}'),
    "tcd_deep_nesting": ("tcd", b"[" * 100000 + b"]" * 100000),
    "tcd_top_list": ("tcd", b"[1, 2]"),
    "tcd_stimulator_string": ("tcd", _tcd_with(stimulator="x")),
    "tcd_stimulator_inf": ("tcd", _tcd_with(stimulator=float("inf"))),
    "tcd_stimulator_nan": ("tcd", _tcd_with(stimulator=float("nan"))),
    "tcd_stimulator_list": ("tcd", _tcd_with(stimulator=[0])),
    "tcd_stimulator_float": ("tcd", _tcd_with(stimulator=0.5)),
    "tcd_stimulator_bool": ("tcd", _tcd_with(stimulator=True)),
    "tcd_deformations_int": ("tcd", _tcd_with(deformations=5)),
    "tcd_deformations_float": ("tcd", _tcd_with(deformations=[0.7])),
    "tcd_points_nan": ("tcd", _tcd_with(points=[[float("nan"), 0, 0]] * 3)),
    "tcd_points_overflow": ("tcd", _tcd_with(points=[[1.7e308, 0, 0]] * 3, values=[[1e308, 0, 0]] * 3)),
    "tcd_points_ragged": ("tcd", _tcd_with(points=[[0, 0], [1, 2, 3]])),
    "tcd_points_strings": ("tcd", _tcd_with(points=[["a", "b", "c"]] * 3)),
    "tcd_points_dict": ("tcd", _tcd_with(points={"a": 1})),
    "tcd_points_base64_nan": ("tcd", _tcd_with(points=base64.b64encode(zlib.compress(
        np.full(9, np.nan).tobytes())).decode())),
    "tcd_points_base64_odd": ("tcd", _tcd_with(points=base64.b64encode(zlib.compress(b"\0" * 13)).decode())),
    "tcd_type_string": ("tcd", _tcd_with(type="2")),
    "tcd_type_nan": ("tcd", _tcd_with(type=float("nan"))),
    "tcd_maxdidt_inf": ("tcd", json.dumps({**_tcd_doc(), "stimulatorList": [{"maxdIdt": float("inf")}]},
                                          allow_nan=True).encode()),
    "tcd_maxdidt_nan": ("tcd", json.dumps({**_tcd_doc(), "stimulatorList": [{"maxdIdt": float("nan")}]},
                                          allow_nan=True).encode()),
    "tcd_maxdidt_list": ("tcd", json.dumps({**_tcd_doc(), "stimulatorList": [{"maxdIdt": [1]}]}).encode()),
    "tcd_stimulators_not_objects": ("tcd", json.dumps({**_tcd_doc(), "stimulatorList": [5, "x"],
                                                       "coilElementList": [
                                                           {**_tcd_doc()["coilElementList"][0], "stimulator": 0},
                                                           {**_tcd_doc()["coilElementList"][1], "stimulator": 1}]
                                                       }).encode()),
    "tcd_deform_list_not_list": ("tcd", json.dumps({**_tcd_doc(), "deformList": 3}).encode()),
    "tcd_deform_ranges_dict": ("tcd", json.dumps({**_tcd_doc(), "deformRangeList": {"a": 1}}).encode()),
    "tcd_grid_nan": ("tcd", json.dumps({**_tcd_doc(), "coilElementList": [
        {**_tcd_doc()["coilElementList"][2], "data": np.full((2, 2, 2, 3), np.nan).tolist()}]},
        allow_nan=True).encode()),
    "tcd_grid_pickled_huge_shape": ("tcd", json.dumps({**_tcd_doc(), "coilElementList": [
        {**_tcd_doc()["coilElementList"][2], "data": _pickled_array_b64(_FakeBigArray((2**32, 2**32, 1, 3)))}]}
    ).encode()),
    "tcd_grid_pickled_nan": ("tcd", json.dumps({**_tcd_doc(), "coilElementList": [
        {**_tcd_doc()["coilElementList"][2], "data": _pickled_array_b64(np.full((2, 2, 2, 3), np.nan))}]}
    ).encode()),
    "tcd_grid_pickled_object": ("tcd", json.dumps({**_tcd_doc(), "coilElementList": [
        {**_tcd_doc()["coilElementList"][2], "data": _pickled_array_b64(np.array([1, "a"], dtype=object))}]}
    ).encode()),
    "tcd_grid_affine_singular": ("tcd", json.dumps({**_tcd_doc(), "coilElementList": [
        {**_tcd_doc()["coilElementList"][2], "affine": np.zeros((4, 4)).tolist()}]}).encode()),
    # .msh
    "msh_empty": ("msh_ascii", b""),
    "msh_format_garbage": ("msh_ascii", b"$MeshFormat\n2.2 x 8\n$EndMeshFormat\n"),
    "msh_format_short": ("msh_ascii", b"$MeshFormat\n2.2\n$EndMeshFormat\n"),
    "msh_version_4": ("msh_ascii", _msh_bytes(False).replace(b"2.2 0 8", b"4.1 0 8")),
    "msh_ascii_nodes_1e12": ("msh_ascii", _msh_with_nodes_count(False, 10**12)),
    "msh_ascii_nodes_negative": ("msh_ascii", _msh_with_nodes_count(False, -5)),
    "msh_ascii_elements_1e12": ("msh_ascii", _msh_with_elements_count(False, 10**12)),
    "msh_binary_nodes_1e12": ("msh_binary", _msh_with_nodes_count(True, 10**12)),
    "msh_binary_nodes_negative": ("msh_binary", _msh_with_nodes_count(True, -1)),
    "msh_binary_elements_1e12": ("msh_binary", _msh_with_elements_count(True, 10**12)),
    "msh_binary_block_2e9": ("msh_binary", _msh_binary_element_header(2**31 - 1)),
    "msh_binary_block_overflow": ("msh_binary", _msh_binary_element_header(2**30, n_tags=2**30)),
    "msh_binary_tags_negative": ("msh_binary", _msh_binary_element_header(1, n_tags=-3)),
    "msh_ascii_node_id_huge": ("msh_ascii", _msh_bytes(False).replace(b"\n1 2 2 1005 1005 1 ",
                                                                       b"\n1 2 2 1005 1005 99999999999999999999 ")),
    "msh_ascii_node_id_negative": ("msh_ascii", _msh_bytes(False).replace(b"\n1 2 2 1005 1005 1 ",
                                                                           b"\n1 2 2 1005 1005 -7 ")),
    "msh_ascii_node_float_id": ("msh_ascii", _msh_bytes(False).replace(b"$Nodes\n242\n1 ", b"$Nodes\n242\n1e300 ")),
    "msh_ascii_tag_huge": ("msh_ascii", _msh_bytes(False).replace(b"\n1 2 2 1005 1005 ",
                                                                   b"\n1 2 2 99999999999999999999 1005 ")),
    "msh_ascii_coordinate_1e308": ("head_msh_ascii", re.sub(rb"\n1 [^\n]*\n", b"\n1 1e308 1e308 -1e308\n",
                                                             _msh_bytes(False), count=1)),
    "msh_binary_endianness": ("msh_binary", _msh_bytes(True).replace(b"\x01\x00\x00\x00\n$EndMeshFormat",
                                                                     b"\x07\x00\x00\x00\n$EndMeshFormat")),
    "msh_binary_datasize_4": ("msh_binary", _msh_bytes(True).replace(b"2.2 1 8", b"2.2 1 4")),
    "head_msh_only_scalp": ("head_msh_ascii", None),     # built below
    # GIFTI / FreeSurfer
    "gifti_empty": ("gifti_b64gz", b""),
    "gifti_dim0_1e12": ("gifti_b64gz", _gifti_with_dim0(10**12)),
    "gifti_dim0_negative": ("gifti_b64gz", _gifti_with_dim0(-3)),
    "gifti_dim0_zero": ("gifti_b64gz", _gifti_with_dim0(0)),
    "gifti_dimensionality_1e20": ("gifti_b64gz", _gifti_bytes("GIFTI_ENCODING_B64GZ").replace(
        b'Dimensionality="2"', b'Dimensionality="99999999999999999999"', 1)),
    "gifti_dimensionality_entity": ("gifti_b64gz", _gifti_bytes("GIFTI_ENCODING_B64GZ").replace(
        b'Dimensionality="2"', b'Dimensionality="&#57;&#57;&#57;&#57;&#57;&#57;&#57;&#57;&#57;&#57;&#57;"', 1)),
    "gifti_external_dev_zero": ("gifti_b64gz", _gifti_bytes("GIFTI_ENCODING_B64GZ").replace(
        b'Dim0="42"', b'Dim0="1000000000"', 1).replace(b'Encoding="GZipBase64Binary"', b'Encoding="ExternalFileBinary"',
                                                       1).replace(b'ExternalFileName=""', b'ExternalFileName="/dev/zero"', 1)),
    "gifti_not_xml": ("gifti_b64gz", b"\x89PNG\r\n\x1a\n" + b"\0" * 64),
    "gifti_xml_bomb": ("gifti_b64gz", b'<?xml version="1.0"?><!DOCTYPE g [<!ENTITY a "aaaaaaaaaa">'
                       b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
                       b'<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">'
                       b'<!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"><!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">'
                       b']><GIFTI>&g;</GIFTI>'),
    "gifti_ascii_nan": ("gifti_ascii", _gifti_bytes("GIFTI_ENCODING_ASCII").replace(b"90.000000", b"nan", 1)),
    "gifti_ascii_index_big": ("gifti_ascii", re.sub(rb"(<Data>\s*)0 ", rb"\g<1>99999 ",
                                                    _gifti_bytes("GIFTI_ENCODING_ASCII")[::-1][::-1], count=0)),
    "freesurfer_empty": ("freesurfer", b""),
    "freesurfer_counts_1e9": ("freesurfer", _freesurfer_with_counts(10**9, 10**9)),
    "freesurfer_counts_max": ("freesurfer", _freesurfer_with_counts(2**31 - 1, 2**31 - 1)),
    "freesurfer_counts_negative": ("freesurfer", _freesurfer_with_counts(-1, -1)),
    "freesurfer_quad_magic": ("freesurfer", b"\xff\xff\xff" + b"\xff" * 6 + b"\0" * 40),
    "freesurfer_magic_only": ("freesurfer", b"\xff\xff\xfe"),
    # NIfTI
    "nifti_empty": ("nifti", b""),
    "nifti_dims_huge": ("nifti", _nifti_with_dims([3, 32767, 32767, 32767, 1, 1, 1, 1])),
    "nifti_dims_zero": ("nifti", _nifti_with_dims([3, 0, 22, 22, 1, 1, 1, 1])),
    "nifti_dims_negative": ("nifti", _nifti_with_dims([3, -22, 22, 22, 1, 1, 1, 1])),
    "nifti_ndim_7": ("nifti", _nifti_with_dims([7, 22, 22, 22, 1, 1, 1, 1])),
    "nifti_2d": ("nifti", _nifti_with_dims([2, 22, 484, 1, 1, 1, 1, 1])),
    "nifti_rgb": ("nifti", _nifti_with_dims([3, 22, 22, 22, 1, 1, 1, 1], datatype=128, bitpix=24)),
    "nifti_complex": ("nifti", _nifti_with_dims([3, 11, 22, 22, 1, 1, 1, 1], datatype=32, bitpix=64)),
    "nifti_float_nan": ("nifti", _nifti_with_dims([3, 11, 22, 22, 1, 1, 1, 1], datatype=16, bitpix=32)),
    "nifti_int64_huge_labels": ("nifti", None),            # built below
    "nifti_gz_empty": ("nifti_gz", b""),
    "nifti_gz_garbage": ("nifti_gz", b"\x1f\x8b" + b"\xff" * 100),
    # landmarks
    "landmarks_empty": ("landmarks", b""),
    "landmarks_not_utf8": ("landmarks", b'{"nasion": "\xff"}'),
    "landmarks_string": ("landmarks", json.dumps({**_landmarks_doc(), "nasion": "abc"}).encode()),
    "landmarks_short": ("landmarks", json.dumps({**_landmarks_doc(), "lpa": [1, 2]}).encode()),
    "landmarks_nested": ("landmarks", json.dumps({**_landmarks_doc(), "rpa": [[1, 2, 3]]}).encode()),
    "landmarks_nan": ("landmarks", json.dumps({**_landmarks_doc(), "inion": [float("nan"), 0, 0]},
                                              allow_nan=True).encode()),
    "landmarks_1e999": ("landmarks", json.dumps(_landmarks_doc()).replace("95.0", "1e999", 1).encode()),
    "landmarks_null": ("landmarks", json.dumps({**_landmarks_doc(), "nasion": None}).encode()),
    "landmarks_deep": ("landmarks", b"[" * 100000),
    # manifests
    "manifest_empty": ("manifest", b""),
    "manifest_not_utf8": ("manifest", b"head,target,coil\n\xff\xfe,,\n"),
    "manifest_nul": ("manifest", b"head,target,coil\nmni152\0,,\n"),
    "manifest_huge_field": ("manifest", b"head,target,coil\nmni152,\"" + b"a" * 200000 + b"\",fig8_70mm\n"),
    "manifest_nan_angle": ("manifest", b"head,target,coil,handle_angle\nmni152,,fig8_70mm,nan\n"),
    "manifest_inf_output": ("manifest", b"head,target,coil,percent_output\nmni152,,fig8_70mm,inf\n"),
    "manifest_huge_didt": ("manifest", b"head,target,coil,max_didt\nmni152,,fig8_70mm,1e999\n"),
    "manifest_nan_radius": ("manifest", b"head,target,coil,roi_radius\nmni152,,fig8_70mm,NaN\n"),
    "manifest_mni_nan": ("manifest", b"head,target,coil\nmni152,mni:nan 1 2,fig8_70mm\n"),
    "manifest_unknown_target": ("manifest", b"head,target,coil\nmni152,nowhere,fig8_70mm\n"),
    "manifest_extra_fields": ("manifest", b"head,target,coil\nmni152,,fig8_70mm,x,y,z\n"),
    "manifest_duplicate_header": ("manifest", b"head,head,target,coil\nmni152,mni152,,fig8_70mm\n"),
    "manifest_unclosed_quote": ("manifest", b'head,target,coil\n"mni152,,fig8_70mm\n'),
    "manifest_bom": ("manifest", b"\xef\xbb\xbfhead,target,coil\nmni152,,fig8_70mm\n"),
    # result JSON
    "result_empty": ("result", b""),
    "result_not_utf8": ("result", b"\xff\xfe{}"),
    "result_deep": ("result", b"[" * 100000 + b"]" * 100000),
    "result_nan_efield": ("result", json.dumps({**_result_doc(), "efield_at_target_v_per_m_per_a_per_us":
                                                float("nan")}, allow_nan=True).encode()),
    "result_1e999_angle": ("result", json.dumps(_result_doc()).replace('"handle_angle_deg": 45.0',
                                                                        '"handle_angle_deg": 1e999').encode()),
    "result_pose_strings": ("result", json.dumps({**_result_doc(), "pose": [["a"] * 4] * 4}).encode()),
    "result_pose_ragged": ("result", json.dumps({**_result_doc(), "pose": [[1, 0, 0, 0], [1]]}).encode()),
    "result_position_strings": ("result", json.dumps({**_result_doc(), "position_mm": ["a", "b", "c"]}).encode()),
    "result_bool_angle": ("result", json.dumps({**_result_doc(), "gap_mm": True}).encode()),
    "result_head_list": ("result", json.dumps({**_result_doc(), "head": []}).encode()),
    "render_pose_strings": ("result_render", json.dumps({**_result_doc(), "pose": [["a"] * 4] * 4}).encode()),
    "render_didt_string": ("result_render", json.dumps({**_result_doc(), "dose": {
        "percent_output": 50, "didt_a_per_us": "fast", "reachable": True, "warnings": []}}).encode()),
    "render_didt_negative": ("result_render", json.dumps({**_result_doc(), "dose": {
        "percent_output": 50, "didt_a_per_us": -3, "reachable": True, "warnings": []}}).encode()),
    "render_max_didt_string": ("result_render", json.dumps({**_result_doc(), "stimulator": {"max_didt_a_per_us": "x"},
                                                            "dose": {"percent_output": 50, "reachable": True,
                                                                     "warnings": []}}).encode()),
    "render_nan": ("result_render", json.dumps({**_result_doc(), "gap_mm": float("nan")}, allow_nan=True).encode()),
    "render_deep": ("result_render", b"[" * 100000 + b"]" * 100000),
}


def _hostile_bytes(case):
    name, blob = HOSTILE[case]
    if case == "head_msh_only_scalp":
        from tmsfield.head.io_msh import write_msh_surfaces
        p = Path(__file__).parent   # unused; build in memory through a temp dir
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            write_msh_surfaces(Path(d) / "x.msh", {1005: icosphere(95.0, 1)}, binary=False)
            return (Path(d) / "x.msh").read_bytes()
    if case == "nifti_int64_huge_labels":
        import nibabel as nib
        img = _nifti_image()
        lab = np.asarray(img.dataobj).astype(np.int64)
        lab[lab == 5] = 2**32 + 5                       # wraps to 5 in int32
        return nib.Nifti1Image(lab, img.affine, dtype=np.int64).to_bytes()
    return blob


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_file(case, fuzz_dir):
    """Hand-made worst cases: absurd header counts (must not allocate what they announce), NaN/inf,
    wrong types, overflow, nesting bombs, other encodings."""
    name = HOSTILE[case][0]
    _f, _m, read, validate, _k = READERS[name]
    p = _put(_target(fuzz_dir, name), _hostile_bytes(case))
    # nothing here may need more than a small multiple of a valid file's needs (all < 100 kB files)
    call_reader(read, p, validate, max_bytes=256 * 2**20)


def test_landmarks_folder_head_bad_gifti(fuzz_dir):
    """A folder head (load_head(folder)) whose scalp.gii has NaN coordinates: the error names that file."""
    from tmsfield.head import load_head
    d = fuzz_dir / "folder head"
    d.mkdir(exist_ok=True)
    from tmsfield.head.io_surface import write_gifti_surface
    write_gifti_surface(d / "skull_inner.gii", icosphere(80.0, 1, name="skull_inner"))
    bad = _gifti_bytes("GIFTI_ENCODING_ASCII").replace(b"90.000000", b"nan", 1)
    _put(d / "scalp.gii", bad)
    with pytest.raises(TmsfieldError) as exc:
        load_head(d)
    assert str(d / "scalp.gii") in str(exc.value)


# ------------------------------------------------------------------------- FreeSurfer subject folders
_XFM = b"MNI Transform File\nTransform_Type = Linear;\nLinear_Transform =\n1 0 0 0.5\n0 1 0 -1\n0 0 1 2;\n"
_FS_FILES = ["mri/transforms/talairach.xfm", "surf/lh.sulc", "surf/rh.pial", "surf/lh.white", "bem/outer_skin.surf",
             "bem/inner_skull.surf"]


def _freesurfer_subject(folder):
    """A small FreeSurfer/MNE subject: bem/ surfaces, surf/?h.pial|white|sulc, talairach.xfm."""
    import nibabel.freesurfer as fs
    from tmsfield.head.io_surface import write_freesurfer_surface
    for sub in ("bem", "surf", "mri/transforms"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for n, r in (("outer_skin", 95.0), ("outer_skull", 88.0), ("inner_skull", 80.0)):
        write_freesurfer_surface(folder / "bem" / f"{n}.surf", icosphere(r, 1))
    for h, x in (("lh", -30.0), ("rh", 30.0)):
        s = icosphere(20.0, 1)
        write_freesurfer_surface(folder / "surf" / f"{h}.pial", Surface(s.vertices + [x, 0, 20], s.triangles))
        write_freesurfer_surface(folder / "surf" / f"{h}.white", Surface(0.97 * s.vertices + [x, 0, 20], s.triangles))
        fs.write_morph_data(str(folder / "surf" / f"{h}.sulc"), np.linspace(-1, 1, s.n_vertices).astype(np.float32))
    (folder / "mri/transforms/talairach.xfm").write_bytes(_XFM)


@pytest.fixture(scope="module")
def freesurfer_subject(fuzz_dir):
    folder = fuzz_dir / "fs subject"
    _freesurfer_subject(folder)
    return folder, {f: (folder / f).read_bytes() for f in _FS_FILES}


@given(data=st.data())
def test_freesurfer_subject_folder(freesurfer_subject, data):
    """load_head(<FreeSurfer subject>) with one of its files damaged: a valid head, or an error naming the
    folder (file-level problems name the damaged file itself, see test_freesurfer_subject_hostile)."""
    from tmsfield.head import load_head
    folder, originals = freesurfer_subject
    which = data.draw(st.sampled_from(_FS_FILES), label="damaged file")
    valid = originals[which]
    if which.endswith(".xfm") and data.draw(st.booleans(), label="numbers"):
        blob = data.draw(number_mutations(valid, header_tokens=4), label="file bytes")
    else:
        blob = data.draw(byte_mutations(valid), label="file bytes")
    try:
        _put(folder / which, blob)
        call_reader(load_head, folder, valid_head)
    finally:
        _put(folder / which, valid)


@pytest.mark.parametrize("which, blob", [
    ("mri/transforms/talairach.xfm", _XFM.replace(b"0.5", b"nan")),
    ("mri/transforms/talairach.xfm", _XFM.replace(b"1 0 0 0.5", b"0 0 0 0.5")),
    ("mri/transforms/talairach.xfm", b"\xff\xfe garbage"),
    ("surf/lh.sulc", b"\xff\xff\xff" + struct.pack(">3i", 2**31 - 1, 80, 1)),
    ("surf/lh.sulc", b"\xff\xff\xff" + struct.pack(">3i", 42, 80, 1) + struct.pack(">42f", *([float("nan")] * 42))),
    ("surf/lh.sulc", b"\x00\x00\x2a\x00\x00\x50"),
    ("surf/lh.white", _freesurfer_with_counts(10**9, 10**9)),
    ("surf/rh.pial", b""),
], ids=["xfm_nan", "xfm_singular", "xfm_binary", "sulc_count_huge", "sulc_nan", "sulc_truncated_old",
        "white_counts", "pial_empty"])
def test_freesurfer_subject_hostile(freesurfer_subject, which, blob):
    from tmsfield.head import load_head
    folder, originals = freesurfer_subject
    try:
        _put(folder / which, blob)
        assert call_reader(load_head, folder, valid_head, max_bytes=256 * 2**20, named=folder / which) is None
    finally:
        _put(folder / which, originals[which])


# ------------------------------------------------------------------------------ SimNIBS m2m folders
_M2M_FILES = ["ernie.msh", "eeg_positions/EEG10-10_UI_Jurak_2007.csv"]


@pytest.fixture(scope="module")
def m2m_folder(fuzz_dir):
    folder = fuzz_dir / "m2m_ernie"
    (folder / "eeg_positions").mkdir(parents=True, exist_ok=True)
    _put(folder / "ernie.msh", _charm_bytes(True))
    _put(folder / "eeg_positions" / "EEG10-10_UI_Jurak_2007.csv", _EEG_CSV)
    return folder, {f: (folder / f).read_bytes() for f in _M2M_FILES}


@given(data=st.data())
def test_m2m_folder(m2m_folder, data):
    """load_head(m2m_<subject>/) with its mesh or its EEG file damaged: a valid head, or an error naming the
    folder (the damaged file is inside it)."""
    from tmsfield.head import load_head
    folder, originals = m2m_folder
    which = data.draw(st.sampled_from(_M2M_FILES), label="damaged file")
    valid = originals[which]
    if which.endswith(".csv") and data.draw(st.booleans(), label="numbers"):
        blob = data.draw(number_mutations(valid), label="file bytes")
    else:
        blob = data.draw(byte_mutations(valid), label="file bytes")
    try:
        _put(folder / which, blob)
        call_reader(load_head, folder, valid_sided_head)
    finally:
        _put(folder / which, valid)


# -------------------------------------------------------------------------------- no unpickling, ever
class _Marker:
    """Unpickling this creates the marker file (through ``open``): proof that a reader unpickled."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _evil_payloads(marker):
    """Crafted files whose unpickling would create ``marker``: raw pickles, .npy and .npz with object arrays."""
    out = {}
    for proto in (2, 4, 5):
        out[f"pickle{proto}"] = pickle.dumps(_Marker(marker), protocol=proto)
    obj = np.empty(1, dtype=object)
    obj[0] = _Marker(marker)
    buf = io.BytesIO()
    np.save(buf, obj, allow_pickle=True)
    out["npy"] = buf.getvalue()
    buf = io.BytesIO()
    np.savez(buf, response=obj, projector_t=obj, singular_values=obj, meta=obj)
    out["npz"] = buf.getvalue()
    return out


_ALL_FILE_READERS = ["ccd", "tcd", "msh_ascii", "msh_binary", "gifti_b64gz", "freesurfer", "nifti",
                     "landmarks", "manifest", "result", "result_render"]


@pytest.mark.parametrize("name", _ALL_FILE_READERS)
def test_no_reader_unpickles(name, fuzz_dir):
    """Every reader handed a pickle / .npy / .npz payload (under its own extension) refuses it with a
    tmsfield error and never runs it."""
    _f, _m, read, validate, _k = READERS[name]
    marker = fuzz_dir / f"UNPICKLED-{name}"
    for kind, blob in _evil_payloads(marker).items():
        p = _put(_target(fuzz_dir, name), blob)
        out = call_reader(read, p, validate)
        assert out is None, f"{name} accepted a {kind} payload"
        assert not marker.exists(), f"{name} unpickled a {kind} file"


def test_tcd_pickled_grid_never_unpickled(fuzz_dir):
    """A .tcd whose type-3 'data' is a pickle (what SimNIBS writes) but of a hostile object: refused,
    never executed, whatever the pickle protocol and compression."""
    from tmsfield.coils import load_coil
    from tmsfield.errors import CoilFileError
    marker = fuzz_dir / "UNPICKLED-tcd-grid"
    p = fuzz_dir / "evil grid.tcd"
    for proto in (2, 3, 4, 5):
        for compress in (True, False):
            doc = _tcd_doc()
            doc["coilElementList"][2]["data"] = _pickled_array_b64(_Marker(marker), compress, proto)
            p.write_text(json.dumps(doc))
            with pytest.raises(CoilFileError, match="cannot read the stored array") as exc:
                load_coil(p)
            assert str(p) in str(exc.value)
            assert not marker.exists()
    # and the genuine article still loads (pickled float64 grid, as SimNIBS writes it)
    doc = _tcd_doc()
    grid = np.arange(24.0).reshape(2, 2, 2, 3) * 1e-8
    doc["coilElementList"][2]["data"] = _pickled_array_b64(grid)
    p.write_text(json.dumps(doc))
    np.testing.assert_array_equal(load_coil(p).sampled_grids[0].values, grid)


def test_fast_placement_cache_never_unpickled(tmp_path):
    """A fast-placement cache entry (a folder of .npy arrays + manifest in the set-up store) whose array files
    are replaced by pickled objects is never unpickled: the store warns, drops the entry and it is rebuilt."""
    from tmsfield.solver.bem import EFieldSolver
    cache = tmp_path / "cache"
    opts = {"rank": 3, "sources": 20, "cache_dir": cache}
    scalp = icosphere(85.0, subdivisions=1, name="scalp")
    s = EFieldSolver([scalp], cortex_points=[[0, 0, 70.0]], fast_options=opts)
    entry = s.fast_map.cache_path
    assert entry.is_dir() and not s.fast_map.loaded_from_cache
    arrays = sorted(entry.glob("*.npy"))
    assert arrays, f"no array files in the fast-map cache entry {entry}"
    marker = tmp_path / "UNPICKLED-cache"
    for kind in ("npz", "npy", "pickle4"):
        for f in sorted(entry.glob("*.npy")):
            f.write_bytes(_evil_payloads(marker)[kind])
        with pytest.warns(RuntimeWarning, match="ignoring the set-up cache entry"):
            s2 = EFieldSolver([scalp], cortex_points=[[0, 0, 70.0]], fast_options=opts)
        assert not s2.fast_map.loaded_from_cache
        assert not marker.exists(), f"the cache loader unpickled a {kind} file"
        entry = s2.fast_map.cache_path
    s3 = EFieldSolver([scalp], cortex_points=[[0, 0, 70.0]], fast_options=opts)
    assert s3.fast_map.loaded_from_cache          # the rebuilt cache is good again


_UNPICKLERS = {("pickle", "load"), ("pickle", "loads"), ("pickle", "Unpickler"), ("cPickle", "load"),
               ("joblib", "load"), ("dill", "load"), ("dill", "loads"), ("torch", "load"), ("shelve", "open"),
               ("pd", "read_pickle"), ("pandas", "read_pickle"), ("marshal", "load"), ("marshal", "loads")}


def test_package_source_never_unpickles():
    """Static guard: no module of the package calls an unpickler, and every np.load passes
    allow_pickle=False (so reading a user's file can never run code)."""
    offences = []
    for f in sorted((REPO / "tmsfield").rglob("*.py")):
        tree = ast.parse(f.read_text(), filename=str(f))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
                if any(n and n.split(".")[0] in ("pickle", "cPickle", "dill", "shelve", "joblib", "cloudpickle")
                       for n in names):
                    offences.append(f"{f.relative_to(REPO)}:{node.lineno}: imports an unpickler")
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            base = node.func.value
            owner = base.id if isinstance(base, ast.Name) else base.attr if isinstance(base, ast.Attribute) else ""
            if (owner, node.func.attr) in _UNPICKLERS:
                offences.append(f"{f.relative_to(REPO)}:{node.lineno}: {owner}.{node.func.attr}()")
            if owner in ("np", "numpy") and node.func.attr == "load":
                kw = {k.arg: k.value for k in node.keywords}
                if not (isinstance(kw.get("allow_pickle"), ast.Constant) and kw["allow_pickle"].value is False):
                    offences.append(f"{f.relative_to(REPO)}:{node.lineno}: np.load without allow_pickle=False")
    assert not offences, "\n".join(offences)
