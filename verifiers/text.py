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
