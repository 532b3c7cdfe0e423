"""BEM kernels: numba vs plain-numpy references, exact triangle integrals vs quadrature, FMM vs direct."""

import numpy as np
import pytest

import tmsfield

from tmsfield.kernels import bem as nb
from tmsfield.kernels import bem_reference as ref
from tmsfield.kernels.triangle_integrals import (triangle_field_integral, triangle_field_quadrature,
                                                 triangle_solid_angle)
from tmsfield.solver.far_field import FarField, _fmm_normalisation


def _random_triangles(rng, n):
    v = rng.normal(size=(n, 3, 3)) * 3.0
    return np.ascontiguousarray(v)


@pytest.mark.random
def test_exact_triangle_field_matches_brute_force_quadrature(rng, test_seed):
    seed = test_seed
    for _ in range(5):
        v0, v1, v2 = rng.normal(size=(3, 3))
        n = np.cross(v1 - v0, v2 - v0)
        n /= np.linalg.norm(n)
        # points at least 0.3 off the plane so that the 200-point rule is converged
        p = rng.normal(size=(8, 3)) * 2
        h = np.einsum("ij,j->i", p - v0, n)
        p = p + (np.sign(h) * np.maximum(0.3 - np.abs(h), 0))[:, None] * n
        exact = triangle_field_integral(p, v0, v1, v2)
        quad = triangle_field_quadrature(p, v0, v1, v2, order=200)
        assert np.allclose(exact, quad, rtol=1e-7, atol=1e-9 * np.abs(quad).max()), f"seed {seed}"


def test_solid_angle_of_closed_surface_is_4pi_inside_and_0_outside():
    from tmsfield.head.sphere_mesh import icosphere
    s = icosphere(10.0, subdivisions=2)
    tv = s.vertices[s.triangles]
    for p, expect in (([1.0, 2.0, -3.0], -4 * np.pi), ([0.0, 0.0, 25.0], 0.0)):
        om = triangle_solid_angle(np.repeat(np.array([p]), len(tv), 0), tv[:, 0], tv[:, 1], tv[:, 2]).sum()
        assert abs(om - expect) < 1e-9


def test_field_integral_is_half_jump_across_the_triangle():
    # just above/below the centre of a triangle the normal component jumps by 4π (q/2 on each side)
    v0, v1, v2 = np.array([0.0, 0, 0]), np.array([2.0, 0, 0]), np.array([0.0, 2, 0])
    c = (v0 + v1 + v2) / 3
    f = triangle_field_integral(np.array([c + [0, 0, 1e-9], c - [0, 0, 1e-9]]), v0, v1, v2)
    assert np.isclose(f[0, 2] - f[1, 2], 4 * np.pi, rtol=1e-6)


@pytest.mark.random
def test_numba_kernels_match_numpy_references(rng, test_seed):
    seed = test_seed
    tv = _random_triangles(rng, 30)
    cen = np.ascontiguousarray(tv.mean(axis=1))
    cr = np.cross(tv[:, 1] - tv[:, 0], tv[:, 2] - tv[:, 0])
    area = 0.5 * np.linalg.norm(cr, axis=1)
    nrm = np.ascontiguousarray(cr / (2 * area[:, None]))
    pts = rng.normal(size=(40, 3)) * 5
    w = rng.normal(size=30)
    d = rng.normal(size=(30, 3))
    assert np.allclose(nb.charge_field_direct(pts, cen, w), ref.charge_field_direct(pts, cen, w)), seed
    assert np.allclose(nb.dipole_potential_direct(pts, cen, d), ref.dipole_potential_direct(pts, cen, d)), seed
    assert np.allclose(nb.current_element_field_direct(pts, cen, d),
                       ref.current_element_field_direct(pts, cen, d)), seed
    wm = rng.normal(size=(30, 4))
    multi = nb.charge_field_direct_multi(pts, cen, wm)
    assert np.allclose(multi[:, :, 2], ref.charge_field_direct(pts, cen, wm[:, 2])), seed
    dm = rng.normal(size=(30, 3, 4))
    assert np.allclose(nb.dipole_potential_direct_multi(pts, cen, dm)[:, 1],
                       ref.dipole_potential_direct(pts, cen, dm[:, :, 1])), seed
    mat = nb.charge_field_matrix(pts, cen, area)
    assert np.allclose((mat @ w).reshape(-1, 3), ref.charge_field_direct(pts, cen, area * w)), seed
    mat32 = nb.charge_field_matrix_f32(pts, cen, area)
    assert mat32.dtype == np.float32 and np.abs(mat32 - mat).max() <= 1e-5 * np.abs(mat).max(), seed
    nrm_c = rng.normal(size=(30, 3))
    nrm_c /= np.linalg.norm(nrm_c, axis=1, keepdims=True)
    nf = nb.normal_field_matrix_f32(cen, nrm_c, area)
    d = cen[:, None, :] - cen[None, :, :]
    r = np.linalg.norm(d, axis=2)
    np.fill_diagonal(r, np.inf)
    nf_ref = area[None, :] * np.einsum("ik,ijk->ij", nrm_c, d) / (4 * np.pi * r ** 3)
    assert nf.dtype == np.float32 and np.abs(nf - nf_ref).max() <= 1e-5 * np.abs(nf_ref).max(), seed
    xs = rng.normal(size=(7, 3)) * 40 + [0, 0, 120]
    dn = nb.dipole_normal_matrix_f32(cen, nrm_c, xs)
    dn_ref = ref.dipole_normal_matrix(cen, nrm_c, xs)
    assert dn.dtype == np.float32 and dn.shape == (30, 21), seed
    assert np.abs(dn - dn_ref).max() <= 1e-5 * np.abs(dn_ref).max(), seed
    # physics: a column is n·A/(μ0/4π) of a unit dipole (A = μ0/4π m × d/|d|³), from the coil code
    m_axis = int(rng.integers(3))
    dip = tmsfield.Coil.from_dipoles(xs[:1], np.eye(3)[m_axis:m_axis + 1])
    a_coil = tmsfield.vector_potential(dip, cen)
    assert np.allclose(np.einsum("ij,ij->i", a_coil, nrm_c) / 1e-7 * 1e-6, dn_ref[:, m_axis],
                       rtol=1e-9, atol=1e-12 * np.abs(dn_ref).max()), seed
    import scipy.sparse as sp
    a = sp.random(40, 30, density=0.2, random_state=int(rng.integers(2**31)), format="csr")
    x = rng.normal(size=(30, 5)).astype(np.float32)
    out = np.ones((40, 5), np.float32)
    nb.csr_times_dense(a.indptr, a.indices, a.data, x, out)
    assert np.allclose(out, 1.0 + a @ x, atol=1e-5 * np.abs(a @ x).max()), seed
    pi = rng.integers(0, 40, 100).astype(np.int64)
    pj = rng.integers(0, 30, 100).astype(np.int64)
    assert np.allclose(nb.near_field_corrections(pts, pi, pj, tv, cen, area),
                       ref.near_field_corrections(pts, pi, pj, tv, cen, area)), seed
    assert np.allclose(nb.near_solid_angle_corrections(pts, pi, pj, tv, cen, area, nrm),
                       ref.near_solid_angle_corrections(pts, pi, pj, tv, cen, area, nrm)), seed


@pytest.mark.random
def test_observation_averaged_entries_match_a_numpy_quadrature(rng, test_seed):
    from tmsfield.kernels.triangle_integrals import collapsed_gauss_rule as _collapsed_gauss
    seed = test_seed
    tv = _random_triangles(rng, 6)
    cen = np.ascontiguousarray(tv.mean(axis=1))
    cr = np.cross(tv[:, 1] - tv[:, 0], tv[:, 2] - tv[:, 0])
    area = 0.5 * np.linalg.norm(cr, axis=1)
    nrm = np.ascontiguousarray(cr / (2 * area[:, None]))
    bary, wq = _collapsed_gauss(4)
    pi = np.array([0, 1, 2, 3], dtype=np.int64)
    pj = np.array([1, 2, 3, 3], dtype=np.int64)
    got = nb.near_normal_corrections_averaged(pi, pj, tv, cen, area, nrm, bary, wq)
    for k, (i, j) in enumerate(zip(pi, pj)):
        if i == j:
            assert got[k] == 0.0
            continue
        xq = bary @ tv[i]
        f = triangle_field_integral(xq, tv[j, 0], tv[j, 1], tv[j, 2]) @ nrm[i]
        d = cen[i] - cen[j]
        expect = (wq @ f - area[j] * d @ nrm[i] / np.linalg.norm(d) ** 3) / (4 * np.pi)
        assert np.isclose(got[k], expect, rtol=1e-10, atol=1e-12), seed


@pytest.mark.random
def test_fmm_normalisation_and_agreement_with_direct_sum(rng, test_seed):
    assert _fmm_normalisation() in (1.0, 1.0 / (4 * np.pi))
    seed = test_seed
    src = rng.normal(size=(3000, 3)) * 40
    tgt = rng.normal(size=(500, 3)) * 40
    w = rng.normal(size=3000)
    d = rng.normal(size=(3000, 3))
    direct, fmm = FarField(src, use_fmm=False), FarField(src, use_fmm=True, eps=1e-9)
    e1, e2 = direct.charge_field(tgt, w), fmm.charge_field(tgt, w)
    assert np.linalg.norm(e1 - e2) <= 1e-7 * np.linalg.norm(e1), seed
    s1 = direct.charge_field(src, w, targets_are_sources=True)
    s2 = fmm.charge_field(src, w, targets_are_sources=True)
    assert np.linalg.norm(s1 - s2) <= 1e-7 * np.linalg.norm(s1), seed
    p1, p2 = direct.dipole_potential(tgt, d), fmm.dipole_potential(tgt, d)
    assert np.linalg.norm(p1 - p2) <= 1e-7 * np.linalg.norm(p1), seed
    dm = rng.normal(size=(3000, 3, 3))
    m1, m2 = direct.dipole_potential(tgt, dm), fmm.dipole_potential(tgt, dm)
    assert np.linalg.norm(m1 - m2) <= 1e-7 * np.linalg.norm(m1), seed
    wm = rng.normal(size=(3000, 2))
    c1, c2 = direct.charge_field(tgt, wm), fmm.charge_field(tgt, wm)
    assert np.linalg.norm(c1 - c2) <= 1e-7 * np.linalg.norm(c1), seed


@pytest.mark.random
def test_dense_matrix_equals_the_matrix_free_operator_and_its_adjoint(rng, test_seed):
    from tmsfield.head.sphere_mesh import icosphere
    from tmsfield.solver.bem import EFieldSolver
    seed = test_seed
    solver = EFieldSolver([icosphere(95.0, subdivisions=2, name="scalp"), icosphere(85.0, subdivisions=2, name="in")],
                          [0.465, 0.010])
    m = solver.dense_matrix()
    q = rng.normal(size=solver.n_triangles)
    assert np.allclose(m @ q, solver._matvec(q), rtol=0, atol=1e-6 * np.abs(m @ q).max()), seed
    assert np.allclose(m.T @ q, solver._rmatvec(q), rtol=0, atol=1e-6 * np.abs(m.T @ q).max()), seed
