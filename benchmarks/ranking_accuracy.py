"""Error of the placement search's ranking stages on the analytic sphere (not a pytest benchmark).

For each coil, random seed and quantity, runs :func:`tmsfield.targets.search.search_placement` on the
analytic sphere and prints the dipole set the search chose for its ranking stages
(``ranking_cell_mm="auto"``), its probe error, the measured ranking error at the full-coil candidates
(``ranking_rel_error``: reduced-coil trilinear vs full-coil tricubic) and the interpolation error of the
full coil against the model (``interpolation_rel_error``); the last line is the worst sum. Coils: compact
20 mm and 35 mm dipole figure-8s, plus the Magstim 70 mm and MagVenture B65 ``.ccd`` files from
../shared/simnibs when present.

    .venv/bin/python benchmarks/ranking_accuracy.py            # 6 seeds
    .venv/bin/python benchmarks/ranking_accuracy.py --seeds 20
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import tmsfield  # noqa: E402
from targets_standins import R_SCALP, fig8_dipole_coil, sphere_head  # noqa: E402
from test_targets_search import _ExactSphereScalp, _target  # noqa: E402
from tmsfield.solver import SphereModel  # noqa: E402
from tmsfield.targets.search import search_placement  # noqa: E402

SHARED = ROOT.parent / "shared" / "simnibs" / "coils"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=6)
    args = ap.parse_args(argv)
    head = sphere_head(5, 5)
    model = SphereModel(R_SCALP)
    geo = _ExactSphereScalp(head.scalp, head.landmarks)
    coils = [("fig8_20mm", fig8_dipole_coil(20.0)), ("fig8_35mm", fig8_dipole_coil(35.0))]
    for name, file in (("magstim70", "Magstim_70mm_Fig8.ccd"), ("b65", "MagVenture_MCF-B65.ccd")):
        if (SHARED / file).is_file():
            coils.append((name, tmsfield.load_coil(SHARED / file)))
    worst = 0.0
    for seed in range(args.seeds):
        for name, coil in coils:
            rng = np.random.default_rng(seed)
            t = _target(head, rng)
            u = np.cross(t / np.linalg.norm(t), rng.normal(size=3))
            u /= np.linalg.norm(u)
            for q in ("direction", "magnitude"):
                t0 = time.perf_counter()
                res = search_placement(model, head, coil, t, quantity=q, direction=u if q == "direction" else None,
                                       roi_radius_mm=0.0 if q == "direction" else 5.0, search_radius_mm=12.0,
                                       geometry=geo)
                st = res.settings
                worst = max(worst, res.ranking_rel_error + res.interpolation_rel_error)
                print(f"seed {seed} {name:10s} {q:9s} cell {st['ranking_cell_mm']:3.1f} mm, "
                      f"{st['ranking_dipoles']:4d}/{st['full_dipoles']} dipoles; probe "
                      f"{st['ranking_probe_rel_error'] * 100:.3f} %, ranking {res.ranking_rel_error * 100:.3f} %, "
                      f"interpolation {res.interpolation_rel_error * 100:.3f} %  ({time.perf_counter() - t0:.1f} s)")
    print(f"worst ranking + interpolation error: {worst * 100:.3f} %")


if __name__ == "__main__":
    main()
