"""Adaptive sampling (``generate.adaptive``): sample a problem in rounds, stop once it has what select needs.

A problem's first round draws ``first`` samples. When a round comes back, its samples are judged
by the recipe's own verify stage (:class:`~factory.stages.verify.TraceVerifier`) and select's
requirement (:meth:`~factory.stages.select.PassRateFilter.failure`, ``select.require``), the same
code the verify and select steps run later on the written shard; nothing here decides what a pass
is. The problem stops once it has ``passes`` passing samples (and ``fails`` failing ones), or
``generate.n`` samples, or (``hopeless``) that many samples and no pass. Otherwise its next round
draws what the pass rate seen so far says is missing, ``ceil(missing / rate)`` with the rate
smoothed to ``(passes + 1) / (drawn + 2)``, at most as many as it has drawn (a round at most
doubles the problem) and at least one.

Sample i of a problem is seeded ``seed + i`` whichever round draws it
(:attr:`~factory.backends.Request.first_seed`), so the samples an adaptive run draws are the
first ones the fixed-n run draws, whatever the schedule. Without ``hopeless``, every problem
whose fixed-n traces include ``passes`` passing ones has the same first ``passes`` passing
traces in both runs, which is why ``select.strategy: first`` with ``k <= passes`` exports the
same SFT rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from factory.backends import Request
from factory.recipe import AdaptiveConfig, SelectConfig
from factory.stages.base import StageStats
from factory.stages.select import PassRateFilter
from factory.stages.verify import TraceVerifier

# why a problem stopped drawing samples (counted as generate's ``stopped_<reason>``)
ENOUGH = "enough"  # it has the passes (and fails) asked for
ALL_DRAWN = "all_drawn"  # it reached generate.n
HOPELESS = "hopeless"  # no pass after adaptive.hopeless samples
FAILED = "failed"  # a request of it failed


@dataclass
class Tally:
    """What one problem has drawn so far, judged."""

    drawn: int = 0
    passes: int = 0
    fails: int = 0
    tokens: int = 0  # completion tokens drawn


class StopRule:
    """When a problem has enough samples, and how many its next round draws."""

    def __init__(
        self, config: AdaptiveConfig, n: int, verify: Mapping[str, Any], select: SelectConfig | None = None
    ) -> None:
        """``verify``: the recipe's verify section; ``select``: its select section (``require``)."""
        self.config, self.n = config, n
        self.verifier = TraceVerifier(verify)
        self.requirement = PassRateFilter(list(self.verifier.verify), require=select.require if select else None)
        self.tallies: dict[str, Tally] = {}  # problems with a round out

    def round_done(self, request: Request, failed: bool, rows: list[dict[str, Any]], stats: StageStats) -> int:
        """A round of a problem came back (its trace rows; ``failed``: the request got no samples):
        the size of its next round, or 0 when it is done. Counts in ``stats`` (generate's) why each
        problem stopped (``stopped_<reason>``), its later rounds, and the samples (and, at the
        problem's mean length so far, the tokens) it did not draw."""
        tally = self.tallies.setdefault(request.problem["id"], Tally())
        tally.drawn = request.first + request.n
        if failed:
            why: str | None = FAILED
        else:
            self.judge(rows, tally)
            why = self.stop(tally)
        if why is None:
            stats.counters["later_rounds"] += 1
            return self.next_round(tally)
        del self.tallies[request.problem["id"]]
        stats.counters[f"stopped_{why}"] += 1
        if why != FAILED:
            saved = self.n - tally.drawn
            stats.counters["samples_saved"] += saved
            stats.counters["tokens_saved_estimate"] += round(saved * tally.tokens / max(1, tally.drawn))
        return 0

    def judge(self, rows: list[dict[str, Any]], tally: Tally) -> None:
        """Add one round's trace rows to the problem's tally: verified, then held to select's requirement."""
        tally.tokens += sum(row["completion_tokens"] for row in rows)
        for row in self.verifier.run(rows, StageStats()):
            if self.requirement.failure(row) is None:
                tally.passes += 1
            else:
                tally.fails += 1

    def stop(self, tally: Tally) -> str | None:
        """Why the problem draws no more samples, or None when it needs another round."""
        c = self.config
        if (c.passes is None or tally.passes >= c.passes) and (c.fails is None or tally.fails >= c.fails):
            return ENOUGH
        if tally.drawn >= self.n:
            return ALL_DRAWN
        if c.hopeless is not None and tally.passes == 0 and tally.drawn >= c.hopeless:
            return HOPELESS
        return None

    def next_round(self, tally: Tally) -> int:
        """Samples the problem's next round draws (call only when :meth:`stop` says it needs one)."""
        need = 1
        for target, got in ((self.config.passes, tally.passes), (self.config.fails, tally.fails)):
            if target is not None and got < target:
                rate = (got + 1) / (tally.drawn + 2)
                need = max(need, math.ceil((target - got) / rate))
        return max(1, min(need, tally.drawn, self.n - tally.drawn))
