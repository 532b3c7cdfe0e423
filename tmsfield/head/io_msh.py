"""Read and write gmsh ``.msh`` format 2.2 triangle surfaces (ASCII and binary), as written by SimNIBS.

Only what a head model needs is read: the ``$Nodes`` block and the triangles (element type 2)
of the ``$Elements`` block, grouped by their *physical* tag (the first element tag). SimNIBS
tags the boundary triangles of tissue ``k`` with ``1000 + k`` (1001 white matter, 1002 grey
matter, 1003 CSF, 1004 skull, 1005 scalp), each surface being the *outer* boundary of that
tissue. :func:`read_msh_volume` reads the tetrahedra (element type 4) with their tissue tags
(SimNIBS: 1 white matter ... 10 muscle, see :mod:`tmsfield.head.charm`). Other element types are skipped.

Format reference: gmsh reference manual, "MSH file format version 2 (legacy)".
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._atomic import atomic_write_bytes
from ..errors import HeadFileError
from .surface import Surface

__all__ = ["read_msh", "read_msh_surfaces", "write_msh_surfaces", "read_msh_volume", "write_msh_volume", "MshVolume",
           "SIMNIBS_SURFACE_TAGS"]

#: SimNIBS triangle tag -> the boundary it is (outer surface of tissue ``tag - 1000``).
SIMNIBS_SURFACE_TAGS = {1005: "scalp", 1004: "skull_outer", 1003: "skull_inner", 1002: "gm", 1001: "wm"}

# number of nodes per element type (gmsh 2.2 types 1..15 we may meet while skipping)
_NODES_PER_TYPE = {1: 2, 2: 3, 3: 4, 4: 4, 5: 8, 6: 6, 7: 5, 8: 3, 9: 6, 10: 9, 11: 10, 12: 27,
                   13: 18, 14: 14, 15: 1, 16: 8, 17: 20, 18: 15, 19: 13}


def _compact(nodes_xyz, node_index, tri_node_ids, name, path, width=3):
    """Map gmsh node ids of one tag's triangles (or of the tetrahedra) to a compact vertex array."""
    try:
        rows = node_index(tri_node_ids.ravel())
    except KeyError as exc:
        raise HeadFileError(f"{path}: element {name} refers to node {exc} which is not in $Nodes; "
                            f"the file is truncated or corrupt — re-export it from gmsh/SimNIBS") from None
    used, inverse = np.unique(rows, return_inverse=True)
    return nodes_xyz[used], inverse.reshape(-1, width)


def _node_lookup(ids):
    """Return a function mapping gmsh node ids -> row numbers (fast path for contiguous ids)."""
    ids = np.asarray(ids, dtype=np.int64)
    if ids.size and ids[0] == 1 and np.array_equal(ids, np.arange(1, ids.size + 1)):
        n = ids.size

        def lookup(q):
            q = np.asarray(q, dtype=np.int64)
            bad = (q < 1) | (q > n)
            if bad.any():
                raise KeyError(int(q[bad][0]))
            return q - 1
        return lookup
    order = np.argsort(ids)
    sorted_ids = ids[order]

    def lookup(q):
        q = np.asarray(q, dtype=np.int64)
        pos = np.searchsorted(sorted_ids, q)
        pos = np.clip(pos, 0, sorted_ids.size - 1)
        bad = sorted_ids[pos] != q
        if bad.any():
            raise KeyError(int(q[bad][0]))
        return order[pos]
    return lookup


class _Reader:
    def __init__(self, data, path):
        self.data = data
        self.pos = 0
        self.path = path

    def line(self):
        end = self.data.find(b"\n", self.pos)
        if end < 0:
            if self.pos >= len(self.data):
                raise HeadFileError(f"{self.path}: unexpected end of file (a section is not closed); "
                                    f"the file is truncated — re-export it")
            end = len(self.data)
        s = self.data[self.pos:end]
        self.pos = end + 1
        return s.decode("latin-1").strip()

    def skip_to(self, marker):
        idx = self.data.find(marker.encode(), self.pos)
        if idx < 0:
            raise HeadFileError(f"{self.path}: missing {marker!r}; the file is truncated or not gmsh 2.2")
        self.pos = idx
        self.line()

    def take(self, nbytes):
        if self.pos + nbytes > len(self.data):
            raise HeadFileError(f"{self.path}: binary block ends early (needs {nbytes} bytes at offset "
                                f"{self.pos}); the file is truncated — re-export it")
        b = self.data[self.pos:self.pos + nbytes]
        self.pos += nbytes
        return b


def _parse_msh(path, wanted):
    """Nodes and the elements of the ``wanted`` types of a gmsh 2.2 file.

    Returns ``(xyz (N, 3), node_ids (N,), {etype: (tags (M,), node ids (M, k))})``; HeadFileError naming the
    file on anything malformed.
    """
    path = Path(path)
    if not path.is_file():
        raise HeadFileError(f"mesh file not found: {path}; check the path (SimNIBS meshes are in the m2m_<subject> "
                            f"folder or the subject folder, named <subject>.msh)")
    data = path.read_bytes()
    r = _Reader(data, path)
    if not data.lstrip().startswith(b"$MeshFormat"):
        raise HeadFileError(f"{path}: not a gmsh mesh (no $MeshFormat header); expected gmsh format 2.2 "
                            f"(in gmsh: File > Export, 'Version 2 ASCII' or binary)")
    r.skip_to("$MeshFormat")
    parts = r.line().split()
    if len(parts) < 3:
        raise HeadFileError(f"{path}: malformed $MeshFormat line {parts!r}")
    try:
        version, file_type, data_size = parts[0], int(parts[1]), int(parts[2])
    except ValueError:
        raise HeadFileError(f"{path}: malformed $MeshFormat line {' '.join(parts)!r}; expected "
                            f"'2.2 <0 ascii|1 binary> 8'") from None
    if not version.startswith("2"):
        raise HeadFileError(f"{path}: gmsh format {version} is not supported; convert it to format 2.2, "
                            f"e.g. `gmsh {path.name} -save -format msh22 -o out.msh`")
    binary = file_type == 1
    if binary:
        if data_size != 8:
            raise HeadFileError(f"{path}: binary mesh with data size {data_size}; only 8-byte doubles supported")
        one = r.take(4)
        if np.frombuffer(one, "<i4")[0] == 1:
            endian = "<"
        elif np.frombuffer(one, ">i4")[0] == 1:
            endian = ">"
        else:
            raise HeadFileError(f"{path}: cannot determine byte order of the binary mesh")
    r.skip_to("$Nodes")
    try:
        n_nodes = int(r.line())
    except ValueError:
        raise HeadFileError(f"{path}: the line after $Nodes must be the node count") from None
    # bound the count by the file before allocating anything: a node takes >= 8 bytes of text, 28 in binary
    if not 1 <= n_nodes <= (len(data) - r.pos) // (28 if binary else 8):
        raise HeadFileError(f"{path}: $Nodes announces {n_nodes} nodes, impossible in a file of {len(data)} bytes; "
                            f"the file is truncated or corrupt — re-export it")
    if binary:
        rec = np.dtype([("id", endian + "i4"), ("xyz", endian + "f8", (3,))])
        nodes = np.frombuffer(r.take(rec.itemsize * n_nodes), dtype=rec)
        node_ids = nodes["id"].astype(np.int64)
        xyz = nodes["xyz"].astype(np.float64)
    else:
        start = r.pos
        end = data.find(b"$EndNodes", start)
        if end < 0:
            raise HeadFileError(f"{path}: missing $EndNodes; the file is truncated")
        try:
            arr = np.array(data[start:end].split(), dtype=np.float64).reshape(n_nodes, 4)
        except ValueError:
            raise HeadFileError(f"{path}: $Nodes block does not hold {n_nodes} rows 'id x y z'") from None
        ids = arr[:, 0]
        if not np.all((ids == np.round(ids)) & (np.abs(ids) < 2**31)):
            raise HeadFileError(f"{path}: $Nodes holds a node id that is not a whole number below 2^31 "
                                f"(row {int(np.flatnonzero(~((ids == np.round(ids)) & (np.abs(ids) < 2**31)))[0]) + 1})")
        node_ids = ids.astype(np.int64)
        xyz = arr[:, 1:]
        r.pos = end
    if not np.all(np.isfinite(xyz)):
        raise HeadFileError(f"{path}: node coordinates contain NaN/inf")
    r.skip_to("$Elements")
    try:
        n_elem = int(r.line())
    except ValueError:
        raise HeadFileError(f"{path}: the line after $Elements must be the element count") from None
    found = {t: ([], []) for t in wanted}
    if binary:
        done = 0
        while done < n_elem:
            etype, n_follow, n_tags = (int(v) for v in np.frombuffer(r.take(12), endian + "i4"))  # Python ints:
            if etype not in _NODES_PER_TYPE or n_follow <= 0 or n_tags < 0:       # no int32 overflow below
                raise HeadFileError(f"{path}: corrupt binary element header (type {etype}, count {n_follow}, "
                                    f"{n_tags} tags); the file is corrupt — re-export it")
            width = 1 + n_tags + _NODES_PER_TYPE[etype]
            block = np.frombuffer(r.take(4 * width * n_follow), endian + "i4").reshape(n_follow, width)
            if etype in found:
                if n_tags < 1:
                    raise HeadFileError(f"{path}: elements of type {etype} without a physical tag")
                found[etype][0].append(block[:, 1])
                found[etype][1].append(block[:, 1 + n_tags:])
            done += int(n_follow)
    else:
        for k in range(n_elem):
            fields = r.line().split()
            try:
                vals = [int(f) for f in fields]
                etype, n_tags = vals[1], vals[2]
                if any(abs(v) >= 2**31 for v in vals):
                    raise ValueError
            except (ValueError, IndexError):
                raise HeadFileError(f"{path}: element {k + 1} of $Elements is malformed: {' '.join(fields)!r}") \
                    from None
            if etype in found:
                if n_tags < 1 or len(vals) != 3 + n_tags + _NODES_PER_TYPE[etype]:
                    raise HeadFileError(f"{path}: element line {' '.join(fields)!r} (type {etype}) is malformed")
                found[etype][0].append(vals[3])
                found[etype][1].append(vals[3 + n_tags:])
    out = {}
    for etype, (tags, nodes) in found.items():
        k = _NODES_PER_TYPE[etype]
        if not tags:
            out[etype] = (np.zeros(0, np.int64), np.zeros((0, k), np.int64))
        elif binary:
            out[etype] = (np.concatenate(tags).astype(np.int64), np.concatenate(nodes).astype(np.int64).reshape(-1, k))
        else:
            out[etype] = (np.asarray(tags, np.int64), np.asarray(nodes, np.int64).reshape(-1, k))
    return xyz, node_ids, out


def read_msh_surfaces(path):
    """Read the triangle surfaces of a gmsh 2.2 ``.msh`` file (ASCII or binary), grouped by physical tag.

    Parameters
    ----------
    path : str or Path
        A gmsh format 2.2 mesh (e.g. a SimNIBS head mesh ``*.msh``). Coordinates are returned as
        stored (SimNIBS writes mm).

    Returns
    -------
    dict of int -> Surface
        One surface per physical tag of the triangles (element type 2), vertices (V, 3) in the file's
        unit (mm for SimNIBS), triangles (T, 3) as stored, renumbered compactly. Surfaces are named
        ``"tag<k>"``; see :data:`SIMNIBS_SURFACE_TAGS` for SimNIBS' meaning.

    Raises
    ------
    HeadFileError
        Missing file, not gmsh 2.2, truncated blocks, no triangles.

    Examples
    --------
    >>> from tmsfield.head import icosphere
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "s.msh")
    >>> write_msh_surfaces(p, {1005: icosphere(95.0, 2)})
    >>> s = read_msh_surfaces(p)[1005]
    >>> s.n_triangles
    320
    """
    return read_msh(Path(path), volume=False)[0]


def read_msh(path, volume=True):
    """Triangle surfaces by tag and (optionally) the tetrahedra of a gmsh 2.2 file, from one pass.

    Returns
    -------
    (dict of int -> Surface, MshVolume or None)
        The surfaces as :func:`read_msh_surfaces` (an empty dict when the file has no triangles but has
        tetrahedra), the tetrahedra as :func:`read_msh_volume` (None when there are none or
        ``volume=False``).

    Examples
    --------
    >>> from tmsfield.head import icosphere
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "s.msh")
    >>> write_msh_surfaces(p, {1005: icosphere(95.0, 1)})
    >>> surfaces, vol = read_msh(p)
    >>> sorted(surfaces), vol is None
    ([1005], True)
    """
    path = Path(path)
    xyz, node_ids, elems = _parse_msh(path, (2, 4) if volume else (2,))
    tags, tris = elems[2]
    has_tets = volume and elems[4][0].size > 0
    if not tags.size and not has_tets:
        raise HeadFileError(f"{path}: no triangles (element type 2) found; export the boundary surfaces "
                            f"(SimNIBS meshes carry them with tags 1001..1005)" +
                            (" or the tetrahedra (element type 4)" if volume else ""))
    lookup = _node_lookup(node_ids)
    out = {}
    for tag in np.unique(tags):
        v, t = _compact(xyz, lookup, tris[tags == tag], f"of tag {int(tag)}", path)
        out[int(tag)] = Surface(v, t, name=f"tag{int(tag)}")
    vol = None
    if has_tets:
        ttags, tets = elems[4]
        v, t = _compact(xyz, lookup, tets, "of the tetrahedra", path, width=4)
        vol = MshVolume(v, t, ttags, str(path))
    return out, vol


def write_msh_surfaces(path, surfaces, binary=True):
    """Write triangle surfaces as a gmsh 2.2 mesh (one physical tag per surface), atomically.

    Parameters
    ----------
    path : str or Path
        Output file.
    surfaces : dict of int -> Surface
        Physical tag -> surface (vertices in mm).
    binary : bool
        Binary (default) or ASCII format.

    Examples
    --------
    >>> from tmsfield.head import icosphere
    >>> import tempfile, os
    >>> write_msh_surfaces(os.path.join(tempfile.mkdtemp(), "a.msh"), {1: icosphere(10.0, 1)}, binary=False)
    """
    path = Path(path)
    verts, elems, offset = [], [], 0
    for tag, s in surfaces.items():
        verts.append(s.vertices)
        elems.append((int(tag), s.triangles + offset + 1))
        offset += s.n_vertices
    xyz = np.vstack(verts)
    from .._outputs import require_finite
    require_finite(np.asarray(xyz, float), "the mesh node (mm)", path)
    n = xyz.shape[0]
    n_elem = sum(t.shape[0] for _, t in elems)
    chunks = [b"$MeshFormat\n", b"2.2 1 8\n" if binary else b"2.2 0 8\n"]
    if binary:
        chunks.append(np.array([1], "<i4").tobytes() + b"\n")
    chunks.append(b"$EndMeshFormat\n$Nodes\n%d\n" % n)
    if binary:
        rec = np.zeros(n, dtype=[("id", "<i4"), ("xyz", "<f8", (3,))])
        rec["id"] = np.arange(1, n + 1)
        rec["xyz"] = xyz
        chunks.append(rec.tobytes() + b"\n")
    else:
        chunks.append("".join(f"{i + 1} {x!r} {y!r} {z!r}\n" for i, (x, y, z) in
                              enumerate(xyz.tolist())).encode())
    chunks.append(b"$EndNodes\n$Elements\n%d\n" % n_elem)
    eid = 1
    for tag, t in elems:
        m = t.shape[0]
        ids = np.arange(eid, eid + m)
        if binary:
            chunks.append(np.array([2, m, 2], "<i4").tobytes())
            block = np.column_stack([ids, np.full(m, tag), np.full(m, tag), t]).astype("<i4")
            chunks.append(block.tobytes())
        else:
            chunks.append("".join(f"{i} 2 2 {tag} {tag} {a + 0} {b + 0} {c + 0}\n" for i, (a, b, c) in
                                  zip(ids.tolist(), t.tolist())).encode())
        eid += m
    if binary:
        chunks.append(b"\n")
    chunks.append(b"$EndElements\n")
    atomic_write_bytes(path, b"".join(chunks))


@dataclass(frozen=True, eq=False)
class MshVolume:
    """The tetrahedra of a gmsh 2.2 mesh.

    Attributes
    ----------
    nodes : ndarray (N, 3)
        Node coordinates as stored (SimNIBS: mm).
    tetrahedra : ndarray (M, 4) of int
        Rows of ``nodes`` (0-based).
    tags : ndarray (M,) of int
        Physical tag of each tetrahedron (SimNIBS: tissue number 1..10).
    source : str
        The file.
    """

    nodes: np.ndarray
    tetrahedra: np.ndarray
    tags: np.ndarray
    source: str = ""


def read_msh_volume(path):
    """Read the tetrahedra (element type 4) of a gmsh 2.2 ``.msh`` file (ASCII or binary) with their tags.

    Parameters
    ----------
    path : str or Path
        A gmsh format 2.2 mesh with tetrahedra (e.g. the ``m2m_<subject>/<subject>.msh`` of SimNIBS charm).

    Returns
    -------
    MshVolume
        ``nodes`` (N, 3) as stored (mm for SimNIBS), ``tetrahedra`` (M, 4) 0-based rows of ``nodes`` (only
        the nodes the tetrahedra use are kept), ``tags`` (M,) the physical tag of each.

    Raises
    ------
    HeadFileError
        Missing file, not gmsh 2.2, truncated blocks, no tetrahedra, a tetrahedron naming a missing node.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "t.msh")
    >>> nodes = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0], [0, 0, 10.0]])
    >>> write_msh_volume(p, nodes, [[0, 1, 2, 3]], [5])
    >>> m = read_msh_volume(p)
    >>> m.tetrahedra.tolist(), m.tags.tolist()
    ([[0, 1, 2, 3]], [5])
    """
    path = Path(path)
    vol = read_msh(path)[1]
    if vol is None:
        raise HeadFileError(f"{path}: no tetrahedra (element type 4) found; a head mesh of tissues needs the "
                            f"volume elements (SimNIBS charm writes them to m2m_<subject>/<subject>.msh)")
    return vol


def write_msh_volume(path, nodes, tetrahedra, tags, surfaces=None, binary=True):
    """Write tetrahedra (and optionally tagged triangle surfaces) as a gmsh 2.2 mesh, atomically.

    Parameters
    ----------
    path : str or Path
    nodes : array_like (N, 3), mm
    tetrahedra : array_like (M, 4) of int
        0-based rows of ``nodes``.
    tags : array_like (M,) of int
        Physical tag per tetrahedron (SimNIBS tissue numbers).
    surfaces : dict of int -> (K, 3) int array, optional
        Extra triangles (0-based rows of ``nodes``) per physical tag, e.g. SimNIBS' 1001..1010.
    binary : bool

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> nodes = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0], [0, 0, 10.0]])
    >>> write_msh_volume(os.path.join(tempfile.mkdtemp(), "t.msh"), nodes, [[0, 1, 2, 3]], [5], binary=False)
    """
    from .._outputs import require_finite
    path = Path(path)
    xyz = np.asarray(nodes, dtype=np.float64).reshape(-1, 3)
    require_finite(xyz, "the mesh node (mm)", path)
    tets = np.asarray(tetrahedra, dtype=np.int64).reshape(-1, 4)
    tags = np.asarray(tags, dtype=np.int64).reshape(-1)
    groups = [(4, int(g), tets[tags == g]) for g in np.unique(tags)]
    for g, tri in (surfaces or {}).items():
        groups.append((2, int(g), np.asarray(tri, dtype=np.int64).reshape(-1, 3)))
    n = xyz.shape[0]
    n_elem = sum(e.shape[0] for _, _, e in groups)
    chunks = [b"$MeshFormat\n", b"2.2 1 8\n" if binary else b"2.2 0 8\n"]
    if binary:
        chunks.append(np.array([1], "<i4").tobytes() + b"\n")
    chunks.append(b"$EndMeshFormat\n$Nodes\n%d\n" % n)
    if binary:
        rec = np.zeros(n, dtype=[("id", "<i4"), ("xyz", "<f8", (3,))])
        rec["id"] = np.arange(1, n + 1)
        rec["xyz"] = xyz
        chunks.append(rec.tobytes() + b"\n")
    else:
        chunks.append("".join(f"{i + 1} {x!r} {y!r} {z!r}\n" for i, (x, y, z) in enumerate(xyz.tolist())).encode())
    chunks.append(b"$EndNodes\n$Elements\n%d\n" % n_elem)
    eid = 1
    for etype, tag, e in groups:
        m = e.shape[0]
        ids = np.arange(eid, eid + m)
        if binary:
            chunks.append(np.array([etype, m, 2], "<i4").tobytes())
            chunks.append(np.column_stack([ids, np.full(m, tag), np.full(m, tag), e + 1]).astype("<i4").tobytes())
        else:
            chunks.append("".join(f"{i} {etype} 2 {tag} {tag} " + " ".join(str(x + 1) for x in row) + "\n"
                                  for i, row in zip(ids.tolist(), e.tolist())).encode())
        eid += m
    if binary:
        chunks.append(b"\n")
    chunks.append(b"$EndElements\n")
    atomic_write_bytes(path, b"".join(chunks))
