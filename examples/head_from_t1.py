"""A patient with only a T1: build a head from it, then place the coil for the Fox 2012 left-DLPFC target.

For a clinician or engineer with a T1-weighted NIfTI and no segmentation. Needs ``pip install tmsfield[t1]``.

Usage:
    python examples/head_from_t1.py T1.nii.gz [HEAD_DIR] [--fast]

Same as the command line ``tmsfield head T1.nii.gz -o HEAD_DIR``. ``--fast`` registers at 4 mm (seconds,
for a try-out; the default 2 mm takes about a minute on 2 cores). The MNI target is mapped into the
patient through the saved nonlinear warp (``HEAD_DIR/mni_to_subject_warp.nii.gz``), not an affine; the
coil is then placed over it (closest scalp point, handle 45°; ``tmsfield target --head HEAD_DIR
--mni-warp HEAD_DIR/mni_to_subject_warp.nii.gz`` runs the full field-optimised search and dose).
"""

import sys
from pathlib import Path

import numpy as np

import tmsfield
from tmsfield.head.from_t1 import head_from_t1, mni_to_subject


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    if not args:
        print(__doc__)
        return 2
    t1 = Path(args[0])
    head_dir = Path(args[1]) if len(args) > 1 else Path("head_from_t1")
    res = head_from_t1(t1, head_dir, resolution_mm=4.0 if "--fast" in argv else 2.0,
                       syn_iterations=(40, 20, 0) if "--fast" in argv else (100, 70, 30), overwrite=True)
    head = res.head
    print(head)
    check = res.provenance["scalp"]["warped_template_scalp_distance_mm"]
    print(f"registration check: the warped template scalp lies {check['mean']:.1f} mm (mean) from the scalp of "
          f"the T1 (95th percentile {check['p95']:.1f} mm)")
    fox = np.array([[-38.0, 44.0, 26.0]])                     # Fox et al. 2012, MNI mm
    subj = mni_to_subject(fox, res.head_dir)[0]
    print(f"Fox 2012 target: MNI {fox[0].tolist()} -> subject ({subj[0]:.1f}, {subj[1]:.1f}, {subj[2]:.1f}) mm")
    f3 = head.eeg_positions()["F3"]
    print(f"EEG F3 on this scalp: ({f3[0]:.1f}, {f3[1]:.1f}, {f3[2]:.1f}) mm")
    coil = tmsfield.load_coil("fig8_70mm")
    placement = tmsfield.targets.coil_pose(head, coil, target_mm=subj)
    c = placement.pose[:3, 3]
    print(f"coil centre ({c[0]:.1f}, {c[1]:.1f}, {c[2]:.1f}) mm; head files, warp and provenance in {res.head_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
