"""Run a recipe: claim its run folder, build its plan, hand the plan to an executor, summarise.

What the steps are is :mod:`factory.plan`'s business; how shards are run, written and marked
done, :mod:`factory.executors`'. A rerun resumes where the last run stopped, step by step:

- the same recipe: every finished shard is kept;
- ``vote``, ``verify``, ``select`` or ``export`` changed: the first step that uses a changed
  section and every step after it run again, and nothing before it (no trace is regenerated);
  the summary's ``redone`` says which;
- engine settings that cannot change the sampled tokens (memory, batch sizes, parallelism,
  ``enforce_eager``: the backend's ``runtime_options``), ``executor`` (where shards run) and
  ``train``/``eval`` never matter;
- ``source``, ``decontaminate``, ``problem_dedup`` or ``generate`` changed (other problems, other
  prompts, another model, other sampling): refused, since the traces would have to be
  regenerated; use a new ``run_dir``.

One run at a time holds a run folder (a lock); a second ``factory run`` on it is refused. An
object store has no locks: a run folder there is locked on the machine that runs the driver only.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import logging
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import yaml

from factory.errors import EnvironmentProblem, RecipeError
from factory.executors import EXECUTORS, Executor, is_done, step_stats
from factory.plan import Plan, Step, build_plan
from factory.recipe import Recipe, changed_keys, changed_sections, verifier_config
from factory.report import write_report
from factory.shards import RunDir
from factory.stages.base import StageStats
from factory.summary import RunSummary
from verifiers import VerifierConfig, verify_code
from verifiers.sandbox import INSTALL_HINT, SandboxUnavailable

log = logging.getLogger(__name__)


def run_recipe(recipe: Recipe, *, progress: bool = True, stop_after: str | None = None) -> RunSummary:
    """Run (or resume) a recipe on the executor its ``executor`` section names; return its summary.

    ``stop_after`` ends the run after the named step (used to inspect or test partial runs).
    """
    check_environment(recipe)
    run = RunDir(recipe.run_location)
    plan = build_plan(recipe)
    run_executor = EXECUTORS[recipe.executor.kind](run, progress, recipe.executor)
    with _lock(run):
        if stale := run.remove_temp_files():  # a killed run's half-written files: never read, now gone
            log.info("%s: removed %d temporary file(s) a killed run left", run, len(stale))
        redone = _claim(run, recipe, plan, run_executor)
        run.write_json("plan.json", plan.describe())
        run_executor.run(plan, stop_after)
        summary = summarize(recipe, plan, run)
        summary.redone = redone
        run.write_json("summary.json", summary.to_dict())
        if stop_after is None:
            summary.card = _write_card(run)
    return summary


def check_environment(recipe: Recipe) -> None:
    """What the recipe needs of this machine, checked before any engine starts or any sample is
    drawn: a code verifier starts its sandbox and runs a real program, or with ``remote`` asks the
    remote for the runtimes the recipe needs. A machine (or remote) that cannot is refused in one
    line naming the fix, rather than judging every program ``sandbox_error``."""
    if "code" not in recipe.verify:
        return
    code = verifier_config("code", recipe.verify["code"], "verify")
    if code.remote is not None:
        _check_remote(code)
    else:
        _check_sandbox(code)


def _check_remote(config: VerifierConfig) -> None:
    from verifiers.code import check_code_provider
    from verifiers.remote import RemoteUnavailable

    try:
        check_code_provider(config)
    except (RemoteUnavailable, ValueError) as exc:
        raise RecipeError(f"verify.code.remote: {exc}") from None


@functools.cache  # once per process and settings: a working sandbox stays working
def _check_sandbox(config: VerifierConfig) -> None:
    program, tests = "print(int(input()) * 2)", [{"input": "21", "output": "42"}]
    sandbox_log = logging.getLogger("verifiers")
    level = sandbox_log.level
    sandbox_log.setLevel(logging.ERROR)  # its warnings are in the one line below
    try:
        verdict = verify_code(program, tests, language="python", config=config)
    except (SandboxUnavailable, OSError) as e:  # OSError: bwrap there but not executable
        cause = str(e).replace(INSTALL_HINT, "").strip() or "bubblewrap (`bwrap`) is not installed"
    else:
        if verdict.passed:
            return
        cause = f"a test program got {verdict.reason}: {str(verdict.details)[:300]}"
    finally:
        sandbox_log.setLevel(level)
    raise EnvironmentProblem(
        f"verify.code: the code sandbox cannot run here ({cause}); install bubblewrap "
        "(`apt-get install bubblewrap`, or `make sandbox`) on a machine that allows user namespaces"
    )


def _write_card(run: RunDir) -> str | None:
    """The dataset card and plots (``factory report`` writes the same); a failure here costs no data."""
    try:
        return write_report(run.location)
    except Exception:
        log.warning(
            "could not write the dataset card of %s (the data is complete; try factory report)", run, exc_info=True
        )
        return None


@contextlib.contextmanager
def _lock(run: RunDir) -> Iterator[None]:
    """Hold the run folder for this process; the lock goes with the process, however it ends.
    A folder on an object store is locked by a file on this machine."""
    if run.local is not None:
        run.local.mkdir(parents=True, exist_ok=True)
        lock = run.local / ".lock"
    else:
        key = hashlib.sha256(run.address.encode()).hexdigest()[:16]
        lock = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "factory" / "locks" / f"{key}.lock"
        lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "?"
            raise RecipeError(
                f"{run} is being written by another factory run (pid {holder}); "
                "wait for it to finish or set run_dir to another folder"
            ) from None
        f.seek(0), f.truncate(), f.write(str(os.getpid())), f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _claim(run: RunDir, recipe: Recipe, plan: Plan, executor: Executor) -> list[str]:
    """Record the recipe in the run folder, comparing it with the one a previous run recorded.

    Returns the steps made stale by a changed section (forgotten here, so they run again); a
    change to a section the traces depend on is refused.
    """
    current = recipe.to_dict()
    redone: list[str] = []
    if run.exists("recipe.json"):
        changed = changed_sections(run.read_json("recipe.json"), current)
        stale = plan.affected_by(changed)
        fixed = [k for k in changed if any(k in step.sections and _made(run, step, plan) for step in plan.steps)]
        if fixed:
            keys = [key for k in fixed for key in changed_keys(run.read_json("recipe.json"), current, k)]
            raise RecipeError(
                f"{run} holds a run of a different recipe (sections changed: {', '.join(fixed)}); its traces "
                f"would have to be regenerated ({', '.join(keys)} changed): delete the folder or set run_dir to a "
                "new one"
            )
        if stale:
            log.warning(
                "%s: %s changed; redoing %s (every generated trace is kept)",
                run,
                ", ".join(changed),
                ", ".join(s.name for s in stale),
            )
            executor.invalidate(stale)
            redone = [s.name for s in stale]
        else:
            log.info("resuming %s", run)
    run.write_json("recipe.json", current)
    run.write_text("recipe.yaml", yaml.safe_dump(current, sort_keys=False, allow_unicode=True))
    return redone


def _made(run: RunDir, step: Step, plan: Plan) -> bool:
    """Whether a ``fixed`` step holds work a change to its sections would throw away: the read
    step once it finished (a read that failed is cheap to redo, with other source settings), any
    other once one of its shards is done."""
    if not step.fixed:
        return False
    if step is plan.steps[0]:
        return is_done(run, step.name)
    return bool(run.files(f"_markers/{step.name}", "shard-", ".json"))


def summarize(recipe: Recipe, plan: Plan, run: RunDir) -> RunSummary:
    """The run's summary, filled in by every stage of the plan from its stats on disk, in step order."""
    summary = RunSummary(
        recipe=recipe.name,
        run_dir=run.display(),
        sft_dir=run.display("export", "sft"),
        rejected_dir=run.display("export", "rejected"),
    )
    errors: Counter[str] = Counter()
    for step in plan.steps:
        stats = step_stats(run, step.name)
        for stage in step.stages:
            stage.summarize(stats.get(stage.name, StageStats()), summary)
            errors.update(stage.errors(stats.get(stage.name, StageStats())))
    summary.errors = dict(sorted(errors.items()))
    return summary
