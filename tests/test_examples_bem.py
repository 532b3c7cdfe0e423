"""The BEM example runs end to end and its output agrees with the analytic sphere."""

import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def test_efield_sphere_bem_example(tmp_path):
    res = subprocess.run([sys.executable, str(REPO / "examples" / "efield_sphere_bem.py"), str(tmp_path)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert "relative L2 error" in res.stdout
    data = np.load(tmp_path / "efield_sphere_bem.npz")
    e, ea = data["e_bem"], data["e_analytic"]
    assert e.shape == ea.shape == (data["points_mm"].shape[0], 3)
    err = np.linalg.norm(e - ea) / np.linalg.norm(ea)
    assert np.isclose(err, float(data["relative_error"])) and err < 0.01, err
    assert float(data["gmres_residual"]) <= 1e-6
    assert not list(tmp_path.glob("tmp*.npz"))
