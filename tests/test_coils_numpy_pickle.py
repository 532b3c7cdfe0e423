"""Reading SimNIBS' pickled numpy arrays without unpickling them."""

import os
import pickle

import numpy as np
import pytest

from tmsfield.coils.numpy_pickle import array_from_numpy_pickle


@pytest.mark.random
@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_random_arrays_round_trip(protocol, rng, test_seed):
    seed = test_seed
    shape = tuple(rng.integers(1, 6, size=rng.integers(1, 5)))
    for a in (rng.normal(size=shape), np.asfortranarray(rng.normal(size=shape)),
              rng.normal(size=shape).astype(">f8"), rng.normal(size=shape).astype(np.float32),
              rng.integers(-5, 5, size=shape)):
        b = array_from_numpy_pickle(pickle.dumps(a, protocol=protocol))   # written with pickle only
        assert b.shape == a.shape and b.dtype.kind == a.dtype.kind and np.array_equal(a, b), f"seed {seed}"


class _Hostile:
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


@pytest.mark.parametrize("payload", [
    pickle.dumps(_Hostile()),
    pickle.dumps({"data": [1.0, 2.0]}),
    pickle.dumps(np.array(["text"])),
    pickle.dumps(np.array([1.0, None], dtype=object)),
    b"\x80\x04not a pickle",
    pickle.dumps(np.arange(6.0))[:-20],
])
def test_anything_but_a_plain_numeric_array_is_refused(payload, capfd):
    with pytest.raises(ValueError, match="not a plain pickled numpy array|does not hold a numpy array|non-numeric"):
        array_from_numpy_pickle(payload)
    assert "must never run" not in capfd.readouterr().out
