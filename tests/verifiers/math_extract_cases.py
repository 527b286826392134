"""Labelled cases for the math verifier's ``extract="bare"`` and ``extract="auto"`` modes.

Grouped by category, each with why. ``expected`` is True (must pass), False (must fail, any
reason) or a reason code (must fail with exactly that reason). The equality policy is the one of
math_cases.py (exact, no tolerance, no x100 fallback, units ignored when one side has none);
only where the answer is found differs. Used by tests/verifiers/test_math.py.
"""

from __future__ import annotations

from typing import NamedTuple


class ExtractCase(NamedTuple):
    category: str
    extract: str
    gold: str
    response: str
    expected: bool | str
    why: str


EXTRACT_CASES: list[ExtractCase] = []


def add(category: str, extract: str, rows: list[tuple[str, str, bool | str, str]]) -> None:
    for gold, response, expected, why in rows:
        EXTRACT_CASES.append(ExtractCase(category, extract, gold, response, expected, why))


PARAGRAPH = (
    "To solve this we first add the two numbers, which gives 5, and then we check the result "
    "against the original equation to make sure nothing went wrong along the way"
)

add("bare_numbers", "bare", [
    ("-5", "-5", True, "a negative integer is the whole answer"),
    ("42", "42", True, "a bare integer"),
    ("42", " 42\n", True, "surrounding whitespace is cosmetic"),
    ("\\frac{1}{2}", "0.5", True, "a decimal equals the fraction exactly"),
    ("1000", "1,000", True, "thousands separator"),
    ("7", "007", True, "leading zeros"),
    ("2.5", "2.50", True, "trailing zero of a decimal"),
    ("\\pi", "3.14", False, "no tolerance: 3.14 is not pi"),
    ("\\frac{1}{3}", "0.333", False, "no tolerance: a truncated decimal is not 1/3"),
    ("\\frac{1}{3}", "0.\\overline{3}", True, "a repeating decimal is exact"),
    ("0", "-0", True, "minus zero is zero"),
    ("5", "55", False, "a number containing the gold's digits is another number"),
    ("1.6\\times10^{-19}", "1.6e-19", True, "scientific notation both ways"),
    ("10", "10.", True, "a trailing period is not a decimal point"),
    ("-3", "\u22123", True, "unicode minus"),
])

add("bare_latex", "bare", [
    ("10/9", "\\frac{10}{9}", True, "a LaTeX fraction without $ (issue 14)"),
    ("\\frac{1}{2}", "\\dfrac{1}{2}", True, "dfrac is frac"),
    ("2\\sqrt{2}", "\\sqrt{8}", True, "a surd simplifies exactly"),
    ("\\frac{\\sqrt{3}}{2}", "\\frac{\\sqrt3}{2}", True, "brace-less sqrt argument"),
    ("(x+1)^2", "x^2+2x+1", True, "an expanded polynomial is the same polynomial"),
    ("(x+1)^2", "x^2+2x", False, "a different polynomial"),
    ("\\frac{\\pi}{2}", "\\pi/2", True, "slash and frac forms"),
    ("(1,\\infty)", "x>1", True, "an inequality equals the interval it describes"),
    ("(1,\\infty)", "[1,\\infty)", False, "intervals keep their endpoints"),
    ("\\{1,2\\}", "2, 1", True, "an unordered solution list"),
    ("(1,2)", "(2,1)", False, "tuples are ordered"),
    ("3+4i", "3+4i", True, "a complex number"),
    ("\\begin{pmatrix}1\\\\2\\end{pmatrix}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}", True, "a matrix"),
    ("y=2x+1", "2x-y+1=0", True, "equations equal up to a nonzero factor"),
    ("\\infty", "\\infty", True, "infinity"),
])

add("bare_delimiters", "bare", [
    ("5", "$5$", True, "inline math dollars"),
    ("5", "$$5$$", True, "display math dollars"),
    ("5", "\\(5\\)", True, "inline math parentheses"),
    ("5", "\\[5\\]", True, "display math brackets"),
    ("\\frac{1}{2}", "$\\frac{1}{2}$.", True, "math then a period"),
    ("5", "\\boxed{5}", True, "a box around the whole answer unwraps"),
    ("5", "$\\boxed{5}$", True, "a boxed answer in math mode"),
    ("5", "**5**", True, "markdown bold"),
    ("5", "\\text{5}", True, "text wrapper"),
    ("5", "<think>\nadd them\n</think>\n5", True, "after </think> the rest is the bare answer"),
])

add("bare_phrases", "bare", [
    ("5", "The answer is 5.", True, "a short answer sentence (issue 14)"),
    ("5", "Answer: 5", True, "answer label"),
    ("5", "The final answer is 5", True, "final answer phrase"),
    ("5", "So the answer is 5.", True, "lead-in connective"),
    ("7", "It is 7.", True, "it is"),
    ("\\frac{3}{4}", "The answer is $\\frac{3}{4}$.", True, "phrase with inline math"),
    ("3", "x = 3", True, "an assignment matches its value (issue 14)"),
    ("3", "x=3", True, "assignment without spaces"),
    ("x=3", "3", True, "a value matches a gold assignment"),
    ("x=3", "y = 3", False, "a different variable is a different answer"),
    ("12", "The sum is 12.", True, "the answer follows the verb"),
    ("2, 3", "The roots are 2 and 3.", True, "a solution list after the verb"),
    ("5", "The final answer is $5$. I hope it is correct.", True, "the Minerva/MATH few-shot sign-off"),
    ("5", "The answer is not 5.", "no_answer", "a negation is not the answer"),
    ("8", "approximately 8", "no_answer", "prose before the number: not a bare answer (and no tolerance)"),
])

add("bare_units_percent", "bare", [
    ("5", "5 apples", True, "a noun after the number is ignored when the gold has none"),
    ("12", "12 cm", True, "a unit on one side only is ignored"),
    ("1500 \\text{ m}", "1.5 km", True, "units on both sides convert"),
    ("2 \\text{ km}", "2 m", False, "units on both sides that differ"),
    ("18", "$18", True, "a currency sign"),
    ("18", "18 dollars", True, "a currency word"),
    ("\\frac{1}{2}", "50%", True, "percent is x0.01"),
    ("50\\%", "50", True, "a percent gold accepts its number without the sign"),
    ("50\\%", "5000", False, "no x100 fallback"),
    ("0.4", "40\\%", True, "escaped percent"),
    ("90", "90^\\circ", True, "degrees on one side"),
    ("90", "\\frac{\\pi}{2}", False, "radians are not the degrees asked for by a bare gold"),
    ("120 \\text{ minutes}", "2 hours", True, "time units convert"),
])

add("bare_text_choice", "bare", [
    ("Monday", "Monday", True, "a word answer"),
    ("Monday", "monday", True, "text compares case-insensitively"),
    ("Monday", "Tuesday", False, "another word"),
    ("isosceles triangle", "an isosceles triangle", True, "articles are cosmetic"),
    ("yes", "Yes", True, "yes/no"),
    ("yes", "no", False, "the other one"),
    ("B", "(B)", True, "a choice letter in parentheses"),
    ("C", "The answer is (C).", True, "a choice letter in a phrase"),
    ("B", "B", True, "a bare choice letter"),
])

add("bare_adversarial", "bare", [
    ("5", PARAGRAPH, "no_answer", "a whole paragraph is not a bare answer, though it contains the gold"),
    ("5", "We add. The answer is 5.", "no_answer", "two sentences are not one short answer"),
    ("5", "Let me compute: 2+3=5.\nSo 5.", "no_answer", "several lines of working"),
    ("3", "3 or 4", "hedged_answer", "a hedge between two values"),
    ("5", "5 or 6", "hedged_answer", "a hedge that contains the gold"),
    ("5", "5, 6, 7", "hedged_answer", "a list for a single-valued gold"),
    ("5", "\\pm 5", "hedged_answer", "plus-minus for one value"),
    ("A", "A or C", "hedged_answer", "two choice letters"),
    ("5", "", "no_answer", "an empty response"),
    ("5", "   \n ", "no_answer", "only whitespace"),
    ("5", "\\boxed{}", "empty_box", "an empty box"),
    ("5", "\\boxed{5", "unbalanced_braces", "a box that never closes"),
    ("5", "<think>\nit is 5", "no_final_answer_after_think", "an unclosed think block has no answer, in any mode"),
    ("5", "<think>\n5\n</think>\n", "no_final_answer_after_think", "nothing after the think block"),
    ("5", "2^{2^{2^{2^{2^{2}}}}}", "too_large", "size bounds hold in bare mode"),
    ("5", "5" * 3000, "too_large", "an absurdly long answer"),
    ("5", "}}}{{{", False, "garbage braces never pass and never raise"),
])

add("auto_boxed_first", "auto", [
    ("5", "We add 2 and 3. The answer is $\\boxed{5}$. Check: 5+1=6.", True, "a box beats later numbers"),
    ("6", "We add 2 and 3. The answer is $\\boxed{5}$. Check: 5+1=6.", False, "the later number is not the answer when there is a box"),
    ("5", "<think>maybe 4</think>\nSo $\\boxed{5}$", True, "think block skipped, box counts"),
    ("5", "The answer is $\\boxed{}$, clearly 5.", "empty_box", "a broken box stays the verdict"),
    ("5", "So $\\boxed{5$ done", "unbalanced_braces", "an unclosed box stays the verdict"),
    ("2, 3", "The roots are $x=\\boxed{2}$ and $x=\\boxed{3}$.", True, "adjacent boxes form a list, as in boxed mode"),
])

add("auto_final_line", "auto", [
    ("42", "Some work.\n\nFinal Answer: 42", True, "a Final Answer line"),
    ("\\frac{1}{2}", "Work.\nFinal Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.", True, "Minerva format: the sign-off is not part of the answer"),
    ("12", "Work.\n**Answer:** 12", True, "bold answer label"),
    ("18", "She sells 9 eggs at $2 each.\n#### 18", True, "GSM8K's #### line"),
    ("1000", "Total is 10 times 100.\n#### 1,000", True, "GSM8K answer with a thousands separator"),
    ("17", "Step 1 gives 5.\n#### 17\nExtra text 3", True, "the #### line wins over later numbers"),
])

add("auto_anchor", "auto", [
    ("12", "We count every pair, so the answer is 12, found in 2 steps.", True, "an 'answer is' phrase anchors the first expression after it"),
    ("\\frac{3}{4}", "Dividing, the answer is $\\frac{3}{4}$ of the cake.", True, "anchor then math then words"),
    ("3", "The answer is 3 or 4.", "hedged_answer", "an anchored hedge"),
    ("7", "Hmm, my answer: 7", True, "answer colon mid-line"),
])

add("auto_last_expression", "auto", [
    ("18", "Janet has 16 eggs. She eats 3 and bakes 4, so she sells 16 - 3 - 4 = 9 eggs at $2 each, making $18.", True, "GSM8K-style working: the last number"),
    ("18", "She makes 9 * 2 = 18 dollars.", True, "a chain of working ends at the answer"),
    ("4", "Solving the equation gives $x = 4$.", True, "the last inline math"),
    ("\\frac{3}{4}", "So the probability is 3/4.", True, "a slash fraction in prose"),
    ("120", "The train travels 120 km.", True, "a unit after the number is ignored for a bare gold"),
    ("1500 \\text{ m}", "The distance is 1.5 km.", True, "a unit after the number is kept, so units convert"),
    ("-5", "The temperature dropped to -5 degrees overnight.", True, "a negative number in prose"),
    ("42", "In the 3rd step we find 42.", True, "an ordinal is not a number"),
    ("7", "First I thought 5, but after rechecking the total is 7.", True, "the last expression is the final one"),
    ("5", "First I thought 5, but after rechecking the total is 7.", False, "an abandoned earlier value"),
    ("\\frac{1}{2}", "Thus we get \\frac{1}{2}.", True, "bare LaTeX in prose"),
    ("2\\sqrt{2}", "which simplifies to 2\\sqrt{2}", True, "a bare surd in prose"),
    ("42", "Working gives 42 eventually, I think.", True, "with no box, auto still reads the last number"),
    ("12", "<think>\nIt is 10... no.\n</think>\nSo it is 12", True, "only the text after </think> counts"),
])

add("auto_bare_answers", "auto", [
    ("-5", "-5", True, "a bare number in auto mode"),
    ("10/9", "\\frac{10}{9}", True, "bare LaTeX in auto mode"),
    ("3", "x = 3", True, "an assignment in auto mode"),
    ("5", "The answer is 5.", True, "a short phrase in auto mode"),
    ("Monday", "Monday", True, "a word answer in auto mode"),
    ("B", "(B)", True, "a choice letter in auto mode"),
])

add("auto_adversarial", "auto", [
    ("3", "It could be 3 or 4.", "hedged_answer", "a hedge at the end of a sentence"),
    ("2", "The roots are 2 and 3.", "hedged_answer", "two values for a single-valued gold"),
    ("5", "I have no idea.", False, "no mathematics at all never passes"),
    ("5", "<think>\nit is 5", "no_final_answer_after_think", "an unclosed think block"),
    ("5", "<think>\nit is 5\n</think>", "no_final_answer_after_think", "nothing after the think block"),
    ("5", "", "no_answer", "an empty response"),
    ("5", "x5 and y5 are names", False, "digits inside names are not numbers"),
    ("5", "The answer is 6, not 5.", False, "the anchored value, not a later negated one"),
    ("5", "10^{10^{10}}", "too_large", "size bounds hold in auto mode"),
])

add("auto_chains", "auto", [
    ("7", "We evaluate the polynomial at two, and so $f(2) = 7$ as we wanted.", True, "a function value computed in working: its right side"),
    ("7", "We check many things here first. In the end $a+b = 3+4 = 7$ holds.", True, "a chain of working ends at its value"),
    ("8", "We check many things here first. In the end $a+b = 3+4 = 8$ holds.", False, "a false chain is refused, not read as its last number"),
    ("y=2x+1", "The line through both points is $y = 2x + 1$.", True, "an equation in a name stays an equation"),
    ("2x-y+1=0", "Putting it all together we get the line $2x - y + 1 = 0$ here.", True, "an equation equal to zero stays an equation"),
    ("7", "Putting it all together we get the condition $x + y = 7$ here.", False, "x + y = 7 is an equation, not the value 7 (as in a box)"),
])

add("auto_sentences", "auto", [
    ("1234", "There is a total of 1,234 students.", True, "thousands separator in prose"),
    ("3\\sqrt{2}", "Answer: $3\\sqrt{2}$", True, "answer label with inline math"),
    ("72", "The answer is 72.", True, "GSM8K-style closing sentence"),
    ("7", "so 3 + 4 = 7.", True, "arithmetic in prose ends at its result"),
    ("-2, 3", "The solutions are x = -2 or x = 3.", True, "two solutions after the verb form a list"),
    ("\\frac{1}{2}", "$$\\frac{1}{2}$$ is the probability.", True, "the answer before 'is the ...'"),
    ("12", "Hence the area is $12\\text{ cm}^2$.", True, "a unit inside the math"),
    ("5", "We need $n \\geq 5$, so the smallest is $n=5$.", True, "the value after the last verb, not the condition"),
    ("\\frac{\\sqrt5-1}{2}", "The value is $\\frac{-1+\\sqrt{5}}{2}$.", True, "reordered surd expression"),
    ("(2,5]", "The interval is $(2, 5]$.", True, "an interval in a sentence"),
    ("4", "Therefore the answer is \\(\\boxed{4}\\).", True, "a box in \\( \\) math"),
    ("0.5", "The answer is $\\frac{1}{2}$, i.e. 0.5.", True, "the anchored answer ends at a comma that goes on in words"),
    ("3.5", "It costs 3.50 dollars.", True, "a price with a currency word"),
    ("\\frac{1}{4}", "The probability is 25%.", True, "percent in prose is x0.01"),
    ("5", "So we have 2 cats and 3 dogs, 5 pets.", True, "the last number after a comma"),
    ("5", "Final answer: 5 apples.", True, "a final answer line with a noun"),
    ("(1,-2)", "The ordered pair is $(1, -2)$.", True, "an ordered pair in a sentence"),
    ("C", "The answer is \\textbf{(C)}.", True, "a bold choice letter"),
    ("C", "Option C is correct.", True, "a choice named before 'is correct'"),
    ("12", "We find that $k = 12$. Then we are done.", True, "the last math, with a closing sentence after it"),
    ("B", "The answer is B.", True, "a choice letter after the anchor"),
    ("-3", "The smallest integer is -3.", True, "a negative number after the verb"),
])

add("bare_more", "bare", [
    ("0.5", "\\frac12", True, "brace-less frac"),
    ("5", "$x=5$", True, "an assignment in math mode"),
    ("[1,2]", "x \\in [1,2]", True, "membership in an interval"),
    ("\\frac{1}{2}", "1/2", True, "slash fraction"),
    ("5", "The answer is: 5", True, "answer is with a colon"),
    ("5", "**The answer is 5**", True, "a bold answer sentence"),
    ("5", "5 cm^2", True, "a squared unit on one side"),
    ("A", "\\text{(A)}", True, "a choice letter in text"),
    ("3, -3", "x = 3 or x = -3", True, "two solutions joined by or for a two-valued gold"),
    ("2,3", "2 \\text{ and } 3", True, "a list joined in text"),
    ("18", "\\$18.00", True, "an escaped dollar and cents"),
    ("5", "5 is the answer", True, "the answer before 'is the answer'"),
    ("x^2-1", "(x+1)(x-1)", True, "a factored polynomial"),
    ("10^6", "1,000,000", True, "a million with separators"),
    ("-0.5", "$-\\frac{1}{2}$", True, "a negative fraction in math mode"),
    ("-2", "x=-2", True, "a negative assignment"),
])
