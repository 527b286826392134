"""Labelled cases for answers written as people write them (issue 28): decimal commas, percent,
units, relations, matrices, brace decorations, huge powers. Each kind has what must pass and what
must still fail, since a wrong answer that passes is worse than a right one that fails.

``extract`` is the extraction mode; ``expected`` is True (must pass), False (must fail) or a
reason code. Used by tests/verifiers/test_math.py and benchmarks/bench_math_accuracy.py
(``--table notation``).
"""

from __future__ import annotations

from typing import NamedTuple


class NotationCase(NamedTuple):
    category: str
    extract: str
    gold: str
    response: str
    expected: bool | str
    why: str


NOTATION_CASES: list[NotationCase] = []


def add(category: str, extract: str, rows: list[tuple[str, str, bool | str, str]]) -> None:
    for gold, response, expected, why in rows:
        NOTATION_CASES.append(NotationCase(category, extract, gold, response, expected, why))


add("decimal_comma", "auto", [
    ("1.5", "1,5", True, "a decimal comma against a decimal gold"),
    ("1000.99", "1000,99", True, "a four-digit whole part: only a decimal comma"),
    ("1,22", "1.22", True, "a decimal-comma gold against a decimal point"),
    ("0,111", "0.111", True, "a leading 0 is never a thousands group"),
    ("2.74", "Soucis : 2,74 $ a..", True, "a decimal comma in prose"),
    ("1.5", "1{,}5", True, "the LaTeX decimal comma of European typesetting"),
    ("1000", "1,000", True, "groups of three are thousands"),
    ("7425000", "7,425,000", True, "several thousands groups"),
    ("1000.99", "1,000.99", True, "thousands and a decimal point"),
    ("32349", "is $\\boxed{32,\\! 349}$", True, "a typeset thousands separator ,\\!"),
    ("14916", "$\\boxed{14{,}916}$", True, "{,} before three digits is a thousands separator"),
    ("1000.99", "the number is not 10 which is 1,000.99€", True, "a currency sign after the number"),
    ("15", "1,5", False, "1,5 is one and a half or a list, never fifteen"),
    ("1.5", "15", False, "the decimal point matters"),
    ("1000", "1,000.5", False, "a different number"),
    ("1", "1,000", False, "1,000 is a thousand, not 1.000"),
    ("32349", "is $\\boxed{32, 349}$", False, "a comma and a space separate two numbers"),
    ("\\{1,5\\}", "1.5", False, "a set gold is not a decimal"),
    ("1, 5", "5,1", True, "an ambiguous answer against a list gold is a list"),
    ("1,5", "1, 5", True, "an ambiguous gold against a list answer is a list"),
    ("-2,1", "$\\boxed{1,-2}$", True, "MATH's lists of roots stay lists"),
    ("2.1", "1,2", False, "ambiguous 1,2 against 2.1: neither 1.2 nor a list equals it"),
])

add("percent", "auto", [
    ("28\\%", "28 percent", True, "percent in words"),
    ("28\\%", "28 pct", True, "pct"),
    ("28\\%", "28 %", True, "a spaced sign"),
    ("28\\%", "$28$ percent", True, "the word after the math"),
    ("28\\%", "$\\boxed{28 percentage}$", True, "percentage in the box"),
    ("28\\%", "$\\boxed{28}$ pct", True, "the box without the sign"),
    ("28\\%", "28", True, "a percent gold accepts its number without the sign"),
    ("28\\%", "0.28", True, "the value of the percent"),
    ("28", "28\\%", True, "a sign on the answer only: the number as written"),
    ("\\frac{1}{4}", "The probability is 25 percent.", True, "a percent in words is x0.01 too"),
    ("28\\%", "29 percent", False, "a different percent"),
    ("0.28", "28", False, "no x100 fallback"),
    ("28", "28/100", False, "no /100 fallback"),
    ("\\frac{28}{100}", "28", False, "a fraction is not its numerator"),
    ("28\\%", "2800", False, "no x100 fallback on a percent gold"),
    ("28\\%", "0.28\\%", False, "a percent is not scaled twice"),
])

add("units", "auto", [
    ("15\\mbox{ cm}^2", "$\\boxed{15\\mbox{ cm}^2}$", True, "mbox unit with a square"),
    ("15", "$\\boxed{15\\text{ cm}^2}$", True, "a unit on the answer only"),
    ("15\\text{ cm}^2", "15", True, "a unit on the gold only"),
    ("5", "5 \\text{ meters}", True, "a unit word in text"),
    ("125 miles", "The distance is $\\boxed{125\\textnormal{ miles}}.$", True, "textnormal unit"),
    ("1500 \\text{ m}", "1.5 km", True, "units convert within a dimension"),
    ("150000 \\text{ cm}^2", "15 m^2", True, "square units convert"),
    ("5", "$5 \\text{ cm}.$", True, "a unit and a period inside the math"),
    ("5 \\text{ cm}", "5 \\text{ kg}", False, "a different dimension"),
    ("5 \\text{ cm}", "5 \\text{ m}", False, "the same dimension, a different quantity"),
    ("5 \\text{ cm}^2", "5 \\text{ cm}", False, "an area is not a length"),
    ("5 \\text{ apples}", "5 \\text{ oranges}", False, "different words"),
    ("15\\mbox{ cm}^2", "16\\mbox{ cm}^2", False, "a unit does not rescue a wrong number"),
])

add("relations", "auto", [
    ("5", "x = 5", True, "an assignment answers its value"),
    ("x = 5", "5", True, "a value answers an assignment gold"),
    ("AB=4,CD=5", "$\\boxed{4, 5}$", True, "named lengths"),
    ("|AB|=1", "$$1$$", True, "a named length in bars"),
    ("V_{1}:V_{2}=11:21", "$11:21$", True, "a named ratio"),
    ("\\frac{NO}{BO}=\\frac{1}{\\sqrt{6}}", "$\\frac{1}{\\sqrt{6}}$", True, "a ratio of names"),
    ("y=2x+1", "2x-y+1=0", True, "a line as an equation, rearranged"),
    ("y = 2x + 1", "$\\boxed{y = 2x + 1}$", True, "a line"),
    ("f(x) = x^2 + 1", "$\\boxed{x^2+1}$", True, "a function given as an equation"),
    ("x \\ge 5", "$5 \\le x$", True, "a flipped inequality"),
    ("(2, \\infty)", "x > 2", True, "an inequality is its interval"),
    ("[-2, 7]", "$x \\in [-2,7]$", True, "membership in an interval"),
    ("x = 5", "x = 6", False, "a different value"),
    ("x = 5", "y = 5", False, "a different variable"),
    ("y=2x+1", "y=2x-1", False, "a different line"),
    ("(2, \\infty)", "[2, \\infty)", False, "an interval keeps its endpoints"),
    ("x > 2", "x \\ge 2", False, "strict and non-strict differ"),
    ("7 = 11a+c", "11a+c", False, "an expression on the left is no name"),
    ("a +3z = 0", "0", False, "an equation is not its right side"),
    ("12:00", "1:00", False, "a time or ratio compares part by part"),
    ("AB=4", "$\\boxed{CD=4}$", False, "a different name"),
])

add("matrices", "auto", [
    ("\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}", "\\begin{bmatrix}1 & 2 \\\\ 3 & 4\\end{bmatrix}", True, "bmatrix is pmatrix"),
    ("\\begin{pmatrix}1 & 2 \\\\3 & 4\\end{pmatrix}", "$\\left[\\begin{array}{cc}1 & 2 \\\\3 & 4\\end{array}\\right]$", True, "array"),
    ("\\begin{pmatrix}6 & 8 \\\\ 10 & 12\\end{pmatrix}",
     "The sum is $\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix} + \\begin{pmatrix}5 & 6 \\\\ 7 & 8\\end{pmatrix}$", True, "a sum of matrices"),
    ("\\begin{pmatrix}3 \\\\ 7\\end{pmatrix}",
     "$\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}\\begin{pmatrix}1 \\\\ 1\\end{pmatrix}$", True, "a product"),
    ("\\begin{pmatrix}2 \\\\ 4\\end{pmatrix}", "$2\\begin{pmatrix}1 \\\\ 2\\end{pmatrix}$", True, "a scaled vector"),
    ("\\begin{pmatrix}-2 & 1 \\\\ 3/2 & -1/2\\end{pmatrix}", "$\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}^{-1}$", True, "an inverse"),
    ("\\begin{pmatrix}1 \\\\ 2 \\\\ 3\\end{pmatrix}", "$(1, 2, 3)$", True, "a column vector as a tuple"),
    ("\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}", "$\\begin{pmatrix}1 & 2 \\\\ 3 & 5\\end{pmatrix}$", False, "one entry changed"),
    ("\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}", "$\\begin{pmatrix}1 & 3 \\\\ 2 & 4\\end{pmatrix}$", False, "the transpose"),
    ("\\begin{pmatrix}1 \\\\ 2 \\\\ 3\\end{pmatrix}", "$(3, 2, 1)$", False, "a vector's order matters"),
    ("\\begin{pmatrix}6 & 8 \\\\ 10 & 12\\end{pmatrix}",
     "$\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix} + \\begin{pmatrix}5 & 6 \\\\ 7 & 9\\end{pmatrix}$", False, "a wrong sum"),
    ("\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}", "$\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}^{1000000}$", False, "a huge matrix power is refused"),
])

add("brace_decorations", "auto", [
    ("10", "$\\boxed{\\underbrace{1+2+3+4}_{4\\text{ terms}}}$", True, "underbrace label dropped"),
    ("a+b", "$\\boxed{\\overbrace{a+b}^{\\text{sum}}}$", True, "overbrace label dropped"),
    ("7", "$\\boxed{\\underbrace{3+4}_{7}}$", True, "the label may repeat the value"),
    ("8", "$\\boxed{\\underbrace{3+4}_{8}}$", False, "the label is not the value"),
    ("11", "$\\boxed{\\underbrace{3+4}_{7}+4}$", True, "a decoration inside a longer expression"),
])

add("huge_powers", "auto", [
    ("2^{10^6}", "$\\boxed{4^{500000}}$", True, "equal without computing a million-bit number"),
    ("9^{9^9}", "$\\boxed{3^{2\\cdot 9^9}}$", True, "a tower"),
    ("10^{10^{10}}", "$\\boxed{2^{10^{10}}\\cdot 5^{10^{10}}}$", True, "a googolplex-sized product"),
    ("2^{2^{2^{2^{2}}}}", "$\\boxed{2^{65536}}$", True, "a tower of twos"),
    ("\\frac{3^{100}}{9^{10}}", "$\\boxed{3^{80}}$", True, "a quotient of powers"),
    ("2^{100}", "$\\boxed{1267650600228229401496703205376}$", True, "a power against its digits"),
    ("2^{10^6}", "$\\boxed{4^{500001}}$", False, "one more in the exponent"),
    ("9^{9^9}", "$\\boxed{3^{9^9}}$", False, "half the exponent"),
    ("7^{7^7}", "$\\boxed{7^{823542}}$", False, "an exponent off by one"),
    ("2^{100}", "$\\boxed{1267650600228229401496703205377}$", False, "a power's digits plus one"),
    ("5", "$\\boxed{9^{9^{9^{9}}}}$", "too_large", "a tower beyond every bound is refused, not computed"),
])
