"""Format verifier: the R1 ``<think>…</think>answer`` shape, and truncation.

A well-formed response is::

    <think>
    reasoning ...
    </think>
    final part that holds the answer (often with \\boxed{...})

The pipeline passes the *full* completion: an assistant prefill such as ``"<think>\\n"`` has
already been prepended to the generated text, so a response normally starts with ``<think>``.
When a chat template puts the opening tag in the prompt and the completion is stored without it,
pass ``think_prefilled=True``: the opening tag is then implied (a leading one is still accepted).

Reason codes, checked in this order (the first that applies wins):

``truncated``             the engine stopped at its token limit (``finish_reason == "length"``)
``repetition``            the engine stopped a sample that kept repeating itself (vLLM's
                          ``repetition_detection``: ``finish_reason == "repetition"``)
``aborted``               the request was aborted before the sample ended (``"abort"``)
``engine_error``          the engine failed the sample (``"error"``)
``missing_think``         no ``<think>`` at the start (text before it, or no tags at all)
``unclosed_think``        ``<think>`` opened and never closed (a cut-off or runaway trace)
``multiple_think``        a second ``<think>`` inside the reasoning, or a second ``</think>``
``think_in_answer``       a ``<think>`` opened inside the final part and never closed
``empty_think``           empty reasoning, only with ``min_think_chars > 0``
``answer_only_in_think``  the reasoning holds a ``\\boxed{}`` but the final part holds none
``empty_answer``          nothing after ``</think>``
``unclosed_box``          a ``\\boxed{`` in the final part whose braces never close
``no_boxed_answer``       no ``\\boxed{}`` in the final part, only with ``require_box=True``
"""

from __future__ import annotations

from verifiers.math.extract import find_boxes
from verifiers.text import THINK_CLOSE, THINK_OPEN
from verifiers.verdict import Verdict

TRUNCATED = "truncated"
REPETITION = "repetition"
ABORTED = "aborted"
ENGINE_ERROR = "engine_error"
MISSING_THINK = "missing_think"
UNCLOSED_THINK = "unclosed_think"
MULTIPLE_THINK = "multiple_think"
THINK_IN_ANSWER = "think_in_answer"
EMPTY_THINK = "empty_think"
EMPTY_ANSWER = "empty_answer"
ANSWER_ONLY_IN_THINK = "answer_only_in_think"
UNCLOSED_BOX = "unclosed_box"
NO_BOXED_ANSWER = "no_boxed_answer"

REASONS = (
    TRUNCATED, REPETITION, ABORTED, ENGINE_ERROR,
    MISSING_THINK, UNCLOSED_THINK, MULTIPLE_THINK, THINK_IN_ANSWER, EMPTY_THINK,
    ANSWER_ONLY_IN_THINK, EMPTY_ANSWER, UNCLOSED_BOX, NO_BOXED_ANSWER,
)

# finish reasons that mean the engine cut the text off rather than the model ending it ("stop", and
# None for a text given without one, are the model's own end)
_CUT_OFF = {"length": TRUNCATED, "max_tokens": TRUNCATED, "repetition": REPETITION, "abort": ABORTED,
            "error": ENGINE_ERROR}


def check_format(
    response: str,
    finish_reason: str | None = None,
    require_think: bool = True,
    *,
    think_prefilled: bool = False,
    require_box: bool = False,
    min_think_chars: int = 0,
    **options: object,
) -> Verdict:
    """Check that ``response`` has the ``<think>reasoning</think>answer`` shape and is complete.

    ``require_think=False`` also accepts a response without think tags (then the whole text is
    the answer part); tags that are present must still be well formed. ``think_prefilled=True``
    accepts a response whose opening ``<think>`` was in the prompt template. ``require_box``
    demands a ``\\boxed{}`` in the final part; ``min_think_chars`` a reasoning at least that long.
    ``extracted`` is the final part; ``details`` holds the tag counts.
    """
    if options:
        raise ValueError(f"check_format: unknown option(s) {sorted(options)}")
    if not isinstance(response, str):
        return Verdict.fail(EMPTY_ANSWER, details={"error": f"response is {type(response).__name__}"})

    text = response.lstrip()
    n_open, n_close = text.count(THINK_OPEN), text.count(THINK_CLOSE)
    details = {"n_think_open": n_open, "n_think_close": n_close}
    if finish_reason in _CUT_OFF:
        return Verdict.fail(_CUT_OFF[finish_reason], details=details)

    has_tags = bool(n_open or n_close)
    if text.startswith(THINK_OPEN):
        body = text[len(THINK_OPEN):]
    elif think_prefilled or (not require_think and n_open == 0 and n_close > 0):
        # the opening tag was in the prompt template (a stray one later is caught below)
        body = text
    elif require_think or has_tags:
        return Verdict.fail(MISSING_THINK, details=details)
    else:
        return _check_answer(None, text, require_box, details)

    reasoning, sep, answer = body.partition(THINK_CLOSE)
    if not sep:
        # the think block never closed: the model ran on, or the engine cut it short
        return Verdict.fail(UNCLOSED_THINK, details=details)
    if THINK_OPEN in reasoning:
        return Verdict.fail(MULTIPLE_THINK, details=details)
    if THINK_CLOSE in answer:
        # a second think block (or a duplicated closing tag) after the first
        return Verdict.fail(MULTIPLE_THINK, details=details)
    if THINK_OPEN in answer:
        return Verdict.fail(THINK_IN_ANSWER, extracted=answer.strip(), details=details)
    reasoning = reasoning.strip()
    if len(reasoning) < min_think_chars:
        return Verdict.fail(EMPTY_THINK, details=details)
    return _check_answer(reasoning, answer.strip(), require_box, details)


def _check_answer(reasoning: str | None, answer: str, require_box: bool, details: dict) -> Verdict:
    # the math verifier's box rule, so a box here is a box there (``\boxed 7`` included)
    answer_boxes, unclosed = find_boxes(answer)
    if not answer_boxes and not unclosed and reasoning and any(find_boxes(reasoning)):
        return Verdict.fail(ANSWER_ONLY_IN_THINK, extracted=answer, details=details)
    if not answer:
        return Verdict.fail(EMPTY_ANSWER, extracted=answer, details=details)
    if unclosed:
        return Verdict.fail(UNCLOSED_BOX, extracted=answer, details=details)
    if require_box and not answer_boxes:
        return Verdict.fail(NO_BOXED_ANSWER, extracted=answer, details=details)
    return Verdict.ok(extracted=answer, details=details)
