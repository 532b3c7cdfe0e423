"""Heads: surfaces, head models, loaders (through nibabel), template head, EEG positions."""

from .surface import Surface

__all__ = ["Surface"]
