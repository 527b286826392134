"""Extraction: where a response's final answer is, before anything reads it as mathematics.

``find_boxes`` is the one box rule of the project: the format verifier's ``\\boxed{}`` checks use
it too, so a box is the same thing to both verifiers.
"""

from __future__ import annotations

import re
from typing import Literal

from verifiers.math.numbers import is_unit
from verifiers.math.reasons import EMPTY_BOX, NO_ANSWER, NO_FINAL_ANSWER_AFTER_THINK, OK, UNBALANCED_BRACES
from verifiers.text import THINK_CLOSE, THINK_OPEN, match_brace

_BOX_CMD = re.compile(r"\\(?:boxed|fbox)(?![a-zA-Z])")
# What may sit between boxes that together form one answer list: connectors, variable names
# with an equals sign, math delimiters, punctuation, spacing commands.
_GAP_TOKENS = re.compile(
    r"\\text\s*\{\s*(?:and|or|,)?\s*\}|\b(?:and|or)\b|\\(?:quad|qquad|[,;:! ])"
    r"|\b[a-zA-Z](?:_\{?\w+\}?)?\s*=|\\\(|\\\)|\\\[|\\\]|[\s$,;.&]"
)
_FINAL_LINE = re.compile(
    r"(?im)^[ \t>#*_-]*(?:\*\*|__)?\s*(?:the\s+)?(?:final\s+answer|answer)\s*(?:\*\*|__)?\s*"
    r"(?:is\s*)?[:：]\s*(?:\*\*|__)?(.*)$"
)
_FINAL_HEADING = re.compile(
    r"(?im)^[ \t>#*_-]*(?:\*\*|__)?\s*final\s+answer\s*(?:\*\*|__)?\s*[:：]?\s*(?:\*\*|__)?\s*$"
)
_FINAL_PHRASE = re.compile(r"(?i)\bthe\s+final\s+answer\s+is\s*:?\s*(.+)$", re.M)


ExtractMode = Literal["boxed", "bare", "auto"]
EXTRACT_MODES: tuple[str, ...] = ("boxed", "bare", "auto")

# "The answer is", "So the final answer is:", "Answer:", "Thus, the result is" before a bare answer
_LEAD_IN = re.compile(
    r"(?i)^(?:(?:so|thus|hence|therefore|finally)\s*,?\s*)?(?:the\s+)?(?:final\s+|correct\s+)?"
    r"(?:answer|result|solution)(?:\s+is)?\s*[:：=]?\s*"
    r"|^(?:(?:so|thus|hence|therefore)\s*,?\s*)?(?:it\s+is|it's|we\s+get|this\s+gives|that\s+is)\s+"
    r"|^(?:so|thus|hence|therefore)\s*,?\s+|^#{4}\s*"
)
# the Minerva/MATH few-shot sign-off after "The final answer is $5$." (and whatever the model adds after it)
_SIGN_OFF = re.compile(r"(?is)[.\s]*I\s+hope\s+(?:it|this)\s+is\s+correct\b.*$")
# "The sum is 12", "x equals 3": the answer is what follows the last such verb
_VERB = re.compile(r"(?i)\s(?:is|are|equals|was|would\s+be|will\s+be)\s+")
# math written inline: $$..$$, $..$, \(..\), \[..\]
_MATH_SEG = re.compile(r"\$\$(.+?)\$\$|(?<!\\)\$(.+?)(?<!\\)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.S)
# a number in prose: -5, 1,000, 3.75, 2,74 (a decimal comma), 3/4, 50%, $18; or a bare \frac / \sqrt
_PROSE_MATH = re.compile(
    r"(?:[-−]\s?)?\d*\\[dt]?(?:frac|sqrt)(?:\s*\{[^{}]*\}){1,2}"
    r"|(?<![\w.\\])(?:[-−]\s?)?\\?\$?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+|,\d+(?![,\d]))?)"
    r"(?:\s*/\s*\d+)?\s?(?:\\?%)?(?![\w/])"
)
# a sentence break outside math: the answer part of a "short answer" is one sentence
_SENTENCE_BREAK = re.compile(r"[.!?;](?=\s+\S)|\n\s*\S")
# several candidates joined like this read as one hedge or one list: "3 or 4", "2, 3 and 5"
_JOINER = re.compile(r"(?i)^\s*(?:,|;|or|and|,\s*or|,\s*and|\\text\{\s*(?:or|and)\s*\}|\\pm)\s*$")
# more words than this and an answer in words is prose, not an answer
_MAX_PHRASE_WORDS = 4
# words that decorate an answer rather than make it prose: connectors of a list or hedge, the
# names of a choice (the comparison reads "Option C")
_NOT_PROSE = frozenset({"or", "and", "option", "choice"})
# what marks mathematics in a phrase: digits, math segments, LaTeX, one-letter names
_MATH_MARK = re.compile(r"[\d$\\]|(?<![A-Za-z])[A-Za-z](?![A-Za-z'])")
# a function at a number: f(2), g(-1), P(\frac12)
_APPLIED = re.compile(r"\s*[A-Za-z]\s*\((.*)\)\s*")
# where an anchored answer ends: its sentence, its line, or a comma that goes on in words
_ANCHORED_END = re.compile(r"(?<=[^\d\s])\.(?=\s)|\n|,\s+(?=[A-Za-z]{2}|[a-z]\.)")
# "answer is" / "answer:" inside a sentence, not only at the start of a line
_ANCHOR = re.compile(r"(?i)\b(?:final\s+)?answer\s*(?:is|:|：|=)\s*:?\s*")


class Extraction:
    """Where extraction ended: the answer as written, or None with the reason; ``boxes`` found."""

    __slots__ = ("answer", "reason", "boxes")

    def __init__(self, answer: str | None, reason: str, boxes: int = 0) -> None:
        self.answer = answer
        self.reason = reason
        self.boxes = boxes


def find_boxes(text: str) -> tuple[list[tuple[int, int, str]], bool]:
    """Top-level ``\\boxed{...}`` / ``\\fbox{...}`` / ``\\boxed 7`` as (start, end, content), and
    whether the last one never closes (scanning stops there). The box rule of both the math and the
    format verifier."""
    boxes: list[tuple[int, int, str]] = []
    pos = 0
    while True:
        m = _BOX_CMD.search(text, pos)
        if m is None:
            return boxes, False
        i = m.end()
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] == "{":
            end = match_brace(text, i)
            if end < 0:
                return boxes, True
            boxes.append((m.start(), end, text[i + 1 : end - 1]))
            pos = end
        else:
            # "\boxed 7": one token, up to whitespace or a math delimiter
            tok = re.match(r"[^\s$]+", text[i:])
            if tok is None:
                boxes.append((m.start(), i, ""))
                pos = i
            else:
                boxes.append((m.start(), i + tok.end(), tok.group(0)))
                pos = i + tok.end()


def unwrap_box(content: str) -> str:
    """A box's content with any boxes inside it replaced by what they hold."""
    content = content.strip()
    # a box inside the box: keep what the inner boxes hold
    for _ in range(5):
        inner, bad = find_boxes(content)
        if bad or not inner:
            break
        if len(inner) == 1 and inner[0][0] == 0 and inner[0][1] == len(content):
            content = inner[0][2].strip()
            continue
        out, last = [], 0
        for s, e, c in inner:
            out.append(content[last:s])
            out.append(c)
            last = e
        out.append(content[last:])
        content = "".join(out).strip()
    return content


def _strip_answer_text(s: str) -> str:
    s = s.strip()
    s = re.sub(r"^(?:\*\*|__)+|(?:\*\*|__)+$", "", s).strip()
    s = re.sub(r"(?i)^(?:the\s+)?(?:final\s+)?answer\s+is\s*:?\s*", "", s)
    s = re.sub(r"(?i)^therefore,?\s*", "", s)
    return s.strip()


def extract_final(response: str, *, mode: ExtractMode = "boxed", require_think_close: bool = False) -> Extraction:
    """Find the final answer of ``response`` by the extraction ``mode`` (the package docstring)."""
    if not isinstance(response, str):
        return Extraction(None, NO_ANSWER)
    head, sep, tail = response.rpartition(THINK_CLOSE)
    if sep:
        part = tail
        no_answer = NO_FINAL_ANSWER_AFTER_THINK
    else:
        if THINK_OPEN in response or require_think_close:
            return Extraction(None, NO_FINAL_ANSWER_AFTER_THINK)
        part = response
        no_answer = NO_ANSWER
    if mode == "bare":
        return _bare(part, no_answer)
    ex = _boxed(part, no_answer)
    if mode == "boxed" or ex.answer is None and ex.reason != no_answer:
        return ex  # auto keeps the box rule's verdict on a broken box: it was the answer, and it broke
    if ex.answer is not None:
        # a "Final Answer:" line may carry a sentence ("The final answer is $5$. I hope it is correct.")
        return ex if ex.boxes else Extraction(_phrase_answer(ex.answer) or ex.answer, OK)
    return _auto_fallback(part, no_answer)


def _boxed(part: str, no_answer: str) -> Extraction:
    """The last box (or adjacent boxes as one list), else the last "Final Answer:" line."""
    boxes, unbalanced = find_boxes(part)
    if unbalanced:
        return Extraction(None, UNBALANCED_BRACES, len(boxes) + 1)
    if boxes:
        group = [boxes[-1]]
        for prev in reversed(boxes[:-1]):
            gap = part[prev[1] : group[0][0]]
            if len(gap) > 80 or "\n\n" in gap or _GAP_TOKENS.sub("", gap).strip():
                break
            group.insert(0, prev)
        contents: list[str] = []
        seen: set[str] = set()
        for _, _, c in group:
            c = unwrap_box(c)
            key = re.sub(r"\s+", "", c).rstrip(".")
            if key and key not in seen:
                seen.add(key)
                contents.append(c)
        if not contents:
            return Extraction(None, EMPTY_BOX, len(boxes))
        return Extraction(", ".join(contents) if len(contents) > 1 else contents[0], OK, len(contents))
    matches = list(_FINAL_LINE.finditer(part)) + list(_FINAL_HEADING.finditer(part))
    if not matches:
        matches = list(_FINAL_PHRASE.finditer(part))
    if matches:
        last = max(matches, key=lambda m: m.start())
        ans = _strip_answer_text(last.group(1) if last.re is not _FINAL_HEADING else "")
        if not ans:
            # "**Final Answer**" as a heading: the answer is on the next non-empty line
            rest = [ln for ln in part[last.end() :].splitlines() if ln.strip()]
            ans = _strip_answer_text(rest[0]) if rest else ""
        if ans:
            return Extraction(ans, OK, 0)
    return Extraction(None, no_answer)


def _bare(part: str, no_answer: str) -> Extraction:
    """The whole text is the answer: a number, an expression, or a short phrase around one."""
    inner, unbalanced = find_boxes(part)
    if unbalanced:
        return Extraction(None, UNBALANCED_BRACES, len(inner) + 1)
    if inner and not any(c.strip() for _, _, c in inner):
        return Extraction(None, EMPTY_BOX, len(inner))
    text = unwrap_box(part) if inner else part.strip()
    answer = _phrase_answer(text)
    return Extraction(answer, OK) if answer else Extraction(None, no_answer)


def _phrase_answer(text: str) -> str | None:
    """The answer in a short phrase ("The answer is 5.", "x = 3", "$\\frac12$"), or None for prose."""
    s = re.sub(r"^(?:\*\*|__)+|(?:\*\*|__)+$", "", text.strip()).strip()
    s = _SIGN_OFF.sub("", s)
    for _ in range(3):  # "So, the answer is: it is 5"
        s2 = _LEAD_IN.sub("", s, count=1).strip()
        if s2 == s:
            break
        s = s2
    masked = _mask_math(s)
    if not s or _SENTENCE_BREAK.search(masked.rstrip(" .。!")):
        return None
    verbs = list(_VERB.finditer(masked))
    if verbs and _words(masked) > 0:
        at = verbs[-1].end()
        if _MATH_MARK.search(masked[at:]):
            # "The sum is 12", "the roots are 2 and 3": the answer follows the last verb
            s, masked = s[at:], masked[at:]
        elif _MATH_MARK.search(masked[: verbs[0].start()]):
            # "5 is the answer", "Option C is correct": it comes before the first
            s, masked = s[: verbs[0].start()], masked[: verbs[0].start()]
    return s.strip() if _is_short_answer(masked) else None


def _chain_value(answer: str) -> str:
    """Working picked out of prose, ``f(2) = 7`` or ``a+b = 3+4 = 7``, answers with its numeric
    right side. A chain of numbers is kept whole, so the comparison still refuses a false one
    (``3+4 = 8``); an equation such as ``2x-y+1 = 0`` or ``x = 3`` is left as it is. (A short
    answer is compared as written, as a box is.)"""
    m = re.fullmatch(r"\$+(.*?)\$+|\\\((.*?)\\\)|\\\[(.*?)\\\]", answer.rstrip(" ."), re.S)
    inner = next(g for g in m.groups() if g is not None) if m else answer
    lhs, *tail = re.split(r"(?<![<>!\\])=(?!=)", inner)
    if not tail or any(_has_letters(t) for t in tail) or not _has_letters(lhs):
        return answer
    applied = _APPLIED.fullmatch(lhs)
    if len(tail) >= 2 or applied is not None and not _has_letters(applied.group(1)):
        return "=".join(tail).strip()
    return answer


def _has_letters(tex: str) -> bool:
    """Letters outside LaTeX commands: a variable, not ``\\frac`` or ``\\pi``."""
    return re.search(r"[A-Za-z]", re.sub(r"\\[a-zA-Z]+", "", tex)) is not None


def _is_short_answer(masked: str) -> bool:
    """Words alone ("Monday", "isosceles triangle"), or mathematics with no prose before or inside
    it and a few words after it ("5 apples", "12 square feet")."""
    marks = [m.span() for m in _MATH_MARK.finditer(masked)]
    if not marks:
        return _words(masked) <= _MAX_PHRASE_WORDS
    first, last = marks[0][0], marks[-1][1]
    return _words(masked[:first]) == 0 and _words(masked[first:last]) == 0 and _words(masked[last:]) <= 3


def _mask_math(s: str) -> str:
    """``s`` with each inline math segment blanked to ``$  ...  $`` of the same length (indexes agree)."""
    return _MATH_SEG.sub(lambda m: "$" + " " * (m.end() - m.start() - 2) + "$", s)


def _words(masked: str) -> int:
    """Words of prose outside math: LaTeX commands, single letters (variables) and units do not count."""
    text = re.sub(r"\\(?:begin|end)\s*\{[^{}]*\}|\\[a-zA-Z]+", " ", masked)
    return sum(1 for w in re.findall(r"[A-Za-z]{2,}", text) if not is_unit(w) and w.lower() not in _NOT_PROSE)


def _auto_fallback(part: str, no_answer: str) -> Extraction:
    """No box and no Final Answer line: "#### 5", an "answer is" phrase, a bare answer, else the
    last mathematical expression in the text."""
    lines = re.findall(r"(?m)^\s*#{4}\s*(.+?)\s*$", part)
    if lines:
        answer = _phrase_answer(lines[-1])
        if answer:
            return Extraction(answer, OK)
    anchors = list(_ANCHOR.finditer(part))
    if anchors:
        rest = part[anchors[-1].end() :]
        answer = _phrase_answer(_ANCHORED_END.split(rest + " ", maxsplit=1)[0])
        if answer is None:
            answer = _expression_run(rest, last=False)
        if answer:
            return Extraction(answer, OK)
    answer = _phrase_answer(part)
    if answer is None:
        answer = _expression_run(part, last=True)
    return Extraction(answer, OK) if answer else Extraction(None, no_answer)


def _expression_run(text: str, *, last: bool) -> str | None:
    """The last (or first) mathematical expression in ``text``, with candidates joined to it by
    "or" / "and" / commas, so that "3 or 4" stays a hedge and "2 and 3" a list."""
    spans = [m.span() for m in _MATH_SEG.finditer(text)]
    spans += [m.span() for m in _PROSE_MATH.finditer(_mask_math(text))]
    spans.sort()
    if not spans:
        return None
    k = len(spans) - 1 if last else 0
    lo = hi = k
    while lo > 0 and _JOINER.match(text[spans[lo - 1][1] : spans[lo][0]]):
        lo -= 1
    while hi + 1 < len(spans) and _JOINER.match(text[spans[hi][1] : spans[hi + 1][0]]):
        hi += 1
    answer = text[spans[lo][0] : spans[hi][1]].strip()
    # a unit right after the number belongs to the answer ("1.5 km" is not "1.5" when gold is "1500 m")
    unit = re.match(r"\s*([A-Za-z]+)\b", text[spans[hi][1] :])
    if unit and is_unit(unit.group(1)):
        answer += " " + unit.group(1)
    return _chain_value(answer)


def extract_answer(response: str, extract: ExtractMode = "boxed") -> str | None:
    """The final answer of ``response`` as written (box content, "Final Answer:" text, or the bare
    answer for ``extract="bare"``/``"auto"``), or None."""
    if extract not in EXTRACT_MODES:
        raise ValueError(f"extract must be one of {', '.join(EXTRACT_MODES)}, got {extract!r}")
    return extract_final(response, mode=extract).answer
