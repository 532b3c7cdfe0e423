"""Engineer demo: BEM E-field in a three-shell sphere vs the analytic solution.

Three nested icospheres (scalp 95 mm, outer skull 90 mm, inner skull 85 mm; conductivities
0.465 / 0.010 / 0.275 S/m), the built-in 70 mm figure-8 coil 10 mm above the scalp at the
vertex, dI/dt = 1 A/µs. Computes |E| on the 70 mm observation sphere with the surface BEM
and with the analytic sphere model (whose answer is independent of the conductivities),
prints the relative L2 error and the GMRES statistics, and writes everything to
``<out>/efield_sphere_bem.npz`` (``out`` = first argument, default ``./out``).

Run:  python examples/efield_sphere_bem.py [out_dir]
"""

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import tmsfield
from tmsfield.head.sphere_mesh import icosphere


def main(out_dir="out"):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # 5120 triangles on the scalp (it carries most of the secondary field), 1280 on each skull surface
    shells = [icosphere(95.0, subdivisions=4, name="scalp"),
              icosphere(90.0, subdivisions=3, name="skull_outer"),
              icosphere(85.0, subdivisions=3, name="skull_inner")]
    sigma = [0.465, 0.010, 0.275]
    t0 = time.perf_counter()
    solver = tmsfield.EFieldSolver(shells, sigma, tol=1e-6)
    t_setup = time.perf_counter() - t0

    coil = tmsfield.load_coil("fig8_70mm")
    pose = tmsfield.CoilPose.from_axes(center_mm=[0.0, 0.0, 105.0], z_axis=[0, 0, -1], y_axis=[0, 1, 0])
    obs = icosphere(70.0, subdivisions=3).vertices

    t0 = time.perf_counter()
    e_bem = solver.efield(coil, obs, pose=pose, didt=1.0)
    t_solve = time.perf_counter() - t0
    e_ana = tmsfield.SphereModel(radius_mm=95.0).efield(coil, obs, pose=pose, didt=1.0)

    err = float(np.linalg.norm(e_bem - e_ana) / np.linalg.norm(e_ana))
    info = solver.last_solve_info
    mag_bem, mag_ana = np.linalg.norm(e_bem, axis=1), np.linalg.norm(e_ana, axis=1)
    print(f"triangles: {solver.n_triangles}, set-up {t_setup:.1f} s, solve {t_solve:.1f} s")
    print(f"GMRES: {info.iterations} iterations, relative residual {info.residual:.1e} (tol {info.tol:.0e})")
    print(f"max |E| on the 70 mm sphere: BEM {mag_bem.max():.1f} V/m, analytic {mag_ana.max():.1f} V/m (1 A/us)")
    print(f"relative L2 error BEM vs analytic: {100 * err:.2f} %")

    target = out / "efield_sphere_bem.npz"
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=out)
    os.close(fd)
    np.savez(tmp, points_mm=obs, e_bem=e_bem, e_analytic=e_ana, relative_error=err,
             gmres_iterations=info.iterations, gmres_residual=info.residual, conductivities=np.array(sigma))
    os.replace(tmp, target)
    print(f"wrote {target}")
    return err


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "out")
