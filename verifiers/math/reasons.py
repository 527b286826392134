"""Reason codes of the math verifier (``Verdict.reason``); the package docstring says what each means."""

from __future__ import annotations

OK = "ok"
WRONG_ANSWER = "wrong_answer"
NO_ANSWER = "no_answer"
NO_FINAL_ANSWER_AFTER_THINK = "no_final_answer_after_think"
EMPTY_BOX = "empty_box"
UNBALANCED_BRACES = "unbalanced_braces"
HEDGED_ANSWER = "hedged_answer"
UNPARSEABLE = "unparseable"
TOO_LARGE = "too_large"
TIMEOUT = "timeout"
