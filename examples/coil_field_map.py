"""Engineer demo: map the primary E-field of a 70 mm figure-8 coil on a plane below it.

Loads the built-in ``fig8_70mm`` coil, computes the primary (free-space) electric field
``E = −dI/dt · A`` for dI/dt = 1 A/µs on a 160 × 120 mm plane 20 mm below the casing
(z = +20 mm in the coil frame, +z into the head), prints the peak |E| in V/m and where it is,
and writes everything to ``<out>/coil_field_map.npz`` (x_mm, y_mm, z_mm, E (ny, nx, 3) V/m,
E_magnitude, peak_v_per_m, peak_xy_mm, didt_a_per_us).

Usage: ``python examples/coil_field_map.py [out_dir]`` (default ``./out``).
"""

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import tmsfield


def main(out_dir="out"):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    coil = tmsfield.load_coil("fig8_70mm")
    x = np.arange(-80.0, 80.0 + 1e-9, 1.0)
    y = np.arange(-60.0, 60.0 + 1e-9, 1.0)
    z = 20.0
    gx, gy = np.meshgrid(x, y)
    pts = np.column_stack([gx.ravel(), gy.ravel(), np.full(gx.size, z)])
    t0 = time.perf_counter()
    e = tmsfield.primary_efield(coil, pts, didt=1.0).reshape(len(y), len(x), 3)
    dt = time.perf_counter() - t0
    mag = np.linalg.norm(e, axis=2)
    iy, ix = np.unravel_index(np.argmax(mag), mag.shape)
    peak = float(mag[iy, ix])
    target = out / "coil_field_map.npz"
    fd, tmp = tempfile.mkstemp(dir=out, suffix=".npz")
    os.close(fd)
    try:
        np.savez_compressed(tmp, x_mm=x, y_mm=y, z_mm=z, E=e, E_magnitude=mag, peak_v_per_m=peak,
                            peak_xy_mm=np.array([x[ix], y[iy]]), didt_a_per_us=1.0, coil=coil.name)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    print(f"{coil.name}: {coil.n_segments} wire segments, {pts.shape[0]} points in {dt:.2f} s")
    print(f"peak |E| = {peak:.3f} V/m per A/us at x = {x[ix]:.0f} mm, y = {y[iy]:.0f} mm, {z:.0f} mm below the casing")
    if coil.max_didt_a_per_us:
        print(f"at the stimulator maximum ({coil.max_didt_a_per_us:.0f} A/us, approximate): {peak * coil.max_didt_a_per_us:.0f} V/m")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "out"))
