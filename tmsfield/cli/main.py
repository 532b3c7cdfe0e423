"""The ``tmsfield`` command line.

Each subcommand lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (a callable taking the
parsed arguments and returning an exit code). Modules must import heavy dependencies
(pyvista, dask) inside ``func``, never at import time, so ``tmsfield --help`` stays fast.
"""

import argparse
import sys
from importlib import import_module

from .._version import __version__
from ..errors import TmsfieldError

# subcommand modules, in the order shown by --help
SUBCOMMANDS = ("target", "batch", "render", "view", "field", "report", "navigation", "head",  # navigation: export, import
               "cache")


def build_parser():
    """The argparse parser with every available subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="tmsfield",
        description="TMS coil fields, induced E-fields and left-DLPFC coil targeting. "
                    "Units: mm, V/m, dI/dt in A/us.")
    parser.add_argument("--version", action="version", version=f"tmsfield {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__package__}.{name}":
                continue  # subcommand not part of this build
            raise
        module.register(sub)
    return parser


def main(argv=None):
    """Entry point of the ``tmsfield`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except TmsfieldError as exc:
        print(f"tmsfield {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"tmsfield {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
