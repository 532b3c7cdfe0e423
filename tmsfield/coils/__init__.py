"""Coil models: the :class:`Coil` class, built-in models and SimNIBS coil files.

* :func:`load_coil` — a built-in model by name (:func:`available_coils`) or a ``.ccd`` /
  ``.tcd`` file.
* :func:`read_ccd`, :func:`write_ccd`, :func:`read_tcd`, :func:`write_tcd` — SimNIBS coil files.
* :func:`dipole_equivalent` (or :meth:`Coil.to_dipoles`) — wire coil → dipole coil.
"""

from .coil import Coil, SampledAField
from .builtin import available_coils
from .ccd import read_ccd, write_ccd
from .tcd import read_tcd, write_tcd
from .dipole_equivalent import dipole_equivalent
from .loading import load_coil

__all__ = ["Coil", "SampledAField", "load_coil", "available_coils", "read_ccd", "write_ccd", "read_tcd", "write_tcd",
           "dipole_equivalent"]
