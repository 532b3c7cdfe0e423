"""What model a result was computed on: tissues, surfaces, conductivities, solver settings, discretisation error.

Every placement result carries a ``model`` block (issue 14 item 5) so that a number is never read without the
head it came from. :func:`describe_model` builds it from the head and the solver that produced the field;
:func:`format_model` gives the lines the command line prints.

The discretisation-error estimate is a refinement check recorded once per bundled head (the same coil pose
solved on the head and on a finer version of it; ``benchmarks/discretisation_check.py``); heads without a
recorded check say so rather than guessing.
"""

import numpy as np

__all__ = ["describe_model", "format_model", "DISCRETISATION_CHECKS"]

# Refinement checks, measured by `python benchmarks/discretisation_check.py` (see benchmarks/RESULTS.md):
# head name -> relative difference (%) of the mean |E| over the 10-mm ROI at the Fox 2012 target between the
# head and its refined version, and what was compared. Only measured figures go here.
DISCRETISATION_CHECKS = {}


def _surface_row(surface):
    v = np.asarray(surface.vertices, float)
    t = np.asarray(surface.triangles)
    e = np.linalg.norm(v[t] - v[np.roll(t, 1, axis=1)], axis=2)
    return {"name": str(getattr(surface, "name", "")), "n_triangles": int(t.shape[0]),
            "mean_edge_mm": round(float(e.mean()), 3) if e.size else None}


def describe_model(head, kind, model=None):
    """The ``model`` block of a result: what the field was computed on.

    Parameters
    ----------
    head : tmsfield.head.Head
        The head (mm).
    kind : {"bem", "sphere"}
        The field model used.
    model : object, optional
        The solver (``EFieldSolver``) or the local sphere model (``LocalSphereModel``) that gave the field.

    Returns
    -------
    dict
        JSON-able: ``kind``, ``tissues``, ``surfaces`` (name, triangles, mean edge in mm, outermost first),
        ``n_triangles``, ``conductivities_s_per_m`` (tissue → S/m; ``None`` for the sphere, which does not
        depend on them), ``solver`` (settings), ``discretisation_error`` (a recorded refinement check, or
        ``None`` with the reason).

    Examples
    --------
    >>> from tmsfield.head import Head, icosphere
    >>> head = Head.from_surfaces([icosphere(90.0, 2, name="scalp"), icosphere(80.0, 2, name="brain")])
    >>> card = describe_model(head, "sphere")
    >>> card["tissues"], card["n_triangles"], card["conductivities_s_per_m"]
    (['scalp', 'brain'], 640, None)
    """
    surfaces = [_surface_row(s) for s in head.boundaries]
    card = {"kind": str(kind), "head": str(getattr(head, "name", "")),
            "tissues": [str(t) for t in head.tissues], "surfaces": surfaces,
            "n_triangles": int(sum(s["n_triangles"] for s in surfaces)),
            "junctions": getattr(head, "sides", None) is not None}
    if kind == "bem" and model is not None:
        sig = getattr(model, "conductivities", None)
        tissues = getattr(model, "tissues", None) or head.tissues
        card["conductivities_s_per_m"] = ({str(t): float(s) for t, s in zip(tissues, np.ravel(sig))}
                                          if sig is not None else None)
        info = getattr(model, "last_solve_info", None)
        card["solver"] = {"method": "surface-charge BEM (collocation, centroids)",
                          "factorized": bool(getattr(model, "factorized", False)),
                          "fmm": getattr(model, "fmm", None) if isinstance(getattr(model, "fmm", None),
                                                                          (bool, str, type(None))) else True,
                          "gmres_tol": getattr(model, "tol", None),
                          "near_factor": getattr(model, "near_factor", None),
                          "last_solve": ({k: v for k, v in info.items() if isinstance(v, (int, float, str, bool))}
                                         if isinstance(info, dict) else None)}
    else:
        card["conductivities_s_per_m"] = None
        card["solver"] = {"method": "analytic sphere fitted to the scalp near the target "
                                    "(independent of conductivities)",
                          "radius_mm": getattr(model, "radius_mm", None),
                          "centre_mm": list(getattr(model, "center_mm", ())) or None}
    check = DISCRETISATION_CHECKS.get(card["head"]) if kind == "bem" else None
    card["discretisation_error"] = check if check is not None else {
        "relative_percent": None,
        "reason": ("no refinement check recorded for this head" if kind == "bem"
                   else "the sphere model's error is its shape, not its mesh: compare with --model bem")}
    return card


def format_model(card):
    """Printed lines for a ``model`` block (see :func:`describe_model`).

    Examples
    --------
    >>> from tmsfield.head import Head, icosphere
    >>> head = Head.from_surfaces([icosphere(90.0, 2, name="scalp"), icosphere(80.0, 2, name="brain")])
    >>> print(format_model(describe_model(head, "sphere")).splitlines()[0])
    model    sphere on head 'head': 2 tissues (scalp, brain), 640 triangles
    """
    lines = [f"model    {card['kind']} on head {card['head']!r}: {len(card['tissues'])} tissues "
             f"({', '.join(card['tissues'])}), {card['n_triangles']} triangles"]
    if card.get("conductivities_s_per_m"):
        lines.append("         conductivities (S/m): " + ", ".join(
            f"{t} {s:g}" for t, s in card["conductivities_s_per_m"].items()))
    err = card.get("discretisation_error") or {}
    if err.get("relative_percent") is not None:
        lines.append(f"         discretisation error ~{err['relative_percent']:.1f} % ({err.get('what', '')})")
    else:
        lines.append(f"         discretisation error: {err.get('reason', 'unknown')}")
    return "\n".join(lines)
