"""``--mni-warp`` from the command line: ``target``, ``target --pose`` and ``batch`` map MNI targets through a
nonlinear warp of known analytic form (ITK .nii.gz field and ITK .h5), on a spherical stand-in head with the
analytic model; ``target --pose`` also gives the motor-threshold dose block."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from targets_standins import fig8_dipole_coil, write_coil, write_sphere_head
from test_head_warps import _write_itk_h5
from tmsfield.cli.main import main
from tmsfield.head.warps import write_displacement_field

GRID = np.array([[4.0, 0, 0, -120], [0, 4, 0, -120], [0, 0, 4, -120], [0, 0, 0, 1]])   # covers the head
LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def warp_forward(x, a, b, c):
    """MNI → subject: a smooth, nonlinear map (x + a sin(y/25), y + b sin(z/25), z + c)."""
    x = np.asarray(x, float)
    return np.column_stack([x[:, 0] + a * np.sin(x[:, 1] / 25), x[:, 1] + b * np.sin(x[:, 2] / 25), x[:, 2] + c])


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_warp")
    head, lm = write_sphere_head(d / "head", 4, 4)
    coil = write_coil(d / "fig8.ccd", fig8_dipole_coil())
    return d, ["--head", str(head), "--landmarks", str(lm), "--coil", str(coil), "--model", "sphere",
               "--search-radius", "8", "--max-didt", "120", "--quiet"]


def _targets(rng, directions):
    """MNI targets 80 mm from the centre near the given directions: after the warp (< 3.9 mm) still between
    the stand-in's cortex (75 mm) and brain (85 mm) spheres, so the target is used as given (not snapped)."""
    u = np.asarray(directions, float) + rng.uniform(-0.1, 0.1, size=np.shape(directions))
    return 80.0 * u / np.linalg.norm(u, axis=1, keepdims=True)


def _warp_files(d, rng=None, coef=None):
    if coef is None:
        coef = (rng.uniform(2, 3), rng.uniform(1.5, 2), rng.uniform(1, 1.5))    # moves points by 2.7-3.9 mm
    ijk = np.stack(np.meshgrid(*[np.arange(61.0)] * 3, indexing="ij"), -1)
    g = ijk @ GRID[:3, :3].T + GRID[:3, 3]
    fwd = warp_forward(g.reshape(-1, 3), *coef).reshape(g.shape)
    nii = write_displacement_field(d / "sub_1Warp.nii.gz", GRID, fwd, kind="itk")
    h5 = _write_itk_h5(d / "sub_Composite.h5", [("field", LPS @ GRID, (fwd - g) * [-1.0, -1.0, 1.0])])
    return coef, nii, h5


@pytest.mark.random
def test_target_maps_the_mni_target_through_the_warp(setup, rng, tmp_path):
    _, common = setup
    d = tmp_path
    coef, nii, h5 = _warp_files(d, rng)
    mni = _targets(rng, [[-0.52, 0.52, 0.68]])
    want = warp_forward(mni, *coef)[0]
    seen = []
    for w in (nii, h5):
        out = d / f"t_{w.suffix}.json"
        assert main(["target", *common, "--mni", *map(str, mni[0]), "--mni-warp", str(w), "--no-heuristics",
                     "--out", str(out)]) == 0
        t = json.loads(out.read_text())["target"]
        assert Path(t["mni_warp"]["file"]).name == w.name and t["mni_warp"]["direction"] == "mni2subject"
        np.testing.assert_allclose(t["subject_mm"], want, atol=0.05)
        assert np.linalg.norm(np.asarray(t["subject_mm"]) - mni[0]) > 1.0        # the warp did something
        seen.append(json.loads(out.read_text())["efield_at_target_v_per_m_per_a_per_us"])
    assert seen[0] == pytest.approx(seen[1], rel=1e-6)                         # same warp, two files


@pytest.mark.random
def test_batch_takes_the_warp_from_the_command_line_and_the_manifest(setup, rng, tmp_path):
    d, common = setup                  # the head and coil; the warps, manifest and results per test
    coef, nii, h5 = _warp_files(tmp_path, rng)
    mni = _targets(rng, [[-0.59, 0.68, 0.40], [-0.58, 0.57, 0.48]])
    man = tmp_path / "manifest.csv"
    with man.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "head", "target", "coil", "landmarks", "mni_warp"])
        for k, p in enumerate(mni):
            w.writerow([f"row{k}", str(d / "head"), "mni:" + " ".join(f"{v:.3f}" for v in p), str(d / "fig8.ccd"),
                        str(d / "head_landmarks.json"), str(h5) if k == 1 else ""])
    out = tmp_path / "batch"
    args = ["batch", str(man), "--out", str(out), "--model", "sphere", "--search-radius", "8", "--max-didt", "120",
            "--quiet", "--no-heuristics", "--mni-warp", str(nii)]
    assert main(args) == 0
    rows = {r["id"]: r for r in csv.DictReader((out / "summary.csv").open())}
    assert all(r["status"] == "ok" for r in rows.values()), rows
    for k, p in enumerate(mni):
        t = json.loads((out / f"row{k}.json").read_text())["target"]
        assert Path(t["mni_warp"]["file"]).name == (h5.name if k == 1 else nii.name)       # the row's column wins
        np.testing.assert_allclose(t["subject_mm"], warp_forward(np.round(p, 3)[None], *coef)[0], atol=0.05)


def test_pose_evaluation_uses_the_warp_and_gives_the_motor_threshold_dose(setup, tmp_path):
    d, common = setup
    _, nii, _ = _warp_files(tmp_path, coef=(2.5, 1.7, 1.2))   # a fixed warp: this test is about plumbing
    plan = tmp_path / "plan.json"
    args = [*common, "--mni", "-40", "40", "52", "--mni-warp", str(nii), "--no-heuristics"]
    assert main(["target", *args, "--motor-threshold", "50", "--out", str(plan)]) == 0
    res = json.loads(plan.read_text())
    f = tmp_path / "plan.txt"
    assert main(["export", str(plan), "--to", "brainsight", "-o", str(f)]) == 0
    out = tmp_path / "pose.json"
    assert main(["target", *args, "--pose", f"{f}:optimised", "--motor-threshold", "50", "--out", str(out)]) == 0
    m = json.loads(out.read_text())
    assert m["method"] == "manual"
    np.testing.assert_allclose(m["target"]["subject_mm"], res["target"]["subject_mm"], atol=1e-9)   # warped alike
    assert m["efield_at_target_v_per_m_per_a_per_us"] == pytest.approx(res["efield_at_target_v_per_m_per_a_per_us"],
                                                                       rel=1e-5)
    mt, mt0 = m["dose"]["motor_threshold"], res["dose"]["motor_threshold"]
    assert mt["rmt_percent"] == 50.0
    # the same M1 hotspot search and the same target field: the same matched output as the searched plan
    assert mt["percent_output_matched"] == pytest.approx(mt0["percent_output_matched"], rel=1e-4)
    assert mt["e_m1_v_per_m"] == pytest.approx(mt0["e_m1_v_per_m"], rel=1e-6)
