"""The sympy path (latex2sympy2_extended): structured answers compared by the policy.

Runs only inside a checker worker (``verifiers.math.pool``), never in the caller's process:
sympy can hang or allocate without bound, and the worker is killed at the timeout. Sizes of
powers and factorials are bounded before anything is evaluated.
"""

from __future__ import annotations

import functools
import math as _pymath
import re
from fractions import Fraction
from typing import Any

from verifiers.math.normalize import OR_AND, list_items, norm_text, split_top
from verifiers.math.numbers import CURRENCY_PREFIX, THOUSANDS, THOUSANDS_SEP, decimal_fraction, pure_number
from verifiers.math.reasons import HEDGED_ANSWER, OK, TOO_LARGE, UNPARSEABLE, WRONG_ANSWER

# Exact values larger than this many bits are refused rather than computed.
MAX_BITS = 200_000
MAX_FACTORIAL = 5_000


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
        v = pure_number(m.group(0))
        return r"(\frac{%d}{%d})" % (v.numerator, v.denominator) if v is not None else m.group(0)

    s = re.sub(
        r"(?<![\d.])\d*\.\d*\s*(?:\\overline\s*\{\s*\d+\s*\}|\\overline\s*\d|\\dot\s*\{?\s*\d\s*\}?|\\bar\s*\{\s*\d+\s*\})",
        rep_repeat,
        s,
    )
    s = THOUSANDS.sub(lambda m: m.group(1) + THOUSANDS_SEP.sub("", m.group(2)), s)

    def rep_sci(m: re.Match[str]) -> str:
        mant = decimal_fraction(m.group(1))
        return r"(\frac{%d}{%d}\cdot 10^{%d})" % (mant.numerator, mant.denominator, int(m.group(2)))

    s = re.sub(r"(?<![\w.])(\d+\.?\d*|\.\d+)[eE]([+-]?\d{1,4})(?![\w.])", rep_sci, s)

    def rep_dec(m: re.Match[str]) -> str:
        v = decimal_fraction(m.group(0))
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
    s = CURRENCY_PREFIX.sub("", s)
    s = _decimals_to_fractions(s)
    s = _mixed_numbers(s)
    s = re.sub(r"(\d)\s*%", r"\1\\cdot\\frac{1}{100}", s)
    s = s.replace("%", r"\cdot\frac{1}{100}")
    s = (
        re.sub(r"(?<![a-zA-Z\\])j(?![a-zA-Z])", "i", s)
        if re.search(r"(?<![a-zA-Z\\])j(?![a-zA-Z])", s) and not re.search(r"(?<![a-zA-Z\\])i(?![a-zA-Z])", s)
        else s
    )
    # trailing unit words are not mathematics
    s = re.sub(r"(?<=[\d}])\s+(?:[a-zA-Z]{2,}\s*)+$", "", s)
    return s


def _parse_one(s: str) -> Any:
    from latex2sympy2_extended import latex2sympy
    from latex2sympy2_extended.latex2sympy2 import ConversionConfig
    from latex2sympy2_extended.math_normalization import NormalizationConfig

    norm = NormalizationConfig(
        basic_latex=True, units=False, malformed_operators=True, nits=False, boxed="none", equations=False
    )
    conv = ConversionConfig(interpret_as_mixed_fractions=True, interpret_simple_eq_as_assignment=False)
    return latex2sympy(s, normalization_config=norm, conversion_config=conv)


def warm_up() -> None:
    """Import sympy and the parser and warm latex2sympy's prediction cache (a worker's start-up)."""
    _sp()
    for s in ("1", r"\frac{1}{2}", r"(1,\infty)", r"\{1,2\}", r"x^2+2x+1", r"y=3x-1", r"x>2", r"2\sqrt{3}"):
        _parse_one(s)


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
    items = list_items(s) if not s.startswith(("(", "[", r"\begin")) else [s]
    if len(items) > 1 and not (
        s.startswith(r"\{") and s.endswith(r"\}") and len(split_top(s[2:-2])) == 1 and OR_AND.search(s) is None
    ):
        parsed = [_parse_answer(i, degrees_mode=degrees_mode) for i in items]
        if (
            all(p.kind == "rel" for p in parsed)
            and OR_AND.search(s)
            and re.search(r"\band\b|\\text\{\s*and", s)
            and not re.search(r"\bor\b", s)
        ):
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
        if (
            not lfree
            and not rfree
            and isinstance(lhs, sp.Basic)
            and isinstance(rhs, sp.Basic)
            and not isinstance(rhs, sp.Set)
        ):
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


# the largest exponent of a matrix power that is worked out (A^{-1}, A^{10}); a bigger one is too large
MAX_MATRIX_POWER = 64


def _explicit_matrix(expr: Any) -> Any:
    """A sum, product, power, scaling or transpose of explicit matrices, worked out to one matrix.

    Sizes are bounded first: a matrix power's exponent beyond ``MAX_MATRIX_POWER`` is too large."""
    sp = _sp()
    for mp in expr.atoms(sp.MatPow):
        e = mp.args[1]
        if not (e.is_Integer and abs(int(e)) <= MAX_MATRIX_POWER):
            raise _TooLarge("matrix power")
    out = expr.doit()
    if isinstance(out, sp.MatrixExpr) and not isinstance(out, sp.MatrixBase):
        out = out.as_explicit()
    return sp.Matrix(out)


def _wrap_value(expr: Any, raw: str, deg: bool) -> _Ans:
    sp = _sp()
    if isinstance(expr, sp.MatrixExpr) and not isinstance(expr, sp.MatrixBase) and not expr.atoms(sp.MatrixSymbol):
        expr = _explicit_matrix(expr)
    elif isinstance(expr, sp.Pow) and isinstance(expr.args[0], sp.MatrixBase):  # the parser's A^{-1}
        e = expr.args[1]
        if not (e.is_Integer and abs(int(e)) <= MAX_MATRIX_POWER):
            raise _TooLarge("matrix power")
        expr = expr.args[0] ** int(e)
    if isinstance(expr, sp.MatrixBase):
        return _Ans("matrix", expr, raw, deg)
    if isinstance(expr, sp.Tuple):
        return _Ans("tuple", expr, raw, deg)
    if isinstance(expr, sp.Set):
        if (
            isinstance(expr, sp.FiniteSet)
            and expr.args
            and all(isinstance(a, sp.core.relational.Relational) for a in expr.args)
        ):
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


_POINTS = (
    (Fraction(37, 11), Fraction(-5, 7)),
    (Fraction(13, 17), Fraction(29, 3)),
    (Fraction(-23, 9), Fraction(7, 19)),
)


def _points_agree(a: Any, b: Any) -> bool:
    """False only when a and b certainly differ at some sample point (a quick exact-enough reject).

    Evaluated with 30 significant digits by mpmath, so a difference above 1e-15 relative is real;
    anything undefined or non-numeric at a point proves nothing and is skipped.
    """
    sp = _sp()
    syms = sorted(a.free_symbols | b.free_symbols, key=lambda x: x.name)
    for re_, _ in _POINTS:
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
        m, t = (p.obj, g.obj) if p.kind == "matrix" else (g.obj, p.obj)
        if isinstance(t, sp.Interval) and t.left_open and t.right_open:
            t = sp.Tuple(t.start, t.end)  # "(1, 2)" reads as an open interval; against a vector it is a pair
        if isinstance(t, sp.Tuple):
            # a column or row vector written as a tuple: the same entries in the same order
            return (
                1 in m.shape
                and len(m) == len(t)
                and all(_expr_equal(x, y) for x, y in zip(list(m), list(t), strict=True))
            )
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


def slow_compare(pred: str, gold: str) -> tuple[bool, str, dict[str, Any]]:
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
        if g is None and norm_text(pred) == norm_text(gold) and norm_text(gold):
            return True, OK, {"path": "text"}
        return False, UNPARSEABLE, {"error": f"{type(e).__name__}: {e}"[:200]}
    if g is None:
        return False, WRONG_ANSWER, {"gold_error": gold_error}
    try:
        gmulti = (
            _is_multi(g) or g.kind in {"set", "rel"} and not (isinstance(g.obj, _sp().FiniteSet) and len(g.obj) <= 1)
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


def canonical_expr(ans: str) -> str | None:
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
