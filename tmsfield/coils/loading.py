"""``load_coil``: one entry point for built-in names and coil files."""

from pathlib import Path

from .builtin import available_coils, builtin_coil
from .ccd import read_ccd
from .tcd import read_tcd
from ..errors import CoilError, CoilFileError

__all__ = ["load_coil", "available_coils"]


def load_coil(name_or_path, **options):
    """Load a coil: a built-in model by name, or a SimNIBS ``.ccd`` / ``.tcd`` file.

    Parameters
    ----------
    name_or_path : str or Path
        A name from :func:`available_coils` (``"fig8_70mm"``, ``"round_90mm"``,
        ``"butterfly_b65"``) or a path ending in ``.ccd`` or ``.tcd``.
    **options
        Built-ins: ``n_filaments``, ``wire_height_mm``. ``.tcd``: ``stimulator``.

    Returns
    -------
    Coil

    Raises
    ------
    CoilError
        Unknown name (the message lists the available ones) or unsupported extension.
    CoilFileError
        A malformed file (the message names the file and line or key).

    Examples
    --------
    >>> load_coil("fig8_70mm").name
    'fig8_70mm'
    """
    if isinstance(name_or_path, Path) or str(name_or_path).lower().endswith((".ccd", ".tcd")):
        p = Path(name_or_path)
        ext = p.suffix.lower()
        if not p.is_file():
            raise CoilFileError(f"coil file {p} does not exist")
        if ext == ".ccd":
            if options:
                raise CoilError(f"options {sorted(options)} do not apply to .ccd files")
            return read_ccd(p)
        if ext == ".tcd":
            return read_tcd(p, **options)
        raise CoilError(f"unsupported coil file type {ext!r} for {p}; use .ccd or .tcd")
    if not isinstance(name_or_path, str):
        raise CoilError(f"load_coil expects a coil name or a path; got {type(name_or_path).__name__}. "
                        f"Available names: {', '.join(available_coils())}")
    return builtin_coil(name_or_path, **options)
