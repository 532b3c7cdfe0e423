"""The template's 10-20 positions against MNE's bundled 10-5 montages (an independent implementation).

MNE's ``standard_1005`` (since mne 1.13 a deprecated alias of ``colin27_1005``) is FieldTrip's
``standard_1005.elc``: Oostenveld & Praamstra (2001) Clin Neurophysiol 112:713-719, constructed on the
MNI-registered Colin27 scalp, in MNI mm. MNE's ``fsaverage_1005`` is built on the fsaverage head with
other landmarks (Nz, T9, T10, Iz; ~9 mm from ours at F3); with those landmarks our construction must
reproduce it too, which shows the landmarks, not the arcs, explain that difference
(benchmarks/RESULTS.md, "EEG positions against MNE's montages").
"""

import warnings

import numpy as np
import pytest

import tmsfield
from tmsfield.head.eeg import EEG_10_20, eeg_positions

mne = pytest.importorskip("mne", reason="mne (test extra) is not installed; pip install 'tmsfield[test]'")


def _montage_mm(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")        # standard_1005 is deprecated in favour of colin27_1005
        if name == "standard_1005" and "colin27_1005" in mne.channels.get_builtin_montages():
            name = "colin27_1005"
        d = mne.channels.make_standard_montage(name).get_positions()
    return {k: np.asarray(v) * 1000.0 for k, v in d["ch_pos"].items()}, d


@pytest.fixture(scope="module")
def template_positions():
    return tmsfield.load_head("mni152_3shell").eeg_positions()


def test_matches_mne_standard_1005_in_mni_space(template_positions):
    ref, d = _montage_mm("standard_1005")
    assert d["coord_frame"] == "mri"       # mne: colin27 positions are in fsaverage/MNI MRI coordinates
    dist = {n: float(np.linalg.norm(template_positions[n] - ref[n])) for n in EEG_10_20}
    for n in ("F3", "F4", "Fz", "C3", "Cz"):
        assert dist[n] < 5.0, (n, dist)
    assert np.median(list(dist.values())) < 3.5, dist
    assert max(dist.values()) < 6.0, dist
    # F3 height: the value issue 15 questioned (z 41.4 here, 42.2 in MNE's standard_1005)
    assert abs(template_positions["F3"][2] - ref["F3"][2]) < 3.0


def test_fsaverage_1005_difference_is_its_landmarks():
    head = tmsfield.load_head("mni152_3shell")
    ref, d = _montage_mm("fsaverage_1005")
    own = head.eeg_positions()
    lm = {"nasion": np.asarray(d["nasion"]) * 1000.0, "inion": ref["Iz"], "lpa": ref["T9"], "rpa": ref["T10"]}
    theirs = eeg_positions(head.scalp, lm)
    key = ("F3", "F4", "Fz", "C3", "Cz")
    before = {n: float(np.linalg.norm(own[n] - ref[n])) for n in key}
    after = {n: float(np.linalg.norm(theirs[n] - ref[n])) for n in key}
    assert min(before.values()) > 7.0, before          # the set the issue quoted is far from ours...
    for n in key:
        assert after[n] < 5.5, (n, after)              # ...and close once built from its own landmarks
    assert np.median([np.linalg.norm(theirs[n] - ref[n]) for n in EEG_10_20]) < 4.0
