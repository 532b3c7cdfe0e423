"""The solver's set-up through the store: a warm solver reads everything (nothing rebuilt) and gives the cold
solver's answer bitwise; another head or conductivities do not share entries; a damaged LU entry is rebuilt
with a warning; ``tmsfield target`` reuses the cache between processes' runs and reports progress."""

import json
import warnings

import numpy as np
import pytest

import tmsfield
from tmsfield.cache import SetupStore
from tmsfield.head.sphere_mesh import icosphere
from tmsfield.solver.bem import EFieldSolver

SIGMA = [0.465, 0.275]


def _surfaces(scale=1.0):
    return [icosphere(95.0 * scale, subdivisions=2, name="scalp"),
            icosphere(85.0 * scale, subdivisions=2, name="skull_inner")]


def _solver(store, sigma=SIGMA, **kw):
    return EFieldSolver(_surfaces(), sigma, cortex_points=icosphere(70.0, subdivisions=1).vertices, cache=store,
                        factorize=True, fast_options={"rank": 12, "sources": 200}, **kw)


def _fields(s):
    coil = tmsfield.Coil.from_dipoles([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0]], [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    pose = tmsfield.CoilPose.from_axes([0, 0, 105.0], z_axis=[0, 0, -1], y_axis=[0, 1, 0])
    return (s.efield_on_cortex(coil, pose), s.efield_on_cortex(coil, pose, method="direct"),
            s.reciprocal_field([[0, 0, 70.0]], [[1.0, 0, 0]], [[0, 0, 100.0]]))


def test_warm_solver_reads_everything_and_gives_the_cold_answer(tmp_path, monkeypatch):
    store = SetupStore(tmp_path)
    cold = _solver(store)
    kinds = sorted(e.kind for e in store.entries())
    assert kinds == ["bem-eval", "bem-lu", "bem-near", "fastmap"]
    ref = _fields(cold)

    def boom(*a, **k):
        raise AssertionError("rebuilt although the cache holds it")
    monkeypatch.setattr(EFieldSolver, "_operator_near_matrix", boom)
    monkeypatch.setattr(EFieldSolver, "dense_matrix", boom)
    orig_eval = EFieldSolver._evaluation_operator

    def eval_op(self, points, what):
        if what == "cortex points":
            boom()
        return orig_eval(self, points, what)
    monkeypatch.setattr(EFieldSolver, "_evaluation_operator", eval_op)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warm = _solver(store)
    assert warm.fast_map.loaded_from_cache and warm.factorized
    for a, b in zip(ref, _fields(warm)):
        np.testing.assert_array_equal(a, b)
    assert warm.n_near_pairs == cold.n_near_pairs



def test_other_conductivities_get_their_own_entries(tmp_path):
    store = SetupStore(tmp_path)
    _solver(store)
    n = len(store.entries())
    other = _solver(store, sigma=[0.465, 0.126])
    assert not other.fast_map.loaded_from_cache
    assert len(store.entries()) > n                   # new entries for the other conductivities
    m = len(store.entries())
    EFieldSolver(_surfaces(1.02), SIGMA, cache=store, fast_placements=False)   # another mesh shares nothing
    assert len(store.entries()) > m


def test_damaged_lu_entry_is_rebuilt_with_a_warning(tmp_path):
    store = SetupStore(tmp_path)
    ref = _fields(_solver(store))
    lu = next(e for e in store.entries() if e.kind == "bem-lu")
    f = tmp_path / lu.name / "lu.npy"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0x40
    f.write_bytes(bytes(data))
    with pytest.warns(RuntimeWarning, match=r"ignoring the set-up cache entry .*bem-lu.*checksum mismatch"):
        again = _solver(store)
    for a, b in zip(ref, _fields(again)):
        np.testing.assert_array_equal(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _solver(store)                                 # replaced by a good entry


def test_no_cache_means_nothing_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("TMSFIELD_CACHE_DIR", str(tmp_path / "c"))
    EFieldSolver(_surfaces(), SIGMA, fast_placements=False, factorize=True)
    assert not (tmp_path / "c").exists()


# ---------------------------------------------------------------------------------------- the command
@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from targets_standins import fig8_dipole_coil, write_coil, write_sphere_head
    d = tmp_path_factory.mktemp("cache_target")
    head, lm = write_sphere_head(d / "head", 3, 3)
    coil = write_coil(d / "fig8.ccd", fig8_dipole_coil())
    return d, head, lm, coil


def _target(files, out, *extra):
    d, head, lm, coil = files
    return ["target", "--head", str(head), "--landmarks", str(lm), "--coil", str(coil), "--subject", "-40", "40",
            "52", "--search-radius", "6", "--no-heuristics", "--factorize", "--out", str(out), *extra]


@pytest.mark.slow
def test_target_cold_then_warm_same_answer_and_progress_lines(files, tmp_path, monkeypatch, capsys):
    from tmsfield.cli.main import main
    monkeypatch.setenv("TMSFIELD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TMSFIELD_PROGRESS_MIN_S", "0")     # every step writes its line, however short
    assert main(_target(files, tmp_path / "cold.json")) == 0
    err = capsys.readouterr().err                        # pytest's capture is not a terminal: one line per step
    assert "tmsfield target: loading and checking the head" in err and "\r" not in err
    kinds = {e.kind for e in SetupStore(tmp_path / "cache").entries()}
    assert {"bem-lu", "bem-near", "bem-eval"} <= kinds
    assert main(_target(files, tmp_path / "warm.json", "--quiet")) == 0
    assert capsys.readouterr().err == ""                  # --quiet: nothing on stderr
    cold, warm = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("cold", "warm"))
    assert warm["efield_at_target_v_per_m_per_a_per_us"] == pytest.approx(
        cold["efield_at_target_v_per_m_per_a_per_us"], rel=1e-12)
    np.testing.assert_allclose(warm["pose"], cold["pose"], rtol=0, atol=1e-12)
    # the warm run built nothing: its solver set-up time is the reading of the entries
    assert warm["settings"]["timings_s"]["solver"] < cold["settings"]["timings_s"]["solver"]


def test_no_cache_option_writes_nothing(files, tmp_path, monkeypatch):
    from tmsfield.cli.main import main
    monkeypatch.setenv("TMSFIELD_CACHE_DIR", str(tmp_path / "cache"))
    assert main(_target(files, tmp_path / "n.json", "--no-cache", "--quiet", "--no-factorize",
                        "--model", "sphere")) == 0
    assert not (tmp_path / "cache").exists()
