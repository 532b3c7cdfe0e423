"""The on-disk set-up store: round trip, damage detection (truncated, flipped byte, other version, other key),
never a pickle, LRU eviction under a size limit, one build when two processes ask for the same key at once,
stale temporaries, and ``tmsfield cache list|clear``."""

import json
import multiprocessing as mp
import os
import time
import warnings

import numpy as np
import pytest

from tmsfield.cache import SetupStore, make_key
from tmsfield.cache import store as store_mod
from tmsfield.errors import NonFiniteError


def _arrays():
    a = np.arange(12.0).reshape(3, 4)
    return {"a": a, "f": np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)),
            "i": np.arange(5, dtype=np.int32)}


def _put(store, tag="x", arrays=None, meta=None):
    key = make_key("test", tag=tag)
    assert store.save("test", key, arrays or _arrays(), meta or {"tag": tag}, description=f"entry {tag}")
    return key


def _one_warning(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn()
    msgs = [str(w.message) for w in caught if "set-up cache entry" in str(w.message)]
    assert len(msgs) == 1 and "\n" not in msgs[0] and "ignoring" in msgs[0] and "rebuilding" in msgs[0], msgs
    return out, msgs[0]


@pytest.mark.parametrize("mmap_bytes", [1 << 40, 1])
def test_round_trip_is_bitwise_with_dtypes_and_order(tmp_path, monkeypatch, mmap_bytes):
    monkeypatch.setattr(store_mod, "MMAP_BYTES", mmap_bytes)     # 1: every array memory-mapped
    store = SetupStore(tmp_path)
    key = _put(store)
    got, meta = store.load("test", key)
    assert meta == {"tag": "x"}
    for k, a in _arrays().items():
        assert got[k].dtype == a.dtype and got[k].shape == a.shape
        np.testing.assert_array_equal(got[k], a)
    assert got["f"].flags.f_contiguous
    assert store.load("test", make_key("test", tag="other")) is None           # a miss, no warning


def test_get_or_build_builds_once(tmp_path):
    store = SetupStore(tmp_path)
    calls = []

    def build():
        calls.append(1)
        return _arrays(), {"n": 1}
    key = make_key("test", n=1)
    a1, m1, built1 = store.get_or_build("test", key, build)
    a2, m2, built2 = store.get_or_build("test", key, build)
    assert (built1, built2, len(calls)) == (True, False, 1) and m2 == {"n": 1}
    np.testing.assert_array_equal(a1["a"], a2["a"])


def _entry_files(store, key):
    folder = store.entry_path("test", key)
    return folder, {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.mark.parametrize("name", ["a.npy", "manifest.json"])
@pytest.mark.parametrize("keep", [0, 7, 0.5, -1])
def test_truncated_file_is_detected_and_the_entry_removed(tmp_path, name, keep):
    store = SetupStore(tmp_path)
    key = _put(store)
    folder, files = _entry_files(store, key)
    data = files[name]
    k = int(keep * len(data)) if isinstance(keep, float) else (len(data) + keep if keep < 0 else keep)
    (folder / name).write_bytes(data[:k])
    got, msg = _one_warning(lambda: store.load("test", key))
    assert got is None and not folder.exists()
    assert store.get_or_build("test", key, lambda: (_arrays(), {}))[2]          # rebuilt and stored again
    assert store.load("test", key) is not None


@pytest.mark.random
def test_any_flipped_byte_is_detected(tmp_path, rng):
    store = SetupStore(tmp_path)
    key = _put(store)
    folder, files = _entry_files(store, key)
    names = sorted(files)
    for _ in range(12):
        name = names[int(rng.integers(len(names)))]
        data = bytearray(files[name])
        data[int(rng.integers(len(data)))] ^= int(rng.integers(1, 256))
        (folder / name).write_bytes(bytes(data))
        got, _ = _one_warning(lambda: store.load("test", key))
        assert got is None and not folder.exists()
        _put(store)


def test_array_replaced_under_the_old_checksum_is_detected(tmp_path):
    store = SetupStore(tmp_path)
    key = _put(store)
    folder = store.entry_path("test", key)
    np.save(folder / "a.npy", np.arange(12.0).reshape(3, 4) + 1.0)                # a valid .npy, other values
    _, msg = _one_warning(lambda: store.load("test", key))
    assert "checksum" in msg


def _rewrite_manifest(folder, change):
    import hashlib
    doc = json.loads((folder / "manifest.json").read_text())
    change(doc["manifest"])
    doc["sha256"] = hashlib.sha256(store_mod._canonical(doc["manifest"])).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(doc))


def test_entry_of_another_version_or_key_is_not_used(tmp_path, monkeypatch):
    store = SetupStore(tmp_path)
    key = _put(store)
    folder = store.entry_path("test", key)
    _rewrite_manifest(folder, lambda b: b.update(tmsfield_version="0.0-old"))   # consistent, but another version
    _, msg = _one_warning(lambda: store.load("test", key))
    assert "made by tmsfield 0.0-old" in msg
    # another head's entry put under this key's name (a copied or colliding folder)
    key = _put(store)
    other = make_key("test", tag="other head")
    os.rename(store.entry_path("test", key), store.entry_path("test", other))
    _, msg = _one_warning(lambda: store.load("test", other))
    assert "another head" in msg
    # and a new package version never even looks at the old entry
    import tmsfield._version
    key = _put(store)
    monkeypatch.setattr(tmsfield._version, "__version__", "999.0-other")
    assert make_key("test", tag="x") != key


def test_never_a_pickle(tmp_path):
    store = SetupStore(tmp_path)
    with pytest.raises(ValueError, match="never objects"):
        store.save("test", make_key("test", o=1), {"o": np.array([{"a": 1}], dtype=object)})
    # a pickled object array planted in an entry (checksums made to match) is refused, never unpickled
    key = _put(store)
    folder = store.entry_path("test", key)
    evil = np.array([None, {"x": 1}], dtype=object)
    with open(folder / "a.npy", "wb") as fh:
        np.lib.format.write_array(fh, evil, allow_pickle=True)
    import hashlib
    raw = (folder / "a.npy").read_bytes()

    def change(body):
        for it in body["arrays"]:
            if it["name"] == "a":
                it.update(sha256=hashlib.sha256(raw).hexdigest(), file_bytes=len(raw), dtype="|O", shape=[2])
    _rewrite_manifest(folder, change)
    got, msg = _one_warning(lambda: store.load("test", key))
    assert got is None and "dtype" in msg


def test_non_finite_arrays_are_never_stored(tmp_path):
    store = SetupStore(tmp_path)
    a = np.ones(4)
    a[2] = np.nan
    with pytest.raises(NonFiniteError):
        store.save("test", make_key("test", nan=1), {"a": a})
    assert store.entries() == []


def test_lru_eviction_under_a_tiny_limit(tmp_path):
    store = SetupStore(tmp_path)
    ka = _put(store, "a")
    store.max_bytes = int(2.5 * store.total_bytes())                          # room for two entries
    time.sleep(0.02)
    kb = _put(store, "b")
    time.sleep(0.02)
    assert store.load("test", ka) is not None                                # a used after b
    time.sleep(0.02)
    kc = _put(store, "c")                                                     # evicts the least recently used: b
    names = {e.name for e in store.entries()}
    assert names == {store.entry_name("test", ka), store.entry_name("test", kc)}
    assert store.load("test", kb) is None
    assert store.total_bytes() <= store.max_bytes


def test_artefact_larger_than_the_limit_is_not_stored(tmp_path):
    store = SetupStore(tmp_path, max_bytes=100)
    with pytest.warns(RuntimeWarning, match="larger than the set-up cache limit"):
        assert not store.save("test", make_key("test", big=1), _arrays())
    assert store.entries() == []


def test_size_limit_from_the_environment(monkeypatch):
    monkeypatch.setenv("TMSFIELD_CACHE_MAX_GB", "0.5")
    assert SetupStore("/nonexistent").max_bytes == 500_000_000
    monkeypatch.setenv("TMSFIELD_CACHE_MAX_GB", "lots")
    from tmsfield.errors import InputError
    with pytest.raises(InputError, match="TMSFIELD_CACHE_MAX_GB"):
        SetupStore("/nonexistent")


def test_default_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TMSFIELD_CACHE_DIR", str(tmp_path / "mine"))
    assert SetupStore().root == tmp_path / "mine"
    monkeypatch.delenv("TMSFIELD_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert SetupStore().root == tmp_path / "xdg" / "tmsfield"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert SetupStore().root == tmp_path / "home" / ".cache" / "tmsfield"


def test_stale_temporaries_are_ignored_and_cleaned(tmp_path):
    from tmsfield._atomic import host_tag
    store = SetupStore(tmp_path)
    dead = tmp_path / f".tmp-test-{'0' * 32}.~999999999@{host_tag()}~deadbeef"   # a writer killed mid-entry
    dead.mkdir()
    (dead / "a.npy").write_bytes(b"half")
    assert store.entries() == []
    _put(store)
    assert not dead.exists() and len(store.entries()) == 1


def _race_worker(root, key, counter, start_at):
    from tmsfield.cache import SetupStore as S

    def build():
        with open(counter, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        time.sleep(1.0)                                 # a slow build: the other process must wait for it
        return {"a": np.arange(200_000.0)}, {"who": os.getpid()}
    while time.time() < start_at:
        time.sleep(0.005)
    arrays, meta, built = S(root).get_or_build("race", key, build)
    assert np.array_equal(arrays["a"], np.arange(200_000.0))
    return built, meta["who"]


def test_two_processes_building_the_same_key_build_once(tmp_path):
    key = make_key("race", n=1)
    counter = tmp_path / "builds.txt"
    ctx = mp.get_context("spawn")
    with ctx.Pool(2) as pool:
        start_at = time.time() + 3.0                    # after both spawned interpreters are up
        res = pool.starmap(_race_worker, [(str(tmp_path / "store"), key, str(counter), start_at)] * 2)
    assert len(counter.read_text().split()) == 1, counter.read_text()
    assert sorted(b for b, _ in res) == [False, True] and res[0][1] == res[1][1]
    store = SetupStore(tmp_path / "store")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert store.load("race", key) is not None      # intact
    assert [p.name for p in (tmp_path / "store").iterdir() if p.name.startswith(".tmp")] == []


def test_cli_cache_list_and_clear(tmp_path, capsys):
    from tmsfield.cli.main import main
    store = SetupStore(tmp_path)
    _put(store, "a")
    _put(store, "b")
    assert main(["cache", "list", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "2 entries" in out and "entry a" in out and "entry b" in out and str(tmp_path) in out
    assert main(["cache", "clear", "--dir", str(tmp_path), "--kind", "other"]) == 0
    assert "removed 0 entries" in capsys.readouterr().out and len(store.entries()) == 2
    assert main(["cache", "clear", "--dir", str(tmp_path)]) == 0
    assert "removed 2 entries" in capsys.readouterr().out and store.entries() == []
    assert main(["cache", "list", "--dir", str(tmp_path)]) == 0
    assert "0 entries" in capsys.readouterr().out
