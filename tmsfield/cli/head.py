"""``tmsfield head T1.nii.gz -o HEAD_DIR``: a subject head from a T1 alone (needs ``pip install tmsfield[t1]``)."""

__all__ = ["register"]


def register(subparsers):
    p = subparsers.add_parser(
        "head", help="build a head from a patient's T1 alone (template warped in by ANTs SyN; needs tmsfield[t1])",
        description="Register the MNI152 T1 to the patient's T1 (antspyx: affine, then SyN), warp the template's "
                    "surfaces, cortex, landmarks and EEG positions into the subject, mesh the scalp from the T1 "
                    "itself and write HEAD_DIR (GIFTI surfaces, landmarks.json, eeg_positions.json, provenance.json "
                    "and the MNI->subject warp mni_to_subject_warp.nii.gz, an ITK/ANTs displacement field). "
                    "Load it with `--head HEAD_DIR`; map MNI targets with `--mni-warp HEAD_DIR/"
                    "mni_to_subject_warp.nii.gz`. About 3 min on 2 cores at the default 2 mm.")
    p.add_argument("t1", help="the patient's whole-head T1-weighted image (.nii, .nii.gz or .mgz)")
    p.add_argument("-o", "--output", required=True, metavar="HEAD_DIR", help="folder to write (new or empty)")
    p.add_argument("--template", default="mni152_3shell",
                   help="bundled template to warp (default mni152_3shell; mni152 = five tissues)")
    p.add_argument("--template-t1", default=None, metavar="FILE",
                   help="whole-head MNI152 NLin6 Asym T1 (tpl-MNI152NLin6Asym_res-01_T1w.nii.gz); default: "
                        "~/.cache/tmsfield/templates, fetched once from PyPI (the nimare wheel) if absent")
    p.add_argument("--resolution", type=float, default=2.0, metavar="MM",
                   help="registration voxel size in mm (default 2; 1 is ~8x slower)")
    p.add_argument("--iterations", default="100,70,30", metavar="N,N,N",
                   help="SyN iterations per level, coarse to fine (default 100,70,30)")
    p.add_argument("--warp-spacing", type=float, default=2.0, metavar="MM",
                   help="grid spacing of the saved MNI->subject displacement field (default 2 mm)")
    p.add_argument("--threads", type=int, default=2, help="registration threads (default 2)")
    p.add_argument("--seed", type=int, default=1, help="registration random seed (default 1)")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty HEAD_DIR")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def run(args):
    from ..errors import InputError
    from ..head.from_t1 import head_from_t1

    try:
        its = tuple(int(v) for v in str(args.iterations).split(","))
    except ValueError:
        raise InputError(f"--iterations {args.iterations!r}: give integers separated by commas, e.g. 100,70,30") \
            from None
    res = head_from_t1(args.t1, args.output, template=args.template, template_t1=args.template_t1,
                       resolution_mm=args.resolution, syn_iterations=its, warp_spacing_mm=args.warp_spacing,
                       threads=args.threads, seed=args.seed, progress=not args.quiet, overwrite=args.overwrite)
    h = res.head
    sc = res.provenance["scalp"]["warped_template_scalp_distance_mm"]
    print(f"head     {res.head_dir}: " + ", ".join(f"{b.name} {b.n_triangles}" for b in h.boundaries)
          + (f", cortex {h.cortex.n_vertices} vertices" if h.cortex is not None else ""))
    print(f"check    warped template scalp vs the T1's scalp: mean {sc['mean']:.1f} mm, 95th percentile "
          f"{sc['p95']:.1f} mm")
    print(f"warp     {res.warp_path} (MNI -> subject, ITK displacement field)")
    print(f"use      tmsfield target --head {res.head_dir} --mni-warp {res.warp_path}")
    print(f"time     {res.provenance['timings_s']['total']:.0f} s")
    return 0
