"""Plain-numpy reference: the field integral of a uniformly charged flat triangle.

For a flat triangle T with vertices v0, v1, v2 (counter-clockwise seen from the side its
unit normal n points to) and an observation point r,

    F(r) = ∫_T (r − r') / |r − r'|³ dS'  =  Σ_edges m̂_e f_e  +  n Ω(r),

where, for the edge from a to b with unit direction l̂ = (b − a)/|b − a| and in-plane
outward edge normal m̂ = l̂ × n,

    f_e = asinh(l⁺/d) − asinh(l⁻/d) = ln((R⁺ + l⁺)/(R⁻ + l⁻)),
    l⁻ = (a − r)·l̂,  l⁺ = (b − r)·l̂,  d = distance of r from the edge's line,

and Ω(r) is the signed solid angle the triangle subtends at r (positive on the side n
points to), from the formula of van Oosterom & Strackee (1983, IEEE Trans Biomed Eng 30:
125–126). The edge terms are the standard closed form of the gradient of the single-layer
potential of a polygon (Wilton et al. 1984, IEEE Trans Antennas Propag 32: 276–281;
Graglia 1993, IEEE Trans Antennas Propag 41: 1448–1455).

The E-field of a surface charge q (in V/m·ε0 units, i.e. q = ρ_s/ε0) spread uniformly on T
is q F(r)/(4π); F is dimensionless (mm²/mm²). This module is the independent reference
that the numba kernels in :mod:`tmsfield.kernels.bem` are tested against.
"""

import numpy as np

__all__ = ["triangle_field_integral", "triangle_solid_angle", "triangle_field_quadrature", "collapsed_gauss_rule"]


def triangle_solid_angle(points, v0, v1, v2):
    """Signed solid angle (sr) of triangle (v0, v1, v2) seen from points.

    Positive where the point lies on the side of the normal (v1−v0)×(v2−v0).

    Parameters
    ----------
    points : ndarray, shape (N, 3)
    v0, v1, v2 : ndarray, shape (3,) or (N, 3)

    Returns
    -------
    ndarray, shape (N,)

    Examples
    --------
    >>> om = triangle_solid_angle(np.array([[0.0, 0, 1e-9]]), np.array([-1.0, -1, 0]),
    ...                           np.array([1.0, -1, 0]), np.array([0.0, 1, 0]))
    >>> bool(abs(om[0] - 2 * np.pi) < 1e-6)
    True
    """
    r1 = points - v0
    r2 = points - v1
    r3 = points - v2
    l1 = np.linalg.norm(r1, axis=-1)
    l2 = np.linalg.norm(r2, axis=-1)
    l3 = np.linalg.norm(r3, axis=-1)
    num = np.einsum("...i,...i->...", r1, np.cross(r2, r3))
    den = (l1 * l2 * l3 + np.einsum("...i,...i->...", r1, r2) * l3 + np.einsum("...i,...i->...", r1, r3) * l2
           + np.einsum("...i,...i->...", r2, r3) * l1)
    return 2.0 * np.arctan2(num, den)


def triangle_field_integral(points, v0, v1, v2):
    """Exact ∫_T (r − r')/|r − r'|³ dS' for a flat triangle (dimensionless).

    Parameters
    ----------
    points : ndarray, shape (N, 3)
        Observation points r (any length unit, the same as the vertices). Points on the
        triangle's edges are singular.
    v0, v1, v2 : ndarray, shape (3,) or (N, 3)
        Triangle vertices.

    Returns
    -------
    ndarray, shape (N, 3)

    Examples
    --------
    >>> v0, v1, v2 = np.array([0.0, 0, 0]), np.array([1.0, 0, 0]), np.array([0.0, 1, 0])
    >>> f = triangle_field_integral(np.array([[0.2, 0.2, 50.0]]), v0, v1, v2)
    >>> bool(abs(f[0, 2] - 0.5 / 50.0**2) < 1e-6)
    True
    """
    points = np.asarray(points, dtype=float)
    v0 = np.broadcast_to(v0, points.shape)
    v1 = np.broadcast_to(v1, points.shape)
    v2 = np.broadcast_to(v2, points.shape)
    n = np.cross(v1 - v0, v2 - v0)
    n = n / np.linalg.norm(n, axis=-1, keepdims=True)
    out = triangle_solid_angle(points, v0, v1, v2)[:, None] * n
    for a, b in ((v0, v1), (v1, v2), (v2, v0)):
        e = b - a
        le = np.linalg.norm(e, axis=-1, keepdims=True)
        lhat = e / le
        mhat = np.cross(lhat, n)
        lm = np.einsum("ij,ij->i", a - points, lhat)
        lp = np.einsum("ij,ij->i", b - points, lhat)
        ra = np.linalg.norm(a - points, axis=-1)
        d = np.sqrt(np.maximum(ra**2 - lm**2, 1e-30 * le[:, 0] ** 2))
        f = np.arcsinh(lp / d) - np.arcsinh(lm / d)
        out = out + f[:, None] * mhat
    return out


def collapsed_gauss_rule(n):
    """Collapsed (Duffy) Gauss–Legendre rule on a triangle.

    Parameters
    ----------
    n : int
        Points per direction (n² points in all).

    Returns
    -------
    bary : ndarray, shape (n², 3)
        Barycentric coordinates of the points.
    weights : ndarray, shape (n²,)
        Weights summing to 1: the integral of f over a triangle of area S is
        ``S * weights @ f(bary @ corners)``.

    Examples
    --------
    >>> bary, w = collapsed_gauss_rule(3)
    >>> bary.shape, round(float(w.sum()), 12)
    ((9, 3), 1.0)
    """
    x, w = np.polynomial.legendre.leggauss(n)
    x = 0.5 * (x + 1.0)
    w = 0.5 * w
    u, v = np.meshgrid(x, x, indexing="ij")
    wu, wv = np.meshgrid(w, w, indexing="ij")
    # collapsed square -> triangle: s = u, t = (1 - u) v, Jacobian (1 - u); x2 normalises the area 1/2
    s = u.ravel()
    t = ((1.0 - u) * v).ravel()
    wt = 2.0 * (wu * wv * (1.0 - u)).ravel()
    return np.ascontiguousarray(np.column_stack([1.0 - s - t, s, t])), np.ascontiguousarray(wt)


def triangle_field_quadrature(points, v0, v1, v2, order=40):
    """Brute-force tensor-product quadrature of the same integral (slow; tests only).

    Uses a Duffy-free collapsed Gauss–Legendre rule of ``order`` points per direction, so
    it is accurate only for points well off the triangle (distance ≳ 0.05 edge).

    Examples
    --------
    >>> v0, v1, v2 = np.array([0.0, 0, 0]), np.array([1.0, 0, 0]), np.array([0.0, 1, 0])
    >>> q = triangle_field_quadrature(np.array([[0.3, 0.3, 1.0]]), v0, v1, v2)
    >>> e = triangle_field_integral(np.array([[0.3, 0.3, 1.0]]), v0, v1, v2)
    >>> bool(np.allclose(q, e, rtol=1e-8))
    True
    """
    bary, w = collapsed_gauss_rule(order)
    corners = np.array([np.asarray(v0, float), np.asarray(v1, float), np.asarray(v2, float)])
    area = 0.5 * np.linalg.norm(np.cross(corners[1] - corners[0], corners[2] - corners[0]))
    q = bary @ corners
    d = np.asarray(points, float)[:, None, :] - q[None]
    r3 = np.linalg.norm(d, axis=-1) ** 3
    return area * np.einsum("q,pqk->pk", w, d / r3[..., None])
