"""SimNIBS .tcd element type 3 (A sampled on a grid): reading, interpolation, pose, B, refusals.

The reference A comes from independent closed forms (point dipoles, `Coil.from_dipoles`) or, with
the shared SimNIBS data, from the Magstim 70 mm .ccd dipoles that the .nii.gz A grid was built from.
"""

import base64
import json
import pickle
import zlib

import numpy as np
import pytest

import tmsfield
from tmsfield.coils import Coil, SampledAField, dipole_equivalent, write_ccd
from tmsfield.errors import CoilError, CoilFileError
from tmsfield.solver.sphere import SphereModel

H_COARSE = 4.0
BOX_LO = np.array([-20.0, -20.0, 5.0])       # grid box (coil frame, mm); sources sit at z <= -8
BOX_SIZE = 40.0


def _dipole_coil(rng):
    pos = np.column_stack([rng.uniform(-10, 10, 3), rng.uniform(-10, 10, 3), rng.uniform(-14, -8, 3)])
    mom = rng.normal(size=(3, 3)) * 1e-3
    return Coil.from_dipoles(pos, mom, name="ref dipoles")


def _grid(coil, h):
    n = int(round(BOX_SIZE / h)) + 1
    aff = np.eye(4)
    aff[:3, :3] *= h
    aff[:3, 3] = BOX_LO
    idx = np.stack(np.meshgrid(*[np.arange(n, dtype=float)] * 3, indexing="ij"), axis=-1).reshape(-1, 3)
    a = tmsfield.vector_potential(coil, idx @ aff[:3, :3].T + aff[:3, 3]).reshape(n, n, n, 3)
    return a, aff


def _b64_pickle(arr):
    return base64.b64encode(zlib.compress(pickle.dumps(arr))).decode("ascii")


def _write_tcd(path, elements, **top):
    doc = {"name": path.stem, "stimulatorList": [{"name": "stim", "maxdIdt": 1.2e8}], "coilElementList": elements}
    doc.update(top)
    path.write_text(json.dumps(doc))
    return path


def _grid_element(data, aff, **extra):
    return {"type": 3, "stimulator": 0, "data": data, "affine": np.asarray(aff).tolist(), **extra}


def _interior_points(rng, n, margin=1.0):
    return rng.uniform(BOX_LO + margin, BOX_LO + BOX_SIZE - margin, size=(n, 3))


def _rigid_pose(rng):
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    m = np.eye(4)
    m[:3, :3] = q
    m[:3, 3] = rng.uniform(-80, 80, 3)
    return m


@pytest.mark.random
def test_grid_A_reads_back_and_converges_at_second_order(tmp_path, rng, test_seed):
    seed = test_seed
    ref = _dipole_coil(rng)
    a1, aff1 = _grid(ref, H_COARSE)
    a2, aff2 = _grid(ref, H_COARSE / 2)
    # coarse grid as nested JSON lists, fine grid as SimNIBS writes it (base64 of zlib'd pickled array)
    c1 = tmsfield.load_coil(_write_tcd(tmp_path / "coarse.tcd", [_grid_element(a1.tolist(), aff1)]))
    c2 = tmsfield.load_coil(_write_tcd(tmp_path / "fine.tcd", [_grid_element(_b64_pickle(a2), aff2)]))
    assert not c1.has_wires and not c1.has_dipoles and len(c1.sampled_grids) == 1
    assert c1.max_didt_a_per_us == pytest.approx(120.0)
    np.testing.assert_array_equal(c2.sampled_grids[0].values, a2)

    # at the nodes: the samples themselves
    nodes = c1.sampled_grids[0].node_positions_mm.reshape(-1, 3)[::7]
    np.testing.assert_allclose(tmsfield.vector_potential(c1, nodes), tmsfield.vector_potential(ref, nodes),
                               rtol=1e-12, atol=1e-12 * np.abs(a1).max(), err_msg=f"seed {seed}")

    pts = _interior_points(rng, 3000)
    exact = tmsfield.vector_potential(ref, pts)
    e1 = np.linalg.norm(tmsfield.vector_potential(c1, pts) - exact)
    e2 = np.linalg.norm(tmsfield.vector_potential(c2, pts) - exact)
    ratio = e1 / e2
    assert 3.0 < ratio < 5.0, f"seed {seed}: error ratio {ratio:.2f} for halved spacing (trilinear: ~4)"
    assert e2 < 0.02 * np.linalg.norm(exact), f"seed {seed}: relative error {e2 / np.linalg.norm(exact):.3g}"
    # primary E = −dI/dt · A
    np.testing.assert_allclose(tmsfield.primary_efield(c2, pts[:5], didt=50.0),
                               -50e6 * tmsfield.vector_potential(c2, pts[:5]), rtol=1e-14)


@pytest.mark.random
def test_grid_B_is_curl_of_A_and_converges(tmp_path, rng, test_seed):
    seed = test_seed
    ref = _dipole_coil(rng)
    errs = []
    pts = _interior_points(rng, 2000)
    exact = tmsfield.magnetic_field(ref, pts)
    for h in (H_COARSE, H_COARSE / 2):
        a, aff = _grid(ref, h)
        c = Coil(name="g", segment_start_mm=np.zeros((0, 3)), segment_end_mm=np.zeros((0, 3)),
                 segment_current=np.zeros(0), dipole_positions_mm=np.zeros((0, 3)), dipole_moments=np.zeros((0, 3)),
                 sampled_grids=(SampledAField(a, aff),))
        errs.append(np.linalg.norm(tmsfield.magnetic_field(c, pts) - exact))
    # second order: ratio -> 4; at these spacings 3-3.8 is seen (higher orders near the sources),
    # a first-order scheme would give ~2
    assert errs[0] / errs[1] > 2.6, f"seed {seed}: B error ratio {errs[0] / errs[1]:.2f} for halved spacing"
    assert errs[1] < 0.05 * np.linalg.norm(exact), f"seed {seed}: B relative error {errs[1] / np.linalg.norm(exact):.3g}"
    tiny = Coil(name="t", segment_start_mm=np.zeros((0, 3)), segment_end_mm=np.zeros((0, 3)),
                segment_current=np.zeros(0), dipole_positions_mm=np.zeros((0, 3)), dipole_moments=np.zeros((0, 3)),
                sampled_grids=(SampledAField(np.ones((2, 2, 2, 3)), np.eye(4)),))
    with pytest.raises(CoilError, match="too small for B"):
        tmsfield.magnetic_field(tiny, [[0.5, 0.5, 0.5]])


@pytest.mark.random
def test_pose_rotates_grid_with_coil_and_outside_is_zero(tmp_path, rng, test_seed):
    seed = test_seed
    ref = _dipole_coil(rng)
    a, aff = _grid(ref, H_COARSE / 2)
    grid = tmsfield.load_coil(_write_tcd(tmp_path / "g.tcd", [_grid_element(_b64_pickle(a), aff)]))
    pose = _rigid_pose(rng)
    rot, centre = pose[:3, :3], pose[:3, 3]
    local = _interior_points(rng, 500)
    head = local @ rot.T + centre
    # moving coil and points together rotates A with them (exact identity of the implementation)
    np.testing.assert_allclose(tmsfield.vector_potential(grid, head, pose=pose),
                               tmsfield.vector_potential(grid, local) @ rot.T, rtol=1e-10, atol=1e-20,
                               err_msg=f"seed {seed}")
    # and agrees with the posed dipole source to the interpolation error
    exact = tmsfield.vector_potential(ref, head, pose=pose)
    err = np.linalg.norm(tmsfield.vector_potential(grid, head, pose=pose) - exact) / np.linalg.norm(exact)
    assert err < 0.02, f"seed {seed}: posed relative error {err:.3g}"
    # the identity pose is not silently used: unposed evaluation at head points differs
    assert not np.allclose(tmsfield.vector_potential(grid, head), exact)
    # outside the grid box: exactly 0
    outside = np.array([[0.0, 0.0, BOX_LO[2] - 1.0], [BOX_LO[0] + BOX_SIZE + 0.5, 0.0, 20.0]]) @ rot.T + centre
    assert np.all(tmsfield.vector_potential(grid, outside, pose=pose) == 0.0)
    # a coil with dipoles and a grid sums both
    both = Coil(name="both", segment_start_mm=np.zeros((0, 3)), segment_end_mm=np.zeros((0, 3)),
                segment_current=np.zeros(0), dipole_positions_mm=ref.dipole_positions_mm,
                dipole_moments=ref.dipole_moments, sampled_grids=grid.sampled_grids)
    np.testing.assert_allclose(tmsfield.vector_potential(both, head, pose=pose),
                               exact + tmsfield.vector_potential(grid, head, pose=pose), rtol=1e-12, atol=1e-20)


_GOOD_AFF = np.diag([2.0, 2.0, 2.0, 1.0])


@pytest.mark.parametrize("element, key", [
    (_grid_element(np.zeros((3, 3, 3)).tolist(), _GOOD_AFF), "coilElementList[0].data"),          # no vector axis
    (_grid_element([[[[0, 0, 0]] * 2] * 2, [[[0, 0]] * 2] * 2], _GOOD_AFF), "coilElementList[0].data"),  # ragged
    (_grid_element(np.zeros((1, 3, 3, 3)).tolist(), _GOOD_AFF), "coilElementList[0].data"),       # one node thick
    ({"type": 3, "stimulator": 0, "data": np.zeros((2, 2, 2, 3)).tolist()}, "'affine'"),
    ({"type": 3, "stimulator": 0, "affine": _GOOD_AFF.tolist()}, "'data'"),
    (_grid_element(np.zeros((2, 2, 2, 3)).tolist(), np.eye(4)[:3]), "coilElementList[0].affine"),
    (_grid_element(np.zeros((2, 2, 2, 3)).tolist(), np.diag([2.0, 0.0, 2.0, 1.0])), "singular"),
    (_grid_element(base64.b64encode(zlib.compress(np.zeros(24).tobytes())).decode(), _GOOD_AFF),
     "coilElementList[0].data"),                                                                  # raw float64: no shape
    (_grid_element(base64.b64encode(zlib.compress(pickle.dumps({"a": 1}))).decode(), _GOOD_AFF),
     "coilElementList[0].data"),                                                                  # not an array
    (_grid_element("not base64 !", _GOOD_AFF), "coilElementList[0].data"),
])
def test_malformed_type3_names_file_and_key(tmp_path, element, key):
    p = _write_tcd(tmp_path / "bad_grid.tcd", [element])
    with pytest.raises(CoilFileError) as info:
        tmsfield.load_coil(p)
    assert "bad_grid.tcd" in str(info.value) and key in str(info.value), str(info.value)


def test_pickle_with_foreign_globals_is_refused_not_run(tmp_path):
    marker = tmp_path / "ran"
    # a pickle (PROTO 2 header + GLOBAL os.system + REDUCE) that would run a shell command
    evil = b"\x80\x02" + f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()
    p = _write_tcd(tmp_path / "evil.tcd", [_grid_element(base64.b64encode(zlib.compress(evil)).decode(), _GOOD_AFF)])
    with pytest.raises(CoilFileError, match="evil.tcd.*coilElementList\\[0\\].data"):
        tmsfield.load_coil(p)
    assert not marker.exists()


def test_grid_only_coil_has_no_dipole_route(tmp_path):
    a = np.zeros((3, 3, 3, 3))
    a[..., 0] = 1e-7
    c = tmsfield.load_coil(_write_tcd(tmp_path / "g.tcd", [_grid_element(a.tolist(), _GOOD_AFF)]))
    for call in (c.to_dipoles, lambda: dipole_equivalent(c), lambda: write_ccd(c, tmp_path / "x.ccd"),
                 lambda: SphereModel(85.0).efield(c, [[0.0, 0.0, 10.0]])):
        with pytest.raises(CoilError, match="no dipole equivalent.*use a wire or dipole coil file"):
            call()
    assert not (tmp_path / "x.ccd").exists()
    with pytest.raises(CoilError, match="neither wire segments, dipoles nor sampled A grids"):
        Coil(name="empty", segment_start_mm=np.zeros((0, 3)), segment_end_mm=np.zeros((0, 3)),
             segment_current=np.zeros(0), dipole_positions_mm=np.zeros((0, 3)), dipole_moments=np.zeros((0, 3)))
    with pytest.raises(CoilError, match="SampledAField"):
        Coil.from_dipoles([[0, 0, -10.0]], [[0, 0, 1e-3]], sampled_grids=(a,))


def test_deformation_initial_is_read_from_deform_range_list(tmp_path):
    el = _grid_element(np.zeros((2, 2, 2, 3)).tolist(), _GOOD_AFF, deformations=[0])
    ok = _write_tcd(tmp_path / "ok.tcd", [el], deformList=[{"type": "x", "deformRange": 0}],
                    deformRangeList=[{"initial": 0.0, "range": [-5, 5]}])
    assert len(tmsfield.load_coil(ok).sampled_grids) == 1
    bad = _write_tcd(tmp_path / "moved.tcd", [el], deformList=[{"type": "x", "deformRange": 0}],
                     deformRangeList=[{"initial": 3.0, "range": [-5, 5]}])
    with pytest.raises(CoilFileError, match="moved.tcd.*deformations"):
        tmsfield.load_coil(bad)


@pytest.mark.random
def test_magstim_nifti_grid_as_tcd_matches_ccd_dipoles(tmp_path, shared_simnibs, rng, test_seed):
    nib = pytest.importorskip("nibabel")
    seed = test_seed
    img = nib.load(shared_simnibs / "coils" / "Magstim_70mm_Fig8.nii.gz")
    a = np.asarray(img.dataobj)
    assert a.ndim == 4 and a.shape[3] == 3
    p = _write_tcd(tmp_path / "magstim_grid.tcd", [_grid_element(_b64_pickle(a), img.affine)])
    grid = tmsfield.load_coil(p)
    ccd = tmsfield.load_coil(shared_simnibs / "coils" / "Magstim_70mm_Fig8.ccd")
    g = grid.sampled_grids[0]
    h = float(g.spacing_mm[0])
    assert np.allclose(g.spacing_mm, 5.0)

    # nodes at z >= 10 mm (>= 14 mm from the dipoles): equal up to the file's float32 rounding
    nodes = g.node_positions_mm.reshape(-1, 3)
    cand = np.flatnonzero(nodes[:, 2] >= 10.0)
    pick = rng.choice(cand, 1500, replace=False)
    ref = tmsfield.vector_potential(ccd, nodes[pick])
    got = tmsfield.vector_potential(grid, nodes[pick])
    rel = np.linalg.norm(got - ref, axis=1) / np.linalg.norm(ref, axis=1)
    assert rel.max() < 1e-6, f"seed {seed}: node mismatch {rel.max():.3g} (float32 ~ 6e-8)"

    # points inside the cells over the head region: the error equals the trilinear error predicted
    # from the exact A's second derivatives, +Σ_k t_k(1 − t_k) h²/2 ∂²A/∂x_k² (t_k = fraction of
    # the cell along axis k). t is kept away from 1/2 on some axis: A is harmonic (ΣA_kk = 0), so
    # at cell centres the leading term cancels and only higher orders remain.
    pts = rng.uniform([-60, -60, 15], [60, 60, 60], size=(800, 3))
    t = (pts - g.affine[:3, 3]) / h
    t -= np.floor(t)
    exact = tmsfield.vector_potential(ccd, pts)
    err = tmsfield.vector_potential(grid, pts) - exact
    d = 0.5
    predicted = np.zeros_like(exact)
    for k in range(3):
        off = np.zeros(3)
        off[k] = d
        second = (tmsfield.vector_potential(ccd, pts + off) - 2 * exact + tmsfield.vector_potential(ccd, pts - off)) / d**2
        predicted += (t[:, k] * (1 - t[:, k]))[:, None] * h**2 / 2 * second
    mismatch = np.linalg.norm(err - predicted) / np.linalg.norm(predicted)
    assert mismatch < 0.3, f"seed {seed}: in-cell error differs from the trilinear prediction by {mismatch:.2f}"
    assert np.linalg.norm(err) / np.linalg.norm(exact) < 0.01, f"seed {seed}"
