"""``tmsfield batch``: manifest validation, per-row isolation, resume, workers and a Dask local cluster."""

import csv
import shutil

import pytest

from tmsfield.cli.main import main
from targets_standins import fig8_dipole_coil, write_coil, write_sphere_head

OPTS = ["--model", "sphere", "--search-radius", "6", "--no-heuristics", "--quiet"]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    d = tmp_path_factory.mktemp("batch")
    write_sphere_head(d / "h1", 4, 3)
    write_sphere_head(d / "h2", 4, 3)
    (d / "bad").mkdir()
    (d / "bad" / "scalp.gii").write_text("this is not a GIFTI file")
    (d / "bad" / "brain.gii").write_text("nor this")
    write_coil(d / "fig8.ccd", fig8_dipole_coil())
    return d


def _manifest(d, rows, name="m.csv", header="head,target,coil,landmarks"):
    p = d / name
    p.write_text(header + "\n" + "\n".join(rows) + "\n")
    return p


def _summary(out):
    with open(out / "summary.csv") as f:
        return {r["id"]: r for r in csv.DictReader(f)}


ROWS = ["h1,subject:-40 40 52,fig8.ccd,h1_landmarks.json",
        "h1,subject:-30 35 60,fig8.ccd,h1_landmarks.json",
        "bad,subject:-40 40 52,fig8.ccd,h1_landmarks.json",
        "h2,subject:-40 40 52,fig8.ccd,h2_landmarks.json"]


def test_bad_head_isolated_then_resume(base, capsys):
    d = base / "run1"
    d.mkdir()
    for p in base.iterdir():
        if p.name != "run1":
            (d / p.name).symlink_to(p)
    m = _manifest(d, ROWS)
    out = d / "res"
    rc = main(["batch", str(m), "--out", str(out), *OPTS])
    assert rc == 1                                             # one row failed
    s = _summary(out)
    status = [r["status"] for r in s.values()]
    assert status == ["ok", "ok", "error", "ok"], s
    bad = list(s.values())[2]
    assert "bad" in bad["error"] and bad["json"] == ""
    assert "FAILED" in capsys.readouterr().out
    jsons = sorted(p.name for p in out.glob("*.json"))
    assert len(jsons) == 3
    # resume: delete one row's JSON; a re-run recomputes only that row (and retries the bad one)
    victim = out / jsons[0]
    victim.unlink()
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("*.json")}
    main(["batch", str(m), "--out", str(out), *OPTS])
    s2 = _summary(out)
    assert [r["status"] for r in s2.values()] == ["ok", "skipped", "error", "skipped"]
    assert victim.exists()
    for name, t in mtimes.items():
        assert (out / name).stat().st_mtime_ns == t, f"{name} was recomputed"
    # changed settings invalidate stored rows
    main(["batch", str(m), "--out", str(out), *OPTS[:-2], "--gap", "5", "--no-heuristics", "--quiet"])
    assert [r["status"] for r in _summary(out).values()] == ["ok", "ok", "error", "ok"]


def test_interrupted_batch_completes_missing_rows(base):
    d = base / "run2"
    d.mkdir()
    for p in base.iterdir():
        if p.name not in ("run1", "run2"):
            (d / p.name).symlink_to(p)
    m = _manifest(d, [ROWS[0], ROWS[1], ROWS[3]])
    out = d / "res"
    main(["batch", str(m), "--out", str(out), "--max-rows", "1", *OPTS])   # stops after one row ("killed")
    assert [r["status"] for r in _summary(out).values()] == ["ok"]
    assert main(["batch", str(m), "--out", str(out), *OPTS]) == 0
    assert [r["status"] for r in _summary(out).values()] == ["skipped", "ok", "ok"]


def test_manifest_errors(base, capsys):
    m = _manifest(base, ["h1,ba46"], name="nocoil.csv", header="head,target")
    assert main(["batch", str(m), *OPTS]) == 2
    assert "missing column(s) ['coil']" in capsys.readouterr().err
    m = _manifest(base, ["h1,ba46,fig8.ccd", "nohead,ba46,fig8.ccd"], name="badpath.csv", header="head,target,coil")
    assert main(["batch", str(m), *OPTS]) == 2
    err = capsys.readouterr().err
    assert "line 3" in err and "'head'" in err and "nohead" in err
    m = _manifest(base, ["h1,nowhere,fig8.ccd"], name="badtarget.csv", header="head,target,coil")
    assert main(["batch", str(m), *OPTS]) == 2
    assert "line 2" in capsys.readouterr().err
    m = _manifest(base, ["h1,mni:1 2,fig8.ccd"], name="badmni.csv", header="head,target,coil")
    assert main(["batch", str(m), *OPTS]) == 2
    assert "three numbers" in capsys.readouterr().err
    assert not (base / "tmsfield-results").exists()


@pytest.mark.slow
def test_process_workers(base):
    d = base / "run3"
    d.mkdir()
    for p in base.iterdir():
        if p.name.startswith(("h", "fig8")):
            (d / p.name).symlink_to(p)
    m = _manifest(d, [ROWS[0], ROWS[3]])
    out = d / "res"
    assert main(["batch", str(m), "--out", str(out), "--workers", "2", *OPTS]) == 0
    assert [r["status"] for r in _summary(out).values()] == ["ok", "ok"]


@pytest.mark.slow
def test_dask_local_cluster(base):
    distributed = pytest.importorskip("distributed")
    d = base / "run4"
    d.mkdir()
    for p in base.iterdir():
        if p.name.startswith(("h", "fig8", "bad")):
            (d / p.name).symlink_to(p)
    m = _manifest(d, [ROWS[0], ROWS[2]])
    out = d / "res"
    with distributed.LocalCluster(n_workers=1, processes=False, host="127.0.0.1", protocol="tcp",
                                  dashboard_address=None) as cl:
        rc = main(["batch", str(m), "--out", str(out), "--scheduler", cl.scheduler_address, *OPTS])
    assert rc == 1
    assert [r["status"] for r in _summary(out).values()] == ["ok", "error"]
