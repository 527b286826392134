"""Numbers read exactly as rationals: integers, decimals, fractions, mixed and repeating
decimals, scientific notation, percent, number bases and a small table of units."""

from __future__ import annotations

import re
from fractions import Fraction

from verifiers.math.normalize import match_paren
from verifiers.text import match_brace

THOUSANDS = re.compile(r"(?<![\d.,])(\d{1,3})((?:(?:\{,\}|\\,|,|\\ |\\;|\\!|\s)\d{3})+)(?![\d])")
THOUSANDS_SEP = re.compile(r"\{,\}|\\,|,|\\ |\\;|\\!|\s")

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
CURRENCY_PREFIX = re.compile(r"^(?:\\\$|\$|€|£|¥|₹|rs\.?|usd|eur|inr)\s*", re.I)
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
    """A rational value with its unit (dimension, factor) and number base, from the fast parser."""

    __slots__ = ("value", "unit", "base")

    def __init__(self, value: Fraction, unit: tuple[str, Fraction] | None = None, base: int | None = None) -> None:
        self.value = value
        self.unit = unit
        self.base = base


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
    if (m := _BASE.match(s)) is not None and not re.fullmatch(r"\d+", m.group(1) or "x") or (
        m is not None and m.group(2) != "10"
    ):
        digits, base = m.group(1), int(m.group(2))
        if 2 <= base <= 36:
            try:
                return Num(Fraction(int(digits, base)), base=base)
            except ValueError:
                return None
        return None
    s = CURRENCY_PREFIX.sub("", s)
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


def num_equal(a: Num, b: Num) -> bool:
    """Exact equality of two numbers: same base, units converted when both carry one of a dimension."""
    if (a.base or 10) != (b.base or 10):
        return False
    if a.unit and b.unit and a.unit[0] == b.unit[0] and not a.unit[0].startswith("other:"):
        return a.value * a.unit[1] == b.value * b.unit[1]
    return a.value == b.value


