"""PDF of the report with WeasyPrint (optional extra ``pdf``): the same HTML, printed."""

from ..errors import InputError

__all__ = ["pdf_available", "write_pdf", "PDF_MISSING"]

PDF_MISSING = ("PDF output needs WeasyPrint, which is not installed: pip install 'tmsfield[pdf]' "
               "(it also needs the Pango library, Debian package libpango-1.0-0); the HTML report was written")


def pdf_available():
    """Whether WeasyPrint can be imported (with its system libraries).

    Examples
    --------
    >>> isinstance(pdf_available(), bool)
    True
    """
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def write_pdf(html_text, path):
    """Write the report HTML as a PDF (atomically) with WeasyPrint; no network is used.

    Parameters
    ----------
    html_text : str
        The report (:func:`tmsfield.report.report_html`); its images are data URIs.
    path : str or Path
        PDF file to write.

    Returns
    -------
    Path

    Raises
    ------
    InputError
        WeasyPrint is not installed (the message says how to install it).

    Examples
    --------
    >>> write_pdf("<p>x</p>", "x.pdf")      # doctest: +SKIP
    """
    from pathlib import Path

    from .._atomic import atomic_write_bytes

    if not pdf_available():
        raise InputError(PDF_MISSING)
    import weasyprint

    # the report is self-contained: only data: URIs may be read (no files, no network)
    fetcher_cls = getattr(weasyprint, "URLFetcher", None) or getattr(weasyprint.urls, "URLFetcher", None)
    if fetcher_cls is not None:          # WeasyPrint >= 66
        fetcher = fetcher_cls(allowed_protocols={"data"})
    else:                                # older: a function
        def fetcher(url, *args, **kwargs):
            if not url.startswith("data:"):
                raise ValueError(f"the report does not load external resources ({url[:40]})")
            return weasyprint.default_url_fetcher(url, *args, **kwargs)
    data = weasyprint.HTML(string=html_text, url_fetcher=fetcher).write_pdf()
    path = Path(path)
    atomic_write_bytes(path, data)
    return path
