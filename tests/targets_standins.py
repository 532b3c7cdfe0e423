"""Stand-ins for the targeting tests: spherical heads (in memory and on disk) and a symmetric dipole figure-8.

Built from the core classes (Surface/icosphere, Head, Coil), not from other helpers' code paths.
"""

import json
from pathlib import Path

import numpy as np

R_SCALP, R_BRAIN, R_CORTEX = 95.0, 85.0, 75.0
LANDMARKS = {"nasion": [0.0, R_SCALP, 0.0], "inion": [0.0, -R_SCALP, 0.0],
             "lpa": [-R_SCALP, 0.0, 0.0], "rpa": [R_SCALP, 0.0, 0.0]}


def sphere_head(subdiv_scalp=5, subdiv_cortex=5, name="sphere_head"):
    from tmsfield.head import Head, icosphere
    return Head.from_surfaces([icosphere(R_SCALP, subdiv_scalp, name="scalp"), icosphere(R_BRAIN, 3, name="brain")],
                              cortex=icosphere(R_CORTEX, subdiv_cortex, name="cortex"),
                              landmarks={k: np.asarray(v) for k, v in LANDMARKS.items()}, name=name)


def write_sphere_head(folder, subdiv_scalp=4, subdiv_cortex=4):
    """A head folder (scalp.gii, brain.gii, cortex.gii) + landmarks JSON; returns (folder, landmarks path)."""
    from tmsfield.head import icosphere, write_gifti_surface
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_gifti_surface(folder / "scalp.gii", icosphere(R_SCALP, subdiv_scalp, name="scalp"))
    write_gifti_surface(folder / "brain.gii", icosphere(R_BRAIN, 3, name="brain"))
    write_gifti_surface(folder / "cortex.gii", icosphere(R_CORTEX, subdiv_cortex, name="cortex"))
    lm = folder.parent / f"{folder.name}_landmarks.json"
    lm.write_text(json.dumps(LANDMARKS))
    return folder, lm


def fig8_dipole_coil(r_wing=35.0, name="fig8_standin", handle=(0.0, -1.0, 0.0)):
    """Mirror-symmetric figure-8 of z dipoles: wings centred at x = ±r_wing (opposite signs), two layers.

    Under the centre the field runs along the coil's y axis.
    """
    from tmsfield.coils import Coil
    pts, mom = [], []
    for sgn, x0 in ((1.0, -r_wing), (-1.0, r_wing)):
        for rr in np.linspace(2.0, r_wing - 2.0, 8):
            k = 2 * max(4, int(np.pi * rr / 4.0))           # even: mirror symmetric in x and y
            t = np.linspace(0, 2 * np.pi, k, endpoint=False)
            for z in (-5.0, -7.0):
                pts.append(np.column_stack([x0 + rr * np.cos(t), rr * np.sin(t), np.full(k, z)]))
                mom.append(np.tile([0.0, 0.0, sgn * 1e-4], (k, 1)))
    t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    outline = np.column_stack([(2 * r_wing + 5) * np.cos(t), (r_wing + 5) * np.sin(t), 0 * t])
    return Coil.from_dipoles(np.vstack(pts), np.vstack(mom), name=name, handle_direction=list(handle),
                             casing_outline_mm=outline, max_didt_a_per_us=100.0)


def write_coil(path, coil):
    from tmsfield.coils import write_ccd
    write_ccd(coil, path)
    return Path(path)
