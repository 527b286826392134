"""The options of each verifier, as frozen dataclasses (Math-Verify's style).

A recipe's ``verify.<name>`` mapping becomes one of these when the recipe loads, so a misspelt or
ill-typed option is an error naming its key path before anything runs. The math and code
verifiers take their config whole (``verify_math(response, gold, config=MathConfig(...))``); the
verify stage passes the text verifiers' fields as keywords of their functions
(``tests/verifiers/test_configs.py`` checks that every such field is a keyword of that function
with the same default). This module imports nothing heavy: a recipe is checked in milliseconds.

Every config also says which traces its verifier judges: ``domains`` (``None``: any domain)
narrows what the verifier's own inputs allow (math needs a gold answer or a vote, code needs
tests); a trace it does not judge gets the reason ``not_applicable``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class VerifierConfig:
    domains: list[str] | None = None  # judge only problems of these domains (None: every domain)


@dataclass(frozen=True)
class MathConfig(VerifierConfig):
    timeout_s: float = 5.0  # per answer, in a worker process killed at the limit
    memory_mb: int = 2048  # address-space cap of those workers
    require_think_close: bool = False  # no answer is read from a trace whose think block never closes
    extract: Literal["boxed", "bare", "auto"] = "boxed"  # where the answer is (see verifiers.math)
    units: Literal["match", "ignore"] = "match"  # match: units on both sides must agree; ignore: drop them
    decimal_comma: Literal["auto", "always", "never"] = "auto"  # is 1,5 one and a half (see verifiers.math)


@dataclass(frozen=True)
class CodeConfig(VerifierConfig):
    language: str = "auto"  # auto: the code fence's tag picks the toolchain (python, cpp, c, java, javascript)
    checker: str = "tokens"  # exact | tokens | float:TOL
    time_limit_s: float = 2.0  # CPU seconds per test
    memory_mb: int = 256
    max_procs: int = 4
    output_mb: float = 16.0
    disk_mb: int = 64
    wall_limit_s: float | None = None  # default: derived from time_limit_s (see the sandbox docs)
    unsafe_no_sandbox: bool = False
    python: str | None = None  # the interpreter inside the sandbox
    detail_chars: int = 256
    warm: bool = True  # Python through the warm (forking) sandbox
    compile_time_limit_s: float = 20.0  # C/C++/Java: the compiler's own limits
    compile_memory_mb: int = 2048
    max_time_limit_s: float = 10.0  # caps a problem's own time_limit_s
    max_memory_mb: int = 1024  # caps a problem's own memory_mb
    checker_time_limit_s: float = 10.0  # CPU seconds of a problem's checker program per test
    testlib_h: str | None = None  # path of testlib.h, for C++ checkers that include it
    # a Piston-API execution service (URL, or a list: a pool) instead of the local sandbox
    remote: str | list[str] | None = None
    remote_concurrency: int = 16  # requests in flight to the remote, all URLs together
    remote_token_env: str | None = None  # environment variable holding the remote's bearer token
    remote_retries: int = 5  # further attempts of a failed request, with exponential backoff

    def __post_init__(self) -> None:
        if self.remote is not None:
            from verifiers.remote import parse_urls  # stdlib only: a recipe still loads in milliseconds

            parse_urls(self.remote)
            if self.remote_concurrency < 1 or self.remote_retries < 0:
                raise ValueError("remote_concurrency must be at least 1 and remote_retries at least 0")


@dataclass(frozen=True)
class FormatConfig(VerifierConfig):
    require_think: bool = True
    think_prefilled: bool = False  # the opening <think> was in the prompt
    require_box: bool = False
    min_think_chars: int = 0


@dataclass(frozen=True)
class LanguageConfig(VerifierConfig):
    target: str | None = None  # None: the problem's own ``language``
    threshold: float = 0.9
    max_run: int | None = 5
    part: Literal["all", "reasoning", "answer"] = "all"
    languages: list[str] | None = None
    min_words: int = 4


@dataclass(frozen=True)
class ReadabilityConfig(VerifierConfig):
    max_paragraph_tokens: int | None = 512
    paragraphs: Literal["line", "blank_line"] = "line"
    allow_code_in_reasoning: bool | None = None
    code_domains: list[str] = field(default_factory=lambda: ["code", "coding", "programming"])
    max_line_repeats: int = 16
    max_consecutive_repeats: int = 4
    max_ngram_repeats: int = 8
    min_repeat_chars: int = 12
    max_compression_ratio: float = 8.0
    min_answer_chars: int = 1
    max_answer_tokens: int | None = 2048
    max_reasoning_tokens: int | None = 16384
    min_reasoning_tokens: int = 0
