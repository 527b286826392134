"""Rule-based verifiers: each a plain function from a response (and its problem) to a Verdict.

Public API::

    from verifiers import verify_math, extract_answer, check_format, Verdict

``VERIFIERS`` is the one explicit table the verify stage uses: a name (the key in a recipe's
``verify:`` section) mapped to an adapter ``fn(row, **options) -> Verdict`` where ``row`` is a
trace row (``completion``, ``finish_reason``, ``gold``, ``tests``, ``language``, ``domain``, ...).
Verifier modules are imported lazily so that ``import verifiers`` stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from verifiers.text import split_think
from verifiers.verdict import OK, Verdict

# public name -> module that defines it
_LAZY = {
    "verify_math": "verifiers.math",
    "extract_answer": "verifiers.math",
    "verify_math_batch": "verifiers.math",
    "canonical_answer": "verifiers.math",
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


def _math(row: Mapping[str, Any], **options: Any) -> Verdict:
    from verifiers.math import verify_math

    gold = row.get("gold")
    if gold is None or gold == "":
        raise ValueError(f"problem {row.get('problem_id')!r} has no gold answer for the math verifier")
    return verify_math(row["completion"], str(gold), **options)


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


VERIFIERS: dict[str, Callable[..., Verdict]] = {
    "math": _math,
    "format": _format,
    "code": _code,
    "language": _language,
    "readability": _readability,
}

__all__ = ["OK", "VERIFIERS", "Verdict", "split_think", *_LAZY]
