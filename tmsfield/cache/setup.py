"""Solver set-up artefacts on the store: what is cached, under which key, and how it is rebuilt.

Each function takes a store (:class:`~tmsfield.cache.store.SetupStore`, or None for no cache), a
solver-like object and a ``build`` callable that computes the artefact the usual way; it returns
the artefact, from the store when an intact entry exists (built and stored otherwise). The key
covers everything the artefact depends on: the triangle vertices of every boundary, the
conductivities and the contrasts they give, the near-field rule, the artefact's own parameters,
and (through :func:`~tmsfield.cache.store.make_key`) the package version.

Measured on ``mni152_coarse`` (15,520 triangles, 10,242 cortex points; 2-core Xeon, loaded machine,
2026-12-04): near-field operator 13 s, cortex evaluation operator 9 s, dense float32 LU 40 s
(0.96 GB), the 70 mm figure-8 coil's far-field surrogate 11 s, the fast-placement map ~50 s.

The solver needs only the attributes ``tri_vertices``, ``tri_contrast``, ``conductivities`` and
``near_factor`` (and ``n_triangles``), so this module does not depend on the solver's internals.
"""

import numpy as np
import scipy.sparse as sp

from .. import _progress
from .store import make_key

__all__ = ["solver_key", "cached_lu", "cached_near_operator", "cached_evaluation_operator",
           "cached_surrogate", "coil_fingerprint"]

#: bump when the matrix assembly of the solver changes what an artefact holds
ASSEMBLY_VERSION = 1


def _mesh_parts(solver):
    return dict(tri_vertices=np.asarray(solver.tri_vertices, np.float64),
                tri_contrast=np.asarray(solver.tri_contrast, np.float64),
                conductivities=np.ravel(np.asarray(getattr(solver, "conductivities", []), np.float64)),
                near_factor=float(solver.near_factor), assembly=ASSEMBLY_VERSION)


def solver_key(solver, kind, **extra):
    """Key of a solver artefact ``kind``: the mesh, conductivities, near-field rule and ``extra``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> s = SimpleNamespace(tri_vertices=np.zeros((1, 3, 3)), tri_contrast=np.ones(1), conductivities=[1.0],
    ...                     near_factor=3.0)
    >>> solver_key(s, "bem-lu") != solver_key(s, "bem-lu", rank=3)
    True
    """
    return make_key(kind, **_mesh_parts(solver), **extra)


def _describe(solver, what):
    return f"{what} of {getattr(solver, 'name', 'head')} ({int(solver.n_triangles):,} triangles)"


def _waiting(desc):
    return lambda: _progress.note(f"waiting for another process building the {desc}")


def cached_lu(store, solver, build):
    """``(lu, piv)`` of :func:`scipy.linalg.lu_factor` for the solver's dense matrix; ``build()`` makes it.

    From the store the factor is memory-mapped (copy-on-write) (4 T² bytes shared through the page cache).
    """
    desc = _describe(solver, "dense LU of the BEM matrix")
    if store is None:
        with _progress.step(desc):
            return build()
    key = solver_key(solver, "bem-lu", dtype="float32")

    def make():
        with _progress.step(desc):
            lu, piv = build()
        return {"lu": lu, "piv": np.asarray(piv, np.int32)}, {}

    arrays, _, built = store.get_or_build("bem-lu", key, make, description=desc, on_wait=_waiting(desc))
    return arrays["lu"], arrays["piv"]


def _csr_arrays(m):
    m = m.tocsr()
    return {"data": m.data, "indices": m.indices.astype(np.int64), "indptr": m.indptr.astype(np.int64),
            "shape": np.asarray(m.shape, np.int64)}


def _csr_from(arrays):
    shape = tuple(int(v) for v in arrays["shape"])
    return sp.csr_matrix((np.asarray(arrays["data"]), np.asarray(arrays["indices"]), np.asarray(arrays["indptr"])),
                         shape=shape)


def cached_near_operator(store, solver, build):
    """The sparse near-field operator (T × T, CSR) and its pair count; ``build()`` returns the matrix
    (and sets ``solver.n_near_pairs``)."""
    desc = _describe(solver, "near-field corrections")
    if store is None:
        with _progress.step(desc):
            return build()
    key = solver_key(solver, "bem-near")

    def make():
        with _progress.step(desc):
            m = build()
        return _csr_arrays(m), {"n_near_pairs": int(getattr(solver, "n_near_pairs", 0))}

    arrays, meta, built = store.get_or_build("bem-near", key, make, description=desc, on_wait=_waiting(desc),
                                             mmap=False)
    if not built:
        solver.n_near_pairs = int(meta.get("n_near_pairs", 0))
    return _csr_from(arrays)


def cached_evaluation_operator(store, solver, points, build, what="cortex points"):
    """``(points, near)`` of the solver's evaluation operator at ``points``; ``build()`` computes it
    (with the inside check, which a stored entry passed when it was built)."""
    pts = np.ascontiguousarray(points, np.float64)
    desc = _describe(solver, f"near-field corrections at {pts.shape[0]:,} {what}")
    if store is None:
        with _progress.step(desc):
            return build()
    key = solver_key(solver, "bem-eval", points=pts)

    def make():
        with _progress.step(desc):
            _, near = build()
        return _csr_arrays(near), {}

    arrays, _, _ = store.get_or_build("bem-eval", key, make, description=desc, on_wait=_waiting(desc), mmap=False)
    return pts, _csr_from(arrays)


_COIL_ARRAYS = ("segment_start_mm", "segment_end_mm", "segment_current", "dipole_positions_mm", "dipole_moments")


def coil_fingerprint(coil):
    """The arrays of a coil's sources (for keys of coil-dependent artefacts)."""
    parts = {}
    for attr in ("segment_start_mm", "segment_end_mm", "segment_current", "dipole_positions_mm", "dipole_moments"):
        a = getattr(coil, attr, None)
        parts[attr] = np.asarray(a if a is not None else [], np.float64)
    return parts


def cached_surrogate(store, coil, build, **params):
    """A coil's far-field surrogate (:class:`tmsfield.coils.far_field.FarFieldSurrogate`), or None.

    ``build()`` fits it (or returns None when the coil has none). Its ``rest`` part (sources outside
    the box, e.g. a wire coil's leads: a Coil of segments and dipoles) is stored as its source arrays.
    """
    from ..coils.far_field import FarFieldSurrogate
    desc = f"far-field surrogate of coil {getattr(coil, 'name', '?')}"
    if store is None:
        with _progress.step(desc):
            return build()
    key = make_key("coil-surrogate", **coil_fingerprint(coil), params=params)
    hit = store.load("coil-surrogate", key, mmap=False)
    if hit is not None:
        a, meta = hit
        if meta.get("none"):
            return None
        rest = None
        if meta.get("has_rest"):
            from ..coils.coil import Coil
            rest = Coil(name=str(meta.get("rest_name", getattr(coil, "name", "coil"))),
                        **{k: np.array(a["rest_" + k]) for k in _COIL_ARRAYS})
        return FarFieldSurrogate(np.array(a["positions_mm"]), np.array(a["moments"]), np.array(a["box_lo_mm"]),
                                 np.array(a["box_hi_mm"]), float(meta["distance_mm"]), float(meta["max_error"]),
                                 int(meta["n_coil_sources"]), float(meta["field_scale"]), rest)
    with store.build_lock("coil-surrogate", key, on_wait=_waiting(desc)):
        hit = store.load("coil-surrogate", key, mmap=False)
        if hit is not None:
            return cached_surrogate(store, coil, build, **params)
        with _progress.step(desc):
            sur = build()
        if sur is None:
            store.save("coil-surrogate", key, {}, {"none": True}, description=desc)
        else:
            arrays = {"positions_mm": sur.positions_mm, "moments": sur.moments, "box_lo_mm": sur.box_lo_mm,
                      "box_hi_mm": sur.box_hi_mm}
            meta = {"distance_mm": float(sur.distance_mm), "max_error": float(sur.max_error),
                    "n_coil_sources": int(sur.n_coil_sources), "field_scale": float(sur.field_scale),
                    "has_rest": sur.rest is not None}
            if sur.rest is not None:
                arrays.update({"rest_" + k: np.asarray(getattr(sur.rest, k), np.float64) for k in _COIL_ARRAYS})
                meta["rest_name"] = str(sur.rest.name)
            store.save("coil-surrogate", key, arrays, meta, description=desc)
    return sur
