"""factory: a rejection-sampling and distillation data factory for reasoning language models.

Installed as the distribution ``reasoning-factory``; it provides two import packages, ``factory``
and ``verifiers``. PrimeIntellect's RL-environments package is also imported as ``verifiers``: the
two cannot share an environment (one's files replace the other's), so importing factory where the
other one answers to ``verifiers`` fails here with a message that says so.
"""

import importlib

__version__ = "0.1.0"


def _check_verifiers() -> None:
    try:
        verifiers = importlib.import_module("verifiers")
    except ImportError as e:
        raise ImportError(f"factory's verifiers package does not import ({e}); reinstall reasoning-factory") from e
    if not getattr(verifiers, "FACTORY_VERIFIERS", False):
        raise ImportError(
            f"the package imported as 'verifiers' ({getattr(verifiers, '__file__', '?')}) is not factory's: another "
            "distribution (PrimeIntellect's 'verifiers', for RL environments) uses the same import name. Install "
            "reasoning-factory in a virtual environment of its own."
        )


_check_verifiers()
