"""Head benchmarks: loading the bundled template; building a head from a synthetic 1 mm label volume.

Run: .venv/bin/pytest benchmarks/bench_head.py --benchmark-only
Targets: template load ≤ 0.5 s; head from a 1 mm label volume ≤ 30 s (2 cores).
"""

import time

import numpy as np


def test_load_template(benchmark):
    import tmsfield
    from tmsfield.head import template

    def load():
        template._load_arrays.cache_clear()      # measure reading the GIFTI files, not the cache
        return tmsfield.load_head("mni152_3shell")

    head = benchmark(load)
    benchmark.extra_info["triangles"] = {s.name: s.n_triangles for s in head.boundaries}
    benchmark.extra_info["cortex_vertices"] = head.cortex.n_vertices
    t0 = time.perf_counter()
    head.eeg_positions()
    benchmark.extra_info["eeg_positions_s"] = round(time.perf_counter() - t0, 3)


def _head_like_labels():
    """SimNIBS-style labels on a 1 mm grid (181 x 217 x 181, MNI-sized): ellipsoidal scalp/skull/brain."""
    shape = (181, 217, 181)
    affine = np.eye(4)
    affine[:3, 3] = [-90, -126, -72]
    ijk = np.indices(shape, dtype=np.float32)
    x, y, z = (ijk[k] + affine[k, 3] for k in range(3))
    y = y + 15
    z = z - 10
    def ell(a, b, c):
        return (x / a) ** 2 + (y / b) ** 2 + (z / c) ** 2
    labels = np.zeros(shape, np.int16)
    labels[ell(78, 98, 82) < 1] = 5
    labels[ell(72, 92, 76) < 1] = 4
    labels[ell(66, 86, 70) < 1] = 3
    labels[ell(62, 82, 66) < 1] = 2
    labels[ell(55, 75, 58) < 1] = 1
    return labels, affine


def test_head_from_label_volume(benchmark, tmp_path):
    import nibabel as nib

    import tmsfield
    labels, affine = _head_like_labels()
    path = tmp_path / "final_tissues.nii.gz"
    nib.save(nib.Nifti1Image(labels, affine), str(path))
    lm = {"nasion": [0, 83, 10], "inion": [0, -113, 10], "lpa": [-78, -15, 10], "rpa": [78, -15, 10]}
    head = benchmark.pedantic(tmsfield.load_head, args=(path,), kwargs={"landmarks": lm}, rounds=1, iterations=1)
    benchmark.extra_info["voxels"] = int(labels.size)
    benchmark.extra_info["triangles"] = {s.name: s.n_triangles for s in head.boundaries}
