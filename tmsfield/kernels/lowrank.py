"""numba matrix-vector product for the fast placement map's float32 factors.

Why not BLAS: a placement alternates numba kernels (the coil field) and these two products.
OpenBLAS's worker threads keep spinning for a while after each call and then compete with
numba's threads for the same two cores; measured on the template head, the coil-field kernel
that followed took 28 ms instead of 14 ms. Doing the (memory-bound) products in numba keeps
one thread pool busy at a time. Reference: ``a @ x`` (numpy), compared in
``tests/test_kernels_lowrank.py``.
"""

import numpy as np
from numba import njit, prange

__all__ = ["matvec_f32"]


@njit(parallel=True, fastmath=True, cache=True, boundscheck=False)
def _matvec(a, x, out):
    n, k = a.shape
    for i in prange(n):
        acc = np.float32(0.0)
        for j in range(k):
            acc += a[i, j] * x[j]
        out[i] = acc


def matvec_f32(a, x):
    """``a @ x`` for a C-contiguous float32 matrix (N, K) and a vector (K,); returns (N,) float32.

    Examples
    --------
    >>> a = np.arange(6, dtype=np.float32).reshape(2, 3)
    >>> matvec_f32(a, np.ones(3, np.float32)).tolist()
    [3.0, 12.0]
    """
    a = np.ascontiguousarray(a, dtype=np.float32)
    x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    if a.ndim != 2 or x.shape[0] != a.shape[1]:
        raise ValueError(f"matvec_f32: shapes {a.shape} and {x.shape} do not match")
    out = np.empty(a.shape[0], dtype=np.float32)
    _matvec(a, x, out)
    return out
