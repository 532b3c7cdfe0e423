"""The nonlinear-MNI example runs on the coarse template with its demo warp, and maps the Fox 2012 target
through the warp's closed form (not the head's affine)."""

import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def test_nonlinear_mni_target_example():
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "nonlinear_mni_target.py"), "--demo"],
                       capture_output=True, text=True, timeout=600, cwd=str(ROOT))
    assert r.returncode == 0, r.stderr
    line = next(s for s in r.stdout.splitlines() if s.startswith("target"))
    subject = np.array([float(v) for v in line.split("subject [")[1].split("]")[0].split(",")])
    x, y, z = -38.0, 44.0, 26.0              # Fox et al. 2012, through the demo warp's formula
    want = [x + 3 * np.sin(y / 30), y + 2 * np.sin(z / 30), z + 1.5 * np.cos(x / 40)]
    assert np.allclose(subject, want, atol=0.1), (subject, want)
    assert "V/m per A/us" in r.stdout
