"""Clinician: move a plan into the neuronavigator (Localite and Brainsight) and check it reads back the same.

Takes the result JSON that ``tmsfield target`` (or ``examples/clinician_target.py``) wrote and:

1. exports every placement in it (optimised, EEG F3, Beam F3, 5.5 cm rule) to a Localite
   InstrumentMarker file (``plan_localite.xml``) and a Brainsight target list (``plan_brainsight.txt``);
2. reads both files back, as the navigator would give them to you, and prints for each placement how far
   the read-back coil centre (mm) and coil axis (degrees) are from the plan — they should be ~0;
3. shows how to evaluate one of them as a recorded pose (``tmsfield target --pose FILE:NAME``).

Coordinates are the scanner space of the T1 the plan was made on: load that same T1 in the navigator. A
plan made on the MNI152 template is in template space; the files and this script say so.

Usage::

    python examples/navigation_export.py RESULT.json [OUT_DIR] [--space RAS|LPS]
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

from tmsfield.navigation import export_placements, import_poses, placements_from_result


def run(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("result", help="placement result JSON from `tmsfield target`")
    ap.add_argument("out", nargs="?", default="out", help="folder for the navigator files (default out/)")
    ap.add_argument("--space", default="RAS", choices=["RAS", "LPS"],
                    help="Localite session's image space: RAS for NIfTI (default), LPS for DICOM")
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    planned, _ = placements_from_result(a.result)
    files = {
        "Localite": export_placements(a.result, out / "plan_localite.xml", fmt="localite", space=a.space),
        "Brainsight": export_placements(a.result, out / "plan_brainsight.txt", fmt="brainsight"),
    }
    for w in files["Localite"]["warnings"]:
        print(f"!!! {w}")

    print(f"{'placement':12s} {'navigator':10s} {'centre (mm)':>26s}  {'centre diff':>11s}  {'axis diff':>9s}")
    worst = 0.0
    for nav, info in files.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            back = import_poses(info["path"])
        for p in planned:
            b = back[p.name].pose
            d_mm = float(np.linalg.norm(b.center_mm - p.pose.center_mm))
            cosang = np.clip(np.einsum("ij,ij->j", b.rotation, p.pose.rotation), -1, 1)
            d_deg = float(np.degrees(np.arccos(cosang)).max())
            worst = max(worst, d_mm)
            c = b.center_mm
            print(f"{p.name:12s} {nav:10s} ({c[0]:7.1f}, {c[1]:7.1f}, {c[2]:7.1f})  {d_mm:8.1e} mm  "
                  f"{d_deg:6.1e} deg")
    print(f"wrote {files['Localite']['path']} and {files['Brainsight']['path']} "
          f"({len(planned)} placements each; largest read-back difference {worst:.1e} mm)")
    print(f"evaluate a recorded or planned pose: tmsfield target --pose {files['Localite']['path']}:"
          f"{planned[0].name} [same --head/--coil/target options as the plan]")
    return 0 if worst < 1e-3 else 1


if __name__ == "__main__":
    sys.exit(run())
