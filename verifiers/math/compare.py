"""The in-process exact comparison: numbers, choices, text, numeric intervals and surds.

``fast_compare`` decides cheaply and exactly, or returns None to defer to the sympy path; it never
approximates, so a None is the only way a hard pair leaves this module.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from verifiers.math.normalize import TEXT_ANSWER, list_items, match_paren, norm_text, split_top, strip_var, var_of
from verifiers.math.numbers import Units, fast_number, num_equal
from verifiers.math.powers import certain, log2_size, power_factors
from verifiers.math.reasons import HEDGED_ANSWER, OK, TOO_LARGE, WRONG_ANSWER

_CHOICE = re.compile(r"^\(?\s*([A-J])\s*\)?(?:[\s.:)\\,]|$)")
_CHOICE_WORD = re.compile(r"(?i)^(?:option|choice|answer)\s*:?\s*")
_RATIO = re.compile(r"\s*\d+(?:\.\d+)?(?:\s*:\s*\d+(?:\.\d+)?)+\s*")


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


def is_choice_gold(g: str) -> bool:
    """Whether a cleaned gold is one choice letter, ``B`` or ``(B)``."""
    return re.fullmatch(r"\(?\s*[A-J]\s*\)?", g) is not None


def _is_text_gold(g: str) -> bool:
    """Gold answers that are words, not mathematics (``Monday``, ``yes``, ``isosceles triangle``)."""
    if TEXT_ANSWER.match(g) is None:
        return False
    words = g.split()
    return any(len(w) >= 3 for w in words) or g.lower() in {"no", "yes", "on", "up"}


_INF = {r"\infty": 1, r"+\infty": 1, r"-\infty": -1, "oo": 1, "-oo": -1, "infinity": 1, "-infinity": -1}


def _endpoint(s: str) -> Fraction | int | None:
    """A fast number, or +-1 standing for +-infinity (as an int tag, never a Fraction)."""
    s = s.replace(" ", "")
    if s in _INF:
        return _INF[s]
    n = fast_number(s)
    if n is None or n.unit is not None or n.base is not None:
        return None
    return n.value


def _fast_bracket(s: str) -> tuple[str, list[Any], str] | None:
    """``(a, b)``, ``[a, b)``, ``(a, b, c)`` with numeric entries: (open, entries, close)."""
    if len(s) < 5 or s[0] not in "([" or s[-1] not in ")]" or match_paren(s) != len(s):
        return None
    items = split_top(s[1:-1])
    if len(items) < 2:
        return None
    vals = [_endpoint(i) for i in items]
    if any(v is None for v in vals):
        return None
    return s[0], vals, s[-1]


_REL = {
    "<": ("<", False),
    ">": (">", False),
    r"\le": ("<", True),
    r"\ge": (">", True),
    r"\leq": ("<", True),
    r"\geq": (">", True),
}
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


def _compare_powers(pred: str, gold: str) -> Decision | None:
    """Equal factorisations are equal numbers. Different ones are different numbers when both are
    full prime factorisations; an answer astronomically larger than a gold that is not keeps the
    ``too_large`` verdict of the size bounds."""
    pf = power_factors(pred) if "^" in pred else _literal_factors(pred)
    gf = power_factors(gold) if "^" in gold else _literal_factors(gold)
    if pf is None or gf is None:
        return None
    if pf == gf:
        return Decision(True, OK, {"path": "powers"})
    if not (certain(pf) and certain(gf)):
        return None
    from verifiers.math.symbolic import MAX_BITS

    if log2_size(pf) > MAX_BITS >= log2_size(gf):
        return Decision(False, TOO_LARGE, {"path": "powers"})
    return Decision(False, WRONG_ANSWER, {"path": "powers"})


def _literal_factors(s: str) -> dict[int, int] | None:
    """A positive integer literal (thousands separators allowed) as powers, for ``2^{100}`` against
    its digits."""
    n = fast_number(s)
    if n is None or n.unit or n.base or n.written is not None or n.value <= 0 or n.value.denominator != 1:
        return None
    return power_factors(f"{n.value.numerator}^1")


class Decision:
    """What the fast path decided: passed, the reason, and details for the verdict."""

    __slots__ = ("passed", "reason", "details")

    def __init__(self, passed: bool, reason: str, details: dict[str, Any] | None = None) -> None:
        self.passed = passed
        self.reason = reason
        self.details = details or {}


def fast_compare(pred: str, gold: str, units: Units = "match") -> Decision | None:
    """Decide cheaply and exactly, or return None to defer to the sympy path (``units``: see
    ``num_equal``)."""
    if pred == gold:
        return Decision(True, OK, {"path": "string"})
    if pred.replace(" ", "") == gold.replace(" ", ""):
        return Decision(True, OK, {"path": "string"})
    # ratios and clock times, 7:32 and 12:00: the parts in order, exactly (12:00 is not 1:00)
    if _RATIO.fullmatch(gold) or _RATIO.fullmatch(pred):
        gr, pr = _RATIO.fullmatch(strip_var(gold)), _RATIO.fullmatch(strip_var(pred))
        if gr and pr:
            eq = [fast_number(x) and fast_number(x).value for x in gold.split(":")] == [  # type: ignore[union-attr]
                fast_number(x) and fast_number(x).value
                for x in pred.split(":")  # type: ignore[union-attr]
            ]
            return Decision(eq, OK if eq else WRONG_ANSWER, {"path": "ratio"})
    # choices
    if is_choice_gold(gold):
        g = gold.strip("() ")
        letters = _choice_letters(pred)
        if letters is None:
            return Decision(False, WRONG_ANSWER, {"path": "choice"})
        if len(letters) > 1:
            return Decision(False, HEDGED_ANSWER, {"path": "choice", "letters": letters})
        return Decision(letters[0] == g, OK if letters[0] == g else WRONG_ANSWER, {"path": "choice"})
    # text
    if _is_text_gold(gold):
        if norm_text(pred) == norm_text(gold):
            return Decision(True, OK, {"path": "text"})
        if TEXT_ANSWER.match(pred) is not None and len(norm_text(gold)) > 3:
            return Decision(False, WRONG_ANSWER, {"path": "text"})
        return None
    # intervals, tuples, inequalities with numeric endpoints
    gb = _fast_bracket(gold)
    if gb is not None:
        pb = _fast_bracket(strip_var(pred)) if pred[:1] in "([" or var_of(pred) else None
        if pb is not None:
            eq = (
                gb[0] == pb[0]
                and gb[2] == pb[2]
                and len(gb[1]) == len(pb[1])
                and all(_same_endpoint(x, y) for x, y in zip(gb[1], pb[1], strict=True))
            )
            return Decision(eq, OK if eq else WRONG_ANSWER, {"path": "fast_bracket"})
    gi = _fast_interval(gold)
    if gi is not None:
        pi = _fast_interval(pred)
        if pi is not None:
            eq = all(_same_endpoint(x, y) for x, y in zip(gi, pi, strict=True))
            return Decision(eq, OK if eq else WRONG_ANSWER, {"path": "fast_interval"})
    # products of integer powers, towers included: compared by their factorisations, never evaluated
    if "^" in pred or "^" in gold:
        d = _compare_powers(strip_var(pred), strip_var(gold))
        if d is not None:
            return d
    gs = _fast_surd(gold)
    if gs is not None:
        ps = _fast_surd(strip_var(pred))
        if ps is not None:
            return Decision(gs == ps, OK if gs == ps else WRONG_ANSWER, {"path": "fast_surd"})
        if fast_number(strip_var(pred)) is not None:
            return Decision(False, WRONG_ANSWER, {"path": "fast_surd"})  # a rational never equals c*sqrt(n)
    # numbers
    gv, pv = var_of(gold), var_of(pred)
    if gv and pv and gv != pv:
        return Decision(False, WRONG_ANSWER, {"path": "fast", "error": "different variable"})
    g = fast_number(strip_var(gold))
    if g is None:
        gold_items = list_items(gold)
        if len(gold_items) > 1 and not gold.startswith(("(", "[")):
            gnums = [fast_number(strip_var(i)) for i in gold_items]
            if all(x is not None for x in gnums):
                pitems = list_items(pred)
                if pred.startswith(("(", "[")):
                    return None
                pnums = [fast_number(strip_var(i)) for i in pitems]
                if all(x is not None for x in pnums):
                    named = _named_values(gold_items, gnums)
                    if named is not None:  # a system's solution (x=2, y=3): each value belongs to its name
                        pnamed = _named_values(pitems, pnums)
                        if pnamed is not None:
                            same = pnamed == named
                        else:  # bare values answer in the gold's order
                            same = [(x.value, x.base) for x in pnums] == list(named.values())  # type: ignore[union-attr]
                        return Decision(same, OK if same else WRONG_ANSWER, {"path": "fast_named_list"})
                    gs = {(x.value, x.base) for x in gnums}  # type: ignore[union-attr]
                    ps = {(x.value, x.base) for x in pnums}  # type: ignore[union-attr]
                    return Decision(gs == ps, OK if gs == ps else WRONG_ANSWER, {"path": "fast_list"})
        return None
    p = fast_number(strip_var(pred))
    if p is not None:
        eq = num_equal(p, g, units)
        if not eq and g.unit and g.unit[0] == "angle" and not p.unit:
            return None  # "π/3" for 60°: sympy converts
        if not eq and p.unit and p.unit[0] == "angle" and not g.unit:
            return Decision(False, WRONG_ANSWER, {"path": "fast"})
        return Decision(eq, OK if eq else WRONG_ANSWER, {"path": "fast"})
    items = list_items(pred)
    if len(items) > 1:
        nums = [fast_number(strip_var(i)) for i in items]
        if all(x is not None for x in nums):
            distinct = {(x.value, x.base) for x in nums}  # type: ignore[union-attr]
            if len(distinct) > 1:
                return Decision(False, HEDGED_ANSWER, {"path": "fast"})
            eq = num_equal(nums[0], g, units)  # type: ignore[arg-type]
            return Decision(eq, OK if eq else WRONG_ANSWER)
    return None


def _named_values(items: list[str], nums: list[Any]) -> dict[str, tuple[Any, Any]] | None:
    """``x=2, y=3`` as {x: 2, y: 3} when every item names a variable and the names differ (a
    system's solution, where order by name matters); None for roots of one variable or bare values."""
    names = [var_of(i) for i in items]
    if any(n is None for n in names) or len(set(names)) != len(names):
        return None
    return {n: (x.value, x.base) for n, x in zip(names, nums, strict=True)}  # type: ignore[misc]
