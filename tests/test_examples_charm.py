"""The SimNIBS-head example (engineer) runs end to end: demo m2m folder, junction table, field vs sphere."""

import csv
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_load_simnibs_head_example(tmp_path):
    res = subprocess.run([sys.executable, str(ROOT / "examples" / "load_simnibs_head.py"), str(tmp_path)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader(open(tmp_path / "tissue_junctions.csv")))
    pairs = {(r["surface"], r["inside"], r["outside"]): int(r["triangles"]) for r in rows}
    assert pairs[("wm", "csf", "wm")] == 80                  # the ventricle: CSF inside the white matter
    assert pairs[("scalp", "scalp", "air")] == 5120 and pairs[("gm", "gm", "csf")] == 320
    err = float(re.search(r"analytic sphere: ([0-9.]+) %", res.stdout).group(1))
    assert err < 1.0, res.stdout
    # the folder loads again without the script, and the .msh alone too
    import tmsfield
    head = tmsfield.load_head(tmp_path / "m2m_demo")
    assert sorted(head.landmarks) == ["inion", "lpa", "nasion", "rpa"]
    assert tmsfield.load_head(tmp_path / "m2m_demo" / "demo.msh").tissues == head.tissues
