"""Dose: E-field at the target for a stimulator output, and the output needed for a requested field.

The induced E-field is proportional to the coil current's rate of change, so with ``e1`` = target field
at 1 A/µs and ``D`` = the stimulator's dI/dt at 100 % output (A/µs) with this coil:
``E(p %) = e1 · D · p / 100`` and ``p_needed = 100 · E_req / (e1 · D)``.
"""

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError

__all__ = ["Stimulator", "STIMULATORS", "get_stimulator", "dose_report"]


@dataclass(frozen=True)
class Stimulator:
    """A stimulator/coil combination's dI/dt at 100 % output (A/µs) and where the number comes from.

    Examples
    --------
    >>> get_stimulator("magpro_x100_mcf_b65").max_didt_a_per_us
    147.86
    """

    name: str
    max_didt_a_per_us: float
    citation: str


STIMULATORS = {s.name: s for s in (
    Stimulator("magpro_x100_mcf_b65", 147.86,
               "MagVenture MagPro X100 with MCF-B65 (biphasic): dIdtmax = 147.86 A/us, from the coil model "
               "fitted by Drakaki M et al. (2022) Brain Stimul 15:854-865, doi:10.1016/j.brs.2022.04.017 "
               "(value in the header of its SimNIBS .ccd file)"),
)}


def get_stimulator(name):
    """Look up a stimulator by name (error lists the names).

    Examples
    --------
    >>> get_stimulator("magpro_x100_mcf_b65").name
    'magpro_x100_mcf_b65'
    """
    key = str(name).strip().lower()
    if key not in STIMULATORS:
        raise InputError(f"unknown stimulator {name!r}; known: {', '.join(STIMULATORS)}; or give the dI/dt at "
                         f"100 % output with --max-didt (A/us)")
    return STIMULATORS[key]


def dose_report(efield_per_didt, coil=None, stimulator=None, max_didt_a_per_us=None, percent_output=None,
                requested_v_per_m=None):
    """E at the target for an output setting, and the output needed for a requested field.

    Parameters
    ----------
    efield_per_didt : float
        Target quantity (V/m) per 1 A/µs.
    coil : Coil, optional
        Its ``max_didt_a_per_us`` is used when no stimulator / max_didt is given.
    stimulator : str, optional
        Name from :data:`STIMULATORS`.
    max_didt_a_per_us : float, optional
        dI/dt at 100 % output (A/µs); overrides the others.
    percent_output : float, optional
        Stimulator output in % of maximum.
    requested_v_per_m : float, optional
        Field wanted at the target (e.g. the one measured at motor threshold), V/m.

    Returns
    -------
    stimulator_block : dict
        ``{"name", "max_didt_a_per_us", "citation"}`` (values may be None).
    dose_block : dict
        The ``dose`` block of the result JSON; problems go into ``warnings`` (never raised).

    Examples
    --------
    >>> s, d = dose_report(1.2, max_didt_a_per_us=100.0, percent_output=50, requested_v_per_m=100)
    >>> round(d["efield_at_target_v_per_m"], 3), round(d["percent_output_needed"], 2), d["reachable"]
    (60.0, 83.33, True)
    """
    warnings = []
    name, citation, dmax = None, None, None
    if stimulator is not None:
        st = get_stimulator(stimulator)
        name, citation, dmax = st.name, st.citation, st.max_didt_a_per_us
    if max_didt_a_per_us is not None:
        dmax = float(max_didt_a_per_us)
        citation = "given by the user"
        if not np.isfinite(dmax) or dmax <= 0:
            raise InputError(f"max_didt_a_per_us must be positive (A/us); got {max_didt_a_per_us!r}")
    if dmax is None and coil is not None and getattr(coil, "max_didt_a_per_us", None):
        dmax = float(coil.max_didt_a_per_us)
        name = name or f"coil {coil.name} default"
        citation = f"coil model {coil.name!r} (max_didt_a_per_us)"
    e1 = float(efield_per_didt)
    out = {"percent_output": None, "didt_a_per_us": None, "efield_at_target_v_per_m": None,
           "requested_v_per_m": None, "percent_output_needed": None, "reachable": True, "warnings": warnings}
    if not np.isfinite(e1) or e1 <= 0:
        warnings.append(f"the target field per A/us is {e1!r}; no dose can be computed")
        out["reachable"] = False
        return {"name": name, "max_didt_a_per_us": dmax, "citation": citation}, out
    if percent_output is not None:
        p = float(percent_output)
        out["percent_output"] = p
        if not (0 < p <= 100):
            warnings.append(f"percent_output {p:g} % is outside (0, 100]")
        if dmax is None:
            warnings.append("no stimulator dI/dt at 100 % known for this coil: give --stimulator or --max-didt "
                            "to convert % output into a field")
        else:
            out["didt_a_per_us"] = dmax * p / 100.0
            out["efield_at_target_v_per_m"] = e1 * dmax * p / 100.0
    if requested_v_per_m is not None:
        r = float(requested_v_per_m)
        out["requested_v_per_m"] = r
        if not np.isfinite(r) or r <= 0:
            warnings.append(f"requested field {requested_v_per_m!r} V/m must be positive")
            out["reachable"] = False
        elif dmax is None:
            warnings.append("no stimulator dI/dt at 100 % known: cannot convert the requested field into % output "
                            f"(it needs {r / e1:.1f} A/us)")
        else:
            need = 100.0 * r / (e1 * dmax)
            out["percent_output_needed"] = need
            if need > 100.0:
                out["reachable"] = False
                warnings.append(f"requested {r:g} V/m at the target needs {need:.0f} % of maximum output: NOT "
                                f"reachable with this stimulator and coil (max {e1 * dmax:.1f} V/m at 100 %)")
    return {"name": name, "max_didt_a_per_us": dmax, "citation": citation}, out
