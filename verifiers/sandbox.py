"""Run untrusted, model-written Python programs (or compiled binaries) in a local bubblewrap sandbox.

Every execution is one ``python3`` process tree inside a fresh bubblewrap (``bwrap``) sandbox,
started (when we are root) through util-linux ``setpriv`` as a random unprivileged uid. Inside,
a few lines of bootstrap set the resource limits, then run the program as ``__main__``. What
that isolates, each property exercised by a hostile program in ``tests/verifiers/test_sandbox.py``:

- **Network**: own network namespace with only a down-then-up ``lo``; the host's 127.0.0.1 and
  every other address are unreachable.
- **Filesystem**: a new mount namespace whose root holds only ``/usr`` (read-only, with the
  ``/bin``, ``/lib``, ``/lib64`` symlinks into it), a fresh ``/proc`` for the sandbox's own PID
  namespace, a minimal ``/dev``, the program under ``/code`` (read-only) and an empty private
  work directory ``/work`` (a size-capped tmpfs, also reachable as ``/tmp``; the cwd). The root,
  ``/dev`` and ``/code`` are read-only. No home, no project checkout, no test files, no ``/etc``
  (a Java build or run alone also gets the JDK's own configuration, ``/etc/java-*-openjdk``,
  read-only: Debian's JDK links its ``conf`` there).
- **Environment**: only ``PATH``, ``LANG``, ``HOME``, ``TMPDIR`` (and bwrap's ``PWD``); the
  interpreter runs with ``-I`` (ignores ``PYTHON*`` variables and the user site).
- **Processes**: own PID namespace, the program being its PID 1 (it sees only itself and its
  children; it cannot signal the verifier or anything outside, ``kill(-1, ...)`` reaches nothing
  outside, and when it exits everything it started is killed; as PID 1 it ignores signals it
  sends itself without a handler, ``abort()`` and faults still end it), own
  IPC/UTS/cgroup namespaces, a new session (no terminal injection), no nested user namespaces,
  no capabilities, ``no_new_privs``. The process count (threads included) is capped by
  ``RLIMIT_NPROC`` on the unprivileged uid (root ignores it, which is why we drop first; the uid
  is random per execution so concurrent sandboxes do not share the count) and, where a writable
  ``pids`` cgroup exists, by ``pids.max`` on a per-execution cgroup: by default only when there
  is no uid to drop to (joining a cgroup v1 costs an RCU grace period per run, about a fifth of
  the pool's throughput here), always with ``pids_cgroup=True``.
- **Time**: CPU time of the program's tree (read from ``wait4`` outside, so the program cannot
  misreport it) is judged against ``time_s``; ``RLIMIT_CPU`` stops a spinning program soon after
  and a wall-clock limit enforced from outside (default ``3 * time_s + 1``) kills sleepers and
  hangs: the whole sandbox goes with bwrap thanks to ``--die-with-parent`` and the PID namespace.
  The limits are set by the bootstrap before the first line of the program runs, as hard limits it
  cannot raise; interpreter start-up itself runs unlimited.
- **Memory**: ``RLIMIT_AS`` (address space) per process; the work tmpfs has its own size cap.
- **Output and files**: stdout/stderr go to memory files capped by ``RLIMIT_FSIZE``; a program
  printing gigabytes hits the cap after ``output_mb`` and is reported ``output_limit``. The same
  rlimit caps every file it writes.
- **Compiled programs** (:meth:`Sandbox.run_binary`): the same sandbox, with the binary at
  ``/code/main`` (read-only, executable) and util-linux ``prlimit`` setting the same hard limits
  before it execs the binary instead of the Python bootstrap.
- **Honest results**: expected outputs never enter the sandbox. The caller decides a pass by
  comparing the captured output outside; the exit status only ever turns a pass into a failure.
  Nothing the program prints about itself is trusted.

What is *not* isolated: the kernel is shared (no seccomp filter; a kernel exploit escapes), CPU
time and memory bandwidth are shared with the host (no CPU quota, no cgroup memory limit beyond
``RLIMIT_AS`` per process), ``/proc`` shows host-wide read-only information such as ``cpuinfo``
and ``meminfo``, and timing side channels exist. Without root (no uid to drop to) the process
count relies on the pids cgroup where one is delegated, else only on the PID namespace. The
bootstrap shares the interpreter with the program, so a program can tamper with how its own
result is reported (never with what it is compared against, which stays outside).

For Python, :mod:`verifiers.warm_sandbox` gives the same isolation from a long-lived sandbox
whose clean interpreter forks a child per execution (the code verifier's default; a median of
2.2 ms per execution against 27 ms here in ``benchmarks/bench_sandbox.py``); this class stays the
path for everything it cannot serve.

If ``bwrap`` is missing the sandbox refuses to run (:class:`SandboxUnavailable`, with the install
command). ``unsafe_no_sandbox=True`` runs the interpreter directly in a temporary directory with
the same rlimits (but no process cap for root) and a minimal environment: for trusted inputs
only, and it warns loudly.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import random
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "bubblewrap (`bwrap`) is required to run untrusted code: install it with "
    "`apt-get install bubblewrap` (Debian/Ubuntu), `dnf install bubblewrap` (Fedora) or "
    "`pacman -S bubblewrap` (Arch). For trusted inputs only, pass unsafe_no_sandbox=True."
)

Status = Literal["ok", "runtime_error", "timeout", "memory_limit", "output_limit", "sandbox_error"]

# Minimal environment of every execution (nothing of the verifier's own environment leaks in).
SANDBOX_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/work", "TMPDIR": "/work"}
# -I: isolated mode; utf8 stdio whatever the locale; big ints print (competitive programs do it).
PYTHON_FLAGS = ("-I", "-X", "utf8", "-X", "int_max_str_digits=0")
# Runs first in the sandboxed interpreter: hard rlimits, then the program as __main__.
# argv: address space, CPU s, file size, processes (-1: unset), then the program's own argv.
BOOTSTRAP = (
    "import resource as R, sys as S\n"
    "a, c, f, n = map(int, S.argv[1:5])\n"
    "R.setrlimit(R.RLIMIT_CORE, (0, 0))\n"
    "R.setrlimit(R.RLIMIT_CPU, (c, c + 1))\n"
    "R.setrlimit(R.RLIMIT_FSIZE, (f, f))\n"
    "R.setrlimit(R.RLIMIT_AS, (a, a))\n"
    "n < 0 or R.setrlimit(R.RLIMIT_NPROC, (n, n))\n"
    "S.argv = S.argv[5:]\n"
    "m = type(S)('__main__')\n"
    "m.__file__ = S.argv[0]\n"
    "m.__builtins__ = __builtins__\n"
    "S.modules['__main__'] = m\n"
    "with open(S.argv[0], 'rb') as f:\n"
    "    c = compile(f.read(), S.argv[0], 'exec')\n"
    "del R, S, a, f, n\n"
    "exec(c, m.__dict__)\n"
)
# Besides the program's own processes, the pids cgroup also holds bwrap's outer process.
_CGROUP_EXTRA = 1
_UID_RANGE = (1_000_000, 2_000_000_000)


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot run here (bwrap missing or not working)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits of one execution."""

    time_s: float = 2.0  # CPU seconds of the whole process tree (measured after, RLIMIT_CPU during)
    wall_s: float | None = None  # wall clock, enforced from outside; default 3 * time_s + 1
    memory_mb: int = 256  # RLIMIT_AS per process
    max_procs: int = 4  # processes and threads of the program, itself included
    output_mb: float = 16.0  # stdout, stderr and any single file it writes (RLIMIT_FSIZE)
    disk_mb: int = 64  # total size of the private work directory

    def __post_init__(self) -> None:
        for name in ("time_s", "memory_mb", "max_procs", "output_mb", "disk_mb"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"sandbox limit {name!r} must be a positive number, got {value!r}")
        if not math.isfinite(self.time_s):
            raise ValueError(f"sandbox limit 'time_s' must be finite, got {self.time_s!r}")
        if self.wall_s is not None and not (isinstance(self.wall_s, (int, float)) and 0 < self.wall_s < math.inf):
            raise ValueError(f"sandbox limit 'wall_s' must be a positive number, got {self.wall_s!r}")

    @property
    def wall_limit(self) -> float:
        # CPU time is what a program is judged on; the wall clock only has to stop sleepers and
        # hangs, with room for a machine that is busy with other work
        return self.wall_s if self.wall_s is not None else 3 * self.time_s + 1

    @property
    def output_bytes(self) -> int:
        return int(self.output_mb * 2**20)


@dataclass(frozen=True, slots=True)
class Execution:
    """What one sandboxed run did. ``exit_code`` > 128 means killed by signal ``exit_code - 128``."""

    status: Status
    exit_code: int | None
    wall_s: float
    stdout: bytes
    stderr: bytes
    result: bytes | None = None  # contents of the result channel, when one was requested
    cpu_s: float = math.nan  # user + system time of the whole tree (bwrap's part included)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def bwrap_path() -> str | None:
    return shutil.which("bwrap") or (os.path.exists("/usr/bin/bwrap") and "/usr/bin/bwrap") or None


def default_python() -> str:
    """The interpreter used inside the sandbox: the verifier's own when it lives under /usr."""
    own = os.path.realpath(sys.executable)
    if own.startswith("/usr/"):
        return own
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.path.exists(candidate):
            return os.path.realpath(candidate)
    return own


class Sandbox:
    """Runs Python source under :class:`Limits`; thread-safe, one instance serves a whole pool.

    ``python`` is the interpreter used inside (default :func:`default_python`); one outside
    ``/usr`` gets its installation prefix bound read-only as well. ``pids_cgroup``: ``None``
    (default) uses a pids cgroup only where no uid can be dropped, ``True`` wherever one is
    writable, ``False`` never.
    """

    def __init__(
        self, *, python: str | None = None, unsafe_no_sandbox: bool = False, pids_cgroup: bool | None = None
    ) -> None:
        self.python = python or default_python()
        self.unsafe = unsafe_no_sandbox
        self.bwrap = None if unsafe_no_sandbox else bwrap_path()
        if unsafe_no_sandbox:
            message = (
                "unsafe_no_sandbox=True: model-written code runs WITHOUT isolation (no namespaces, "
                "full filesystem and network access). Use it for trusted inputs only."
            )
            warnings.warn(message, RuntimeWarning, stacklevel=2)
            log.warning(message)
        elif self.bwrap is None:
            raise SandboxUnavailable(INSTALL_HINT)
        self._drop_uid = os.geteuid() == 0 and not unsafe_no_sandbox
        self._setpriv = shutil.which("setpriv")
        self._prlimit = shutil.which("prlimit")
        want_cgroup = not unsafe_no_sandbox and (pids_cgroup or (pids_cgroup is None and not self._drop_uid))
        self._cgroups = _PidsCgroups.detect() if want_cgroup else None
        self._checked = False
        self._lock = threading.Lock()

    # -- public ------------------------------------------------------------------------------

    def run(
        self,
        source: str,
        stdin: bytes | str = b"",
        *,
        limits: Limits = Limits(),
        args: Sequence[str] = (),
        files: Mapping[str, str | bytes] | None = None,
        result_channel: bool = False,
        ro_binds: Sequence[str] = (),
    ) -> Execution:
        """Run ``source`` as ``/code/main.py`` with ``stdin``; ``files`` land read-only beside it.

        With ``result_channel`` a capped memory file is passed in and ``--result-fd=N`` is the
        program's first argument; what it writes there comes back as ``Execution.result``.
        ``ro_binds`` as for :meth:`run_binary`.
        """
        self.check()
        return self._run(source, stdin, limits, args, files or {}, result_channel, ro_binds=ro_binds)

    def run_binary(
        self,
        binary: bytes,
        stdin: bytes | str = b"",
        *,
        limits: Limits = Limits(),
        args: Sequence[str] = (),
        files: Mapping[str, str | bytes] | None = None,
        command: Sequence[str] | None = None,
        ro_binds: Sequence[str] = (),
    ) -> Execution:
        """Run an executable (e.g. a compiled C++ program) as ``/code/main`` under the same isolation.

        util-linux ``prlimit`` sets the hard limits and execs it, so no interpreter start-up is
        counted in its time; the binary must only need what ``/usr`` holds (shared libraries).
        ``files`` land read-only beside it (a checker's input, expected and actual output).
        ``command`` runs instead of ``/code/main`` itself, with ``/code/main`` as data: a runtime
        from ``/usr`` and its arguments (``java -cp /code/main Main`` for a jar, ``node /code/main``).
        ``ro_binds`` are host paths bound read-only at the same place (a runtime's configuration,
        such as Debian's JDK links into ``/etc/java-17-openjdk``).
        """
        self.check()
        if self._prlimit is None:
            raise SandboxUnavailable("compiled programs need util-linux `prlimit` (apt-get install util-linux)")
        return self._run(
            binary, stdin, limits, args, files or {}, False, binary=True, command=command, ro_binds=ro_binds
        )

    def check(self) -> None:
        """Start one trivial sandbox (once) so that a broken setup fails loudly, not as verdicts."""
        if self._checked:
            return
        with self._lock:
            if self._checked:
                return
            probe = self._run("print('sandbox-ok')", b"", Limits(time_s=20), (), {}, False)
            if probe.status != "ok" or probe.stdout.strip() != b"sandbox-ok":
                raise SandboxUnavailable(
                    f"the sandbox does not work here ({probe.status}, exit {probe.exit_code}): "
                    f"{probe.stderr.decode(errors='replace').strip()[-500:]}\n{INSTALL_HINT}"
                )
            self._checked = True

    # -- internals ---------------------------------------------------------------------------

    def _start(self, limits: Limits, main: str, binary: bool, command: Sequence[str] | None = None) -> list[str]:
        if not binary:
            return self._interpreter(limits, main)
        return self._limited_binary(limits, command or [main])

    def _interpreter(self, limits: Limits, main: str) -> list[str]:
        nproc = limits.max_procs if self._drop_uid else -1
        return [
            self.python,
            *PYTHON_FLAGS,
            "-c",
            BOOTSTRAP,
            str(limits.memory_mb * 2**20),
            str(math.ceil(limits.time_s)),
            str(limits.output_bytes),
            str(nproc),
            main,
        ]

    def _limited_binary(self, limits: Limits, command: Sequence[str]) -> list[str]:
        nproc = [f"--nproc={limits.max_procs}"] if self._drop_uid else []
        cpu = math.ceil(limits.time_s)
        return [
            self._prlimit,
            "--core=0",
            f"--cpu={cpu}:{cpu + 1}",
            f"--fsize={limits.output_bytes}",
            f"--as={limits.memory_mb * 2**20}",
            *nproc,
            "--",
            *command,
        ]

    def _command(
        self, code_args: Sequence[str], info_fd: int | None, disk_bytes: int, ro_binds: Sequence[str] = ()
    ) -> list[str]:
        """bwrap's argv up to ``--``; ``code_args`` populate ``/code`` (read-only once set up)."""
        cmd = [
            # --as-pid-1: the program itself is PID 1 of its namespace, a direct child of bwrap,
            # so its CPU time reaches us through wait4() (bwrap's own reaper is never reaped)
            self.bwrap,
            "--unshare-all",
            "--unshare-user",
            "--disable-userns",
            "--die-with-parent",
            "--as-pid-1",
            "--new-session",
            "--hostname",
            "sandbox",
            *(("--info-fd", str(info_fd)) if info_fd is not None else ()),
            "--clearenv",
            *itertools.chain.from_iterable(("--setenv", k, v) for k, v in SANDBOX_ENV.items()),
            "--ro-bind",
            "/usr",
            "/usr",
            "--symlink",
            "usr/bin",
            "/bin",
            "--symlink",
            "usr/lib",
            "/lib",
        ]
        if os.path.isdir("/usr/lib64"):
            cmd += ["--symlink", "usr/lib64", "/lib64"]
        for path in ro_binds:
            cmd += ["--ro-bind", path, path]
        if not self.python.startswith("/usr/"):
            # e.g. a pyenv or conda interpreter: expose its installation prefix, read-only
            prefix = os.path.dirname(os.path.dirname(self.python))
            cmd += ["--ro-bind", prefix, prefix]
        cmd += [
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--size",
            str(disk_bytes),
            "--tmpfs",
            "/work",
            "--symlink",
            "work",
            "/tmp",
            *code_args,
        ]
        cmd += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/work", "--"]
        return cmd

    def _launcher(self, cgroup: str | None) -> tuple[list[str], dict[str, object]]:
        """How bwrap is started: join the cgroup, drop to a random uid, exec (argv prefix, Popen kw).

        An exec chain (``sh`` for the cgroup, ``setpriv`` for the uid) rather than a
        ``preexec_fn``, so that Popen can vfork: forking the verifier costs time in proportion
        to its size (0.4 s for a 3 GiB process here) and running Python in a child forked from
        a threaded process is unsafe. Without ``setpriv``, Popen's own ``user=`` (a fork).
        """
        prefix: list[str] = []
        if cgroup is not None:
            prefix += ["/bin/sh", "-c", 'echo 0 > "$0" && exec "$@"', os.path.join(cgroup, "cgroup.procs")]
        if not self._drop_uid:
            return prefix, {}
        uid = random.SystemRandom().randrange(*_UID_RANGE)
        if self._setpriv is None:
            return [], {"user": uid, "group": uid, "extra_groups": []}
        return [*prefix, self._setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"], {}

    def _run(
        self,
        source: str,
        stdin: bytes | str,
        limits: Limits,
        args: Sequence[str],
        files: Mapping[str, str | bytes],
        result_channel: bool,
        binary: bool = False,
        command: Sequence[str] | None = None,
        ro_binds: Sequence[str] = (),
    ) -> Execution:
        if isinstance(stdin, str):
            stdin = stdin.encode()
        cap = limits.output_bytes
        opened: list[int] = []

        def memfd(name: str, data: bytes = b"") -> int:
            fd = os.memfd_create(name)
            opened.append(fd)
            if data:
                _write_all(fd, data)
                os.lseek(fd, 0, os.SEEK_SET)
            return fd

        tmpdir = None
        cgroup = None
        try:
            # stdin is a read-only view of a memory file: nothing to pump, no deadlock
            in_rw = memfd("stdin", stdin)
            in_fd = os.open(f"/proc/self/fd/{in_rw}", os.O_RDONLY | os.O_CLOEXEC)
            opened.append(in_fd)
            out_fd, err_fd = memfd("stdout"), memfd("stderr")
            res_fd = memfd("result") if result_channel else None
            res_fds = (res_fd,) if res_fd is not None else ()
            main = "main" if binary else "main.py"
            code = {main: source, **files}
            argv_tail = [f"--result-fd={res_fd}"] if res_fd is not None else []
            argv_tail += list(args)
            info_fd = None
            if self.unsafe:
                tmpdir = tempfile.mkdtemp(prefix="factory-unsafe-")
                os.makedirs(os.path.join(tmpdir, "code"))
                os.makedirs(os.path.join(tmpdir, "work"))
                for name, text in code.items():
                    with open(os.path.join(tmpdir, "code", name), "wb") as fh:
                        fh.write(text.encode() if isinstance(text, str) else text)
                main_path = os.path.join(tmpdir, "code", main)
                if binary:
                    os.chmod(main_path, 0o755)

                # /code is the sandbox's name for the program's folder: here it is the temporary one
                def here(part: str) -> str:
                    return os.path.join(tmpdir, part[1:]) if part.startswith("/code/") else part

                run = [here(part) for part in command] if command else None
                cmd = [*self._start(limits, main_path, binary, run), *map(here, argv_tail)]
                env = {**SANDBOX_ENV, "HOME": os.path.join(tmpdir, "work"), "TMPDIR": os.path.join(tmpdir, "work")}
                cwd, pass_fds = os.path.join(tmpdir, "work"), res_fds
            else:
                code_fds = {
                    name: memfd(name, text.encode() if isinstance(text, str) else text) for name, text in code.items()
                }
                info_fd = memfd("info")  # bwrap writes here once the sandbox is up: tells setup failures apart
                code_args = [
                    "--dir",
                    "/code",
                    *itertools.chain.from_iterable(
                        (
                            *(("--perms", "0555") if name == "main" and binary else ()),
                            "--ro-bind-data",
                            str(fd),
                            f"/code/{name}",
                        )
                        for name, fd in code_fds.items()
                    ),
                ]
                cmd = [
                    *self._command(code_args, info_fd, limits.disk_mb * 2**20, ro_binds),
                    *self._start(limits, f"/code/{main}", binary, command),
                    *argv_tail,
                ]
                env, cwd = dict(SANDBOX_ENV), None
                pass_fds = (*code_fds.values(), info_fd, *res_fds)
            if self._cgroups is not None:
                cgroup = self._cgroups.acquire(limits.max_procs + _CGROUP_EXTRA)
            prefix, popen_kw = self._launcher(cgroup)
            start = time.perf_counter()
            try:
                proc = subprocess.Popen(
                    [*prefix, *cmd],
                    stdin=in_fd,
                    stdout=out_fd,
                    stderr=err_fd,
                    pass_fds=pass_fds,
                    env=env,
                    cwd=cwd,
                    start_new_session=True,
                    close_fds=True,
                    **popen_kw,
                )
            except OSError as exc:
                log.warning("sandbox failed to start: %s", exc)
                return Execution("sandbox_error", None, 0.0, b"", str(exc).encode())
            usage = _wait(proc, limits.wall_limit)
            timed_out = usage is None
            if timed_out:
                _kill(proc, cgroup)
                usage = _reap(proc)
            wall = time.perf_counter() - start
            cpu = usage.ru_utime + usage.ru_stime if usage is not None else math.nan
            stdout, out_full = _read_capped(out_fd, cap)
            stderr, err_full = _read_capped(err_fd, cap)
            result = _read_capped(res_fd, cap)[0] if res_fd is not None else None
            code_ = proc.returncode
            if code_ is not None and code_ < 0:  # bwrap itself killed by a signal
                code_ = 128 - code_
            if info_fd is not None and not timed_out and os.fstat(info_fd).st_size == 0:
                log.warning("sandbox failed to start (exit %s): %s", code_, stderr[-500:].decode(errors="replace"))
                return Execution("sandbox_error", code_, wall, stdout, stderr, result, cpu)
            status = _classify(code_, timed_out or cpu > limits.time_s, out_full or err_full, stderr)
            return Execution(status, code_, wall, stdout, stderr, result, cpu)
        finally:
            for fd in opened:
                os.close(fd)
            if cgroup is not None:
                self._cgroups.release(cgroup)
            if tmpdir is not None:
                shutil.rmtree(tmpdir, ignore_errors=True)


class _PidsCgroups:
    """A ``pids`` cgroup per running sandbox, under our own where that hierarchy is writable.

    Not reused: with cgroup v1 ``pids.current`` can stay charged after the sandbox's processes
    are gone (seen on Linux 6.18), so a fresh one per run keeps the cap exact. Any that cannot be
    removed at once are retried when the interpreter exits.
    """

    _counter = itertools.count()

    def __init__(self, base: str) -> None:
        self.base = base
        self._leftover: list[str] = []
        weakref.finalize(self, _PidsCgroups._remove_all, self._leftover)

    @classmethod
    def detect(cls) -> _PidsCgroups | None:
        for base in cls._candidates():
            probe = os.path.join(base, f"factory-sbx-{os.getpid()}-probe")
            try:
                os.mkdir(probe)
            except OSError:
                continue
            try:
                with open(os.path.join(probe, "pids.max"), "w") as fh:
                    fh.write("8")
                return cls(base)
            except OSError:
                continue
            finally:
                _rmdir(probe)
        log.info("no writable pids cgroup: process count limited by RLIMIT_NPROC and the PID namespace")
        return None

    @staticmethod
    def _candidates() -> list[str]:
        out = []
        try:
            with open("/proc/self/cgroup") as fh:
                lines = fh.read().splitlines()
        except OSError:
            return out
        for line in lines:
            _, controllers, path = line.split(":", 2)
            if "pids" in controllers.split(","):
                out.append(os.path.join("/sys/fs/cgroup/pids", path.lstrip("/")))
            elif controllers == "":  # cgroup v2
                root = "/sys/fs/cgroup/unified" if os.path.isdir("/sys/fs/cgroup/unified") else "/sys/fs/cgroup"
                out.append(os.path.join(root, path.lstrip("/")))
        return out

    def acquire(self, max_pids: int) -> str | None:
        path = os.path.join(self.base, f"factory-sbx-{os.getpid()}-{next(self._counter)}")
        try:
            os.mkdir(path)
            with open(os.path.join(path, "pids.max"), "w") as fh:
                fh.write(str(max_pids))
        except OSError as exc:
            log.debug("pids cgroup %s not usable: %s", path, exc)
            _rmdir(path)
            return None
        return path

    def release(self, path: str) -> None:
        for _ in range(20):
            self.kill_all(path)  # stragglers, if anything escaped the PID namespace
            if _rmdir(path):
                return
            time.sleep(0.005)
        self._leftover.append(path)

    @staticmethod
    def _remove_all(paths: list[str]) -> None:
        for path in paths:
            _PidsCgroups.kill_all(path)
            if not _rmdir(path):
                time.sleep(0.05)
                _rmdir(path)

    @staticmethod
    def kill_all(path: str) -> int:
        """SIGKILL every process in the cgroup; how many there were."""
        try:
            with open(os.path.join(path, "cgroup.procs")) as fh:
                pids = [int(p) for p in fh.read().split()]
        except OSError:
            return 0
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(pids)


def _rmdir(path: str) -> bool:
    try:
        os.rmdir(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_capped(fd: int, cap: int) -> tuple[bytes, bool]:
    """Contents of a memory file (at most ``cap`` bytes) and whether it reached the cap."""
    size = os.fstat(fd).st_size
    chunks, offset = [], 0
    while offset < min(size, cap):
        chunk = os.pread(fd, min(size, cap) - offset, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks), size >= cap


def _reap(proc: subprocess.Popen) -> resource.struct_rusage | None:
    """Reap the exited ``proc`` with its resource usage (children it waited for included)."""
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except ChildProcessError:  # pragma: no cover - reaped elsewhere
        proc.wait()
        return None
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage


def _wait(proc: subprocess.Popen, timeout: float) -> resource.struct_rusage | None:
    """Wait for ``proc`` up to ``timeout`` seconds without polling; its rusage, None if still running."""
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # pragma: no cover - Linux < 5.3
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return resource.getrusage(resource.RUSAGE_CHILDREN)  # approximate: cumulative
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if poller.poll(max(1, math.ceil(remaining * 1000))):
                return _reap(proc)
    finally:
        os.close(pidfd)


def _kill(proc: subprocess.Popen, cgroup: str | None) -> None:
    # bwrap leads its own process group; killing it takes the PID namespace down with it. Plain
    # os.kill, not proc.kill(): Popen.send_signal polls first, which can reap the process and so
    # lose the resource usage _reap collects (the pid is not reused until we reap it).
    for kill in (os.killpg, os.kill):
        try:
            kill(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    if cgroup is not None:
        _PidsCgroups.kill_all(cgroup)


# the JVM and V8 report their heap limits (-Xmx, --max-old-space-size) in their own words
_MEMORY_MARKERS = (
    b"MemoryError",
    b"Cannot allocate memory",
    b"std::bad_alloc",
    b"java.lang.OutOfMemoryError",
    b"JavaScript heap out of memory",
    b"Could not reserve enough space",
)


def _classify(exit_code: int | None, timed_out: bool, output_full: bool, stderr: bytes) -> Status:
    # Classification only ever explains a failure; a pass is decided by the caller's comparator.
    if output_full:
        return "output_limit"
    if timed_out or exit_code in (128 + signal.SIGXCPU,):
        return "timeout"
    if exit_code == 128 + signal.SIGXFSZ:
        return "output_limit"
    if exit_code == 0:
        return "ok"
    if any(marker in stderr[-4096:] for marker in _MEMORY_MARKERS):
        return "memory_limit"
    return "runtime_error"


__all__ = [
    "INSTALL_HINT",
    "Execution",
    "Limits",
    "Sandbox",
    "SandboxUnavailable",
    "Status",
    "bwrap_path",
    "default_python",
]
