"""Brainsight (Rogue Research): target/sample text exports (read) and target lists (write).

Format (as SimNIBS documents it, ``docs/documentation/neuronavigation/brainsight.rst``, and reads
and writes it in ``simnibs/utils/nnav.py``; this is an independent implementation): UTF-8 text,
header lines ``# Version: 12``, ``# Coordinate system: NIfTI:Aligned``, ``# Created by: ...``,
``# Units: millimetres, degrees, milliseconds, and microvolts``, ``# Encoding: UTF-8``,
``# Notes: ...``, then tab-separated tables, each under its own header line:
``# Target Name<TAB>Loc. X<TAB>Loc. Y<TAB>Loc. Z<TAB>m0n0<TAB>m0n1<TAB>m0n2<TAB>m1n0 ... m2n2``
(planned targets) and ``# Sample Name<TAB>Session Name<TAB>Index<TAB>Assoc. Target<TAB>Loc. X ...``
(recorded samples, with more columns). The matrix is ``pose · diag(−1, 1, −1, 1)``: Brainsight's
coil x axis is the coil's −x, its z axis points out of the head; ``m0n*`` are the components of
its x axis, ``m1n*`` of y, ``m2n*`` of z and ``Loc.`` the centre (mm).

Coordinates: ``NIfTI:*`` systems (``NIfTI:Aligned``, ``NIfTI:Scanner``, ... and since
version 14 ``NIfTI:Q:*`` / ``NIfTI:S:*``) are the RAS world coordinates of the NIfTI image,
which is what tmsfield uses. ``Brainsight`` and ``World`` (DICOM) coordinates are refused:
re-export with a NIfTI coordinate system.
"""

from pathlib import Path

import numpy as np

from .._atomic import atomic_write_text
from .._version import __version__
from ..errors import InputError, NavigationFileError
from .common import NavPose, coerce_placements, from_navigator, to_navigator, unique_name

__all__ = ["BRAINSIGHT_AXES", "write_brainsight", "read_brainsight"]

#: tmsfield coil axes -> Brainsight coil axes (right factor of the pose).
BRAINSIGHT_AXES = np.diag([-1.0, 1.0, -1.0, 1.0])

_MATRIX_COLS = ["Loc. X", "Loc. Y", "Loc. Z", "m0n0", "m0n1", "m0n2", "m1n0", "m1n1", "m1n2", "m2n0", "m2n1", "m2n2"]
_UNITS = "millimetres, degrees, milliseconds, and microvolts"


def write_brainsight(placements, path, notes=(), coordinate_system="NIfTI:Aligned"):
    """Write coil placements as a Brainsight target list (text, format version 12).

    Parameters
    ----------
    placements : dict name -> pose, or sequence of (name, pose) / NavPose
        Poses as :class:`~tmsfield.CoilPose` or 4x4 arrays: columns x, y, z, centre (mm) in the
        RAS world coordinates of the NIfTI T1 the Brainsight project uses; +z into the head.
    path : str or Path
        Output ``.txt`` file (UTF-8, written atomically).
    notes : sequence of str
        Appended to the ``# Notes:`` header line (e.g. a template-space warning).
    coordinate_system : str
        The header's coordinate system (a ``NIfTI:`` system; default ``NIfTI:Aligned``).

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile, os
    >>> from tmsfield import CoilPose
    >>> p = os.path.join(tempfile.mkdtemp(), "plan.txt")
    >>> pose = CoilPose.from_axes([-45, 40, 60], [0.6, -0.4, -0.7], [0, -1, 0])
    >>> _ = write_brainsight({"optimised": pose}, p)
    >>> np.allclose(read_brainsight(p)["optimised"].matrix, pose.matrix, atol=1e-6)
    True
    """
    items = coerce_placements(placements)
    if not str(coordinate_system).lower().startswith("nifti:"):
        raise InputError(f"coordinate_system must be a NIfTI system (e.g. 'NIfTI:Aligned'); got {coordinate_system!r}")
    note = "Each column is delimited by a tab. Each value within a column is delimited by a semicolon."
    extra = " ".join(" ".join(str(n).split()) for n in (notes or ()))
    lines = ["# Version: 12", f"# Coordinate system: {coordinate_system}", f"# Created by: tmsfield {__version__}",
             f"# Units: {_UNITS}", "# Encoding: UTF-8", f"# Notes: {note}" + (f" {extra}" if extra else ""),
             "# Target Name\t" + "\t".join(_MATRIX_COLS)]
    for name, pose in items:
        m = to_navigator(pose, BRAINSIGHT_AXES, "RAS")
        vals = list(m[:3, 3]) + list(m[:3, 0]) + list(m[:3, 1]) + list(m[:3, 2])
        lines.append(name + "\t" + "\t".join(f"{v:.6f}" for v in vals))
    path = Path(path)
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def _table_pose(cells, cols, path, lineno, kind):
    where = f"{path}, line {lineno}"
    need = max(cols[c] for c in _MATRIX_COLS) + 1
    if len(cells) < need:
        raise NavigationFileError(f"{where}: {len(cells)} tab-separated values, but the table header puts "
                                  f"the pose in the first {need} columns (is the file tab-separated?)")
    vals = {}
    for c in _MATRIX_COLS:
        text = cells[cols[c]].strip()
        try:
            vals[c] = float(text)
        except ValueError:
            raise NavigationFileError(f"{where}: column {c!r} is {text!r}, not a number") from None
    m = np.eye(4)
    m[:3, 3] = [vals["Loc. X"], vals["Loc. Y"], vals["Loc. Z"]]
    for k in range(3):
        m[:3, k] = [vals[f"m{k}n0"], vals[f"m{k}n1"], vals[f"m{k}n2"]]
    name = cells[0].strip()
    return name, from_navigator(m, BRAINSIGHT_AXES, "RAS", f"{where} ({kind} {name!r})")


def read_brainsight(path):
    """Read a Brainsight text export (targets and/or samples) into tmsfield poses.

    Parameters
    ----------
    path : str or Path
        The ``.txt`` file Brainsight exports (File > Export), in a ``NIfTI:`` coordinate system.

    Returns
    -------
    dict of str -> NavPose
        Targets (kind ``"brainsight-target"``) then samples (``"brainsight-sample"``), keyed by
        name (a name used twice gets ``" #2"``...). ``info`` holds the ``line``, the
        ``coordinate_system`` and, for samples, ``session``, ``index``, ``assoc_target``.

    Raises
    ------
    NavigationFileError
        Not UTF-8, no ``# Version:`` line, a non-NIfTI coordinate system or another encoding, a
        table without the position/matrix columns, a row with too few values or a non-number,
        a matrix that is not a rigid transform, or no targets/samples at all (each message names
        the file and line).

    Examples
    --------
    >>> read_brainsight("exported_targets.txt")   # doctest: +SKIP
    {'Target 1': NavPose(name='Target 1', ...)}
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise NavigationFileError(f"cannot read Brainsight file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise NavigationFileError(f"{path}: not UTF-8 text (byte {exc.start}); export from Brainsight with "
                                  f"UTF-8 encoding") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    version = coord = None
    out, taken = {}, set()
    cols = kind = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        if line.startswith("#"):
            body = line[1:].strip()
            low = body.lower()
            if low.startswith("version:"):
                try:
                    version = int(body.split(":", 1)[1].strip())
                except ValueError:
                    raise NavigationFileError(f"{path}, line {lineno}: cannot read the version from {line!r}") from None
            elif low.startswith("coordinate system:"):
                coord = body.split(":", 1)[1].strip()
                if not coord.lower().startswith("nifti:"):
                    raise NavigationFileError(f"{path}, line {lineno}: coordinate system {coord!r} is not supported: "
                                              f"export from Brainsight in a NIfTI coordinate system (NIfTI:Aligned, "
                                              f"or NIfTI:Q:... / NIfTI:S:... since Brainsight 2.5.3), the RAS world "
                                              f"space of the NIfTI T1")
            elif low.startswith("encoding:"):
                enc = body.split(":", 1)[1].strip()
                if enc.replace("-", "").lower() != "utf8":
                    raise NavigationFileError(f"{path}, line {lineno}: encoding {enc!r} is not supported; export "
                                              f"as UTF-8")
            elif "\t" in body and body.split("\t", 1)[0].strip().lower().endswith("name") and not (
                    low.startswith("target name\t") or low.startswith("sample name\t")):
                cols, kind = None, "other"   # electrodes, landmarks, sessions ...: not coil poses, skipped
            elif low.startswith("target name\t") or low.startswith("sample name\t"):
                if version is None:
                    raise NavigationFileError(f"{path}, line {lineno}: table header before the '# Version:' line; "
                                              f"is this a Brainsight export?")
                if coord is None:
                    raise NavigationFileError(f"{path}, line {lineno}: no '# Coordinate system:' line before the "
                                              f"table; export from Brainsight in a NIfTI coordinate system")
                names = [c.strip() for c in body.split("\t")]
                cols = {c: i for i, c in enumerate(names)}
                missing = [c for c in _MATRIX_COLS if c not in cols]
                if missing:
                    raise NavigationFileError(f"{path}, line {lineno}: the table header lacks column(s) "
                                              f"{', '.join(missing)} (needs Loc. X/Y/Z and m0n0 ... m2n2, "
                                              f"tab-separated)")
                kind = "brainsight-target" if low.startswith("target") else "brainsight-sample"
            else:
                if cols is not None:
                    cols = kind = None   # a comment line ends the current table
            continue
        if cols is None and kind == "other":
            continue
        if cols is None:
            raise NavigationFileError(f"{path}, line {lineno}: a data line outside any table (expected a "
                                      f"'# Target Name' or '# Sample Name' header first)")
        cells = line.split("\t")
        name, pose = _table_pose(cells, cols, path, lineno, kind.split("-")[1])
        info = {"line": lineno, "coordinate_system": coord, "version": version}
        if kind == "brainsight-sample":
            for key, col in (("session", "Session Name"), ("index", "Index"), ("assoc_target", "Assoc. Target")):
                if col in cols and cols[col] < len(cells) and cells[cols[col]].strip() not in ("", "(null)"):
                    info[key] = cells[cols[col]].strip()
        key = unique_name(name or f"{kind.split('-')[1]}_{len(out) + 1:03d}", taken)
        out[key] = NavPose(key, pose, kind, info=info)
    if version is None:
        raise NavigationFileError(f"{path}: no '# Version:' header line; is this a Brainsight text export?")
    if not out:
        raise NavigationFileError(f"{path}: no targets or samples in the file (no rows under a '# Target Name' or "
                                  f"'# Sample Name' header)")
    return out
