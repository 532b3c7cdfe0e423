"""Progress of long steps on stderr: a tqdm bar on a terminal, one line per step otherwise.

Library code marks its long steps with :func:`step` (and :func:`note` for one-off messages); they
print nothing unless a command turned reporting on with :func:`reporting` — the command line does,
``--quiet`` does not, and the Python API stays silent unless asked::

    with reporting(prefix="tmsfield target"):
        run_target(job)

On a terminal each step shows a tqdm bar (elapsed time, and how far when the step knows its total);
when stderr is not a terminal (CI, batch logs) each step that took at least ``log_below`` seconds
writes one line when it ends: ``tmsfield target: near-field corrections ...: 12.8 s``. Lines go
through ``tqdm.write`` so they do not break a bar that is showing (the batch's per-row bar).
The state is a :mod:`contextvars` variable, so threads and concurrent runs do not share it.
"""

import contextvars
import math
import sys
import threading
import time
from contextlib import contextmanager

__all__ = ["reporting", "step", "note", "enabled", "gmres_callback"]

_REPORTER = contextvars.ContextVar("tmsfield_progress", default=None)


class _Reporter:
    def __init__(self, stream, prefix, tty, min_seconds):
        self.stream, self.prefix, self.tty, self.min_seconds = stream, prefix, tty, min_seconds
        self.depth = 0

    def line(self, text):
        from tqdm import tqdm
        tqdm.write(f"{self.prefix}: {text}" if self.prefix else text, file=self.stream)
        try:
            self.stream.flush()
        except (AttributeError, OSError):
            pass


def enabled():
    """Whether progress is being reported (inside :func:`reporting`, not quiet).

    Examples
    --------
    >>> enabled()
    False
    """
    return _REPORTER.get() is not None


@contextmanager
def reporting(quiet=False, stream=None, prefix="tmsfield", tty=None, min_seconds=None):
    """Report the progress of the steps run inside the ``with`` block.

    Parameters
    ----------
    quiet : bool
        Report nothing (``--quiet``).
    stream : file, optional
        Default ``sys.stderr``.
    prefix : str
        Start of every line (e.g. ``"tmsfield target"``).
    tty : bool, optional
        Bars (True) or one line per step (False); default: whether ``stream`` is a terminal.
    min_seconds : float, optional
        In line mode, steps shorter than this (s) write nothing; default ``$TMSFIELD_PROGRESS_MIN_S``, else 1.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> with reporting(stream=out, prefix="demo", min_seconds=0):
    ...     with step("counting"):
    ...         pass
    >>> out.getvalue().startswith("demo: counting: ")
    True
    """
    if min_seconds is None:
        import os
        min_seconds = float(os.environ.get("TMSFIELD_PROGRESS_MIN_S", "1.0"))
    if quiet:
        token = _REPORTER.set(None)
    else:
        stream = sys.stderr if stream is None else stream
        if tty is None:
            try:
                tty = bool(stream.isatty())
            except (AttributeError, ValueError):
                tty = False
        token = _REPORTER.set(_Reporter(stream, prefix, tty, float(min_seconds)))
    try:
        yield
    finally:
        _REPORTER.reset(token)


def note(text):
    """One line of progress (e.g. "waiting for another process ..."); nothing when not reporting."""
    rep = _REPORTER.get()
    if rep is not None:
        rep.line(text)


class _Step:
    """Handle of a running step: :meth:`update` advances it, :meth:`postfix` shows a short status."""

    def __init__(self, rep, desc, total, unit):
        self.rep, self.desc, self.total, self.n, self.info = rep, desc, total, 0, ""
        self.t0 = time.perf_counter()
        self.bar = None
        self._stop = None
        if rep is not None and rep.tty:
            from tqdm import tqdm
            self.bar = tqdm(total=total, desc=f"{rep.prefix}: {desc}" if rep.prefix else desc, unit=unit,
                            file=rep.stream, leave=True, position=rep.depth, dynamic_ncols=True,
                            bar_format=None if total else "{desc}: {elapsed}{postfix}")
            if not total:                  # no updates to come (one BLAS call): keep the clock ticking
                self._stop = threading.Event()
                threading.Thread(target=self._tick, daemon=True).start()

    def _tick(self):
        while not self._stop.wait(0.5):
            try:
                self.bar.refresh()
            except Exception:              # pragma: no cover - a closed stream
                return

    def update(self, n=1):
        self.n += n
        if self.bar is not None:
            self.bar.update(n)

    def postfix(self, text):
        self.info = str(text)
        if self.bar is not None:
            self.bar.set_postfix_str(self.info, refresh=True)

    def close(self, log_below, failed=False):  # noqa: D401
        dt = time.perf_counter() - self.t0
        if self._stop is not None:
            self._stop.set()
        if self.bar is not None:
            self.bar.close()
        elif self.rep is not None and (dt >= (log_below if self.rep.min_seconds > 0 else 0) and dt >= self.rep.min_seconds or failed):
            how = f" ({self.n}/{self.total})" if self.total else ""
            extra = f", {self.info}" if self.info else ""
            self.rep.line(f"{self.desc}{how}: {dt:.1f} s{extra}{' (failed)' if failed else ''}")


@contextmanager
def step(desc, total=None, unit="it", log_below=1.0):
    """A long step, reported while it runs (see the module docstring); yields a handle with
    ``update(n)`` and ``postfix(text)``.

    Parameters
    ----------
    desc : str
        What the step does ("dense LU of the BEM matrix (15,520 triangles)").
    total : int, optional
        Number of units the step will do (a bar with "how far"); None: elapsed time only.
    log_below : float
        In line mode, steps shorter than this (s) write nothing.

    Examples
    --------
    >>> with step("nothing to see") as s:     # silent outside reporting()
    ...     s.update()
    """
    rep = _REPORTER.get()
    if rep is not None:
        rep.depth += 1
    s = _Step(rep, desc, total, unit)
    failed = True
    try:
        yield s
        failed = False
    finally:
        if rep is not None:
            rep.depth -= 1
        s.close(log_below, failed=failed)


def gmres_callback(handle, tol):
    """A callback for scipy's GMRES (``callback_type="pr_norm"``: the relative residual) that shows
    the residual and how far it is from 1 to ``tol`` (log scale) on the step ``handle``.

    The solver calls it from its inner loop; nothing is shown when not reporting.

    Examples
    --------
    >>> with step("GMRES solve") as s:
    ...     cb = gmres_callback(s, 1e-6)
    ...     cb(1e-3)
    >>> s.info
    'residual 1.0e-03 (50 % of the way to 1e-06)'
    """
    goal = -math.log10(float(tol))
    count = [0]

    def cb(residual):
        count[0] += 1
        r = float(residual)
        if not (r > 0) or not math.isfinite(r):
            return
        frac = min(1.0, max(0.0, -math.log10(r) / goal)) if goal > 0 else 1.0
        if count[0] == 1 or count[0] % 5 == 0 or frac >= 1.0:
            handle.postfix(f"residual {r:.1e} ({100 * frac:.0f} % of the way to {tol:g})")
    return cb
