"""Math verifier: exact mathematical equality of a response's final answer with a gold answer.

Public API::

    verify_math(response, gold, *, config=MathConfig()) -> Verdict
    verify_math_batch(pairs, *, config=MathConfig(), workers=None) -> list[Verdict]
    extract_answer(response, extract="boxed") -> str | None
    canonical_answer(answer) -> str | None
    prestart_workers(n=None, memory_mb=2048) -> int

The package is split by job: ``extract`` (where the answer is), ``normalize`` (what is cosmetic),
``numbers`` (exact rationals, units, bases, decimal commas), ``powers`` (huge powers by their
factorisations), ``compare`` (the in-process exact fast path),
``symbolic`` (the sympy path) and ``pool`` (the worker subprocesses that run it).

Policy (the README states it for users):

- **Extraction** (the ``extract`` option; the only thing that differs between modes). In every
  mode only the text after the last ``</think>`` counts; a think block that never closes has no
  final answer.

  - ``"boxed"`` (default; R1-style traces): the last ``\\boxed{...}`` / ``\\fbox{...}`` /
    ``\\boxed 7`` is the answer (nested boxes unwrap); boxes that sit together at the end
    (``\\boxed{2}`` and ``\\boxed{3}``) form one solution list, identical boxes count once, and an
    earlier box that the text moved on from is abandoned. Without a box, the last explicit
    "Final Answer:" / "Answer:" line counts. Anything else is ``no_answer``.
  - ``"bare"`` (extracted answers, short answers, bare-expression datasets): the whole response
    is the answer: a number, a LaTeX expression with or without ``$…$`` / ``$$…$$`` /
    ``\\(…\\)`` / ``\\[…\\]`` or a box around it, or one short phrase around one: "The answer is
    5.", "Answer: 5", "x = 3", "The sum is 12", "5 apples", "The final answer is $5$. I hope it
    is correct.". Prose before the mathematics, a second sentence or line, or more than a few
    words make it not an answer (``no_answer``): a paragraph is not a bare answer even when it
    contains the gold.
  - ``"auto"``: the boxed rule when it finds a box or an answer line (an empty or unclosed box
    keeps its verdict); else a GSM8K ``#### 18`` line; else the first expression after the last
    "answer is" / "answer:"; else the response read as a bare answer; else the last mathematical
    expression in the text (inline math, a number with its unit, a bare ``\\frac``/``\\sqrt``).
    Candidates joined by "or"/"and"/commas stay together, so ``3 or 4`` is still a hedge.

  An expression that "auto" picks out of working text answers with its numeric right side
  when it is a computation (``f(2) = 7``, ``a+b = 3+4 = 7``; the chain is still checked);
  ``x = 3`` and ``2x-y+1 = 0`` stay equations, and a box or a short answer is compared as
  written. Markdown bold, ``\\text{}``, ``\\left(\\right)``, a trailing period, unicode minus
  and vulgar fractions are cosmetic.
- **Equality is the same whatever the extraction**: everything below applies to an answer found
  by any mode.
- **Numbers** compare exactly as rationals (no tolerance, no x100 fallback; ``%`` means x0.01,
  and a percent sign on one side only also accepts the number as written: gold ``28\\%``
  accepts ``28``); mixed numbers, repeating decimals, thousands separators, decimal commas (the
  ``decimal_comma`` option), scientific notation, leading zeros, base subscripts (``1011_2`` is
  not ``1011``) and a small table of units (the ``units`` option: converted when both sides carry
  one of a dimension, a different dimension or word fails, ignored when one side has none) are
  understood. Products of integer powers and towers (``9^{9^9}``) compare by their
  factorisations, never evaluated (``powers``). docs/verifiers.md ("Notation") states each rule.
- **Structures** (sympy via latex2sympy2_extended): intervals keep endpoints, inequalities equal
  the sets they describe, tuples are ordered, lists and sets unordered, ``±5`` is ``{5,-5}``,
  equations are equal when they describe the same solution set (nonzero scaling), ``x=4``
  matches ``4``, a chain counts its final value, a false numeric equation is no answer,
  matrices compare element-wise (sums, products and small powers of explicit matrices are worked
  out; a vector equals the tuple of its entries), a named quantity (``AB = 4``, ``|AB| = 1``,
  ``V_1:V_2 = 11:21``) answers its value, ratios and times compare part by part,
  ``\\underbrace``/``\\overbrace`` labels are dropped, ``j`` reads as ``i``.
- **Choices and text**: a choice letter with decoration matches; several letters is a hedge.
  Text compares case-insensitively. Several candidates for a single-valued gold is a hedge.
- **Safety.** Cheap exact fast paths (canonical strings, rational arithmetic) run in-process.
  Everything that needs sympy runs in a persistent worker subprocess with a wall-clock timeout
  enforced by killing the process (no signals, so any thread, Ray or TRL worker may call it)
  and an address-space cap (RLIMIT_AS); sizes of powers and factorials are bounded before
  anything is evaluated.

Reason codes (``Verdict.reason``):

=============================== ============================================================
``ok``                          the final answer equals the gold answer
``wrong_answer``                an answer was found and it differs (also: a false equation)
``no_answer``                   the extraction mode found no answer (boxed: no box and no
                                "Final Answer:" line; bare: prose, not an answer)
``no_final_answer_after_think`` a think block that never closes, or nothing after it
``empty_box``                   the final box is empty
``unbalanced_braces``           the final box never closes
``hedged_answer``               several candidates (``5 or 6``, ``±`` for one value, A and C)
``unparseable``                 the answer could not be read as mathematics or as text
``too_large``                   an expression whose exact value would be astronomically large
``timeout``                     the checker ran past its wall-clock limit and was killed
=============================== ============================================================

Options: one frozen :class:`verifiers.configs.MathConfig`, passed whole as ``config=`` (default:
``MathConfig()``): ``timeout_s`` (5.0, the sympy check's wall-clock limit), ``memory_mb`` (2048,
the worker's address-space cap), ``require_think_close`` (False: when True, a response without
``</think>`` has no final answer), ``extract`` ("boxed", "bare" or "auto", above), ``units``
("match" or "ignore") and ``decimal_comma`` ("auto", "always" or "never"), the notation policy of
docs/verifiers.md; a bad value is a ``ValueError``. ``verify_math_batch`` also takes ``workers``
(checker subprocesses; default one per CPU).
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

from verifiers.configs import MathConfig
from verifiers.math.compare import fast_compare, is_choice_gold
from verifiers.math.extract import EXTRACT_MODES, ExtractMode, extract_answer, extract_final, find_boxes, unwrap_box
from verifiers.math.normalize import TEXT_ANSWER, clean, list_items, norm_text, strip_name, strip_var, var_of
from verifiers.math.numbers import (
    DECIMAL_COMMA_MODES,
    UNITS_MODES,
    DecimalComma,
    Units,
    fast_number,
    resolve_decimal_commas,
)
from verifiers.math.pool import DEFAULT_MEMORY_MB, Reply, Worker, dispatch, get_pool, prestart_workers, run_in_worker
from verifiers.math.reasons import (
    EMPTY_BOX,
    HEDGED_ANSWER,
    NO_ANSWER,
    NO_FINAL_ANSWER_AFTER_THINK,
    OK,
    TIMEOUT,
    TOO_LARGE,
    UNBALANCED_BRACES,
    UNPARSEABLE,
    WRONG_ANSWER,
)
from verifiers.math.symbolic import MAX_BITS, MAX_FACTORIAL, canonical_expr, slow_compare
from verifiers.verdict import Verdict

__all__ = [
    "DEFAULT_MEMORY_MB",
    "DEFAULT_TIMEOUT_S",
    "EMPTY_BOX",
    "EXTRACT_MODES",
    "HEDGED_ANSWER",
    "MAX_ANSWER_CHARS",
    "MAX_BITS",
    "MAX_FACTORIAL",
    "NO_ANSWER",
    "NO_FINAL_ANSWER_AFTER_THINK",
    "OK",
    "TIMEOUT",
    "TOO_LARGE",
    "UNBALANCED_BRACES",
    "UNPARSEABLE",
    "WRONG_ANSWER",
    "canonical_answer",
    "extract_answer",
    "prestart_workers",
    "verify_math",
    "verify_math_batch",
]

DEFAULT_TIMEOUT_S = 5.0
MAX_ANSWER_CHARS = 2_000


def _checked(config: MathConfig | None) -> MathConfig:
    """The config to use (the defaults for None); ValueError on anything but a valid MathConfig."""
    if config is None:
        return MathConfig()
    if not isinstance(config, MathConfig):
        raise ValueError(f"math verifier config must be a MathConfig, got {type(config).__name__}")
    for name, allowed in (("extract", EXTRACT_MODES), ("units", UNITS_MODES), ("decimal_comma", DECIMAL_COMMA_MODES)):
        value = getattr(config, name)
        if value not in allowed:
            raise ValueError(f"math verifier option {name} must be one of {', '.join(allowed)}, got {value!r}")
    return config


def _prepare_gold(gold: str) -> str:
    if not isinstance(gold, str):
        if isinstance(gold, int | float | Fraction) and not isinstance(gold, bool):
            gold = str(gold)
        else:
            raise ValueError(f"gold answer must be a string, got {type(gold).__name__}")
    if not gold.strip():
        raise ValueError("gold answer is empty")
    boxes, _ = find_boxes(gold)
    if boxes:
        gold = ", ".join(dict.fromkeys(unwrap_box(b[2]) for b in boxes))
    return clean(gold)


def _front(
    response: str,
    gold: str,
    require_think_close: bool,
    extract: ExtractMode,
    units: Units = "match",
    decimal_comma: DecimalComma = "auto",
) -> tuple[Verdict | None, str | None, str, str | None]:
    """Extraction and fast path: (final Verdict or None, cleaned prediction, cleaned gold, extracted)."""
    g = _prepare_gold(gold)
    ex = extract_final(response, mode=extract, require_think_close=require_think_close)
    if ex.answer is None:
        return Verdict.fail(ex.reason), None, g, None
    extracted = ex.answer
    if len(extracted) > MAX_ANSWER_CHARS:
        return Verdict.fail(TOO_LARGE, extracted=extracted[:200]), None, g, extracted
    p = clean(extracted)
    if not p:
        return Verdict.fail(EMPTY_BOX, extracted=extracted), None, g, extracted
    if not (var_of(p) and var_of(g)):
        p, g = strip_name(p), strip_name(g)  # "|AB| = 1" answers 1; two different names stay a mismatch
    p, g = resolve_decimal_commas(p, g, decimal_comma)
    d = fast_compare(p, g, units)
    if d is not None:
        return _verdict(d.passed, d.reason, extracted, d.details), None, g, extracted
    return None, p, g, extracted


def _verdict(passed: bool, reason: str, extracted: str | None, details: dict[str, Any]) -> Verdict:
    if passed:
        return Verdict.ok(extracted=extracted, details=details)
    return Verdict.fail(reason, extracted=extracted, details=details)


def _task_for(pred: str, gold: str) -> tuple[Any, ...]:
    """The worker task that compares a cleaned prediction with a cleaned gold on the sympy path."""
    return (slow_compare, pred, gold)


def _reply_verdict(reply: Reply, extracted: str | None) -> Verdict:
    status, value = reply
    if status == "done":
        passed, reason, details = value
        return _verdict(passed, reason, extracted, details)
    if status == "failed":
        return Verdict.fail(value[0], extracted=extracted, details={"error": value[1]})
    return Verdict.fail(TIMEOUT, extracted=extracted, details=value)


def verify_math(response: str, gold: str, *, config: MathConfig | None = None) -> Verdict:
    """Check the final answer of ``response`` against ``gold`` by exact mathematical equality.

    ``config`` (default ``MathConfig()``) holds the options. Its ``extract`` says where the
    answer is: ``"boxed"`` (the last box, else a "Final Answer:" line; for reasoning traces),
    ``"bare"`` (the whole response is the answer) or ``"auto"`` (a box or answer line if there is
    one, else the last mathematical expression). ``timeout_s`` bounds the sympy check, run in a
    pooled worker subprocess that is killed at the limit, so the call is bounded from any thread;
    ``memory_mb`` caps that worker's address space; ``require_think_close`` gives a response
    without ``</think>`` no answer. ``units`` ("match": units on both sides must agree; "ignore":
    dropped) and ``decimal_comma`` ("auto": ``1,5`` is a decimal against a single number, a list
    against a list; "always"; "never") are the notation policy of docs/verifiers.md.

    Never raises on model output; raises ``ValueError`` on an empty/non-string gold, a config that
    is not a ``MathConfig`` or an unknown ``extract``/``units``/``decimal_comma`` value.
    """
    config = _checked(config)
    v, p, g, extracted = _front(
        response, gold, config.require_think_close, config.extract, config.units, config.decimal_comma
    )
    if v is not None:
        return v
    return _reply_verdict(run_in_worker(_task_for(p or "", g), config.timeout_s, config.memory_mb), extracted)


def verify_math_batch(
    pairs: Iterable[tuple[str, str]], *, config: MathConfig | None = None, workers: int | None = None
) -> list[Verdict]:
    """Verify many ``(response, gold)`` pairs; results in input order, equal to ``verify_math``'s.

    ``config`` as for ``verify_math``. Fast paths run in this process; the rest go to ``workers``
    checker subprocesses (default: one per CPU). An item that runs past ``config.timeout_s`` gets
    ``Verdict.fail("timeout")``, its worker is killed and replaced, and the batch continues.
    """
    config = _checked(config)
    timeout_s, memory_mb = config.timeout_s, config.memory_mb
    items = list(pairs)
    n_workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
    results: list[Verdict | None] = [None] * len(items)
    slow: deque[tuple[int, tuple[Any, ...]]] = deque()
    extracted_at: dict[int, str | None] = {}
    fleet: list[Worker] = []
    started = False
    pool = get_pool()
    for idx, (response, gold) in enumerate(items):
        try:
            v, p, g, extracted = _front(
                response, gold, config.require_think_close, config.extract, config.units, config.decimal_comma
            )
        except ValueError as e:
            raise ValueError(f"pair {idx}: {e}") from e
        if v is not None:
            results[idx] = v
            continue
        slow.append((idx, _task_for(p or "", g)))
        extracted_at[idx] = extracted
        if not started:
            # borrow idle workers from the shared pool (start the rest) while the fast pass goes on
            started = True
            fleet = pool.borrow(n_workers, memory_mb)
    if not slow:
        return [r if r is not None else Verdict.fail(TIMEOUT) for r in results]
    wanted = min(n_workers, len(slow))
    pool.give_back(fleet[wanted:])
    del fleet[wanted:]
    try:
        replies = dispatch(fleet, slow, timeout_s, memory_mb)
    except BaseException:
        for w in fleet:
            w.kill()
        raise
    pool.give_back(fleet)  # all idle now: the next batch or single call reuses them
    for idx, reply in replies.items():
        results[idx] = _reply_verdict(reply, extracted_at[idx])
    return [r if r is not None else Verdict.fail(TIMEOUT) for r in results]


def canonical_answer(answer: str) -> str | None:
    """A canonical key for an extracted answer: equal answers map to the same string.

    Numbers become reduced fractions (``0.5``, ``\\frac{1}{2}``, ``2/4`` -> ``"1/2"``), choice
    letters ``"choice:B"``, lists sorted; other expressions use sympy's canonical form computed
    in a bounded worker; if that fails, the cleaned string. None for an empty answer.
    ``answer`` is already extracted (``extract_answer`` in any mode), so there is no ``extract``
    option here: the key depends on the answer, not on where it was found.
    """
    if answer is None:
        return None
    s = clean(str(answer))
    if not s:
        return None
    if is_choice_gold(s):
        return "choice:" + s.strip("() ")
    n = fast_number(strip_var(s))
    if n is not None:
        key = f"{n.value.numerator}/{n.value.denominator}" if n.value.denominator != 1 else str(n.value.numerator)
        if n.base and n.base != 10:
            key += f"_{n.base}"
        if n.unit and not n.unit[0].startswith("other:") and n.unit[0] != "money":
            v = n.value * n.unit[1]
            key = f"{v.numerator}/{v.denominator}:{n.unit[0]}"
        return key
    items = list_items(s)
    if len(items) > 1 and not s.startswith(("(", "[")):
        nums = [fast_number(strip_var(i)) for i in items]
        if all(x is not None for x in nums):
            vals = sorted({x.value for x in nums})  # type: ignore[union-attr]
            return "set:" + "|".join(f"{v.numerator}/{v.denominator}" for v in vals)
    if TEXT_ANSWER.match(s) and len(s) > 3:
        return "text:" + norm_text(s)
    status, key = run_in_worker((canonical_expr, s), DEFAULT_TIMEOUT_S, DEFAULT_MEMORY_MB)
    if status == "done" and key:
        return key
    return re.sub(r"\s+", "", s)
