"""Label volume -> surfaces: synthetic labelled spheres through marching cubes, affine handling, bad input."""

import nibabel as nib
import numpy as np
import pytest

from tmsfield.errors import HeadFileError
from tmsfield.head import load_head, surfaces_from_label_volume
from tmsfield.head.mesh_tools import run_bem_mesh_check


def _labelled_spheres(rng, radii, voxel, shape):
    """SimNIBS-style labels (5 scalp, 4 bone, 2 GM) of concentric balls in a volume with a random affine
    (anisotropic voxels, x axis flipped, random origin). Returns labels, affine, centre (mm)."""
    affine = np.diag([-voxel[0], voxel[1], voxel[2], 1.0])
    affine[:3, 3] = rng.uniform(-20, 20, 3)
    centre_vox = (np.array(shape) - 1) / 2 + rng.uniform(-3, 3, 3)
    ijk = np.indices(shape, dtype=np.float64).reshape(3, -1).T
    xyz = ijk @ affine[:3, :3].T + affine[:3, 3]
    centre = centre_vox @ affine[:3, :3].T + affine[:3, 3]
    r = np.linalg.norm(xyz - centre, axis=1).reshape(shape)
    labels = np.select([r < radii[2], r < radii[1], r < radii[0]], [2, 4, 5], 0).astype(np.int16)
    return labels, affine, centre


@pytest.mark.random
def test_labelled_spheres_give_surfaces_within_half_a_mm_that_pass_the_mesh_check(tmp_path, rng, test_seed):
    seed = test_seed
    radii = np.array([rng.uniform(62, 66), rng.uniform(55, 58), rng.uniform(46, 50)])
    labels, affine, centre = _labelled_spheres(rng, radii, voxel=(1.0, 1.1, 0.9), shape=(144, 130, 160))
    path = tmp_path / "final_tissues.nii"
    nib.save(nib.Nifti1Image(labels, affine), str(path))
    head = load_head(path, landmarks={"nasion": centre + [0, radii[0], 0], "inion": centre - [0, radii[0], 0],
                                      "lpa": centre - [radii[0], 0, 0], "rpa": centre + [radii[0], 0, 0]})
    assert head.boundary_names == ("scalp", "skull_outer", "skull_inner"), seed
    assert head.tissues == ("scalp", "skull", "brain")
    for surf, radius in zip(head.boundaries, radii):
        r = np.linalg.norm(surf.vertices - centre, axis=1)
        # the fitted (area-weighted mean) radius within 0.5 mm; single vertices within one voxel (the voxelised
        # boundary itself scatters by about half a voxel)
        mean_r = np.sum(r * surf.vertex_areas) / surf.vertex_areas.sum()
        assert abs(mean_r - radius) < 0.5, (surf.name, radius, mean_r, seed)
        assert np.abs(r - radius).max() < 1.0, (surf.name, radius, r.min(), r.max(), seed)
    run_bem_mesh_check(head.boundaries, str(path))   # the BEM solver's check (closed, outward, nested, no crossing)
    edges = [s.mean_edge_length for s in head.boundaries]
    assert edges[0] > edges[1] > edges[2] > 2.0, edges   # default 5 / 4 / 3 mm


@pytest.mark.random
def test_user_mapping_and_array_input(rng):
    g = np.indices((70, 70, 70)) - 34.5
    r = np.sqrt((g ** 2).sum(0)) * 2.0
    lab = np.select([r < 40, r < 52, r < 62], [7, 8, 9], 0)
    b, t = surfaces_from_label_volume(lab, {"scalp": [9], "skull": [8], "brain": [7]},
                                      edge_length_mm=4.0, affine=np.diag([2.0, 2.0, 2.0, 1.0]))
    assert t == ["scalp", "skull", "brain"]
    assert [s.name for s in b] == ["scalp", "skull_outer", "skull_inner"]
    c = np.array([69.0, 69.0, 69.0])
    for s, radius in zip(b, (62, 52, 40)):
        assert abs(np.linalg.norm(s.vertices - c, axis=1).mean() - radius) < 1.0, s.name
    del rng


def test_bad_volumes(tmp_path):
    lab = np.zeros((20, 20, 20), np.int16)
    lab[5:15, 5:15, 5:15] = 5
    with pytest.raises(HeadFileError, match="without an affine"):
        surfaces_from_label_volume(lab)
    img = nib.Nifti1Image(lab, None)   # no affine: sform and qform codes 0
    p = tmp_path / "noaff.nii"
    nib.save(img, str(p))
    with pytest.raises(HeadFileError, match="noaff.nii.*no affine"):
        surfaces_from_label_volume(p)
    p2 = tmp_path / "metres.nii"
    nib.save(nib.Nifti1Image(lab, np.diag([0.001, 0.001, 0.001, 1])), str(p2))
    with pytest.raises(HeadFileError, match="metres"):
        surfaces_from_label_volume(p2)
    p3 = tmp_path / "wrong_labels.nii"
    nib.save(nib.Nifti1Image((3 * (lab > 0)).astype(np.int16), np.eye(4)), str(p3))
    with pytest.raises(HeadFileError, match="wrong_labels.nii.*tissue 'scalp'"):
        surfaces_from_label_volume(p3)
    with pytest.raises(HeadFileError, match="not found"):
        load_head(tmp_path / "final_tissues.nii.gz")
    garbage = tmp_path / "garbage.nii.gz"
    garbage.write_bytes(b"not a nifti")
    with pytest.raises(HeadFileError, match="garbage.nii.gz"):
        load_head(garbage)


def test_head_cut_by_the_field_of_view_is_closed_and_nested():
    """A head whose lower part is cut by the volume edge (neck) still gives closed nested surfaces."""
    g = np.indices((60, 60, 50)).astype(float)
    c = np.array([29.5, 29.5, 12.0])            # centre low: the balls stick out of the bottom slice
    r = np.sqrt(((g - c[:, None, None, None]) ** 2).sum(0)) * 2.0
    lab = np.select([r < 40, r < 48, r < 56], [1, 4, 5], 0).astype(np.int16)
    b, _ = surfaces_from_label_volume(lab, affine=np.diag([2.0, 2.0, 2.0, 1.0]), edge_length_mm=4.0)
    run_bem_mesh_check(b, "cut volume")
    assert b[0].vertices[:, 2].min() < 0.0      # closed a little below the first slice


def test_aseg_preset_gives_one_brain_surface(tmp_path):
    g = np.indices((50, 50, 50)) - 24.5
    r = np.sqrt((g ** 2).sum(0)) * 2.0
    lab = np.select([r < 20, r < 40], [4, 3], 0).astype(np.int32)   # ventricle inside cortex-like labels
    p = tmp_path / "aseg.mgz"
    nib.save(nib.MGHImage(lab, np.diag([2.0, 2.0, 2.0, 1.0])), str(p))
    b, t = surfaces_from_label_volume(p, "aseg", edge_length_mm=4.0)
    assert t == ["brain"] and [s.name for s in b] == ["brain"]
    assert abs(np.linalg.norm(b[0].vertices - b[0].vertices.mean(0), axis=1).mean() - 40.0) < 1.0
    with pytest.raises(Exception, match="scalp"):
        load_head(p, tissue_labels="aseg")
