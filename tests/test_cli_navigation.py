"""``tmsfield export`` → navigator file → ``tmsfield target --pose FILE:NAME``: the field of each exported
placement, evaluated from the file, equals the field the targeting run reported for it (spherical stand-in
head, analytic model); recorded dI/dt and output of trigger markers reach the dose; render/view take --pose."""

import json

import numpy as np
import pytest

from targets_standins import fig8_dipole_coil, write_coil, write_sphere_head
from tmsfield.cli.main import main
from tmsfield.navigation import LOCALITE_AXES, read_localite
from tmsfield.navigation.common import to_navigator
from tmsfield.targets.results import read_result


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_nav")
    head, lm = write_sphere_head(d / "head", 4, 4)
    coil = write_coil(d / "fig8.ccd", fig8_dipole_coil())
    common = ["--head", str(head), "--landmarks", str(lm), "--coil", str(coil), "--model", "sphere",
              "--subject", "-40", "40", "52", "--max-didt", "120"]
    r = d / "r.json"
    assert main(["target", *common, "--search-radius", "8", "--out", str(r)]) == 0
    return d, common, r


def _pose_result(plan, spec, *extra):
    d, common, _ = plan
    out = d / "pose.json"
    assert main(["target", *common, "--pose", str(spec), *extra, "--out", str(out)]) == 0
    return read_result(out)


@pytest.mark.parametrize("to, ext, rel", [("localite", "xml", 1e-9), ("brainsight", "txt", 1e-5)])
def test_exported_placements_give_the_reported_field(plan, to, ext, rel, capsys):
    d, _, r = plan
    res = json.loads(r.read_text())
    f = d / f"plan.{ext}"
    assert main(["export", str(r), "--to", to, "-o", str(f)]) == 0
    assert "NOT in this patient's" not in capsys.readouterr().err       # a subject head: no template warning
    expected = {"optimised": res["efield_at_target_v_per_m_per_a_per_us"],
                **{k: h["efield_at_target_v_per_m_per_a_per_us"] for k, h in res["heuristics"].items() if "pose" in h}}
    assert len(expected) == 4
    for name, value in expected.items():
        m = _pose_result(plan, f"{f}:{name}")
        assert m["method"] == "manual" and m["settings"]["pose_source"]["name"] == name
        assert m["efield_at_target_v_per_m_per_a_per_us"] == pytest.approx(value, rel=rel)
        ref = res["pose"] if name == "optimised" else res["heuristics"][name]["pose"]
        np.testing.assert_allclose(m["pose"], ref, atol=1e-5)
        assert abs(m["handle_angle_deg"] - (res["handle_angle_deg"] if name == "optimised"
                                            else res["heuristics"][name]["handle_angle_deg"])) < 0.5
        assert not any("scalp" in w for w in m["dose"]["warnings"])


def test_trigger_marker_dose_and_implausible_pose(plan):
    d, _, r = plan
    res = json.loads(r.read_text())
    m = to_navigator(np.asarray(res["pose"]), LOCALITE_AXES, "RAS")
    attrs = " ".join(f'data{i}{j}="{float(m[i, j])!r}"' for i in range(4) for j in range(4))
    f = d / "TriggerMarkers_Coil0_1.xml"
    f.write_text(f'<?xml version="1.0"?>\n<TriggerMarkerList coordinateSpace="RAS">\n'
                 f'<TriggerMarker description="" recordingTime="5">\n<ResponseValues>\n'
                 f'<Value key="valueA" response="72.0"/>\n<Value key="amplitudeA" response="55.0"/>\n'
                 f'</ResponseValues>\n<Matrix4D {attrs}/>\n</TriggerMarker>\n</TriggerMarkerList>\n')
    assert list(read_localite(f)) == ["trigger_001"]
    out = _pose_result(plan, f)                         # one pose in the file: no name needed
    e1 = out["efield_at_target_v_per_m_per_a_per_us"]
    assert e1 == pytest.approx(res["efield_at_target_v_per_m_per_a_per_us"], rel=1e-9)
    assert out["dose"]["efield_at_recorded_didt_v_per_m"] == pytest.approx(72.0 * e1)
    assert out["dose"]["percent_output"] == 55.0                       # the recorded output, no --percent-output
    assert out["dose"]["efield_at_target_v_per_m"] == pytest.approx(e1 * 120 * 0.55)
    # the same pose 60 mm further out (e.g. a file in another coordinate space): flagged
    far = np.asarray(res["pose"], float)
    far[:3, 3] -= 60 * far[:3, 2]
    from tmsfield.navigation import write_localite
    g = write_localite({"far": far}, d / "far.xml")
    warn = _pose_result(plan, g)["dose"]["warnings"]
    assert any("above the scalp" in w and "coordinate space" in w for w in warn)


def test_pose_errors(plan, capsys):
    d, common, r = plan
    assert main(["export", str(r), "--to", "localite", "-o", str(d / "e.xml")]) == 0
    capsys.readouterr()
    assert main(["target", *common, "--pose", str(d / "e.xml"), "--out", str(d / "x.json")]) == 2
    assert "holds 4 poses; choose one" in capsys.readouterr().err
    assert main(["target", *common, "--pose", f"{d / 'e.xml'}:nope", "--out", str(d / "x.json")]) == 2
    assert "no pose named 'nope'" in capsys.readouterr().err
    assert main(["target", *common, "--pose", f"{d / 'e.xml'}:eeg_f3", "--method", "eeg_f3",
                 "--out", str(d / "x.json")]) == 2
    assert not (d / "x.json").exists()


def test_render_and_view_take_the_pose(plan, monkeypatch, capsys):
    """render --pose / view --pose put the file's pose into the scene (rendering itself is stubbed out)."""
    import tmsfield.viz.interactive as interactive
    import tmsfield.viz.offscreen as offscreen
    import tmsfield.viz.renderer as vrender
    import tmsfield.viz.result_scene as result_scene

    d, _, r = plan
    f = d / "rv.txt"
    assert main(["export", str(r), "--to", "brainsight", "-o", str(f)]) == 0
    want = json.loads(r.read_text())["heuristics"]["beam_f3"]["pose"]
    seen = {}
    monkeypatch.setattr(result_scene, "scene_from_result", lambda res, **kw: seen.setdefault("render", res))
    monkeypatch.setattr(vrender, "render", lambda scene, **kw: None)
    assert main(["render", str(r), "-o", str(d / "x.png"), "--pose", f"{f}:beam_f3"]) == 0
    assert seen["render"]["method"] == "manual"
    np.testing.assert_allclose(seen["render"]["pose"], want, atol=1e-5)

    def fake_state(result, **kw):
        seen["view"] = kw
        return object(), d / "save.json"

    class Viewer:
        def __init__(self, state, save_path):
            pass

        def show(self):
            seen["shown"] = True

    monkeypatch.setattr(interactive, "state_from_inputs", fake_state)
    monkeypatch.setattr(interactive, "LiveViewer", Viewer)
    monkeypatch.setattr(offscreen, "has_display", lambda: True)
    monkeypatch.setattr(offscreen, "check_rendering", lambda: None)
    assert main(["view", "--pose", f"{f}:beam_f3", "--head", str(d / "head"), "--coil", str(d / "fig8.ccd")]) == 0
    np.testing.assert_allclose(seen["view"]["pose"], want, atol=1e-5)
    assert seen["shown"]


def test_pose_on_a_bem_head_gives_the_heuristic_field(tmp_path):
    """BEM (small two-shell head): a placement's field, re-evaluated from its Localite file, matches the run's."""
    head, lm = write_sphere_head(tmp_path / "head", 3, 3)
    coil = write_coil(tmp_path / "fig8.ccd", fig8_dipole_coil())
    common = ["--head", str(head), "--landmarks", str(lm), "--coil", str(coil), "--model", "bem", "--no-factorize",
              "--subject", "-40", "40", "52"]
    r = tmp_path / "r.json"
    assert main(["target", *common, "--method", "eeg_f3", "--no-heuristics", "--out", str(r)]) == 0
    f = tmp_path / "p.xml"
    assert main(["export", str(r), "--to", "localite", "-o", str(f)]) == 0
    out = tmp_path / "m.json"
    assert main(["target", *common, "--pose", f"{f}:eeg_f3", "--out", str(out)]) == 0
    a, b = json.loads(r.read_text()), read_result(out)
    assert b["efield_at_target_v_per_m_per_a_per_us"] == pytest.approx(a["efield_at_target_v_per_m_per_a_per_us"],
                                                                        rel=1e-6)
    assert b["peak_efield_v_per_m_per_a_per_us"] == pytest.approx(a["peak_efield_v_per_m_per_a_per_us"], rel=1e-6)
