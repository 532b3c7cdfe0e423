"""Known scenes for the viewer tests: an icosphere 'cortex' with a field peaking at a known place."""

import types

import numpy as np

from tmsfield.coils import Coil
from tmsfield.head import icosphere
from tmsfield.pose import CoilPose

CORTEX_R = 70.0
SCALP_R = 92.0
PEAK_DIR = np.array([-0.5, 0.35, 0.8]) / np.linalg.norm([-0.5, 0.35, 0.8])   # left, anterior, superior
PEAK_V_PER_M = 120.0


def figure8_coil(radius=25.0, n=48):
    """Two opposite circular loops side by side (a figure-8) with a casing outline; coil frame, mm."""
    t = np.linspace(0, 2 * np.pi, n + 1)
    left = np.column_stack([-radius - 2 + radius * np.cos(t), radius * np.sin(t), -6.0 + 0 * t])
    right = np.column_stack([radius + 2 + radius * np.cos(t), -radius * np.sin(t), -6.0 + 0 * t])
    a = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    outline = np.column_stack([2.4 * radius * np.cos(a), 1.3 * radius * np.sin(a), 0 * a])
    return Coil.from_wires([left, right], name="test_fig8", casing_outline_mm=outline, max_didt_a_per_us=150.0)


def pose_over(direction, distance_mm=SCALP_R + 4.0, handle=(0.0, -1.0, 0.0)):
    d = np.asarray(direction, float) / np.linalg.norm(direction)
    return CoilPose.from_axes(d * distance_mm, -d, handle).matrix


def gaussian_field(vertices, peak_dir=PEAK_DIR, peak=PEAK_V_PER_M, width_rad=0.35):
    """(V, 3) tangential field whose magnitude peaks at ``peak_dir`` (V/m)."""
    u = vertices / np.linalg.norm(vertices, axis=1, keepdims=True)
    ang = np.arccos(np.clip(u @ peak_dir, -1, 1))
    mag = peak * np.exp(-(ang / width_rad) ** 2)
    tangent = np.cross(u, [0.0, 0.0, 1.0])
    tangent += np.cross(u, [1.0, 0.0, 0.0]) * (np.linalg.norm(tangent, axis=1, keepdims=True) < 0.1)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    return mag[:, None] * tangent


def sphere_head(subdivisions=4):
    cortex = icosphere(CORTEX_R, subdivisions, name="cortex")
    scalp = icosphere(SCALP_R, 3, name="scalp")
    curv = np.sign(np.sin(cortex.vertices[:, 0] / 7.0) * np.sin(cortex.vertices[:, 1] / 7.0))
    return types.SimpleNamespace(name="spheres", source="spheres", cortex=cortex, boundaries=(scalp,), scalp=scalp,
                                 cortex_curvature=curv, landmarks={})


class SphereSolver:
    """Stand-in for EFieldSolver: the analytic sphere field on the head's cortex."""

    def __init__(self, head, **options):
        from tmsfield.solver import SphereModel

        self.head = head
        self.options = options          # what the viewer asked of EFieldSolver (e.g. the fast-map cache)
        self.model = SphereModel(radius_mm=CORTEX_R + 5.0)

    def efield_on_cortex(self, coil, pose, didt=1.0):
        return self.model.efield(coil, self.head.cortex.vertices, pose, didt)


def result_dict(head, pose, didt=80.0, n_vertices=None):
    return {
        "schema": "tmsfield-placement/1", "tmsfield_version": "0.1.0", "created_utc": "2026-11-27T21:30:00Z",
        "head": {"name": "spheres", "source": "spheres",
                 "n_cortex_vertices": head.cortex.n_vertices if n_vertices is None else n_vertices},
        "coil": {"name": "test_fig8", "source": "test_fig8"},
        "stimulator": {"name": "Test Stim", "max_didt_a_per_us": 150.0},
        "target": {"name": "user", "mni_mm": None, "subject_mm": (PEAK_DIR * CORTEX_R).tolist(), "roi_radius_mm": 5.0,
                   "quantity": "magnitude", "citation": ""},
        "method": "optimised", "pose": np.asarray(pose).tolist(), "position_mm": np.asarray(pose)[:3, 3].tolist(),
        "scalp_point_mm": (PEAK_DIR * SCALP_R).tolist(), "handle_angle_deg": 0.0, "gap_mm": 4.0,
        "efield_at_target_v_per_m_per_a_per_us": 1.0, "peak_efield_v_per_m_per_a_per_us": 1.2,
        "dose": {"percent_output": didt / 1.5, "didt_a_per_us": didt, "efield_at_target_v_per_m": None,
                 "requested_v_per_m": None, "percent_output_needed": None, "reachable": True, "warnings": []},
        "settings": {},
    }


def install_fakes(monkeypatch, head):
    """Make tmsfield.load_head/load_coil/EFieldSolver return the sphere stand-ins."""
    import tmsfield

    monkeypatch.setattr(tmsfield, "load_head", lambda source: head, raising=False)
    monkeypatch.setattr(tmsfield, "load_coil", lambda source: figure8_coil(), raising=False)
    monkeypatch.setattr(tmsfield, "EFieldSolver", SphereSolver, raising=False)
