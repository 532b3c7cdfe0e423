"""Build the bundled MNI152 template head meshes (GIFTI) committed in this folder.

Three heads share these files: ``"mni152"`` (five tissues: scalp, skull, CSF, GM, WM — boundaries scalp,
skull_outer, skull_inner, gm, wm), ``"mni152_3shell"`` (scalp, skull_outer, skull_inner; lumped brain) and
``"mni152_3shell_coarse"`` (= ``"mni152_coarse"``, coarser scalp/skull surfaces).

Reproducible: downloads pinned wheels of nimare, nilearn and mne with ``pip download --no-deps``
into a temporary folder and reads their data files straight out of the zip archives (nothing is
installed). Run from the repository root:

    .venv/bin/python meshes/build_template.py            # writes meshes/mni152_*.gii + landmarks json
    .venv/bin/python meshes/build_template.py --wheels DIR   # reuse already downloaded wheels
    .venv/bin/python meshes/build_template.py --brain-edge-mm 3.5   # the pre-2026-11-28 29,904-triangle head

Sources (see README.md for licences):

* scalp: whole-head MNI152 NLin6 Asym T1 (1 mm), ``nimare/resources/templates`` (TemplateFlow copy);
* inner skull: the MNI152 NLin6 Asym brain mask from the same folder, dilated 2 mm, united with the
  (dilated) fsaverage5 pial surfaces so that it encloses the whole cortex by construction;
* outer skull: inner skull grown by a 6 mm skull, kept ≥ 4 mm inside the scalp (a typical scalp);
* grey / white matter (``mni152_gm.gii``, ``mni152_wm.gii``): the fsaverage5 pial and white surfaces (nilearn),
  mapped MNI305 → MNI152 with FreeSurfer's linear matrix, made into BEM boundaries by
  :func:`tmsfield.head.cortex_layers.layered_cortex`: refined 1:4 (new edge vertices on the PN-triangle Hermite
  curve of the edge, i.e. bent with the fold, falling back to the flat midpoint where bending would add a
  crossing; mean edge 3.1 → 1.55 mm), then a minimum grey-matter thickness of ``MIN_GM_MM`` imposed per
  column symmetrically about the column midpoint (the medial wall, where fsaverage's pial == white, gets this
  thin GM layer rather than a zero-thickness junction), then pial vertices closer than ``MIN_GAP_MM`` to the
  other hemisphere or the inner skull pushed inward, self-crossings smoothed out and white kept inside pial,
  iterated until :func:`tmsfield.solver.mesh_check.check_nested` finds nothing. Each of ``gm``/``wm`` holds
  both hemispheres as two closed components, so the head is one nested stack (CSF inside the inner skull and
  outside both pial surfaces, GM between pial and white, WM inside white) and every triangle's two sides
  follow from the nesting (``Head.triangle_sides()``).
  Why fsaverage5 and not the ICBM152 2009 GM/WM probability maps that nilearn also ships: those maps are a
  152-subject volumetric average in which most sulci are blurred away (marching cubes gives a smooth, barely
  folded surface), whereas fsaverage is a surface-based average that keeps the gyri and sulci — it is what
  the 97,440-triangle five-compartment head of the scalable-BEM issue used, and the reporting cortex is made
  from the same columns, so it lies between pial and white by construction;
* cortex: mid-thickness ``(pial + white)/2`` of those final columns at the 20,484 fsaverage5 vertices, both
  hemispheres, with ``sulc`` (columns that were not moved keep the plain fsaverage5 mid-thickness);
* landmarks: nasion (Nz), inion (Iz), LPA, RPA of the FieldTrip ``standard_1020.elc`` electrode
  template (Oostenveld & Praamstra 2001, Clin Neurophysiol 112:713; positions fitted on the
  MNI-registered Colin27 head), shipped in the mne wheel as ``colin27_1020.elc``; MNI coordinates in
  mm, snapped to this template's scalp. With these landmarks the 10-10 positions computed here agree
  with that template's positions to ~2.5 mm (median).
"""

import argparse
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tmsfield.head.cortex_layers import layered_cortex  # noqa: E402
from tmsfield.head.eeg import closest_point_on_surface  # noqa: E402
from tmsfield.head.head import Head  # noqa: E402
from tmsfield.head.io_surface import write_gifti_surface  # noqa: E402
from tmsfield.head.loaders import MNI305_TO_MNI152  # noqa: E402
from tmsfield.solver.mesh_check import check_nested, winding_number  # noqa: E402
from tmsfield.head.surface import Surface  # noqa: E402
from tmsfield.head.volume import mesh_from_mask  # noqa: E402

WHEELS = {"nimare": "0.22.1", "nilearn": "0.14.1", "mne": "1.13.2"}
T1 = "nimare/resources/templates/tpl-MNI152NLin6Asym_res-01_T1w.nii.gz"
BRAIN = "nimare/resources/templates/tpl-MNI152NLin6Asym_res-01_desc-brain_mask.nii.gz"
FS5 = "nilearn/datasets/data/fsaverage5/{kind}_{hemi}.gii.gz"
ELECTRODES = "mne/channels/data/montages/colin27_1020.elc"

#: target mean edge lengths (mm): scalp, skull_outer, skull_inner
EDGES = {"mni152": (7.0, 5.5, 3.0), "mni152_coarse": (10.0, 7.0, 5.0)}
SKULL_MM = 6.0          # skull thickness grown outward from the inner skull
SCALP_MIN_MM = 4.0      # minimum soft tissue kept between outer skull and scalp
BRAIN_DILATE_MM = 2.0   # inner skull = brain mask grown by this (CSF layer)
CORTEX_MARGIN_MM = 3.0  # inner skull ≥ this outside every pial vertex
MIN_GM_MM = 1.0         # minimum grey-matter thickness per column (medial wall: 0 in fsaverage). 1 mm rather than
#                         0.5: keeps the reporting cortex ≥ 0.5 mm from both boundaries and the two charge layers
#                         of the BEM farther apart than half a (1.5 mm) triangle
MIN_GAP_MM = 1.0        # minimum CSF gap between the hemispheres' pial surfaces and to the inner skull


def fetch_wheels(dest):
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    out = {}
    for pkg, ver in WHEELS.items():
        found = sorted(dest.glob(f"{pkg}-{ver}-*.whl"))
        if not found:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                            f"{pkg}=={ver}", "-d", str(dest)], check=True)
            found = sorted(dest.glob(f"{pkg}-{ver}-*.whl"))
        out[pkg] = found[0]
    return out


def member(wheels, name):
    pkg = name.split("/")[0]
    with zipfile.ZipFile(wheels[pkg]) as z:
        return z.read(name)


def nifti(wheels, name):
    import nibabel as nib
    return nib.Nifti1Image.from_bytes(_gunzip(member(wheels, name)))


def gifti(wheels, name):
    import nibabel as nib
    return nib.gifti.GiftiImage.from_bytes(_gunzip(member(wheels, name)))


def _gunzip(b):
    import gzip
    return gzip.decompress(b) if b[:2] == b"\x1f\x8b" else b


def apply(m, p):
    return np.asarray(p, dtype=np.float64) @ m[:3, :3].T + m[:3, 3]


def read_elc(text):
    """Labels -> (3,) mm of an ASA ``.elc`` electrode file (``Positions`` block, then ``Labels``)."""
    lines = [ln.strip() for ln in text.splitlines()]
    n = int(next(ln.split("=")[1] for ln in lines if ln.startswith("NumberPositions")))
    i = lines.index("Positions") + 1
    pos = [np.array(ln.split(), dtype=float) for ln in lines[i:i + n]]
    j = lines.index("Labels") + 1
    labels = lines[j].split() if len(lines[j].split()) > 1 else lines[j:j + n]
    unit = next((ln.split()[1] for ln in lines if ln.startswith("UnitPosition")), "mm")
    scale = {"mm": 1.0, "cm": 10.0, "m": 1000.0}[unit]
    return {lab: p * scale for lab, p in zip(labels, pos)}


def pial_white(wheels):
    """Per hemisphere (left, right): pial and white Surface in MNI152 mm (fsaverage5, shared triangles)."""
    pial, white = [], []
    for hemi in ("left", "right"):
        for kind, out in (("pial", pial), ("white", white)):
            img = gifti(wheels, FS5.format(kind=kind, hemi=hemi))
            v, t = (np.asarray(d.data) for d in img.darrays[:2])
            out.append(Surface(apply(MNI305_TO_MNI152, v.astype(float)), t.astype(np.int64), name=f"{kind}_{hemi}"))
    return pial, white


def cortex_midthickness(wheels):
    verts, tris, sulc, off = [], [], [], 0
    for hemi in ("left", "right"):
        pial = gifti(wheels, FS5.format(kind="pial", hemi=hemi))
        white = gifti(wheels, FS5.format(kind="white", hemi=hemi))
        pv, pt = (np.asarray(d.data) for d in pial.darrays[:2])
        wv = np.asarray(white.darrays[0].data)
        s = np.asarray(gifti(wheels, FS5.format(kind="sulc", hemi=hemi)).darrays[0].data, dtype=float)
        verts.append(0.5 * (pv.astype(float) + wv.astype(float)))
        tris.append(pt.astype(np.int64) + off)
        sulc.append(s)
        off += len(pv)
        if hemi == "left":
            pial_all = [pv.astype(float)]
        else:
            pial_all.append(pv.astype(float))
    mid = apply(MNI305_TO_MNI152, np.vstack(verts))
    pial = apply(MNI305_TO_MNI152, np.vstack(pial_all))
    return Surface(mid, np.vstack(tris), name="cortex"), np.concatenate(sulc), pial


def build_masks(wheels, pial_mni152):
    from scipy import ndimage
    t1 = nifti(wheels, T1)
    vs = np.linalg.norm(t1.affine[:3, :3], axis=0)
    # pad with air so that the neck cut at the bottom of the field of view counts as outside the head
    pad = 12
    vol = np.pad(np.asarray(t1.dataobj, dtype=np.float32), pad)
    aff = t1.affine.copy()
    aff[:3, 3] -= aff[:3, :3] @ np.full(3, pad)
    ball = lambda r: (np.sum((np.indices((2 * r + 1,) * 3) - r) ** 2, axis=0) <= r * r)  # noqa: E731
    # head: T1 above the air level (air ≈ 300-400, dark skull ≈ 700-900 is enclosed and filled)
    head = vol > 1200.0
    head = ndimage.binary_closing(np.pad(head, 4), structure=ball(3))[4:-4, 4:-4, 4:-4]
    for k in range(head.shape[2]):     # close nasal cavity / ear canals slice by slice
        head[:, :, k] = ndimage.binary_fill_holes(head[:, :, k])
    head = ndimage.binary_fill_holes(head)
    lab, n = ndimage.label(head)
    head = lab == np.argmax(np.bincount(lab.ravel())[1:]) + 1
    brain = np.pad(np.asarray(nifti(wheels, BRAIN).dataobj) > 0.5, pad)
    # rasterise the pial vertices into the grid (cortex must be inside the inner skull)
    ijk = np.round(apply(np.linalg.inv(aff), pial_mni152)).astype(int)
    ijk = np.clip(ijk, 0, np.array(vol.shape) - 1)
    cortex_pts = np.zeros(vol.shape, bool)
    cortex_pts[tuple(ijk.T)] = True
    dist_to_cortex = ndimage.distance_transform_edt(~cortex_pts, sampling=vs)
    dist_to_brain = ndimage.distance_transform_edt(~brain, sampling=vs)
    inner = (dist_to_brain <= BRAIN_DILATE_MM) | (dist_to_cortex <= CORTEX_MARGIN_MM + 2.0)
    inner = ndimage.binary_closing(np.pad(inner, 6), structure=ball(5))[6:-6, 6:-6, 6:-6]
    inner = ndimage.binary_fill_holes(inner)
    depth_in_head = ndimage.distance_transform_edt(head, sampling=vs)
    inner &= depth_in_head > SCALP_MIN_MM + 2.0
    dist_to_inner = ndimage.distance_transform_edt(~inner, sampling=vs)
    outer = (dist_to_inner <= SKULL_MM) & (depth_in_head > SCALP_MIN_MM)
    return aff, head, outer, inner


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wheels", help="folder with (or for) the downloaded wheels (default: a temp folder)")
    ap.add_argument("--out", default=str(HERE), help="output folder (default: this folder)")
    ap.add_argument("--brain-edge-mm", type=float, default=EDGES["mni152"][2],
                    help="target mean edge (mm) of the 'mni152' inner skull, the brain boundary of the BEM "
                         f"(default {EDGES['mni152'][2]}); 'mni152_coarse' is unchanged")
    args = ap.parse_args(argv)
    if not 1.0 <= args.brain_edge_mm <= 10.0:
        ap.error(f"--brain-edge-mm {args.brain_edge_mm}: use 1-10 mm (finer meshes make the BEM slower, ~T^2)")
    edges_by_variant = dict(EDGES)
    edges_by_variant["mni152"] = EDGES["mni152"][:2] + (args.brain_edge_mm,)
    out = Path(args.out)
    with tempfile.TemporaryDirectory() as tmp:
        wheels = fetch_wheels(args.wheels or tmp)
        print("reading fsaverage5 and MNI152 volumes ...", flush=True)
        cortex, sulc, pial = cortex_midthickness(wheels)
        pial_white_surfaces = pial_white(wheels)
        aff, head, outer, inner = build_masks(wheels, pial)
        electrodes = read_elc(member(wheels, ELECTRODES).decode())
    stats = {}
    for variant, edges in edges_by_variant.items():
        print(f"meshing scalp and skull of {variant} ...", flush=True)
        surfs = [mesh_from_mask(m, aff, e, name=n, source=f"template {variant}")
                 for m, e, n in zip((head, outer, inner), edges, ("scalp", "skull_outer", "skull_inner"))]
        for s in surfs:
            write_gifti_surface(out / f"{variant}_{s.name}.gii", s)
        stats[variant] = {s.name: {"triangles": s.n_triangles, "vertices": s.n_vertices,
                                   "mean_edge_mm": round(s.mean_edge_length, 2)} for s in surfs}
        w = winding_number(surfs[2], cortex.vertices)
        check_nested(surfs, repair_orientation=False)
        stats[variant]["cortex_inside_inner_skull_fraction"] = float(np.mean(w > 0.5))
        if variant == "mni152":
            scalp, inner_skull, five_shells = surfs[0], surfs[2], surfs
    print(f"grey/white matter from fsaverage5 pial/white (min GM {MIN_GM_MM} mm, min gap {MIN_GAP_MM} mm); "
          f"a few minutes ...", flush=True)
    gm, wm, mid, layers = layered_cortex(*pial_white_surfaces, inner_skull, min_gm_mm=MIN_GM_MM,
                                         min_gap_mm=MIN_GAP_MM, log=lambda m: print(m, flush=True))
    moved = np.linalg.norm(mid - cortex.vertices, axis=1)
    cortex = Surface(mid, cortex.triangles, name="cortex")
    print("checking the five-tissue head (closed, outward, nested, no crossings) ...", flush=True)
    five = Head.from_surfaces(list(five_shells) + [gm, wm], tissues=("scalp", "skull", "csf", "gm", "wm"),
                              cortex=cortex, name="mni152", check=True)
    w_gm, w_wm = winding_number(gm, cortex.vertices), winding_number(wm, cortex.vertices)
    if not (np.all(w_gm > 0.5) and np.all(w_wm < 0.5)):
        raise SystemExit("cortex vertices outside the grey matter: the layered cortex build failed")
    for s in (gm, wm):
        write_gifti_surface(out / f"mni152_{s.name}.gii", s)
    stats["mni152_five_tissue"] = {
        **{s.name: {"triangles": s.n_triangles, "vertices": s.n_vertices, "mean_edge_mm": round(s.mean_edge_length, 2),
                    "area_mm2": round(float(s.triangle_areas.sum()))} for s in five.boundaries},
        "triangles_total": int(sum(s.n_triangles for s in five.boundaries)),
        "layers": {k: (round(v, 2) if isinstance(v, float) else v) for k, v in layers.items()},
        "cortex_moved_mm": {"max": round(float(moved.max()), 2), "p99": round(float(np.percentile(moved, 99)), 2),
                            "vertices_moved_over_0.01mm": int(np.sum(moved > 0.01))},
        "min_gm_mm": MIN_GM_MM, "min_gap_mm": MIN_GAP_MM}
    write_gifti_surface(out / "mni152_cortex.gii", cortex, scalars=sulc)
    raw152 = {"nasion": electrodes["Nz"], "inion": electrodes["Iz"], "lpa": electrodes["LPA"],
              "rpa": electrodes["RPA"]}
    snapped = {k: closest_point_on_surface(scalp, v[None])[0] for k, v in raw152.items()}
    info = {
        "description": "Landmarks of the tmsfield MNI152 template head (mm, MNI152 NLin6 Asym space)",
        "landmarks_mm": {k: np.round(v, 3).tolist() for k, v in snapped.items()},
        "landmarks_source_mni152_mm": {k: np.round(v, 3).tolist() for k, v in raw152.items()},
        "snap_distance_mm": {k: round(float(np.linalg.norm(snapped[k] - raw152[k])), 2) for k in snapped},
        "provenance": "Nz, Iz, LPA, RPA of the FieldTrip standard_1020.elc template (Oostenveld & Praamstra 2001; "
                      "Colin27 MNI head), file colin27_1020.elc of the mne wheel; snapped to the template scalp",
        "cortex_curvature": "fsaverage5 sulc (nilearn), positive in sulci",
        "wheels": WHEELS,
        "stats": stats,
    }
    with open(out / "mni152_landmarks.json", "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")
    print(json.dumps(info, indent=1))
    sizes = {p.name: p.stat().st_size for p in sorted(out.glob("mni152*"))}
    print("file sizes (bytes):", json.dumps(sizes, indent=1), "total", sum(sizes.values()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
