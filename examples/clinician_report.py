"""Plan a left-DLPFC coil placement and write the one-file report for the patient's chart.

Usage::

    python examples/clinician_report.py [OUT_DIR] [--quick] [--percent-output PCT] [--pdf]

Runs the same job as ``tmsfield target --report`` from Python: the Fox et al. 2012 target on the
MNI152 template head with the 70 mm figure-8 coil at 60 % output (change ``--percent-output`` to
the output you will use), then writes into OUT_DIR (default ./out):

* ``plan.json`` — the placement result (pose, heuristics, dose, settings);
* ``plan.html`` — one self-contained page: target, every placement (optimised, EEG F3, Beam F3,
  5.5 cm rule) with its E-field and %MSO, the dose, three views with the colour bar in V/m, the head
  model and the provenance. Open it in any browser; it needs no network and can be attached as it is;
* ``plan.pdf`` with ``--pdf`` when WeasyPrint is installed (``pip install 'tmsfield[pdf]'``).

``--quick`` uses the coarse template and a sphere fitted to the scalp (seconds, a rough check);
without it the full template and its BEM take a few minutes.
"""

import argparse
from pathlib import Path

from tmsfield.report import write_report
from tmsfield.targets.results import write_result
from tmsfield.targets.run import TargetJob, run_target


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default="out")
    ap.add_argument("--quick", action="store_true", help="coarse template + fitted sphere (seconds)")
    ap.add_argument("--percent-output", type=float, default=60.0, help="stimulator output, %% of maximum")
    ap.add_argument("--pdf", action="store_true", help="also a PDF (needs WeasyPrint)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    job = TargetJob(head="mni152_coarse" if args.quick else "mni152_3shell", coil="fig8_70mm", target="fox2012_sgacc",
                    model="sphere" if args.quick else "bem", percent_output=args.percent_output)
    result = run_target(job)
    write_result(out / "plan.json", result)
    files = write_report(out / "plan.json", out / "plan.html", pdf=args.pdf)

    d = result["dose"]
    print(f"target {result['target']['name']}: coil centre "
          f"({', '.join(f'{v:.1f}' for v in result['position_mm'])}) mm, handle {result['handle_angle_deg']:.0f} deg, "
          f"{d['percent_output']:.0f} % output -> {d['efield_at_target_v_per_m']:.1f} V/m at the target")
    for name, h in (result.get("heuristics") or {}).items():
        e = h.get("efield_at_target_v_per_m_per_a_per_us")
        if e is not None:
            print(f"  {name:10s} {e:.3f} V/m per A/us")
    print(f"report {files['html']}")
    if files["pdf"]:
        print(f"pdf    {files['pdf']}")
    if files["pdf_skipped"]:
        print(f"pdf skipped: {files['pdf_skipped']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
