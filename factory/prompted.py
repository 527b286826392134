"""A model the factory prompts besides the teacher: the judge, the rewriter.

Both are generators on the same seam as the teacher (:mod:`factory.backends`: local vLLM, an
OpenAI-compatible server, the fake backend in tests), and their prompts are rendered by the same
:class:`~factory.prompts.PromptRenderer`: a system prompt, then the stage's user template filled
from a row's fields, under the model's chat template, then the prefill. All rows of a shard go to
the backend in one ``generate`` call (many requests in flight), never one call per row.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from factory.backends import BACKENDS, Backend, Request
from factory.prompts import PromptRenderer
from factory.recipe import ModelConfig
from factory.stages.generate import DEFAULT_SAMPLING, problem_seed

DELIMITERS = ("<<<", ">>>")


def quote(text: str) -> str:
    """``text`` made safe to place between the prompt's ``<<<...>>>`` markers: it cannot close them."""
    return text.replace("<<<", "<\u200b<<").replace(">>>", ">>\u200b>")


@dataclass(frozen=True)
class Reply:
    text: str  # the reply after the prompt (the prefill not repeated)
    finish_reason: str
    tokens: int
    error: str | None = None  # why there is no reply (the backend's reason)


class PromptedModel:
    """``complete(fields)``: one reply per row, from ``config``'s model, prompted with
    ``config.system_prompt`` / ``config.prompt`` or the stage's defaults given here."""

    def __init__(
        self,
        config: ModelConfig,
        system_prompt: str | None,
        user_template: str,
        sampling: dict[str, Any],
        backend: Backend | None = None,
    ) -> None:
        self.config = config
        self.generate_config = config.generate_config(
            config.system_prompt if config.system_prompt is not None else system_prompt,
            config.prompt if config.prompt is not None else user_template,
            {**DEFAULT_SAMPLING, **sampling},
        )
        g = self.generate_config
        self.prompt_hash = hashlib.sha256(
            json.dumps([g.system_prompt, g.user_template, g.prefill]).encode()
        ).hexdigest()[:12]
        self.sampling = {k: v for k, v in g.sampling.items() if k != "n"}
        self._backend = backend
        self._renderer: PromptRenderer | None = None

    @property
    def exclusive(self) -> bool:
        """It runs a model on this machine: the local executor starts it only after the teacher's engine is gone."""
        return self.config.backend == "vllm"

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = BACKENDS[self.config.backend](self.generate_config)
        return self._backend

    @property
    def renderer(self) -> PromptRenderer:
        if self._renderer is None:
            self._renderer = PromptRenderer(self.generate_config, self.backend.tokenizer, self.config.model)
        return self._renderer

    @property
    def model_name(self) -> str:
        return self.backend.provenance().model

    def complete(self, rows: list[dict[str, Any]]) -> list[Reply]:
        """One reply per row of fields (``id`` seeds it; the others fill the user template)."""
        if not rows:
            return []
        requests = []
        for fields in rows:
            chat = self.renderer.messages(fields)
            requests.append(
                Request(
                    problem=fields,
                    messages=chat,
                    prompt=self.renderer.render(chat),
                    n=1,
                    seed=problem_seed(self.config.seed, fields["id"]),
                    sampling=self.sampling,
                )
            )
        out = []
        for completion in self.backend.generate(requests):
            if completion.error is not None or not completion.samples:
                out.append(Reply("", "error", 0, completion.error or "no_sample"))
            else:
                s = completion.samples[0]
                out.append(Reply(s.text, s.finish_reason, s.tokens))
        return out

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
        self._backend, self._renderer = None, None

    def __getstate__(self) -> dict[str, Any]:  # ships to a worker without an engine
        return {**self.__dict__, "_backend": None, "_renderer": None}
