"""Runs examples/efield_sphere_analytic.py so it never rots, and checks its output's physics."""

import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def test_efield_sphere_analytic_example(tmp_path):
    res = subprocess.run([sys.executable, str(ROOT / "examples" / "efield_sphere_analytic.py"), str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "wrote" in res.stdout
    d = np.load(tmp_path / "efield_sphere_analytic.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["efield_sphere_analytic.npz"]   # no temp leftovers
    r = d["radius_mm"]
    mag = np.linalg.norm(d["efield_line_v_per_m"], axis=1)
    assert mag[0] < 1e-9 * mag.max()                       # no field at the centre
    assert np.all(np.diff(mag) > 0)                        # grows towards the coil
    obs = d["observation_points_mm"]
    e = d["efield_observation_v_per_m"]
    assert np.allclose(np.linalg.norm(obs, axis=1), 70.0)
    radial = np.abs(np.sum(e * obs, axis=1)) / 70.0
    assert radial.max() < 1e-9 * np.linalg.norm(e, axis=1).max()   # tangential inside a sphere
    # the 70 mm point under the coil centre is on both the line and the observation sphere
    i = int(np.argmin(np.abs(r - 70.0)))
    assert abs(np.linalg.norm(e, axis=1).max() - mag[i]) <= 0.05 * mag[i]
