"""Dose: field at % output, % needed for a requested field, unreachable fields warn."""

import numpy as np
import pytest

from tmsfield.targets.dose import dose_report, get_stimulator


@pytest.mark.random
def test_dose_linear_and_inverse(rng):
    e1, dmax, pct = rng.uniform(0.5, 2), rng.uniform(50, 200), rng.uniform(10, 100)
    _, d = dose_report(e1, max_didt_a_per_us=dmax, percent_output=pct)
    assert np.isclose(d["efield_at_target_v_per_m"], e1 * dmax * pct / 100)
    _, d2 = dose_report(e1, max_didt_a_per_us=dmax, requested_v_per_m=d["efield_at_target_v_per_m"])
    assert np.isclose(d2["percent_output_needed"], pct) and d2["reachable"]


def test_unreachable_is_a_warning():
    stim, d = dose_report(1.0, stimulator="magpro_x100_mcf_b65", requested_v_per_m=500.0)
    assert d["reachable"] is False and any("NOT reachable" in w for w in d["warnings"])
    assert stim["max_didt_a_per_us"] == get_stimulator("magpro_x100_mcf_b65").max_didt_a_per_us


def test_no_stimulator_known_warns():
    _, d = dose_report(1.0, percent_output=50)
    assert d["efield_at_target_v_per_m"] is None and d["warnings"]


def test_unknown_stimulator():
    from tmsfield.errors import InputError
    with pytest.raises(InputError, match="known"):
        dose_report(1.0, stimulator="acme")
