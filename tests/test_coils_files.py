"""SimNIBS coil files: .ccd read/write, .tcd read, and the Magstim A-field grid."""

import base64
import json
import zlib

import numpy as np
import pytest

from tmsfield.coils import Coil, load_coil, read_ccd, read_tcd, write_ccd
from tmsfield.errors import CoilError, CoilFileError
from tmsfield.kernels import magnetic_field, vector_potential



@pytest.mark.random
def test_ccd_round_trip_is_lossless(tmp_path, rng, test_seed):
    seed = test_seed
    n = int(rng.integers(1, 500))
    coil = Coil.from_dipoles(rng.normal(size=(n, 3)) * 50, rng.normal(size=(n, 3)) * 1e-4, name="rt",
                             max_didt_a_per_us=float(rng.uniform(50, 200)), metadata={"brand": "X", "stimulator": "Y Z"})
    back = read_ccd(write_ccd(coil, tmp_path / "rt.ccd"))
    assert np.array_equal(back.dipole_positions_mm, coil.dipole_positions_mm), f"seed {seed}"
    assert np.array_equal(back.dipole_moments, coil.dipole_moments), f"seed {seed}"
    assert back.max_didt_a_per_us == coil.max_didt_a_per_us
    assert dict(back.metadata) == dict(coil.metadata)
    assert not list(tmp_path.glob("*.tmp"))


def test_real_ccd_files_read_and_rewrite(shared_simnibs, tmp_path):
    b65 = read_ccd(shared_simnibs / "coils" / "MagVenture_MCF-B65.ccd")
    assert b65.n_dipoles == 1024 and b65.max_didt_a_per_us == 147.86
    assert b65.metadata["stimulator"] == "MagPro X100" and b65.metadata["coilname"] == "MCF-B65"
    src = shared_simnibs / "coils" / "Magstim_70mm_Fig8.ccd"
    ms = read_ccd(src)
    assert ms.n_dipoles == 2712 and ms.max_didt_a_per_us is None
    out = write_ccd(ms, tmp_path / "m.ccd")
    a = np.loadtxt(src, skiprows=3)
    b = np.loadtxt(out, skiprows=3)
    np.testing.assert_allclose(b, a, rtol=2.3e-16, atol=0)     # file -> mm -> file: within 1 ulp


@pytest.mark.random
def test_magstim_ccd_reproduces_the_simnibs_a_grid(shared_simnibs, rng, test_seed):
    nib = pytest.importorskip("nibabel")
    img = nib.load(shared_simnibs / "coils" / "Magstim_70mm_Fig8.nii.gz")
    data = np.asarray(img.dataobj, dtype=np.float64)
    seed = test_seed
    shape = data.shape[:3]
    ijk = np.column_stack([rng.integers(0, s, 40000) for s in shape])
    ijk[0] = np.unravel_index(np.argmax(np.linalg.norm(data, axis=3)), shape)   # include the peak
    xyz = ijk @ img.affine[:3, :3].T + img.affine[:3, 3]
    ref = data[ijk[:, 0], ijk[:, 1], ijk[:, 2]]
    got = vector_potential(load_coil(shared_simnibs / "coils" / "Magstim_70mm_Fig8.ccd"), xyz)
    err = np.abs(got - ref).max() / np.abs(data).max()
    assert err < 1e-4, f"seed {seed}: max error {err:.2e} of the grid maximum"


@pytest.mark.parametrize("text, where", [
    ("", "line"),
    ("no hash\n1\n#\n0 0 0 0 0 1\n", "line 1"),
    ("# h; dIdtmax=abc\n1\n#\n0 0 0 0 0 1\n", "line 1"),
    ("# h; novalue\n1\n#\n0 0 0 0 0 1\n", "line 1"),
    ("# h\ntwo\n#\n0 0 0 0 0 1\n", "line 2"),
    ("# h\n2\n#\n0 0 0 0 0 1\n", "2 dipoles"),
    ("# h\n1\n#\n0 0 0 0 1\n", "line 4"),
    ("# h\n2\n#\n0 0 0 0 0 1\n0 0 x 0 0 1\n", "line 5"),
    ("# h\n1\n#\n0 0 nan 0 0 1\n", "line 4"),
])
def test_malformed_ccd_names_file_and_line(tmp_path, text, where):
    p = tmp_path / "bad.ccd"
    p.write_text(text)
    with pytest.raises(CoilFileError) as exc:
        load_coil(p)
    assert "bad.ccd" in str(exc.value) and where in str(exc.value)


def test_write_ccd_refuses_wire_coils(tmp_path):
    with pytest.raises(CoilError, match="dipole_equivalent"):
        write_ccd(load_coil("round_90mm"), tmp_path / "x.ccd")
    assert not list(tmp_path.iterdir())


def _b64(a):
    return base64.b64encode(zlib.compress(np.asarray(a, "<f8").tobytes())).decode()


def test_tcd_two_stimulator_example(shared_simnibs):
    path = shared_simnibs / "coils" / "two_stimulator_example_coil.tcd"
    with pytest.raises(CoilFileError, match="stimulator="):
        load_coil(path)
    c0 = load_coil(path, stimulator=0)
    c1 = load_coil(path, stimulator=1)
    assert c0.max_didt_a_per_us == pytest.approx(122.22) and c1.max_didt_a_per_us == pytest.approx(102.45)
    assert c0.n_segments > 1000 and not c0.has_dipoles
    # midpoint ± half-vector segments are re-joined into closed windings (Kirchhoff holds)
    assert c0.windings and all(np.array_equal(w[0], w[-1]) for w in c0.windings)
    Coil.from_wires(c0.windings)
    # a figure-8: strong, mostly one-directional A under the centre
    a = vector_potential(c0, [[0, 0, 20.0]])[0]
    assert np.abs(a).max() > 1e-7 and np.argmax(np.abs(a)) in (0, 1)
    with pytest.raises(CoilFileError, match="stimulator"):
        load_coil(path, stimulator=5)


@pytest.mark.random
def test_tcd_lists_and_base64_give_the_same_coil_and_match_exact_segments(tmp_path, rng, test_seed):
    seed = test_seed
    t = np.linspace(0, 2 * np.pi, 41)
    loop = np.column_stack([30 * np.cos(t), 30 * np.sin(t), -5 + 0 * t])
    loop[-1] = loop[0]
    mid, vec = 0.5 * (loop[1:] + loop[:-1]), loop[1:] - loop[:-1]
    dpos, dmom = rng.normal(size=(4, 3)) * 20 - [0, 0, 40], rng.normal(size=(4, 3)) * 1e-4
    def doc(enc):
        return {"name": "t", "stimulatorList": [{"name": "s", "maxdIdt": 1.5e8}],
                "coilElementList": [{"type": 2, "stimulator": 0, "points": enc(mid), "values": enc(vec)},
                                    {"type": 1, "stimulator": 0, "points": enc(dpos), "values": enc(dmom)}]}
    (tmp_path / "l.tcd").write_text(json.dumps(doc(lambda a: a.tolist())))
    (tmp_path / "b.tcd").write_text(json.dumps(doc(_b64)))
    cl, cb = read_tcd(tmp_path / "l.tcd"), read_tcd(tmp_path / "b.tcd")
    assert cl.max_didt_a_per_us == 150.0
    pts = rng.normal(size=(20, 3)) * 30 + [0, 0, 30]
    ref = magnetic_field(Coil.from_wires([loop]), pts) + magnetic_field(Coil.from_dipoles(dpos, dmom), pts)
    for c in (cl, cb):
        np.testing.assert_allclose(magnetic_field(c, pts), ref, rtol=1e-9, atol=1e-9 * np.abs(ref).max(),
                                   err_msg=f"seed {seed}")


@pytest.mark.parametrize("content, match", [
    ('{"coilElementList": [', "line 1"),
    ("[1, 2]", "JSON object"),
    ('{"name": "x"}', "coilElementList"),
    ('{"coilElementList": [{"type": 3, "points": [[0,0,0]], "values": [[0,0,0]]}]}', "type 3"),
    ('{"coilElementList": [{"type": 7, "points": [[0,0,0]], "values": [[0,0,0]]}]}', "type"),
    ('{"coilElementList": [{"type": 1, "points": [[0,0,0]]}]}', "values"),
    ('{"coilElementList": [{"type": 1, "points": [[0,0]], "values": [[0,0,1]]}]}', "points"),
    ('{"coilElementList": [{"type": 1, "points": "@@notbase64", "values": [[0,0,1]]}]}', "base64"),
    ('{"coilElementList": [{"type": 1, "points": [[0,0,0]], "values": [[0,0,1]], "deformations": [0]}],'
     ' "deformList": [{"type": "x", "initial": 5.0}]}', "deformList"),
])
def test_malformed_tcd_names_file_and_key(tmp_path, content, match):
    p = tmp_path / "bad.tcd"
    p.write_text(content)
    with pytest.raises(CoilFileError, match=match) as exc:
        load_coil(p)
    assert "bad.tcd" in str(exc.value)


def test_default_deformation_is_accepted_and_missing_or_unknown_files_fail(tmp_path):
    p = tmp_path / "ok.tcd"
    p.write_text('{"coilElementList": [{"type": 1, "points": [[0,0,-10]], "values": [[0,0,1e-3]], '
                 '"deformations": [0]}], "deformList": [{"type": "x", "initial": 0.0}]}')
    assert load_coil(p).n_dipoles == 1
    with pytest.raises(CoilFileError, match="does not exist"):
        load_coil(tmp_path / "missing.ccd")
    with pytest.raises(CoilError):
        load_coil(tmp_path / "coil.xyz")
