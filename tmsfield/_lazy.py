"""Lazy public names for a package: imported from their module on first use.

Keeps ``import tmsfield`` (and ``tmsfield.targets``, ``tmsfield.viz``) fast and free of
pyvista/VTK and numba compilation until a name is actually used.
"""

from importlib import import_module

__all__ = ["lazy_exports"]


def lazy_exports(package, public, submodules=()):
    """Build a package's module-level ``__getattr__`` and ``__dir__`` for lazy exports.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    public : dict of str -> str
        Public name -> module defining it (absolute, or relative like ``".scene"``).
    submodules : sequence of str
        Subpackage names also reachable as attributes (imported on first access).

    Returns
    -------
    (callable, callable)
        ``__getattr__`` and ``__dir__`` to assign in the package.

    Examples
    --------
    >>> getattr_, dir_ = lazy_exports("tmsfield", {"CoilPose": "tmsfield.pose"})
    >>> getattr_("CoilPose").__name__
    'CoilPose'
    """
    namespace = import_module(package).__dict__

    def __getattr__(name):
        if name in public:
            value = getattr(import_module(public[name], package), name)
            namespace[name] = value
            return value
        if name in submodules:
            return import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(namespace) | set(public) | set(submodules))

    return __getattr__, __dir__
