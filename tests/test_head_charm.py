"""SimNIBS charm heads: tetrahedral .msh meshes with tissue junctions (issue 14, item 3).

The meshes are written here (tests/_charm_cases.py): concentric shells whose boundaries are icosphere
triangles at known radii, so every extracted surface, its tissues and its orientation can be checked
against the construction.
"""

import json

import numpy as np
import pytest

from tmsfield.errors import HeadFileError, MeshError, TmsfieldError
from tmsfield.head import Head, load_head
from tmsfield.head.charm import SIMNIBS_CONDUCTIVITIES, head_from_tetrahedra, read_simnibs_eeg_csv
from tmsfield.head.io_msh import read_msh_volume, write_msh_volume
from tmsfield.head.junctions import check_head_sides

from _charm_cases import (BLOOD, BONE, COMPACT, CSF, EYES, FIVE_RADII, FIVE_TAGS, GM, MUSCLE, SCALP, SPONGY, WM,
                          fold_head, layered_mesh, ventricle_head)


def _radii(s):
    return np.linalg.norm(s.vertices, axis=1)


def _outward(s, centre=(0.0, 0.0, 0.0)):
    """Fraction of triangles whose normal points away from the centre."""
    return float(np.mean(np.einsum("ij,ij->i", s.triangle_normals, s.centroids - centre) > 0))


@pytest.fixture(scope="module")
def ventricle_msh(tmp_path_factory):
    d = tmp_path_factory.mktemp("charm")
    nodes, tets, tags = ventricle_head()
    paths = {}
    for binary in (True, False):
        p = d / f"vent_{'bin' if binary else 'ascii'}.msh"
        write_msh_volume(p, nodes, tets, tags, binary=binary)
        paths[binary] = p
    return paths


def test_concentric_spheres_load_into_five_tissues_with_their_sides(tmp_path):
    nodes, tets, tags = layered_mesh(FIVE_RADII, FIVE_TAGS, [2, 2, 2, 2, 3])
    p = tmp_path / "sub.msh"
    write_msh_volume(p, nodes, tets, tags)
    head = load_head(p)
    assert head.boundary_names == ("scalp", "skull_outer", "skull_inner", "gm", "wm")
    assert head.tissues == ("scalp", "skull", "csf", "gm", "wm")
    expect = [("scalp", "air"), ("skull", "scalp"), ("csf", "skull"), ("gm", "csf"), ("wm", "gm")]
    for b, sides, r, pair in zip(head.boundaries, head.triangle_sides(), FIVE_RADII[::-1], expect):
        np.testing.assert_allclose(_radii(b), r, rtol=2e-6)
        assert {tuple(x) for x in sides.tolist()} == {pair}, b.name
        assert _outward(b) == 1.0, b.name
    assert [b.n_triangles for b in head.boundaries] == [1280, 320, 320, 320, 320]
    # reporting surface: the GM boundary moved halfway to the WM
    np.testing.assert_allclose(_radii(head.cortex), 77.5, atol=0.6)
    check_head_sides(head)


def test_ascii_and_binary_give_the_same_head(ventricle_msh):
    a, b = load_head(ventricle_msh[False]), load_head(ventricle_msh[True])
    assert a.boundary_names == b.boundary_names and a.tissues == b.tissues
    for sa, sb, xa, xb in zip(a.boundaries, b.boundaries, a.sides, b.sides):
        assert np.array_equal(sa.triangles, sb.triangles)
        np.testing.assert_array_equal(sa.vertices, sb.vertices)
        assert np.array_equal(xa, xb)
    vol = read_msh_volume(ventricle_msh[False])
    nodes, tets, tags = ventricle_head()
    order = np.argsort(tags, kind="stable")              # the writer groups the tetrahedra by tag
    np.testing.assert_array_equal(vol.tags, tags[order])
    np.testing.assert_array_equal(vol.nodes[vol.tetrahedra], nodes[tets[order]])


def test_ventricle_is_csf_inside_the_white_matter(ventricle_msh):
    head = load_head(ventricle_msh[True])
    wm = head.surface("wm")
    sides = head.sides[head.boundary_names.index("wm")]
    vent = _radii(wm)[wm.triangles].mean(axis=1) < 50
    assert vent.sum() == 80 and (~vent).sum() == 320
    assert {tuple(x) for x in sides[vent].tolist()} == {("csf", "wm")}
    assert {tuple(x) for x in sides[~vent].tolist()} == {("wm", "gm")}
    assert _outward(wm) == 1.0                 # each closed part faces outward, its sides say what is inside
    check_head_sides(head)


def test_ventricle_head_solves_within_1_percent_of_the_analytic_sphere(ventricle_msh):
    """Concentric tissues: the induced field is that of a homogeneous 95 mm sphere whatever the
    conductivities, so any error in the per-triangle sides (a ventricle triangle with its tissues swapped
    gets the wrong contrast) shows up as a deviation from the analytic sphere."""
    import tmsfield
    from tmsfield.solver.bem import EFieldSolver
    from tmsfield.solver.sphere import SphereModel
    from test_bem_sphere import dipole_fig8
    head = load_head(ventricle_msh[True])
    solver = EFieldSolver(head, fast_placements=False)
    coil = dipole_fig8()
    z = np.array([0.3, -0.4, 0.866])
    z /= np.linalg.norm(z)
    pose = tmsfield.CoilPose.from_axes(z * 105.0, -z, [1.0, 0.0, 0.0])
    pts = np.vstack([head.cortex.vertices, np.linspace(0.0, 70.0, 15)[:, None] * z])
    e = solver.efield(coil, pts, pose)
    ea = SphereModel(95.0).efield(coil, pts, pose)
    err = np.linalg.norm(e - ea) / np.linalg.norm(ea)
    assert err <= 0.01, err
    # and the sides matter: the same mesh with the ventricle's sides swapped is a different conductor
    k = head.boundary_names.index("wm")
    bad = [s.copy() for s in head.sides]
    vent = _radii(head.boundaries[k])[head.boundaries[k].triangles].mean(axis=1) < 50
    bad[k][vent] = bad[k][vent][:, ::-1]
    with pytest.raises(MeshError, match="do not agree|outer side"):
        check_head_sides(Head(head.name, head.boundaries, head.tissues, sides=tuple(bad), source="swapped"))


def test_touching_fold_grey_matter_meets_the_skull(tmp_path):
    nodes, tets, tags = fold_head()
    p = tmp_path / "fold.msh"
    write_msh_volume(p, nodes, tets, tags)
    head = load_head(p)
    assert head.boundary_names == ("scalp", "skull_outer", "skull_inner", "gm", "wm")
    gm, gm_sides = head.surface("gm"), head.sides[3]
    r = _radii(gm)[gm.triangles].mean(axis=1)
    up = gm.centroids[:, 2] / np.linalg.norm(gm.centroids, axis=1)
    pairs = {tuple(x) for x in gm_sides.tolist()}
    assert pairs == {("gm", "csf"), ("gm", "skull")}
    touching = (gm_sides == ["gm", "skull"]).all(axis=1)
    assert touching.any() and np.all(np.abs(r[touching] - 85.0) < 1.0)         # on the inner skull
    assert np.all(up[touching] > 0.7) and np.all(up[r < 80.5] < 0.95)
    # the grey matter's outer surface is closed; the inner skull's CSF side has a hole where GM touches
    from tmsfield.head.mesh_tools import boundary_edge_count
    assert boundary_edge_count(gm.triangles) == 0
    assert boundary_edge_count(head.surface("skull_inner").triangles) > 0
    assert {tuple(x) for x in head.sides[2].tolist()} == {("csf", "skull")}
    check_head_sides(head)
    # the inner-skull hole is exactly the patch where GM touches the skull: areas add up to the full sphere
    inner = head.surface("skull_inner")
    full = head.surface("skull_outer").triangle_areas.sum() * (85.0 / 90.0) ** 2
    touch_area = gm.triangle_areas[touching].sum()
    assert abs(inner.triangle_areas.sum() + touch_area - full) < 1e-6 * full


def test_extra_tissues_are_mapped_or_kept(tmp_path):
    def tag_of(layer, cen, tt):
        u = cen / np.linalg.norm(cen, axis=1, keepdims=True)
        tt[(layer == 4) & (u[:, 1] > 0.8)] = EYES          # scalp layer, front
        tt[(layer == 4) & (u[:, 1] < -0.8)] = MUSCLE       # scalp layer, back
        tt[(layer == 3) & (u[:, 0] > 0.5)] = COMPACT       # skull layer, right
        tt[(layer == 3) & (u[:, 0] < -0.5)] = SPONGY       # skull layer, left
        tt[(layer == 2) & (u[:, 2] > 0.8)] = BLOOD         # a sinus in the CSF (top)
        tt[(layer == 4) & (u[:, 2] < -0.8)] = BLOOD        # a vessel in the scalp (bottom)
        return tt
    nodes, tets, tags = layered_mesh(FIVE_RADII, FIVE_TAGS, [2, 2, 2, 2, 2], tag_of=tag_of)
    assert set(np.unique(tags)) == set(range(1, 11)) - {WM} | {WM}
    p = tmp_path / "extra.msh"
    write_msh_volume(p, nodes, tets, tags)
    mapped = load_head(p)                          # default: onto the five, boundaries as plain shells
    assert mapped.tissues == ("scalp", "skull", "csf", "gm", "wm")
    expect = [("scalp", "air"), ("skull", "scalp"), ("csf", "skull"), ("gm", "csf"), ("wm", "gm")]
    for b, s, pair, r in zip(mapped.boundaries, mapped.sides, expect, FIVE_RADII[::-1]):
        assert {tuple(x) for x in s.tolist()} == {pair}
        np.testing.assert_allclose(_radii(b), r, rtol=2e-6)
    kept = load_head(p, extra_tissues="keep")
    assert set(kept.tissues) == {"scalp", "muscle", "eyes", "skull", "compact_bone", "spongy_bone", "blood", "csf",
                                 "gm", "wm"}
    allpairs = {tuple(x) for s in kept.sides for x in s.tolist()}
    assert ("eyes", "air") in allpairs and ("csf", "blood") in allpairs and ("spongy_bone", "scalp") in allpairs
    assert all(t in SIMNIBS_CONDUCTIVITIES for t in kept.tissues)
    check_head_sides(kept)
    # a per-tag override: the eyes as CSF (a pocket of CSF in the scalp)
    odd = load_head(p, tissue_map={EYES: "csf"})
    assert ("csf", "air") in {tuple(x) for s in odd.sides for x in s.tolist()}


def test_inconsistent_meshes_are_refused_naming_file_and_problem(tmp_path):
    nodes, tets, tags = ventricle_head(subdivisions=(1, 2, 2, 2, 2, 2))
    # the ventricle's tetrahedra missing: an air cavity inside the white matter
    p = tmp_path / "cavity.msh"
    inside = np.linalg.norm(nodes[tets].mean(axis=1), axis=1) < 30
    write_msh_volume(p, nodes, tets[~inside], tags[~inside])
    with pytest.raises(MeshError, match=r"cavity\.msh.*air on their inner side.*wm.*tag 1"):
        load_head(p)
    # an unknown tissue tag
    p = tmp_path / "tag42.msh"
    t2 = tags.copy()
    t2[:5] = 42
    write_msh_volume(p, nodes, tets, t2)
    with pytest.raises(MeshError, match=r"tag42\.msh: 5 tetrahedra are tagged 42.*tissue_map"):
        load_head(p)
    assert load_head(p, tissue_map={42: "csf"}).tissues[0] == "scalp"
    # a duplicated tetrahedron
    p = tmp_path / "dup.msh"
    write_msh_volume(p, nodes, np.vstack([tets, tets[-1:]]), np.r_[tags, tags[-1]])
    with pytest.raises(MeshError, match=r"dup\.msh.*shared by more than two tetrahedra"):
        load_head(p)
    # no scalp around everything
    p = tmp_path / "noscalp.msh"
    keep = tags != SCALP
    write_msh_volume(p, nodes, tets[keep], tags[keep])
    with pytest.raises(MeshError, match=r"noscalp\.msh.*scalp"):
        load_head(p)
    # a flat tetrahedron
    p = tmp_path / "flat.msh"
    t3 = tets.copy()
    t3[0, 3] = t3[0, 2]
    write_msh_volume(p, nodes, t3, tags)
    with pytest.raises(MeshError, match=r"flat\.msh.*no volume.*tag"):
        load_head(p)


def test_sides_given_by_hand_are_checked():
    nodes, tets, tags = layered_mesh(FIVE_RADII, FIVE_TAGS, [1, 1, 1, 1, 1])
    head = head_from_tetrahedra(nodes, tets, tags, source="hand")
    sides = [s.copy() for s in head.sides]
    sides[3][0] = ["gm", "skull"]                       # one pial triangle claims the skull is beyond it
    with pytest.raises(MeshError, match="hand: the tissues do not agree around an edge"):
        check_head_sides(Head(head.name, head.boundaries, head.tissues, sides=tuple(sides), source="hand"))
    sides = [s.copy() for s in head.sides]
    sides[4][:] = sides[4][:, ::-1]                     # the whole white surface relabelled inside out
    with pytest.raises(MeshError, match="closed piece.*outer side"):
        check_head_sides(Head(head.name, head.boundaries, head.tissues, sides=tuple(sides), source="hand"))


def _write_m2m(folder, with_warp=True):
    folder.mkdir()
    nodes, tets, tags = layered_mesh(FIVE_RADII, FIVE_TAGS, [1, 1, 1, 1, 2])
    write_msh_volume(folder / f"{folder.name[4:]}.msh", nodes, tets, tags)
    (folder / "eeg_positions").mkdir()
    (folder / "eeg_positions" / "EEG10-10_UI_Jurak_2007.csv").write_text(
        "Fiducial,0.0,95.0,0.0,Nz\nFiducial,0.0,-95.0,0.0,Iz\nFiducial,-95.0,0.0,0.0,LPA\n"
        "Fiducial,95.0,0.0,0.0,RPA\nElectrode,-40.0,60.0,60.0,F3\nElectrode,0.0,0.0,95.0,Cz\n")
    shift = np.array([2.0, -3.0, 4.0])
    if with_warp:
        import nibabel as nib
        (folder / "toMNI").mkdir()
        aff = np.diag([4.0, 4.0, 4.0, 1.0])
        aff[:3, 3] = -120.0
        ijk = np.stack(np.meshgrid(*[np.arange(61.0)] * 3, indexing="ij"), -1)
        world = ijk * 4.0 - 120.0
        field = (world * 1.1 + shift).astype(np.float32)          # subject -> MNI: scale 1.1, shift
        nib.save(nib.Nifti1Image(field, aff), str(folder / "toMNI" / "Conform2MNI_nonl.nii.gz"))
    return shift


def test_m2m_folder_landmarks_eeg_and_mni_transform(tmp_path):
    m2m = tmp_path / "m2m_ernie"
    shift = _write_m2m(m2m)
    head = load_head(m2m)
    assert head.name == "ernie" and head.tissues == ("scalp", "skull", "csf", "gm", "wm")
    np.testing.assert_allclose(head.landmarks["nasion"], [0, 95, 0])
    np.testing.assert_allclose(head.landmarks["rpa"], [95, 0, 0])
    expect = np.diag([1.1, 1.1, 1.1, 1.0])
    expect[:3, 3] = shift
    np.testing.assert_allclose(head.mni_transform, expect, atol=1e-4)
    el, fid = read_simnibs_eeg_csv(m2m / "eeg_positions" / "EEG10-10_UI_Jurak_2007.csv")
    assert sorted(el) == ["Cz", "F3"] and sorted(fid) == ["Iz", "LPA", "Nz", "RPA"]
    # the .msh alone: no landmarks, no transform
    alone = load_head(m2m / "ernie.msh")
    assert alone.landmarks == {} and alone.mni_transform is None


def test_m2m_bad_eeg_file_names_the_file(tmp_path):
    m2m = tmp_path / "m2m_x"
    _write_m2m(m2m, with_warp=False)
    bad = m2m / "eeg_positions" / "EEG10-10_UI_Jurak_2007.csv"
    bad.write_text("Fiducial,0.0,nan,0.0,Nz\n")
    with pytest.raises(HeadFileError, match=r"EEG10-10_UI_Jurak_2007\.csv: line 1"):
        load_head(m2m)
    with pytest.raises(TmsfieldError):
        load_head(tmp_path / "m2m_x" / "nothing.msh")


def test_touching_fold_solves_where_it_is_invisible():
    """With σ_gm = σ_csf the grey-matter patch that replaces the CSF is electrically CSF: the conductor is
    spherically symmetric again and the analytic sphere holds. Only the GM/skull junction triangles (sides
    gm|skull, which must get the CSF/skull contrast) stand where the inner skull has its hole; a wrong side
    there would leave the skull open and miss the sphere by far more than 1 %.

    ``check_mesh=False``: the solver's per-surface check wants closed surfaces, and at a junction the
    ``skull_inner`` surface is open by nature (the consistency of the sides was checked on loading)."""
    import tmsfield
    from tmsfield.solver.bem import EFieldSolver
    from tmsfield.solver.conductivity import DEFAULT_CONDUCTIVITIES
    from tmsfield.solver.sphere import SphereModel
    from test_bem_sphere import dipole_fig8
    nodes, tets, tags = fold_head(cap_cos=0.7, subdivisions=(2, 2, 3, 3, 4))
    head = head_from_tetrahedra(nodes, tets, tags, source="fold")
    touching = (head.sides[3] == ["gm", "skull"]).all(axis=1)
    assert touching.sum() > 20
    solver = EFieldSolver(head, conductivities={"gm": DEFAULT_CONDUCTIVITIES["csf"]}, check_mesh=False,
                          fast_placements=False)
    coil = dipole_fig8()
    z = np.array([0.2, 0.1, 1.0])
    z /= np.linalg.norm(z)
    pose = tmsfield.CoilPose.from_axes(z * 105.0, -z, [1.0, 0.0, 0.0])     # over the fold
    pts = np.vstack([head.cortex.vertices, np.linspace(0.0, 70.0, 15)[:, None] * z])
    e = solver.efield(coil, pts, pose)
    ea = SphereModel(95.0).efield(coil, pts, pose)
    err = np.linalg.norm(e - ea) / np.linalg.norm(ea)
    assert err <= 0.01, err


def test_m2m_central_surfaces_are_the_cortex(tmp_path):
    from tmsfield.head import icosphere, write_gifti_surface
    m2m = tmp_path / "m2m_c"
    _write_m2m(m2m, with_warp=False)
    (m2m / "surfaces").mkdir()
    for h, dx in (("lh", -20.0), ("rh", 20.0)):
        write_gifti_surface(m2m / "surfaces" / f"{h}.central.gii", icosphere(30.0, 1, center_mm=(dx, 0, 0)))
    head = load_head(m2m)
    assert head.cortex.n_vertices == 2 * 42
    np.testing.assert_allclose(np.linalg.norm(head.cortex.vertices[:42] - [-20, 0, 0], axis=1), 30.0, rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(head.cortex.vertices[42:] - [20, 0, 0], axis=1), 30.0, rtol=1e-6)
