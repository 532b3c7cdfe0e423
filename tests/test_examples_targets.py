"""The targeting examples run end to end (on a spherical stand-in head, fast analytic model)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from targets_standins import fig8_dipole_coil, write_coil, write_sphere_head

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("examples_targets")
    head, lm = write_sphere_head(d / "head", 4, 3)
    coil = write_coil(d / "fig8.ccd", fig8_dipole_coil())
    return d, head, lm, coil


def _run(script, *args):
    return subprocess.run([sys.executable, str(ROOT / "examples" / script), *map(str, args)],
                          capture_output=True, text=True, timeout=600, cwd=str(ROOT))


def test_clinician_example(files):
    d, head, lm, coil = files
    r = _run("clinician_target.py", d / "c", "--head", head, "--landmarks", lm, "--coil", coil, "--model", "sphere",
             "--subject", -40, 40, 52, "--search-radius", 8)
    assert r.returncode == 0, r.stderr
    res = json.loads((d / "c" / "placement.json").read_text())
    assert res["dose"]["percent_output_needed"] is not None
    assert "V/m per A/us" in r.stdout


def test_batch_example(files):
    d, head, lm, coil = files
    r = _run("batch_manifest.py", d / "b", "--head", head, "--landmarks", lm, "--coil", coil, "--model", "sphere",
             "--subjects", "-40 40 52;-30 35 60", "--search-radius", 6)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count(",ok,") == 2
