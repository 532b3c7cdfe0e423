"""Neuronavigation files: Localite and Brainsight readers/writers, round trips, hand-written files, bad files.

The hand-written files are typed from the format description (SimNIBS' documentation of the
Localite and Brainsight conventions, quoted in tmsfield/navigation/*.py), not produced by the
writers: Localite's matrix is pose · F with F = [[0,0,1,0],[0,-1,0,0],[1,0,0,0],[0,0,0,1]]
(its x column is the coil's +z, y is -y, z is x; LPS negates the x and y rows), Brainsight's
is pose · diag(-1, 1, -1, 1) (m0n* = -x, m1n* = y, m2n* = -z, Loc. = centre).

The expected pose used throughout: centre (-40, 50, 70) mm, coil +z = (0.6, 0, -0.8) (into the
head), y = (0, 1, 0), so x = y × z = (-0.8, 0, -0.6).
"""

import warnings

import numpy as np
import pytest

from tmsfield import CoilPose
from tmsfield.errors import InputError, NavigationFileError
from tmsfield.navigation import (NavigationWarning, NavPose, detect_format, export_placements, import_poses,
                                 read_brainsight, read_localite, read_poses_json, resolve_pose, rigid_pose,
                                 write_brainsight, write_localite, write_poses_json)

EXPECTED = np.array([[-0.8, 0.0, 0.6, -40.0],
                     [0.0, 1.0, 0.0, 50.0],
                     [-0.6, 0.0, -0.8, 70.0],
                     [0.0, 0.0, 0.0, 1.0]])


def random_poses(rng, n):
    """Random rigid poses (uniform rotations from normalised quaternions), centres within 120 mm."""
    out = {}
    for i in range(n):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        w, x, y, z = q
        r = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                      [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                      [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
        m = np.eye(4)
        m[:3, :3] = r
        m[:3, 3] = rng.uniform(-120, 120, 3)
        out[f"pose {i}"] = CoilPose(m)
    return out


# ---------------------------------------------------------------------------------------------- round trips
@pytest.mark.random
@pytest.mark.parametrize("space", ["RAS", "LPS"])
def test_localite_round_trip(rng, tmp_path, space):
    poses = random_poses(rng, 7)
    p = write_localite(poses, tmp_path / "im.xml", space=space)
    back = read_localite(p)
    assert list(back) == list(poses)
    for name, pose in poses.items():
        assert back[name].kind == "localite-instrument"
        np.testing.assert_allclose(back[name].matrix, pose.matrix, rtol=0, atol=1e-12)


@pytest.mark.random
def test_brainsight_round_trip(rng, tmp_path):
    poses = random_poses(rng, 7)
    p = write_brainsight(poses, tmp_path / "targets.txt")
    back = read_brainsight(p)
    assert list(back) == list(poses)
    for name, pose in poses.items():
        assert back[name].kind == "brainsight-target"
        # six decimals in the file: centre to 5e-7 mm, rotation re-orthonormalised to ~1e-6
        np.testing.assert_allclose(back[name].matrix, pose.matrix, rtol=0, atol=5e-6)
        r = back[name].pose.rotation
        assert np.abs(r.T @ r - np.eye(3)).max() < 1e-12


@pytest.mark.random
def test_poses_json_round_trip_and_import(rng, tmp_path):
    poses = [NavPose(n, p, "localite-trigger", didt_a_per_us=float(rng.uniform(20, 150)), percent_output=55.0)
             for n, p in random_poses(rng, 4).items()]
    p = write_poses_json(poses, tmp_path / "poses.json", source="x.xml", fmt="localite")
    assert detect_format(p) == "poses"
    back = import_poses(p)
    for a in poses:
        b = back[a.name]
        np.testing.assert_allclose(b.matrix, a.matrix, rtol=0, atol=1e-12)
        assert b.didt_a_per_us == a.didt_a_per_us and b.percent_output == 55.0 and b.kind == a.kind


def test_writers_are_inverse_of_the_stated_conventions(tmp_path):
    """What the writers put in the file is exactly pose·F (Localite, RAS and LPS) and pose·diag(-1,1,-1,1)."""
    import xml.etree.ElementTree as ET

    pose = CoilPose(EXPECTED)
    for space, flip in (("RAS", np.eye(4)), ("LPS", np.diag([-1.0, -1, 1, 1]))):
        p = write_localite({"M": pose}, tmp_path / f"{space}.xml", space=space)
        m4 = ET.parse(p).getroot().find("InstrumentMarker/Marker/Matrix4D")
        m = np.array([[float(m4.get(f"data{i}{j}")) for j in range(4)] for i in range(4)])
        f = np.array([[0, 0, 1, 0], [0, -1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1.0]])
        np.testing.assert_allclose(m, flip @ EXPECTED @ f, atol=1e-15)
    p = write_brainsight({"T": pose}, tmp_path / "t.txt")
    row = p.read_text().splitlines()[-1].split("\t")
    assert row[0] == "T"
    np.testing.assert_allclose([float(v) for v in row[1:]],
                               [-40, 50, 70, 0.8, 0, 0.6, 0, 1, 0, -0.6, 0, 0.8], atol=1e-12)


# ---------------------------------------------------------------------------------------------- hand-written
LOCALITE_RAS = """<?xml version="1.0" encoding="UTF-8"?>
<InstrumentMarkerList coordinateSpace="RAS">
    <!--typed by hand for the test-->
    <InstrumentMarker alwaysVisible="false" index="0" selected="false">
        <Marker additionalInformation="" color="#ff0000" description="DLPFC plan" set="true">
            <Matrix4D data00="0.6" data01="0.0" data02="-0.8" data03="-40.0"
                      data10="0.0" data11="-1.0" data12="0.0" data13="50.0"
                      data20="-0.8" data21="0.0" data22="-0.6" data23="70.0"
                      data30="0.0" data31="0.0" data32="0.0" data33="1.0"/>
        </Marker>
    </InstrumentMarker>
    <InstrumentMarker alwaysVisible="true" index="1" selected="false">
        <Marker additionalInformation="" color="#00ff00" description="vertex" set="true">
            <Matrix4D data00="0" data01="0" data02="-1" data03="0"
                      data10="0" data11="-1" data12="0" data13="0"
                      data20="-1" data21="0" data22="0" data23="100"
                      data30="0" data31="0" data32="0" data33="1"/>
        </Marker>
    </InstrumentMarker>
</InstrumentMarkerList>
"""

# the same first marker in an LPS (DICOM) session: x and y rows negated
LOCALITE_LPS = """<?xml version="1.0" encoding="UTF-8"?>
<InstrumentMarkerList coordinateSpace="LPS">
    <InstrumentMarker alwaysVisible="false" index="0" selected="false">
        <Marker color="#0000ff" description="DLPFC plan" set="true">
            <Matrix4D data00="-0.6" data01="-0.0" data02="0.8" data03="40.0"
                      data10="-0.0" data11="1.0" data12="-0.0" data13="-50.0"
                      data20="-0.8" data21="0.0" data22="-0.6" data23="70.0"
                      data30="0.0" data31="0.0" data32="0.0" data33="1.0"/>
        </Marker>
    </InstrumentMarker>
</InstrumentMarkerList>
"""

LOCALITE_TRIGGERS = """<?xml version="1.0" encoding="UTF-8"?>
<TriggerMarkerList coordinateSpace="RAS" isOnlineReading="false" startTime="10:00:00.000">
    <ResponseParameters selectedResponseChannel="0">
        <responseDescription id="valueA" maxValue="200.0" minValue="0.0" name="Value A (di/dt)" unit="A/us"/>
        <responseDescription id="amplitudeA" maxValue="100.0" minValue="0.0" name="Amplitude A" unit="%"/>
    </ResponseParameters>
    <TriggerMarker color="#ffafaf" description="" recordingTime="1000" selected="false" set="true" visibility="true">
        <ResponseValues>
            <Value key="valueA" response="84.0"/>
            <Value key="response" response="NaN"/>
            <Value key="amplitudeA" response="60.0"/>
        </ResponseValues>
        <Matrix4D data00="0.6" data01="0.0" data02="-0.8" data03="-40.0"
            data10="0.0" data11="-1.0" data12="0.0" data13="50.0"
            data20="-0.8" data21="0.0" data22="-0.6" data23="70.0"
            data30="0.0" data31="0.0" data32="0.0" data33="1.0"/>
    </TriggerMarker>
    <TriggerMarker color="#ffafaf" description="" recordingTime="6000" selected="false" set="false" visibility="true">
        <ResponseValues>
            <Value key="valueA" response="NaN"/>
            <Value key="amplitudeA" response="0.0"/>
        </ResponseValues>
        <Matrix4D data00="1.0" data01="0.0" data02="0.0" data03="0.0"
            data10="0.0" data11="1.0" data12="0.0" data13="0.0"
            data20="0.0" data21="0.0" data22="1.0" data23="0.0"
            data30="0.0" data31="0.0" data32="0.0" data33="1.0"/>
    </TriggerMarker>
</TriggerMarkerList>
"""

BRAINSIGHT = """# Version: 12
# Coordinate system: NIfTI:Aligned
# Created by: Brainsight 2.4
# Units: millimetres, degrees, milliseconds, and microvolts
# Encoding: UTF-8
# Notes: Each column is delimited by a tab. Each value within a column is delimited by a semicolon.
# Target Name\tLoc. X\tLoc. Y\tLoc. Z\tm0n0\tm0n1\tm0n2\tm1n0\tm1n1\tm1n2\tm2n0\tm2n1\tm2n2
DLPFC plan\t-40.000\t50.000\t70.000\t0.800\t0.000\t0.600\t0.000\t1.000\t0.000\t-0.600\t0.000\t0.800
# Electrode Name\tElectrode Type\tSession Name\tLoc. X\tLoc. Y\tLoc. Z
F3\tEEG\tSession 1\t-48.9\t51.6\t41.4
# Sample Name\tSession Name\tIndex\tAssoc. Target\tLoc. X\tLoc. Y\tLoc. Z\tm0n0\tm0n1\tm0n2\tm1n0\tm1n1\tm1n2\tm2n0\tm2n1\tm2n2\tDist. to Target
Sample 1\tSession 1\t1\tDLPFC plan\t-40.000\t50.000\t70.000\t0.800\t0.000\t0.600\t0.000\t1.000\t0.000\t-0.600\t0.000\t0.800\t0.000
"""


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_hand_written_localite_instrument_markers(tmp_path):
    ras = read_localite(_write(tmp_path, "InstrumentMarker_ras.xml", LOCALITE_RAS))
    assert list(ras) == ["DLPFC plan", "vertex"]
    np.testing.assert_allclose(ras["DLPFC plan"].matrix, EXPECTED, atol=1e-12)
    # the second marker: Localite x (= coil +z) = (0, 0, -1) straight down, y = (0, -1, 0) -> coil y = (0, 1, 0),
    # z = coil x = (-1, 0, 0) = y cross z
    v = ras["vertex"].pose
    np.testing.assert_allclose(v.x_axis, [-1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(v.z_axis, [0, 0, -1], atol=1e-12)
    np.testing.assert_allclose(v.y_axis, [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(v.center_mm, [0, 0, 100], atol=1e-12)
    lps = read_localite(_write(tmp_path, "InstrumentMarker_lps.xml", LOCALITE_LPS))
    np.testing.assert_allclose(lps["DLPFC plan"].matrix, EXPECTED, atol=1e-12)
    assert detect_format(tmp_path / "InstrumentMarker_lps.xml") == "localite"


def test_hand_written_localite_trigger_markers(tmp_path):
    p = _write(tmp_path, "TriggerMarkers_Coil0_20260101.xml", LOCALITE_TRIGGERS)
    with pytest.warns(NavigationWarning, match="skipped 1 trigger marker"):
        poses = read_localite(p)
    assert list(poses) == ["trigger_001"]
    t = poses["trigger_001"]
    assert t.kind == "localite-trigger" and t.didt_a_per_us == 84.0 and t.percent_output == 60.0
    assert t.info["recording_time_ms"] == 1000.0
    np.testing.assert_allclose(t.matrix, EXPECTED, atol=1e-12)


def test_hand_written_brainsight(tmp_path):
    p = _write(tmp_path, "export.txt", BRAINSIGHT)
    assert detect_format(p) == "brainsight"
    poses = read_brainsight(p)
    assert list(poses) == ["DLPFC plan", "Sample 1"]          # the electrode table is not a coil pose
    assert poses["DLPFC plan"].kind == "brainsight-target" and poses["Sample 1"].kind == "brainsight-sample"
    assert poses["Sample 1"].info["assoc_target"] == "DLPFC plan" and poses["Sample 1"].info["line"] == 12
    for p_ in poses.values():
        np.testing.assert_allclose(p_.matrix, EXPECTED, atol=1e-12)


def test_brainsight_three_decimals_are_orthonormalised(tmp_path):
    """Brainsight writes 3 decimals: 0.707 is not exactly cos 45°; the reader returns the nearest rotation."""
    text = BRAINSIGHT.split("# Electrode")[0].replace(
        "0.800\t0.000\t0.600\t0.000\t1.000\t0.000\t-0.600\t0.000\t0.800",
        "0.707\t0.000\t0.707\t0.000\t1.000\t0.000\t-0.707\t0.000\t0.707")
    pose = read_brainsight(_write(tmp_path, "r.txt", text))["DLPFC plan"].pose
    s = np.sqrt(0.5)
    np.testing.assert_allclose(pose.z_axis, [s, 0, -s], atol=1e-12)
    np.testing.assert_allclose(pose.x_axis, [-s, 0, -s], atol=1e-12)


# ---------------------------------------------------------------------------------------------- bad files
def _marker(matrix_attrs, space='coordinateSpace="RAS"'):
    return (f'<?xml version="1.0"?>\n<InstrumentMarkerList {space}>\n  <InstrumentMarker>\n'
            f'    <Marker description="M1">\n      <Matrix4D {matrix_attrs}/>\n    </Marker>\n'
            f'  </InstrumentMarker>\n</InstrumentMarkerList>\n')


def _attrs(m):
    return " ".join(f'data{i}{j}="{m[i][j]}"' for i in range(4) for j in range(4))


GOOD = [[0.6, 0, -0.8, -40], [0, -1, 0, 50], [-0.8, 0, -0.6, 70], [0, 0, 0, 1]]


@pytest.mark.parametrize("text, match", [
    ("<InstrumentMarkerList coordinateSpace='RAS'><InstrumentMarker>", r"line 1: not well-formed XML"),
    ('<?xml version="1.0"?>\n<Session/>\n', r"root element <Session>"),
    (_marker(_attrs(GOOD), space=""), r"coordinateSpace=None"),
    (_marker(_attrs(GOOD), space='coordinateSpace="XYZ"'), r"coordinateSpace='XYZ'"),
    (_marker(_attrs(GOOD).replace('data23="70"', "")), r"line 3: <InstrumentMarker> #1 \(M1\): <Matrix4D> lacks attribute 'data23'"),
    (_marker(_attrs(GOOD).replace('data23="70"', 'data23="seventy"')), r"data23='seventy' is not a number"),
    (_marker(_attrs(GOOD).replace('data23="70"', 'data23="nan"')), r"NaN or inf"),
    (_marker(_attrs([[1.2, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])), r"line 3.*not orthonormal"),
    (_marker(_attrs([[-1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])), r"mirror"),
    (_marker(_attrs(GOOD).replace('data30="0"', 'data30="5"')), r"bottom row"),
    ('<?xml version="1.0"?>\n<InstrumentMarkerList coordinateSpace="RAS">\n</InstrumentMarkerList>\n',
     r"no <InstrumentMarker> with a pose"),
])
def test_bad_localite_files(tmp_path, text, match):
    p = _write(tmp_path, "bad.xml", text)
    with pytest.raises(NavigationFileError, match=match) as exc:
        read_localite(p)
    assert str(p) in str(exc.value)


_HDR = "# Version: 12\n# Coordinate system: NIfTI:Aligned\n# Encoding: UTF-8\n"
_COLS = "# Target Name\tLoc. X\tLoc. Y\tLoc. Z\tm0n0\tm0n1\tm0n2\tm1n0\tm1n1\tm1n2\tm2n0\tm2n1\tm2n2\n"
_ROW = "T\t-40\t50\t70\t0.8\t0\t0.6\t0\t1\t0\t-0.6\t0\t0.8\n"


@pytest.mark.parametrize("text, match", [
    ("# Coordinate system: NIfTI:Aligned\n" + _COLS + _ROW, r"line 2: table header before the '# Version:' line"),
    (_HDR.replace("NIfTI:Aligned", "World") + _COLS + _ROW, r"line 2: coordinate system 'World' is not supported"),
    (_HDR.replace("UTF-8", "MacRoman") + _COLS + _ROW, r"line 3: encoding 'MacRoman'"),
    (_HDR + _COLS.replace("\tm2n2", "") + _ROW, r"line 4: the table header lacks column\(s\) m2n2"),
    (_HDR + _COLS + "T\t-40\t50\t70\t0.8\t0\t0.6\n", r"line 5: 7 tab-separated values"),
    (_HDR + _COLS + _ROW.replace("\t70\t", "\t(null)\t"), r"line 5: column 'Loc. Z' is '\(null\)', not a number"),
    (_HDR + _COLS + _ROW.replace("0.8\t0\t0.6", "1.5\t0\t0.6"), r"line 5 \(target 'T'\).*not orthonormal"),
    (_HDR + _ROW, r"line 4: a data line outside any table"),
    (_HDR + _COLS, r"no targets or samples"),
    ("# Created by: someone\n\n", r"no '# Version:' header line"),
])
def test_bad_brainsight_files(tmp_path, text, match):
    p = _write(tmp_path, "bad.txt", text)
    with pytest.raises(NavigationFileError, match=match) as exc:
        read_brainsight(p)
    assert str(p) in str(exc.value)


def test_not_utf8_and_unknown_formats(tmp_path):
    p = tmp_path / "latin1.txt"
    p.write_bytes(("# Version: 12\n" + _COLS + "Zielpunkt \u00e4\t" + _ROW.split("\t", 1)[1]).encode("latin-1"))
    with pytest.raises(NavigationFileError, match="not UTF-8"):
        read_brainsight(p)
    q = _write(tmp_path, "x.csv", "a,b,c\n")
    with pytest.raises(NavigationFileError, match="not a Localite XML, Brainsight text"):
        import_poses(q)
    with pytest.raises(NavigationFileError, match="does not exist"):
        resolve_pose(tmp_path / "missing.xml")


def test_rigid_pose_tolerance(tmp_path):
    m = np.array(EXPECTED)
    m[:3, :3] += 1e-4 * np.array([[1, -2, 0.5], [0.3, 1, -1], [2, 0, -0.7]])   # rounding-sized: accepted
    out = rigid_pose(m, "here")
    assert np.abs(out[:3, :3].T @ out[:3, :3] - np.eye(3)).max() < 1e-12
    np.testing.assert_allclose(out, EXPECTED, atol=1e-3)
    with pytest.raises(NavigationFileError, match="here: the rotation part is not orthonormal"):
        rigid_pose(np.diag([1.05, 1, 1, 1]), "here")                          # 5 % scaling: refused
    with pytest.raises(NavigationFileError, match="expected a 4x4"):
        rigid_pose(np.eye(3), "here")


def test_resolve_pose_names(tmp_path):
    p = write_localite({"a": EXPECTED, "b": EXPECTED}, tmp_path / "two.xml")
    assert resolve_pose(f"{p}:b").name == "b"
    with pytest.raises(NavigationFileError, match=r"holds 2 poses; choose one with .*'a', 'b'"):
        resolve_pose(p)
    with pytest.raises(NavigationFileError, match=r"no pose named 'c'; names: 'a', 'b'"):
        resolve_pose(f"{p}:c")
    one = write_brainsight({"only": EXPECTED}, tmp_path / "one.txt")
    assert resolve_pose(one).name == "only"
    dup = write_localite([("x", EXPECTED), ("x", EXPECTED)], tmp_path / "dup.xml")
    assert list(read_localite(dup)) == ["x", "x #2"]


# ---------------------------------------------------------------------------------------------- result export
def _result(head="mni152_coarse", failed_heuristic=True):
    pose = CoilPose(EXPECTED)
    h = {"eeg_f3": {"pose": EXPECTED.tolist(), "efield_at_target_v_per_m_per_a_per_us": 1.1}}
    if failed_heuristic:
        h["beam_f3"] = {"error": "TargetError: no landmarks"}
    return {"schema": "tmsfield-placement/1", "tmsfield_version": "0", "created_utc": "2026-01-01T00:00:00Z",
            "head": {"name": head, "source": head, "n_cortex_vertices": 10}, "coil": {"name": "c", "source": "c"},
            "stimulator": {}, "target": {"name": "fox2012_sgacc", "subject_mm": [-38, 44, 26], "roi_radius_mm": 5.0,
                                         "quantity": "magnitude"},
            "method": "optimised", "pose": pose.tolist(), "position_mm": [-40, 50, 70],
            "scalp_point_mm": [-40, 50, 66], "handle_angle_deg": 45.0, "gap_mm": 4.0,
            "efield_at_target_v_per_m_per_a_per_us": 1.25, "peak_efield_v_per_m_per_a_per_us": 2.0,
            "dose": {"reachable": True, "warnings": []}, "settings": {}, "heuristics": h}


def test_export_template_result_warns_in_file(tmp_path):
    for fmt, ext in (("localite", "xml"), ("brainsight", "txt")):
        info = export_placements(_result(), tmp_path / f"plan.{ext}", fmt=fmt)
        assert info["names"] == ["optimised", "eeg_f3"]
        assert len(info["warnings"]) == 1 and "template MNI152 space, NOT in this patient's" in info["warnings"][0]
        text = (tmp_path / f"plan.{ext}").read_text()
        assert "NOT in this patient's scanner space" in text and "beam_f3" in text   # the failed one is named
        with pytest.warns(NavigationWarning, match="planned on the MNI152 template"):
            poses = import_poses(tmp_path / f"plan.{ext}")
        np.testing.assert_allclose(poses["eeg_f3"].matrix, EXPECTED, atol=1e-6)
    info = export_placements(_result(head="subject01"), tmp_path / "s.xml", space="LPS")
    assert info["warnings"] == [] and "NOT in this" not in (tmp_path / "s.xml").read_text()
    np.testing.assert_allclose(read_localite(tmp_path / "s.xml")["optimised"].matrix, EXPECTED, atol=1e-12)
    with pytest.raises(InputError, match="Brainsight files use the NIfTI's RAS"):
        export_placements(_result(), tmp_path / "b.txt", space="LPS")
    with pytest.raises(InputError, match="cannot tell the navigator"):
        export_placements(_result(), tmp_path / "b.dat")


def test_cli_export_template_warning_on_terminal(tmp_path, capsys):
    from tmsfield.cli.main import main
    from tmsfield.targets.results import write_result

    r = write_result(tmp_path / "r.json", _result())
    assert main(["export", str(r), "--to", "localite", "-o", str(tmp_path / "p.xml"), "--space", "lps"]) == 0
    cap = capsys.readouterr()
    assert "optimised, eeg_f3" in cap.out and "NOT in this patient's scanner space" in cap.err
    assert 'coordinateSpace="LPS"' in (tmp_path / "p.xml").read_text()
    assert main(["import", str(tmp_path / "p.xml"), "-o", str(tmp_path / "poses.json")]) == 0
    out = capsys.readouterr().out
    assert "'eeg_f3'" in out and "WARNING" in out and "template space" in out
    np.testing.assert_allclose(read_poses_json(tmp_path / "poses.json")["optimised"].matrix, EXPECTED, atol=1e-12)
    truncated = '<InstrumentMarkerList coordinateSpace="RAS">\n  <InstrumentMarker>\n'
    assert main(["import", str(_write(tmp_path, "bad.xml", truncated))]) == 2
    assert "bad.xml, line 3: not well-formed XML" in capsys.readouterr().err
    assert main(["import", str(_write(tmp_path, "other.xml", "<x/>"))]) == 2
    assert "not a Localite InstrumentMarkerList" in capsys.readouterr().err


def test_untracked_only_trigger_file_is_an_error(tmp_path):
    text = LOCALITE_TRIGGERS.split("    <TriggerMarker color")[0] + "    <TriggerMarker" + \
        LOCALITE_TRIGGERS.split("    <TriggerMarker")[2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NavigationWarning)
        with pytest.raises(NavigationFileError, match="no tracked <TriggerMarker>"):
            read_localite(_write(tmp_path, "t.xml", text))
