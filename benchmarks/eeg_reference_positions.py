"""The template's 10-20 positions against MNE's bundled montages (not a pytest benchmark; needs mne).

Prints, for every 10-20 position of ``load_head(HEAD).eeg_positions()``, the position, MNE's, and
their distance (mm), for

* ``colin27_1005`` — MNE's bundled ``standard_1005`` (the name is a deprecated alias of it since
  mne 1.13): FieldTrip's ``standard_1005.elc``, the 10-5 system of Oostenveld & Praamstra (2001)
  Clin Neurophysiol 112:713-719 constructed on the MNI-registered Colin27 scalp, in MNI mm
  (coordinate frame "mri", which mne documents as MNI);
* ``fsaverage_1005`` — MNE's 10-5 positions on the fsaverage head (MNI305 ≈ MNI mm, as mne
  documents); printed twice: against our construction with the template's landmarks, and with
  the landmarks that set is built on (the "Nz-T10-Iz-T9" convention of the eeg_positions package
  that mne's montage README names: its nasion fiducial, and its Iz, T9, T10 electrodes as inion and
  preauricular points, snapped to our scalp), which shows how much of the difference the landmarks
  explain.

    .venv/bin/python benchmarks/eeg_reference_positions.py            # mni152_3shell (same scalp and landmarks as mni152)
    .venv/bin/python benchmarks/eeg_reference_positions.py mni152_coarse --markdown
"""

import argparse
import warnings

import numpy as np

import tmsfield
from tmsfield.head.eeg import EEG_10_20, eeg_positions


def mne_montage_mm(name):
    """Electrode positions (name -> (3,) mm) and fiducials of one of MNE's bundled montages."""
    import mne

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")            # standard_1005 is a deprecated alias in mne >= 1.13
        available = mne.channels.get_builtin_montages()
        if name == "standard_1005" and "colin27_1005" in available:
            name = "colin27_1005"
        m = mne.channels.make_standard_montage(name)
    d = m.get_positions()
    ch = {k: np.asarray(v, dtype=float) * 1000.0 for k, v in d["ch_pos"].items()}
    fid = {k: np.asarray(d[k], dtype=float) * 1000.0 for k in ("nasion", "lpa", "rpa")}
    return ch, fid, d["coord_frame"], name


def compare(pos, ref, names=EEG_10_20):
    """Rows (name, ours (3,), reference (3,), distance mm) for the names both sets have."""
    return [(n, pos[n], ref[n], float(np.linalg.norm(pos[n] - ref[n]))) for n in names if n in pos and n in ref]


def _fmt(p):
    return "(" + ", ".join(f"{v:.1f}" for v in p) + ")"


def print_table(title, rows, markdown):
    d = np.array([r[3] for r in rows])
    if markdown:
        print(f"\n{title}\n\n| position | tmsfield (mm) | MNE (mm) | distance (mm) |\n|---|---|---|---|")
        for n, a, b, dist in rows:
            print(f"| {n} | {_fmt(a)} | {_fmt(b)} | {dist:.1f} |")
        print(f"\nmedian {np.median(d):.1f} mm, max {d.max():.1f} mm ({rows[int(d.argmax())][0]})")
    else:
        print(f"\n{title}")
        for n, a, b, dist in rows:
            print(f"  {n:4s} {_fmt(a):24s} {_fmt(b):24s} {dist:5.1f}")
        print(f"  median {np.median(d):.1f} mm, max {d.max():.1f} mm ({rows[int(d.argmax())][0]})")


def scalp_geodesic(surface, a, b, n=60, iterations=400):
    """Shortest path on the scalp between a and b (curve shortening + projection; a tape pulled tight)."""
    from tmsfield.head.eeg import closest_point_on_surface

    t = np.linspace(0.0, 1.0, n)[:, None]
    p = closest_point_on_surface(surface, (1 - t) * a + t * b)
    for _ in range(iterations):
        p[1:-1] = closest_point_on_surface(surface, 0.5 * (p[:-2] + p[2:]))
        cum = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))])
        s = np.linspace(0.0, cum[-1], n)
        p = closest_point_on_surface(surface, np.stack([np.interp(s, cum, p[:, k]) for k in range(3)], axis=1))
    return p


def geodesic_midpoints(head, pos):
    """F3, F4, C3 as midpoints of the scalp geodesics F7-Fz, F8-Fz, T7-Cz (instead of plane sections)."""
    out = {}
    for end, mid, name in (("F7", "Fz", "F3"), ("F8", "Fz", "F4"), ("T7", "Cz", "C3")):
        g = scalp_geodesic(head.scalp, pos[end], pos[mid])
        cum = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(g, axis=0), axis=1))])
        out[name] = np.array([np.interp(0.5 * cum[-1], cum, g[:, k]) for k in range(3)])
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("head", nargs="?", default="mni152_3shell")
    ap.add_argument("--markdown", action="store_true", help="tables as markdown (for RESULTS.md)")
    args = ap.parse_args(argv)
    head = tmsfield.load_head(args.head)
    pos = head.eeg_positions()
    ch, _, frame, used = mne_montage_mm("standard_1005")
    print_table(f"{args.head} vs MNE `standard_1005` (= `{used}`, frame {frame!r}, MNI mm)",
                compare(pos, ch), args.markdown)
    fs, fid, frame, _ = mne_montage_mm("fsaverage_1005")
    print_table(f"{args.head} vs MNE `fsaverage_1005` (frame {frame!r}), template landmarks",
                compare(pos, fs), args.markdown)
    lm = {"nasion": fid["nasion"], "lpa": fs["T9"], "rpa": fs["T10"], "inion": fs["Iz"]}
    pos_fs = eeg_positions(head.scalp, lm)
    print_table(f"{args.head} with `fsaverage_1005`'s landmarks (nasion; Iz, T9, T10 as inion, LPA, RPA) "
                "vs `fsaverage_1005`",
                compare(pos_fs, fs), args.markdown)
    geo = geodesic_midpoints(head, pos)
    print_table(f"{args.head}: geodesic midpoints (tape pulled tight F7-Fz, F8-Fz, T7-Cz) vs MNE `standard_1005`",
                compare(geo, ch, names=list(geo)), args.markdown)
    print("  (distance from the plane-section positions: "
          + ", ".join(f"{k} {np.linalg.norm(v - pos[k]):.1f} mm" for k, v in geo.items()) + ")")
    print("\nlandmarks (mm): template " + ", ".join(f"{k} {_fmt(v)}" for k, v in head.landmarks.items()))
    print("  fsaverage_1005 (Nz-T10-Iz-T9) " + ", ".join(f"{k} {_fmt(v)}" for k, v in lm.items()))


if __name__ == "__main__":
    main()
