"""Closed-form conductivity-dependent reference: a current dipole in a concentric layered sphere.

Why a current dipole
--------------------
The TMS sphere (Heller & van Hulsteyn 1992) is blind to the conductivities, and so is any applied
*gradient* field in an insulated conductor: for E_p = −∇ψ the potential φ = −ψ makes E = J = 0 inside,
whatever the shape or the conductivities (a uniform E0 gives exactly E = 0). A field that depends on
them needs a source of current inside the conductor. The classic one is the current dipole of the EEG
forward problem, whose potential in concentric shells is a series of solid harmonics (Frank 1952,
J Appl Phys 23: 1225; Arthur & Geselowitz 1970, IEEE TBME 17: 141; de Munck 1988, J Appl Phys 64: 464;
de Munck & Peters 1993, IEEE TBME 40: 1166; Zhang 1995, Phys Med Biol 40: 335).

Problem
-------
Shells of radii R_0 > R_1 > ... > R_{K−1} (mm) about ``center_mm``, compartment k between R_k and
R_{k+1} with conductivity σ_k (compartment K−1 the inner ball), air outside R_0. A current dipole p
(A·m) at r0 in compartment ``source_compartment`` drives ∇·(σ∇φ) = ∇·(p δ(r − r0)), with φ and σ∂φ/∂r
continuous across every interface and ∂φ/∂r = 0 on R_0. In the source compartment
φ = φ_∞ + φ_reg, φ_∞ = p·(r − r0)/(4π σ_s |r − r0|³) the infinite-medium potential; elsewhere, and for
φ_reg, φ = Σ_n [a_n (r/R_out)^n + b_n (R_in/r)^{n+1}] Y_n, with Y_n = P_n(cos θ) for the radial part of
p and P_n¹(cos θ) cos ϕ for its tangential part (frame with r0 on +z and the tangential part on +x).
φ_∞ is expanded by the addition theorem, 1/|r − r0| = Σ r_<^n / r_>^{n+1} P_n(cos γ), differentiated
with respect to r0. The 2K unknowns per degree n (each coefficient scaled to its value on its
region's bounding radius, so every term is ≤ 1 and no r^n overflows) come from a (2K)×(2K) linear
solve; the series is summed until its terms fall below 1e-14 of the first.

The BEM's charge equation (Barnard, Duck & Lynn 1967) holds for any primary field that is continuous
across the interfaces: with E_p = −∇φ_∞ (the dipole's field in an unbounded medium of conductivity
σ_s, V/m) the secondary charges make E_p + E_s the total field −∇φ. So the BEM is driven by
``solver.solve_charges(E_p(centroids)·n)`` and evaluated with ``solver.secondary_efield``.

E = −∇φ: exact for φ_∞; by 4th-order central differences of the series part (step the smaller of
1e-3 R_0 and 3e-3 of the distance to the dipole, the scale on which its images vary), whose error is
below 1e-8 of the field.
"""

from dataclasses import dataclass

import numpy as np

_EPS_TERM = 1e-14


def dipole_field_infinite(points_mm, r0_mm, p_am, sigma):
    """E (V/m) of a current dipole p (A·m) at r0 (mm) in an unbounded medium σ (S/m); (n, 3)."""
    d = (np.asarray(points_mm, float) - np.asarray(r0_mm, float)) * 1e-3
    r = np.linalg.norm(d, axis=1, keepdims=True)
    p = np.asarray(p_am, float)
    return (3.0 * (d @ p)[:, None] * d / r ** 2 - p) / (4.0 * np.pi * sigma * r ** 3)


def dipole_potential_infinite(points_mm, r0_mm, p_am, sigma):
    """φ (V) of a current dipole p (A·m) at r0 (mm) in an unbounded medium σ (S/m); (n,)."""
    d = (np.asarray(points_mm, float) - np.asarray(r0_mm, float)) * 1e-3
    r = np.linalg.norm(d, axis=1)
    return (d @ np.asarray(p_am, float)) / (4.0 * np.pi * sigma * r ** 3)


def _legendre(nmax, x):
    """P_n(x) and P_n¹(x) (no Condon–Shortley phase, P_n¹ = sin θ P_n'(cos θ)) for n = 0..nmax; (nmax+1, m)."""
    s = np.sqrt(np.clip(1.0 - x * x, 0.0, None))
    p0 = np.empty((nmax + 1, x.size))
    p1 = np.empty((nmax + 1, x.size))
    p0[0], p1[0] = 1.0, 0.0
    if nmax >= 1:
        p0[1], p1[1] = x, s
    for n in range(1, nmax):
        p0[n + 1] = ((2 * n + 1) * x * p0[n] - n * p0[n - 1]) / (n + 1)
        p1[n + 1] = ((2 * n + 1) * x * p1[n] - (n + 1) * p1[n - 1]) / n
    return p0, p1


@dataclass(frozen=True)
class LayeredSphereDipole:
    """A current dipole in concentric spherical shells (see the module docstring).

    Parameters
    ----------
    radii_mm : sequence of float, decreasing, outermost first (R_0 > ... > R_{K−1}), mm
    conductivities : sequence of float, S/m; compartment k lies between R_k and R_{k+1}
    r0_mm : (3,), mm; dipole position, inside compartment ``source_compartment`` and not on an interface
    p_am : (3,), A·m; current dipole moment
    center_mm : (3,), mm

    Examples
    --------
    >>> ref = LayeredSphereDipole([90.0, 80.0, 70.0], [0.33, 0.01, 0.33], [0, 0, 30.0], [0, 0, 1e-8])
    >>> ref.efield([[0, 0, -30.0]]).shape
    (1, 3)
    """

    radii_mm: tuple
    conductivities: tuple
    r0_mm: tuple
    p_am: tuple
    center_mm: tuple = (0.0, 0.0, 0.0)

    def __post_init__(self):
        R = np.asarray(self.radii_mm, float).reshape(-1)
        s = np.asarray(self.conductivities, float).reshape(-1)
        if R.size != s.size or R.size == 0:
            raise ValueError("one conductivity per shell radius")
        if np.any(np.diff(R) >= 0) or R[-1] <= 0:
            raise ValueError("radii must be positive and strictly decreasing, outermost first")
        if np.any(s <= 0):
            raise ValueError("conductivities must be positive")
        object.__setattr__(self, "radii_mm", tuple(R))
        object.__setattr__(self, "conductivities", tuple(s))
        c = np.asarray(self.center_mm, float)
        r0 = np.asarray(self.r0_mm, float) - c
        rs = float(np.linalg.norm(r0))
        k = self.compartment_of(np.asarray(self.r0_mm, float)[None])[0]
        if k < 0 or np.any(np.isclose(rs, R, rtol=1e-9, atol=0)):
            raise ValueError("the dipole must lie strictly inside the sphere and off the interfaces")
        object.__setattr__(self, "source_compartment", int(k))
        object.__setattr__(self, "_coeffs", self._solve())

    # ------------------------------------------------------------------ geometry
    def compartment_of(self, points_mm):
        """Compartment index of each point (0 outermost, K−1 the ball; −1 outside); (n,)."""
        r = np.linalg.norm(np.asarray(points_mm, float) - np.asarray(self.center_mm, float), axis=1)
        R = np.asarray(self.radii_mm)
        return np.where(r < R[0], np.searchsorted(-R, -r, side="left") - 1, -1)

    def _frame(self):
        """Rotation (rows x', y', z') with r0 on +z' and the tangential part of p on +x'; p_rad, p_tan."""
        r0 = np.asarray(self.r0_mm, float) - np.asarray(self.center_mm, float)
        p = np.asarray(self.p_am, float)
        rs = np.linalg.norm(r0)
        ez = r0 / rs
        p_rad = float(p @ ez)
        pt = p - p_rad * ez
        p_tan = float(np.linalg.norm(pt))
        if p_tan > 1e-14 * max(np.linalg.norm(p), 1e-300):
            ex = pt / p_tan
        else:
            a = np.eye(3)[int(np.argmin(np.abs(ez)))]
            ex = a - (a @ ez) * ez
            ex /= np.linalg.norm(ex)
        ey = np.cross(ez, ex)
        return np.vstack([ex, ey, ez]), rs * 1e-3, p_rad, p_tan

    # ------------------------------------------------------------------ coefficients
    def _solve(self):
        R = np.asarray(self.radii_mm) * 1e-3             # m
        sig = np.asarray(self.conductivities)
        K = R.size
        ks = self.source_compartment
        _, rs, _, _ = self._frame()
        # worst convergence ratio of the series: rs / (nearest radius outside it), and inside (radius inside it)/rs
        ratios = [rs / R[ks]]
        if ks + 1 < K:
            ratios.append(R[ks + 1] / rs)
        q = max(ratios)
        nmax = int(min(4000, max(10, np.ceil(np.log(_EPS_TERM) / np.log(q)) + 5)))
        # unknowns per compartment k: a_k (r/R_k)^n, b_k (R_{k+1}/r)^{n+1}; the ball has no b
        coeffs = {}
        for kind in ("rad", "tan"):
            A = np.zeros((nmax + 1, K))
            B = np.zeros((nmax + 1, K))
            for n in range(1, nmax + 1):
                A[n], B[n] = self._degree(n, kind, R, sig, K, ks, rs)
            if kind == "rad":
                # degree 0: φ_∞'s constant −1/(4πσ_s rs²) inside rs carries on into the compartments inside
                A[0, ks + 1:] = -1.0 / (4.0 * np.pi * sig[ks] * rs ** 2)
            coeffs[kind] = (A, B)
        return nmax, coeffs

    def _degree(self, n, kind, R, sig, K, ks, rs):
        """Coefficients (a_k, b_k) of the homogeneous part in each compartment (scaled bases)."""
        # region bounds: compartment k has outer radius R[k] and inner radius R[k+1] (0 for the ball)
        Rin = np.append(R[1:], 0.0)
        nunk = 2 * K - 1                                 # a_0..a_{K-1}, b_0..b_{K-2}
        M = np.zeros((nunk, nunk))
        rhs = np.zeros(nunk)
        ia = lambda k: k                                 # noqa: E731
        ib = lambda k: K + k                             # noqa: E731
        c = 1.0 / (4.0 * np.pi * sig[ks])
        # φ_∞ = (1/4πσ_s) p·∇_{r0} 1/|r − r0| per unit radial (∂/∂rs) or tangential ((1/rs) ∂/∂γ) moment:
        #   r > rs: w_out rs^{n−1} r^{−(n+1)} Y_n,  r < rs: w_in r^n rs^{−(n+2)} Y_n, written in ratios ≤ 1
        w_out, w_in = (n, -(n + 1)) if kind == "rad" else (1, 1)

        def basis(k, r):
            """value and r·d/dr of the two scaled basis functions of compartment k at radius r."""
            va = (r / R[k]) ** n
            da = n * va
            if k < K - 1:
                vb = (Rin[k] / r) ** (n + 1)
                db = -(n + 1) * vb
            else:
                vb = db = 0.0
            return va, da, vb, db

        def source(k, r):
            """value and r·d/dr of φ_∞'s degree-n term at radius r (only in the source compartment)."""
            if k != ks:
                return 0.0, 0.0
            if r > rs:
                v = c * w_out * (rs / r) ** n / (rs * r)
                return v, -(n + 1) * v
            v = c * w_in * (r / rs) ** n / rs ** 2
            return v, n * v

        row = 0
        # outer surface: σ_0 ∂φ/∂r = 0
        va, da, vb, db = basis(0, R[0])
        M[row, ia(0)] = da
        if K > 1:
            M[row, ib(0)] = db
        rhs[row] = -source(0, R[0])[1]
        row += 1
        for k in range(K - 1):                           # interface R[k+1] between k (outside) and k+1
            r = R[k + 1]
            vo = basis(k, r)
            vi = basis(k + 1, r)
            so = source(k, r)
            si = source(k + 1, r)
            # potential continuity: φ_k − φ_{k+1} = 0
            M[row, ia(k)] += vo[0]
            M[row, ib(k)] += vo[2]
            M[row, ia(k + 1)] -= vi[0]
            if k + 1 < K - 1:
                M[row, ib(k + 1)] -= vi[2]
            rhs[row] = -(so[0] - si[0])
            row += 1
            # current continuity: σ_k r∂φ_k/∂r − σ_{k+1} r∂φ_{k+1}/∂r = 0
            M[row, ia(k)] += sig[k] * vo[1]
            M[row, ib(k)] += sig[k] * vo[3]
            M[row, ia(k + 1)] -= sig[k + 1] * vi[1]
            if k + 1 < K - 1:
                M[row, ib(k + 1)] -= sig[k + 1] * vi[3]
            rhs[row] = -(sig[k] * so[1] - sig[k + 1] * si[1])
            row += 1
        x = np.linalg.solve(M, rhs)
        return x[:K], np.append(x[K:], 0.0)

    # ------------------------------------------------------------------ evaluation
    def _series(self, points_mm, region):
        """Homogeneous-part potential (V) at points, using compartment ``region[i]``'s series; (n,)."""
        rot, rs, p_rad, p_tan = self._frame()
        x = (np.asarray(points_mm, float) - np.asarray(self.center_mm, float)) @ rot.T * 1e-3
        r = np.linalg.norm(x, axis=1)
        ct = np.divide(x[:, 2], r, out=np.ones_like(r), where=r > 0)
        rho = np.hypot(x[:, 0], x[:, 1])
        cphi = np.divide(x[:, 0], rho, out=np.ones_like(r), where=rho > 0)
        nmax, coeffs = self._coeffs
        P0, P1 = _legendre(nmax, np.clip(ct, -1.0, 1.0))
        R = np.asarray(self.radii_mm) * 1e-3
        K = R.size
        Rin = np.append(R[1:], 0.0)
        n = np.arange(nmax + 1)[:, None]
        out = np.zeros(r.size)
        for k in np.unique(region):
            m = region == k
            rr = r[m][None, :]
            fa = (rr / R[k]) ** n
            fb = (Rin[k] / rr) ** (n + 1) if k < K - 1 else np.zeros_like(fa)
            for kind, pk, Y in (("rad", p_rad, P0[:, m]), ("tan", p_tan, P1[:, m] * cphi[m][None, :])):
                if pk == 0.0:
                    continue
                A, B = coeffs[kind]
                out[m] += pk * np.sum((A[:, k:k + 1] * fa + B[:, k:k + 1] * fb) * Y, axis=0)
        return out

    def potential(self, points_mm, region=None):
        """φ (V) at points inside the sphere (not at the dipole); ``region`` forces a compartment's series; (n,)."""
        p = np.asarray(points_mm, float)
        reg = self.compartment_of(p) if region is None else np.broadcast_to(np.asarray(region), (p.shape[0],))
        if np.any(reg < 0):
            raise ValueError("points outside the sphere")
        out = self._series(p, reg)
        m = reg == self.source_compartment
        if m.any():
            out[m] += dipole_potential_infinite(p[m], self.r0_mm, self.p_am, self.conductivities[self.source_compartment])
        return out

    def efield(self, points_mm, region=None, step_mm=None):
        """E = −∇φ (V/m) at points inside the sphere (not at the dipole); (n, 3)."""
        p = np.asarray(points_mm, float)
        reg = self.compartment_of(p) if region is None else np.broadcast_to(np.asarray(region), (p.shape[0],))
        if np.any(reg < 0):
            raise ValueError("points outside the sphere")
        if step_mm is None:      # the series varies on the scale of the distance to the dipole (its images)
            dist = np.linalg.norm(p - np.asarray(self.r0_mm, float), axis=1)
            h = np.minimum(1e-3 * self.radii_mm[0], 3e-3 * dist)
        else:
            h = np.full(p.shape[0], float(step_mm))
        e = np.zeros_like(p)
        for d in range(3):
            dx = np.zeros_like(p)
            dx[:, d] = h
            f = lambda s: self._series(p + s * dx, reg)   # noqa: E731
            e[:, d] = -(8.0 * (f(1) - f(-1)) - (f(2) - f(-2))) / (12.0 * h * 1e-3)
        m = reg == self.source_compartment
        if m.any():
            e[m] += dipole_field_infinite(p[m], self.r0_mm, self.p_am, self.conductivities[self.source_compartment])
        return e

    def primary_field(self, points_mm):
        """The BEM's primary field: the dipole's E (V/m) in an unbounded medium of the source conductivity; (n, 3)."""
        return dipole_field_infinite(points_mm, self.r0_mm, self.p_am, self.conductivities[self.source_compartment])


def bem_efield(solver, primary, points_mm):
    """Total E (V/m) by the BEM for an arbitrary primary field, through the solver's public API only.

    ``primary`` maps points (n, 3) mm to E_p (n, 3) V/m and must be continuous across the surfaces
    (e.g. :meth:`LayeredSphereDipole.primary_field`): E = E_p + E_s(q) with q from
    ``solver.solve_charges(E_p(centroids)·n)``.
    """
    b = np.einsum("ij,ij->i", primary(solver.centroids), solver.normals)
    q = solver.solve_charges(b)
    pts = np.asarray(points_mm, float)
    return primary(pts) + solver.secondary_efield(q, pts)
