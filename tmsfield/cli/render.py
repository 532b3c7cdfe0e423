"""``tmsfield render RESULT.json -o x.png``: recompute a placement's E-field and draw it off screen."""

__all__ = ["register"]


def _size(text):
    import argparse

    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1024x768; got {text!r}") from None
    return w, h


def register(subparsers):
    p = subparsers.add_parser(
        "render", help="draw a placement result (E-field on the cortex, coil, target) to a PNG off screen",
        description="Recompute the E-field of a placement result (tmsfield-placement/1 JSON) on its head and "
                    "write a PNG with one sub-plot per view. Works without a display (OSMesa).")
    p.add_argument("result", help="placement result JSON written by `tmsfield target`")
    p.add_argument("-o", "--output", required=True, help="PNG file to write, or an existing folder for <folder>/<result>.png")
    p.add_argument("--views", nargs="+", default=None, metavar="VIEW",
                   help="left_lateral right_lateral dorsal anterior posterior coil_axis "
                        "(default: left_lateral dorsal anterior coil_axis)")
    p.add_argument("--size", type=_size, default=(1024, 768), help="image size WxH in pixels (default 1024x768)")
    p.add_argument("--quantity", choices=("magnitude", "normal"), default=None,
                   help="plot |E| or the normal component (default: the target's quantity)")
    p.add_argument("--clim", nargs=2, type=float, default=None, metavar=("LOW", "HIGH"),
                   help="fixed colour range in V/m (default 0 .. 99.9th percentile)")
    p.add_argument("--threshold", type=float, default=None,
                   help="V/m below which the curvature underlay shows (default 25%% of the range)")
    p.add_argument("--pose", default=None, metavar="FILE[:NAME]",
                   help="draw the result's head, coil and target with the coil at this pose instead (a Localite/"
                        "Brainsight file, `tmsfield import` pose JSON or result JSON; see `tmsfield import`)")
    p.add_argument("--export", default=None, metavar="DIR",
                   help="also write the field as GIFTI (efield.func.gii + cortex.surf.gii) and FreeSurfer curv "
                        "(lh.efield), the scene as VTP files (scene.vtm) and the pose JSON (placement.json) into DIR")
    add_progress_arguments(p)
    p.set_defaults(func=run)


def add_progress_arguments(p, cache=True):
    """``--quiet`` (no progress on stderr) and ``--no-cache`` (no on-disk set-up cache), shared by the commands."""
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    if cache:
        p.add_argument("--no-cache", action="store_true",
                       help="do not read or write the on-disk set-up cache (see `tmsfield cache list`)")


def run(args):
    from .. import _progress

    with _progress.reporting(quiet=args.quiet, prefix="tmsfield render"):
        return _run(args)


def _run(args):
    from pathlib import Path

    from .. import _progress

    from .._outputs import output_file, output_folder

    # outputs are checked before the field is recomputed: an existing folder gets <folder>/<result>.png
    png = output_file(args.output, default_name=f"{Path(args.result).stem}.png", option="-o/--output")
    out = output_folder(args.export, option="--export") if args.export else None

    from ..viz.renderer import render
    from ..viz.result_scene import load_result, scene_from_result

    result = load_result(args.result)
    if getattr(args, "pose", None):
        from ..navigation import resolve_pose

        nav = resolve_pose(args.pose)
        result = {**result, "pose": nav.pose.tolist(), "position_mm": nav.pose.center_mm.tolist(), "method": "manual"}
    scene = scene_from_result(result, quantity=args.quantity, clim=args.clim, threshold=args.threshold,
                              cache=not args.no_cache)
    with _progress.step("rendering the views"):
        render(scene, filename=png, views=args.views, window_size=args.size)
    print(f"wrote {png}")
    if args.export:
        from ..viz import export

        export.export_gifti(out / "efield.func.gii", scene)
        export.export_gifti_surface(out / "cortex.surf.gii", scene)
        export.export_curv(out / "lh.efield", scene)
        export.export_vtk(out, scene)
        export.export_pose_json(out / "placement.json", result)
        print(f"wrote GIFTI, curv, VTP and pose JSON to {out}")
    return 0
