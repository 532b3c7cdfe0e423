"""``tmsfield report RESULT.json -o report.html``: one self-contained HTML page (optionally PDF) of a plan."""

__all__ = ["register", "add_report_arguments", "check_report_arguments", "write_report_beside"]


def _size(text):
    import argparse

    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 640x480; got {text!r}") from None
    return w, h


def register(subparsers):
    p = subparsers.add_parser(
        "report", help="one-file HTML report of a placement result (views embedded; optional PDF)",
        description="Write a self-contained HTML report of a placement result (tmsfield-placement/1 JSON): head "
                    "and model, coil and stimulator, target, the optimised placement and each heuristic, dose "
                    "(and the motor-threshold dose when the result has one), views with the colour bar in V/m, "
                    "and provenance. No network is used and the page loads nothing from outside itself.")
    p.add_argument("result", help="placement result JSON written by `tmsfield target`")
    p.add_argument("-o", "--output", default=None,
                   help="HTML file to write (default: the result's name with .html, beside it)")
    p.add_argument("--pdf", action="store_true",
                   help="also write a PDF beside the HTML (needs the optional extra: pip install 'tmsfield[pdf]')")
    p.add_argument("--no-images", action="store_true", help="text only: no rendered views (no OpenGL needed)")
    p.add_argument("--views", nargs="+", default=None, metavar="VIEW",
                   help="views to render (default: left_lateral dorsal coil_axis)")
    p.add_argument("--size", type=_size, default=(640, 480), help="pixels per view WxH (default 640x480)")
    p.set_defaults(func=run)


def _print_outcome(out):
    import sys

    print(f"wrote {out['html']}")
    if out.get("pdf"):
        print(f"wrote {out['pdf']}")
    if out.get("pdf_skipped"):
        print(f"tmsfield report: PDF skipped: {out['pdf_skipped']}", file=sys.stderr)


def run(args):
    from pathlib import Path

    from ..report import write_report

    out_path = Path(args.output) if args.output else Path(args.result).with_suffix(".html")
    out = write_report(args.result, out_path, views=args.views, images=not args.no_images, size=args.size,
                       pdf=args.pdf)
    _print_outcome(out)
    return 0


def add_report_arguments(p):
    """``--report`` / ``--report-pdf`` options of ``tmsfield target`` (their own argument group)."""
    g = p.add_argument_group("report")
    g.add_argument("--report", action="store_true",
                   help="also write a one-file HTML report beside the result JSON (same name, .html)")
    g.add_argument("--report-pdf", action="store_true",
                   help="with --report: also a PDF (needs the optional extra: pip install 'tmsfield[pdf]')")


def check_report_arguments(args):
    """Refuse ``--report-pdf`` without ``--report`` before any work is done."""
    if getattr(args, "report_pdf", False) and not getattr(args, "report", False):
        from ..errors import InputError
        raise InputError("--report-pdf needs --report (the PDF is a copy of the HTML report)")


def write_report_beside(args, result, json_path, cache=None):
    """After ``tmsfield target``: write ``<json>.html`` (and .pdf) reusing the run's head, coil and solver."""
    from pathlib import Path

    from ..report import write_report

    check_report_arguments(args)
    if not getattr(args, "report", False):
        return None
    res = dict(result)
    res["_path"] = str(json_path)
    kw = {}
    if cache is not None:
        src = getattr(args, "head", None) or res["head"]["source"]       # the cache's keys are the job's sources
        kw["head"] = cache.head(src, getattr(args, "landmarks", None))
        kw["coil"] = cache.coil(getattr(args, "coil", None) or res["coil"]["source"])
        model = (res.get("settings") or {}).get("model", "bem")
        if model == "bem":
            kw["solver"] = cache.solver(src, "bem", landmarks=getattr(args, "landmarks", None))
    out = write_report(res, Path(json_path).with_suffix(".html"), pdf=bool(getattr(args, "report_pdf", False)), **kw)
    _print_outcome(out)
    return out
