"""A coil's far-field surrogate: a few fitted dipoles that reproduce its A-field away from it.

Why: evaluating a 2,712-dipole coil at the ~36,000 cortex points and boundary centroids of a
head costs most of a fast placement (:mod:`tmsfield.solver.fast_placement`), yet all but a
few hundred of those points are centimetres from the windings, where the field is smooth.

Method (equivalent sources, fitted on an enclosing surface). Let ``B`` be the axis-aligned
box (coil frame) around all the coil's sources (dipoles and wire end points) and ``Γ`` the
surface of ``B`` grown by ``distance_mm`` on every side. A lattice of surrogate dipoles with
free 3-D moments fills ``B`` (spacing ``spacing_mm``); the moments are the least-squares fit
of the coil's own A on a dense sampling of ``Γ``. Outside the sources each Cartesian
component of A is harmonic and vanishes at infinity, and so is each component of the
error e = A_coil − A_surrogate. By the maximum principle for the exterior Dirichlet problem
(e.g. Kellogg 1929, *Foundations of Potential Theory*, ch. X), ``|e_i| ≤ max_Γ |e_i|``
everywhere outside ``Γ``: a fit that is accurate on ``Γ`` is at least as accurate at every
point farther out — at the cortex, the skull, and the scalp away from the coil.

The bound is checked on an independent, finer sampling of ``Γ`` (half-cell offset) and stored
as :attr:`FarFieldSurrogate.max_error`, relative to the largest |A| of the coil on ``Γ``; the
fit refines the lattice until it is below ``tol``. Points inside ``Γ`` must use the coil
itself (:meth:`FarFieldSurrogate.is_far` tells which).

Sources far outside the bulk of the coil (a wire coil's leads running up the handle) would
stretch the box; they are split off and always evaluated exactly. The cut wires are closed
through a hub (segments from each cut node to one point, carrying the current that ended
there), added to the core and subtracted in the rest, because currents that do not close
have A-field terms no set of magnetic dipoles reproduces.

Measured (2026-11-28; bounds asserted in ``tests/test_coils_far_field.py``): at
``distance_mm = 15`` the Magstim 70 mm figure-8 ``.ccd`` (2,712 dipoles) needs 288 lattice
dipoles for a bound of 8.0e-4, 462 for 1.4e-4 and 650 for 2.8e-5; the built-in ``fig8_70mm``
wire model (1,158 segments) 462 dipoles + 5 exact segments for 2.9e-4. On the template
cortex the L2 error of the surrogate's A was ~2e-6 of the field: the bound is conservative
because the box surface comes much closer to the sources than the cortex does.
"""

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from ..errors import CoilError, InputError
from ..kernels.biot_savart import DipoleSources
from ..kernels.coil_fields import CoilFieldSources

__all__ = ["FarFieldSurrogate", "far_field_surrogate"]

_MM = 1e-3


@dataclass(frozen=True, eq=False)
class FarFieldSurrogate:
    """Fitted dipoles reproducing a coil's A-field outside a box around its sources.

    Attributes
    ----------
    positions_mm : ndarray, shape (S, 3)
        Surrogate dipole positions, coil frame, mm.
    moments : ndarray, shape (S, 3)
        Their moments, A·m² per ampere of coil current.
    box_lo_mm, box_hi_mm : ndarray, shape (3,)
        The box around the coil's own sources (coil frame, mm).
    distance_mm : float
        The surrogate is valid at points at least this far outside the box in the max
        norm (outside the box grown by ``distance_mm``).
    max_error : float
        Largest |A_coil − A_surrogate| component found on the validation sampling of the
        grown box's surface, relative to the largest |A_coil| there. By the maximum
        principle it bounds the error everywhere farther out.
    n_coil_sources : int
        Dipoles + segments of the coil it replaces.
    field_scale : float
        The largest |A| component of the coil's core on the validation sampling (T·m per A):
        the absolute error bound is ``max_error * field_scale``.
    rest : Coil or None
        Sources left out of the box (e.g. the leads of a wire coil running up the handle),
        always evaluated exactly; the box is the "core" of the coil without them.

    Examples
    --------
    >>> import tmsfield
    >>> from tmsfield.coils.far_field import far_field_surrogate
    >>> coil = tmsfield.load_coil("round_90mm").to_dipoles()
    >>> s = far_field_surrogate(coil, tol=1e-3)
    >>> s.n_dipoles < coil.n_dipoles
    True
    """

    positions_mm: np.ndarray
    moments: np.ndarray
    box_lo_mm: np.ndarray
    box_hi_mm: np.ndarray
    distance_mm: float
    max_error: float
    n_coil_sources: int
    field_scale: float
    rest: object = None

    @property
    def n_dipoles(self):
        """Number of surrogate dipoles."""
        return int(self.positions_mm.shape[0])

    def is_far(self, points_mm, pose=None):
        """True where a point (head frame, mm) lies outside the grown box, i.e. where the surrogate is valid.

        Parameters
        ----------
        points_mm : ndarray, shape (N, 3)
            Points in the head frame, mm.
        pose : None or array_like (4, 4)
            Coil→head transform (mm), as for the coil.

        Returns
        -------
        ndarray of bool, shape (N,)
        """
        from ..pose import as_pose_matrix
        m = as_pose_matrix(pose)
        rot = m[:3, :3]
        local = np.asarray(points_mm, float) @ rot      # coil frame: Rᵀ(x − c) = x R − c R
        shift = m[:3, 3] @ rot
        lo = self.box_lo_mm - self.distance_mm + shift
        hi = self.box_hi_mm + self.distance_mm + shift
        return np.any((local <= lo) | (local >= hi), axis=1)

    def vector_potential(self, points_mm, pose=None, single=False):
        """A (T·m per A) at head-frame points (mm) that are all far (:meth:`is_far`): the
        surrogate dipoles plus the exact field of :attr:`rest`; (N, 3). ``single``: sum the
        surrogate in float32 (relative error ~1e-6, well below :attr:`max_error`; ~3x faster)."""
        p = np.asarray(points_mm, float)
        src = self.sources(pose)
        out = src.vector_potential_single(p * _MM) if single else src.vector_potential(p * _MM)
        if self.rest is not None:
            out += CoilFieldSources(self.rest, pose).vector_potential(p)
        return out

    def sources(self, pose=None):
        """:class:`~tmsfield.kernels.biot_savart.DipoleSources` of the surrogate in the head frame (SI)."""
        from ..pose import as_pose_matrix
        m = as_pose_matrix(pose)
        rot, centre = m[:3, :3], m[:3, 3]
        return DipoleSources((self.positions_mm @ rot.T + centre) * _MM, self.moments @ rot.T)


def _source_points(coil):
    pts = [a for a in (coil.dipole_positions_mm, coil.segment_start_mm, coil.segment_end_mm) if len(a)]
    return np.concatenate(pts)


def _split_core(coil, quantile=0.01, margin_mm=10.0):
    """(core coil, rest coil or None): the rest are the few sources more than ``margin_mm``
    outside the box holding the central 98 % of source points along each axis — typically a
    wire coil's leads up the handle, which would otherwise stretch the box and the lattice."""
    from .coil import Coil
    src = _source_points(coil)
    lo = np.quantile(src, quantile, axis=0) - margin_mm
    hi = np.quantile(src, 1.0 - quantile, axis=0) + margin_mm

    def inside(p):
        return np.all((p >= lo) & (p <= hi), axis=1)

    din = inside(coil.dipole_positions_mm) if coil.n_dipoles else np.zeros(0, bool)
    sin = (inside(coil.segment_start_mm) & inside(coil.segment_end_mm)) if coil.n_segments else np.zeros(0, bool)
    if din.all() and sin.all():
        return coil, None

    st, en, cur = coil.segment_start_mm[sin], coil.segment_end_mm[sin], coil.segment_current[sin]
    # Cutting the wires leaves current ending at the cut nodes. A current that does not close
    # has A-field terms (net current element Σ I dl, its symmetric moment) that no set of
    # magnetic dipoles reproduces, so the core is closed through a hub: every node with a net
    # in-flow q gets a segment node → hub carrying q (Kirchhoff at the hub: Σ q = 0), and the
    # rest gets the same segments reversed, so core + rest is exactly the coil.
    hub_s = np.zeros((0, 3))
    hub_c = np.zeros(0)
    if st.shape[0]:
        nodes, inv = np.unique(np.round(np.concatenate([st, en]), 6), axis=0, return_inverse=True)
        inv = inv.reshape(-1)
        net = np.zeros(nodes.shape[0])
        np.add.at(net, inv[:st.shape[0]], -cur)
        np.add.at(net, inv[st.shape[0]:], cur)
        open_ = np.abs(net) > 1e-9 * max(1.0, float(np.abs(cur).max()))
        hub_s, hub_c = nodes[open_], net[open_]
    hub = hub_s.mean(axis=0) if hub_s.shape[0] else np.zeros(3)
    hub_e = np.tile(hub, (hub_s.shape[0], 1))

    def part(ds, s0, e0, c0):
        return Coil(name=coil.name, segment_start_mm=s0, segment_end_mm=e0, segment_current=c0,
                    dipole_positions_mm=coil.dipole_positions_mm[ds], dipole_moments=coil.dipole_moments[ds])
    core = part(din, np.concatenate([st, hub_s]), np.concatenate([en, hub_e]), np.concatenate([cur, hub_c]))
    rest = part(~din, np.concatenate([coil.segment_start_mm[~sin], hub_e]),
                np.concatenate([coil.segment_end_mm[~sin], hub_s]), np.concatenate([coil.segment_current[~sin], hub_c]))
    return core, rest


def _box_surface(lo, hi, spacing, offset=0.0):
    """Points on the surface of the box [lo, hi] (mm), about ``spacing`` apart; ``offset`` in
    (0, 1) shifts the face grids by that fraction of a cell (an independent sampling)."""
    axes = []
    for k in range(3):
        n = max(2, int(np.ceil((hi[k] - lo[k]) / spacing)) + 1)
        t = np.linspace(lo[k], hi[k], n)
        if offset:
            t = np.concatenate([[lo[k]], 0.5 * (t[:-1] + t[1:]), [hi[k]]])
        axes.append(t)
    out = []
    for k in range(3):
        i, j = [a for a in range(3) if a != k]
        u, v = np.meshgrid(axes[i], axes[j], indexing="ij")
        for val in (lo[k], hi[k]):
            p = np.empty((u.size, 3))
            p[:, i], p[:, j], p[:, k] = u.ravel(), v.ravel(), val
            out.append(p)
    return np.unique(np.round(np.concatenate(out), 9), axis=0)


def _lattice(lo, hi, spacing):
    axes = []
    for k in range(3):
        ext = hi[k] - lo[k]
        n = max(1, int(np.ceil(ext / spacing - 1e-9)) + 1) if ext > 0.25 * spacing else 1
        axes.append(np.linspace(lo[k], hi[k], n) if n > 1 else np.array([0.5 * (lo[k] + hi[k])]))
    g = np.meshgrid(*axes, indexing="ij")
    return np.column_stack([a.ravel() for a in g])


def _design(positions_mm, points_mm):
    """A at points (SI) of unit moments x, y, z at each position: (3 N, 3 S) in T·m per A·m²."""
    n, s = points_mm.shape[0], positions_mm.shape[0]
    g = np.empty((n, 3, s, 3))
    p = positions_mm * _MM
    q = points_mm * _MM
    # vectorised: A = μ0/4π m × d / |d|³, d = q − p
    d = q[:, None, :] - p[None, :, :]                           # (N, S, 3)
    inv3 = 1e-7 / np.einsum("nsk,nsk->ns", d, d) ** 1.5        # μ0/4π = 1e-7
    e = np.eye(3)
    for c in range(3):
        cr = np.cross(e[c][None, None, :], d) * inv3[..., None]  # (N, S, 3): unit moment c
        g[:, :, :, c] = np.transpose(cr, (0, 2, 1))
    return g.reshape(3 * n, 3 * s)


def _truncated_lstsq(g, y, rel=1e-6):
    """Least squares by the normal equations' eigen-decomposition, dropping singular values below
    ``rel`` × the largest (cheap for tall G: one (n × n) product; accurate to ~``rel``, which is far
    below the fits' 1e-4 scale)."""
    w, v = sla.eigh(g.T @ g, check_finite=False)
    keep = w > (rel ** 2) * w[-1]
    return v[:, keep] @ ((v[:, keep].T @ (g.T @ y)) / w[keep])


def far_field_surrogate(coil, distance_mm=15.0, tol=5e-4, spacing_mm=None, max_fraction=0.5, max_dipoles=None):
    """Fit a far-field surrogate (a small dipole lattice) to a coil; see the module docstring.

    Parameters
    ----------
    coil : tmsfield.Coil
        Wire and/or dipole coil (sampled-A grid parts have no surrogate: ``CoilError``).
    distance_mm : float
        Valid beyond this max-norm distance (mm) from the box around the coil's sources.
    tol : float
        Required bound on the relative error (see :attr:`FarFieldSurrogate.max_error`).
        The lattice spacing is refined (from ``distance_mm`` down) until it is met.
    spacing_mm : float, optional
        Fix the lattice spacing instead of refining.
    max_fraction : float
        Give up (``CoilError``) rather than use more surrogate dipoles than this fraction of the
        coil's dipoles + segments (no speed gain left).
    max_dipoles : int, optional
        Also give up beyond this many surrogate dipoles (bounds the fitting time: a fit of S
        dipoles eigen-decomposes a 3S × 3S matrix).

    Returns
    -------
    FarFieldSurrogate

    Raises
    ------
    CoilError
        Sampled-grid coils, or no lattice with at most ``max_fraction`` × the coil's sources
        meets ``tol`` (no speed gain left: evaluate the coil in full).

    Notes
    -----
    The fit samples the grown box's surface every ``distance_mm / 3`` and checks on an
    offset sampling every ``distance_mm / 4``; one fit of a few hundred lattice dipoles takes
    seconds (normal equations of ~10⁴ × 10³, eigen-decomposed).

    Examples
    --------
    >>> import tmsfield
    >>> coil = tmsfield.load_coil("fig8_70mm").to_dipoles()     # 2,365 dipoles
    >>> s = far_field_surrogate(coil, distance_mm=15.0, tol=1e-3)
    >>> bool(s.max_error <= 1e-3 and s.n_dipoles < coil.n_dipoles / 2)
    True
    """
    if getattr(coil, "sampled_grids", ()):
        raise CoilError(f"coil {coil.name!r} has sampled-A grid parts, which have no far-field surrogate; "
                        f"evaluate it in full")
    d = float(distance_mm)
    if not np.isfinite(d) or d <= 0:
        raise InputError(f"distance_mm must be a positive number of mm; got {distance_mm!r}")
    core, rest = _split_core(coil)
    src = _source_points(core)
    lo, hi = src.min(axis=0), src.max(axis=0)
    glo, ghi = lo - d, hi + d
    fit_pts = _box_surface(glo, ghi, d / 3.0)
    check_pts = _box_surface(glo, ghi, d / 4.0, offset=0.5)
    full = CoilFieldSources(core)
    a_fit = full.vector_potential(fit_pts)
    a_chk = full.vector_potential(check_pts)
    scale = float(np.max(np.abs(a_chk)))
    n_src = core.n_dipoles + core.n_segments
    spacings = [float(spacing_mm)] if spacing_mm is not None else [d * f for f in (0.6, 0.5, 0.4, 0.3)]
    best = None
    for h in spacings:
        pos = _lattice(lo, hi, h)
        if spacing_mm is None and (pos.shape[0] > max_fraction * n_src
                                   or (max_dipoles is not None and pos.shape[0] > max_dipoles)):
            break
        g = _design(pos, fit_pts)
        # Column scaling: every unknown gets a unit-norm column (the lattice is regular, so this
        # mostly removes the 1e-7 prefactor); rcond cuts the numerically null moment combinations.
        cn = np.linalg.norm(g, axis=0)
        mom = _truncated_lstsq(g / cn, a_fit.ravel())
        mom = (mom / cn).reshape(-1, 3)
        err = np.abs(DipoleSources(pos * _MM, mom).vector_potential(check_pts * _MM) - a_chk).max() / scale
        cand = FarFieldSurrogate(pos, mom, lo, hi, d, float(err), n_src, scale, rest)
        if best is None or cand.max_error < best.max_error:
            best = cand
        if err <= tol:
            return cand
    if spacing_mm is not None and best is not None:
        return best
    raise CoilError(f"no far-field surrogate of coil {coil.name!r} reaches relative error {tol:g} at "
                    f"{d:g} mm with fewer dipoles than the coil (best {best.max_error if best else float('nan'):.2g}); "
                    f"use a larger distance_mm or evaluate the coil in full")
