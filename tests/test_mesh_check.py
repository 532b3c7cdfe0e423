"""Mesh checks: synthetic defects are refused with a message naming surface and defect; orientation is repaired."""

import numpy as np
import pytest

from tmsfield.errors import MeshError
from tmsfield.head import Surface, icosphere, nested_spheres
from tmsfield.kernels.winding_reference import winding_number_reference
from tmsfield.solver.mesh_check import check_nested, check_surface, intersecting_triangle_pairs, winding_number



def _bumpy_sphere(rng, r=80.0, s=3, name="bumpy"):
    """Star-shaped, irregular but valid closed surface."""
    sph = icosphere(1.0, s)
    u = sph.vertices
    k = rng.normal(size=(3, 3))
    bump = 1 + 0.08 * np.sin(u @ k[0] * 2) * np.cos(u @ k[1] * 3)
    return Surface(u * (r * bump)[:, None], sph.triangles, name=name)


def _is_outward_consistent(s):
    t = s.triangles
    he = np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]])
    consistent = len({tuple(e) for e in he}) == he.shape[0]
    p = s.vertices[t]
    vol = np.einsum("ij,ij->", p[:, 0], np.cross(p[:, 1], p[:, 2])) / 6
    return consistent and vol > 0


def _tetra(offset, scale=20.0):
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1.0]]) * scale + offset
    t = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    return v, t


@pytest.mark.random
def test_valid_surfaces_pass_unchanged(rng, test_seed):
    seed = test_seed
    s = _bumpy_sphere(rng)
    out = check_surface(s)
    assert out is s, f"seed {seed}"
    shells = nested_spheres([95, 90, 85], subdivisions=3, names=["scalp", "skull", "brain"])
    assert [x.name for x in check_nested(shells)] == ["scalp", "skull", "brain"]


@pytest.mark.random
def test_random_flips_repaired(rng, test_seed):
    seed = test_seed
    s = _bumpy_sphere(rng)
    t = s.triangles.copy()
    flip = rng.random(t.shape[0]) < 0.3
    t[flip] = t[flip][:, ::-1]
    bad = Surface(s.vertices, t, name="gm")
    with pytest.raises(MeshError, match="'gm' is inconsistently oriented"):
        check_surface(bad, repair_orientation=False)
    fixed = check_surface(bad)
    assert _is_outward_consistent(fixed), f"seed {seed}"
    # same triangles as the original, each with the original (outward) orientation
    np.testing.assert_allclose(fixed.triangle_normals, s.triangle_normals, atol=1e-12, err_msg=f"seed {seed}")


def test_inward_sphere_repaired():
    s = icosphere(85.0, 3, name="scalp")
    inward = Surface(s.vertices, s.triangles[:, ::-1], name="scalp")
    with pytest.raises(MeshError, match="'scalp' is oriented inward"):
        check_surface(inward, repair_orientation=False)
    fixed = check_surface(inward)
    assert _is_outward_consistent(fixed)
    assert np.all(np.einsum("ij,ij->i", fixed.triangle_normals, fixed.centroids) > 0)


def test_hole():
    s = icosphere(85.0, 3)
    holed = Surface(s.vertices, np.delete(s.triangles, [17, 400], axis=0), name="skull_outer")
    with pytest.raises(MeshError, match=r"'skull_outer' is not closed: 6 boundary edge"):
        check_surface(holed)


def test_non_manifold_edge_and_vertex():
    v1, t1 = _tetra(np.zeros(3))
    # second tetrahedron sharing edge (0, 1) of the first, on the other side
    v2 = np.array([[0, -1, 0], [0, 0, -1.0]]) * 20.0
    v = np.vstack([v1, v2])
    t = np.vstack([t1, [[0, 1, 4], [0, 5, 1], [0, 4, 5], [1, 5, 4]]])
    with pytest.raises(MeshError, match="'wm' is not manifold: 1 edge"):
        check_surface(Surface(v, t, name="wm"))
    # two tetrahedra touching at one vertex (pinch point)
    v2, t2 = _tetra(np.zeros(3))
    v2 = -v2[1:]                                         # vertices 1..3 mirrored through the origin
    v = np.vstack([v1, v2])
    t2 = np.array([[0, 5, 6], [0, 6, 4], [0, 4, 5], [4, 6, 5]])
    s = Surface(v, np.vstack([t1, t2]), name="csf")
    with pytest.raises(MeshError, match="'csf' is not manifold: 1 vertex.*vertex 0"):
        check_surface(s)


def test_degenerate_triangle():
    s = icosphere(85.0, 2)
    v = s.vertices.copy()
    a, b = s.edges[5]
    v[a] = v[b]
    with pytest.raises(MeshError, match="'deg': 2 degenerate triangle"):
        check_surface(Surface(v, s.triangles, name="deg"))


@pytest.mark.random
def test_self_intersection(rng, test_seed):
    seed = test_seed
    a = icosphere(25.0, 3)
    b = icosphere(25.0, 3, center_mm=rng.normal(size=3) * 3 + [30, 0, 0])
    s = Surface(np.vstack([a.vertices, b.vertices]), np.vstack([a.triangles, b.triangles + a.n_vertices]),
                name="scalp")
    with pytest.raises(MeshError, match="'scalp' intersects itself"):
        check_surface(s)
    # every reported pair really crosses: one triangle from each sphere, near the intersection circle
    pairs = intersecting_triangle_pairs(s)
    assert pairs.shape[0] > 20, f"seed {seed}"
    assert np.all((pairs < a.n_triangles).sum(axis=1) == 1), f"seed {seed}"
    # two disjoint spheres are a valid (two-part) surface
    far = icosphere(25.0, 3, center_mm=[60, 0, 0])
    ok = Surface(np.vstack([a.vertices, far.vertices]), np.vstack([a.triangles, far.triangles + a.n_vertices]),
                 name="two")
    assert check_surface(ok) is ok


@pytest.mark.random
def test_dent_through_the_surface(rng):
    """Push a cap of vertices through the opposite side (random direction, jittered mesh): the fold is found."""
    s = icosphere(40.0, 4)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    v = s.vertices @ q.T + rng.normal(size=s.vertices.shape) * 0.2      # generic: no symmetry planes
    d = q[:, 2]
    top = v @ d > 37.0
    v[top] -= 85.0 * d                                  # the cap now pokes out beyond the opposite side
    with pytest.raises(MeshError, match="'dent' intersects itself"):
        check_surface(Surface(v, s.triangles, name="dent"))


def test_metres_and_micrometres():
    with pytest.raises(MeshError, match="multiply the vertices by 1000"):
        check_surface(icosphere(0.085, 2, name="brain"))
    with pytest.raises(MeshError, match="divide the vertices by 1000"):
        check_surface(icosphere(85000.0, 2, name="brain"))


@pytest.mark.random
def test_crossing_shells(rng, test_seed):
    seed = test_seed
    outer, inner = nested_spheres([90, 85], 3, names=["skull_inner", "gm"])
    d = rng.normal(size=3)
    d *= 8.0 / np.linalg.norm(d)
    shifted = Surface(inner.vertices + d, inner.triangles, name="gm")
    with pytest.raises(MeshError, match=r"'skull_inner' and 'gm' are not nested: \d+ of 642 vertices of 'gm' "
                                        r"stick out of 'skull_inner', the first is vertex \d+ at \("):
        check_nested([outer, shifted])
    # the vertices reported outside are exactly those beyond 90 mm (fresh random shift)
    w = winding_number(outer, shifted.vertices)
    r = np.linalg.norm(shifted.vertices, axis=1)
    clear = np.abs(r - 90) > 0.5                        # away from the faceted boundary
    assert np.array_equal((w <= 0.5)[clear], (r > 90)[clear]), f"seed {seed}"
    assert intersecting_triangle_pairs(outer, shifted).shape[0] > 0, f"seed {seed}"
    with pytest.raises(MeshError, match="order is reversed"):
        check_nested([inner, outer])


@pytest.mark.random
def test_winding_number_matches_exact_reference(rng, test_seed):
    seed = test_seed
    s = _bumpy_sphere(rng, s=3)
    p = rng.normal(size=(300, 3)) * 50
    p = np.vstack([p, s.vertices[:50] * 0.99, s.vertices[:50] * 1.01])
    w = winding_number(s, p)
    w_ref = winding_number_reference(s.vertices, s.triangles, p)
    assert np.abs(w - w_ref).max() < 0.02, f"seed {seed}: {np.abs(w - w_ref).max()}"
    assert np.all(np.abs(w_ref - np.round(w_ref)) < 1e-9), f"seed {seed}"  # closed surface: 0 or 1 exactly
    # with every cluster "near", the kernel is the exact sum
    w_exact = winding_number(s, p, far_factor=1e9)
    np.testing.assert_allclose(w_exact, w_ref, atol=1e-10, err_msg=f"seed {seed}")


def test_not_a_surface():
    with pytest.raises(MeshError, match="needs a tmsfield Surface"):
        check_surface(np.zeros((3, 3)))
    with pytest.raises(MeshError, match="at least one surface"):
        check_nested([])


@pytest.mark.random
def test_crossing_without_vertices_outside(rng, test_seed):
    """An inward spike of the outer surface pierces a large inner face: no inner vertex sticks out."""
    seed = test_seed
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    inner = icosphere(60.0, 0, name="brain")
    inner = Surface(inner.vertices @ q.T, inner.triangles, name="brain")
    outer = icosphere(90.0, 3, name="skull")
    face_dir = inner.centroids[0] / np.linalg.norm(inner.centroids[0])
    v = outer.vertices.copy()
    k = int(np.argmax(v @ face_dir))
    v[k] *= 40.0 / 90.0                                 # spike down to 40 mm, through the face at ~48 mm
    outer = Surface(v, outer.triangles, name="skull")
    assert np.all(winding_number(outer, inner.vertices) > 0.5), f"seed {seed}"
    with pytest.raises(MeshError, match="'skull' and 'brain' cross"):
        check_nested([outer, inner])
