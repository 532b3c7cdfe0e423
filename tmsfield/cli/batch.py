"""``tmsfield batch MANIFEST.csv``: one targeting run per manifest row, resumable, parallel, isolated.

Manifest: CSV with a header. Required columns ``head``, ``target``, ``coil``. ``target`` is a target name,
``mni:X Y Z`` or ``subject:X Y Z`` (spaces or commas), or empty for the default. Optional columns override
the command-line settings per row: ``method``, ``quantity``, ``roi_radius``, ``search_radius``, ``gap``,
``handle_angle``, ``percent_output``, ``requested_field``, ``stimulator``, ``max_didt``, ``model``,
``landmarks``, ``id``, and (clinic workflow) ``motor_threshold`` (RMT, %), ``target_map`` (a map file instead of
``target``), ``map_space``, ``mni_warp``, ``mni_warp_source``. Relative paths are relative to the manifest's folder.

Per row: a result JSON ``<out>/<id>.json`` (atomic). A row whose JSON exists and was made with the same
settings is not recomputed (resume). A failing row (bad head, unreachable target ...) is reported in the
summary with its error and the others finish. The summary CSV ``<out>/summary.csv`` is rewritten atomically
after every finished row.
"""

import csv
import io
import sys

__all__ = ["register", "read_manifest", "ManifestRow"]

REQUIRED = ("head", "target", "coil")
OPTIONAL = {"method": str, "quantity": str, "roi_radius": float, "search_radius": float, "gap": float,
            "handle_angle": float, "percent_output": float, "requested_field": float, "stimulator": str,
            "max_didt": float, "model": str, "landmarks": str, "id": str,
            # issue 15 (clinic workflow): motor-threshold dose, personalised target map, nonlinear MNI warp
            "motor_threshold": float, "target_map": str, "map_space": str, "mni_warp": str, "mni_warp_source": str}
_PATH_COLUMNS = ("landmarks", "target_map", "mni_warp", "mni_warp_source")   # relative to the manifest
_FIELD = {"roi_radius": "roi_radius_mm", "search_radius": "search_radius_mm", "gap": "gap_mm",
          "handle_angle": "handle_angle_deg", "requested_field": "requested_v_per_m",
          "max_didt": "max_didt_a_per_us"}
SUMMARY_COLUMNS = ("id", "status", "head", "target", "coil", "method", "efield_at_target_v_per_m_per_a_per_us",
                   "percent_output_needed", "reachable", "position_x_mm", "position_y_mm", "position_z_mm",
                   "handle_angle_deg", "json", "error")


class ManifestRow:
    """One validated manifest row: its id, line number and :class:`TargetJob`."""

    def __init__(self, row_id, line, job):
        self.id, self.line, self.job = row_id, line, job


def _parse_target(text, where):
    from ..errors import InputError
    t = (text or "").strip()
    if not t:
        return {}
    low = t.lower()
    for prefix, key in (("mni:", "mni"), ("subject:", "subject")):
        if low.startswith(prefix):
            parts = t[len(prefix):].replace(",", " ").split()
            try:
                vals = tuple(float(v) for v in parts)
            except ValueError:
                vals = ()
            if len(vals) != 3:
                raise InputError(f"{where}, column 'target': {t!r} needs three numbers after {prefix!r} "
                                 f"(e.g. 'mni:-38 44 26')")
            return {key: vals}
    return {"target": t}


def _resolve_path(value, base, where, column, must_exist=True):
    from pathlib import Path

    from ..errors import InputError
    p = Path(value)
    if not p.is_absolute():
        p = base / p
    if must_exist and not p.exists():
        raise InputError(f"{where}, column {column!r}: {value!r} does not exist (looked for {p})")
    return str(p)


def read_manifest(path, defaults):
    """Read and validate a manifest up front; every problem names the row (line) and column.

    Parameters
    ----------
    path : str or Path
    defaults : dict
        TargetJob fields from the command line.

    Returns
    -------
    list of ManifestRow

    Raises
    ------
    InputError
        Missing file or columns, duplicate ids, bad values, unknown targets/methods, missing paths.

    Examples
    --------
    >>> read_manifest("missing.csv", {})   # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    tmsfield.errors.InputError: manifest missing.csv does not exist
    """
    from pathlib import Path

    from ..errors import InputError, TmsfieldError
    from ..head.template import TEMPLATES
    from ..targets.run import TargetJob, safe_name
    path = Path(path)
    if not path.is_file():
        raise InputError(f"manifest {path} does not exist")
    base = path.resolve().parent
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"manifest {path}: cannot read it ({exc})") from None
    reader = csv.DictReader(io.StringIO(text))
    cols = [c.strip() for c in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in cols]
    if missing:
        raise InputError(f"manifest {path}: missing column(s) {missing}; the header must include "
                         f"{', '.join(REQUIRED)} (found {cols or 'no header'})")
    unknown = [c for c in cols if c not in REQUIRED and c not in OPTIONAL]
    if unknown:
        raise InputError(f"manifest {path}: unknown column(s) {unknown}; optional columns are {sorted(OPTIONAL)}")
    rows, ids = [], {}
    from ..coils.builtin import available_coils
    for i, raw in enumerate(reader):
        line = i + 2
        where = f"manifest {path}, line {line}"
        rec = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        if not any(rec.values()):
            continue
        kw = dict(defaults)
        head = rec["head"]
        if not head:
            raise InputError(f"{where}, column 'head': empty; give a template name or a head file/folder")
        kw["head"] = head if head.lower() in TEMPLATES else _resolve_path(head, base, where, "head")
        coil = rec["coil"] or "fig8_70mm"
        kw["coil"] = coil if coil in available_coils() else _resolve_path(coil, base, where, "coil")
        kw.update(_parse_target(rec["target"], where))
        for col, typ in OPTIONAL.items():
            val = rec.get(col, "")
            if col == "id" or val == "":
                continue
            if col in _PATH_COLUMNS:
                kw[col] = _resolve_path(val, base, where, col)
                continue
            try:
                kw[_FIELD.get(col, col)] = typ(val)
            except ValueError:
                raise InputError(f"{where}, column {col!r}: {val!r} is not a number") from None
        try:
            job = TargetJob(**kw)
        except TmsfieldError as exc:
            raise InputError(f"{where}: {exc}") from None
        rid = rec.get("id") or f"{i + 1:04d}_{safe_name(Path(head).name.split('.')[0])}_{job.label}_" \
                                 f"{safe_name(Path(coil).name.split('.')[0])}"
        rid = safe_name(rid)
        if rid in ids:
            raise InputError(f"{where}, column 'id': {rid!r} repeats line {ids[rid]}; ids must be unique")
        ids[rid] = line
        rows.append(ManifestRow(rid, line, job))
    if not rows:
        raise InputError(f"manifest {path} has no rows")
    return rows


# ---------------------------------------------------------------------------------------------- execution
_WORKER_CACHE = None


def _worker_cache():
    """One SetupCache per worker process (heads/solvers re-used across its rows)."""
    global _WORKER_CACHE
    if _WORKER_CACHE is None:
        import os
        from ..targets.run import SetupCache
        # many rows per head: precompute per head (fast placement map; LU of the BEM matrix, 4 T^2 bytes)
        # so that each row's solves are cheap. TMSFIELD_BATCH_FAST_MAP=0 / TMSFIELD_BATCH_FACTORIZE=0 turn
        # them off (e.g. one row per head, or too little memory for the LU)
        factorize = os.environ.get("TMSFIELD_BATCH_FACTORIZE", "1") != "0"
        # one factorised head per worker: the template's LU alone is 5.2 GB (4 T^2 bytes, 36k triangles)
        _WORKER_CACHE = SetupCache(max_heads=1 if factorize else 2, factorize=factorize,
                                   fast_placements=os.environ.get("TMSFIELD_BATCH_FAST_MAP", "1") != "0")
    return _WORKER_CACHE


def run_row(job, out_path, fail_flag=None):
    """Run one row and write its JSON; returns a summary dict (never raises for row-level problems)."""
    import time
    import traceback

    from ..errors import TmsfieldError
    from ..targets.results import write_result
    from ..targets.run import run_target
    t0 = time.perf_counter()
    try:
        res = run_target(job, _worker_cache())
        res["settings"]["row_seconds"] = time.perf_counter() - t0
        write_result(out_path, res)
        return {"status": "ok", "result": _short(res), "error": ""}
    except TmsfieldError as exc:
        return {"status": "error", "result": None, "error": f"{type(exc).__name__}: {exc}"}
    except Exception as exc:  # isolate unexpected failures too; keep the traceback's last line
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return {"status": "error", "result": None, "error": f"unexpected {tb}"}


def _short(res):
    return {"efield": res["efield_at_target_v_per_m_per_a_per_us"], "pos": res["position_mm"],
            "angle": res["handle_angle_deg"], "need": res["dose"].get("percent_output_needed"),
            "reachable": res["dose"].get("reachable"), "method": res["method"]}


def _is_done(out_path, job):
    from ..targets.results import read_result
    if not out_path.is_file():
        return None
    try:
        res = read_result(out_path)
    except Exception:
        return None
    if res.get("settings", {}).get("job") != job.settings():
        return None
    return res


def _summary_row(row, status, out_path, short=None, error=""):
    j = row.job
    d = {"id": row.id, "status": status, "head": j.head, "target": j.label, "coil": j.coil, "method": j.method,
         "json": str(out_path) if status in ("ok", "skipped") else "", "error": error}
    if short:
        d.update({"efield_at_target_v_per_m_per_a_per_us": f"{short['efield']:.6g}",
                  "percent_output_needed": "" if short["need"] is None else f"{short['need']:.3f}",
                  "reachable": short["reachable"], "position_x_mm": f"{short['pos'][0]:.3f}",
                  "position_y_mm": f"{short['pos'][1]:.3f}", "position_z_mm": f"{short['pos'][2]:.3f}",
                  "handle_angle_deg": f"{short['angle']:.2f}"})
    return d


def _write_summary(path, rows):
    from ..targets.results import atomic_write_text
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=SUMMARY_COLUMNS, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    atomic_write_text(path, buf.getvalue())


def _run(args):
    from pathlib import Path

    from tqdm import tqdm

    from ..errors import InputError
    from .target import job_from_args
    base = job_from_args(args, head="mni152", coil="fig8_70mm")
    defaults = base.settings()
    for k in ("head", "coil", "target", "mni", "subject"):
        defaults.pop(k, None)
    defaults = {k: (tuple(v) if isinstance(v, list) else v) for k, v in defaults.items()}
    rows = read_manifest(args.manifest, defaults)
    out = Path(args.out) if args.out else Path(args.manifest).resolve().parent / "tmsfield-results"
    out.mkdir(parents=True, exist_ok=True)
    summary_path = out / "summary.csv"
    summary = {}
    todo = []
    for r in rows:
        p = out / f"{r.id}.json"
        done = None if args.force else _is_done(p, r.job)
        if done is not None:
            summary[r.id] = _summary_row(r, "skipped", p, _short(done))
        else:
            todo.append(r)
    order = [r.id for r in rows]

    def flush():
        _write_summary(summary_path, [summary[i] for i in order if i in summary])

    flush()
    n_workers = max(1, int(args.workers))
    limit = args.max_rows if args.max_rows is not None else len(todo)
    todo = todo[:max(0, limit)]
    bar = tqdm(total=len(todo), desc="tmsfield batch", unit="row", disable=args.quiet, file=sys.stderr)
    n_ok = n_err = 0

    def finish(r, out_dict):
        nonlocal n_ok, n_err
        p = out / f"{r.id}.json"
        summary[r.id] = _summary_row(r, out_dict["status"], p, out_dict["result"], out_dict["error"])
        if out_dict["status"] == "ok":
            n_ok += 1
        else:
            n_err += 1
            bar.write(f"row {r.id} (line {r.line}) failed: {out_dict['error']}")
        flush()
        bar.update(1)

    if args.scheduler:
        try:
            from distributed import Client, as_completed
        except ImportError:
            raise InputError("--scheduler needs dask.distributed (pip install 'dask[distributed]')") from None
        with Client(args.scheduler, timeout="20s") as client:
            futs = {client.submit(run_row, r.job, str(out / f"{r.id}.json"), key=f"tmsfield-{r.id}", pure=False): r
                    for r in todo}
            for fut in as_completed(futs):
                r = futs[fut]
                try:
                    res = fut.result()
                except Exception as exc:
                    res = {"status": "error", "result": None, "error": f"worker failure: {exc}"}
                finish(r, res)
    elif n_workers > 1 and len(todo) > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed
        # group rows by head so each worker re-uses its head set-up
        todo.sort(key=lambda r: (r.job.head, r.job.model))
        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx) as ex:
            futs = {ex.submit(run_row, r.job, str(out / f"{r.id}.json")): r for r in todo}
            for fut in as_completed(futs):
                r = futs[fut]
                try:
                    res = fut.result()
                except Exception as exc:
                    res = {"status": "error", "result": None, "error": f"worker failure: {exc}"}
                finish(r, res)
    else:
        for r in todo:
            finish(r, run_row(r.job, str(out / f"{r.id}.json")))
    bar.close()
    skipped = sum(1 for v in summary.values() if v["status"] == "skipped")
    print(f"batch: {n_ok} computed, {skipped} already done (skipped), {n_err} failed; summary {summary_path}")
    for v in summary.values():
        if v["status"] == "error":
            print(f"  FAILED {v['id']}: {v['error']}")
    return 1 if n_err else 0


def register(subparsers):
    """Add the ``batch`` subcommand."""
    from .target import add_job_arguments
    p = subparsers.add_parser(
        "batch", help="run many head/target/coil rows from a CSV manifest (resumable, parallel)",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    p.add_argument("manifest", help="CSV with columns head, target, coil (+ optional per-row settings)")
    p.add_argument("--out", default=None, help="output folder (default: tmsfield-results beside the manifest)")
    p.add_argument("--workers", type=int, default=1, help="parallel worker processes (default 1)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="Dask distributed scheduler address (e.g. tcp://10.0.0.5:8786) to run rows on a cluster")
    p.add_argument("--force", action="store_true", help="recompute rows even if their JSON exists")
    p.add_argument("--max-rows", type=int, default=None, help=__import__("argparse").SUPPRESS)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_job_arguments(p)
    from .target import add_clinic_arguments
    add_clinic_arguments(p, target_map=False)    # target maps per row: the manifest's target_map column
    p.set_defaults(func=_run)
