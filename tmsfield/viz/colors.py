"""Colours of the cortex as plain arrays: field colour map, colour range, curvature underlay.

Everything here is numpy (no rendering), so the colour of every vertex can be checked
against its field value. Colour maps come from matplotlib (a pyvista dependency).

* magnitude ``|E|`` (V/m): sequential map ``"inferno"`` restricted to its brighter 85 %
  (its near-black start would be confused with dark sulci), range ``[0, peak]``;
* normal component (V/m, signed): diverging ``"RdBu_r"``, range ``[-peak, +peak]``;
* ``peak`` defaults to the 99.9th percentile of ``|value|`` (robust to single-vertex
  spikes at mesh defects, as SimNIBS reports it); a fixed range makes placements comparable;
* vertices whose ``|value|`` is below the threshold show the curvature underlay instead:
  light grey on gyri, dark grey in sulci (curvature positive in sulci, FreeSurfer ``sulc``
  convention), as in the MNE-Python Brain viewer.
"""

import numpy as np

from ..errors import InputError

__all__ = [
    "QUANTITIES", "DEFAULT_CMAPS", "GYRUS_GREY", "SULCUS_GREY", "colormap_table", "color_range",
    "map_values", "curvature_underlay", "cortex_colors", "default_threshold",
]

QUANTITIES = ("magnitude", "normal")
DEFAULT_CMAPS = {"magnitude": "inferno", "normal": "RdBu_r"}
# part of each default map used (lower, upper), as fractions of the matplotlib map
_CMAP_SPAN = {"inferno": (0.15, 1.0)}
GYRUS_GREY = np.array([200, 200, 200], dtype=np.uint8)   # light: gyri (curvature <= 0)
SULCUS_GREY = np.array([120, 120, 120], dtype=np.uint8)  # dark: sulci (curvature > 0)
_TABLE_SIZE = 256


def check_quantity(quantity):
    """Validate the plotted quantity name ("magnitude" or "normal")."""
    if quantity not in QUANTITIES:
        raise InputError(f"quantity must be one of {QUANTITIES} ('magnitude' = |E|, 'normal' = E·n, positive "
                         f"into the cortex); got {quantity!r}")
    return quantity


def colormap_table(cmap=None, quantity="magnitude", n=_TABLE_SIZE):
    """The colour table used for a quantity: (n, 3) uint8 RGB from low to high.

    Parameters
    ----------
    cmap : str, optional
        matplotlib colour-map name; default ``DEFAULT_CMAPS[quantity]``.
    quantity : {"magnitude", "normal"}
    n : int
        Number of table entries.

    Returns
    -------
    ndarray, shape (n, 3), uint8

    Examples
    --------
    >>> colormap_table("gray", n=3)[:, 0].tolist()
    [0, 128, 255]
    """
    import matplotlib

    check_quantity(quantity)
    name = cmap or DEFAULT_CMAPS[quantity]
    try:
        cm = matplotlib.colormaps[name]
    except KeyError:
        raise InputError(f"unknown colour map {name!r}; use a matplotlib name such as 'inferno', 'hot', "
                         f"'viridis' or (signed) 'RdBu_r'") from None
    lo, hi = _CMAP_SPAN.get(name, (0.0, 1.0))
    rgb = cm(np.linspace(lo, hi, n))[:, :3]
    return np.round(rgb * 255.0).astype(np.uint8)


def color_range(values, clim=None, quantity="magnitude", percentile=99.9):
    """The colour range (V/m): the given one, or ``[0, p]`` / ``[-p, p]`` with p the percentile.

    Parameters
    ----------
    values : array_like, shape (V,)
        Field values per vertex, V/m (|E| or signed normal component).
    clim : (float, float), optional
        Fixed range (low, high) in V/m, e.g. to compare placements on the same scale.
    quantity : {"magnitude", "normal"}
    percentile : float
        Percentile of ``|values|`` that sets the top of the default range (99.9).

    Returns
    -------
    (float, float)
        low < high, V/m.

    Examples
    --------
    >>> color_range([0.0, 1.0, 2.0, 100.0], percentile=50)
    (0.0, 1.5)
    >>> color_range([-3.0, 1.0], quantity="normal", percentile=100)
    (-3.0, 3.0)
    """
    check_quantity(quantity)
    if clim is not None:
        try:
            lo, hi = (float(c) for c in clim)
        except (TypeError, ValueError):
            raise InputError(f"clim must be two numbers (low, high) in V/m; got {clim!r}") from None
        if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
            raise InputError(f"clim must be finite with low < high (V/m); got {clim!r}")
        return lo, hi
    v = np.abs(np.asarray(values, dtype=float))
    peak = float(np.percentile(v, percentile)) if v.size else 0.0
    if not np.isfinite(peak) or peak <= 0:
        peak = 1.0  # all-zero field: any range shows it as the bottom colour
    return (0.0, peak) if quantity == "magnitude" else (-peak, peak)


def map_values(values, clim, cmap=None, quantity="magnitude"):
    """Colours of values through the colour map: (V, 3) uint8 RGB.

    ``t = (value - low) / (high - low)`` clipped to [0, 1] picks table entry
    ``floor(t * (n - 1) + 0.5)`` of :func:`colormap_table` (values outside the range take
    the end colours).

    Examples
    --------
    >>> map_values([0.0, 10.0, 20.0], (0, 10), cmap="gray")[:, 0].tolist()
    [0, 255, 255]
    """
    table = colormap_table(cmap, quantity)
    lo, hi = clim
    t = np.clip((np.asarray(values, dtype=float) - lo) / (hi - lo), 0.0, 1.0)
    idx = np.floor(t * (table.shape[0] - 1) + 0.5).astype(np.intp)
    return table[idx]


def curvature_underlay(curvature, n_vertices):
    """Binary curvature shading: light grey on gyri, dark grey in sulci; (V, 3) uint8.

    Parameters
    ----------
    curvature : array_like, shape (V,), or None
        Positive in sulci (FreeSurfer ``sulc``/``curv`` sign). None: all light grey.
    n_vertices : int

    Examples
    --------
    >>> curvature_underlay([-1.0, 2.0], 2)[:, 0].tolist()
    [200, 120]
    """
    out = np.tile(GYRUS_GREY, (n_vertices, 1))
    if curvature is not None:
        c = np.asarray(curvature, dtype=float).reshape(-1)
        if c.shape[0] != n_vertices:
            raise InputError(f"cortex curvature has {c.shape[0]} values but the cortex has {n_vertices} vertices; "
                             f"pass one value per cortex vertex (or None for no underlay)")
        out[np.nan_to_num(c) > 0] = SULCUS_GREY
    return out


def default_threshold(clim, fraction=0.25):
    """Default underlay threshold: ``fraction`` of the larger end of the colour range (V/m).

    Examples
    --------
    >>> default_threshold((0, 80))
    20.0
    """
    return float(fraction * max(abs(clim[0]), abs(clim[1])))


def cortex_colors(values, clim, threshold=0.0, curvature=None, cmap=None, quantity="magnitude"):
    """Per-vertex RGB of the cortex: field colours where ``|value| >= threshold``, else underlay.

    Parameters
    ----------
    values : array_like, shape (V,)
        V/m.
    clim : (float, float)
        Colour range, V/m.
    threshold : float
        |value| below which the curvature underlay shows (V/m); 0 colours everything.
    curvature : array_like, shape (V,), optional
        Positive in sulci.
    cmap : str, optional
    quantity : {"magnitude", "normal"}

    Returns
    -------
    rgb : ndarray, shape (V, 3), uint8
    shown : ndarray, shape (V,), bool
        Which vertices show the field (the others show the underlay).

    Examples
    --------
    >>> rgb, shown = cortex_colors([1.0, 9.0], (0, 10), threshold=5, cmap="gray")
    >>> shown.tolist(), rgb[0].tolist()
    ([False, True], [200, 200, 200])
    """
    v = np.asarray(values, dtype=float).reshape(-1)
    shown = np.abs(v) >= float(threshold)
    rgb = curvature_underlay(curvature, v.shape[0])
    rgb[shown] = map_values(v[shown], clim, cmap, quantity)
    return rgb, shown
