"""Analytic sphere (SphereModel) throughput: point·source pairs per second.

Run: ``.venv/bin/pytest benchmarks/bench_sphere.py --benchmark-only``
(``--benchmark-disable`` for a quick does-it-run check).

* dipole coil: the 2,712-dipole SimNIBS Magstim 70 mm fig-8 (.ccd, from ../shared/simnibs;
  skipped if absent) or, failing that, the built-in fig8_70mm's dipole equivalent, at
  20,000 points on the 70 mm sphere;
* wire coil: built-in fig8_70mm (1,158 segments), exact wire route, 2,000 points
  (its cost also scales with the λ-quadrature order, reported in extra_info);
* reciprocal_field: 20,000 weighted points, 2,712 evaluation (dipole) positions.
"""

import time
from pathlib import Path

import numpy as np
import pytest

from tmsfield import CoilPose, SphereModel, load_coil
from tmsfield.head import icosphere

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "simnibs"
POSE = CoilPose.from_axes([0, 0, 95.0], [0, 0, -1], [0, 1, 0])


def _points(n, radius=70.0, seed=0):
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, 3))
    return radius * v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def dipole_coil():
    path = SHARED / "coils" / "Magstim_70mm_Fig8.ccd"
    if path.is_file():
        return load_coil(path)
    return load_coil("fig8_70mm").to_dipoles()


def _run(benchmark, fn, n_pairs, rounds):
    fn()                                              # compile (cached) and warm up
    t0 = time.perf_counter()
    fn()
    one = time.perf_counter() - t0
    benchmark.pedantic(fn, rounds=rounds, iterations=1)
    stats = getattr(benchmark, "stats", None)
    best = stats.stats.min if stats is not None and getattr(stats, "stats", None) is not None else one
    benchmark.extra_info["pairs"] = int(n_pairs)
    benchmark.extra_info["pairs_per_s"] = n_pairs / best
    benchmark.extra_info["seconds"] = best


def test_sphere_efield_dipole_coil(benchmark, dipole_coil):
    sph = SphereModel(85.0)
    pts = _points(20_000)
    benchmark.extra_info["coil"] = dipole_coil.name
    benchmark.extra_info["n_dipoles"] = dipole_coil.n_dipoles
    _run(benchmark, lambda: sph.efield(dipole_coil, pts, pose=POSE), pts.shape[0] * dipole_coil.n_dipoles, 3)


def test_sphere_efield_wire_coil_exact(benchmark):
    from tmsfield.solver.sphere import _quadrature_orders
    coil = load_coil("fig8_70mm")
    sph = SphereModel(85.0)
    pts = _points(2_000)
    wire_r = np.linalg.norm(POSE.transform_points(coil.segment_start_mm), axis=1).min()
    orders = _quadrature_orders(wire_r / 70.0, 1e-10)
    benchmark.extra_info["n_segments"] = coil.n_segments
    benchmark.extra_info["lambda_nodes_at_70mm"] = int(orders)
    _run(benchmark, lambda: sph.efield(coil, pts, pose=POSE), pts.shape[0] * coil.n_segments * int(orders), 3)


def test_sphere_reciprocal_field(benchmark, dipole_coil):
    sph = SphereModel(85.0)
    pts = icosphere(70.0, 6).vertices[:20_000]
    w = np.random.default_rng(1).normal(size=pts.shape)
    ev = POSE.transform_points(dipole_coil.dipole_positions_mm)
    _run(benchmark, lambda: sph.reciprocal_field(pts, w, ev), pts.shape[0] * ev.shape[0], 3)
