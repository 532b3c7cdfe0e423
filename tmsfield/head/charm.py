"""SimNIBS charm heads: tetrahedral ``.msh`` meshes and ``m2m_<subject>/`` folders, with tissue junctions.

A charm head mesh (gmsh 2.2, ASCII or binary) holds tetrahedra tagged by tissue (SimNIBS numbering, see
the SimNIBS documentation "Conductivity values" / "Tissue types"):

====  ===============  =========================  ==================================
tag   SimNIBS tissue   tmsfield tissue (default)   SimNIBS default conductivity (S/m)
====  ===============  =========================  ==================================
1     white matter     ``wm``                      0.126
2     grey matter      ``gm``                      0.275
3     CSF              ``csf``                     1.654
4     bone (skull)     ``skull``                   0.010
5     scalp            ``scalp``                   0.465
6     eye balls        ``scalp``                   0.5
7     compact bone     ``skull``                   0.008
8     spongy bone      ``skull``                   0.025
9     blood            ``csf`` or ``scalp`` (*)    0.6
10    muscle           ``scalp``                   0.16
====  ===============  =========================  ==================================

**Mapping the extra tissues** (``extra_tissues="map"``, the default) onto the five of the toolkit (scalp,
skull, CSF, GM, WM), by where they are rather than by their conductivity alone: compact and spongy bone *are*
skull (SimNIBS' own tag 4 lumps them); eyes and muscle are extracranial soft tissue, which the five-tissue
model calls scalp (and their conductivities, 0.5 and 0.16 S/m, are those of soft tissue, not of bone or
fluid); (*) blood (vessels, 0.6 S/m) lies both inside the skull (sinuses, arteries in the CSF space) and
outside it, so each connected blood region becomes CSF if it lies inside the skull and scalp if outside:
it takes, of the two, the one it shares more boundary area with, counting its contact with grey or white
matter as CSF (intracranial) and ignoring its contact with bone and air — intracranial vessels become CSF
(the fluid space they run in), scalp vessels scalp.
``tissue_map={tag_or_name: tissue}`` overrides any of this. ``extra_tissues="keep"`` keeps them as tissues
``eyes``, ``compact_bone``, ``spongy_bone``, ``blood``, ``muscle``, for which the solver's defaults are the
SimNIBS values above (:data:`SIMNIBS_CONDUCTIVITIES`).

**Boundaries** are extracted from the tetrahedra, not from the file's triangles (1001..1010): a face shared
by tetrahedra of two different tissues, or a face of one tetrahedron only (outside: air), is a boundary
triangle. Tissues are ranked from outside in, ``air < scalp < muscle < eyes < skull < compact_bone <
spongy_bone < blood < csf < gm < wm``; each boundary triangle belongs to the surface of its *deeper* tissue
(as SimNIBS' 1000+k surfaces are the outer boundary of tissue k), named ``scalp`` (scalp), ``skull_outer``
(skull), ``skull_inner`` (CSF), ``gm``, ``wm`` (or the kept tissue's own name), ordered outside → in. Its
normal points away from the deeper tissue, except that every *closed* part of a surface is turned to face
outward (a ventricle, CSF inside the white matter, is a closed part of the ``wm`` surface with sides
``("csf", "wm")``). :attr:`Head.sides` gives, per triangle, the tissue inside (column 0, the side the
normal points away from) and outside (column 1). Surfaces may touch or enclose each other: where the CSF
is absent the grey matter's triangles have the skull outside, and the ``skull_inner`` surface has a hole
there that the ``gm`` surface closes. The tissue sides are checked for consistency
(:func:`tmsfield.head.junctions.check_sides`: different tissues on the two sides, no air inside the head,
agreement round every edge, every closed piece agreeing with its surroundings) and a failure raises
:class:`~tmsfield.errors.MeshError` naming the file and the tags.

**Cortex** (the reporting surface): ``m2m_<subject>/surfaces/{lh,rh}.central.gii`` when present (charm's
mid-cortical surfaces); otherwise the outer surface of the grey matter (``gm``) with each vertex moved
halfway to the nearest point of the white-matter surface (``wm``), at most ``cortex_depth_max_mm`` (default
3 mm) — a mid-grey-matter surface on the mesh's own triangles. Without white matter: the ``gm`` surface.

**m2m folders**: ``<subject>.msh``; landmarks from ``eeg_positions/*.csv`` (SimNIBS' ``Fiducial`` rows
Nz, Iz, LPA, RPA) when present, and the subject → MNI affine fitted (least squares) to the nonlinear warp
``toMNI/Conform2MNI_nonl.nii.gz`` (read by :func:`tmsfield.head.warps.load_warp`) at the head's vertices;
for nonlinear mapping of targets give the warp itself (``--mni-warp m2m_<subject>/toMNI/...``).
"""

from pathlib import Path

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..errors import HeadFileError, InputError, MeshError
from .head import Head, LANDMARK_NAMES
from .io_msh import read_msh_volume
from .junctions import AIR, check_sides
from .surface import Surface

__all__ = ["SIMNIBS_TISSUES", "SIMNIBS_CONDUCTIVITIES", "DEFAULT_TISSUE_MAP", "TISSUE_DEPTH",
           "head_from_tetrahedra", "read_charm_mesh", "load_m2m", "read_simnibs_eeg_csv", "is_m2m_folder",
           "concentric_tetrahedra"]

#: SimNIBS tetrahedron tag -> tissue name
SIMNIBS_TISSUES = {1: "wm", 2: "gm", 3: "csf", 4: "skull", 5: "scalp", 6: "eyes", 7: "compact_bone",
                   8: "spongy_bone", 9: "blood", 10: "muscle"}

#: SimNIBS' documented default conductivities (S/m), SimNIBS documentation "Conductivity values".
SIMNIBS_CONDUCTIVITIES = {"wm": 0.126, "gm": 0.275, "csf": 1.654, "skull": 0.010, "scalp": 0.465, "eyes": 0.5,
                          "compact_bone": 0.008, "spongy_bone": 0.025, "blood": 0.6, "muscle": 0.16}

#: Default mapping of the extra charm tissues onto the five (``"contact"``: per connected region, CSF inside
#: the skull, scalp outside; see the module docstring).
DEFAULT_TISSUE_MAP = {"eyes": "scalp", "muscle": "scalp", "compact_bone": "skull", "spongy_bone": "skull",
                      "blood": "contact"}

#: Tissues from outside in; a boundary triangle belongs to the surface of its deeper tissue.
TISSUE_DEPTH = (AIR, "scalp", "muscle", "eyes", "skull", "compact_bone", "spongy_bone", "blood", "csf", "gm", "wm")

_FIVE = ("scalp", "skull", "csf", "gm", "wm")
_SURFACE_NAME = {"scalp": "scalp", "skull": "skull_outer", "csf": "skull_inner", "gm": "gm", "wm": "wm"}
# faces of a tetrahedron (a, b, c, d): the face opposite vertex k
_FACES = np.array([[1, 2, 3], [0, 3, 2], [0, 1, 3], [0, 2, 1]])


def _tissue_names(tags, tissue_map, source):
    """Raw tissue name per distinct tag (SimNIBS numbering, overridden by integer keys of tissue_map)."""
    names = {}
    over = {int(k): str(v) for k, v in (tissue_map or {}).items() if isinstance(k, (int, np.integer))}
    for tag in np.unique(tags):
        tag = int(tag)
        if tag in over:
            names[tag] = over[tag]
        elif tag in SIMNIBS_TISSUES:
            names[tag] = SIMNIBS_TISSUES[tag]
        else:
            n = int(np.count_nonzero(tags == tag))
            hint = (" (SimNIBS tags electrodes 100+ and saline 500+: remove them, or map them)"
                    if tag >= 100 else "")
            raise MeshError(f"{source}: {n} tetrahedra are tagged {tag}, which is not a SimNIBS tissue (1 WM, 2 GM, "
                            f"3 CSF, 4 bone, 5 scalp, 6 eyes, 7 compact bone, 8 spongy bone, 9 blood, 10 muscle)"
                            f"{hint}; pass tissue_map={{{tag}: 'scalp'}} (or another tissue) to load it")
    return names


def _check_tissue(name, source, what):
    if name not in TISSUE_DEPTH or name == AIR:
        raise InputError(f"{source}: {what} maps to tissue {name!r}, which is not one of "
                         f"{[t for t in TISSUE_DEPTH if t != AIR]}")
    return name


def head_from_tetrahedra(nodes, tetrahedra, tags, *, extra_tissues="map", tissue_map=None, name="head",
                         source="", landmarks=None, mni_transform=None, cortex="auto", cortex_depth_max_mm=3.0):
    """A :class:`Head` with per-triangle tissue sides from a tetrahedral mesh tagged by tissue.

    See the module docstring for the tissue mapping, how boundaries are grouped and oriented, and the
    cortex. Every boundary triangle's two sides are checked for consistency.

    Parameters
    ----------
    nodes : array_like (N, 3), mm
    tetrahedra : array_like (M, 4) of int
        0-based rows of ``nodes``.
    tags : array_like (M,) of int
        SimNIBS tissue tag per tetrahedron (1..10).
    extra_tissues : {"map", "keep"}
        Map eyes, bones, blood and muscle onto the five tissues (default) or keep them.
    tissue_map : dict, optional
        ``{tag (int) or tissue name: tissue}`` overriding the SimNIBS numbering / the default mapping,
        e.g. ``{9: "csf"}`` or ``{"eyes": "csf"}``; tissues from :data:`TISSUE_DEPTH`.
    name, source : str
        Head name and provenance (used in every message).
    landmarks : dict, optional
        ``nasion, inion, lpa, rpa`` -> (3,) mm, within 10 mm of the scalp.
    mni_transform : array_like (4, 4), optional
        Subject -> MNI affine (mm).
    cortex : "auto", Surface or None
        ``"auto"``: mid grey matter (see the module docstring); a Surface to use instead; None for none.
    cortex_depth_max_mm : float
        Largest move of a ``gm`` vertex towards the white matter for the automatic cortex.

    Returns
    -------
    Head
        ``boundaries`` ordered outside → in, ``tissues[k]`` the deeper tissue of boundary k, ``sides``
        per triangle (inside, outside) tissue names.

    Raises
    ------
    MeshError
        Unknown tags, degenerate or overlapping tetrahedra, inconsistent sides (air inside the head ...).
    InputError
        Bad arguments.

    Examples
    --------
    >>> nodes, tets, tags, _ = concentric_tetrahedra([30, 80, 95], [3, 2, 5], [1, 1, 2])   # CSF in GM in scalp
    >>> head = head_from_tetrahedra(nodes, tets, tags, cortex=None)
    >>> head.boundary_names, head.tissues
    (('scalp', 'gm'), ('scalp', 'gm'))
    >>> sorted({tuple(s) for s in head.sides[1].tolist()})          # the pocket of CSF is part of 'gm'
    [('csf', 'gm'), ('gm', 'scalp')]
    """
    src = str(source or name)
    v = np.asarray(nodes, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != 3 or not np.all(np.isfinite(v)):
        raise InputError(f"{src}: nodes must be a finite (N, 3) array in mm")
    tets = np.asarray(tetrahedra)
    tags = np.asarray(tags).reshape(-1)
    if tets.ndim != 2 or tets.shape[1] != 4 or tets.shape[0] != tags.shape[0] or tets.shape[0] == 0:
        raise InputError(f"{src}: tetrahedra must be (M, 4), M > 0, with one tag each; got {tets.shape} and "
                         f"{tags.shape[0]} tags")
    tets = tets.astype(np.int64)
    if tets.min() < 0 or tets.max() >= v.shape[0]:
        raise MeshError(f"{src}: tetrahedra refer to nodes outside 0..{v.shape[0] - 1}")
    if extra_tissues not in ("map", "keep"):
        raise InputError(f"{src}: extra_tissues must be 'map' or 'keep'; got {extra_tissues!r}")
    raw = _tissue_names(tags, tissue_map, src)
    name_over = {str(k): str(x) for k, x in (tissue_map or {}).items() if not isinstance(k, (int, np.integer))}
    mapping = {}
    for tag, t in raw.items():
        target = t
        if t in name_over:
            target = name_over[t]
        elif extra_tissues == "map" and t in DEFAULT_TISSUE_MAP:
            target = DEFAULT_TISSUE_MAP[t]
        if target != "contact":
            _check_tissue(target, src, f"tag {tag} ({t})")
        mapping[tag] = target
    for k, x in name_over.items():
        if x != "contact":
            _check_tissue(x, src, f"tissue_map[{k!r}]")
    depth_of = {t: i for i, t in enumerate(TISSUE_DEPTH)}
    tag_list = sorted(mapping)
    tag_index = np.searchsorted(np.array(tag_list), tags)
    code_of_tag = np.array([depth_of.get(mapping[t], -1) for t in tag_list])   # -1: decided by contact
    code = code_of_tag[tag_index]

    # --- degenerate tetrahedra
    p = v[tets]
    vol6 = np.einsum("ij,ij->i", p[:, 1] - p[:, 0], np.cross(p[:, 2] - p[:, 0], p[:, 3] - p[:, 0]))
    edge = np.linalg.norm(p[:, 1] - p[:, 0], axis=1)
    flat = np.abs(vol6) <= 1e-9 * np.maximum(edge, 1e-30) ** 3
    if flat.any():
        i = int(np.flatnonzero(flat)[0])
        raise MeshError(f"{src}: {int(flat.sum())} tetrahedra have (almost) no volume (first: tetrahedron {i}, tag "
                        f"{int(tags[i])}, at {np.round(p[i].mean(axis=0), 1).tolist()} mm); re-mesh the head "
                        f"(charm --mesh) or remove them")

    # --- faces, each oriented away from its own tetrahedron
    faces = tets[:, _FACES].reshape(-1, 3)                       # (4M, 3)
    owner = np.repeat(np.arange(tets.shape[0]), 4)
    flip = np.repeat(vol6 < 0, 4)
    faces = np.where(flip[:, None], faces[:, ::-1], faces)
    srt = np.sort(faces, axis=1)
    n_nodes = v.shape[0] + 1
    if n_nodes ** 3 < 2 ** 62:
        key = (srt[:, 0] * n_nodes + srt[:, 1]) * n_nodes + srt[:, 2]
        order = np.argsort(key, kind="stable")
        ks = key[order]
        starts = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
    else:  # pragma: no cover - more than 2 million nodes
        _, inv = np.unique(srt, axis=0, return_inverse=True)
        order = np.argsort(inv.reshape(-1), kind="stable")
        ks = inv.reshape(-1)[order]
        starts = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
    counts = np.diff(np.r_[starts, ks.size])
    if np.any(counts > 2):
        f = order[starts[np.flatnonzero(counts > 2)[0]]]
        tt = sorted({int(tags[owner[g]]) for g in order[starts[np.flatnonzero(counts > 2)[0]]:][:3]})
        raise MeshError(f"{src}: {int(np.sum(counts > 2))} triangle face(s) are shared by more than two tetrahedra "
                        f"(overlapping or duplicated tetrahedra; tags {tt}), first at "
                        f"{np.round(v[faces[f]].mean(axis=0), 1).tolist()} mm; the mesh is not a valid volume mesh "
                        f"— re-mesh it")
    single = order[starts[counts == 1]]                         # faces of one tetrahedron: air outside
    pair_a = order[starts[counts == 2]]
    pair_b = order[starts[counts == 2] + 1]

    # --- extra tissues decided by contact (blood by default)
    undecided = code < 0
    if undecided.any():
        code = _assign_by_contact(code, owner, pair_a, pair_b, v, faces, depth_of, tets.shape[0])

    ta, tb = code[owner[pair_a]], code[owner[pair_b]]
    diff = ta != tb
    pa, pb, ta, tb = pair_a[diff], pair_b[diff], ta[diff], tb[diff]
    deep_face = np.where(ta > tb, pa, pb)                        # the copy oriented away from the deeper tissue
    tri = np.concatenate([faces[single], faces[deep_face]])
    inner = np.concatenate([code[owner[single]], np.maximum(ta, tb)])
    outer = np.concatenate([np.zeros(single.size, np.int64), np.minimum(ta, tb)])
    tri_tag = np.concatenate([tags[owner[single]], tags[owner[deep_face]]])
    if tri.shape[0] == 0:
        raise MeshError(f"{src}: the tetrahedra bound no surface")
    sides = np.column_stack([inner, outer])
    group = inner.copy()                                        # surface = the deeper tissue

    # --- every closed part of a surface faces outward
    for gcode in np.unique(group):
        sel = np.flatnonzero(group == gcode)
        flipme = _inward_closed_parts(v, tri[sel])
        if flipme.any():
            idx = sel[flipme]
            tri[idx] = tri[idx][:, ::-1]
            sides[idx] = sides[idx][:, ::-1]

    names = list(TISSUE_DEPTH)
    surf_names = {c: _SURFACE_NAME.get(TISSUE_DEPTH[c], TISSUE_DEPTH[c]) for c in np.unique(group)}
    offsets = {}

    def where(i):
        return (f"triangle of surface {surf_names[int(group[i])]!r} (sides {names[sides[i, 0]]}/"
                f"{names[sides[i, 1]]}, tetrahedron tag {int(tri_tag[i])})")

    check_sides(v, tri, sides, names, source=src, where=where)

    boundaries, tissues, side_arrays = [], [], []
    for gcode in sorted(np.unique(group)):
        sel = np.flatnonzero(group == gcode)
        used, inv = np.unique(tri[sel], return_inverse=True)
        boundaries.append(Surface(v[used], inv.reshape(-1, 3), name=surf_names[int(gcode)]))
        tissues.append(TISSUE_DEPTH[int(gcode)])
        side_arrays.append(np.array(names, dtype=str)[sides[sel]])
        offsets[int(gcode)] = sel
    if tissues[0] != "scalp" or np.any(side_arrays[0][:, 1] != AIR):
        raise MeshError(f"{src}: the outermost tissue is {tissues[0]!r}, not scalp, or the scalp does not face air "
                        f"everywhere; a head mesh needs scalp (tag 5) around everything")
    for a in side_arrays:
        a.setflags(write=False)
    if isinstance(cortex, str) and cortex == "auto":
        cortex = _mid_grey_matter(boundaries, tissues, cortex_depth_max_mm)
    elif cortex is not None and not isinstance(cortex, Surface):
        raise InputError(f"{src}: cortex must be 'auto', a Surface or None")
    lm = _check_landmarks(landmarks, boundaries[0], src)
    mt = _check_affine(mni_transform, src)
    if not lm and mt is not None:
        from .loaders import _landmarks_from_mni
        lm = _check_landmarks(_landmarks_from_mni(boundaries[0], mt), boundaries[0], src)
    return Head(name=str(name), boundaries=tuple(boundaries), tissues=tuple(tissues), cortex=cortex, landmarks=lm,
                mni_transform=mt, source=src, sides=tuple(side_arrays))


def _assign_by_contact(code, owner, pair_a, pair_b, v, faces, depth_of, n_tets):
    """Tissue of each undecided tetrahedron (blood): per connected undecided region, CSF or scalp, whichever
    it shares more face area with, contact with GM/WM counting as CSF, bone and air ignored (scalp when it
    touches none)."""
    und = code < 0
    ca, cb = code[owner[pair_a]], code[owner[pair_b]]
    oa, ob = owner[pair_a], owner[pair_b]
    both = und[oa] & und[ob]
    g = coo_matrix((np.ones(int(both.sum())), (oa[both], ob[both])), shape=(n_tets, n_tets))
    _, region = connected_components(g, directed=False)
    f = v[faces[pair_a]]
    area = 0.5 * np.linalg.norm(np.cross(f[:, 1] - f[:, 0], f[:, 2] - f[:, 0]), axis=1)
    as_csf = {depth_of["gm"]: depth_of["csf"], depth_of["wm"]: depth_of["csf"], depth_of["csf"]: depth_of["csf"],
              depth_of["scalp"]: depth_of["scalp"]}
    score = {}
    for mine, other_code, own in ((und[oa] & ~und[ob], cb, oa), (und[ob] & ~und[oa], ca, ob)):
        for r, c, a in zip(region[own[mine]], other_code[mine], area[mine]):
            c = as_csf.get(int(c))
            if c is not None:
                score[(int(r), c)] = score.get((int(r), c), 0.0) + float(a)
    best = {}
    for (r, c), a in score.items():
        if a > best.get(r, (-1.0, 0))[0]:
            best[r] = (a, c)
    out = code.copy()
    idx = np.flatnonzero(und)
    out[idx] = [best.get(int(r), (0.0, depth_of["scalp"]))[1] for r in region[idx]]
    return out


def _inward_closed_parts(v, t):
    """(T,) bool: triangles of the closed, edge-connected parts of ``t`` whose signed volume is negative."""
    nt = t.shape[0]
    he = np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]])
    tri = np.tile(np.arange(nt), 3)
    key = np.sort(he, axis=1)
    _, inv, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    inv = inv.reshape(-1)
    two = counts[inv] == 2
    order = np.argsort(inv[two], kind="stable")
    h = np.flatnonzero(two)[order]
    a, b = tri[h[0::2]], tri[h[1::2]]
    g = coo_matrix((np.ones(a.size), (a, b)), shape=(nt, nt))
    n_comp, comp = connected_components(g, directed=False)
    open_comp = np.zeros(n_comp, dtype=bool)
    open_comp[comp[tri[~two]]] = True
    p = v[t] - v[t].reshape(-1, 3).mean(axis=0)
    vol6 = np.einsum("ij,ij->i", p[:, 0], np.cross(p[:, 1], p[:, 2]))
    cv = np.bincount(comp, weights=vol6, minlength=n_comp)
    return ((cv < 0) & ~open_comp)[comp]


def _mid_grey_matter(boundaries, tissues, max_mm):
    names = [b.name for b in boundaries]
    if "gm" not in names:
        return None
    gm = boundaries[names.index("gm")]
    if "wm" not in names:
        return Surface(gm.vertices, gm.triangles, name="cortex")
    from .eeg import closest_point_on_surface
    wm = boundaries[names.index("wm")]
    q = closest_point_on_surface(wm, gm.vertices)
    step = 0.5 * (q - gm.vertices)
    ln = np.linalg.norm(step, axis=1, keepdims=True)
    step *= np.minimum(1.0, float(max_mm) / np.maximum(ln, 1e-12))
    return Surface(gm.vertices + step, gm.triangles, name="cortex")


def _check_landmarks(landmarks, scalp, src, tol_mm=10.0):
    out = {}
    for k, p in (landmarks or {}).items():
        key = str(k).lower()
        if key not in LANDMARK_NAMES:
            raise InputError(f"{src}: unknown landmark {k!r}; use {LANDMARK_NAMES}")
        p = np.asarray(p, dtype=np.float64).reshape(-1)
        if p.shape != (3,) or not np.all(np.isfinite(p)):
            raise InputError(f"{src}: landmark {k!r} must be one finite point (3,) in mm")
        d = float(np.min(np.linalg.norm(scalp.vertices - p, axis=1)))
        tol = max(tol_mm, 1.5 * scalp.mean_edge_length)
        if d > tol:
            raise HeadFileError(f"{src}: landmark {k!r} at {np.round(p, 1).tolist()} mm is {d:.1f} mm from the scalp "
                                f"(tolerance {tol:.1f} mm); check its coordinates (mm, the mesh's space)")
        p = p.copy()
        p.setflags(write=False)
        out[key] = p
    return out


def _check_affine(m, src):
    if m is None:
        return None
    m = np.array(m, dtype=np.float64)
    if m.shape != (4, 4) or not np.all(np.isfinite(m)) or not np.allclose(m[3], [0, 0, 0, 1]) \
            or abs(np.linalg.det(m[:3, :3])) < 1e-9:
        raise InputError(f"{src}: mni_transform must be an invertible 4x4 affine (mm) with last row 0 0 0 1")
    m.setflags(write=False)
    return m


def read_charm_mesh(path, *, extra_tissues="map", tissue_map=None, landmarks=None, mni_transform=None,
                    cortex="auto", units="auto"):
    """Read a SimNIBS charm tetrahedral head mesh (gmsh 2.2 ``.msh``) into a :class:`Head` with tissue sides.

    Parameters
    ----------
    path : str or Path
        ``m2m_<subject>/<subject>.msh`` (or any gmsh 2.2 mesh with tetrahedra tagged by SimNIBS tissue).
    extra_tissues, tissue_map, landmarks, mni_transform, cortex
        See :func:`head_from_tetrahedra`.
    units : {"auto", "mm", "m"}
        Unit of the node coordinates; ``"auto"`` decides from the extent.

    Returns
    -------
    Head

    Raises
    ------
    HeadFileError
        Unreadable file (the message names it).
    MeshError
        Unknown tags, a broken volume mesh, inconsistent tissue sides (naming the file and the tags).

    Examples
    --------
    >>> read_charm_mesh("missing.msh")   # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    tmsfield.errors.HeadFileError: mesh file not found: missing.msh
    """
    from .mesh_tools import detect_units_scale
    path = Path(path)
    vol = read_msh_volume(path)
    scale = detect_units_scale(vol.nodes, path, units)
    name = path.name.split(".")[0] or "head"
    return head_from_tetrahedra(vol.nodes * scale, vol.tetrahedra, vol.tags, extra_tissues=extra_tissues,
                                tissue_map=tissue_map, name=name, source=str(path), landmarks=landmarks,
                                mni_transform=mni_transform, cortex=cortex)


def read_simnibs_eeg_csv(path):
    """Positions of a SimNIBS EEG cap file (``m2m_<subject>/eeg_positions/*.csv``), mm.

    Each line is ``Type,x,y,z,Name`` with Type ``Electrode``, ``ReferenceElectrode`` or ``Fiducial``
    (extra columns after the name are ignored).

    Returns
    -------
    (electrodes, fiducials) : two dicts name -> ndarray (3,), mm

    Raises
    ------
    HeadFileError
        Unreadable file or a malformed line (named with its number).

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "EEG10-10.csv")
    >>> _ = open(p, "w").write("Fiducial,0,90,-10,Nz\\nElectrode,-30,60,50,F3\\n")
    >>> el, fid = read_simnibs_eeg_csv(p)
    >>> el["F3"].tolist(), sorted(fid)
    ([-30.0, 60.0, 50.0], ['Nz'])
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HeadFileError(f"{path}: cannot read the EEG positions file ({type(exc).__name__}); expected SimNIBS "
                            f"CSV lines 'Electrode,x,y,z,Name'") from None
    el, fid = {}, {}
    for k, line in enumerate(text.splitlines(), 1):
        f = [x.strip() for x in line.split(",")]
        if not line.strip() or f[0].lower() in ("type", ""):
            continue
        try:
            kind = f[0].lower()
            xyz = np.array([float(x) for x in f[1:4]])
            nm = f[4]
            if kind not in ("electrode", "referenceelectrode", "fiducial") or xyz.shape != (3,) or not nm \
                    or not np.all(np.isfinite(xyz)) or np.abs(xyz).max() > 1000:
                raise ValueError
        except (ValueError, IndexError):
            raise HeadFileError(f"{path}: line {k} is not 'Electrode|ReferenceElectrode|Fiducial,x,y,z,Name' with "
                                f"finite coordinates in mm: {line[:80]!r}") from None
        (fid if kind == "fiducial" else el)[nm] = xyz
    return el, fid


_FIDUCIALS = {"nz": "nasion", "nasion": "nasion", "iz": "inion", "inion": "inion", "lpa": "lpa", "rpa": "rpa"}


def is_m2m_folder(folder):
    """The charm mesh of an ``m2m_<subject>`` folder (``<subject>.msh``), or None.

    Examples
    --------
    >>> is_m2m_folder(".") is None
    True
    """
    folder = Path(folder)
    stem = folder.name[4:] if folder.name.startswith("m2m_") else folder.name
    p = folder / f"{stem}.msh"
    if p.is_file():
        return p
    if folder.name.startswith("m2m_"):
        found = sorted(folder.glob("*.msh"))
        if len(found) == 1:
            return found[0]
    return None


def load_m2m(folder, *, extra_tissues="map", tissue_map=None, landmarks=None, mni_transform=None, units="auto"):
    """Load a SimNIBS charm ``m2m_<subject>/`` folder: mesh, cortex, landmarks and MNI transform.

    Parameters
    ----------
    folder : str or Path
        Holds ``<subject>.msh``; optionally ``surfaces/{lh,rh}.central.gii`` (cortex),
        ``eeg_positions/*.csv`` (fiducials Nz, Iz, LPA, RPA → landmarks) and
        ``toMNI/Conform2MNI_nonl.nii.gz`` (subject → MNI warp; its least-squares affine becomes
        ``mni_transform``).
    extra_tissues, tissue_map
        See :func:`head_from_tetrahedra`.
    landmarks, mni_transform : optional
        Override what the folder provides.
    units : {"auto", "mm", "m"}

    Returns
    -------
    Head

    Raises
    ------
    HeadFileError, MeshError

    Examples
    --------
    >>> load_m2m("m2m_nobody")   # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    tmsfield.errors.HeadFileError: m2m_nobody: no charm mesh
    """
    from .mesh_tools import detect_units_scale
    folder = Path(folder)
    mesh = is_m2m_folder(folder) if folder.is_dir() else None
    if mesh is None:
        raise HeadFileError(f"{folder}: no charm mesh (expected {folder}/<subject>.msh, written by "
                            f"`charm <subject> T1.nii.gz`)")
    vol = read_msh_volume(mesh)
    nodes = vol.nodes * detect_units_scale(vol.nodes, mesh, units)
    cortex = "auto"
    central = [folder / "surfaces" / f"{h}.central.gii" for h in ("lh", "rh")]
    if all(p.is_file() for p in central):
        from .io_surface import read_surface
        parts = [read_surface(p, name="cortex", units="mm") for p in central]
        off = parts[0].n_vertices
        cortex = Surface(np.vstack([parts[0].vertices, parts[1].vertices]),
                         np.vstack([parts[0].triangles, parts[1].triangles + off]), name="cortex")
    if landmarks is None:
        csvs = sorted((folder / "eeg_positions").glob("*.csv")) if (folder / "eeg_positions").is_dir() else []
        for p in csvs:
            _, fid = read_simnibs_eeg_csv(p)
            lm = {_FIDUCIALS[k.lower()]: x for k, x in fid.items() if k.lower() in _FIDUCIALS}
            if len(lm) == 4:
                landmarks = lm
                break
    if mni_transform is None:
        warp = folder / "toMNI" / "Conform2MNI_nonl.nii.gz"
        if warp.is_file():
            mni_transform = _affine_of_warp(warp, nodes)
    return head_from_tetrahedra(nodes, vol.tetrahedra, vol.tags, extra_tissues=extra_tissues, tissue_map=tissue_map,
                                name=folder.name[4:] if folder.name.startswith("m2m_") else folder.name,
                                source=str(mesh), landmarks=landmarks, mni_transform=mni_transform, cortex=cortex)


def _affine_of_warp(path, nodes, n_max=20000):
    """Least-squares subject → MNI affine of a SimNIBS ``Conform2MNI_nonl`` warp, fitted at mesh nodes."""
    from .warps import load_warp
    w = load_warp(path)
    pts = nodes[np.linspace(0, len(nodes) - 1, min(n_max, len(nodes))).astype(int)]
    try:
        mni = w.subject_to_mni(pts)
    except InputError as exc:
        raise HeadFileError(f"{path}: the warp does not cover the head mesh ({exc}); is it the warp of this "
                            f"subject?") from None
    a = np.column_stack([pts, np.ones(len(pts))])
    sol, *_ = np.linalg.lstsq(a, mni, rcond=None)
    m = np.eye(4)
    m[:3, :] = sol.T
    if not np.all(np.isfinite(m)) or abs(np.linalg.det(m[:3, :3])) < 1e-6:
        raise HeadFileError(f"{path}: the warp's affine part is singular; is it a SimNIBS Conform2MNI_nonl warp?")
    return m


def concentric_tetrahedra(radii, tags, subdivisions, centre=(0.0, 0.0, 0.0)):
    """A charm-like tetrahedral mesh of concentric spherical shells, for demonstrations and tests.

    Each layer between two shells (and the innermost ball) is the Delaunay tetrahedralisation
    (:class:`scipy.spatial.Delaunay`) of the two shells' icosphere vertices without the tetrahedra made of
    inner-shell vertices only, so the mesh is conforming and its tissue boundaries are the icosphere
    triangles of each shell. The vertices get a deterministic radial wobble of 1e-6 (exactly co-spherical
    points make Qhull return flat tetrahedra).

    Parameters
    ----------
    radii : sequence of float, increasing, mm
    tags : sequence of int
        ``tags[0]`` fills the ball inside ``radii[0]``, ``tags[k]`` the layer between ``radii[k-1]`` and
        ``radii[k]`` (SimNIBS tissue numbers).
    subdivisions : sequence of int
        Icosphere level of each shell (0..5).
    centre : (3,) mm

    Returns
    -------
    nodes (N, 3) mm, tetrahedra (M, 4) int, tags (M,) int, layer (M,) int (the layer index of each)

    Examples
    --------
    >>> nodes, tets, tags, layer = concentric_tetrahedra([80.0, 95.0], [2, 5], [1, 1])
    >>> head_from_tetrahedra(nodes, tets, tags, cortex=None).boundary_names
    ('scalp', 'gm')
    """
    from scipy.spatial import Delaunay
    from .sphere_mesh import icosphere
    radii = [float(r) for r in radii]
    if len(radii) != len(tags) or len(radii) != len(subdivisions) or not radii or np.any(np.diff(radii) <= 0) \
            or radii[0] <= 0:
        raise InputError("concentric_tetrahedra: radii (increasing, > 0), tags and subdivisions must have one "
                         "entry per shell")
    c = np.asarray(centre, dtype=float).reshape(3)
    shells = []
    for r, sub in zip(radii, subdivisions):
        u = icosphere(1.0, int(sub)).vertices
        wob = 1.0 + 1e-6 * np.sin(12.9898 * np.arange(len(u)) + r)
        shells.append(u * (r * wob)[:, None] + c)
    nodes = np.vstack([c[None]] + shells)
    off = np.cumsum([1] + [len(x) for x in shells])
    tets, tt, layer = [], [], []
    for k in range(len(radii)):
        ids = np.r_[0, np.arange(off[0], off[1])] if k == 0 else np.arange(off[k - 1], off[k + 1])
        sim = ids[Delaunay(nodes[ids]).simplices]
        if k > 0:
            sim = sim[~np.all(sim < off[k], axis=1)]
        tets.append(sim)
        tt.append(np.full(len(sim), int(tags[k])))
        layer.append(np.full(len(sim), k))
    return nodes, np.concatenate(tets), np.concatenate(tt), np.concatenate(layer)
