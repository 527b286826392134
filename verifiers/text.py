"""Small text helpers shared by the verifiers and the factory."""

from __future__ import annotations

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"


def split_think(completion: str) -> tuple[str | None, str]:
    """Split a completion at its last ``</think>``.

    Returns ``(reasoning, answer)``: the reasoning without the think tags, and the final part
    after ``</think>``. Without a ``</think>`` the reasoning is ``None`` and the whole text is the
    answer part; callers decide whether that is allowed (a response truncated inside its think
    block has no answer part at all).
    """
    head, sep, tail = completion.rpartition(THINK_CLOSE)
    if not sep:
        return None, completion
    head = head.strip()
    if head.startswith(THINK_OPEN):
        head = head[len(THINK_OPEN):]
    return head.strip(), tail.strip()


def match_brace(text: str, start: int) -> int:
    """Index just past the brace group opening at ``text[start] == "{"``, or -1 if it never closes.

    A backslash escapes the next character, so ``\\{`` and ``\\}`` do not count.
    """
    depth = 0
    i, n = start, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return -1
