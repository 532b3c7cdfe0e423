"""Atomic outputs: all-or-nothing, and readable by the tools that consume them."""

import os
import stat

import pytest

from tmsfield._atomic import atomic_path, atomic_write_text
from tmsfield.targets.results import atomic_write_text as write_result_text


@pytest.mark.parametrize("writer", [atomic_write_text, write_result_text])
def test_written_files_get_the_usual_permissions(tmp_path, writer):
    old = os.umask(0o022)
    try:
        writer(tmp_path / "r.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "r.json").st_mode) == 0o644   # not mkstemp's 0o600


def test_failed_write_keeps_the_old_file_and_leaves_no_debris(tmp_path):
    target = tmp_path / "result.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            with open(tmp, "w") as fh:
                fh.write("half")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]
