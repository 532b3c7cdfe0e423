"""``write_report``: render the views, compose the HTML and write it (and optionally a PDF)."""

from pathlib import Path

from .._atomic import atomic_write_text
from ..errors import InputError, TmsfieldError

__all__ = ["write_report"]


def write_report(result, path, *, views=None, images=True, size=(640, 480), pdf=False, head=None, coil=None,
                 solver=None, efield=None, generated_utc=None):
    """Write the one-file HTML report of a placement result (and its PDF when asked and possible).

    Parameters
    ----------
    result : dict, str or Path
        Placement result (schema ``tmsfield-placement/1``) or its JSON path.
    path : str or Path
        HTML file to write (atomically); its folder must exist.
    views : sequence of str, optional
        Views to render (default :data:`tmsfield.report.REPORT_VIEWS`: left lateral, dorsal, coil axis).
    images : bool
        Render the views (needs OpenGL: OSMesa off screen). False: a text-only report.
    size : (int, int)
        Pixels per view (width, height).
    pdf : bool or str or Path
        Also write a PDF with WeasyPrint (True: beside the HTML, same name, ``.pdf``). Without
        WeasyPrint the HTML is still written and ``"pdf_skipped"`` says why.
    head, coil, solver, efield : optional
        Already loaded head/coil, a solver with ``efield_on_cortex``, or the field itself (V/m, (V, 3)),
        to skip loading and solving again (``tmsfield target --report`` passes its own).
    generated_utc : str, optional
        The report's time stamp (default now, UTC).

    Returns
    -------
    dict
        ``{"html": Path, "pdf": Path or None, "pdf_skipped": str or None}``.

    Raises
    ------
    InputError, RenderError
        Unreadable result, missing folder, no OpenGL for the views (message names the fix).

    Examples
    --------
    >>> write_report("tmsfield-results/fox2012_sgacc.json", "report.html")    # doctest: +SKIP
    {'html': PosixPath('report.html'), 'pdf': None, 'pdf_skipped': None}
    """
    from ..viz.result_scene import load_result
    from .html import head_summary, report_html
    from .pdf import PDF_MISSING, pdf_available, write_pdf
    from .views import REPORT_VIEWS, render_views

    res = load_result(result)
    src = res.pop("_path", None)
    path = Path(path)
    if not path.parent.exists():
        raise InputError(f"cannot write the report {path}: folder {path.parent} does not exist; create it first")
    if head is None:
        import tmsfield

        try:
            head = tmsfield.load_head(res["head"].get("source") or res["head"].get("name"))
        except TmsfieldError:
            if images:
                raise
            head = None          # a text-only report still works without the head's files
    pngs = None
    if images:
        pngs = render_views(res, views=REPORT_VIEWS if views is None else views, size=size, head=head, coil=coil,
                            solver=solver, efield=efield)
    text = report_html(res, images=pngs, head=None if head is None else head_summary(head), source_path=src,
                       generated_utc=generated_utc)
    atomic_write_text(path, text)
    out = {"html": path, "pdf": None, "pdf_skipped": None}
    if pdf:
        pdf_path = path.with_suffix(".pdf") if pdf is True else Path(pdf)
        if pdf_available():
            out["pdf"] = write_pdf(text, pdf_path)
        else:
            out["pdf_skipped"] = PDF_MISSING
    return out
