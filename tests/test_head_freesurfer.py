"""FreeSurfer subjects as five-tissue heads (issue 14, item 3): surf/{lh,rh}.{pial,white} + bem/ watershed.

Subjects are written here with nibabel.freesurfer.write_geometry (with and without volume information),
so the tkregister → scanner RAS shift, the tissues, the medial-wall junction and the refusals are checked
against the construction.
"""

import warnings

import nibabel as nib
import numpy as np
import pytest

from tmsfield.errors import HeadFileError, MeshError
from tmsfield.head import icosphere, load_head
from tmsfield.head.freesurfer import subject_cras
from tmsfield.head.junctions import check_head_sides
from tmsfield.head.loaders import MNI305_TO_MNI152

CRAS = np.array([3.5, -12.25, 20.0])
HEMI = {"lh": -32.0, "rh": 32.0}


def _volume_info(cras):
    return {"head": [2, 0, 20], "valid": "1  # volume info valid", "filename": "orig.mgz",
            "volume": [256, 256, 256], "voxelsize": [1.0, 1.0, 1.0], "xras": [-1.0, 0.0, 0.0],
            "yras": [0.0, 0.0, -1.0], "zras": [0.0, 1.0, 0.0], "cras": list(map(float, cras))}


def _write(path, v, t, cras=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.freesurfer.write_geometry(str(path), v, t.astype(np.int32),
                                  volume_info=_volume_info(cras) if cras is not None else None)


def write_subject(folder, cras=CRAS, bem_info=False, watershed=False, medial_wall=False, xfm=None,
                  pial_radius=28.0):
    """A subject in tkr RAS: bem shells 95/90/85 mm, two hemispheres (white 22, pial 28 mm at x = ±32)."""
    for n, r in (("outer_skin", 95.0), ("outer_skull", 90.0), ("inner_skull", 85.0)):
        s = icosphere(r, 2)
        p = (folder / "bem" / "watershed" / f"{folder.name}_{n}_surface") if watershed else (folder / "bem" / f"{n}.surf")
        _write(p, s.vertices, s.triangles, cras if bem_info else None)
    for h, dx in HEMI.items():
        u = icosphere(1.0, 2)
        white = 22.0 * u.vertices + [dx, 0, 0]
        pial = pial_radius * u.vertices + [dx, 0, 0]
        if medial_wall:              # no cortex where the hemisphere faces the midline
            wall = u.vertices[:, 0] * np.sign(-dx) > 0.8
            pial[wall] = white[wall]
        _write(folder / "surf" / f"{h}.white", white, u.triangles, cras)
        _write(folder / "surf" / f"{h}.pial", pial, u.triangles, cras)
    if xfm is not None:
        (folder / "mri" / "transforms").mkdir(parents=True, exist_ok=True)
        rows = "\n".join(" ".join(f"{x:.6f}" for x in row) for row in xfm[:3])
        (folder / "mri" / "transforms" / "talairach.xfm").write_text(
            f"MNI Transform File\nTransform_Type = Linear;\nLinear_Transform =\n{rows};\n")
    return folder


def test_subject_loads_into_five_tissues_in_scanner_ras(tmp_path):
    xfm = np.eye(4)
    xfm[:3, 3] = [1.0, -2.0, 3.0]
    subj = write_subject(tmp_path / "bert", xfm=xfm)
    head = load_head(subj)
    assert head.boundary_names == ("scalp", "skull_outer", "skull_inner", "gm", "wm")
    assert head.tissues == ("scalp", "skull", "csf", "gm", "wm")
    assert head.sides is None                           # strictly nested: no junction
    for b, r in zip(head.boundaries[:3], (95.0, 90.0, 85.0)):
        np.testing.assert_allclose(np.linalg.norm(b.vertices - CRAS, axis=1), r, rtol=1e-6)   # tkr + c_ras
    for name, r in (("gm", 28.0), ("wm", 22.0)):
        s = head.surface(name)
        assert s.n_triangles == 2 * 320
        for k, dx in enumerate(HEMI.values()):
            v = s.vertices[k * 162:(k + 1) * 162]
            np.testing.assert_allclose(np.linalg.norm(v - CRAS - [dx, 0, 0], axis=1), r, rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(head.cortex.vertices[:162] - CRAS - [-32, 0, 0], axis=1), 25.0,
                               rtol=1e-6)
    # talairach.xfm maps scanner RAS (where the surfaces now are) to MNI305
    np.testing.assert_allclose(head.mni_transform, MNI305_TO_MNI152 @ xfm, atol=1e-9)
    assert subject_cras(subj)[1].endswith("lh.pial (volume info)")


def test_watershed_surfaces_without_volume_info_take_the_subjects_c_ras(tmp_path):
    subj = write_subject(tmp_path / "ernie", watershed=True, bem_info=False)
    head = load_head(subj, landmarks={"nasion": CRAS + [0, 95, 0], "inion": CRAS + [0, -95, 0],
                                      "lpa": CRAS + [-95, 0, 0], "rpa": CRAS + [95, 0, 0]})
    np.testing.assert_allclose(np.linalg.norm(head.scalp.vertices - CRAS, axis=1), 95.0, rtol=1e-6)
    assert head.tissues == ("scalp", "skull", "csf", "gm", "wm")


def test_c_ras_from_orig_mgz_when_no_surface_carries_it(tmp_path):
    subj = write_subject(tmp_path / "s", cras=None)
    (subj / "mri").mkdir()
    aff = np.array([[-1.0, 0, 0, 8.0], [0, 0, 1.0, -8.0], [0, -1.0, 0, 8.0], [0, 0, 0, 1.0]])
    aff[:3, 3] += CRAS                                   # a conformed (16³ here) volume centred at c_ras
    nib.save(nib.MGHImage(np.zeros((16, 16, 16), np.uint8), aff), str(subj / "mri" / "orig.mgz"))
    c, where = subject_cras(subj)
    np.testing.assert_allclose(c, CRAS, atol=1e-9)
    assert where.endswith("orig.mgz")
    head = load_head(subj, landmarks={"nasion": CRAS + [0, 95, 0], "inion": CRAS + [0, -95, 0],
                                      "lpa": CRAS + [-95, 0, 0], "rpa": CRAS + [95, 0, 0]})
    np.testing.assert_allclose(np.linalg.norm(head.surface("skull_inner").vertices - CRAS, axis=1), 85.0, rtol=1e-6)


def test_no_c_ras_anywhere_is_said(tmp_path):
    subj = write_subject(tmp_path / "nocras", cras=None)
    with pytest.warns(UserWarning, match="no c_ras found"):
        head = load_head(subj, landmarks={"nasion": [0, 95, 0], "inion": [0, -95, 0], "lpa": [-95, 0, 0],
                                          "rpa": [95, 0, 0]})
    np.testing.assert_allclose(np.linalg.norm(head.scalp.vertices, axis=1), 95.0, rtol=1e-6)


def test_medial_wall_white_matter_meets_the_csf(tmp_path):
    subj = write_subject(tmp_path / "mw", medial_wall=True)
    head = load_head(subj)
    assert head.tissues == ("scalp", "skull", "csf", "gm", "wm") and head.sides is not None
    wm, wm_sides = head.surface("wm"), head.sides[4]
    local = wm.centroids - CRAS
    facing_midline = np.r_[local[:320, 0] + 32 > 0, local[320:, 0] - 32 < 0]
    on_wall = (wm_sides == ["wm", "csf"]).all(axis=1)
    assert on_wall.sum() >= 10 and np.all(facing_midline[on_wall])
    assert {tuple(x) for x in wm_sides[~on_wall].tolist()} == {("wm", "gm")}
    assert head.surface("gm").n_triangles == 2 * 320 - on_wall.sum()          # the coincident pial triangles dropped
    check_head_sides(head)


def test_refusals_name_the_file_and_the_fix(tmp_path):
    subj = write_subject(tmp_path / "bad")
    u = icosphere(1.0, 1)
    _write(subj / "surf" / "rh.white", 22.0 * u.vertices + [32, 0, 0], u.triangles, CRAS)
    with pytest.raises(HeadFileError, match=r"rh\.white.*vertex for vertex"):
        load_head(subj)
    big = write_subject(tmp_path / "big", pial_radius=60.0)
    with pytest.raises(MeshError, match=r"big.*not nested|big.*intersect"):
        load_head(big)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nb = tmp_path / "nobem"
        write_subject(nb)
        for p in (nb / "bem").iterdir():
            p.unlink()
        (nb / "bem" / "outer_skin.surf").write_bytes(b"")
        with pytest.raises(HeadFileError, match=r"outer_skin\.surf"):
            load_head(nb)
