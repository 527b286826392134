"""The remote code provider against a real ``factory sandbox serve`` process on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from factory.errors import RecipeError
from factory.run import run_recipe
from tests.support.fakes import recipe_for
from tests.support.servers import free_port, serve
from tests.verifiers.code_problems import PROBLEMS
from verifiers import CodeConfig, verify_code, verify_code_batch
from verifiers.remote import RemoteProvider, RemoteUnavailable
from verifiers.sandbox import Limits, bwrap_path

pytestmark = pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap is not installed")
ROOT = Path(__file__).resolve().parents[2]
CPP_DOUBLE = '#include <cstdio>\nint main(){long long a; scanf("%lld",&a); printf("%lld\\n", a*2);}\n'
SLOW = "import time\ntime.sleep(1.5)\nprint(1)\n"


def start(tmp_path: Path, *args: str, token: str | None = None, port: int | None = None):
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if k != "FACTORY_SANDBOX_TOKEN"}
    if token:
        env["FACTORY_SANDBOX_TOKEN"] = token
    command = [sys.executable, "-m", "factory.cli", "sandbox", "serve", "--port", str(port), *args]
    url = f"http://127.0.0.1:{port}"
    return url, serve(command, url + "/health", tmp_path / f"server-{port}.log", env=env, wait_s=60)


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    url, server = start(tmp_path_factory.mktemp("server"), "--workers", "2", "--queue", "64")
    with server:
        yield url


def request(url: str, method: str, path: str, body: dict | None = None, token: str | None = None):
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, body=json.dumps(body).encode() if body is not None else None, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, response.headers, json.loads(data) if data else None


def python_body(source: str, stdin: str = "") -> dict:
    return {"language": "python", "version": "*", "files": [{"content": source}], "stdin": stdin}


def test_remote_verdicts_equal_the_local_sandboxs(remote):
    items = [{"program": s, "tests": p["tests"]} for p in PROBLEMS for s in p["correct"] + [w for w, _ in p["wrong"]]]
    one = [{"input": "21\n", "output": "42\n"}]
    items += [
        {"program": "print(int(input()) * 2)\n", "tests": one},  # correct
        {"program": "print(int(input()) * 3)\n", "tests": one},  # wrong
        {"program": "raise SystemExit(3)\n", "tests": one},  # crash
        {"program": "while True:\n    pass\n", "tests": one},  # timeout
        {"program": "x = bytearray(2**31)\n", "tests": one},  # memory
        {"program": "while True:\n    print('x' * 4096)\n", "tests": one},  # output limit
        {"program": CPP_DOUBLE, "tests": one, "language": "cpp"},
        {"program": CPP_DOUBLE.replace("a*2", "a*3"), "tests": one, "language": "cpp"},
        {"program": "int main() { return }\n", "tests": one, "language": "cpp"},  # compile error
        {"program": "int main(void) { int *p = 0; return *p; }\n", "tests": one, "language": "c"},
    ]
    config = CodeConfig(time_limit_s=0.5, output_mb=1)
    local = verify_code_batch(items, config=config)
    far = verify_code_batch(items, config=CodeConfig(time_limit_s=0.5, output_mb=1, remote=remote))
    assert {v.reason for v in local} >= {
        "ok",
        "wrong_answer",
        "runtime_error",
        "timeout",
        "memory_limit",
        "output_limit",
        "compile_error",
    }
    for item, here, there in zip(items, local, far, strict=True):
        assert (here.passed, here.reason, here.score) == (there.passed, there.reason, there.score), item["program"]
        statuses = [[t["status"] for t in v.details.get("tests", [])] for v in (here, there)]
        assert statuses[0] == statuses[1], item["program"]


SCRIPT = [{"script": "def check(candidate):\n    assert candidate(1, 2) == 3\n\ncheck(add)\n"}]
JAVA_ADD = (
    "import java.util.*;\npublic class Solution { public static void main(String[] a) {\n"
    "  Scanner in = new Scanner(System.in); System.out.println(in.nextLong() + in.nextLong()); } }\n"
)
JS_ADD = "const [a, b] = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(Number);\nconsole.log(a + b);\n"
ADD_TESTS = [{"input": "1 2\n", "output": "3\n"}, {"input": "-5 5\n", "output": "0\n"}]


def test_script_tests_java_and_javascript_run_remotely_with_the_local_verdicts(remote):
    items = [
        {"program": "def add(a, b):\n    return a + b\n", "tests": SCRIPT},  # passes
        {"program": "def add(a, b):\n    return a - b\n", "tests": SCRIPT},  # wrong_answer (assertion)
        # the server's harness cannot be tricked into a pass: the nonce is made and checked here
        {"program": "import sys, os\nsys.audit('factory.script_done')\nos._exit(0)\n", "tests": SCRIPT},
        {"program": "import os\nos._exit(0)\n", "tests": SCRIPT},
    ]
    _, _, runtimes = request(remote, "GET", "/runtimes")
    offered = {rt["language"] for rt in runtimes}
    assert ("java" in offered) == (shutil.which("javac") is not None and shutil.which("java") is not None)
    assert ("javascript" in offered) == (shutil.which("node") is not None)
    if "java" in offered:
        items += [
            {"program": JAVA_ADD, "tests": ADD_TESTS, "language": "java"},
            {"program": JAVA_ADD.replace("+ in.", "- in."), "tests": ADD_TESTS, "language": "java"},
            {"program": "public class Main { void f() { int x = ; } }", "tests": ADD_TESTS, "language": "java"},
        ]
    if "javascript" in offered:
        items += [
            {"program": JS_ADD, "tests": ADD_TESTS, "language": "javascript"},
            {"program": "console.log(1)\n", "tests": ADD_TESTS, "language": "javascript"},
            {"program": "const x = ;\n", "tests": ADD_TESTS, "language": "javascript"},
        ]
    local = verify_code_batch(items)
    far = verify_code_batch(items, config=CodeConfig(remote=remote))
    assert [v.reason for v in local[:4]] == ["ok", "wrong_answer", "runtime_error", "runtime_error"]
    for item, here, there in zip(items, local, far, strict=True):
        assert (here.passed, here.reason, here.score) == (there.passed, there.reason, there.score), item["program"]


def test_a_checker_program_is_unsupported_through_a_remote_never_judged(remote):
    checker = "import sys\nsys.exit(0)\n"  # would accept anything
    tests = {"tests": [{"input": "1\n", "output": "2\n"}], "checker_program": checker}
    assert verify_code("print(2)", tests).passed
    verdict = verify_code("print(2)", tests, config=CodeConfig(remote=remote))
    assert verdict.reason == "unsupported_test" and "local sandbox only" in verdict.details["error"]


def test_runtimes_and_health_answer_in_pistons_shape(remote):
    status, _, runtimes = request(remote, "GET", "/api/v2/runtimes")
    assert status == 200 and {"python", "c++", "c"} <= {rt["language"] for rt in runtimes}
    assert all({"language", "version", "aliases", "runtime"} <= rt.keys() for rt in runtimes)
    status, _, health = request(remote, "GET", "/health")
    assert status == 200 and health["status"] == "ok" and health["workers"] == 2
    status, _, answer = request(remote, "POST", "/execute", python_body("print(input()[::-1])", "abc"))
    assert status == 200 and answer["language"] == "python"
    assert answer["run"]["stdout"] == "cba\n" and answer["run"]["code"] == 0 and answer["run"]["signal"] is None
    status, _, answer = request(remote, "POST", "/execute", {**python_body("1"), "language": "cobol"})
    assert status == 400 and "runtime is unknown" in answer["message"]


def test_a_remote_that_cannot_be_reached_is_an_infrastructure_error_not_a_verdict():
    config = CodeConfig(remote=f"http://127.0.0.1:{free_port()}", remote_retries=1)
    provider = RemoteProvider([config.remote], retries=1, backoff_s=0.01)
    failed = provider.run("python", "print(1)", b"", Limits())
    assert failed.status == "sandbox_error" and b"after 2 attempts" in failed.stderr
    with pytest.raises(RemoteUnavailable, match="does not answer"):
        verify_code("print(1)", [{"input": "", "output": "1"}], config=config)


def test_a_failing_remote_fails_tests_as_sandbox_error_never_wrong_answer(tmp_path):
    url, server = start(tmp_path, "--workers", "1")
    config = CodeConfig(remote=url, remote_retries=0)
    with server as proc:
        assert verify_code("print(1)", [{"input": "", "output": "1"}], config=config).passed  # runtimes now known
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        verdict = verify_code("print(2)", [{"input": "", "output": "1"}], config=config)
    assert verdict.reason == "sandbox_error" and verdict.score == 0
    assert "remote sandbox" in verdict.details["tests"][0]["stderr"]


def test_the_service_going_down_and_coming_back_loses_nothing(tmp_path):
    port = free_port()
    url, first = start(tmp_path, port=port)
    with first as proc:
        config = CodeConfig(remote=url, remote_retries=6)
        assert verify_code("print(1)", [{"input": "", "output": "1"}], config=config).passed
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    items = [("print(int(input()) + 1)", [{"input": str(i), "output": str(i + 1)}]) for i in range(6)]
    results = []
    worker = threading.Thread(target=lambda: results.extend(verify_code_batch(items, config=config)))
    worker.start()  # the service is down: requests fail, wait, retry
    time.sleep(1.0)
    _, again = start(tmp_path, port=port)
    with again:
        worker.join(timeout=60)
    assert [v.reason for v in results] == ["ok"] * 6


def test_a_full_queue_is_answered_429_with_retry_after(tmp_path):
    url, server = start(tmp_path, "--workers", "1", "--queue", "0")
    with server:
        slow = threading.Thread(target=request, args=(url, "POST", "/execute", python_body(SLOW)))
        slow.start()
        time.sleep(0.5)
        status, headers, answer = request(url, "POST", "/execute", python_body("print(1)"))
        assert status == 429 and int(headers["Retry-After"]) >= 1 and answer["message"] == "queue full"
        assert request(url, "GET", "/health")[2]["running"] == 1
        refused = RemoteProvider([url], retries=0).run("python", "print(1)", b"", Limits())
        assert refused.status == "sandbox_error" and b"429" in refused.stderr
        slow.join()
        # with retries the client waits out the queue (Retry-After) and gets its verdict
        verdict = verify_code("print(1)", [{"input": "", "output": "1"}], config=CodeConfig(remote=url))
        assert verdict.passed


def test_a_wrong_token_is_refused_and_the_right_one_verifies(tmp_path, monkeypatch):
    url, server = start(tmp_path, token="s3cret")
    with server:
        assert request(url, "GET", "/health")[0] == 200  # no token needed to see it is up
        assert request(url, "GET", "/runtimes")[0] == 401
        assert request(url, "POST", "/execute", python_body("print(1)"), token="wrong")[0] == 401
        monkeypatch.setenv("SANDBOX_TOKEN", "wrong")
        with pytest.raises(RemoteUnavailable, match="refused us"):
            verify_code("print(1)", [{"output": "1"}], config=CodeConfig(remote=url, remote_token_env="SANDBOX_TOKEN"))
        monkeypatch.setenv("SANDBOX_TOKEN", "s3cret")
        config = CodeConfig(remote=url, remote_token_env="SANDBOX_TOKEN")
        assert verify_code("print(1)", [{"output": "1"}], config=config).passed


def test_shutdown_answers_the_request_in_flight_then_exits_0(tmp_path):
    url, server = start(tmp_path, "--workers", "1")
    answers = []
    with server as proc:
        slow = threading.Thread(target=lambda: answers.append(request(url, "POST", "/execute", python_body(SLOW))))
        slow.start()
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        slow.join(timeout=20)
        assert proc.wait(timeout=20) == 0
    assert answers[0][0] == 200 and answers[0][2]["run"]["stdout"] == "1\n"
    with pytest.raises(ConnectionRefusedError):
        request(url, "GET", "/health")


def test_a_pool_of_urls_shares_the_work_and_covers_for_a_dead_one(tmp_path):
    (a, first), (b, second) = start(tmp_path), start(tmp_path)
    dead = f"http://127.0.0.1:{free_port()}"
    items = [("print(int(input()) * 2)", [{"input": str(i), "output": str(2 * i)}]) for i in range(8)]
    with first, second:
        assert all(v.passed for v in verify_code_batch(items, config=CodeConfig(remote=[a, b])))
        assert all(request(url, "GET", "/health")[2]["served"] >= 2 for url in (a, b))
        provider = RemoteProvider([a, dead], retries=3, backoff_s=0.01)
        runs = [provider.run("python", "print(7)", b"", Limits()) for _ in range(6)]
    assert [r.stdout for r in runs] == [b"7\n"] * 6


def test_a_recipe_whose_remote_does_not_answer_is_refused_before_anything_runs(tmp_path):
    recipe = recipe_for(tmp_path)
    recipe.verify["code"] = CodeConfig(remote=f"http://127.0.0.1:{free_port()}", remote_retries=0)
    with pytest.raises(RecipeError, match="verify.code.remote: .* does not answer"):
        run_recipe(recipe, progress=False)
    assert not (tmp_path / "run").exists()


RUN_WITHOUT_BWRAP = """
import json, sys
import pandas as pd
from factory.recipe import parse_recipe
from factory.run import run_recipe
from verifiers import CodeConfig, verify_code
from verifiers.sandbox import SandboxUnavailable

url, folder = sys.argv[1], sys.argv[2]
try:
    verify_code("print(1)", [{"output": "1"}])
    sys.exit("the local sandbox still works: the test proves nothing")
except SandboxUnavailable:
    pass
src = folder + "/p.jsonl"
with open(src, "w") as f:
    f.write(json.dumps({"id": "sum", "problem": "a+b", "tests": [{"input": "2 3", "output": "5"}]}) + "\\n")
right = "<think>\\nadd\\n</think>\\n```python\\na, b = map(int, input().split())\\nprint(a + b)\\n```"
wrong = right.replace("a + b", "a - b")
recipe = parse_recipe({
    "name": "remote", "run_dir": folder + "/run",
    "source": {"path": src, "fields": {"prompt": "problem"}},
    "generate": {"n": 2, "backend": "fake", "engine": {"completions": [right, wrong]}},
    "verify": {"code": {"remote": url}},
})
run_recipe(recipe, progress=False)
rows = pd.read_parquet(folder + "/run/selected").sort_values("trace_id")
print(json.dumps(list(rows.code_reason)))
"""


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare")
def test_a_machine_where_bubblewrap_cannot_start_verifies_code_through_the_remote(remote, tmp_path):
    hide = f'mount --bind /dev/null {bwrap_path()} && exec "$0" "$@"'
    command = ["unshare", "-m", "sh", "-c", hide, sys.executable, "-c", RUN_WITHOUT_BWRAP, remote, str(tmp_path)]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[-1]) == ["ok", "wrong_answer"]


def test_a_plain_pistons_answers_map_onto_the_sandboxs_statuses():
    from verifiers.remote import _execution

    def stage(**fields):
        return {"stdout": "", "stderr": "", "code": 0, "signal": None, "status": None, "cpu_time": 5, **fields}

    limits = Limits(time_s=1)
    assert _execution(stage(stdout="4\n"), limits).status == "ok"
    assert _execution(stage(code=None, signal="SIGKILL", status="TO"), limits).status == "timeout"
    assert _execution(stage(code=None, signal="SIGKILL", status="OL"), limits).status == "output_limit"
    assert _execution(stage(code=1, status="RE", stderr="MemoryError\n"), limits).status == "memory_limit"
    crashed = _execution(stage(code=None, signal="SIGSEGV", status="SG"), limits)
    assert (crashed.status, crashed.exit_code) == ("runtime_error", 139)
    assert _execution(stage(status="XX"), limits).status == "sandbox_error"
    assert _execution(stage(cpu_time=1500), limits).status == "timeout"  # exit 0, but over the CPU limit
