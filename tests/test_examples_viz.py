"""The rendering example runs end to end (sphere head, quick mode) and writes what it promises."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def test_render_placement_example(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "render_placement.py"), str(tmp_path), "--sphere"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "E at target" in proc.stdout
    import nibabel as nib
    import pyvista as pv

    img = pv.read(tmp_path / "placement_views.png")
    assert img.dimensions[:2] == (1400, 1000)
    overlay = nib.load(tmp_path / "efield.func.gii").darrays[0]
    surf = nib.load(tmp_path / "cortex.surf.gii")
    assert overlay.data.shape[0] == surf.darrays[0].data.shape[0]
    assert np.allclose(nib.freesurfer.read_morph_data(tmp_path / "lh.efield"), overlay.data)
    res = json.loads((tmp_path / "placement.json").read_text())
    assert res["schema"] == "tmsfield-placement/1" and np.asarray(res["pose"]).shape == (4, 4)
    assert "cortex" in pv.read(tmp_path / "scene.vtm").keys()
