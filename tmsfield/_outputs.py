"""Output checks made *before* the work: paths that can be written, values that are finite.

Commands call :func:`output_file` / :func:`output_folder` on their output paths before loading a
head or building a solver, so that a typo in ``--out`` costs nothing instead of minutes of
computation; writers call :func:`require_finite` so that no NaN or infinity is ever saved.
"""

import os
from pathlib import Path

import numpy as np

from ._atomic import _create_temp, output_error
from .errors import NonFiniteError, OutputError

__all__ = ["output_file", "output_folder", "require_finite"]


def _probe(folder, option):
    """Create and remove a temporary file in ``folder``: the only reliable writability test (as root,
    ``os.access`` says yes on a read-only mount)."""
    try:
        tmp = _create_temp(folder, "tmsfield-write-test", ".tmp")
        os.unlink(tmp)
    except OSError as exc:
        err = output_error(exc, Path(folder) / "x", f"give another folder with {option}")
        if err is exc:
            err = OutputError(f"{option}: cannot write into {folder} ({exc.strerror or exc}); "
                              f"give another folder with {option}")
        raise err from None


def output_file(path, default_name=None, option="--out", create_parent=False):
    """Check an output file path up front and return the path that will be written.

    Parameters
    ----------
    path : str or Path
        The file the user asked for. An existing folder (or a path ending in ``/``) means
        ``<folder>/<default_name>``.
    default_name : str, optional
        File name used inside a folder; without it a folder is refused.
    option : str
        The command-line option that gave the path (named in messages).
    create_parent : bool
        Create a missing parent folder (for default output folders); otherwise a missing folder is
        refused with the fix.

    Returns
    -------
    Path

    Raises
    ------
    OutputError
        The folder is missing, is a file, is read-only or full; the message names it and the fix.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> output_file(d, "fox.json").name
    'fox.json'
    >>> output_file(d + "/missing/x.json")   # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    tmsfield.errors.OutputError: --out .../missing/x.json: the folder .../missing does not exist
    """
    text = str(path)
    if "\x00" in text:
        raise OutputError(f"{option} {text!r}: a path cannot contain a NUL character")
    p = Path(path).expanduser()
    if p.is_dir() or text.endswith(("/", os.sep)):
        if not p.is_dir():
            raise OutputError(f"{option} {text}: the folder {p} does not exist; create it first (mkdir -p {p}) "
                              f"or give an existing folder")
        if default_name is None:
            raise OutputError(f"{option} {text} is a folder; give a file name")
        p = p / default_name
    if p.is_dir():
        raise OutputError(f"{option} {text}: {p} is a folder; give a file name or another folder")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.exists():
        if create_parent:
            output_folder(folder, option, create=True, create_parents=True)
        else:
            raise OutputError(f"{option} {text}: the folder {folder} does not exist; create it first "
                              f"(mkdir -p {folder}) or give a path in an existing folder")
    if not folder.is_dir():
        raise OutputError(f"{option} {text}: {folder} is a file, not a folder; give a path in a folder")
    _probe(folder, option)
    return p


def output_folder(path, option="--out", create=True, create_parents=False):
    """Check (and create) an output folder up front; return it as a Path.

    Parameters
    ----------
    path : str or Path
    option : str
        The command-line option that gave it (named in messages).
    create : bool
        Create the folder when missing (its parent must exist unless ``create_parents``).
    create_parents : bool
        Also create missing parents (for default folders the user did not type).

    Raises
    ------
    OutputError
        Parent missing, a file in the way, or the folder cannot be written (read-only, full disk).

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> output_folder(os.path.join(d, "res")).is_dir()
    True
    """
    text = str(path)
    if "\x00" in text:
        raise OutputError(f"{option} {text!r}: a path cannot contain a NUL character")
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise OutputError(f"{option} {text} is a file, not a folder; give a folder (it is created if missing)")
    if not p.exists():
        parent = p.parent if str(p.parent) else Path(".")
        if not create:
            raise OutputError(f"{option} {text}: the folder does not exist; create it first (mkdir -p {p})")
        if not create_parents and not parent.is_dir():
            raise OutputError(f"{option} {text}: its parent folder {parent} does not exist; create it first "
                              f"(mkdir -p {parent}) or give another folder")
        try:
            p.mkdir(parents=create_parents, exist_ok=True)
        except OSError as exc:
            err = output_error(exc, p, f"give another folder with {option}")
            if err is exc:
                err = OutputError(f"{option} {text}: cannot create the folder ({exc.strerror or exc}); "
                                  f"give another folder")
            raise err from None
    _probe(p, option)
    return p


def _first_bad(value, key):
    """(key path, value) of the first NaN/inf in nested dicts/lists/arrays/numbers, or None."""
    if isinstance(value, dict):
        for k, v in value.items():
            bad = _first_bad(v, f"{key}.{k}" if key else str(k))
            if bad:
                return bad
        return None
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            bad = _first_bad(v, f"{key}[{i}]")
            if bad:
                return bad
        return None
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "fc":
            bad = ~np.isfinite(value)
            if bad.any():
                idx = tuple(int(i) for i in np.argwhere(bad)[0])
                return f"{key}[{', '.join(map(str, idx))}]" if idx else key, value[idx] if idx else value.item()
        elif value.dtype == object:
            return _first_bad(value.tolist(), key)
        return None
    if isinstance(value, (float, np.floating, complex, np.complexfloating)) and not np.isfinite(value):
        return key, value
    return None


def require_finite(value, what, where):
    """Raise :class:`~tmsfield.errors.NonFiniteError` if ``value`` holds NaN or infinity.

    Parameters
    ----------
    value : number, array, or nested dict/list of them
    what : str
        What the value is (e.g. "the E-field overlay"), named in the message with the key path or
        index of the first bad entry.
    where : str or Path
        The file that was about to be written.

    Examples
    --------
    >>> require_finite({"a": [1.0, 2.0]}, "result", "r.json")
    >>> require_finite({"a": [1.0, float("nan")]}, "result", "r.json")
    Traceback (most recent call last):
    ...
    tmsfield.errors.NonFiniteError: refusing to write r.json: result a[1] is nan (not a finite number); nothing was written. This is a bug or a degenerate input: please report it with the command that produced it
    """
    bad = _first_bad(value, "")
    if bad is None:
        return
    key, v = bad
    label = f"{what} {key}" if key else what
    v = v.item() if hasattr(v, "item") else v
    raise NonFiniteError(f"refusing to write {where}: {label} is {v} (not a finite number); nothing was written. "
                         f"This is a bug or a degenerate input: please report it with the command that produced it")
