"""Reward-model ranking (``select.rank``): a score for every trace the filters kept.

R1's rejection sampling kept the best solutions by a reward model. :class:`RewardScorer` is a
select policy that runs after the filters (pass rate, length, dedup), so only traces that could
be kept are scored, and writes ``reward_score``; :class:`~factory.stages.select.KeepK` then keeps
the top ``k`` per problem by it (ties: the lower sample index). The score comes from

- a sequence-classification reward model (``reward_model: PATH``, a local folder loadable by
  ``AutoModelForSequenceClassification`` with one label, e.g. Skywork-Reward or an ORM trained
  with TRL's ``RewardTrainer``): the SFT chat as exported, rendered with the reward model's chat
  template, scored in batches under ``torch.no_grad`` on CUDA when there is one; a chat longer
  than ``max_length`` tokens is cut from the left so the answer is what it sees;
- or the judge (``reward_model: judge``): its graded ``judge_score``; traces the judge step did
  not see are sent to it here, with the same prompt.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from factory.recipe import JudgeConfig, RankConfig
from factory.records import LenientRow, sft_row
from factory.stages.base import StageStats, batched, mark_kept
from factory.stages.judge import DECIDED, Judge

log = logging.getLogger(__name__)


class RewardScorer:
    """Scores kept rows (``reward_score``); others get None. Never rejects."""

    name: ClassVar[str] = "rank"

    def __init__(
        self,
        config: RankConfig,
        judge: JudgeConfig | None = None,
        keep_system: bool = True,
        keep_few_shot: bool = False,
        chunk_size: int = 256,
    ) -> None:
        self.config, self.judge_config = config, judge
        self.keep_system, self.keep_few_shot = keep_system, keep_few_shot
        self.chunk_size = chunk_size
        self._model: Any = None
        self._tokenizer: Any = None
        self._judge: Any = None

    @property
    def exclusive(self) -> bool:
        if self.config.reward_model == "judge":
            return self.judge_config is not None and self.judge_config.backend == "vllm"
        return True

    def run(self, rows: Iterable[dict[str, Any]], stats: StageStats) -> Iterator[dict[str, Any]]:
        for chunk in batched(rows, self.chunk_size):
            todo = [r for r in chunk if mark_kept(r)["keep"]]
            for r in chunk:
                r["reward_score"] = None
            for row, score in zip(todo, self.score(todo, stats), strict=True):
                row["reward_score"] = score
                stats.rows_in += 1
                stats.rows_out += score is not None
                stats.counters["unscored"] += score is None
            yield from chunk

    def score(self, rows: list[dict[str, Any]], stats: StageStats | None = None) -> list[float | None]:
        if not rows:
            return []
        if self.config.reward_model == "judge":
            return self._judge_scores(rows, stats if stats is not None else StageStats())
        return self._model_scores(rows)

    # -- a sequence-classification reward model --------------------------------------------

    def load(self) -> None:
        if self._model is not None:
            return
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        path = self.config.reward_model
        device = self.config.device or ("cuda" if torch.cuda.is_available() else "cpu")
        tok = AutoTokenizer.from_pretrained(path)
        tok.truncation_side = "left"  # keep the answer
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        model = AutoModelForSequenceClassification.from_pretrained(
            path, num_labels=1, dtype=torch.bfloat16 if device.startswith("cuda") else torch.float32
        )
        if model.config.pad_token_id is None:
            model.config.pad_token_id = tok.pad_token_id
        log.info("rank: reward model %s on %s", path, device)
        self._model, self._tokenizer, self.device = model.to(device).eval(), tok, device

    def texts(self, rows: list[dict[str, Any]]) -> list[str]:
        tok = self._tokenizer
        out = []
        for r in rows:
            messages = sft_row(LenientRow(r), self.keep_system, self.keep_few_shot)["messages"]
            if getattr(tok, "chat_template", None):
                out.append(tok.apply_chat_template(messages, tokenize=False))
            else:
                out.append("\n\n".join(f"{m['role']}: {m['content']}" for m in messages))
        return out

    def _model_scores(self, rows: list[dict[str, Any]]) -> list[float | None]:
        import torch

        self.load()
        scores: list[float | None] = []
        texts = self.texts(rows)
        with torch.no_grad():
            for batch in batched(texts, self.config.batch_size):
                enc = self._tokenizer(
                    batch,
                    padding=True,
                    truncation=True,
                    max_length=self.config.max_length,
                    add_special_tokens=False,
                    return_tensors="pt",
                ).to(self.device)
                logits = self._model(**enc).logits
                scores += [float(x) for x in logits[:, 0].float().cpu()]
        return scores

    # -- the judge's graded score --------------------------------------------------------------

    def _judge_scores(self, rows: list[dict[str, Any]], stats: StageStats) -> list[float | None]:
        if self._judge is None:
            if self.judge_config is None:
                raise ValueError("select.rank.reward_model: judge needs a judge section")
            self._judge = Judge(self.judge_config)
        scores: list[float | None] = [r.get("judge_score") if r.get("judge_reason") in DECIDED else None for r in rows]
        ask = [i for i, s in enumerate(scores) if s is None]
        stats.counters["reused_judge_scores"] += len(rows) - len(ask)
        for i, result in zip(ask, self._judge.judge([rows[i] for i in ask]), strict=True):
            stats.counters["judge_calls"] += 1
            if result.verdict.reason in DECIDED:
                scores[i] = result.verdict.score
        return scores

    def close(self) -> None:
        self._model = self._tokenizer = None
        if self._judge is not None:
            self._judge.close()
        self._judge = None
