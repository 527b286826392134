"""``ray job submit`` against a Ray cluster started the way a cluster's head is (``ray start
--head``, with its job server), on 127.0.0.1: the job finds the cluster by itself and its run
equals a local one."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from fakes import recipe_for
from servers import free_port, serve

import factory.run as factory_run
from factory.summary import RunSummary

pytest.importorskip("ray.dashboard.modules.job.sdk", reason="ray[default] (the job server) is not installed")
pytest.importorskip("aiohttp_cors", reason="ray[default] (the job server) is not installed")

RAY = Path(sys.executable).with_name("ray")


@pytest.fixture
def ray_head(tmp_path):
    """A head node with its job server; its own HOME and temp dir, so nothing leaks between runs."""
    home, temp = (
        tmp_path / "home",
        tempfile.mkdtemp(prefix="rayh", dir="/tmp"),
    )  # short: Ray's socket paths are length-limited
    home.mkdir()
    port, dashboard = free_port(), free_port()
    # no token auth: this cluster is the test's own, on 127.0.0.1 (a Ray started earlier in this
    # process may have left RAY_AUTH_MODE=token in the environment)
    env = {**os.environ, "HOME": str(home), "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    command = [
        str(RAY),
        "start",
        "--head",
        "--block",
        "--node-ip-address=127.0.0.1",
        f"--port={port}",
        "--num-cpus=2",
        "--include-dashboard=true",
        "--dashboard-host=127.0.0.1",
        f"--dashboard-port={dashboard}",
        f"--temp-dir={temp}",
    ]
    address = f"http://127.0.0.1:{dashboard}"
    # --block: SIGTERM makes the head stop its own processes, which may take it half a minute
    try:
        with serve(command, f"{address}/api/version", tmp_path / "head.log", env, wait_s=120, stop_s=10):
            yield address, env
    finally:
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.slow
def test_ray_job_submit_runs_the_recipe_on_the_cluster(tmp_path, ray_head):
    address, env = ray_head
    local = factory_run.run_recipe(recipe_for(tmp_path), progress=False)
    recipe = yaml.safe_load((tmp_path / "run" / "recipe.yaml").read_text())
    recipe["run_dir"] = str(tmp_path / "job")
    recipe["executor"] = {
        **recipe["executor"],
        "kind": "ray",
        "replicas": 2,
        "cpus_per_replica": 0.25,
        "cpus_per_task": 0.5,
    }
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(recipe))
    done = subprocess.run(
        [
            str(RAY),
            "job",
            "submit",
            "--address",
            address,
            "--",
            sys.executable,
            "-m",
            "factory.cli",
            "run",
            str(tmp_path / "job.yaml"),
            "-q",
        ],
        check=False,
        env=env,
        cwd=Path(__file__).parents[3],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "succeeded" in done.stdout + done.stderr
    summary = RunSummary.from_dict(json.loads((tmp_path / "job" / "summary.json").read_text()))
    assert summary.traces == local.traces == 40 and summary.kept == local.kept > 0
    assert "Connecting to existing Ray cluster" in done.stdout + done.stderr  # the head's cluster, not a Ray of its own
