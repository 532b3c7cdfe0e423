"""Clinician: treatment dose from the patient's resting motor threshold (RMT), and a personalised target map.

Usage::

    python examples/motor_threshold_dose.py RMT_PERCENT [--head mni152_3shell] [--model sphere|bem] [--map MAP.func.gii]

Finds the M1 hand-area hotspot with the same search as the DLPFC target, computes the E-field at M1 at the
measured threshold, and the stimulator output that gives the DLPFC target the same field (and 120 % of it,
the usual rTMS dose), beside the Stokes et al. (2005, 2007) scalp–cortex distance adjustment. With --map, the
target is the best cluster of a per-vertex map (e.g. an sgACC-anticorrelation map made on this cortex).
The default local-sphere model runs in seconds; ``--model bem`` is the accurate one.
"""

import argparse

from tmsfield.targets.run import SetupCache, TargetJob, run_target


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rmt", type=float, help="resting motor threshold, %% of maximum stimulator output")
    ap.add_argument("--head", default="mni152_3shell")
    ap.add_argument("--model", default="sphere", choices=("sphere", "bem"))
    ap.add_argument("--map", default=None, help="per-vertex target map on the head's cortex (GIFTI or curv)")
    args = ap.parse_args()
    job = TargetJob(head=args.head, model=args.model, motor_threshold=args.rmt, heuristics=False,
                    target_map=args.map, map_space="subject" if args.map else "mni")
    res = run_target(job, SetupCache())
    mt = res["dose"]["motor_threshold"]
    print(f"target          {res['target']['name']} at {[round(x, 1) for x in res['target']['subject_mm']]} mm")
    print(f"M1 at threshold {mt['e_m1_v_per_m']:.1f} V/m ({mt['rmt_percent']:g} % output)")
    print(f"matched output  {mt['percent_output_matched']:.1f} %  -> {mt['e_target_v_per_m']:.1f} V/m at the target"
          + ("" if mt["reachable_matched"] else "  NOT reachable"))
    print(f"120 % dose      {mt['percent_output_120']:.1f} %" + ("" if mt["reachable_120"] else "  NOT reachable"))
    print(f"Stokes          {mt['stokes_percent']:.1f} % (depth target {mt['depth_target_mm']:.1f} mm, "
          f"M1 {mt['depth_m1_mm']:.1f} mm)")
    for w in mt["warnings"]:
        print("warning        ", w)


if __name__ == "__main__":
    main()
