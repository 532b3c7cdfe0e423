"""``tmsfield cache list|clear``: what the on-disk set-up cache holds, and emptying it."""

__all__ = ["register"]


def _size(n):
    for unit, f in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= f:
            return f"{n / f:.1f} {unit}"
    return f"{n} B"


def _list(args):
    import time

    from ..cache import SetupStore

    store = SetupStore(args.dir) if args.dir else SetupStore()
    ents = store.entries()
    total = sum(e.size_bytes for e in ents)
    print(f"set-up cache {store.root}: {len(ents)} entries, {_size(total)} of {_size(store.max_bytes)} "
          f"(TMSFIELD_CACHE_MAX_GB), least recently used first")
    for e in ents:
        used = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.last_used)) if e.last_used else "?"
        print(f"  {e.name:48s} {_size(e.size_bytes):>9s}  used {used}  {e.description}")
    return 0


def _clear(args):
    from ..cache import SetupStore

    store = SetupStore(args.dir) if args.dir else SetupStore()
    n, size = store.clear(kind=args.kind)
    what = f" of kind {args.kind}" if args.kind else ""
    print(f"removed {n} entries{what} ({_size(size)}) from {store.root}")
    return 0


def register(subparsers):
    """Add the ``cache`` subcommand (``list``, ``clear``)."""
    p = subparsers.add_parser(
        "cache", help="list or clear the on-disk set-up cache (LU factors, near field, fast maps)",
        description="The set-up of a head (near-field corrections, dense LU of the BEM matrix, fast-placement "
                    "map, coil surrogates) is kept in $TMSFIELD_CACHE_DIR, else $XDG_CACHE_HOME/tmsfield, else "
                    "~/.cache/tmsfield, keyed by the mesh, conductivities, settings and tmsfield version. "
                    "Size limit TMSFIELD_CACHE_MAX_GB (default 20); least recently used entries go first.")
    sub = p.add_subparsers(dest="cache_command", metavar="ACTION")
    pl = sub.add_parser("list", help="entries, sizes and when each was last used")
    pl.add_argument("--dir", default=None, help="cache folder (default: the one above)")
    pl.set_defaults(func=_list)
    pc = sub.add_parser("clear", help="remove every entry (or those of one kind)")
    pc.add_argument("--dir", default=None, help="cache folder (default: the one above)")
    pc.add_argument("--kind", default=None, help="only this kind (bem-lu, bem-near, bem-eval, fastmap, coil-surrogate)")
    pc.set_defaults(func=_clear)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
