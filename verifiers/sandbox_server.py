"""Factory's sandbox as an execution service speaking the Piston API (``factory sandbox serve``).

A CPU node that can start bubblewrap serves the code verifier of every machine that cannot (a
Kubernetes pod, a GPU node): the run points ``verify.code.remote`` at it. Programs run exactly as
the local code verifier runs them (:class:`verifiers.code.LocalProvider`: Python in the warm
sandbox, C++, C, Java and JavaScript built once per program, the build cached by source and
limits; Java and JavaScript listed by ``/runtimes`` only where this machine has them), so a verdict
is the same here and there. Script tests run their harness here with the program as
``solution.py`` and send the result channel back; their nonce is made and checked by the client.

Endpoints (``/api/v2`` in front of each is accepted too, as a Piston's URLs have it):

- ``POST /execute``: Piston's request and answer (see :mod:`verifiers.remote` for the fields and
  factory's ``factory`` extension). Limits come from the extension when present, else from
  Piston's fields (``run_cpu_time``/``run_timeout`` milliseconds, ``run_memory_limit`` bytes)
  and this server's defaults.
- ``GET /runtimes``: the toolchains this machine has, Piston's shape.
- ``GET /health``: 200 ``{"status": "ok", "running", "queued", "workers", "queue", "served"}`` (503 while
  shutting down); it needs no token.

Requests beyond ``workers`` running and ``queue`` waiting are answered 429 with ``Retry-After``
at once. With a token every endpoint but ``/health`` needs ``Authorization: Bearer TOKEN``
(401 otherwise). The server binds 127.0.0.1 unless told otherwise. SIGTERM or SIGINT stops it
cleanly: no new request is taken, those running finish and are answered, then it exits 0.
A sandbox that fails on this machine is answered 500, so the client retries elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
from collections import OrderedDict
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from verifiers.code import LANGUAGE_ALIASES, TOOLCHAINS, LocalProvider, tool_path
from verifiers.sandbox import Execution, Limits, Sandbox, SandboxUnavailable, default_python

log = logging.getLogger(__name__)

PISTON_NAMES = {"python": "python", "cpp": "c++", "c": "c", "java": "java", "javascript": "javascript"}
MAX_BODY = 64 * 2**20
_PISTON_STATUS = {
    "runtime_error": "RE",
    "memory_limit": "RE",
    "timeout": "TO",
    "output_limit": "OL",
    "sandbox_error": "XX",
}


class _Busy(Exception):
    """Every worker busy and the queue full."""


class SandboxService:
    """The execution logic, without HTTP: admission, limits, builds, answers in Piston's shape."""

    def __init__(
        self,
        *,
        workers: int | None = None,
        queue: int | None = None,
        python: str | None = None,
        warm: bool = True,
        build_cache: int = 512,
    ) -> None:
        self.workers = workers or len(os.sched_getaffinity(0))
        self.queue = queue if queue is not None else 4 * self.workers
        self.provider = LocalProvider((python, False), warm)
        self.python = python or default_python()
        self._slots = threading.Semaphore(self.workers)
        self._lock = threading.Lock()
        self.admitted = 0  # running + waiting
        self.served = 0  # executions answered since start
        self._builds: OrderedDict[str, Execution] = OrderedDict()
        self._building: dict[str, threading.Lock] = {}
        self._build_cache = build_cache
        self.runtimes = self._find_runtimes()

    # -- runtimes ------------------------------------------------------------------------------

    def _find_runtimes(self) -> list[dict[str, Any]]:
        versions = {"python": _version([self.python, "-c", "import platform; print(platform.python_version())"])}
        for language, tool in (("cpp", "g++"), ("c", "gcc")):
            if shutil.which(tool):
                versions[language] = _version([tool, "-dumpfullversion", "-dumpversion"])
        # runtimes listed only where the sandbox can run them (under /usr: see verifiers.code.tool_path)
        for language, tools, probe in (
            ("java", ("javac", "java"), ["-version"]),
            ("javascript", ("node",), ["--version"]),
        ):
            try:
                paths = [tool_path(tool) for tool in tools]
            except SandboxUnavailable:
                continue
            found = _version([paths[-1], *probe], stderr=True)
            if found:
                versions[language] = found.lstrip("v")
        return [
            {
                "language": PISTON_NAMES[lang],
                "version": version,
                "runtime": lang,
                "aliases": sorted(LANGUAGE_ALIASES[lang] - {PISTON_NAMES[lang]}),
                "factory": True,
            }
            for lang, version in versions.items()
            if version
        ]

    def resolve(self, name: Any, version: Any) -> tuple[str, str] | None:
        """(toolchain key, version) of a requested language and version (``*`` or a prefix)."""
        for rt in self.runtimes:
            if name == rt["language"] or name in rt["aliases"]:
                if version in (None, "*", "") or str(rt["version"]).startswith(str(version)):
                    return rt["runtime"], rt["version"]
        return None

    # -- admission -----------------------------------------------------------------------------

    def admit(self) -> None:
        with self._lock:
            if self.admitted >= self.workers + self.queue:
                raise _Busy
            self.admitted += 1

    def leave(self) -> None:
        with self._lock:
            self.admitted -= 1
            self.served += 1

    def retry_after(self) -> int:
        return max(1, math.ceil(self.queue / self.workers * 0.05))  # a test takes milliseconds to seconds

    # -- execution -----------------------------------------------------------------------------

    def execute(self, body: Any) -> tuple[int, dict[str, Any]]:
        """(HTTP status, answer) of one ``POST /execute`` body; runs inside one worker slot."""
        try:
            request = _Request(body, self)
        except ValueError as exc:
            return 400, {"message": str(exc)}
        with self._slots:
            answer = self._execute(request)
        stages = [answer[k]["factory"]["status"] for k in ("compile", "run") if k in answer]
        if "sandbox_error" in stages:  # this machine's fault: 500, the client tries again (elsewhere)
            return 500, {
                "message": "sandbox error: "
                + next(answer[k]["stderr"] for k in ("compile", "run") if k in answer)[-1000:]
            }
        return 200, answer

    def _execute(self, req: _Request) -> dict[str, Any]:
        answer: dict[str, Any] = {"language": PISTON_NAMES[req.language], "version": req.version}
        binary = None
        if TOOLCHAINS[req.language] is not None:
            build = self._build(req.language, req.source, req.compile_limits)
            answer["compile"] = _stage(build)
            if not (build.ok and build.result) or req.compile_only:
                answer["run"] = answer["compile"]  # as a Piston answers when the run stage never started
                return answer
            binary = build.result
        run = self.provider.run(
            req.language,
            req.source,
            req.stdin,
            req.limits,
            binary=binary,
            args=req.args,
            files=req.files,
            result_channel=req.result_channel,
        )
        answer["run"] = _stage(run)
        return answer

    def _build(self, language: str, source: str, limits: Limits) -> Execution:
        key = hashlib.sha256(json.dumps([language, source, repr(limits)]).encode()).hexdigest()
        with self._lock:
            lock = self._building.setdefault(key, threading.Lock())
        with lock:  # one build per program, however many of its tests arrive at once
            with self._lock:
                if key in self._builds:
                    self._builds.move_to_end(key)
                    return self._builds[key]
            build = self.provider.compile(language, source, limits)
            with self._lock:
                self._building.pop(key, None)
                if build.status != "sandbox_error":
                    self._builds[key] = build
                    while len(self._builds) > self._build_cache:
                        self._builds.popitem(last=False)
            return build


class _Request:
    """A checked ``POST /execute`` body; ValueError names the bad field (answered 400)."""

    def __init__(self, body: Any, service: SandboxService) -> None:
        if not isinstance(body, Mapping):
            raise ValueError("the body must be a JSON object")
        resolved = service.resolve(body.get("language"), body.get("version"))
        if resolved is None:
            raise ValueError(f"{body.get('language')}-{body.get('version')} runtime is unknown")
        self.language, self.version = resolved
        files = body.get("files")
        if (
            not isinstance(files, list)
            or not files
            or not all(isinstance(f, Mapping) and isinstance(f.get("content"), str) for f in files)
        ):
            raise ValueError("files is required as a non-empty array of {name, content} objects")
        if any(f.get("encoding", "utf8") != "utf8" for f in files):
            raise ValueError("only utf8 files are supported")
        self.source = files[0]["content"]
        self.files = {str(f.get("name")): f["content"] for f in files[1:]}
        if set(self.files) - {"solution.py"}:
            raise ValueError("besides the program, only a 'solution.py' file is supported")
        stdin, args = body.get("stdin") or "", body.get("args") or []
        if not isinstance(stdin, str) or not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise ValueError("stdin must be a string and args a list of strings")
        self.stdin = stdin.encode("utf-8", errors="surrogateescape")
        self.args = args
        ours = body.get("factory") if isinstance(body.get("factory"), Mapping) else {}
        self.result_channel = bool(ours.get("result_channel"))
        self.compile_only = bool(ours.get("compile_only"))
        try:
            self.limits = _limits(ours.get("limits"), body, "run", Limits())
            self.compile_limits = _limits(
                ours.get("compile_limits"),
                body,
                "compile",
                Limits(time_s=20, memory_mb=2048, max_procs=8, output_mb=64, disk_mb=256),
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"bad limits: {exc}") from None


def _limits(exact: Any, body: Mapping[str, Any], prefix: str, default: Limits) -> Limits:
    if isinstance(exact, Mapping):
        return Limits(**exact)
    cpu, wall, memory = (body.get(f"{prefix}_{k}") for k in ("cpu_time", "timeout", "memory_limit"))
    return Limits(
        time_s=cpu / 1000 if cpu and cpu > 0 else default.time_s,
        wall_s=wall / 1000 if wall and wall > 0 else default.wall_s,
        memory_mb=math.ceil(memory / 2**20) if memory and memory > 0 else default.memory_mb,
        max_procs=default.max_procs,
        output_mb=default.output_mb,
        disk_mb=default.disk_mb,
    )


def _stage(run: Execution) -> dict[str, Any]:
    stdout = run.stdout.decode("utf-8", errors="replace")
    stderr = run.stderr.decode("utf-8", errors="replace")
    signame = None
    if run.exit_code is not None and run.exit_code > 128:
        try:
            signame = signal.Signals(run.exit_code - 128).name
        except ValueError:
            pass
    status = None if run.status == "ok" else _PISTON_STATUS[run.status]
    if status == "RE" and signame:
        status = "SG"
    return {
        "stdout": stdout,
        "stderr": stderr,
        "output": stdout + stderr,
        "code": None if signame else run.exit_code,
        "signal": signame,
        "status": status,
        "message": None,
        "cpu_time": round(run.cpu_s * 1000, 3) if run.cpu_s == run.cpu_s else None,
        "wall_time": round(run.wall_s * 1000, 3),
        "memory": None,
        "factory": {
            "status": run.status,
            "exit_code": run.exit_code,
            "result": base64.b64encode(run.result).decode() if run.result is not None else None,
        },
    }


def _version(command: list[str], stderr: bool = False) -> str | None:
    """The first line a tool prints about its version (``java -version`` prints to stderr, quoted)."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    text = (done.stdout.strip() or done.stderr.strip()) if stderr else done.stdout.strip()
    if not stderr:
        return text
    first = text.splitlines()[0] if text else ""
    quoted = re.search(r'"([^"]+)"', first)
    return quoted.group(1) if quoted else first.split()[-1] if first else None


class _Handler(BaseHTTPRequestHandler):
    server: SandboxHTTPServer
    protocol_version = "HTTP/1.1"  # keep-alive: a client sends many tests on one connection
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms wait on a delayed ACK
    timeout = 120  # an idle kept-alive connection is closed after this long

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def handle_one_request(self) -> None:
        self.server.idle.add(self)  # waiting for a request line: close() may cut this connection
        if self.server.stopping.is_set():
            self.close_connection = True
            return
        super().handle_one_request()

    def parse_request(self) -> bool:
        self.server.idle.discard(self)  # a request is here: it will be answered
        return super().parse_request()

    def finish(self) -> None:
        self.server.idle.discard(self)
        super().finish()

    def do_GET(self) -> None:
        path = self._path()
        if path == "/health":
            service = self.server.service
            running = min(service.admitted, service.workers)
            self._send(
                503 if self.server.stopping.is_set() else 200,
                {
                    "status": "stopping" if self.server.stopping.is_set() else "ok",
                    "running": running,
                    "queued": service.admitted - running,
                    "workers": service.workers,
                    "queue": service.queue,
                    "served": service.served,
                },
            )
        elif self._authorized():
            if path == "/runtimes":
                self._send(200, self.server.service.runtimes)
            else:
                self._send(404, {"message": f"no such endpoint: GET {path}"})

    def do_POST(self) -> None:
        path = self._path()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            self._send(413, {"message": f"request body over {MAX_BODY} bytes"})
            return
        data = self.rfile.read(length)
        if not self._authorized():
            return
        if path != "/execute":
            self._send(404, {"message": f"no such endpoint: POST {path}"})
            return
        if self.server.stopping.is_set():
            self._send(503, {"message": "shutting down"}, {"Retry-After": "1"})
            return
        service = self.server.service
        try:
            service.admit()
        except _Busy:
            self._send(429, {"message": "queue full"}, {"Retry-After": str(service.retry_after())})
            return
        try:
            try:
                body = json.loads(data)
            except ValueError as exc:
                self._send(400, {"message": f"the body is not JSON: {exc}"})
                return
            status, answer = service.execute(body)
            self._send(status, answer)
        except Exception as exc:  # a bug here must not take the server down: answer 500, log it
            log.exception("execute failed")
            self._send(500, {"message": f"{type(exc).__name__}: {exc}"})
        finally:
            service.leave()

    def _path(self) -> str:
        path = self.path.split("?", 1)[0].rstrip("/")
        return path[len("/api/v2") :] if path.startswith("/api/v2/") else path

    def _authorized(self) -> bool:
        token = self.server.token
        given = self.headers.get("Authorization", "")
        if token is None or hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return True
        self._send(401, {"message": "missing or wrong bearer token"}, {"WWW-Authenticate": "Bearer"})
        return False

    def _send(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


class SandboxHTTPServer(ThreadingHTTPServer):
    """The HTTP front of a :class:`SandboxService`; :meth:`close` is the clean shutdown."""

    daemon_threads = False  # server_close() waits for the requests in flight
    block_on_close = True

    def __init__(self, host: str, port: int, service: SandboxService, token: str | None = None) -> None:
        self.service, self.token = service, token or None
        self.stopping = threading.Event()
        self.idle: set[_Handler] = set()
        super().__init__((host, port), _Handler)

    def close(self) -> None:
        """Stop taking requests, answer those in flight, close idle connections, return."""
        self.stopping.set()
        self.shutdown()  # serve_forever returns: no new connection is accepted
        for handler in list(self.idle):  # a kept-alive connection waiting for its next request
            try:
                handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.server_close()  # joins the handler threads: every request in flight is answered


def serve(
    host: str = "127.0.0.1",
    port: int = 2000,
    *,
    token: str | None = None,
    workers: int | None = None,
    queue: int | None = None,
    python: str | None = None,
) -> int:
    """Serve until SIGTERM/SIGINT, then shut down cleanly; the process's exit status."""
    Sandbox(python=python).check()  # a machine that cannot sandbox refuses to serve, at once
    service = SandboxService(workers=workers, queue=queue, python=python)
    server = SandboxHTTPServer(host, port, service, token)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, name="sandbox-server", daemon=True)
    thread.start()
    bound_host, bound_port = server.server_address[:2]
    print(
        f"factory sandbox: serving http://{bound_host}:{bound_port} ({service.workers} workers, queue "
        f"{service.queue}, token {'required' if token else 'none'}, runtimes "
        f"{', '.join(rt['language'] + ' ' + rt['version'] for rt in service.runtimes)})",
        flush=True,
    )
    stop.wait()
    print("factory sandbox: shutting down", flush=True)
    server.close()
    thread.join()
    return 0


__all__ = ["SandboxHTTPServer", "SandboxService", "serve"]
