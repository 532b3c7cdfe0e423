"""Atomic file output: write to a temporary file beside the target, then rename it into place.

A reader never sees a half-written file, a failed write leaves no debris, and the file gets
the usual permissions (``0o666`` less the umask), not ``mkstemp``'s private ``0o600``, so
results are readable by the other tools and users that consume them.
"""

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_text", "atomic_write_bytes"]


@contextmanager
def atomic_path(path, suffix=None):
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    Parameters
    ----------
    path : str or Path
        Final file path (its folder must exist).
    suffix : str, optional
        Suffix of the temporary file (default: the final file's suffixes), for writers that
        pick the format from the file name.

    Examples
    --------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> with atomic_path(os.path.join(d, "a.txt")) as tmp:
    ...     _ = open(tmp, "w").write("x")
    >>> os.listdir(d)
    ['a.txt']
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    suffix = suffix if suffix is not None else ("".join(path.suffixes) or ".tmp")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=str(folder))
    os.close(fd)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_bytes(path, data):
    """Write ``data`` (bytes) to ``path`` atomically, flushed to disk before the rename.

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "b.bin")
    >>> atomic_write_bytes(p, b"ok") == Path(p)
    True
    """
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    return Path(path)


def atomic_write_text(path, text, encoding="utf-8"):
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write_bytes`).

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "t.txt")
    >>> _ = atomic_write_text(p, "hello")
    >>> open(p).read()
    'hello'
    """
    return atomic_write_bytes(path, text.encode(encoding))
