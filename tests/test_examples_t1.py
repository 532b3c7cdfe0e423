"""The T1 example runs end to end on a T1 (the MNI152 T1 at 2 mm) and places the coil (skips without antspyx)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_head_from_t1_example(tmp_path):
    pytest.importorskip("ants", reason="antspyx not installed (pip install tmsfield[t1]); the example needs it")
    import nibabel as nib
    from tmsfield.errors import HeadFileError
    from tmsfield.head.from_t1 import template_t1_path
    try:
        src = nib.load(str(template_t1_path()))
    except HeadFileError as exc:
        pytest.skip(f"MNI152 whole-head T1 not available: {exc}")
    t1 = tmp_path / "T1w.nii.gz"
    nib.save(nib.Nifti1Image(np.asarray(src.dataobj, np.float32)[::2, ::2, ::2],
                             src.affine @ np.diag([2.0, 2.0, 2.0, 1.0])), str(t1))
    res = subprocess.run([sys.executable, str(ROOT / "examples" / "head_from_t1.py"), str(t1),
                          str(tmp_path / "head"), "--fast"], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Fox 2012 target" in res.stdout and "coil centre" in res.stdout
    assert (tmp_path / "head" / "mni_to_subject_warp.nii.gz").is_file()
    assert "registering the MNI152 T1" in res.stderr                   # progress lines on stderr
