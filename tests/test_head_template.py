"""The bundled MNI152 template: closed, nested, outward, in MNI space; EEG positions against the
published template positions."""

import numpy as np
import pytest

import tmsfield
from tmsfield.head.eeg import closest_point_on_surface
from tmsfield.head.mesh_tools import boundary_edge_count, signed_volume

# Scalp electrode positions (mm, MNI) of the FieldTrip 10-20 template standard_1020.elc: the 10-5 system of
# Oostenveld R & Praamstra P (2001) Clin Neurophysiol 112:713-719 placed on the MNI-registered Colin27
# head (also shipped by MNE as colin27_1020.elc). Landmarks Nz/Iz/LPA/RPA of the same file define the
# template's landmarks (meshes/build_template.py), so these test the arc construction, not the landmarks.
PUBLISHED_MNI_SCALP = {
    "Fpz": (0.1123, 88.2470, -1.7130),
    "Fz": (0.3122, 58.5120, 66.4620),
    "Cz": (0.4009, -9.1670, 100.2440),
    "Pz": (0.3247, -81.1150, 82.6150),
    "Oz": (0.1076, -114.8920, 14.6570),
    "F3": (-50.2438, 53.1112, 42.1920),
    "F4": (51.8362, 54.3048, 40.8140),
    "C3": (-65.3581, -11.6317, 64.3580),
    "T7": (-84.1611, -16.0187, -9.3460),
    "Fp1": (-29.4367, 83.9171, -6.9900),
}


@pytest.fixture(scope="module", params=["mni152", "mni152_coarse"])
def head(request):
    return tmsfield.load_head(request.param)


def test_surfaces_closed_outward_nested_and_pass_the_bem_check(head):
    from tmsfield.solver.mesh_check import check_nested
    assert head.boundary_names == ("scalp", "skull_outer", "skull_inner")
    assert head.tissues == ("scalp", "skull", "brain")
    for s in head.boundaries:
        assert boundary_edge_count(s.triangles) == 0, s.name
        assert signed_volume(s.vertices, s.triangles) > 0, s.name
    check_nested(list(head.boundaries), repair_orientation=False)
    assert sum(s.n_triangles for s in head.boundaries) <= 31_000
    assert np.allclose(head.mni_transform, np.eye(4))


def test_inner_skull_encloses_the_cortex(head):
    from tmsfield.solver.mesh_check import winding_number
    w = winding_number(head.surface("skull_inner"), head.cortex.vertices)
    assert np.mean(w > 0.5) >= 0.99
    assert head.cortex.n_vertices == 20484
    assert head.cortex_curvature.shape == (20484,)
    # sulc is positive in sulci: the deepest (most positive) vertices lie deeper than the most negative ones
    depth = -np.linalg.norm(head.cortex.vertices - head.cortex.vertices.mean(0), axis=1)
    lo, hi = np.percentile(head.cortex_curvature, [10, 90])
    sulci, gyri = head.cortex_curvature > hi, head.cortex_curvature < lo
    assert depth[sulci].mean() > depth[gyri].mean()


def test_skull_is_realistic(head):
    outer, inner, scalp = head.surface("skull_outer"), head.surface("skull_inner"), head.scalp
    top = inner.vertices[inner.vertices[:, 2] > 40]      # cranial vault
    d_skull = np.linalg.norm(closest_point_on_surface(outer, top) - top, axis=1)
    assert 4.0 < np.median(d_skull) < 8.0, np.median(d_skull)
    t2 = outer.vertices[outer.vertices[:, 2] > 40]
    d_scalp = np.linalg.norm(closest_point_on_surface(scalp, t2) - t2, axis=1)
    assert d_scalp.min() > 2.0, d_scalp.min()


def test_scalp_passes_through_published_mni_scalp_positions(head):
    pts = np.array(list(PUBLISHED_MNI_SCALP.values()))
    d = np.linalg.norm(closest_point_on_surface(head.scalp, pts) - pts, axis=1)
    assert d.max() < 5.0, dict(zip(PUBLISHED_MNI_SCALP, d.round(1)))
    for k in ("nasion", "inion", "lpa", "rpa"):
        p = head.landmarks[k]
        assert np.linalg.norm(closest_point_on_surface(head.scalp, p[None])[0] - p) < 3.0, k   # snapped on the fine scalp


def test_f3_matches_the_published_position_and_cz_is_the_vertex(head):
    pos = head.eeg_positions()
    for name in ("Fp1", "Fpz", "Fz", "F3", "F4", "F5", "F7", "AF3", "Cz", "C3", "C4", "T7", "T8", "Pz", "Oz"):
        assert name in pos
    err = {k: float(np.linalg.norm(pos[k] - np.array(v))) for k, v in PUBLISHED_MNI_SCALP.items()}
    assert err["F3"] < 6.0, err
    assert max(err.values()) < 8.0, err
    cz = pos["Cz"]
    assert abs(cz[0]) < 3.0
    assert cz[2] > head.scalp.vertices[:, 2].max() - 5.0     # at the top of the head
    assert pos["F3"][0] < -30 and pos["F3"][1] > 30           # left, frontal
