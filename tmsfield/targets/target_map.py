"""Personalised targets from a map (e.g. an fMRI sgACC-anticorrelation map), and the map-weighted objective.

The rule (stated in every result that uses it, ``target.map.rule``):

1. The map is sampled at the cortex vertices: a NIfTI volume by trilinear interpolation at each vertex
   (through the head's MNI warp or affine when the map is in MNI space; 0 outside the volume), or a
   per-vertex map (GIFTI ``.gii`` / FreeSurfer curv) read as is (one value per cortex vertex).
2. Larger values are better: give an anticorrelation map with its sign flipped (``-r``) so that the most
   anticorrelated vertices carry the largest weights. Only positive values count.
3. Candidates: the top ``top_fraction`` (default 10 %) of the positive values, at vertices no deeper than
   ``max_depth_mm`` (35 mm) below the scalp, i.e. within reach of the coil.
4. The candidates are split into clusters connected along cortex edges; the *best cluster* is the one with
   the largest sum of weights.
5. The objective is the map-weighted mean over that cluster: ``Σ w_i |E_i| / Σ w_i`` (or the inward normal
   component), searched as for a point target, around the cluster vertex nearest its weighted centroid.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import HeadFileError, InputError, TargetError

__all__ = ["MapCluster", "sample_target_map", "map_cluster", "map_roi", "MAP_RULE"]

MAP_RULE = ("top {pct:g} % of the positive map values on the cortex, at most {depth:g} mm below the scalp; "
            "clusters connected along cortex edges; the cluster with the largest summed weight; objective = "
            "map-weighted mean of the field over it")


@dataclass(frozen=True)
class MapCluster:
    """The best cluster of a target map on the cortex.

    Attributes
    ----------
    indices : ndarray (K,)
        Cortex vertex indices of the cluster.
    weights : ndarray (K,)
        Map values there (> 0).
    target_mm : ndarray (3,)
        Cluster vertex nearest the weighted centroid (mm): where the search is centred.
    threshold : float
        Map value at the top-fraction cut.
    n_candidates, n_clusters : int
    rule : str
    """

    indices: np.ndarray
    weights: np.ndarray
    target_mm: np.ndarray
    threshold: float
    n_candidates: int
    n_clusters: int
    rule: str

    def as_dict(self, source, space):
        """The ``target.map`` block of the result JSON."""
        return {"file": str(source), "space": space, "rule": self.rule, "threshold": float(self.threshold),
                "n_vertices": int(self.indices.size), "n_candidates": int(self.n_candidates),
                "n_clusters": int(self.n_clusters), "weight_sum": float(self.weights.sum()),
                "target_vertex_mm": [float(v) for v in self.target_mm]}


def _read_per_vertex(p, n):
    import nibabel as nib
    name = p.name.lower()
    try:
        if name.endswith(".gii"):
            img = nib.load(str(p))
            if not img.darrays:
                raise HeadFileError(f"target map {p}: GIFTI file has no data array")
            vals = np.asarray(img.darrays[0].data, float).reshape(-1)
        else:
            vals = np.asarray(nib.freesurfer.read_morph_data(str(p)), float)
    except HeadFileError:
        raise
    except Exception as exc:
        raise HeadFileError(f"target map {p}: cannot read it as GIFTI or FreeSurfer curv "
                            f"({type(exc).__name__}: {exc})") from None
    if vals.size != n:
        raise HeadFileError(f"target map {p} has {vals.size} values but the head's cortex has {n} vertices; a "
                            f"per-vertex map must be made on this cortex surface (else give a NIfTI volume)")
    return vals


def sample_target_map(path, head, space="mni", mni_warp=None):
    """Map values at the head's cortex vertices.

    Parameters
    ----------
    path : str or Path
        NIfTI volume (``.nii``/``.nii.gz``, 3-D, or 4-D with one volume), GIFTI (``.gii``) or FreeSurfer curv.
    head : tmsfield.Head
    space : {"mni", "subject"}
        Space of a NIfTI volume's world coordinates (ignored for per-vertex maps).
    mni_warp : tmsfield.head.warps.Warp, optional
        Subject → MNI mapping for an MNI volume (else the head's affine; the MNI template is MNI already).

    Returns
    -------
    ndarray (V,)
        Values (NaN → 0; 0 outside the volume).

    Raises
    ------
    HeadFileError, InputError, TargetError

    Examples
    --------
    >>> sample_target_map("missing.nii.gz", None)   # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    tmsfield.errors.HeadFileError: target map missing.nii.gz does not exist
    """
    p = Path(path)
    if not p.is_file():
        raise HeadFileError(f"target map {p} does not exist")
    if space not in ("mni", "subject"):
        raise InputError(f"map space must be 'mni' or 'subject'; got {space!r}")
    v = np.asarray(head.cortex.vertices, float)
    name = p.name.lower()
    if not name.endswith((".nii", ".nii.gz")):
        vals = _read_per_vertex(p, len(v))
    else:
        import nibabel as nib
        from scipy.ndimage import map_coordinates
        try:
            img = nib.load(str(p))
            data = np.asarray(img.dataobj, float)
        except Exception as exc:
            raise HeadFileError(f"target map {p}: cannot read it as NIfTI ({type(exc).__name__}: {exc})") from None
        data = np.squeeze(data)
        if data.ndim != 3:
            raise HeadFileError(f"target map {p}: needs one 3-D volume; got shape {data.shape}")
        pts = v
        if space == "mni":
            if mni_warp is not None:
                pts = np.asarray(mni_warp.subject_to_mni(v))
            elif getattr(head, "mni_transform", None) is not None:
                pts = np.asarray(head.subject_to_mni(v))
            elif "mni" not in f"{getattr(head, 'name', '')} {getattr(head, 'source', '')}".lower():
                raise TargetError(f"target map {p} is in MNI space but head {getattr(head, 'name', '?')!r} has no "
                                  f"MNI transform: give --mni-warp, or --map-space subject for a map in the "
                                  f"head's own coordinates")
        vox = (np.linalg.inv(img.affine) @ np.column_stack([pts, np.ones(len(pts))]).T)[:3]
        data = np.where(np.isfinite(data), data, 0.0)
        vals = map_coordinates(data, vox, order=1, mode="constant", cval=0.0)
    vals = np.where(np.isfinite(vals), vals, 0.0)
    return vals


def map_cluster(cortex, values, geometry, top_fraction=0.10, max_depth_mm=35.0):
    """The map's best cluster on the cortex (rule in the module docstring).

    Parameters
    ----------
    cortex : Surface
    values : ndarray (V,)
        Map values at the cortex vertices (larger = better).
    geometry : ScalpGeometry
        For the depth of each vertex below the scalp.
    top_fraction : float
        Fraction of the positive values kept (default 0.10).
    max_depth_mm : float

    Returns
    -------
    MapCluster

    Raises
    ------
    TargetError
        No positive value, or none within reach of the coil.

    Examples
    --------
    >>> import numpy as np
    >>> from tmsfield.head import icosphere
    >>> from tmsfield.targets.geometry import ScalpGeometry
    >>> ctx, scalp = icosphere(75.0, 3, name="cortex"), icosphere(95.0, 3, name="scalp")
    >>> w = np.exp(-np.sum((ctx.vertices - [0, 0, 75.0]) ** 2, axis=1) / 200.0)
    >>> c = map_cluster(ctx, w, ScalpGeometry(scalp, {}))
    >>> np.round(c.target_mm).tolist()
    [0.0, 0.0, 75.0]
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    vals = np.asarray(values, float).reshape(-1)
    v = np.asarray(cortex.vertices, float)
    if vals.size != len(v):
        raise InputError(f"map has {vals.size} values for {len(v)} cortex vertices")
    f = float(top_fraction)
    if not 0 < f <= 1:
        raise InputError(f"top_fraction must be in (0, 1]; got {top_fraction!r}")
    pos = vals[vals > 0]
    if pos.size == 0:
        raise TargetError("the target map has no positive value on the cortex: larger values must mean better "
                          "(flip the sign of an anticorrelation map), and an MNI map needs the head in MNI "
                          "space (--map-space / --mni-warp)")
    thr = float(np.quantile(pos, 1.0 - f))
    q = geometry.closest_points(v)
    depth = np.linalg.norm(q - v, axis=1)
    cand = (vals >= thr) & (vals > 0) & (depth <= max_depth_mm)
    if not cand.any():
        raise TargetError(f"none of the map's top {100 * f:g} % is within {max_depth_mm:g} mm of the scalp: "
                          f"the map's target is out of the coil's reach")
    idx = np.flatnonzero(cand)
    e = np.asarray(cortex.edges)
    keep = cand[e[:, 0]] & cand[e[:, 1]]
    local = -np.ones(len(v), int)
    local[idx] = np.arange(idx.size)
    ee = local[e[keep]]
    g = coo_matrix((np.ones(len(ee)), (ee[:, 0], ee[:, 1])), shape=(idx.size, idx.size))
    ncomp, lab = connected_components(g, directed=False)
    sums = np.bincount(lab, weights=vals[idx], minlength=ncomp)
    best = int(np.argmax(sums))
    members = idx[lab == best]
    w = vals[members]
    centroid = (w[:, None] * v[members]).sum(axis=0) / w.sum()
    tgt = v[members[int(np.argmin(np.linalg.norm(v[members] - centroid, axis=1)))]]
    return MapCluster(members, w, tgt, thr, int(idx.size), int(ncomp),
                      MAP_RULE.format(pct=100 * f, depth=max_depth_mm))


def map_roi(cortex, cluster):
    """TargetROI over the cluster with the map weights (normalised to sum 1).

    Examples
    --------
    >>> map_roi  # doctest: +ELLIPSIS
    <function map_roi at ...>
    """
    from .search import TargetROI
    v = np.asarray(cortex.vertices, float)
    n = np.asarray(cortex.vertex_normals, float)
    r = float(np.max(np.linalg.norm(v[cluster.indices] - cluster.target_mm, axis=1)))
    return TargetROI(v[cluster.indices], n[cluster.indices], cluster.indices, np.asarray(cluster.target_mm, float),
                     r, cluster.weights / cluster.weights.sum())
