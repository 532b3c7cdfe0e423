"""Plain-numpy reference for the Biot–Savart kernels (used by the tests, not for speed).

Everything here is in SI units: positions in metres, currents in amperes, dipole moments in
A·m². Results: vector potential A in T·m, flux density B in T. The numba kernels in
:mod:`tmsfield.kernels.biot_savart` compute the same quantities and are tested against these.

Formulas
--------
Finite straight segment from ``a`` to ``b`` (length ``L``, unit tangent ``t``) carrying
current ``I``; field point ``r``; ``R1 = |r - a|``, ``R2 = |r - b|``, ``S = R1 + R2``.
These closed forms are those of Hanson & Hirshman (2002), "Compact expressions for the
Biot–Savart fields of a filamentary segment", Phys. Plasmas 9:4410, doi:10.1063/1.1507589:

* vector potential ``A = μ0 I / (4π) · t · ln((S + L) / (S − L))``
  (integrate ``μ0 I/(4π) ∫ t ds / |r − r'|`` along the segment; with ε = L/S this is
  ``2 atanh(ε)``),
* flux density ``B = μ0 I / (4π) · 2 L S / (R1 R2 (S² − L²)) · t × (r − a)``
  (the usual ``(cos θ2 − cos θ1)/d`` form rewritten with the endpoint distances; ``t × (r − a)``
  equals ``t × (r − b)`` because ``b − a`` is parallel to ``t``).

Magnetic dipole ``m`` at ``p``, ``d = r − p``:

* ``A = μ0/(4π) · m × d / |d|³``
* ``B = μ0/(4π) · (3 d (m·d) / |d|⁵ − m / |d|³)``

Regularisation (identical in the numba kernels): ``S − L`` is floored at ``1e-12 · L``. This
only changes the result for points within about 1e-6 of the segment length from the segment
itself (i.e. *on* the wire, where the filament field is infinite): there A stays finite
(≈ ``μ0 I/(4π) · ln(2e12) · t``) and B is computed with the floored denominator. Points on the
line through the segment but outside it are exact (B = 0 there). For dipoles ``|d|²`` is
floored at ``1e-18 m²`` (a point closer than 1 nm to a dipole).
"""

import numpy as np

__all__ = [
    "MU0_OVER_4PI",
    "segment_vector_potential_reference",
    "segment_magnetic_field_reference",
    "dipole_vector_potential_reference",
    "dipole_magnetic_field_reference",
]

MU0_OVER_4PI = 1e-7
"""μ0/(4π) in T·m/A (the pre-2019 SI value; the 2019 redefinition changes it by < 1e-9)."""

_SEG_FLOOR = 1e-12
_DIP_FLOOR_M2 = 1e-18
_PAIRS_PER_CHUNK = 2_000_000


def _chunks(n_points, n_sources):
    step = max(1, _PAIRS_PER_CHUNK // max(n_sources, 1))
    for i in range(0, n_points, step):
        yield slice(i, min(i + step, n_points))


def _segment_geometry(starts, ends, currents):
    starts = np.asarray(starts, dtype=np.float64).reshape(-1, 3)
    ends = np.asarray(ends, dtype=np.float64).reshape(-1, 3)
    currents = np.asarray(currents, dtype=np.float64).reshape(-1)
    d = ends - starts
    length = np.linalg.norm(d, axis=1)
    keep = length > 0
    t = np.zeros_like(d)
    t[keep] = d[keep] / length[keep, None]
    return starts[keep], ends[keep], currents[keep], t[keep], length[keep]


def segment_vector_potential_reference(starts_m, ends_m, currents_a, points_m):
    """A (T·m) of straight segments at points; SI in and out. See the module docstring.

    Examples
    --------
    >>> a = segment_vector_potential_reference([[0, 0, 0]], [[0, 0, 0.01]], [1.0], [[0.01, 0, 0.005]])
    >>> a.shape
    (1, 3)
    """
    a, b, cur, t, length = _segment_geometry(starts_m, ends_m, currents_a)
    p = np.asarray(points_m, dtype=np.float64).reshape(-1, 3)
    out = np.zeros_like(p)
    w = MU0_OVER_4PI * cur[:, None] * t
    for sl in _chunks(p.shape[0], a.shape[0]):
        q = p[sl, None, :]
        r1 = np.linalg.norm(q - a[None], axis=2)
        r2 = np.linalg.norm(q - b[None], axis=2)
        s = r1 + r2
        lg = np.log((s + length) / np.maximum(s - length, _SEG_FLOOR * length))
        out[sl] = lg @ w
    return out


def segment_magnetic_field_reference(starts_m, ends_m, currents_a, points_m):
    """B (T) of straight segments at points; SI in and out. See the module docstring.

    Examples
    --------
    >>> b = segment_magnetic_field_reference([[0, 0, -1.0]], [[0, 0, 1.0]], [1.0], [[0.01, 0, 0]])
    >>> round(float(b[0, 1]) / (2e-7 / 0.01), 3)   # ≈ infinite straight wire, μ0 I / (2π d)
    1.0
    """
    a, b, cur, t, length = _segment_geometry(starts_m, ends_m, currents_a)
    p = np.asarray(points_m, dtype=np.float64).reshape(-1, 3)
    out = np.zeros_like(p)
    for sl in _chunks(p.shape[0], a.shape[0]):
        d1 = p[sl, None, :] - a[None]
        r1 = np.linalg.norm(d1, axis=2)
        r2 = np.linalg.norm(p[sl, None, :] - b[None], axis=2)
        s = r1 + r2
        den = r1 * r2 * np.maximum(s - length, _SEG_FLOOR * length) * (s + length)
        coef = MU0_OVER_4PI * cur * 2.0 * length * s / np.maximum(den, 1e-290)
        out[sl] = np.einsum("pm,pmk->pk", coef, np.cross(t[None], d1))
    return out


def _dipole_inputs(positions_m, moments, points_m):
    pos = np.asarray(positions_m, dtype=np.float64).reshape(-1, 3)
    mom = np.asarray(moments, dtype=np.float64).reshape(-1, 3)
    p = np.asarray(points_m, dtype=np.float64).reshape(-1, 3)
    return pos, mom, p


def dipole_vector_potential_reference(positions_m, moments_am2, points_m):
    """A (T·m) of magnetic dipoles: μ0/(4π) m × d / |d|³.

    Examples
    --------
    >>> dipole_vector_potential_reference([[0, 0, 0]], [[0, 0, 1.0]], [[1.0, 0, 0]])
    array([[0.e+00, 1.e-07, 0.e+00]])
    """
    pos, mom, p = _dipole_inputs(positions_m, moments_am2, points_m)
    out = np.zeros_like(p)
    for sl in _chunks(p.shape[0], pos.shape[0]):
        d = p[sl, None, :] - pos[None]
        r2 = np.maximum(np.einsum("pmk,pmk->pm", d, d), _DIP_FLOOR_M2)
        inv3 = r2 ** -1.5
        out[sl] = MU0_OVER_4PI * np.einsum("pm,pmk->pk", inv3, np.cross(mom[None], d))
    return out


def dipole_magnetic_field_reference(positions_m, moments_am2, points_m):
    """B (T) of magnetic dipoles: μ0/(4π) (3 d (m·d)/|d|⁵ − m/|d|³).

    Examples
    --------
    >>> dipole_magnetic_field_reference([[0, 0, 0]], [[0, 0, 1.0]], [[0, 0, 1.0]])
    array([[0.e+00, 0.e+00, 2.e-07]])
    """
    pos, mom, p = _dipole_inputs(positions_m, moments_am2, points_m)
    out = np.zeros_like(p)
    for sl in _chunks(p.shape[0], pos.shape[0]):
        d = p[sl, None, :] - pos[None]
        r2 = np.maximum(np.einsum("pmk,pmk->pm", d, d), _DIP_FLOOR_M2)
        inv3 = r2 ** -1.5
        md = np.einsum("mk,pmk->pm", mom, d)
        field = 3.0 * (md * inv3 / r2)[..., None] * d - inv3[..., None] * mom[None]
        out[sl] = MU0_OVER_4PI * field.sum(axis=1)
    return out
