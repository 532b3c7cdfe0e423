import numpy as np
import pytest

from tmsfield.kernels.lowrank import matvec_f32


@pytest.mark.random
def test_matvec_matches_numpy_on_random_shapes(rng, test_seed):
    seed = test_seed
    n, k = int(rng.integers(1, 3000)), int(rng.integers(1, 800))
    a = rng.normal(size=(n, k)).astype(np.float32)
    x = rng.normal(size=k).astype(np.float32)
    ref = a.astype(np.float64) @ x.astype(np.float64)
    got = matvec_f32(a, x)
    assert got.dtype == np.float32 and got.shape == (n,)
    assert np.abs(got - ref).max() <= 1e-5 * np.sqrt(k) * np.abs(a).max() * np.abs(x).max() * 10, seed
