"""The Ray executor: the same plan over many GPUs and many machines (``executor: {kind: ray}``).

- **Generation** runs on ``replicas`` Ray actors, each holding the step's stage (the recipe's
  :class:`~factory.stages.generate.TraceGenerator`; its backend loads the engine lazily, inside
  the actor, on the first shard) with ``gpus_per_replica`` GPUs and ``cpus_per_replica`` CPUs.
  Each actor is sent whole shards of problems, :data:`SHARDS_IN_FLIGHT` at a time, and feeds
  them into one stream through its engine (the stage's ``stream``, as the local executor runs
  it): the engine takes the next shard's problems while the last traces of the one before still
  run, so it never drains between shards. An actor returns each shard's rows and stats as the
  shard's last problem finishes; the *driver* writes the shard and its marker
  (:meth:`Executor.write_shard`), so a
  shard is done only when both are on disk. An actor that dies in the middle of a shard
  (``RayActorError``: a crash, a lost node, ``ray kill``) has written nothing: Ray restarts it,
  it is sent nothing until it answers again, and its shards go back to the queue, each tried at
  most :data:`MAX_ATTEMPTS` times.
- **The steps after generate** (vote, verify, select, difficulty, export) run per shard, as soon
  as its traces are written, as one Ray task (``cpus_per_task``) that runs them in order and
  writes each step's shard and marker (:meth:`Executor.run_shard`). A stage that is ``ordered``
  (select with ``trace_dedup.scope: run``, whose rejects depend on every earlier shard) runs on
  the driver instead, one shard at a time in shard order, with the index the executor restored,
  exactly as the local executor runs it; the steps after it are again a task per shard. So the
  data equals the local executor's for the same recipe.
- **The run folder** must be one every node reaches: a shared filesystem (NFS, a cluster
  filesystem) at the same path, or an object store (``run_dir: s3://bucket/runs/x``; see
  :mod:`factory.shards`). The tasks open it from its location, with their own credentials.

The read step (the recipe's source) runs on the driver, as locally. With ``address: null`` a
run outside any cluster starts a local Ray (all this machine's CPUs and GPUs) and stops it at
the end; under ``ray job submit`` (``RAY_ADDRESS`` set) or with ``address: auto`` it joins the
cluster. Ray is imported only here, when a run uses this executor.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from typing import Any

from tqdm.auto import tqdm

from factory.backends import NOT_READY
from factory.errors import RecipeError
from factory.executors.base import Executor, close_stages
from factory.executors.local import LocalExecutor
from factory.plan import Plan, Step
from factory.shards import RunDir
from factory.stages.base import StageStats

log = logging.getLogger(__name__)

SHARDS_IN_FLIGHT = 2  # per replica, in its stream at once: the next is sent as one finishes
MAX_ATTEMPTS = 3  # tries of one shard on replicas that die before it is written


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RecipeError("executor.kind: ray needs Ray (pip install 'reasoning-factory[ray]')") from None
    return ray


class RayExecutor(Executor):
    def run(self, plan: Plan, stop_after: str | None = None) -> None:
        ray = _ray()
        started = not ray.is_initialized()
        if started:
            ray.init(address=self.config.address)
        try:
            super().run(plan, stop_after)
        finally:
            if started:
                ray.shutdown()

    def run_steps(self, steps: Sequence[Step], todo: dict[str, list[int]]) -> None:
        _Shards(self, steps, todo).run()


class _Replica:
    """One generation engine: the step's stage, built where the actor runs (a threaded actor).

    Each ``generate`` call puts its shard in the replica's inbox and waits; one thread runs the
    stage's ``stream`` over the inbox (``NOT_READY`` when it is empty, so the engine goes on with
    what it holds) and hands each shard's rows to its call when the shard's last problem is done.
    An error in the stream fails every call waiting on it; the next call starts a new stream.
    """

    def __init__(self, step: Step) -> None:
        (self.stage,) = step.stages
        self.inbox: queue.SimpleQueue[tuple[int, list[dict[str, Any]]]] = queue.SimpleQueue()
        self.waiting: dict[int, Future[tuple[int, list[dict[str, Any]], dict[str, Any]]]] = {}
        self.lock = threading.Lock()
        self.streaming = False

    def ready(self) -> bool:
        return True

    def generate(self, index: int, problems: list[dict[str, Any]]) -> tuple[int, list[dict[str, Any]], dict[str, Any]]:
        done: Future[tuple[int, list[dict[str, Any]], dict[str, Any]]] = Future()
        with self.lock:
            self.waiting[index] = done
            if not self.streaming:
                self.streaming = True
                threading.Thread(target=self._stream, name="factory-stream", daemon=True).start()
        self.inbox.put((index, problems))
        return done.result()

    def _feed(self) -> Iterator[tuple[int, list[dict[str, Any]]] | None]:
        while True:
            try:
                yield self.inbox.get_nowait()
            except queue.Empty:
                yield NOT_READY

    def _stream(self) -> None:
        try:
            for index, rows, stats in self.stage.stream(self._feed()):
                with self.lock:
                    done = self.waiting.pop(index)
                done.set_result((index, rows, stats.to_dict()))
        except BaseException as e:  # the engine failed: every shard it held fails with it
            with self.lock:
                failed, self.waiting, self.streaming = list(self.waiting.values()), {}, False
                while not self.inbox.empty():
                    self.inbox.get_nowait()
            for done in failed:
                done.set_exception(e)


def _run_steps(root: str, steps: list[Step], index: int) -> int:
    """A Ray task: one shard through consecutive steps, each written and marked as locally."""

    runner = LocalExecutor(RunDir(root), progress=False)
    try:
        for step in steps:
            runner.run_shard(step, index)
    finally:
        close_stages(steps)
    return index


class _Shards:
    """Every shard through its remaining steps: generation on the replicas, ordered stages on the
    driver in shard order, runs of the other steps as tasks."""

    def __init__(self, executor: RayExecutor, steps: Sequence[Step], todo: dict[str, list[int]]) -> None:
        self.ray = _ray()
        self.executor, self.config = executor, executor.config
        self.task = self.ray.remote(_run_steps).options(num_cpus=self.config.cpus_per_task)
        self.run_id = uuid.uuid4().hex[:8]  # replica names: factory-<step>-<k>-<run id>
        self.root = executor.run_dir.address
        shards = sorted({i for step in steps for i in todo[step.name]})
        # each shard's remaining work: ("generate", step), ("driver", step) or ("task", [steps...])
        self.chain: dict[int, list[tuple[str, Any]]] = {
            i: self._segments([s for s in steps if i in todo[s.name]]) for i in shards
        }
        self.at = {i: -1 for i in shards}  # the segment each shard is in
        # an ordered step runs shard i only after every earlier shard that needs it
        self.order = {s.name: [i for i in shards if i in todo[s.name]] for s in steps if self._ordered(s)}
        self.next_ordered = {name: 0 for name in self.order}
        self.waiting: dict[str, set[int]] = {name: set() for name in self.order}
        self.queue: list[int] = []  # shards waiting for a replica
        self.generating: dict[Any, tuple[int, Any]] = {}  # ref -> (shard, replica)
        self.restarting: dict[Any, Any] = {}  # ref of its `ready` -> a replica Ray is restarting (sent nothing)
        self.tasks: dict[Any, int] = {}  # ref -> shard
        self.attempts: dict[int, int] = {}
        self.replicas: list[Any] = []
        self.load: dict[Any, int] = {}
        self.step_refs: dict[tuple[str, ...], Any] = {}
        self.generate_step = next((s for s in steps if executor.streams(s)), None)
        self.last = time.perf_counter()
        self.done = 0

    def _ordered(self, step: Step) -> bool:
        return any(stage.ordered for stage in step.stages)

    def _segments(self, steps: list[Step]) -> list[tuple[str, Any]]:
        segments: list[tuple[str, Any]] = []
        for step in steps:
            if self.executor.streams(step):
                segments.append(("generate", step))
            elif self._ordered(step):
                segments.append(("driver", step))
            elif segments and segments[-1][0] == "task":
                segments[-1][1].append(step)
            else:
                segments.append(("task", [step]))
        return segments

    def run(self) -> None:
        total = sum(1 for chain in self.chain.values() if any(kind == "generate" for kind, _ in chain))
        self.bar = tqdm(
            total=total,
            desc=self.generate_step.name if self.generate_step else "shards",
            unit=" shards",
            disable=not self.executor.progress or not total,
        )
        try:
            for i in sorted(self.chain):
                self._advance(i)
            while self.done < len(self.chain):
                self._feed()
                self._run_ordered()
                if self.done == len(self.chain):
                    break
                if (
                    not self.generating and not self.tasks and not self.restarting
                ):  # a bug: nothing runs, yet shards are left
                    raise RuntimeError(
                        f"ray executor: shards {sorted(i for i in self.chain if self.at[i] < len(self.chain[i]))} "
                        "are stuck"
                    )
                ready, _ = self.ray.wait([*self.generating, *self.tasks, *self.restarting], num_returns=1)
                for ref in ready:
                    if ref in self.generating:
                        self._generated(ref)
                    elif ref in self.restarting:
                        self._restarted(ref)
                    else:
                        index = self.ray.get(ref)  # a task's failure is raised here
                        del self.tasks[ref]
                        self._advance(index)
        finally:
            self.bar.close()
            for ref in self.tasks:
                self.ray.cancel(ref)
            self._stop_replicas()

    def _advance(self, index: int) -> None:
        """Shard ``index`` finished its current segment: start its next one."""
        self.at[index] += 1
        chain = self.chain[index]
        if self.at[index] == len(chain):
            self.done += 1
            return
        kind, what = chain[self.at[index]]
        if kind == "generate":
            self.queue.append(index)
        elif kind == "driver":
            self.waiting[what.name].add(index)
        else:
            self.tasks[self.task.remote(self.root, self._steps_ref(what), index)] = index

    def _steps_ref(self, steps: list[Step]) -> Any:
        key = tuple(s.name for s in steps)
        if key not in self.step_refs:
            self.step_refs[key] = self.ray.put(steps)
        return self.step_refs[key]

    def _run_ordered(self) -> None:
        for name, order in self.order.items():
            while self.next_ordered[name] < len(order) and order[self.next_ordered[name]] in self.waiting[name]:
                index = order[self.next_ordered[name]]
                self.waiting[name].discard(index)
                _, step = self.chain[index][self.at[index]]
                self.executor.run_shard(step, index)
                self.next_ordered[name] += 1
                self._advance(index)

    # -- generation ---------------------------------------------------------------------------------

    def _feed(self) -> None:
        if not self.queue:
            return
        if not self.replicas:
            self._start_replicas()
        self.queue.sort()
        while self.queue:
            up = [r for r in self.replicas if r not in self.restarting.values()]
            replica = min(up, key=lambda r: self.load[r], default=None)
            if replica is None or self.load[replica] >= SHARDS_IN_FLIGHT:
                return
            index = self.queue.pop(0)
            step = self.generate_step
            problems = self.executor.stream_input(step, index)
            self.generating[replica.generate.remote(index, problems)] = (index, replica)
            self.load[replica] += 1

    def _start_replicas(self) -> None:
        cfg, step = self.config, self.generate_step
        actor = self.ray.remote(_Replica)
        count = min(cfg.replicas, len(self.queue))
        free = self.ray.cluster_resources().get("CPU", 0) - count * cfg.cpus_per_replica
        if free < cfg.cpus_per_task:
            log.warning(
                "%s: %d replica(s) hold %s of the cluster's CPUs; the tasks after %s (%s CPU each) "
                "wait until generation ends",
                step.name,
                count,
                count * cfg.cpus_per_replica,
                step.name,
                cfg.cpus_per_task,
            )
        start = time.perf_counter()
        for k in range(count):
            replica = actor.options(
                name=f"factory-{step.name}-{k}-{self.run_id}",
                num_gpus=cfg.gpus_per_replica,
                num_cpus=cfg.cpus_per_replica,
                max_restarts=-1,
                max_task_retries=0,
                max_concurrency=SHARDS_IN_FLIGHT + 1,
            ).remote(step)  # inline, not a ref: a restart builds the replica from it again
            self.replicas.append(replica)
            self.load[replica] = 0
        pending = [r.ready.remote() for r in self.replicas]
        while pending:  # a replica Ray cannot place (too few GPUs) would otherwise wait in silence
            _, pending = self.ray.wait(pending, num_returns=len(pending), timeout=60)
            if pending:
                log.warning(
                    "%s: %d of %d replica(s) not started after %.0f s (each needs %s GPU(s), %s CPU(s); the cluster "
                    "has %s)",
                    step.name,
                    len(pending),
                    count,
                    time.perf_counter() - start,
                    cfg.gpus_per_replica,
                    cfg.cpus_per_replica,
                    self.ray.cluster_resources(),
                )
        # generation time, as locally, starts when the engines can take work (an engine still loads on its first shard)
        self.last = time.perf_counter()
        log.info(
            "%s: %d replica(s) started in %.1f s, %s GPU(s) and %s CPU(s) each",
            step.name,
            count,
            self.last - start,
            cfg.gpus_per_replica,
            cfg.cpus_per_replica,
        )

    def _restarted(self, ref: Any) -> None:
        replica = self.restarting.pop(ref)
        try:
            self.ray.get(ref)
        except self.ray.exceptions.ActorUnavailableError:  # not up yet: ask again
            self.restarting[replica.ready.options(max_task_retries=-1).remote()] = replica
        except self.ray.exceptions.RayActorError as e:  # gone for good (its node, say): go on without it
            self.replicas.remove(replica)
            log.warning(
                "%s: a replica could not be restarted (%s); %d left",
                self.generate_step.name,
                type(e).__name__,
                len(self.replicas),
            )
            if not self.replicas:
                raise RuntimeError(f"{self.generate_step.name}: every generation replica is gone; last: {e}") from e

    def _stop_replicas(self) -> None:
        for replica in self.replicas:
            self.ray.kill(replica)
        self.replicas.clear()
        self.restarting.clear()

    def _generated(self, ref: Any) -> None:
        index, replica = self.generating.pop(ref)
        self.load[replica] -= 1
        try:
            _, rows, stats = self.ray.get(ref)
        except self.ray.exceptions.RayActorError as e:  # died mid-shard: nothing of it was written
            if replica not in self.restarting.values():  # send it nothing more until Ray has restarted it
                self.restarting[replica.ready.options(max_task_retries=-1).remote()] = replica
            self.attempts[index] = self.attempts.get(index, 0) + 1
            if self.attempts[index] >= MAX_ATTEMPTS:
                raise RuntimeError(
                    f"{self.generate_step.name}: shard {index} was lost with its replica "
                    f"{MAX_ATTEMPTS} times; last: {e}"
                ) from e
            log.warning(
                "%s: a replica died during shard %d (%s); retrying it (Ray restarts the replica)",
                self.generate_step.name,
                index,
                type(e).__name__,
            )
            self.queue.append(index)
            return
        step = self.generate_step
        stats = StageStats.from_dict(stats)
        now = time.perf_counter()  # as the stream: a shard's seconds are the wall time since the last one
        stats.seconds, self.last = now - self.last, now
        self.executor.write_shard(step, index, rows, {step.stages[0].name: stats})
        self.bar.update()
        self._advance(index)
        if not self.queue and not self.generating:  # every shard generated: free the GPUs (and CPUs) for the tasks
            self._stop_replicas()
