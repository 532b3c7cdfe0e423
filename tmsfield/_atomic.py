"""Atomic file output: write to a temporary file beside the target, flush it to disk, rename it into place.

A reader never sees a half-written file, a failed write leaves no debris, and the file gets
the usual permissions (``0o666`` less the umask), not the private ``0o600`` of a temporary file,
so results are readable by the other tools and users that consume them.

The temporary file is ``.<name>.~<pid>@<host>~<random><suffix>`` in the target's folder, so that
a run killed by SIGKILL (which no ``finally`` survives) leaves debris that a later run can recognise
as its own kind and remove once that process is gone (:func:`remove_stale_temporaries`).

Errors of the file system a user can fix (read-only folder, permission denied, full disk, quota)
become :class:`tmsfield.errors.OutputError`, whose message names the folder and the fix.
"""

import errno
import os
import re
import secrets
import socket
from contextlib import contextmanager
from pathlib import Path

from .errors import OutputError

__all__ = ["atomic_path", "atomic_write_text", "atomic_write_bytes", "atomic_write_chunks", "output_error",
           "remove_stale_temporaries", "host_tag", "process_alive"]

_FIXABLE = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_TEMP = re.compile(r"^\.(?P<name>.+)\.~(?P<pid>\d+)@(?P<host>[A-Za-z0-9-]*)~[0-9a-f]{8}(?P<suffix>.*)$")


def host_tag():
    """This machine's host name reduced to ``[A-Za-z0-9-]`` (at most 40 characters), as used in
    temporary file names and lock files.

    Examples
    --------
    >>> set(host_tag()) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
    True
    """
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40]


def _proc_stat(pid):
    """(state, start time in clock ticks) of a Linux process from ``/proc/<pid>/stat``, or None."""
    try:
        with open(f"/proc/{int(pid)}/stat", "rb") as fh:
            text = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()
    try:
        return fields[0], int(fields[19])
    except (IndexError, ValueError):
        return None


def process_start(pid):
    """Start time of process ``pid`` (clock ticks since boot, Linux) or None when unknown.

    Stored beside the pid in lock files so that a pid reused by an unrelated process is not
    mistaken for the original owner.

    Examples
    --------
    >>> process_start(os.getpid()) is None or process_start(os.getpid()) > 0
    True
    """
    st = _proc_stat(pid)
    return None if st is None else st[1]


def process_alive(pid, start=None):
    """Whether process ``pid`` on this machine still runs (a zombie counts as gone).

    Parameters
    ----------
    pid : int
    start : int, optional
        Its start time as recorded by :func:`process_start`; a live process with another start time
        is a different process that reuses the pid (so the original is gone).

    Examples
    --------
    >>> process_alive(os.getpid())
    True
    """
    try:
        pid = int(pid)
    except (TypeError, ValueError):
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass                         # exists, belongs to another user
    except OSError:
        return False
    st = _proc_stat(pid)
    if st is None:
        return True
    if st[0] in ("Z", "X"):
        return False
    return start is None or st[1] == int(start)


def output_error(exc, path, hint="choose another output folder"):
    """A :class:`~tmsfield.errors.OutputError` for an ``OSError`` raised while writing ``path``.

    The message names the folder and the fix; ``hint`` is the alternative offered (e.g. "or give
    another folder with --out"). Errors other than permission, read-only, full disk and quota are
    returned unchanged (callers re-raise them).

    Examples
    --------
    >>> str(output_error(OSError(errno.ENOSPC, "No space left on device"), "/data/out/r.json"))[:60]
    'cannot write /data/out/r.json: no space left on the device h'
    """
    if not isinstance(exc, OSError) or exc.errno not in _FIXABLE:
        return exc
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        why = ("no space left on the device holding" if exc.errno == errno.ENOSPC else
               "disk quota exceeded (or file too large) in")
        fix = f"free some space there, or {hint} on another disk"
    elif exc.errno == errno.EROFS:
        why, fix = "read-only file system at", f"{hint} on a writable disk"
    else:
        why, fix = "permission denied in", f"make it writable (chmod u+w {folder}), or {hint}"
    return OutputError(f"cannot write {path}: {why} {folder} ({exc.strerror or exc}); {fix}. "
                       f"Files already written there are intact and nothing half-written was left")


def _temp_name(name, suffix):
    return f".{name}.~{os.getpid()}@{host_tag()}~{secrets.token_hex(4)}{suffix}"


def _create_temp(folder, name, suffix):
    """Create an empty private temporary file in ``folder`` (O_EXCL); returns its path."""
    for _ in range(100):
        tmp = os.path.join(str(folder), _temp_name(name, suffix))
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(errno.EEXIST, "no free temporary file name", str(folder))  # pragma: no cover


def _fsync_path(path, directory=False):
    try:
        fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
    except OSError:
        if directory:
            return               # some file systems do not open folders; the rename is done anyway
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not directory:
            raise
    finally:
        os.close(fd)


@contextmanager
def _atomic(path, suffix=None, fsync=True, hint="choose another output folder"):
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    suffix = suffix if suffix is not None else ("".join(path.suffixes) or ".tmp")
    try:
        tmp = _create_temp(folder, path.name, suffix)
    except OSError as exc:
        raise output_error(exc, path, hint) from None
    try:
        try:
            yield tmp
            if fsync:
                _fsync_path(tmp)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            os.replace(tmp, path)
        except OSError as exc:
            err = output_error(exc, path, hint)
            if err is exc:
                raise
            raise err from None
        _fsync_path(folder, directory=True)
    finally:
        if os.path.lexists(tmp):
            try:
                os.unlink(tmp)
            except OSError:
                pass


def atomic_path(path, suffix=None, hint="choose another output folder"):
    """Context manager yielding a temporary path beside ``path``; on success the file is flushed to
    disk and replaces ``path`` atomically; on any error (or interruption) it is removed.

    Parameters
    ----------
    path : str or Path
        Final file path (its folder must exist).
    suffix : str, optional
        Suffix of the temporary file (default: the final file's suffixes), for writers that
        pick the format from the file name.
    hint : str
        The alternative offered in an :class:`~tmsfield.errors.OutputError` message.

    Raises
    ------
    OutputError
        The folder is read-only or not writable, or the disk is full.

    Examples
    --------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> with atomic_path(os.path.join(d, "a.txt")) as tmp:
    ...     _ = open(tmp, "w").write("x")
    >>> os.listdir(d)
    ['a.txt']
    """
    return _atomic(path, suffix=suffix, hint=hint)


def _write_fd(fd, data):
    """Write all of ``data`` to the file descriptor (the one place file contents are written;
    tests replace it to simulate a full disk)."""
    view = memoryview(data).cast("B")
    while view.nbytes:
        n = os.write(fd, view)
        view = view[n:]


def atomic_write_chunks(path, chunks, hint="choose another output folder"):
    """Write the bytes-like objects of ``chunks`` one after the other to ``path``, atomically and
    flushed to disk before the rename (large payloads need not be joined in memory first).

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "c.bin")
    >>> _ = atomic_write_chunks(p, [b"a", memoryview(b"bc")])
    >>> open(p, "rb").read()
    b'abc'
    """
    with _atomic(path, fsync=False, hint=hint) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC)
        try:
            for c in chunks:
                _write_fd(fd, c)
            os.fsync(fd)
        finally:
            os.close(fd)
    return Path(path)


def atomic_write_bytes(path, data, hint="choose another output folder"):
    """Write ``data`` (bytes) to ``path`` atomically, flushed to disk before the rename.

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "b.bin")
    >>> atomic_write_bytes(p, b"ok") == Path(p)
    True
    """
    return atomic_write_chunks(path, [data], hint=hint)


def atomic_write_text(path, text, encoding="utf-8", hint="choose another output folder"):
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write_bytes`).

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "t.txt")
    >>> _ = atomic_write_text(p, "hello")
    >>> open(p).read()
    'hello'
    """
    return atomic_write_bytes(path, text.encode(encoding), hint=hint)


def remove_stale_temporaries(folder):
    """Remove the temporary files of :func:`atomic_path` in ``folder`` whose writer (a process on this
    machine) is gone — what a run killed by SIGKILL leaves behind. Returns the removed paths.

    Temporary files of live processes and of other machines are left alone.

    Examples
    --------
    >>> import tempfile
    >>> remove_stale_temporaries(tempfile.mkdtemp())
    []
    """
    removed = []
    me = host_tag()
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        m = _TEMP.match(name)
        if m is None or m.group("host") != me or process_alive(int(m.group("pid"))):
            continue
        p = Path(folder) / name
        try:
            p.unlink()
            removed.append(p)
        except FileNotFoundError:
            pass
        except OSError:
            pass                     # read-only folder: nothing to do about it here
    return removed
