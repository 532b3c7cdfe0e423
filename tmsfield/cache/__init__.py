"""One on-disk set-up cache for every tmsfield command and (opt-in) the Python API.

>>> import tmsfield
>>> from tmsfield.cache import SetupStore
>>> solver = tmsfield.EFieldSolver(head, cache=SetupStore())   # doctest: +SKIP

See :mod:`tmsfield.cache.store` (layout, checksums, locking, eviction) and
:mod:`tmsfield.cache.setup` (what is stored for the solver).
"""

from .store import DamagedEntry, EntryInfo, SetupStore, default_cache_dir, default_max_bytes, make_key

__all__ = ["SetupStore", "EntryInfo", "DamagedEntry", "make_key", "default_cache_dir", "default_max_bytes",
           "as_store"]


def as_store(cache):
    """A :class:`SetupStore` from a ``cache=`` argument: None/False (no cache), True (the default
    folder), a folder path, or a store (returned as is).

    Examples
    --------
    >>> as_store(None) is None
    True
    >>> isinstance(as_store(True), SetupStore)
    True
    """
    if cache is None or cache is False:
        return None
    if cache is True:
        return SetupStore()
    if isinstance(cache, SetupStore):
        return cache
    if hasattr(cache, "get_or_build") and hasattr(cache, "load"):
        return cache
    from pathlib import Path
    if isinstance(cache, (str, Path)):
        return SetupStore(cache)
    from ..errors import InputError
    raise InputError(f"cache must be None, True, a folder or a tmsfield.cache.SetupStore; got {cache!r}")
