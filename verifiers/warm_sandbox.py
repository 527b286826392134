"""Warm sandbox for Python: one long-lived bubblewrap sandbox per worker forks a child per test.

The cold :class:`verifiers.sandbox.Sandbox` pays for a new bubblewrap sandbox and a new
interpreter on every execution (tens of milliseconds). Here a *zygote* does that once: an
interpreter inside one bubblewrap sandbox, set up exactly like the cold one (random unprivileged
uid, every namespace unshared, read-only ``/usr``-only root, size-capped private ``/work``,
4-variable environment, no capabilities, ``no_new_privs``), that has imported only the standard
library modules in :data:`PRELOAD` and never a line of a program. For each test the host sends
the program's source and stdin over a pipe; the zygote forks, and the child sets the test's own
limits and runs the program as ``__main__``. Each child therefore starts from the same clean
interpreter state, whatever the child before it did. Property by property (each exercised by a
hostile program in ``tests/verifiers/test_warm_sandbox.py``):

- **Network, system files, host files, environment**: as in the cold sandbox, it is the same
  bubblewrap setup (one per zygote rather than per test).
- **Interpreter state**: the child is a fork of the zygote, so modules it modifies,
  ``sys.modules`` or ``builtins`` it tampers with and objects it leaves behind die with it. The
  preloaded modules are stdlib modules competitive programs import anyway (saving their import
  time in every test); none keeps state a program could pass on, and ``random`` reseeds itself in
  every child (its own ``os.register_at_fork`` hook), so two tests never draw the same numbers.
- **Files**: the child's cwd ``/work`` (also ``/tmp``) is emptied after every test (permissions
  the program changed are undone first); the program and, for call-based tests, the solution are
  sealed memory files that ``/code/main.py`` and ``/code/solution.py`` point to, so ``/code`` is
  as unwritable as in the cold sandbox.
- **Processes**: the zygote is PID 1 of the sandbox's PID namespace and installs no signal
  handler, so the kernel drops every signal a program sends it (``SIGKILL`` included); it is not
  dumpable, so a program running as the same uid can neither ``ptrace`` it nor read its memory or
  file descriptors. Each child gets a new session and process group and its own
  ``RLIMIT_CPU``/``AS``/``FSIZE``/``NPROC`` (the process cap counts the zygote: one uid per
  zygote, one test at a time). When the program exits or its wall clock runs out, the zygote
  kills every other process of the namespace (``kill(-1, SIGKILL)`` from PID 1) and reaps them
  all before it answers, so nothing a program started outlives its test.
- **Time**: CPU time is the zygote's ``RUSAGE_CHILDREN`` before and after the test, all the
  program's processes reaped (orphans included); the wall clock (``Limits.wall_limit``) is
  enforced by the zygote, and the host kills the whole zygote if no answer comes a few seconds
  after it.
- **Output**: stdout, stderr and the result channel are fresh memory files per child, capped by
  ``RLIMIT_FSIZE`` as in the cold sandbox; the zygote copies them back to the host.
- **Other kernel state a uid keeps**: SysV IPC objects are removed after every test, POSIX message
  queues are refused (``RLIMIT_MSGQUEUE`` 0), each child joins a new session keyring and the
  uid's user, user-session and persistent keyrings are cleared after each test. Whatever the
  zygote cannot undo (a work directory it fails to empty, an IPC object it fails to remove), it
  exits instead, and the pool starts a fresh one.
- **Honest results**: expected outputs never enter the sandbox; the host judges.

What a program sees differently from the cold path: it is not PID 1 (its parent, PID 1, is the
zygote), so signals it sends itself end it as they would outside any sandbox (``abort()``,
``SIGTERM``); the modules of :data:`PRELOAD` are already in ``sys.modules``; ``/code`` always
holds both links (``solution.py`` dangles for a stdin/stdout program); the zygote's address
space counts against ``memory_mb`` (18 MB here against 14 MB for the cold path's fresh
interpreter). It leaves through CPython's own exit sequence but then ``os._exit`` rather than a
full interpreter finalization, so ``__del__`` methods still pending at exit do not run and files
it did not close are not flushed (stdout and stderr are).

What is *not* isolated beyond the cold sandbox's list (see :mod:`verifiers.sandbox`): the tests a
zygote serves one after another share its uid and its namespaces, so a kernel object this
module does not know to clean up could carry information from one test to the next. (Only the
test's own input could travel that way; expected outputs never enter.) The process cap needs a
uid to drop to, so the pool serves only a root caller with a working cold sandbox; anything else,
other languages and files other than ``solution.py`` take the cold path.

If a zygote dies (killed from outside, or exiting because it could not clean up), the next test
sent to it notices the closed pipe and runs on a fresh zygote instead.
"""

from __future__ import annotations

# atexit, ctypes, gc, resource, sys: used by the zygote's functions (run inside the sandbox)
import atexit
import ctypes
import fcntl
import gc
import inspect
import json
import logging
import math
import os
import resource
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from verifiers.sandbox import (
    PYTHON_FLAGS,
    Execution,
    Limits,
    Sandbox,
    SandboxUnavailable,
    _classify,
    _read_capped,
)

log = logging.getLogger(__name__)

# Imported once by every zygote (never a program's code): what competitive and LeetCode-style
# programs import most, and what the call-based harness of verifiers.code imports.
PRELOAD = (
    "array",
    "bisect",
    "collections",
    "copy",
    "decimal",
    "fractions",
    "functools",
    "heapq",
    "itertools",
    "json",
    "math",
    "operator",
    "random",
    "re",
    "string",
    "traceback",
    "types",
    "typing",
)
# File names the warm path can place beside the program under /code (as sealed memory files).
CODE_FILES = ("main.py", "solution.py")
_START_TIMEOUT_S = 30.0
_GRACE_S = 5.0  # host-side backstop beyond the zygote's own wall clock
_FD_MAIN = 3  # the child's fds: 0-2 stdio, then the /code files, then the result channel


# ----------------------------------------------------------------------------------------------
# The protocol: a frame is a 4-byte little-endian length, a JSON header, then the raw blobs the
# header lists by length. The functions below run on both sides: the zygote's source is built
# from them (the sandbox has no access to this package).


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    """``n`` bytes from ``fd``; EOFError if it closes first, TimeoutError past ``deadline``."""
    chunks, left = [], n
    poller = select.poll()  # not select(): the host's fds may be numbered above 1024
    poller.register(fd, select.POLLIN)
    while left:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not poller.poll(math.ceil(remaining * 1000)):
                raise TimeoutError("no answer from the zygote")
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the other end closed the channel")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _send(fd: int, header: dict, blobs: Sequence[bytes] = ()) -> None:
    head = json.dumps({**header, "blobs": [len(b) for b in blobs]}).encode()
    for chunk in (len(head).to_bytes(4, "little"), head, *blobs):
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view) :]


def _recv(fd: int, deadline: float | None = None) -> tuple[dict, list[bytes]]:
    size = int.from_bytes(_read_exact(fd, 4, deadline), "little")
    header = json.loads(_read_exact(fd, size, deadline))
    return header, [_read_exact(fd, n, deadline) for n in header["blobs"]]


# ----------------------------------------------------------------------------------------------
# The zygote (runs inside the sandbox)


def _zygote_main(req_fd: int, rep_fd: int, preload: list[str]) -> tuple[str, dict]:
    """Serve tests until the host closes the channel; returns only in a forked child."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: the programs (same uid) cannot ptrace us
    # PID 1 without handlers: the kernel drops every signal sent from inside the namespace
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    for name in preload:
        __import__(name)
    # the first compile in a process sets up the parser (about 1 ms): done once here, not per child
    compile("x = 1", "/code/main.py", "exec")
    # the children then never touch the zygote's objects to collect them (fewer pages copied)
    gc.freeze()
    keyctl = {"x86_64": 250, "aarch64": 219}.get(os.uname().machine)
    _send(rep_fd, {"ready": True})
    while True:
        try:
            header, blobs = _recv(req_fd)
        except EOFError:
            os._exit(0)
        job = _zygote_test(header, blobs, rep_fd, libc, keyctl)
        if job is not None:
            return job
        if not _zygote_clean(libc, keyctl):
            os._exit(3)  # something left behind that we cannot undo: the host starts a fresh zygote


def _memfd(name: str, data: bytes, sealed: bool) -> int:
    fd = os.memfd_create(name, os.MFD_CLOEXEC | (os.MFD_ALLOW_SEALING if sealed else 0))
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    if sealed:  # F_ADD_SEALS: SEAL, SHRINK, GROW, WRITE (nobody can change the program)
        fcntl.fcntl(fd, 1033, 1 | 2 | 4 | 8)
    return fd


def _zygote_test(header: dict, blobs: list[bytes], rep_fd: int, libc, keyctl) -> tuple[str, dict] | None:
    source, stdin, *files = blobs
    stdin_rw = _memfd("stdin", stdin, False)
    stdin_fd = os.open(f"/proc/self/fd/{stdin_rw}", os.O_RDONLY | os.O_CLOEXEC)
    os.close(stdin_rw)
    out_fd, err_fd = os.memfd_create("stdout", os.MFD_CLOEXEC), os.memfd_create("stderr", os.MFD_CLOEXEC)
    code_fds = [
        _memfd(name, data, True) for name, data in zip(("main.py", "solution.py"), [source, *files], strict=False)
    ]
    res_fd = os.memfd_create("result", os.MFD_CLOEXEC) if header["result"] else None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        fds = [stdin_fd, out_fd, err_fd, *code_fds, *([res_fd] if res_fd is not None else [])]
        return _zygote_child(header, source, fds, libc, keyctl)
    pidfd = os.pidfd_open(pid)
    timed_out = not select.select([pidfd], [], [], header["wall"])[0]
    os.close(pidfd)
    wall = time.monotonic() - start
    status = None
    while True:  # kill whatever the program started (PID 1's kill(-1) spares only itself), reap all
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            reaped, code = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        if reaped == pid:
            status = code
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cap = header["cap"]
    (stdout, out_full), (stderr, err_full) = _read_capped(out_fd, cap), _read_capped(err_fd, cap)
    result = _read_capped(res_fd, cap)[0] if res_fd is not None else b""
    for fd in [stdin_fd, out_fd, err_fd, *code_fds, *([res_fd] if res_fd is not None else [])]:
        os.close(fd)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    _send(
        rep_fd,
        {
            "exit": os.waitstatus_to_exitcode(status),
            "cpu": cpu,
            "wall": wall,
            "timed_out": timed_out,
            "full": out_full or err_full,
            "result": res_fd is not None,
        },
        [stdout, stderr, result],
    )
    return None


def _zygote_child(header: dict, source: bytes, fds: list[int], libc, keyctl) -> tuple[str, dict]:
    os.setsid()
    libc.prctl(4, 1, 0, 0, 0)  # dumpable again: /proc/self/fd (the /code links) needs it
    if keyctl is not None:
        libc.syscall(keyctl, 1, None)  # KEYCTL_JOIN_SESSION_KEYRING: a new anonymous one
    # move to high numbers first so that no dup2 below overwrites a source
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 64) for fd in fds]
    for target, fd in enumerate(high):
        os.dup2(fd, target)
    os.closerange(len(high), 1 << 20)  # the channel to the host included
    address, cpu, fsize, nproc = header["limits"]
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_MSGQUEUE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_AS, (address, address))
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a fresh interpreter
    argv = ["/code/main.py", *header["args"]]
    if header["result"]:
        argv.insert(1, f"--result-fd={len(high) - 1}")
    sys.argv = argv
    main = type(sys)("__main__")
    main.__file__ = "/code/main.py"
    main.__builtins__ = sys.modules["builtins"]
    sys.modules["__main__"] = main
    return source.decode("utf-8", "surrogateescape"), main.__dict__


def _zygote_run(source: str, main_globals: dict) -> None:
    """Run the program as ``python main.py`` would, then leave without finalizing the interpreter.

    The exit sequence is CPython's own (uncaught exception -> ``sys.excepthook``, exit status 1;
    ``SystemExit`` -> its code; then non-daemon threads joined, ``atexit`` handlers, stdout
    flushed, status 120 if that fails), but ends in ``os._exit``: a full finalization touches
    every object inherited from the zygote and so copies most of its memory (about 10 ms).
    """
    status = 0
    try:
        exec(compile(source, "/code/main.py", "exec"), main_globals)
    except SystemExit as stop:
        code = stop.code
        if code is None or (isinstance(code, int) and -(2**31) <= code < 2**31):
            status = (code or 0) & 0xFF
        else:
            try:
                print(code, file=sys.stderr)
            except BaseException:
                pass
            status = 1
    except BaseException:
        sys.excepthook(*sys.exc_info())
        status = 1
    try:
        if "threading" in sys.modules:
            sys.modules["threading"]._shutdown()
        atexit._run_exitfuncs()
    except BaseException:
        sys.excepthook(*sys.exc_info())
    try:
        if sys.stdout is not None and not sys.stdout.closed:
            sys.stdout.flush()
    except BaseException:
        status = 120
    try:
        if sys.stderr is not None and not sys.stderr.closed:
            sys.stderr.flush()
    except BaseException:
        pass
    os._exit(status)


def _wipe(top: str) -> None:
    os.chmod(top, 0o755)  # the program may have made it unreadable
    for entry in os.scandir(top):
        if entry.is_dir(follow_symlinks=False):
            _wipe(entry.path)
            os.rmdir(entry.path)
        else:
            os.unlink(entry.path)


def _zygote_clean(libc, keyctl) -> bool:
    """Undo what the last program left in the sandbox; False if something could not be undone."""
    try:
        _wipe("/work")
        if os.listdir("/work"):
            return False
        for kind, remove in (("shm", libc.shmctl), ("msg", libc.msgctl), ("sem", libc.semctl)):
            with open(f"/proc/sysvipc/{kind}") as fh:
                ids = [int(line.split()[1]) for line in fh.read().splitlines()[1:]]
            if not ids:
                continue
            for ipc_id in ids:
                remove(ipc_id, 0, None)  # IPC_RMID
            with open(f"/proc/sysvipc/{kind}") as fh:
                if fh.read().splitlines()[1:]:
                    return False
    except (OSError, RecursionError, ValueError):
        return False
    if keyctl is not None:
        # KEYCTL_CLEAR the user and user-session keyrings, then the persistent one (linked to
        # our session keyring by KEYCTL_GET_PERSISTENT, where the kernel has it)
        for keyring in (-4, -5, libc.syscall(keyctl, 22, -1, -3)):
            if keyring != -1:
                libc.syscall(keyctl, 7, keyring)
    return True


_ZYGOTE_FUNCTIONS = (
    _read_exact,
    _send,
    _recv,
    _read_capped,
    _memfd,
    _zygote_main,
    _zygote_test,
    _zygote_child,
    _zygote_run,
    _wipe,
    _zygote_clean,
)


def zygote_source() -> str:
    """The ``-c`` script of a zygote: argv is the request fd, the reply fd and the preload list."""
    functions = "\n\n".join(textwrap.dedent(inspect.getsource(fn)) for fn in _ZYGOTE_FUNCTIONS)
    return (
        "from __future__ import annotations\n"
        "import atexit, ctypes, fcntl, gc, json, math, os, resource, select, signal, sys, time\n"
        f"{functions}\n"
        "_preload = sys.argv[3].split(',') if sys.argv[3] else []\n"
        "_source, _globals = _zygote_main(int(sys.argv[1]), int(sys.argv[2]), _preload)\n"
        "_zygote_run(_source, _globals)\n"
    )


# ----------------------------------------------------------------------------------------------
# The host side


_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zygote-spawner")
_POOLS: weakref.WeakSet[WarmSandbox] = weakref.WeakSet()


def _forget_zygotes_after_fork() -> None:
    """In a forked copy of the host: its parent's zygotes (and their pipes) stay the parent's."""
    global _SPAWNER
    _SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zygote-spawner")
    for pool in list(_POOLS):
        pool._lock = threading.Lock()
        for zygotes in pool._idle.values():
            for zygote in zygotes:
                zygote._close_fds()
        pool._idle.clear()


os.register_at_fork(after_in_child=_forget_zygotes_after_fork)


class _ZygoteLost(RuntimeError):
    """The zygote's channel closed: it died or exited (a fresh one takes over)."""


class _Zygote:
    """One sandboxed zygote process and the two pipes to it; used by one thread at a time."""

    def __init__(self, cold: Sandbox, disk_mb: int, preload: Sequence[str]) -> None:
        req_r, self.req = os.pipe()
        self.rep, rep_w = os.pipe()
        self.err = os.memfd_create("zygote-stderr", os.MFD_CLOEXEC)
        links = [f"/proc/self/fd/{_FD_MAIN + i}" for i in range(len(CODE_FILES))]
        code_args = [
            "--dir",
            "/code",
            *(
                arg
                for name, link in zip(CODE_FILES, links, strict=False)
                for arg in ("--symlink", link, f"/code/{name}")
            ),
        ]
        cmd = [
            *cold._command(code_args, None, disk_mb * 2**20),
            cold.python,
            *PYTHON_FLAGS,
            "-c",
            zygote_source(),
            str(req_r),
            str(rep_w),
            ",".join(preload),
        ]
        prefix, popen_kw = cold._launcher(None)
        try:
            # bwrap's --die-with-parent fires when the *thread* that started it ends, so zygotes
            # are started by one thread that lives as long as the process, not by a pool worker
            self.proc = _SPAWNER.submit(
                subprocess.Popen,
                [*prefix, *cmd],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self.err,
                pass_fds=(req_r, rep_w),
                start_new_session=True,
                close_fds=True,
                **popen_kw,
            ).result()
        except OSError:
            self._close_fds()
            raise
        finally:
            os.close(req_r)
            os.close(rep_w)
        try:
            _recv(self.rep, time.monotonic() + _START_TIMEOUT_S)
        except (EOFError, TimeoutError, ValueError) as exc:
            tail = self.stderr_tail()
            self.kill()
            raise SandboxUnavailable(f"the warm sandbox did not start ({exc}): {tail}") from None

    def call(self, header: dict, blobs: Sequence[bytes], timeout: float) -> tuple[dict, list[bytes]]:
        """One test: send it, wait for the answer (TimeoutError past ``timeout``)."""
        try:
            _send(self.req, header, blobs)
            return _recv(self.rep, time.monotonic() + timeout)
        except (EOFError, BrokenPipeError, ValueError, KeyError) as exc:
            try:
                code = self.proc.wait(1.0)
            except subprocess.TimeoutExpired:
                code = None
            raise _ZygoteLost(f"{exc}, exit status {code}; {self.stderr_tail()}") from None

    def stderr_tail(self) -> str:
        size = os.fstat(self.err).st_size
        return os.pread(self.err, 2000, max(0, size - 2000)).decode(errors="replace").strip()

    def kill(self) -> None:
        # the bwrap process leads its own process group; the sandbox dies with it
        for kill in (os.killpg, os.kill):
            try:
                kill(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.proc.wait()
        self._close_fds()

    def _close_fds(self) -> None:
        for fd in (self.req, self.rep, self.err):
            try:
                os.close(fd)
            except OSError:
                pass


class WarmSandbox:
    """Runs Python source like :meth:`Sandbox.run`, in forked children of warm zygotes.

    Thread-safe: each concurrent caller gets a zygote of its own (started on first need, one per
    ``disk_mb``, kept for the next test), so a pool of ``n`` threads uses ``n`` zygotes. ``cold``
    is the sandbox whose setup (interpreter, bubblewrap, uid drop) the zygotes copy.
    """

    def __init__(self, cold: Sandbox | None = None, *, preload: Sequence[str] = PRELOAD) -> None:
        self.cold = cold if cold is not None else Sandbox()
        self.preload = tuple(preload)
        self._idle: dict[int, list[_Zygote]] = {}
        self._lock = threading.Lock()
        weakref.finalize(self, WarmSandbox._kill_all, self._idle)
        _POOLS.add(self)

    @property
    def available(self) -> bool:
        """Whether this host can serve warm runs (bubblewrap, and a uid to drop to for the cap)."""
        return not self.cold.unsafe and self.cold._drop_uid

    def serves(self, files: Mapping[str, str | bytes] | None = None) -> bool:
        """Whether :meth:`run` can take a program with these extra files."""
        return self.available and set(files or {}) <= set(CODE_FILES[1:])

    def run(
        self,
        source: str,
        stdin: bytes | str = b"",
        *,
        limits: Limits = Limits(),
        args: Sequence[str] = (),
        files: Mapping[str, str | bytes] | None = None,
        result_channel: bool = False,
    ) -> Execution:
        """As :meth:`Sandbox.run`; ``files`` may only hold ``solution.py`` (see :meth:`serves`)."""
        if not self.serves(files):
            raise ValueError(f"the warm sandbox cannot serve files {sorted(files or {})} here; use Sandbox")
        self.cold.check()

        def encode(text: str | bytes) -> bytes:
            return text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text

        blobs = [encode(source), encode(stdin), *(encode(text) for text in (files or {}).values())]
        header = {
            # the zygote counts against the uid's process cap too
            "limits": [limits.memory_mb * 2**20, math.ceil(limits.time_s), limits.output_bytes, limits.max_procs + 1],
            "wall": limits.wall_limit,
            "cap": limits.output_bytes,
            "args": list(args),
            "result": result_channel,
        }
        while True:  # a zygote found dead is replaced; one that dies fresh is an error
            zygote, fresh = self._acquire(limits.disk_mb)
            start = time.perf_counter()
            try:
                reply, (stdout, stderr, result) = zygote.call(header, blobs, limits.wall_limit + _GRACE_S)
            except _ZygoteLost as exc:
                zygote.kill()
                if fresh:
                    return Execution("sandbox_error", None, 0.0, b"", f"warm sandbox lost: {exc}".encode())
                log.warning("warm sandbox: zygote lost (%s), starting a fresh one", exc)
                continue
            except TimeoutError:
                zygote.kill()
                wall = time.perf_counter() - start
                return Execution("timeout", None, wall, b"", b"the warm sandbox did not answer in time")
            self._release(limits.disk_mb, zygote)
            wall = time.perf_counter() - start
            exit_code = reply["exit"]
            if exit_code < 0:  # killed by a signal
                exit_code = 128 - exit_code
            cpu = reply["cpu"]
            status = _classify(exit_code, reply["timed_out"] or cpu > limits.time_s, reply["full"], stderr)
            return Execution(status, exit_code, wall, stdout, stderr, result if reply["result"] else None, cpu)

    def close(self) -> None:
        """Stop every idle zygote (they also die with this process)."""
        with self._lock:
            WarmSandbox._kill_all(self._idle)

    def _acquire(self, disk_mb: int) -> tuple[_Zygote, bool]:
        """An idle zygote, else a new one; and whether it is new."""
        with self._lock:
            idle = self._idle.get(disk_mb)
            if idle:
                return idle.pop(), False
        return _Zygote(self.cold, disk_mb, self.preload), True

    def _release(self, disk_mb: int, zygote: _Zygote) -> None:
        with self._lock:
            self._idle.setdefault(disk_mb, []).append(zygote)

    @staticmethod
    def _kill_all(idle: dict[int, list[_Zygote]]) -> None:
        for zygotes in idle.values():
            while zygotes:
                zygotes.pop().kill()


__all__ = ["CODE_FILES", "PRELOAD", "WarmSandbox", "zygote_source"]
