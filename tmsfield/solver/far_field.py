"""Far-field sums of the BEM: numba direct summation or the fast multipole method.

Two sums are needed (lengths in mm, no unit conversion):

* charge field  E(t) = (1/4π) Σ_j w_j (t − s_j)/|t − s_j|³   (forward operator, fields);
* dipole potential φ(t) = Σ_j d_j·(t − s_j)/|t − s_j|³        (adjoint operator, winding numbers).

Coincident target/source pairs are skipped (the self term of a flat triangle is handled
analytically by the formulation). The FMM is fmm3dpy (Greengard & Rokhlin; Flatiron
Institute FMM3D). fmm3dpy 2.x uses the kernel 1/(4π r) (1.x used 1/r): the normalisation
is **checked numerically once per process** against the direct sum on a few points, so a
different convention cannot silently scale the answer by 4π.
"""

from functools import lru_cache

import numpy as np

from ..errors import SolverError
from ..kernels import bem as _k

__all__ = ["FarField", "choose_far_field", "FMM_THRESHOLD"]

#: number of sources × targets above which ``fmm="auto"`` uses the FMM
FMM_THRESHOLD = 2.0e9


@lru_cache(maxsize=1)
def _fmm_normalisation():
    """Factor c such that direct (1/4π convention) = c × fmm3dpy output; checked once."""
    try:
        import fmm3dpy
    except ImportError:  # pragma: no cover - fmm3dpy is a dependency
        return None
    rng = np.random.default_rng(12345)
    s = rng.normal(size=(20, 3))
    t = rng.normal(size=(7, 3)) + 4.0
    w = rng.normal(size=20)
    ref = _k.charge_field_direct(t, s, w)
    out = fmm3dpy.lfmm3d(eps=1e-12, sources=np.ascontiguousarray(s.T), charges=w,
                         targets=np.ascontiguousarray(t.T), pgt=2)
    got = -out.gradtarg.T
    c = float(np.sum(ref * got) / np.sum(got * got))
    for cand in (1.0, 1.0 / (4 * np.pi)):
        if abs(c / cand - 1.0) < 1e-6:
            return cand
    raise SolverError(f"fmm3dpy Laplace kernel has an unexpected normalisation (factor {c:.6g} vs the direct "
                      f"sum); install fmm3dpy 2.x (pip install 'fmm3dpy>=2,<3') or pass fmm=False.")


def choose_far_field(n_sources, n_targets, fmm="auto"):
    """Return True when the FMM should be used (``fmm`` is True, False or "auto")."""
    if fmm == "auto":
        return n_sources * n_targets > FMM_THRESHOLD and _fmm_normalisation() is not None
    if fmm in (True, False):
        if fmm and _fmm_normalisation() is None:
            raise SolverError("fmm=True but fmm3dpy is not installed; pip install fmm3dpy or pass fmm=False")
        return bool(fmm)
    raise SolverError(f"fmm must be True, False or 'auto'; got {fmm!r}")


class FarField:
    """Far-field sums from a fixed set of source points (triangle centroids).

    Parameters
    ----------
    sources : ndarray, shape (M, 3), mm
    use_fmm : bool
    eps : float
        FMM relative precision (ignored by the direct sum, which is exact).

    Examples
    --------
    >>> ff = FarField(np.zeros((1, 3)), use_fmm=False)
    >>> ff.charge_field(np.array([[0.0, 0, 2]]), np.array([4 * np.pi]))
    array([[0.  , 0.  , 0.25]])
    """

    def __init__(self, sources, use_fmm=False, eps=1e-7):
        self.sources = np.ascontiguousarray(sources, dtype=np.float64)
        self.use_fmm = bool(use_fmm)
        self.eps = float(eps)
        self._src_t = np.ascontiguousarray(self.sources.T)

    def charge_field(self, targets, weights, targets_are_sources=False):
        """(N, 3) field of point charges ``weights`` (M,) or (N, 3, K) for weights (M, K)."""
        w = np.asarray(weights, dtype=np.float64)
        multi = w.ndim == 2
        if not self.use_fmm:
            if multi:
                return _k.charge_field_direct_multi(targets, self.sources, np.ascontiguousarray(w))
            return _k.charge_field_direct(targets, self.sources, w)
        import fmm3dpy
        c = _fmm_normalisation()
        kw = dict(eps=self.eps, sources=self._src_t)
        if multi:
            kw.update(charges=np.ascontiguousarray(w.T), nd=w.shape[1])
        else:
            kw.update(charges=w)
        if targets_are_sources:
            out = fmm3dpy.lfmm3d(pg=2, **kw)
            g = out.grad
        else:
            out = fmm3dpy.lfmm3d(targets=np.ascontiguousarray(targets.T), pgt=2, **kw)
            g = out.gradtarg
        g = -c * np.asarray(g)
        if multi:  # (K, 3, N) -> (N, 3, K)
            return np.ascontiguousarray(np.transpose(g, (2, 1, 0)))
        return np.ascontiguousarray(g.T)

    def dipole_potential(self, targets, dipoles, targets_are_sources=False):
        """(N,) potential Σ d_j·(t − s_j)/|t − s_j|³ of dipoles (M, 3); (N, K) for dipoles (M, 3, K)."""
        d = np.ascontiguousarray(dipoles, dtype=np.float64)
        multi = d.ndim == 3
        if not self.use_fmm:
            if multi:
                return _k.dipole_potential_direct_multi(targets, self.sources, d)
            return _k.dipole_potential_direct(targets, self.sources, d)
        import fmm3dpy
        c = _fmm_normalisation()
        if multi:
            kw = dict(eps=self.eps, sources=self._src_t, dipvec=np.ascontiguousarray(np.transpose(d, (2, 1, 0))),
                      nd=d.shape[2])
        else:
            kw = dict(eps=self.eps, sources=self._src_t, dipvec=np.ascontiguousarray(d.T))
        if targets_are_sources:
            out = fmm3dpy.lfmm3d(pg=1, **kw)
            p = out.pot
        else:
            out = fmm3dpy.lfmm3d(targets=np.ascontiguousarray(targets.T), pgt=1, **kw)
            p = out.pottarg
        p = (4 * np.pi) * c * np.asarray(p)
        return np.ascontiguousarray(p.T) if multi else p
