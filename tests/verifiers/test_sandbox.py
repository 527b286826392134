"""One bounded hostile program per isolation property of verifiers.sandbox (see its docstring)."""

from __future__ import annotations

import json
import os
import socket
import textwrap
import threading
import time
import uuid

import pytest

from verifiers import CodeConfig
from verifiers import sandbox as sandbox_mod
from verifiers.code import verify_code
from verifiers.sandbox import Limits, Sandbox

needs_bwrap = pytest.mark.skipif(
    sandbox_mod.bwrap_path() is None, reason="bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
)
pytestmark = [pytest.mark.sandbox, needs_bwrap]

FAST = Limits(time_s=1.0)


@pytest.fixture(scope="module")
def box() -> Sandbox:
    return Sandbox()


def run(box: Sandbox, source: str, stdin: str = "", limits: Limits = FAST, **kw):
    return box.run(textwrap.dedent(source), stdin, limits=limits, **kw)


# -- network ----------------------------------------------------------------------------------


def test_no_network_even_host_loopback(box):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    try:
        result = run(
            box,
            f"""
            import socket
            for addr in [("127.0.0.1", {port}), ("10.255.255.1", 80), ("1.1.1.1", 53)]:
                s = socket.socket()
                s.settimeout(0.3)
                try:
                    s.connect(addr)
                    print("connected", addr)
                except OSError as e:
                    print("blocked", e.errno)
            print(sorted(n for _, n in socket.if_nameindex()))
        """,
        )
        with pytest.raises(socket.timeout):
            listener.accept()  # nothing reached the host's listener
    finally:
        listener.close()
    assert result.status == "ok", result.stderr
    out = result.stdout.decode()
    assert "connected" not in out
    assert out.count("blocked") == 3
    assert "['lo']" in out  # only a loopback of its own


# -- filesystem -------------------------------------------------------------------------------


def test_host_files_invisible(box, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    paths = [str(secret), __file__, os.getcwd(), "/etc/passwd", "/root", "/home", os.path.expanduser("~"), "/var"]
    result = run(
        box,
        f"""
        import os
        for p in {paths!r}:
            try:
                open(p).read() if os.path.isfile(p) else os.listdir(p)
                print("VISIBLE", p)
            except OSError as e:
                print("hidden", p)
        print(sorted(os.listdir("/")))
    """,
    )
    assert result.status == "ok", result.stderr
    out = result.stdout.decode()
    assert "VISIBLE" not in out and out.count("hidden") == len(paths)
    root = set(eval(out.strip().splitlines()[-1]))
    assert root <= {"bin", "code", "dev", "lib", "lib64", "proc", "tmp", "usr", "work"}


def test_writes_outside_work_dir_fail(box, tmp_path):
    target = tmp_path / "escaped.txt"
    result = run(
        box,
        f"""
        import os
        for p in [{str(target)!r}, "/usr/escaped", "/escaped", "/dev/escaped", "/code/escaped", "/proc/escaped"]:
            try:
                with open(p, "w") as fh:
                    fh.write("x")
                print("WROTE", p)
            except OSError:
                print("refused", p)
        with open("scratch.txt", "w") as fh:  # the private work dir is writable
            fh.write("ok")
        print(open("/work/scratch.txt").read(), open("/tmp/scratch.txt").read())
    """,
    )
    assert result.status == "ok", result.stderr
    out = result.stdout.decode()
    assert "WROTE" not in out and out.count("refused") == 6
    assert "ok ok" in out
    assert not target.exists()


def test_work_dir_is_fresh_per_run(box):
    first = run(box, "open('left.txt', 'w').write('x'); import os; print(os.listdir('.'))")
    second = run(box, "import os; print(os.listdir('.'))")
    assert first.stdout.strip() == b"['left.txt']"
    assert second.stdout.strip() == b"[]"


def test_work_dir_size_and_file_size_capped(box):
    limits = Limits(time_s=5.0, output_mb=4, disk_mb=8)
    result = run(
        box,
        """
        import errno
        chunk = b"x" * (1 << 20)
        try:  # one big file: stopped at the file size cap
            with open("big", "wb") as fh:
                for _ in range(64):
                    fh.write(chunk)
        except OSError as e:
            print("file", errno.errorcode[e.errno])
        import os
        print(os.path.getsize("big") // (1 << 20))
        os.remove("big")
        try:  # many small files: stopped at the work dir's size
            for i in range(64):
                with open(f"f{i}", "wb") as fh:
                    fh.write(chunk * 3)
        except OSError as e:
            print("disk", errno.errorcode[e.errno], i)
    """,
        limits=limits,
    )
    assert result.status == "ok", result.stderr
    lines = result.stdout.decode().split("\n")
    assert lines[0] == "file EFBIG" and int(lines[1]) <= 4
    kind, code, count = lines[2].split()
    assert kind == "disk" and code == "ENOSPC" and int(count) <= 3


# -- environment ------------------------------------------------------------------------------


def test_environment_does_not_leak(box, monkeypatch):
    monkeypatch.setenv("FACTORY_TEST_SECRET", "hunter2")
    result = run(box, "import os, json; print(json.dumps(dict(os.environ)))")
    env = json.loads(result.stdout)
    assert "FACTORY_TEST_SECRET" not in env and "hunter2" not in result.stdout.decode()
    assert set(env) <= {"PATH", "LANG", "HOME", "TMPDIR", "PWD"}


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_expected_output_never_enters_the_sandbox(warm):
    secret = f"EXPECTED-{uuid.uuid4().hex}"
    # search everything the program can reach for the expected output, then print what it found
    program = textwrap.dedent("""
        import os, sys
        needle = "EXPEC" + "TED-"  # not spelled out: the program itself is readable inside
        found = []
        hay = [sys.stdin.read(), " ".join(sys.argv), repr(dict(os.environ))]
        for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
            for name in ("cmdline", "environ"):
                try:
                    hay.append(open(f"/proc/{pid}/{name}", "rb").read().decode(errors="replace"))
                except OSError:
                    pass
        for top in ("/code", "/work", "/tmp", "/dev"):
            for root, _, files in os.walk(top):
                for f in files:
                    if not os.path.isfile(os.path.join(root, f)):  # no device nodes (a pty blocks)
                        continue
                    try:
                        hay.append(open(os.path.join(root, f), "rb").read(1 << 20).decode(errors="replace"))
                    except OSError:
                        pass
        print("found" if any(needle in h for h in hay) else "absent")
    """)
    verdict = verify_code(
        program, [{"input": "1 2\n", "output": secret}], config=CodeConfig(time_limit_s=5.0, warm=warm)
    )
    assert not verdict.passed and verdict.reason == "wrong_answer"
    assert verdict.details["tests"][0]["stdout"].strip() == "absent"


# -- processes --------------------------------------------------------------------------------


def test_own_pid_namespace_cannot_signal_outside(box):
    me = os.getpid()
    result = run(
        box,
        f"""
        import os, signal
        print(sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
        try:
            os.kill({me}, signal.SIGKILL)
            print("SIGNALLED")
        except ProcessLookupError:
            print("no such process")
        try:
            os.kill(-1, signal.SIGKILL)  # everything it may signal: only its own namespace
        except OSError as e:
            print("kill -1", e.errno)
        print("still here")
    """,
    )
    assert os.getpid() == me  # the verifier survived
    out = result.stdout.decode().splitlines()
    assert json.loads(out[0]) == [1]  # the program is PID 1 and alone
    assert out[1] == "no such process"
    assert "SIGNALLED" not in result.stdout.decode()


def test_killing_its_parent_does_not_fake_success(box):
    result = run(
        box,
        """
        import os, signal, sys
        print(3)
        sys.stdout.flush()
        os.kill(os.getppid(), signal.SIGKILL)
        raise RuntimeError("crash after a correct prefix")
    """,
    )
    assert result.status == "runtime_error"
    verdict = verify_code(
        "import os, signal\nprint(int(input()) * 3, flush=True)\nos.kill(os.getppid(), signal.SIGKILL)\nos._exit(3)\n",
        [{"input": "1", "output": "3"}],
    )
    assert verdict.reason == "runtime_error"


FORK_BURST = """
    import os, time
    made = 0
    for _ in range(40):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            time.sleep(1.5)
            os._exit(0)
        made += 1
    print(made)
"""


def test_fork_burst_is_capped(box):
    result = run(box, FORK_BURST, limits=Limits(time_s=5.0, max_procs=4))
    assert result.status == "ok", result.stderr
    assert int(result.stdout) == 3  # itself plus three children


def test_process_cap_holds_with_only_the_pids_cgroup():
    """As a non-root caller sees it: no uid drop, so no RLIMIT_NPROC; the cgroup must hold."""
    box = Sandbox(pids_cgroup=True)
    if box._cgroups is None:
        pytest.skip("no writable pids cgroup on this machine")
    box._drop_uid = False
    result = run(box, FORK_BURST, limits=Limits(time_s=5.0, max_procs=4))
    assert result.status == "ok", result.stderr
    assert int(result.stdout) == 3


@pytest.mark.parametrize("setpriv", [True, False], ids=["setpriv", "popen_user"])
def test_process_cap_holds_with_only_rlimit_nproc(setpriv):
    box = Sandbox(pids_cgroup=False)
    if not box._drop_uid:
        pytest.skip("not root: no unprivileged uid to drop to")
    if not setpriv:
        box._setpriv = None  # the fallback: Popen(user=...)
    result = run(box, FORK_BURST, limits=Limits(time_s=5.0, max_procs=4))
    assert result.status == "ok", result.stderr
    assert int(result.stdout) == 3
    ids = run(box, "import os; print(os.getuid(), os.getgid(), os.getgroups())")
    uid, gid, groups = ids.stdout.decode().split(maxsplit=2)
    assert int(uid) >= 1_000_000 and uid == gid and groups.strip() == "[]"


def test_concurrent_sandboxes_do_not_share_the_process_cap(box):
    results = [None] * 4

    def work(i):
        results[i] = run(box, FORK_BURST, limits=Limits(time_s=5.0, max_procs=4))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [int(r.stdout) for r in results] == [3, 3, 3, 3]


# -- time, memory, output ---------------------------------------------------------------------


def test_infinite_loop_times_out(box):
    result = run(box, "while True:\n    pass\n", limits=Limits(time_s=0.5))
    assert result.status == "timeout"
    # stopped by RLIMIT_CPU (hard limit 2 s: its CPU time is then known) or by the wall clock (2.5 s)
    assert result.cpu_s >= 0.5 or result.wall_s >= 2.5
    assert result.wall_s <= 3.0


def test_cpu_time_over_the_limit_fails_even_when_it_finishes(box):
    busy = "import time\nend = time.process_time() + 0.4\nwhile time.process_time() < end:\n    pass\nprint('done')\n"
    slow = run(box, busy, limits=Limits(time_s=0.2, wall_s=10))
    assert slow.stdout == b"done\n" and slow.status == "timeout" and slow.cpu_s > 0.4
    assert run(box, busy, limits=Limits(time_s=2.0)).status == "ok"


def test_sleeping_program_is_killed_too(box):
    start = time.monotonic()
    result = run(box, "import time\nprint('zz', flush=True)\ntime.sleep(30)\n", limits=Limits(time_s=0.5, wall_s=1.0))
    assert result.status == "timeout" and result.cpu_s < 0.5
    assert 1.0 <= time.monotonic() - start < 4.0
    assert result.stdout == b"zz\n"


def test_sleeping_grandchild_does_not_outlive_the_sandbox(box):
    result = run(
        box,
        """
        import os, time
        if os.fork() == 0:
            os.setsid()
            time.sleep(30)
            os._exit(0)
        print("parent done")
    """,
    )
    assert result.status == "ok" and result.wall_s < 3.0  # bwrap's init exits with the program


def test_memory_hog_is_stopped(box):
    result = run(box, "x = bytearray(2 * 1024 ** 3)\nprint(len(x))\n", limits=Limits(time_s=5.0, memory_mb=256))
    assert result.status == "memory_limit"
    assert result.stdout == b""


def test_huge_output_is_stopped_early(box):
    start = time.monotonic()
    result = run(
        box,
        """
        import sys
        line = "y" * 4095 + "\\n"
        while True:
            try:
                sys.stdout.write(line)
            except OSError:
                pass  # ignore the cap and keep going: the clock stops it
    """,
        limits=Limits(time_s=0.5, wall_s=2.0, output_mb=1),
    )
    assert result.status == "output_limit"
    assert len(result.stdout) == 1 << 20
    assert time.monotonic() - start < 5.0


def test_huge_output_crashes_fast_when_not_caught(box):
    result = run(box, "while True:\n    print('z' * 65536)\n", limits=Limits(time_s=5.0, output_mb=2))
    assert result.status == "output_limit"
    assert result.wall_s < 2.0


# -- exit tricks ------------------------------------------------------------------------------

EXIT_TRICKS = {
    "sys_exit_0_before_work": ("import sys\nsys.exit(0)\nprint(int(input()) * 2)\n", "wrong_answer"),
    "os_exit_0_with_buffered_answer": ("import os\nprint(int(input()) * 2)\nos._exit(0)\n", "wrong_answer"),
    "crash_after_correct_output": ("print(int(input()) * 2)\nraise ValueError('late')\n", "runtime_error"),
    "nonzero_exit_after_correct_output": ("import sys\nprint(int(input()) * 2)\nsys.exit(1)\n", "runtime_error"),
    "os_exit_3_after_flushed_answer": (
        "import os\nprint(int(input()) * 2, flush=True)\nos._exit(3)\n",
        "runtime_error",
    ),
    "abort_after_answer": ("import os\nprint(int(input()) * 2, flush=True)\nos.abort()\n", "runtime_error"),
    "segfault_after_answer": (
        "import ctypes\nprint(int(input()) * 2, flush=True)\nctypes.string_at(0)\n",
        "runtime_error",
    ),
    "prints_pass_claims": ("print('PASSED ok 1/1 tests passed')\n", "wrong_answer"),
    "sys_exit_with_answer_as_message": ("import sys\nsys.exit(str(int(input()) * 2))\n", "runtime_error"),
}


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
@pytest.mark.parametrize("name", sorted(EXIT_TRICKS))
def test_exit_tricks_fail(name, warm):
    program, reason = EXIT_TRICKS[name]
    verdict = verify_code(program, [{"input": "21\n", "output": "42\n"}], config=CodeConfig(warm=warm))
    assert not verdict.passed
    assert verdict.reason == reason, verdict.details


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_call_based_exit_tricks_fail(warm):
    tests = [{"fn_name": "double", "args": [21], "expected": 42}]
    for program in [
        "import sys\ndef double(x):\n    sys.exit(0)\n",
        "import os\ndef double(x):\n    print(42)\n    os._exit(0)\n",
        "def double(x):\n    raise SystemExit(0)\n",
        "import atexit, os\natexit.register(lambda: os._exit(0))\ndef double(x):\n    raise ValueError\n",
    ]:
        verdict = verify_code(program, tests, config=CodeConfig(warm=warm))
        assert not verdict.passed, program
