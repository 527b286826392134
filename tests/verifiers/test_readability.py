"""Labelled cases for the readability verifier (R1's long-paragraph and code-block filters, loops)."""

from __future__ import annotations

import random

import pytest

from verifiers import VERIFIERS
from verifiers.readability import check_readability, estimate_tokens, repetition

rng = random.Random(0)
WORDS = ("we need the sum of all digits so let me compute each term carefully and then check "
         "whether the result matches what the problem asks for since a small slip changes it").split()


def prose(n_words: int) -> str:
    """Varied English-like filler without sentence-level repeats."""
    words = [rng.choice(WORDS) for _ in range(n_words)]
    return " ".join(words).capitalize() + "."


def trace(reasoning: str, answer: str = "The answer is $\\boxed{5}$.") -> str:
    return f"<think>\n{reasoning}\n</think>\n{answer}"


GOOD = trace("\n\n".join(prose(60) for _ in range(8)))
CODE_REASONING = trace(prose(40) + "\n\n```python\nprint(sum(range(10)))\n```\n\n" + prose(30))

CASES = [
    ("healthy", GOOD, {}, "ok"),
    ("long_paragraph", trace(prose(900)), {}, "long_paragraph"),
    ("long_paragraph_limit_is_configurable", trace(prose(900)), {"max_paragraph_tokens": None}, "ok"),
    ("hard_wrapped_lines_count_as_lines", trace("\n".join(prose(30) for _ in range(40))), {}, "ok"),
    ("blank_line_paragraphs", trace("\n".join(prose(30) for _ in range(40))), {"paragraphs": "blank_line"},
     "long_paragraph"),
    ("code_in_math_reasoning", CODE_REASONING, {"domain": "math"}, "code_in_reasoning"),
    ("code_in_unknown_domain", CODE_REASONING, {}, "code_in_reasoning"),
    ("code_in_code_reasoning", CODE_REASONING, {"domain": "code"}, "ok"),
    ("code_allowed_explicitly", CODE_REASONING, {"domain": "math", "allow_code_in_reasoning": True}, "ok"),
    ("code_in_answer_is_fine", trace(prose(40), "```python\nprint(45)\n```"), {"domain": "math"}, "ok"),
    ("line_loop_back_to_back", trace(prose(40) + "\n" + "Let me recompute the sum of the digits.\n" * 30), {},
     "repetition"),
    ("block_loop", trace(prose(40) + "\n" + "So x = 3.\nThen y = 4.\nWait, that is wrong.\n" * 6), {},
     "repetition"),
    ("scattered_repeats", trace("\n".join(f"{prose(12)}\nLet me double-check this step once more."
                                          for _ in range(20))), {}, "repetition"),
    ("few_scattered_repeats_are_healthy", trace("\n".join(f"{prose(12)}\nLet me double-check this step once more."
                                                          for _ in range(5))), {}, "ok"),
    ("ngram_loop_inside_a_line", trace(prose(30) + " and so on" * 40), {}, "repetition"),
    ("character_loop", trace(prose(30) + " 0.1" + "01" * 800), {}, "repetition"),
    ("empty_answer", trace(prose(40), ""), {}, "answer_too_short"),
    ("answer_too_long", trace(prose(40), "\n\n".join(prose(80) for _ in range(40))), {}, "answer_too_long"),
    ("answer_bound_is_configurable", trace(prose(40), "\n".join(prose(80) for _ in range(40))),
     {"max_answer_tokens": None}, "ok"),
    ("reasoning_over_budget", GOOD, {"max_reasoning_tokens": 100}, "reasoning_too_long"),
    ("reasoning_under_minimum", trace("Easy."), {"min_reasoning_tokens": 20}, "reasoning_too_short"),
    ("unclosed_think_has_no_answer_bound", "<think>\n" + prose(50), {}, "ok"),
]


@pytest.mark.parametrize(("name", "response", "kwargs", "reason"), CASES, ids=[c[0] for c in CASES])
def test_labelled_cases(name, response, kwargs, reason):
    v = check_readability(response, **kwargs)
    assert v.reason == reason, (name, v.details)
    assert v.passed == (reason == "ok")


def test_every_failure_is_listed_and_scored():
    bad = trace(prose(900) + "\n\n```python\nx = 1\n```", "")
    v = check_readability(bad, domain="math")
    assert v.details["failed"] == ["long_paragraph", "code_in_reasoning", "answer_too_short"]
    assert v.reason == "long_paragraph"
    assert v.score == pytest.approx(1 - 3 / 7)


def test_tokenizer_counts_tokens():
    words = trace(prose(200))
    by_words = check_readability(words, max_reasoning_tokens=150, tokenizer=lambda s: len(s.split()))
    assert by_words.reason == "reasoning_too_long" and by_words.details["reasoning_tokens"] == 200

    class Tok:  # the Hugging Face shape: encode(text, add_special_tokens=False)
        def encode(self, text, add_special_tokens=True):
            assert add_special_tokens is False
            return text.split()

    assert check_readability(words, max_reasoning_tokens=250, tokenizer=Tok()).passed


def test_estimate_tokens_counts_cjk_densely():
    assert estimate_tokens("abcd" * 10) == 10
    assert estimate_tokens("数" * 100) == 75


def test_repetition_reports_the_loop():
    loop = repetition("Intro.\n" + "Wait, no.\n" * 5)
    assert loop["kind"] == "consecutive" and loop["repeats"] == 5 and loop["unit"] == "Wait, no."
    assert repetition(GOOD) is None
    assert repetition("}\n}\n}\n}\n}") is None  # closing braces are not a loop


def test_registry_passes_the_row_domain():
    assert VERIFIERS["readability"]({"completion": CODE_REASONING, "domain": "code"}).passed
    assert VERIFIERS["readability"]({"completion": CODE_REASONING, "domain": "math"}).reason == "code_in_reasoning"


@pytest.mark.parametrize("bad", [{"paragraphs": "para"}, {"max_line_repeats": 1}, {"bogus": 1}, {"tokenizer": 3}])
def test_bad_config_raises(bad):
    with pytest.raises(ValueError):
        check_readability(GOOD, **bad)


def test_bad_model_output_never_raises():
    assert check_readability(None).passed is False  # type: ignore[arg-type]
    assert check_readability("").reason == "answer_too_short"
