"""The one result type every verifier returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OK = "ok"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a verifier decided about one response, and why.

    ``reason`` is a ``snake_case`` code (``"ok"`` when passed, e.g. ``"wrong_answer"``,
    ``"no_answer"``, ``"truncated"`` otherwise); it becomes a column on exported rows and a
    counter in the verify stage's stats. ``score`` lies in [0, 1] (1.0/0.0 for all-or-nothing
    checks, a fraction for graded ones). ``extracted`` is what the verifier judged (the final
    answer, the program), ``details`` anything else worth keeping (per-test results, counts).
    """

    passed: bool
    reason: str
    score: float
    extracted: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def ok(cls, score: float = 1.0, **kw: Any) -> Verdict:
        return cls(True, OK, score, **kw)

    @classmethod
    def fail(cls, reason: str, score: float = 0.0, **kw: Any) -> Verdict:
        return cls(False, reason, score, **kw)
