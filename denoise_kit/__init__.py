"""Plumbing shared by the tutorial scripts: datasets, file formats, downloads,
plots, metrics and the command-line and training scaffolding.

The lessons themselves (layers, noise, the training call) live in the
top-level scripts; this package holds only what is not the lesson.
"""

from denoise_kit.errors import ConfigError, DataError, UserError

__all__ = ["ConfigError", "DataError", "UserError"]
