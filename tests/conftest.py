"""Shared test fixtures."""

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_SIMNIBS = REPO_ROOT.parent / "shared" / "simnibs"


@pytest.fixture(scope="session")
def shared_simnibs():
    """Path to ../shared/simnibs (GPL-3 reference data), or skip the test with the reason."""
    if not SHARED_SIMNIBS.is_dir():
        pytest.skip(f"reference data not found at {SHARED_SIMNIBS} (the ../shared/simnibs folder beside the "
                    f"repo holds the SimNIBS coil and sphere files; it is not shipped with tmsfield)")
    return SHARED_SIMNIBS


@pytest.fixture(autouse=True)
def _private_cache_dir(tmp_path_factory, monkeypatch):
    """Viewer fast-map caches go to a per-test-session folder, never the user's ~/.cache."""
    monkeypatch.setenv("TMSFIELD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "tmsfield-cache"))
