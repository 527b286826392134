"""The errors a user is shown as one line: a leaf module, so any layer can raise them.

``factory`` prints these as ``factory: error: MESSAGE`` and exits 2; every message names what to
fix (a key path, a file, a row).
"""

from __future__ import annotations


class RecipeError(ValueError):
    """A recipe that cannot be run; the message names the key path."""


class EnvironmentProblem(RecipeError):
    """This machine cannot run the recipe (a tool missing or not working); the message names the fix."""
