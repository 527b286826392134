"""Score a file of model responses with a verifier: ``factory score INPUT --verifier math --out OUT``.

Reads JSONL (``.jsonl``, ``.json``, ``.ndjson``) or Parquet (``.parquet``), writes the same rows
plus ``passed``, ``reason``, ``score`` and ``extracted`` columns in the format the output's
extension names (written under a temporary name, then renamed). The math verifier runs as one
batch on a process pool with per-item timeouts; other verifiers from ``verifiers.VERIFIERS``
run row by row with the response as the row's ``completion``.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

from factory.files import file_format, read_records, write_records
from verifiers import VERIFIERS, MathConfig, verify_math_batch


def score_file(
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    verifier: str = "math",
    response_field: str = "response",
    gold_field: str = "gold",
    workers: int | None = None,
    timeout_s: float = 5.0,
    extract: str = "boxed",
) -> dict[str, Any]:
    """Score every row of ``input_path`` and write the scored rows to ``output_path``.

    Returns counts: ``rows``, ``passed``, ``failed``, ``pass_rate`` and ``reasons`` (reason code ->
    count). A row without a string response or without a gold answer raises ``ValueError``
    naming the file and the row (1-based) before anything is scored.
    """

    if verifier not in VERIFIERS:
        raise ValueError(f"unknown verifier {verifier!r} (known: {', '.join(VERIFIERS)})")
    src = Path(input_path)
    file_format(Path(output_path), "--out")
    rows = read_records(src, "score input")
    needs_gold = verifier == "math"
    for i, row in enumerate(rows, 1):
        if response_field not in row:
            raise ValueError(f"{src}: row {i}: no {response_field!r} field")
        if not isinstance(row[response_field], str):
            raise ValueError(
                f"{src}: row {i}: {response_field!r} must be a string, got {type(row[response_field]).__name__}"
            )
        if needs_gold:
            gold = row.get(gold_field)
            if gold is None or (isinstance(gold, str) and not gold.strip()) or isinstance(gold, bool):
                raise ValueError(f"{src}: row {i}: no {gold_field!r} answer")
            if not isinstance(gold, str | int | float):
                raise ValueError(f"{src}: row {i}: {gold_field!r} must be a string, got {type(gold).__name__}")

    if verifier == "math":
        config = MathConfig(timeout_s=timeout_s, extract=extract)  # type: ignore[arg-type]  # checked by the verifier
        verdicts = verify_math_batch(
            ((row[response_field], str(row[gold_field])) for row in rows), config=config, workers=workers
        )
    else:
        fn = VERIFIERS[verifier]
        verdicts = []
        for i, row in enumerate(rows, 1):
            trace = dict(row)
            trace["completion"] = row[response_field]
            if gold_field in row:
                trace["gold"] = row[gold_field]
            try:
                verdicts.append(fn(trace))
            except ValueError as e:
                raise ValueError(f"{src}: row {i}: {e}") from e

    out_rows = []
    reasons: Counter[str] = Counter()
    for row, v in zip(rows, verdicts, strict=True):
        out = dict(row)
        out.update(passed=v.passed, reason=v.reason, score=float(v.score), extracted=v.extracted)
        out_rows.append(out)
        reasons[v.reason] += 1
    write_records(output_path, out_rows)
    passed = sum(v.passed for v in verdicts)
    return {
        "rows": len(rows),
        "passed": passed,
        "failed": len(rows) - passed,
        "pass_rate": passed / len(rows) if rows else 0.0,
        "reasons": dict(reasons.most_common()),
    }
