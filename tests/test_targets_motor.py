"""Motor-threshold dosing: the matched output gives the target the field M1 gets at threshold (issue 15 item 2)."""

import numpy as np
import pytest

from tmsfield.errors import InputError
from tmsfield.targets.motor import STOKES_SLOPE_PERCENT_PER_MM, motor_threshold_dose


@pytest.mark.random
def test_matched_output_gives_the_target_the_m1_field(rng):
    # fields drawn per A/us (V/m), a threshold in % output and a stimulator dI/dt: E is linear in the output,
    # so at the matched output the target's field equals M1's field at threshold, and 120 % scales it
    for _ in range(50):
        rmt = float(rng.uniform(20, 90))
        e_m1, e_t = (float(x) for x in rng.uniform(0.3, 3.0, 2))
        didt = float(rng.uniform(50, 200))                      # A/us at 100 % output
        d_m1, d_t = (float(x) for x in rng.uniform(8, 25, 2))   # scalp-cortex distances, mm
        d = motor_threshold_dose(rmt, e_m1, e_t, max_didt_a_per_us=didt, depth_m1_mm=d_m1, depth_target_mm=d_t)
        e_at_threshold = e_m1 * didt * rmt / 100.0
        assert d["e_m1_v_per_m"] == pytest.approx(e_at_threshold, rel=1e-12)
        matched = d["percent_output_matched"]
        assert e_t * didt * matched / 100.0 == pytest.approx(e_at_threshold, rel=1e-9)
        assert d["percent_output_120"] == pytest.approx(1.2 * matched, rel=1e-9)
        assert d["e_target_v_per_m"] == pytest.approx(e_at_threshold, rel=1e-9)
        # Stokes: MT + slope x (target depth - M1 depth), % output per mm
        assert d["stokes_percent"] == pytest.approx(rmt + STOKES_SLOPE_PERCENT_PER_MM * (d_t - d_m1), abs=1e-9)
        assert d["reachable_matched"] == (matched <= 100.0)
        assert d["reachable_120"] == (1.2 * matched <= 100.0)


def test_unreachable_output_is_flagged():
    d = motor_threshold_dose(80, 1.0, 0.5, max_didt_a_per_us=100)
    assert d["percent_output_matched"] == pytest.approx(160.0)
    assert not d["reachable_matched"] and not d["reachable_120"]
    assert any("NOT reachable" in w and "160 %" in w for w in d["warnings"])


@pytest.mark.parametrize("rmt", [0, -5, 120, float("nan")])
def test_threshold_outside_0_100_is_refused(rmt):
    with pytest.raises(InputError, match="motor threshold|rmt|RMT"):
        motor_threshold_dose(rmt, 1.0, 1.0)


def test_run_with_a_motor_threshold_on_the_sphere_model(tmp_path):
    """End to end on the template with the local-sphere model: the block's fields are the run's own, the M1
    hotspot is searched (its field at least that of a coil straight above M1 at the default handle angle) and
    the matched output reproduces the M1 field at the target."""
    from tmsfield.targets.run import SetupCache, TargetJob, run_target
    res = run_target(TargetJob(model="sphere", motor_threshold=55.0, heuristics=False), SetupCache())
    mt = res["dose"]["motor_threshold"]
    assert mt["rmt_percent"] == 55.0
    assert mt["e_target_v_per_m_per_a_per_us"] == pytest.approx(res["efield_at_target_v_per_m_per_a_per_us"])
    didt = mt["max_didt_a_per_us"]
    assert mt["e_m1_v_per_m"] == pytest.approx(mt["e_m1_v_per_m_per_a_per_us"] * didt * 0.55, rel=1e-9)
    e_t = mt["e_target_v_per_m_per_a_per_us"] * didt * mt["percent_output_matched"] / 100.0
    assert e_t == pytest.approx(mt["e_m1_v_per_m"], rel=1e-9)
    m1 = np.asarray(mt["m1"]["target"]["subject_mm"])
    pose = np.asarray(mt["m1"]["pose"])
    # the hotspot coil sits over M1: its axis passes within the search radius of the M1 target
    z, c = pose[:3, 2], pose[:3, 3]
    miss = np.linalg.norm(np.cross(m1 - c, z))
    assert miss < 25.0, miss
