"""Rule-based verifiers: each a plain function from a response (and its problem) to a Verdict.

Public API::

    from verifiers import verify_math, verify_math_batch, MathConfig, Verdict
    from verifiers import verify_code, verify_code_response, verify_code_batch, CodeConfig
    from verifiers import extract_answer, check_format

``verify_math(response, gold)`` and ``verify_code(program, tests)`` judge with the defaults; their
options are one frozen config passed whole (``config=MathConfig(extract="bare")``).

``VERIFIERS`` is the one explicit table the verify stage uses: a name (the key in a recipe's
``verify:`` section) mapped to a :class:`Verifier`: ``one(row, config) -> Verdict`` where ``row``
is a trace row (``completion``, ``finish_reason``, ``gold``, ``tests``, ``language``,
``domain``, ...) and ``config`` its frozen options (:mod:`verifiers.configs`, built from the
recipe when it loads). Verifiers that run work in other processes (math's sympy workers, code's
sandboxes) also have a ``batch(rows, config)`` form that spreads a chunk of rows over the
machine's cores; the verify stage prefers it. ``VERIFIERS["math"](row, timeout_s=2)`` judges one
row from plain options (they build the config). Verifier modules are imported lazily so that ``import verifiers`` stays
cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from verifiers.configs import CodeConfig, FormatConfig, LanguageConfig, MathConfig, ReadabilityConfig, VerifierConfig
from verifiers.text import split_think
from verifiers.verdict import OK, Verdict

# factory checks this on import: PrimeIntellect's RL-environments package is also named verifiers
FACTORY_VERIFIERS = True

# public name -> module that defines it
_LAZY = {
    "verify_math": "verifiers.math",
    "extract_answer": "verifiers.math",
    "verify_math_batch": "verifiers.math",
    "canonical_answer": "verifiers.math",
    "prestart_workers": "verifiers.math",
    "check_format": "verifiers.format",
    "verify_code": "verifiers.code",
    "verify_code_response": "verifiers.code",
    "verify_code_batch": "verifiers.code",
    "extract_code": "verifiers.code",
    "language_consistency": "verifiers.language",
    "check_readability": "verifiers.readability",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'verifiers' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Verifier:
    """A row adapter (``one(row, config) -> Verdict``), optionally a batch form of it, the
    config class of its options, and which rows it can judge.

    ``judges_answer``: it decides whether the answer is right (math, code), not only how the trace
    is written (format, language, readability); a kept trace needs one such verdict.
    """

    one: Callable[[Mapping[str, Any], Any], Verdict]
    config: type[VerifierConfig]
    batch: Callable[[Sequence[Mapping[str, Any]], Any], list[Verdict]] | None = None
    needs: Callable[[Mapping[str, Any]], bool] = lambda row: True  # the row holds what it needs
    judges_answer: bool = False

    def __call__(self, row: Mapping[str, Any], config: VerifierConfig | None = None, **options: Any) -> Verdict:
        """Judge one row; ``options`` (or a config) as the recipe's ``verify.<name>`` would give them."""
        return self.one(row, config if config is not None else self.config(**options))

    def applies(self, row: Mapping[str, Any], config: VerifierConfig) -> bool:
        """Whether this verifier judges ``row``: its domain is among ``config.domains`` and it has the inputs."""
        return (config.domains is None or row.get("domain") in config.domains) and self.needs(row)


def options(config: VerifierConfig) -> dict[str, Any]:
    """The config's fields as keyword arguments of a text verifier (``domains`` is the stage's).

    Math and code take their config whole; format, language and readability still take keywords.
    """
    return {f.name: getattr(config, f.name) for f in fields(config) if f.name != "domains"}


def _has_gold(row: Mapping[str, Any]) -> bool:
    return row.get("gold") not in (None, "")


def _has_tests(row: Mapping[str, Any]) -> bool:
    return row.get("tests") not in (None, "", "[]")


def _gold(row: Mapping[str, Any]) -> str:
    if not _has_gold(row):
        raise ValueError(f"problem {row.get('problem_id')!r} has no gold answer for the math verifier")
    return str(row["gold"])


def _math(row: Mapping[str, Any], config: MathConfig) -> Verdict:
    from verifiers.math import verify_math

    return verify_math(row["completion"], _gold(row), config=config)


def _math_batch(rows: Sequence[Mapping[str, Any]], config: MathConfig) -> list[Verdict]:
    from verifiers.math import verify_math_batch

    return verify_math_batch([(row["completion"], _gold(row)) for row in rows], config=config)


def _code(row: Mapping[str, Any], config: CodeConfig) -> Verdict:
    from verifiers.code import verify_code_response

    return verify_code_response(row["completion"], row.get("tests"), config=config)


def _code_batch(rows: Sequence[Mapping[str, Any]], config: CodeConfig) -> list[Verdict]:
    from verifiers.code import verify_code_batch

    items = [{"completion": r["completion"], "tests": r.get("tests")} for r in rows]
    return verify_code_batch(items, config=config)


def _format(row: Mapping[str, Any], config: FormatConfig) -> Verdict:
    from verifiers.format import check_format

    return check_format(row["completion"], finish_reason=row.get("finish_reason"), **options(config))


def _language(row: Mapping[str, Any], config: LanguageConfig) -> Verdict:
    from verifiers.language import language_consistency

    opts = options(config)
    opts["target"] = opts["target"] or row.get("language") or "en"
    return language_consistency(row["completion"], **opts)


def _readability(row: Mapping[str, Any], config: ReadabilityConfig) -> Verdict:
    from verifiers.readability import check_readability

    return check_readability(row["completion"], domain=row.get("domain"), **options(config))


VERIFIERS: dict[str, Verifier] = {
    "math": Verifier(_math, MathConfig, _math_batch, needs=_has_gold, judges_answer=True),
    "code": Verifier(_code, CodeConfig, _code_batch, needs=_has_tests, judges_answer=True),
    "format": Verifier(_format, FormatConfig),
    "language": Verifier(_language, LanguageConfig),
    "readability": Verifier(_readability, ReadabilityConfig),
}

__all__ = [
    "OK", "VERIFIERS", "CodeConfig", "FormatConfig", "LanguageConfig", "MathConfig", "ReadabilityConfig", "Verdict",
    "Verifier", "VerifierConfig", "options", "split_think", *_LAZY,
]
