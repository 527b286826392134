"""Generation backends: the one table from a recipe's ``generate.backend`` to the class that samples.

Adding a backend is one module here and one line in :data:`BACKENDS` (see docs/extending.md).
"""

from __future__ import annotations

from factory.backends.base import IDLE_S, NOT_READY, Backend, Completion, Provenance, Request, Sample
from factory.backends.fake import FakeBackend
from factory.backends.openai import OpenAIBackend
from factory.backends.vllm import VLLMBackend

BACKENDS: dict[str, type[Backend]] = {
    "vllm": VLLMBackend,
    "fake": FakeBackend,
    "openai": OpenAIBackend,
}

__all__ = [
    "BACKENDS",
    "IDLE_S",
    "NOT_READY",
    "Backend",
    "Completion",
    "FakeBackend",
    "OpenAIBackend",
    "Provenance",
    "Request",
    "Sample",
    "VLLMBackend",
]
