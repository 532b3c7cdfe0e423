"""The :class:`Head`: nested closed boundary surfaces, a cortex surface, landmarks and an MNI transform."""

from dataclasses import dataclass, field

import numpy as np

from ..errors import HeadFileError, InputError, MeshError
from ..validation import as_points
from ..kernels.winding_reference import winding_number_reference
from .mesh_tools import boundary_edge_count, run_bem_mesh_check, signed_volume
from .surface import Surface

__all__ = ["Head", "BOUNDARY_NAMES", "TISSUE_NAMES", "LANDMARK_NAMES"]

BOUNDARY_NAMES = ("scalp", "skull_outer", "skull_inner", "csf", "gm", "wm", "brain")
TISSUE_NAMES = ("scalp", "skull", "csf", "gm", "wm", "brain")
LANDMARK_NAMES = ("nasion", "inion", "lpa", "rpa")

# default tissue inside each boundary (when tissues are not given)
_DEFAULT_TISSUE = {"scalp": "scalp", "skull_outer": "skull", "skull_inner": "brain", "csf": "csf",
                   "gm": "gm", "wm": "wm", "brain": "brain"}


def _apply_affine(m, points):
    p = as_points(points, "points")
    return p @ m[:3, :3].T + m[:3, 3]


@dataclass(frozen=True, eq=False)
class Head:
    """A head model: closed boundary surfaces from outside in, tissues between them, a cortex.

    Attributes
    ----------
    name : str
    boundaries : tuple of Surface
        Closed, outward-oriented surfaces ordered outside → in, strictly nested. Names from
        ``"scalp", "skull_outer", "skull_inner", "csf", "gm", "wm", "brain"``. Vertices in mm
        (scanner / MNI RAS).
    tissues : tuple of str
        ``tissues[k]`` fills the space inside ``boundaries[k]`` and outside ``boundaries[k+1]``;
        names from ``"scalp", "skull", "csf", "gm", "wm", "brain"`` (``"brain"`` = lumped brain).
    cortex : Surface or None
        Surface on which results are reported (mid-grey-matter or pial), inside the innermost boundary.
    landmarks : dict of str -> ndarray (3,)
        ``"nasion"``, ``"inion"``, ``"lpa"``, ``"rpa"`` (left/right preauricular points), mm.
    mni_transform : ndarray (4, 4) or None
        Affine subject → MNI (mm); identity for the template.
    cortex_curvature : ndarray (V,) or None
        Per cortex vertex, *positive in sulci* (FreeSurfer ``sulc`` convention: depth, mm), for the
        viewer's curvature underlay.
    source : str
        File path or template name (provenance).
    sides : tuple of ndarray (T_k, 2) of str, or None
        Per boundary, the tissue on the inner and the outer side of each triangle (``"air"`` outside the
        head), for heads whose surfaces are not one nested stack (tissue junctions: a ventricle of CSF
        inside white matter, grey matter touching the skull, pial and white surfaces merged where the
        cortex has no thickness). ``None`` (default) means strictly nested: every triangle of
        ``boundaries[k]`` has ``tissues[k]`` inside and ``tissues[k-1]`` (``"air"`` for k = 0) outside.
        Read it through :meth:`triangle_sides`, which fills in the nested default.

    Examples
    --------
    >>> from tmsfield.head import nested_spheres
    >>> shells = nested_spheres([95, 90, 85], 2, names=["scalp", "skull_outer", "skull_inner"])
    >>> h = Head.from_surfaces(shells, name="spheres")
    >>> h.tissues
    ('scalp', 'skull', 'brain')
    >>> h.scalp.name
    'scalp'
    """

    name: str
    boundaries: tuple
    tissues: tuple
    cortex: Surface | None = None
    landmarks: dict = field(default_factory=dict)
    mni_transform: np.ndarray | None = None
    cortex_curvature: np.ndarray | None = None
    source: str = ""
    sides: tuple | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_surfaces(cls, boundaries, tissues=None, cortex=None, landmarks=None, mni_transform=None,
                      cortex_curvature=None, name="head", source="", check=True, landmark_tolerance_mm=10.0):
        """Build a head from boundary surfaces (outside → in) and optional extras, checking everything.

        Parameters
        ----------
        boundaries : sequence of Surface or dict name -> Surface
            Closed outward surfaces, outside → in (a dict is ordered by :data:`BOUNDARY_NAMES`). Each
            surface's ``name`` must be one of ``scalp, skull_outer, skull_inner, csf, gm, wm, brain``;
            the first must be ``scalp``.
        tissues : sequence of str, optional
            One per boundary; default from the boundary names (``skull_outer → skull``,
            ``skull_inner → brain`` ...).
        cortex : Surface, optional
            Reporting surface (mm), inside the innermost boundary.
        landmarks : dict, optional
            ``nasion, inion, lpa, rpa`` → (3,) mm; must lie on the scalp (within ``landmark_tolerance_mm``).
        mni_transform : array_like (4, 4), optional
            Subject → MNI affine (mm).
        cortex_curvature : array_like (V,), optional
            Positive in sulci, one value per cortex vertex.
        name, source : str
        check : bool
            Run closedness/orientation/nesting checks (the BEM mesh check when available).

        Returns
        -------
        Head

        Raises
        ------
        MeshError, HeadFileError, InputError
            Open or inward surfaces, wrong order or nesting, landmarks off the scalp — the message names
            the surface and ``source``.

        Examples
        --------
        >>> from tmsfield.head import icosphere
        >>> h = Head.from_surfaces([icosphere(95, 2, name="scalp"), icosphere(85, 2, name="brain")])
        >>> h.tissues
        ('scalp', 'brain')
        """
        src = source or name
        if isinstance(boundaries, dict):
            unknown = set(boundaries) - set(BOUNDARY_NAMES)
            if unknown:
                raise InputError(f"{src}: unknown boundary names {sorted(unknown)}; use {BOUNDARY_NAMES}")
            boundaries = [Surface(boundaries[n].vertices, boundaries[n].triangles, n)
                          for n in BOUNDARY_NAMES if n in boundaries]
        boundaries = tuple(boundaries)
        if len(boundaries) < 2:
            raise InputError(f"{src}: a head needs at least the scalp and one brain boundary "
                             f"(got {len(boundaries)} surface(s))")
        names = [b.name for b in boundaries]
        for n in names:
            if n not in BOUNDARY_NAMES:
                raise InputError(f"{src}: boundary name {n!r} is not one of {BOUNDARY_NAMES}; rename the surface")
        if len(set(names)) != len(names):
            raise InputError(f"{src}: boundary names repeat: {names}")
        if names[0] != "scalp":
            raise InputError(f"{src}: the outermost boundary must be 'scalp' (order is outside → in); got {names}")
        order = [BOUNDARY_NAMES.index(n) for n in names]
        if order != sorted(order):
            raise InputError(f"{src}: boundaries must be ordered outside → in as in {BOUNDARY_NAMES}; got {names}")
        if tissues is None:
            tissues = tuple(_DEFAULT_TISSUE[n] for n in names)
            if names[-1] in ("gm", "wm"):
                tissues = tissues  # gm: grey matter inside pial, wm inside white
        tissues = tuple(str(t) for t in tissues)
        if len(tissues) != len(boundaries):
            raise InputError(f"{src}: {len(tissues)} tissues for {len(boundaries)} boundaries; give one each")
        for t in tissues:
            if t not in TISSUE_NAMES:
                raise InputError(f"{src}: tissue {t!r} is not one of {TISSUE_NAMES}")
        if check:
            for b in boundaries:
                nb = boundary_edge_count(b.triangles)
                if nb:
                    raise MeshError(f"{src}: surface {b.name!r} has holes ({nb} edges not shared by exactly two "
                                    f"triangles); fill the holes / remesh it (e.g. rebuild it from the label "
                                    f"volume with tmsfield.head.surfaces_from_label_volume)")
                if signed_volume(b.vertices, b.triangles) <= 0:
                    raise MeshError(f"{src}: surface {b.name!r} has flipped (inward) normals; reverse the vertex "
                                    f"order of its triangles, e.g. Surface(v, t[:, ::-1], name)")
            for outer, inner in zip(boundaries[:-1], boundaries[1:]):
                _check_inside(outer, inner.vertices, f"{src}: surface {inner.name!r}", f"{outer.name!r}")
            run_bem_mesh_check(boundaries, src)
        if cortex is not None:
            if not isinstance(cortex, Surface):
                raise InputError(f"{src}: cortex must be a Surface; got {type(cortex).__name__}")
        if cortex_curvature is not None:
            if cortex is None:
                raise InputError(f"{src}: cortex_curvature given without a cortex surface")
            cortex_curvature = np.asarray(cortex_curvature, dtype=np.float64).ravel()
            if cortex_curvature.shape[0] != cortex.n_vertices or not np.all(np.isfinite(cortex_curvature)):
                raise InputError(f"{src}: cortex_curvature must hold one finite value per cortex vertex "
                                 f"({cortex.n_vertices}); got {cortex_curvature.shape[0]}")
            cortex_curvature.setflags(write=False)
        lm = {}
        for k, v in (landmarks or {}).items():
            key = str(k).lower()
            if key not in LANDMARK_NAMES:
                raise InputError(f"{src}: unknown landmark {k!r}; use {LANDMARK_NAMES}")
            p = as_points(v, f"landmark {k!r}")
            if p.shape[0] != 1:
                raise InputError(f"{src}: landmark {k!r} must be one point (3,) in mm")
            lm[key] = p[0].copy()
        if lm and check:
            scalp = boundaries[0]
            for k, p in lm.items():
                d = float(np.min(np.linalg.norm(scalp.vertices - p, axis=1)))
                tol = max(landmark_tolerance_mm, 1.5 * scalp.mean_edge_length)
                if d > tol:
                    raise HeadFileError(f"{src}: landmark {k!r} at {np.round(p, 1).tolist()} mm is {d:.1f} mm from "
                                        f"the scalp (tolerance {tol:.1f} mm); check its coordinates/units (mm, same "
                                        f"space as the surfaces)")
        for p in lm.values():
            p.setflags(write=False)
        if mni_transform is not None:
            m = np.asarray(mni_transform, dtype=np.float64)
            if m.shape != (4, 4) or not np.all(np.isfinite(m)) or not np.allclose(m[3], [0, 0, 0, 1]) \
                    or abs(np.linalg.det(m[:3, :3])) < 1e-9:
                raise InputError(f"{src}: mni_transform must be an invertible 4x4 affine (mm) with last row "
                                 f"0 0 0 1")
            m = m.copy()
            m.setflags(write=False)
            mni_transform = m
        return cls(name=str(name), boundaries=boundaries, tissues=tissues, cortex=cortex, landmarks=lm,
                   mni_transform=mni_transform, cortex_curvature=cortex_curvature, source=str(source))

    # ------------------------------------------------------------------ access
    @property
    def scalp(self):
        """The outermost boundary (``boundaries[0]``)."""
        return self.boundaries[0]

    @property
    def boundary_names(self):
        """Names of the boundaries, outside → in."""
        return tuple(b.name for b in self.boundaries)

    def surface(self, name):
        """Boundary or cortex surface by name.

        Examples
        --------
        >>> from tmsfield.head import icosphere
        >>> h = Head.from_surfaces([icosphere(95, 1, name="scalp"), icosphere(85, 1, name="brain")])
        >>> h.surface("brain").name
        'brain'
        """
        for b in self.boundaries:
            if b.name == name:
                return b
        if name == "cortex" and self.cortex is not None:
            return self.cortex
        have = list(self.boundary_names) + (["cortex"] if self.cortex is not None else [])
        raise InputError(f"head {self.name!r} has no surface {name!r}; it has {have}")

    def triangle_sides(self):
        """Tissue names inside and outside every boundary triangle.

        Returns
        -------
        tuple of ndarray (T_k, 2) of str
            One per boundary (outside → in): column 0 the tissue inside the triangle (the side its
            normal points away from), column 1 the tissue outside (``"air"`` beyond the scalp). From
            :attr:`sides` when given, else the nested default.

        Examples
        --------
        >>> from tmsfield.head import icosphere
        >>> h = Head.from_surfaces([icosphere(95, 1, name="scalp"), icosphere(85, 1, name="brain")])
        >>> [s[0].tolist() for s in h.triangle_sides()]
        [['scalp', 'air'], ['brain', 'scalp']]
        """
        if self.sides is not None:
            return tuple(np.asarray(s) for s in self.sides)
        out = []
        for k, b in enumerate(self.boundaries):
            outside = self.tissues[k - 1] if k > 0 else "air"
            pair = np.empty((b.n_triangles, 2), dtype=object)
            pair[:, 0] = self.tissues[k]
            pair[:, 1] = outside
            out.append(pair.astype(str))
        return tuple(out)

    def subject_to_mni(self, points):
        """Map subject points (N, 3) mm to MNI mm with :attr:`mni_transform`.

        Examples
        --------
        >>> from tmsfield.head import icosphere
        >>> h = Head.from_surfaces([icosphere(95, 1, name="scalp"), icosphere(85, 1, name="brain")],
        ...                        mni_transform=np.eye(4))
        >>> h.subject_to_mni([1.0, 2.0, 3.0]).tolist()
        [[1.0, 2.0, 3.0]]
        """
        if self.mni_transform is None:
            raise InputError(f"head {self.name!r} has no subject→MNI transform; pass mni_transform= when "
                             f"building it (e.g. from a FreeSurfer talairach.xfm or an ANTs/FSL affine)")
        return _apply_affine(self.mni_transform, points)

    def mni_to_subject(self, points):
        """Map MNI points (N, 3) mm to subject mm (inverse of :meth:`subject_to_mni`).

        Examples
        --------
        >>> from tmsfield.head import icosphere
        >>> h = Head.from_surfaces([icosphere(95, 1, name="scalp"), icosphere(85, 1, name="brain")],
        ...                        mni_transform=np.eye(4))
        >>> h.mni_to_subject([[0.0, 0.0, 0.0]]).shape
        (1, 3)
        """
        if self.mni_transform is None:
            raise InputError(f"head {self.name!r} has no subject→MNI transform; pass mni_transform= when "
                             f"building it")
        return _apply_affine(np.linalg.inv(self.mni_transform), points)

    def eeg_positions(self, system="10-10"):
        """EEG 10-20 / 10-10 positions on the scalp from the four landmarks (geodesic arcs).

        See :func:`tmsfield.head.eeg.eeg_positions` (Jurcak et al. 2007, NeuroImage 34:1600).

        Returns
        -------
        dict of str -> ndarray (3,), mm

        Examples
        --------
        >>> import tmsfield
        >>> pos = tmsfield.load_head("mni152").eeg_positions()
        >>> sorted(k for k in pos if k in ("Cz", "F3"))
        ['Cz', 'F3']
        """
        from .eeg import eeg_positions
        missing = [k for k in LANDMARK_NAMES if k not in self.landmarks]
        if missing:
            raise InputError(f"head {self.name!r} lacks landmarks {missing}; EEG positions need nasion, inion, "
                             f"lpa, rpa (pass landmarks= to Head.from_surfaces / load_head)")
        return eeg_positions(self.scalp, self.landmarks, system=system)

    def __repr__(self):
        b = ", ".join(f"{s.name}:{s.n_triangles}" for s in self.boundaries)
        c = f", cortex:{self.cortex.n_vertices}v" if self.cortex is not None else ""
        return f"Head(name={self.name!r}, boundaries=[{b}]{c}, source={self.source!r})"


def _check_inside(outer, points, what, outer_name, max_points=400):
    """Raise MeshError unless (a subsample of) ``points`` lie inside ``outer``."""
    pts = np.asarray(points)
    if len(pts) > max_points:
        idx = np.linspace(0, len(pts) - 1, max_points).astype(int)
        pts = pts[idx]
    w = winding_number_reference(outer.vertices, outer.triangles, pts)
    bad = np.flatnonzero(w < 0.5)
    if bad.size:
        raise MeshError(f"{what} is not nested inside {outer_name}: {bad.size} of {len(pts)} tested vertices lie "
                        f"outside (first at {np.round(pts[bad[0]], 1).tolist()} mm); surfaces must be ordered "
                        f"outside → in and must not intersect — check the order and the segmentation")
