"""An OpenAI-compatible server as a backend: a pool of ``vllm serve`` / SGLang servers, or an API.

``generate.base_url`` is the server (``http://127.0.0.1:8000/v1``), ``generate.model`` the served
model's name, ``generate.api_key_env`` the environment variable holding a key (sent as a Bearer
token). ``generate.engine`` holds this client's knobs (:class:`OpenAIOptions`).

What is sent, per problem:

- ``api: chat`` (default): ``/chat/completions`` with the problem's chat (system prompt, few-shot
  turns, the problem). The server renders it with its own chat template, or with the recipe's
  ``generate.chat_template`` (sent as vLLM's ``chat_template`` field). The prefill has no portable
  form in the OpenAI API; with ``extensions`` on it goes as a trailing assistant message with
  ``continue_final_message: true, add_generation_prompt: false`` (vLLM's fields; SGLang has the
  same), so the model continues it as the offline engine does. With ``extensions: false`` (a strict API) the prefill is
  not sent: the model starts its own answer, and a reply that begins with the prefill has it
  removed (the stage puts it back in front of every completion).
- ``api: completions``: ``/completions`` with the prompt text rendered here, prefill included, and
  ``add_special_tokens: false`` (the template already holds them). For a vLLM server of the same
  model this is the offline backend's prompt token for token; it needs the real template, so it
  needs ``generate.tokenizer`` (or a local ``generate.model``) or ``generate.chat_template``.

``n`` goes in one request (the samples share the prompt's KV cache on the server) with the
problem's seed; a server that rejects ``n > 1`` (a 400/422, or fewer choices than asked) is then
sent ``n`` single requests with seeds ``seed + i``, for the rest of the run. The recipe's
``sampling`` (``SamplingParams`` arguments) is passed through unchanged: ``top_k``, ``min_p``,
``repetition_penalty`` are vLLM/SGLang extensions a strict API may refuse.

A reply's ``reasoning`` (current vLLM) or ``reasoning_content`` (older vLLM, DeepSeek, SGLang),
from a server started with a reasoning parser, is merged back as ``<think>\\n{reasoning}\\n</think>\\n\\n
{content}`` so every trace has the R1 shape.

Requests run on a thread pool of ``concurrency``; 429, 5xx, timeouts, connection errors and a
malformed reply are retried ``max_retries`` times with exponential backoff and jitter, honouring
``Retry-After``. A problem that still fails becomes a :class:`Completion` with ``error`` set
(``request_failed:http_500``, ``request_failed:timeout``, ...): the stage counts it and the run
goes on. Other 4xx are not retried.

Prompts are rendered for the traces by a tokenizer: the one in ``generate.tokenizer`` or in
``generate.model`` when that is a local folder (exact, as the offline backend), otherwise
:class:`PlainTokenizer`, which renders the chat with ``generate.chat_template`` or ChatML and
estimates token counts. In chat mode the server renders what the model sees, so ``prompt_text``
is then a plain rendering of the chat, not the server's exact prompt.

Token counts: a choice's ``token_ids`` (vLLM's ``return_token_ids``, asked for with
``extensions``), else ``usage.completion_tokens`` of a one-choice reply, else the local
tokenizer, else an estimate (``usage`` split by text length, or 4 characters a token);
:attr:`Completion.token_count` says which.
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from factory.backends.base import IDLE_S, NOT_READY, Completion, Provenance, Request, Sample
from factory.backends.limits import RateLimit
from factory.backends.vllm import check_early_stops
from factory.errors import RecipeError
from factory.models import model_revision

if TYPE_CHECKING:
    from factory.recipe import GenerateConfig

log = logging.getLogger(__name__)

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
N_REJECTED_STATUS = frozenset({400, 422})  # how servers say "n > 1 is not supported" (among others)
TOKEN_SOURCES = ("engine", "usage", "tokenizer", "estimate")  # most to least exact
# What prompt_text holds when the model is not on this machine: the chat, not the server's prompt.
PLAIN_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n\n{% endfor %}"
    "{% if add_generation_prompt %}assistant: {% endif %}"
)


@dataclass(frozen=True)
class OpenAIOptions:
    """``generate.engine`` of the openai backend."""

    api: Literal["chat", "completions"] = "chat"
    extensions: bool = True  # vLLM/SGLang request fields: the prefill, return_token_ids, add_special_tokens
    batch_n: bool = True  # n samples in one request (with a fallback to n single requests)
    extra_body: dict[str, Any] = field(default_factory=dict)  # merged into every request body
    # client knobs: they cannot change the sampled tokens
    concurrency: int = 16  # requests in flight
    timeout_s: float = 600.0  # per request
    max_retries: int = 5  # retries after the first attempt
    backoff_s: float = 1.0  # first retry's wait; doubles each retry, with +-50% jitter
    max_backoff_s: float = 60.0  # cap on one wait (Retry-After included)
    requests_per_minute: float | None = None  # the provider's quota, kept here (factory.backends.limits)
    tokens_per_minute: float | None = None
    price: dict[str, float] = field(default_factory=dict)  # {input: ..., output: ...} per million tokens

    def __post_init__(self) -> None:
        if self.api not in ("chat", "completions"):
            raise ValueError(f"generate.engine.api: {self.api!r} is not one of chat, completions")
        if self.concurrency < 1 or self.max_retries < 0 or self.timeout_s <= 0:
            raise ValueError("generate.engine: concurrency >= 1, max_retries >= 0 and timeout_s > 0")
        for key in ("requests_per_minute", "tokens_per_minute"):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value <= 0):
                raise ValueError(f"generate.engine.{key}: expected a number > 0, got {value!r}")
        if self.price:
            if not isinstance(self.price, dict) or set(self.price) != {"input", "output"}:
                raise ValueError(
                    f"generate.engine.price: expected {{input: ..., output: ...}} (per million tokens), "
                    f"got {self.price!r}"
                )
            for key, value in self.price.items():
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise ValueError(f"generate.engine.price.{key}: expected a number >= 0, got {value!r}")


class PlainTokenizer:
    """For a server whose model is not on this machine: renders a chat with a Jinja template (the
    recipe's, or :data:`PLAIN_TEMPLATE`'s ``role: content`` lines) and counts about 4 characters a
    token. In chat mode the server renders with its own template: this is never what it saw."""

    chat_template = PLAIN_TEMPLATE

    def apply_chat_template(
        self,
        messages: list[dict[str, str]],
        *,
        chat_template: str | None = None,
        add_generation_prompt: bool = False,
        **_: Any,
    ) -> str:
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        template = ImmutableSandboxedEnvironment().from_string(chat_template or PLAIN_TEMPLATE)
        return template.render(messages=messages, add_generation_prompt=add_generation_prompt)

    def __call__(self, text: str, **_: Any) -> dict[str, list[int]]:
        return {"input_ids": list(range(estimate_tokens(text)))}


def estimate_tokens(text: str) -> int:
    return (len(text) + 3) // 4


class RequestFailed(Exception):
    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.status = reason, status


def retry_after(headers: Any) -> float | None:
    """Seconds a ``Retry-After`` header asks for (a number or an HTTP date), or None."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time()) if when else None


def merge_reasoning(content: str | None, reasoning: str | None) -> str:
    """A reply split by a server's reasoning parser, put back into one R1-shaped completion."""
    content = content or ""
    if not reasoning:
        return content
    return f"{THINK_OPEN}\n{reasoning.strip()}\n{THINK_CLOSE}\n\n{content.lstrip()}"


class OpenAIBackend:
    """HTTP requests to an OpenAI-compatible server; nothing loads until the first request."""

    name: ClassVar[str] = "openai"
    runtime_options: ClassVar[frozenset[str]] = frozenset(
        {
            "concurrency",
            "timeout_s",
            "max_retries",
            "backoff_s",
            "max_backoff_s",
            "requests_per_minute",
            "tokens_per_minute",
            "price",
        }
    )

    @staticmethod
    def check_config(config: GenerateConfig) -> None:
        known = {f.name for f in fields(OpenAIOptions)}
        for key in config.engine:
            if key not in known:
                raise RecipeError(
                    f"generate.engine.{key}: unknown option of the openai backend (known: {', '.join(sorted(known))})"
                )
        try:
            OpenAIOptions(**config.engine)
        except (TypeError, ValueError) as e:
            raise RecipeError(str(e)) from None
        check_early_stops(config.sampling, None, "generate")

    def __init__(self, config: GenerateConfig) -> None:
        self.check_config(config)
        self.config = config
        self.options = OpenAIOptions(**config.engine)
        self.base_url = (config.base_url or "").rstrip("/")
        self.folder = self._local_folder()
        if self.options.api == "completions" and self.folder is None and not config.chat_template:
            raise ValueError(
                "generate.engine.api: completions sends the prompt rendered here, which needs the model's chat "
                "template: set generate.tokenizer to a local copy of the model folder, or generate.chat_template"
            )
        self._client: Any = None
        self._tokenizer: Any = None
        self._provenance: Provenance | None = None
        self._single = not self.options.batch_n  # n single requests per problem
        self.limit: RateLimit | None = None
        if self.options.requests_per_minute is not None or self.options.tokens_per_minute is not None:
            self.limit = RateLimit(self.options.requests_per_minute, self.options.tokens_per_minute)

    def __getstate__(self) -> dict[str, Any]:  # ships to a worker without its connections (nor its lock)
        return {**self.__dict__, "_client": None, "_tokenizer": None, "limit": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self.options.requests_per_minute is not None or self.options.tokens_per_minute is not None:
            self.limit = RateLimit(self.options.requests_per_minute, self.options.tokens_per_minute)

    def spent(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """Money at ``price`` (per million input and output tokens); None without a price table."""
        price = self.options.price
        if not price:
            return None
        return round((prompt_tokens * price["input"] + completion_tokens * price["output"]) / 1e6, 6)

    def _local_folder(self) -> Path | None:
        if self.config.tokenizer:
            folder = Path(self.config.tokenizer)
            if not folder.is_dir():
                raise ValueError(f"generate.tokenizer: {folder} is not a local model folder")
            return folder
        folder = Path(self.config.model)
        return folder if folder.is_dir() else None

    # -- loading ---------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        if self._client is None:
            import httpx

            headers = {}
            if self.config.api_key_env:
                key = os.environ.get(self.config.api_key_env)
                if not key:
                    raise ValueError(
                        f"generate.api_key_env: the environment variable {self.config.api_key_env} is not set"
                    )
                headers["Authorization"] = f"Bearer {key}"
            self._client = httpx.Client(
                base_url=self.base_url,
                headers=headers,
                timeout=self.options.timeout_s,
                limits=httpx.Limits(
                    max_connections=self.options.concurrency, max_keepalive_connections=self.options.concurrency
                ),
            )
        return self._client

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            if self.folder is None:
                self._tokenizer = PlainTokenizer()
            else:
                from transformers import AutoTokenizer

                self._tokenizer = AutoTokenizer.from_pretrained(self.folder)
        return self._tokenizer

    def provenance(self) -> Provenance:
        """The served model's name; the server's version from ``/version`` where it has one."""
        if self._provenance is None:
            version = self._server_version()
            revision = model_revision(str(self.folder)) if self.folder is not None else "unknown"
            self._provenance = Provenance(
                self.config.model, revision, f"openai-api:{version}" if version else "openai-api"
            )
        return self._provenance

    def _server_version(self) -> str | None:
        """``vllm==0.32.0`` from ``/v1/models`` (its ``owned_by``) and ``/version``, as far as the server says."""
        import httpx

        timeout = min(10.0, self.options.timeout_s)
        owner = version = None
        try:
            models = self.client.get("/models", timeout=timeout).json().get("data") or []
            served = {str(m.get("id")): m for m in models if isinstance(m, dict)}
            if self.config.model not in served:
                log.warning(
                    "openai: %s serves %s, not generate.model %r", self.base_url, sorted(served), self.config.model
                )
            owner = (served.get(self.config.model) or {}).get("owned_by")
            version = (
                self.client.get(f"{self.base_url.removesuffix('/v1')}/version", timeout=timeout).json().get("version")
            )
        except (
            httpx.HTTPError,
            ValueError,
            AttributeError,
        ) as e:  # provenance must not stop a run: the requests will report a dead server
            log.info("openai: no server version from %s (%s)", self.base_url, e)
        if owner and version:
            return f"{owner}=={version}"
        return owner or version

    # -- sampling --------------------------------------------------------------------------

    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        if not requests:
            return []
        self.client  # noqa: B018 (fail on a missing key before starting threads)
        with ThreadPoolExecutor(max_workers=min(self.options.concurrency, len(requests))) as pool:
            return list(pool.map(self._complete, requests))

    def stream(self, requests: Iterable[Request], window: int = 1024) -> Iterator[tuple[Request, Completion]]:
        """Completions as they come back, ``concurrency`` requests in flight, pulled lazily from
        ``requests`` (across shards: the server pool never waits for a shard's slowest request)."""
        self.client  # noqa: B018 (fail on a missing key before starting threads)
        feed, end = iter(requests), object()
        exhausted = False
        with ThreadPoolExecutor(max_workers=self.options.concurrency) as pool:
            running: dict[Future[Completion], Request] = {}
            while True:
                idle = False
                while not exhausted and len(running) < self.options.concurrency:
                    request = next(feed, end)
                    if request is end or request is NOT_READY:
                        exhausted, idle = request is end, request is NOT_READY
                        break
                    running[pool.submit(self._complete, request)] = request
                if not running:
                    if exhausted:
                        return
                    time.sleep(IDLE_S)
                    continue
                done, _ = wait(running, timeout=IDLE_S if idle else None, return_when=FIRST_COMPLETED)
                for future in done:
                    yield running.pop(future), future.result()

    def _complete(self, request: Request) -> Completion:
        try:
            if request.n > 1 and not self._single:
                choices, usage = self._post(self._body(request, request.n, request.first_seed))
                if len(choices) >= request.n:
                    return self._completion(request, choices[: request.n], usage)
                self._fall_back(f"{len(choices)} choice(s) for n={request.n}")
            choices, prompt_tokens = [], None
            for i in range(request.n):
                got, usage = self._post(self._body(request, 1, (request.first_seed + i) & 0x7FFFFFFF))
                if not got:
                    raise RequestFailed("malformed_response")
                choices.append({**got[0], "index": i, "_usage": usage})
                prompt_tokens = prompt_tokens or usage.get("prompt_tokens")
            return self._completion(request, choices, {"prompt_tokens": prompt_tokens})
        except RequestFailed as e:
            if e.status in N_REJECTED_STATUS and request.n > 1 and not self._single:
                self._fall_back(f"HTTP {e.status}")
                return self._complete(request)
            return Completion(prompt_tokens=0, samples=[], error=f"request_failed:{e.reason}")

    def _fall_back(self, why: str) -> None:
        if not self._single:  # two threads may both warn; both set the same flag
            log.warning(
                "openai: %s refused n > 1 (%s); sending n single requests with seeds seed+i from now on",
                self.base_url,
                why,
            )
            self._single = True

    def _body(self, request: Request, n: int, seed: int) -> dict[str, Any]:
        cfg, opts = self.config, self.options
        body: dict[str, Any] = {"model": cfg.model, **request.sampling, "n": n, "seed": seed}
        if opts.api == "completions":
            body["prompt"] = request.prompt
            if opts.extensions:
                body["add_special_tokens"] = False
        else:
            messages = list(request.messages)
            if cfg.prefill and opts.extensions:
                messages.append({"role": "assistant", "content": cfg.prefill})
                body.update(continue_final_message=True, add_generation_prompt=False)
            body["messages"] = messages
            if cfg.chat_template and opts.extensions:
                body["chat_template"] = cfg.chat_template
        if opts.extensions:
            body["return_token_ids"] = True
        return {**body, **opts.extra_body}

    def _post(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """``(choices, usage)`` of one request, retried; raises :class:`RequestFailed`."""
        import httpx

        path = "/chat/completions" if self.options.api == "chat" else "/completions"
        attempt = 0
        while True:
            wait = None
            try:
                entry = self.limit.acquire(self._at_most(body)) if self.limit is not None else None
                reply = self.client.post(path, json=body)
                if reply.status_code == 200:
                    data = reply.json()
                    choices = data["choices"]
                    if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
                        raise TypeError("choices is not a list of objects")
                    usage = data.get("usage") or {}
                    if entry is not None and isinstance(usage.get("total_tokens"), int):
                        self.limit.settle(entry, usage["total_tokens"])  # type: ignore[union-attr]
                    return sorted(choices, key=lambda c: c.get("index", 0)), usage
                failure = RequestFailed(f"http_{reply.status_code}", reply.status_code)
                if reply.status_code not in RETRY_STATUS:
                    log.warning("openai: HTTP %s from %s: %s", reply.status_code, path, reply.text[:300])
                    raise failure
                wait = retry_after(reply.headers)
            except httpx.TimeoutException:
                failure = RequestFailed("timeout")
            except httpx.TransportError:
                failure = RequestFailed("connection_error")
            except (ValueError, KeyError, TypeError):  # a 200 whose body is not a completion
                failure = RequestFailed("malformed_response")
            if attempt >= self.options.max_retries:
                raise failure
            attempt += 1
            if wait is None:
                wait = self.options.backoff_s * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
            wait = min(wait, self.options.max_backoff_s)
            log.info(
                "openai: %s (attempt %d of %d), retrying in %.1fs",
                failure.reason,
                attempt,
                self.options.max_retries + 1,
                wait,
            )
            time.sleep(wait)

    @staticmethod
    def _at_most(body: dict[str, Any]) -> int:
        """The tokens a request may cost, as a provider's token quota counts it: prompt and n * max_tokens."""
        prompt = body.get("prompt") or "".join(m["content"] for m in body.get("messages", []))
        return estimate_tokens(prompt) + body.get("n", 1) * int(body.get("max_tokens") or 0)

    def _completion(self, request: Request, choices: list[dict[str, Any]], usage: dict[str, Any]) -> Completion:
        texts = [self._text(c) for c in choices]
        counts = [self._tokens(c, text, usage, texts) for c, text in zip(choices, texts, strict=True)]
        samples = [
            Sample(index=request.first + i, text=text, finish_reason=c.get("finish_reason") or "unknown", tokens=tokens)
            for i, (c, text, (tokens, _)) in enumerate(zip(choices, texts, counts, strict=True))
        ]
        prompt_tokens = usage.get("prompt_tokens")
        if not isinstance(prompt_tokens, int):
            prompt_tokens = len(self.tokenizer(request.prompt, add_special_tokens=False)["input_ids"])
        source = max((s for _, s in counts), key=TOKEN_SOURCES.index, default="engine")
        return Completion(prompt_tokens=prompt_tokens, samples=samples, token_count=source)

    def _text(self, choice: dict[str, Any]) -> str:
        """The sampled text after the prompt (the prefill not repeated)."""
        prefill = self.config.prefill
        if self.options.api == "completions":
            return choice.get("text") or ""
        message = choice.get("message") or {}
        reasoning = message.get("reasoning") or message.get("reasoning_content")
        text = merge_reasoning(message.get("content"), reasoning)
        prefill_sent = bool(prefill) and self.options.extensions
        if prefill and (reasoning or not prefill_sent):
            text = text.removeprefix(prefill)
        return text

    def _tokens(self, choice: dict[str, Any], text: str, usage: dict[str, Any], texts: list[str]) -> tuple[int, str]:
        """A choice's completion tokens and where the count came from (see :data:`TOKEN_SOURCES`)."""
        if isinstance(choice.get("token_ids"), list):
            return len(choice["token_ids"]), "engine"
        own = choice.get("_usage", usage)  # a single request's own usage
        total = own.get("completion_tokens")
        if isinstance(total, int) and (len(texts) == 1 or "_usage" in choice):
            return total, "usage"
        if self.folder is not None:
            return len(self.tokenizer(text, add_special_tokens=False)["input_ids"]), "tokenizer"
        if isinstance(total, int):
            share = len(text) / max(1, sum(map(len, texts)))
            return round(total * share), "estimate"
        return estimate_tokens(text), "estimate"

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = None
        self._tokenizer = None
