"""Draw a coil placement and its E-field for a clinician or a paper, and export it for other tools.

Usage::

    python examples/render_placement.py [OUT_DIR] [--result RESULT.json] [--sphere]

* with ``--result``: redraw a placement written by ``tmsfield target`` (field recomputed);
* otherwise: place a figure-8 coil over the left DLPFC (MNI -38, 44, 26 mm) of the template head,
  handle 45° back and lateral, at 60 % of a Magstim Rapid2 (60 A/µs);
* ``--sphere``: a quick demo on a three-shell sphere head instead of the template.

Writes into OUT_DIR (default ./out): ``placement_views.png`` (four views), ``placement_coil_axis.png``,
``efield.func.gii`` + ``cortex.surf.gii`` (GIFTI overlay and surface), ``lh.efield`` (FreeSurfer curv),
``scene.vtm`` + ``scene_*.vtp`` (ParaView), ``placement.json`` (result JSON with the pose).
"""

import argparse
import sys
from pathlib import Path

import numpy as np

import tmsfield
from tmsfield.viz import render, scene_from_head, scene_from_result
from tmsfield.viz.export import export_curv, export_gifti, export_gifti_surface, export_pose_json, export_vtk


def sphere_head():
    """Three nested spheres (scalp, skull, brain) with a cortex sphere inside, RAS landmarks."""
    from tmsfield.head import Head, icosphere, nested_spheres

    shells = nested_spheres([92.0, 86.0, 80.0], 3, names=["scalp", "skull_outer", "skull_inner"])
    landmarks = {"nasion": [0, 92.0, 0], "inion": [0, -92.0, 0], "lpa": [-92.0, 0, 0], "rpa": [92.0, 0, 0]}
    return Head.from_surfaces(shells, cortex=icosphere(72.0, 4, name="cortex"), landmarks=landmarks,
                              name="spheres", source="spheres")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default="out")
    ap.add_argument("--result", default=None)
    ap.add_argument("--sphere", action="store_true")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    if args.result:
        scene = scene_from_result(args.result)
        result = dict(tmsfield.targets.read_result(args.result))
        head_cortex = None
    else:
        from tmsfield.targets.placement import coil_pose

        head = sphere_head() if args.sphere else tmsfield.load_head("mni152_3shell")
        coil = tmsfield.load_coil("fig8_70mm")
        target = np.array([-38.0, 44.0, 26.0]) if not args.sphere else np.array([-35.0, 30.0, 58.0])
        placement = coil_pose(head, coil, target, handle_angle_deg=45.0, gap_mm=4.0)
        didt = 60.0   # 60 % of a Magstim Rapid2 (100 A/us at 100 %)
        solver = tmsfield.EFieldSolver(head, fast_placements=False)   # one placement: direct solve
        e = solver.efield_on_cortex(coil, placement.pose, didt)
        scene = scene_from_head(head, e, coil=coil, pose=placement.pose, target_mm=target,
                                info={"coil_name": coil.name, "stimulator": "Magstim Rapid2", "percent_output": 60,
                                      "didt_a_per_us": didt, "method": "manual"})
        head_cortex = head.cortex
        result = {
            "schema": "tmsfield-placement/1", "tmsfield_version": tmsfield.__version__,
            "created_utc": "2026-01-01T00:00:00Z",
            "head": {"name": head.name, "source": head.source, "n_cortex_vertices": head.cortex.n_vertices},
            "coil": {"name": coil.name, "source": coil.name},
            "stimulator": {"name": "Magstim Rapid2", "max_didt_a_per_us": 100.0},
            "target": {"name": "user", "mni_mm": target.tolist(), "subject_mm": target.tolist(), "roi_radius_mm": 5.0,
                       "quantity": "magnitude", "citation": ""},
            "method": "manual", "pose": placement.pose.tolist(), "position_mm": placement.pose[:3, 3].tolist(),
            "scalp_point_mm": np.asarray(placement.scalp_point_mm).tolist(), "handle_angle_deg": 45.0,
            "gap_mm": 4.0,
            "efield_at_target_v_per_m_per_a_per_us": scene.info.e_target_v_per_m / didt,
            "peak_efield_v_per_m_per_a_per_us": scene.info.peak_v_per_m / didt,
            "dose": {"percent_output": 60.0, "didt_a_per_us": didt, "efield_at_target_v_per_m": scene.info.e_target_v_per_m,
                     "requested_v_per_m": None, "percent_output_needed": None, "reachable": True, "warnings": []},
            "settings": {"example": "render_placement.py"},
        }

    render(scene, out / "placement_views.png", views=["left_lateral", "dorsal", "anterior", "coil_axis"],
           window_size=(1400, 1000))
    render(scene, out / "placement_coil_axis.png", views=["coil_axis"], window_size=(800, 700))
    export_gifti(out / "efield.func.gii", scene)
    export_gifti_surface(out / "cortex.surf.gii", head_cortex if head_cortex is not None else scene)
    export_curv(out / "lh.efield", scene)
    export_vtk(out, scene)
    export_pose_json(out / "placement.json", result)
    print(scene.text)
    print(f"wrote images and exports to {out.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
