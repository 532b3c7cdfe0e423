"""Load a SimNIBS charm head (an m2m_<subject> folder or its .msh), show its tissue junctions, solve a TMS field.

For engineers bringing their own SimNIBS segmentation: the tetrahedral mesh (tags 1-10) becomes boundary
surfaces whose every triangle knows the tissue on each of its sides; eyes, bones, blood and muscle are
mapped onto scalp | skull | CSF | GM | WM (or kept with SimNIBS' conductivities: --keep-extra).

Usage:
    python examples/load_simnibs_head.py [OUT_DIR] [M2M_DIR_OR_MSH] [--keep-extra] [--no-solve]

Without M2M_DIR_OR_MSH a small demonstration folder OUT_DIR/m2m_demo is written first: concentric tissues
(scalp 95, skull 90, CSF 85, GM 80, WM 75 mm) with a CSF ventricle inside the white matter, and an EEG
cap file. For that head the field is compared with the analytic sphere (exact for concentric tissues).
Writes OUT_DIR/tissue_junctions.csv: per surface and pair of tissues, the number and area of triangles.
"""

import csv
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

import tmsfield
from tmsfield.head.charm import concentric_tetrahedra
from tmsfield.head.io_msh import write_msh_volume


def write_demo_m2m(folder):
    """A charm-like m2m folder: <subject>.msh (tetrahedra tagged as SimNIBS does) and eeg_positions/."""
    folder.mkdir(parents=True, exist_ok=True)
    #            ventricle  WM   GM   CSF  skull scalp   (SimNIBS tags 3, 1, 2, 3, 4, 5)
    nodes, tets, tags, _ = concentric_tetrahedra([30, 75, 80, 85, 90, 95], [3, 1, 2, 3, 4, 5], [1, 2, 2, 2, 3, 4])
    write_msh_volume(folder / "demo.msh", nodes, tets, tags)
    (folder / "eeg_positions").mkdir(exist_ok=True)
    (folder / "eeg_positions" / "EEG10-10_UI_Jurak_2007.csv").write_text(
        "Fiducial,0.0,95.0,0.0,Nz\nFiducial,0.0,-95.0,0.0,Iz\nFiducial,-95.0,0.0,0.0,LPA\nFiducial,95.0,0.0,0.0,RPA\n")
    return folder


def main(argv):
    flags = {a for a in argv[1:] if a.startswith("--")}
    args = [a for a in argv[1:] if not a.startswith("--")]
    out = Path(args[0]) if args else Path("out")
    out.mkdir(parents=True, exist_ok=True)
    demo = len(args) < 2
    source = write_demo_m2m(out / "m2m_demo") if demo else Path(args[1])
    head = tmsfield.load_head(source, extra_tissues="keep" if "--keep-extra" in flags else "map")
    print(head)
    rows = []
    for surface, sides in zip(head.boundaries, head.triangle_sides()):
        pairs, inverse = np.unique(sides, axis=0, return_inverse=True)
        area = np.bincount(inverse.reshape(-1), weights=surface.triangle_areas, minlength=len(pairs))
        count = np.bincount(inverse.reshape(-1), minlength=len(pairs))
        for (inside, outside), n, a in zip(pairs, count, area):
            print(f"  {surface.name:12s} {inside:>12s} | {outside:<12s} {n:7d} triangles {a / 100:9.1f} cm²")
            rows.append([surface.name, inside, outside, int(n), f"{a:.1f}"])
    target = out / "tissue_junctions.csv"
    fd, tmp = tempfile.mkstemp(dir=out, suffix=".csv")           # written atomically
    with os.fdopen(fd, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["surface", "inside", "outside", "triangles", "area_mm2"])
        w.writerows(rows)
    os.replace(tmp, target)
    print(f"landmarks: {sorted(head.landmarks)}; junction table written to {target}")
    if "--no-solve" in flags:
        return 0
    # a figure-8 coil 10 mm above the scalp, over the top of the head; E on the cortex at 1 A/µs
    coil = tmsfield.load_coil("fig8_70mm")
    top = head.scalp.vertices[np.argmax(head.scalp.vertices[:, 2])]
    centre = head.scalp.vertices.mean(axis=0)
    z = (centre - top) / np.linalg.norm(centre - top)
    pose = tmsfield.CoilPose.from_axes(top - 10.0 * z, z, [0.0, 1.0, 0.0])
    solver = tmsfield.EFieldSolver(head, fast_placements=False)
    e = solver.efield_on_cortex(coil, pose, didt=1.0)
    mag = np.linalg.norm(e, axis=1)
    print(f"|E| on the cortex at 1 A/µs: max {mag.max():.1f} V/m, 99th percentile {np.percentile(mag, 99):.1f} V/m "
          f"({solver.n_triangles} boundary triangles)")
    if demo:
        ref = tmsfield.SphereModel(radius_mm=95.0).efield(coil, head.cortex.vertices, pose, didt=1.0)
        err = np.linalg.norm(e - ref) / np.linalg.norm(ref)
        print(f"relative L2 difference from the analytic sphere: {100 * err:.2f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
