"""Run the code verifier's programs through an execution service that speaks the Piston API (v2).

``CodeConfig(remote="http://host:2000")`` (a recipe's ``verify.code.remote``; a list of URLs is
a pool) sends every compile and every test to ``POST {url}/execute`` instead of the local
sandbox; ``GET {url}/runtimes`` is asked once, when the provider is first used (or when a recipe
loads), whether the service answers and runs the languages needed. A URL is the API's root: for
factory's own server (``factory sandbox serve``) ``http://host:port``, for a Piston
``http://host:2000/api/v2``.

What goes over the wire, per request (Piston's fields, then factory's extension, which a Piston
ignores):

- ``language`` (``python``, ``c++``, ``c``, ``java``, ``javascript``), ``version`` ``"*"``,
  ``files`` (the program first: the file that runs), ``stdin``, ``args``;
- ``run_cpu_time`` = ``time_limit_s`` and ``run_timeout`` = the wall-clock limit, in
  milliseconds; ``run_memory_limit`` = ``memory_mb`` in bytes; ``compile_cpu_time``,
  ``compile_timeout``, ``compile_memory_limit`` the same for the compiler;
- ``factory``: the limits Piston only sets per server (``max_procs``, ``output_mb``,
  ``disk_mb``) and the exact :class:`verifiers.sandbox.Limits` of the run and of the compile;
  ``result_channel`` for call-based and script tests (the return value, or the script's nonce,
  comes back apart from stdout; the nonce is made and checked on this side only);
  ``compile_only`` to build a program once before its tests.

Factory's server answers with Piston's ``run`` / ``compile`` stages (``stdout``, ``stderr``,
``code``, ``signal``, ``output``, ``status``, ``cpu_time``, ``wall_time``) plus a ``factory``
object holding the sandbox's own status, exit code and result channel, so a remote verdict is
the local one. From a plain Piston the status is read from its fields (``TO`` timeout, ``OL`` /
``EL`` output limit, ``XX`` sandbox error, a memory error in stderr memory limit, any other
failure runtime error); call-based and script tests need factory's server.

Requests in flight are capped by ``concurrency``; a refused (429, with ``Retry-After``), failed
(5xx) or unreachable request is retried with exponential backoff on the next URL of the pool.
When the retries are spent the test's status is ``sandbox_error`` (the code verifier's
infrastructure reason, never ``wrong_answer``), with the cause in its stderr; a request the
service rejects as malformed (4xx) is not retried.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import itertools
import json
import logging
import math
import random
import threading
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from verifiers.sandbox import Execution, Limits

log = logging.getLogger(__name__)

# The code verifier's toolchains by their Piston language names, and the file each program is.
PISTON_LANGUAGES = {"python": "python", "cpp": "c++", "c": "c", "java": "java", "javascript": "javascript"}
SOURCE_FILES = {"python": "main.py", "cpp": "main.cpp", "c": "main.c", "java": "Main.java", "javascript": "main.js"}
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_MEMORY_MARKERS = ("MemoryError", "Cannot allocate memory", "std::bad_alloc")


class RemoteUnavailable(RuntimeError):
    """The execution service does not answer, refuses us, or lacks a runtime we need."""


@dataclass(frozen=True)
class Runtime:
    language: str
    version: str
    aliases: tuple[str, ...]
    factory: bool  # factory's own server: the ``factory`` extension (exact statuses, result channel)

    def names(self) -> set[str]:
        return {self.language, *self.aliases}


def parse_urls(remote: str | Sequence[str]) -> tuple[str, ...]:
    """The pool's URLs, each ``http(s)://host[:port][/prefix]`` without a trailing slash; ValueError if bad."""
    urls = [remote] if isinstance(remote, str) else list(remote)
    if not urls:
        raise ValueError("option 'remote' must be a URL or a non-empty list of URLs")
    for url in urls:
        parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"option 'remote' must hold http(s) URLs, got {url!r}")
    return tuple(url.rstrip("/") for url in urls)


def limits_fields(limits: Limits, prefix: str) -> dict[str, int]:
    """A run's (``prefix="run"``) or a compile's limits as Piston's fields (milliseconds, bytes)."""
    return {
        f"{prefix}_cpu_time": math.ceil(limits.time_s * 1000),
        f"{prefix}_timeout": math.ceil(limits.wall_limit * 1000),
        f"{prefix}_memory_limit": limits.memory_mb * 2**20,
    }


class RemoteProvider:
    """Runs programs on a pool of Piston-API services; thread-safe, one instance serves a whole run.

    ``token``: sent as ``Authorization: Bearer``. ``retries`` more attempts after the first, each
    on the next URL, waiting ``backoff_s * 2**attempt`` (jittered, at most 30 s) or the
    service's ``Retry-After``.
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        concurrency: int = 16,
        token: str | None = None,
        retries: int = 5,
        backoff_s: float = 0.5,
    ) -> None:
        self.urls = parse_urls(urls)
        self.workers = concurrency
        self.retries = retries
        self.backoff_s = backoff_s
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._slots = threading.BoundedSemaphore(concurrency)
        self._next = itertools.count(random.randrange(len(self.urls)))
        self._local = threading.local()
        self._runtimes: dict[str, list[Runtime]] | None = None
        self._lock = threading.Lock()

    # -- the provider interface (see verifiers.code.LocalProvider) --------------------------

    def check(self, languages: Sequence[str] = ("python",)) -> None:
        """Every URL answers ``GET /runtimes`` and runs ``languages``; RemoteUnavailable if not."""
        runtimes = self.runtimes()
        for url, offered in runtimes.items():
            names = set().union(*(rt.names() for rt in offered)) if offered else set()
            missing = [lang for lang in languages if PISTON_LANGUAGES.get(lang, lang) not in names]
            if missing:
                raise RemoteUnavailable(
                    f"remote sandbox {url} has no runtime for {', '.join(missing)} "
                    f"(it offers: {', '.join(sorted(names)) or 'nothing'})"
                )

    def runtimes(self) -> dict[str, list[Runtime]]:
        """Each URL's runtimes (asked once)."""
        with self._lock:
            if self._runtimes is None:
                self._runtimes = {url: self._ask_runtimes(url) for url in self.urls}
            return self._runtimes

    def compile(
        self, language: str, source: str, limits: Limits, files: Mapping[str, str | bytes] | None = None
    ) -> Execution:
        """Build ``source`` on the service (``compile_only``); ``result`` is an id of the build.

        ``files`` (a ``testlib.h`` beside the source) are not sent: the service builds from the
        program alone (docs/remote-sandbox.md)."""
        body = self._body(language, source, "", Limits(), limits, compile_only=True)
        answer = self._execute(body)
        if isinstance(answer, Execution):
            return answer
        stage = answer.get("compile")
        if not isinstance(stage, Mapping):  # nothing to build (an interpreted language)
            return Execution("ok", 0, 0.0, b"", b"", b"remote")
        built = _execution(stage, limits)
        if built.ok:  # the service rebuilds (or finds its cached build) from source for each test
            built = Execution(
                "ok",
                built.exit_code,
                built.wall_s,
                built.stdout,
                built.stderr,
                hashlib.sha256(source.encode()).hexdigest().encode(),
                built.cpu_s,
            )
        return built

    def run(
        self,
        language: str,
        source: str,
        stdin: bytes,
        limits: Limits,
        *,
        binary: bytes | None = None,
        args: Sequence[str] = (),
        files: Mapping[str, str] | None = None,
        result_channel: bool = False,
        compile_limits: Limits | None = None,
    ) -> Execution:
        """Run ``source`` (compiled by the service, from its cache) on ``stdin`` under ``limits``."""
        if result_channel and not self._serves_results():
            return _failed("this remote cannot run call-based tests (no result channel): use factory sandbox serve")
        body = self._body(
            language,
            source,
            stdin.decode("utf-8", errors="surrogateescape"),
            limits,
            compile_limits or Limits(),
            args=args,
            files=files,
            result_channel=result_channel,
        )
        answer = self._execute(body)
        if isinstance(answer, Execution):
            return answer
        compiled = answer.get("compile")
        if isinstance(compiled, Mapping) and _execution(compiled, limits).status != "ok":
            return _failed(f"the remote did not build a program that built before: {compiled.get('stderr')!r}")
        stage = answer.get("run")
        if not isinstance(stage, Mapping):
            return _failed(f"the remote's answer has no run stage: {str(answer)[:200]}")
        return _execution(stage, limits)

    def run_checker(
        self, language: str, source: str, binary: bytes | None, files: Mapping[str, bytes], limits: Limits
    ) -> Execution:
        """Checker programs are not run remotely: the code verifier judges such problems
        ``unsupported_test`` before anything is sent; this is a guard, never a verdict."""
        return _failed("checker programs do not run on a remote")

    # -- internals -----------------------------------------------------------------------------

    def _serves_results(self) -> bool:
        return all(rt.factory for offered in self.runtimes().values() for rt in offered)

    def _body(
        self,
        language: str,
        source: str,
        stdin: str,
        limits: Limits,
        compile_limits: Limits,
        *,
        args: Sequence[str] = (),
        files: Mapping[str, str] | None = None,
        result_channel: bool = False,
        compile_only: bool = False,
    ) -> dict[str, Any]:
        extra = [{"name": name, "content": content} for name, content in (files or {}).items()]
        return {
            "language": PISTON_LANGUAGES.get(language, language),
            "version": "*",
            "files": [{"name": SOURCE_FILES.get(language, "main"), "content": source}, *extra],
            "stdin": stdin,
            "args": list(args),
            **limits_fields(limits, "run"),
            **limits_fields(compile_limits, "compile"),
            "factory": {
                "max_procs": limits.max_procs,
                "output_mb": limits.output_mb,
                "disk_mb": limits.disk_mb,
                "limits": asdict(limits),
                "compile_limits": asdict(compile_limits),
                "result_channel": result_channel,
                "compile_only": compile_only,
            },
        }

    def _ask_runtimes(self, url: str) -> list[Runtime]:
        try:
            status, _, data = self._request(url, "GET", "/runtimes", None, timeout=30.0)
        except (OSError, http.client.HTTPException) as exc:
            raise RemoteUnavailable(f"remote sandbox {url} does not answer: {exc}") from None
        if status in (401, 403):
            raise RemoteUnavailable(
                f"remote sandbox {url} refused us (HTTP {status}): set remote_token_env "
                "to the variable that holds its token"
            )
        try:
            if status != 200:
                raise ValueError(f"HTTP {status}")
            return [
                Runtime(
                    str(rt["language"]), str(rt["version"]), tuple(rt.get("aliases") or ()), bool(rt.get("factory"))
                )
                for rt in json.loads(data)
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise RemoteUnavailable(
                f"remote sandbox {url}: GET /runtimes gave no runtime list ({exc}): {data[:200]!r}"
            ) from None

    def _execute(self, body: dict[str, Any]) -> dict[str, Any] | Execution:
        """The service's answer, or a ``sandbox_error`` Execution once the retries are spent."""
        payload = json.dumps(body).encode()
        limits = body["factory"]["limits"]
        # the service may queue the request: allow the run, the compile and a margin
        timeout = 60.0 + limits["wall_s"] if limits["wall_s"] else 60.0 + 3 * limits["time_s"] + 1
        timeout += body["compile_timeout"] / 1000
        error = ""
        for attempt in range(self.retries + 1):
            url = self.urls[next(self._next) % len(self.urls)]
            wait = None
            try:
                with self._slots:
                    status, headers, data = self._request(url, "POST", "/execute", payload, timeout=timeout)
            except (OSError, http.client.HTTPException) as exc:
                error = f"{url}: {type(exc).__name__}: {exc}"
            else:
                if status == 200:
                    try:
                        return json.loads(data)
                    except ValueError:
                        error = f"{url}: the answer is not JSON: {data[:200]!r}"
                elif status in _RETRY_STATUS:
                    error = f"{url}: HTTP {status}: {data[:200].decode(errors='replace')}"
                    wait = _retry_after(headers.get("retry-after"))
                else:  # refused as malformed or unauthorised: the same request would fail again
                    message = f"{url}: HTTP {status}: {data[:500].decode(errors='replace')}"
                    log.warning("remote sandbox refused a request: %s", message)
                    return _failed(message)
            if attempt < self.retries:
                delay = wait if wait is not None else min(30.0, self.backoff_s * 2**attempt) * random.uniform(0.5, 1)
                log.info("remote sandbox attempt %d failed (%s); retrying in %.2f s", attempt + 1, error, delay)
                time.sleep(delay)
        log.warning("remote sandbox failed after %d attempts: %s", self.retries + 1, error)
        return _failed(f"after {self.retries + 1} attempts: {error}")

    def _request(
        self, url: str, method: str, path: str, payload: bytes | None, timeout: float
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        """One request on this thread's kept-alive connection to ``url`` (reopened once if stale)."""
        conns = self._local.__dict__.setdefault("conns", {})
        parts = urllib.parse.urlsplit(url)
        for fresh in (False, True):
            conn = conns.get(url)
            reused = conn is not None and not fresh
            if not reused:
                if conn is not None:
                    conn.close()
                kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
                conn = conns[url] = kind(parts.hostname, parts.port, timeout=timeout)
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
            try:
                conn.request(method, parts.path + path, body=payload, headers=self._headers)
                response = conn.getresponse()
                data = response.read()
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine) as exc:
                conn.close()
                del conns[url]
                if reused and not isinstance(exc, TimeoutError):  # the server closed an idle connection
                    continue
                raise
            except BaseException:
                conn.close()
                del conns[url]
                raise
            if response.will_close:
                conn.close()
                del conns[url]
            return response.status, response.headers, data
        raise AssertionError("unreachable")


def _retry_after(value: str | None) -> float | None:
    try:
        return min(60.0, max(0.0, float(value))) if value else None
    except ValueError:
        return None


def _failed(cause: str) -> Execution:
    return Execution("sandbox_error", None, 0.0, b"", f"remote sandbox: {cause}".encode())


_PISTON_STATUS = {"TO": "timeout", "OL": "output_limit", "EL": "output_limit", "XX": "sandbox_error"}
_SIGNALS = {"SIGKILL": 9, "SIGSEGV": 11, "SIGABRT": 6, "SIGXCPU": 24, "SIGXFSZ": 25, "SIGFPE": 8, "SIGBUS": 7}


def _execution(stage: Mapping[str, Any], limits: Limits) -> Execution:
    """One Piston stage (``run`` or ``compile``) as the local sandbox's :class:`Execution`."""
    stdout = str(stage.get("stdout") or "").encode("utf-8", errors="surrogateescape")
    stderr = str(stage.get("stderr") or "").encode("utf-8", errors="surrogateescape")
    cpu = stage.get("cpu_time")
    wall = stage.get("wall_time")
    cpu_s = cpu / 1000 if isinstance(cpu, (int, float)) else math.nan
    wall_s = wall / 1000 if isinstance(wall, (int, float)) else 0.0
    ours = stage.get("factory")
    if isinstance(ours, Mapping):  # factory's server: the sandbox's own verdict, unchanged
        result = ours.get("result")
        return Execution(
            ours["status"],
            ours.get("exit_code"),
            wall_s,
            stdout,
            stderr,
            base64.b64decode(result) if result is not None else None,
            cpu_s,
        )
    code, signal = stage.get("code"), stage.get("signal")
    exit_code = code if isinstance(code, int) else 128 + _SIGNALS.get(str(signal), 9) if signal else None
    status = _PISTON_STATUS.get(str(stage.get("status")))
    if status is None:
        if exit_code == 0 and cpu_s == cpu_s and cpu_s > limits.time_s:
            status = "timeout"
        elif exit_code == 0:
            status = "ok"
        elif any(marker in stderr[-4096:].decode(errors="replace") for marker in _MEMORY_MARKERS):
            status = "memory_limit"
        else:
            status = "runtime_error"
    return Execution(status, exit_code, wall_s, stdout, stderr, None, cpu_s)


__all__ = ["PISTON_LANGUAGES", "RemoteProvider", "RemoteUnavailable", "Runtime", "limits_fields", "parse_urls"]
