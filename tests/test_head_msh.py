"""gmsh 2.2 surface reader: SimNIBS sphere3.msh and round trips of files it writes."""

import numpy as np
import pytest

from tmsfield.errors import HeadFileError
from tmsfield.head import icosphere
from tmsfield.head.io_msh import read_msh_surfaces, write_msh_surfaces


def _signed_volume(s):
    return float(np.einsum("ij,ij->", s.triangle_normals * s.triangle_areas[:, None], s.centroids) / 3.0)


@pytest.mark.shared
def test_sphere3_shells_have_simnibs_radii_and_outward_normals(shared_simnibs):
    surfs = read_msh_surfaces(shared_simnibs / "meshes" / "sphere3.msh")
    assert sorted(surfs) == [1003, 1004, 1005]
    for tag, radius in [(1003, 85.0), (1004, 90.0), (1005, 95.0)]:
        r = np.linalg.norm(surfs[tag].vertices, axis=1)
        assert np.allclose(r, radius, atol=1e-6), (tag, r.min(), r.max())
        # closed, outward: the divergence-theorem volume is close to the ball volume (polyhedron a bit less)
        vol = _signed_volume(surfs[tag])
        assert 0.98 < vol / (4 / 3 * np.pi * radius ** 3) < 1.0, (tag, vol)


@pytest.mark.random
@pytest.mark.parametrize("binary", [True, False])
def test_round_trip_random_shells(tmp_path, binary, rng, test_seed):
    seed = test_seed
    centre = rng.normal(size=3) * 10
    shells = {1005: icosphere(rng.uniform(90, 100), 2, centre), 1003: icosphere(rng.uniform(70, 80), 1, centre)}
    p = tmp_path / "x.msh"
    write_msh_surfaces(p, shells, binary=binary)
    back = read_msh_surfaces(p)
    for tag, s in shells.items():
        assert np.array_equal(back[tag].triangles, s.triangles), seed
        np.testing.assert_allclose(back[tag].vertices, s.vertices, rtol=0, atol=1e-9, err_msg=str(seed))


def test_missing_and_bad_files(tmp_path):
    with pytest.raises(HeadFileError, match="not found"):
        read_msh_surfaces(tmp_path / "nope.msh")
    bad = tmp_path / "bad.msh"
    bad.write_text("hello\n")
    with pytest.raises(HeadFileError, match="bad.msh.*not a gmsh"):
        read_msh_surfaces(bad)
    v4 = tmp_path / "v4.msh"
    v4.write_text("$MeshFormat\n4.1 0 8\n$EndMeshFormat\n")
    with pytest.raises(HeadFileError, match="msh22"):
        read_msh_surfaces(v4)
    good = tmp_path / "g.msh"
    write_msh_surfaces(good, {1: icosphere(10.0, 1)})
    trunc = tmp_path / "t.msh"
    trunc.write_bytes(good.read_bytes()[:-200])
    with pytest.raises(HeadFileError, match="t.msh"):
        read_msh_surfaces(trunc)


def test_ascii_with_sparse_node_ids_and_other_elements(tmp_path):
    """Node ids need not be 1..N; lines and tetrahedra are skipped."""
    text = """$MeshFormat
2.2 0 8
$EndMeshFormat
$Nodes
5
10 0 0 0
20 1 0 0
30 0 1 0
40 0 0 1
50 5 5 5
$EndNodes
$Elements
6
1 1 2 7 7 10 50
2 2 2 9 9 10 30 20
3 2 2 9 9 10 20 40
4 2 2 9 9 10 40 30
5 2 2 9 9 20 30 40
6 4 2 3 3 10 20 30 40
$EndElements
"""
    p = tmp_path / "tet.msh"
    p.write_text(text)
    s = read_msh_surfaces(p)[9]
    assert s.n_vertices == 4 and s.n_triangles == 4
    assert _signed_volume(s) == pytest.approx(1 / 6)
    bad = tmp_path / "bad_ref.msh"
    bad.write_text(text.replace("5 2 2 9 9 20 30 40", "5 2 2 9 9 20 30 99"))
    with pytest.raises(HeadFileError, match="node 99"):
        read_msh_surfaces(bad)
