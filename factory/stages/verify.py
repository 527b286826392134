"""Score every trace with the recipe's verifiers; each adds passed/reason/score columns."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

import pyarrow as pa

from factory.records import merge_schemas, verdict_columns, verdict_schema
from factory.stages.base import StageStats, batched
from verifiers import VERIFIERS, Verdict

log = logging.getLogger(__name__)


class TraceVerifier:
    """The verify stage. Rows are scored in chunks so verifiers with a batch form (math, code)
    spread the work over the machine's cores. A bad *problem* (no gold for math, malformed tests)
    raises, naming the trace; bad *model output* only ever fails a verdict."""

    name: ClassVar[str] = "verify"

    def __init__(self, verify: dict[str, dict[str, Any]], chunk_size: int = 256) -> None:
        unknown = set(verify) - set(VERIFIERS)
        if unknown:
            raise ValueError(f"verify: unknown verifier(s) {sorted(unknown)} (known: {', '.join(VERIFIERS)})")
        self.verify = verify
        self.chunk_size = chunk_size

    def schema(self, input: pa.Schema | None) -> pa.Schema:
        return merge_schemas(input, verdict_schema(list(self.verify)))

    def run(self, rows: Iterable[dict[str, Any]], stats: StageStats) -> Iterator[dict[str, Any]]:
        for chunk in batched(rows, self.chunk_size):
            stats.rows_in += len(chunk)
            out = [dict(row) for row in chunk]
            for name, options in self.verify.items():
                part = stats.part(name)  # rows_in judged, rows_out passed, dropped: why the others failed
                for row, verdict in zip(out, self._check(name, chunk, options), strict=True):
                    row.update(verdict_columns(name, verdict))
                    part.rows_in += 1
                    if verdict.passed:
                        part.rows_out += 1
                    else:
                        part.dropped[verdict.reason] += 1
            stats.rows_out += len(out)
            yield from out

    def _check(self, name: str, chunk: list[dict[str, Any]], options: dict[str, Any]) -> list[Verdict]:
        verifier = VERIFIERS[name]
        if verifier.batch is not None and len(chunk) > 1:
            try:
                return verifier.batch(chunk, **options)
            except Exception:  # find the row at fault, one by one: its error names it
                log.warning("batch %s verifier failed on a chunk; retrying row by row", name, exc_info=True)
        return [self._one(name, row, options) for row in chunk]

    def _one(self, name: str, row: dict[str, Any], options: dict[str, Any]) -> Verdict:
        try:
            return VERIFIERS[name](row, **options)
        except ValueError as e:
            raise ValueError(f"verify.{name}: trace {row.get('trace_id')!r}: {e}") from e
        except TypeError as e:
            if "keyword argument" in str(e):  # a misspelt option in the recipe, not a verifier bug
                raise ValueError(f"verify.{name}: {e}") from e
            return self._crashed(name, row, e)
        except ImportError:
            raise  # a broken install must stop the run, not reject every trace
        except Exception as e:
            return self._crashed(name, row, e)

    @staticmethod
    def _crashed(name: str, row: dict[str, Any], e: Exception) -> Verdict:
        # a verifier bug on one odd output must not cost a long run: record it and go on
        log.exception("verifier %s crashed on trace %s", name, row.get("trace_id"))
        return Verdict.fail("verifier_error", details={"error": repr(e)})

    def close(self) -> None:
        pass
