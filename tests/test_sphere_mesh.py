import numpy as np
import pytest

from tmsfield.errors import InputError
from tmsfield.head import Surface, icosphere, nested_spheres


@pytest.mark.parametrize("s", [0, 1, 2, 3, 4])
def test_icosphere_counts_closed_outward(s):
    r, c = 85.0, np.array([1.0, -2.0, 3.0])
    surf = icosphere(r, s, c, name="x")
    assert isinstance(surf, Surface) and surf.name == "x"
    assert surf.n_triangles == 20 * 4**s
    assert surf.n_vertices == 10 * 4**s + 2
    np.testing.assert_allclose(np.linalg.norm(surf.vertices - c, axis=1), r, rtol=1e-12)
    # closed: every edge shared by exactly two triangles, each direction once (consistent orientation)
    t = surf.triangles
    directed = np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]])
    assert len({tuple(e) for e in directed}) == directed.shape[0]
    assert surf.edges.shape[0] * 2 == directed.shape[0]
    # outward: every normal points away from the centre; Euler characteristic 2
    assert np.all(np.einsum("ij,ij->i", surf.triangle_normals, surf.centroids - c) > 0)
    assert surf.n_vertices - surf.edges.shape[0] + surf.n_triangles == 2
    # area converges to 4πr² from below
    area = surf.triangle_areas.sum()
    assert area < 4 * np.pi * r**2
    if s >= 3:
        assert area > 0.99 * 4 * np.pi * r**2


def test_volume_converges():
    r = 10.0
    errs = []
    for s in (2, 3, 4):
        surf = icosphere(r, s)
        p = surf.vertices[surf.triangles]
        vol = np.einsum("ij,ij->", p[:, 0], np.cross(p[:, 1], p[:, 2])) / 6
        errs.append(abs(vol - 4 / 3 * np.pi * r**3))
    assert errs[1] < errs[0] / 3.5 and errs[2] < errs[1] / 3.5  # O(h²): factor ~4 per level


def test_nested_spheres_order_and_names():
    shells = nested_spheres([85, 95, 90], subdivisions=[2, 1, 3], names=["brain", "scalp", "skull"])
    assert [s.name for s in shells] == ["scalp", "skull", "brain"]
    assert [s.n_triangles for s in shells] == [80, 1280, 320]


@pytest.mark.parametrize("kw", [dict(radius_mm=-1), dict(radius_mm=0), dict(radius_mm=10, subdivisions=1.5),
                                dict(radius_mm=10, subdivisions=9), dict(radius_mm=10, center_mm=[0, 0])])
def test_bad_input(kw):
    with pytest.raises(InputError):
        icosphere(**kw)


def test_nested_bad_input():
    with pytest.raises(InputError):
        nested_spheres([85, 85])
    with pytest.raises(InputError):
        nested_spheres([85, 90], names=["a"])
