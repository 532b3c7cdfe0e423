"""An independent finite-element reference for the quasi-static TMS E-field (test-only helper).

The BEM of :mod:`tmsfield.solver` is validated against this solver where the analytic sphere cannot
help: the TMS sphere's field does not depend on the conductivities, and this one does.

Problem
-------
Inside a piecewise-homogeneous conductor Ω (conductivity σ per compartment, air outside), the coil's
primary field E_p = −∂A/∂t drives a current J = σ(E_p − ∇φ) with ∇·J = 0 in Ω and J·n = 0 on ∂Ω.
The weak form, for every test function v in H¹(Ω),

    ∫_Ω σ ∇φ·∇v dV = ∫_Ω σ E_p·∇v dV,

has the boundary and interface conditions as natural ones (no current through the outer surface,
continuous normal current across interfaces); φ is fixed up to a constant (one node pinned to 0),
and the total field is E = E_p − ∇φ. The unknowns are continuous piecewise-quadratic (P2) on a
conforming tetrahedral mesh (scikit-fem's assembly, pyamg's smoothed aggregation as the CG
preconditioner); ∇φ is evaluated exactly in the element containing each point.

Boundary conditions: J·n = 0 on the outer surface (air) and continuity of φ and of σ∂φ/∂n across
interfaces are both natural in this weak form, so none is imposed; the only essential condition is
the pinned node (the gauge). Element: Lagrange P2 tetrahedra (scikit-fem ``ElementTetP2``), integration
order 3, E_p sampled at the quadrature points; the load term ∫σ E_p·∇v is exact for the sampled field.

This is the standard formulation of the TMS FEM (Miranda, Hallett & Basser 2003, IEEE TBME 50: 1074;
Windhoff, Opitz & Thielscher 2013, Hum Brain Mapp 34: 923; Saturnino et al. 2019, NeuroImage 188:
821, who also use second-order elements for accuracy), written here independently of the BEM: no code,
mesh or quadrature is shared with :mod:`tmsfield.solver` except the primary field E_p, which both take
from :func:`tmsfield.kernels.primary_efield` (the coil's Biot–Savart field is tested on its own).

Why in tests/: it is a reference for the BEM, not a product (the toolkit promises no FEM meshing); it
needs scikit-fem and pyamg (test extra only) and handles only star-shaped nested compartments.

Mesh
----
:func:`layered_mesh` builds the mesh itself (no external mesher): the compartments are nested and
star-shaped about the origin, each interface a radius function r_k(u) of the direction u sampled on
one icosphere triangulation of the unit sphere. Between consecutive radial levels every icosphere
triangle sweeps a prism, split into three tetrahedra by the vertex-index rule (for a triangle
a < b < c: (a₀ b₀ c₀ a₁), (b₀ c₀ a₁ b₁), (c₀ a₁ b₁ c₁)), which cuts each quadrilateral side face
along the diagonal from its larger-index bottom vertex to its smaller-index top vertex, so that the
two prisms sharing the face cut it the same way and the mesh is conforming. The innermost compartment
is swept down to a small core whose triangles are joined to the centre. Every interface is a level of
the mesh: its triangulation (the icosphere triangles on that level's vertices) is the BEM surface of
exactly the same polyhedral geometry.
"""

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from tmsfield.head import Surface
from tmsfield.head.sphere_mesh import icosphere


@dataclass(frozen=True)
class LayeredMesh:
    """A conforming tetrahedral mesh of nested star-shaped compartments.

    Attributes
    ----------
    nodes : ndarray (N, 3), mm
    tets : ndarray (M, 4), int; positively oriented
    region : ndarray (M,), int; compartment of each tetrahedron, 0 outermost
    interface_levels : tuple of int; radial level of interface k (outermost first)
    level_nodes : ndarray (L, V), int; node index of icosphere vertex v on radial level l
    sphere_triangles : ndarray (T, 3), int; the icosphere triangulation (outward)
    names : tuple of str; interface names
    """

    nodes: np.ndarray
    tets: np.ndarray
    region: np.ndarray
    interface_levels: tuple
    level_nodes: np.ndarray
    sphere_triangles: np.ndarray
    names: tuple = field(default=())

    @property
    def n_compartments(self):
        return len(self.interface_levels)

    def surfaces(self, subdivide=0):
        """The interfaces as tmsfield Surfaces (outermost first), on the mesh's own vertices.

        ``subdivide`` > 0 splits each triangle 1→4 that many times in its own plane (edge midpoints
        not projected), a finer BEM mesh of exactly the same polyhedral geometry.
        """
        out = []
        for k, lev in enumerate(self.interface_levels):
            v = self.nodes[self.level_nodes[lev]]
            t = self.sphere_triangles
            for _ in range(subdivide):
                v, t = _flat_subdivide(v, t)
            out.append(Surface(v, t, name=self.names[k] if self.names else f"s{k}"))
        return out

    @cached_property
    def volumes(self):
        p = self.nodes[self.tets]
        return np.einsum("ij,ij->i", np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), p[:, 3] - p[:, 0]) / 6.0

    def check(self):
        """Positive volumes and conforming faces; returns the number of boundary faces.

        Raises AssertionError when a tetrahedron is inverted or degenerate, when a face is shared by
        more than two tetrahedra, or when the boundary faces are not exactly the outer interface's
        triangles.
        """
        vol = self.volumes
        assert vol.min() > 0, f"inverted or flat tetrahedron: min volume {vol.min():.3e} mm³"
        f = np.concatenate([self.tets[:, [0, 1, 2]], self.tets[:, [0, 1, 3]],
                            self.tets[:, [0, 2, 3]], self.tets[:, [1, 2, 3]]])
        f = np.sort(f, axis=1)
        uniq, counts = np.unique(f, axis=0, return_counts=True)
        assert counts.max() <= 2, "a face is shared by more than two tetrahedra"
        boundary = np.sort(uniq[counts == 1], axis=1)
        outer = np.sort(self.level_nodes[self.interface_levels[0]][self.sphere_triangles], axis=1)
        b = {tuple(r) for r in boundary.tolist()}
        o = {tuple(r) for r in outer.tolist()}
        assert b == o, (f"{len(b)} boundary faces, {len(o)} outer triangles, {len(b ^ o)} differ: "
                        f"the mesh has holes or internal cracks")
        return len(b)

    def compartment_volumes(self):
        """Volume (mm³) inside each interface, outermost first (sum of the tets of compartments ≥ k)."""
        vol = self.volumes
        return np.array([vol[self.region >= k].sum() for k in range(self.n_compartments)])


def _flat_subdivide(v, t):
    e = np.sort(np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]]), axis=1)
    uniq, inv = np.unique(e, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    nv, nt = v.shape[0], t.shape[0]
    m01, m12, m20 = nv + inv[:nt], nv + inv[nt:2 * nt], nv + inv[2 * nt:]
    a, b, c = t.T
    nt_ = np.concatenate([np.column_stack([a, m01, m20]), np.column_stack([m01, b, m12]),
                          np.column_stack([m20, m12, c]), np.column_stack([m01, m12, m20])])
    return np.vstack([v, 0.5 * (v[uniq[:, 0]] + v[uniq[:, 1]])]), nt_


def ellipsoid_radius(semi_axes_mm):
    """r(u) of an origin-centred ellipsoid with semi-axes (a, b, c) mm, for unit directions u (n, 3)."""
    a = np.asarray(semi_axes_mm, float)
    return lambda u: 1.0 / np.sqrt(((u / a) ** 2).sum(axis=1))


def sphere_radius(r_mm):
    return lambda u: np.full(u.shape[0], float(r_mm))


def layered_mesh(radius_functions, subdivisions, layers, inner_step=None, core_fraction=0.2, names=()):
    """Conforming tetrahedral mesh of nested star-shaped compartments (see the module docstring).

    Parameters
    ----------
    radius_functions : sequence of callables u (n, 3) -> r (n,) mm
        Interface k at radius r_k(u) along direction u, outermost first, r_0 > r_1 > ... everywhere.
    subdivisions : int
        Icosphere level of the direction triangulation (20·4^s triangles per level).
    layers : sequence of int
        Radial element layers in each compartment between interfaces k and k+1 (len = K − 1).
    inner_step : float, optional
        Relative radial step of the innermost compartment's geometric grading (default: the
        icosphere's edge angle, so that elements are about as deep as wide).
    core_fraction : float
        The innermost sweep stops at core_fraction · r_{K−1}(u); the core is joined to the centre.
    names : sequence of str
        Interface names.
    """
    unit = icosphere(1.0, subdivisions=subdivisions)
    u = unit.vertices / np.linalg.norm(unit.vertices, axis=1, keepdims=True)
    tri = np.asarray(unit.triangles, np.int64)
    radii = [np.asarray(f(u), float) for f in radius_functions]
    K = len(radii)
    if len(layers) != K - 1:
        raise ValueError(f"layers needs {K - 1} entries (one per compartment between interfaces)")
    for k in range(K - 1):
        if not np.all(radii[k] > radii[k + 1]):
            raise ValueError(f"interface {k} is not outside interface {k + 1} in every direction")
    if inner_step is None:
        edge = np.linalg.norm(u[tri[:, 0]] - u[tri[:, 1]], axis=1).mean()
        inner_step = float(edge)
    n_inner = max(1, int(np.ceil(np.log(1.0 / core_fraction) / -np.log1p(-inner_step))))
    # radial levels from the core (level 0) outwards, and the region of the layer above each level
    rho = core_fraction ** (1.0 - np.arange(n_inner + 1) / n_inner)     # core_fraction .. 1
    level_r = [radii[K - 1] * s for s in rho]
    layer_region = [K - 1] * n_inner
    iface_level = {K - 1: n_inner}
    for k in range(K - 2, -1, -1):
        for j in range(1, layers[k] + 1):
            t = j / layers[k]
            level_r.append((1.0 - t) * radii[k + 1] + t * radii[k])
            layer_region.append(k)
        iface_level[k] = len(level_r) - 1
    L, V = len(level_r), u.shape[0]
    nodes = np.vstack([np.zeros((1, 3))] + [u * r[:, None] for r in level_r])
    level_nodes = 1 + np.arange(L * V).reshape(L, V)
    # prisms: triangle vertices sorted by index, three tets per prism
    a, b, c = np.sort(tri, axis=1).T
    tets, region = [], []
    for lev in range(L - 1):
        lo, hi = level_nodes[lev], level_nodes[lev + 1]
        tets += [np.column_stack([lo[a], lo[b], lo[c], hi[a]]),
                 np.column_stack([lo[b], lo[c], hi[a], hi[b]]),
                 np.column_stack([lo[c], hi[a], hi[b], hi[c]])]
        region += [np.full(3 * len(a), layer_region[lev])]
    core = level_nodes[0]
    tets.append(np.column_stack([np.zeros(len(tri), np.int64), core[tri[:, 0]], core[tri[:, 1]], core[tri[:, 2]]]))
    region.append(np.full(len(tri), K - 1))
    tets = np.concatenate(tets)
    region = np.concatenate(region)
    p = nodes[tets]
    vol = np.einsum("ij,ij->i", np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), p[:, 3] - p[:, 0])
    neg = vol < 0
    tets[neg] = tets[neg][:, [1, 0, 2, 3]]
    return LayeredMesh(nodes, tets, region, tuple(iface_level[k] for k in range(K)), level_nodes, tri,
                       tuple(names))


class FEMProblem:
    """P2 finite elements for the quasi-static problem on a :class:`LayeredMesh`, one primary field.

    The mesh, the basis and E_p at the quadrature points are built once; :meth:`solve` then assembles
    and solves for any set of conductivities.

    Parameters
    ----------
    mesh : LayeredMesh
    primary : callable points (n, 3) mm -> E_p (n, 3) V/m
    refine : int
        Uniform 1→8 refinements of the tetrahedra (same polyhedral geometry) before solving.
    """

    def __init__(self, mesh, primary, refine=0, intorder=3):
        from skfem import Basis, ElementTetP2, MeshTet

        K = mesh.n_compartments
        m = MeshTet(np.ascontiguousarray(mesh.nodes.T), np.ascontiguousarray(mesh.tets.T),
                    _subdomains={str(k): np.flatnonzero(mesh.region == k) for k in range(K)})
        for _ in range(refine):
            m = m.refined()  # 1 -> 8 children; subdomains carried over
        region = np.full(m.t.shape[1], -1)
        for k in range(K):
            region[m.subdomains[str(k)]] = k
        assert region.min() >= 0
        self.n_compartments = K
        self.mesh = m
        self.region = region
        self.basis = Basis(m, ElementTetP2(), intorder=intorder)
        x = self.basis.mapping.F(self.basis.X)              # (3, nel, nqp), mm
        nel, nqp = x.shape[1], x.shape[2]
        self._ep = np.asarray(primary(x.reshape(3, -1).T), float).T.reshape(3, nel, nqp)
        self.primary = primary
        self.n_elements = nel
        self.n_dofs = self.basis.N

    def solve(self, conductivities, tol=1e-8):
        """Solve for φ; returns a :class:`FEMSolution`."""
        import pyamg
        from skfem import BilinearForm, LinearForm
        from skfem.helpers import dot, grad

        sig = np.asarray(conductivities, float)
        if sig.shape != (self.n_compartments,):
            raise ValueError("one conductivity per compartment")
        s = np.repeat(sig[self.region][:, None], self._ep.shape[2], axis=1)

        @BilinearForm
        def stiffness(u, v, w):
            return w["s"] * dot(grad(u), grad(v))

        @LinearForm
        def load(v, w):
            return w["s"] * dot(w["ep"], grad(v))

        A = stiffness.assemble(self.basis, s=s).tocsr()
        b = load.assemble(self.basis, s=s, ep=self._ep)
        Ak = A[1:][:, 1:].tocsr()                           # pin dof 0: φ is defined up to a constant
        ml = pyamg.smoothed_aggregation_solver(Ak, symmetry="symmetric")
        res = []
        x = ml.solve(b[1:], tol=tol, accel="cg", maxiter=500, residuals=res)
        rel = np.linalg.norm(b[1:] - Ak @ x) / np.linalg.norm(b[1:])
        if not rel <= 10 * tol:
            raise RuntimeError(f"FEM CG did not converge: relative residual {rel:.2e} after {len(res)} iterations")
        return FEMSolution(self, np.concatenate([[0.0], x]), len(res) - 1)


class FEMSolution:
    """The solved potential φ (P2 coefficients) of a :class:`FEMProblem`."""

    def __init__(self, problem, phi, iterations):
        self.problem = problem
        self.phi = phi
        self.iterations = iterations

    def grad_phi(self, points_mm):
        """∇φ (V/m) at points inside the mesh, exact P2 gradient in the containing element; (n, 3)."""
        basis = self.problem.basis
        p = np.asarray(points_mm, float)
        xt = np.ascontiguousarray(p.T)
        cells = self.problem.mesh.element_finder(mapping=basis.mapping)(*xt)
        ref = basis.mapping.invF(xt[:, :, None], tind=cells)
        g = np.zeros((3, p.shape[0]))
        dofs = basis.element_dofs[:, cells]
        for k in range(basis.Nbfun):
            g += basis.elem.gbasis(basis.mapping, ref, k, tind=cells)[0].grad[:, :, 0] * self.phi[dofs[k]]
        return g.T

    def efield(self, points_mm):
        """Total field E = E_p − ∇φ (V/m) at points (n, 3) mm."""
        p = np.asarray(points_mm, float)
        return np.asarray(self.problem.primary(p), float) - self.grad_phi(p)
