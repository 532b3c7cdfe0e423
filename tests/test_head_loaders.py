"""Head loaders: FreeSurfer / GIFTI round trips, folders, SimNIBS .msh, units, and bad input."""

import nibabel as nib
import numpy as np
import pytest

from tmsfield.errors import HeadFileError, InputError, MeshError
from tmsfield.head import (Head, Surface, icosphere, load_head, read_freesurfer_surface, read_gifti_surface,
                           write_freesurfer_surface, write_gifti_surface)



def _random_surface(rng, radius, sub=2, name="s"):
    s = icosphere(radius, sub, rng.normal(size=3) * 2, name=name)
    # random smooth radial bump keeps it star-shaped and closed
    v = s.vertices + 0.02 * radius * np.sin(s.vertices / radius * rng.uniform(1, 3, 3))
    return Surface(v, s.triangles, name)


@pytest.mark.random
def test_freesurfer_surface_written_by_nibabel_round_trips(tmp_path, rng, test_seed):
    seed = test_seed
    s = _random_surface(rng, rng.uniform(60, 100))
    p = tmp_path / "lh.pial"
    nib.freesurfer.write_geometry(str(p), s.vertices, s.triangles.astype(np.int32))
    back = read_freesurfer_surface(p)
    assert np.array_equal(back.triangles, s.triangles), seed
    np.testing.assert_allclose(back.vertices, s.vertices, atol=1e-4, err_msg=str(seed))  # float32 on disk
    q = tmp_path / "outer_skin.surf"
    write_freesurfer_surface(q, back)
    again = nib.freesurfer.read_geometry(str(q))
    np.testing.assert_allclose(again[0], back.vertices, atol=1e-4)
    assert np.array_equal(again[1], back.triangles)


@pytest.mark.random
def test_gifti_surface_written_by_nibabel_round_trips(tmp_path, rng, test_seed):
    seed = test_seed
    s = _random_surface(rng, rng.uniform(60, 100))
    img = nib.gifti.GiftiImage(darrays=[
        nib.gifti.GiftiDataArray(s.vertices.astype(np.float32), intent="NIFTI_INTENT_POINTSET"),
        nib.gifti.GiftiDataArray(s.triangles.astype(np.int32), intent="NIFTI_INTENT_TRIANGLE")])
    p = tmp_path / "brain.gii"
    nib.save(img, str(p))
    back = read_gifti_surface(p)
    assert back.name == "brain"
    assert np.array_equal(back.triangles, s.triangles), seed
    np.testing.assert_allclose(back.vertices, s.vertices, atol=1e-4, err_msg=str(seed))
    q = tmp_path / "out.gii"
    write_gifti_surface(q, back, scalars=np.arange(back.n_vertices))
    img2 = nib.load(str(q))
    np.testing.assert_allclose(img2.darrays[0].data, back.vertices, atol=1e-4)
    assert np.array_equal(img2.darrays[1].data, back.triangles)
    assert np.array_equal(img2.darrays[2].data, np.arange(back.n_vertices))


def _write_bem_folder(folder, radii, writer="fs", scale=1.0, xfm=None):
    (folder / "bem").mkdir(parents=True)
    names = ["outer_skin", "outer_skull", "inner_skull"]
    for n, r in zip(names, radii):
        s = icosphere(r, 3, name=n)
        s = Surface(s.vertices * scale, s.triangles, n)
        if writer == "fs":
            nib.freesurfer.write_geometry(str(folder / "bem" / f"{n}.surf"), s.vertices, s.triangles.astype(np.int32))
        else:
            write_gifti_surface(folder / "bem" / f"{n}.gii", s)
    if xfm is not None:
        (folder / "mri" / "transforms").mkdir(parents=True)
        rows = "\n".join(" ".join(f"{x:.6f}" for x in row) for row in xfm[:3])
        (folder / "mri" / "transforms" / "talairach.xfm").write_text(
            f"MNI Transform File\nTransform_Type = Linear;\nLinear_Transform =\n{rows};\n")


@pytest.mark.random
def test_load_head_from_mne_bem_folder_with_talairach(tmp_path, rng, test_seed):
    seed = test_seed
    r = np.sort(rng.uniform(70, 100, 3))[::-1] + [6, 3, 0]
    xfm = np.eye(4)
    xfm[:3, 3] = rng.uniform(-5, 5, 3)
    _write_bem_folder(tmp_path / "subj", r, xfm=xfm)
    head = load_head(tmp_path / "subj")
    assert head.boundary_names == ("scalp", "skull_outer", "skull_inner"), seed
    assert head.tissues == ("scalp", "skull", "brain")
    for b, radius in zip(head.boundaries, r):
        np.testing.assert_allclose(np.linalg.norm(b.vertices, axis=1), radius, rtol=1e-5)
    # talairach (MNI305) composed with the MNI305 -> MNI152 matrix
    from tmsfield.head.loaders import MNI305_TO_MNI152
    np.testing.assert_allclose(head.mni_transform, MNI305_TO_MNI152 @ xfm, atol=1e-6)
    p = rng.normal(size=(5, 3)) * 30
    np.testing.assert_allclose(head.mni_to_subject(head.subject_to_mni(p)), p, atol=1e-9)
    # landmarks came from the template through the transform and lie on the scalp
    for k in ("nasion", "inion", "lpa", "rpa"):
        assert abs(np.linalg.norm(head.landmarks[k]) - r[0]) < 1.0, (k, seed)


def test_metres_are_detected_and_ambiguous_units_refused(tmp_path):
    _write_bem_folder(tmp_path / "m", [0.095, 0.09, 0.085], writer="gii")
    head = load_head(tmp_path / "m", landmarks={"nasion": [0, 95, 0], "inion": [0, -95, 0],
                                                  "lpa": [-95, 0, 0], "rpa": [95, 0, 0]})
    assert abs(np.linalg.norm(head.scalp.vertices, axis=1).max() - 95.0) < 1e-3
    _write_bem_folder(tmp_path / "amb", [3.0, 2.8, 2.6], writer="gii")
    with pytest.raises(HeadFileError, match="units='mm' or units='m'"):
        load_head(tmp_path / "amb")
    with pytest.raises(MeshError, match="amb.*scalp"):   # forced metres -> a 6 m head: the mesh check refuses it
        load_head(tmp_path / "amb", units="m")


@pytest.mark.shared
def test_load_head_simnibs_msh(shared_simnibs):
    head = load_head(shared_simnibs / "meshes" / "sphere3.msh")
    assert head.boundary_names == ("scalp", "skull_outer", "skull_inner")
    assert [round(float(np.linalg.norm(b.vertices, axis=1).mean())) for b in head.boundaries] == [95, 90, 85]


def test_bad_inputs_name_the_file_and_the_fix(tmp_path):
    with pytest.raises(HeadFileError, match="neither a template name"):
        load_head(tmp_path / "missing_head")
    with pytest.raises(InputError, match="unknown template|template name"):
        load_head(42)
    junk = tmp_path / "head.xyz"
    junk.write_text("1 2 3\n")
    with pytest.raises(HeadFileError, match="head.xyz.*unknown head format"):
        load_head(junk)
    single = tmp_path / "scalp.gii"
    write_gifti_surface(single, icosphere(90, 2, name="scalp"))
    with pytest.raises(HeadFileError, match="single surface"):
        load_head(single)
    bad_gii = tmp_path / "broken.gii"
    bad_gii.write_text("<not gifti")
    with pytest.raises(HeadFileError, match="broken.gii"):
        read_gifti_surface(bad_gii)
    with pytest.raises(HeadFileError, match="not found"):
        read_freesurfer_surface(tmp_path / "lh.nothing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(HeadFileError, match="no head surfaces"):
        load_head(empty)


def test_holes_flips_nesting_and_landmarks_are_refused():
    scalp = icosphere(95, 2, name="scalp")
    brain = icosphere(85, 2, name="brain")
    holed = Surface(scalp.vertices, scalp.triangles[1:], "scalp")
    with pytest.raises(MeshError, match="'scalp' has holes"):
        Head.from_surfaces([holed, brain], source="x.gii")
    flipped = Surface(brain.vertices, brain.triangles[:, ::-1], "brain")
    with pytest.raises(MeshError, match="flipped"):
        Head.from_surfaces([scalp, flipped])
    big_brain = icosphere(99, 2, name="brain")
    with pytest.raises(MeshError, match="not nested"):
        Head.from_surfaces([scalp, big_brain])
    with pytest.raises(InputError, match="outside → in"):
        Head.from_surfaces([scalp, icosphere(90, 2, name="skull_inner"), icosphere(85, 2, name="skull_outer")])
    lm = {"nasion": [0, 95, 0], "inion": [0, -95, 0], "lpa": [-95, 0, 0], "rpa": [95, 0, 40.0 + 95]}
    with pytest.raises(HeadFileError, match="'rpa'.*from the scalp"):
        Head.from_surfaces([scalp, brain], landmarks=lm)
    with pytest.raises(InputError, match="unknown landmark"):
        Head.from_surfaces([scalp, brain], landmarks={"nose": [0, 95, 0]})


@pytest.mark.random
def test_freesurfer_subject_cortex_is_mid_thickness_with_sulc(tmp_path, rng, test_seed):
    seed = test_seed
    subj = tmp_path / "bert"
    _write_bem_folder(subj, [95, 90, 85])
    (subj / "surf").mkdir()
    for hemi, dx in (("lh", -32.0), ("rh", 32.0)):          # hemispheres apart: the pial surfaces are a boundary
        r_white, r_pial = rng.uniform(20, 24), rng.uniform(26, 30)
        for kind, r in (("white", r_white), ("pial", r_pial)):
            s = icosphere(r, 2, center_mm=(dx, 0, 0))
            nib.freesurfer.write_geometry(str(subj / "surf" / f"{hemi}.{kind}"), s.vertices,
                                          s.triangles.astype(np.int32))
        nib.freesurfer.write_morph_data(str(subj / "surf" / f"{hemi}.sulc"), np.full(162, 1.0 if hemi == "lh" else -1.0,
                                                                                    dtype=np.float32))
        mid = np.linalg.norm(icosphere(1.0, 2).vertices, axis=1) * (r_white + r_pial) / 2
        if hemi == "lh":
            expect_lh = mid
    head = load_head(subj, landmarks={"nasion": [0, 95, 0], "inion": [0, -95, 0], "lpa": [-95, 0, 0],
                                      "rpa": [95, 0, 0]})
    assert head.cortex.n_vertices == 324, seed
    assert head.tissues == ("scalp", "skull", "csf", "gm", "wm"), seed
    np.testing.assert_allclose(np.linalg.norm(head.cortex.vertices[:162] - [-32, 0, 0], axis=1), expect_lh,
                               rtol=1e-5, err_msg=str(seed))
    assert np.array_equal(head.cortex_curvature, np.r_[np.ones(162), -np.ones(162)])
