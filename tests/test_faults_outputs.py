"""Outputs: nothing non-finite or half-written is saved, write failures name the folder and the fix, and every
command checks its output paths before the work (a typo in --out costs nothing)."""

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tmsfield._atomic as atomic
from tmsfield.cli.main import main
from tmsfield.errors import NonFiniteError, OutputError, TmsfieldError
from targets_standins import fig8_dipole_coil, write_coil, write_sphere_head


# ----------------------------------------------------------------------------------------------- atomic writes
def test_full_disk_keeps_the_old_file_and_names_the_fix(tmp_path, monkeypatch):
    target = tmp_path / "r.json"
    target.write_text("old")

    def full(fd, data):
        os.write(fd, bytes(data)[:3])                 # part of it reaches the temporary file, then ENOSPC
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic, "_write_fd", full)
    with pytest.raises(OutputError) as e:
        atomic.atomic_write_text(target, "new contents")
    msg = str(e.value)
    assert "no space left on the device holding" in msg and str(tmp_path) in msg and "free some space" in msg
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


@pytest.mark.parametrize("code, words", [(errno.EROFS, "read-only file system"), (errno.EACCES, r"chmod u\+w")])
def test_unwritable_folder_names_the_fix(tmp_path, monkeypatch, code, words):
    real = os.open

    def fake(path, flags, *a, **k):
        if flags & os.O_CREAT:
            raise OSError(code, os.strerror(code), str(path))
        return real(path, flags, *a, **k)

    monkeypatch.setattr(os, "open", fake)
    with pytest.raises(OutputError, match=words) as e:
        atomic.atomic_write_bytes(tmp_path / "x.bin", b"data")
    assert str(tmp_path) in str(e.value)
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_interrupted_write_leaves_no_temporary(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic.atomic_path(tmp_path / "a.png") as tmp:
            Path(tmp).write_bytes(b"half")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path):
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    me = atomic.host_tag()
    dead = tmp_path / f".r.json.~{p.pid}@{me}~0123abcd.json"
    live = tmp_path / f".r.json.~{os.getpid()}@{me}~89abcdef.json"
    foreign = tmp_path / f".r.json.~{p.pid}@another-host~0123abcd.json"
    user = tmp_path / ".r.json.~notours"
    for f in (dead, live, foreign, user):
        f.write_text("x")
    assert atomic.remove_stale_temporaries(tmp_path) == [dead]
    assert sorted(f.name for f in tmp_path.iterdir()) == sorted(f.name for f in (live, foreign, user))


# ------------------------------------------------------------------------------------------- non-finite values
@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("faults_outputs")
    head, lm = write_sphere_head(d / "head", 3, 3)
    coil = write_coil(d / "fig8.ccd", fig8_dipole_coil())
    out = d / "r.json"
    assert main(["target", "--head", str(head), "--landmarks", str(lm), "--coil", str(coil), "--model", "sphere",
                 "--method", "eeg_f3", "--no-heuristics", "--subject", "-40", "40", "52", "--out", str(out)]) == 0
    return {"dir": d, "head": head, "lm": lm, "coil": coil, "result": json.loads(out.read_text()), "json": out}


@pytest.mark.parametrize("where, bad", [("efield_at_target_v_per_m_per_a_per_us", float("nan")),
                                        ("position_mm", [0.0, float("inf"), 1.0]),
                                        ("dose.deep", {"x": np.float32("nan")})])
def test_result_with_nan_or_inf_is_refused(files, tmp_path, where, bad):
    from tmsfield.targets.results import write_result
    res = json.loads(json.dumps(files["result"]))
    keys = where.split(".")
    node = res
    for k in keys[:-1]:
        node = node[k]
    node[keys[-1]] = bad
    out = tmp_path / "bad.json"
    with pytest.raises(NonFiniteError) as e:
        write_result(out, res)
    assert keys[-1] in str(e.value) and str(out) in str(e.value) and "not a finite number" in str(e.value)
    assert list(tmp_path.iterdir()) == []


def test_summary_row_with_nan_is_refused(files, tmp_path):
    from tmsfield.cli.batch import ManifestRow, _summary_row
    from tmsfield.targets.run import TargetJob
    row = ManifestRow("r1", 2, TargetJob(head=str(files["head"])))
    short = {"efield": float("nan"), "pos": [0.0, 0.0, 0.0], "angle": 0.0, "need": None, "reachable": True}
    with pytest.raises(NonFiniteError, match="summary.csv"):
        _summary_row(row, "ok", tmp_path / "r1.json", short)


def test_exports_refuse_nan(tmp_path):
    pytest.importorskip("nibabel")
    from tmsfield.viz.export import export_curv, export_gifti
    vals = np.ones(10)
    vals[7] = np.nan
    with pytest.raises(NonFiniteError, match=r"\[7\]"):
        export_gifti(tmp_path / "e.func.gii", vals)
    with pytest.raises(NonFiniteError):
        export_curv(tmp_path / "lh.efield", vals, n_faces=4)
    vec = np.ones((10, 3))
    vec[2, 1] = np.inf
    with pytest.raises(NonFiniteError, match=r"\[2\]"):
        export_gifti(tmp_path / "v.func.gii", vec)
    assert list(tmp_path.iterdir()) == []


def test_png_of_a_non_finite_float_image_is_refused(tmp_path):
    pytest.importorskip("vtkmodules")
    from tmsfield.viz.renderer import write_png
    img = np.zeros((4, 5, 3))
    img[1, 2, 0] = np.nan
    with pytest.raises(NonFiniteError, match="pixel"):
        write_png(tmp_path / "x.png", img)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------------- outputs checked up front
@pytest.fixture
def no_work(monkeypatch):
    """Any computation fails the test: the refusal must come before it."""
    import tmsfield
    import tmsfield.targets.run as run
    import tmsfield.viz.result_scene as rs

    def fail(*a, **k):
        pytest.fail("work started before the output path was checked")

    monkeypatch.setattr(run, "run_target", fail)
    monkeypatch.setattr(run.SetupCache, "solver", fail)
    monkeypatch.setattr(rs, "load_result", fail)
    monkeypatch.setattr(tmsfield, "load_head", fail)


def _target(files, *extra):
    return ["target", "--head", str(files["head"]), "--landmarks", str(files["lm"]), "--coil", str(files["coil"]),
            "--model", "sphere", "--method", "eeg_f3", "--no-heuristics", "--subject", "-40", "40", "52", *extra]


def test_target_out_existing_folder_gets_target_json(files, tmp_path, capsys):
    assert main(_target(files, "--out", str(tmp_path))) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["subject_-40_40_52.json"]
    assert json.loads((tmp_path / "subject_-40_40_52.json").read_text())["method"] == "eeg_f3"
    assert str(tmp_path / "subject_-40_40_52.json") in capsys.readouterr().out


@pytest.mark.parametrize("make", ["missing", "trailing_slash", "file_as_folder"])
def test_target_bad_out_refused_before_the_solver(files, tmp_path, no_work, capsys, make):
    if make == "missing":
        out = str(tmp_path / "nope" / "r.json")
    elif make == "trailing_slash":
        out = str(tmp_path / "nope") + "/"
    else:
        (tmp_path / "f").write_text("a file")
        out = str(tmp_path / "f" / "r.json")
    assert main(_target(files, "--out", out)) == 2
    err = capsys.readouterr().err
    assert "--out" in err and str(tmp_path) in err, err
    assert "mkdir -p" in err or "is a file" in err, err


def test_target_unwritable_folder_refused_before_the_solver(files, tmp_path, no_work, monkeypatch, capsys):
    real = os.open

    def fake(path, flags, *a, **k):
        if flags & os.O_CREAT and Path(path).parent == tmp_path:
            raise OSError(errno.EACCES, "Permission denied", str(path))
        return real(path, flags, *a, **k)

    monkeypatch.setattr(os, "open", fake)
    assert main(_target(files, "--out", str(tmp_path / "r.json"))) == 2
    err = capsys.readouterr().err
    assert "permission denied" in err and f"chmod u+w {tmp_path}" in err, err


def test_render_outputs_checked_before_the_field(files, tmp_path, no_work, capsys):
    assert main(["render", str(files["json"]), "-o", str(tmp_path / "nope" / "x.png")]) == 2
    assert "-o/--output" in capsys.readouterr().err
    (tmp_path / "blocker").write_text("a file")
    assert main(["render", str(files["json"]), "-o", str(tmp_path / "x.png"), "--export", str(tmp_path / "blocker")]) == 2
    assert "--export" in capsys.readouterr().err
    assert main(["render", str(files["json"]), "-o", str(tmp_path / "x.png"),
                 "--export", str(tmp_path / "no" / "such")]) == 2
    assert "mkdir -p" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]


def test_render_into_existing_folder_names_the_png_after_the_result(files, tmp_path):
    from tmsfield._outputs import output_file
    assert output_file(tmp_path, default_name=f"{files['json'].stem}.png") == tmp_path / "r.png"


def test_batch_out_with_missing_parent_refused_before_any_row(files, tmp_path, no_work, capsys):
    m = tmp_path / "m.csv"
    m.write_text(f"head,target,coil,landmarks\n{files['head']},subject:-40 40 52,{files['coil']},{files['lm']}\n")
    assert main(["batch", str(m), "--out", str(tmp_path / "a" / "b"), "--model", "sphere", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "parent folder" in err and "mkdir -p" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.csv"]


def test_view_save_checked_before_the_head_is_loaded(files, tmp_path, no_work, capsys):
    assert main(["view", "--target", "0", "0", "70", "--head", "mni152_coarse",
                 "--save", str(tmp_path / "nope" / "p.json")]) == 2
    assert "--save" in capsys.readouterr().err


def test_output_errors_are_tmsfield_errors():
    assert issubclass(OutputError, TmsfieldError) and issubclass(NonFiniteError, OutputError)
    assert issubclass(OutputError, ValueError)
