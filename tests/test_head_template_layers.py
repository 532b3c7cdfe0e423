"""tmsfield.head.cortex_layers on small synthetic cortices: refinement, distances, and the repair of zero
thickness, crossing hemispheres and a white surface poking through its pial surface."""

import numpy as np
import pytest

from tmsfield.head import icosphere
from tmsfield.head.cortex_layers import layered_cortex, subdivide, surface_distance
from tmsfield.head.mesh_tools import boundary_edge_count, signed_volume
from tmsfield.head.surface import Surface
from tmsfield.solver.mesh_check import check_nested, intersecting_triangle_pairs, winding_number


def test_subdivide_keeps_topology_and_the_original_vertices():
    s = icosphere(40.0, 2)
    f = subdivide(s)
    assert f.n_triangles == 4 * s.n_triangles
    assert f.n_vertices == s.n_vertices + len(s.edges)
    assert boundary_edge_count(f.triangles) == 0
    assert f.n_vertices - len(f.edges) + f.n_triangles == 2            # still a sphere (Euler characteristic)
    assert np.array_equal(f.vertices[:s.n_vertices], s.vertices)
    assert signed_volume(f.vertices, f.triangles) > 0
    flat = subdivide(s, curved=False)
    new = slice(s.n_vertices, None)
    assert np.allclose(flat.vertices[new], 0.5 * (s.vertices[s.edges[:, 0]] + s.vertices[s.edges[:, 1]]))


def test_curved_midpoints_follow_the_surface_to_higher_order():
    # on a sphere the flat midpoint sags by r(1 - cos(θ/2)) ~ r θ²/8 (falls 4× per halving of the edge); the
    # Hermite midpoint with exact normals is O(θ⁴); with the mesh's area-weighted vertex normals the mean error
    # still falls ~6× per halving (measured 0.033, 0.0059, 0.00095 mm against 0.57, 0.14, 0.036 flat)
    def mean_err(level, curved):
        s = icosphere(50.0, level)
        r = np.linalg.norm(subdivide(s, curved).vertices[s.n_vertices:], axis=1)
        return np.abs(r - 50.0).mean()
    flat = [mean_err(k, False) for k in (2, 3, 4)]
    curved = [mean_err(k, True) for k in (2, 3, 4)]
    assert all(c < 0.08 * f for c, f in zip(curved, flat)), (curved, flat)
    assert curved[2] / flat[2] < 0.6 * curved[0] / flat[0]             # converges faster than the flat one
    assert 0.2 < flat[2] / flat[1] < 0.3


def test_surface_distance_matches_the_sphere():
    s = subdivide(icosphere(30.0, 3))
    dirs = np.array([[1, 0, 0], [0, 0.6, 0.8], [-0.48, 0.6, 0.64]])
    pts = np.vstack([45.0 * dirs, 20.0 * dirs])
    d, q = surface_distance(pts, s)
    # the polyhedron lies inside the sphere by < the sagitta (~0.06 mm at this resolution)
    assert np.allclose(d, [15.0] * 3 + [10.0] * 3, atol=0.1)
    assert np.allclose(np.linalg.norm(q, axis=1), 30.0, atol=0.1)


def _two_hemispheres():
    """Two 30-mm 'pial' balls crossing by 2.4 mm at the midline, each with a 'white' ball whose midline cap
    coincides with the pial surface (zero thickness, like fsaverage's medial wall) and which pokes 0.5 mm
    through its pial surface at the top."""
    ball = icosphere(30.0, 3)
    shift = [np.array([-29.0, 0.0, 0.0]), np.array([28.6, 0.3, 0.2])]      # not mirror images (degenerate)
    pial, white = [], []
    for h, c in enumerate(shift):
        u = ball.vertices / 30.0
        toward_midline = u[:, 0] * (1 if h == 0 else -1)
        r = np.where(toward_midline > 0.8, 30.0, 27.0)                  # medial cap: white == pial
        r = np.where(u[:, 2] > 0.97, 30.5, r)                           # white pokes out at the top
        pial.append(Surface(ball.vertices + c, ball.triangles, name=f"pial{h}"))
        white.append(Surface(u * r[:, None] + c, ball.triangles, name=f"white{h}"))
    return pial, white


def test_layered_cortex_repairs_zero_thickness_crossings_and_poking_white():
    pial, white = _two_hemispheres()
    assert len(intersecting_triangle_pairs(pial[0], pial[1])) > 0
    assert np.any(winding_number(pial[0], white[0].vertices) < 0.5)
    inner = icosphere(75.0, 3, name="skull_inner")
    gm, wm, mid, rep = layered_cortex(pial, white, inner, min_gm_mm=1.0, min_gap_mm=1.0, refine=True)
    n = pial[0].n_vertices
    nf = gm.n_vertices // 2
    assert gm.n_triangles == wm.n_triangles == 2 * 4 * pial[0].n_triangles
    # every column at least 1 mm thick, hemispheres ≥ 1 mm apart, pial inside the skull
    assert np.linalg.norm(gm.vertices - wm.vertices, axis=1).min() >= 1.0 - 1e-9
    left = Surface(gm.vertices[:nf], gm.triangles[:gm.n_triangles // 2])
    right = Surface(gm.vertices[nf:], gm.triangles[gm.n_triangles // 2:] - nf)
    assert surface_distance(right.vertices, left)[0].min() >= 0.99
    assert surface_distance(left.vertices, right)[0].min() >= 0.99
    # a proper nesting check: closed, outward, no self-intersection, nested, no crossing
    scalp = icosphere(90.0, 3, name="scalp")
    check_nested([scalp, inner, Surface(gm.vertices, gm.triangles, "gm"), Surface(wm.vertices, wm.triangles, "wm")],
                 repair_orientation=False)
    # the reporting mid-thickness is the column midpoint at the input vertices, inside GM and outside WM
    assert mid.shape == (2 * n, 3)
    assert np.all(winding_number(gm, mid) > 0.5) and np.all(winding_number(wm, mid) < 0.5)
    idx = np.r_[0:n, nf:nf + n]
    assert np.allclose(mid, 0.5 * (gm.vertices[idx] + wm.vertices[idx]))
    # columns that needed no repair did not move (the lateral side, away from the midline and the top)
    u = pial[0].vertices - [-29.0, 0, 0]
    far = (u[:, 0] < -20) & (u[:, 2] < 20)
    assert np.allclose(gm.vertices[:n][far], pial[0].vertices[far])
    assert rep["thickened_vertices"] > 0 and rep["pushed_pial"] > 0


def test_layered_cortex_refuses_unpaired_surfaces():
    from tmsfield.errors import MeshError
    a, b = icosphere(30.0, 2), icosphere(27.0, 3)
    with pytest.raises(MeshError, match="share their triangles"):
        layered_cortex([a], [b], icosphere(60.0, 2))


def test_a_small_five_tissue_head_built_this_way_solves_consistently():
    """Two repaired 'hemispheres' inside three spheres: with CSF, GM and WM all at the brain's conductivity
    the pial and white triangles carry no contrast and the field must be the three-shell head's (measured:
    identical, relative L2 0.0 — wrong sides would give them a contrast); with the usual conductivities the
    layers change it (measured 26 %)."""
    import tmsfield
    from tmsfield.head import Head
    from tmsfield.solver.bem import EFieldSolver
    from test_bem_sphere import dipole_fig8, rel_l2
    pial, white = _two_hemispheres()
    shells = [icosphere(95.0, 3, name="scalp"), icosphere(90.0, 3, name="skull_outer"),
              icosphere(85.0, 3, name="skull_inner")]
    gm, wm, mid, _ = layered_cortex(pial, white, shells[2], refine=False)
    five = Head.from_surfaces(shells + [gm, wm], tissues=("scalp", "skull", "csf", "gm", "wm"), name="five")
    three = Head.from_surfaces(shells, name="three")
    assert [tuple(s[0]) for s in five.triangle_sides()] == [("scalp", "air"), ("skull", "scalp"), ("csf", "skull"),
                                                            ("gm", "csf"), ("wm", "gm")]
    z = np.array([-0.4, 0.1, 1.0]) / np.linalg.norm([-0.4, 0.1, 1.0])
    pose = tmsfield.CoilPose.from_axes(z * 105.0, -z, [0.0, 1.0, 0.0])
    coil = dipole_fig8()
    pts = mid[::7]
    e3 = EFieldSolver(three, {"scalp": 0.465, "skull": 0.010, "brain": 0.275},
                      fast_placements=False).efield(coil, pts, pose)
    flat = {"scalp": 0.465, "skull": 0.010, "csf": 0.275, "gm": 0.275, "wm": 0.275}
    e5 = EFieldSolver(five, flat, fast_placements=False).efield(coil, pts, pose)
    assert rel_l2(e5, e3) < 2e-3, rel_l2(e5, e3)
    e5s = EFieldSolver(five, fast_placements=False).efield(coil, pts, pose)      # CSF 1.654, GM 0.275, WM 0.126
    assert rel_l2(e5s, e3) > 0.01
    assert np.all(np.isfinite(e5s))
