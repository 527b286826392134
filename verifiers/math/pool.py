"""Checker workers: persistent subprocesses that run the sympy path under a timeout and a memory cap.

A task is a picklable callable and its arguments, ``(fn, *args)``, run as ``fn(*args)`` in the
worker. The worker answers ``("done", value)``, or ``("failed", (reason, message))`` when the
task raised (out of memory or recursion is ``too_large``, anything else ``unparseable``). A
worker past its deadline is killed, not signalled, so any thread may wait on one.
"""

from __future__ import annotations

import atexit
import logging
import os
import subprocess
import sys
import threading
import time
from collections import deque
from multiprocessing.connection import Connection, wait
from typing import Any

from verifiers.math.reasons import TOO_LARGE, UNPARSEABLE

log = logging.getLogger(__name__)

DEFAULT_MEMORY_MB = 2048


def worker_main(rfd: int, wfd: int, memory_mb: int) -> None:
    """Entry point of a checker subprocess: read tasks, answer them, forever."""
    import resource

    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        try:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (ValueError, OSError):
            pass
    sys.set_int_max_str_digits(100_000)
    conn_in = Connection(rfd, writable=False)
    conn_out = Connection(wfd, readable=False)
    from verifiers.math.symbolic import warm_up

    warm_up()  # import sympy and the parser before announcing readiness, not on the first task
    conn_out.send(("ready", os.getpid()))
    while True:
        try:
            fn, *args = conn_in.recv()
        except (EOFError, OSError):
            return
        try:
            reply: tuple[str, Any] = ("done", fn(*args))
        except MemoryError:
            reply = ("failed", (TOO_LARGE, "memory"))
        except RecursionError:
            reply = ("failed", (TOO_LARGE, "recursion"))
        except Exception as e:  # noqa: BLE001 - never die on a task
            reply = ("failed", (UNPARSEABLE, f"{type(e).__name__}: {e}"[:200]))
        conn_out.send(reply)


# the directory that holds the ``verifiers`` package, so a worker imports this very copy
_PKG_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Worker:
    """One checker subprocess, talked to over two pipes; killed on timeout."""

    def __init__(self, memory_mb: int) -> None:
        r1, w1 = os.pipe()
        r2, w2 = os.pipe()
        env = dict(os.environ)
        env["PYTHONPATH"] = _PKG_ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        code = (
            "import sys; from verifiers.math.pool import worker_main; "
            "worker_main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))"
        )
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", code, str(r1), str(w2), str(memory_mb)],
                pass_fds=(r1, w2),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                close_fds=True,
            )
        finally:
            os.close(r1)
            os.close(w2)
        self.out = Connection(w1, readable=False)
        self.inp = Connection(r2, writable=False)
        self.ready = False
        self.started = time.monotonic()
        self.memory_mb = memory_mb

    def wait_ready(self, timeout: float = 120.0) -> bool:
        if self.ready:
            return True
        if self.inp.poll(timeout):
            try:
                msg = self.inp.recv()
            except (EOFError, OSError):
                return False
            self.ready = msg[0] == "ready"
        return self.ready

    def kill(self) -> None:
        try:
            self.proc.kill()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for c in (self.out, self.inp):
            try:
                c.close()
            except OSError:
                pass

    def alive(self) -> bool:
        return self.proc.poll() is None


class _Pool:
    """A small persistent set of workers shared by every thread of this process."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Condition()
        self.idle: list[Worker] = []
        self.count = 0
        self.max_workers = max(1, min(4, os.cpu_count() or 1))

    def checkout(self, memory_mb: int, wait_s: float = 120.0) -> Worker | None:
        deadline = time.monotonic() + wait_s
        with self.lock:
            while True:
                while self.idle:
                    w = self.idle.pop()
                    if w.alive() and w.memory_mb == memory_mb:
                        return w
                    self.count -= 1
                    w.kill()
                if self.count < self.max_workers:
                    self.count += 1
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.lock.wait(left)
        try:
            return Worker(memory_mb)
        except Exception:
            with self.lock:
                self.count -= 1
                self.lock.notify()
            raise

    def prestart(self, n: int, memory_mb: int) -> int:
        """Start workers until ``n`` are idle and ready (capped by max_workers); returns how many."""
        started: list[Worker] = []
        for _ in range(min(n, self.max_workers)):
            with self.lock:
                if self.count >= self.max_workers:
                    break
                self.count += 1
            started.append(Worker(memory_mb))
        for w in started:
            if w.wait_ready(60.0):
                self.checkin(w)
            else:
                self.discard(w)
        with self.lock:
            return len(self.idle)

    def borrow(self, n: int, memory_mb: int) -> list[Worker]:
        """Take up to ``n`` idle workers out of the pool and start the rest (for a batch)."""
        out: list[Worker] = []
        with self.lock:
            while self.idle and len(out) < n:
                w = self.idle.pop()
                self.count -= 1
                if w.alive() and w.memory_mb == memory_mb:
                    out.append(w)
                else:
                    w.kill()
            self.lock.notify_all()
        out.extend(Worker(memory_mb) for _ in range(n - len(out)))
        return out

    def give_back(self, workers: list[Worker]) -> None:
        """Keep borrowed workers that are alive and not busy (up to max_workers); kill the rest."""
        with self.lock:
            for w in workers:
                if self.pid == os.getpid() and w.alive() and self.count < self.max_workers:
                    self.idle.append(w)
                    self.count += 1
                else:
                    w.kill()
            self.lock.notify_all()

    def checkin(self, w: Worker) -> None:
        with self.lock:
            self.idle.append(w)
            self.lock.notify()

    def discard(self, w: Worker) -> None:
        w.kill()
        with self.lock:
            self.count -= 1
            self.lock.notify()

    def close(self) -> None:
        with self.lock:
            for w in self.idle:
                w.kill()
            self.count -= len(self.idle)
            self.idle.clear()


_pool: _Pool | None = None
_pool_lock = threading.Lock()


def get_pool() -> _Pool:
    """The process-wide worker pool (a fresh one in a forked child)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool.pid != os.getpid():
            _pool = _Pool()  # a forked child must not share its parent's pipes
        return _pool


@atexit.register
def _shutdown() -> None:
    if _pool is not None and _pool.pid == os.getpid():
        _pool.close()


def prestart_workers(n: int | None = None, memory_mb: int = DEFAULT_MEMORY_MB) -> int:
    """Start the shared checker workers now (they start lazily otherwise, ~2 s each on first use).

    Useful before a reward loop so the first ``verify_math`` calls do not pay the start-up.
    Returns the number of idle ready workers.
    """
    pool = get_pool()
    return pool.prestart(n or pool.max_workers, memory_mb)


# What a task came to: ("done", value), ("failed", (reason, message)) when it raised in the worker,
# or ("lost", details) when no answer came back (timeout, a worker that died or never started).
Reply = tuple[str, Any]


def run_in_worker(task: tuple[Any, ...], timeout_s: float, memory_mb: int) -> Reply:
    """Run one task in a pooled worker. A worker past the timeout is killed."""
    pool = get_pool()
    w = pool.checkout(memory_mb)
    if w is None or not w.wait_ready(60.0):
        if w is not None:
            pool.discard(w)
        return "lost", {"error": "worker failed to start"}
    try:
        w.out.send(task)
        if w.inp.poll(timeout_s):
            reply = w.inp.recv()
            pool.checkin(w)
            return reply
    except (EOFError, OSError, BrokenPipeError):
        pass
    pool.discard(w)
    return "lost", {"timeout_s": timeout_s}


def dispatch(
    fleet: list[Worker], tasks: deque[tuple[int, tuple[Any, ...]]], timeout_s: float, memory_mb: int
) -> dict[int, Reply]:
    """Feed ``(key, task)`` items to the fleet; replies by key. On return no worker in ``fleet`` is busy.

    A task past ``timeout_s`` is lost and its worker killed and replaced, so one hang costs one
    worker start, not the batch.
    """
    replies: dict[int, Reply] = {}
    busy: dict[int, tuple[Worker, int, float]] = {}  # fd -> (worker, key, deadline)
    starting: dict[int, Worker] = {}
    idle: list[Worker] = []
    for w in fleet:
        if w.ready:
            idle.append(w)
        else:
            starting[w.inp.fileno()] = w
    while tasks or busy:
        while idle and tasks:
            w = idle.pop()
            key, task = tasks.popleft()
            try:
                w.out.send(task)
            except OSError:
                replies[key] = ("lost", {"error": "worker died"})
                _replace(w, fleet, starting, memory_mb)
                continue
            busy[w.inp.fileno()] = (w, key, time.monotonic() + timeout_s)
        if not busy and not starting:
            break
        now = time.monotonic()
        wait_for = min((d for _, _, d in busy.values()), default=now + 60) - now
        conns = [w.inp for w in starting.values()] + [b[0].inp for b in busy.values()]
        for c in wait(conns, timeout=max(0.0, wait_for)):
            fd = c.fileno()
            if fd in starting:
                w = starting.pop(fd)
                try:
                    w.ready = w.inp.recv()[0] == "ready"
                except (EOFError, OSError):
                    w.ready = False
                if w.ready:
                    idle.append(w)
                else:
                    log.warning("math checker worker failed to start")
                    w.kill()
                    fleet.remove(w)
                continue
            w, key, _ = busy.pop(fd)
            try:
                replies[key] = w.inp.recv()
                idle.append(w)
            except (EOFError, OSError):
                replies[key] = ("lost", {"error": "worker died"})
                _replace(w, fleet, starting, memory_mb)
        now = time.monotonic()
        for fd, (w, key, deadline) in list(busy.items()):
            if deadline <= now:
                del busy[fd]
                replies[key] = ("lost", {"timeout_s": timeout_s})
                _replace(w, fleet, starting, memory_mb)
        if not fleet:
            while tasks:
                replies[tasks.popleft()[0]] = ("lost", {"error": "no worker"})
    return replies


def _replace(w: Worker, fleet: list[Worker], starting: dict[int, Worker], memory_mb: int) -> None:
    w.kill()
    if w in fleet:
        fleet.remove(w)
    nw = Worker(memory_mb)
    fleet.append(nw)
    starting[nw.inp.fileno()] = nw
