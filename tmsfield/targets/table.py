"""Named left-DLPFC stimulation targets (MNI152, mm) with citations, and user targets.

Each entry states how well it is sourced (``sourcing``):

* ``"verified"``     — coordinate read in the cited paper itself (no entry yet: the papers' tables were not
  reachable from this project, which can only read public repositories and the opening of public pages).
* ``"corroborated"`` — not read in the paper, but at least two independent public sources give the same
  coordinate with the same attribution (the citation names them).
* ``"uncertain"``    — one source only, or sources that disagree about the label or origin; a warning
  goes into every result that uses it. Verify before clinical use.

Targets are checked against the head: inside the scalp, near the cortex, and no deeper below the scalp
than a coil can reach (default 35 mm; the E-field of figure-8 coils falls to < ~30 % of its superficial
value there, Deng et al. 2013 Brain Stimul 6:1–13).
"""

from dataclasses import dataclass

import numpy as np

from ..errors import InputError, TargetError
from ..validation import as_points

__all__ = ["TargetSpec", "TARGETS", "available_targets", "get_target", "resolve_target", "ResolvedTarget",
           "DEFAULT_TARGET", "MAX_DEPTH_MM"]

DEFAULT_TARGET = "fox2012_sgacc"
MAX_DEPTH_MM = 35.0
_FOX2012 = ("Fox MD, Buckner RL, White MP, Greicius MD, Pascual-Leone A (2012) Efficacy of transcranial "
            "magnetic stimulation targets for depression is related to intrinsic functional connectivity with "
            "the subgenual cingulate. Biol Psychiatry 72(7):595-603. doi:10.1016/j.biopsych.2012.04.028")


@dataclass(frozen=True)
class TargetSpec:
    """A named target: MNI152 coordinate (mm), description, citation and how well it is sourced.

    Examples
    --------
    >>> get_target("fox2012_sgacc").mni_mm
    (-38.0, 44.0, 26.0)
    """

    name: str
    mni_mm: tuple
    description: str
    citation: str
    sourcing: str  # "verified" | "corroborated" | "uncertain"


TARGETS = {t.name: t for t in (
    TargetSpec("fox2012_sgacc", (-38.0, 44.0, 26.0),
               "left DLPFC site maximally anticorrelated with the subgenual cingulate (sgACC seed)",
               _FOX2012 + ". Not read in the paper (reachable here only as its abstract). Two public TMS target "
               "lists give this coordinate as Fox 2012's sgACC-anticorrelated group target, a third project "
               "attributes it to Fox 2012 as the 'efficacy-seed' variant, and SimNIBS-based targeting scripts use "
               "it as the DLPFC target; all are secondary sources of mixed quality. Checked 2026-12-01",
               "corroborated"),
    TargetSpec("fox2012_group_optimal", (-42.0, 44.0, 30.0),
               "connectivity-based variant of the sgACC-anticorrelated target (label and source unverified)",
               "attributed to " + _FOX2012 + " — UNVERIFIED: not found in the paper text available to this "
               "project (2026-11-28 search of public pages and repositories: the PMC author manuscript PMC4120275 "
               "was reachable only as its abstract). Three low-quality repositories cite (-42, 44, 30) and disagree "
               "about its source: one attributes it to Weigand A, et al. (2018) Prospective validation that "
               "subgenual connectivity predicts antidepressant efficacy of transcranial magnetic stimulation "
               "sites. Biol Psychiatry 84(1):28-37 (connectivity from 1,000 healthy subjects' normative data; "
               "patient cohorts of about 25), one to an 'accelerated TMS (SAINT)' target with a DOI that is not "
               "a Fox or Weigand paper, one gives no source (checked 2026-12-01). Verify before clinical use",
               "uncertain"),
    TargetSpec("fitzgerald2009", (-46.0, 45.0, 38.0),
               "neuronavigated BA46/9 border target of Fitzgerald et al.",
               "Fitzgerald PB, Hoy K, McQueen S, et al. (2009) A randomized trial of rTMS targeted with MRI based "
               "neuro-navigation in treatment-resistant depression. Neuropsychopharmacology 34(5):1255-1262; "
               "MNI coordinate as tabulated in " + _FOX2012 + " (table not read here; the same coordinate is given "
               "as Fox et al.'s Fitzgerald target by dariasve20/StandardizeROI and by a public TMS target guide)",
               "corroborated"),
    TargetSpec("ba46", (-44.0, 40.0, 29.0), "centre of left Brodmann area 46",
               "Rajkowska G, Goldman-Rakic PS (1995) Cereb Cortex 5:323-337 (Talairach definition); MNI centre "
               "as tabulated in " + _FOX2012 + " (table not read here; the same centre is given by nih-fmrif/contarg's "
               "DLPFC spheres and by an independent rsTMS pipeline)", "corroborated"),
    TargetSpec("ba9", (-36.0, 39.0, 43.0), "centre of left Brodmann area 9",
               "Rajkowska G, Goldman-Rakic PS (1995) Cereb Cortex 5:323-337 (Talairach definition); MNI centre "
               "as tabulated in " + _FOX2012 + " (table not read here; the same centre is given by nih-fmrif/contarg's "
               "DLPFC spheres and by an independent rsTMS pipeline)", "corroborated"),
    TargetSpec("fox2012_5cm", (-41.0, 16.0, 54.0),
               "average cortical site of the '5-cm rule' (5 cm anterior to the motor hotspot)",
               "average 5-cm site as tabulated in " + _FOX2012 + " (the 5-cm data came from Herbsman T, et al. "
               "(2009) Biol Psychiatry 66:509-515). NOT checked against the paper's table (not reachable here); "
               "the same coordinate, labelled '5cm', is one of the four DLPFC sphere centres (with BA9 "
               "(-36, 39, 43), BA46 (-44, 40, 29) and F3 (-37, 26, 49)) in the README of nih-fmrif/contarg "
               "(NIMH, connectivity-based rTMS targeting), and one of three Fox-cited DLPFC seeds with BA9 and "
               "BA46 in an independent rsTMS pipeline; checked 2026-11-28",
               "uncertain"),
    TargetSpec("fox2012_f3", (-37.0, 26.0, 49.0),
               "average cortical site under the EEG F3 position (listed as 'F3 (Beam)' / 'F3 Beam' in later tables)",
               "average F3 site as tabulated in " + _FOX2012 + ". NOT checked against the paper's table (not "
               "reachable here); the same coordinate, labelled 'F3', is one of the four DLPFC sphere centres "
               "(with BA9, BA46 and the 5-cm site above) in the README of nih-fmrif/contarg, and is listed as the "
               "Beam F3 group site (Beam W, et al. (2009) Brain Stimul 2:50-54) in one further public target "
               "atlas (a single, unreliable project). Talairach (-37, 27, 44), given as Herwig et al. (2003)'s F3 "
               "site by one low-quality source, converts (Brett's transform) to MNI (-37.4, 25.5, 49.2), so this "
               "may be that site rather than a Beam-method average; checked 2026-12-01",
               "uncertain"),
    # not a DLPFC target: the motor-threshold dose (tmsfield.targets.motor) finds the M1 hotspot here
    TargetSpec("mayka2006_m1", (-37.0, -21.0, 58.0),
               "left primary motor cortex (M1), used as the hand-knob hotspot for motor-threshold dosing",
               "Mayka MA, Corcos DM, Leurgans SE, Vaillancourt DE (2006) Three-dimensional locations and boundaries "
               "of motor and premotor cortices as defined by functional brain imaging: a meta-analysis. NeuroImage "
               "31(4):1453-1474. doi:10.1016/j.neuroimage.2006.02.004 (PMC2034289). NOT read in the paper's table "
               "(only its abstract was reachable here); the coordinate is the one SimNIBS' coordinate-transform "
               "example uses as 'MNI position for M1' with a link to this paper (one secondary source). It is the "
               "meta-analytic centre of M1 activations, not a hand-knob landmark: the search around it finds the "
               "hotspot of this head. Checked 2026-12-04",
               "uncertain"),
)}


def available_targets():
    """Names of the built-in targets.

    Examples
    --------
    >>> "fox2012_sgacc" in available_targets()
    True
    """
    return tuple(TARGETS)


def get_target(name):
    """Look up a named target.

    Raises
    ------
    TargetError
        Unknown name; the message lists the available names.

    Examples
    --------
    >>> get_target("ba46").sourcing
    'corroborated'
    """
    key = str(name).strip().lower()
    if key not in TARGETS:
        raise TargetError(f"unknown target {name!r}; available targets: {', '.join(TARGETS)} "
                          f"(or give coordinates with --mni X Y Z / --subject X Y Z)")
    return TARGETS[key]


@dataclass(frozen=True)
class ResolvedTarget:
    """A target located in a head.

    Attributes
    ----------
    name : str
    subject_mm : ndarray (3,)
        Target in the head's coordinates (mm).
    mni_mm : ndarray (3,) or None
    citation : str
    sourcing : str
    depth_mm : float
        Distance from the target to the closest scalp point (mm).
    cortex_distance_mm : float
        Distance to the nearest cortex vertex (mm).
    warnings : tuple of str
    """

    name: str
    subject_mm: np.ndarray
    mni_mm: np.ndarray
    citation: str
    sourcing: str
    depth_mm: float
    cortex_distance_mm: float
    warnings: tuple = ()

    def as_dict(self, roi_radius_mm, quantity):
        """The ``target`` block of the result JSON."""
        return {"name": self.name, "mni_mm": None if self.mni_mm is None else [float(v) for v in self.mni_mm],
                "subject_mm": [float(v) for v in self.subject_mm], "roi_radius_mm": float(roi_radius_mm),
                "quantity": quantity, "citation": self.citation, "sourcing": self.sourcing,
                "depth_mm": float(self.depth_mm)}


def _mni_to_subject(head, mni, mni_warp=None):
    if mni_warp is not None:  # nonlinear warp (tmsfield.head.warps.Warp) takes precedence over the affine
        return np.asarray(mni_warp.mni_to_subject(np.asarray(mni, float).reshape(1, 3))).reshape(3)
    tf = getattr(head, "mni_transform", None)
    if tf is None:
        src = f"{getattr(head, 'name', '')} {getattr(head, 'source', '')}".lower()
        if "mni" in src:
            return np.asarray(mni, float).reshape(3)  # template already in MNI space
        raise TargetError(f"head {getattr(head, 'name', '?')!r} has no subject→MNI transform, so an MNI target "
                          f"cannot be placed in it; give the target in subject coordinates (--subject X Y Z) or "
                          f"load the head with its MNI transform")
    return (np.asarray(head.mni_to_subject(np.asarray(mni, float).reshape(1, 3)))).reshape(3)


#: a target farther than this (mm) from every cortex vertex is moved onto the nearest one (with a warning)
_ON_CORTEX_MM = 10.0
#: ... and refused beyond this
_PROJECT_MAX_MM = 20.0


def resolve_target(head, name=None, mni_mm=None, subject_mm=None, max_depth_mm=MAX_DEPTH_MM, geometry=None,
                   mni_warp=None):
    """Locate a target in a head and check it can be stimulated.

    Exactly one of ``name``, ``mni_mm``, ``subject_mm`` (``None`` for all → the default Fox 2012 target).

    Parameters
    ----------
    head : tmsfield.Head
        Needs ``scalp``, ``cortex`` and, for MNI targets, ``mni_transform``.
    name : str, optional
        A name from :func:`available_targets`.
    mni_mm, subject_mm : array_like (3,), optional
        User target in MNI or subject coordinates (mm).
    max_depth_mm : float
        Deepest allowed target below the scalp (mm).
    geometry : ScalpGeometry, optional
        Re-use a prebuilt scalp geometry.
    mni_warp : tmsfield.head.warps.Warp, optional
        Nonlinear MNI ↔ subject warp, used instead of the head's affine ``mni_transform``.

    Returns
    -------
    ResolvedTarget

    Raises
    ------
    TargetError
        Unknown name, target outside the scalp, far from the cortex (> 20 mm from any cortex vertex), or
        deeper than ``max_depth_mm`` below the scalp. A target 10-20 mm from the cortex is moved to the
        nearest cortex vertex, with a warning in ``ResolvedTarget.warnings``.

    Examples
    --------
    >>> import tmsfield
    >>> t = resolve_target(tmsfield.load_head("mni152"))
    >>> t.name
    'fox2012_sgacc'
    """
    from .geometry import ScalpGeometry
    given = [x is not None for x in (name, mni_mm, subject_mm)]
    if sum(given) > 1:
        raise InputError("give only one of a target name, MNI coordinates or subject coordinates")
    if sum(given) == 0:
        name = DEFAULT_TARGET
    mni = None
    if name is not None:
        spec = get_target(name)
        tname, citation, sourcing = spec.name, spec.citation, spec.sourcing
        mni = np.asarray(spec.mni_mm, float)
        subj = _mni_to_subject(head, mni, mni_warp)
    elif mni_mm is not None:
        mni = as_points(mni_mm, "mni_mm").reshape(-1)
        if mni.size != 3:
            raise InputError("mni_mm must be one point (x, y, z) in mm")
        tname, citation, sourcing = "user", "user-given MNI coordinate", "user"
        subj = _mni_to_subject(head, mni, mni_warp)
    else:
        subj = as_points(subject_mm, "subject_mm").reshape(-1)
        if subj.size != 3:
            raise InputError("subject_mm must be one point (x, y, z) in mm")
        tname, citation, sourcing = "user", "user-given subject coordinate", "user"
        tf = getattr(head, "mni_transform", None)
        if mni_warp is not None:
            mni = np.asarray(mni_warp.subject_to_mni(subj.reshape(1, 3))).reshape(3)
        elif tf is not None:
            mni = np.asarray(head.subject_to_mni(subj.reshape(1, 3))).reshape(3)
    geo = geometry or ScalpGeometry(head.scalp, dict(getattr(head, "landmarks", {}) or {}))
    q = geo.closest_points(subj.reshape(1, 3))[0]
    depth = float(np.linalg.norm(q - subj))
    h = float(geo.signed_height(subj.reshape(1, 3))[0])
    label = f"target {tname!r} at subject ({subj[0]:.1f}, {subj[1]:.1f}, {subj[2]:.1f}) mm"
    if h > 0:
        raise TargetError(f"{label} lies outside the scalp ({depth:.1f} mm from it); check the coordinates and "
                          f"their space (MNI vs subject)")
    cortex = getattr(head, "cortex", None)
    if cortex is None:
        raise TargetError(f"head {getattr(head, 'name', '?')!r} has no cortex surface; targeting needs one")
    dist = np.linalg.norm(np.asarray(cortex.vertices) - subj, axis=1)
    cd = float(np.min(dist))
    if cd > _PROJECT_MAX_MM:
        raise TargetError(f"{label} is {cd:.1f} mm from the nearest cortex vertex: it is outside the brain "
                          f"(or in white matter far from the cortex); choose a cortical target")
    warns = []
    if cd > _ON_CORTEX_MM:
        # a group coordinate on another brain (or on the same template's other surface) can miss this
        # head's cortex by some millimetres: use the nearest cortex point, and say so in the output
        near = np.asarray(cortex.vertices)[int(np.argmin(dist))].astype(float)
        warns.append(f"{label} is {cd:.1f} mm from this head's cortex; the nearest cortex point "
                     f"({near[0]:.1f}, {near[1]:.1f}, {near[2]:.1f}) mm is used instead")
        subj = near
        q = geo.closest_points(subj.reshape(1, 3))[0]
        depth = float(np.linalg.norm(q - subj))
    if depth > max_depth_mm:
        raise TargetError(f"{label} is {depth:.1f} mm below the scalp, deeper than a TMS coil can reach "
                          f"(limit {max_depth_mm:g} mm); choose a superficial cortical target")
    if sourcing == "uncertain":
        warns.append(f"target {tname!r}: coordinate marked uncertain in the target table; verify against the "
                     f"cited paper")
    return ResolvedTarget(tname, subj, mni, citation, sourcing, depth, cd, tuple(warns))
