"""Labelled cases for the language-consistency verifier."""

from __future__ import annotations

import pickle
from concurrent.futures import ThreadPoolExecutor

import pytest

from verifiers import VERIFIERS
from verifiers.language import language_consistency, strip_neutral

EN = (
    "<think>\nWe need to find the number of positive divisors of 360. First, factor it: "
    "$360 = 2^3 \\cdot 3^2 \\cdot 5$. The number of divisors is the product of the exponents "
    "plus one, so we get $(3+1)(2+1)(1+1) = 24$.\n\nWait, let me double-check that the "
    "factorization is right. Indeed $8 \\cdot 45 = 360$, and 45 is $9 \\cdot 5$. So the count "
    "is correct.\n</think>\nThe number 360 has $\\boxed{24}$ positive divisors."
)
EN_WITH_ZH_CLAUSE = EN.replace("So the count is correct.", "所以这个计数是正确的。 So the count is correct.")
ZH_WITH_EN_TERMS = (
    "<think>\n首先，我们需要求三角形的面积。三边分别是 3、4、5，这是一个直角三角形。"
    "根据 Heron's formula，面积等于 $\\sqrt{s(s-a)(s-b)(s-c)}$，其中 $s$ 是半周长，"
    "也就是 $s = 6$。代入得到面积是 $\\sqrt{6 \\cdot 3 \\cdot 2 \\cdot 1} = 6$。"
    "再用两条直角边验证一下：$\\frac{1}{2} \\cdot 3 \\cdot 4 = 6$，结果一致。\n</think>\n"
    "三角形的面积是 $\\boxed{6}$。"
)
FR = (
    "<think>\nNous devons trouver le nombre de diviseurs positifs de 360. D'abord, on factorise : "
    "$360 = 2^3 \\cdot 3^2 \\cdot 5$. Le nombre de diviseurs est le produit des exposants plus "
    "un, donc on obtient 24. Vérifions encore une fois que la factorisation est correcte.\n"
    "</think>\nLe nombre 360 a $\\boxed{24}$ diviseurs positifs."
)
EN_WITH_FR_SENTENCE = EN.replace(
    "So the count is correct.",
    "Donc le nombre de diviseurs est bien vingt-quatre, comme prévu. So the count is correct.",
)
CODE_HEAVY = (
    "<think>\nI will write a function that sorts the list and returns the median.\n"
    "```python\ndef median(xs):\n    ys = sorted(xs)\n    n = len(ys)\n    mid = n // 2\n"
    "    return ys[mid] if n % 2 else (ys[mid - 1] + ys[mid]) / 2\n```\n"
    "Then `median([3, 1, 2])` returns `2`, and the even case averages the middle pair.\n"
    "</think>\nHere is the solution:\n```python\nimport sys\nprint(sorted(map(int, sys.stdin.read().split())))\n```"
)
LATEX_HEAVY = (
    "<think>\nLet $f(x) = \\int_0^x e^{-t^2}\\,dt$. Then\n$$f'(x) = e^{-x^2}, \\quad "
    "f''(x) = -2x e^{-x^2}.$$\n\\begin{align*}\n\\lim_{x\\to\\infty} f(x) &= \\frac{\\sqrt{\\pi}}{2} "
    "\\\\\n\\sum_{n=0}^{\\infty} \\frac{(-1)^n x^{2n+1}}{n!(2n+1)} &= f(x)\n\\end{align*}\n"
    "So the limit is the value above.\n</think>\nThe limit is $\\boxed{\\frac{\\sqrt{\\pi}}{2}}$."
)


@pytest.mark.parametrize(
    ("name", "text", "target", "reason"),
    [
        ("english", EN, "en", "ok"),
        ("english_with_one_chinese_clause", EN_WITH_ZH_CLAUSE, "en", "mixed_language"),
        ("chinese_with_english_math_terms", ZH_WITH_EN_TERMS, "zh", "ok"),
        ("chinese_judged_as_english", ZH_WITH_EN_TERMS, "en", "wrong_language"),
        ("french", FR, "fr", "ok"),
        ("french_judged_as_english", FR, "en", "wrong_language"),
        ("english_judged_as_french", EN, "fr", "wrong_language"),
        ("english_with_a_french_sentence", EN_WITH_FR_SENTENCE, "en", "mixed_language"),
        ("code_heavy", CODE_HEAVY, "en", "ok"),
        ("code_heavy_for_chinese_target", CODE_HEAVY, "zh", "wrong_language"),
        ("latex_heavy", LATEX_HEAVY, "en", "ok"),
        ("short_english", "The answer is 5.", "en", "ok"),
        ("short_chinese_for_english", "答案是五。", "en", "wrong_language"),
        ("only_math", "$x^2 + 1 = 5$, $x = \\pm 2$.", "zh", "ok"),
        ("english_connective_for_chinese", "$x^2 + 1 = 5$, so $x = \\pm 2$.", "zh", "wrong_language"),
        ("english_with_a_chinese_term", EN.replace("factor it:", "factor it (质因数):"), "en", "ok"),
        (
            "japanese_for_chinese",
            "<think>\nまず、三角形の面積を求めます。</think>\n答えは6です。",
            "zh",
            "wrong_language",
        ),
        (
            "japanese",
            "<think>\nまず、三角形の面積を求めます。底辺は3で高さは4です。\n</think>\n答えは6です。",
            "ja",
            "ok",
        ),
        ("chinese_for_japanese", ZH_WITH_EN_TERMS, "ja", "wrong_language"),
        ("russian", "<think>\nНам нужно найти сумму цифр этого числа.\n</think>\nОтвет: 9.", "ru", "ok"),
        (
            "russian_for_english",
            "<think>\nНам нужно найти сумму цифр этого числа.\n</think>\nОтвет: 9.",
            "en",
            "wrong_language",
        ),
    ],
)
def test_labelled_cases(name, text, target, reason):
    v = language_consistency(text, target)
    assert v.reason == reason, (name, v)
    assert v.passed == (reason == "ok")
    assert 0.0 <= v.score <= 1.0


def test_score_is_the_target_share():
    v = language_consistency(EN_WITH_ZH_CLAUSE, "en")
    assert v.details["longest_foreign_run"] == 10  # 所以这个计数是正确的: ten characters
    assert v.details["words"] - v.details["target_words"] == 10
    assert v.score == pytest.approx(v.details["target_words"] / v.details["words"])
    assert 0.8 < v.score < 1.0


def test_run_length_and_threshold_are_configurable():
    assert language_consistency(EN_WITH_ZH_CLAUSE, "en", 0.8, max_run=11).passed
    assert language_consistency(EN_WITH_ZH_CLAUSE, "en", 0.8, max_run=None).passed
    assert language_consistency(EN_WITH_ZH_CLAUSE, "en", 0.9, max_run=None).reason == "mixed_language"
    assert language_consistency(EN_WITH_ZH_CLAUSE, "en", 0.0, max_run=10).reason == "mixed_language"


def test_part_selects_reasoning_or_answer():
    text = "<think>\nWe add the two numbers together carefully.\n</think>\n答案是五。"
    assert language_consistency(text, "en", part="reasoning").passed
    assert language_consistency(text, "en", part="answer").reason == "wrong_language"


def test_neutral_spans_are_stripped():
    cleaned = strip_neutral("see https://example.com/路径 and `代码` and $变量$ and \\text{字}")
    assert "路径" not in cleaned and "代码" not in cleaned and "变量" not in cleaned and "字" not in cleaned
    assert "see" in cleaned


def test_target_names_and_regions_resolve():
    assert language_consistency(ZH_WITH_EN_TERMS, "zh-CN").passed
    assert language_consistency(FR, "French").passed


@pytest.mark.parametrize("bad", [{"target": "xx"}, {"threshold": 1.5}, {"max_run": 0}, {"part": "think"}, {"bogus": 1}])
def test_bad_config_raises_naming_the_key(bad):
    with pytest.raises(ValueError):
        language_consistency(EN, **bad)


def test_bad_model_output_never_raises():
    assert language_consistency(None, "en").passed is False  # type: ignore[arg-type]
    assert language_consistency("", "en").passed


def test_threads_and_pickle():
    texts = [EN, FR, EN_WITH_ZH_CLAUSE, ZH_WITH_EN_TERMS] * 8
    with ThreadPoolExecutor(4) as pool:
        verdicts = list(pool.map(lambda t: language_consistency(t, "en"), texts))
    assert [v.reason for v in verdicts[:4]] == ["ok", "wrong_language", "mixed_language", "wrong_language"]
    assert verdicts[4:8] == verdicts[:4]
    assert pickle.loads(pickle.dumps(language_consistency))(EN).passed


def test_registry_reads_the_row_language():
    assert VERIFIERS["language"]({"completion": ZH_WITH_EN_TERMS, "language": "zh"}).passed
    assert not VERIFIERS["language"]({"completion": ZH_WITH_EN_TERMS, "language": None}).passed


def test_candidate_languages_are_configurable():
    de = EN.replace(
        "So the count is correct.",
        "Also ist die Anzahl der Teiler wirklich vierundzwanzig, wie erwartet. So the count is correct.",
    )
    assert language_consistency(de, "en").reason == "mixed_language"
    assert language_consistency(de, "en", languages=["en"]).passed  # nothing to tell English apart from
    assert language_consistency(de, "en", languages=["en", "de"]).reason == "mixed_language"
