"""The motor-threshold dose example runs on the template (local-sphere model), with and without a target map."""

import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def test_motor_threshold_example(tmp_path):
    import nibabel as nib
    import tmsfield
    v = tmsfield.load_head("mni152_3shell").cortex.vertices
    w = np.exp(-np.sum((v - v[np.argmin(np.linalg.norm(v - [-40.0, 36.0, 34.0], axis=1))]) ** 2, axis=1) / 72.0)
    m = tmp_path / "map.func.gii"
    nib.save(nib.gifti.GiftiImage(darrays=[nib.gifti.GiftiDataArray(w.astype(np.float32))]), str(m))
    for extra in ([], ["--map", str(m)]):
        r = subprocess.run([sys.executable, str(ROOT / "examples" / "motor_threshold_dose.py"), "48", *extra],
                           capture_output=True, text=True, timeout=600, cwd=str(ROOT))
        assert r.returncode == 0, r.stderr
        out = dict(line.split(None, 1) for line in r.stdout.splitlines() if line.strip())
        assert "48 % output" in r.stdout and "matched" in out and "Stokes" in out
        if extra:
            assert "map:map.func.gii" in r.stdout
