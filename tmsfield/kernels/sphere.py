"""Numba kernels for the analytic E-field inside a spherically symmetric conductor.

Same formulas, conventions and units as the plain-numpy references in
:mod:`tmsfield.kernels.sphere_reference` (SI, sphere centre at the origin, result per
unit rate of change of the source: multiply by dI/dt in A/s). Tests compare the two.

References: Sarvas J (1987) Phys Med Biol 32:11–22; Heller L, van Hulsteyn DB (1992)
Biophys J 63:129–138.
"""

import numba as nb
import numpy as np

from .sphere_reference import MU0_OVER_4PI

__all__ = ["efield_dipoles", "reciprocal_field", "efield_segments"]


@nb.njit(cache=True, inline="always")
def _f_terms(x0, x1, x2, r0, r1, r2, rho):
    """F and the two coefficients of grad_R F = c1 R - c2 x (rho = |R| precomputed)."""
    a0, a1, a2 = r0 - x0, r1 - x1, r2 - x2
    a = np.sqrt(a0 * a0 + a1 * a1 + a2 * a2)
    adr_a = (a0 * r0 + a1 * r1 + a2 * r2) / a
    xdr = x0 * r0 + x1 * r1 + x2 * r2
    F = a * (rho * a + rho * rho - xdr)
    c1 = a * a / rho + adr_a + 2.0 * a + 2.0 * rho
    c2 = a + 2.0 * rho + adr_a
    return F, c1, c2


@nb.njit(cache=True, parallel=True, fastmath=True)
def efield_dipoles(x, R, m):
    """E (N,3) at points x (N,3, m) of magnetic dipoles at R (D,3, m), moments m (D,3), per unit dm/dt.

    Examples
    --------
    >>> e = efield_dipoles(np.array([[0.0, 0.02, 0]]), np.array([[0, 0, 0.1]]), np.array([[1.0, 0, 0]]))
    >>> e.shape
    (1, 3)
    """
    n = x.shape[0]
    d = R.shape[0]
    rho = np.empty(d)
    m_dot_r = np.empty(d)
    for k in range(d):
        rho[k] = np.sqrt(R[k, 0] * R[k, 0] + R[k, 1] * R[k, 1] + R[k, 2] * R[k, 2])
        m_dot_r[k] = m[k, 0] * R[k, 0] + m[k, 1] * R[k, 1] + m[k, 2] * R[k, 2]
    out = np.zeros((n, 3))
    for i in nb.prange(n):
        x0, x1, x2 = x[i, 0], x[i, 1], x[i, 2]
        e0 = 0.0
        e1 = 0.0
        e2 = 0.0
        for k in range(d):
            r0, r1, r2 = R[k, 0], R[k, 1], R[k, 2]
            m0, m1, m2 = m[k, 0], m[k, 1], m[k, 2]
            F, c1, c2 = _f_terms(x0, x1, x2, r0, r1, r2, rho[k])
            mg = c1 * m_dot_r[k] - c2 * (m0 * x0 + m1 * x1 + m2 * x2)      # m·∇F
            inv_f = 1.0 / F
            g = mg * inv_f * inv_f
            # [F (x × m) - (m·∇F)(x × R)] / F²
            e0 += (x1 * m2 - x2 * m1) * inv_f - g * (x1 * r2 - x2 * r1)
            e1 += (x2 * m0 - x0 * m2) * inv_f - g * (x2 * r0 - x0 * r2)
            e2 += (x0 * m1 - x1 * m0) * inv_f - g * (x0 * r1 - x1 * r0)
        out[i, 0] = -MU0_OVER_4PI * e0
        out[i, 1] = -MU0_OVER_4PI * e1
        out[i, 2] = -MU0_OVER_4PI * e2
    return out


@nb.njit(cache=True, parallel=True, fastmath=True)
def reciprocal_field(x, w, R):
    """h (M,3) at dipole positions R (M,3, m): sum_j w_j·E(x_j) = sum_i m_i·h(R_i), per unit dm/dt.

    Examples
    --------
    >>> h = reciprocal_field(np.array([[0.0, 0.02, 0]]), np.array([[0.0, 0, 1]]), np.array([[0, 0, 0.1]]))
    >>> h.shape
    (1, 3)
    """
    n = x.shape[0]
    mm = R.shape[0]
    wx = np.empty((n, 3))                                   # w × x
    for j in range(n):
        wx[j, 0] = w[j, 1] * x[j, 2] - w[j, 2] * x[j, 1]
        wx[j, 1] = w[j, 2] * x[j, 0] - w[j, 0] * x[j, 2]
        wx[j, 2] = w[j, 0] * x[j, 1] - w[j, 1] * x[j, 0]
    out = np.zeros((mm, 3))
    for k in nb.prange(mm):
        r0, r1, r2 = R[k, 0], R[k, 1], R[k, 2]
        rho = np.sqrt(r0 * r0 + r1 * r1 + r2 * r2)
        h0 = 0.0
        h1 = 0.0
        h2 = 0.0
        for j in range(n):
            x0, x1, x2 = x[j, 0], x[j, 1], x[j, 2]
            F, c1, c2 = _f_terms(x0, x1, x2, r0, r1, r2, rho)
            wxr = wx[j, 0] * r0 + wx[j, 1] * r1 + wx[j, 2] * r2     # w·(x × R) = (w × x)·R
            inv_f = 1.0 / F
            g = wxr * inv_f * inv_f
            # [F (w × x) - (w·(x × R)) ∇F] / F²,  ∇F = c1 R - c2 x
            h0 += wx[j, 0] * inv_f - g * (c1 * r0 - c2 * x0)
            h1 += wx[j, 1] * inv_f - g * (c1 * r1 - c2 * x1)
            h2 += wx[j, 2] * inv_f - g * (c1 * r2 - c2 * x2)
        out[k, 0] = -MU0_OVER_4PI * h0
        out[k, 1] = -MU0_OVER_4PI * h1
        out[k, 2] = -MU0_OVER_4PI * h2
    return out


@nb.njit(cache=True, parallel=True, fastmath=True)
def efield_segments(x, a, b, current, nodes, weights):
    """E (N,3) at x (N,3, m) inside the sphere of straight wire segments a->b (M,3, m), per unit dI/dt.

    E(x) = x × ∫_0^1 λ B(λx) dλ with Gauss–Legendre ``nodes``/``weights`` on [0, 1].

    Examples
    --------
    >>> t, w = np.polynomial.legendre.leggauss(16)
    >>> a, b = np.array([[-0.1, 0, 0.1]]), np.array([[0.1, 0, 0.1]])
    >>> efield_segments(np.array([[0.0, 0, 0.05]]), a, b, np.ones(1), (t + 1) / 2, w / 2).shape
    (1, 3)
    """
    n = x.shape[0]
    ms = a.shape[0]
    nq = nodes.shape[0]
    out = np.zeros((n, 3))
    for i in nb.prange(n):
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        for q in range(nq):
            lam = nodes[q]
            p0, p1, p2 = lam * x[i, 0], lam * x[i, 1], lam * x[i, 2]
            b0 = 0.0
            b1 = 0.0
            b2 = 0.0
            for k in range(ms):
                u0, u1, u2 = a[k, 0] - p0, a[k, 1] - p1, a[k, 2] - p2
                v0, v1, v2 = b[k, 0] - p0, b[k, 1] - p1, b[k, 2] - p2
                nu = np.sqrt(u0 * u0 + u1 * u1 + u2 * u2)
                nv = np.sqrt(v0 * v0 + v1 * v1 + v2 * v2)
                den = nu * nv * (nu * nv + u0 * v0 + u1 * v1 + u2 * v2)
                f = current[k] * (nu + nv) / den
                b0 += f * (u1 * v2 - u2 * v1)
                b1 += f * (u2 * v0 - u0 * v2)
                b2 += f * (u0 * v1 - u1 * v0)
            c = weights[q] * lam
            s0 += c * b0
            s1 += c * b1
            s2 += c * b2
        x0, x1, x2 = x[i, 0], x[i, 1], x[i, 2]
        out[i, 0] = MU0_OVER_4PI * (x1 * s2 - x2 * s1)
        out[i, 1] = MU0_OVER_4PI * (x2 * s0 - x0 * s2)
        out[i, 2] = MU0_OVER_4PI * (x0 * s1 - x1 * s0)
    return out
