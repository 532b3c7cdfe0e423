"""Claims on work items shared by several processes: a lock file per item, created with ``O_EXCL``.

A claim is a small JSON file ``{"pid", "host", "start", "time"}`` created with ``O_CREAT | O_EXCL``,
so exactly one process gets it; its owner removes it when the item is done. A claim whose owner
is gone (a run killed by SIGKILL: same host, pid no longer running or reused by another process)
is *stale* and is taken over. The take-over re-reads the file under an exclusive ``flock`` of the
folder (released by the kernel even if its holder is killed), so two processes that both found the
same stale claim cannot both take it, and a fresh claim is never removed by mistake. Claims of
another host cannot be checked and are respected; the message says which file to delete if that
run is known to be dead. Linux/POSIX local file systems; on NFS ``O_EXCL`` holds but ``flock`` may
be advisory only per client.
"""

import json
import os
import time
from contextlib import contextmanager
from pathlib import Path

from . import _atomic
from ._atomic import host_tag, output_error, process_alive, process_start

__all__ = ["Claim", "try_claim", "folder_lock", "describe_owner"]

EMPTY_GRACE_S = 30.0     # an unreadable claim younger than this may be one being written: respected


@contextmanager
def folder_lock(folder):
    """Hold an exclusive ``flock`` on ``folder`` itself (no extra file) for the ``with`` block.

    Examples
    --------
    >>> import tempfile
    >>> with folder_lock(tempfile.mkdtemp()):
    ...     pass
    """
    try:
        import fcntl
    except ImportError:            # pragma: no cover - not POSIX: claims still exclusive through O_EXCL
        yield
        return
    fd = os.open(str(folder), os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)               # closing releases the lock


def _owner_record():
    pid = os.getpid()
    return {"pid": pid, "host": host_tag(), "start": process_start(pid),
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def _read(path):
    """Raw bytes of the claim file, or None when it is gone."""
    try:
        with open(path, "rb") as fh:
            return fh.read(4096)
    except FileNotFoundError:
        return None
    except OSError:
        return b""


def _parse(raw):
    try:
        d = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return d if isinstance(d, dict) and isinstance(d.get("pid"), int) else None


def describe_owner(owner, path):
    """One line saying who holds a claim and what to do if that run is dead."""
    if not owner:
        return f"claimed ({path} is being written)"
    return (f"claimed by pid {owner.get('pid')} on {owner.get('host')} since {owner.get('time')} "
            f"(if that run is dead, delete {path})")


def _stale(raw, owner, path):
    """Whether a claim can be taken over: its owner is a process of this host that is gone."""
    if owner is None:              # empty or garbled: stale once older than the grace period
        try:
            age = time.time() - os.stat(path).st_mtime
        except OSError:
            return False
        return age > EMPTY_GRACE_S
    if owner.get("host") != host_tag():
        return False
    if owner["pid"] == os.getpid() and owner.get("start") in (None, process_start(os.getpid())):
        return False               # our own claim (another item of this run, or this item twice)
    return not process_alive(owner["pid"], owner.get("start"))


class Claim:
    """A claim held by this process; :meth:`release` removes it (only if it is still ours)."""

    def __init__(self, path, record, took_over=None):
        self.path, self.record, self.took_over = Path(path), record, took_over

    def release(self):
        """Remove the claim file if it still holds this process's record; idempotent."""
        if self.record is None:
            return
        try:
            with folder_lock(self.path.parent):
                raw = _read(self.path)
                if raw is not None and _parse(raw) == self.record:
                    os.unlink(self.path)
        except OSError:
            pass                   # gone already, or a folder turned read-only: a later run takes it over
        self.record = None


def try_claim(path, attempts=5):
    """Claim the item of lock file ``path``; returns a :class:`Claim`, or the owner dict (possibly
    empty) of a claim held by a live (or unknown) process.

    Raises
    ------
    OutputError
        The folder is read-only or full (the claim cannot be created).

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "row.lock")
    >>> c = try_claim(p)
    >>> isinstance(c, Claim), try_claim(p)["pid"] == os.getpid()
    (True, True)
    >>> c.release(); os.path.exists(p)
    False
    """
    path = Path(path)
    took_over = None
    owner = {}
    for _ in range(attempts):
        record = _owner_record()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raw = _read(path)
            if raw is None:
                continue                       # released meanwhile: try again
            owner = _parse(raw) or {}
            if not _stale(raw, _parse(raw), path):
                return owner
            with folder_lock(path.parent):     # take over: only if it is still that same stale claim
                if _read(path) == raw:
                    try:
                        os.unlink(path)
                        took_over = owner
                    except FileNotFoundError:
                        pass
            continue
        except OSError as exc:
            err = output_error(exc, path, "give another folder with --out")
            if err is exc:
                raise
            raise err from None
        try:
            _atomic._write_fd(fd, json.dumps(record).encode())
            os.fsync(fd)
        except OSError as exc:
            os.close(fd)
            try:
                os.unlink(path)
            except OSError:
                pass
            err = output_error(exc, path, "give another folder with --out")
            if err is exc:
                raise
            raise err from None
        os.close(fd)
        return Claim(path, record, took_over)
    return owner
