"""Built-in coil models, load_coil and the dipole equivalent."""

import numpy as np
import pytest

from tmsfield.coils import Coil, available_coils, dipole_equivalent, load_coil
from tmsfield.errors import CoilError
from tmsfield.kernels import magnetic_field, vector_potential



@pytest.mark.parametrize("name", ["fig8_70mm", "round_90mm", "butterfly_b65"])
def test_builtin_coils_are_documented_closed_circuits(name):
    coil = load_coil(name)
    assert name in available_coils()
    assert coil.name == name and coil.has_wires and not coil.has_dipoles
    assert len(coil.description) > 100 and ("Thielscher" in coil.description or "APPROXIMATE" in coil.description)
    np.testing.assert_allclose(coil.handle_direction, [0, 1, 0])
    assert coil.casing_outline_mm is not None and np.allclose(coil.casing_outline_mm[:, 2], 0)
    # windings sit above the casing (negative z, +z points into the head)
    assert coil.segment_start_mm[:, 2].max() < 0
    # Kirchhoff: every node balances (from_wires checks; re-check independently here)
    nodes = np.concatenate([coil.segment_start_mm, coil.segment_end_mm])
    _, inv = np.unique(np.round(nodes * 1e6).astype(np.int64), axis=0, return_inverse=True)
    net = np.zeros(inv.max() + 1)
    n = coil.n_segments
    np.add.at(net, inv.reshape(-1)[:n], -coil.segment_current)
    np.add.at(net, inv.reshape(-1)[n:], coil.segment_current)
    assert np.abs(net).max() < 1e-9


def test_fig8_turn_count_and_dimensions():
    coil = load_coil("fig8_70mm")
    # spiral wings: radii 28..43.5 mm around x = ±44 mm, 9 turns x 64 segments per wing
    for sign in (-1, 1):
        wing = coil.segment_start_mm[(np.sign(coil.segment_start_mm[:, 0]) == sign)
                                     & (coil.segment_start_mm[:, 2] == -6.5)
                                     & (np.abs(coil.segment_start_mm[:, 1]) < 60)]
        r = np.hypot(wing[:, 0] - sign * 44.0, wing[:, 1])
        assert 27.9 < r.min() and r.max() < 43.6
    assert 1100 < coil.n_segments < 1300
    thick = load_coil("fig8_70mm", n_filaments=3)
    assert thick.n_segments == 3 * coil.n_segments
    z = np.array([[0, 0, 20.0], [10, 5, 30.0]])
    a_thick, a_thin = vector_potential(thick, z), vector_potential(coil, z)
    assert np.abs(a_thick - a_thin).max() < 0.02 * np.abs(a_thin).max()


def test_fig8_matches_simnibs_magstim_model_under_the_centre(shared_simnibs):
    ours = load_coil("fig8_70mm")
    ref = load_coil(shared_simnibs / "coils" / "Magstim_70mm_Fig8.ccd")
    pts = np.array([[0, 0, 10.0], [0, 0, 20.0], [0, 0, 30.0], [10, 0, 20.0], [0, 10, 20.0]])
    a, b = vector_potential(ours, pts), vector_potential(ref, pts)
    # same axis and sign of the induced field under the centre (wings along x, E along y)
    assert np.all(np.sign(a[:, 1]) == np.sign(b[:, 1]))
    assert np.all(np.abs(a[:, 1]) > 10 * np.abs(a[:, 0]))
    np.testing.assert_allclose(a[:, 1], b[:, 1], rtol=0.03)


def test_butterfly_matches_drakaki_model_near_the_centre(shared_simnibs):
    ours = load_coil("butterfly_b65")
    ref = load_coil(shared_simnibs / "coils" / "MagVenture_MCF-B65.ccd")
    assert ours.max_didt_a_per_us == pytest.approx(ref.max_didt_a_per_us, rel=0.01)
    pts = np.array([[0, 0, 10.0], [0, 0, 20.0]])
    np.testing.assert_allclose(vector_potential(ours, pts)[:, 1], vector_potential(ref, pts)[:, 1], rtol=0.1)


@pytest.mark.random
@pytest.mark.parametrize("name", ["fig8_70mm", "round_90mm", "butterfly_b65"])
def test_dipole_equivalent_matches_wire_field_to_one_percent_beyond_15_mm(name, rng, test_seed):
    seed = test_seed
    coil = load_coil(name)
    dip = coil.to_dipoles()
    assert not dip.has_wires and dip.max_didt_a_per_us == coil.max_didt_a_per_us
    assert dip.n_dipoles < 6000          # merged: comparable to SimNIBS' 2,712-dipole Magstim model
    n = 400
    pts = np.column_stack([rng.uniform(-100, 100, n), rng.uniform(-70, 70, n), rng.uniform(15, 80, n)])
    for f in (vector_potential, magnetic_field):
        w, d = f(coil, pts), f(dip, pts)
        err = np.linalg.norm(d - w, axis=1).max() / np.linalg.norm(w, axis=1).max()
        assert err < 0.01, f"seed {seed}: {name} {f.__name__} error {err:.3%} of the peak"


def test_dipole_equivalent_of_an_open_network_and_of_a_planar_loop():
    # a square loop stored as 4 separate 2-point wires (not closed polylines): fallback fan
    sq = np.array([[-10, -10, -5], [10, -10, -5], [10, 10, -5], [-10, 10, -5], [-10, -10, -5.0]])
    coil = Coil.from_wires([sq[i:i + 2] for i in range(4)])
    dip = dipole_equivalent(coil, max_patch_mm=1.0, merge_mm=None)
    np.testing.assert_allclose(dip.dipole_moments.sum(axis=0), [0, 0, 20e-3 * 20e-3], rtol=1e-12, atol=1e-18)
    p = np.array([[0, 0, 20.0], [15, 5, 25.0]])
    np.testing.assert_allclose(magnetic_field(dip, p), magnetic_field(coil, p), rtol=2e-3, atol=1e-12)
    with pytest.raises(CoilError):
        dipole_equivalent(dip)


def test_unknown_name_lists_available_coils_and_open_wire_is_rejected():
    with pytest.raises(CoilError, match="fig8_70mm.*round_90mm|butterfly_b65.*fig8_70mm"):
        load_coil("fig9_70mm")
    with pytest.raises(CoilError, match="closed circuit"):
        Coil.from_wires([[[0, 0, 0], [10, 0, 0], [10, 10, 0]]])
    with pytest.raises(CoilError):
        load_coil("fig8_70mm", n_filaments=0)
    with pytest.raises(CoilError):
        load_coil(42)
