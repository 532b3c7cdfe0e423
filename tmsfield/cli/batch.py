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
after every finished row (one line per row id, in manifest order).

Several runs may share one output folder (e.g. one per machine or a re-run while the first still runs):
before a row is computed it is claimed with a lock file ``<out>/<id>.lock`` (pid and host of its owner,
created exclusively); rows claimed by another live run are left to it, and the claim of a run that was
killed is taken over. A killed run is resumed by running the same command again. A read-only output
folder or a full disk stops the batch with the fix; rows already written stay intact.
"""

import csv
import io
import math
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


def _check_id(rid, where):
    """Refuse a manifest id that names a path: the id becomes ``<out>/<id>.json`` and must stay in <out>."""
    from ..errors import InputError
    bad = None
    if "/" in rid or "\\" in rid:
        bad = "contains a path separator"
    elif rid.startswith("~") or (len(rid) > 1 and rid[1] == ":"):
        bad = "looks like an absolute path"
    elif rid.startswith("."):
        bad = "starts with '.' (hidden files and '..' are not allowed)"
    elif any(ord(c) < 32 for c in rid):
        bad = "contains a control character"
    if bad:
        raise InputError(f"{where}, column 'id': {rid!r} {bad}; an id names the row's file <out>/<id>.json inside "
                         f"the output folder, so use letters, digits, '_', '-', '.' and '+' only (e.g. 'sub01_f3')")


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
    try:
        records = list(reader)       # csv.Error: a field over the csv module's size limit, a NUL ...
    except csv.Error as exc:
        raise InputError(f"manifest {path}, line {reader.line_num}: not a readable CSV row ({exc})") from None
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
    for i, raw in enumerate(records):
        line = i + 2
        where = f"manifest {path}, line {line}"
        rec = {k.strip(): (v or "").strip() if isinstance(v, str) else "" for k, v in raw.items() if k is not None}
        if not any(rec.values()):
            continue
        for col, val in rec.items():
            if "\x00" in val:
                raise InputError(f"{where}, column {col!r}: contains a NUL character; remove it")
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
            if typ is float and not math.isfinite(kw[_FIELD.get(col, col)]):
                raise InputError(f"{where}, column {col!r}: {val!r} is not a finite number")
        try:
            job = TargetJob(**kw)
        except TmsfieldError as exc:
            raise InputError(f"{where}: {exc}") from None
        if rec.get("id"):
            _check_id(rec["id"], where)
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
        # the head's set-up is read from / written to the on-disk set-up cache (tmsfield.cache), shared by
        # the workers and later runs; --no-cache (TMSFIELD_BATCH_CACHE=0) keeps it in memory only
        _WORKER_CACHE = SetupCache(max_heads=1 if factorize else 2, factorize=factorize,
                                   fast_placements=os.environ.get("TMSFIELD_BATCH_FAST_MAP", "1") != "0",
                                   cache=os.environ.get("TMSFIELD_BATCH_CACHE", "1") != "0")
    return _WORKER_CACHE


def run_row(job, out_path, fail_flag=None):
    """Run one row and write its JSON; returns a summary dict (never raises for row-level problems).

    An :class:`~tmsfield.errors.OutputError` (read-only folder, full disk) is raised, not reported as the
    row's failure: every later row would fail the same way, so the batch stops with the fix.
    """
    import time
    import traceback

    from ..errors import OutputError, TmsfieldError
    from ..targets.results import write_result
    from ..targets.run import run_target
    t0 = time.perf_counter()
    try:
        res = run_target(job, _worker_cache())
        res["settings"]["row_seconds"] = time.perf_counter() - t0
        write_result(out_path, res)
        return {"status": "ok", "result": _short(res), "error": ""}
    except OutputError:
        raise
    except TmsfieldError as exc:
        return {"status": "error", "result": None, "error": f"{type(exc).__name__}: {exc}"}
    except Exception as exc:  # isolate unexpected failures too; keep the traceback's last line
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return {"status": "error", "result": None, "error": f"unexpected {tb}"}


def _short(res):
    return {"efield": res["efield_at_target_v_per_m_per_a_per_us"], "pos": res["position_mm"],
            "angle": res["handle_angle_deg"], "need": res["dose"].get("percent_output_needed"),
            "reachable": res["dose"].get("reachable"), "method": res["method"]}


def _is_done(out_path, job, newer_than=None):
    """The stored result of a row when it is valid for ``job`` (and, with ``newer_than``, written after
    that time, i.e. by a run that started after it), else None."""
    from ..targets.results import read_result
    if not out_path.is_file():
        return None
    try:
        if newer_than is not None and out_path.stat().st_mtime < newer_than:
            return None
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
        from .._outputs import require_finite
        require_finite({k: short[k] for k in ("efield", "pos", "angle", "need")}, f"row {row.id}:",
                       out_path.parent / "summary.csv")
        d.update({"efield_at_target_v_per_m_per_a_per_us": f"{short['efield']:.6g}",
                  "percent_output_needed": "" if short["need"] is None else f"{short['need']:.3f}",
                  "reachable": short["reachable"], "position_x_mm": f"{short['pos'][0]:.3f}",
                  "position_y_mm": f"{short['pos'][1]:.3f}", "position_z_mm": f"{short['pos'][2]:.3f}",
                  "handle_angle_deg": f"{short['angle']:.2f}"})
    return d


def _read_summary(path):
    """The rows of an existing summary CSV by id ({} when absent or unreadable)."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError):
        return {}
    try:
        return {r["id"]: {c: r.get(c) or "" for c in SUMMARY_COLUMNS}
                for r in csv.DictReader(io.StringIO(text)) if r.get("id")}
    except csv.Error:
        return {}


def _write_summary(path, rows):
    from ..targets.results import atomic_write_text
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=SUMMARY_COLUMNS, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    atomic_write_text(path, buf.getvalue())


def _update_summary(path, order, records):
    """Merge ``records`` (id -> summary row) into ``path`` under an exclusive lock of its folder.

    Several runs on one output folder each update only the rows they settled; rows settled by another
    run stay as that run wrote them. The file is rewritten atomically in manifest order (each id once);
    rows of ids no longer in the manifest are dropped.
    """
    from .._lockfile import folder_lock
    with folder_lock(path.parent):
        current = _read_summary(path)
        current.update(records)
        _write_summary(path, [current[i] for i in order if i in current])


def _run(args):
    import os

    from .. import _progress
    if getattr(args, "no_cache", False):
        os.environ["TMSFIELD_BATCH_CACHE"] = "0"         # read by every worker's SetupCache
    # set-up steps as lines above the per-row bar (tqdm.write), never a second bar
    with _progress.reporting(quiet=args.quiet, prefix="tmsfield batch", tty=False):
        return _run_batch(args)


def _run_batch(args):
    import time
    from pathlib import Path

    from tqdm import tqdm

    from .._atomic import remove_stale_temporaries
    from .._lockfile import Claim, describe_owner, try_claim
    from .._outputs import output_folder
    from ..errors import InputError, OutputError
    from .target import job_from_args
    t_start = time.time()
    # TODO(issue 13): switch to "mni152" when the scalable solver lands
    base = job_from_args(args, head="mni152_3shell", coil="fig8_70mm")
    defaults = base.settings()
    for k in ("head", "coil", "target", "mni", "subject"):
        defaults.pop(k, None)
    defaults = {k: (tuple(v) if isinstance(v, list) else v) for k, v in defaults.items()}
    rows = read_manifest(args.manifest, defaults)
    # the output folder is checked (created, written to) before any work
    out = output_folder(args.out if args.out else Path(args.manifest).resolve().parent / "tmsfield-results",
                        option="--out", create_parents=not args.out)
    remove_stale_temporaries(out)          # debris of runs killed by SIGKILL
    summary_path = out / "summary.csv"
    order = [r.id for r in rows]
    settled = {}                           # id -> summary row settled by this run
    todo = []
    for r in rows:
        p = out / f"{r.id}.json"
        if p.parent != out:                # ids are checked in read_manifest; never write outside <out>
            raise InputError(f"manifest line {r.line}: id {r.id!r} leaves the output folder")
        done = None if args.force else _is_done(p, r.job)
        if done is not None:
            settled[r.id] = _summary_row(r, "skipped", p, _short(done))
            if (out / f"{r.id}.lock").exists():    # a run killed after writing the row: drop its stale claim
                c = try_claim(out / f"{r.id}.lock")
                if isinstance(c, Claim):
                    c.release()
        else:
            todo.append(r)
    _update_summary(summary_path, order, settled)
    n_workers = max(1, int(args.workers))
    limit = args.max_rows if args.max_rows is not None else len(todo)
    bar = tqdm(total=min(len(todo), max(0, limit)), desc="tmsfield batch", unit="row", disable=args.quiet,
               file=sys.stderr)
    counts = {"ok": 0, "error": 0, "started": 0}
    elsewhere = {}                         # id -> who holds it
    claims = {}                            # id -> Claim held by this run

    def claim(r):
        """Claim a row before computing it; None when it is not ours to compute (anymore)."""
        p = out / f"{r.id}.json"
        c = try_claim(out / f"{r.id}.lock")
        if not isinstance(c, Claim):
            elsewhere[r.id] = describe_owner(c, out / f"{r.id}.lock")
            return None
        if c.took_over is not None:
            bar.write(f"row {r.id}: took over the claim of a run that is gone (pid {c.took_over.get('pid')})")
        # another run may have finished the row since the first check (it releases its claim only then)
        done = _is_done(p, r.job, newer_than=t_start if args.force else None)
        if done is not None:
            c.release()
            settled[r.id] = _summary_row(r, "skipped", p, _short(done))
            _update_summary(summary_path, order, {r.id: settled[r.id]})
            return None
        claims[r.id] = c
        counts["started"] += 1
        return c

    def finish(r, out_dict):
        p = out / f"{r.id}.json"
        settled[r.id] = _summary_row(r, out_dict["status"], p, out_dict["result"], out_dict["error"])
        counts["ok" if out_dict["status"] == "ok" else "error"] += 1
        if out_dict["status"] != "ok":
            bar.write(f"row {r.id} (line {r.line}) failed: {out_dict['error']}")
        _update_summary(summary_path, order, {r.id: settled[r.id]})
        claims.pop(r.id).release()         # only once the JSON and the summary row are on disk
        bar.update(1)

    def next_rows():
        for r in todo:
            if counts["started"] >= limit:
                return
            if claim(r) is not None:
                yield r

    try:
        if args.scheduler:
            try:
                from distributed import Client, wait
            except ImportError:
                raise InputError("--scheduler needs dask.distributed (pip install 'dask[distributed]')") from None
            with Client(args.scheduler, timeout="20s") as client:
                slots = max(n_workers, sum(client.nthreads().values()) or 1)
                _pump(lambda r: client.submit(run_row, r.job, str(out / f"{r.id}.json"), key=f"tmsfield-{r.id}",
                                              pure=False),
                      lambda futs: wait(futs, return_when="FIRST_COMPLETED").done, next_rows(), slots, finish)
        elif n_workers > 1 and len(todo) > 1:
            import multiprocessing as mp
            from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
            # group rows by head so each worker re-uses its head set-up
            todo.sort(key=lambda r: (r.job.head, r.job.model))
            ctx = mp.get_context("spawn")
            with ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx) as ex:
                try:
                    _pump(lambda r: ex.submit(run_row, r.job, str(out / f"{r.id}.json")),
                          lambda futs: wait(futs, return_when=FIRST_COMPLETED).done, next_rows(), n_workers, finish)
                except BaseException:
                    ex.shutdown(wait=True, cancel_futures=True)
                    raise
        else:
            for r in next_rows():
                finish(r, run_row(r.job, str(out / f"{r.id}.json")))
    except OutputError as exc:
        bar.close()
        raise OutputError(f"{exc} (batch stopped; rows finished so far are in {summary_path}; "
                          f"re-run the same command after the fix to do the rest)") from None
    finally:
        for c in list(claims.values()):
            c.release()
        claims.clear()
    bar.close()
    skipped = sum(1 for v in settled.values() if v["status"] == "skipped")
    line = (f"batch: {counts['ok']} computed, {skipped} already done (skipped), {counts['error']} failed; "
            f"summary {summary_path}")
    if elsewhere:
        line += f"; {len(elsewhere)} claimed by another run (left to it)"
    print(line)
    for v in settled.values():
        if v["status"] == "error":
            print(f"  FAILED {v['id']}: {v['error']}")
    for rid, who in elsewhere.items():
        print(f"  CLAIMED {rid}: {who}")
    return 1 if counts["error"] else 0


def _pump(submit, wait_any, rows, slots, finish):
    """Keep ``slots`` rows in flight: claim and submit the next row whenever one finishes."""
    inflight = {}

    def top_up():
        while len(inflight) < slots:
            r = next(rows, None)
            if r is None:
                return
            inflight[submit(r)] = r

    top_up()
    while inflight:
        for fut in wait_any(list(inflight)):
            r = inflight.pop(fut)
            try:
                res = fut.result()
            except Exception as exc:
                from ..errors import OutputError
                if isinstance(exc, OutputError):
                    raise
                res = {"status": "error", "result": None, "error": f"worker failure: {exc}"}
            finish(r, res)
        top_up()


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
    p.add_argument("--quiet", action="store_true", help="no progress bar or progress lines")
    p.add_argument("--no-cache", action="store_true",
                   help="do not read or write the on-disk set-up cache (see `tmsfield cache list`)")
    add_job_arguments(p)
    from .target import add_clinic_arguments
    add_clinic_arguments(p, target_map=False)    # target maps per row: the manifest's target_map column
    p.set_defaults(func=_run)
