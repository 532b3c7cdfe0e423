"""numba kernels of the surface-charge BEM (see :mod:`tmsfield.solver.bem`).

All lengths in one unit (the solver uses mm); all fields are per unit surface charge
density q = ρ_s/ε0, so the E-field of charges is (1/4π) Σ q_j a_j (r − c_j)/|r − c_j|³.
Plain-numpy references: :mod:`tmsfield.kernels.bem_reference` (direct sums) and
:mod:`tmsfield.kernels.triangle_integrals` (exact flat-triangle integrals).
"""

import math

import numpy as np
from numba import njit, prange

__all__ = [
    "charge_field_direct",
    "charge_field_direct_multi",
    "dipole_potential_direct",
    "current_element_field_direct",
    "near_field_corrections",
    "near_solid_angle_corrections",
]

_INV4PI = 1.0 / (4.0 * math.pi)


@njit(cache=True, fastmath=False, inline="always")
def _solid_angle(px, py, pz, a, b, c):
    r1x, r1y, r1z = px - a[0], py - a[1], pz - a[2]
    r2x, r2y, r2z = px - b[0], py - b[1], pz - b[2]
    r3x, r3y, r3z = px - c[0], py - c[1], pz - c[2]
    l1 = math.sqrt(r1x * r1x + r1y * r1y + r1z * r1z)
    l2 = math.sqrt(r2x * r2x + r2y * r2y + r2z * r2z)
    l3 = math.sqrt(r3x * r3x + r3y * r3y + r3z * r3z)
    num = r1x * (r2y * r3z - r2z * r3y) + r1y * (r2z * r3x - r2x * r3z) + r1z * (r2x * r3y - r2y * r3x)
    den = (l1 * l2 * l3 + (r1x * r2x + r1y * r2y + r1z * r2z) * l3 + (r1x * r3x + r1y * r3y + r1z * r3z) * l2
           + (r2x * r3x + r2y * r3y + r2z * r3z) * l1)
    return 2.0 * math.atan2(num, den)


@njit(cache=True, inline="always")
def _triangle_field(px, py, pz, tri):
    """Exact ∫_T (r − r')/|r − r'|³ dS' (see triangle_integrals.triangle_field_integral)."""
    a = tri[0]
    b = tri[1]
    c = tri[2]
    e1x, e1y, e1z = b[0] - a[0], b[1] - a[1], b[2] - a[2]
    e2x, e2y, e2z = c[0] - a[0], c[1] - a[1], c[2] - a[2]
    nx = e1y * e2z - e1z * e2y
    ny = e1z * e2x - e1x * e2z
    nz = e1x * e2y - e1y * e2x
    nn = math.sqrt(nx * nx + ny * ny + nz * nz)
    nx /= nn
    ny /= nn
    nz /= nn
    om = _solid_angle(px, py, pz, a, b, c)
    fx = om * nx
    fy = om * ny
    fz = om * nz
    for k in range(3):
        s = tri[k]
        t = tri[(k + 1) % 3]
        ex, ey, ez = t[0] - s[0], t[1] - s[1], t[2] - s[2]
        le = math.sqrt(ex * ex + ey * ey + ez * ez)
        ex /= le
        ey /= le
        ez /= le
        # m = l x n
        mx = ey * nz - ez * ny
        my = ez * nx - ex * nz
        mz = ex * ny - ey * nx
        ax, ay, az = s[0] - px, s[1] - py, s[2] - pz
        lm = ax * ex + ay * ey + az * ez
        lp = (t[0] - px) * ex + (t[1] - py) * ey + (t[2] - pz) * ez
        d2 = ax * ax + ay * ay + az * az - lm * lm
        floor = 1e-30 * le * le
        if d2 < floor:
            d2 = floor
        d = math.sqrt(d2)
        f = math.asinh(lp / d) - math.asinh(lm / d)
        fx += f * mx
        fy += f * my
        fz += f * mz
    return fx, fy, fz


@njit(cache=True, parallel=True)
def near_field_corrections(points, pair_point, pair_tri, tri_vertices, centroids, areas):
    """(F_exact − F_centroid)/(4π) for each (point, triangle) pair.

    Parameters
    ----------
    points : (P, 3)
    pair_point, pair_tri : (K,) int64
        Pair k couples points[pair_point[k]] with triangle pair_tri[k].
    tri_vertices : (T, 3, 3)
    centroids : (T, 3)
    areas : (T,)

    Returns
    -------
    (K, 3) : exact field integral minus its one-point (centroid) approximation
        a (r − c)/|r − c|³ (taken as 0 where r == c), both divided by 4π.
    """
    k = pair_point.shape[0]
    out = np.empty((k, 3))
    for i in prange(k):
        p = points[pair_point[i]]
        j = pair_tri[i]
        fx, fy, fz = _triangle_field(p[0], p[1], p[2], tri_vertices[j])
        dx = p[0] - centroids[j, 0]
        dy = p[1] - centroids[j, 1]
        dz = p[2] - centroids[j, 2]
        r2 = dx * dx + dy * dy + dz * dz
        if r2 > 0.0:
            s = areas[j] / (r2 * math.sqrt(r2))
            fx -= s * dx
            fy -= s * dy
            fz -= s * dz
        out[i, 0] = fx * _INV4PI
        out[i, 1] = fy * _INV4PI
        out[i, 2] = fz * _INV4PI
    return out


@njit(cache=True, parallel=True)
def near_solid_angle_corrections(points, pair_point, pair_tri, tri_vertices, centroids, areas, normals):
    """Ω_exact − a n·(r − c)/|r − c|³ for each (point, triangle) pair (sr)."""
    k = pair_point.shape[0]
    out = np.empty(k)
    for i in prange(k):
        p = points[pair_point[i]]
        j = pair_tri[i]
        t = tri_vertices[j]
        om = _solid_angle(p[0], p[1], p[2], t[0], t[1], t[2])
        dx = p[0] - centroids[j, 0]
        dy = p[1] - centroids[j, 1]
        dz = p[2] - centroids[j, 2]
        r2 = dx * dx + dy * dy + dz * dz
        if r2 > 0.0:
            om -= areas[j] * (normals[j, 0] * dx + normals[j, 1] * dy + normals[j, 2] * dz) / (r2 * math.sqrt(r2))
        out[i] = om
    return out


@njit(cache=True, parallel=True, fastmath=True)
def charge_field_direct(targets, sources, weights):
    """E = (1/4π) Σ_j w_j (t − s_j)/|t − s_j|³ at each target (coincident pairs skipped).

    targets (N, 3), sources (M, 3), weights (M,) -> (N, 3). Branch-free inner loop (a
    coincident pair has d = 0, so clamping r² at 1e-20 mm² makes its term exactly 0) so
    that it vectorises.
    """
    n = targets.shape[0]
    m = sources.shape[0]
    sx = np.ascontiguousarray(sources[:, 0])
    sy = np.ascontiguousarray(sources[:, 1])
    sz = np.ascontiguousarray(sources[:, 2])
    out = np.zeros((n, 3))
    for i in prange(n):
        tx, ty, tz = targets[i, 0], targets[i, 1], targets[i, 2]
        ax = 0.0
        ay = 0.0
        az = 0.0
        for j in range(m):
            dx = tx - sx[j]
            dy = ty - sy[j]
            dz = tz - sz[j]
            r2 = max(dx * dx + dy * dy + dz * dz, 1e-20)
            s = weights[j] / (r2 * math.sqrt(r2))
            ax += s * dx
            ay += s * dy
            az += s * dz
        out[i, 0] = ax * _INV4PI
        out[i, 1] = ay * _INV4PI
        out[i, 2] = az * _INV4PI
    return out


@njit(cache=True, parallel=True)
def charge_field_direct_multi(targets, sources, weights):
    """As :func:`charge_field_direct` for K weight vectors at once.

    targets (N, 3), sources (M, 3), weights (M, K) -> (N, 3, K).
    """
    n = targets.shape[0]
    m = sources.shape[0]
    kk = weights.shape[1]
    out = np.zeros((n, 3, kk))
    for i in prange(n):
        acc = np.zeros((3, kk))
        tx, ty, tz = targets[i, 0], targets[i, 1], targets[i, 2]
        for j in range(m):
            dx = tx - sources[j, 0]
            dy = ty - sources[j, 1]
            dz = tz - sources[j, 2]
            r2 = dx * dx + dy * dy + dz * dz
            if r2 > 0.0:
                s = 1.0 / (r2 * math.sqrt(r2))
                sx = s * dx
                sy = s * dy
                sz = s * dz
                w = weights[j]
                for q in range(kk):
                    acc[0, q] += sx * w[q]
                    acc[1, q] += sy * w[q]
                    acc[2, q] += sz * w[q]
        for q in range(kk):
            out[i, 0, q] = acc[0, q] * _INV4PI
            out[i, 1, q] = acc[1, q] * _INV4PI
            out[i, 2, q] = acc[2, q] * _INV4PI
    return out


@njit(cache=True, parallel=True, fastmath=True)
def dipole_potential_direct(targets, sources, dipoles):
    """φ = Σ_j d_j·(t − s_j)/|t − s_j|³ at each target (no 1/4π; coincident pairs skipped).

    targets (N, 3), sources (M, 3), dipoles (M, 3) -> (N,). Branch-free like
    :func:`charge_field_direct`.
    """
    n = targets.shape[0]
    m = sources.shape[0]
    sx = np.ascontiguousarray(sources[:, 0])
    sy = np.ascontiguousarray(sources[:, 1])
    sz = np.ascontiguousarray(sources[:, 2])
    px = np.ascontiguousarray(dipoles[:, 0])
    py = np.ascontiguousarray(dipoles[:, 1])
    pz = np.ascontiguousarray(dipoles[:, 2])
    out = np.zeros(n)
    for i in prange(n):
        tx, ty, tz = targets[i, 0], targets[i, 1], targets[i, 2]
        acc = 0.0
        for j in range(m):
            dx = tx - sx[j]
            dy = ty - sy[j]
            dz = tz - sz[j]
            r2 = max(dx * dx + dy * dy + dz * dz, 1e-20)
            acc += (px[j] * dx + py[j] * dy + pz[j] * dz) / (r2 * math.sqrt(r2))
        out[i] = acc
    return out


@njit(cache=True, parallel=True)
def current_element_field_direct(targets, sources, vectors):
    """h = Σ_j ((s_j − t) × w_j)/|s_j − t|³ at each target (Biot–Savart-type; no prefactor).

    targets (N, 3), sources (M, 3), vectors (M, 3) -> (N, 3). Coincident pairs skipped.
    """
    n = targets.shape[0]
    m = sources.shape[0]
    out = np.zeros((n, 3))
    for i in prange(n):
        tx, ty, tz = targets[i, 0], targets[i, 1], targets[i, 2]
        ax = 0.0
        ay = 0.0
        az = 0.0
        for j in range(m):
            dx = sources[j, 0] - tx
            dy = sources[j, 1] - ty
            dz = sources[j, 2] - tz
            r2 = dx * dx + dy * dy + dz * dz
            if r2 > 0.0:
                s = 1.0 / (r2 * math.sqrt(r2))
                wx, wy, wz = vectors[j, 0], vectors[j, 1], vectors[j, 2]
                ax += s * (dy * wz - dz * wy)
                ay += s * (dz * wx - dx * wz)
                az += s * (dx * wy - dy * wx)
        out[i, 0] = ax
        out[i, 1] = ay
        out[i, 2] = az
    return out


@njit(cache=True, parallel=True)
def near_normal_corrections_averaged(pair_obs, pair_src, tri_vertices, centroids, areas, normals, bary, weights):
    """Observation-averaged near-field entries of the normal operator, minus the one-point rule.

    For each pair (i, j): (1/4π) [ Σ_q w_q n_i·F(x_q; T_j) − a_j n_i·(c_i − c_j)/|c_i − c_j|³ ],
    x_q = Σ_k bary[q, k] v_k(T_i) the quadrature points of the observation triangle
    (weights sum to 1), F the exact flat-triangle field integral. Averaging over the
    observation triangle (as in the BEM-FMM of Makarov et al. 2018) captures the
    logarithmic edge behaviour between adjacent facets that centroid collocation misses.
    Pairs with i == j give the (zero) in-plane normal field minus nothing.
    """
    k = pair_obs.shape[0]
    nq = bary.shape[0]
    out = np.empty(k)
    for p in prange(k):
        i = pair_obs[p]
        j = pair_src[p]
        ti = tri_vertices[i]
        nx, ny, nz = normals[i, 0], normals[i, 1], normals[i, 2]
        acc = 0.0
        if i != j:
            for q in range(nq):
                x = bary[q, 0] * ti[0, 0] + bary[q, 1] * ti[1, 0] + bary[q, 2] * ti[2, 0]
                y = bary[q, 0] * ti[0, 1] + bary[q, 1] * ti[1, 1] + bary[q, 2] * ti[2, 1]
                z = bary[q, 0] * ti[0, 2] + bary[q, 1] * ti[1, 2] + bary[q, 2] * ti[2, 2]
                fx, fy, fz = _triangle_field(x, y, z, tri_vertices[j])
                acc += weights[q] * (fx * nx + fy * ny + fz * nz)
            dx = centroids[i, 0] - centroids[j, 0]
            dy = centroids[i, 1] - centroids[j, 1]
            dz = centroids[i, 2] - centroids[j, 2]
            r2 = dx * dx + dy * dy + dz * dz
            if r2 > 0.0:
                acc -= areas[j] * (dx * nx + dy * ny + dz * nz) / (r2 * math.sqrt(r2))
        out[p] = acc * _INV4PI
    return out


@njit(cache=True, parallel=True)
def dipole_potential_direct_multi(targets, sources, dipoles):
    """As :func:`dipole_potential_direct` for K dipole sets: dipoles (M, 3, K) -> (N, K)."""
    n = targets.shape[0]
    m = sources.shape[0]
    kk = dipoles.shape[2]
    out = np.zeros((n, kk))
    for i in prange(n):
        tx, ty, tz = targets[i, 0], targets[i, 1], targets[i, 2]
        for j in range(m):
            dx = tx - sources[j, 0]
            dy = ty - sources[j, 1]
            dz = tz - sources[j, 2]
            r2 = dx * dx + dy * dy + dz * dz
            if r2 > 0.0:
                s = 1.0 / (r2 * math.sqrt(r2))
                sx = s * dx
                sy = s * dy
                sz = s * dz
                d = dipoles[j]
                for q in range(kk):
                    out[i, q] += d[0, q] * sx + d[1, q] * sy + d[2, q] * sz
    return out


@njit(cache=True, parallel=True)
def charge_field_matrix(targets, sources, weights):
    """Dense one-point field matrix: rows 3i+c, columns j: w_j (t_i − s_j)_c / (4π |t_i − s_j|³).

    targets (N, 3), sources (M, 3), weights (M,) -> (3N, M). Coincident pairs give 0.
    """
    n = targets.shape[0]
    m = sources.shape[0]
    out = np.empty((3 * n, m))
    for i in prange(n):
        tx, ty, tz = targets[i, 0], targets[i, 1], targets[i, 2]
        for j in range(m):
            dx = tx - sources[j, 0]
            dy = ty - sources[j, 1]
            dz = tz - sources[j, 2]
            r2 = max(dx * dx + dy * dy + dz * dz, 1e-20)
            s = weights[j] * _INV4PI / (r2 * math.sqrt(r2))
            out[3 * i, j] = s * dx
            out[3 * i + 1, j] = s * dy
            out[3 * i + 2, j] = s * dz
    return out


@njit(cache=True, parallel=True, fastmath=True)
def _normal_field_matrix_f32(c, n_, a, out):
    n = c.shape[0]
    floor = np.float32(1e-20)
    one = np.float32(1.0)
    for i in prange(n):
        cx, cy, cz = c[i, 0], c[i, 1], c[i, 2]
        nx, ny, nz = n_[i, 0], n_[i, 1], n_[i, 2]
        for j in range(n):
            dx = cx - c[j, 0]
            dy = cy - c[j, 1]
            dz = cz - c[j, 2]
            r2 = max(dx * dx + dy * dy + dz * dz, floor)
            inv = one / math.sqrt(r2)
            out[i, j] = a[j] * (nx * dx + ny * dy + nz * dz) * (inv * inv * inv)


def normal_field_matrix_f32(centroids, normals, areas):
    """Dense one-point normal operator in float32: a_j n_i·(c_i − c_j)/(4π|c_i − c_j|³), 0 on the diagonal.

    centroids (T, 3), normals (T, 3), areas (T,) -> (T, T) float32 (no (T, T, 3) temporaries).
    Computed in float32 (vectorised reciprocal square root; relative error ~1e-6 per entry, the
    order of the float32 storage itself), coordinates taken about their mean.
    """
    o = centroids.mean(axis=0)
    out = np.empty((centroids.shape[0], centroids.shape[0]), dtype=np.float32)
    _normal_field_matrix_f32(np.ascontiguousarray(centroids - o, dtype=np.float32),
                             np.ascontiguousarray(normals, dtype=np.float32),
                             np.ascontiguousarray(areas * _INV4PI, dtype=np.float32), out)
    return out


@njit(cache=True, parallel=True, fastmath=True)
def _charge_field_matrix_f32(t, s_, w, out):
    n = t.shape[0]
    m = s_.shape[0]
    floor = np.float32(1e-20)
    one = np.float32(1.0)
    for i in prange(n):
        tx, ty, tz = t[i, 0], t[i, 1], t[i, 2]
        for j in range(m):
            dx = tx - s_[j, 0]
            dy = ty - s_[j, 1]
            dz = tz - s_[j, 2]
            r2 = max(dx * dx + dy * dy + dz * dz, floor)
            inv = one / math.sqrt(r2)
            f = w[j] * (inv * inv * inv)
            out[3 * i, j] = f * dx
            out[3 * i + 1, j] = f * dy
            out[3 * i + 2, j] = f * dz


def charge_field_matrix_f32(targets, sources, weights, out=None):
    """:func:`charge_field_matrix` computed and returned in float32 (relative error ~1e-6),
    coordinates about the sources' mean; ``out`` (3N, M) float32 C-contiguous is filled if given."""
    o = sources.mean(axis=0)
    if out is None:
        out = np.empty((3 * targets.shape[0], sources.shape[0]), dtype=np.float32)
    _charge_field_matrix_f32(np.ascontiguousarray(targets - o, dtype=np.float32),
                             np.ascontiguousarray(sources - o, dtype=np.float32),
                             np.ascontiguousarray(weights * _INV4PI, dtype=np.float32), out)
    return out


@njit(cache=True, parallel=True, fastmath=True)
def _dipole_normal_matrix_f32(c, n_, x, out):
    nt = c.shape[0]
    m = x.shape[0]
    floor = np.float32(1e-20)
    one = np.float32(1.0)
    for i in prange(nt):
        cx, cy, cz = c[i, 0], c[i, 1], c[i, 2]
        nx, ny, nz = n_[i, 0], n_[i, 1], n_[i, 2]
        for j in range(m):
            dx = cx - x[j, 0]
            dy = cy - x[j, 1]
            dz = cz - x[j, 2]
            r2 = max(dx * dx + dy * dy + dz * dz, floor)
            inv = one / math.sqrt(r2)
            f = inv * inv * inv
            out[i, 3 * j] = f * (dy * nz - dz * ny)
            out[i, 3 * j + 1] = f * (dz * nx - dx * nz)
            out[i, 3 * j + 2] = f * (dx * ny - dy * nx)


def dipole_normal_matrix_f32(centroids, normals, positions):
    """Normal vector potential of unit magnetic dipoles, in float32: (T, 3P).

    Entry ``[t, 3p + a]`` is n_t·(e_a × d)/|d|³ = (d × n_t)_a/|d|³ with d = c_t − x_p: the normal
    component at centroid t of the vector potential (in units of μ0/4π) of a unit dipole along
    axis a at position p. The primary field of any coil is a sum of such columns (a magnetic dipole
    has A = μ0/4π m × d/|d|³), times −dI/dt. Coordinates about the centroids' mean; relative error
    ~1e-6 per entry.
    """
    o = centroids.mean(axis=0)
    out = np.empty((centroids.shape[0], 3 * positions.shape[0]), dtype=np.float32)
    _dipole_normal_matrix_f32(np.ascontiguousarray(centroids - o, dtype=np.float32),
                              np.ascontiguousarray(normals, dtype=np.float32),
                              np.ascontiguousarray(positions - o, dtype=np.float32), out)
    return out


@njit(cache=True, parallel=True, fastmath=True)
def csr_times_dense(indptr, indices, data, x, out):
    """out += A @ x for a CSR matrix A (data float64) and a C-contiguous dense x (M, K), float32 out (N, K)."""
    n = indptr.shape[0] - 1
    k = x.shape[1]
    for i in prange(n):
        for p in range(indptr[i], indptr[i + 1]):
            v = np.float32(data[p])
            j = indices[p]
            for c in range(k):
                out[i, c] += v * x[j, c]
