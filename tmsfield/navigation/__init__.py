"""Neuronavigation: move coil placements into and out of Localite and Brainsight.

* :func:`export_placements` — every placement of a ``tmsfield target`` result (the optimised one
  and each heuristic, named) to a Localite InstrumentMarker XML or a Brainsight target list.
* :func:`import_poses` / :func:`resolve_pose` — a navigator's file (Localite InstrumentMarkers or
  TriggerMarkers, Brainsight targets and samples), a ``tmsfield-poses/1`` JSON or a result, read
  into :class:`NavPose` objects (RAS mm, tmsfield/SimNIBS coil frame, +z into the head).
* :func:`write_localite`, :func:`read_localite`, :func:`write_brainsight`, :func:`read_brainsight`
  — the per-vendor readers and writers (one module each; conventions in their docstrings).

Coordinates are the world (scanner) space of the T1 image the navigator loaded. A plan made on
the bundled MNI152 template is in template space: its files say so in their notes.
"""

from .common import NavPose, NavigationWarning, rigid_pose, is_template_head, template_warning
from .localite import LOCALITE_AXES, read_localite, write_localite
from .brainsight import BRAINSIGHT_AXES, read_brainsight, write_brainsight
from .formats import (FORMATS, POSES_SCHEMA, detect_format, export_placements, import_poses, placements_from_result,
                      read_poses_json, resolve_pose, split_pose_spec, write_poses_json)

__all__ = ["NavPose", "NavigationWarning", "rigid_pose", "is_template_head", "template_warning",
           "LOCALITE_AXES", "read_localite", "write_localite", "BRAINSIGHT_AXES", "read_brainsight",
           "write_brainsight", "FORMATS", "POSES_SCHEMA", "detect_format", "export_placements", "import_poses",
           "placements_from_result", "read_poses_json", "resolve_pose", "split_pose_spec", "write_poses_json"]
