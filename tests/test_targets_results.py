"""Result JSON: validated atomic write, read, and clear errors."""

import json

import numpy as np
import pytest

from tmsfield.errors import InputError
from tmsfield.targets.results import read_result, write_result


def _minimal():
    pose = np.eye(4)
    pose[:3, 2] = [0, 0, -1]
    pose[:3, 1] = [0, -1, 0]
    pose[:3, 3] = [0, 0, 99]
    return {"schema": "tmsfield-placement/1", "tmsfield_version": "0.1.0", "created_utc": "2026-01-01T00:00:00Z",
            "head": {"name": "h", "source": "h", "n_cortex_vertices": 10}, "coil": {"name": "c", "source": "c"},
            "stimulator": {"name": None, "max_didt_a_per_us": None},
            "target": {"name": "user", "mni_mm": None, "subject_mm": [0, 0, 70], "roi_radius_mm": 5.0,
                       "quantity": "magnitude", "citation": ""},
            "method": "optimised", "pose": pose, "position_mm": pose[:3, 3], "scalp_point_mm": [0, 0, 95.0],
            "handle_angle_deg": np.float64(45.0), "gap_mm": 4.0, "efield_at_target_v_per_m_per_a_per_us": 1.2,
            "peak_efield_v_per_m_per_a_per_us": 1.5,
            "dose": {"percent_output": None, "reachable": True, "warnings": []}, "settings": {}}


def test_round_trip(tmp_path):
    p = write_result(tmp_path / "r.json", _minimal())
    r = read_result(p)
    assert r["pose"][2][3] == 99 and r["handle_angle_deg"] == 45.0


def test_invalid_result_writes_nothing(tmp_path):
    bad = _minimal()
    bad["pose"] = np.diag([2.0, 1, 1, 1]).tolist()          # not a rigid transform
    with pytest.raises(Exception):
        write_result(tmp_path / "r.json", bad)
    assert list(tmp_path.iterdir()) == []
    bad = _minimal()
    del bad["dose"]
    with pytest.raises(InputError, match="dose"):
        write_result(tmp_path / "r.json", bad)


def test_read_corrupt_and_wrong_schema(tmp_path):
    p = tmp_path / "x.json"
    p.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        read_result(p)
    p.write_text(json.dumps({"schema": "other"}))
    with pytest.raises(InputError, match="schema"):
        read_result(p)
