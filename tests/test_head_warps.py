"""Nonlinear warps: a smooth displacement of known analytic inverse, written in every supported convention,
maps points both ways to < 0.1 mm; bad files give clear errors."""

import numpy as np
import pytest

nib = pytest.importorskip("nibabel")

from tmsfield.errors import HeadFileError, InputError
from tmsfield.head.warps import Warp, load_warp, write_displacement_field

A, B, C, L = 4.0, 3.0, 2.0, 20.0   # mm: a triangular (hence analytically invertible) smooth warp


def forward(x):
    """MNI → subject: y1 = x1 + A sin(x2/L), y2 = x2 + B sin(x3/L), y3 = x3 + C."""
    x = np.asarray(x, float)
    return np.column_stack([x[:, 0] + A * np.sin(x[:, 1] / L), x[:, 1] + B * np.sin(x[:, 2] / L), x[:, 2] + C])


def inverse(y):
    y = np.asarray(y, float)
    x3 = y[:, 2] - C
    x2 = y[:, 1] - B * np.sin(x3 / L)
    return np.column_stack([y[:, 0] - A * np.sin(x2 / L), x2, x3])


MNI_AFF = np.array([[-4.0, 0, 0, 80], [0, 4, 0, -80], [0, 0, 4, -80], [0, 0, 0, 1]])   # LAS, like FSL's MNI152
SUB_AFF = np.array([[3.0, 0, 0, -90], [0, 3, 0, -90], [0, 0, 3, -90], [0, 0, 0, 1]])    # RAS subject grid
SHAPE_MNI, SHAPE_SUB = (41, 41, 41), (61, 61, 61)


def _grid(aff, shape):
    ijk = np.stack(np.meshgrid(*[np.arange(s, dtype=float) for s in shape], indexing="ij"), -1)
    return ijk @ aff[:3, :3].T + aff[:3, 3]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("warps")
    g = _grid(MNI_AFF, SHAPE_MNI)
    fwd = forward(g.reshape(-1, 3)).reshape(g.shape)
    t1 = d / "T1.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros(SHAPE_SUB, np.float32), SUB_AFF), str(t1))
    out = {"itk": write_displacement_field(d / "sub_to_mni_1Warp.nii.gz", MNI_AFF, fwd, kind="itk"),
           "fsl": write_displacement_field(d / "fnirt_field.nii.gz", MNI_AFF, fwd, kind="fsl", source_affine=SUB_AFF,
                                           source_shape=SHAPE_SUB, source_zooms=(3.0, 3.0, 3.0)),
           "simnibs": write_displacement_field(d / "MNI2Conform_nonl.nii.gz", MNI_AFF, fwd, kind="simnibs")}
    gs = _grid(SUB_AFF, SHAPE_SUB)
    out["simnibs_inv"] = write_displacement_field(d / "Conform2MNI_nonl.nii.gz", SUB_AFF,
                                                  inverse(gs.reshape(-1, 3)).reshape(gs.shape), kind="simnibs")
    return d, out, t1


def _load(files, kind):
    d, out, t1 = files
    return load_warp(out[kind], source=t1 if kind == "fsl" else None)


@pytest.mark.random
@pytest.mark.parametrize("kind", ["itk", "fsl", "simnibs", "simnibs_inv"])
def test_points_recovered_both_ways(files, kind, rng):
    w = _load(files, kind)
    assert w.kind == ("simnibs" if kind.startswith("simnibs") else kind)
    assert w.direction == ("subject2mni" if kind == "simnibs_inv" else "mni2subject")
    mni = rng.uniform(-60, 60, size=(50, 3))                      # well inside both grids
    subj = forward(mni)
    assert np.max(np.linalg.norm(w.mni_to_subject(mni) - subj, axis=1)) < 0.1
    assert np.max(np.linalg.norm(w.subject_to_mni(subj) - mni, axis=1)) < 0.1


def test_warp_is_nonlinear(files):
    """The test field is not an affine: an affine fit leaves millimetres of error (so the check above bites)."""
    mni = np.stack(np.meshgrid(*[np.linspace(-60, 60, 9)] * 3, indexing="ij"), -1).reshape(-1, 3)
    y = forward(mni)
    a, *_ = np.linalg.lstsq(np.column_stack([mni, np.ones(len(mni))]), y, rcond=None)
    assert np.max(np.abs(np.column_stack([mni, np.ones(len(mni))]) @ a - y)) > 2.0


def test_itk_field_is_lps(files):
    """ITK stores LPS displacements: the raw x/y components have the opposite sign of the RAS displacement."""
    d, out, _ = files
    img = nib.load(str(out["itk"]))
    assert img.shape == SHAPE_MNI + (1, 3)
    raw = np.asarray(img.dataobj)[20, 20, 20, 0]
    g = _grid(MNI_AFF, SHAPE_MNI)[20, 20, 20]
    ras = forward(g[None])[0] - g
    assert raw == pytest.approx([-ras[0], -ras[1], ras[2]], abs=1e-4)


def test_bad_files(files, tmp_path):
    d, out, t1 = files
    with pytest.raises(HeadFileError, match="does not exist"):
        load_warp(tmp_path / "nope.nii.gz")
    with pytest.raises(HeadFileError, match="does not exist"):
        load_warp(tmp_path / "Composite.h5")
    with pytest.raises(HeadFileError, match="source"):
        load_warp(out["fsl"])
    coef = nib.Nifti1Image(np.zeros((5, 5, 5, 3), np.float32), np.eye(4))
    coef.header["intent_code"] = 2007                  # cubic coefficients, but no MNI152 reference grid
    nib.save(coef, str(tmp_path / "coef.nii.gz"))
    with pytest.raises(HeadFileError, match="MNI152.*fnirtfileutils"):
        load_warp(tmp_path / "coef.nii.gz", source=t1)
    coef.header["intent_code"] = 2008                  # DCT
    nib.save(coef, str(tmp_path / "dct.nii.gz"))
    with pytest.raises(HeadFileError, match="DCT.*fnirtfileutils"):
        load_warp(tmp_path / "dct.nii.gz")
    nib.save(nib.Nifti1Image(np.zeros((5, 5, 5, 3), np.float32), np.eye(4)), str(tmp_path / "plain.nii.gz"))
    with pytest.raises(HeadFileError, match="cannot tell its convention"):
        load_warp(tmp_path / "plain.nii.gz")
    nib.save(nib.Nifti1Image(np.zeros((5, 5, 5), np.float32), np.eye(4)), str(tmp_path / "MNI2Conform_nonl.nii.gz"))
    with pytest.raises(HeadFileError, match="absolute RAS"):
        load_warp(tmp_path / "MNI2Conform_nonl.nii.gz")
    (tmp_path / "junk.nii.gz").write_bytes(b"not a nifti")
    with pytest.raises(HeadFileError, match="cannot read it as NIfTI"):
        load_warp(tmp_path / "junk.nii.gz", kind="itk")
    bad = np.zeros((4, 4, 4, 3))
    bad[1, 1, 1, 0] = np.nan
    with pytest.raises(HeadFileError, match="NaN"):
        Warp(np.eye(4), bad, "mni2subject", "absolute", "memory")
    w = _load(files, "itk")
    with pytest.raises(InputError, match="outside the warp's grid"):
        w.mni_to_subject([[500.0, 0.0, 0.0]])


# ---------------------------------------------------------------- ITK / ANTs .h5 (written here with h5py, by
# the layout ITK documents, independently of the reader: LPS, x fastest, last component applied first)

def _write_itk_h5(path, components, composite=True):
    """components: list of ("field", lps_affine (4x4 voxel->LPS), disp_lps (nx,ny,nz,3)) or ("affine", M, t, c)."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(str(path), "w") as f:
        tg = f.create_group("TransformGroup")
        groups = [("CompositeTransform_double_3_3", np.zeros(0), np.zeros(0))] if composite else []
        for c in components:
            if c[0] == "field":
                aff, disp = c[1], c[2]
                spacing = np.linalg.norm(aff[:3, :3], axis=0)
                fixed = np.r_[np.asarray(disp.shape[:3], float), aff[:3, 3], spacing,
                              (aff[:3, :3] / spacing).reshape(-1)]
                params = disp.transpose(2, 1, 0, 3).reshape(-1)      # x fastest
                groups.append(("DisplacementFieldTransform_double_3_3", params, fixed))
            else:
                _, m, t, cen = c
                groups.append(("AffineTransform_double_3_3", np.r_[np.ravel(m), t], np.asarray(cen, float)))
        for k, (kind, params, fixed) in enumerate(groups):
            g = tg.create_group(str(k))
            g.create_dataset("TransformType", data=[kind.encode()])
            g.create_dataset("TransformParameters", data=params)
            g.create_dataset("TransformFixedParameters", data=fixed)
    return path


LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _lps_field():
    """The test warp as an ITK field: on the MNI grid (in LPS), LPS displacements."""
    g = _grid(MNI_AFF, SHAPE_MNI)
    disp_ras = forward(g.reshape(-1, 3)).reshape(g.shape) - g
    return LPS @ MNI_AFF, disp_ras * [-1.0, -1.0, 1.0]


def _affine_lps(m, t, c):
    def apply(x_ras):
        x = x_ras * [-1.0, -1.0, 1.0]
        y = (x - c) @ np.asarray(m).T + t + c
        return y * [-1.0, -1.0, 1.0]
    return apply


@pytest.mark.random
def test_itk_h5_displacement_field_equals_the_nifti_field(files, tmp_path, rng):
    aff, disp = _lps_field()
    for composite in (False, True):
        f = _write_itk_h5(tmp_path / f"w{int(composite)}.h5", [("field", aff, disp)], composite=composite)
        w = load_warp(f)
        assert w.kind == "itk-h5" and w.direction == "mni2subject"
        mni = rng.uniform(-60, 60, size=(50, 3))
        np.testing.assert_allclose(w.mni_to_subject(mni), _load(files, "itk").mni_to_subject(mni), atol=1e-4)
        assert np.max(np.linalg.norm(w.mni_to_subject(mni) - forward(mni), axis=1)) < 0.1
        assert np.max(np.linalg.norm(w.subject_to_mni(forward(mni)) - mni, axis=1)) < 0.1


@pytest.mark.random
def test_itk_h5_composite_applies_the_last_component_first(tmp_path, rng):
    """Composite [A_after, field, A_before] (queue order) maps x -> A_after(field(A_before(x)))."""
    aff, disp = _lps_field()

    def small_affine(shift):
        m = np.eye(3) + rng.uniform(-0.03, 0.03, size=(3, 3))
        return m, rng.uniform(-1, 1, size=3) + shift, rng.uniform(-10, 10, size=3)

    # the two affines differ by construction (4-6 mm apart along y), so the two orders differ by ~1 mm
    (m1, t1, c1) = small_affine(np.zeros(3))
    (m2, t2, c2) = small_affine([0.0, rng.choice([-1, 1]) * rng.uniform(4, 6), 0.0])
    f = _write_itk_h5(tmp_path / "Composite.h5", [("affine", m1, t1, c1), ("field", aff, disp),
                                                   ("affine", m2, t2, c2)])
    w = load_warp(f)
    after, before = _affine_lps(m1, t1, c1), _affine_lps(m2, t2, c2)
    x = rng.uniform(-50, 50, size=(40, 3))          # A_before(x) stays inside the field's grid
    expected = after(forward(before(x)))
    assert np.max(np.linalg.norm(w.mni_to_subject(x) - expected, axis=1)) < 0.1
    wrong = before(forward(after(x)))                # the other order: far off, so the check bites
    assert np.max(np.linalg.norm(wrong - expected, axis=1)) > 0.5


def test_itk_h5_bad_files(tmp_path):
    h5py = pytest.importorskip("h5py")
    aff, disp = _lps_field()
    (tmp_path / "junk.h5").write_bytes(b"\x89HDF not really")
    with pytest.raises(HeadFileError, match="cannot read it as an HDF5"):
        load_warp(tmp_path / "junk.h5")
    with h5py.File(str(tmp_path / "empty.h5"), "w") as f:
        f.create_group("Other")
    with pytest.raises(HeadFileError, match="TransformGroup"):
        load_warp(tmp_path / "empty.h5")
    f = _write_itk_h5(tmp_path / "affine_only.h5", [("affine", np.eye(3), np.zeros(3), np.zeros(3))])
    with pytest.raises(HeadFileError, match="0 displacement fields"):
        load_warp(f)
    f = _write_itk_h5(tmp_path / "two.h5", [("field", aff, disp), ("field", aff, disp)])
    with pytest.raises(HeadFileError, match="2 displacement fields"):
        load_warp(f)
    f = _write_itk_h5(tmp_path / "short.h5", [("field", aff, disp[:, :, :-1])])
    with h5py.File(str(f), "a") as h:                # fixed parameters still say the full size: truncated
        fixed = h["TransformGroup/1/TransformFixedParameters"][()]
        fixed[2] += 1
        del h["TransformGroup/1/TransformFixedParameters"]
        h["TransformGroup/1"].create_dataset("TransformFixedParameters", data=fixed)
    with pytest.raises(HeadFileError, match="truncated"):
        load_warp(f)
    with h5py.File(str(tmp_path / "bspline.h5"), "w") as h:
        g = h.create_group("TransformGroup/0")
        g.create_dataset("TransformType", data=[b"BSplineTransform_double_3_3"])
        g.create_dataset("TransformParameters", data=np.zeros(3))
        g.create_dataset("TransformFixedParameters", data=np.zeros(3))
    with pytest.raises(HeadFileError, match="BSplineTransform.*antsApplyTransforms"):
        load_warp(tmp_path / "bspline.h5")
    bad = disp.copy()
    bad[3, 3, 3, 0] = np.nan
    f = _write_itk_h5(tmp_path / "nan.h5", [("field", aff, bad)])
    with pytest.raises(HeadFileError, match="NaN"):
        load_warp(f)


# ---------------------------------------------------------------- FNIRT cubic-spline coefficient files (--cout)

def _write_fnirt_coefficients(path, coef, spacing, ref_shape, ref_vox, premat):
    """The header layout FNIRT writes (knot spacing in pixdim, reference voxel size in intent_p1..3, reference
    shape in the qform offsets, the initial affine in the sform), built here independently of the reader."""
    img = nib.Nifti1Image(coef.astype(np.float32), None)
    img.header["intent_code"] = 2007
    img.header["intent_p1"], img.header["intent_p2"], img.header["intent_p3"] = ref_vox
    q = np.diag(list(spacing) + [1.0])
    q[:3, 3] = ref_shape
    img.header.set_zooms(list(spacing) + [1.0])
    img.set_sform(premat, 1)
    img.set_qform(q, 1)
    nib.save(img, str(path))
    return path


def _fsl_to_ras(affine, shape, zooms, x_fsl):
    """FSL scaled-voxel mm → RAS (the x index counts from the other side when the affine's determinant is > 0)."""
    ijk = np.asarray(x_fsl, float) / np.asarray(zooms, float)
    if np.linalg.det(affine[:3, :3]) > 0:
        ijk[:, 0] = shape[0] - 1 - ijk[:, 0]
    return ijk @ affine[:3, :3].T + affine[:3, 3]


@pytest.mark.random
def test_fnirt_cubic_coefficients_match_scipy_bsplines(tmp_path, rng):
    from scipy.interpolate import BSpline

    from tmsfield.head.fnirt_coefficients import MNI152_GRIDS
    ref_shape, ref_vox = (91, 109, 91), 2.0
    ref_aff = MNI152_GRIDS[(ref_shape, ref_vox)]
    spacing = (5.0, 5.0, 5.0)                            # knots every 10 mm, as fnirt --warpres=10
    n_coef = [int(np.ceil((n - 1) / s)) + 3 for n, s in zip(ref_shape, spacing)]
    coef = rng.normal(size=(*n_coef, 3)) * rng.uniform(1, 3)          # mm
    premat = np.eye(4)
    premat[:3, :3] += rng.uniform(-0.05, 0.05, size=(3, 3))
    premat[:3, 3] = rng.uniform(-5, 5, size=3)
    f = _write_fnirt_coefficients(tmp_path / "T1_to_MNI_warpcoef.nii.gz", coef, spacing, ref_shape,
                                  (ref_vox,) * 3, premat)
    src_aff = np.array([[1.0, 0, 0, -96], [0, 1, 0, -120], [0, 0, 1, -110], [0, 0, 0, 1]])   # det > 0: x flipped
    src_aff[:3, 3] += rng.uniform(-5, 5, size=3)
    src_shape = (192, 256, 256)
    src = tmp_path / "T1.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros(src_shape, np.uint8), src_aff), str(src))
    w = load_warp(f, source=src)
    assert w.kind == "fsl-coefficients" and w.direction == "mni2subject"

    def expected(ijk):
        """independent evaluation: scipy B-splines, knots (m - 3) in knot units (coefficient m centred at m - 1)"""
        basis = [BSpline.design_matrix(ijk[:, a] / spacing[a], np.arange(n_coef[a] + 4) - 3.0, 3).toarray()
                 for a in range(3)]
        d = np.einsum("pa,pb,pc,abcv->pv", basis[0], basis[1], basis[2], coef)
        x_f = ijk * ref_vox                               # MNI152 (det < 0): FSL mm = voxel * size
        src_f = x_f @ np.linalg.inv(premat)[:3, :3].T + np.linalg.inv(premat)[:3, 3] + d
        return _fsl_to_ras(src_aff, src_shape, (1.0, 1.0, 1.0), src_f)

    # reference voxels (the warp's grid nodes) anywhere on the grid, and inside (whose preimages stay on it)
    ijk = np.column_stack([rng.integers(0, n, size=60) for n in ref_shape]).astype(float)
    mni = ijk @ ref_aff[:3, :3].T + ref_aff[:3, 3]
    np.testing.assert_allclose(w.mni_to_subject(mni), expected(ijk), atol=1e-3)
    ijk = np.column_stack([rng.integers(12, n - 12, size=20) for n in ref_shape]).astype(float)
    mni = ijk @ ref_aff[:3, :3].T + ref_aff[:3, 3]
    assert np.max(np.linalg.norm(w.subject_to_mni(expected(ijk)) - mni, axis=1)) < 0.05
