"""Per-triangle conductivity contrasts from the tissues on both sides of each triangle (``Head.sides``).

References: (a) the nested path of the same head (identical operator, so identical fields); (b) a
concentric "ventricle" (a CSF sphere in the middle of the brain): concentric spheres give the analytic
TMS sphere field whatever the conductivities, so the sides path must match it; (c) two sibling balls
inside the scalp given as two surfaces with sides must equal the same balls given as ONE nested surface
(the same triangles, so the same operator) — a configuration the nested path cannot express as two
surfaces; (d) a surface whose triangles were flipped (and its sides swapped accordingly) is repaired by
the mesh check and gives the same field.
"""

import dataclasses

import numpy as np
import pytest

import tmsfield
from tmsfield.errors import SolverError
from tmsfield.head import Head, Surface
from tmsfield.head.sphere_mesh import icosphere
from tmsfield.solver.bem import EFieldSolver
from tmsfield.solver.conductivity import DEFAULT_CONDUCTIVITIES, triangle_contrasts
from tmsfield.solver.sphere import SphereModel

from test_bem_sphere import dipole_fig8, rel_l2


def _pose(z=(0.2, -0.1, 1.0), r=95.0, gap=10.0):
    z = np.asarray(z, float) / np.linalg.norm(z)
    return tmsfield.CoilPose.from_axes(z * (r + gap), -z, [0.0, 1.0, 0.0]), z


def _three_shells(sub=3):
    return [icosphere(95.0, sub, name="scalp"), icosphere(90.0, sub, name="skull_outer"),
            icosphere(85.0, sub, name="skull_inner")]


def _with_sides(head, sides):
    return dataclasses.replace(head, sides=tuple(np.asarray(s, dtype=str) for s in sides))


def _sides(*pairs_counts):
    return [np.array([list(p)] * n, dtype=str) for p, n in pairs_counts]


def test_explicit_nested_sides_equal_the_nested_path():
    head = Head.from_surfaces(_three_shells(3), name="shells")
    explicit = _with_sides(head, head.triangle_sides())
    assert explicit.sides is not None
    a = EFieldSolver(head, fast_placements=False)
    b = EFieldSolver(explicit, fast_placements=False)
    np.testing.assert_array_equal(a.tri_contrast, b.tri_contrast)
    coil = dipole_fig8()
    pose, z = _pose()
    pts = np.linspace(0.0, 75.0, 11)[:, None] * z
    np.testing.assert_allclose(b.efield(coil, pts, pose=pose), a.efield(coil, pts, pose=pose), rtol=0, atol=1e-9)


def test_overrides_reach_the_triangles():
    head = Head.from_surfaces(_three_shells(1), name="shells")
    tc = triangle_contrasts(head.triangle_sides(), {"skull": 0.02})
    n0 = head.boundaries[0].n_triangles
    k_scalp_skull = (0.02 - 0.465) / (0.02 + 0.465)
    np.testing.assert_allclose(tc.contrast[n0:2 * n0], k_scalp_skull)
    s = EFieldSolver(_with_sides(head, head.triangle_sides()), {"skull": 0.02}, fast_placements=False)
    np.testing.assert_allclose(s.tri_contrast, tc.contrast)


def test_concentric_csf_ventricle_matches_the_analytic_sphere():
    shells = _three_shells(3) + [icosphere(30.0, 2, name="csf")]
    head = Head.from_surfaces(shells, tissues=["scalp", "skull", "brain", "csf"], name="ventricle", check=False)
    n = [s.n_triangles for s in shells]
    sides = _sides((("scalp", "air"), n[0]), (("skull", "scalp"), n[1]), (("gm", "skull"), n[2]),
                   (("csf", "gm"), n[3]))
    s = EFieldSolver(_with_sides(head, sides), fast_placements=False)
    k = (DEFAULT_CONDUCTIVITIES["csf"] - DEFAULT_CONDUCTIVITIES["gm"]) / (DEFAULT_CONDUCTIVITIES["csf"]
                                                                         + DEFAULT_CONDUCTIVITIES["gm"])
    np.testing.assert_allclose(s.tri_contrast[-n[3]:], k)
    coil = dipole_fig8()
    pose, z = _pose()
    # points on both sides of the ventricle wall and in the brain, ≥ 3 mm from every boundary
    pts = np.concatenate([np.linspace(0.0, 27.0, 8)[:, None] * z, np.linspace(33.0, 80.0, 10)[:, None] * z])
    e = s.efield(coil, pts, pose=pose)
    ref = SphereModel(95.0).efield(coil, pts, pose=pose)
    assert rel_l2(e, ref) < 0.015   # measured 0.64 % (the same shells without the ventricle: 0.67 %)


def test_sibling_surfaces_with_sides_equal_one_nested_surface():
    a = icosphere(35.0, 2, center_mm=(-40.0, 0.0, 0.0), name="gm")
    b = icosphere(35.0, 2, center_mm=(40.0, 0.0, 0.0), name="wm")
    union = Surface(np.concatenate([a.vertices, b.vertices]),
                    np.concatenate([a.triangles, b.triangles + a.n_vertices]), name="skull_inner")
    scalp = icosphere(95.0, 3, name="scalp")
    coil = dipole_fig8()
    pose, z = _pose((1.0, 0.3, 0.4))
    pts = np.array([[-40.0, 0, 0], [-60.0, 5, 5], [40.0, 0, 0], [60.0, -5, 10], [0.0, 0, 50], [0.0, 30, 0]])
    nested = EFieldSolver([scalp, union], [0.465, 0.126], fast_placements=False)
    head = Head.from_surfaces([scalp, a, b], tissues=["scalp", "wm", "wm"], check=False, name="siblings")
    sides = _sides((("scalp", "air"), scalp.n_triangles), (("wm", "scalp"), a.n_triangles),
                   (("wm", "scalp"), b.n_triangles))
    sib = EFieldSolver(_with_sides(head, sides), fast_placements=False)
    np.testing.assert_allclose(sib.tri_contrast, nested.tri_contrast)
    e_sib = sib.efield(coil, pts, pose=pose)
    e_nest = nested.efield(coil, pts, pose=pose)
    assert rel_l2(e_sib, e_nest) < 1e-5
    # and the contrast matters: a different conductivity of the balls changes the field
    other = EFieldSolver(_with_sides(head, sides), {"wm": 1.654}, fast_placements=False)
    assert rel_l2(other.efield(coil, pts, pose=pose), e_nest) > 0.01


def test_flipped_surface_with_swapped_sides_is_repaired():
    shells = _three_shells(2)
    head = Head.from_surfaces(shells, name="shells")
    sides = list(head.triangle_sides())
    flipped = list(shells)
    flipped[1] = Surface(shells[1].vertices, shells[1].triangles[:, ::-1], name="skull_outer")
    sides_f = list(sides)
    sides_f[1] = sides[1][:, ::-1]   # inside/outside are relative to the given orientation
    hf = dataclasses.replace(head, boundaries=tuple(flipped), sides=tuple(sides_f))
    a = EFieldSolver(_with_sides(head, sides), fast_placements=False)
    b = EFieldSolver(hf, fast_placements=False)
    np.testing.assert_allclose(b.tri_contrast, a.tri_contrast)


@pytest.mark.parametrize("bad, match", [
    (lambda s: [s[0], np.array([["scalp", "scalp"]] * len(s[1]))] + s[2:], "'skull_outer'.*same tissue"),
    (lambda s: [np.array([["scalp", "skull"]] * len(s[0]))] + s[1:], "'scalp'.*outside must be 'air'"),
    (lambda s: [s[0], np.array([["air", "scalp"]] * len(s[1]))] + s[2:], "'skull_outer'.*air on the inner"),
    (lambda s: [s[0], np.array([["marrow", "scalp"]] * len(s[1]))] + s[2:], "no default conductivity.*marrow"),
    (lambda s: [s[0], s[1][:5]] + s[2:], "one \\(n_triangles, 2\\) array per boundary"),
])
def test_inconsistent_sides_raise_naming_the_surface(bad, match):
    head = Head.from_surfaces(_three_shells(1), name="shells")
    broken = _with_sides(head, bad(list(head.triangle_sides())))
    with pytest.raises(SolverError, match=match):
        EFieldSolver(broken, fast_placements=False)


def test_simnibs_tissues_have_defaults():
    sides = _sides((("scalp", "air"), 2), (("eye_balls", "scalp"), 1), (("Spongy_bone", "compact_bone"), 1),
                   (("blood", "muscle"), 1))
    k = triangle_contrasts(sides).contrast
    np.testing.assert_allclose(k[2], (0.5 - 0.465) / (0.5 + 0.465))
    np.testing.assert_allclose(k[3], (0.025 - 0.008) / (0.025 + 0.008))
    np.testing.assert_allclose(k[4], (0.6 - 0.16) / (0.6 + 0.16))
