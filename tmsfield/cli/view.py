"""``tmsfield view``: move and turn the coil over the scalp with the E-field updating live."""

__all__ = ["register"]


def register(subparsers):
    p = subparsers.add_parser(
        "view", help="interactive placement preview (window, or --web for a browser)",
        description="Open a placement result (or a head and a target) in a 3-D window: arrow keys move the coil "
                    "5 mm, [ and ] turn it 5 degrees, o snaps to the optimised placement, k saves the pose as "
                    "result JSON. Without a display use --web and open the printed address.")
    p.add_argument("result", nargs="?", help="placement result JSON written by `tmsfield target`")
    p.add_argument("--head", default=None, help="head name or folder (default: the result's head, else mni152_3shell)")
    p.add_argument("--coil", default=None, help="coil name or file (default: the result's coil, else fig8_70mm)")
    p.add_argument("--target", nargs=3, type=float, default=None, metavar=("X", "Y", "Z"),
                   help="target on the cortex in head coordinates, mm (without a result)")
    p.add_argument("--pose", default=None, metavar="FILE[:NAME]",
                   help="start at this pose: a Localite/Brainsight file, `tmsfield import` pose JSON or result JSON "
                        "and the name of the pose in it (see `tmsfield import`)")
    p.add_argument("--didt", type=float, default=None, help="dI/dt in A/us (default: the result's dose, else 1)")
    p.add_argument("--quantity", choices=("magnitude", "normal"), default=None)
    p.add_argument("--clim", nargs=2, type=float, default=None, metavar=("LOW", "HIGH"),
                   help="fixed colour range in V/m")
    p.add_argument("--save", default=None, help="where the save key/button writes the pose JSON")
    p.add_argument("--web", action="store_true", help="serve the viewer to a browser through trame")
    p.add_argument("--host", default="127.0.0.1", help="interface for --web (default 127.0.0.1, loopback only)")
    p.add_argument("--port", type=int, default=8080, help="port for --web (default 8080)")
    from .render import add_progress_arguments
    add_progress_arguments(p)
    p.set_defaults(func=run)


def run(args):
    from .. import _progress

    with _progress.reporting(quiet=args.quiet, prefix="tmsfield view"):
        return _run(args)


def _run(args):
    import tmsfield

    from ..errors import InputError
    from ..viz.interactive import LiveViewer, state_from_inputs
    from ..viz.offscreen import check_rendering, configure_offscreen, has_display

    pose = didt = None
    if args.pose:
        from ..navigation import resolve_pose

        nav = resolve_pose(args.pose)
        pose, didt = nav.matrix, nav.didt_a_per_us
    if args.result is None and args.target is None and pose is None:
        raise InputError("give a placement result JSON, --pose FILE[:NAME], or --target X Y Z (mm) with --head/--coil")
    if args.save:                          # checked before the head is loaded
        from pathlib import Path

        from .._outputs import output_file
        args.save = str(output_file(args.save, default_name=f"{Path(args.result or 'placement').stem}.json",
                                    option="--save"))
    options = {}
    if args.quantity:
        options["quantity"] = args.quantity
    if args.clim:
        options["clim"] = tuple(args.clim)
    head = tmsfield.load_head(args.head) if args.head else None
    coil = tmsfield.load_coil(args.coil) if args.coil else None
    if args.result is None:
        # TODO(issue 13): switch to "mni152" when the scalable solver lands
        head = head or tmsfield.load_head("mni152_3shell")
        coil = coil or tmsfield.load_coil("fig8_70mm")
    if args.web or not has_display():
        configure_offscreen()
    check_rendering()
    solver = None
    if args.no_cache:
        h = head or (tmsfield.load_head(_result_head(args.result)) if args.result else None)
        if h is not None:
            head, solver = h, tmsfield.EFieldSolver(h)
    state, save_default = state_from_inputs(args.result, head=head, coil=coil, target_mm=args.target, pose=pose,
                                            didt=args.didt if args.didt is not None else didt, solver=solver,
                                            **options)
    save_path = args.save or save_default
    if args.web:
        from ..viz.web import serve_web

        return serve_web(state, host=args.host, port=args.port, save_path=save_path)
    if not has_display():
        raise InputError("no display for a window here (DISPLAY is not set): run `tmsfield view --web ...` and open "
                         "the printed address in a browser, or `tmsfield render` for images")
    LiveViewer(state, save_path=save_path).show()
    return 0


def _result_head(path):
    from ..viz.result_scene import load_result

    res = load_result(path)
    return res["head"].get("source") or res["head"].get("name")
