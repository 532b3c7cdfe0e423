"""The neuronavigation example runs end to end on a plan for the spherical stand-in head (analytic model)."""

import subprocess
import sys
from pathlib import Path

from targets_standins import fig8_dipole_coil, write_coil, write_sphere_head
from tmsfield.cli.main import main
from tmsfield.navigation import read_brainsight, read_localite

ROOT = Path(__file__).resolve().parents[1]


def test_navigation_export_example(tmp_path):
    head, lm = write_sphere_head(tmp_path / "head", 4, 3)
    coil = write_coil(tmp_path / "fig8.ccd", fig8_dipole_coil())
    result = tmp_path / "placement.json"
    assert main(["target", "--head", str(head), "--landmarks", str(lm), "--coil", str(coil), "--model", "sphere",
                 "--subject", "-40", "40", "52", "--search-radius", "6", "--out", str(result)]) == 0
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "navigation_export.py"), str(result),
                        str(tmp_path / "nav"), "--space", "LPS"],
                       capture_output=True, text=True, timeout=600, cwd=str(ROOT))
    assert r.returncode == 0, r.stderr
    assert "4 placements each" in r.stdout and "tmsfield target --pose" in r.stdout
    loc = read_localite(tmp_path / "nav" / "plan_localite.xml")
    bs = read_brainsight(tmp_path / "nav" / "plan_brainsight.txt")
    assert list(loc) == list(bs) == ["optimised", "eeg_f3", "beam_f3", "rule_5p5cm"]
    assert 'coordinateSpace="LPS"' in (tmp_path / "nav" / "plan_localite.xml").read_text()
