"""Small charm-like tetrahedral heads for the tests: concentric icosphere shells filled with tetrahedra.

Each layer between two shells (and the innermost ball) is the Delaunay tetrahedralisation
(scipy.spatial.Delaunay) of the two shells' vertices, without the tetrahedra made of inner-shell vertices
only (those fill the ball inside). Both layers next to a shell see the same shell as the convex hull of
the same points, so the mesh is conforming and its tissue boundaries are the icosphere triangles of each
shell. Each shell's vertices get a deterministic radial wobble of 1e-6 (0.1 µm): points that are exactly
co-spherical make Qhull return flat tetrahedra. Shells may have different resolutions. ``tag_of(layer,
centroids, tags) -> tags`` may re-tag tetrahedra by position (a "touching fold": a patch of the CSF
layer that is grey matter instead).
"""

import numpy as np
from scipy.spatial import Delaunay

from tmsfield.head import icosphere

#: SimNIBS tags
WM, GM, CSF, BONE, SCALP, EYES, COMPACT, SPONGY, BLOOD, MUSCLE = range(1, 11)
FIVE_RADII = [75.0, 80.0, 85.0, 90.0, 95.0]
FIVE_TAGS = [WM, GM, CSF, BONE, SCALP]


def layered_mesh(radii, tags, subdivisions, centre=(0.0, 0.0, 0.0), tag_of=None):
    """Nodes (N, 3) mm, tetrahedra (M, 4), tags (M,) for concentric shells.

    ``radii`` increasing (innermost first, mm); ``tags[0]`` fills the ball r < radii[0], ``tags[k]`` the
    layer radii[k-1] < r < radii[k]; ``subdivisions[k]`` is the icosphere level of shell k.
    """
    c = np.asarray(centre, dtype=float)
    shells = []
    for r, s in zip(radii, subdivisions):
        u = icosphere(1.0, s).vertices
        wob = 1.0 + 1e-6 * np.sin(12.9898 * np.arange(len(u)) + r)
        shells.append(u * (r * wob)[:, None] + c)
    nodes = np.vstack([c[None]] + shells)
    off = np.cumsum([1] + [len(s) for s in shells])
    tets, tt, layer = [], [], []
    ids = np.r_[0, np.arange(off[0], off[1])]
    sim = ids[Delaunay(nodes[ids]).simplices]
    tets.append(sim)
    tt.append(np.full(len(sim), tags[0]))
    layer.append(np.zeros(len(sim), int))
    for k in range(1, len(radii)):
        ids = np.arange(off[k - 1], off[k + 1])
        sim = ids[Delaunay(nodes[ids]).simplices]
        sim = sim[~np.all(sim < off[k], axis=1)]
        tets.append(sim)
        tt.append(np.full(len(sim), tags[k]))
        layer.append(np.full(len(sim), k))
    tets, tt, layer = np.concatenate(tets), np.concatenate(tt), np.concatenate(layer)
    if tag_of is not None:
        tt = np.asarray(tag_of(layer, nodes[tets].mean(axis=1) - c, tt.copy()), dtype=int)
    return nodes, tets, tt


def ventricle_head(subdivisions=(1, 2, 2, 2, 3, 4)):
    """Five concentric tissues (wm 75, gm 80, csf 85, skull 90, scalp 95 mm) with a CSF ventricle r < 30 mm."""
    return layered_mesh([30.0] + FIVE_RADII, [CSF] + FIVE_TAGS, list(subdivisions))


def fold_head(cap_cos=0.8, subdivisions=(2, 2, 2, 2, 2)):
    """Five shells where the CSF layer is grey matter in the cap z/r > cap_cos: GM touches the skull there."""
    def tag_of(layer, cen, tt):
        r = np.linalg.norm(cen, axis=1)
        cap = (layer == 2) & (cen[:, 2] / r > cap_cos)
        tt[cap] = GM
        return tt
    return layered_mesh(FIVE_RADII, FIVE_TAGS, list(subdivisions), tag_of=tag_of)
