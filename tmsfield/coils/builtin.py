"""Built-in parametric coil models (``load_coil("fig8_70mm")`` etc.).

All models are flat or angled spiral windings of straight segments in the SimNIBS coil frame
(mm, origin at the centre of the casing's head-facing surface, +z into the head, so the
windings sit at negative z). Wings lie along the coil **x axis** and the handle points along
**+y**, as in SimNIBS' ``Magstim_70mm_Fig8.ccd`` (whose two dipole wings are centred at
x = ±44 mm with opposite moments): our figure-8 and the SimNIBS model therefore induce the
primary E-field along the same (y) axis under the centre.

Each wing is an Archimedean spiral from the inner to the outer winding radius. One circuit
runs: stimulator → lead down the handle → left wing (clockwise seen from +z, outer → inner) →
crossover lead above the windings → right wing (counter-clockwise, inner → outer) → lead back
up the handle. Both wings thus carry current along −y under the centre (the windings add
there, as in a real figure-8), the leads are a 1 mm twin line whose fields nearly cancel,
and Kirchhoff's law holds at every node.
"""

import inspect

import numpy as np

from .coil import Coil
from ..errors import CoilError

__all__ = ["BUILTIN_COILS", "available_coils", "builtin_coil"]

_POINTS_PER_TURN = 64
_LEAD_GAP_MM = 1.0
_HANDLE_LENGTH_MM = 120.0


def _spiral(center, r_start, r_end, turns, z, ccw, angle0):
    """Archimedean spiral polyline (K, 3) from radius r_start to r_end."""
    n = int(round(turns * _POINTS_PER_TURN))
    t = np.linspace(0.0, 1.0, n + 1)
    r = r_start + (r_end - r_start) * t
    phi = angle0 + (1.0 if ccw else -1.0) * 2.0 * np.pi * turns * t
    return np.column_stack([center[0] + r * np.cos(phi), center[1] + r * np.sin(phi), np.full_like(t, z)])


def _tilt(points, side, angle_deg, pivot_x, z_pivot):
    """Rotate a wing about the y axis through (pivot_x, *, z_pivot) so its outer edge rises (−z)."""
    if angle_deg == 0:
        return points
    a = np.deg2rad(angle_deg) * side
    c, s = np.cos(a), np.sin(a)
    x = points[:, 0] - pivot_x
    z = points[:, 2] - z_pivot
    out = points.copy()
    out[:, 0] = pivot_x + c * x + s * z
    out[:, 2] = z_pivot - s * x + c * z
    return out


def _figure8_path(r_in, r_out, turns, wing_offset, z, tilt_deg=0.0):
    """One closed polyline through both wings and the leads (mm)."""
    g = _LEAD_GAP_MM / 2
    left = _spiral((-wing_offset, 0.0), r_out, r_in, turns, z, ccw=False, angle0=0.0)
    right = _spiral((wing_offset, 0.0), r_in, r_out, turns, z, ccw=True, angle0=np.pi)
    left = _tilt(left, -1, tilt_deg, -g, z)
    right = _tilt(right, +1, tilt_deg, g, z)
    z_cross = z - 4.0                                 # crossover 4 mm above the winding plane
    cross = np.array([[left[-1, 0], 0.0, z_cross], [right[0, 0], 0.0, z_cross]])
    stim_r = np.array([[right[-1, 0], _HANDLE_LENGTH_MM, right[-1, 2]]])
    stim_l = np.array([[left[0, 0], _HANDLE_LENGTH_MM, left[0, 2]]])
    path = np.vstack([left, cross, right, stim_r, stim_l, left[:1]])
    return path


def _figure8_outline(r_case, wing_offset):
    """Head-facing casing outline (z = 0): union of two circles, counter-clockwise."""
    th0 = np.arccos(min(wing_offset / r_case, 1.0))
    a = np.linspace(th0, 2 * np.pi - th0, 40)                # right lobe, around its far side
    right = np.column_stack([wing_offset - r_case * np.cos(a), -r_case * np.sin(a), 0 * a])
    left = right * np.array([-1.0, -1.0, 1.0])                 # left lobe: the right one turned by 180°
    return np.vstack([right, left])


def _circle_outline(r_case):
    a = np.linspace(0, 2 * np.pi, 72, endpoint=False)
    return np.column_stack([r_case * np.cos(a), r_case * np.sin(a), 0 * a])


def _filaments(path, n_filaments, wire_height_mm):
    """Copies of a closed path offset in z across the wire height, each carrying 1/n."""
    if n_filaments < 1 or int(n_filaments) != n_filaments:
        raise CoilError(f"n_filaments must be a positive integer; got {n_filaments!r}")
    n = int(n_filaments)
    if n == 1:
        return [path], [1.0]
    offs = (np.arange(n) - (n - 1) / 2) * (wire_height_mm / n)
    return [path + np.array([0.0, 0.0, o]) for o in offs], [1.0 / n] * n


def fig8_70mm(n_filaments=1, wire_height_mm=4.7):
    """Magstim 70 mm double (figure-8) coil-like model.

    Geometry: two flat spiral wings of 9 turns each, winding diameters 56 mm (inner) to
    87 mm (outer) as given for the Magstim 70 mm coil by Thielscher & Kammer (2004), Clin
    Neurophysiol 115:1697; wing centres at x = ±44 mm (wings touching at the centre), winding
    plane 6.5 mm above the casing surface (z = −6.5 mm: the middle of the three winding layers
    at 4.2 / 6.5 / 8.8 mm of SimNIBS' X-ray based model of the same coil). With
    ``n_filaments > 1`` the wire's 4.7 mm height is split into stacked filaments.
    Casing outline (approximate): two 48 mm radius lobes around the wing centres.
    Handle along +y. ``max_didt_a_per_us`` = 100 A/µs is APPROXIMATE (order of magnitude of a
    Magstim Rapid² at 100 % with this coil, not from a datasheet: replace it by your device's
    measured value).
    """
    path = _figure8_path(28.0, 43.5, 9, 44.0, -6.5)
    paths, cur = _filaments(path, n_filaments, wire_height_mm)
    return Coil.from_wires(
        paths, cur, name="fig8_70mm",
        handle_direction=[0.0, 1.0, 0.0],
        casing_outline_mm=_figure8_outline(48.0, 44.0),
        max_didt_a_per_us=100.0,
        description=inspect.cleandoc(fig8_70mm.__doc__),
    )


def round_90mm(n_filaments=1, wire_height_mm=4.0):
    """90 mm round coil (generic, Magstim 90 mm round class).

    Geometry: one flat spiral of 10 turns from 70 mm to 110 mm winding diameter (mean 90 mm),
    winding plane 6 mm above the casing (z = −6 mm), leads as a 1 mm twin line along +y (the
    handle), casing outline a 60 mm radius circle. Dimensions are APPROXIMATE (a generic 90 mm round coil, not a manufacturer
    drawing). ``max_didt_a_per_us`` is unknown (None).
    """
    spiral = _spiral((0.0, 0.0), 35.0, 55.0, 10, -6.0, ccw=True, angle0=np.pi / 2)
    z_cross = -10.0
    inner, outer = spiral[0], spiral[-1]
    path = np.vstack([
        spiral,
        [[outer[0] - _LEAD_GAP_MM, _HANDLE_LENGTH_MM, outer[2]]],
        [[inner[0] - _LEAD_GAP_MM, _HANDLE_LENGTH_MM, z_cross]],
        [[inner[0], inner[1], z_cross]],
        spiral[:1],
    ])
    paths, cur = _filaments(path, n_filaments, wire_height_mm)
    return Coil.from_wires(
        paths, cur, name="round_90mm",
        handle_direction=[0.0, 1.0, 0.0],
        casing_outline_mm=_circle_outline(60.0),
        max_didt_a_per_us=None,
        description=inspect.cleandoc(round_90mm.__doc__),
    )


def butterfly_b65(n_filaments=1, wire_height_mm=4.0):
    """MagVenture MCF-B65 class butterfly coil (APPROXIMATE geometry).

    Two spiral wings of 7 turns, winding diameters 45 mm to 85 mm (mean wing diameter 65 mm),
    wing centres at x = ±43 mm, winding plane 6 mm above the casing at the centre and each wing
    tilted by 20° so its outer edge rises away from the head (the butterfly angle; the 20° is
    read off the extent of the dipole model fitted to field measurements by Drakaki et al.
    2022, Brain Stimul, doi:10.1016/j.brs.2022.04.017, which spans z = −5 to −35 mm over
    x = 0 to ±84 mm). The turn count is chosen so that |A| 20 mm under the centre is within
    about 10 % of that model (checked in the tests). The current runs the other way round than in
    ``fig8_70mm`` (A along +y under the centre), matching the sign of the Drakaki et al. model
    for a positive current. Casing outline (approximate): two 47 mm radius lobes. Handle along +y. ``max_didt_a_per_us`` =
    148 A/µs: the dIdtmax of the MCF-B65 on a MagPro X100 in the same Drakaki et al. model.
    """
    path = _figure8_path(22.5, 42.5, 7, 43.0, -6.0, tilt_deg=20.0)[::-1].copy()
    paths, cur = _filaments(path, n_filaments, wire_height_mm)
    return Coil.from_wires(
        paths, cur, name="butterfly_b65",
        handle_direction=[0.0, 1.0, 0.0],
        casing_outline_mm=_figure8_outline(47.0, 43.0),
        max_didt_a_per_us=148.0,
        description=inspect.cleandoc(butterfly_b65.__doc__),
    )


BUILTIN_COILS = {"fig8_70mm": fig8_70mm, "round_90mm": round_90mm, "butterfly_b65": butterfly_b65}


def available_coils():
    """Names of the built-in coil models.

    Examples
    --------
    >>> available_coils()
    ['butterfly_b65', 'fig8_70mm', 'round_90mm']
    """
    return sorted(BUILTIN_COILS)


def builtin_coil(name, **options):
    """Build a built-in coil by name (options: ``n_filaments``, ``wire_height_mm``).

    Examples
    --------
    >>> builtin_coil("fig8_70mm").n_segments > 1000
    True
    """
    try:
        factory = BUILTIN_COILS[name]
    except KeyError:
        raise CoilError(f"unknown coil {name!r}; available built-in coils: {', '.join(available_coils())} "
                        f"(or pass a path to a .ccd / .tcd file)") from None
    return factory(**options)
