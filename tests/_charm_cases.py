"""Small charm-like tetrahedral heads for the tests: concentric icosphere shells filled with tetrahedra
(:func:`tmsfield.head.charm.concentric_tetrahedra`: each layer the Delaunay tetrahedralisation of its two
shells, so the tissue boundaries are exactly the icosphere triangles of each shell; shells may have
different resolutions). ``tag_of(layer,
centroids, tags) -> tags`` may re-tag tetrahedra by position (a "touching fold": a patch of the CSF
layer that is grey matter instead).
"""

import numpy as np

from tmsfield.head.charm import concentric_tetrahedra

#: SimNIBS tags
WM, GM, CSF, BONE, SCALP, EYES, COMPACT, SPONGY, BLOOD, MUSCLE = range(1, 11)
FIVE_RADII = [75.0, 80.0, 85.0, 90.0, 95.0]
FIVE_TAGS = [WM, GM, CSF, BONE, SCALP]


def layered_mesh(radii, tags, subdivisions, centre=(0.0, 0.0, 0.0), tag_of=None):
    """Nodes (N, 3) mm, tetrahedra (M, 4), tags (M,) for concentric shells
    (:func:`tmsfield.head.charm.concentric_tetrahedra`), optionally re-tagged by ``tag_of``."""
    nodes, tets, tt, layer = concentric_tetrahedra(radii, tags, subdivisions, centre)
    if tag_of is not None:
        tt = np.asarray(tag_of(layer, nodes[tets].mean(axis=1) - np.asarray(centre, float), tt.copy()), dtype=int)
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
