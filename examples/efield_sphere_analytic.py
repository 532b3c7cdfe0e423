"""Engineer's example: analytic E-field of a figure-8 coil over an 85 mm conducting sphere.

The coil (built-in ``fig8_70mm``, wire model) sits with its casing 10 mm above the sphere
surface, pointing at the centre. The closed-form sphere solution (Heller & van Hulsteyn
1992; exact wire route, see :class:`tmsfield.SphereModel`) gives the E-field

* along the radius under the coil centre, 0–85 mm from the sphere centre,
* on the 70 mm "cortex" observation sphere (upper hemisphere),

at dI/dt = the coil's maximum (or 100 A/µs). Results go to ``<out>/efield_sphere_analytic.npz``
(written atomically); ``<out>`` is the first argument or ``./out``.

Run:  python examples/efield_sphere_analytic.py [out_dir]
"""

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from tmsfield import CoilPose, SphereModel, load_coil
from tmsfield.head import icosphere


def main(out_dir):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    coil = load_coil("fig8_70mm")
    didt = coil.max_didt_a_per_us or 100.0                     # A/µs
    sphere = SphereModel(radius_mm=85.0)
    # casing centre 10 mm above the top of the sphere, +z (into the head) towards the centre
    pose = CoilPose.from_axes(center_mm=[0, 0, 95.0], z_axis=[0, 0, -1], y_axis=[0, 1, 0])

    radius_mm = np.linspace(0.0, 85.0, 86)
    line = np.column_stack([0 * radius_mm, 0 * radius_mm, radius_mm])
    e_line = sphere.efield(coil, line, pose=pose, didt=didt)

    obs = icosphere(70.0, subdivisions=4).vertices
    obs = obs[obs[:, 2] > 0]
    e_obs = sphere.efield(coil, obs, pose=pose, didt=didt)

    mag_line = np.linalg.norm(e_line, axis=1)
    mag_obs = np.linalg.norm(e_obs, axis=1)
    print(f"coil {coil.name}, dI/dt = {didt:g} A/µs, casing 10 mm above an 85 mm sphere")
    print(" depth below surface (mm)   |E| (V/m)")
    for r in (85, 80, 75, 70, 60, 50, 40, 20, 0):
        i = int(np.argmin(np.abs(radius_mm - r)))
        print(f"   {85 - radius_mm[i]:6.1f}                 {mag_line[i]:8.2f}")
    i = int(np.argmax(mag_obs))
    print(f"max |E| on the 70 mm sphere: {mag_obs[i]:.2f} V/m at {np.round(obs[i], 1).tolist()} mm")

    target = out_dir / "efield_sphere_analytic.npz"
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=out_dir)
    os.close(fd)
    try:
        np.savez(tmp, radius_mm=radius_mm, efield_line_v_per_m=e_line, observation_points_mm=obs,
                 efield_observation_v_per_m=e_obs, pose=pose.matrix, didt_a_per_us=didt,
                 sphere_radius_mm=85.0, coil=coil.name)
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise
    print(f"wrote {target}")
    return target


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "out")
