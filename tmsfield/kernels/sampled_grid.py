"""Trilinear interpolation of a vector field sampled on a regular (affine) grid; its curl.

Plain numpy (no numba kernel needed: the cost is a handful of gathers per point). Used for
sampled-A coil elements (SimNIBS ``.tcd`` element type 3, or a NIfTI A-field).

Conventions: ``values`` has shape (nx, ny, nz, 3); node ``(i, j, k)`` lies at
``affine @ [i, j, k, 1]`` (mm). Points outside the grid's bounding box of nodes
(any voxel index < 0 or > n − 1) get **0** — a sampled grid knows nothing beyond its nodes.
"""

import numpy as np

__all__ = ["points_to_voxel", "trilinear_interpolate", "central_difference_curl"]

# index tolerance: points this close (in voxels) outside the last node still count as inside
_EDGE_TOL = 1e-9


def points_to_voxel(affine, points_mm):
    """Continuous voxel indices of points.

    Parameters
    ----------
    affine : ndarray, shape (4, 4)
        Voxel index → mm.
    points_mm : ndarray, shape (N, 3)

    Returns
    -------
    ndarray, shape (N, 3)
        Fractional indices (i, j, k).

    Examples
    --------
    >>> import numpy as np
    >>> aff = np.diag([2.0, 2.0, 2.0, 1.0]); aff[:3, 3] = -10
    >>> points_to_voxel(aff, np.array([[-10.0, 0.0, 1.0]])).tolist()
    [[0.0, 5.0, 5.5]]
    """
    inv = np.linalg.inv(np.asarray(affine, dtype=np.float64))
    return points_mm @ inv[:3, :3].T + inv[:3, 3]


def trilinear_interpolate(values, ijk):
    """Trilinear interpolation of a sampled vector field at fractional voxel indices.

    Parameters
    ----------
    values : ndarray, shape (nx, ny, nz, C)
        Samples at the grid nodes (each n >= 2).
    ijk : ndarray, shape (N, 3)
        Fractional voxel indices (see :func:`points_to_voxel`).

    Returns
    -------
    ndarray, shape (N, C), float64
        Interpolated values; exactly the node value at a node, **0 outside the grid**
        (any index < 0 or > n − 1).

    Examples
    --------
    >>> import numpy as np
    >>> v = np.zeros((2, 2, 2, 1)); v[1, :, :, 0] = 1.0      # f = i
    >>> trilinear_interpolate(v, np.array([[0.25, 0.5, 0.5], [3.0, 0, 0]])).ravel().tolist()
    [0.25, 0.0]
    """
    values = np.asarray(values)
    ijk = np.asarray(ijk, dtype=np.float64)
    shape = np.array(values.shape[:3])
    out = np.zeros((ijk.shape[0], values.shape[3]))
    inside = np.all((ijk >= -_EDGE_TOL) & (ijk <= shape - 1 + _EDGE_TOL), axis=1)
    if not inside.any():
        return out
    q = ijk[inside]
    base = np.clip(np.floor(q).astype(np.int64), 0, shape - 2)
    t = np.clip(q - base, 0.0, 1.0)
    i, j, k = base.T
    tx, ty, tz = (t[:, 0:1], t[:, 1:2], t[:, 2:3])
    acc = np.zeros((q.shape[0], values.shape[3]))
    for di, wx in ((0, 1.0 - tx), (1, tx)):
        for dj, wy in ((0, 1.0 - ty), (1, ty)):
            wxy = wx * wy
            for dk, wz in ((0, 1.0 - tz), (1, tz)):
                acc += (wxy * wz) * values[i + di, j + dj, k + dk]
    out[inside] = acc
    return out


def central_difference_curl(values, affine):
    """Curl of a sampled vector field at the grid nodes, by central differences.

    Interior nodes use second-order central differences along each voxel axis, boundary
    nodes second-order one-sided differences (``numpy.gradient(edge_order=2)``); the
    index derivatives are mapped to the mm axes of ``affine`` (any invertible linear part).

    Parameters
    ----------
    values : ndarray, shape (nx, ny, nz, 3)
        Vector field at the nodes (each n >= 3).
    affine : ndarray, shape (4, 4)
        Voxel index → mm.

    Returns
    -------
    ndarray, shape (nx, ny, nz, 3), float64
        curl in units of ``values`` per **metre** (e.g. T for A in T·m).

    Examples
    --------
    >>> import numpy as np
    >>> aff = np.diag([1.0, 1.0, 1.0, 1.0])
    >>> x, y, z = np.meshgrid(*[np.arange(4.0)] * 3, indexing="ij")
    >>> a = np.stack([-y, x, 0 * z], axis=-1) * 1e-3     # A = (−y, x, 0) with x, y in m
    >>> np.allclose(central_difference_curl(a, aff)[..., 2], 2.0)
    True
    """
    values = np.asarray(values, dtype=np.float64)
    lin_inv = np.linalg.inv(np.asarray(affine, dtype=np.float64)[:3, :3])
    # d values[..., c] / d index_k for k = 0, 1, 2  -> shape (3 comps, 3 index axes, nx, ny, nz)
    d_index = np.stack([np.stack(np.gradient(values[..., c], edge_order=2), axis=0) for c in range(3)])
    # dA_c/dx_j = sum_k dA_c/di_k * d i_k / d x_j, with d i/d x = lin_inv (per mm)
    jac = np.einsum("ck...,kj->cj...", d_index, lin_inv) * 1e3   # per metre
    curl = np.stack([jac[2, 1] - jac[1, 2], jac[0, 2] - jac[2, 0], jac[1, 0] - jac[0, 1]], axis=-1)
    return curl
