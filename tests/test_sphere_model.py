"""Analytic sphere E-field: checks against independent routes (no hard-coded numbers).

The field inside a spherically symmetric conductor is fixed uniquely by three properties
(uniqueness of the Neumann problem): curl E = -dB/dt with B the free-space coil field,
div E = 0, and E·n = 0 on the boundary. Tests check each of them numerically with plain
formulas written here, plus two independent constructions (Poincaré-gauge quadrature of
the dipole B; a wire loop against its dipole sheet).
"""

import numpy as np
import pytest

from tmsfield.coils import Coil
from tmsfield.errors import InputError, PoseError
from tmsfield.kernels import sphere as ksph
from tmsfield.kernels import sphere_reference as kref
from tmsfield.pose import CoilPose
from tmsfield.solver import SphereModel

MU0_4PI = 1e-7


def dipole_b(points_mm, pos_mm, mom):
    """Plain free-space B (T) of dipoles (A·m²) at points (mm)."""
    d = (points_mm[:, None, :] - pos_mm[None]) * 1e-3
    r = np.linalg.norm(d, axis=-1)
    md = np.sum(mom[None] * d, axis=-1)
    return MU0_4PI * np.sum(3 * d * (md / r**5)[..., None] - mom[None] / (r**3)[..., None], axis=1)


def wire_b(points_mm, a_mm, b_mm, current, n=64):
    """Plain Biot–Savart B (T) of straight segments by Gauss–Legendre along each segment."""
    t, w = np.polynomial.legendre.leggauss(n)
    t, w = 0.5 * (t + 1), 0.5 * w
    out = np.zeros_like(points_mm)
    for ti, wi in zip(t, w):
        l = (a_mm + ti * (b_mm - a_mm)) * 1e-3
        dl = (b_mm - a_mm) * 1e-3 * current[:, None]
        d = points_mm[:, None, :] * 1e-3 - l[None]
        r = np.linalg.norm(d, axis=-1)
        out += wi * MU0_4PI * np.sum(np.cross(dl[None], d) / (r**3)[..., None], axis=1)
    return out


def random_inside(rng, n, radius, center=(0, 0, 0), rmin=0.0):
    v = rng.normal(size=(n, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    r = radius * (rmin + (1 - rmin) * rng.random(n) ** (1 / 3))
    return v * r[:, None] + np.asarray(center)


def random_dipoles(rng, n, rmin, rmax, center=(0, 0, 0)):
    v = rng.normal(size=(n, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v * rng.uniform(rmin, rmax, n)[:, None] + np.asarray(center), rng.normal(size=(n, 3))


def circle_coil(radius_mm=25.0, n=96):
    t = np.linspace(0, 2 * np.pi, n + 1)
    return Coil.from_wires([np.column_stack([radius_mm * np.cos(t), radius_mm * np.sin(t), 0 * t])], name="circle")


def fig8_wire_coil():
    t = np.linspace(0, 2 * np.pi, 73)
    loops = [np.column_stack([cx + r * np.cos(t), r * np.sin(t), -2 + 0 * t]) for cx in (-36, 36) for r in (20, 30)]
    return Coil.from_wires(loops, currents=[1, 1, -1, -1], name="fig8 wires")


def random_pose(rng, center_dist_mm, center=(0, 0, 0)):
    """Coil above the sphere, +z towards the centre, random direction and handle."""
    d = rng.normal(size=3)
    d /= np.linalg.norm(d)
    y = rng.normal(size=3)
    return CoilPose.from_axes(np.asarray(center) + center_dist_mm * d, -d, y)


def numerical_jacobian(f, pts, h=1e-3):
    """J[i, a, b] = d f_a / d x_b at pts (mm), per metre."""
    J = np.zeros((pts.shape[0], 3, 3))
    for b in range(3):
        dp = np.zeros(3)
        dp[b] = h
        J[:, :, b] = (f(pts + dp) - f(pts - dp)) / (2 * h * 1e-3)
    return J


def curl_div(J):
    curl = np.stack([J[:, 2, 1] - J[:, 1, 2], J[:, 0, 2] - J[:, 2, 0], J[:, 1, 0] - J[:, 0, 1]], axis=1)
    return curl, np.trace(J, axis1=1, axis2=2)


# ---------------------------------------------------------------- kernels vs references
@pytest.mark.random
def test_numba_kernels_match_numpy_references(rng, test_seed):
    seed = test_seed
    x = random_inside(rng, 50, 0.085)
    R, m = random_dipoles(rng, 30, 0.09, 0.12)
    np.testing.assert_allclose(ksph.efield_dipoles(x, R, m), kref.efield_dipoles_reference(x, R, m, chunk=7),
                               rtol=1e-10, atol=1e-14, err_msg=f"seed {seed}")
    w = rng.normal(size=x.shape)
    np.testing.assert_allclose(ksph.reciprocal_field(x, w, R), kref.reciprocal_field_reference(x, w, R, chunk=7),
                               rtol=1e-10, atol=1e-14, err_msg=f"seed {seed}")
    a = rng.normal(size=(20, 3)) * 0.02 + [0, 0, 0.11]
    b = rng.normal(size=(20, 3)) * 0.02 + [0, 0, 0.11]
    c = rng.normal(size=20)
    nodes, wts = np.polynomial.legendre.leggauss(12)
    nodes, wts = 0.5 * (nodes + 1), 0.5 * wts
    np.testing.assert_allclose(ksph.efield_segments(x, a, b, c, nodes, wts),
                               kref.efield_segments_reference(x, a, b, c, nodes, wts), rtol=1e-10, atol=1e-14,
                               err_msg=f"seed {seed}")
    # closed-form segment B against Gauss quadrature of Biot–Savart
    p = random_inside(rng, 30, 85.0)
    np.testing.assert_allclose(kref.segment_bfield_reference(p * 1e-3, a, b, c), wire_b(p, a * 1e3, b * 1e3, c),
                               rtol=1e-7, atol=1e-14, err_msg=f"seed {seed}")


# ---------------------------------------------------------------- dipoles: independent routes
@pytest.mark.random
def test_dipole_closed_form_equals_poincare_quadrature_of_dipole_b(rng, test_seed):
    """Heller & van Hulsteyn closed form == x × ∫ λ dB/dt(λx) dλ with the plain dipole B."""
    seed = test_seed
    sph = SphereModel(85.0, center_mm=rng.normal(size=3) * 10)
    c = np.asarray(sph.center_mm)
    pos, mom = random_dipoles(rng, 5, 95.0, 130.0, c)
    pts = random_inside(rng, 40, 85.0, c)
    e = sph.efield_dipoles(pos, mom, pts, didt=2.0)
    lam, w = np.polynomial.legendre.leggauss(200)
    lam, w = 0.5 * (lam + 1), 0.5 * w
    rel = pts - c
    acc = np.zeros_like(pts)
    for li, wi in zip(lam, w):
        acc += wi * li * dipole_b(c + li * rel, pos, mom)
    e_ref = 2.0e6 * np.cross(rel * 1e-3, acc)
    err = np.linalg.norm(e - e_ref) / np.linalg.norm(e_ref)
    assert err < 1e-9, f"seed {seed}: rel err {err:.2e}"


@pytest.mark.random
@pytest.mark.parametrize("kind", ["dipoles", "wires"])
def test_curl_div_and_tangential_boundary(kind, rng, test_seed):
    """curl E = -dB/dt (plain B), div E = 0 inside, E·r̂ = 0 everywhere: these fix E uniquely."""
    seed = test_seed
    c = rng.normal(size=3) * 5
    sph = SphereModel(85.0, center_mm=c)
    didt = rng.uniform(0.5, 3.0)
    if kind == "dipoles":
        pos, mom = random_dipoles(rng, 4, 97.0, 120.0, c)
        coil = Coil.from_dipoles(pos, mom)
        pose = None
        b_of = lambda p: dipole_b(p, pos, mom)  # noqa: E731
    else:
        coil = fig8_wire_coil()
        pose = random_pose(rng, 97.0, c)
        a = pose.transform_points(coil.segment_start_mm)
        b = pose.transform_points(coil.segment_end_mm)
        b_of = lambda p: wire_b(p, a, b, coil.segment_current)  # noqa: E731
    pts = random_inside(rng, 25, 80.0, c, rmin=0.2)
    f = lambda p: sph.efield(coil, p, pose=pose, didt=didt)  # noqa: E731
    e = f(pts)
    J = numerical_jacobian(f, pts)
    curl, div = curl_div(J)
    bdot = didt * 1e6 * b_of(pts)
    scale = np.abs(J).max()
    err_curl = np.abs(curl + bdot).max() / np.abs(bdot).max()
    assert err_curl < 1e-5, f"seed {seed}: curl E vs -dB/dt rel err {err_curl:.2e}"
    assert np.abs(div).max() < 1e-6 * scale, f"seed {seed}: div E = {np.abs(div).max():.2e}, |J| {scale:.2e}"
    r_hat = (pts - c) / np.linalg.norm(pts - c, axis=1, keepdims=True)
    assert np.abs(np.sum(e * r_hat, axis=1)).max() < 1e-9 * np.abs(e).max(), f"seed {seed}"
    # on the boundary too
    surf = c + 85.0 * r_hat
    es = f(surf)
    assert np.abs(np.sum(es * r_hat, axis=1)).max() < 1e-9 * np.abs(es).max(), f"seed {seed}"


@pytest.mark.random
def test_uniform_field_limit(rng, test_seed):
    """Far dipole, small sphere: dB/dt is uniform, E = -½ dB/dt × r (Faraday)."""
    seed = test_seed
    pos, mom = random_dipoles(rng, 1, 5000.0, 5001.0)
    sph = SphereModel(1.0)
    pts = random_inside(rng, 10, 1.0)
    b0 = dipole_b(np.zeros((1, 3)), pos, mom)[0]
    e_ref = -0.5 * 1e6 * np.cross(b0, pts * 1e-3)
    e = sph.efield_dipoles(pos, mom, pts)
    err = np.linalg.norm(e - e_ref) / np.linalg.norm(e_ref)
    assert err < 2e-3, f"seed {seed}: rel err {err:.2e}"   # gradient over 1 mm at 5 m: ~1e-3/5


# ---------------------------------------------------------------- wires
@pytest.mark.random
def test_wire_loop_equals_its_dipole_sheet(rng, test_seed):
    """A planar square loop == a uniform sheet of dipoles (I·dA n̂) over its area (Gauss product rule)."""
    seed = test_seed
    L = 30.0
    sq = np.array([[-L, -L, 0], [L, -L, 0], [L, L, 0], [-L, L, 0], [-L, -L, 0]]) / 2
    loop = Coil.from_wires([sq], name="square")
    g, gw = np.polynomial.legendre.leggauss(48)
    gx, gy = np.meshgrid(g * L / 2, g * L / 2, indexing="ij")
    area_w = np.outer(gw, gw).ravel() * (L / 2) ** 2 * 1e-6        # m²
    sheet_pos = np.column_stack([gx.ravel(), gy.ravel(), 0 * gx.ravel()])
    sheet_mom = np.zeros_like(sheet_pos)
    sheet_mom[:, 2] = area_w                                       # CCW seen from +z → +z moment
    sheet = Coil.from_dipoles(sheet_pos, sheet_mom)
    sph = SphereModel(85.0)
    pose = random_pose(rng, 100.0)
    pts = random_inside(rng, 30, 85.0)
    e_w = sph.efield(loop, pts, pose=pose)
    e_d = sph.efield(sheet, pts, pose=pose)
    err = np.linalg.norm(e_w - e_d) / np.linalg.norm(e_d)
    assert err < 1e-6, f"seed {seed}: rel err {err:.2e}"


@pytest.mark.random
def test_wire_quadrature_converged(rng, test_seed):
    """Adaptive λ-order vs a much finer rule, points up to the surface, wires 1 mm outside."""
    seed = test_seed
    coil = fig8_wire_coil()
    sph = SphereModel(85.0)
    pose = random_pose(rng, 88.0)                     # wire plane 2 mm behind the casing → 90 mm
    pts = random_inside(rng, 40, 85.0, rmin=0.9)
    e = sph.efield(coil, pts, pose=pose)
    a = pose.transform_points(coil.segment_start_mm) * 1e-3
    b = pose.transform_points(coil.segment_end_mm) * 1e-3
    nodes, w = np.polynomial.legendre.leggauss(600)
    e_ref = 1e6 * ksph.efield_segments(pts * 1e-3, a, b, coil.segment_current, 0.5 * (nodes + 1), 0.5 * w)
    err = np.abs(e - e_ref).max() / np.abs(e_ref).max()
    assert err < 1e-8, f"seed {seed}: rel err {err:.2e}"


# ---------------------------------------------------------------- reciprocal field, invariances
@pytest.mark.random
def test_reciprocal_field_reproduces_functional(rng, test_seed):
    seed = test_seed
    sph = SphereModel(85.0, center_mm=rng.normal(size=3) * 20)
    c = np.asarray(sph.center_mm)
    pts = random_inside(rng, 60, 85.0, c)
    w = rng.normal(size=pts.shape)
    pos, mom = random_dipoles(rng, 25, 90.0, 140.0, c)
    F_direct = np.sum(w * sph.efield(Coil.from_dipoles(pos, mom), pts))
    h = sph.reciprocal_field(pts, w, pos)
    assert h.shape == pos.shape
    F_recip = np.sum(mom * h)
    assert abs(F_recip - F_direct) <= 1e-10 * np.sum(np.abs(w * sph.efield(Coil.from_dipoles(pos, mom), pts))), \
        f"seed {seed}: {F_recip} vs {F_direct}"


@pytest.mark.random
def test_translation_and_pose_invariance(rng, test_seed):
    seed = test_seed
    shift = rng.normal(size=3) * 30
    coil = fig8_wire_coil()
    pose = random_pose(rng, 96.0)
    pts = random_inside(rng, 20, 85.0)
    e0 = SphereModel(85.0).efield(coil, pts, pose=pose)
    m = pose.matrix.copy()
    m[:3, 3] += shift
    e1 = SphereModel(85.0, center_mm=shift).efield(coil, pts + shift, pose=m)
    np.testing.assert_allclose(e1, e0, rtol=1e-9, atol=1e-9 * np.abs(e0).max(), err_msg=f"seed {seed}")
    # rotating the whole set-up about the centre rotates the field
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    m2 = np.eye(4)
    m2[:3, :3] = q @ pose.rotation
    m2[:3, 3] = q @ pose.center_mm
    e2 = SphereModel(85.0).efield(coil, pts @ q.T, pose=m2)
    np.testing.assert_allclose(e2, e0 @ q.T, rtol=1e-9, atol=1e-9 * np.abs(e0).max(), err_msg=f"seed {seed}")
    # linear in didt
    np.testing.assert_allclose(SphereModel(85.0).efield(coil, pts, pose=pose, didt=3.0), 3 * e0, rtol=1e-12)


# ---------------------------------------------------------------- bad input
def test_bad_input():
    sph = SphereModel(85.0)
    coil = Coil.from_dipoles([[0, 0, 0.0]], [[0, 0, 1.0]])
    pose = CoilPose.from_axes([0, 0, 100], [0, 0, -1], [0, 1, 0])
    with pytest.raises(InputError, match="outside the sphere"):
        sph.efield(coil, [[0, 0, 86.0]], pose=pose)
    with pytest.raises(InputError):
        sph.efield(coil, [[0, 0, np.nan]], pose=pose)
    with pytest.raises(InputError):
        sph.efield(coil, np.zeros((3, 2)), pose=pose)
    with pytest.raises(InputError):
        sph.efield("fig8", [[0, 0, 10.0]], pose=pose)
    with pytest.raises(InputError):
        sph.efield(coil, [[0, 0, 10.0]], pose=pose, didt=-1)
    with pytest.raises(PoseError, match="inside the sphere"):
        sph.efield(coil, [[0, 0, 10.0]], pose=CoilPose.from_axes([0, 0, 50], [0, 0, -1], [0, 1, 0]))
    with pytest.raises(PoseError, match="wire inside the sphere"):
        sph.efield(circle_coil(), [[0, 0, 10.0]], pose=CoilPose.from_axes([0, 0, 80], [0, 0, -1], [0, 1, 0]))
    with pytest.raises(PoseError):
        sph.efield(coil, [[0, 0, 10.0]], pose=np.ones((4, 4)))
    with pytest.raises(InputError):
        SphereModel(-1.0)
    with pytest.raises(InputError):
        SphereModel(85.0, center_mm=(0, 0))
    with pytest.raises(InputError):
        sph.reciprocal_field([[0, 0, 10.0]], [[1, 0, 0], [0, 1, 0]], [[0, 0, 100.0]])
    with pytest.raises(PoseError):
        sph.reciprocal_field([[0, 0, 10.0]], [[1, 0, 0]], [[0, 0, 50.0]])


@pytest.mark.random
def test_builtin_fig8_exact_route_matches_its_dipole_equivalent(rng, test_seed):
    """Two independent routes for a real wire coil: exact wire route vs the coils package's dipole equivalent."""
    from tmsfield.coils import load_coil
    seed = test_seed
    coil = load_coil("fig8_70mm")
    dip = coil.to_dipoles()
    sph = SphereModel(85.0)
    pose = random_pose(rng, 95.0)                              # casing 10 mm above the sphere
    v = rng.normal(size=(150, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    pts = np.vstack([70.0 * v, np.outer(np.linspace(0, 75, 16), pose.center_mm / 95.0)])
    e_exact = sph.efield(coil, pts, pose=pose)
    e_dip = sph.efield(dip, pts, pose=pose)
    err = np.linalg.norm(e_exact - e_dip) / np.linalg.norm(e_exact)
    assert err < 2e-3, f"seed {seed}: rel L2 {err:.2e}"
    small = circle_coil(20.0, 32)
    np.testing.assert_allclose(sph.efield(small, pts[:5], pose=pose, wire_route="dipoles"),
                               sph.efield(small.to_dipoles(), pts[:5], pose=pose), rtol=1e-12)
    with pytest.raises(InputError, match="wire_route"):
        sph.efield(small, pts[:5], pose=pose, wire_route="magic")
