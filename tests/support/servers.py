"""Start a server process for a test or a benchmark on 127.0.0.1, wait until it answers, stop it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(
    command: Sequence[str],
    url: str,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    wait_s: float = 300,
    stop_s: float = 20,
) -> Iterator[subprocess.Popen]:
    """Run ``command`` in its own session (its log in ``log_path``) until ``url`` answers 200;
    at the end SIGTERM the session, and SIGKILL it after ``stop_s``."""
    name = Path(command[0]).name if "-m" not in command else command[command.index("-m") + 1]
    with log_path.open("w") as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.time() + wait_s
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited {proc.returncode}: {log_path.read_text()[-3000:]}")
                with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
                if time.time() > deadline:
                    raise RuntimeError(f"{name} did not answer {url} in {wait_s:.0f} s (log: {log_path})")
                time.sleep(0.5)
            yield proc
        finally:
            with contextlib.suppress(ProcessLookupError):  # it may have exited (and its session ended) already
                os.killpg(proc.pid, signal.SIGTERM)  # its own session: its children go too
                try:
                    proc.wait(timeout=stop_s)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
