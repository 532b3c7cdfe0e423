"""Tissue conductivities (S/m) and the conductivity contrast of each BEM boundary.

Defaults (S/m), the values used by SimNIBS and most TMS modelling papers (Wagner et al.
2004, IEEE TBME 51: 1586; Thielscher et al. 2011, NeuroImage 54: 234; Opitz et al. 2011):
scalp 0.465, skull 0.010, CSF 1.654, grey matter 0.275, white matter 0.126. ``brain``
(0.275, the grey-matter value) is the conductivity used for a *lumped* brain compartment,
i.e. a head whose innermost region stands for CSF + grey + white matter together (as the
three-shell sphere of the literature). Only the innermost-region value matters in an
exactly spherical model; in a realistic head the lumped value is an approximation.

Further tissues of SimNIBS charm segmentations get the SimNIBS defaults (SimNIBS documentation,
"Conductivity values"): eyes 0.5, compact bone 0.008, spongy bone 0.025, blood 0.6, muscle 0.16.
Heads whose surfaces are not one nested stack give the tissue on both sides of every triangle
(``Head.sides``); :func:`triangle_contrasts` turns those into per-triangle contrasts.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..errors import SolverError

__all__ = ["DEFAULT_CONDUCTIVITIES", "tissue_conductivities", "boundary_contrasts", "triangle_contrasts",
           "TriangleContrasts"]

DEFAULT_CONDUCTIVITIES = {
    "scalp": 0.465,
    "skull": 0.010,
    "csf": 1.654,
    "gm": 0.275,
    "wm": 0.126,
    "brain": 0.275,
    "eyes": 0.5,
    "compact_bone": 0.008,
    "spongy_bone": 0.025,
    "blood": 0.6,
    "muscle": 0.16,
}

#: the name of the non-conducting outside (σ = 0) in ``Head.sides``
AIR = "air"

_ALIASES = {
    "skin": "scalp", "head": "scalp", "bone": "skull", "cerebrospinal_fluid": "csf",
    "grey_matter": "gm", "gray_matter": "gm", "greymatter": "gm", "graymatter": "gm", "grey": "gm", "gray": "gm",
    "white_matter": "wm", "whitematter": "wm", "white": "wm", "cortex": "gm",
    "eye": "eyes", "eye_balls": "eyes", "eyeballs": "eyes", "eyeball": "eyes",
    "compactbone": "compact_bone", "spongybone": "spongy_bone", "muscles": "muscle",
}


def _canonical(name):
    key = str(name).strip().lower().replace(" ", "_").replace("-", "_")
    return _ALIASES.get(key, key)


def _check_value(value, what):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SolverError(f"conductivity of {what} must be a number in S/m; got {value!r}") from None
    if not np.isfinite(v) or v <= 0:
        raise SolverError(f"conductivity of {what} must be positive and finite (S/m); got {value!r}. "
                          f"Use e.g. {DEFAULT_CONDUCTIVITIES['skull']} for skull, "
                          f"{DEFAULT_CONDUCTIVITIES['scalp']} for scalp.")
    return v


def tissue_conductivities(tissues, overrides=None):
    """Conductivity (S/m) of each tissue, from the defaults and a user dict of overrides.

    Parameters
    ----------
    tissues : sequence of str
        Tissue names, outermost first (e.g. ``("scalp", "skull", "csf")``).
    overrides : dict of str -> float, optional
        Tissue name -> S/m; replaces the default for that tissue.

    Returns
    -------
    ndarray, shape (len(tissues),), S/m

    Raises
    ------
    SolverError
        Unknown tissue without an override, unknown override key, non-positive value.

    Examples
    --------
    >>> tissue_conductivities(["scalp", "skull", "brain"], {"skull": 0.02}).tolist()
    [0.465, 0.02, 0.275]
    """
    over = {}
    if overrides is not None:
        if not isinstance(overrides, Mapping):
            raise SolverError(f"conductivities for a Head must be a dict tissue -> S/m; got {type(overrides).__name__}")
        names = {_canonical(t) for t in tissues}
        for key, value in overrides.items():
            k = _canonical(key)
            if k not in names:
                raise SolverError(f"conductivity given for tissue {key!r}, which this head does not have; "
                                  f"its tissues are {list(tissues)}")
            over[k] = _check_value(value, f"tissue {key!r}")
    out = []
    for t in tissues:
        k = _canonical(t)
        if k in over:
            out.append(over[k])
        elif k in DEFAULT_CONDUCTIVITIES:
            out.append(DEFAULT_CONDUCTIVITIES[k])
        else:
            raise SolverError(f"no default conductivity for tissue {t!r}; pass conductivities={{{t!r}: value_S_per_m}}. "
                              f"Known tissues: {sorted(DEFAULT_CONDUCTIVITIES)}")
    return np.asarray(out, dtype=np.float64)


def boundary_contrasts(sigmas):
    """Contrast K = (σ₋ − σ₊)/(σ₋ + σ₊) of each nested boundary (outermost first).

    ``sigmas[k]`` is the conductivity just inside boundary k; outside boundary 0 is air
    (σ = 0), so K[0] = 1.

    Examples
    --------
    >>> boundary_contrasts([0.465, 0.01, 0.275]).round(4).tolist()
    [1.0, -0.9579, 0.9298]
    """
    s = np.asarray(sigmas, dtype=np.float64)
    for k, v in enumerate(s):
        _check_value(v, f"compartment {k}")
    outer = np.concatenate([[0.0], s[:-1]])
    return (s - outer) / (s + outer)


@dataclass(frozen=True)
class TriangleContrasts:
    """Per-triangle conductivities and contrasts of a head given by the tissues on both sides.

    Attributes
    ----------
    contrast : ndarray (T,)
        K = (σin − σout)/(σin + σout) per triangle, all surfaces concatenated in order.
    sigma_in, sigma_out : ndarray (T,), S/m
        Conductivity on the inner side (the side the normal points away from) and the outer side;
        σout = 0 where the outside is air.
    tissues : tuple of str
        The distinct tissues met (canonical names, sorted), air excluded.
    conductivities : ndarray (len(tissues),), S/m
        Their conductivities.
    """

    contrast: np.ndarray
    sigma_in: np.ndarray
    sigma_out: np.ndarray
    tissues: tuple
    conductivities: np.ndarray


def triangle_contrasts(sides, overrides=None, surface_names=None):
    """Contrast K = (σin − σout)/(σin + σout) of every boundary triangle from the tissues on its two sides.

    Parameters
    ----------
    sides : sequence of array_like (T_k, 2) of str
        One per surface, outermost first (as ``Head.triangle_sides()``): column 0 the tissue inside
        each triangle, column 1 the tissue outside; ``"air"`` (σ = 0) may appear only outside.
    overrides : dict of str -> float, optional
        Tissue name -> S/m replacing :data:`DEFAULT_CONDUCTIVITIES` (names are matched after the
        usual aliases, e.g. ``"grey_matter"`` → ``"gm"``).
    surface_names : sequence of str, optional
        Names used in error messages (default ``"surface k"``).

    Returns
    -------
    TriangleContrasts
        ``contrast``, ``sigma_in``, ``sigma_out`` of shape (T,) = Σ T_k, surfaces concatenated.

    Raises
    ------
    SolverError
        A triangle with the same tissue on both sides, air inside a triangle, a first (outermost)
        surface that does not have air outside everywhere, an unknown tissue without an override, an
        override for a tissue the head does not have, or a malformed ``sides`` array — the message
        names the surface and the first bad triangle.

    Examples
    --------
    >>> import numpy as np
    >>> sides = [np.array([["scalp", "air"]] * 2), np.array([["brain", "scalp"], ["csf", "scalp"]])]
    >>> triangle_contrasts(sides).contrast.round(4).tolist()
    [1.0, 1.0, -0.2568, 0.5611]
    """
    sides = list(sides)
    if not sides:
        raise SolverError("no surfaces: sides must hold one (T_k, 2) array of tissue names per surface")
    names = list(surface_names) if surface_names is not None else [f"surface {k}" for k in range(len(sides))]
    arrs = []
    for k, a in enumerate(sides):
        a = np.asarray(a)
        if a.ndim != 2 or a.shape[1] != 2:
            raise SolverError(f"sides of surface {names[k]!r} must have shape (n_triangles, 2) (inside, outside "
                              f"tissue of each triangle); got {a.shape}")
        arrs.append(a.astype(str))
    allnames = np.concatenate([a.ravel() for a in arrs])
    uniq, inv = np.unique(allnames, return_inverse=True)
    canon = [_canonical(u) for u in uniq]
    tissues = sorted({c for c in canon if c != AIR})
    sig_t = tissue_conductivities(tissues, overrides) if tissues else np.zeros(0)
    lookup = {t: v for t, v in zip(tissues, sig_t)}
    sig_u = np.array([0.0 if c == AIR else lookup[c] for c in canon])
    code = np.array([tissues.index(c) if c != AIR else -1 for c in canon])[inv].reshape(-1, 2)
    sig = sig_u[inv].reshape(-1, 2)
    off = 0
    for k, a in enumerate(arrs):
        n = a.shape[0]
        c = code[off:off + n]
        bad = np.flatnonzero(c[:, 0] < 0)
        if bad.size:
            raise SolverError(f"surface {names[k]!r}: {bad.size} triangle(s) have air on the inner side (first: "
                              f"triangle {bad[0]}); air may only be outside the scalp. Fix the head's sides "
                              f"(column 0 = tissue inside, column 1 = outside) or flip that surface's normals")
        bad = np.flatnonzero(c[:, 0] == c[:, 1])
        if bad.size:
            raise SolverError(f"surface {names[k]!r}: {bad.size} triangle(s) have the same tissue on both sides "
                              f"(first: triangle {bad[0]}, {a[bad[0], 0]!r}); such a triangle is no boundary: "
                              f"remove it from the surface or fix the head's sides")
        if k == 0:
            bad = np.flatnonzero(c[:, 1] >= 0)
            if bad.size:
                raise SolverError(f"surface {names[k]!r} is the outermost boundary, but {bad.size} of its triangles "
                                  f"have tissue outside (first: triangle {bad[0]}, {a[bad[0], 1]!r}); its outside "
                                  f"must be 'air'")
        off += n
    contrast = (sig[:, 0] - sig[:, 1]) / (sig[:, 0] + sig[:, 1])
    return TriangleContrasts(contrast, np.ascontiguousarray(sig[:, 0]), np.ascontiguousarray(sig[:, 1]),
                             tuple(tissues), np.asarray(sig_t, dtype=np.float64))
