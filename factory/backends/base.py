"""What a generation backend is: rendered prompts in, sampled completions out.

The generate stage renders prompts (:mod:`factory.prompts`), turns each problem into a
:class:`Request`, and assembles the traces with their provenance; a backend only samples. A
backend is built from the recipe's ``generate`` section; ``generate.engine`` holds its own
arguments (``vllm.LLM`` keyword arguments for the vLLM backend, the fake's knobs for the fake).
It loads its model on first use, never in ``__init__``, so it pickles and ships to a worker.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from factory.recipe import GenerateConfig


# What a request feed yields when it has nothing ready yet but is not finished (a Ray replica
# waiting for its next shard): the backend goes on with the requests it holds and asks again
# (after IDLE_S when it holds none). The feed ends when its iterator does.
NOT_READY = None
IDLE_S = 0.005


@dataclass(frozen=True)
class Request:
    """One problem's prompt, sampled ``n`` times: its samples ``first`` .. ``first + n - 1``.

    Sample i of a problem is seeded ``seed + i`` whichever request draws it (vLLM seeds the i-th
    child of an ``n > 1`` request ``seed + i``), so a request for samples from ``first`` on is sent
    with :attr:`first_seed`, and a problem sampled in rounds gets the samples one request would."""

    problem: dict[str, Any]  # the problem row (id, domain, metadata... a backend may route on them)
    messages: list[dict[str, str]]  # the chat the prompt was rendered from (for chat APIs)
    prompt: str  # the rendered prompt text, prefill included
    n: int
    seed: int  # this problem's seed: the same samples on every (re)run
    sampling: dict[str, Any] = field(default_factory=dict)  # vllm.SamplingParams arguments, n and seed aside
    first: int = 0  # the index of its first sample (a later round of adaptive sampling starts past 0)

    @property
    def first_seed(self) -> int:
        """The seed to send: that of sample ``first`` (the engine seeds the j-th sample after it + j)."""
        return self.seed + self.first


@dataclass(frozen=True)
class Sample:
    index: int  # the sample's index in its problem: Request.first + its place in the request
    text: str  # the generated text, after the prompt (the prefill is not repeated)
    finish_reason: str  # "stop" | "length" | ...
    tokens: int  # completion tokens


@dataclass(frozen=True)
class Completion:
    prompt_tokens: int
    samples: list[Sample]
    error: str | None = None  # why this request got no samples (snake_case); the run goes on without them
    token_count: str = "engine"  # where Sample.tokens came from: engine | usage | tokenizer | estimate


@dataclass(frozen=True)
class Provenance:
    model: str  # the model folder or the served model's name
    model_revision: str  # a fingerprint of the weights, or the server's revision
    generator: str  # e.g. "vllm==0.32.0"


class Backend(Protocol):
    name: ClassVar[str]
    runtime_options: ClassVar[frozenset[str]]  # engine keys that cannot change the sampled tokens

    @staticmethod
    def check_config(config: GenerateConfig) -> None:
        """Refuse settings this backend cannot use, naming the key (called when the recipe loads)."""

    def __init__(self, config: GenerateConfig) -> None: ...

    @property
    def tokenizer(self) -> Any:
        """Renders chat templates (``apply_chat_template``) and counts tokens (``__call__``); loads the backend."""

    def provenance(self) -> Provenance: ...

    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        """One completion per request, in the requests' order."""

    def stream(self, requests: Iterable[Request], window: int = 1024) -> Iterator[tuple[Request, Completion]]:
        """``(request, completion)`` as each finishes, pulling requests lazily so that about
        ``window`` are in flight at once; the generate stage feeds it a whole run this way. The
        feed may yield :data:`NOT_READY`."""

    def spent(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """What these tokens cost at the backend's price table (the openai backend's ``price``); None: no price."""

    def close(self) -> None: ...
