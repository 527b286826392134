"""Score every trace with the recipe's verifiers; each adds passed/reason/score columns."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from factory.records import verdict_columns
from factory.stages.base import StageStats
from verifiers import VERIFIERS, Verdict

log = logging.getLogger(__name__)


class TraceVerifier:
    """The verify stage. A bad *problem* (no gold for math, malformed tests) raises, naming the row;
    bad *model output* only ever fails a verdict."""

    name: ClassVar[str] = "verify"

    def __init__(self, verify: dict[str, dict[str, Any]]) -> None:
        unknown = set(verify) - set(VERIFIERS)
        if unknown:
            raise ValueError(f"verify: unknown verifier(s) {sorted(unknown)} (known: {', '.join(VERIFIERS)})")
        self.verify = verify

    def run(self, rows: Iterable[dict[str, Any]], stats: StageStats) -> Iterator[dict[str, Any]]:
        for row in rows:
            stats.rows_in += 1
            out = dict(row)
            for name, options in self.verify.items():
                verdict = self._check(name, row, options)
                out.update(verdict_columns(name, verdict))
                stats.counters[f"{name}:{verdict.reason}"] += 1
                stats.counters[f"{name}:passed"] += verdict.passed
            stats.rows_out += 1
            yield out

    def _check(self, name: str, row: dict[str, Any], options: dict[str, Any]) -> Verdict:
        try:
            return VERIFIERS[name](row, **options)
        except ValueError as e:
            raise ValueError(f"verify.{name}: trace {row.get('trace_id')!r}: {e}") from e
        except Exception as e:  # a verifier bug must not cost a long run: record it and go on
            log.exception("verifier %s crashed on trace %s", name, row.get("trace_id"))
            return Verdict.fail("verifier_error", details={"error": repr(e)})

    def close(self) -> None:
        pass
