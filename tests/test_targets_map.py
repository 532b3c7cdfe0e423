"""Personalised target maps: the best cluster of a map is found, and the search centres on it (issue 15 item 3)."""

import numpy as np
import pytest

from tmsfield.errors import HeadFileError
from tmsfield.head import icosphere
from tmsfield.targets.geometry import ScalpGeometry
from tmsfield.targets.target_map import map_cluster


def _unit(rng):
    v = rng.normal(size=3)
    v[2] = abs(v[2]) + 0.5                      # upper hemisphere (within reach of a coil)
    return v / np.linalg.norm(v)


@pytest.mark.random
def test_heavier_blob_wins_and_the_target_is_its_centre(rng):
    # two Gaussian blobs on a spherical cortex, built apart by construction (centres >= 60 degrees apart),
    # amplitudes a and 0.5 a: the cluster is the heavier blob and its target is the cortex vertex at its centre
    ctx, scalp = icosphere(75.0, 4, name="cortex"), icosphere(95.0, 3, name="scalp")
    geo = ScalpGeometry(scalp, {})
    u1 = _unit(rng)
    while True:
        u2 = _unit(rng)
        if u1 @ u2 < 0.5:
            break
    c1, c2 = ctx.vertices[np.argmax(ctx.vertices @ u1)], ctx.vertices[np.argmax(ctx.vertices @ u2)]
    s = float(rng.uniform(6.0, 10.0))            # blob width, mm
    a = float(rng.uniform(0.5, 5.0))
    d1 = np.sum((ctx.vertices - c1) ** 2, axis=1)
    d2 = np.sum((ctx.vertices - c2) ** 2, axis=1)
    w = a * np.exp(-d1 / (2 * s * s)) + 0.5 * a * np.exp(-d2 / (2 * s * s))
    cl = map_cluster(ctx, w, geo)
    assert np.linalg.norm(cl.target_mm - c1) < 1e-9, (cl.target_mm, c1)
    assert np.all(np.linalg.norm(ctx.vertices[cl.indices] - c1, axis=1) < np.linalg.norm(c2 - c1) / 2)


def test_vertices_beyond_reach_are_not_candidates():
    # a blob 50 mm under the scalp is out of reach (max_depth 35 mm): the shallower, weaker blob is chosen
    ctx, scalp = icosphere(75.0, 4, name="cortex"), icosphere(95.0, 3, name="scalp")
    deep = icosphere(45.0, 4, name="deep")
    cortex_v = ctx.vertices
    top = cortex_v[np.argmax(cortex_v[:, 2])]
    w = 0.3 * np.exp(-np.sum((cortex_v - top) ** 2, axis=1) / 100.0)
    cl = map_cluster(ctx, w, ScalpGeometry(scalp, {}), max_depth_mm=35.0)
    assert np.linalg.norm(cl.target_mm - top) < 1e-9
    w_deep_only = np.exp(-np.sum((deep.vertices - [0, 0, 45.0]) ** 2, axis=1) / 100.0)
    from tmsfield.errors import TargetError
    with pytest.raises(TargetError):
        map_cluster(deep, w_deep_only, ScalpGeometry(scalp, {}), max_depth_mm=35.0)


def test_run_centres_on_a_per_vertex_map(tmp_path):
    """End to end on the template (local-sphere model): a GIFTI map peaking at a cortex vertex near the Fox
    target becomes the target; a map with the wrong vertex count is refused naming the file."""
    import nibabel as nib
    import tmsfield
    from tmsfield.targets.run import SetupCache, TargetJob, run_target
    head = tmsfield.load_head("mni152_3shell")
    v = head.cortex.vertices
    peak = v[np.argmin(np.linalg.norm(v - [-44.0, 30.0, 40.0], axis=1))]
    w = np.exp(-np.sum((v - peak) ** 2, axis=1) / (2 * 6.0 ** 2)).astype(np.float32)
    path = tmp_path / "map.func.gii"
    nib.save(nib.gifti.GiftiImage(darrays=[nib.gifti.GiftiDataArray(w)]), str(path))
    res = run_target(TargetJob(model="sphere", target_map=str(path), map_space="subject", heuristics=False),
                     SetupCache())
    assert np.linalg.norm(np.asarray(res["target"]["subject_mm"]) - peak) < 3.0, res["target"]["subject_mm"]
    bad = tmp_path / "bad.func.gii"
    nib.save(nib.gifti.GiftiImage(darrays=[nib.gifti.GiftiDataArray(w[:-7])]), str(bad))
    with pytest.raises(HeadFileError, match="bad.func.gii"):
        run_target(TargetJob(model="sphere", target_map=str(bad), map_space="subject", heuristics=False),
                   SetupCache())
