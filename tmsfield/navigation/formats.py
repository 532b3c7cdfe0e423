"""Format detection, result export, pose files (``tmsfield-poses/1``) and ``FILE[:NAME]`` look-up."""

import datetime as _dt
import json
from pathlib import Path

import numpy as np

from .._atomic import atomic_write_text
from .._version import __version__
from ..errors import InputError, NavigationFileError, PoseError
from ..pose import CoilPose
from .brainsight import read_brainsight, write_brainsight
from .common import NavPose, is_template_head, template_warning, unique_name, warn
from .localite import read_localite, write_localite

__all__ = ["FORMATS", "POSES_SCHEMA", "detect_format", "placements_from_result", "export_placements",
           "import_poses", "write_poses_json", "read_poses_json", "resolve_pose", "split_pose_spec"]

FORMATS = ("localite", "brainsight")
POSES_SCHEMA = "tmsfield-poses/1"
_PLACEMENT_SCHEMA = "tmsfield-placement/1"


def detect_format(path):
    """Which kind of pose file ``path`` is, from its content.

    Returns
    -------
    str
        ``"localite"`` (XML InstrumentMarker/TriggerMarker list), ``"brainsight"`` (text with a
        ``# Version:`` header), ``"poses"`` (``tmsfield-poses/1`` JSON) or ``"result"``
        (``tmsfield-placement/1`` JSON).

    Raises
    ------
    NavigationFileError
        Missing file, or none of these formats.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.txt")
    >>> _ = open(p, "w").write("# Version: 12\\n")
    >>> detect_format(p)
    'brainsight'
    """
    path = Path(path)
    try:
        head = path.read_bytes()[:4096]
    except OSError as exc:
        raise NavigationFileError(f"cannot read pose file {path}: {exc.strerror or exc}") from None
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if text.startswith("<"):
        if "InstrumentMarkerList" in text or "TriggerMarkerList" in text:
            return "localite"
        raise NavigationFileError(f"{path}: an XML file, but not a Localite InstrumentMarkerList or "
                                  f"TriggerMarkerList")
    if text.startswith("#") and "# version:" in text.lower()[:2000]:
        return "brainsight"
    if text.startswith("{"):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise NavigationFileError(f"{path}: looks like JSON but cannot be parsed ({exc})") from None
        schema = doc.get("schema") if isinstance(doc, dict) else None
        if schema == POSES_SCHEMA:
            return "poses"
        if schema == _PLACEMENT_SCHEMA:
            return "result"
        raise NavigationFileError(f"{path}: JSON with schema {schema!r}; expected {POSES_SCHEMA!r} (from "
                                  f"`tmsfield import`) or {_PLACEMENT_SCHEMA!r} (from `tmsfield target`)")
    raise NavigationFileError(f"{path}: not a Localite XML, Brainsight text, or tmsfield pose/result JSON file")


def placements_from_result(result):
    """Every placement of a ``tmsfield-placement/1`` result: its own, then each heuristic's.

    Parameters
    ----------
    result : dict, str or Path
        The result (or its JSON file) written by ``tmsfield target``.

    Returns
    -------
    placements : list of NavPose
        Named after the method (``"optimised"``, ``"eeg_f3"``, ``"beam_f3"``, ``"rule_5p5cm"``,
        or the pose name of a ``manual`` result), with ``info`` holding the target name and
        the E-field at the target per A/µs. Heuristics that failed are left out.
    notes : list of str
        Lines for the file's notes: what the plan is, and the template warning when the head
        is the MNI152 template.

    Examples
    --------
    >>> placements_from_result({"schema": "x"})
    Traceback (most recent call last):
    ...
    tmsfield.errors.InputError: result: schema is 'x', expected 'tmsfield-placement/1'
    """
    from ..targets.results import read_result, validate_result

    if isinstance(result, (str, Path)):
        res = read_result(result)
        where = str(result)
    else:
        res = validate_result(dict(result))
        where = "result"
    target = res["target"].get("name", "?")
    head = res["head"].get("name") or res["head"].get("source")
    taken = set()
    main_name = res["method"]
    if main_name == "manual":
        main_name = str((res.get("settings") or {}).get("pose_source", {}).get("name") or "manual")
    out = []

    def add(name, pose, value, method):
        try:
            p = CoilPose(pose)
        except PoseError as exc:
            raise InputError(f"{where}: placement {name!r}: {exc}") from None
        name = unique_name(name, taken)
        out.append(NavPose(name, p, "tmsfield", info={"target": target, "method": method,
                                                       "efield_at_target_v_per_m_per_a_per_us": value}))

    add(main_name, res["pose"], res["efield_at_target_v_per_m_per_a_per_us"], res["method"])
    skipped = []
    for name, h in (res.get("heuristics") or {}).items():
        if not isinstance(h, dict) or "pose" not in h:
            skipped.append(name)
            continue
        add(name, h["pose"], h.get("efield_at_target_v_per_m_per_a_per_us"), name)
    notes = [f"tmsfield plan for target {target!r} on head {head!r} with coil {res['coil'].get('name')!r}: "
             + "; ".join(f"{p.name} {p.info['efield_at_target_v_per_m_per_a_per_us']:.3f} V/m per A/us"
                         for p in out if p.info.get("efield_at_target_v_per_m_per_a_per_us") is not None) + "."]
    if skipped:
        notes.append(f"not laid out (see the result JSON): {', '.join(skipped)}.")
    if is_template_head(head) or is_template_head(res["head"].get("source")):
        notes.insert(0, template_warning(head))
    return out, notes


def export_placements(result, path, fmt=None, space="RAS"):
    """Write every placement of a result to a neuronavigator file.

    Parameters
    ----------
    result : dict, str or Path
        ``tmsfield-placement/1`` result (or its JSON file).
    path : str or Path
        Output file.
    fmt : {"localite", "brainsight"}, optional
        Default: from the extension (``.xml`` Localite, ``.txt`` Brainsight).
    space : {"RAS", "LPS"}
        Localite only: the session's world space (``"LPS"`` for DICOM images). Brainsight's NIfTI
        coordinates are always RAS.

    Returns
    -------
    dict
        ``{"path", "format", "space", "names", "warnings"}``; ``warnings`` holds the template
        warning when the plan was made on the MNI152 template (also written into the file).

    Raises
    ------
    InputError
        Unknown format, LPS for Brainsight, or a bad result.

    Examples
    --------
    >>> export_placements("tmsfield-results/fox2012_sgacc.json", "plan.xml")   # doctest: +SKIP
    {'path': 'plan.xml', 'format': 'localite', ...}
    """
    path = Path(path)
    if fmt is None:
        fmt = {".xml": "localite", ".txt": "brainsight"}.get(path.suffix.lower())
        if fmt is None:
            raise InputError(f"cannot tell the navigator from the extension of {path}: use .xml (Localite) or .txt "
                             f"(Brainsight), or give the format")
    fmt = str(fmt).lower()
    if fmt not in FORMATS:
        raise InputError(f"format must be one of {FORMATS}; got {fmt!r}")
    space = str(space).upper()
    if space not in ("RAS", "LPS"):
        raise InputError(f"space must be 'RAS' or 'LPS'; got {space!r}")
    if fmt == "brainsight" and space != "RAS":
        raise InputError("Brainsight files use the NIfTI's RAS coordinates (NIfTI:Aligned); --space LPS applies "
                         "to Localite sessions on DICOM images only")
    placements, notes = placements_from_result(result)
    if fmt == "localite":
        write_localite(placements, path, space=space, notes=notes)
    else:
        write_brainsight(placements, path, notes=notes)
    warns = [n for n in notes if n.startswith("WARNING")]
    return {"path": str(path), "format": fmt, "space": space, "names": [p.name for p in placements],
            "warnings": warns}


def write_poses_json(poses, path, source=None, fmt=None, warnings=()):
    """Write poses (NavPose) as a ``tmsfield-poses/1`` JSON file, atomically.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "poses.json")
    >>> _ = write_poses_json([NavPose("a", np.eye(4))], p)
    >>> list(read_poses_json(p))
    ['a']
    """
    items = list(poses.values()) if isinstance(poses, dict) else list(poses)
    for p in items:
        if not isinstance(p, NavPose):
            raise InputError(f"write_poses_json takes NavPose objects; got {type(p).__name__}")
    doc = {"schema": POSES_SCHEMA, "tmsfield_version": __version__,
           "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "source_file": None if source is None else str(source), "source_format": fmt,
           "space": "RAS", "pose_convention": "columns x, y, z, centre (mm); +z into the head (SimNIBS frame)",
           "warnings": list(warnings), "poses": [p.as_dict() for p in items]}
    text = json.dumps(doc, indent=1, allow_nan=False) + "\n"
    path = Path(path)
    atomic_write_text(path, text)
    return path


def read_poses_json(path):
    """Read a ``tmsfield-poses/1`` file into ``dict name -> NavPose``.

    Raises
    ------
    NavigationFileError
        Bad JSON (with line), wrong schema, an entry without name/matrix, or a non-rigid matrix.
    """
    from .common import rigid_pose

    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NavigationFileError(f"cannot read pose file {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise NavigationFileError(f"{path}, line {exc.lineno}: invalid JSON ({exc.msg})") from None
    if not isinstance(doc, dict) or doc.get("schema") != POSES_SCHEMA:
        raise NavigationFileError(f"{path}: not a {POSES_SCHEMA!r} pose file (write one with `tmsfield import`)")
    entries = doc.get("poses")
    if not isinstance(entries, list) or not entries:
        raise NavigationFileError(f"{path}: key 'poses' is missing or empty")
    out, taken = {}, set()
    for i, e in enumerate(entries):
        where = f"{path}, poses[{i}]"
        if not isinstance(e, dict) or "matrix" not in e or "name" not in e:
            raise NavigationFileError(f"{where}: each pose needs 'name' and 'matrix' (4x4, mm)")
        m = rigid_pose(e["matrix"], f"{where} ({e.get('name')!r})", tol=1e-6)
        name = unique_name(str(e["name"]), taken)

        def num(k):
            v = e.get(k)
            return float(v) if isinstance(v, (int, float)) and np.isfinite(v) else None

        out[name] = NavPose(name, CoilPose(m), str(e.get("kind") or "tmsfield"), didt_a_per_us=num("didt_a_per_us"),
                            percent_output=num("percent_output"), info=e.get("info") or {})
    return out


def import_poses(path, fmt=None):
    """Read any supported pose file into ``dict name -> NavPose`` (RAS, tmsfield coil frame).

    Parameters
    ----------
    path : str or Path
        A Localite InstrumentMarker/TriggerMarker XML, a Brainsight text export, a
        ``tmsfield-poses/1`` JSON (``tmsfield import -o``) or a ``tmsfield-placement/1`` result
        (its placement and each heuristic's).
    fmt : str, optional
        ``"localite"``, ``"brainsight"``, ``"poses"`` or ``"result"``; default: detected.

    Returns
    -------
    dict of str -> NavPose

    Raises
    ------
    NavigationFileError
        An unreadable or malformed file (the message names the file and line or element).

    Examples
    --------
    >>> import tempfile, os
    >>> from tmsfield import CoilPose
    >>> p = os.path.join(tempfile.mkdtemp(), "plan.txt")
    >>> _ = write_brainsight({"t1": CoilPose.from_axes([0, 60, 60], [0, -0.7, -0.7], [0, -0.7, 0.7])}, p)
    >>> list(import_poses(p))
    ['t1']
    """
    fmt = fmt or detect_format(path)
    if fmt in ("localite", "brainsight"):
        poses = read_localite(path) if fmt == "localite" else read_brainsight(path)
        try:
            planned_on_template = "NOT in this patient's scanner space" in Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            planned_on_template = False
        if planned_on_template:
            warn(f"{path} says it was planned on the MNI152 template: its poses are in template space, not in a "
                 f"patient's scanner space")
        return poses
    if fmt == "poses":
        return read_poses_json(path)
    if fmt == "result":
        placements, _ = placements_from_result(path)
        return {p.name: p for p in placements}
    raise InputError(f"unknown pose file format {fmt!r}; use localite, brainsight, poses or result")


def split_pose_spec(spec):
    """``"FILE[:NAME]"`` → (file, name or None); a colon inside the path (Windows drive) is kept.

    Examples
    --------
    >>> split_pose_spec("plan.xml:eeg_f3")
    ('plan.xml', 'eeg_f3')
    >>> split_pose_spec("plan.xml")
    ('plan.xml', None)
    """
    spec = str(spec)
    if Path(spec).exists():
        return spec, None
    head, sep, tail = spec.rpartition(":")
    if sep and head and not any(c in tail for c in "/\\") and not (len(head) == 1 and head.isalpha()):
        return head, tail or None
    return spec, None


def resolve_pose(spec):
    """One pose from ``"FILE[:NAME]"`` (any format :func:`import_poses` reads).

    Without NAME the file must hold exactly one pose.

    Returns
    -------
    NavPose

    Raises
    ------
    NavigationFileError
        Missing file, unknown name (the message lists the names), or several poses and no name.

    Examples
    --------
    >>> resolve_pose("missing.xml:M1")
    Traceback (most recent call last):
    ...
    tmsfield.errors.NavigationFileError: pose file missing.xml does not exist (give FILE or FILE:NAME)
    """
    path, name = split_pose_spec(spec)
    if not Path(path).is_file():
        raise NavigationFileError(f"pose file {path} does not exist (give FILE or FILE:NAME)")
    poses = import_poses(path)
    listing = ", ".join(repr(n) for n in list(poses)[:20]) + (" ..." if len(poses) > 20 else "")
    if name is None:
        if len(poses) != 1:
            raise NavigationFileError(f"{path} holds {len(poses)} poses; choose one with {path}:NAME, one of "
                                      f"{listing}")
        return next(iter(poses.values()))
    if name not in poses:
        raise NavigationFileError(f"{path} has no pose named {name!r}; names: {listing}")
    return poses[name]
