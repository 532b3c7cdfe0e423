"""SimNIBS ``.ccd`` dipole coil files: read and write.

Layout (SimNIBS; see ../shared/simnibs/PROVENANCE.md):

1. a header line starting with ``#``, optionally followed by ``;``-separated ``key=value``
   pairs, e.g. ``# MCFB65.ccd version 1.0 number of elements; dIdtmax=147.86;brand=MagVenture;``
   (``dIdtmax`` in A/µs becomes :attr:`Coil.max_didt_a_per_us`; the other keys are kept in
   :attr:`Coil.metadata` and written back),
2. the number of dipoles,
3. a comment line,
4. one row per dipole: ``x y z mx my mz`` — position in **metres**, moment in A·m² per
   ampere.

tmsfield coils are in mm. To make the round trip lossless the metre <-> mm conversion is done
on the *decimal text* (``decimal.Decimal.scaleb``, exact), not by a floating-point multiply:
writing prints ``repr(mm)`` with the decimal point moved three places, reading moves it back
and rounds once. So ``read_ccd(write_ccd(coil))`` reproduces the coil's arrays bit for bit,
and a file read and written again differs by at most 1 ulp in a position (the metre and mm
doubles are different grids); moments are printed with ``repr`` and round-trip exactly.
"""

from decimal import Decimal, DecimalException
from pathlib import Path

import numpy as np

from .coil import Coil
from .._atomic import atomic_write_text
from ..errors import CoilFileError, CoilError, TmsfieldError

__all__ = ["read_ccd", "write_ccd"]

_COMMENT = "# centers and weighted directions of the elements (magnetic dipoles)"


def _parse_header(line, path):
    if not line.startswith("#"):
        raise CoilFileError(f"{path}, line 1: a .ccd file must start with a '#' header line; got {line[:60]!r}")
    parts = line[1:].split(";")
    title = parts[0].strip()
    meta = {}
    for p in parts[1:]:
        p = p.strip()
        if not p:
            continue
        if "=" not in p:
            raise CoilFileError(f"{path}, line 1: header entry {p!r} is not of the form key=value")
        k, v = p.split("=", 1)
        meta[k.strip()] = v.strip()
    return title, meta


def read_ccd(path, name=None):
    """Read a SimNIBS ``.ccd`` dipole coil.

    Parameters
    ----------
    path : str or Path
    name : str, optional
        Coil name (default: the file stem).

    Returns
    -------
    Coil
        Dipole coil, positions in mm, moments in A·m² per A.

    Raises
    ------
    CoilFileError
        Missing file, bad header, wrong count, or a row that is not six finite numbers; the
        message names the file and line.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "one.ccd"
    >>> _ = p.write_text("# one dipole; dIdtmax=100\\n1\\n# comment\\n0 0 -0.01 0 0 1e-3\\n")
    >>> c = read_ccd(p)
    >>> c.dipole_positions_mm[0, 2], c.max_didt_a_per_us
    (np.float64(-10.0), 100.0)
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CoilFileError(f"cannot read coil file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CoilFileError(f"{path} is not a text .ccd file (not valid UTF-8)") from None
    if len(lines) < 3:
        raise CoilFileError(f"{path}: a .ccd file needs a header, a count and a comment line; it has {len(lines)} line(s)")
    title, meta = _parse_header(lines[0], path)
    try:
        n = int(lines[1].strip())
    except ValueError:
        raise CoilFileError(f"{path}, line 2: expected the number of dipoles, got {lines[1][:60]!r}") from None
    if n <= 0:
        raise CoilFileError(f"{path}, line 2: the number of dipoles must be positive, got {n}")
    rows = [(i + 4, ln) for i, ln in enumerate(lines[3:]) if ln.strip()]
    if len(rows) != n:
        raise CoilFileError(f"{path}: line 2 announces {n} dipoles but {len(rows)} data rows follow (from line 4)")
    data = np.empty((n, 6))
    for k, (lineno, ln) in enumerate(rows):
        fields = ln.split()
        if len(fields) != 6:
            raise CoilFileError(f"{path}, line {lineno}: expected 6 numbers 'x y z mx my mz', got {len(fields)}")
        try:
            data[k] = [float(Decimal(f).scaleb(3)) for f in fields[:3]] + [float(f) for f in fields[3:]]
        except (ValueError, DecimalException):        # DecimalException: exponent beyond Decimal's range
            raise CoilFileError(f"{path}, line {lineno}: not a number in {ln.strip()[:80]!r}") from None
        if not np.all(np.isfinite(data[k])):
            raise CoilFileError(f"{path}, line {lineno}: NaN or inf in {ln.strip()[:80]!r}")
    didt = None
    if "dIdtmax" in meta:
        try:
            didt = float(meta.pop("dIdtmax"))
        except ValueError:
            raise CoilFileError(f"{path}, line 1: dIdtmax must be a number (A/µs)") from None
        if not (np.isfinite(didt) and didt > 0):
            raise CoilFileError(f"{path}, line 1: dIdtmax must be positive (A/µs), got {didt}")
    try:
        return Coil.from_dipoles(data[:, :3], data[:, 3:], name=name or path.stem,
                                 max_didt_a_per_us=didt, metadata=meta,
                                 description=f"SimNIBS .ccd dipole coil read from {path.name}: {title}")
    except TmsfieldError as exc:            # CoilError, or InputError from the array checks
        raise CoilFileError(f"{path}: {exc}") from None


def write_ccd(coil, path):
    """Write a dipole coil as a SimNIBS ``.ccd`` file (atomic: temp file + rename).

    Parameters
    ----------
    coil : Coil
        Must have dipoles and no wire segments (convert wire coils with
        :func:`tmsfield.coils.dipole_equivalent` first).
    path : str or Path

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile, pathlib
    >>> c = Coil.from_dipoles([[0, 0, -10.0]], [[0, 0, 1e-3]], max_didt_a_per_us=120.0)
    >>> p = write_ccd(c, pathlib.Path(tempfile.mkdtemp()) / "c.ccd")
    >>> np.array_equal(read_ccd(p).dipole_moments, c.dipole_moments)
    True
    """
    path = Path(path)
    from .coil import _refuse_sampled_grids

    _refuse_sampled_grids(coil, "write_ccd()")
    if coil.n_segments:
        raise CoilError(f"coil {coil.name!r} has {coil.n_segments} wire segments; a .ccd holds only dipoles. "
                        f"Convert it first: tmsfield.coils.dipole_equivalent(coil).")
    meta = dict(coil.metadata)
    if coil.max_didt_a_per_us is not None:
        meta = {"dIdtmax": repr(float(coil.max_didt_a_per_us)), **meta}
    for k, v in meta.items():
        if any(c in k + v for c in ";=\n"):
            raise CoilError(f"metadata {k!r}={v!r} contains ';', '=' or a newline and cannot go in a .ccd header")
    from .._outputs import require_finite
    require_finite(np.asarray(coil.dipole_positions_mm, float), f"coil {coil.name!r} dipole position (mm)", path)
    require_finite(np.asarray(coil.dipole_moments, float), f"coil {coil.name!r} dipole moment", path)
    require_finite(float(coil.max_didt_a_per_us or 0.0), f"coil {coil.name!r} dIdtmax", path)
    header = f"# {coil.name}.ccd version 1.0 number of elements"
    if meta:
        header += "; " + ";".join(f"{k}={v}" for k, v in meta.items()) + ";"
    body = "\n".join(
        " ".join([str(Decimal(repr(float(v))).scaleb(-3)) for v in p] + [repr(float(v)) for v in m])
        for p, m in zip(coil.dipole_positions_mm, coil.dipole_moments))
    text = f"{header}\n{coil.n_dipoles}\n{_COMMENT}\n{body}\n"
    atomic_write_text(path, text)
    return path
