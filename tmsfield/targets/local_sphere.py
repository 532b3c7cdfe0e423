"""A local analytic sphere model: the fast approximation of a head for one target.

The sphere is fitted (least squares) to the scalp within ``radius_mm`` of a point near the target and shrunk
to lie just inside the scalp there; the E-field is the analytic sphere's (Eaton 1992, Heller & van Hulsteyn
1992), which does not depend on conductivities. It exposes the same methods the search uses on a BEM solver
(``efield``, ``reciprocal_field``), so it is a drop-in model for quick runs (``--model sphere``).
"""

import numpy as np

__all__ = ["LocalSphereModel", "fit_sphere"]


def fit_sphere(points):
    """Least-squares sphere through points.

    Parameters
    ----------
    points : array_like (N, 3), N >= 4
        Points (mm).

    Returns
    -------
    centre : ndarray (3,)
        Centre (mm).
    radius : float
        Radius (mm).

    Examples
    --------
    >>> from tmsfield.head import icosphere
    >>> c, r = fit_sphere(icosphere(80.0, 2).vertices + [1.0, 2.0, 3.0])
    >>> np.round(c, 6).tolist(), round(r, 6)
    ([1.0, 2.0, 3.0], 80.0)
    """
    p = np.asarray(points, float)
    a = np.column_stack([2 * p, np.ones(len(p))])
    b = (p ** 2).sum(axis=1)
    sol, *_ = np.linalg.lstsq(a, b, rcond=None)
    c = sol[:3]
    return c, float(np.sqrt(sol[3] + c @ c))


class LocalSphereModel:
    """Analytic sphere fitted to the scalp around a point, with the solver interface.

    Parameters
    ----------
    head : tmsfield.head.Head
        Head (mm); its scalp and cortex are used.
    near_point : array_like (3,)
        Point near the target (mm); the scalp within ``radius_mm`` of it is fitted.
    radius_mm : float
        Radius of the scalp patch fitted (mm).

    Attributes
    ----------
    radius_mm : float
        Sphere radius (mm), 0.5 mm inside the nearest fitted scalp vertex.
    center_mm : tuple of float
        Sphere centre (mm).
    inside : ndarray (n_cortex,) of bool
        Cortex vertices inside the sphere (where the model is defined).

    Examples
    --------
    >>> import tmsfield
    >>> head = tmsfield.load_head("mni152_coarse")          # doctest: +SKIP
    >>> m = LocalSphereModel(head, [-40.0, 40.0, 40.0])     # doctest: +SKIP
    >>> 60 < m.radius_mm < 110                              # doctest: +SKIP
    True
    """

    def __init__(self, head, near_point, radius_mm=60.0):
        from ..solver import SphereModel

        near_point = np.asarray(near_point, float).reshape(3)
        v = np.asarray(head.scalp.vertices, float)
        sel = v[np.linalg.norm(v - near_point, axis=1) < radius_mm]
        c, _ = fit_sphere(sel if len(sel) >= 10 else v)
        r = float(np.min(np.linalg.norm(sel - c, axis=1))) - 0.5 if len(sel) else 80.0
        cortex = np.asarray(head.cortex.vertices, float)
        self.model = SphereModel(r, tuple(c))
        self.radius_mm, self.center_mm = r, tuple(c)
        self.inside = np.linalg.norm(cortex - c, axis=1) < r

    def reciprocal_field(self, points, weights, eval_points):
        """Reciprocal field of a weighted ROI (see :meth:`tmsfield.solver.SphereModel.reciprocal_field`)."""
        return self.model.reciprocal_field(points, weights, eval_points)

    def efield(self, coil, points, pose=None, didt=1.0):
        """E-field (V/m) at points (mm, (N, 3)) for ``didt`` in A/µs; NaN outside the sphere."""
        p = np.asarray(points, float)
        out = np.full(p.shape, np.nan)
        ok = np.linalg.norm(p - np.asarray(self.center_mm), axis=1) < self.radius_mm
        if ok.any():
            out[ok] = self.model.efield(coil, p[ok], pose, didt)
        return out
