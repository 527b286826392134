"""Numbers read exactly as rationals: integers, decimals, fractions, mixed and repeating
decimals, scientific notation, percent, number bases and a small table of units.

Commas between digits (the policy the docs state): ``1,000`` / ``14{,}916`` / ``11,\\!111`` are
thousands separators (groups of three after a first group of one to three digits that does not
start with 0); ``0,111``, ``1000,99`` and ``1{,}5`` can only be decimal commas; ``1,5`` / ``2,74``
(one comma, no space, not groups of three) are ambiguous, and ``resolve_decimal_commas`` reads
them against the other side of the comparison; ``1, 5`` (a space) is always a list.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Literal

from verifiers.math.normalize import match_paren
from verifiers.text import match_brace

# a first group that starts with 0 is never a thousands group: "0,111" is a decimal comma
THOUSANDS = re.compile(r"(?<![\d.,])([1-9]\d{0,2})((?:(?:\{,\}|\\,|,|\\ |\\;|\\!|\s)\d{3})+)(?![\d])")
THOUSANDS_SEP = re.compile(r"\{,\}|\\,|,|\\ |\\;|\\!|\s")
# a whole answer that is one number with a decimal comma (and maybe a unit or percent after it)
_DECIMAL_COMMA = re.compile(r"^([+-]?\s*)(\d+)(\{,\}|,)(\d+)(\s*[^\d,;{}()\[\]]*)$")
DecimalComma = Literal["auto", "always", "never"]
DECIMAL_COMMA_MODES: tuple[str, ...] = ("auto", "always", "never")
Units = Literal["match", "ignore"]
UNITS_MODES: tuple[str, ...] = ("match", "ignore")
# a percent written as a sign or a word; "%" is what clean() leaves of "\\%"
_PERCENT = re.compile(r"\s*(?:%|\bper\s*cent(?:age)?\b|\bpercent(?:age)?s?\b|\bpct\b)\.?$", re.IGNORECASE)
# a currency sign after the number ("1,000.99€", "5$")
_CURRENCY_SUFFIX = re.compile(r"\s*(?:€|£|¥|₹|\\\$|\$)$")

_F = Fraction
_UNITS: dict[str, tuple[str, Fraction]] = {}
for _dim, _table in {
    "length": {
        "mm": _F(1, 1000),
        "millimeter": _F(1, 1000),
        "cm": _F(1, 100),
        "centimeter": _F(1, 100),
        "m": _F(1),
        "meter": _F(1),
        "metre": _F(1),
        "km": _F(1000),
        "kilometer": _F(1000),
        "in": _F("0.0254"),
        "inch": _F("0.0254"),
        "inche": _F("0.0254"),
        "ft": _F("0.3048"),
        "feet": _F("0.3048"),
        "foot": _F("0.3048"),
        "yd": _F("0.9144"),
        "yard": _F("0.9144"),
        "mi": _F("1609.344"),
        "mile": _F("1609.344"),
        "millimetre": _F(1, 1000),
        "centimetre": _F(1, 100),
        "kilometre": _F(1000),
    },
    "mass": {
        "mg": _F(1, 1000),
        "milligram": _F(1, 1000),
        "g": _F(1),
        "gram": _F(1),
        "kg": _F(1000),
        "kilogram": _F(1000),
        "lb": _F("453.59237"),
        "pound": _F("453.59237"),
        "oz": _F("28.349523125"),
        "ounce": _F("28.349523125"),
        "ton": _F(1000000),
        "tonne": _F(1000000),
    },
    "time": {
        "s": _F(1),
        "sec": _F(1),
        "second": _F(1),
        "min": _F(60),
        "minute": _F(60),
        "h": _F(3600),
        "hr": _F(3600),
        "hour": _F(3600),
        "day": _F(86400),
        "week": _F(604800),
        "ms": _F(1, 1000),
        "millisecond": _F(1, 1000),
    },
    "volume": {"ml": _F(1, 1000), "milliliter": _F(1, 1000), "l": _F(1), "liter": _F(1), "litre": _F(1)},
    "money": {"cent": _F(1, 100), "dollar": _F(1), "usd": _F(1)},
    "angle": {"°": _F(1), "deg": _F(1), "degree": _F(1)},
}.items():
    for _name, _factor in _table.items():
        _UNITS[_name] = (_dim, _factor)
CURRENCY_PREFIX = re.compile(r"^(?:\\\$|\$|€|£|¥|₹|rs\.?|usd|eur|inr)\s*", re.I)
_NOT_UNIT_WORDS = {
    "or",
    "and",
    "is",
    "are",
    "the",
    "plus",
    "minus",
    "times",
    "not",
    "no",
    "if",
    "then",
    "so",
    "but",
    "than",
    "of",
    "to",
    "equals",
    "approximately",
    "about",
    "roughly",
    "nearly",
    "maybe",
    "either",
    "over",
    "divided",
    "by",
    "i",
    "j",
    "e",
    "x",
    "y",
    "z",
    "n",
    "k",
    "a",
    "b",
    "c",
    "pi",
    "sqrt",
    "undefined",
    "infinity",
    "none",
    "approx",
    "neither",
    "nor",
}
_NUM = r"\d+(?:\.\d*)?|\.\d+"
_SIMPLE_NUM = re.compile(rf"^([+-]?)\s*({_NUM})$")
_SCI_E = re.compile(rf"^([+-]?)\s*({_NUM})\s*[eE]\s*([+-]?\d{{1,4}})$")
_SCI_TIMES = re.compile(
    rf"^([+-]?)\s*(?:({_NUM})\s*(?:\\times|\\cdot|\*|x)\s*)?10\s*\^\s*(?:\{{\s*([+-]?\s*\d{{1,4}})\s*\}}|([+-]?\d))$"
)
_FRAC_TEX = re.compile(rf"^([+-]?)\s*\\frac\{{\s*([+-]?)\s*({_NUM})\s*\}}\{{\s*([+-]?)\s*({_NUM})\s*\}}$")
_MIXED_TEX = re.compile(r"^([+-]?)\s*(\d+)\s*\\frac\{\s*(\d+)\s*\}\{\s*(\d+)\s*\}$")
_SLASH = re.compile(rf"^([+-]?)\s*\(?\s*([+-]?)\s*({_NUM})\s*\)?\s*/\s*\(?\s*([+-]?)\s*({_NUM})\s*\)?$")
_MIXED_SLASH = re.compile(r"^([+-]?)\s*(\d+)\s+(\d+)\s*/\s*(\d+)$")
_REPEAT = re.compile(
    r"^([+-]?)\s*(\d*)\.(\d*)\s*(?:\\overline\s*\{\s*(\d+)\s*\}|\\overline\s*(\d)|\\dot\s*\{?\s*(\d)\s*\}?|\((\d+)\)|\\bar\s*\{\s*(\d+)\s*\})$"
)
_BASE = re.compile(r"^\(?([0-9A-Za-z]+)\)?_\s*\{?\s*\(?\s*(\d{1,2})\s*\)?\s*\}?$")


def _unit(word: str) -> tuple[str, Fraction] | None:
    """The (dimension, factor) of a unit word of the table, singular or plural (``km``, ``hours``)."""
    w = word.lower()
    return _UNITS.get(w) or (_UNITS.get(w[:-1]) if w.endswith("s") and len(w) > 2 else None)


def is_unit(word: str) -> bool:
    """Whether ``word`` is a unit of the table (any case, singular or plural)."""
    return _unit(word) is not None


class Num:
    """A rational value with its unit (dimension, factor) and number base, from the fast parser.

    ``written`` is the number as written before a percent sign scaled it (``28%``: value 7/25,
    written 28); None when there was no percent sign."""

    __slots__ = ("value", "unit", "base", "written")

    def __init__(
        self,
        value: Fraction,
        unit: tuple[str, Fraction] | None = None,
        base: int | None = None,
        written: Fraction | None = None,
    ) -> None:
        self.value = value
        self.unit = unit
        self.base = base
        self.written = written


def decimal_fraction(s: str) -> Fraction:
    """The exact value of a decimal literal (``.5`` included)."""
    return Fraction(s if not s.startswith(".") else "0" + s)


def pure_number(s: str) -> Fraction | None:
    """A number with no units: integers, decimals, fractions, mixed, repeating, scientific, %."""
    s = s.strip()
    percent = False
    if s.endswith("%"):
        percent = True
        s = s[:-1].strip()
    s = THOUSANDS.sub(lambda m: m.group(1) + THOUSANDS_SEP.sub("", m.group(2)), s)
    if s.startswith("+"):
        s = s[1:].strip()
    while s.startswith("(") and s.endswith(")") and match_paren(s) == len(s):
        s = s[1:-1].strip()
    if s.startswith("{") and s.endswith("}") and match_brace(s, 0) == len(s):
        s = s[1:-1].strip()
    v: Fraction | None = None
    if (m := _SIMPLE_NUM.match(s)) is not None:
        v = decimal_fraction(m.group(2))
        if m.group(1) == "-":
            v = -v
    elif (m := _FRAC_TEX.match(s)) is not None or (m := _SLASH.match(s)) is not None:
        # \frac{a}{b} and a/b share their groups: sign, numerator sign and value, denominator's
        den = decimal_fraction(m.group(5))
        if den == 0:
            return None
        v = decimal_fraction(m.group(3)) / den
        if (m.group(1) == "-") ^ (m.group(2) == "-") ^ (m.group(4) == "-"):
            v = -v
    elif (m := _MIXED_TEX.match(s)) is not None or (m := _MIXED_SLASH.match(s)) is not None:
        whole, num, den = int(m.group(2)), int(m.group(3)), int(m.group(4))
        if den == 0 or num >= den:
            return None  # not a mixed number: "2\frac{5}{4}" is a product, leave it to sympy
        v = whole + Fraction(num, den)
        if m.group(1) == "-":
            v = -v
    elif (m := _SCI_E.match(s)) is not None:
        v = decimal_fraction(m.group(2)) * Fraction(10) ** int(m.group(3))
        if m.group(1) == "-":
            v = -v
    elif (m := _SCI_TIMES.match(s)) is not None:
        exp = int((m.group(3) or m.group(4)).replace(" ", ""))
        v = (decimal_fraction(m.group(2)) if m.group(2) else Fraction(1)) * Fraction(10) ** exp
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


def fast_number(s: str) -> Num | None:
    """Parse a cleaned answer as one number with an optional unit or base, else None."""
    if len(s) > 200:
        return None
    if (
        (m := _BASE.match(s)) is not None
        and not re.fullmatch(r"\d+", m.group(1) or "x")
        or (m is not None and m.group(2) != "10")
    ):
        digits, base = m.group(1), int(m.group(2))
        if 2 <= base <= 36:
            try:
                return Num(Fraction(int(digits, base)), base=base)
            except ValueError:
                return None
        return None
    s = _CURRENCY_SUFFIX.sub("", CURRENCY_PREFIX.sub("", s))
    pm = _PERCENT.search(s)
    if pm is not None and pm.start() > 0:
        n = fast_number(s[: pm.start()])
        if n is None or n.unit is not None or n.base is not None or n.written is not None:
            return None
        return Num(n.value / 100, written=n.value)
    v = pure_number(s)
    if v is not None:
        return Num(v)
    # number followed by a unit (known or ignorable words)
    m = re.match(r"^(.*?\d[)}]?)\s*(°|[a-zA-Z][a-zA-Z\s.^{}0-9/]*|\^?\{?°\}?)$", s)
    if m is None:
        return None
    v = pure_number(m.group(1))
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
    unit = _unit(name)
    if unit is not None and len(words) == 1 and "/" not in unit_text:
        dim, factor = unit
        if power != 1:
            dim, factor = f"{dim}^{power}", factor**power
        return Num(v, (dim, factor))
    return Num(v, ("other:" + " ".join(words), Fraction(1)))


def num_equal(a: Num, b: Num, units: Units = "match") -> bool:
    """Exact equality of two numbers by the unit and percent policy.

    Same base always. Units (``units="match"``): a unit on one side only is ignored; on both sides
    they must be the same quantity, converted within a dimension of the table (1.5 km = 1500 m),
    else the same words (5 apples); a different dimension or word fails. ``units="ignore"``:
    units are dropped and the numbers compare as written. Percent: on both sides or neither, the
    values compare (``%`` is x0.01); on one side only, either the value (40% = 0.4) or the number
    as written (the field's convention: gold ``28\\%`` accepts ``28``)."""
    if (a.base or 10) != (b.base or 10):
        return False
    if units == "match" and a.unit and b.unit:
        if a.unit[0] != b.unit[0]:
            return False
        if a.unit[0].startswith("other:"):
            return a.value == b.value
        return a.value * a.unit[1] == b.value * b.unit[1]
    if a.value == b.value:
        return True
    if (a.written is None) != (b.written is None):
        return (a.written if a.written is not None else a.value) == (b.written if b.written is not None else b.value)
    return False


def resolve_decimal_commas(pred: str, gold: str, mode: DecimalComma = "auto") -> tuple[str, str]:
    """Rewrite a whole-answer decimal comma (``1,5``) to a decimal point, on either side.

    ``mode="never"``: a comma is never a decimal mark. ``"always"`` (a comma locale): ``1,5`` and
    ``1,500`` are decimals. ``"auto"`` (default): an unambiguous decimal comma (``0,111``,
    ``1000,99``, ``1{,}5``) is read as one; ``1,000`` stays a thousands separator; an ambiguous
    ``1,5`` is a decimal when the other side is a single number (``1.5``, ``15``) and a list when
    it is a list or is ambiguous too, so ``1,5`` never equals ``15`` and ``2,1`` still equals
    ``1, 2``."""
    if mode == "never":
        return pred, gold
    p_dec, p_sure = _decimal_comma(pred, mode)
    g_dec, g_sure = _decimal_comma(gold, mode)
    if p_dec is not None and (p_sure or g_dec is None and fast_number(gold) is not None):
        pred = p_dec
    if g_dec is not None and (g_sure or p_dec is None and fast_number(pred) is not None):
        gold = g_dec
    return pred, gold


def _decimal_comma(s: str, mode: DecimalComma) -> tuple[str | None, bool]:
    """(``s`` with its decimal comma as a point, whether that reading is certain), or (None, False)."""
    m = _DECIMAL_COMMA.match(s.strip())
    if m is None:
        return None, False
    sign, whole, comma, frac, rest = m.groups()
    if mode != "always" and len(frac) == 3 and len(whole) <= 3 and not whole.startswith("0"):
        return None, False  # 1,000 and 14{,}916: a thousands separator
    sure = mode == "always" or comma == "{,}" or whole.startswith("0") or len(whole) > 3
    return f"{sign}{whole}.{frac}{rest}", sure
