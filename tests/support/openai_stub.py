"""A stub OpenAI-compatible server for tests: ``http.server`` in a thread on 127.0.0.1.

It answers each POST with what the test's ``behave(body, i)`` returns (a reply, or a float: sleep
that long, then answer) and records every request body, so the real HTTP client of the openai
backend runs against a real socket.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = tuple[int, dict[str, str], bytes]


def answer(
    body: dict[str, Any], content: str = "<think>\nfine\n</think>\nThe answer is \\boxed{0}.", **message: Any
) -> Reply:
    """A chat (or completions) reply with ``body['n']`` choices and usage."""
    n = body.get("n", 1)
    if "prompt" in body:
        choices = [{"index": i, "text": content, "finish_reason": "stop"} for i in range(n)]
    else:
        choices = [
            {"index": i, "message": {"role": "assistant", "content": content, **message}, "finish_reason": "stop"}
            for i in range(n)
        ]
    usage = {"prompt_tokens": 11, "completion_tokens": 7 * n, "total_tokens": 11 + 7 * n}
    return 200, {}, json.dumps({"id": "x", "choices": choices, "usage": usage}).encode()


def solve(body: dict[str, Any], i: int) -> Reply:
    """The right answer to the "What is a + b?" asked (so every problem's completion is its own)."""
    a, b = re.search(r"What is (\d+) \+ (\d+)\?", json.dumps(body)).groups()
    return answer(body, content=f"<think>\n{a} + {b}\n</think>\nThe answer is \\boxed{{{int(a) + int(b)}}}.")


class Stub:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.behave: Callable[[dict[str, Any], int], Reply | float] = lambda body, i: answer(body)
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # /v1/models and /version, as vLLM answers them
                data = (
                    {"data": [{"id": "teacher", "owned_by": "stubllm"}]}
                    if self.path.endswith("/models")
                    else {"version": "9.9"}
                )
                self._send(200, {}, json.dumps(data).encode())

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.bodies.append(body)
                stub.headers.append(dict(self.headers))
                reply = stub.behave(body, len(stub.bodies) - 1)
                if isinstance(reply, float):  # sleep past the client's timeout, then answer
                    time.sleep(reply)
                    reply = answer(body)
                self._send(*reply)

            def _send(self, status: int, headers: dict[str, str], data: bytes) -> None:
                try:
                    self.send_response(status)
                    for k, v in {"Content-Type": "application/json", **headers}.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
