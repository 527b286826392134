"""Readability: the DeepSeek-R1 SFT filters that are not about correctness.

R1 dropped chains of thought with long paragraphs and code blocks, and small models or long
generations add a failure of their own: degenerate repetition. Checks, each configurable:

``repetition``           a degenerate loop: a block of lines repeated back to back
                         (``max_consecutive_repeats``), one line many times
                         (``max_line_repeats``), a word n-gram back to back
                         (``max_ngram_repeats``), or text that compresses like a loop
                         (``max_compression_ratio``); see ``repetition()``
``reasoning_too_long``   more than ``max_reasoning_tokens`` in the reasoning
``reasoning_too_short``  fewer than ``min_reasoning_tokens`` (off by default)
``long_paragraph``       a paragraph (a line, or lines without a blank line between them when
                         ``paragraphs="blank_line"``) of more than ``max_paragraph_tokens``
``code_in_reasoning``    a fenced code block in the reasoning of a problem whose ``domain`` is
                         not one of ``code_domains``
``answer_too_short``     a final part shorter than ``min_answer_chars`` (only when the think block
                         closed: an unclosed one is the format verifier's ``unclosed_think``)
``answer_too_long``      a final part of more than ``max_answer_tokens``

Tokens are estimated as UTF-8 bytes / 4 (about right for English with BPE tokenizers, 0.75 per
CJK character) unless ``tokenizer`` is given: a Hugging Face tokenizer or any callable
``str -> int``. ``score`` is the share of checks passed; ``details["failed"]`` lists every failed
check, ``reason`` is the first in the order above.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, Literal

from verifiers.text import THINK_CLOSE, THINK_OPEN
from verifiers.verdict import Verdict

REPETITION = "repetition"
REASONING_TOO_LONG = "reasoning_too_long"
REASONING_TOO_SHORT = "reasoning_too_short"
LONG_PARAGRAPH = "long_paragraph"
CODE_IN_REASONING = "code_in_reasoning"
ANSWER_TOO_SHORT = "answer_too_short"
ANSWER_TOO_LONG = "answer_too_long"
REASONS = (
    REPETITION, REASONING_TOO_LONG, REASONING_TOO_SHORT, LONG_PARAGRAPH, CODE_IN_REASONING,
    ANSWER_TOO_SHORT, ANSWER_TOO_LONG,
)

CODE_DOMAINS = ("code", "coding", "programming")

_FENCE = re.compile(r"^[ \t]*(```|~~~)[^\n]*\n.*?(?:^[ \t]*\1[ \t]*$|\Z)", re.DOTALL | re.MULTILINE)
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_ALNUM = re.compile(r"\w")
_LETTERS = re.compile(r"[^\W\d_]{2}")


def estimate_tokens(text: str) -> int:
    """A tokenizer-free token count: UTF-8 bytes / 4, rounded up."""
    return (len(text.encode("utf-8")) + 3) // 4


def _token_counter(tokenizer: Any) -> Callable[[str], int]:
    if tokenizer is None:
        return estimate_tokens
    if hasattr(tokenizer, "encode"):
        return lambda s: len(tokenizer.encode(s, add_special_tokens=False))
    if callable(tokenizer):
        return tokenizer
    raise ValueError(f"readability: tokenizer must be a tokenizer or a callable, got {type(tokenizer).__name__}")


def _parts(response: str) -> tuple[str, str | None]:
    """(reasoning, answer); answer is None when a think block opened and never closed."""
    text = response.strip()
    head, sep, tail = text.rpartition(THINK_CLOSE)
    if sep:
        reasoning = head.replace(THINK_OPEN, "", 1) if head.lstrip().startswith(THINK_OPEN) else head
        return reasoning.strip(), tail.strip()
    if text.startswith(THINK_OPEN):
        return text[len(THINK_OPEN):].strip(), None
    return "", text  # no think block: all of it is the answer


def _units(text: str) -> list[str]:
    """Lines and sentences, stripped, without empty ones (str.replace beats a regex split)."""
    for end in (". ", "? ", "! ", "。", "！", "？"):
        if end in text:
            text = text.replace(end, end.rstrip() + "\n")
    return [u for u in map(str.strip, text.split("\n")) if u]


def _ids(units: list[str]) -> str:
    """Map units to one character each, equal units to equal characters, for regex matching."""
    table: dict[str, str] = {}
    return "".join([table.setdefault(u, chr(0x100 + len(table))) for u in units])


def repetition(
    text: str,
    *,
    max_line_repeats: int = 16,
    max_consecutive_repeats: int = 4,
    max_ngram_repeats: int = 8,
    min_repeat_chars: int = 12,
    max_compression_ratio: float = 8.0,
    window_bytes: int = 2048,
) -> dict[str, Any] | None:
    """Evidence of a degenerate loop in ``text``, or ``None``.

    Four signs, cheapest first:

    - a block of 1-8 lines/sentences repeated ``max_consecutive_repeats`` times back to back;
    - one line/sentence of at least ``min_repeat_chars`` characters ``max_line_repeats`` times
      anywhere (short ones like ``Wait.`` repeat in healthy reasoning);
    - a block of 1-16 words (with a word of letters in it) ``max_ngram_repeats`` times back to
      back inside a line (``and so on and so on ...``);
    - in a line of at least ``window_bytes / 2`` bytes, a ``window_bytes`` stretch that zlib
      compresses ``max_compression_ratio`` times or more: natural reasoning compresses 2.5-4x, a
      loop far more (``aaaa...``, ``0.1010101...``).
    """
    units = _units(text)
    every = Counter(units)
    top = max(every.values(), default=0)
    # a block repeated R times back to back repeats each of its units R times: skip the
    # back-reference search unless some unit does
    if top >= max_consecutive_repeats:
        pattern = f"(.{{1,8}}?)\\1{{{max_consecutive_repeats - 1},}}"
        for m in re.finditer(pattern, _ids(units), re.DOTALL):
            start = m.start()
            block = units[start:start + len(m.group(1))]
            if any(_ALNUM.search(u) for u in block):
                return {"kind": "consecutive", "unit": block[0][:80], "period": len(block),
                        "repeats": len(m.group()) // len(m.group(1))}
    if top >= max_line_repeats:
        unit, n = max(((u, k) for u, k in every.items() if len(u) >= min_repeat_chars),
                      key=lambda uk: uk[1], default=("", 0))
        if n >= max_line_repeats:
            return {"kind": "lines", "unit": unit[:80], "repeats": n}
    pattern = f"(.{{1,16}}?)\\1{{{max_ngram_repeats - 1},}}"
    half = window_bytes // 2
    for u in every:
        if len(u) < 4 * max_ngram_repeats:
            continue
        words = u.split()
        # only a sentence made mostly of few distinct words can hide a loop: test those alone,
        # the back-reference search is too slow to run on every sentence
        if len(words) >= max_ngram_repeats and 2 * len(set(words)) <= len(words):
            for m in re.finditer(pattern, _ids(words), re.DOTALL):
                block = words[m.start():m.start() + len(m.group(1))]
                if any(_LETTERS.search(w) for w in block):
                    return {"kind": "ngram", "unit": " ".join(block)[:80], "period": len(block),
                            "repeats": len(m.group()) // len(m.group(1))}
        if len(u) >= half:
            # a long unbroken stretch: a loop without spaces or sentence ends compresses hugely
            data = u.encode("utf-8")
            for start in range(0, max(len(data) - half, 1), half):
                chunk = data[start:start + window_bytes]
                ratio = len(chunk) / len(zlib.compress(chunk, 1))
                if ratio >= max_compression_ratio:
                    return {"kind": "compression", "unit": u[:80], "ratio": round(ratio, 1)}
    return None


def check_readability(
    response: str,
    *,
    domain: str | None = None,
    max_paragraph_tokens: int | None = 512,
    paragraphs: Literal["line", "blank_line"] = "line",
    allow_code_in_reasoning: bool | None = None,
    code_domains: Iterable[str] = CODE_DOMAINS,
    max_line_repeats: int = 16,
    max_consecutive_repeats: int = 4,
    max_ngram_repeats: int = 8,
    min_repeat_chars: int = 12,
    max_compression_ratio: float = 8.0,
    min_answer_chars: int = 1,
    max_answer_tokens: int | None = 2048,
    max_reasoning_tokens: int | None = 16384,
    min_reasoning_tokens: int = 0,
    tokenizer: Any = None,
    **options: object,
) -> Verdict:
    """Check a response for the R1 readability failures; see the module docstring for each.

    ``domain`` is the problem's domain (``"math"``, ``"code"``...): code blocks in the reasoning
    are allowed for ``code_domains`` only, unless ``allow_code_in_reasoning`` says otherwise.
    ``None`` turns a length limit off.
    """
    if options:
        raise ValueError(f"readability: unknown option(s) {sorted(options)}")
    if paragraphs not in ("line", "blank_line"):
        raise ValueError(f"readability: paragraphs must be 'line' or 'blank_line', got {paragraphs!r}")
    for key, value in (("max_line_repeats", max_line_repeats), ("max_ngram_repeats", max_ngram_repeats),
                       ("max_consecutive_repeats", max_consecutive_repeats)):
        if int(value) < 2:
            raise ValueError(f"readability: {key} must be >= 2, got {value!r}")
    if isinstance(code_domains, str):
        code_domains = (code_domains,)
    count = _token_counter(tokenizer)
    if not isinstance(response, str):
        return Verdict.fail(ANSWER_TOO_SHORT, details={"error": f"response is {type(response).__name__}"})

    reasoning, answer = _parts(response)
    failed: list[str] = []
    details: dict[str, Any] = {}

    loop = repetition(
        response, max_line_repeats=max_line_repeats, max_consecutive_repeats=max_consecutive_repeats,
        max_ngram_repeats=max_ngram_repeats, min_repeat_chars=min_repeat_chars,
        max_compression_ratio=max_compression_ratio,
    )
    if loop:
        failed.append(REPETITION)
        details["repetition"] = loop

    reasoning_tokens = count(reasoning) if reasoning else 0
    details["reasoning_tokens"] = reasoning_tokens
    if max_reasoning_tokens is not None and reasoning_tokens > max_reasoning_tokens:
        failed.append(REASONING_TOO_LONG)
    if reasoning_tokens < min_reasoning_tokens:
        failed.append(REASONING_TOO_SHORT)

    code_ok = allow_code_in_reasoning
    if code_ok is None:
        code_ok = domain is not None and str(domain).lower() in {d.lower() for d in code_domains}
    prose = reasoning
    if reasoning and ("```" in reasoning or "~~~" in reasoning):
        n_blocks = len(_FENCE.findall(reasoning))
        if n_blocks:
            details["code_blocks_in_reasoning"] = n_blocks
            if not code_ok:
                failed.append(CODE_IN_REASONING)
            prose = _FENCE.sub("\n\n", reasoning)  # code is not a paragraph

    if max_paragraph_tokens is not None and prose:
        pieces = prose.split("\n") if paragraphs == "line" else _BLANK_LINE.split(prose)
        if tokenizer is None:
            longest_tokens = max(map(estimate_tokens, pieces))
        else:
            # a token covers at least one byte: only pieces longer than the limit can exceed it
            limit = max_paragraph_tokens
            longest_tokens = max((count(p) for p in pieces if len(p.encode("utf-8")) > limit), default=0)
        details["longest_paragraph_tokens"] = longest_tokens
        if longest_tokens > max_paragraph_tokens:
            failed.append(LONG_PARAGRAPH)

    if answer is not None:
        details["answer_chars"] = len(answer)
        if len(answer) < min_answer_chars:
            failed.append(ANSWER_TOO_SHORT)
        if max_answer_tokens is not None and count(answer) > max_answer_tokens:
            failed.append(ANSWER_TOO_LONG)

    checks = 7
    score = 1.0 - len(failed) / checks
    if failed:
        failed.sort(key=REASONS.index)
        details["failed"] = failed
        return Verdict.fail(failed[0], score, details=details)
    return Verdict.ok(1.0, details=details)
