"""Batch user: many targets (and heads) from a CSV manifest, resumable, with a summary table.

Writes ``<out>/manifest.csv`` (one row per named DLPFC target on the head), runs ``tmsfield batch`` on it
and prints ``<out>/results/summary.csv``. Re-running skips the rows already done.

Usage::

    python examples/batch_manifest.py [OUT_DIR] [--head mni152_3shell] [--coil fig8_70mm] [--landmarks JSON]
                                      [--model bem|sphere] [--subjects "X Y Z;X Y Z"] [--workers N]
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
    ap.add_argument("--landmarks", default="")
    ap.add_argument("--model", default="bem", choices=["bem", "sphere"])
    ap.add_argument("--subjects", default=None, help="subject-space targets 'x y z;x y z' instead of named ones")
    ap.add_argument("--workers", default="1")
    ap.add_argument("--search-radius", default="20")
    a = ap.parse_args(argv)
    out = Path(a.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if a.subjects:
        targets = [f"subject:{s.strip()}" for s in a.subjects.split(";")]
    else:
        targets = ["fox2012_sgacc", "fox2012_group_optimal", "fitzgerald2009", "ba46", "ba9"]
    head = str(Path(a.head).resolve()) if Path(a.head).exists() else a.head
    coil = str(Path(a.coil).resolve()) if Path(a.coil).exists() else a.coil
    lm = str(Path(a.landmarks).resolve()) if a.landmarks else ""
    lines = ["head,target,coil,landmarks"] + [f"{head},{t},{coil},{lm}" for t in targets]
    manifest = out / "manifest.csv"
    manifest.write_text("\n".join(lines) + "\n")
    rc = tmsfield(["batch", str(manifest), "--out", str(out / "results"), "--model", a.model,
                   "--search-radius", a.search_radius, "--workers", a.workers, "--no-heuristics", "--quiet"])
    print((out / "results" / "summary.csv").read_text())
    return rc


if __name__ == "__main__":
    sys.exit(run())
