"""``tmsfield target``: coil position, orientation and dose for one head and one left-DLPFC target."""

__all__ = ["register", "add_job_arguments", "add_clinic_arguments", "job_from_args"]


def add_job_arguments(p, defaults=True):
    """Options shared by ``target`` and ``batch`` (settings of a :class:`tmsfield.targets.run.TargetJob`)."""
    p.add_argument("--method", default="optimised", choices=["optimised", "eeg_f3", "beam_f3", "rule_5p5cm"],
                   help="optimised placement search (default) or a clinical scalp heuristic")
    p.add_argument("--quantity", default="magnitude", choices=["magnitude", "normal"],
                   help="maximise mean |E| over the ROI (default) or its inward normal component")
    p.add_argument("--roi-radius", type=float, default=5.0, metavar="MM", help="ROI sphere radius (mm, default 5)")
    p.add_argument("--search-radius", type=float, default=20.0, metavar="MM",
                   help="positions searched within this distance of the target's scalp point (mm, default 20)")
    p.add_argument("--gap", type=float, default=4.0, metavar="MM", help="scalp-to-casing gap for hair (mm, default 4)")
    p.add_argument("--handle-angle", type=float, default=45.0, metavar="DEG",
                   help="handle angle for the heuristics: degrees from the posterior midline, positive laterally "
                        "(default 45)")
    p.add_argument("--percent-output", type=float, default=None, metavar="PCT",
                   help="stimulator output (%% of maximum) to convert into a field at the target")
    p.add_argument("--requested-field", type=float, default=None, metavar="V_PER_M",
                   help="field wanted at the target (V/m); reports the %% output needed")
    p.add_argument("--stimulator", default=None, help="named stimulator for dI/dt at 100 %% output")
    p.add_argument("--max-didt", type=float, default=None, metavar="A_PER_US",
                   help="dI/dt at 100 %% output (A/us); default: the coil's own value")
    p.add_argument("--model", default="bem", choices=["bem", "sphere"],
                   help="E-field model: the head's BEM (default) or a sphere fitted to the scalp (fast check)")
    p.add_argument("--no-heuristics", action="store_true", help="skip evaluating the scalp heuristics")
    p.add_argument("--landmarks", default=None, metavar="JSON",
                   help="JSON {nasion, inion, lpa, rpa: [x, y, z] mm} for heads loaded without landmarks")


def add_clinic_arguments(p, target_map=True):
    """Issue-15 options: motor-threshold dose, personalised target map, nonlinear MNI warp (``target``, ``batch``)."""
    g = p.add_argument_group("motor-threshold dose, personalised target, nonlinear MNI warp")
    g.add_argument("--motor-threshold", type=float, default=None, metavar="PCT",
                   help="resting motor threshold (%% of maximum output, same coil and stimulator): finds the M1 "
                        "hotspot (target mayka2006_m1) and reports the output giving the target the same field, "
                        "120 %% of it, and the Stokes distance-adjusted threshold")
    g.add_argument("--m1-subject", nargs=3, type=float, default=None, metavar=("X", "Y", "Z"),
                   help="M1 hotspot in the head's own coordinates (mm) instead of the MNI table entry")
    if target_map:
        g.add_argument("--target-map", default=None, metavar="MAP",
                       help="personalised target: NIfTI volume (e.g. sgACC anticorrelation, larger = better) or "
                            "per-vertex GIFTI/curv map; objective = map-weighted mean field over the map's best "
                            "cluster (top 10 %% of positive values within reach, largest summed weight)")
        g.add_argument("--map-space", default="mni", choices=["mni", "subject"],
                       help="space of a NIfTI target map (default mni)")
    g.add_argument("--mni-warp", default=None, metavar="FILE",
                   help="nonlinear MNI<->subject warp: SimNIBS toMNI/MNI2Conform_nonl.nii.gz or Conform2MNI_nonl, "
                        "ANTs/ITK displacement field (.nii.gz) or .h5 transform (e.g. Composite.h5), FSL FNIRT --fout field or --cout coefficients (need --mni-warp-source)")
    g.add_argument("--mni-warp-source", default=None, metavar="T1",
                   help="FSL warps: the subject image the registration was computed from")


def _clinic_kwargs(args):
    return {k: getattr(args, k) for k in ("motor_threshold", "m1_subject", "target_map", "map_space", "mni_warp",
                                           "mni_warp_source") if getattr(args, k, None) is not None}


def job_from_args(args, **over):
    """Build a TargetJob from parsed arguments (``over`` replaces fields)."""
    from ..targets.run import TargetJob
    kw = dict(method=args.method, quantity=args.quantity, roi_radius_mm=args.roi_radius,
              search_radius_mm=args.search_radius, gap_mm=args.gap, handle_angle_deg=args.handle_angle,
              percent_output=args.percent_output, requested_v_per_m=args.requested_field,
              stimulator=args.stimulator, max_didt_a_per_us=args.max_didt, model=args.model,
              heuristics=not args.no_heuristics, landmarks=args.landmarks)
    kw.update(_clinic_kwargs(args))
    kw.update(over)
    return TargetJob(**kw)


def _summary(res, path):
    t = res["target"]
    d = res["dose"]
    p = res["position_mm"]
    lines = [
        f"target   {t['name']}  subject ({', '.join(f'{v:.1f}' for v in t['subject_mm'])}) mm"
        + (f"  MNI ({', '.join(f'{v:.0f}' for v in t['mni_mm'])})" if t.get("mni_mm") else ""),
        f"method   {res['method']}   head {res['head']['name']}   coil {res['coil']['name']}",
        f"coil     centre ({p[0]:.1f}, {p[1]:.1f}, {p[2]:.1f}) mm, handle {res['handle_angle_deg']:.0f} deg from "
        f"the posterior midline (positive = lateral), gap {res['gap_mm']:.1f} mm",
        f"E-field  {res['efield_at_target_v_per_m_per_a_per_us']:.3f} V/m per A/us at the target ({t['quantity']}, "
        + (f"ROI {t['roi_radius_mm']:g} mm)" if not t.get("map") else "map-weighted mean over the map's best cluster)"),
    ]
    for name, h in (res.get("heuristics") or {}).items():
        if "efield_at_target_v_per_m_per_a_per_us" in h:
            lines.append(f"  {name:10s} {h['efield_at_target_v_per_m_per_a_per_us']:.3f} V/m per A/us")
    if d.get("efield_at_target_v_per_m") is not None:
        lines.append(f"dose     {d['percent_output']:g} % output -> {d['efield_at_target_v_per_m']:.1f} V/m at the target")
    if d.get("percent_output_needed") is not None:
        lines.append(f"dose     {d['requested_v_per_m']:g} V/m needs {d['percent_output_needed']:.1f} % output")
    if res.get("model"):
        from ..targets.model_card import format_model
        lines.append(format_model(res["model"]))
    lines += _clinic_summary(res)
    for w in d.get("warnings", []):
        lines.append(f"WARNING  {w}")
    lines.append(f"written  {path}")
    return "\n".join(lines)


def _clinic_summary(res):
    """Summary lines for a target map and a motor-threshold dose."""
    lines = []
    m = res["target"].get("map")
    if m:
        lines.append(f"map      {m['file']} ({m['space']}): best cluster {m['n_vertices']} vertices of "
                     f"{m['n_candidates']} candidates ({m['n_clusters']} clusters); {m['rule']}")
    mt = res["dose"].get("motor_threshold")
    if mt:
        p = mt["m1"]["position_mm"]
        lines.append(f"M1       hotspot coil centre ({p[0]:.1f}, {p[1]:.1f}, {p[2]:.1f}) mm, handle "
                     f"{mt['m1']['handle_angle_deg']:.0f} deg; {mt['e_m1_v_per_m_per_a_per_us']:.3f} V/m per A/us")
        e = f", {mt['e_m1_v_per_m']:.1f} V/m at M1 at threshold" if mt.get("e_m1_v_per_m") is not None else ""
        lines.append(f"RMT      {mt['rmt_percent']:g} %{e}")

        def flag(ok):
            return "" if ok in (True, None) else "  NOT reachable"
        lines.append(f"dose     same field at the target: {mt['percent_output_matched']:.1f} % output"
                     f"{flag(mt['reachable_matched'])}; 120 %: {mt['percent_output_120']:.1f} %"
                     f"{flag(mt['reachable_120'])}")
        if mt.get("stokes_percent") is not None:
            lines.append(f"dose     Stokes distance-adjusted threshold {mt['stokes_percent']:.1f} % (depth target "
                         f"{mt['depth_target_mm']:.1f} mm, M1 {mt['depth_m1_mm']:.1f} mm, "
                         f"{mt['stokes_slope_percent_per_mm']:g} %/mm){flag(mt['reachable_stokes'])}")
    return lines


def _run(args):
    from pathlib import Path

    from .._outputs import output_file
    from ..errors import InputError
    from ..targets.results import write_result
    from ..targets.run import SetupCache, run_target
    from .report import check_report_arguments
    check_report_arguments(args)
    if getattr(args, "pose", None):
        return _run_pose(args)
    if args.target is not None and (args.mni is not None or args.subject is not None):
        raise InputError("give only one of --target, --mni and --subject")
    job = job_from_args(args, head=args.head, coil=args.coil, target=args.target, mni=args.mni,
                        subject=args.subject)
    # the output is checked before the work: an existing folder gets <folder>/<target>.json, a missing or
    # unwritable folder is refused now rather than after minutes of computation
    name = f"{job.label}.json"
    out = output_file(args.out, default_name=name) if args.out else \
        output_file(Path("tmsfield-results") / name, create_parent=True)
    cache = SetupCache(factorize=getattr(args, "factorize", "auto"), cache=not getattr(args, "no_cache", False))
    from .. import _progress
    with _progress.reporting(quiet=getattr(args, "quiet", False), prefix="tmsfield target"):
        res = run_target(job, cache)
    write_result(out, res)
    print(_summary(res, out))
    _report(args, res, out, cache)
    return 0


def _report(args, res, out, cache):
    """``--report``: the one-file HTML report beside the JSON (tmsfield/cli/report.py)."""
    from .report import write_report_beside

    write_report_beside(args, res, out, cache)


def register(subparsers):
    """Add the ``target`` subcommand."""
    p = subparsers.add_parser(
        "target", help="coil position/orientation and dose for one head and one DLPFC target",
        description="Where to put the coil, how to turn it and what output gives the intended field. Defaults: "
                    "template head mni152_3shell, coil fig8_70mm, target fox2012_sgacc; writes "
                    "tmsfield-results/<target>.json.")
    # TODO(issue 13): switch to "mni152" when the scalable solver lands
    p.add_argument("--head", default="mni152_3shell",
                   help="template name (mni152: five tissues; mni152_3shell, mni152_3shell_coarse: three) or head "
                        "file/folder (default mni152_3shell)")
    p.add_argument("--coil", default="fig8_70mm", help="coil name or .ccd/.tcd file (default fig8_70mm)")
    g = p.add_argument_group("target (one of)")
    g.add_argument("--target", default=None, metavar="NAME", help="named target (default fox2012_sgacc)")
    g.add_argument("--mni", nargs=3, type=float, default=None, metavar=("X", "Y", "Z"), help="MNI target (mm)")
    g.add_argument("--subject", nargs=3, type=float, default=None, metavar=("X", "Y", "Z"),
                   help="target in the head's own coordinates (mm)")
    add_job_arguments(p)
    add_pose_arguments(p)
    add_clinic_arguments(p)
    p.add_argument("--factorize", dest="factorize", action="store_const", const=True, default="auto",
                   help="BEM: solve with a dense LU of the system matrix (memory 4 T^2 bytes, 5.2 GB for the "
                        "template; a few minutes once, then seconds per solve) instead of GMRES per solve. "
                        "Default: the LU when it fits in memory (<= 6 GB and half the available memory)")
    p.add_argument("--no-factorize", dest="factorize", action="store_const", const=False,
                   help="BEM: GMRES per solve (no dense matrix; for machines short of memory)")
    p.add_argument("--out", default=None, help="result JSON path, or an existing folder for <folder>/<target>.json "
                        "(default tmsfield-results/<target>.json); checked before the work starts")
    _add_report_arguments(p)
    from .render import add_progress_arguments
    add_progress_arguments(p)
    p.set_defaults(func=_run)


# ------------------------------------------------------------------ a given pose (neuronavigation)
def add_pose_arguments(p):
    """``--pose FILE[:NAME]``: evaluate a recorded or planned pose instead of searching."""
    g = p.add_argument_group("given pose (instead of the search)")
    g.add_argument("--pose", default=None, metavar="FILE[:NAME]",
                   help="evaluate this coil pose instead of searching: a Localite InstrumentMarker/TriggerMarker "
                        "XML, a Brainsight text export, a `tmsfield import` pose JSON or a result JSON, and the "
                        "name of the marker/target/sample in it (optional when the file holds one pose). Gives E "
                        "at the target and the dose (method 'manual'); a TriggerMarker's recorded dI/dt and "
                        "output are used")


def _run_pose(args):
    from pathlib import Path

    from ..errors import InputError
    from ..navigation import resolve_pose
    from ..targets.manual import run_pose
    from ..targets.results import write_result
    from ..targets.run import SetupCache, safe_name

    if args.target is not None and (args.mni is not None or args.subject is not None):
        raise InputError("give only one of --target, --mni and --subject")
    if args.method != "optimised":
        raise InputError("--pose evaluates the given pose; it does not combine with --method")
    from .._outputs import output_file

    nav = resolve_pose(args.pose)
    job = job_from_args(args, head=args.head, coil=args.coil, target=args.target, mni=args.mni,
                        subject=args.subject, heuristics=False)
    name = f"{job.label}_pose_{safe_name(nav.name)}.json"     # output checked before the work
    out = output_file(args.out, default_name=name) if args.out else \
        output_file(Path("tmsfield-results") / name, create_parent=True)
    fac = getattr(args, "factorize", "auto")
    cache = SetupCache(factorize=False if fac == "auto" else fac,   # one pose: a GMRES solve beats the LU
                       cache=not getattr(args, "no_cache", False))
    from ..navigation import split_pose_spec
    source = {"file": split_pose_spec(args.pose)[0], "kind": nav.kind, "didt_a_per_us": nav.didt_a_per_us, "percent_output": nav.percent_output}
    from .. import _progress
    with _progress.reporting(quiet=getattr(args, "quiet", False), prefix="tmsfield target"):
        res = run_pose(job, nav.pose, name=nav.name, source=source, recorded_didt_a_per_us=nav.didt_a_per_us,
                       recorded_percent_output=nav.percent_output, cache=cache)
    write_result(out, res)
    print(f"pose     {nav.name!r} ({nav.kind}) from {source['file']}")
    print(_summary(res, out))
    d = res["dose"]
    if d.get("efield_at_recorded_didt_v_per_m") is not None:
        print(f"recorded {d['recorded_didt_a_per_us']:g} A/us -> {d['efield_at_recorded_didt_v_per_m']:.1f} V/m "
              f"at the target")
    _report(args, res, out, cache)
    return 0


def _add_report_arguments(p):
    from .report import add_report_arguments

    add_report_arguments(p)
