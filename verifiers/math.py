"""Math verifier: exact mathematical equality of a response's final answer with a gold answer.

Public API::

    verify_math(response, gold, **options) -> Verdict
    verify_math_batch(pairs, *, timeout_s=5.0, workers=None, **options) -> list[Verdict]
    extract_answer(response) -> str | None
    canonical_answer(answer) -> str | None

Policy (the README states it for users):

- **Extraction.** Only the text after the last ``</think>`` counts; a think block that never
  closes has no final answer. The last ``\\boxed{...}`` / ``\\fbox{...}`` / ``\\boxed 7`` is the
  answer (nested boxes unwrap); boxes that sit together at the end (``\\boxed{2}`` and
  ``\\boxed{3}``) form one solution list, identical boxes count once, and an earlier box that the
  text moved on from is abandoned. Without a box, the last explicit "Final Answer:" /
  "Answer:" line counts. Markdown bold, ``\\text{}``, ``\\left(\\right)``, a trailing period,
  unicode minus and vulgar fractions are cosmetic.
- **Numbers** compare exactly as rationals (no tolerance, no x100 fallback; ``%`` means x0.01);
  mixed numbers, repeating decimals, thousands separators, scientific notation, leading zeros,
  base subscripts (``1011_2`` is not ``1011``) and a small table of units (converted when both
  sides carry one, ignored when one side does) are understood.
- **Structures** (sympy via latex2sympy2_extended): intervals keep endpoints, inequalities equal
  the sets they describe, tuples are ordered, lists and sets unordered, ``±5`` is ``{5,-5}``,
  equations are equal when they describe the same solution set (nonzero scaling), ``x=4``
  matches ``4``, a chain counts its final value, a false numeric equation is no answer,
  matrices compare element-wise, ``j`` reads as ``i``.
- **Choices and text**: a choice letter with decoration matches; several letters is a hedge.
  Text compares case-insensitively. Several candidates for a single-valued gold is a hedge.
- **Safety.** Cheap exact fast paths (canonical strings, rational arithmetic) run in-process.
  Everything that needs sympy runs in a persistent worker subprocess with a wall-clock timeout
  enforced by killing the process (no signals, so any thread, Ray or TRL worker may call it)
  and an address-space cap (RLIMIT_AS); sizes of powers and factorials are bounded before
  anything is evaluated.

Reason codes (``Verdict.reason``):

=============================== ============================================================
``ok``                          the final answer equals the gold answer
``wrong_answer``                an answer was found and it differs (also: a false equation)
``no_answer``                   no box and no "Final Answer:" line
``no_final_answer_after_think`` a think block that never closes, or nothing after it
``empty_box``                   the final box is empty
``unbalanced_braces``           the final box never closes
``hedged_answer``               several candidates (``5 or 6``, ``±`` for one value, A and C)
``unparseable``                 the answer could not be read as mathematics or as text
``too_large``                   an expression whose exact value would be astronomically large
``timeout``                     the checker ran past its wall-clock limit and was killed
=============================== ============================================================

Options (keyword arguments of ``verify_math``/``verify_math_batch``): ``timeout_s`` (5.0),
``memory_mb`` (2048, the worker's address-space cap), ``require_think_close`` (False: when True,
a response without ``</think>`` has no final answer).
"""

from __future__ import annotations

import atexit
import functools
import logging
import math as _pymath
import os
import re
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable
from fractions import Fraction
from multiprocessing.connection import Connection, wait
from typing import Any

from verifiers.text import THINK_CLOSE, THINK_OPEN, match_brace
from verifiers.verdict import Verdict

log = logging.getLogger(__name__)

OK = "ok"
WRONG_ANSWER = "wrong_answer"
NO_ANSWER = "no_answer"
NO_FINAL_ANSWER_AFTER_THINK = "no_final_answer_after_think"
EMPTY_BOX = "empty_box"
UNBALANCED_BRACES = "unbalanced_braces"
HEDGED_ANSWER = "hedged_answer"
UNPARSEABLE = "unparseable"
TOO_LARGE = "too_large"
TIMEOUT = "timeout"

DEFAULT_TIMEOUT_S = 5.0
DEFAULT_MEMORY_MB = 2048
# Exact values larger than this many bits are refused rather than computed.
MAX_BITS = 200_000
MAX_FACTORIAL = 5_000
MAX_ANSWER_CHARS = 2_000

_KNOWN_OPTIONS = {"timeout_s", "memory_mb", "require_think_close"}


# ---------------------------------------------------------------------------------------------
# Extraction
# ---------------------------------------------------------------------------------------------

_BOX_CMD = re.compile(r"\\(?:boxed|fbox)(?![a-zA-Z])")
# What may sit between boxes that together form one answer list: connectors, variable names
# with an equals sign, math delimiters, punctuation, spacing commands.
_GAP_TOKENS = re.compile(
    r"\\text\s*\{\s*(?:and|or|,)?\s*\}|\b(?:and|or)\b|\\(?:quad|qquad|[,;:! ])"
    r"|\b[a-zA-Z](?:_\{?\w+\}?)?\s*=|\\\(|\\\)|\\\[|\\\]|[\s$,;.&]"
)
_FINAL_LINE = re.compile(
    r"(?im)^[ \t>#*_-]*(?:\*\*|__)?\s*(?:the\s+)?(?:final\s+answer|answer)\s*(?:\*\*|__)?\s*"
    r"(?:is\s*)?[:：]\s*(?:\*\*|__)?(.*)$"
)
_FINAL_HEADING = re.compile(r"(?im)^[ \t>#*_-]*(?:\*\*|__)?\s*final\s+answer\s*(?:\*\*|__)?\s*[:：]?\s*(?:\*\*|__)?\s*$")
_FINAL_PHRASE = re.compile(r"(?i)\bthe\s+final\s+answer\s+is\s*:?\s*(.+)$", re.M)


class _Extraction:
    __slots__ = ("answer", "reason", "boxes")

    def __init__(self, answer: str | None, reason: str, boxes: int = 0) -> None:
        self.answer = answer
        self.reason = reason
        self.boxes = boxes


def _find_boxes(text: str) -> tuple[list[tuple[int, int, str]], bool]:
    """Top-level boxes as (start, end, content); and whether the last one is unbalanced."""
    boxes: list[tuple[int, int, str]] = []
    pos = 0
    while True:
        m = _BOX_CMD.search(text, pos)
        if m is None:
            return boxes, False
        i = m.end()
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] == "{":
            end = match_brace(text, i)
            if end < 0:
                return boxes, True
            boxes.append((m.start(), end, text[i + 1 : end - 1]))
            pos = end
        else:
            # "\boxed 7": one token, up to whitespace or a math delimiter
            tok = re.match(r"[^\s$]+", text[i:])
            if tok is None:
                boxes.append((m.start(), i, ""))
                pos = i
            else:
                boxes.append((m.start(), i + tok.end(), tok.group(0)))
                pos = i + tok.end()


def _unwrap_box(content: str) -> str:
    content = content.strip()
    # a box inside the box: keep what the inner boxes hold
    for _ in range(5):
        inner, bad = _find_boxes(content)
        if bad or not inner:
            break
        if len(inner) == 1 and inner[0][0] == 0 and inner[0][1] == len(content):
            content = inner[0][2].strip()
            continue
        out, last = [], 0
        for s, e, c in inner:
            out.append(content[last:s])
            out.append(c)
            last = e
        out.append(content[last:])
        content = "".join(out).strip()
    return content


def _strip_answer_text(s: str) -> str:
    s = s.strip()
    s = re.sub(r"^(?:\*\*|__)+|(?:\*\*|__)+$", "", s).strip()
    s = re.sub(r"(?i)^(?:the\s+)?(?:final\s+)?answer\s+is\s*:?\s*", "", s)
    s = re.sub(r"(?i)^therefore,?\s*", "", s)
    return s.strip()


def _extract(response: str, *, require_think_close: bool = False) -> _Extraction:
    if not isinstance(response, str):
        return _Extraction(None, NO_ANSWER)
    head, sep, tail = response.rpartition(THINK_CLOSE)
    if sep:
        part = tail
        no_answer = NO_FINAL_ANSWER_AFTER_THINK
    else:
        if THINK_OPEN in response or require_think_close:
            return _Extraction(None, NO_FINAL_ANSWER_AFTER_THINK)
        part = response
        no_answer = NO_ANSWER
    boxes, unbalanced = _find_boxes(part)
    if unbalanced:
        return _Extraction(None, UNBALANCED_BRACES, len(boxes) + 1)
    if boxes:
        group = [boxes[-1]]
        for prev in reversed(boxes[:-1]):
            gap = part[prev[1] : group[0][0]]
            if len(gap) > 80 or "\n\n" in gap or _GAP_TOKENS.sub("", gap).strip():
                break
            group.insert(0, prev)
        contents: list[str] = []
        seen: set[str] = set()
        for _, _, c in group:
            c = _unwrap_box(c)
            key = re.sub(r"\s+", "", c).rstrip(".")
            if key and key not in seen:
                seen.add(key)
                contents.append(c)
        if not contents:
            return _Extraction(None, EMPTY_BOX, len(boxes))
        return _Extraction(", ".join(contents) if len(contents) > 1 else contents[0], OK, len(contents))
    matches = list(_FINAL_LINE.finditer(part)) + list(_FINAL_HEADING.finditer(part))
    if not matches:
        matches = list(_FINAL_PHRASE.finditer(part))
    if matches:
        last = max(matches, key=lambda m: m.start())
        ans = _strip_answer_text(last.group(1) if last.re is not _FINAL_HEADING else "")
        if not ans:
            # "**Final Answer**" as a heading: the answer is on the next non-empty line
            rest = [ln for ln in part[last.end() :].splitlines() if ln.strip()]
            ans = _strip_answer_text(rest[0]) if rest else ""
        if ans:
            return _Extraction(ans, OK, 0)
    return _Extraction(None, no_answer)


def extract_answer(response: str) -> str | None:
    """The final answer of ``response`` as written (box content or "Final Answer:" text), or None."""
    return _extract(response).answer


# ---------------------------------------------------------------------------------------------
# Cosmetic normalization
# ---------------------------------------------------------------------------------------------

_VULGAR = {
    "½": (1, 2), "⅓": (1, 3), "⅔": (2, 3), "¼": (1, 4), "¾": (3, 4), "⅕": (1, 5), "⅖": (2, 5),
    "⅗": (3, 5), "⅘": (4, 5), "⅙": (1, 6), "⅚": (5, 6), "⅐": (1, 7), "⅛": (1, 8), "⅜": (3, 8),
    "⅝": (5, 8), "⅞": (7, 8), "⅑": (1, 9), "⅒": (1, 10),
}
_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_UNICODE = {
    "\u2212": "-", "\u2013": "-", "\u2012": "-", "\u2014": "-", "\u00d7": r"\times ",
    "\u22c5": r"\cdot ", "\u00b7": r"\cdot ", "\u00f7": r"\div ", "\u221a": r"\sqrt ",
    "\u03c0": r"\pi ", "\u221e": r"\infty ", "\u2264": r"\le ", "\u2265": r"\ge ",
    "\u2260": r"\ne ", "\u222a": r"\cup ", "\u2229": r"\cap ", "\u2205": r"\emptyset ",
    "\u00b0": r"^\circ ", "\u00b1": r"\pm ", "\u2213": r"\mp ", "\u2044": "/", "\u2009": " ",
    "\u00a0": " ", "\u202f": " ", "\u2032": "'", "\uff0c": ",", "\u2208": r"\in ",
    "\u211d": r"\mathbb{R} ",
}
_WRAPPERS = re.compile(
    r"\\(?:text|textbf|textit|textrm|textnormal|mathrm|mathbf|mathit|mathsf|mbox|operatorname\*?|"
    r"boldsymbol|bm|emph|hbox)\s*\{"
)
_DROP = re.compile(
    r"\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|big|Big|bigg|Bigg|middle)(?![a-zA-Z])"
    r"|\\displaystyle|\\textstyle|\\scriptstyle|\\limits|\\nolimits|\\!|\\mathstrut"
)
_THOUSANDS = re.compile(r"(?<![\d.,])(\d{1,3})((?:(?:\{,\}|\\,|,|\\ |\\;|\\!|\s)\d{3})+)(?![\d])")
_THOUSANDS_SEP = re.compile(r"\{,\}|\\,|,|\\ |\\;|\\!|\s")
_FRAC_SHORT = re.compile(r"\\[dtc]?frac\s*(\d)\s*(\d)")
_FRAC_SHORT2 = re.compile(r"\\[dtc]?frac\s*(\d)\s*(\{)")
_FRAC_SHORT3 = re.compile(r"\\[dtc]?frac\s*(\{[^{}]*\})\s*(\d)")
_SPECIAL_WORDS = [
    (re.compile(r"(?i)^(?:all\s+real(?:\s+numbers)?|all\s+reals|every\s+real\s+number|\(-\\infty\s*,\s*\\infty\)|\\mathbb\s*\{?R\}?|\\R|\\Re|\\reals)$"), r"\mathbb{R}"),
    (re.compile(r"(?i)^(?:no\s+(?:real\s+)?solutions?|none|no\s+such\s+\w+|the\s+empty\s+set|empty\s+set|\\emptyset|\\varnothing|\\\{\s*\\\}|\{\s*\})$"), r"\emptyset"),
    (re.compile(r"(?i)^(?:\+?\s*infinity|\+?\s*\\infty|\\infin)$"), r"\infty"),
    (re.compile(r"(?i)^(?:-\s*infinity|-\s*\\infty)$"), r"-\infty"),
]


def _unwrap_command(s: str, pattern: re.Pattern[str]) -> str:
    """Replace ``\\cmd{X}`` by ``X`` (balanced), for every match of ``pattern`` (which ends at ``{``)."""
    for _ in range(50):
        m = pattern.search(s)
        if m is None:
            return s
        end = match_brace(s, m.end() - 1)
        if end < 0:
            return s[: m.start()] + s[m.end() :]
        s = s[: m.start()] + s[m.end() : end - 1] + s[end:]
    return s


def _clean(s: str) -> str:
    """Remove what is cosmetic, keeping the mathematics intact."""
    s = s.strip()
    for k, v in _UNICODE.items():
        if k in s:
            s = s.replace(k, v)
    if any(c in s for c in _VULGAR):
        s = re.sub(
            "([0-9]?)\\s*([" + "".join(_VULGAR) + "])",
            lambda m: m.group(1) + r"\frac{%d}{%d}" % _VULGAR[m.group(2)],
            s,
        )
    if any(c in s for c in "⁰¹²³⁴⁵⁶⁷⁸⁹"):
        s = re.sub("([⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+)", lambda m: "^{" + m.group(1).translate(_SUPERSCRIPTS) + "}", s)
    s = re.sub(r"\*\*|__", "", s)
    s = s.replace(r"\$", " ").replace("$", "")
    s = re.sub(r"^\\\[|\\\]$|^\\\(|\\\)$", "", s.strip())
    s = _unwrap_command(s, _WRAPPERS)
    s = _DROP.sub("", s)
    s = re.sub(r"\\(?:dfrac|tfrac|cfrac)", r"\\frac", s)
    s = _FRAC_SHORT.sub(r"\\frac{\1}{\2}", s)
    s = _FRAC_SHORT2.sub(r"\\frac{\1}\2", s)
    s = _FRAC_SHORT3.sub(r"\\frac\1{\2}", s)
    s = s.replace(r"\%", "%").replace(r"\&", "&")
    s = re.sub(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree", "°", s)
    s = s.replace(r"\lbrace", r"\{").replace(r"\rbrace", r"\}")
    s = re.sub(r"\\(?:le|leqslant|leq)(?![a-zA-Z])", r"\\le ", s)
    s = re.sub(r"\\(?:ge|geqslant|geq)(?![a-zA-Z])", r"\\ge ", s)
    s = re.sub(r"\\(?:neq|ne)(?![a-zA-Z])", r"\\ne ", s)
    s = re.sub(r"\\(?:quad|qquad)(?![a-zA-Z])|\\[;:]|~", " ", s)
    s = s.replace(r"\varnothing", r"\emptyset")
    s = re.sub(r"\s+", " ", s).strip()
    s = re.sub(r"[.。;]+$", "", s).strip()
    if s.startswith(r"\,"):
        s = s[2:].strip()
    for pat, rep in _SPECIAL_WORDS:
        if pat.match(s):
            return rep
    return s


# ---------------------------------------------------------------------------------------------
# Fast path: numbers, choices and text, exact and in-process
# ---------------------------------------------------------------------------------------------

_F = Fraction
_UNITS: dict[str, tuple[str, Fraction]] = {}
for _dim, _table in {
    "length": {
        "mm": _F(1, 1000), "millimeter": _F(1, 1000), "cm": _F(1, 100), "centimeter": _F(1, 100),
        "m": _F(1), "meter": _F(1), "metre": _F(1), "km": _F(1000), "kilometer": _F(1000),
        "in": _F("0.0254"), "inch": _F("0.0254"), "inche": _F("0.0254"), "ft": _F("0.3048"),
        "feet": _F("0.3048"), "foot": _F("0.3048"), "yd": _F("0.9144"), "yard": _F("0.9144"),
        "mi": _F("1609.344"), "mile": _F("1609.344"),
    },
    "mass": {
        "mg": _F(1, 1000), "milligram": _F(1, 1000), "g": _F(1), "gram": _F(1), "kg": _F(1000),
        "kilogram": _F(1000), "lb": _F("453.59237"), "pound": _F("453.59237"),
        "oz": _F("28.349523125"), "ounce": _F("28.349523125"), "ton": _F(1000000), "tonne": _F(1000000),
    },
    "time": {
        "s": _F(1), "sec": _F(1), "second": _F(1), "min": _F(60), "minute": _F(60), "h": _F(3600),
        "hr": _F(3600), "hour": _F(3600), "day": _F(86400), "week": _F(604800),
        "ms": _F(1, 1000), "millisecond": _F(1, 1000),
    },
    "volume": {"ml": _F(1, 1000), "milliliter": _F(1, 1000), "l": _F(1), "liter": _F(1), "litre": _F(1)},
    "money": {"cent": _F(1, 100), "dollar": _F(1), "usd": _F(1)},
    "angle": {"°": _F(1), "deg": _F(1), "degree": _F(1)},
}.items():
    for _name, _factor in _table.items():
        _UNITS[_name] = (_dim, _factor)
_CURRENCY_PREFIX = re.compile(r"^(?:\\\$|\$|€|£|¥|₹|rs\.?|usd|eur|inr)\s*", re.I)
_NOT_UNIT_WORDS = {
    "or", "and", "is", "are", "the", "plus", "minus", "times", "not", "no", "if", "then", "so",
    "but", "than", "of", "to", "equals", "approximately", "about", "roughly", "nearly", "maybe",
    "either", "over", "divided", "by", "i", "j", "e", "x", "y", "z", "n", "k", "a", "b", "c",
    "pi", "sqrt", "undefined", "infinity", "none", "approx", "neither", "nor",
}
_NUM = r"\d+(?:\.\d*)?|\.\d+"
_SIMPLE_NUM = re.compile(rf"^([+-]?)\s*({_NUM})$")
_SCI_E = re.compile(rf"^([+-]?)\s*({_NUM})\s*[eE]\s*([+-]?\d{{1,4}})$")
_SCI_TIMES = re.compile(
    rf"^([+-]?)\s*(?:({_NUM})\s*(?:\\times|\\cdot|\*|x)\s*)?10\s*\^\s*(?:\{{\s*([+-]?\s*\d{{1,4}})\s*\}}|([+-]?\d))$"
)
_FRAC_TEX = re.compile(rf"^([+-]?)\s*\\frac\{{\s*([+-]?)\s*({_NUM})\s*\}}\{{\s*([+-]?)\s*({_NUM})\s*\}}$")
_MIXED_TEX = re.compile(rf"^([+-]?)\s*(\d+)\s*\\frac\{{\s*(\d+)\s*\}}\{{\s*(\d+)\s*\}}$")
_SLASH = re.compile(rf"^([+-]?)\s*\(?\s*([+-]?)\s*({_NUM})\s*\)?\s*/\s*\(?\s*([+-]?)\s*({_NUM})\s*\)?$")
_MIXED_SLASH = re.compile(r"^([+-]?)\s*(\d+)\s+(\d+)\s*/\s*(\d+)$")
_REPEAT = re.compile(
    r"^([+-]?)\s*(\d*)\.(\d*)\s*(?:\\overline\s*\{\s*(\d+)\s*\}|\\overline\s*(\d)|\\dot\s*\{?\s*(\d)\s*\}?|\((\d+)\)|\\bar\s*\{\s*(\d+)\s*\})$"
)
_BASE = re.compile(r"^\(?([0-9A-Za-z]+)\)?_\s*\{?\s*\(?\s*(\d{1,2})\s*\)?\s*\}?$")
_VAR_EQ = re.compile(r"^([a-zA-Z](?:_\{?\w+\}?)?|\\[a-zA-Z]+)\s*=\s*(?!=)")
_CHOICE = re.compile(r"^\(?\s*([A-J])\s*\)?(?:[\s.:)\\,]|$)")
_CHOICE_WORD = re.compile(r"(?i)^(?:option|choice|answer)\s*:?\s*")


class _Num:
    """A rational value with its unit (dimension, factor) and number base, from the fast parser."""

    __slots__ = ("value", "unit", "base")

    def __init__(self, value: Fraction, unit: tuple[str, Fraction] | None = None, base: int | None = None) -> None:
        self.value = value
        self.unit = unit
        self.base = base


def _dec(s: str) -> Fraction:
    return Fraction(s if not s.startswith(".") else "0" + s)


def _pure_number(s: str) -> Fraction | None:
    """A number with no units: integers, decimals, fractions, mixed, repeating, scientific, %."""
    s = s.strip()
    percent = False
    if s.endswith("%"):
        percent = True
        s = s[:-1].strip()
    s = _THOUSANDS.sub(lambda m: m.group(1) + _THOUSANDS_SEP.sub("", m.group(2)), s)
    if s.startswith("+"):
        s = s[1:].strip()
    while s.startswith("(") and s.endswith(")") and _match_paren(s) == len(s):
        s = s[1:-1].strip()
    if s.startswith("{") and s.endswith("}") and match_brace(s, 0) == len(s):
        s = s[1:-1].strip()
    v: Fraction | None = None
    if (m := _SIMPLE_NUM.match(s)) is not None:
        v = _dec(m.group(2))
        if m.group(1) == "-":
            v = -v
    elif (m := _FRAC_TEX.match(s)) is not None:
        den = _dec(m.group(5))
        if den == 0:
            return None
        v = _dec(m.group(3)) / den
        if (m.group(1) == "-") ^ (m.group(2) == "-") ^ (m.group(4) == "-"):
            v = -v
    elif (m := _MIXED_TEX.match(s)) is not None or (m := _MIXED_SLASH.match(s)) is not None:
        whole, num, den = int(m.group(2)), int(m.group(3)), int(m.group(4))
        if den == 0 or num >= den:
            return None  # not a mixed number: "2\frac{5}{4}" is a product, leave it to sympy
        v = whole + Fraction(num, den)
        if m.group(1) == "-":
            v = -v
    elif (m := _SLASH.match(s)) is not None:
        den = _dec(m.group(5))
        if den == 0:
            return None
        v = _dec(m.group(3)) / den
        if (m.group(1) == "-") ^ (m.group(2) == "-") ^ (m.group(4) == "-"):
            v = -v
    elif (m := _SCI_E.match(s)) is not None:
        v = _dec(m.group(2)) * Fraction(10) ** int(m.group(3))
        if m.group(1) == "-":
            v = -v
    elif (m := _SCI_TIMES.match(s)) is not None:
        exp = int((m.group(3) or m.group(4)).replace(" ", ""))
        v = (_dec(m.group(2)) if m.group(2) else Fraction(1)) * Fraction(10) ** exp
        if m.group(1) == "-":
            v = -v
    elif (m := _REPEAT.match(s)) is not None:
        whole, fixed = m.group(2) or "0", m.group(3)
        rep = next(g for g in m.groups()[3:] if g)
        v = Fraction(int(whole)) + (
            Fraction(int(fixed + rep) - int(fixed or "0"), (10 ** len(rep) - 1) * 10 ** len(fixed))
        )
        if m.group(1) == "-":
            v = -v
    if v is None:
        return None
    return v / 100 if percent else v


def _match_paren(s: str) -> int:
    depth = 0
    for i, c in enumerate(s):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                return i + 1
    return -1


def _fast_number(s: str) -> _Num | None:
    """Parse a cleaned answer as one number with an optional unit or base, else None."""
    if len(s) > 200:
        return None
    if (m := _BASE.match(s)) is not None and not re.fullmatch(r"\d+", m.group(1) or "x") or (
        m is not None and m.group(2) != "10"
    ):
        digits, base = m.group(1), int(m.group(2))
        if 2 <= base <= 36:
            try:
                return _Num(Fraction(int(digits, base)), base=base)
            except ValueError:
                return None
        return None
    s = _CURRENCY_PREFIX.sub("", s)
    v = _pure_number(s)
    if v is not None:
        return _Num(v)
    # number followed by a unit (known or ignorable words)
    m = re.match(r"^(.*?\d[)}]?)\s*(°|[a-zA-Z][a-zA-Z\s.^{}0-9/]*|\^?\{?°\}?)$", s)
    if m is None:
        return None
    v = _pure_number(m.group(1))
    if v is None:
        return None
    unit_text = m.group(2).strip().lower()
    words = re.findall(r"[a-z°]+", unit_text)
    if not words or any(w in _NOT_UNIT_WORDS for w in words):
        return None
    power = 1
    pm = re.search(r"\^\s*\{?\s*([23])\s*\}?$", unit_text)
    if pm is not None:
        power = int(pm.group(1))
    elif words[0] in {"square", "sq"} and len(words) > 1:
        power, words = 2, words[1:]
    elif words[0] in {"cubic", "cu"} and len(words) > 1:
        power, words = 3, words[1:]
    name = words[0]
    unit = _UNITS.get(name) or (_UNITS.get(name[:-1]) if name.endswith("s") and len(name) > 2 else None)
    if unit is not None and len(words) == 1 and "/" not in unit_text:
        dim, factor = unit
        if power != 1:
            dim, factor = f"{dim}^{power}", factor**power
        return _Num(v, (dim, factor))
    return _Num(v, ("other:" + " ".join(words), Fraction(1)))


def _num_equal(a: _Num, b: _Num) -> bool:
    if (a.base or 10) != (b.base or 10):
        return False
    if a.unit and b.unit and a.unit[0] == b.unit[0] and not a.unit[0].startswith("other:"):
        return a.value * a.unit[1] == b.value * b.unit[1]
    return a.value == b.value


def _split_top(s: str, seps: tuple[str, ...] = (",", ";")) -> list[str]:
    """Split at separators that are outside every bracket."""
    parts, depth, last, i = [], 0, 0, 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s) and s[i + 1] in "{}":
            depth += 1 if s[i + 1] == "{" else -1
            i += 2
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth == 0 and c in seps:
            parts.append(s[last:i])
            last = i + 1
        i += 1
    parts.append(s[last:])
    return [p.strip() for p in parts]


_OR_AND = re.compile(r"\s+(?:or|and)\s+|\s*\\(?:text\{\s*(?:or|and)\s*\}|lor|vee)\s*", re.I)


def _list_items(s: str) -> list[str]:
    """A bare answer list ``2, 3`` / ``x=2 or x=3`` / ``\\{2,3\\}`` as items (one item if not a list)."""
    inner = s
    if inner.startswith(r"\{") and inner.endswith(r"\}"):
        inner = inner[2:-2]
    items = []
    for part in _split_top(inner):
        items.extend(p.strip() for p in _OR_AND.split(part))
    return [i for i in items if i]


def _var_of(s: str) -> str | None:
    m = _VAR_EQ.match(s)
    if m is not None and "=" not in s[m.end() :]:
        return m.group(1).replace("{", "").replace("}", "")
    return None


def _strip_var(s: str) -> str:
    m = _VAR_EQ.match(s)
    if m is not None and "=" not in s[m.end() :]:
        return s[m.end() :].strip()
    return s


def _choice_letters(s: str) -> list[str] | None:
    """Choice letters in a cleaned answer: ``(B)``, ``B``, ``(B) 17``, ``A, C``; None if not a choice."""
    s = _CHOICE_WORD.sub("", s).strip()
    m = _CHOICE.match(s)
    if m is None:
        return None
    letters = [m.group(1)]
    rest = s[m.end() :]
    for part in re.split(r"\s*(?:,|;|\band\b|\bor\b|&|\\text\{\s*(?:and|or)\s*\})\s*", rest):
        part = part.strip()
        mm = re.fullmatch(r"\(?\s*([A-J])\s*\)?", part)
        if mm:
            letters.append(mm.group(1))
    mm = re.fullmatch(r"\(([A-J])\)\s*\(([A-J])\)", s)
    if mm:
        letters = [mm.group(1), mm.group(2)]
    return sorted(set(letters))


def _is_choice_gold(g: str) -> bool:
    return re.fullmatch(r"\(?\s*[A-J]\s*\)?", g) is not None


_TEXT = re.compile(r"^[A-Za-z][A-Za-z '\-]*[A-Za-z]$")


def _norm_text(s: str) -> str:
    s = s.lower()
    s = re.sub(r"[^a-z0-9 ]", " ", s)
    s = re.sub(r"^(?:the|a|an)\s+", "", s.strip())
    return re.sub(r"\s+", " ", s).strip()


def _is_text_gold(g: str) -> bool:
    """Gold answers that are words, not mathematics (``Monday``, ``yes``, ``isosceles triangle``)."""
    if _TEXT.match(g) is None:
        return False
    words = g.split()
    return any(len(w) >= 3 for w in words) or g.lower() in {"no", "yes", "on", "up"}


_INF = {r"\infty": 1, r"+\infty": 1, r"-\infty": -1, "oo": 1, "-oo": -1, "infinity": 1, "-infinity": -1}


def _endpoint(s: str) -> Fraction | int | None:
    """A fast number, or +-1 standing for +-infinity (as an int tag, never a Fraction)."""
    s = s.replace(" ", "")
    if s in _INF:
        return _INF[s]
    n = _fast_number(s)
    if n is None or n.unit is not None or n.base is not None:
        return None
    return n.value


def _fast_bracket(s: str) -> tuple[str, list[Any], str] | None:
    """``(a, b)``, ``[a, b)``, ``(a, b, c)`` with numeric entries: (open, entries, close)."""
    if len(s) < 5 or s[0] not in "([" or s[-1] not in ")]" or _match_paren(s) != len(s):
        return None
    items = _split_top(s[1:-1])
    if len(items) < 2:
        return None
    vals = [_endpoint(i) for i in items]
    if any(v is None for v in vals):
        return None
    return s[0], vals, s[-1]


_REL = {"<": ("<", False), ">": (">", False), r"\le": ("<", True), r"\ge": (">", True), r"\leq": ("<", True), r"\geq": (">", True)}
_REL_RE = r"(<|>|\\le|\\ge)"
_INEQ1 = re.compile(rf"^([a-zA-Z])\s*{_REL_RE}\s*([^<>=\\]*?(?:\\frac\{{[^{{}}]*\}}\{{[^{{}}]*\}})?[^<>=]*)$")
_INEQ2 = re.compile(rf"^([^<>=]+?)\s*{_REL_RE}\s*([a-zA-Z])$")
_INEQ3 = re.compile(rf"^([^<>=]+?)\s*{_REL_RE}\s*([a-zA-Z])\s*{_REL_RE}\s*([^<>=]+)$")


def _fast_interval(s: str) -> tuple[Any, bool, Any, bool] | None:
    """An interval (lo, lo_closed, hi, hi_closed) from ``(a, b]`` or a one-variable inequality."""
    b = _fast_bracket(s)
    if b is not None:
        if len(b[1]) != 2:
            return None
        return b[1][0], b[0] == "[", b[1][1], b[2] == "]"
    s = s.replace(r"\leq", r"\le").replace(r"\geq", r"\ge").strip()
    if (m := _INEQ3.match(s)) is not None:
        lo, hi = _endpoint(m.group(1)), _endpoint(m.group(5))
        r1, r2 = _REL[m.group(2)], _REL[m.group(4)]
        if lo is None or hi is None or r1[0] != r2[0]:
            return None
        if r1[0] == ">":
            return hi, r2[1], lo, r1[1]
        return lo, r1[1], hi, r2[1]
    if (m := _INEQ1.match(s)) is not None:
        v = _endpoint(m.group(3))
        op, closed = _REL[m.group(2)]
    elif (m := _INEQ2.match(s)) is not None:
        v = _endpoint(m.group(1))
        op, closed = _REL[m.group(2)]
        op = "<" if op == ">" else ">"
    else:
        return None
    if v is None or isinstance(v, int) and not isinstance(v, Fraction):
        return None
    return (-1, False, v, closed) if op == "<" else (v, closed, 1, False)


def _same_endpoint(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


_SURD = re.compile(r"^(-?)\s*(\d+)?\s*(?:\\sqrt\s*\{\s*(\d+)\s*\}|\\sqrt\s*(\d))?$")


def _surd_part(s: str) -> tuple[Fraction, int] | None:
    m = _SURD.match(s.strip())
    if m is None or not (m.group(2) or m.group(3) or m.group(4)):
        return None
    coef = Fraction(int(m.group(2))) if m.group(2) else Fraction(1)
    if m.group(1):
        coef = -coef
    rad = int(m.group(3) or m.group(4) or 1)
    if rad > 10**8:
        return None  # trial division stays cheap; bigger radicands go to sympy
    k, f = 1, 2
    while f * f <= rad:  # pull square factors out: sqrt(12) = 2 sqrt(3)
        while rad % (f * f) == 0:
            rad //= f * f
            k *= f
        f += 1
    return coef * k, rad


def _fast_surd(s: str) -> tuple[Fraction, int] | None:
    """``c\\sqrt{n}``, ``\\frac{a\\sqrt{n}}{b}``, ``\\frac{a}{b\\sqrt{n}}``, ``c\\sqrt{n}/b``: (coef, squarefree n)."""
    if r"\sqrt" not in s or len(s) > 80:
        return None
    s = s.strip()
    neg = s.startswith("-")
    if neg:
        s = s[1:].strip()
    m = re.match(r"^\\frac\s*\{([^{}]*(?:\{\d+\})?[^{}]*)\}\s*\{([^{}]*(?:\{\d+\})?[^{}]*)\}$", s) or re.match(
        r"^([^/]+)/\s*([^/]+)$", s
    )
    if m is not None:
        num, den = _surd_part(m.group(1)), _surd_part(m.group(2))
        if num is None or den is None or den[0] == 0:
            return None
        # (a sqrt p) / (b sqrt q) = a/(b q) sqrt(p q), then reduce
        coef, rad = _surd_part(r"\sqrt{%d}" % (num[1] * den[1]))  # type: ignore[misc]
        value = num[0] / (den[0] * den[1]) * coef
    else:
        part = _surd_part(s)
        if part is None:
            return None
        value, rad = part
    if rad == 1:
        return None  # a plain rational: the number path decides it
    return (-value if neg else value), rad


class _Decision:
    __slots__ = ("passed", "reason", "details")

    def __init__(self, passed: bool, reason: str, details: dict[str, Any] | None = None) -> None:
        self.passed = passed
        self.reason = reason
        self.details = details or {}


def _fast_compare(pred: str, gold: str) -> _Decision | None:
    """Decide cheaply and exactly, or return None to defer to the sympy path."""
    if pred == gold:
        return _Decision(True, OK, {"path": "string"})
    if pred.replace(" ", "") == gold.replace(" ", ""):
        return _Decision(True, OK, {"path": "string"})
    # choices
    if _is_choice_gold(gold):
        g = gold.strip("() ")
        letters = _choice_letters(pred)
        if letters is None:
            return _Decision(False, WRONG_ANSWER, {"path": "choice"})
        if len(letters) > 1:
            return _Decision(False, HEDGED_ANSWER, {"path": "choice", "letters": letters})
        return _Decision(letters[0] == g, OK if letters[0] == g else WRONG_ANSWER, {"path": "choice"})
    # text
    if _is_text_gold(gold):
        if _norm_text(pred) == _norm_text(gold):
            return _Decision(True, OK, {"path": "text"})
        if _TEXT.match(pred) is not None and len(_norm_text(gold)) > 3:
            return _Decision(False, WRONG_ANSWER, {"path": "text"})
        return None
    # intervals, tuples, inequalities with numeric endpoints
    gb = _fast_bracket(gold)
    if gb is not None:
        pb = _fast_bracket(_strip_var(pred)) if pred[:1] in "([" or _var_of(pred) else None
        if pb is not None:
            eq = gb[0] == pb[0] and gb[2] == pb[2] and len(gb[1]) == len(pb[1]) and all(
                _same_endpoint(x, y) for x, y in zip(gb[1], pb[1], strict=True)
            )
            return _Decision(eq, OK if eq else WRONG_ANSWER, {"path": "fast_bracket"})
    gi = _fast_interval(gold)
    if gi is not None:
        pi = _fast_interval(pred)
        if pi is not None:
            eq = all(_same_endpoint(x, y) for x, y in zip(gi, pi, strict=True))
            return _Decision(eq, OK if eq else WRONG_ANSWER, {"path": "fast_interval"})
    gs = _fast_surd(gold)
    if gs is not None:
        ps = _fast_surd(_strip_var(pred))
        if ps is not None:
            return _Decision(gs == ps, OK if gs == ps else WRONG_ANSWER, {"path": "fast_surd"})
        if _fast_number(_strip_var(pred)) is not None:
            return _Decision(False, WRONG_ANSWER, {"path": "fast_surd"})  # a rational never equals c*sqrt(n)
    # numbers
    gv, pv = _var_of(gold), _var_of(pred)
    if gv and pv and gv != pv:
        return _Decision(False, WRONG_ANSWER, {"path": "fast", "error": "different variable"})
    g = _fast_number(_strip_var(gold))
    if g is None:
        gold_items = _list_items(gold)
        if len(gold_items) > 1 and not gold.startswith(("(", "[")):
            gnums = [_fast_number(_strip_var(i)) for i in gold_items]
            if all(x is not None for x in gnums):
                pitems = _list_items(pred)
                if pred.startswith(("(", "[")):
                    return None
                pnums = [_fast_number(_strip_var(i)) for i in pitems]
                if all(x is not None for x in pnums):
                    gs = {(x.value, x.base) for x in gnums}  # type: ignore[union-attr]
                    ps = {(x.value, x.base) for x in pnums}  # type: ignore[union-attr]
                    return _Decision(gs == ps, OK if gs == ps else WRONG_ANSWER, {"path": "fast_list"})
        return None
    p = _fast_number(_strip_var(pred))
    if p is not None:
        eq = _num_equal(p, g)
        if not eq and g.unit and g.unit[0] == "angle" and not p.unit:
            return None  # "π/3" for 60°: sympy converts
        if not eq and p.unit and p.unit[0] == "angle" and not g.unit:
            return _Decision(False, WRONG_ANSWER, {"path": "fast"})
        return _Decision(eq, OK if eq else WRONG_ANSWER, {"path": "fast"})
    items = _list_items(pred)
    if len(items) > 1:
        nums = [_fast_number(_strip_var(i)) for i in items]
        if all(x is not None for x in nums):
            distinct = {(x.value, x.base) for x in nums}  # type: ignore[union-attr]
            if len(distinct) > 1:
                return _Decision(False, HEDGED_ANSWER, {"path": "fast"})
            return _Decision(_num_equal(nums[0], g), OK if _num_equal(nums[0], g) else WRONG_ANSWER)  # type: ignore[arg-type]
    return None


# ---------------------------------------------------------------------------------------------
# Sympy path (runs inside a worker process)
# ---------------------------------------------------------------------------------------------


class _TooLarge(Exception):
    pass


class _FalseEquation(Exception):
    pass


_sympy_mod: Any = None


def _sp() -> Any:
    global _sympy_mod
    if _sympy_mod is None:
        import sympy

        _sympy_mod = sympy
    return _sympy_mod


def _decimals_to_fractions(s: str) -> str:
    def rep_repeat(m: re.Match[str]) -> str:
        v = _pure_number(m.group(0))
        return r"(\frac{%d}{%d})" % (v.numerator, v.denominator) if v is not None else m.group(0)

    s = re.sub(
        r"(?<![\d.])\d*\.\d*\s*(?:\\overline\s*\{\s*\d+\s*\}|\\overline\s*\d|\\dot\s*\{?\s*\d\s*\}?|\\bar\s*\{\s*\d+\s*\})",
        rep_repeat,
        s,
    )
    s = _THOUSANDS.sub(lambda m: m.group(1) + _THOUSANDS_SEP.sub("", m.group(2)), s)

    def rep_sci(m: re.Match[str]) -> str:
        mant = _dec(m.group(1))
        return r"(\frac{%d}{%d}\cdot 10^{%d})" % (mant.numerator, mant.denominator, int(m.group(2)))

    s = re.sub(r"(?<![\w.])(\d+\.?\d*|\.\d+)[eE]([+-]?\d{1,4})(?![\w.])", rep_sci, s)

    def rep_dec(m: re.Match[str]) -> str:
        v = _dec(m.group(0))
        return r"(\frac{%d}{%d})" % (v.numerator, v.denominator)

    return re.sub(r"(?<![\d.\w])(?:\d+\.\d+|\.\d+)(?![\d.])", rep_dec, s)


def _mixed_numbers(s: str) -> str:
    def rep(m: re.Match[str]) -> str:
        whole, num, den = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if 0 < num < den:
            return r"(%d+\frac{%d}{%d})" % (whole, num, den)
        return m.group(0)

    return re.sub(r"(?<![\d.^_}{\w])(\d+)\s*\\frac\{(\d+)\}\{(\d+)\}", rep, s)


_TRIG = re.compile(r"\\(?:sin|cos|tan|cot|sec|csc)")


def _prepare(s: str) -> str:
    """Turn a cleaned answer into LaTeX that latex2sympy reads exactly."""
    s = _CURRENCY_PREFIX.sub("", s)
    s = _decimals_to_fractions(s)
    s = _mixed_numbers(s)
    s = re.sub(r"(\d)\s*%", r"\1\\cdot\\frac{1}{100}", s)
    s = s.replace("%", r"\cdot\frac{1}{100}")
    s = re.sub(r"(?<![a-zA-Z\\])j(?![a-zA-Z])", "i", s) if re.search(r"(?<![a-zA-Z\\])j(?![a-zA-Z])", s) and not re.search(r"(?<![a-zA-Z\\])i(?![a-zA-Z])", s) else s
    # trailing unit words are not mathematics
    s = re.sub(r"(?<=[\d}])\s+(?:[a-zA-Z]{2,}\s*)+$", "", s)
    return s


def _parse_one(s: str) -> Any:
    from latex2sympy2_extended import latex2sympy
    from latex2sympy2_extended.latex2sympy2 import ConversionConfig
    from latex2sympy2_extended.math_normalization import NormalizationConfig

    norm = NormalizationConfig(basic_latex=True, units=False, malformed_operators=True, nits=False, boxed="none", equations=False)
    conv = ConversionConfig(interpret_as_mixed_fractions=True, interpret_simple_eq_as_assignment=False)
    return latex2sympy(s, normalization_config=norm, conversion_config=conv)


def _check_size(expr: Any) -> float:
    """An upper bound on log2 |value| of a sympy expression; raises _TooLarge past MAX_BITS."""
    sp = _sp()
    if isinstance(expr, (int, float)):
        return _pymath.log2(abs(expr) + 2)
    if not isinstance(expr, sp.Basic):
        return 0.0
    if expr.is_Integer:
        return float(abs(int(expr)).bit_length())
    if expr.is_Rational:
        return float(max(abs(expr.p).bit_length(), expr.q.bit_length()))
    if expr.is_Float or expr.is_Symbol or expr.is_NumberSymbol or not expr.args:
        return 8.0
    if isinstance(expr, sp.Pow):
        b, e = expr.args
        lb = _check_size(b)
        le = _check_size(e)
        if e.is_number and e.free_symbols == set():
            if le > 40:
                if b.is_number and (b in (0, 1, -1) or b == sp.S.Infinity):
                    return 1.0
                raise _TooLarge("exponent too large")
            try:
                ev = abs(complex(sp.N(e, 15)))
            except Exception:
                ev = 2.0**le
            bits = lb * max(ev, 1.0)
            if bits > MAX_BITS:
                raise _TooLarge("power too large")
            return bits
        if e.is_number and le > 14:
            raise _TooLarge("symbolic power too large")
        return lb * 8
    if isinstance(expr, (sp.factorial, sp.factorial2, sp.binomial, sp.gamma, sp.subfactorial)):
        sizes = [_check_size(a) for a in expr.args]
        for a in expr.args:
            if a.is_number and a.free_symbols == set():
                if max(sizes) > 20:
                    raise _TooLarge("factorial too large")
                try:
                    n = abs(complex(sp.N(a, 15)))
                except Exception:
                    n = float(MAX_FACTORIAL + 1)
                if n > MAX_FACTORIAL:
                    raise _TooLarge("factorial too large")
        return MAX_FACTORIAL * 13.0
    sizes = [_check_size(a) for a in expr.args]
    if isinstance(expr, sp.Mul):
        total = sum(sizes)
        if total > MAX_BITS:
            raise _TooLarge("product too large")
        return total
    return max(sizes, default=0.0) + _pymath.log2(len(sizes) + 1)


class _Ans:
    """A parsed answer: ``kind`` in value|set|tuple|eq|rel|matrix|text, and sympy objects."""

    __slots__ = ("kind", "obj", "raw", "degrees")

    def __init__(self, kind: str, obj: Any, raw: str, degrees: bool = False) -> None:
        self.kind = kind
        self.obj = obj
        self.raw = raw
        self.degrees = degrees


def _split_eq(s: str) -> list[str]:
    parts, depth, last = [], 0, 0
    i = 0
    while i < len(s):
        c = s[i]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "=" and depth == 0 and not (i > 0 and s[i - 1] in "<>!\\") and not s[i + 1 : i + 2] == "=":
            parts.append(s[last:i])
            last = i + 1
        i += 1
    parts.append(s[last:])
    return [p.strip() for p in parts]


def _to_sympy_value(s: str) -> Any:
    expr = _parse_one(s)
    _check_size(expr)
    sp = _sp()
    if isinstance(expr, sp.Basic):
        i_sym = sp.Symbol("i")
        if i_sym in expr.free_symbols:
            expr = expr.subs(i_sym, sp.I)
        for f in expr.atoms(sp.Float):
            expr = expr.subs(f, sp.Rational(str(f)))
    return expr


@functools.lru_cache(maxsize=4096)
def _parse_cached(s: str, degrees_mode: str) -> _Ans | BaseException:
    try:
        return _parse_answer(s, degrees_mode=degrees_mode)
    except (_TooLarge, _FalseEquation, ValueError, TypeError, AttributeError, Exception) as e:  # noqa: BLE001
        return e


def _parse(s: str, degrees_mode: str = "strip") -> _Ans:
    r = _parse_cached(s, degrees_mode)
    if isinstance(r, BaseException):
        raise r
    return r


def _parse_answer(s: str, *, degrees_mode: str = "strip") -> _Ans:
    """Parse a cleaned answer string into an _Ans (may raise on unparseable input)."""
    sp = _sp()
    raw = s
    has_deg = "°" in s
    if has_deg:
        if _TRIG.search(s) or degrees_mode == "convert":
            s = s.replace("°", r"\cdot\frac{\pi}{180}")
        else:
            s = s.replace("°", "")
    if s == r"\emptyset":
        return _Ans("set", sp.EmptySet, raw)
    if s == r"\mathbb{R}":
        return _Ans("set", sp.Reals, raw)
    s = _prepare(s)
    # lists joined by "or"/"and" words, or a bare comma list
    items = _list_items(s) if not s.startswith(("(", "[", r"\begin")) else [s]
    if len(items) > 1 and not (s.startswith(r"\{") and s.endswith(r"\}") and len(_split_top(s[2:-2])) == 1 and _OR_AND.search(s) is None):
        parsed = [_parse_answer(i, degrees_mode=degrees_mode) for i in items]
        if all(p.kind == "rel" for p in parsed) and _OR_AND.search(s) and re.search(r"\band\b|\\text\{\s*and", s) and not re.search(r"\bor\b", s):
            return _Ans("rel", sp.And(*[p.obj for p in parsed]), raw, has_deg)
        if all(p.kind == "rel" for p in parsed):
            return _Ans("rel", sp.Or(*[p.obj for p in parsed]), raw, has_deg)
        return _Ans("list", parsed, raw, has_deg)
    parts = _split_eq(s)
    if len(parts) > 2:
        vals = [_to_sympy_value(p) for p in parts]
        last = vals[-1]
        for v in vals[:-1]:
            if isinstance(v, sp.Basic) and not v.free_symbols and isinstance(last, sp.Basic) and not last.free_symbols:
                if not _expr_equal(v, last):
                    raise _FalseEquation(raw)
        head = vals[0]
        if isinstance(head, sp.Basic) and head.free_symbols:
            return _Ans("eq", (head, last), raw, has_deg)
        return _wrap_value(last, raw, has_deg)
    if len(parts) == 2 and parts[0] and parts[1]:
        lhs, rhs = _to_sympy_value(parts[0]), _to_sympy_value(parts[1])
        lfree = getattr(lhs, "free_symbols", set())
        rfree = getattr(rhs, "free_symbols", set())
        if not lfree and not rfree and isinstance(lhs, sp.Basic) and isinstance(rhs, sp.Basic) and not isinstance(rhs, sp.Set):
            if not _expr_equal(lhs, rhs):
                raise _FalseEquation(raw)
            return _wrap_value(rhs, raw, has_deg)
        if isinstance(rhs, (sp.Set, sp.Tuple, sp.MatrixBase)) or (isinstance(lhs, sp.Symbol) and not rfree & {lhs}):
            # an assignment x = value; also comparable as an equation
            if isinstance(rhs, sp.Set | sp.Tuple | sp.MatrixBase):
                return _wrap_value(rhs, raw, has_deg)
            return _Ans("eq", (lhs, rhs), raw, has_deg)
        return _Ans("eq", (lhs, rhs), raw, has_deg)
    expr = _to_sympy_value(s)
    return _wrap_value(expr, raw, has_deg)


def _wrap_value(expr: Any, raw: str, deg: bool) -> _Ans:
    sp = _sp()
    if isinstance(expr, sp.MatrixBase):
        return _Ans("matrix", expr, raw, deg)
    if isinstance(expr, sp.Tuple):
        return _Ans("tuple", expr, raw, deg)
    if isinstance(expr, sp.Set):
        if isinstance(expr, sp.FiniteSet) and expr.args and all(isinstance(a, sp.core.relational.Relational) for a in expr.args):
            return _Ans("rel", sp.Or(*expr.args), raw, deg)
        return _Ans("set", expr, raw, deg)
    if isinstance(expr, (sp.core.relational.Relational, sp.And, sp.Or)) and not isinstance(expr, sp.Eq):
        return _Ans("rel", expr, raw, deg)
    if isinstance(expr, sp.Eq):
        if isinstance(expr.rhs, sp.Set | sp.Tuple):  # "x \in [1,2]" reads as Eq(x, set)
            return _wrap_value(expr.rhs, raw, deg)
        return _Ans("eq", (expr.lhs, expr.rhs), raw, deg)
    if isinstance(expr, sp.Basic):
        return _Ans("value", expr, raw, deg)
    raise ValueError(f"unsupported parse result {type(expr).__name__}")


def _expr_equal(a: Any, b: Any) -> bool:
    sp = _sp()
    if a == b:
        return True
    if not isinstance(a, sp.Basic) or not isinstance(b, sp.Basic):
        return False
    if isinstance(a, sp.Set) or isinstance(b, sp.Set):
        return _set_equal(a, b)
    if a.free_symbols or b.free_symbols:
        if not _points_agree(a, b):
            return False
        if a.free_symbols != b.free_symbols:
            d = sp.simplify(a - b)
            return d == 0
        d = a - b
        if sp.expand(d) == 0:
            return True
        return sp.simplify(d) == 0
    # numbers: rationals compare exactly; a rational never equals an irrational
    if a.is_Rational and b.is_Rational:
        return a == b
    if a.has(sp.oo, sp.zoo, -sp.oo) or b.has(sp.oo, sp.zoo, -sp.oo):
        return sp.simplify(a) == sp.simplify(b)
    d = sp.simplify(a - b)
    if d == 0:
        return True
    if a.is_Rational or b.is_Rational:
        other = b if a.is_Rational else a
        so = sp.nsimplify(other) if False else sp.simplify(other)
        return bool(so.is_Rational and so == (a if a.is_Rational else b))
    try:
        da = sp.N(d, 80)
        scale = max(1, abs(sp.N(a, 30)))
        if da.is_number and abs(da) < sp.Float(10) ** -60 * scale:
            return True
    except Exception:
        return False
    return False


_POINTS = ((Fraction(37, 11), Fraction(-5, 7)), (Fraction(13, 17), Fraction(29, 3)), (Fraction(-23, 9), Fraction(7, 19)))


def _points_agree(a: Any, b: Any) -> bool:
    """False only when a and b certainly differ at some sample point (a quick exact-enough reject).

    Evaluated with 30 significant digits by mpmath, so a difference above 1e-15 relative is real;
    anything undefined or non-numeric at a point proves nothing and is skipped.
    """
    sp = _sp()
    syms = sorted(a.free_symbols | b.free_symbols, key=lambda x: x.name)
    for i, (re_, im_) in enumerate(_POINTS):
        subs = {x: sp.Rational(re_.numerator + 3 * k, re_.denominator + k) for k, x in enumerate(syms)}
        try:
            va = sp.N(a, 30, subs=subs)
            vb = sp.N(b, 30, subs=subs)
            if not (va.is_number and vb.is_number) or va.has(sp.nan, sp.zoo) or vb.has(sp.nan, sp.zoo):
                continue
            diff = abs(complex(va - vb))
            scale = max(1.0, abs(complex(va)), abs(complex(vb)))
        except Exception:  # noqa: BLE001 - undefined at this point
            continue
        if diff > 1e-15 * scale:
            return False
    return True


def _ratio_constant_at_points(a: Any, b: Any) -> bool:
    """False when a/b certainly takes two different values (so a=0 and b=0 differ as curves)."""
    sp = _sp()
    syms = sorted(a.free_symbols | b.free_symbols, key=lambda x: x.name)
    seen: complex | None = None
    for re_, _ in _POINTS:
        subs = {x: sp.Rational(re_.numerator + 3 * k, re_.denominator + k) for k, x in enumerate(syms)}
        try:
            va, vb = complex(sp.N(a, 30, subs=subs)), complex(sp.N(b, 30, subs=subs))
        except Exception:  # noqa: BLE001
            continue
        if vb == 0:
            if va != 0:
                return False
            continue
        r = va / vb
        if seen is not None and abs(r - seen) > 1e-12 * max(1.0, abs(seen)):
            return False
        seen = r
    return True


def _rel_to_set(obj: Any) -> Any:
    sp = _sp()
    syms = obj.free_symbols
    if len(syms) != 1:
        raise ValueError("inequality in several variables")
    (x,) = syms
    rel = sp.core.relational
    if isinstance(obj, rel.Relational) and not isinstance(obj, sp.Eq | sp.Ne):
        lhs, rhs = obj.lhs, obj.rhs
        op = obj.rel_op
        if rhs == x and lhs.is_number:
            lhs, rhs, op = rhs, lhs, {"<": ">", ">": "<", "<=": ">=", ">=": "<="}[op]
        if lhs == x and rhs.is_number and rhs.is_real:
            if op == "<":
                return sp.Interval.open(-sp.oo, rhs)
            if op == "<=":
                return sp.Interval(-sp.oo, rhs)
            if op == ">":
                return sp.Interval.open(rhs, sp.oo)
            if op == ">=":
                return sp.Interval(rhs, sp.oo)
    if isinstance(obj, sp.And):
        return sp.Intersection(*[_rel_to_set(a) for a in obj.args])
    if isinstance(obj, sp.Or):
        return sp.Union(*[_rel_to_set(a) for a in obj.args])
    xr = sp.Symbol(x.name, real=True)
    return obj.subs(x, xr).as_set()


def _as_set(ans: _Ans) -> Any:
    sp = _sp()
    if ans.kind == "set":
        return ans.obj
    if ans.kind == "rel":
        return _rel_to_set(ans.obj)
    if ans.kind == "tuple" and len(ans.obj) == 2:
        a, b = ans.obj
        if a.is_real is not False and b.is_real is not False and (a.is_infinite or b.is_infinite or bool(a < b)):
            return sp.Interval.open(a, b)
    if ans.kind == "list":
        sets = [_as_set(i) for i in ans.obj]
        return sp.Union(*sets)
    if ans.kind == "value":
        return sp.FiniteSet(ans.obj)
    if ans.kind == "eq":
        return sp.FiniteSet(ans.obj[1])
    raise ValueError("not a set")


def _set_equal(a: Any, b: Any) -> bool:
    sp = _sp()
    if a == b:
        return True
    if isinstance(a, sp.FiniteSet) and isinstance(b, sp.FiniteSet):
        return _multiset_match(list(a.args), list(b.args))
    try:
        d1 = sp.Complement(a, b)
        d2 = sp.Complement(b, a)
        return d1 == sp.EmptySet and d2 == sp.EmptySet
    except Exception:
        return False


def _multiset_match(xs: list[Any], ys: list[Any]) -> bool:
    xs = _dedupe(xs)
    ys = _dedupe(ys)
    if len(xs) != len(ys):
        return False
    used = [False] * len(ys)
    for x in xs:
        for j, y in enumerate(ys):
            if not used[j] and _expr_equal(x, y):
                used[j] = True
                break
        else:
            return False
    return True


def _dedupe(xs: list[Any]) -> list[Any]:
    out: list[Any] = []
    for x in xs:
        if not any(x == y for y in out):
            out.append(x)
    return out


def _answers_equal(p: _Ans, g: _Ans) -> bool:
    sp = _sp()
    if g.kind == "value" and p.kind == "value":
        return _expr_equal(p.obj, g.obj)
    if g.kind == "matrix" or p.kind == "matrix":
        if p.kind != g.kind or p.obj.shape != g.obj.shape:
            return False
        return all(_expr_equal(x, y) for x, y in zip(p.obj, g.obj, strict=True))
    if g.kind == "tuple" and p.kind == "tuple":
        return len(p.obj) == len(g.obj) and all(_expr_equal(x, y) for x, y in zip(p.obj, g.obj, strict=True))
    if g.kind == "eq" and p.kind == "eq":
        e1 = p.obj[0] - p.obj[1]
        e2 = g.obj[0] - g.obj[1]
        if e2 == 0 or e1 == 0:
            return _expr_equal(e1, e2)
        if not _ratio_constant_at_points(e1, e2):
            return False
        q = sp.cancel(e1 / e2)
        if q.free_symbols:
            q = sp.simplify(q)
        return bool(q.is_number and not q.free_symbols and q != 0 and q.is_finite)
    if g.kind == "eq" and p.kind == "value":
        return _is_name(g.obj[0]) and _expr_equal(p.obj, g.obj[1])
    if p.kind == "eq" and g.kind == "value":
        return _is_name(p.obj[0]) and _expr_equal(p.obj[1], g.obj)
    if g.kind == "list" and p.kind == "list":
        return _multiset_match_ans(p.obj, g.obj)
    if g.kind == "list" and p.kind == "set" and isinstance(p.obj, sp.FiniteSet):
        return _multiset_match_ans([_Ans("value", x, "") for x in p.obj.args], g.obj)
    if p.kind == "list" and g.kind == "set" and isinstance(g.obj, sp.FiniteSet):
        return _multiset_match_ans(p.obj, [_Ans("value", x, "") for x in g.obj.args])
    if p.kind == "tuple" and g.kind == "list" or p.kind == "list" and g.kind == "tuple":
        return False
    return _set_equal(_as_set(p), _as_set(g))


def _is_name(e: Any) -> bool:
    """A left-hand side that names the asked quantity: ``x``, ``a_1``, ``f(x)``."""
    sp = _sp()
    from sympy.core.function import AppliedUndef

    return isinstance(e, sp.Symbol | AppliedUndef)


def _multiset_match_ans(ps: list[_Ans], gs: list[_Ans]) -> bool:
    used = [False] * len(gs)
    matched_p = 0
    for p in ps:
        for j, g in enumerate(gs):
            if _answers_equal(p, g):
                used[j] = True
                matched_p += 1
                break
        else:
            return False
    return all(used)


def _is_multi(a: _Ans) -> bool:
    sp = _sp()
    if a.kind == "list":
        return True
    if a.kind == "set" and isinstance(a.obj, sp.FiniteSet) and len(a.obj) > 1:
        return True
    if a.kind == "eq" and isinstance(a.obj[1], sp.FiniteSet) and len(a.obj[1]) > 1:
        return True
    return False


def _slow_compare(pred: str, gold: str) -> tuple[bool, str, dict[str, Any]]:
    """Parse both answers with latex2sympy and compare them by the policy (in a worker)."""
    try:
        g = _parse(gold)
    except _TooLarge:
        return False, TOO_LARGE, {"side": "gold"}
    except _FalseEquation:
        return False, UNPARSEABLE, {"side": "gold", "error": "false equation"}
    except Exception as e:  # noqa: BLE001 - a gold the parser cannot read
        g = None
        gold_error = f"{type(e).__name__}: {e}"[:200]
    try:
        p = _parse(pred)
    except _TooLarge:
        return False, TOO_LARGE, {}
    except _FalseEquation:
        return False, WRONG_ANSWER, {"error": "false equation"}
    except Exception as e:  # noqa: BLE001
        if g is None and _norm_text(pred) == _norm_text(gold) and _norm_text(gold):
            return True, OK, {"path": "text"}
        return False, UNPARSEABLE, {"error": f"{type(e).__name__}: {e}"[:200]}
    if g is None:
        return False, WRONG_ANSWER, {"gold_error": gold_error}
    try:
        gmulti = _is_multi(g) or g.kind in {"set", "rel"} and not (
            isinstance(g.obj, _sp().FiniteSet) and len(g.obj) <= 1
        )
        if _is_multi(p) and not gmulti and g.kind not in {"tuple", "matrix"}:
            return False, HEDGED_ANSWER, {}
        if _answers_equal(p, g):
            return True, OK, {"path": "sympy"}
        # degrees on one side only: 180° is π
        if p.degrees != g.degrees:
            p2 = _parse(pred, "convert") if p.degrees else p
            g2 = _parse(gold, "convert") if g.degrees else g
            if _answers_equal(p2, g2):
                return True, OK, {"path": "sympy", "converted": "degrees"}
        return False, WRONG_ANSWER, {"path": "sympy"}
    except _TooLarge:
        return False, TOO_LARGE, {}
    except Exception as e:  # noqa: BLE001
        return False, WRONG_ANSWER, {"path": "sympy", "error": f"{type(e).__name__}: {e}"[:200]}


def _canonical_expr(ans: str) -> str | None:
    """Sympy canonical string for an answer (in a worker)."""
    sp = _sp()
    try:
        a = _parse_answer(ans)
    except Exception:  # noqa: BLE001
        return None
    try:
        if a.kind == "value":
            return "v:" + sp.srepr(sp.nsimplify(sp.simplify(a.obj), rational=True))
        if a.kind == "list":
            keys = sorted({sp.srepr(sp.simplify(i.obj)) if i.kind == "value" else i.raw for i in a.obj})
            return "set:" + "|".join(keys)
        if a.kind in {"set", "rel"}:
            return "set:" + sp.srepr(_as_set(a))
        if a.kind == "eq":
            lhs, rhs = a.obj
            if isinstance(lhs, sp.Symbol):
                return "v:" + sp.srepr(sp.simplify(rhs))
            return "eq:" + sp.srepr(sp.simplify(lhs - rhs))
        return a.kind + ":" + sp.srepr(a.obj)
    except Exception:  # noqa: BLE001
        return None


# ---------------------------------------------------------------------------------------------
# Worker processes
# ---------------------------------------------------------------------------------------------


def _worker_main(rfd: int, wfd: int, memory_mb: int) -> None:
    """Entry point of a checker subprocess: read tasks, answer them, forever."""
    import resource

    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        try:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (ValueError, OSError):
            pass
    sys.set_int_max_str_digits(100_000)
    conn_in = Connection(rfd, writable=False)
    conn_out = Connection(wfd, readable=False)
    _sp()
    for warm in ("1", r"\frac{1}{2}", r"(1,\infty)", r"\{1,2\}", r"x^2+2x+1", r"y=3x-1", r"x>2", r"2\sqrt{3}"):
        _parse_one(warm)  # import the parser and warm its prediction cache before announcing readiness
    conn_out.send(("ready", os.getpid()))
    while True:
        try:
            task = conn_in.recv()
        except (EOFError, OSError):
            return
        kind = task[0]
        try:
            if kind == "cmp":
                result: Any = _slow_compare(task[1], task[2])
            elif kind == "canon":
                result = _canonical_expr(task[1])
            elif kind == "_sleep":  # for tests of the kill-on-timeout path
                time.sleep(task[1])
                result = (False, TIMEOUT, {})
            elif kind == "_alloc":  # for tests of the memory cap
                result = (True, OK, {"bytes": len(bytearray(task[1] * 1024 * 1024))})
            else:
                result = None
        except MemoryError:
            result = (False, TOO_LARGE, {"error": "memory"}) if kind != "canon" else None
        except RecursionError:
            result = (False, TOO_LARGE, {"error": "recursion"}) if kind == "cmp" else None
        except Exception as e:  # noqa: BLE001 - never die on a task
            result = (False, UNPARSEABLE, {"error": f"{type(e).__name__}: {e}"[:200]}) if kind == "cmp" else None
        conn_out.send(("done", result))


_PKG_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _Worker:
    """One checker subprocess, talked to over two pipes; killed on timeout."""

    def __init__(self, memory_mb: int) -> None:
        r1, w1 = os.pipe()
        r2, w2 = os.pipe()
        env = dict(os.environ)
        env["PYTHONPATH"] = _PKG_ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        code = "import sys; from verifiers.math import _worker_main; _worker_main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))"
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", code, str(r1), str(w2), str(memory_mb)],
                pass_fds=(r1, w2),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                close_fds=True,
            )
        finally:
            os.close(r1)
            os.close(w2)
        self.out = Connection(w1, readable=False)
        self.inp = Connection(r2, writable=False)
        self.ready = False
        self.started = time.monotonic()
        self.memory_mb = memory_mb

    def wait_ready(self, timeout: float = 120.0) -> bool:
        if self.ready:
            return True
        if self.inp.poll(timeout):
            try:
                msg = self.inp.recv()
            except (EOFError, OSError):
                return False
            self.ready = msg[0] == "ready"
        return self.ready

    def kill(self) -> None:
        try:
            self.proc.kill()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for c in (self.out, self.inp):
            try:
                c.close()
            except OSError:
                pass

    def alive(self) -> bool:
        return self.proc.poll() is None


class _Pool:
    """A small persistent set of workers shared by every thread of this process."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Condition()
        self.idle: list[_Worker] = []
        self.count = 0
        self.max_workers = max(1, min(4, os.cpu_count() or 1))

    def checkout(self, memory_mb: int, wait_s: float = 120.0) -> _Worker | None:
        deadline = time.monotonic() + wait_s
        with self.lock:
            while True:
                while self.idle:
                    w = self.idle.pop()
                    if w.alive() and w.memory_mb == memory_mb:
                        return w
                    self.count -= 1
                    w.kill()
                if self.count < self.max_workers:
                    self.count += 1
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.lock.wait(left)
        try:
            return _Worker(memory_mb)
        except Exception:
            with self.lock:
                self.count -= 1
                self.lock.notify()
            raise

    def prestart(self, n: int, memory_mb: int) -> int:
        """Start workers until ``n`` are idle and ready (capped by max_workers); returns how many."""
        started: list[_Worker] = []
        for _ in range(min(n, self.max_workers)):
            with self.lock:
                if self.count >= self.max_workers:
                    break
                self.count += 1
            started.append(_Worker(memory_mb))
        for w in started:
            if w.wait_ready(60.0):
                self.checkin(w)
            else:
                self.discard(w)
        with self.lock:
            return len(self.idle)

    def borrow(self, n: int, memory_mb: int) -> list[_Worker]:
        """Take up to ``n`` idle workers out of the pool and start the rest (for a batch)."""
        out: list[_Worker] = []
        with self.lock:
            while self.idle and len(out) < n:
                w = self.idle.pop()
                self.count -= 1
                if w.alive() and w.memory_mb == memory_mb:
                    out.append(w)
                else:
                    w.kill()
            self.lock.notify_all()
        out.extend(_Worker(memory_mb) for _ in range(n - len(out)))
        return out

    def give_back(self, workers: list[_Worker]) -> None:
        """Keep borrowed workers that are alive and not busy (up to max_workers); kill the rest."""
        with self.lock:
            for w in workers:
                if self.pid == os.getpid() and w.alive() and self.count < self.max_workers:
                    self.idle.append(w)
                    self.count += 1
                else:
                    w.kill()
            self.lock.notify_all()

    def checkin(self, w: _Worker) -> None:
        with self.lock:
            self.idle.append(w)
            self.lock.notify()

    def discard(self, w: _Worker) -> None:
        w.kill()
        with self.lock:
            self.count -= 1
            self.lock.notify()

    def close(self) -> None:
        with self.lock:
            for w in self.idle:
                w.kill()
            self.count -= len(self.idle)
            self.idle.clear()


_pool: _Pool | None = None
_pool_lock = threading.Lock()


def _get_pool() -> _Pool:
    global _pool
    with _pool_lock:
        if _pool is None or _pool.pid != os.getpid():
            _pool = _Pool()  # a forked child must not share its parent's pipes
        return _pool


@atexit.register
def _shutdown() -> None:
    if _pool is not None and _pool.pid == os.getpid():
        _pool.close()


def prestart_workers(n: int | None = None, memory_mb: int = DEFAULT_MEMORY_MB) -> int:
    """Start the shared checker workers now (they start lazily otherwise, ~2 s each on first use).

    Useful before a reward loop so the first ``verify_math`` calls do not pay the start-up.
    Returns the number of idle ready workers.
    """
    pool = _get_pool()
    return pool.prestart(n or pool.max_workers, memory_mb)


def _run_in_worker(task: tuple[Any, ...], timeout_s: float, memory_mb: int) -> tuple[bool, Any]:
    """Run one task in a pooled worker: (finished, result). A worker past the timeout is killed."""
    pool = _get_pool()
    w = pool.checkout(memory_mb)
    if w is None or not w.wait_ready(60.0):
        if w is not None:
            pool.discard(w)
        return False, "worker failed to start"
    try:
        w.out.send(task)
        if w.inp.poll(timeout_s):
            msg = w.inp.recv()
            pool.checkin(w)
            return True, msg[1]
    except (EOFError, OSError, BrokenPipeError):
        pass
    pool.discard(w)
    return False, None


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def _check_options(options: dict[str, Any]) -> None:
    unknown = set(options) - _KNOWN_OPTIONS
    if unknown:
        raise ValueError(f"unknown math verifier option(s): {', '.join(sorted(unknown))}")


def _prepare_gold(gold: str) -> str:
    if not isinstance(gold, str):
        if isinstance(gold, int | float | Fraction) and not isinstance(gold, bool):
            gold = str(gold)
        else:
            raise ValueError(f"gold answer must be a string, got {type(gold).__name__}")
    if not gold.strip():
        raise ValueError("gold answer is empty")
    boxes, _ = _find_boxes(gold)
    if boxes:
        gold = ", ".join(dict.fromkeys(_unwrap_box(b[2]) for b in boxes))
    return _clean(gold)


def _front(
    response: str, gold: str, require_think_close: bool = False
) -> tuple[Verdict | None, str | None, str, str | None]:
    """Extraction and fast path: (final Verdict or None, cleaned prediction, cleaned gold, extracted)."""
    g = _prepare_gold(gold)
    ex = _extract(response, require_think_close=require_think_close)
    if ex.answer is None:
        return Verdict.fail(ex.reason), None, g, None
    extracted = ex.answer
    if len(extracted) > MAX_ANSWER_CHARS:
        return Verdict.fail(TOO_LARGE, extracted=extracted[:200]), None, g, extracted
    p = _clean(extracted)
    if not p:
        return Verdict.fail(EMPTY_BOX, extracted=extracted), None, g, extracted
    d = _fast_compare(p, g)
    if d is not None:
        return _verdict(d.passed, d.reason, extracted, d.details), None, g, extracted
    return None, p, g, extracted


def _verdict(passed: bool, reason: str, extracted: str | None, details: dict[str, Any]) -> Verdict:
    if passed:
        return Verdict.ok(extracted=extracted, details=details)
    return Verdict.fail(reason, extracted=extracted, details=details)


def verify_math(response: str, gold: str, **options: Any) -> Verdict:
    """Check the final answer of ``response`` against ``gold`` by exact mathematical equality.

    Never raises on model output; raises ``ValueError`` on an empty/non-string gold or an unknown
    option. The sympy part runs in a pooled worker subprocess killed after ``timeout_s`` seconds,
    so the call is bounded from any thread.
    """
    _check_options(options)
    timeout_s = float(options.get("timeout_s", DEFAULT_TIMEOUT_S))
    memory_mb = int(options.get("memory_mb", DEFAULT_MEMORY_MB))
    v, p, g, extracted = _front(response, gold, bool(options.get("require_think_close", False)))
    if v is not None:
        return v
    done, result = _run_in_worker(_task_for(p or "", g), timeout_s, memory_mb)
    if not done or result is None:
        return Verdict.fail(TIMEOUT, extracted=extracted, details={"timeout_s": timeout_s})
    passed, reason, details = result
    return _verdict(passed, reason, extracted, details)


def verify_math_batch(
    pairs: Iterable[tuple[str, str]],
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    workers: int | None = None,
    **options: Any,
) -> list[Verdict]:
    """Verify many ``(response, gold)`` pairs; results in input order.

    Fast paths run in this process; the rest go to ``workers`` checker subprocesses (default: one
    per CPU). An item that runs past ``timeout_s`` gets ``Verdict.fail("timeout")``, its worker is
    killed and replaced, and the batch continues.
    """
    _check_options({**options, "timeout_s": timeout_s})
    memory_mb = int(options.get("memory_mb", DEFAULT_MEMORY_MB))
    require_close = bool(options.get("require_think_close", False))
    items = list(pairs)
    n_workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
    results: list[Verdict | None] = [None] * len(items)
    slow: deque[tuple[int, str, str, str | None]] = deque()
    fleet: list[_Worker] = []
    started = False
    pool = _get_pool()
    for idx, (response, gold) in enumerate(items):
        try:
            v, p, g, extracted = _front(response, gold, require_close)
        except ValueError as e:
            raise ValueError(f"pair {idx}: {e}") from e
        if v is not None:
            results[idx] = v
            continue
        slow.append((idx, p or "", g, extracted))
        if not started:
            # borrow idle workers from the shared pool (start the rest) while the fast pass goes on
            started = True
            fleet = pool.borrow(n_workers, memory_mb)
    if not slow:
        return [r if r is not None else Verdict.fail(TIMEOUT) for r in results]
    wanted = min(n_workers, len(slow))
    pool.give_back(fleet[wanted:])
    del fleet[wanted:]
    try:
        _dispatch(fleet, slow, results, timeout_s, memory_mb)
    except BaseException:
        for w in fleet:
            w.kill()
        raise
    pool.give_back(fleet)  # all idle now: the next batch or single call reuses them
    return [r if r is not None else Verdict.fail(TIMEOUT) for r in results]


def _dispatch(
    fleet: list[_Worker],
    slow: deque[tuple[int, str, str, str | None]],
    results: list[Verdict | None],
    timeout_s: float,
    memory_mb: int,
) -> None:
    """Feed the slow items to the fleet; on return every worker left in ``fleet`` is not busy."""
    busy: dict[int, tuple[_Worker, int, float, str | None]] = {}  # fd -> (worker, idx, deadline, extracted)
    starting: dict[int, _Worker] = {}
    idle: list[_Worker] = []
    for w in fleet:
        if w.ready:
            idle.append(w)
        else:
            starting[w.inp.fileno()] = w
    while slow or busy:
        while idle and slow:
            w = idle.pop()
            idx, p, g, extracted = slow.popleft()
            try:
                w.out.send(_task_for(p, g))
            except OSError:
                results[idx] = Verdict.fail(TIMEOUT, extracted=extracted)
                _replace(w, fleet, starting, memory_mb)
                continue
            busy[w.inp.fileno()] = (w, idx, time.monotonic() + timeout_s, extracted)
        if not busy and not starting:
            break
        now = time.monotonic()
        wait_for = min((d for _, _, d, _ in busy.values()), default=now + 60) - now
        conns = [w.inp for w in starting.values()] + [b[0].inp for b in busy.values()]
        ready = wait(conns, timeout=max(0.0, wait_for))
        for c in ready:
            fd = c.fileno()
            if fd in starting:
                w = starting.pop(fd)
                try:
                    msg = w.inp.recv()
                    w.ready = msg[0] == "ready"
                except (EOFError, OSError):
                    w.ready = False
                if w.ready:
                    idle.append(w)
                else:
                    log.warning("math checker worker failed to start")
                    w.kill()
                    fleet.remove(w)
                continue
            w, idx, _, extracted = busy.pop(fd)
            try:
                passed, reason, details = w.inp.recv()[1]
                results[idx] = _verdict(passed, reason, extracted, details)
                idle.append(w)
            except (EOFError, OSError, TypeError):
                results[idx] = Verdict.fail(TIMEOUT, extracted=extracted, details={"error": "worker died"})
                _replace(w, fleet, starting, memory_mb)
        now = time.monotonic()
        for fd, (w, idx, deadline, extracted) in list(busy.items()):
            if deadline <= now:
                del busy[fd]
                results[idx] = Verdict.fail(TIMEOUT, extracted=extracted, details={"timeout_s": timeout_s})
                _replace(w, fleet, starting, memory_mb)
        if not fleet and slow:
            while slow:
                idx, _, _, extracted = slow.popleft()
                results[idx] = Verdict.fail(TIMEOUT, extracted=extracted, details={"error": "no worker"})


def _task_for(pred: str, gold: str) -> tuple[Any, ...]:
    """The worker task for one comparison (a seam for tests that need a task that hangs)."""
    return ("cmp", pred, gold)


def _replace(w: _Worker, fleet: list[_Worker], starting: dict[int, _Worker], memory_mb: int) -> None:
    w.kill()
    if w in fleet:
        fleet.remove(w)
    nw = _Worker(memory_mb)
    fleet.append(nw)
    starting[nw.inp.fileno()] = nw


def canonical_answer(answer: str) -> str | None:
    """A canonical key for an extracted answer: equal answers map to the same string.

    Numbers become reduced fractions (``0.5``, ``\\frac{1}{2}``, ``2/4`` -> ``"1/2"``), choice
    letters ``"choice:B"``, lists sorted; other expressions use sympy's canonical form computed
    in a bounded worker; if that fails, the cleaned string. None for an empty answer.
    """
    if answer is None:
        return None
    s = _clean(str(answer))
    if not s:
        return None
    if _is_choice_gold(s):
        return "choice:" + s.strip("() ")
    n = _fast_number(_strip_var(s))
    if n is not None:
        key = f"{n.value.numerator}/{n.value.denominator}" if n.value.denominator != 1 else str(n.value.numerator)
        if n.base and n.base != 10:
            key += f"_{n.base}"
        if n.unit and not n.unit[0].startswith("other:") and n.unit[0] != "money":
            v = n.value * n.unit[1]
            key = f"{v.numerator}/{v.denominator}:{n.unit[0]}"
        return key
    items = _list_items(s)
    if len(items) > 1 and not s.startswith(("(", "[")):
        nums = [_fast_number(_strip_var(i)) for i in items]
        if all(x is not None for x in nums):
            vals = sorted({x.value for x in nums})  # type: ignore[union-attr]
            return "set:" + "|".join(f"{v.numerator}/{v.denominator}" for v in vals)
    if _TEXT.match(s) and len(s) > 3:
        return "text:" + _norm_text(s)
    done, result = _run_in_worker(("canon", s), DEFAULT_TIMEOUT_S, DEFAULT_MEMORY_MB)
    if done and result:
        return result
    return re.sub(r"\s+", "", s)
