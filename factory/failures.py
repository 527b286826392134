"""The one line between an *error* (the machinery failed: retried) and a *verdict* (the problem or
the model's output is bad: data).

Something is data only when the thing that made it worked. A row whose reason is an error is
never final: its shard's marker counts it (``errors``), the step is not marked done, the run
summary's ``errors`` shows it, ``factory run`` exits with :data:`EXIT_ERRORS`, and the next run
redoes that work (for generate: only the problems that failed, with their own seeds) and every
step after it. A verdict is final: it is written, counted and kept across reruns.

Reasons are ``snake_case`` parts joined by ``:`` (``generate:request_failed:http_503``,
``code:sandbox_error``); a reason is an error when one of its parts is in :data:`ERRORS`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

# The machinery failed; the same work done again may well succeed.
ERRORS: dict[str, str] = {
    "request_failed": "a request to the teacher, judge or rewriter failed after its retries "
    "(connection refused, timeout, HTTP 5xx/429, a malformed reply, ...)",
    "sandbox_error": "the code sandbox could not start or was lost while running a program",
    "verifier_error": "a verifier crashed on a trace (a bug or a broken environment, not the trace's fault)",
    "checker_error": "a problem's checker program crashed, timed out or did not compile while judging an output",
}

# The problem or the model's output is at fault; doing the work again gives the same answer.
VERDICTS: dict[str, str] = {
    "empty_gold": "the problem's gold answer is blank and it has no tests (rejected at read)",
    "prompt_too_long_chars": "the problem is longer than source.max_prompt_chars (rejected at read)",
    "prompt_too_long": "the rendered prompt does not fit the engine's context",
    "request_refused": "the engine's input checks refused the problem's request (the same request is refused again)",
    "compile_error": "the program does not compile",
    "syntax_error": "the program is not valid Python",
    "no_code": "the response holds no program",
    "unsupported_test": "a compiled program met a call-based test",
    "runtime_error": "the program failed",
    "timeout": "the program (or the math parser on this output) ran out of time",
    "memory_limit": "the program used too much memory",
    "output_limit": "the program wrote too much",
    "wrong_answer": "the answer is wrong",
    "unparseable": "the answer (or a judge's reply) could not be parsed",
    "ambiguous": "a judge's reply holds more than one verdict",
}

EXIT_ERRORS = 3  # ``factory run`` finished, but with errors the next run retries


def is_error(reason: str | None) -> bool:
    """Whether a reject or verdict reason is an infrastructure error (retried), not a verdict (kept)."""
    return reason is not None and any(part in ERRORS for part in reason.split(":"))


def errors_in(reasons: Mapping[str, int], prefix: str = "") -> Counter[str]:
    """The errors among counted reasons, each named ``prefix`` + reason (unless it starts with it already)."""
    return Counter(
        {
            (reason if reason.startswith(prefix) else prefix + reason): n
            for reason, n in reasons.items()
            if n and is_error(reason)
        }
    )
