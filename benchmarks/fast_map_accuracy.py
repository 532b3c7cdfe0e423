"""Accuracy and cost of the fast-placement map against full solves, per rank (not a pytest benchmark).

Builds the solver once (dense LU), solves six poses in full (Magstim 70 mm figure-8 from
../shared/simnibs when present, else the bundled 70 mm wire figure-8; and the wire figure-8),
then builds the map at each rank and prints its set-up time, stage timings, relative L2 error
‖E_fast − E_direct‖/‖E_direct‖ per pose, and the peak RSS of the process.

    .venv/bin/python benchmarks/fast_map_accuracy.py mni152_coarse 400,600
    .venv/bin/python benchmarks/fast_map_accuracy.py mni152_3shell 400
"""

import argparse
import resource
import time
from pathlib import Path

import numpy as np

import tmsfield
from tmsfield.solver.fast_placement import FastPlacementMap

MAGSTIM = Path(__file__).resolve().parents[1].parent / "shared" / "simnibs" / "coils" / "Magstim_70mm_Fig8.ccd"


def poses_on_upper_scalp(head, n, gap_mm=4.0, seed=11):
    """Coil poses 4 mm off the scalp at random points over the upper head, handle roughly back."""
    sc = head.boundaries[0]
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        d = np.array([rng.normal() * 0.5 - 0.3, rng.normal() * 0.5 + 0.3, 1.0])
        i = int(np.argmax(sc.vertices @ d))
        nrm = sc.vertex_normals[i]
        out.append(tmsfield.CoilPose.from_axes(sc.vertices[i] + gap_mm * nrm, -nrm, [rng.normal(), 1.0, 0.2]))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("head")
    ap.add_argument("ranks", help="comma-separated ranks, e.g. 400,600")
    ap.add_argument("--poses", type=int, default=6)
    args = ap.parse_args(argv)
    head = tmsfield.load_head(args.head)
    t = time.perf_counter()
    solver = tmsfield.EFieldSolver(head, fast_placements=False, factorize=True)
    print(f"head {args.head}: {solver.n_triangles} triangles, {solver.cortex_points.shape[0]} cortex points; "
          f"solver + LU {time.perf_counter() - t:.1f} s", flush=True)
    wire = tmsfield.load_coil("fig8_70mm")
    dip = tmsfield.load_coil(str(MAGSTIM)) if MAGSTIM.is_file() else wire
    cases = []
    for j, pose in enumerate(poses_on_upper_scalp(head, args.poses)):
        coil = dip if j % 2 == 0 else wire
        cases.append((coil, pose, solver.efield_on_cortex(coil, pose, method="direct")))
    print(f"direct solves done ({dip.name} and {wire.name}, alternating)", flush=True)
    for rank in (int(r) for r in args.ranks.split(",")):
        fm = FastPlacementMap(solver, rank=rank)
        errs = [np.linalg.norm(fm.efield(c, p) - d) / np.linalg.norm(d) for c, p, d in cases]
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
        print(f"rank {fm.rank}: map {fm.setup_seconds:.1f} s {({k: round(v, 1) for k, v in fm.timings.items()})}, "
              f"tail {fm.relative_tail:.1e}, error % " + " ".join(f"{100 * e:.3f}" for e in errs)
              + f" (max {100 * max(errs):.3f}); peak RSS {peak:.2f} GiB", flush=True)
        del fm


if __name__ == "__main__":
    main()
