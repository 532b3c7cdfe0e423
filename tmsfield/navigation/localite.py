"""Localite TMS Navigator: InstrumentMarker lists (write, read) and TriggerMarker lists (read).

Format (as SimNIBS documents it, ``docs/documentation/neuronavigation/localite.rst``, and reads
and writes it in ``simnibs/utils/nnav.py``; this is an independent implementation):

* ``<InstrumentMarkerList coordinateSpace="RAS">`` (``"LPS"`` for DICOM-based sessions: x and y
  negated), with ``<InstrumentMarker ...><Marker description="NAME" ...><Matrix4D data00=".."
  ... data33=".."/></Marker></InstrumentMarker>`` per marker;
* ``<TriggerMarkerList coordinateSpace="RAS" ...>`` with one ``<TriggerMarker
  recordingTime="ms" ...>`` per pulse: ``<ResponseValues><Value key="valueA" response="dI/dt in
  A/µs"/><Value key="amplitudeA" response="output in %"/>...</ResponseValues>`` and its
  ``<Matrix4D .../>``. Untracked pulses carry the identity matrix (skipped, with a warning);
* the matrix is ``pose · F`` with ``F = [[0,0,1,0],[0,−1,0,0],[1,0,0,0],[0,0,0,1]]``: Localite's
  x axis is the coil's +z (into the head), its y is −y, its z is x.
"""

import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np

from .._atomic import atomic_write_text
from .._version import __version__
from ..errors import InputError, NavigationFileError
from .common import NavPose, coerce_placements, from_navigator, to_navigator, unique_name, warn

__all__ = ["LOCALITE_AXES", "write_localite", "read_localite"]

#: tmsfield coil axes -> Localite coil axes (right factor of the pose).
LOCALITE_AXES = np.array([[0.0, 0.0, 1.0, 0.0],
                          [0.0, -1.0, 0.0, 0.0],
                          [1.0, 0.0, 0.0, 0.0],
                          [0.0, 0.0, 0.0, 1.0]])

_KEYS = [f"data{i}{j}" for i in range(4) for j in range(4)]


def _num(x):
    """Shortest text that reads back to the same float64."""
    return repr(float(x))


def write_localite(placements, path, space="RAS", notes=()):
    """Write coil placements as a Localite TMS Navigator InstrumentMarker list (XML).

    Parameters
    ----------
    placements : dict name -> pose, or sequence of (name, pose) / NavPose
        Poses as :class:`~tmsfield.CoilPose` or 4x4 arrays: columns x, y, z, centre (mm) in the
        RAS coordinates of the T1 the navigator loads; +z into the head.
    path : str or Path
        Output ``.xml`` file (written atomically).
    space : {"RAS", "LPS"}
        The navigator session's world space: ``"RAS"`` for NIfTI images, ``"LPS"`` for DICOM
        (x and y negated).
    notes : sequence of str
        Lines written as XML comments at the top (e.g. a template-space warning).

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile, os
    >>> from tmsfield import CoilPose
    >>> p = os.path.join(tempfile.mkdtemp(), "plan.xml")
    >>> pose = CoilPose.from_axes([-45, 40, 60], [0.6, -0.4, -0.7], [0, -1, 0])
    >>> _ = write_localite({"optimised": pose}, p)
    >>> np.allclose(read_localite(p)["optimised"].matrix, pose.matrix)
    True
    """
    items = coerce_placements(placements)
    space = str(space).upper()
    if space not in ("RAS", "LPS"):
        raise InputError(f"space must be 'RAS' (NIfTI images) or 'LPS' (DICOM images); got {space!r}")
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<InstrumentMarkerList coordinateSpace="{space}">',
             f"    <!--Written by tmsfield {__version__}. Coordinates: {space} world space of the T1 image the "
             f"navigator loaded, mm.-->"]
    for note in notes or ():
        lines.append("    <!--" + str(note).replace("--", "- -") + "-->")
    for idx, (name, pose) in enumerate(items):
        m = to_navigator(pose, LOCALITE_AXES, space)
        lines.append(f'    <InstrumentMarker alwaysVisible="false" index="{idx}" selected="false">')
        lines.append(f'        <Marker additionalInformation="" color="#ff0000" description={quoteattr(name)} '
                     f'set="true">')
        rows = []
        for i in range(4):
            vals = [0.0, 0.0, 0.0, 1.0] if i == 3 else m[i]
            rows.append(" ".join(f'data{i}{j}="{_num(v)}"' for j, v in enumerate(vals)))
        lines.append("            <Matrix4D " + ("\n" + " " * 22).join(rows) + "/>")
        lines.append("        </Marker>")
        lines.append("    </InstrumentMarker>")
    lines.append("</InstrumentMarkerList>")
    path = Path(path)
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def _matrix(el, where):
    m4 = el.find("Matrix4D")
    if m4 is None:
        raise NavigationFileError(f"{where}: no <Matrix4D> element")
    vals = []
    for k in _KEYS:
        v = m4.get(k)
        if v is None:
            raise NavigationFileError(f"{where}: <Matrix4D> lacks attribute {k!r} (needs data00 ... data33)")
        try:
            vals.append(float(v))
        except ValueError:
            raise NavigationFileError(f"{where}: <Matrix4D> {k}={v!r} is not a number") from None
    return np.array(vals).reshape(4, 4)


def _response(el, key):
    """Float value of ``<ResponseValues><Value key=KEY response=..>``, None when absent/NaN/0."""
    rv = el.find("ResponseValues")
    if rv is None:
        return None
    for v in rv.findall("Value"):
        if v.get("key") == key:
            try:
                x = float(v.get("response"))
            except (TypeError, ValueError):
                return None
            return x if math.isfinite(x) and x > 0 else None
    return None


def _element_lines(text, tag):
    """1-based line of each opening ``<tag`` in the text (for messages)."""
    return [text.count("\n", 0, m.start()) + 1 for m in re.finditer(rf"<{tag}[\s>/]", text)]


def read_localite(path):
    """Read a Localite InstrumentMarker or TriggerMarker list into tmsfield poses.

    Parameters
    ----------
    path : str or Path
        ``InstrumentMarker*.xml`` (planned / saved markers) or ``TriggerMarkers_Coil*_*.xml``
        (one marker per recorded pulse); the kind is read from the root element.

    Returns
    -------
    dict of str -> NavPose
        In file order. Instrument markers are keyed by their ``description`` (duplicates get
        ``" #2"``...); trigger markers by ``description`` or ``trigger_NNN``, with the
        recorded ``didt_a_per_us`` (``valueA``, A/µs) and ``percent_output`` (``amplitudeA``,
        %) where recorded, and ``info["recording_time_ms"]``. Poses are RAS (an LPS file is
        converted) in the tmsfield coil frame.

    Raises
    ------
    NavigationFileError
        Unreadable or malformed XML (with its line), an unknown root element or coordinate space,
        a missing or non-numeric matrix entry, or a matrix that is not a rigid transform (the
        message names the marker, its line and its description).

    Warns
    -----
    NavigationWarning
        For trigger markers of untracked pulses (identity matrix), which are skipped.

    Examples
    --------
    >>> read_localite("InstrumentMarker20240101120000000.xml")   # doctest: +SKIP
    {'M1': NavPose(name='M1', ...)}
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise NavigationFileError(f"cannot read Localite file {path}: {exc.strerror or exc}") from None
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else "?"
        raise NavigationFileError(f"{path}, line {line}: not well-formed XML ({exc}); is this a Localite "
                                  f"InstrumentMarker/TriggerMarker file?") from None
    text = raw.decode("utf-8", errors="replace")
    if root.tag == "InstrumentMarkerList":
        tag, kind = "InstrumentMarker", "localite-instrument"
    elif root.tag == "TriggerMarkerList":
        tag, kind = "TriggerMarker", "localite-trigger"
    else:
        raise NavigationFileError(f"{path}: root element <{root.tag}> is not <InstrumentMarkerList> or "
                                  f"<TriggerMarkerList>; export InstrumentMarkers or TriggerMarkers from TMS Navigator")
    space = root.get("coordinateSpace")
    if space is None or space.upper() not in ("RAS", "LPS"):
        raise NavigationFileError(f"{path}: <{root.tag}> has coordinateSpace={space!r}; expected 'RAS' or 'LPS' "
                                  f"(the session's image world space)")
    space = space.upper()
    lines = _element_lines(text, tag)
    out, taken, skipped = {}, set(), 0
    for i, el in enumerate(root.iter(tag)):
        line = lines[i] if i < len(lines) else "?"
        if kind == "localite-instrument":
            marker = el.find("Marker")
            if marker is None:
                raise NavigationFileError(f"{path}, line {line}: <InstrumentMarker> #{i + 1} has no <Marker> element")
            desc = (marker.get("description") or "").strip()
            where = f"{path}, line {line}: <InstrumentMarker> #{i + 1} ({desc or 'no description'})"
            m = _matrix(marker, where)
            name = desc or f"marker_{i + 1:03d}"
            didt = pct = None
            info = {"line": line, "index": i, "coordinate_space": space}
        else:
            desc = (el.get("description") or "").strip()
            where = f"{path}, line {line}: <TriggerMarker> #{i + 1}"
            m = _matrix(el, where)
            if np.allclose(m, np.eye(4)) or np.allclose(m[:3, :3], 0.0):
                skipped += 1
                continue
            name = desc or f"trigger_{i + 1:03d}"
            didt, pct = _response(el, "valueA"), _response(el, "amplitudeA")
            info = {"line": line, "index": i, "coordinate_space": space}
            try:
                info["recording_time_ms"] = float(el.get("recordingTime"))
            except (TypeError, ValueError):
                pass
        pose = from_navigator(m, LOCALITE_AXES, space, where)
        name = unique_name(name, taken)
        out[name] = NavPose(name, pose, kind, didt_a_per_us=didt, percent_output=pct, info=info)
    if skipped:
        warn(f"{path}: skipped {skipped} trigger marker(s) of untracked pulses (identity matrix)")
    if not out:
        raise NavigationFileError(f"{path}: no {'tracked ' if skipped else ''}<{tag}> with a pose in the file")
    return out
