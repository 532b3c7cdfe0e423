"""Plain-numpy reference implementations of the analytic-sphere kernels in :mod:`.sphere`.

Everything here is SI (metres, A·m², A) with the sphere centre at the origin, and every
function returns the field per unit rate of change of the source (per A·m²/s for
dipoles, per A/s for wires): multiply by dI/dt in A/s. Used by the tests to check the
numba kernels; slow but obviously right.

Formulas
--------
Magnetic dipole ``m`` at ``R`` (outside), evaluation point ``x`` (inside), with
``a = R - x``, ``a = |a|``, ``rho = |R|`` (Sarvas 1987, Phys Med Biol 32:11, eq. 25 with the
roles exchanged through reciprocity; Heller & van Hulsteyn 1992, Biophys J 63:129):

    F      = a (rho a + rho² - x·R)
    grad F = (a²/rho + a·R/a + 2a + 2rho) R - (a + 2rho + a·R/a) x
    E(x)   = -(mu0/4pi) [F (x × m) - (m·grad F)(x × R)] / F²

Wires (any source outside the sphere): the field inside a spherically symmetric
conductor is tangential, divergence-free and has curl -dB/dt, so it equals minus the time
derivative of the Poincaré-gauge vector potential:

    E(x) = x × ∫_0^1 λ dB/dt(λ x) dλ

with B the free-space Biot–Savart field of the wires (closed form per straight segment),
integrated by Gauss–Legendre quadrature in λ.
"""

import numpy as np

MU0_OVER_4PI = 1e-7

__all__ = ["efield_dipoles_reference", "reciprocal_field_reference", "segment_bfield_reference",
           "efield_segments_reference", "MU0_OVER_4PI"]


def _f_and_grad(x, R):
    """F and grad_R F for broadcastable x (...,3) and R (...,3)."""
    a_vec = R - x
    a = np.linalg.norm(a_vec, axis=-1)
    rho = np.linalg.norm(R, axis=-1)
    a_dot_R = np.sum(a_vec * R, axis=-1)
    F = a * (rho * a + rho**2 - np.sum(x * R, axis=-1))
    c1 = a**2 / rho + a_dot_R / a + 2 * a + 2 * rho
    c2 = a + 2 * rho + a_dot_R / a
    grad = c1[..., None] * R - c2[..., None] * x
    return F, grad


def efield_dipoles_reference(x, R, m, chunk=2048):
    """E (N,3) at points x (N,3, m) of dipoles at R (D,3, m) with moments m (D,3), per unit dm/dt.

    Examples
    --------
    >>> efield_dipoles_reference([[0, 0.02, 0]], [[0, 0, 0.1]], [[1.0, 0, 0]]).shape
    (1, 3)
    """
    x = np.atleast_2d(np.asarray(x, float))
    R = np.atleast_2d(np.asarray(R, float))
    m = np.atleast_2d(np.asarray(m, float))
    out = np.zeros_like(x)
    for s in range(0, x.shape[0], chunk):
        xs = x[s:s + chunk, None, :]
        F, grad = _f_and_grad(xs, R[None])
        xm = np.cross(xs, m[None])
        xR = np.cross(xs, R[None])
        mg = np.sum(m[None] * grad, axis=-1)
        out[s:s + chunk] = -MU0_OVER_4PI * np.sum((F[..., None] * xm - mg[..., None] * xR) / (F**2)[..., None], axis=1)
    return out


def reciprocal_field_reference(x, w, R, chunk=2048):
    """h (M,3) at dipole positions R (M,3, m) such that sum_j w_j·E(x_j) = sum_i m_i·h(R_i), per unit dm/dt.

    Examples
    --------
    >>> reciprocal_field_reference([[0, 0.02, 0]], [[0, 0, 1.0]], [[0, 0, 0.1]]).shape
    (1, 3)
    """
    x = np.atleast_2d(np.asarray(x, float))
    w = np.atleast_2d(np.asarray(w, float))
    R = np.atleast_2d(np.asarray(R, float))
    out = np.zeros_like(R)
    wx = np.cross(w, x)                                  # (N,3) w × x
    for s in range(0, R.shape[0], chunk):
        Rs = R[s:s + chunk, None, :]                    # (m,1,3)
        F, grad = _f_and_grad(x[None], Rs)              # (m,N)
        w_xR = np.sum(w[None] * np.cross(x[None], Rs), axis=-1)
        out[s:s + chunk] = -MU0_OVER_4PI * np.sum(
            (F[..., None] * wx[None] - w_xR[..., None] * grad) / (F**2)[..., None], axis=1)
    return out


def segment_bfield_reference(p, a, b, current):
    """Free-space B (N,3) at p (N,3, m) of straight segments a->b (M,3, m) with currents (M,) A.

    Examples
    --------
    >>> b = segment_bfield_reference(np.array([[0, 0.01, 0]]), np.array([[-1.0, 0, 0]]), np.array([[1.0, 0, 0]]),
    ...                              np.ones(1))
    >>> round(float(b[0, 2] * 1e5), 3)          # ≈ mu0 I / (2 pi d) = 2e-5 T, +z
    2.0
    """
    u = a[None] - p[:, None]
    v = b[None] - p[:, None]
    nu = np.linalg.norm(u, axis=-1)
    nv = np.linalg.norm(v, axis=-1)
    den = nu * nv * (nu * nv + np.sum(u * v, axis=-1))
    f = current[None] * (nu + nv) / den
    return MU0_OVER_4PI * np.sum(f[..., None] * np.cross(u, v), axis=1)


def efield_segments_reference(x, a, b, current, nodes, weights):
    """E (N,3) at x (N,3, m) inside the sphere from wire segments, per unit dI/dt.

    ``nodes``, ``weights``: Gauss–Legendre rule on [0, 1] for λ.

    Examples
    --------
    >>> t, w = np.polynomial.legendre.leggauss(8)
    >>> efield_segments_reference(np.array([[0, 0, 0.05]]), np.array([[-0.1, 0, 0.1]]), np.array([[0.1, 0, 0.1]]),
    ...                           np.ones(1), (t + 1) / 2, w / 2).shape
    (1, 3)
    """
    x = np.asarray(x, float)
    acc = np.zeros_like(x)
    for lam, wq in zip(nodes, weights):
        acc += (wq * lam) * segment_bfield_reference(lam * x, a, b, current)
    return np.cross(x, acc)
