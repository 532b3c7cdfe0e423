"""Coil models: the :class:`Coil` class, built-in models and SimNIBS coil files."""

from .coil import Coil

__all__ = ["Coil"]
