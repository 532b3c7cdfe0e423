"""The fast-placement map on the set-up store survives damage: a truncated file, flipped bytes, an entry of another
version or another head is detected (SHA-256 of every file, key of mesh, conductivities, settings and version),
never used, rebuilt with a one-line warning and replaced; a map holding NaN is never saved."""

import shutil
import warnings

import numpy as np
import pytest

from tmsfield.errors import NonFiniteError
from tmsfield.head.sphere_mesh import icosphere
from tmsfield.solver.bem import EFieldSolver

SIGMA = [0.465, 0.275]


def _surfaces(scale=1.0):
    return [icosphere(95.0 * scale, subdivisions=2, name="scalp"),
            icosphere(85.0 * scale, subdivisions=2, name="skull_inner")]


def _build(cache_dir, scale=1.0, sigma=SIGMA):
    cortex = icosphere(70.0 * scale, subdivisions=1).vertices
    return EFieldSolver(_surfaces(scale), sigma, cortex_points=cortex,
                        fast_options={"rank": 12, "sources": 200, "cache_dir": cache_dir}).fast_map


def _files(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A built map, its entry's files, and the arrays a fresh build gives."""
    d = tmp_path_factory.mktemp("fastmap_cache")
    fm = _build(d)
    assert not fm.loaded_from_cache and fm.cache_path.is_dir()
    return {"dir": d, "path": fm.cache_path, "files": _files(fm.cache_path),
            "response": fm.response.copy(), "projector_t": fm.projector_t.copy()}


def _rebuilt_with_one_warning(cache_dir, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fm = _build(cache_dir, **kw)
    msgs = [str(w.message) for w in caught if "set-up cache entry" in str(w.message) and "fastmap" in str(w.message)]
    assert len(msgs) == 1 and "\n" not in msgs[0] and "ignoring" in msgs[0] and "rebuilding" in msgs[0], msgs
    assert not fm.loaded_from_cache
    return fm, msgs[0]


def _copy_of(good, tmp_path):
    d = tmp_path / "cache"
    shutil.copytree(good["dir"], d)
    return d, d / good["path"].name


def _same_arrays(folder, good):
    now = _files(folder)
    return all(now[n] == b for n, b in good["files"].items() if n.endswith(".npy"))


def test_intact_cache_is_loaded_without_warning(good, tmp_path):
    d, _ = _copy_of(good, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fm = _build(d)
    assert fm.loaded_from_cache
    np.testing.assert_array_equal(fm.response, good["response"])
    np.testing.assert_array_equal(fm.projector_t, good["projector_t"])


@pytest.mark.parametrize("name", ["response.npy", "projector_t.npy", "manifest.json"])
@pytest.mark.parametrize("keep", [0, 10, 47, 200, 0.5, -1])
def test_truncated_cache_is_rebuilt(good, tmp_path, keep, name):
    d, p = _copy_of(good, tmp_path)
    data = good["files"][name]
    n = len(data)
    keep = int(keep * n) if isinstance(keep, float) else (n + keep if keep < 0 else keep)
    (p / name).write_bytes(data[:keep])
    fm, _ = _rebuilt_with_one_warning(d)
    np.testing.assert_array_equal(fm.response, good["response"])      # a fresh build, nothing from the file
    assert _same_arrays(p, good)                                        # and the entry replaced by a good one
    assert _build(d).loaded_from_cache


@pytest.mark.random
def test_flipped_bytes_are_detected(good, tmp_path, rng):
    """Any flipped byte, anywhere in the entry (manifest, checksums, key, arrays), is detected."""
    d, p = _copy_of(good, tmp_path)
    names = sorted(good["files"])
    for _ in range(4):
        name = names[int(rng.integers(len(names)))]
        data = bytearray(good["files"][name])
        data[int(rng.integers(len(data)))] ^= int(rng.integers(1, 256))
        (p / name).write_bytes(bytes(data))
        _rebuilt_with_one_warning(d)
        assert _same_arrays(p, good)


def test_arrays_replaced_under_the_old_checksum_are_detected(good, tmp_path):
    d, p = _copy_of(good, tmp_path)
    data = bytearray(good["files"]["projector_t.npy"])
    data[-4:] = np.float32(1.0).tobytes()            # a changed last projector entry; checksum unchanged
    (p / "projector_t.npy").write_bytes(bytes(data))
    _, msg = _rebuilt_with_one_warning(d)
    assert "checksum" in msg


def test_cache_of_another_version_is_not_used(good, tmp_path, monkeypatch):
    import tmsfield._version
    d = tmp_path / "cache"
    monkeypatch.setattr(tmsfield._version, "__version__", "999.0-other")
    other = _build(d)                                  # the name this version looks for
    assert other.cache_path.name != good["path"].name
    shutil.rmtree(other.cache_path)
    shutil.copytree(good["path"], other.cache_path)    # an old version's map put under it
    _, msg = _rebuilt_with_one_warning(d)
    assert "another head, conductivities, settings or tmsfield version" in msg


@pytest.mark.parametrize("kw", [{"scale": 1.02}, {"sigma": [0.465, 0.126]}])
def test_cache_of_another_head_is_not_used(good, tmp_path, kw):
    """Same mesh topology and array shapes (so only the key can tell): another radius, other conductivities."""
    d = tmp_path / "cache"
    fresh = _build(d, **kw)
    fresh_response = fresh.response.copy()
    shutil.rmtree(fresh.cache_path)
    shutil.copytree(good["path"], fresh.cache_path)    # the first head's map under this head's name
    fm, msg = _rebuilt_with_one_warning(d, **kw)
    assert "another head" in msg
    np.testing.assert_array_equal(fm.response, fresh_response)
    assert not np.array_equal(fm.response, good["response"])


def test_map_with_nan_is_never_saved(good, tmp_path):
    d, _ = _copy_of(good, tmp_path)
    fm = _build(d)
    arrays = fm._arrays()
    arrays["response"][3, 1] = np.nan
    from tmsfield.cache import SetupStore, make_key
    store = SetupStore(tmp_path / "nan")
    with pytest.raises(NonFiniteError, match=r"response \[3, 1\] is nan"):
        store.save("fastmap", make_key("fastmap", x=1), arrays)
    assert store.entries() == []
