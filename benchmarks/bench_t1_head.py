"""Head from a T1 alone (issue 14 item 4): full run time of ``head_from_t1`` on a 1 mm whole-head T1.

The subject is the 1 mm MNI152 T1 deformed by a known smooth warp (tests/_t1_cases.py, fixed seed), so the
benchmark also reports the accuracy against the truth. Needs antspyx (``pip install tmsfield[t1]``).

Run: .venv/bin/pytest benchmarks/bench_t1_head.py --benchmark-only -k "2mm"      # default settings, ~1 min
     .venv/bin/pytest benchmarks/bench_t1_head.py --benchmark-only -k "1mm"      # registration at 1 mm, ~8 min
Target: ≤ 15 min on 2 cores.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


@pytest.mark.parametrize("resolution_mm", [2.0, 1.0], ids=["2mm", "1mm"])
def test_head_from_t1_full(benchmark, tmp_path, resolution_mm):
    pytest.importorskip("ants", reason="antspyx not installed (pip install tmsfield[t1])")
    from _t1_cases import KnownWarp, make_subject_t1
    from tmsfield.head.from_t1 import head_from_t1, mni_to_subject, template_t1_path
    from tmsfield.head.template import load_template
    warp = KnownWarp(np.random.default_rng(2026))      # fixed seed: a benchmark, not a random test
    t1 = make_subject_t1(template_t1_path(), warp, tmp_path / "T1w.nii.gz", voxel_mm=1.0)
    runs = iter(range(100))

    def run():
        return head_from_t1(t1, tmp_path / f"head{next(runs)}", resolution_mm=resolution_mm, progress=False)

    res = benchmark.pedantic(run, rounds=1, iterations=1)
    tpl = load_template("mni152_3shell")
    for b in list(tpl.boundaries[1:]) + [tpl.cortex]:
        d = np.linalg.norm(res.head.surface(b.name).vertices - warp.mni_to_subject(b.vertices), axis=1)
        benchmark.extra_info[f"{b.name}_err_mean_p95_mm"] = [round(float(d.mean()), 2),
                                                             round(float(np.percentile(d, 95)), 2)]
    t = np.array([[-38.0, 44.0, 26.0]])
    benchmark.extra_info["fox_target_err_mm"] = round(float(np.linalg.norm(mni_to_subject(t, res.head_dir)
                                                                          - warp.mni_to_subject(t))), 2)
    benchmark.extra_info["timings_s"] = res.provenance["timings_s"]
