"""Labelled cases for the format verifier (R1's <think>…</think>answer shape)."""

from __future__ import annotations

import pytest

from verifiers import VERIFIERS
from verifiers.format import check_format

GOOD = "<think>\nWe add 2 and 3 to get 5.\n</think>\nThe answer is $\\boxed{5}$."

# (response, kwargs, expected reason)
CASES = [
    (GOOD, {}, "ok"),
    ("\n  " + GOOD, {}, "ok"),                                           # leading whitespace
    (GOOD, {"finish_reason": "stop"}, "ok"),
    ("We add 2 and 3.\n</think>\nThe answer is $\\boxed{5}$.", {"think_prefilled": True}, "ok"),
    (GOOD, {"think_prefilled": True}, "ok"),                             # prefill already prepended
    ("The answer is $\\boxed{5}$.", {"require_think": False}, "ok"),
    ("The answer is $\\boxed{5}$.", {}, "missing_think"),
    ("We add 2 and 3.\n</think>\nThe answer is 5.", {}, "missing_think"),  # opening not prefilled
    ("Sure! <think>\nWe add.\n</think>\n5", {}, "missing_think"),         # text before <think>
    (GOOD, {"finish_reason": "length"}, "truncated"),
    ("<think>\nWe add 2 and 3 and then we add again and", {}, "unclosed_think"),
    ("We add 2 and 3 and then", {"think_prefilled": True}, "unclosed_think"),
    ("<think>\na\n</think>\nb\n<think>\nc\n</think>\nThe answer is 5.", {}, "multiple_think"),
    ("<think><think>\na\n</think>\nThe answer is 5.", {}, "multiple_think"),
    ("<think>\na\n</think>\n</think>\nThe answer is 5.", {}, "multiple_think"),
    ("<think>\na\n</think>\nThe answer is 5. <think> let me reconsider", {}, "think_in_answer"),
    ("<think>\nWe add 2 and 3.\n</think>\n   \n", {}, "empty_answer"),
    ("<think>\nSo the answer is $\\boxed{5}$.\n</think>\n", {}, "answer_only_in_think"),
    ("<think>\nSo the answer is $\\boxed{5}$.\n</think>\nSee above.", {}, "answer_only_in_think"),
    ("<think>\nSo $\\boxed{5}$.\n</think>\nThe answer is $\\boxed{5}$.", {}, "ok"),
    ("<think>\nWe add.\n</think>\nThe answer is $\\boxed{\\frac{1}{2}", {}, "unclosed_box"),
    ("<think>\nWe add.\n</think>\nThe answer is 5.", {"require_box": True}, "no_boxed_answer"),
    ("<think>\n\n</think>\nThe answer is 5.", {"min_think_chars": 1}, "empty_think"),
]


@pytest.mark.parametrize(("response", "kwargs", "reason"), CASES)
def test_labelled_cases(response, kwargs, reason):
    v = check_format(response, **kwargs)
    assert v.reason == reason, v
    assert v.passed == (reason == "ok")
    assert v.score == (1.0 if reason == "ok" else 0.0)


def test_extracted_is_the_final_part():
    v = check_format(GOOD)
    assert v.extracted == "The answer is $\\boxed{5}$."
    assert v.details == {"n_think_open": 1, "n_think_close": 1}


def test_format_and_math_read_the_same_boxes():
    from verifiers.math import extract_answer

    # one box rule for both verifiers: a brace-less box is an answer to each, an unclosed one to neither
    for answer, math_answer in [("So $\\boxed 7$.", "7"), ("So $\\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}"),
                                ("So \\fbox{3}.", "3")]:
        assert check_format("<think>\nwork\n</think>\n" + answer, require_box=True).passed
        assert extract_answer(answer) == math_answer
        assert check_format("<think>\n" + answer + "\n</think>\nSee above.").reason == "answer_only_in_think"
    assert check_format("<think>\nwork\n</think>\nSo \\boxed{7.", require_box=True).reason == "unclosed_box"
    assert extract_answer("So \\boxed{7.") is None


def test_bad_model_output_never_raises():
    assert check_format(None).passed is False  # type: ignore[arg-type]
    assert check_format("").reason == "missing_think"


def test_unknown_option_is_a_config_error():
    with pytest.raises(ValueError, match="bogus"):
        check_format(GOOD, bogus=1)


def test_registry_passes_finish_reason_and_options():
    row = {"completion": GOOD, "finish_reason": "length"}
    assert VERIFIERS["format"](row).reason == "truncated"
    prefilled = {"completion": "a\n</think>\nb", "finish_reason": "stop"}
    assert VERIFIERS["format"](prefilled).reason == "missing_think"
    assert VERIFIERS["format"](prefilled, think_prefilled=True).passed


@pytest.mark.parametrize(
    ("finish", "reason"),
    [("length", "truncated"), ("repetition", "repetition"), ("abort", "aborted"), ("error", "engine_error")],
)
def test_every_engine_stop_that_is_not_the_models_own_end_has_its_reason(finish, reason):
    whole = "<think>\nok\n</think>\nThe answer is \\boxed{4}."
    assert check_format(whole, finish_reason="stop").passed
    verdict = check_format(whole, finish_reason=finish)
    assert not verdict.passed and verdict.reason == reason
