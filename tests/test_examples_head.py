"""The head example runs end to end and writes its CSV."""

import csv
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_load_head_eeg_example(tmp_path):
    res = subprocess.run([sys.executable, str(ROOT / "examples" / "load_head_eeg.py"), str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader(open(tmp_path / "eeg_10_10_positions.csv")))
    labels = {r["label"] for r in rows}
    assert {"F3", "Cz", "Fp1", "AF3"} <= labels
    assert "skull_inner" in res.stdout
