"""Target table and target resolution in a head."""

import numpy as np
import pytest

from tmsfield.errors import TargetError
from tmsfield.targets.table import TARGETS, available_targets, get_target, resolve_target
from targets_standins import R_CORTEX, R_SCALP, sphere_head


@pytest.fixture(scope="module")
def head():
    return sphere_head(4, 4)


def test_required_targets_present_with_citations():
    need = {"fox2012_sgacc": (-38, 44, 26), "fox2012_group_optimal": (-42, 44, 30), "fitzgerald2009": (-46, 45, 38),
            "ba46": (-44, 40, 29), "ba9": (-36, 39, 43)}
    for name, xyz in need.items():
        t = get_target(name)
        assert t.mni_mm == tuple(float(v) for v in xyz)
        assert t.citation and t.sourcing in ("verified", "corroborated", "uncertain")
    assert "fox2012_5cm" in TARGETS and "fox2012_f3" in TARGETS
    for t in TARGETS.values():
        assert t.mni_mm[0] < 0, f"{t.name} must be in the left hemisphere"


def test_unknown_target_lists_names():
    with pytest.raises(TargetError) as e:
        get_target("dlpfc_nowhere")
    for n in available_targets():
        assert n in str(e.value)


def test_subject_target_resolves_with_depth(head):
    d = np.array([-0.5, 0.6, 0.62])
    d /= np.linalg.norm(d)
    t = resolve_target(head, subject_mm=R_CORTEX * d)
    assert t.name == "user"
    assert abs(t.depth_mm - (R_SCALP - R_CORTEX)) < 0.5
    assert t.cortex_distance_mm < 3.0


def test_outside_deep_and_no_transform_errors(head):
    with pytest.raises(TargetError, match="outside the scalp"):
        resolve_target(head, subject_mm=[0, 0, R_SCALP + 5])
    with pytest.raises(TargetError, match="outside the brain|cortex"):
        resolve_target(head, subject_mm=[0, 0, 30.0])          # deep white matter, far from the cortex
    with pytest.raises(TargetError, match="deeper than a TMS coil"):
        resolve_target(head, subject_mm=[0, 0, R_CORTEX], max_depth_mm=10.0)
    with pytest.raises(TargetError, match="no subject→MNI transform"):
        resolve_target(head, name="fox2012_sgacc")


def test_a_target_some_mm_off_the_cortex_is_moved_onto_it_with_a_warning(head):
    # 15 mm outside the cortex sphere but inside the scalp: moved to the nearest cortex vertex
    p = np.array([0.0, 0.0, R_CORTEX + 15.0])
    if p[2] >= R_SCALP:
        pytest.skip("the test head's scalp is too close to its cortex for this case")
    t = resolve_target(head, subject_mm=p)
    assert t.cortex_distance_mm == pytest.approx(15.0, abs=2.0)
    assert np.min(np.linalg.norm(head.cortex.vertices - t.subject_mm, axis=1)) < 1e-9
    assert any("nearest cortex point" in w for w in t.warnings)
