"""Run examples/coil_field_map.py so it never rots."""

import subprocess
import sys
from pathlib import Path

import numpy as np

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "coil_field_map.py"


def test_coil_field_map_example_writes_a_plausible_map(tmp_path):
    res = subprocess.run([sys.executable, str(EXAMPLE), str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "peak |E|" in res.stdout
    data = np.load(tmp_path / "coil_field_map.npz")
    mag = data["E_magnitude"]
    assert mag.shape == (len(data["y_mm"]), len(data["x_mm"]))
    peak = float(data["peak_v_per_m"])
    assert peak == mag.max()
    # figure-8: the peak sits near the centre (between the wings), E there points along y;
    # ~1-2 V/m per A/µs at 20 mm (SimNIBS' Magstim model gives |A| ≈ 2e-6 T·m/A there)
    px, py = data["peak_xy_mm"]
    assert abs(px) < 15 and abs(py) < 15
    assert 1.0 < peak < 3.0
    e_c = data["E"][np.argmin(np.abs(data["y_mm"])), np.argmin(np.abs(data["x_mm"]))]
    assert abs(e_c[1]) > 10 * abs(e_c[0])
    assert not list(tmp_path.glob("*.npz.tmp")) and len(list(tmp_path.glob("*.npz"))) == 1
