"""Shared test fixtures, and the one seeded source of randomness every random test draws from.

Randomness
----------
A test that draws random inputs takes the ``rng`` fixture (a ``numpy.random.Generator``) and is
marked ``@pytest.mark.random``; nothing else in the suite may seed from the clock or call
``np.random.default_rng()`` on its own. The run's base seed is ``TMSFIELD_TEST_SEED`` when set, else
a fresh one; pytest prints it in its header and in the report of every failing random test, with the
one command that reproduces the failure::

    TMSFIELD_TEST_SEED=1234 python -m pytest 'tests/test_x.py::test_y'

Each test's generator is seeded from the base seed and the test's own name, so a test draws the same
numbers whatever else runs and in whatever order (pytest-xdist workers share the base seed).

``--seeds N`` runs every test that takes ``rng`` for N consecutive base seeds (seed, seed+1, ...),
the sweep ``python -m pytest -m random --seeds 200``. Fuzz tests (hypothesis) take their seed from
the same base seed; ``TMSFIELD_FUZZ_EXAMPLES`` sets their example budget (default 25).
"""

import os
import secrets
import zlib
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_SIMNIBS = REPO_ROOT.parent / "shared" / "simnibs"

_SEED_ENV = "TMSFIELD_TEST_SEED"
_SEED_KEY = "tmsfield_test_seed"


def _parse_seed(text):
    try:
        seed = int(str(text).strip(), 0)
    except ValueError:
        raise pytest.UsageError(f"{_SEED_ENV}={text!r} is not an integer; set it to the seed a failure "
                                f"report printed (e.g. {_SEED_ENV}=1234)") from None
    if not 0 <= seed < 2**32:
        raise pytest.UsageError(f"{_SEED_ENV}={seed} is outside 0 .. 2**32-1")
    return seed


def pytest_addoption(parser):
    parser.addoption("--seeds", type=int, default=1, metavar="N",
                     help="run every random test (those taking the rng fixture) for N consecutive seeds, "
                          f"starting at {_SEED_ENV} (or the run's fresh seed)")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    config.addinivalue_line("markers", "random: draws random inputs from the seeded rng fixture "
                                       f"({_SEED_ENV}); swept with --seeds N")
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and _SEED_KEY in workerinput:
        seed = int(workerinput[_SEED_KEY])          # xdist worker: the controller's seed
    elif os.environ.get(_SEED_ENV, "").strip():
        seed = _parse_seed(os.environ[_SEED_ENV])
    else:
        seed = secrets.randbits(32)
    config.stash[_seed_stash] = seed
    if config.getoption("seeds") < 1:
        raise pytest.UsageError("--seeds takes a whole number >= 1")
    # hypothesis draws from the same seed (its plugin reads the option in its own pytest_configure)
    if hasattr(config.option, "hypothesis_seed") and config.option.hypothesis_seed is None:
        config.option.hypothesis_seed = str(seed)
    _register_hypothesis_profile()


_seed_stash = pytest.StashKey[int]()


def _register_hypothesis_profile():
    try:
        from hypothesis import HealthCheck, settings
    except ImportError:  # pragma: no cover - hypothesis is a test dependency
        return
    budget = os.environ.get("TMSFIELD_FUZZ_EXAMPLES", "").strip() or "25"
    try:
        n = max(1, int(budget))
    except ValueError:
        raise pytest.UsageError(f"TMSFIELD_FUZZ_EXAMPLES={budget!r} is not a whole number") from None
    settings.register_profile("tmsfield", max_examples=n, deadline=None, database=None,
                              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    settings.load_profile("tmsfield")


def pytest_configure_node(node):
    """pytest-xdist: every worker uses the controller's base seed."""
    node.workerinput[_SEED_KEY] = node.config.stash[_seed_stash]


def pytest_report_header(config):
    seed = config.stash[_seed_stash]
    n = config.getoption("seeds")
    sweep = f", swept over seeds {seed}..{seed + n - 1}" if n > 1 else ""
    return f"tmsfield random tests: {_SEED_ENV}={seed}{sweep} (rerun a failure with {_SEED_ENV}=<seed> python -m pytest <test>)"


def pytest_generate_tests(metafunc):
    n = metafunc.config.getoption("seeds")
    if n > 1 and "rng" in metafunc.fixturenames:
        metafunc.parametrize("_seed_offset", range(n), ids=[f"seed+{k}" for k in range(n)])


def pytest_collection_modifyitems(config, items):
    wrong = []
    for item in items:
        takes_rng = "rng" in getattr(item, "fixturenames", ())
        marked = item.get_closest_marker("random") is not None
        if takes_rng != marked:
            wrong.append(f"{item.nodeid}: " + ("takes rng but is not marked @pytest.mark.random" if takes_rng
                                                else "is marked random but does not take the rng fixture"))
    if wrong:
        raise pytest.UsageError("random tests must take the rng fixture and be marked @pytest.mark.random:\n  "
                                + "\n  ".join(wrong))


@pytest.fixture
def _seed_offset():
    return 0


@pytest.fixture
def test_seed(request, _seed_offset):
    """The base seed this test runs with (the run's seed + the --seeds offset)."""
    seed = (request.config.stash[_seed_stash] + int(_seed_offset)) % 2**32
    request.node.stash[_seed_stash] = seed
    return seed


@pytest.fixture
def rng(request, test_seed):
    """The test's numpy Generator: seeded from the base seed and the test's name (not its parameters'
    seed offset), so a failure reruns exactly with ``TMSFIELD_TEST_SEED=<seed>``."""
    name = request.node.nodeid.split("[")[0]
    callspec = getattr(request.node, "callspec", None)
    ids = callspec.id.split("-") if callspec is not None else []
    ids = [t for t in ids if t != f"seed+{request.getfixturevalue('_seed_offset')}"]
    key = zlib.crc32((name + "[" + "-".join(ids) + "]").encode())
    return np.random.default_rng(np.random.SeedSequence([test_seed, key]))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    seed = item.stash.get(_seed_stash, None)
    if seed is not None and rep.failed:
        test = item.nodeid.split("[")[0] if item.config.getoption("seeds") > 1 else item.nodeid
        rep.sections.append(("tmsfield random seed",
                             f"this test drew from seed {seed}; reproduce with:\n"
                             f"  {_SEED_ENV}={seed} python -m pytest '{test}'"))


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
