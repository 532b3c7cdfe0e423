"""One-file HTML report of a placement result: head and model, coil and stimulator, target,
every placement (optimised and heuristics), dose (including the motor-threshold block), views
with the colour bar in V/m, and provenance.

The HTML is self-contained (PNG views as ``data:`` URIs, inline CSS, no scripts, no network) so it
can be attached to a chart or mailed. Text from the result is HTML-escaped.

* :func:`report_html` — HTML text from a result and (optional) images; no rendering.
* :func:`render_views` — the PNG views of a result (off screen, OSMesa where there is no display).
* :func:`write_report` — both, written atomically; ``pdf=True`` also writes a PDF with WeasyPrint.
"""

from .._lazy import lazy_exports

_PUBLIC = {
    "report_html": ".html", "head_summary": ".html", "placement_rows": ".html",
    "render_views": ".views", "REPORT_VIEWS": ".views",
    "write_report": ".write", "write_pdf": ".pdf", "pdf_available": ".pdf",
}

__all__ = list(_PUBLIC)

__getattr__, __dir__ = lazy_exports(__name__, _PUBLIC)
