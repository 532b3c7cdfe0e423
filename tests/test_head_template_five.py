"""The five-tissue template ``mni152`` (issue 14, item 1): tissues, sizes, folded grey/white matter, closed
outward surfaces, triangle sides consistent with an independent point classification, no crossings, the
reporting cortex inside the grey matter. Geometry only: the full head (363k triangles) is not solved here."""

import gzip
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

import tmsfield
from tmsfield.head.cortex_layers import surface_distance
from tmsfield.head.mesh_tools import boundary_edge_count, signed_volume
from tmsfield.head.surface import Surface
from tmsfield.head.template import template_dir
from tmsfield.solver.mesh_check import intersecting_triangle_pairs, winding_number

N_HEMI = 40962          # vertices per hemisphere after the 1:4 refinement of fsaverage5 (10,242 + 30,720 edges)
N_FS5 = 10242           # fsaverage5 vertices per hemisphere (the first N_FS5 of each refined hemisphere)


@pytest.fixture(scope="module")
def head():
    return tmsfield.load_head("mni152")


def _components(s):
    e = s.edges
    g = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(s.n_vertices, s.n_vertices))
    n, lab = connected_components(g, directed=False)
    return [Surface(s.vertices, s.triangles[lab[s.triangles[:, 0]] == k], name=f"{s.name}[{k}]") for k in range(n)]


def _hemispheres(s):
    half = s.n_triangles // 2
    return (Surface(s.vertices[:N_HEMI], s.triangles[:half], name=f"{s.name}_lh"),
            Surface(s.vertices[N_HEMI:], s.triangles[half:] - N_HEMI, name=f"{s.name}_rh"))


def test_five_tissues_sizes_and_edges(head):
    assert head.boundary_names == ("scalp", "skull_outer", "skull_inner", "gm", "wm")
    assert head.tissues == ("scalp", "skull", "csf", "gm", "wm")
    counts = {s.name: s.n_triangles for s in head.boundaries}
    assert sum(counts.values()) >= 100_000, counts
    assert counts["gm"] == counts["wm"] == 2 * 4 * 20480           # fsaverage5, both hemispheres, refined 1:4
    for name in ("gm", "wm"):
        assert head.surface(name).mean_edge_length <= 2.0, name
    # the scalp and skull are the three-shell template's, unchanged
    three = tmsfield.load_head("mni152_3shell")
    for s, t in zip(head.boundaries[:3], three.boundaries):
        assert np.array_equal(s.vertices, t.vertices) and np.array_equal(s.triangles, t.triangles)
    assert three.tissues == ("scalp", "skull", "brain")
    assert np.allclose(head.mni_transform, np.eye(4)) and set(head.landmarks) == {"nasion", "inion", "lpa", "rpa"}


def test_grey_matter_is_folded(head):
    inner = head.surface("skull_inner").triangle_areas.sum()
    gm, wm = head.surface("gm").triangle_areas.sum(), head.surface("wm").triangle_areas.sum()
    # a smooth surface inside the inner skull has less area than it; the folded pial has ~1.8× more
    assert gm > 1.5 * inner, (gm, inner)
    assert wm > 1.3 * inner, (wm, inner)


def test_surfaces_are_two_closed_outward_hemispheres(head):
    for s in head.boundaries:
        assert boundary_edge_count(s.triangles) == 0, s.name
    for name in ("gm", "wm"):
        parts = _components(head.surface(name))
        assert len(parts) == 2, name
        for p in parts:
            assert signed_volume(p.vertices, p.triangles) > 0, p.name
        lh, rh = _hemispheres(head.surface(name))
        assert np.median(lh.vertices[:, 0]) < -20 and np.median(rh.vertices[:, 0]) > 20


def _tissue_at(head, points):
    """Tissue containing each point from the winding numbers of every boundary (independent of the sides)."""
    inside = np.array([winding_number(b, points) > 0.5 for b in head.boundaries])     # (K, N)
    # nested: inside boundary k implies inside every boundary outside it
    assert np.all(inside[1:] <= inside[:-1])
    depth = inside.sum(axis=0)
    names = np.array(["air"] + list(head.tissues))
    return names[depth]


def test_triangle_sides_agree_with_the_tissues_either_side(head):
    sides = head.triangle_sides()
    assert [s.shape for s in sides] == [(b.n_triangles, 2) for b in head.boundaries]
    expect = {"scalp": ("scalp", "air"), "skull_outer": ("skull", "scalp"), "skull_inner": ("csf", "skull"),
              "gm": ("gm", "csf"), "wm": ("wm", "gm")}
    for b, s in zip(head.boundaries, sides):
        assert set(map(tuple, s)) == {expect[b.name]}, b.name
        # independent check on every 97th triangle: 0.02 mm either side of its centroid (surfaces are ≥ 1 mm apart
        # where they were repaired; facing sulcal banks closer than 0.02 mm would show up here)
        k = np.arange(0, b.n_triangles, 97)
        c, n = b.centroids[k], b.triangle_normals[k]
        got_in, got_out = _tissue_at(head, c - 0.02 * n), _tissue_at(head, c + 0.02 * n)
        assert np.mean(got_in == s[k, 0]) >= 0.998, (b.name, np.unique(got_in[got_in != s[k, 0]]))
        assert np.mean(got_out == s[k, 1]) >= 0.998, (b.name, np.unique(got_out[got_out != s[k, 1]]))


@pytest.mark.slow
def test_no_surface_crosses_itself_or_another(head):
    # ~20-40 s: the triangle-triangle test of every nearby pair (k-d tree of bounding spheres), 327k GM/WM triangles
    gm, wm, inner = head.surface("gm"), head.surface("wm"), head.surface("skull_inner")
    assert len(intersecting_triangle_pairs(gm)) == 0          # includes left × right hemisphere
    assert len(intersecting_triangle_pairs(wm)) == 0
    assert len(intersecting_triangle_pairs(gm, wm)) == 0
    assert len(intersecting_triangle_pairs(inner, gm)) == 0


def test_minimum_thickness_and_gaps(head):
    gm, wm, inner = head.surface("gm"), head.surface("wm"), head.surface("skull_inner")
    # columns: vertex i of gm and of wm are the two ends; ≥ 1 mm of grey matter everywhere (medial wall included)
    th = np.linalg.norm(gm.vertices - wm.vertices, axis=1)
    assert th.min() >= 1.0 - 1e-4, th.min()
    lh, rh = _hemispheres(gm)
    assert surface_distance(lh.vertices, rh)[0].min() >= 0.99
    assert surface_distance(rh.vertices, lh)[0].min() >= 0.99
    assert surface_distance(gm.vertices, inner)[0].min() >= 0.99
    assert np.all(winding_number(inner, gm.vertices[::7]) > 0.5)
    assert np.all(winding_number(gm, wm.vertices[::7]) > 0.5)


def test_reporting_cortex_lies_between_pial_and_white(head):
    gm, wm, cx = head.surface("gm"), head.surface("wm"), head.cortex
    assert cx.n_vertices == 2 * N_FS5 and head.cortex_curvature.shape == (2 * N_FS5,)
    assert np.all(winding_number(gm, cx.vertices) > 0.5)
    assert np.all(winding_number(wm, cx.vertices) < 0.5)
    # it is the mid-thickness of the bundled columns at the fsaverage5 vertices (float32 files)
    idx = np.r_[0:N_FS5, N_HEMI:N_HEMI + N_FS5]
    assert np.abs(cx.vertices - 0.5 * (gm.vertices[idx] + wm.vertices[idx])).max() < 1e-4
    # and the same cortex as the three-shell template's
    assert np.array_equal(cx.vertices, tmsfield.load_head("mni152_3shell").cortex.vertices)


def test_grey_matter_is_fsaverage5_moved_little():
    nib = pytest.importorskip("nibabel")
    from tmsfield.head.loaders import MNI305_TO_MNI152 as M
    try:
        from nilearn.datasets import data as nilearn_data
    except ImportError:
        pytest.skip("nilearn not installed: cannot compare with the fsaverage5 source surfaces")
    src = Path(nilearn_data.__file__).parent / "fsaverage5"
    gm = tmsfield.load_head("mni152").surface("gm")
    moved = []
    for h, hemi in enumerate(("left", "right")):
        f = src / f"pial_{hemi}.gii.gz"
        if not f.is_file():
            pytest.skip(f"{f} not found")
        v = np.asarray(nib.GiftiImage.from_bytes(gzip.decompress(f.read_bytes())).darrays[0].data, float)
        v = v @ M[:3, :3].T + M[:3, 3]
        moved.append(np.linalg.norm(gm.vertices[h * N_HEMI:h * N_HEMI + N_FS5] - v, axis=1))
    moved = np.concatenate(moved)
    assert np.median(moved) < 1e-3          # most of the cortex is fsaverage5's own pial surface
    assert np.percentile(moved, 99) < 0.8 and moved.max() < 2.0, (np.percentile(moved, 99), moved.max())


def test_meshes_are_lean_compressed_gifti():
    d = template_dir()
    for name in ("mni152_gm.gii", "mni152_wm.gii"):
        text = (d / name).read_bytes()
        assert b'Encoding="GZipBase64Binary"' in text and b"NIFTI_TYPE_FLOAT32" in text and b"NIFTI_TYPE_INT32" in text
    total = sum((d / n).stat().st_size for n in ("mni152_gm.gii", "mni152_wm.gii"))
    assert total < 8e6, total
