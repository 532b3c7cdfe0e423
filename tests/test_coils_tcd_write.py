"""``write_tcd``: coil → SimNIBS .tcd → coil gives the same A-field (1e-9 relative) at random points, for wires,
dipoles and sampled grids, in both array encodings; SimNIBS' example .tcd survives a write/read cycle; the file
uses only keys of SimNIBS' coil schema (``coil_model.schema.json``)."""

import json

import numpy as np
import pytest

import tmsfield
from tmsfield.coils import Coil, SampledAField, load_coil, read_tcd, write_tcd
from tmsfield.errors import CoilError

# keys SimNIBS' schema allows (its "properties"; both levels have "additionalProperties": false)
TOP_KEYS = {"name", "brand", "version", "limits", "resolution", "coilCasing", "coilElementList", "stimulatorList",
            "deformList", "deformRangeList", "coilModels", "selfIntersectionTest"}
ELEMENT_KEYS = {"name", "stimulator", "elementCasing", "deformations", "type", "points", "values", "data", "affine"}
STIMULATOR_KEYS = {"name", "brand", "maxdIdt", "waveformList"}


def _points(rng, n=40):
    """Evaluation points 8-80 mm below/around the coil (outside the windings, which lie at z < 0)."""
    p = rng.uniform(-70, 70, (n, 3))
    p[:, 2] = rng.uniform(8, 80, n)
    return p


def _rel(a, b):
    return float(np.abs(a - b).max() / np.abs(a).max())


def _check_schema_keys(path):
    doc = json.loads(path.read_text())
    assert set(doc) <= TOP_KEYS and {"coilElementList", "stimulatorList"} <= set(doc)
    for el in doc["coilElementList"]:
        assert set(el) <= ELEMENT_KEYS and el["type"] in (1, 2, 3) and el["stimulator"] == 0
        assert ({"points", "values"} <= set(el)) != ({"data", "affine"} <= set(el))
    for st in doc["stimulatorList"]:
        assert set(st) <= STIMULATOR_KEYS
    return doc


@pytest.mark.random
@pytest.mark.parametrize("ascii_mode", [False, True])
def test_wire_coil_round_trip(rng, tmp_path, ascii_mode):
    coil = load_coil("fig8_70mm")
    p = write_tcd(coil, tmp_path / "fig8.tcd", ascii_mode=ascii_mode)
    doc = _check_schema_keys(p)
    assert doc["stimulatorList"][0]["maxdIdt"] == pytest.approx(coil.max_didt_a_per_us * 1e6)
    back = read_tcd(p)
    pts = _points(rng)
    assert back.n_segments == coil.n_segments and back.max_didt_a_per_us == pytest.approx(coil.max_didt_a_per_us)
    assert _rel(tmsfield.vector_potential(coil, pts), tmsfield.vector_potential(back, pts)) < 1e-9


@pytest.mark.random
def test_whole_currents_are_exact_and_fractions_refused(rng, tmp_path):
    """A segment current of -1 or 2 (per A) is written as reversed / repeated elements: still exact."""
    t = np.linspace(0, 2 * np.pi, 33)
    loop = np.column_stack([30 * np.cos(t), 30 * np.sin(t), -5 + 0 * t])
    small = np.column_stack([12 * np.cos(t) + 40, 12 * np.sin(t), -6 + 0 * t])
    coil = Coil.from_wires([loop, small], currents=[-1.0, 2.0], name="mixed")
    back = read_tcd(write_tcd(coil, tmp_path / "m.tcd"))
    pts = _points(rng)
    assert _rel(tmsfield.vector_potential(coil, pts), tmsfield.vector_potential(back, pts)) < 1e-9
    half = Coil.from_wires([loop], currents=[0.5], name="half")
    with pytest.raises(CoilError, match="0.5 A per A has no exact form"):
        write_tcd(half, tmp_path / "h.tcd")
    # currents="scale": SimNIBS' current-element form (vector = current x segment)
    doc = json.loads(write_tcd(half, tmp_path / "h.tcd", currents="scale", ascii_mode=True).read_text())
    v = np.asarray(doc["coilElementList"][0]["values"])
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 0.5 * np.linalg.norm(np.diff(loop, axis=0), axis=1))


@pytest.mark.random
def test_dipole_and_grid_coil_round_trip(rng, tmp_path):
    pos = rng.uniform(-40, 40, (30, 3))
    pos[:, 2] = rng.uniform(-20, -2, 30)
    mom = rng.normal(size=(30, 3)) * 1e-3
    aff = np.eye(4)
    aff[:3, :3] = np.diag([6.0, 5.0, 4.0])
    aff[:3, 3] = [-60, -50, 0]
    grid = SampledAField(rng.normal(size=(21, 21, 21, 3)) * 1e-7, aff)
    coil = Coil(name="dip+grid", segment_start_mm=np.zeros((0, 3)), segment_end_mm=np.zeros((0, 3)),
                segment_current=np.zeros(0), dipole_positions_mm=pos, dipole_moments=mom, sampled_grids=(grid,),
                max_didt_a_per_us=150.0)
    p = write_tcd(coil, tmp_path / "dg.tcd", limits_mm=[[-60, 60], [-50, 50], [0, 80]], resolution_mm=[2, 2, 2])
    doc = _check_schema_keys(p)
    assert doc["limits"] == [[-60, 60], [-50, 50], [0, 80]] and [e["type"] for e in doc["coilElementList"]] == [1, 3]
    back = read_tcd(p)
    pts = _points(rng)
    pts[:, :2] = np.clip(pts[:, :2], -45, 45)         # inside the grid, where it contributes
    assert _rel(tmsfield.vector_potential(coil, pts), tmsfield.vector_potential(back, pts)) < 1e-9
    np.testing.assert_array_equal(back.sampled_grids[0].values, grid.values)


def test_bad_arguments(tmp_path):
    coil = load_coil("round_90mm")
    with pytest.raises(CoilError, match="limits_mm must be"):
        write_tcd(coil, tmp_path / "x.tcd", limits_mm=[[1, 0], [0, 1], [0, 1]])
    with pytest.raises(CoilError, match="resolution_mm must be"):
        write_tcd(coil, tmp_path / "x.tcd", resolution_mm=[1, 0, 1])
    with pytest.raises(CoilError, match="needs a tmsfield Coil"):
        write_tcd("round_90mm", tmp_path / "x.tcd")
    assert not (tmp_path / "x.tcd").exists()


@pytest.mark.shared
@pytest.mark.random
@pytest.mark.parametrize("stimulator", [0, 1])
def test_simnibs_example_tcd_write_read(shared_simnibs, rng, tmp_path, stimulator):
    src = shared_simnibs / "coils" / "two_stimulator_example_coil.tcd"
    if not src.is_file():
        pytest.skip(f"{src} not found")
    coil = read_tcd(src, stimulator=stimulator)
    p = write_tcd(coil, tmp_path / "copy.tcd")
    _check_schema_keys(p)
    back = read_tcd(p)
    assert back.name == coil.name and back.max_didt_a_per_us == pytest.approx(coil.max_didt_a_per_us, rel=1e-15)
    assert dict(back.metadata) == dict(coil.metadata)
    pts = _points(rng)
    assert _rel(tmsfield.vector_potential(coil, pts), tmsfield.vector_potential(back, pts)) < 1e-9
