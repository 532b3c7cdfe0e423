"""The main job: one head, one coil, one target → where to put the coil, how to turn it, what dose.

:func:`run_target` returns a result dict in the ``tmsfield-placement/1`` schema; :class:`SetupCache` keeps
loaded heads, coils and solvers so that many targets on one head do not re-load or re-solve.
"""

import datetime as _dt
import re
from dataclasses import asdict, dataclass, field

import numpy as np

from .local_sphere import LocalSphereModel
from .model_card import describe_model

from .._version import __version__
from ..errors import InputError, TargetError

__all__ = ["TargetJob", "SetupCache", "run_target", "auto_factorize", "METHODS", "MODELS"]

METHODS = ("optimised", "eeg_f3", "beam_f3", "rule_5p5cm")
MODELS = ("bem", "sphere")


def _triple(v, name):
    if v is None:
        return None
    try:
        t = tuple(float(x) for x in v)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be three numbers (x y z in mm); got {v!r}") from None
    if len(t) != 3 or not all(np.isfinite(t)):
        raise InputError(f"{name} must be three finite numbers (x y z in mm); got {v!r}")
    return t


@dataclass(frozen=True)
class TargetJob:
    """All settings of one targeting run (everything that changes the answer).

    Examples
    --------
    >>> TargetJob().label
    'fox2012_sgacc'
    >>> TargetJob(mni=(-40, 40, 30)).label
    'mni_-40_40_30'
    """

    head: str = "mni152_3shell"     # TODO(issue 13): switch to "mni152" when the scalable solver lands
    coil: str = "fig8_70mm"
    target: str = None
    mni: tuple = None
    subject: tuple = None
    method: str = "optimised"
    quantity: str = "magnitude"
    roi_radius_mm: float = 5.0
    search_radius_mm: float = 20.0
    gap_mm: float = 4.0
    handle_angle_deg: float = 45.0
    percent_output: float = None
    requested_v_per_m: float = None
    stimulator: str = None
    max_didt_a_per_us: float = None
    model: str = "bem"
    heuristics: bool = True
    beam_measurements_cm: tuple = None   # (nasion-inion, tragus-tragus, circumference)
    hotspot_mm: tuple = None
    landmarks: str = None                # JSON file {nasion, inion, lpa, rpa} for heads without landmarks
    # --- clinic workflow (issue 15): motor-threshold dose, personalised map target, nonlinear MNI warp
    motor_threshold: float = None        # resting motor threshold, % of maximum output (same coil/stimulator)
    m1_subject: tuple = None             # M1 hotspot in subject mm (default: the table's mayka2006_m1 via MNI)
    target_map: str = None               # NIfTI volume / GIFTI / curv map: personalised target (target_map.py)
    map_space: str = "mni"               # space of a NIfTI target map: "mni" or "subject"
    mni_warp: str = None                 # nonlinear MNI <-> subject warp file (tmsfield.head.warps)
    mni_warp_source: str = None          # FSL warps: the subject T1 the warp was computed from

    def __post_init__(self):
        self._check_clinic()
        object.__setattr__(self, "mni", _triple(self.mni, "mni"))
        object.__setattr__(self, "subject", _triple(self.subject, "subject"))
        object.__setattr__(self, "hotspot_mm", _triple(self.hotspot_mm, "hotspot_mm"))
        if sum(x is not None for x in (self.target, self.mni, self.subject)) > 1:
            raise InputError("give only one of a target name, --mni or --subject")
        if self.method not in METHODS:
            raise InputError(f"method must be one of {METHODS}; got {self.method!r}")
        if self.model not in MODELS:
            raise InputError(f"model must be one of {MODELS}; got {self.model!r}")
        if self.quantity not in ("magnitude", "normal"):
            raise InputError(f"quantity must be 'magnitude' or 'normal'; got {self.quantity!r}")
        if self.target is not None:
            from .table import get_target
            object.__setattr__(self, "target", get_target(self.target).name)
        for k in ("roi_radius_mm", "search_radius_mm", "gap_mm"):
            v = float(getattr(self, k))
            if not np.isfinite(v) or v < 0:
                raise InputError(f"{k} must be >= 0; got {getattr(self, k)!r}")
            object.__setattr__(self, k, v)
        if self.beam_measurements_cm is not None:
            b = tuple(float(x) for x in self.beam_measurements_cm)
            if len(b) != 3:
                raise InputError("beam measurements need nasion-inion, tragus-tragus and circumference (cm)")
            object.__setattr__(self, "beam_measurements_cm", b)

    def _check_clinic(self):
        """Validate the motor-threshold / target-map / warp settings."""
        object.__setattr__(self, "m1_subject", _triple(self.m1_subject, "m1_subject"))
        if self.motor_threshold is not None:
            r = float(self.motor_threshold)
            if not np.isfinite(r) or not 0 < r <= 100:
                raise InputError(f"motor threshold must be in (0, 100] % of maximum stimulator output; got "
                                 f"{self.motor_threshold!r}")
            object.__setattr__(self, "motor_threshold", r)
        if self.target_map is not None and any(x is not None for x in (self.target, self.mni, self.subject)):
            raise InputError("give either a target map (--target-map) or a target (--target/--mni/--subject)")
        if self.map_space not in ("mni", "subject"):
            raise InputError(f"map_space must be 'mni' or 'subject'; got {self.map_space!r}")
        for k in ("target_map", "mni_warp", "mni_warp_source"):
            if getattr(self, k) is not None:
                object.__setattr__(self, k, str(getattr(self, k)))

    @property
    def label(self):
        """File-name-safe target label: the target name, ``mni_x_y_z`` / ``subject_x_y_z`` or ``map_<file>``."""
        if self.target_map is not None:
            from pathlib import Path
            return "map_" + safe_name(Path(self.target_map).name.split(".")[0])
        if self.mni is not None:
            return "mni_" + "_".join(f"{v:g}" for v in self.mni)
        if self.subject is not None:
            return "subject_" + "_".join(f"{v:g}" for v in self.subject)
        from .table import DEFAULT_TARGET
        return self.target or DEFAULT_TARGET

    def settings(self):
        """JSON-able dict of every setting (used to decide whether a stored result is still valid)."""
        d = asdict(self)
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


def _read_landmarks(path):
    import json
    from pathlib import Path
    from ..errors import HeadFileError
    p = Path(path)
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:   # ValueError: bad JSON or not UTF-8
        raise HeadFileError(f"landmarks file {p}: cannot read it as JSON ({exc})") from None
    need = ("nasion", "inion", "lpa", "rpa")
    if not isinstance(d, dict) or any(k not in d for k in need):
        raise HeadFileError(f"landmarks file {p} must hold a JSON object with {need} -> [x, y, z] in mm")
    out = {}
    for k in need:
        v = d[k]
        try:
            if not (isinstance(v, list) and len(v) == 3 and not any(isinstance(x, bool) for x in v)):
                raise TypeError
            out[k] = np.array([float(x) for x in v])           # OverflowError: an integer beyond float range
        except (TypeError, ValueError, OverflowError):
            out[k] = np.full(3, np.nan)
        if not np.all(np.isfinite(out[k])):
            raise HeadFileError(f"landmarks file {p}: {k!r} must be three finite numbers [x, y, z] in mm; got "
                                f"{json.dumps(v)[:80]}")
    return out


class SetupCache:
    """Per-process cache of heads, coils (and their dipole equivalents) and solvers, keyed by source.

    Parameters
    ----------
    max_heads : int
        Heads (and their solvers) kept; the oldest is dropped beyond this.
    fast_placements : bool
        Build BEM solvers with the fast per-placement map (:mod:`tmsfield.solver.fast_placement`).
    factorize : bool, "lazy" or "auto"
        Build BEM solvers with a dense LU factorisation (``EFieldSolver(factorize=...)``): each later
        solve of that head (the reciprocal fields of a row, its verification solves) takes seconds.
        "auto" (:func:`auto_factorize`): when the LU fits in memory. Measured on the 36k-triangle
        template (2026-11-28, 2 cores): the default run took 4 min 05 s with the LU (158 s of it the
        LU) against 8 min 56 s with GMRES per solve.
    cache : tmsfield.cache.SetupStore, True, str or None
        On-disk set-up cache passed to every BEM solver (``EFieldSolver(cache=...)``): the LU, the
        near-field operators and the fast map of a head are built once and read back by later
        processes. None (default here): nothing on disk; the command line passes the default store.

    Examples
    --------
    >>> cache = SetupCache()
    >>> cache.coil("fig8_70mm").name      # doctest: +SKIP
    'fig8_70mm'
    """

    def __init__(self, max_heads=2, fast_placements=False, factorize="auto", cache=None):
        from ..cache import as_store
        self.store = as_store(cache)
        self._heads, self._coils, self._dip, self._solvers, self._geo = {}, {}, {}, {}, {}
        self._warps = {}
        self.max_heads = int(max_heads)
        # the BEM solver's precomputed fast per-placement map costs many full solves to build: worth it for
        # batches with many targets per head, not for a single run
        self.fast_placements = bool(fast_placements)
        # dense float32 LU of the BEM matrix (EFieldSolver(factorize=...)): 4 T^2 bytes per head and a few
        # minutes once, then each solve is seconds instead of a GMRES run: worth it for many rows per head
        if factorize not in (False, True, "lazy", "auto"):
            raise InputError(f"factorize must be False, True, 'lazy' or 'auto'; got {factorize!r}")
        self.factorize = factorize

    def head(self, source, landmarks=None):
        key = source if landmarks is None else (source, str(landmarks))
        if key not in self._heads:
            from ..head import load_head
            if len(self._heads) >= self.max_heads:  # keep memory bounded: drop the oldest head and its solver
                old = next(iter(self._heads))
                self._heads.pop(old)
                for k in [k for k in self._solvers if k[0] == old]:
                    self._solvers.pop(k)
                self._geo.pop(old, None)
            lm = None
            if landmarks is not None:
                lm = _read_landmarks(landmarks)
            from .. import _progress
            with _progress.step(f"loading and checking the head {source}"):
                self._heads[key] = load_head(source, landmarks=lm) if lm is not None else load_head(source)
        return self._heads[key]

    def geometry(self, source, landmarks=None):
        key = source if landmarks is None else (source, str(landmarks))
        if key not in self._geo:
            from .geometry import ScalpGeometry
            h = self.head(source, landmarks)
            self._geo[key] = ScalpGeometry(h.scalp, dict(h.landmarks or {}))
        return self._geo[key]

    def warp(self, job):
        """The job's nonlinear MNI warp (:func:`tmsfield.head.warps.load_warp`), or None."""
        if job.mni_warp is None:
            return None
        key = (job.mni_warp, job.mni_warp_source)
        if key not in self._warps:
            from ..head.warps import load_warp
            self._warps[key] = load_warp(job.mni_warp, source=job.mni_warp_source)
        return self._warps[key]

    def coil(self, source):
        if source not in self._coils:
            from ..coils import load_coil
            self._coils[source] = load_coil(source)
        return self._coils[source]

    def dipole_coil(self, source):
        if source not in self._dip:
            c = self.coil(source)
            if c.n_dipoles and not c.n_segments:
                self._dip[source] = c
            else:
                from ..coils import dipole_equivalent
                self._dip[source] = dipole_equivalent(c)
        return self._dip[source]

    def solver(self, source, kind="bem", near_point=None, landmarks=None):
        hk = source if landmarks is None else (source, str(landmarks))
        key = (hk, kind) if kind == "bem" else (hk, kind, tuple(np.round(near_point, 0)))
        if key not in self._solvers:
            head = self.head(source, landmarks)
            if kind == "bem":
                from ..solver.bem import EFieldSolver
                fac = self.factorize
                if fac == "auto":
                    fac = auto_factorize(sum(b.n_triangles for b in head.boundaries))
                self._solvers[key] = EFieldSolver(head, fast_placements=self.fast_placements, factorize=fac,
                                                  cache=self.store)
            else:
                self._solvers[key] = LocalSphereModel(head, np.asarray(near_point, float))
        return self._solvers[key]


def auto_factorize(n_triangles, max_bytes=6e9):
    """True when a dense float32 LU of a BEM matrix with ``n_triangles`` (4 T² bytes) fits in
    ``max_bytes`` and in half the memory the system reports available (Linux ``MemAvailable``).

    Examples
    --------
    >>> auto_factorize(1000)
    True
    >>> auto_factorize(60000)        # 14.4 GB
    False
    """
    need = 4.0 * float(n_triangles) ** 2
    if need > max_bytes:
        return False
    try:
        with open("/proc/meminfo") as f:
            avail = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError):
        return True
    return need <= 0.5 * avail


def _peak(model, coil, dip, head, pose):
    if hasattr(model, "efield_on_cortex"):  # fast map when built, else one full solve
        e = np.asarray(model.efield_on_cortex(coil, pose, 1.0))
    else:
        e = np.asarray(model.efield(dip, head.cortex.vertices, pose, 1.0))
    mag = np.linalg.norm(e, axis=1)
    mag = mag[np.isfinite(mag)]
    return float(np.percentile(mag, 99.9)) if mag.size else None


def run_target(job, cache=None):
    """Run one targeting job and return the result dict (schema ``tmsfield-placement/1``).

    Parameters
    ----------
    job : TargetJob
    cache : SetupCache, optional
        Re-use loaded heads/coils/solvers between calls.

    Returns
    -------
    dict

    Raises
    ------
    TmsfieldError
        Bad head/coil/target (clear message). A requested field that cannot be reached is *not* an error:
        it appears in ``dose.warnings`` with ``dose.reachable = False``.

    Examples
    --------
    >>> res = run_target(TargetJob())      # doctest: +SKIP
    >>> res["method"]                      # doctest: +SKIP
    'optimised'
    """
    from .dose import dose_report
    from .heuristics import beam_f3_position, eeg_f3_position, rule_5p5cm_position
    from .placement import coil_pose
    from .search import evaluate_quantity, search_placement

    import time
    t_start = time.perf_counter()
    cache = cache or SetupCache()
    head = cache.head(job.head, job.landmarks)
    coil = cache.coil(job.coil)
    dip = cache.dipole_coil(job.coil)
    geo = cache.geometry(job.head, job.landmarks)
    tgt, cluster, roi = job_target(job, cache, head, geo)
    t_setup = time.perf_counter()
    model = cache.solver(job.head, job.model, near_point=tgt.subject_mm, landmarks=job.landmarks)
    t_solver = time.perf_counter()
    eval_coil = coil if job.model == "bem" else dip
    warnings = list(tgt.warnings)

    heur = {}
    if job.heuristics or job.method != "optimised":
        makers = {
            "eeg_f3": lambda: (eeg_f3_position(head), {}),
            "beam_f3": lambda: beam_f3_position(head, *(job.beam_measurements_cm or (None,) * 3), geometry=geo),
            "rule_5p5cm": lambda: rule_5p5cm_position(head, job.hotspot_mm, geometry=geo),
        }
        for name, make in makers.items():
            if not job.heuristics and name != job.method:
                continue
            try:
                pos, info = make()
                pl = coil_pose(geo, coil, pos, handle_angle_deg=job.handle_angle_deg, gap_mm=job.gap_mm,
                               on_scalp=True)
                from .. import _progress
                with _progress.step(f"field of the {name} placement"):
                    val, _ = evaluate_quantity(model, eval_coil, roi, pl.pose, job.quantity,
                                               method="direct" if name == job.method else "fast")
                if not np.isfinite(val):
                    raise TargetError(f"the field of the {name} placement at the target is not finite (the "
                                      f"target ROI lies outside the model there); try --model bem")
                heur[name] = {"position_mm": pl.position_mm.tolist(), "scalp_point_mm": pl.scalp_point_mm.tolist(),
                              "pose": pl.pose.tolist(), "handle_angle_deg": pl.handle_angle_deg,
                              "lift_mm": pl.lift_mm, "efield_at_target_v_per_m_per_a_per_us": val,
                              "distance_to_target_scalp_point_mm":
                                  float(np.linalg.norm(pl.scalp_point_mm - geo.closest_points(tgt.subject_mm[None])[0])),
                              "info": info}
            except Exception as exc:  # a heuristic that cannot be laid out is reported, not fatal
                if job.method == name:
                    raise
                heur[name] = {"error": f"{type(exc).__name__}: {exc}"}

    t_heur = time.perf_counter()
    search_info = None
    if job.method == "optimised":
        res = search_placement(model, head, coil if job.model == "bem" else dip, tgt.subject_mm,
                               quantity=job.quantity, roi_radius_mm=job.roi_radius_mm,
                               search_radius_mm=job.search_radius_mm, gap_mm=job.gap_mm, geometry=geo, roi=roi,
                               dipole_coil=dip)
        pose, value = res.pose, res.value
        scalp_point, angle, lift = res.scalp_point_mm, res.handle_angle_deg, res.lift_mm
        # diagnostics use NaN for "not measured" (e.g. no finite probe value): stored as null, while a
        # NaN anywhere else in the result is refused by write_result
        search_info = _not_measured_to_none(
            {"ranked": res.ranked[:10], "interpolation_rel_error": res.interpolation_rel_error,
             "ranking_rel_error": res.ranking_rel_error,
             "n_placements": res.n_placements, "timings_s": res.timings_s, **res.settings})
        if res.lift_mm > 0:
            warnings.append(f"coil raised {res.lift_mm:.1f} mm above the gap so its casing clears the scalp")
    else:
        h = heur[job.method]
        pose, value = np.asarray(h["pose"]), h["efield_at_target_v_per_m_per_a_per_us"]
        scalp_point, angle, lift = np.asarray(h["scalp_point_mm"]), h["handle_angle_deg"], h["lift_mm"]
    t_search = time.perf_counter()
    if not np.isfinite(value):
        raise TargetError(f"the field at the target is not finite for the {job.method} placement (the target ROI "
                          f"lies outside the {job.model} model); try --model bem or another target")
    peak = _peak(model, coil if job.model == "bem" else dip, dip, head, pose)
    t_end = time.perf_counter()
    stim, dose = dose_report(value, coil=coil, stimulator=job.stimulator, max_didt_a_per_us=job.max_didt_a_per_us,
                             percent_output=job.percent_output, requested_v_per_m=job.requested_v_per_m)
    dose["warnings"] = warnings + dose["warnings"]
    if job.motor_threshold is not None:
        from .motor import motor_threshold_block
        mt = motor_threshold_block(job, cache, head, coil, dip, geo, tgt, value, stim["max_didt_a_per_us"])
        dose["motor_threshold"] = mt
        dose["warnings"] += [f"motor threshold: {w}" for w in mt["warnings"]]
    t_mt = time.perf_counter()
    settings = {"job": job.settings(), "handle_angle_convention":
                "degrees from the posterior midline direction in the coil's tangent plane, positive laterally "
                "(away from the midline); 45 = handle back and 45 deg lateral",
                "gap_mm": job.gap_mm, "lift_mm": lift, "model": job.model,
                "conductivities": getattr(model, "conductivities", None) if job.model == "bem" else None}
    if search_info is not None:
        settings["search"] = search_info
    # wall times (s) of this run's stages; "solver" is ~0 when the cache already held the head's solver
    settings["timings_s"] = {"load": t_setup - t_start, "solver": t_solver - t_setup,
                             "heuristics": t_heur - t_solver, "search": t_search - t_heur, "peak": t_end - t_search,
                             "motor_threshold": t_mt - t_end, "total": t_mt - t_start}
    if job.model == "bem":
        settings["solver"] = {"factorized": bool(getattr(model, "factorized", False)),
                              "factorize_seconds": getattr(model, "factorize_seconds", None),
                              "fast_map": getattr(model, "fast_map", None) is not None}
    return {
        "schema": "tmsfield-placement/1", "tmsfield_version": __version__,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "head": {"name": getattr(head, "name", str(job.head)), "source": str(job.head),
                 "n_cortex_vertices": int(head.cortex.n_vertices if hasattr(head.cortex, "n_vertices")
                                          else len(head.cortex.vertices))},
        "coil": {"name": coil.name, "source": str(job.coil)},
        "stimulator": stim,
        "target": _target_block(tgt, job, cluster, cache.warp(job)),
        "method": job.method,
        "pose": np.asarray(pose).tolist(),
        "position_mm": np.asarray(pose)[:3, 3].tolist(),
        "scalp_point_mm": np.asarray(scalp_point).tolist(),
        "handle_angle_deg": float(angle),
        "gap_mm": float(job.gap_mm),
        "efield_at_target_v_per_m_per_a_per_us": float(value),
        "peak_efield_v_per_m_per_a_per_us": peak,
        "dose": dose,
        "model": describe_model(head, job.model, model),
        "settings": settings,
        "heuristics": heur,
    }


def job_target(job, cache, head, geo):
    """The job's target, map cluster (None without ``target_map``) and ROI, through its MNI warp if any.

    One rule for the search (:func:`run_target`) and a given pose (:func:`tmsfield.targets.manual.run_pose`).

    Examples
    --------
    >>> job_target  # doctest: +ELLIPSIS
    <function job_target at ...>
    """
    from .search import target_roi
    from .table import resolve_target
    warp = cache.warp(job)
    if job.target_map is not None:
        return _map_target(job, head, geo, warp)
    tgt = resolve_target(head, name=job.target, mni_mm=job.mni, subject_mm=job.subject, geometry=geo, mni_warp=warp)
    return tgt, None, target_roi(head.cortex, tgt.subject_mm, job.roi_radius_mm)


def _map_target(job, head, geo, warp):
    """Target, cluster and weighted ROI of a target map (rule: :mod:`tmsfield.targets.target_map`)."""
    from dataclasses import replace
    from pathlib import Path

    from .table import resolve_target
    from .target_map import map_cluster, map_roi, sample_target_map
    vals = sample_target_map(job.target_map, head, job.map_space, warp)
    cluster = map_cluster(head.cortex, vals, geo)
    tgt = resolve_target(head, subject_mm=cluster.target_mm, geometry=geo, mni_warp=warp)
    tgt = replace(tgt, name=f"map:{Path(job.target_map).name}",
                  citation=f"user target map {job.target_map} ({job.map_space} space)")
    return tgt, cluster, map_roi(head.cortex, cluster)


def _target_block(tgt, job, cluster, warp):
    d = tgt.as_dict(job.roi_radius_mm, job.quantity)
    if cluster is not None:
        d["map"] = cluster.as_dict(job.target_map, job.map_space)
        d["roi_radius_mm"] = float(max(0.0, job.roi_radius_mm))
    if warp is not None:
        d["mni_warp"] = {"file": warp.source, "kind": warp.kind, "direction": warp.direction}
    return d


def _not_measured_to_none(x):
    """Nested copy of a diagnostics dict with NaN/inf floats (meaning "not measured") as None."""
    if isinstance(x, dict):
        return {k: _not_measured_to_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_not_measured_to_none(v) for v in x]
    if isinstance(x, (float, np.floating)) and not np.isfinite(x):
        return None
    return x


def safe_name(text):
    """File-name-safe version of ``text``."""
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", str(text)).strip("_") or "x"
