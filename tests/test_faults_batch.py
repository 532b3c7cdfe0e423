"""Faults injected into ``tmsfield batch`` (sphere model, so runs take seconds): SIGKILL at random moments
then resume, two runs on one folder at once, stale and live row claims, a full disk and a read-only folder.

After each: every manifest row exactly once in summary.csv, every JSON parses and matches an uninterrupted
run, and no temporary or lock file is left.
"""

import csv
import errno
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tmsfield.cli.main import main
from tmsfield.targets.results import read_result
from targets_standins import fig8_dipole_coil, write_coil, write_sphere_head

REPO = Path(__file__).resolve().parents[1]
# a scalp heuristic per row (no search): rows take ~0.1 s, mostly writing, so kills land in the writes
OPTS = ["--model", "sphere", "--method", "eeg_f3", "--no-heuristics", "--quiet"]
N_ROWS = 12


def _cmd(manifest, out):
    return [sys.executable, "-m", "tmsfield.cli", "batch", str(manifest), "--out", str(out), *OPTS]


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Head, coil, an N_ROWS manifest, and the results of one uninterrupted run (in a subprocess, timed)."""
    d = tmp_path_factory.mktemp("faults_batch")
    write_sphere_head(d / "h1", 3, 3)            # coarse: loads fast in every subprocess
    write_coil(d / "fig8.ccd", fig8_dipole_coil())
    rows = [f"h1,subject:{x} {40 + (i % 3)} 52,fig8.ccd,h1_landmarks.json"
            for i, x in enumerate(range(-45, -45 + 2 * N_ROWS, 2))]
    m = d / "m.csv"
    m.write_text("head,target,coil,landmarks\n" + "\n".join(rows) + "\n")
    ref = d / "ref"
    t0 = time.time()
    subprocess.run(_cmd(m, ref), cwd=d, env=_env(), check=True, capture_output=True, timeout=300)
    jsons = list(ref.glob("*.json"))
    values = {p.stem: read_result(p)["efield_at_target_v_per_m_per_a_per_us"] for p in jsons}
    assert len(values) == N_ROWS
    first = min(p.stat().st_mtime for p in jsons)
    startup = first - t0                                   # until the first row is on disk
    writing = max(p.stat().st_mtime for p in jsons) - first   # from the first row to the last
    return {"dir": d, "manifest": m, "ref": values, "startup": startup, "writing": writing}


def _summary_ids(out):
    with open(out / "summary.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [r["id"] for r in rows], rows


def _check_complete(out, ref):
    """Every row exactly once, done, its JSON valid and equal to the uninterrupted run; no debris."""
    ids, rows = _summary_ids(out)
    assert sorted(ids) == sorted(ref) and len(ids) == len(set(ids)), ids
    assert all(r["status"] in ("ok", "skipped") for r in rows), rows
    for p in out.glob("*.json"):
        res = read_result(p)                               # parses and validates
        assert res["efield_at_target_v_per_m_per_a_per_us"] == pytest.approx(ref[p.stem], rel=1e-9)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([f"{i}.json" for i in ref] + ["summary.csv"]), names   # no temp or lock file


def _first_row_written(out, proc, timeout=120.0):
    t_end = time.time() + timeout
    while time.time() < t_end and proc.poll() is None:
        if out.is_dir() and any(out.glob("[!.]*.json")):
            return
        time.sleep(0.005)


@pytest.mark.random
def test_sigkill_at_random_moments_then_resume(setup, rng, tmp_path):
    """Runs killed (SIGKILL) at random moments, one during start-up and three while rows are being written
    (moments drawn over the uninterrupted run's writing phase); each resumed run completes the batch."""
    for trial in range(4):
        out = tmp_path / f"out{trial}"
        proc = subprocess.Popen(_cmd(setup["manifest"], out), cwd=setup["dir"], env=_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if trial == 0:
            delay = float(rng.uniform(0.0, 1.0)) * setup["startup"]
        else:
            _first_row_written(out, proc)
            delay = float(rng.uniform(0.0, 1.1)) * setup["writing"]
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        if out.is_dir():                                   # what the kill left: every file whole or absent
            for p in out.glob("[!.]*.json"):
                read_result(p)
            if (out / "summary.csv").exists():
                ids, _ = _summary_ids(out)
                assert len(ids) == len(set(ids))
        assert main(["batch", str(setup["manifest"]), "--out", str(out), *OPTS]) == 0, f"trial {trial}, {delay:.2f} s"
        _check_complete(out, setup["ref"])


def _computed(stdout):
    m = re.search(r"batch: (\d+) computed, (\d+) already done", stdout)
    assert m, stdout
    return int(m.group(1)), int(m.group(2))


def test_two_runs_at_once_compute_each_row_once(setup, tmp_path):
    out = tmp_path / "shared"
    procs = [subprocess.Popen(_cmd(setup["manifest"], out), cwd=setup["dir"], env=_env(), text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    computed = [_computed(o)[0] for o, _ in outs]
    assert sum(computed) == N_ROWS, outs                   # no row computed twice, none forgotten
    _check_complete(out, setup["ref"])


def _lock(out, rid, **owner):
    (out / f"{rid}.lock").write_text(json.dumps(owner))


def _dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_claims_taken_over_live_and_foreign_ones_respected(setup, tmp_path, capsys):
    from tmsfield._atomic import host_tag, process_start
    out = tmp_path / "claims"
    out.mkdir()
    ids = sorted(setup["ref"])
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        _lock(out, ids[0], pid=_dead_pid(), host=host_tag(), start=None, time="then")        # killed run
        _lock(out, ids[1], pid=sleeper.pid, host=host_tag(), start=process_start(sleeper.pid), time="now")
        _lock(out, ids[2], pid=1, host="another-machine", start=None, time="now")
        (out / f"{ids[3]}.lock").write_text("")                # killed between create and write ...
        old = time.time() - 3600
        os.utime(out / f"{ids[3]}.lock", (old, old))            # ... long ago
        (out / f".{ids[4]}.json.~{_dead_pid()}@{host_tag()}~0123abcd.json").write_text('{"half')   # its debris
        assert main(["batch", str(setup["manifest"]), "--out", str(out), *OPTS]) == 0
        text = capsys.readouterr().out
        assert _computed(text)[0] == N_ROWS - 2 and "2 claimed by another run" in text
        assert f"delete {out / (ids[2] + '.lock')}" in text
        listed, _ = _summary_ids(out)
        assert sorted(listed) == sorted(set(ids) - {ids[1], ids[2]})
        assert sorted(p.name for p in out.glob("*.lock")) == [f"{ids[1]}.lock", f"{ids[2]}.lock"]
        assert not list(out.glob(".*"))
    finally:
        sleeper.kill()
        sleeper.wait()
    # the owner of the live claim died meanwhile: its row is taken over; the other machine's claim still stands
    assert main(["batch", str(setup["manifest"]), "--out", str(out), *OPTS]) == 0
    assert _computed(capsys.readouterr().out)[0] == 1
    (out / f"{ids[2]}.lock").unlink()                          # what the message tells the user to do
    assert main(["batch", str(setup["manifest"]), "--out", str(out), *OPTS]) == 0
    _check_complete(out, setup["ref"])


def _snapshot(out):
    return {p.name: p.read_bytes() for p in out.glob("*.json")}


def test_full_disk_stops_with_the_fix_and_keeps_what_was_written(setup, tmp_path, monkeypatch, capsys):
    import tmsfield._atomic as atomic
    out = tmp_path / "full"
    real = atomic._write_fd
    writes = []

    def write_fd(fd, data):
        writes.append(len(data))
        if len(writes) > 8:     # summary, then (claim, row JSON, summary) twice, claim: row 3's JSON hits a full disk
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, data)

    monkeypatch.setattr(atomic, "_write_fd", write_fd)
    assert main(["batch", str(setup["manifest"]), "--out", str(out), *OPTS]) == 2
    err = capsys.readouterr().err
    assert "no space left on the device holding" in err and str(out) in err and "free some space" in err, err
    assert "re-run the same command" in err
    before = _snapshot(out)
    assert len(before) == 2 and all(read_result(out / n) for n in before)
    ids, rows = _summary_ids(out)
    assert len(ids) == 2 and all(r["status"] == "ok" for r in rows)
    assert sorted(p.name for p in out.iterdir()) == sorted([*before, "summary.csv"])   # no partial file, no lock
    monkeypatch.setattr(atomic, "_write_fd", real)             # space freed: the same command finishes the job
    assert main(["batch", str(setup["manifest"]), "--out", str(out), *OPTS]) == 0
    assert all(_snapshot(out)[n] == b for n, b in before.items())
    _check_complete(out, setup["ref"])


def _read_only_after(monkeypatch, folder, allowed):
    """os.open refuses to create files in ``folder`` (EROFS) after ``allowed`` creations (tests run as
    root, where a read-only mode bit does not stop writes)."""
    real = os.open
    created = []

    def fake(path, flags, *a, **k):
        if flags & os.O_CREAT and Path(path).parent == folder:
            created.append(path)
            if len(created) > allowed:
                raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real(path, flags, *a, **k)

    monkeypatch.setattr(os, "open", fake)


def test_read_only_folder_refused_up_front(setup, tmp_path, monkeypatch, capsys):
    import tmsfield.targets.run as run
    out = tmp_path / "ro"
    out.mkdir()
    monkeypatch.setattr(run, "run_target", lambda *a, **k: pytest.fail("computed before the output was checked"))
    _read_only_after(monkeypatch, out, 0)
    assert main(["batch", str(setup["manifest"]), "--out", str(out), *OPTS]) == 2
    err = capsys.readouterr().err
    assert "read-only file system" in err and str(out) in err and "--out" in err, err
    assert list(out.iterdir()) == []


def test_folder_turning_read_only_mid_batch(setup, tmp_path, monkeypatch, capsys):
    out = tmp_path / "ro2"
    out.mkdir()
    # creations: write probe, first summary, then per row: lock, JSON temp, summary temp -> two rows pass
    _read_only_after(monkeypatch, out, 8)
    assert main(["batch", str(setup["manifest"]), "--out", str(out), *OPTS]) == 2
    err = capsys.readouterr().err
    assert "read-only file system" in err and str(out) in err, err
    monkeypatch.undo()
    written = _snapshot(out)
    assert len(written) == 2 and all(read_result(out / n) for n in written)
    assert sorted(p.name for p in out.iterdir()) == sorted([*written, "summary.csv"])
    assert len(_summary_ids(out)[0]) == 2


@pytest.mark.parametrize("rid", ["../escape", "/abs/path", "a/b", "a\\b", "..", ".hidden", "~root", "C:x",
                                 "a\x00b", "tab\there"])
def test_manifest_ids_that_leave_the_output_folder_are_refused(setup, tmp_path, rid, capsys):
    m = tmp_path / "ids.csv"
    with open(m, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["head", "target", "coil", "landmarks", "id"])
        w.writerow([setup["dir"] / "h1", "subject:-40 40 52", setup["dir"] / "fig8.ccd",
                    setup["dir"] / "h1_landmarks.json", "fine"])
        w.writerow([setup["dir"] / "h1", "subject:-40 40 52", setup["dir"] / "fig8.ccd",
                    setup["dir"] / "h1_landmarks.json", rid])
    out = tmp_path / "o" / "res"
    out.parent.mkdir()
    assert main(["batch", str(m), "--out", str(out), *OPTS]) == 2
    err = capsys.readouterr().err
    assert "line 3" in err and "'id'" in err, err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["ids.csv", "o"]


def test_nul_in_a_manifest_path_is_refused(setup, tmp_path, capsys):
    m = tmp_path / "nul.csv"
    m.write_text("head,target,coil\nh1\x00x,subject:-40 40 52,fig8.ccd\n")
    assert main(["batch", str(m), *OPTS]) == 2
    err = capsys.readouterr().err
    assert "line 2" in err and "'head'" in err and "NUL" in err, err
