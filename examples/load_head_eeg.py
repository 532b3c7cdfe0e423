"""Load a head (the bundled MNI152 template by default), print its make-up and write its EEG 10-10
positions to a CSV file.

Usage:
    python examples/load_head_eeg.py [OUT_DIR] [HEAD]

HEAD is a template name ("mni152" five tissues, "mni152_3shell", "mni152_3shell_coarse"), a FreeSurfer/MNE subject folder, a folder of
GIFTI surfaces, a SimNIBS .msh file or a label volume (.nii.gz); OUT_DIR defaults to ./out.
"""

import csv
import os
import sys
import tempfile
from pathlib import Path

import tmsfield


def main(argv):
    out = Path(argv[1]) if len(argv) > 1 else Path("out")
    source = argv[2] if len(argv) > 2 else "mni152_3shell"
    out.mkdir(parents=True, exist_ok=True)
    head = tmsfield.load_head(source)
    print(head)
    for surface, tissue in zip(head.boundaries, head.tissues):
        print(f"  {surface.name:12s} {surface.n_triangles:6d} triangles, mean edge {surface.mean_edge_length:.1f} mm, "
              f"encloses {tissue}")
    positions = head.eeg_positions()
    target = out / "eeg_10_10_positions.csv"
    fd, tmp = tempfile.mkstemp(dir=out, suffix=".csv")      # write atomically
    with os.fdopen(fd, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["label", "x_mm", "y_mm", "z_mm"])
        for name, p in positions.items():
            w.writerow([name, *(f"{c:.2f}" for c in p)])
    os.replace(tmp, target)
    print(f"F3 at {positions['F3'].round(1).tolist()} mm; {len(positions)} positions written to {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
