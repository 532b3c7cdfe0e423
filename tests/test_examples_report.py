"""The clinician's report example runs end to end (coarse template, fitted sphere) and writes what it promises."""

import base64
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_clinician_report_example(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "clinician_report.py"), str(tmp_path), "--quick"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "V/m at the target" in proc.stdout and "report" in proc.stdout
    res = json.loads((tmp_path / "plan.json").read_text())
    page = (tmp_path / "plan.html").read_text(encoding="utf-8")
    assert res["target"]["name"] in page and "MNI152 template head" in page
    assert f"{res['efield_at_target_v_per_m_per_a_per_us']:.3f}" in page
    assert f"{res['dose']['efield_at_target_v_per_m']:.1f}" in page
    for h in res["heuristics"].values():
        assert f"{h['efield_at_target_v_per_m_per_a_per_us']:.3f}" in page
    pngs = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(pngs) == 3 and all(base64.b64decode(p)[:4] == b"\x89PNG" for p in pngs)
    assert "skull_inner" in page          # the head model's surfaces, with their triangle counts
