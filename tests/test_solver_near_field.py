"""Near-pair search by triangle size against a brute-force distance matrix."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from tmsfield.solver.near_field import near_pairs, size_classes


@pytest.mark.random
def test_near_pairs_equal_brute_force_with_mixed_sizes(rng):
    pts = rng.uniform(-50, 50, size=(300, 3))
    cen = rng.uniform(-50, 50, size=(400, 3))
    radii = np.exp(rng.uniform(np.log(0.5), np.log(40.0), size=400))    # 80:1 mix of sizes
    i, j = near_pairs(pts, cen, radii)
    got = set(zip(i.tolist(), j.tolist()))
    d = cdist(pts, cen)
    ref = set(zip(*[a.tolist() for a in np.nonzero(d < radii[None, :])]))
    assert got == ref
    assert len(got) == i.size            # no pair twice


@pytest.mark.random
def test_size_classes_partition_within_factor_two(rng):
    r = np.exp(rng.uniform(-3, 3, size=500))
    groups = size_classes(r)
    allidx = np.sort(np.concatenate(groups))
    np.testing.assert_array_equal(allidx, np.arange(500))
    for g in groups:
        assert r[g].max() / r[g].min() < 2.0
