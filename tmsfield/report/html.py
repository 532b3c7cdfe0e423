"""The report's HTML: one self-contained page from a placement result (no rendering here).

Everything shown comes from the result JSON (schema ``tmsfield-placement/1``), plus optional PNG
views and an optional summary of the loaded head (surfaces, triangles, tissues). Every piece of
text is escaped with :func:`html.escape`: target, head, coil and stimulator names come from user
files. Numbers are printed with fixed formats (positions 0.1 mm, fields 0.001 V/m per A/µs and
0.1 V/m, outputs 0.1 %MSO, angles 1°), so a reader (and a test) finds the JSON's values in it.
"""

import base64
import datetime as _dt
import html as _html
import json
import math

import numpy as np

from .._version import __version__

__all__ = ["report_html", "head_summary", "placement_rows", "MOTOR_THRESHOLD_LABELS"]

# labels of the motor-threshold dose block (result["dose"]["motor_threshold"]); other keys are shown as they are
MOTOR_THRESHOLD_LABELS = {
    "rmt_percent": ("Resting motor threshold", "%MSO"),
    "e_m1_v_per_m": ("E at the M1 hotspot at threshold", "V/m"),
    "percent_output_matched": ("Output giving the target the same E as M1 at threshold", "%MSO"),
    "percent_output_120": ("120 % of that (usual treatment dose)", "%MSO"),
    "e_target_v_per_m": ("E at the target at the matched output", "V/m"),
    "stokes_percent": ("Stokes et al. (2005, 2007) scalp–cortex distance adjustment, for comparison", "%MSO"),
}

_HEURISTIC_NAMES = {"eeg_f3": "EEG F3", "beam_f3": "Beam F3", "rule_5p5cm": "5.5 cm rule",
                    "optimised": "Optimised", "manual": "Manual"}

_CSS = """
body { font-family: "DejaVu Sans", Arial, Helvetica, sans-serif; color: #1a1a1a; margin: 1.5em auto; max-width: 62em;
       padding: 0 1em; font-size: 14px; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.1em; } h2 { font-size: 1.2em; border-bottom: 1px solid #bbb;
       margin-top: 1.6em; padding-bottom: 0.15em; }
.sub { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 0.4em 0 0.8em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.55em; text-align: left; vertical-align: top; }
th { background: #f1f1f1; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.best td { background: #eef6ee; }
.warn { background: #fff4d6; border: 1px solid #e0b84a; padding: 0.5em 0.8em; margin: 0.6em 0; }
.flag { color: #a40000; font-weight: 600; }
.summary { background: #f4f8fc; border: 1px solid #9bb8d3; padding: 0.6em 1em; }
.views { display: flex; flex-wrap: wrap; gap: 0.8em; }
figure { margin: 0; } figure img { width: 19.5em; max-width: 100%; border: 1px solid #ccc; }
figcaption { color: #444; font-size: 0.9em; }
pre { background: #f7f7f7; border: 1px solid #ddd; padding: 0.6em; overflow-x: auto; font-size: 12px;
      white-space: pre-wrap; word-break: break-word; }
@media print { body { max-width: none; } figure img { width: 16em; } h2 { break-after: avoid; } }
"""


def _e(text):
    """HTML-escaped text (None -> an em dash)."""
    if text is None:
        return "—"
    return _html.escape(str(text), quote=True)


def _finite(x):
    try:
        return x is not None and not isinstance(x, bool) and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _num(x, fmt=".1f", unit=""):
    if not _finite(x):
        return "—"
    s = format(float(x), fmt)
    return f"{s} {unit}".rstrip() if unit else s


def _xyz(p, fmt=".1f"):
    try:
        v = [float(a) for a in p]
    except (TypeError, ValueError):
        return "—"
    if len(v) != 3 or not all(math.isfinite(a) for a in v):
        return "—"
    return "(" + ", ".join(format(a, fmt) for a in v) + ")"


def _is_pose(x):
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        return False
    return a.shape == (4, 4) and bool(np.all(np.isfinite(a)))


def _table(rows, header=None, cls=None):
    """rows: list of lists of (already escaped) cell HTML; a cell given as ("num", html) is right-aligned."""
    out = [f'<table{f" class={chr(34)}{cls}{chr(34)}" if cls else ""}>']
    if header:
        out.append("<tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr>")
    for row in rows:
        tr_cls = ""
        if isinstance(row, tuple) and len(row) == 2 and row[0] == "best":
            tr_cls, row = ' class="best"', row[1]
        cells = []
        for c in row:
            if isinstance(c, tuple) and c[0] == "num":
                cells.append(f'<td class="num">{c[1]}</td>')
            else:
                cells.append(f"<td>{c}</td>")
        out.append(f"<tr{tr_cls}>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _kv(pairs):
    """Two-column table of (label, value html)."""
    rows = [f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in pairs]
    return '<table class="kv">\n' + "\n".join(rows) + "\n</table>"


def _didt(result):
    dose = result.get("dose") or {}
    didt = dose.get("didt_a_per_us")
    if not _finite(didt) and _finite(dose.get("percent_output")):
        maxd = (result.get("stimulator") or {}).get("max_didt_a_per_us")
        if _finite(maxd):
            didt = float(dose["percent_output"]) / 100.0 * float(maxd)
    return float(didt) if _finite(didt) else None


def head_summary(head):
    """What the report shows of a loaded head: tissues, and per boundary its triangles and vertices.

    Parameters
    ----------
    head : tmsfield.Head
        Any object with ``boundaries`` (surfaces with ``name``, ``n_triangles``, ``n_vertices``);
        ``tissues`` and ``cortex`` are used when present.

    Returns
    -------
    dict
        ``{"tissues": [...], "surfaces": [{"name", "triangles", "vertices"}...], "cortex_vertices": int}``.

    Examples
    --------
    >>> from tmsfield.head import Head, icosphere
    >>> h = Head.from_surfaces([icosphere(90, 2, name="scalp"), icosphere(80, 2, name="brain")])
    >>> head_summary(h)["surfaces"][0]
    {'name': 'scalp', 'triangles': 320, 'vertices': 162}
    """
    out = {"tissues": [str(t) for t in (getattr(head, "tissues", None) or ())], "surfaces": []}
    for s in getattr(head, "boundaries", ()) or ():
        out["surfaces"].append({"name": str(getattr(s, "name", "?")), "triangles": int(s.n_triangles),
                                "vertices": int(s.n_vertices)})
    cortex = getattr(head, "cortex", None)
    if cortex is not None:
        out["cortex_vertices"] = int(cortex.n_vertices)
    return out


def placement_rows(result):
    """Every placement of a result as a list of dicts: the result's own first, then each heuristic.

    Each dict: ``name``, ``method``, ``position_mm``, ``scalp_point_mm``, ``handle_angle_deg``,
    ``distance_from_best_mm`` (between coil centres), ``e_per_a_per_us`` (V/m per A/µs at the target),
    ``e_at_output_v_per_m`` (at the result's dose, None without one), ``percent_output``
    (%MSO of the result's dose), ``percent_for_best_field`` (%MSO this placement needs to give the
    target the field the result's placement gives at its dose, or the requested field; None when
    neither is known) and ``reachable`` (that output is at most 100 %).

    Examples
    --------
    >>> rows = placement_rows({"method": "optimised", "position_mm": [0, 0, 90], "handle_angle_deg": 45,
    ...     "efield_at_target_v_per_m_per_a_per_us": 1.2, "dose": {}, "stimulator": {},
    ...     "heuristics": {"eeg_f3": {"position_mm": [3, 4, 90], "handle_angle_deg": 45,
    ...                               "efield_at_target_v_per_m_per_a_per_us": 1.0}}})
    >>> [(r["name"], r["distance_from_best_mm"]) for r in rows]
    [('Optimised', 0.0), ('EEG F3', 5.0)]
    """
    dose = result.get("dose") or {}
    stim = result.get("stimulator") or {}
    didt = _didt(result)
    maxd = stim.get("max_didt_a_per_us")
    best_pos = np.asarray(result.get("position_mm"), dtype=float)
    e_best = result.get("efield_at_target_v_per_m_per_a_per_us")
    wanted = None                                    # V/m the placements are compared at
    if _finite(dose.get("requested_v_per_m")):
        wanted = float(dose["requested_v_per_m"])
    elif didt is not None and _finite(e_best):
        wanted = float(e_best) * didt
    entries = [(result.get("method") or "optimised", result)]
    entries += list((result.get("heuristics") or {}).items())
    rows = []
    for method, p in entries:
        if not isinstance(p, dict):
            continue
        e = p.get("efield_at_target_v_per_m_per_a_per_us")
        pos = p.get("position_mm")
        try:
            dist = float(np.linalg.norm(np.asarray(pos, dtype=float) - best_pos))
        except (TypeError, ValueError):
            dist = None
        pct_needed = None
        if wanted is not None and _finite(e) and float(e) > 0 and _finite(maxd) and float(maxd) > 0:
            pct_needed = 100.0 * wanted / (float(e) * float(maxd))
        rows.append({
            "name": _HEURISTIC_NAMES.get(str(method), str(method)), "method": str(method),
            "position_mm": pos, "scalp_point_mm": p.get("scalp_point_mm"),
            "handle_angle_deg": p.get("handle_angle_deg"), "distance_from_best_mm": dist,
            "e_per_a_per_us": e if _finite(e) else None,
            "e_at_output_v_per_m": float(e) * didt if (didt is not None and _finite(e)) else None,
            "percent_output": dose.get("percent_output") if _finite(dose.get("percent_output")) else None,
            "percent_for_best_field": pct_needed,
            "reachable": None if pct_needed is None else pct_needed <= 100.0,
            "error": p.get("error"),
        })
    return rows


def _pct_cell(x):
    if not _finite(x):
        return "—"
    s = _num(x, ".1f")
    if float(x) > 100.0:
        return f'{s} <span class="flag">(above 100 %: not reachable)</span>'
    return s


def _section_head(result, summary):
    head = result.get("head") or {}
    settings = result.get("settings") or {}
    model = settings.get("model") or (settings.get("job") or {}).get("model")
    pairs = [("Head", _e(head.get("name"))), ("Loaded from", _e(head.get("source"))),
             ("Field model", _e({"bem": "boundary element method (surface charges) on the head's surfaces",
                                 "sphere": "analytic sphere fitted to the scalp near the target (fast check)"}
                                .get(model, model)))]
    if head.get("n_cortex_vertices") is not None:
        pairs.append(("Cortex vertices", _e(head.get("n_cortex_vertices"))))
    if summary and summary.get("tissues"):
        pairs.append(("Tissues (outside in)", _e(", ".join(summary["tissues"]))))
    cond = settings.get("conductivities")
    if isinstance(cond, dict) and cond:
        pairs.append(("Conductivities", ", ".join(f"{_e(k)} {_num(v, '.4g')} S/m" for k, v in cond.items())))
    elif isinstance(cond, (list, tuple)) and cond:
        names = (summary or {}).get("tissues") or []
        if len(names) == len(cond):          # one value per tissue, outside in
            pairs.append(("Conductivities", ", ".join(f"{_e(n)} {_num(v, '.4g')} S/m" for n, v in zip(names, cond))))
        else:
            pairs.append(("Conductivities", _e(", ".join(_num(v, ".4g") for v in cond)) + " S/m"))
    for k in ("tissues", "n_triangles", "triangles"):
        if k in head and not (summary and k == "tissues"):
            pairs.append((k.replace("_", " ").capitalize(), _e(head[k])))
    out = [_kv(pairs)]
    if summary and summary.get("surfaces"):
        rows = [[_e(s["name"]), ("num", _e(s["triangles"])), ("num", _e(s["vertices"]))] for s in summary["surfaces"]]
        total = sum(s["triangles"] for s in summary["surfaces"])
        rows.append(["<b>all boundaries</b>", ("num", f"<b>{total}</b>"), ("num", "")])
        out.append(_table(rows, header=["Boundary surface", "Triangles", "Vertices"]))
    if str(head.get("name", "")).startswith("mni152"):
        out.append('<p class="warn">This plan was made on the <b>MNI152 template head</b>, not on the patient\'s '
                   "own MRI: positions are template (MNI) coordinates. Load the patient's head for a plan that "
                   "a neuronavigator can use on that patient.</p>")
    return "\n".join(out)


def _section_coil(result):
    coil, stim = result.get("coil") or {}, result.get("stimulator") or {}
    pairs = [("Coil", _e(coil.get("name"))), ("Coil model from", _e(coil.get("source"))),
             ("Stimulator", _e(stim.get("name"))),
             ("dI/dt at 100 % output", _num(stim.get("max_didt_a_per_us"), ".1f", "A/µs"))]
    if stim.get("citation"):
        pairs.append(("Stimulator value from", _e(stim.get("citation"))))
    return _kv(pairs)


def _section_target(result):
    t = result.get("target") or {}
    pairs = [("Target", _e(t.get("name"))), ("Citation", _e(t.get("citation") or None)),
             ("MNI coordinates", _xyz(t.get("mni_mm")) + (" mm" if _xyz(t.get("mni_mm")) != "—" else "")),
             ("Subject coordinates", _xyz(t.get("subject_mm")) + " mm"),
             ("Region of interest", f"sphere of {_num(t.get('roi_radius_mm'), '.1f', 'mm')} radius"),
             ("Quantity maximised", _e({"magnitude": "mean |E| over the region",
                                        "normal": "mean inward normal component of E over the region"}
                                       .get(t.get("quantity"), t.get("quantity"))))]
    if t.get("sourcing"):
        pairs.append(("Coordinate sourcing", _e(t["sourcing"])))
    if _finite(t.get("depth_mm")):
        pairs.append(("Depth below the scalp", _num(t["depth_mm"], ".1f", "mm")))
    out = [_kv(pairs)]
    if t.get("sourcing") == "uncertain":
        out.append('<p class="warn">The coordinates of this target could not be checked against its paper; '
                   "see the citation.</p>")
    return "\n".join(out)


def _section_placements(result):
    rows = placement_rows(result)
    didt = _didt(result)
    dose = result.get("dose") or {}
    wanted_txt = ("the requested field" if _finite(dose.get("requested_v_per_m"))
                  else ("the optimum's" if result.get("method") == "optimised" else "the first row's")
                  + " field at the chosen output")
    body = []
    for k, r in enumerate(rows):
        cells = [_e(r["name"]), _xyz(r["position_mm"]), _xyz(r["scalp_point_mm"]),
                 ("num", _num(r["handle_angle_deg"], ".0f")), ("num", _num(r["distance_from_best_mm"], ".1f")),
                 ("num", _num(r["e_per_a_per_us"], ".3f")), ("num", _num(r["e_at_output_v_per_m"], ".1f")),
                 ("num", _num(r["percent_output"], ".1f")), ("num", _pct_cell(r["percent_for_best_field"]))]
        if r.get("error"):
            cells[0] += f'<br><span class="flag">{_e(r["error"])}</span>'
        body.append(("best", cells) if k == 0 else cells)
    first = "the optimum" if result.get("method") == "optimised" else "the first row"
    header = ["Placement", "Coil centre (mm)", "Scalp point (mm)", "Handle angle (°)",
              f"Distance from {first} (mm)", "E at target (V/m per A/µs)",
              "E at target at the chosen output (V/m)", "Chosen output (%MSO)", f"Output for {wanted_txt} (%MSO)"]
    out = [_table(body, header=header)]
    conv = (result.get("settings") or {}).get("handle_angle_convention")
    notes = ["Coil centre: centre of the casing's head-facing surface; distances are between coil centres."]
    if conv:
        notes.append(f"Handle angle: {_e(conv)}.")
    if didt is None:
        notes.append("No stimulator output was chosen (give --percent-output or --requested-field): fields are per "
                     "A/µs of coil current change.")
    else:
        notes.append(f"Chosen output: dI/dt {didt:.1f} A/µs.")
    out.append("<p>" + " ".join(notes) + "</p>")
    return "\n".join(out)


def _section_dose(result):
    d = result.get("dose") or {}
    pairs = [("Chosen output", _pct_cell(d.get("percent_output")) + (" %MSO" if _finite(d.get("percent_output")) else "")),
             ("dI/dt", _num(_didt(result), ".1f", "A/µs")),
             ("E at the target at that output", _num(d.get("efield_at_target_v_per_m"), ".1f", "V/m")),
             ("Requested field", _num(d.get("requested_v_per_m"), ".1f", "V/m")),
             ("Output needed for it", _pct_cell(d.get("percent_output_needed"))
              + (" %MSO" if _finite(d.get("percent_output_needed")) else "")),
             ("Reachable", _e({True: "yes", False: "no (needs more than 100 % output)"}.get(d.get("reachable"),
                                                                                          d.get("reachable"))))]
    out = [_kv(pairs)]
    for w in d.get("warnings") or []:
        out.append(f'<p class="warn">{_e(w)}</p>')
    return "\n".join(out)


def _pose_html(x):
    m = np.asarray(x, dtype=float)
    axes = ", ".join(f"{name} {_xyz(m[:3, j], '.3f')}" for j, name in enumerate(("x", "y", "z")))
    return f"centre {_xyz(m[:3, 3])} mm; axes {axes}"


def _value_html(key, v):
    if _is_pose(v):
        return _pose_html(v)
    if isinstance(v, dict):
        if _is_pose(v.get("pose")) or "position_mm" in v:
            parts = []
            for k2, v2 in v.items():
                parts.append(f"{_e(k2)}: {_value_html(k2, v2)}")
            return "<br>".join(parts)
        return _e(json.dumps(v, ensure_ascii=False, default=str))
    if isinstance(v, (list, tuple)) and len(v) == 3 and all(_finite(a) for a in v):
        return _xyz(v) + (" mm" if str(key).endswith("_mm") else "")
    if isinstance(v, (list, tuple)):
        return "<br>".join(_e(a) for a in v) if v else "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if _finite(v):
        if "percent" in str(key):
            return _pct_cell(v)
        return _num(v, ".4g" if abs(float(v)) < 1 else ".1f")
    return _e(v)


def _section_motor_threshold(mt):
    rows = []
    for key, (label, unit) in MOTOR_THRESHOLD_LABELS.items():
        if key in mt:
            v = mt[key]
            cell = _pct_cell(v) if unit == "%MSO" else _num(v, ".1f")
            rows.append([_e(label), ("num", cell), _e(unit)])
    for key, v in mt.items():
        if key in MOTOR_THRESHOLD_LABELS or key == "warnings":
            continue
        rows.append([_e(key.replace("_", " ")), _value_html(key, v), ""])
    out = [_table(rows, header=["Quantity", "Value", "Unit"])]
    for w in mt.get("warnings") or []:
        out.append(f'<p class="warn">{_e(w)}</p>')
    return "\n".join(out)


def _section_views(images):
    figs = []
    for name, png in images.items():
        data = base64.b64encode(png).decode("ascii")
        label = name.replace("_", " ")
        figs.append(f'<figure><img alt="{_e(label)} view" src="data:image/png;base64,{data}">'
                    f"<figcaption>{_e(label)}</figcaption></figure>")
    return ('<div class="views">' + "\n".join(figs) + "</div>\n<p>E-field on the cortex for the first placement "
            "above (colour bar in V/m; per A/µs when no output was chosen), with the coil (blue), its handle "
            "(grey arrow), the current direction (green arrow) and the target (cyan).</p>")


def _section_provenance(result, source_path, generated_utc):
    settings = result.get("settings") or {}
    search = settings.get("search") or {}
    pairs = [("Result computed with", f"tmsfield {_e(result.get('tmsfield_version'))}"),
             ("Result created (UTC)", _e(result.get("created_utc"))),
             ("Report written with", f"tmsfield {_e(__version__)}"),
             ("Report written (UTC)", _e(generated_utc)),
             ("Result file", _e(source_path)), ("Schema", _e(result.get("schema"))),
             ("Method", _e(result.get("method"))), ("Scalp–casing gap", _num(result.get("gap_mm"), ".1f", "mm"))]
    if search:
        pairs.append(("Placements evaluated", _e(search.get("n_placements"))))
        pairs.append(("Search radius", _num(search.get("search_radius_mm"), ".1f", "mm")))
        if _finite(search.get("ranking_rel_error")) or _finite(search.get("interpolation_rel_error")):
            pairs.append(("Ranking / interpolation error", f"{_num(100 * float(search.get('ranking_rel_error') or 0), '.2f')} % / "
                          f"{_num(100 * float(search.get('interpolation_rel_error') or 0), '.2f')} %"))
    timings = settings.get("timings_s") or {}
    if _finite(timings.get("total")):
        pairs.append(("Run time", _num(timings["total"], ".1f", "s")))
    job = settings.get("job") or {}
    job_rows = [[_e(k), _e(json.dumps(v, ensure_ascii=False, default=str))] for k, v in job.items()]
    out = [_kv(pairs)]
    if job_rows:
        out.append("<h3>Settings of the run</h3>")
        out.append(_table(job_rows, header=["Setting", "Value"]))
    clean = {k: v for k, v in settings.items() if k != "search"}
    if search:
        clean["search"] = {k: v for k, v in search.items() if k != "ranked"}
    out.append("<details><summary>All settings (JSON)</summary><pre>"
               + _e(json.dumps(clean, indent=1, ensure_ascii=False, default=str)) + "</pre></details>")
    return "\n".join(out)


def report_html(result, images=None, head=None, source_path=None, generated_utc=None, title=None):
    """The report of a placement result as one self-contained HTML page.

    Parameters
    ----------
    result : dict
        Placement result (schema ``tmsfield-placement/1``); a ``dose.motor_threshold`` block, when
        present, gets its own section.
    images : dict of str -> bytes, optional
        View name -> PNG bytes (e.g. from :func:`tmsfield.report.render_views`), embedded as data URIs.
    head : dict or tmsfield.Head, optional
        Head summary (:func:`head_summary`) or the head itself: tissues and triangles per surface.
    source_path : str, optional
        The result file's path, shown in the provenance.
    generated_utc : str, optional
        Time stamp shown as the report's date (default: now, UTC, ISO 8601).
    title : str, optional
        Page title (default from the target and method).

    Returns
    -------
    str
        HTML text (UTF-8); no external resources, no scripts.

    Examples
    --------
    >>> res = {"schema": "tmsfield-placement/1", "method": "optimised", "target": {"name": "<b>x</b>"},
    ...        "position_mm": [0, 0, 90], "dose": {}, "stimulator": {}}
    >>> page = report_html(res, generated_utc="2026-12-04T00:00:00Z")
    >>> "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    True
    """
    if head is not None and not isinstance(head, dict):
        head = head_summary(head)
    if generated_utc is None:
        generated_utc = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    t = result.get("target") or {}
    rows = placement_rows(result)
    best = rows[0] if rows else {}
    if title is None:
        title = f"TMS plan: {t.get('name') or 'target'} ({best.get('name', result.get('method'))})"
    summary = [f"<b>{_e(best.get('name'))}</b> coil centre {_xyz(best.get('position_mm'))} mm, "
               f"handle {_num(best.get('handle_angle_deg'), '.0f')}°, "
               f"E at the target {_num(best.get('e_per_a_per_us'), '.3f')} V/m per A/µs"]
    if best.get("e_at_output_v_per_m") is not None:
        summary.append(f"at {_num(best.get('percent_output'), '.1f')} %MSO: "
                       f"<b>{_num(best['e_at_output_v_per_m'], '.1f')} V/m</b>")
    mt = (result.get("dose") or {}).get("motor_threshold")
    if isinstance(mt, dict) and _finite(mt.get("percent_output_120")):
        summary.append(f"motor-threshold dose (120 %): {_pct_cell(mt['percent_output_120'])} %MSO")
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # no network: forbid every external load (images are data: URIs, the CSS is inline)
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
        "style-src 'unsafe-inline'\">",
        f"<title>{_e(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="sub">Head {_e((result.get("head") or {}).get("name"))} · coil '
        f'{_e((result.get("coil") or {}).get("name"))} · report of {_e(generated_utc)}</p>',
        '<div class="summary">' + "; ".join(summary) + "</div>",
        "<h2>Target</h2>", _section_target(result),
        "<h2>Placements</h2>", _section_placements(result),
        "<h2>Dose</h2>", _section_dose(result),
    ]
    if isinstance(mt, dict):
        parts += ["<h2>Motor-threshold dose</h2>", _section_motor_threshold(mt)]
    if images:
        parts += ["<h2>Views</h2>", _section_views(images)]
    parts += ["<h2>Head and model</h2>", _section_head(result, head),
              "<h2>Coil and stimulator</h2>", _section_coil(result),
              "<h2>Provenance</h2>", _section_provenance(result, source_path, generated_utc),
              '<p class="sub">Research software: check every placement and dose before use on a person.</p>',
              "</body>", "</html>"]
    return "\n".join(parts) + "\n"
