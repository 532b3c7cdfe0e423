"""Tissue conductivities (S/m) and the conductivity contrast of each BEM boundary.

Defaults (S/m), the values used by SimNIBS and most TMS modelling papers (Wagner et al.
2004, IEEE TBME 51: 1586; Thielscher et al. 2011, NeuroImage 54: 234; Opitz et al. 2011):
scalp 0.465, skull 0.010, CSF 1.654, grey matter 0.275, white matter 0.126. ``brain``
(0.275, the grey-matter value) is the conductivity used for a *lumped* brain compartment,
i.e. a head whose innermost region stands for CSF + grey + white matter together (as the
three-shell sphere of the literature). Only the innermost-region value matters in an
exactly spherical model; in a realistic head the lumped value is an approximation.
"""

from collections.abc import Mapping

import numpy as np

from ..errors import SolverError

__all__ = ["DEFAULT_CONDUCTIVITIES", "tissue_conductivities", "boundary_contrasts"]

DEFAULT_CONDUCTIVITIES = {
    "scalp": 0.465,
    "skull": 0.010,
    "csf": 1.654,
    "gm": 0.275,
    "wm": 0.126,
    "brain": 0.275,
}

_ALIASES = {
    "skin": "scalp", "head": "scalp", "bone": "skull", "cerebrospinal_fluid": "csf",
    "grey_matter": "gm", "gray_matter": "gm", "greymatter": "gm", "graymatter": "gm", "grey": "gm", "gray": "gm",
    "white_matter": "wm", "whitematter": "wm", "white": "wm", "cortex": "gm",
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
