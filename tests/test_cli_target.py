"""``tmsfield target``: runs the job on a head folder, writes the JSON, bad input gives clear errors."""

import json

import pytest

from tmsfield.cli.main import main
from targets_standins import fig8_dipole_coil, write_coil, write_sphere_head


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_target")
    head, lm = write_sphere_head(d / "head", 4, 4)
    coil = write_coil(d / "fig8.ccd", fig8_dipole_coil())
    return d, head, lm, coil


def _args(files, *extra):
    d, head, lm, coil = files
    return ["target", "--head", str(head), "--landmarks", str(lm), "--coil", str(coil), "--model", "sphere",
            "--search-radius", "8", *extra]


def test_target_writes_json_and_summary(files, capsys):
    d = files[0]
    out = d / "r.json"
    rc = main(_args(files, "--subject", "-40", "40", "52", "--percent-output", "60", "--max-didt", "120",
                    "--out", str(out)))
    assert rc == 0
    r = json.loads(out.read_text())
    assert r["schema"] == "tmsfield-placement/1" and r["method"] == "optimised"
    assert r["dose"]["efield_at_target_v_per_m"] == pytest.approx(
        r["efield_at_target_v_per_m_per_a_per_us"] * 120 * 0.6)
    assert set(r["heuristics"]) == {"eeg_f3", "beam_f3", "rule_5p5cm"}
    text = capsys.readouterr().out
    assert "V/m per A/us" in text and str(out) in text


def test_unreachable_field_is_warning(files):
    d = files[0]
    out = d / "u.json"
    rc = main(_args(files, "--subject", "-40", "40", "52", "--requested-field", "5000", "--no-heuristics",
                    "--method", "eeg_f3", "--out", str(out)))
    assert rc == 0
    r = json.loads(out.read_text())
    assert r["dose"]["reachable"] is False and "NOT reachable" in r["dose"]["warnings"][0]
    assert r["method"] == "eeg_f3"


def test_unknown_target_and_no_transform(files, capsys):
    d = files[0]
    assert main(_args(files, "--target", "nowhere", "--out", str(d / "n.json"))) == 2
    err = capsys.readouterr().err
    assert "unknown target" in err and "fox2012_sgacc" in err
    assert main(_args(files, "--target", "ba46", "--out", str(d / "n.json"))) == 2
    assert "MNI transform" in capsys.readouterr().err
    assert not (d / "n.json").exists()


def test_unknown_coil(files, capsys):
    d, head, lm, _ = files
    rc = main(["target", "--head", str(head), "--landmarks", str(lm), "--coil", "nocoil", "--model", "sphere",
               "--subject", "-40", "40", "52", "--out", str(d / "c.json")])
    assert rc == 2 and "fig8_70mm" in capsys.readouterr().err


def test_factorize_flag_gives_the_gmres_answer(tmp_path):
    """``--factorize`` (dense LU + refinement) on a small two-shell BEM head: same placement and field as GMRES."""
    head, lm = write_sphere_head(tmp_path / "head", 3, 3)
    coil = write_coil(tmp_path / "fig8.ccd", fig8_dipole_coil())
    res = {}
    for flag in (["--no-factorize"], ["--factorize"]):
        out = tmp_path / f"r{flag[0]}.json"
        rc = main(["target", "--head", str(head), "--landmarks", str(lm), "--coil", str(coil), "--model", "bem",
                   "--search-radius", "6", "--no-heuristics", "--subject", "-40", "40", "52", *flag,
                   "--out", str(out)])
        assert rc == 0
        res[flag[0]] = json.loads(out.read_text())
    g, f = res["--no-factorize"], res["--factorize"]
    assert g["settings"]["solver"]["factorized"] is False and f["settings"]["solver"]["factorized"] is True
    assert f["efield_at_target_v_per_m_per_a_per_us"] == pytest.approx(g["efield_at_target_v_per_m_per_a_per_us"],
                                                                       rel=1e-5)
    assert f["position_mm"] == pytest.approx(g["position_mm"], abs=1e-6)
    assert f["handle_angle_deg"] == pytest.approx(g["handle_angle_deg"], abs=1e-9)
    assert set(f["settings"]["timings_s"]) >= {"solver", "heuristics", "search", "peak", "total"}
