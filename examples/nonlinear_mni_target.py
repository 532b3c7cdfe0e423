"""Clinician: an MNI target mapped into the patient through a nonlinear warp, then the placement and dose.

Usage::

    python examples/nonlinear_mni_target.py --head HEAD --warp WARP [--source T1] [--model sphere|bem]
    python examples/nonlinear_mni_target.py --demo

WARP is the patient's MNI <-> subject warp as the registration tool wrote it: SimNIBS
``m2m_<sub>/toMNI/MNI2Conform_nonl.nii.gz``, ANTs ``…1Warp.nii.gz`` or ``…Composite.h5``, FSL FNIRT
``--fout`` field or ``--cout`` coefficients (FSL needs ``--source``, the T1 the registration started from),
or ``HEAD_DIR/mni_to_subject_warp.nii.gz`` from ``tmsfield head``. The Fox et al. (2012) left-DLPFC target is
mapped through it (not through the head's affine), the coil placed over it, and both positions printed.

``--demo`` makes a stand-in "patient": the coarse template and a smooth known warp written as an ANTs field,
so the script runs without patient data.
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np

from tmsfield.head.warps import load_warp, write_displacement_field
from tmsfield.targets.run import SetupCache, TargetJob, run_target


def demo_warp(folder):
    """A smooth warp (up to ~4 mm) on a 4-mm grid over the head, as an ANTs/ITK displacement field."""
    aff = np.array([[4.0, 0, 0, -100], [0, 4, 0, -130], [0, 0, 4, -90], [0, 0, 0, 1]])
    ijk = np.stack(np.meshgrid(*[np.arange(n, dtype=float) for n in (51, 61, 51)], indexing="ij"), -1)
    g = ijk @ aff[:3, :3].T + aff[:3, 3]
    moved = g + np.stack([3 * np.sin(g[..., 1] / 30), 2 * np.sin(g[..., 2] / 30), 1.5 * np.cos(g[..., 0] / 40)], -1)
    return write_displacement_field(Path(folder) / "demo_1Warp.nii.gz", aff, moved, kind="itk")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--head", default="mni152_coarse")
    ap.add_argument("--warp", default=None)
    ap.add_argument("--source", default=None, help="FSL warps: the subject T1 of the registration")
    ap.add_argument("--model", default="sphere", choices=("sphere", "bem"))
    ap.add_argument("--demo", action="store_true")
    args = ap.parse_args(argv)
    tmp = tempfile.TemporaryDirectory()
    warp = str(demo_warp(tmp.name)) if args.demo else args.warp
    if warp is None:
        ap.error("give --warp WARP (or --demo)")
    w = load_warp(warp, source=args.source)
    job = TargetJob(head=args.head, model=args.model, mni_warp=warp, mni_warp_source=args.source, heuristics=False)
    res = run_target(job, SetupCache())
    t = res["target"]
    print(f"warp      {Path(warp).name} ({w.kind}, {w.direction})")
    print(f"target    {t['name']}  MNI {np.round(t['mni_mm'], 1).tolist()} -> subject "
          f"{np.round(t['subject_mm'], 1).tolist()} mm")
    print(f"coil      centre {np.round(res['pose'][0][3], 1)} {np.round(res['pose'][1][3], 1)} "
          f"{np.round(res['pose'][2][3], 1)} mm, handle {res['handle_angle_deg']:.0f} deg")
    print(f"E-field   {res['efield_at_target_v_per_m_per_a_per_us']:.3f} V/m per A/us at the target")
    tmp.cleanup()
    return res


if __name__ == "__main__":
    main()
