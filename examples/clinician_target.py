"""Clinician: where to put the coil for the Fox 2012 left-DLPFC target, and what output to use.

Runs the main job (optimised placement + the EEG F3 / Beam F3 / 5.5 cm heuristics for comparison) and
writes ``<out>/placement.json`` plus a printed summary. The motor-threshold field is given as the field
the patient needs at the target (here 100 V/m, an illustrative value).

Usage::

    python examples/clinician_target.py [OUT_DIR] [--head mni152_3shell] [--coil fig8_70mm] [--landmarks JSON]
                                        [--model bem|sphere] [--subject X Y Z]
"""

import argparse
import sys
from pathlib import Path

from tmsfield.cli.main import main as tmsfield


def run(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default="out")
    ap.add_argument("--head", default="mni152_3shell")
    ap.add_argument("--coil", default="fig8_70mm")
    ap.add_argument("--landmarks", default=None)
    ap.add_argument("--model", default="bem", choices=["bem", "sphere"])
    ap.add_argument("--subject", nargs=3, default=None)
    ap.add_argument("--search-radius", default="20")
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    args = ["target", "--head", a.head, "--coil", a.coil, "--model", a.model, "--search-radius", a.search_radius,
            "--requested-field", "100", "--percent-output", "60", "--out", str(out / "placement.json")]
    args += ["--subject", *a.subject] if a.subject else ["--target", "fox2012_sgacc"]
    if a.landmarks:
        args += ["--landmarks", a.landmarks]
    return tmsfield(args)


if __name__ == "__main__":
    sys.exit(run())
