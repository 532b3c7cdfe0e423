"""Content-addressed on-disk store of set-up artefacts (named arrays + a JSON manifest per key).

Layout under the store's root (:func:`default_cache_dir`)::

    <kind>-<key[:32]>/manifest.json      key, kind, version, description, metadata, and for every
                                         array its file, dtype, shape, size and SHA-256; the
                                         manifest carries the SHA-256 of its own body
    <kind>-<key[:32]>/<name>.npy         one plain ``.npy`` file per array (never a pickle)
    .locks/<kind>-<key[:32]>.lock        build lock (``flock``; the kernel releases it if its holder dies)
    .tmp-<entry>.~<pid>@<host>~<hex>/    an entry being written (renamed into place when complete)

An entry is written in a temporary folder beside the others, flushed to disk, then renamed into
place, so a reader never sees a partial entry. On every read each file's SHA-256 is checked against
the manifest and the manifest's key and version against the ones asked for: a truncated, damaged or
foreign entry is never used; it is removed with a one-line warning and the caller rebuilds it.
Reading an entry marks it used (the manifest's modification time); when the store grows beyond its
size limit the least recently used entries are removed. Arrays are read with
``allow_pickle=False``; large ones are memory-mapped (copy-on-write) after the checksum (the pages then
come from the page cache, shared by every process using the entry).

The store knows nothing about what it stores: :mod:`tmsfield.cache.setup` maps solver artefacts
(LU factors, near-field operators, fast-placement maps) onto it.
"""

import errno
import hashlib
import json
import os
import secrets
import shutil
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["SetupStore", "EntryInfo", "make_key", "default_cache_dir", "default_max_bytes", "DamagedEntry"]

STORE_FORMAT = "tmsfield-cache/1"
DEFAULT_MAX_GB = 20.0
#: arrays at least this large are memory-mapped (copy-on-write: LAPACK needs writable arrays) instead of read
MMAP_BYTES = 64 << 20
_CHUNK = 16 << 20
_DTYPES = {"<f4", "<f8", "<i4", "<i8", "<u1", "|u1", "|b1", "<c8", "<c16"}


def default_cache_dir():
    """The set-up cache folder: ``$TMSFIELD_CACHE_DIR``, else ``$XDG_CACHE_HOME/tmsfield``, else
    ``~/.cache/tmsfield`` (read when called).

    Examples
    --------
    >>> isinstance(default_cache_dir(), Path)
    True
    """
    env = os.environ.get("TMSFIELD_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tmsfield"


def default_max_bytes():
    """Size limit of the store in bytes: ``$TMSFIELD_CACHE_MAX_GB`` (GB = 1e9 bytes), else 20 GB.

    Examples
    --------
    >>> default_max_bytes() > 0
    True
    """
    from ..errors import InputError
    env = os.environ.get("TMSFIELD_CACHE_MAX_GB")
    if env is None or env.strip() == "":
        return int(DEFAULT_MAX_GB * 1e9)
    try:
        gb = float(env)
    except ValueError:
        gb = float("nan")
    if not gb >= 0 or gb == float("inf"):
        raise InputError(f"TMSFIELD_CACHE_MAX_GB must be a size in GB (>= 0); got {env!r}")
    return int(gb * 1e9)


def _update_hash(h, value):
    if isinstance(value, np.ndarray) or (isinstance(value, (list, tuple)) and value and
                                         isinstance(value[0], np.ndarray)):
        arrs = [value] if isinstance(value, np.ndarray) else list(value)
        for a in arrs:
            a = np.ascontiguousarray(a)
            h.update(f"array {a.dtype.str} {a.shape}\n".encode())
            h.update(memoryview(a).cast("B") if a.size else b"")
    elif isinstance(value, (bytes, bytearray, memoryview)):
        h.update(b"bytes %d\n" % len(value))
        h.update(value)
    else:
        h.update(json.dumps(value, sort_keys=True, allow_nan=True, default=str).encode())
    h.update(b"\n")


def make_key(kind, **parts):
    """SHA-256 (hex) of an artefact's kind, everything it depends on and the package version.

    Parameters
    ----------
    kind : str
        What is stored (e.g. ``"bem-lu"``); part of the entry's name.
    **parts
        Arrays (dtype, shape and bytes are hashed), bytes, or JSON-able values (hashed as sorted JSON).

    Examples
    --------
    >>> make_key("x", a=np.arange(3.0)) == make_key("x", a=np.arange(3.0))
    True
    >>> make_key("x", a=np.arange(3.0)) == make_key("x", a=np.arange(3.0) + 1e-15)
    False
    """
    from .._version import __version__
    h = hashlib.sha256()
    h.update(f"{STORE_FORMAT}\n{kind}\n{__version__}\n".encode())
    for name in sorted(parts):
        h.update(f"{name}=".encode())
        _update_hash(h, parts[name])
    return h.hexdigest()


class DamagedEntry(ValueError):
    """An entry that must not be used (truncated, damaged, another key or version); the message says why."""


@dataclass(frozen=True)
class EntryInfo:
    """One stored entry, as listed by :meth:`SetupStore.entries`.

    Attributes
    ----------
    name : str
        Folder name ``<kind>-<key[:32]>``.
    kind, key, description, version : str
    size_bytes : int
    last_used : float
        POSIX time of the last read or write.
    created_utc : str
    """

    name: str
    kind: str
    key: str
    description: str
    version: str
    size_bytes: int
    last_used: float
    created_utc: str


class _HashingFile:
    """Write-through file wrapper that hashes what is written (for ``np.lib.format.write_array``)."""

    def __init__(self, fh):
        self.fh, self.h, self.n = fh, hashlib.sha256(), 0

    def write(self, data):
        mv = memoryview(data).cast("B")
        self.h.update(mv)
        self.n += mv.nbytes
        return self.fh.write(mv)


def _canonical(body):
    return json.dumps(body, sort_keys=True, allow_nan=False, separators=(",", ":")).encode()


def _fsync(path, directory=False):
    try:
        fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class SetupStore:
    """On-disk, content-addressed cache of set-up artefacts shared by every tmsfield process of a user.

    Parameters
    ----------
    root : str or Path, optional
        Folder of the store (created when first written); default :func:`default_cache_dir`.
    max_bytes : int, optional
        Size limit (bytes); default :func:`default_max_bytes` (20 GB, ``TMSFIELD_CACHE_MAX_GB``).
        After each write the least recently used entries are removed until the store fits; an
        artefact larger than the limit is not stored (a warning says so).

    Examples
    --------
    >>> import tempfile
    >>> store = SetupStore(tempfile.mkdtemp())
    >>> key = make_key("demo", n=3)
    >>> arrays, meta, built = store.get_or_build("demo", key, lambda: ({"a": np.arange(3.0)}, {"n": 3}))
    >>> built, store.get_or_build("demo", key, lambda: 1 / 0)[2]
    (True, False)
    >>> [e.kind for e in store.entries()]
    ['demo']
    """

    def __init__(self, root=None, max_bytes=None):
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        self.max_bytes = default_max_bytes() if max_bytes is None else int(max_bytes)

    def __repr__(self):
        return f"SetupStore({str(self.root)!r}, max_bytes={self.max_bytes})"

    # ------------------------------------------------------------------ names
    @staticmethod
    def entry_name(kind, key):
        """Folder name of the entry of ``kind`` and ``key``."""
        if not kind or not all(c.isalnum() or c in "-_" for c in kind):
            raise ValueError(f"cache kind must be letters, digits, - or _; got {kind!r}")
        if len(key) < 32 or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"cache key must be a hex digest; got {key!r}")
        return f"{kind}-{key[:32]}"

    def entry_path(self, kind, key):
        """Path of the entry's folder (whether or not it exists)."""
        return self.root / self.entry_name(kind, key)

    # ------------------------------------------------------------------ reading
    def _read_manifest(self, folder):
        try:
            raw = (folder / "manifest.json").read_bytes()
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise DamagedEntry(f"manifest unreadable ({exc.strerror or exc})") from None
        try:
            doc = json.loads(raw.decode("utf-8"))
            body, digest = doc["manifest"], doc["sha256"]
        except (UnicodeDecodeError, ValueError, KeyError, TypeError):
            raise DamagedEntry("manifest truncated or damaged (not the expected JSON)") from None
        if not isinstance(body, dict) or hashlib.sha256(_canonical(body)).hexdigest() != digest:
            raise DamagedEntry("manifest checksum mismatch: damaged")
        if body.get("format") != STORE_FORMAT:
            raise DamagedEntry(f"another cache format ({body.get('format')!r})")
        return body

    def _read_array(self, folder, item, mmap):
        name, fname = item["name"], item["file"]
        if "/" in fname or fname.startswith("."):
            raise DamagedEntry(f"array {name!r}: bad file name {fname!r}")
        path = folder / fname
        try:
            fh = open(path, "rb")
        except FileNotFoundError:
            raise DamagedEntry(f"array {name!r}: file {fname} missing") from None
        with fh:
            size = os.fstat(fh.fileno()).st_size
            if size != int(item["file_bytes"]):
                raise DamagedEntry(f"array {name!r}: {size} bytes on disk, {item['file_bytes']} written (truncated?)")
            h = hashlib.sha256()
            buf = bytearray(min(_CHUNK, max(size, 1)))
            view = memoryview(buf)
            while True:
                n = fh.readinto(buf)
                if not n:
                    break
                h.update(view[:n])
            if h.hexdigest() != item["sha256"]:
                raise DamagedEntry(f"array {name!r}: checksum mismatch (the file is damaged)")
            fh.seek(0)
            try:
                version = np.lib.format.read_magic(fh)
                read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                               (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                if read_header is None:
                    raise ValueError(f"npy format version {version}")
                shape, fortran, dtype = read_header(fh, max_header_size=10000)
            except (ValueError, OSError) as exc:
                raise DamagedEntry(f"array {name!r}: not a .npy file ({exc})") from None
            if dtype.hasobject or dtype.str not in _DTYPES:
                raise DamagedEntry(f"array {name!r}: unexpected dtype {dtype.str}")
            if dtype.str != item["dtype"] or list(shape) != list(item["shape"]):
                raise DamagedEntry(f"array {name!r}: {dtype.str} {shape} on disk, manifest says "
                                   f"{item['dtype']} {tuple(item['shape'])}")
            offset = fh.tell()
            nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            if offset + nbytes != size:
                raise DamagedEntry(f"array {name!r}: file size does not match its header")
            order = "F" if fortran else "C"
            if mmap and nbytes >= MMAP_BYTES:
                return np.memmap(fh, dtype=dtype, mode="c", shape=tuple(shape), order=order, offset=offset)
            a = np.fromfile(fh, dtype=dtype, count=nbytes // dtype.itemsize)
            return a.reshape(shape, order=order)

    def load(self, kind, key, mmap=True):
        """Arrays and metadata of the entry for ``key``, verified; None when there is none.

        An entry that fails verification (truncated or damaged file, another key, format or
        package version) is removed with a one-line :class:`RuntimeWarning`, and None is returned.

        Returns
        -------
        (dict of ndarray, dict) or None
        """
        from .._version import __version__
        folder = self.entry_path(kind, key)
        try:
            body = self._read_manifest(folder)
            if body.get("key") != key or body.get("kind") != kind:
                raise DamagedEntry("made for another head, conductivities, settings or tmsfield version")
            if body.get("tmsfield_version") != __version__:
                raise DamagedEntry(f"made by tmsfield {body.get('tmsfield_version')}, this is {__version__}")
            arrays = {}
            for item in body.get("arrays", []):
                arrays[str(item["name"])] = self._read_array(folder, item, mmap)
        except FileNotFoundError:
            return None                    # absent, or removed meanwhile by another process: a miss
        except (DamagedEntry, KeyError, TypeError, ValueError, OSError) as exc:
            why = " ".join(str(exc).split()) or type(exc).__name__
            warnings.warn(f"ignoring the set-up cache entry {folder} ({why}); rebuilding it", RuntimeWarning,
                          stacklevel=3)
            self._remove(folder)
            return None
        try:
            os.utime(folder / "manifest.json")       # last used, for the LRU eviction
        except OSError:
            pass
        return arrays, dict(body.get("meta") or {})

    # ------------------------------------------------------------------ writing
    def save(self, kind, key, arrays, meta=None, description=""):
        """Store ``arrays`` (name -> ndarray) and ``meta`` (JSON-able) under ``key``, atomically.

        Arrays holding NaN/inf are refused (:class:`~tmsfield.errors.NonFiniteError`). A folder that
        cannot be written, a full disk or an artefact larger than the limit only costs the cache:
        a warning, and False is returned.

        Returns
        -------
        bool
            Whether the entry was stored.
        """
        from .._atomic import host_tag
        from .._outputs import require_finite
        from .._version import __version__
        name = self.entry_name(kind, key)
        arrays = {str(k): np.asarray(v) for k, v in arrays.items()}
        for k, a in arrays.items():
            if not k.replace("_", "").replace("-", "").isalnum():
                raise ValueError(f"array name must be letters, digits, - or _; got {k!r}")
            if a.dtype.hasobject or a.dtype.str not in _DTYPES:
                raise ValueError(f"array {k!r}: dtype {a.dtype} cannot be cached (numbers only, never objects)")
            if a.dtype.kind in "fc":
                require_finite(a, f"the cached {kind} array {k}", self.root / name)
        size = sum(int(a.nbytes) for a in arrays.values())
        if size > self.max_bytes:
            warnings.warn(f"not caching {kind} ({size / 1e9:.2f} GB): larger than the set-up cache limit "
                          f"({self.max_bytes / 1e9:.2f} GB; raise TMSFIELD_CACHE_MAX_GB)", RuntimeWarning, stacklevel=3)
            return False
        tmp = self.root / f".tmp-{name}.~{os.getpid()}@{host_tag()}~{secrets.token_hex(4)}"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self._clean_temporaries()
            tmp.mkdir()
            items = []
            for k, a in arrays.items():
                fname = f"{k}.npy"
                with open(tmp / fname, "wb") as fh:
                    hf = _HashingFile(fh)
                    np.lib.format.write_array(hf, a, allow_pickle=False)
                    fh.flush()
                    os.fsync(fh.fileno())
                items.append({"name": k, "file": fname, "dtype": a.dtype.str, "shape": list(a.shape),
                              "nbytes": int(a.nbytes), "file_bytes": hf.n, "sha256": hf.h.hexdigest()})
            body = {"format": STORE_FORMAT, "kind": kind, "key": key, "tmsfield_version": __version__,
                    "description": str(description), "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "meta": meta or {}, "arrays": items, "size_bytes": int(sum(i["file_bytes"] for i in items))}
            doc = json.dumps({"manifest": body, "sha256": hashlib.sha256(_canonical(body)).hexdigest()},
                             allow_nan=False, indent=1).encode()
            with open(tmp / "manifest.json", "wb") as fh:
                fh.write(doc)
                fh.flush()
                os.fsync(fh.fileno())
            _fsync(tmp, directory=True)
            final = self.root / name
            if final.exists():             # a damaged entry, or one stored meanwhile: replace it
                self._remove(final)
            try:
                os.rename(tmp, final)
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                self._remove(final)
                os.rename(tmp, final)
            _fsync(self.root, directory=True)
        except OSError as exc:
            warnings.warn(f"could not write the set-up cache entry {self.root / name}: "
                          f"{' '.join(str(exc).split())}", RuntimeWarning, stacklevel=3)
            return False
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        self.evict(keep=name)
        return True

    # ------------------------------------------------------------------ build once
    @contextmanager
    def build_lock(self, kind, key, on_wait=None):
        """Hold the build lock of ``key`` (an exclusive ``flock``, released by the kernel if this
        process dies). ``on_wait()`` is called once when another process holds it."""
        try:
            import fcntl
        except ImportError:            # pragma: no cover - not POSIX
            yield
            return
        locks = self.root / ".locks"
        try:
            locks.mkdir(parents=True, exist_ok=True)
            fd = os.open(locks / f"{self.entry_name(kind, key)}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            yield                      # read-only store: build without the lock (nothing is written anyway)
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if on_wait is not None:
                    on_wait()
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def get_or_build(self, kind, key, build, description="", on_wait=None, mmap=True):
        """The entry for ``key``; built by ``build() -> (arrays, meta)`` and stored when absent or unusable.

        Several processes asking for the same key at once: one builds, the others wait for its
        build lock and then read what it stored.

        Returns
        -------
        (dict of ndarray, dict, bool)
            Arrays, metadata, and whether this call built them.
        """
        from .. import _progress
        with _progress.step(f"reading the {description or kind} from the set-up cache", log_below=0.5):
            hit = self.load(kind, key, mmap=mmap)
        if hit is not None:
            return (*hit, False)
        with self.build_lock(kind, key, on_wait=on_wait):
            hit = self.load(kind, key, mmap=mmap)          # built by another process while we waited
            if hit is not None:
                return (*hit, False)
            arrays, meta = build()
            self.save(kind, key, arrays, meta, description=description)
        return arrays, dict(meta or {}), True

    # ------------------------------------------------------------------ listing, eviction
    def _entry_folders(self):
        try:
            names = os.listdir(self.root)
        except OSError:
            return []
        return [self.root / n for n in sorted(names) if not n.startswith(".") and (self.root / n).is_dir()]

    @staticmethod
    def _folder_size(folder):
        total = 0
        try:
            for f in os.scandir(folder):
                try:
                    total += f.stat(follow_symlinks=False).st_size
                except OSError:
                    pass
        except OSError:
            pass
        return total

    def entries(self):
        """Every entry (also damaged ones, with kind ``"?"``), least recently used first.

        Returns
        -------
        list of EntryInfo
        """
        out = []
        for folder in self._entry_folders():
            try:
                used = os.stat(folder / "manifest.json").st_mtime
            except OSError:
                used = 0.0
            try:
                b = self._read_manifest(folder)
                info = EntryInfo(folder.name, str(b.get("kind")), str(b.get("key")), str(b.get("description", "")),
                                 str(b.get("tmsfield_version")), self._folder_size(folder), used,
                                 str(b.get("created_utc", "")))
            except (DamagedEntry, OSError):
                info = EntryInfo(folder.name, "?", "", "damaged or incomplete entry", "?",
                                 self._folder_size(folder), used, "")
            out.append(info)
        out.sort(key=lambda e: e.last_used)
        return out

    def total_bytes(self):
        """Bytes used by the entries."""
        return sum(self._folder_size(f) for f in self._entry_folders())

    def evict(self, keep=None):
        """Remove least recently used entries until the store fits its limit (``keep``: a name spared).

        Returns
        -------
        list of str
            Names of the removed entries.
        """
        ents = self.entries()
        total = sum(e.size_bytes for e in ents)
        removed = []
        for e in ents:
            if total <= self.max_bytes:
                break
            if e.name == keep:
                continue
            self._remove(self.root / e.name)
            total -= e.size_bytes
            removed.append(e.name)
        return removed

    def clear(self, kind=None):
        """Remove every entry (or those of ``kind``) and stale temporaries; returns (count, bytes)."""
        n = size = 0
        for e in self.entries():
            if kind is None or e.kind == kind:
                self._remove(self.root / e.name)
                n += 1
                size += e.size_bytes
        self._clean_temporaries()
        return n, size

    def _remove(self, folder):
        """Take an entry out of the store at once (rename), then delete it; readers that hold its
        files open keep them until they close them."""
        from .._atomic import host_tag
        trash = self.root / f".trash-{folder.name}.~{os.getpid()}@{host_tag()}~{secrets.token_hex(4)}"
        try:
            os.rename(folder, trash)
        except OSError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    def _clean_temporaries(self):
        """Remove ``.tmp-``/``.trash-`` folders of processes of this host that are gone (killed runs)."""
        from .._atomic import host_tag, process_alive
        try:
            names = os.listdir(self.root)
        except OSError:
            return
        me = host_tag()
        for n in names:
            if not (n.startswith(".tmp-") or n.startswith(".trash-")) or ".~" not in n:
                continue
            tail = n.rsplit(".~", 1)[1]
            try:
                pid, rest = tail.split("@", 1)
                host = rest.rsplit("~", 1)[0]
                pid = int(pid)
            except ValueError:
                continue
            if host == me and not process_alive(pid):
                shutil.rmtree(self.root / n, ignore_errors=True)
