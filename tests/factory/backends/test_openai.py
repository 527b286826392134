"""The openai backend: its error paths against a stub HTTP server here, then a real `vllm serve`.

The stub (http.server in a thread on 127.0.0.1) answers each POST with what the test's ``behave``
function returns, and records every request body, so the retry, fallback and merge paths run
the real HTTP client against a real socket. The last tests start the tiny random-weight model
under vLLM's OpenAI server and run recipes through ``run_recipe`` end to end.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fakes import make_problems
from openai_stub import Reply, Stub, answer
from servers import free_port
from vllm_server import vllm_server

import factory.run as factory_run
from factory.backends import NOT_READY, Request
from factory.backends.limits import RateLimit
from factory.backends.openai import OpenAIBackend, merge_reasoning, retry_after
from factory.errors import RecipeError
from factory.recipe import GenerateConfig, SelectConfig, parse_recipe


@pytest.fixture
def stub() -> Iterator[Stub]:
    s = Stub()
    yield s
    s.close()


FAST = {"backoff_s": 0.01, "max_retries": 2, "timeout_s": 5.0, "concurrency": 4}


def backend(url: str, **engine: Any) -> OpenAIBackend:
    return OpenAIBackend(GenerateConfig(model="teacher", backend="openai", base_url=url, engine={**FAST, **engine}))


def request(pid: str = "p0", n: int = 2, seed: int = 7) -> Request:
    return Request(
        problem={"id": pid},
        messages=[{"role": "user", "content": "What is 0 + 0?"}],
        prompt="user: What is 0 + 0?\n\n",
        n=n,
        seed=seed,
        sampling={"temperature": 0.6, "max_tokens": 32, "top_k": 20},
    )


def recipe(tmp_path: Path, url: str, n_problems: int = 4, **generate: Any):
    return parse_recipe(
        {
            "name": "t",
            "run_dir": str(tmp_path / "run"),
            "source": {
                "path": str(make_problems(tmp_path / "p.jsonl", n_problems)),
                "fields": {"prompt": "problem", "gold": "answer"},
                "shard_size": 2,
            },
            "generate": {"model": "teacher", "backend": "openai", "base_url": url, "n": 2, "engine": FAST, **generate},
            "verify": {"math": {}},
        }
    )


# -- settings ---------------------------------------------------------------------------------


def test_recipe_settings_are_checked_when_it_loads(tmp_path):
    with pytest.raises(RecipeError, match=r"generate\.base_url: the openai backend needs"):
        parse_recipe({"name": "t", "source": {"path": "x"}, "generate": {"backend": "openai"}})
    with pytest.raises(RecipeError, match=r"generate\.base_url: only the openai backend"):
        parse_recipe({"name": "t", "source": {"path": "x"}, "generate": {"backend": "vllm", "base_url": "http://h/v1"}})
    with pytest.raises(ValueError, match=r"generate\.engine\.concurency: unknown option"):
        backend("http://127.0.0.1:9/v1", concurency=4)
    with pytest.raises(ValueError, match=r"generate\.engine\.api: completions .* needs the model's chat template"):
        backend("http://127.0.0.1:9/v1", api="completions")


def test_a_request_carries_the_chat_prefill_sampling_seed_and_key(stub, monkeypatch):
    monkeypatch.setenv("TEACHER_KEY", "sk-test")
    config = GenerateConfig(
        model="teacher",
        backend="openai",
        base_url=stub.url,
        api_key_env="TEACHER_KEY",
        prefill="<think>\n",
        engine=FAST,
    )
    b = OpenAIBackend(config)
    (out,) = b.generate([request(n=2, seed=7)])
    body, headers = stub.bodies[0], stub.headers[0]
    assert headers["Authorization"] == "Bearer sk-test"
    assert body["messages"][-1] == {"role": "assistant", "content": "<think>\n"}  # the prefill, continued
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
    assert (body["n"], body["seed"], body["temperature"], body["max_tokens"], body["top_k"]) == (2, 7, 0.6, 32, 20)
    assert out.error is None and [s.index for s in out.samples] == [0, 1]
    # the stub's reply repeats "<think>\n" after a continued prefill: it is kept, as vLLM returns only new text
    assert out.samples[0].text.startswith("<think>\nfine")
    # two choices, no token ids, no local tokenizer: usage split between them is an estimate
    assert out.token_count == "estimate" and sum(s.tokens for s in out.samples) == 14
    assert b.provenance().generator == "openai-api:stubllm==9.9" and b.provenance().model == "teacher"


def test_a_strict_api_gets_no_extensions_and_the_prefill_is_not_repeated(stub):
    config = GenerateConfig(
        model="teacher", backend="openai", base_url=stub.url, prefill="<think>\n", engine={**FAST, "extensions": False}
    )
    (out,) = OpenAIBackend(config).generate([request(n=1)])
    assert {"continue_final_message", "return_token_ids", "chat_template"}.isdisjoint(stub.bodies[0])
    assert stub.bodies[0]["messages"][-1]["role"] == "user"
    assert out.samples[0].text == "fine\n</think>\nThe answer is \\boxed{0}."  # the stage puts the prefill back
    assert out.token_count == "usage" and out.samples[0].tokens == 7


def test_a_feed_with_nothing_ready_yet_is_waited_for_not_ended(stub):
    """A Ray replica's feed says NOT_READY between shards: the requests in flight go on."""

    def feed():
        yield NOT_READY
        yield request("a")
        for _ in range(20):  # "a" finishes while the feed has nothing new
            time.sleep(0.01)
            yield NOT_READY
        yield request("b")

    outs = list(backend(stub.url).stream(feed()))
    assert [r.problem["id"] for r, _ in outs] == ["a", "b"] and all(o.error is None for _, o in outs)


# -- retries ----------------------------------------------------------------------------------


def test_429_with_retry_after_is_waited_out_then_succeeds(stub):
    stub.behave = lambda body, i: (429, {"Retry-After": "1"}, b'{"error": "slow down"}') if i == 0 else answer(body)
    start = time.perf_counter()
    (out,) = backend(stub.url).generate([request()])
    assert time.perf_counter() - start >= 1.0  # Retry-After, not the 0.01 s backoff
    assert out.error is None and len(out.samples) == 2 and len(stub.bodies) == 2


def test_500_then_success(stub):
    stub.behave = lambda body, i: (500, {}, b"boom") if i == 0 else answer(body)
    (out,) = backend(stub.url).generate([request()])
    assert out.error is None and len(stub.bodies) == 2


def test_a_timeout_is_retried(stub):
    stub.behave = lambda body, i: 1.5 if i == 0 else answer(body)
    (out,) = backend(stub.url, timeout_s=0.5).generate([request()])
    assert out.error is None and len(out.samples) == 2 and len(stub.bodies) == 2


def test_what_keeps_failing_becomes_a_recorded_error_per_problem(stub):
    stub.behave = lambda body, i: (200, {}, b"{not json")
    outs = backend(stub.url, max_retries=1).generate([request("a"), request("b")])
    assert [o.error for o in outs] == ["request_failed:malformed_response"] * 2
    assert len(stub.bodies) == 4  # one retry each
    stub.behave = lambda body, i: (404, {}, b'{"error": "no such model"}')  # not retried
    (out,) = backend(stub.url).generate([request()])
    assert out.error == "request_failed:http_404" and len(stub.bodies) == 5


def test_retry_after_reads_seconds_and_dates():
    assert retry_after({"retry-after": "3"}) == 3.0
    assert retry_after({}) is None
    assert 0 <= retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # a date in the past


# -- what comes back --------------------------------------------------------------------------


def test_a_server_that_rejects_n_gets_single_requests_with_their_own_seeds(stub):
    stub.behave = lambda body, i: (400, {}, b'{"error": "n must be 1"}') if body["n"] > 1 else answer(body)
    b = backend(stub.url, concurrency=1)
    first, second = b.generate([request("a", n=3, seed=100), request("b", n=3, seed=200)])
    assert [s.index for s in first.samples] == [0, 1, 2] and len(second.samples) == 3
    # one refused n=3, then singles; the second problem goes straight to singles
    assert [(body["n"], body["seed"]) for body in stub.bodies] == [
        (3, 100),
        (1, 100),
        (1, 101),
        (1, 102),
        (1, 200),
        (1, 201),
        (1, 202),
    ]
    assert first.token_count == "usage" and first.prompt_tokens == 11


def test_a_server_returning_fewer_choices_than_n_also_falls_back(stub):
    stub.behave = lambda body, i: answer({**body, "n": 1})
    (out,) = backend(stub.url).generate([request(n=2)])
    assert len(out.samples) == 2 and [b["n"] for b in stub.bodies] == [2, 1, 1]


def test_reasoning_fields_are_merged_back_into_think_tags(stub, tmp_path):
    assert merge_reasoning("The answer is 4.", "2 + 2 = 4") == "<think>\n2 + 2 = 4\n</think>\n\nThe answer is 4."
    assert merge_reasoning("plain", None) == "plain"
    # older servers name it reasoning_content; vLLM 0.32 names it reasoning
    fields = ["reasoning", "reasoning_content"]
    stub.behave = lambda body, i: answer(body, content="The answer is \\boxed{0}.", **{fields[i % 2]: "0 + 0 is 0."})
    factory_run.run_recipe(recipe(tmp_path, stub.url, n_problems=2, prefill="<think>\n"), progress=False)
    traces = pd.read_parquet(tmp_path / "run/traces")
    assert len(traces) == 4
    assert (
        traces.completion == "<think>\n0 + 0 is 0.\n</think>\n\nThe answer is \\boxed{0}."
    ).all()  # one <think>, not two
    assert (traces.reasoning == "0 + 0 is 0.").all() and (traces.answer == "The answer is \\boxed{0}.").all()
    assert set(traces.generator) == {"openai-api:stubllm==9.9"} and set(traces.model) == {"teacher"}
    # no local model folder: prompt_text is the plain rendering of the chat, never a guessed template
    assert traces.prompt_text.iloc[0] == "user: What is 0 + 0?\n\nassistant: <think>\n"


def test_the_backend_pickles_for_a_worker_after_use(stub):
    import pickle

    b = backend(stub.url)
    b.generate([request()])
    copy = pickle.loads(pickle.dumps(b))
    assert copy._client is None and copy.generate([request()])[0].error is None


# -- through the pipeline ---------------------------------------------------------------------


def test_no_server_records_every_problem_as_an_error_and_the_run_finishes(tmp_path, caplog):
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there: connection refused
    summary = factory_run.run_recipe(recipe(tmp_path, url, engine={**FAST, "max_retries": 1}), progress=False)
    marker = json.loads((tmp_path / "run/_markers/generate/shard-00000.json").read_text())
    assert summary.problems == 4 and summary.traces == 0
    assert marker["errors"] == {"generate:request_failed:connection_error": 2}
    assert not (tmp_path / "run/_markers/generate/_done.json").exists()  # errors: the next run asks again
    assert summary.errors == {"generate:request_failed:connection_error": 4} and summary.failed_problems == {}
    assert len(pd.read_parquet(tmp_path / "run/traces_failed")) == 4  # one row per failed problem, with the reason
    assert "problem 'p00' got no samples: request_failed:connection_error" in caplog.text


def test_one_failing_problem_loses_its_traces_the_others_keep_theirs(stub, tmp_path):
    def behave(body: dict[str, Any], i: int) -> Reply:
        return (503, {}, b"down") if "What is 1 + 1?" in json.dumps(body) else answer(body)

    stub.behave = behave
    summary = factory_run.run_recipe(recipe(tmp_path, stub.url), progress=False)
    traces = pd.read_parquet(tmp_path / "run/traces")
    assert summary.traces == 6 and "p01" not in set(traces.problem_id)
    assert (traces.groupby("problem_id").size() == 2).all()


def test_a_run_resumes_across_client_knobs_and_another_server(stub, tmp_path):
    factory_run.run_recipe(recipe(tmp_path, stub.url), progress=False)
    sent = len(stub.bodies)
    other = Stub()
    try:
        again = recipe(tmp_path, other.url, engine={**FAST, "concurrency": 64, "timeout_s": 9.0, "max_retries": 0})
        factory_run.run_recipe(again, progress=False)  # no "different recipe" error
        assert len(stub.bodies) == sent and other.bodies == []  # nothing was generated again
    finally:
        other.close()
    with pytest.raises(ValueError, match=r"sections changed: generate"):
        factory_run.run_recipe(
            recipe(tmp_path, stub.url, engine={**FAST, "api": "chat", "batch_n": False}), progress=False
        )


# -- a real vLLM server -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with vllm_server(
        tiny_model_dir, "tiny", tmp_path_factory.mktemp("vllm-serve"), ["--max-model-len", "512", "--seed", "0"]
    ) as url:
        yield url


def real_recipe(tmp_path: Path, url: str, folder: Path, **engine: Any):
    return parse_recipe(
        {
            "name": "real",
            "run_dir": str(tmp_path / "run"),
            "source": {
                "path": str(make_problems(tmp_path / "p.jsonl", 3)),
                "fields": {"prompt": "problem", "gold": "answer"},
            },
            "generate": {
                "model": "tiny",
                "backend": "openai",
                "base_url": url,
                "tokenizer": str(folder),
                "n": 3,
                "prefill": "<think>\n",
                "sampling": {"max_tokens": 16, "temperature": 1.0},
                "engine": {"concurrency": 4, **engine},
            },
            "verify": {"math": {}},
        }
    )


@pytest.mark.slow
def test_a_real_vllm_server_end_to_end(server, tiny_model_dir, tmp_path):
    from transformers import AutoTokenizer

    runs = {}
    for api in ("chat", "completions"):
        (tmp_path / api).mkdir()
        summary = factory_run.run_recipe(real_recipe(tmp_path / api, server, tiny_model_dir, api=api), progress=False)
        runs[api] = traces = (
            pd.read_parquet(tmp_path / api / "run/traces").sort_values("trace_id").reset_index(drop=True)
        )
        assert summary.traces == 9 and (traces.groupby("problem_id").size() == 3).all()
        assert set(traces.model) == {"tiny"} and set(traces.generator) == {"openai-api:vllm==0.32.0"}
        assert set(traces.finish_reason) <= {"stop", "length"} and "length" in set(traces.finish_reason)
        assert (
            traces.completion.str.startswith("<think>\n").all()
            and not traces.completion.str.startswith("<think>\n<think>").any()
        )
        # token counts are the server's own (token_ids per choice), and a length cut is max_tokens
        assert (traces[traces.finish_reason == "length"].completion_tokens == 16).all()
        assert (traces.completion_tokens <= 16).all() and traces.completion_tokens.min() >= 1
        stats = json.loads((tmp_path / api / "run/stats/generate.json").read_text())
        assert not any(k.startswith("tokens_from") for k in stats["counters"]) and not stats["dropped"]
        # n in one request with one seed still gives n different samples
        assert traces.groupby("problem_id").completion.nunique().min() > 1
    # the prompt the server saw is the one rendered here, token for token (prefill included)
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    for _, row in runs["completions"].iterrows():
        assert row.prompt_text.endswith("<|im_start|>assistant\n<think>\n")
        assert row.prompt_tokens == len(tok(row.prompt_text, add_special_tokens=False)["input_ids"])
    # chat mode (the server renders the chat and continues the prefill) sees the same prompt, so the
    # same seeds sample the same tokens
    assert (runs["chat"].prompt_tokens == runs["completions"].prompt_tokens).all()
    pd.testing.assert_series_equal(runs["chat"].completion, runs["completions"].completion)


def test_a_judge_behind_a_server_is_sent_the_traces_in_one_batch_and_its_reasoning_does_not_count(stub, tmp_path):
    """judge.backend: openai: the same client as the teacher's; a verdict in the server's reasoning field is ignored."""
    from factory.stages.base import StageStats
    from factory.stages.judge import TraceJudge

    def behave(body: dict[str, Any], i: int) -> Reply:
        response = body["messages"][-1]["content"]
        if "\\boxed{1}" in response:  # the verdict only in the reasoning (a server's reasoning parser split it off)
            return answer(body, "I cannot tell.", reasoning="VERDICT: CORRECT")
        return answer(body, "SCORE: 9\nVERDICT: CORRECT")

    stub.behave = behave
    recipe = parse_recipe(
        {
            "name": "t",
            "source": {"path": "x"},
            "verify": {"math": {}},
            "judge": {"backend": "openai", "base_url": stub.url, "model": "judge-70b", "engine": FAST},
        }
    )
    rows = [
        {
            "trace_id": f"p{i}/0",
            "problem_id": f"p{i}",
            "domain": "proof",
            "gold": None,
            "prompt_messages": [{"role": "user", "content": f"Prove {i}."}],
            "completion": f"<think>\nok\n</think>\n\\boxed{{{i}}}",
            "math_passed": None,
            "math_reason": "not_applicable",
            "math_details": None,
        }
        for i in range(3)
    ]
    out = list(TraceJudge(recipe.judge, recipe.verify).run(rows, StageStats()))
    assert [r["judge_reason"] for r in out] == ["ok", "unparseable", "ok"]
    assert out[0]["judge_score"] == pytest.approx(0.9) and out[0]["judge_model"] == "judge-70b"
    assert out[1]["judge_raw"].startswith("<think>\nVERDICT: CORRECT\n</think>")
    assert len(stub.bodies) == 3 and all(
        b["model"] == "judge-70b" and b["n"] == 1 and b["temperature"] == 0.0 for b in stub.bodies
    )
    assert stub.bodies[0]["messages"][0]["role"] == "system"


# -- adaptive sampling, cost and rate limits -------------------------------------------------------


def by_seed(body: dict[str, Any], i: int) -> Reply:
    """A server whose sample with seed s answers "What is k + k?" right unless s % 3 == 0 (choice j of an
    n > 1 request is seeded seed + j, as vLLM seeds it)."""
    k = int(re.search(r"What is (\d+) \+", json.dumps(body)).group(1))
    choices = []
    for j in range(body["n"]):
        got = 2 * k if (body["seed"] + j) % 3 else 2 * k + 1
        content = f"<think>\nsum\n</think>\nThe answer is \\boxed{{{got}}}."
        choices.append({"index": j, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"})
    usage = {"prompt_tokens": 11, "completion_tokens": 7 * body["n"], "total_tokens": 11 + 7 * body["n"]}
    return 200, {}, json.dumps({"choices": choices, "usage": usage}).encode()


@pytest.mark.parametrize("batch_n", [True, False])
def test_adaptive_rounds_on_a_server_export_the_fixed_n_sft_set(stub, tmp_path, batch_n):
    stub.behave = by_seed
    engine = {**FAST, "batch_n": batch_n}
    keep_first = SelectConfig(k=2, strategy="first")
    for side, adaptive in (("f", None), ("a", {"first": 2, "passes": 2})):
        (tmp_path / side).mkdir()
        extra = {"adaptive": adaptive} if adaptive else {}
        r = recipe(tmp_path / side, stub.url, n_problems=6, n=8, engine=engine, **extra)
        summary = factory_run.run_recipe(dataclasses.replace(r, select=keep_first), progress=False)
        if side == "f":
            sent_fixed = len(stub.bodies)
    assert summary.cost.samples_saved > 0 and summary.cost.later_rounds > 0
    # no sample is drawn twice: every request of the adaptive run starts at a seed none before it covered
    drawn = [(b["seed"], b["n"]) for b in stub.bodies[sent_fixed:]]
    seeds = [s + j for s, n in drawn for j in range(n)]
    assert len(set(seeds)) == len(seeds) == summary.traces
    left, right = (
        pd.read_parquet(tmp_path / side / "run/export/sft").drop(columns="pass_rate").sort_values("trace_id")
        for side in ("f", "a")
    )
    assert len(left) == 12
    pd.testing.assert_frame_equal(left.reset_index(drop=True), right.reset_index(drop=True))


def test_the_price_table_gives_money_spent_and_per_kept_row(stub, tmp_path):
    r = recipe(tmp_path, stub.url, engine={**FAST, "price": {"input": 1.0, "output": 2.0}})
    summary = factory_run.run_recipe(r, progress=False)
    cost = summary.cost
    assert cost.prompt_tokens == 4 * 11  # each request's prompt once
    assert cost.money == round((cost.prompt_tokens * 1.0 + cost.completion_tokens * 2.0) / 1e6, 6) > 0
    assert cost.money_per_kept_row == round(cost.money / summary.kept, 6)
    assert "money spent" in (tmp_path / "run/README.md").read_text()


@pytest.mark.parametrize(
    ("engine", "message"),
    [
        ({"price": {"input": 1.0}}, r"generate\.engine\.price: expected \{input"),
        ({"price": {"input": 1.0, "output": -1}}, r"generate\.engine\.price\.output"),
        ({"requests_per_minute": 0}, r"generate\.engine\.requests_per_minute"),
        ({"tokens_per_minute": "lots"}, r"generate\.engine\.tokens_per_minute"),
    ],
)
def test_price_and_rate_limits_are_checked_when_the_recipe_loads(tmp_path, engine, message):
    with pytest.raises(RecipeError, match=message):
        recipe(tmp_path, "http://127.0.0.1:9/v1", engine=engine)


def test_the_rate_limit_holds_requests_and_tokens_to_the_last_minute():
    now = [0.0]
    clock, sleep = (lambda: now[0]), (lambda s: now.__setitem__(0, now[0] + s))
    requests = RateLimit(2, None, clock=clock, sleep=sleep)
    requests.acquire(10), requests.acquire(10)
    assert now[0] == 0.0
    requests.acquire(10)  # a third request in the same minute waits for the first to leave it
    assert now[0] == pytest.approx(60.0)
    tokens = RateLimit(None, 100, clock=clock, sleep=sleep)
    entry = tokens.acquire(90)
    tokens.acquire(10)  # 90 + 10: fits
    assert now[0] == pytest.approx(60.0)
    tokens.settle(entry, 20)  # the first cost less than it might have: room for 70 more
    tokens.acquire(70)
    assert now[0] == pytest.approx(60.0)
    tokens.acquire(20)  # 100 + 20 would not fit: waits a minute
    assert now[0] == pytest.approx(120.0)
    alone = RateLimit(None, 50, clock=clock, sleep=sleep)
    alone.acquire(500)  # larger than the whole budget: sent alone rather than never
    assert now[0] == pytest.approx(120.0)


def test_a_rate_limited_backend_spaces_its_requests(stub):
    b = backend(stub.url, concurrency=4, requests_per_minute=2)
    b.limit = RateLimit(2, None, period_s=0.4)  # the same limit over a shorter window, to keep the test fast
    start = time.perf_counter()
    b.generate([request(f"p{i}") for i in range(4)])
    assert time.perf_counter() - start >= 0.4 and len(stub.bodies) == 4
