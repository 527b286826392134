"""Exact comparison of huge powers and power towers, without evaluating them.

An answer that is a product or quotient of integer powers (``2^{2^{10}}``, ``4^{5\\cdot 10^5}``,
``\\frac{3^{100}}{9^{10}}``, ``(2^3)^{4}``, ``10^{10^{10}}``) is read as its factorisation, a map
from prime (or unfactored cofactor) to an exact integer exponent. Two such answers are equal
exactly when their maps are: ``2^{10^6}`` equals ``4^{500000}`` although neither is ever computed.

Everything is bounded so that no input can hang or allocate without limit: literals and bases up
to ``MAX_DIGITS`` digits, trial division up to ``TRIAL_LIMIT``, and exponents computed exactly only
while they stay under ``MAX_EXPONENT_BITS`` bits (a tower whose exponent is larger is left to the
sympy path, which refuses it as too large).
"""

from __future__ import annotations

import math
import re

MAX_DIGITS = 60
TRIAL_LIMIT = 10_000
MAX_EXPONENT_BITS = 1 << 17

_TOKEN = re.compile(r"\s*(\d+|\\cdot|\\times|\\frac|[*^{}()+\-])")

Factors = dict[int, int]


class _NotPowers(Exception):
    """The text is not a product of integer powers within the bounds."""


def _factor(n: int) -> Factors:
    """Trial division up to ``TRIAL_LIMIT``; what remains is kept whole as one key."""
    out: Factors = {}
    p = 2
    while p <= TRIAL_LIMIT and p * p <= n:
        while n % p == 0:
            out[p] = out.get(p, 0) + 1
            n //= p
        p += 1 if p == 2 else 2
    if n > 1:
        out[n] = out.get(n, 0) + 1
    return out


def _tokens(s: str) -> list[str]:
    toks, pos = [], 0
    s = s.strip()
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if m is None:
            raise _NotPowers(s[pos:])
        toks.append(m.group(1))
        pos = m.end()
    return toks


class _Parser:
    """Recursive descent over the tokens: products of powers, and integer exponent expressions."""

    def __init__(self, toks: list[str]) -> None:
        self.toks = toks
        self.i = 0

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, want: str | None = None) -> str:
        tok = self.peek()
        if tok is None or want is not None and tok != want:
            raise _NotPowers(f"expected {want!r}")
        self.i += 1
        return tok

    # --- a value: a product of powers --------------------------------------------------------

    def product(self) -> Factors:
        out = self.power()
        while self.peek() in ("\\cdot", "\\times", "*"):
            self.take()
            out = _mul(out, self.power())
        return out

    def power(self) -> Factors:
        base = self.atom()
        if self.peek() == "^":
            self.take()
            e = self.exponent()
            base = {p: k * e for p, k in base.items()}
        return base

    def atom(self) -> Factors:
        tok = self.take()
        if tok.isdigit():
            if len(tok) > MAX_DIGITS or int(tok) == 0:
                raise _NotPowers("literal")
            return _factor(int(tok))
        if tok in ("(", "{"):
            inner = self.product()
            self.take(")" if tok == "(" else "}")
            return inner
        if tok == "\\frac":
            self.take("{")
            num = self.product()
            self.take("}")
            self.take("{")
            den = self.product()
            self.take("}")
            return _mul(num, {p: -e for p, e in den.items()})
        raise _NotPowers(tok)

    # --- an exponent: an exact integer ------------------------------------------------------

    def exponent(self) -> int:
        tok = self.take()
        if tok.isdigit():
            return _bounded(int(tok))
        if tok in ("{", "("):
            value = self.int_sum()
            self.take("}" if tok == "{" else ")")
            return value
        raise _NotPowers(tok)

    def int_sum(self) -> int:
        sign = -1 if self.peek() == "-" and self.take() else 1
        value = sign * self.int_product()
        while self.peek() in ("+", "-"):
            op = self.take()
            rhs = self.int_product()
            value = _bounded(value + rhs if op == "+" else value - rhs)
        return value

    def int_product(self) -> int:
        value = self.int_power()
        while self.peek() in ("\\cdot", "\\times", "*"):
            self.take()
            value = _bounded(value * self.int_power())
        return value

    def int_power(self) -> int:
        tok = self.take()
        if tok.isdigit():
            base = _bounded(int(tok))
        elif tok in ("{", "("):
            base = self.int_sum()
            self.take("}" if tok == "{" else ")")
        else:
            raise _NotPowers(tok)
        if self.peek() != "^":
            return base
        self.take()
        e = self.exponent()
        if e < 0:
            raise _NotPowers("negative exponent in an exponent")
        if abs(base) > 1 and e * math.log2(abs(base)) > MAX_EXPONENT_BITS:
            raise _NotPowers("exponent too large to compute")
        return base**e


def _bounded(n: int) -> int:
    if n.bit_length() > MAX_EXPONENT_BITS:
        raise _NotPowers("exponent too large to compute")
    return n


def _mul(a: Factors, b: Factors) -> Factors:
    out = dict(a)
    for p, e in b.items():
        out[p] = out.get(p, 0) + e
    return {p: e for p, e in out.items() if e != 0}


def power_factors(s: str) -> Factors | None:
    """The factorisation of a cleaned answer that is a product of integer powers with at least
    one power in it, or None (anything else: sums, variables, negative bases, out of bounds)."""
    if "^" not in s or len(s) > 300:
        return None
    try:
        parser = _Parser(_tokens(s))
        out = parser.product()
        if parser.peek() is not None:
            return None
    except (_NotPowers, RecursionError):
        return None
    return {p: e for p, e in out.items() if e != 0}


def log2_size(f: Factors) -> float:
    """log2 of the larger of the value and its reciprocal: how many bits computing it would take."""
    # an exponent too big for a float is astronomically large whatever its base
    up = sum(e * math.log2(p) if e.bit_length() < 1000 else math.inf for p, e in f.items() if e > 0)
    down = sum(-e * math.log2(p) if e.bit_length() < 1000 else math.inf for p, e in f.items() if e < 0)
    return max(up, down)


def certain(f: Factors) -> bool:
    """Whether the map is a full prime factorisation (every key below the trial bound squared), so
    that two different maps are two different numbers."""
    return all(p <= TRIAL_LIMIT * TRIAL_LIMIT for p in f)
