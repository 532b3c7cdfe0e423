"""DLPFC targets, clinical scalp heuristics, coil poses, placement search, dose and result files.

Public names are imported lazily (the search pulls in numba).
"""

from .._lazy import lazy_exports

_PUBLIC = {
    "TargetSpec": ".table", "TARGETS": ".table", "available_targets": ".table", "get_target": ".table",
    "resolve_target": ".table", "ResolvedTarget": ".table", "DEFAULT_TARGET": ".table",
    "beam_f3_distances": ".heuristics", "beam_f3_position": ".heuristics", "eeg_f3_position": ".heuristics",
    "rule_5p5cm_position": ".heuristics", "head_measurements": ".heuristics",
    "coil_pose": ".placement", "CoilPlacement": ".placement", "handle_angle_of_pose": ".placement",
    "dose_report": ".dose", "STIMULATORS": ".dose", "get_stimulator": ".dose",
    "search_placement": ".search", "SearchResult": ".search", "target_roi": ".search",
    "evaluate_quantity": ".search",
    "ScalpGeometry": ".geometry",
    "read_result": ".results", "write_result": ".results", "validate_result": ".results",
    "run_target": ".run", "TargetJob": ".run",
}

__all__ = list(_PUBLIC)

__getattr__, __dir__ = lazy_exports(__name__, _PUBLIC)
