"""One bounded hostile program per isolation property of verifiers.warm_sandbox (see its docstring).

Most properties come in pairs of tests served by the *same* zygote: the first program does
something hostile, the second looks for any trace of it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import textwrap
import time
from pathlib import Path

import pytest

from verifiers import VERIFIERS, CodeConfig
from verifiers.code import verify_code
from verifiers.sandbox import Limits, Sandbox
from verifiers import warm_sandbox as warm_mod
from verifiers.warm_sandbox import WarmSandbox

sys.path.insert(0, str(Path(__file__).parent))
from test_sandbox import FORK_BURST, needs_bwrap  # noqa: E402

pytestmark = [pytest.mark.sandbox, needs_bwrap]

FAST = Limits(time_s=1.0)


@pytest.fixture(scope="module")
def warm() -> WarmSandbox:
    pool = WarmSandbox()
    if not pool.available:
        pytest.skip("the warm sandbox needs root (an unprivileged uid to drop to)")
    yield pool
    pool.close()


def run(pool: WarmSandbox, source: str, stdin: str = "", limits: Limits = FAST, **kw):
    return pool.run(textwrap.dedent(source), stdin, limits=limits, **kw)


def zygote_of(pool: WarmSandbox):
    """The one idle zygote of ``pool`` (tests here run one program at a time)."""
    (zygote,) = pool._idle[FAST.disk_mb]
    return zygote


# -- the same isolation as the cold sandbox ----------------------------------------------------


def test_no_network(warm):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.3)
    try:
        result = run(warm, f"""
            import socket
            for addr in [("127.0.0.1", {listener.getsockname()[1]}), ("1.1.1.1", 53)]:
                s = socket.socket()
                s.settimeout(0.3)
                try:
                    s.connect(addr)
                    print("connected")
                except OSError:
                    print("blocked")
        """)
        with pytest.raises(socket.timeout):
            listener.accept()
    finally:
        listener.close()
    assert result.stdout == b"blocked\nblocked\n", result.stderr


def test_writes_outside_the_work_dir_fail_and_code_is_sealed(warm, tmp_path):
    target = tmp_path / "escaped.txt"
    result = run(warm, f"""
        import os
        for p in [{str(target)!r}, "/usr/x", "/x", "/dev/x", "/code/x", "/code/main.py", "/proc/x"]:
            try:
                with open(p, "w") as fh:
                    fh.write("x")
                print("WROTE", p)
            except OSError:
                print("refused")
        print(open("/code/main.py").read().count("refused"), sorted(os.listdir("/")))
    """)
    assert result.status == "ok", result.stderr
    lines = result.stdout.decode().splitlines()
    assert lines[:7] == ["refused"] * 7 and not target.exists()
    assert lines[7].startswith("2 ")  # the program reads its own source back, unchanged
    assert set(eval(lines[7][2:])) <= {"bin", "code", "dev", "lib", "lib64", "proc", "tmp", "usr", "work"}


def test_environment_is_minimal(warm, monkeypatch):
    monkeypatch.setenv("FACTORY_TEST_SECRET", "hunter2")
    env = json.loads(run(warm, "import os, json; print(json.dumps(dict(os.environ)))").stdout)
    assert set(env) <= {"PATH", "LANG", "HOME", "TMPDIR", "PWD"}


# -- nothing one program does reaches the next --------------------------------------------------


def test_files_of_the_previous_program_are_gone(warm):
    first = run(warm, """
        import os
        os.makedirs("deep/er/est")
        for p in ["secret.txt", "/tmp/secret2.txt", "deep/er/est/secret3.txt", ".hidden"]:
            open(p, "w").write("PREVIOUS-" + "SECRET")
        os.chmod("deep/er", 0)  # try to make it undeletable
        os.chmod(".", 0o500)
        print("planted")
    """)
    assert first.stdout == b"planted\n", first.stderr
    second = run(warm, """
        import os
        found = []
        for top in ("/work", "/tmp", "/code", "/dev"):
            for root, dirs, files in os.walk(top):
                for f in files:
                    if not os.path.isfile(os.path.join(root, f)):  # no device nodes
                        continue
                    try:
                        if "PREVIOUS-" + "SECRET" in open(os.path.join(root, f), errors="replace").read():
                            found.append(f)
                    except OSError:
                        pass
        print(os.listdir("."), os.listdir("/tmp"), found, os.access(".", os.W_OK))
    """)
    assert second.stdout == b"[] [] [] True\n", second.stderr


def test_environment_and_cwd_changes_do_not_carry_over(warm):
    run(warm, "import os\nos.environ['LEAK'] = '1'\nos.putenv('LEAK2', '1')\nos.chdir('/usr')\n")
    result = run(warm, "import os\nprint('LEAK' in os.environ, 'LEAK2' in os.environ, os.getcwd())\n")
    assert result.stdout == b"False False /work\n"


def test_module_and_builtins_tampering_does_not_carry_over(warm):
    tamper = run(warm, """
        import builtins, collections, json, math, sys
        builtins.print = lambda *a, **k: None
        builtins.len = lambda x: 42
        math.sqrt = lambda x: -1
        json.dumps = lambda x: "TAMPERED"
        collections.Counter = dict
        sys.modules["heapq"] = None
        sys.setrecursionlimit(50)
        sys.stdout.write("tampered\\n")
    """)
    assert tamper.stdout == b"tampered\n", tamper.stderr
    check = run(warm, """
        import collections, heapq, json, math, sys
        print(len([1]), math.sqrt(4), json.dumps(1), collections.Counter("aa")["a"], heapq.nlargest(1, [3]),
              sys.getrecursionlimit() > 50)
    """)
    assert check.stdout == b"1 2.0 1 2 [3] True\n", check.stderr


def test_random_state_differs_between_programs(warm):
    draws = {run(warm, "import random, os\nprint(random.random(), os.urandom(8).hex())").stdout for _ in range(3)}
    assert len(draws) == 3


def test_stdio_state_does_not_carry_over(warm):
    run(warm, """
        import os, sys
        print("partial", end="")
        os.close(0)
        sys.stdout.close()
        os.dup2(2, 1)
    """, stdin="first input")
    result = run(warm, "import sys\nprint(repr(sys.stdin.read()), sys.stdin.closed, sys.stdout.closed)\n",
                 stdin="second input")
    assert result.stdout == b"'second input' False False\n", result.stderr


def test_leftover_children_are_killed_before_the_next_program(warm):
    start = time.monotonic()
    first = run(warm, """
        import os, time
        for _ in range(2):
            if os.fork() == 0:
                os.setsid()  # leave the process group, then orphan a grandchild
                if os.fork() == 0:
                    time.sleep(30)
                os._exit(0)
        print("spawned")
    """)
    assert first.status == "ok" and time.monotonic() - start < 3.0
    seen = run(warm, "import os\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()), os.getpid())\n")
    pids, me = seen.stdout.decode().rsplit(" ", 1)
    assert json.loads(pids) == [1, int(me)]  # only the zygote and itself


def test_sysv_ipc_and_message_queues_do_not_carry_over(warm):
    shm = """
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        shmid = libc.shmget(0x5EC, 4096, {flags})
        print(shmid >= 0)
    """
    assert run(warm, shm.format(flags=0o1600)).stdout == b"True\n"  # IPC_CREAT | 0600
    assert run(warm, shm.format(flags=0o600)).stdout == b"False\n"  # removed after the first
    mq = run(warm, """
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        print(libc.mq_open(b"/leak", 0o102, 0o600, None))  # O_CREAT | O_RDWR
    """)
    assert mq.stdout == b"-1\n", mq.stderr  # RLIMIT_MSGQUEUE is 0


def test_keyrings_do_not_carry_over(warm):
    # x86_64 syscalls: add_key to the user keyring @u (-4), then KEYCTL_SEARCH (10) of @u for it
    libc = "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
    search = "print(libc.syscall(250, 10, -4, b'user', b'leak', 0) >= 0)\n"
    add = "libc.syscall(248, b'user', b'leak', b'PREVIOUS', 8, -4)\n"
    if os.uname().machine != "x86_64" or run(warm, libc + add + search).stdout != b"True\n":
        pytest.skip("add_key is not available here")
    assert run(warm, libc + search).stdout == b"False\n"


# -- processes, signals, the zygote itself ------------------------------------------------------


def test_program_cannot_kill_or_inspect_the_zygote(warm):
    run(warm, "print(1)")
    zygote = zygote_of(warm)
    result = run(warm, """
        import os, signal
        print(os.getppid())
        for p in ("/proc/1/mem", "/proc/1/environ", "/proc/1/fd"):
            try:
                open(p, "rb").read(1) if not p.endswith("fd") else os.listdir(p)
                print("READ", p)
            except OSError:
                print("denied")
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGSTOP, signal.SIGKILL):
            os.kill(1, sig)
        os.kill(-1, signal.SIGKILL)
        print("still here")
    """)
    assert result.stdout.decode().splitlines()[:4] == ["1", "denied", "denied", "denied"]
    assert run(warm, "print('served')").stdout == b"served\n"
    assert zygote_of(warm) is zygote and zygote.proc.poll() is None  # the same zygote, alive


def test_own_session_process_group_and_only_its_own_fds(warm):
    result = run(warm, """
        import os
        me = os.getpid()
        print(os.getsid(0) == me, os.getpgrp() == me, sorted(int(fd) for fd in os.listdir("/proc/self/fd"))[:4])
        print(os.readlink("/proc/self/fd/3"))
    """)
    first, second = result.stdout.decode().splitlines()
    assert first == "True True [0, 1, 2, 3]", result.stderr  # stdio and the program: no channel to the host
    assert second.startswith("/memfd:main.py")
    fds = run(warm, "import os\nprint(len(os.listdir('/proc/self/fd')))\n").stdout
    assert fds == b"5\n"  # 0-3 and the one listdir opened


def inner_pid(zygote) -> int:
    """The zygote interpreter's host pid: bwrap's only child."""
    pid = zygote.proc.pid
    with open(f"/proc/{pid}/task/{pid}/children") as fh:
        return int(fh.read().split()[0])


@pytest.mark.parametrize("target", ["bwrap", "zygote"])
def test_a_killed_zygote_is_replaced(warm, target):
    run(warm, "print(1)")
    zygote = zygote_of(warm)
    os.kill(zygote.proc.pid if target == "bwrap" else inner_pid(zygote), signal.SIGKILL)
    zygote.proc.wait(5)
    result = run(warm, "print(int(input()) * 2)", stdin="21")
    assert result.status == "ok" and result.stdout == b"42\n"
    assert zygote_of(warm) is not zygote


def test_fork_burst_is_capped(warm):
    result = run(warm, FORK_BURST, limits=Limits(time_s=5.0, max_procs=4))
    assert result.status == "ok" and int(result.stdout) == 3, result.stderr  # itself plus three


def test_cpu_time_counts_the_whole_tree(warm):
    result = run(warm, """
        import os, time
        if os.fork() == 0:
            end = time.process_time() + 0.3
            while time.process_time() < end:
                pass
            os._exit(0)
        os.wait()
    """, limits=Limits(time_s=2.0))
    assert result.status == "ok" and result.cpu_s >= 0.3


# -- time, memory, output -----------------------------------------------------------------------


def test_infinite_loop_times_out(warm):
    result = run(warm, "while True:\n    pass\n", limits=Limits(time_s=0.5))
    # SIGXCPU at 1 s of CPU, or the 2.5 s wall clock on a machine too busy to give it that
    assert result.status == "timeout" and result.wall_s < 4.5


def test_sleeping_past_the_wall_clock_is_killed(warm):
    start = time.monotonic()
    result = run(warm, "import time\nprint('zz', flush=True)\ntime.sleep(30)\n", limits=Limits(time_s=0.5, wall_s=1.0))
    assert result.status == "timeout" and result.cpu_s < 0.5 and result.stdout == b"zz\n"
    assert 1.0 <= time.monotonic() - start < 3.0


def test_memory_bomb_is_stopped(warm):
    result = run(warm, "x = bytearray(2 * 1024 ** 3)\nprint(len(x))\n", limits=Limits(time_s=5.0, memory_mb=256))
    assert result.status == "memory_limit" and result.stdout == b""


def test_output_flood_is_stopped(warm):
    result = run(warm, "while True:\n    print('z' * 65536)\n", limits=Limits(time_s=5.0, output_mb=2))
    assert result.status == "output_limit" and len(result.stdout) == 2 << 20 and result.wall_s < 2.0


# -- exit tricks: the same status and exit code as in a fresh interpreter -----------------------

EXITS = {
    "normal": "print(1)",
    "uncaught": "print(1)\nraise ValueError('late')",
    "sys_exit_0": "import sys\nsys.exit(0)",
    "sys_exit_3": "import sys\nsys.exit(3)",
    "sys_exit_256": "import sys\nsys.exit(256)",
    "sys_exit_message": "import sys\nsys.exit('bye')",
    "os_exit_buffered": "import os\nprint(42)\nos._exit(0)",
    "os_exit_7": "import os\nos._exit(7)",
    "abort": "import os\nos.abort()",
    "sigterm_self": "import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\nimport time\ntime.sleep(1)",
    "keyboard_interrupt_handled": "try:\n    raise KeyboardInterrupt\nexcept KeyboardInterrupt:\n    print('caught')",
    "atexit_os_exit": "import atexit, os\natexit.register(lambda: os._exit(5))\nprint(1)",
    "atexit_raises": "import atexit\natexit.register(lambda: 1 / 0)\nprint(1)",
    "stdout_closed": "import sys\nsys.stdout.close()",
    "thread_outlives_main": "import threading, time\n"
                            "threading.Thread(target=lambda: (time.sleep(0.2), print('t'))).start()",
    "syntax_error": "def f(:\n",
}

# a warm child is not PID 1, so these end as they would outside any sandbox
PID_1_ONLY = {"abort": signal.SIGABRT, "sigterm_self": signal.SIGTERM}


@pytest.mark.parametrize("name", sorted(EXITS))
def test_exit_tricks_end_as_in_a_fresh_interpreter(warm, name):
    cold = Sandbox().run(EXITS[name], limits=FAST)
    hot = warm.run(EXITS[name], limits=FAST)
    if name in PID_1_ONLY:  # the cold program is PID 1: the kernel drops signals it sends itself
        assert hot.exit_code == 128 + PID_1_ONLY[name] and hot.status == "runtime_error"
        return
    assert (hot.status, hot.exit_code, hot.stdout) == (cold.status, cold.exit_code, cold.stdout), hot.stderr
    assert hot.stderr.splitlines()[-1:] == cold.stderr.splitlines()[-1:]


# -- the code verifier uses it by default -------------------------------------------------------


def test_verify_code_runs_python_warm_by_default(warm):
    tests = [{"input": "", "output": "warm"}]
    program = "import os\nprint('warm' if os.getpid() != 1 else 'cold')\n"  # cold: the program is PID 1
    assert verify_code(program, tests).passed
    assert not verify_code(program, tests, config=CodeConfig(warm=False)).passed
    call = [{"fn_name": "f", "args": [], "expected": "warm"}]
    assert verify_code("import os\ndef f():\n    return 'warm' if os.getpid() != 1 else 'cold'\n", call).passed
    row = {"completion": f"</think>```python\n{program}```", "tests": tests}
    assert VERIFIERS["code"](row).passed and VERIFIERS["code"].batch([row, row], CodeConfig())[0].passed


def test_a_hung_zygote_is_killed_after_the_grace_period(warm, monkeypatch):
    monkeypatch.setattr(warm_mod, "_GRACE_S", 0.5)
    run(warm, "print(1)")
    zygote = zygote_of(warm)
    os.kill(inner_pid(zygote), signal.SIGSTOP)  # from outside: as if it hung
    start = time.monotonic()
    hung = run(warm, "print(1)", limits=Limits(time_s=0.5, wall_s=0.5))
    assert hung.status == "timeout" and time.monotonic() - start < 3.0
    assert zygote.proc.poll() is not None  # killed, not left behind
    assert run(warm, "print(2)").stdout == b"2\n"


def test_a_forked_host_starts_its_own_zygotes(warm):
    run(warm, "print(1)")
    zygote = zygote_of(warm)
    pid = os.fork()
    if pid == 0:  # the child must not share its parent's zygote (their pipes would interleave)
        ok = not warm._idle and run(warm, "print(int(input()) + 1)", stdin="41").stdout == b"42\n"
        warm.close()
        os._exit(0 if ok else 1)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    assert run(warm, "print('parent')").stdout == b"parent\n" and zygote_of(warm) is zygote
