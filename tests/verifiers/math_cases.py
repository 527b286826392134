"""Labelled (gold, response) cases for the math verifier, grouped by category, each with why.

``expected`` is True (must pass), False (must fail, any reason) or a reason code (must fail with
exactly that reason). Used by tests/verifiers/test_math.py and benchmarks/bench_math_accuracy.py.
"""

from __future__ import annotations

from typing import NamedTuple


class Case(NamedTuple):
    category: str
    gold: str
    response: str
    expected: bool | str
    why: str


def B(ans: str) -> str:
    """A plain response with a boxed answer."""
    return f"Let us compute carefully. The answer is $\\boxed{{{ans}}}$."


def T(ans: str, think: str = "First I add the numbers, then simplify.") -> str:
    """An R1-style response: a think block, then a short solution with a boxed answer."""
    return f"<think>\n{think}\n</think>\n\nThe result follows. Therefore the answer is $\\boxed{{{ans}}}$."


CASES: list[Case] = []


def add(category: str, rows: list[tuple[str, str, bool | str, str]]) -> None:
    for gold, response, expected, why in rows:
        CASES.append(Case(category, gold, response, expected, why))


add("extraction", [
    ("5", T("5"), True, "answer after </think> counts"),
    ("5", "<think>So \\boxed{5}.</think>\nThe answer is 5 probably", "no_final_answer_after_think", "box only inside reasoning"),
    ("5", "<think>\nLet me think... \\boxed{5} is likely", "no_final_answer_after_think", "truncated inside think"),
    ("5", "<think>I guess \\boxed{4}</think> Final: \\boxed{5}", True, "box in think ignored, final box counts"),
    ("4", "<think>I guess \\boxed{4}</think> Final: \\boxed{5}", False, "box inside think is not the answer"),
    ("7", "The answer is \\fbox{7}.", True, "\\fbox counts as a box"),
    ("7", "So the answer is $\\boxed 7$.", True, "\\boxed without braces"),
    ("7", "Thus $\\boxed{\\boxed{7}}$", True, "nested boxes unwrap"),
    ("6", "First $\\boxed{5}$. Wait, that is wrong, I forgot the carry. Redo: the sum is 6. So $\\boxed{6}$.", True, "earlier abandoned box ignored"),
    ("5", "First $\\boxed{5}$. Wait, that is wrong, I forgot the carry. Redo: the sum is 6. So $\\boxed{6}$.", False, "abandoned box is not the answer"),
    ("12", "The answer is $\\boxed{12}$.\n\nSo again: $\\boxed{12}$", True, "same answer boxed twice is one answer"),
    ("1212", "The answer is $\\boxed{12}$ and $\\boxed{12}$", False, "duplicate boxes never concatenate"),
    ("2, 3", "The roots are $x=\\boxed{2}$ and $x=\\boxed{3}$.", True, "several boxes form a solution set"),
    ("\\{2,3\\}", "Solutions: $\\boxed{3}$, $\\boxed{2}$", True, "boxes together, unordered set"),
    ("42", "Some work.\n\nFinal Answer: 42", True, "Final Answer line without box"),
    ("42", "Some work.\n\n**Final Answer:** $42$", True, "bold Final Answer line"),
    ("42", "Work...\nThe final answer is $42$.", True, "the final answer is phrase"),
    ("42", "Working gives 42 eventually, I think.", "no_answer", "no box and no final answer line"),
    ("42", "The answer is $\\boxed{}$.", "empty_box", "empty box fails"),
    ("42", "The answer is $\\boxed{  }$.", "empty_box", "whitespace-only box fails"),
    ("42", "The answer is $\\boxed{42$.", "unbalanced_braces", "box never closes"),
    ("\\frac{1}{2}", "So $\\boxed{\\frac{1}{2}}$", True, "nested braces in box"),
    ("\\frac{1}{2}", "So $\\boxed{\\frac{1}{2}$", "unbalanced_braces", "unbalanced nested braces"),
    ("3", "</think>\\boxed{3}", True, "bare </think> without opening tag (template put <think> in prompt)"),
    ("3", "Reasoning here.</think>\n\n**Answer:** 3", True, "answer line after think"),
    ("3", "<think>long reasoning</think>\n\nI am not sure.", "no_final_answer_after_think", "nothing after think"),
    ("9", "We get $\\boxed{9}$ as the final count.", True, "box mid-sentence"),
    ("9", "$$\\boxed{9}$$", True, "display math box"),
    ("9", "\\[\\boxed{9}\\]", True, "bracket display math"),
    ("10", "The answer is \\boxed{10}.\nAnswer: 11", True, "box beats a later answer line"),
    ("x^2+1", "So $f(x) = \\boxed{x^2+1}$.", True, "box holds the expression only"),
    ("5", "<think>" + "We add. " * 2000 + "</think>\nThe answer is $\\boxed{5}$", True, "long think block"),
    ("5", "<think>" + "We add. " * 2000 + "\\boxed{5}", "no_final_answer_after_think", "long truncated think"),
    ("14", "Answer: $\\boxed{14}$", True, "Answer: with box"),
])

add("cosmetic", [
    ("12", B("\\textbf{12}"), True, "bold inside box"),
    ("12", "**Final Answer:** **12**", True, "markdown bold"),
    ("12", B("\\text{12}"), True, "\\text wrapper"),
    ("12", B("12."), True, "trailing period"),
    ("-3", B("\u22123"), True, "unicode minus"),
    ("-3", B("\u2212 3"), True, "unicode minus with space"),
    ("\\frac{1}{2}", B("\u00bd"), True, "vulgar fraction"),
    ("\\frac{3}{4}", B("\u00be"), True, "vulgar three quarters"),
    ("\\frac{7}{2}", B("3\u00bd"), True, "vulgar mixed number"),
    ("(1,2)", B("\\left(1,2\\right)"), True, "\\left( \\right)"),
    ("\\frac{3}{4}", B("\\dfrac{3}{4}"), True, "\\dfrac"),
    ("\\frac{3}{4}", B("\\tfrac34"), True, "\\tfrac without braces"),
    ("\\frac{1}{2}", B("\\frac12"), True, "\\frac12 shorthand"),
    ("5", B("\\displaystyle 5"), True, "\\displaystyle"),
    ("5", B("\\mathbf{5}"), True, "\\mathbf"),
    ("5", B(" 5 "), True, "spaces"),
    ("\\sqrt{3}", B("\\sqrt3"), True, "sqrt without braces"),
    ("2\\sqrt{3}", B("2 \\sqrt {3}"), True, "spacing in sqrt"),
    ("\\pi", B("\u03c0"), True, "unicode pi"),
    ("x^2", B("x\u00b2"), True, "unicode superscript"),
    ("3", B("3\\,"), True, "trailing thin space"),
    ("17", "**Answer:** $17$.", True, "bold answer label and period"),
    ("-\\frac{1}{2}", B("\\frac{-1}{2}"), True, "sign inside fraction"),
    ("-\\frac{1}{2}", B("-\\dfrac{1}{2}"), True, "sign outside fraction"),
    ("\\frac{1}{2}", B("\\frac{-1}{-2}"), True, "double negative fraction"),
])

add("numbers_exact", [
    ("\\frac{1}{4}", B("0.25"), True, "decimal equals fraction"),
    ("0.25", B("\\frac{1}{4}"), True, "fraction equals decimal"),
    ("\\frac{1}{2}", B("\\frac{3}{6}"), True, "unreduced fraction"),
    ("1.2", B("1.20"), True, "trailing zero"),
    ("1.20", B("1.2"), True, "trailing zero in gold"),
    ("7", B("007"), True, "leading zeros"),
    ("7", B("7.0"), True, "integer as decimal"),
    ("7", B("7.00"), True, "integer with decimals"),
    ("0.5", B("1/2"), True, "slash fraction"),
    ("0.5", B(".5"), True, "leading dot decimal"),
    ("-0.5", B("-\\frac{1}{2}"), True, "negative"),
    ("0.5", B("-0.5"), False, "sign matters"),
    ("3", B("+3"), True, "explicit plus sign"),
    ("3", B("4"), False, "different integer"),
    ("\\frac{2}{3}", B("\\frac{4}{6}"), True, "unreduced"),
    ("\\frac{2}{3}", B("\\frac{3}{2}"), False, "reciprocal"),
    ("0", B("0"), True, "zero"),
    ("0", B("-0"), True, "negative zero is zero"),
    ("100", B("100.0"), True, "decimal hundred"),
    ("1/3", B("\\frac{1}{3}"), True, "slash vs frac"),
    ("1/3", B("2/6"), True, "slash unreduced"),
    ("\\frac{22}{7}", B("\\frac{44}{14}"), True, "equal fractions"),
    ("3.5", B("\\frac72"), True, "decimal vs frac shorthand"),
    ("6", B("\\frac{12}{2}"), True, "fraction that is integer"),
    ("6", B("12/2"), True, "slash that is integer"),
    ("2", B("1+1"), True, "arithmetic expression"),
    ("12", B("3 \\times 4"), True, "product"),
    ("24", B("4!"), True, "factorial"),
    ("10", B("\\binom{5}{2}"), True, "binomial"),
    ("10", B("\\dbinom{5}{3}"), True, "dbinom"),
    ("8", B("2^3"), True, "power"),
    ("0.125", B("2^{-3}"), True, "negative power"),
    ("1000", B("10^3"), True, "power of ten"),
    ("5", B("\\sqrt{25}"), True, "perfect square root"),
    ("\\frac{1}{3}", B("0.333"), False, "truncated decimal is not the fraction"),
])

add("mixed_numbers", [
    ("\\frac{9}{4}", B("2\\frac14"), True, "mixed number shorthand"),
    ("\\frac{9}{4}", B("2\\frac{1}{4}"), True, "mixed number"),
    ("\\frac{9}{4}", B("2 \\frac{1}{4}"), True, "mixed number with space"),
    ("\\frac{1}{2}", B("2\\frac{1}{4}"), False, "mixed number is not a product"),
    ("-\\frac{9}{4}", B("-2\\frac{1}{4}"), True, "negative mixed number"),
    ("2.25", B("2\\tfrac{1}{4}"), True, "tfrac mixed number"),
    ("\\frac{7}{2}", B("3 1/2"), True, "plain text mixed number"),
    ("3\\frac{1}{2}", B("3.5"), True, "mixed gold vs decimal"),
    ("3\\frac{1}{2}", B("\\frac{7}{2}"), True, "mixed gold vs improper"),
    ("3\\frac{1}{2}", B("\\frac{3}{2}"), False, "mixed is not product"),
    ("\\frac{23}{8}", B("2\\frac78"), True, "mixed shorthand eighths"),
    ("\\frac{5}{3}", B("1\\frac{2}{3}"), True, "mixed thirds"),
])

add("repeating_decimals", [
    ("\\frac{2}{3}", B("0.\\overline{6}"), True, "overline repeating"),
    ("\\frac{1}{3}", B("0.\\overline{3}"), True, "one third"),
    ("\\frac{1}{6}", B("0.1\\overline{6}"), True, "mixed repeating"),
    ("\\frac{1}{7}", B("0.\\overline{142857}"), True, "long period"),
    ("\\frac{2}{3}", B("0.(6)"), True, "parenthesis notation"),
    ("\\frac{2}{3}", B("0.\\dot{6}"), True, "dot notation"),
    ("\\frac{2}{3}", B("0.6666666667"), False, "long decimal only approximates"),
    ("\\frac{2}{3}", B("0.667"), False, "rounded decimal"),
    ("\\frac{1}{3}", B("0.33333333333333333333"), False, "20 threes is not a third"),
    ("0.\\overline{3}", B("\\frac{1}{3}"), True, "repeating gold"),
    ("1", B("0.\\overline{9}"), True, "0.999... equals 1"),
    ("\\frac{13}{99}", B("0.\\overline{13}"), True, "two digit period"),
    ("\\frac{4}{3}", B("1.\\overline{3}"), True, "integer part"),
])

add("no_tolerance", [
    ("\\frac{2}{3}", B("0.6667"), False, "no rounding tolerance"),
    ("100000", B("100001"), False, "no relative tolerance"),
    ("2", B("200"), False, "no x100 fallback"),
    ("200", B("2"), False, "no /100 fallback"),
    ("0.02", B("2"), False, "no percent guessing"),
    ("\\pi", B("3.14"), False, "decimal is not pi"),
    ("\\pi", B("3.14159265358979323846"), False, "long decimal is not pi"),
    ("\\sqrt{2}", B("1.41421356"), False, "decimal is not sqrt 2"),
    ("e", B("2.718281828"), False, "decimal is not e"),
    ("1.5", B("1.50001"), False, "tiny difference matters"),
    ("1000000", B("999999"), False, "off by one"),
    ("0.1", B("0.1000000001"), False, "tiny difference"),
    ("\\frac{1}{3}", B("0.3333333333"), False, "truncated third"),
    ("12.5", B("12.49"), False, "close but wrong"),
    ("\\frac{\\sqrt{3}}{2}", B("0.866"), False, "decimal of sqrt3/2"),
    ("\\ln 2", B("0.693"), False, "decimal of ln 2"),
])

add("big_and_tiny", [
    ("10^{20}", B("10^{20}+1"), False, "big integers exact"),
    ("10^{20}+1", B("100000000000000000001"), True, "big integer literal"),
    ("3^{-50}", B("3^{-49}"), False, "tiny values exact"),
    ("3^{-50}", B("\\frac{1}{3^{50}}"), True, "tiny equal forms"),
    ("2^{100}", B("1267650600228229401496703205376"), True, "2^100 literal"),
    ("2^{100}", B("1267650600228229401496703205377"), False, "2^100 plus one"),
    ("10^{-30}", B("10^{-31}"), False, "tiny powers of ten"),
    ("123456789012345678901234567890", B("123456789012345678901234567890"), True, "long integer"),
    ("123456789012345678901234567890", B("123456789012345678901234567891"), False, "long integer off by one"),
    ("1.6\\times10^{-19}", B("1.6\\times10^{-19}"), True, "same scientific"),
    ("1.6\\times10^{-19}", B("1.7\\times10^{-19}"), False, "different mantissa"),
    ("20!", B("2432902008176640000"), True, "factorial value"),
    ("20!", B("2432902008176640001"), False, "factorial plus one"),
])

add("separators_scientific", [
    ("2500000", B("2,500,000"), True, "thousands commas"),
    ("2500", B("2\\,500"), True, "thin space thousands"),
    ("2500", B("2{,}500"), True, "braced comma thousands"),
    ("2500000", B("2\\,500\\,000"), True, "thin spaces"),
    ("1234567.5", B("1,234,567.5"), True, "commas with decimals"),
    ("1.6\\times 10^{-19}", B("1.6e-19"), True, "e notation"),
    ("1.6e-19", B("1.6\\times10^{-19}"), True, "e notation gold"),
    ("300000000", B("3\\times10^8"), True, "times ten power"),
    ("300000000", B("3 \\cdot 10^{8}"), True, "cdot ten power"),
    ("300000000", B("3\\times10^9"), False, "wrong exponent"),
    ("0.00016", B("1.6 \\times 10^{-4}"), True, "negative exponent"),
    ("6.02\\times10^{23}", B("6.02E23"), True, "capital E"),
    ("2500", B("2,500"), True, "single thousands comma"),
    ("25000", B("2,500"), False, "separator is not a digit"),
    ("1000", B("1 000"), True, "space thousands separator"),
])

add("percent", [
    ("0.4", B("40\\%"), True, "percent means x0.01"),
    ("40\\%", B("0.4"), True, "percent gold"),
    ("40\\%", B("40"), True, "the number of a percent gold written without its sign (MATH/Math-Verify convention)"),
    ("40\\%", B("40\\%"), True, "same percent"),
    ("40\\%", B("40%"), True, "plain percent sign"),
    ("40\\%", B("\\frac{2}{5}"), True, "fraction equals percent"),
    ("12.5\\%", B("0.125"), True, "decimal percent"),
    ("12.5\\%", B("\\frac{1}{8}"), True, "fraction of decimal percent"),
    ("5\\%", B("0.05\\%"), False, "a percent sign does not rescale twice"),
    ("50", B("50\\%"), True, "a percent sign on the answer only: the number as written"),
    ("40\\%", B("41\\%"), False, "different percent"),
    ("100\\%", B("1"), True, "one hundred percent"),
])

add("units", [
    ("5", B("5 \\text{ cm}"), True, "unit ignored"),
    ("5", B("5\\text{cm}"), True, "unit without space"),
    ("5", B("5 \\mbox{ meters}"), True, "mbox unit"),
    ("12", B("12 \\text{ apples}"), True, "count noun ignored"),
    ("18", B("\\$18"), True, "currency prefix"),
    ("18", B("\\$18.00"), True, "currency with cents"),
    ("18.50", B("\\$18.5"), True, "dollars and cents"),
    ("1500 \\text{ m}", B("1.5 \\text{ km}"), True, "unit conversion"),
    ("1.5 \\text{ km}", B("1500 \\text{ m}"), True, "unit conversion reversed"),
    ("1.5 \\text{ km}", B("1500 \\text{ km}"), False, "same unit different value"),
    ("2 \\text{ hours}", B("120 \\text{ minutes}"), True, "time conversion"),
    ("30", B("30^\\circ"), True, "degree mark ignored"),
    ("30^\\circ", B("30"), True, "degree mark in gold ignored"),
    ("\\pi", B("180^\\circ"), True, "180 degrees is pi"),
    ("\\frac{\\pi}{6}", B("30^\\circ"), True, "degrees to radians"),
    ("60^\\circ", B("\\frac{\\pi}{3}"), True, "radians to degrees"),
    ("60^\\circ", B("\\frac{\\pi}{4}"), False, "wrong angle"),
    ("45", B("45\u00b0"), True, "unicode degree"),
    ("45", B("45^{\\circ}"), True, "braced degree"),
    ("5", B("5 \\text{ cm}^2"), True, "area unit ignored"),
    ("10", B("10 \\text{ km/h}"), True, "rate unit ignored"),
    ("7", B("8 \\text{ cm}"), False, "unit does not rescue wrong value"),
    ("250", B("250 \\text{ mL}"), True, "volume unit"),
    ("3 \\text{ kg}", B("3000 \\text{ g}"), True, "mass conversion"),
])

add("symbolic", [
    ("2\\sqrt{2}", B("\\sqrt{8}"), True, "simplified radical"),
    ("\\frac{\\sqrt{2}}{2}", B("\\frac{1}{\\sqrt{2}}"), True, "rationalized"),
    ("\\frac{\\sqrt{3}}{3}", B("\\frac{1}{\\sqrt3}"), True, "rationalized 3"),
    ("2\\sqrt{2}", B("2\\sqrt{3}"), False, "different radical"),
    ("\\pi", B("\\pi"), True, "pi"),
    ("2\\pi", B("\\pi \\cdot 2"), True, "commuted"),
    ("\\frac{\\pi}{2}", B("\\pi/2"), True, "slash pi"),
    ("\\frac{\\pi}{2}", B("\\frac{\\pi}{3}"), False, "different multiple"),
    ("x^2+2x+1", B("(x+1)^2"), True, "factored polynomial"),
    ("(x+1)^2", B("x^2+2x+1"), True, "expanded polynomial"),
    ("x^2+2x+1", B("(x-1)^2"), False, "different polynomial"),
    ("(x-1)(x+2)", B("x^2+x-2"), True, "factored vs expanded"),
    ("\\frac{x}{2}", B("0.5x"), True, "decimal coefficient"),
    ("e^{2}", B("e^2"), True, "e power"),
    ("\\ln 8", B("3\\ln 2"), True, "log identity"),
    ("\\log_2 8", B("3"), True, "log base 2"),
    ("\\sin^2 x + \\cos^2 x", B("1"), True, "trig identity"),
    ("\\sqrt{2}+\\sqrt{3}", B("\\sqrt{5+2\\sqrt{6}}"), True, "denested radical"),
    ("1+\\sqrt{2}", B("\\sqrt{2}+1"), True, "commuted sum"),
    ("\\frac{1+\\sqrt{5}}{2}", B("\\frac{1}{2}+\\frac{\\sqrt5}{2}"), True, "split fraction"),
    ("\\frac{1+\\sqrt{5}}{2}", B("\\frac{1-\\sqrt5}{2}"), False, "conjugate"),
    ("3\\sqrt{3}", B("\\sqrt{27}"), True, "radical 27"),
    ("\\sqrt[3]{2}", B("2^{1/3}"), True, "cube root"),
    ("\\frac{a}{b}", B("a/b"), True, "symbolic fraction"),
    ("2x", B("x+x"), True, "symbolic sum"),
    ("\\cos 60^\\circ", B("\\frac12"), True, "trig of degrees"),
    ("\\tan(\\pi/4)", B("1"), True, "tan pi/4"),
    ("n(n+1)/2", B("\\frac{n^2+n}{2}"), True, "formula in n"),
    ("n(n+1)/2", B("\\frac{n^2-n}{2}"), False, "wrong formula"),
    ("\\infty", B("\\infty"), True, "infinity"),
    ("\\infty", B("infinity"), True, "infinity word"),
    ("-\\infty", B("\\infty"), False, "sign of infinity"),
    ("\\frac{5}{2}", B("\\frac{5}{2}\\pi"), False, "extra factor"),
    ("2^{10}", B("1024"), True, "power value"),
])

add("intervals", [
    ("(-2,\\infty)", B("(-2,\\infty)"), True, "same interval"),
    ("(-2,\\infty)", B("[-2,\\infty)"), False, "endpoint inclusion matters"),
    ("[1,2)", B("[1,2)"), True, "half-open"),
    ("[1,2)", B("(1,2]"), False, "other half-open"),
    ("[1,2]", B("[1,2]"), True, "closed"),
    ("[1,2]", B("[1,3]"), False, "different endpoint"),
    ("(-\\infty,1)\\cup(2,\\infty)", B("(-\\infty, 1) \\cup (2, \\infty)"), True, "union"),
    ("(-\\infty,1)\\cup(2,\\infty)", B("(2,\\infty)\\cup(-\\infty,1)"), True, "union order"),
    ("(-\\infty,1)\\cup(2,\\infty)", B("(-\\infty,1]\\cup(2,\\infty)"), False, "union endpoint"),
    ("(-\\infty, \\infty)", B("\\mathbb{R}"), True, "all reals"),
    ("\\mathbb{R}", B("\\text{all real numbers}"), True, "all reals words"),
    ("\\mathbb{R}", B("(-\\infty,\\infty)"), True, "all reals interval"),
    ("(0,1)", B("\\left(0, 1\\right)"), True, "left right"),
    ("[0,1]", B("\\left[0,1\\right]"), True, "left right brackets"),
    ("(0,\\frac{1}{2}]", B("(0, 0.5]"), True, "decimal endpoint"),
    ("[-3,3]", B("-3\\le x\\le 3"), True, "double inequality"),
])

add("inequalities", [
    ("(-2,\\infty)", B("x>-2"), True, "inequality equals interval"),
    ("x>-2", B("(-2,\\infty)"), True, "interval equals inequality"),
    ("(-2,2)", B("|x|<2"), True, "absolute value inequality"),
    ("[-2,2]", B("|x|\\le 2"), True, "closed abs inequality"),
    ("(-2,2)", B("-2<x<2"), True, "chained inequality"),
    ("(-\\infty,1)\\cup(2,\\infty)", B("x<1 \\text{ or } x>2"), True, "union of inequalities"),
    ("x<1 \\text{ or } x>2", B("(-\\infty,1)\\cup(2,\\infty)"), True, "gold inequality union"),
    ("x\\ge 3", B("[3,\\infty)"), True, "ge to interval"),
    ("x\\ge 3", B("(3,\\infty)"), False, "strictness matters"),
    ("x>-2", B("x\\geq -2"), False, "inequality strictness"),
    ("x \\le 5", B("x\\leq5"), True, "leq spelling"),
    ("(-2,\\infty)", B("x<-2"), False, "wrong direction"),
    ("x>3", B("3<x"), True, "reversed inequality"),
    ("(1,3)", B("x>1 \\text{ and } x<3"), True, "conjunction"),
])

add("sets_lists", [
    ("\\{1,2\\}", B("\\{2,1\\}"), True, "sets unordered"),
    ("1, 2", B("2, 1"), True, "solution lists unordered"),
    ("1, 2, 3", B("1, 2"), False, "missing element"),
    ("1, 2", B("1, 2, 3"), False, "extra element"),
    ("\\pm 5", B("5, -5"), True, "plus minus is a set"),
    ("5, -5", B("\\pm 5"), True, "list equals plus minus"),
    ("-5, 5", B("x=\\pm 5"), True, "assigned plus minus"),
    ("\\emptyset", B("\\varnothing"), True, "empty set notations"),
    ("\\emptyset", B("\\{\\}"), True, "empty braces"),
    ("\\emptyset", B("\\text{no solution}"), True, "no solution words"),
    ("\\emptyset", B("\\{0\\}"), False, "not empty"),
    ("2, 3", B("x = 2 \\text{ or } x = 3"), True, "or list of assignments"),
    ("2, 3", B("x=2, x=3"), True, "comma list of assignments"),
    ("\\{-1, 1\\}", B("\\{1,-1\\}"), True, "signed set"),
    ("\\{\\frac12, 2\\}", B("\\{0.5, 2\\}"), True, "set with decimal"),
    ("1,2", B("\\{1,2\\}"), True, "list vs set"),
    ("\\{1,2\\}", B("\\{1,3\\}"), False, "different element"),
    ("-1, \\frac{1}{2}", B("\\frac12, -1"), True, "mixed list"),
    ("1 \\pm \\sqrt{2}", B("1+\\sqrt{2}, 1-\\sqrt{2}"), True, "plus minus expression"),
    ("1 \\pm \\sqrt{2}", B("1+\\sqrt{2}"), False, "only one root"),
])

add("tuples", [
    ("(1,2)", B("(1,2)"), True, "same pair"),
    ("(1,2)", B("(2,1)"), False, "order matters"),
    ("(2,1)", B("(1,2)"), False, "order matters reversed"),
    ("(3,1)", B("(2,1)"), False, "different pair"),
    ("(1,2,3)", B("(1,2,3)"), True, "triple"),
    ("(1,2,3)", B("(3,2,1)"), False, "triple order"),
    ("(\\frac12, 3)", B("(0.5, 3)"), True, "pair with decimal"),
    ("(1,-2)", B("(1, -2)"), True, "negative coordinate"),
    ("(1,-2)", B("(x,y)=(1,-2)"), True, "labelled pair"),
    ("(0,0)", B("(0,0,0)"), False, "length matters"),
    ("(1,2,3)", B("\\{1,2,3\\}"), False, "tuple is not a set"),
])

add("equations", [
    ("y=3x-1", B("3x-y-1=0"), True, "same line rearranged"),
    ("y=3x-1", B("6x-2y-2=0"), True, "scaled by nonzero constant"),
    ("y=3x-1", B("y=3x+1"), False, "different line"),
    ("4", B("x=4"), True, "x=4 vs 4"),
    ("x=4", B("4"), True, "gold equation vs value"),
    ("12", B("x = 4\\cdot 3 = 12"), True, "chain counts final value"),
    ("13", B("x = 4\\cdot 3 = 12"), False, "chain final value wrong"),
    ("5", B("2+2=5"), False, "false equation is no answer"),
    ("4", B("2+2=4"), True, "true numeric equation"),
    ("x^2+y^2=1", B("y^2+x^2=1"), True, "circle rearranged"),
    ("x^2+y^2=1", B("x^2+y^2=2"), False, "different circle"),
    ("x^2+y^2=1", B("2x^2+2y^2=2"), True, "circle scaled"),
    ("y=2x", B("y-2x=0"), True, "line through origin"),
    ("y = x^2", B("y=x^3"), False, "different curve"),
    ("k=7", B("k = 7"), True, "spaced assignment"),
    ("7", B("k=7"), True, "assignment vs value"),
    ("7", B("k=8"), False, "wrong assignment"),
    ("f(x)=x^2+1", B("x^2+1"), True, "f(x)= names the asked function"),
    ("a=2", B("a = \\frac{4}{2}"), True, "assignment with fraction"),
    ("x=5", B("y=5"), False, "wrong variable"),
])

add("matrices", [
    ("\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", B("\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}"), True, "same matrix"),
    ("\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", B("\\begin{bmatrix}1&2\\\\3&4\\end{bmatrix}"), True, "bracket style"),
    ("\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", B("\\begin{pmatrix}1&3\\\\2&4\\end{pmatrix}"), False, "transposed"),
    ("\\begin{pmatrix}\\frac12\\\\1\\end{pmatrix}", B("\\begin{pmatrix}0.5\\\\1\\end{pmatrix}"), True, "decimal entry"),
    ("\\begin{pmatrix}1\\\\2\\end{pmatrix}", B("\\begin{pmatrix}1&2\\end{pmatrix}"), False, "shape matters"),
    ("\\begin{pmatrix}2&0\\\\0&2\\end{pmatrix}", B("\\begin{pmatrix}1+1&0\\\\0&\\sqrt4\\end{pmatrix}"), True, "element-wise equal"),
])

add("complex", [
    ("3+4i", B("3+4j"), True, "j as i"),
    ("3+4i", B("4i+3"), True, "commuted"),
    ("3+4i", B("3-4i"), False, "conjugate"),
    ("-1", B("i^2"), True, "power of i"),
    ("-i", B("i^3"), True, "i cubed"),
    ("1", B("i^4"), True, "i fourth"),
    ("-1", B("e^{i\\pi}"), True, "Euler"),
    ("i", B("e^{i\\pi/2}"), True, "Euler quarter turn"),
    ("\\frac{1}{2}+\\frac{\\sqrt{3}}{2}i", B("e^{i\\pi/3}"), True, "Euler sixth turn"),
    ("2i", B("\\sqrt{-4}"), True, "square root of negative"),
    ("1+i", B("\\frac{2}{1-i}"), True, "complex division"),
    ("i", B("-i"), False, "sign of i"),
])

add("bases", [
    ("1011_2", B("1011_2"), True, "same base"),
    ("1011_2", B("1011"), False, "base subscript matters"),
    ("1011_{2}", B("1011_2"), True, "braced subscript"),
    ("1011_2", B("1010_2"), False, "different digits"),
    ("11", B("1011_2"), False, "base form is not the decimal asked for"),
    ("FF_{16}", B("FF_{16}"), True, "hex"),
    ("212_3", B("0212_3"), True, "leading zero in base"),
])

add("choices", [
    ("B", B("B"), True, "plain letter"),
    ("B", B("(B)"), True, "parenthesized letter"),
    ("B", B("\\textbf{(B)}\\ 17"), True, "AMC decoration"),
    ("B", B("\\text{(B)}"), True, "text letter"),
    ("B", B("C"), False, "wrong letter"),
    ("B", B("A, B"), "hedged_answer", "several options"),
    ("B", "$\\boxed{A}$ or $\\boxed{B}$", "hedged_answer", "several boxed options"),
    ("(C)", B("C"), True, "gold parenthesized"),
    ("C", B("(C) 12"), True, "letter with value"),
    ("D", "The answer is \\boxed{\\text{D}}", True, "text D"),
    ("A", B("\\mathrm{(A)}"), True, "mathrm letter"),
    ("E", B("B"), False, "wrong letter E"),
    ("B", "Final Answer: (B)", True, "final answer line letter"),
    ("B", B("B and D"), "hedged_answer", "two letters with and"),
])

add("text", [
    ("Monday", B("\\text{Monday}"), True, "text answer"),
    ("Monday", B("monday"), True, "case-insensitive"),
    ("Monday", B("Tuesday"), False, "different word"),
    ("yes", B("\\text{Yes}"), True, "yes case"),
    ("no", B("Yes"), False, "yes is not no"),
    ("isosceles", B("\\text{Isosceles}"), True, "word case"),
    ("even", B("\\text{odd}"), False, "odd not even"),
    ("5", B("\\text{The answer cannot be determined}"), False, "boxed prose is not an answer"),
    ("5", B("\\text{see above}"), False, "boxed prose fails"),
    ("Alice", B("\\text{Alice}"), True, "name"),
    ("Alice", B("\\text{Bob}"), False, "different name"),
    ("right triangle", B("\\text{Right Triangle}"), True, "phrase case"),
])

add("hedged", [
    ("5", B("5 \\text{ or } 6"), "hedged_answer", "two candidates"),
    ("5", B("5 or 6"), "hedged_answer", "two candidates plain"),
    ("5", B("\\pm 5"), "hedged_answer", "plus minus for single value"),
    ("5", B("5, 6"), "hedged_answer", "list of candidates"),
    ("5", B("5, 6, 7"), "hedged_answer", "many candidates"),
    ("5", "$\\boxed{5}$ or $\\boxed{6}$", "hedged_answer", "two adjacent boxes"),
    ("\\frac12", B("\\frac12 \\text{ or } \\frac13"), "hedged_answer", "fraction candidates"),
    ("x^2", B("x^2 \\text{ or } x^3"), "hedged_answer", "expression candidates"),
    ("5", B("x = 5 \\text{ or } x = 6"), "hedged_answer", "assignment candidates"),
    ("5", B("5, 5"), True, "repeated same candidate is one answer"),
    ("2, 3", B("2 \\text{ or } 3"), True, "or-list for a two-element gold is the set"),
])

add("adversarial", [
    ("5", B("2^{2^{2^{2^{2^{2}}}}}"), False, "power tower rejected"),
    ("5", B("10^{10^{10}}"), False, "huge power rejected"),
    ("5", B("(10^{10})!"), False, "gigantic factorial rejected"),
    ("5", B("100000!"), False, "large factorial rejected"),
    ("e", B("(1+10^{-30})^{10^{30}}"), False, "misleading float: huge power of near-one"),
    ("1", B("(1+10^{-20})^{10^{40}}"), False, "near-one power not evaluated as float"),
    ("0", B("\\sin(10^{100}\\pi)"), True, "trig of huge multiple of pi is exactly zero"),
    ("1", B("\\cos(10^{100}\\pi)"), True, "cos of even multiple of pi"),
    ("5050", B("+".join(str(i) for i in range(1, 101))), True, "long sum"),
    ("5051", B("+".join(str(i) for i in range(1, 101))), False, "long sum wrong"),
    ("1", B("(" * 60 + "1" + ")" * 60), True, "deeply nested brackets"),
    ("5", B("9" * 5000), False, "very long number"),
    ("5", B("\\frac{1}{0}"), False, "division by zero"),
    ("0", B("0/0"), False, "undefined"),
    ("5", B("x^{x^{x^{x^{x}}}}"), False, "symbolic tower"),
    ("2^{2^{2^{2^{2}}}}", B("2^{2^{2^{2^{2}}}}"), True, "identical big expression by string"),
    ("5", B("\\binom{10^{9}}{10^{8}}"), False, "huge binomial"),
    ("5", B("\\left(" * 30 + "5" + "\\right)" * 30), True, "nested left right"),
])

add("membership_and_misc", [
    ("\\{1,2\\}", B("x \\in \\{1,2\\}"), True, "membership in the solution set"),
    ("[1,2]", B("x \\in [1,2]"), True, "membership in an interval"),
    ("[1,2]", B("x \\in (1,2]"), False, "membership keeps endpoints"),
    ("-\\frac{\\sqrt{3}}{2}", B("-\\frac{1}{2}\\sqrt{3}"), True, "coefficient written apart"),
    ("\\frac{3\\sqrt{5}}{10}", B("\\frac{3}{2\\sqrt{5}}"), True, "rationalized denominator"),
    ("4\\sqrt{2}", B("\\sqrt{32}"), True, "radical reduced"),
    ("4\\sqrt{2}", B("5.657"), False, "decimal of a radical"),
    ("(12,\\infty)", B("x \\geq 12"), False, "closed vs open end"),
    ("(-\\infty,-2]", B("x\\le -2"), True, "left ray"),
    ("2\\pi", B("360^\\circ"), True, "full turn"),
    ("18.90", "The total is $\\$18.90$.\n\nFinal Answer: $18.90", True, "money with cents"),
    ("5", B("\\text{5 apples}"), True, "text-wrapped number with a noun"),
])

add("final_answer_lines", [
    ("6", "**Final Answer**\n\n6", True, "bold heading, answer on the next line"),
    ("6", "### Final Answer\nThe answer is $6$.", True, "markdown heading then sentence"),
    ("B", "The correct option is (B).\n\nFinal Answer: B", True, "letter on final answer line"),
    ("1 \\text{ ft}", B("12 \\text{ inches}"), True, "imperial conversion"),
    ("\\{3\\}", B("3"), True, "singleton set vs value"),
    ("2", B("2 \\text{ or } -2"), "hedged_answer", "two signs for one value"),
    ("\\pm 2", B("2"), False, "one of two required values"),
    ("7", "\\boxed{7}\n\nWait, actually let me double-check. I made an error earlier; recomputing we get \\boxed{8}", False, "later box after self-correction wins"),
    ("\\log_2 3", B("\\frac{\\ln 3}{\\ln 2}"), True, "change of base"),
    ("ab", B("ba"), True, "commuted product of symbols"),
    ("90", B("\\frac{\\pi}{2}"), False, "radians are not the degrees asked for by a bare gold"),
    ("2", "<think>the answer is 2</think>", "no_final_answer_after_think", "answer only in reasoning"),
])
