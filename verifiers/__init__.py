"""Rule-based verifiers: each a plain function from a response (and its problem) to a Verdict.

Public API::

    from verifiers import verify_math, extract_answer, check_format, Verdict

``VERIFIERS`` is the one explicit table the verify stage uses: a name (the key in a recipe's
``verify:`` section) mapped to a :class:`Verifier`, called as ``fn(row, **options) -> Verdict``
where ``row`` is a trace row (``completion``, ``finish_reason``, ``gold``, ``tests``,
``language``, ``domain``, ...). Verifiers that run work in other processes (math's sympy
workers, code's sandboxes) also have a ``batch(rows, **options) -> list[Verdict]`` form that
spreads a chunk of rows over the machine's cores; the verify stage prefers it.
Verifier modules are imported lazily so that ``import verifiers`` stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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
    """A row adapter, and optionally a batch form of it."""

    one: Callable[..., Verdict]
    batch: Callable[..., list[Verdict]] | None = None

    def __call__(self, row: Mapping[str, Any], **options: Any) -> Verdict:
        return self.one(row, **options)


def _gold(row: Mapping[str, Any]) -> str:
    gold = row.get("gold")
    if gold is None or gold == "":
        raise ValueError(f"problem {row.get('problem_id')!r} has no gold answer for the math verifier")
    return str(gold)


def _math(row: Mapping[str, Any], **options: Any) -> Verdict:
    from verifiers.math import verify_math

    return verify_math(row["completion"], _gold(row), **options)


def _math_batch(rows: Sequence[Mapping[str, Any]], **options: Any) -> list[Verdict]:
    from verifiers.math import verify_math_batch

    return verify_math_batch([(row["completion"], _gold(row)) for row in rows], **options)


def _code_batch(rows: Sequence[Mapping[str, Any]], **options: Any) -> list[Verdict]:
    from verifiers.code import verify_code_batch

    return verify_code_batch([{"completion": r["completion"], "tests": r.get("tests")} for r in rows], **options)


def _format(row: Mapping[str, Any], **options: Any) -> Verdict:
    from verifiers.format import check_format

    return check_format(row["completion"], finish_reason=row.get("finish_reason"), **options)


def _code(row: Mapping[str, Any], **options: Any) -> Verdict:
    from verifiers.code import verify_code_response

    return verify_code_response(row["completion"], row.get("tests"), **options)


def _language(row: Mapping[str, Any], **options: Any) -> Verdict:
    from verifiers.language import language_consistency

    options.setdefault("target", row.get("language") or "en")
    return language_consistency(row["completion"], **options)


def _readability(row: Mapping[str, Any], **options: Any) -> Verdict:
    from verifiers.readability import check_readability

    options.setdefault("domain", row.get("domain"))
    return check_readability(row["completion"], **options)


VERIFIERS: dict[str, Verifier] = {
    "math": Verifier(_math, _math_batch),
    "format": Verifier(_format),
    "code": Verifier(_code, _code_batch),
    "language": Verifier(_language),
    "readability": Verifier(_readability),
}

__all__ = ["OK", "VERIFIERS", "Verdict", "Verifier", "split_think", *_LAZY]
