"""A deterministic backend with no model: for tests, demos of the plumbing, and benchmarks.

It goes through the same seam as the real engines (prompts rendered, requests built, traces
assembled), so a test that uses it exercises everything but the sampling. By default about
half of its samples give the problem's gold answer in a ``\\boxed{}``, the others a wrong one,
and one in eight is cut off mid-thought (``finish_reason="length"``). ``generate.engine`` holds
its knobs (:class:`FakeOptions`): a per-problem chance that a sample is right (``accuracy_key``,
a key of the problem's metadata: a teacher with a known difficulty mix), fixed ``completions`` by
sample index, ``replies`` picked by a text the prompt contains (a judge's or a rewriter's
scripted answers), a simulated kill after ``crash_after_samples`` samples, and
``seconds_per_token`` of sleep to model a GPU's throughput without using the CPU.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar

from factory.backends.base import IDLE_S, NOT_READY, Completion, Provenance, Request, Sample
from factory.errors import RecipeError

if TYPE_CHECKING:
    from factory.recipe import GenerateConfig

CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def fake_completion(problem_id: str, index: int, gold: str | None) -> tuple[str, str]:
    """Deterministic: about half the samples are right; one in eight is truncated."""
    h = int(hashlib.sha256(f"{problem_id}/{index}".encode()).hexdigest(), 16)
    if h % 8 == 0:
        return "<think>\nI am still thinking about", "length"
    answer = gold if h % 2 == 0 else f"{gold}9"
    words = " step" * (1 + h % 7)
    return f"<think>\nLet me work it out:{words}.\n</think>\nThe answer is \\boxed{{{answer}}}.", "stop"


def graded_completion(problem_id: str, index: int, gold: str | None, accuracy: float) -> tuple[str, str]:
    """Deterministic: sample ``index`` is right with probability ``accuracy``; one wrong sample in
    four is cut off. Lengths (30-79 words) do not depend on the verdict."""
    h = int(hashlib.sha256(f"{problem_id}/{index}".encode()).hexdigest(), 16)
    words = " step" * (30 + (h >> 64) % 50)
    if (h % 10**6) / 10**6 < accuracy:
        return f"<think>\nLet me work it out:{words}.\n</think>\nThe answer is \\boxed{{{gold}}}.", "stop"
    if (h >> 32) % 4 == 0:
        return f"<think>\nI am still thinking about{words}", "length"
    return f"<think>\nLet me try:{words}.\n</think>\nThe answer is \\boxed{{{gold}9}}.", "stop"


class FakeTokenizer:
    """Renders a chat template (ChatML unless told otherwise) with jinja2, as transformers does,
    and counts whitespace-separated words as tokens."""

    chat_template = CHATML

    def apply_chat_template(
        self,
        messages: list[dict[str, str]],
        *,
        chat_template: str | None = None,
        add_generation_prompt: bool = False,
        **_: Any,
    ) -> str:
        import jinja2

        template = jinja2.Environment(trim_blocks=True, lstrip_blocks=True).from_string(
            chat_template or self.chat_template
        )
        return template.render(messages=messages, add_generation_prompt=add_generation_prompt)

    def __call__(self, text: str, **_: Any) -> dict[str, list[int]]:
        return {"input_ids": list(range(len(text.split())))}


@dataclass(frozen=True)
class FakeOptions:
    completions: list[str] | None = None  # sample i answers completions[i % len]; default: fake_completion
    accuracy_key: str | None = None  # a metadata key: the problem's chance that a sample is right (graded_completion)
    replies: dict[str, str] | None = None  # the reply of the first key the prompt contains (before completions)
    crash_after_samples: int | None = None  # raise KeyboardInterrupt once this many samples were made
    seconds_per_token: float = 0.0  # sleep per completion token, as a GPU would take


class FakeBackend:
    name: ClassVar[str] = "fake"
    runtime_options: ClassVar[frozenset[str]] = frozenset({"crash_after_samples", "seconds_per_token"})

    @staticmethod
    def check_config(config: GenerateConfig) -> None:
        known = [f.name for f in fields(FakeOptions)]
        for key in config.engine:
            if key not in known:
                raise RecipeError(
                    f"generate.engine.{key}: not an option of the fake backend (known: {', '.join(known)})"
                )

    def __init__(self, config: GenerateConfig) -> None:
        self.check_config(config)
        self.config = config
        self.options = FakeOptions(**config.engine)
        self.samples_made = 0

    @property
    def tokenizer(self) -> FakeTokenizer:
        return FakeTokenizer()

    def provenance(self) -> Provenance:
        return Provenance(model="fake", model_revision="0", generator="fake")

    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        return [completion for _, completion in self.stream(requests)]

    def stream(self, requests: Iterable[Request], window: int = 1) -> Iterator[tuple[Request, Completion]]:
        for r in requests:
            if r is NOT_READY:
                time.sleep(IDLE_S)
                continue
            samples = []
            for i in range(r.first, r.first + r.n):
                if (
                    self.options.crash_after_samples is not None
                    and self.samples_made >= self.options.crash_after_samples
                ):
                    raise KeyboardInterrupt("simulated kill in the middle of a shard")
                text, finish = self._text(r, i)
                text = text.removeprefix(self.config.prefill)  # the prompt already ends with the prefill
                tokens = len(text.split())
                if self.options.seconds_per_token:
                    time.sleep(tokens * self.options.seconds_per_token)
                samples.append(Sample(index=i, text=text, finish_reason=finish, tokens=tokens))
                self.samples_made += 1
            yield r, Completion(prompt_tokens=len(r.prompt.split()), samples=samples)

    def _text(self, request: Request, index: int) -> tuple[str, str]:
        for key, reply in (self.options.replies or {}).items():
            if key in request.prompt:
                return reply, "stop"
        if self.options.completions:
            return self.options.completions[index % len(self.options.completions)], "stop"
        if self.options.accuracy_key is not None:
            accuracy = json.loads(request.problem.get("metadata") or "{}").get(self.options.accuracy_key, 0.5)
            return graded_completion(request.problem["id"], index, request.problem.get("gold"), float(accuracy))
        return fake_completion(request.problem["id"], index, request.problem.get("gold"))

    def spent(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        return None

    def close(self) -> None:
        pass
