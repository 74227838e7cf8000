"""Compatibility shim that lets Strawberry Fields 0.23 import on current SciPy and setuptools.

- SciPy 1.14 removed ``scipy.integrate.simps``; Strawberry Fields imports it by name. It is the
  old name of ``scipy.integrate.simpson`` (same rule), so the alias is restored before import.
- Strawberry Fields imports ``pkg_resources``, which setuptools 81 removed; this plugin depends
  on ``setuptools<81`` and silences the deprecation warning that import emits.

This is the only place in qphys that patches a third-party module.
"""

from __future__ import annotations

import warnings

import scipy.integrate


def import_strawberryfields():
    """Import and return the ``strawberryfields`` module with the shim applied."""
    if not hasattr(scipy.integrate, "simps"):
        scipy.integrate.simps = scipy.integrate.simpson
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*pkg_resources.*")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        import strawberryfields as sf
    return sf
