"""``tmsfield export`` and ``tmsfield import``: placements to and from neuronavigators (Localite, Brainsight)."""

__all__ = ["register"]


def _loud(lines, file=None):
    """Print warnings so that nobody misses them (stderr, framed)."""
    import sys

    file = file or sys.stderr
    for line in lines:
        bar = "!" * min(100, len(line) + 4)
        print(f"{bar}\n! {line}\n{bar}", file=file)


def _export(args):
    from ..navigation import export_placements

    info = export_placements(args.result, args.output, fmt=args.to, space=args.space)
    print(f"wrote {info['path']} ({info['format']}, {info['space']}): {len(info['names'])} placement(s): "
          f"{', '.join(info['names'])}")
    if info["format"] == "localite":
        print("  Localite: copy the <InstrumentMarker> entries into the session's InstrumentMarkers XML (or import "
              "them); the session's image must be the T1 these coordinates belong to")
    else:
        print("  Brainsight: File > Import targets; the project's image must be the NIfTI T1 these coordinates "
              "belong to (NIfTI:Aligned)")
    _loud(info["warnings"])
    return 0


def _import(args):
    import warnings as _w

    from ..navigation import NavigationWarning, detect_format, import_poses, write_poses_json

    fmt = args.format or detect_format(args.file)
    with _w.catch_warnings(record=True) as caught:
        _w.simplefilter("always", NavigationWarning)
        poses = import_poses(args.file, fmt=fmt)
    notes = [str(w.message) for w in caught if issubclass(w.category, NavigationWarning)]
    print(f"{args.file}: {fmt}, {len(poses)} pose(s) (RAS mm, coil +z into the head)")
    for name, p in list(poses.items())[: args.list_max]:
        c, z = p.pose.center_mm, p.pose.z_axis
        extra = ""
        if p.didt_a_per_us is not None:
            extra += f"  dI/dt {p.didt_a_per_us:g} A/us"
        if p.percent_output is not None:
            extra += f"  output {p.percent_output:g} %"
        print(f"  {name!r:24s} {p.kind:20s} centre ({c[0]:7.1f}, {c[1]:7.1f}, {c[2]:7.1f})  "
              f"z ({z[0]:+.2f}, {z[1]:+.2f}, {z[2]:+.2f}){extra}")
    if len(poses) > args.list_max:
        print(f"  ... and {len(poses) - args.list_max} more")
    if args.output:
        write_poses_json(poses, args.output, source=args.file, fmt=fmt, warnings=notes)
        first = next(iter(poses))
        print(f"wrote {args.output}; evaluate a pose with `tmsfield target --pose {args.output}:{first!s}` "
              f"(then `tmsfield render`/`view` its result), or `tmsfield view --pose {args.output}:{first!s}`")
    for n in notes:
        print(f"WARNING  {n}")
    return 0


def register(subparsers):
    """Add the ``export`` and ``import`` subcommands."""
    p = subparsers.add_parser(
        "export", help="write a result's placements for a neuronavigator (Localite XML, Brainsight text)",
        description="Write every placement of a `tmsfield target` result (its own and each heuristic's, named "
                    "optimised, eeg_f3, beam_f3, rule_5p5cm) as Localite InstrumentMarkers or Brainsight targets. "
                    "Coordinates are those of the head the plan was made on: the patient's T1 (scanner RAS) for a "
                    "subject head; for the MNI152 template they are template space, which the file and the "
                    "terminal say loudly.")
    p.add_argument("result", help="placement result JSON written by `tmsfield target`")
    p.add_argument("--to", required=True, choices=("localite", "brainsight"), help="the neuronavigator")
    p.add_argument("-o", "--output", required=True, help="file to write (.xml for Localite, .txt for Brainsight)")
    p.add_argument("--space", default="RAS", type=str.upper, choices=("RAS", "LPS"),
                   help="Localite session's world space: RAS for NIfTI images (default), LPS for DICOM "
                        "(x and y negated)")
    p.set_defaults(func=_export)

    q = subparsers.add_parser(
        "import", help="read a neuronavigator's file (Localite markers, Brainsight targets/samples) into poses",
        description="Read Localite InstrumentMarker / TriggerMarker XML or a Brainsight text export (targets and "
                    "samples) into tmsfield poses (RAS mm, coil +z into the head), list them and optionally write "
                    "them as a pose JSON for `tmsfield target --pose FILE:NAME`, `tmsfield view --pose` and "
                    "`tmsfield render --pose`.")
    q.add_argument("file", help="Localite .xml, Brainsight .txt, or a tmsfield pose/result JSON")
    q.add_argument("-o", "--output", default=None, help="write the poses as JSON (schema tmsfield-poses/1)")
    q.add_argument("--format", default=None, choices=("localite", "brainsight", "poses", "result"),
                   help="file format (default: detected from the content)")
    q.add_argument("--list-max", type=int, default=50, metavar="N", help="list at most N poses (default 50)")
    q.set_defaults(func=_import)
