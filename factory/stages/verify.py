"""Score every trace with the recipe's verifiers; each adds passed/reason/score columns."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar

import pyarrow as pa

from factory.failures import errors_in
from factory.recipe import verifier_config
from factory.records import merge_schemas, verdict_columns, verdict_schema
from factory.stages.base import Stage, StageStats, batched
from factory.summary import RunSummary
from verifiers import VERIFIERS, Verdict, VerifierConfig

log = logging.getLogger(__name__)


NOT_APPLICABLE = "not_applicable"


class TraceVerifier(Stage):
    """The verify stage. Rows are scored in chunks so verifiers with a batch form (math, code)
    spread the work over the machine's cores. A bad *problem* (malformed tests) raises, naming
    the trace; bad *model output* only ever fails a verdict.

    A verifier judges the traces it applies to (:meth:`verifiers.Verifier.applies`: its
    ``domains``, and its inputs: math where there is a gold answer, code where there are tests);
    the others get ``<name>_reason = "not_applicable"`` and ``<name>_passed`` null. Per verifier
    (``stats.parts[name]``): traces judged, passed, why the others failed, and the same per domain
    (``stats.parts[name].parts[domain]``).
    """

    name: ClassVar[str] = "verify"

    def __init__(self, verify: Mapping[str, VerifierConfig | Mapping[str, Any]], chunk_size: int = 256) -> None:
        self.verify = {name: verifier_config(name, options, "verify") for name, options in verify.items()}
        self.chunk_size = chunk_size

    def schema(self, input: pa.Schema | None) -> pa.Schema:
        return merge_schemas(input, verdict_schema(list(self.verify)))

    def run(self, rows: Iterable[dict[str, Any]], stats: StageStats) -> Iterator[dict[str, Any]]:
        for chunk in batched(rows, self.chunk_size):
            stats.rows_in += len(chunk)
            out = [dict(row) for row in chunk]
            for name, config in self.verify.items():
                verifier, part = VERIFIERS[name], stats.part(name)
                judged = [row for row in out if verifier.applies(row, config)]
                for row in out:
                    row.update(verdict_columns(name, None))
                part.counters[NOT_APPLICABLE] += len(out) - len(judged)
                for row, verdict in zip(judged, self._check(name, judged, config), strict=True):
                    row.update(verdict_columns(name, verdict))
                    for counts in (part, part.part(row.get("domain") or "none")):
                        counts.rows_in += 1
                        if verdict.passed:
                            counts.rows_out += 1
                        else:
                            counts.dropped[verdict.reason] += 1
            stats.rows_out += len(out)
            yield from out

    def _check(self, name: str, chunk: list[dict[str, Any]], config: VerifierConfig) -> list[Verdict]:
        verifier = VERIFIERS[name]
        if verifier.batch is not None and len(chunk) > 1:
            try:
                return verifier.batch(chunk, config)
            except Exception:  # find the row at fault, one by one: its error names it
                log.warning("batch %s verifier failed on a chunk; retrying row by row", name, exc_info=True)
        return [self._one(name, row, config) for row in chunk]

    def _one(self, name: str, row: dict[str, Any], config: VerifierConfig) -> Verdict:
        try:
            return VERIFIERS[name].one(row, config)
        except ValueError as e:
            raise ValueError(f"verify.{name}: trace {row.get('trace_id')!r}: {e}") from e
        except ImportError:
            raise  # a broken install must stop the run, not reject every trace
        except Exception as e:
            return self._crashed(name, row, e)

    @staticmethod
    def _crashed(name: str, row: dict[str, Any], e: Exception) -> Verdict:
        # a verifier bug on one odd output must not cost a long run: record it and go on
        log.exception("verifier %s crashed on trace %s", name, row.get("trace_id"))
        return Verdict.fail("verifier_error", details={"error": repr(e)})

    def summarize(self, stats: StageStats, summary: RunSummary) -> None:
        for name in self.verify:
            v = stats.parts.get(name, StageStats())
            summary.pass_rate[name] = round(v.rows_out / v.rows_in, 4) if v.rows_in else None
            summary.pass_rate_by_domain[name] = {
                d: round(p.rows_out / p.rows_in, 4) for d, p in sorted(v.parts.items()) if p.rows_in
            }
            summary.not_applicable[name] = v.counters.get(NOT_APPLICABLE, 0)
            summary.verdict_reasons[name] = dict(sorted({"ok": v.rows_out, **v.dropped}.items())) if v.rows_in else {}

    def errors(self, stats: StageStats) -> Counter[str]:
        out: Counter[str] = Counter()  # traces whose verifier crashed or whose sandbox failed: judged again
        for name in self.verify:
            out.update(errors_in(stats.parts.get(name, StageStats()).dropped, f"verify:{name}:"))
        return out

    def close(self) -> None:
        pass
