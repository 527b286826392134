"""End to end through the real vLLM engine on a tiny random-weight model (made in a fixture)."""

import json

import pandas as pd
import pytest

from factory.recipe import parse_recipe
from factory.run import run_recipe
from factory.stages.generate import problem_seed

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine_run(tiny_model_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("engine")
    problems = tmp / "p.jsonl"
    problems.write_text(
        "".join(
            json.dumps({"id": f"q{i}", "problem": f"What is {i} + {i}?", "answer": str(2 * i)}) + "\n" for i in range(6)
        )
    )
    raw = {
        "name": "tiny",
        "run_dir": str(tmp / "run"),
        "source": {"path": str(problems), "fields": {"prompt": "problem", "gold": "answer"}, "shard_size": 4},
        "generate": {
            "model": str(tiny_model_dir),
            "n": 3,
            "system_prompt": "Think, then answer.",
            "few_shot": [{"user": "What is 1 + 1?", "assistant": "<think>\n1 + 1 = 2\n</think>\n\\boxed{2}"}],
            "prefill": "<think>\n",
            "seed": 1,
            "sampling": {"temperature": 1.0, "max_tokens": 12},
            "engine": {"max_model_len": 512, "enforce_eager": True},
        },
        "verify": {"math": {}, "format": {}},
        "select": {"k": 1},
    }
    summary = run_recipe(parse_recipe(raw), progress=False)
    return raw, summary, tmp / "run"


def test_traces_have_n_samples_per_problem_and_full_provenance(engine_run, tiny_model_dir):
    raw, summary, run = engine_run
    traces = pd.read_parquet(run / "traces")
    assert summary.traces == len(traces) == 18
    assert traces.groupby("problem_id").sample_index.apply(sorted).map(list).tolist() == [[0, 1, 2]] * 6
    row = traces.iloc[0]
    assert row.prompt_text.endswith("<|im_start|>assistant\n<think>\n")  # chat template, then the prefill
    assert [m["role"] for m in row.prompt_messages] == ["system", "user", "assistant", "user"]
    assert row.completion.startswith("<think>\n")
    assert row.model == str(tiny_model_dir) and len(row.model_revision) == 12
    assert json.loads(row.sampling_params) == {"temperature": 1.0, "max_tokens": 12, "top_p": 0.95, "n": 3}
    assert row.seed == problem_seed(1, row.problem_id)
    assert row.generator.startswith("vllm==") and len(row.chat_template_hash) == 12
    assert (traces.completion_tokens <= 12).all() and (traces.prompt_tokens > 0).all()
    # a random model never closes its think block within 12 tokens: every trace is truncated
    assert (traces.finish_reason == "length").sum() == summary.truncated > 0


def test_samples_differ_within_a_problem_and_verdicts_say_why(engine_run):
    _, summary, run = engine_run
    verified = pd.read_parquet(run / "verified")
    assert verified.groupby("problem_id").completion.nunique().max() > 1  # n samples are not copies
    truncated = verified[verified.finish_reason == "length"]
    assert not truncated.format_passed.any()
    assert set(truncated.format_reason) == {"truncated"}
    assert summary.kept + summary.rejected == 18
    rejected = pd.read_parquet(run / "export/rejected")
    assert len(rejected) == summary.rejected and rejected.reject_reason.notna().all()


def test_same_seed_same_samples(engine_run):
    raw, _, run = engine_run
    again = {**raw, "run_dir": str(run.parent / "again")}
    run_recipe(parse_recipe(again), progress=False)
    a = pd.read_parquet(run / "traces").completion.tolist()
    b = pd.read_parquet(run.parent / "again" / "traces").completion.tolist()
    assert a == b


def test_many_seeded_long_prompts_on_cpu(tiny_model_dir):
    """Regression: with chunked prefill, vLLM's CPU runner crashed on seeded requests whose prompts
    needed several scheduler steps to prefill; the generator's CPU defaults avoid it."""
    from factory.recipe import GenerateConfig
    from factory.stages.generate import TraceGenerator

    config = GenerateConfig(
        model=str(tiny_model_dir),
        n=2,
        sampling={"max_tokens": 4},
        engine={"max_model_len": 2048, "enforce_eager": True},
    )
    generator = TraceGenerator(config)
    problems = [
        {
            "id": f"p{i}",
            "source": "s",
            "prompt": "1 + 2 = 3. " * (150 + i),
            "messages": None,
            "gold": "3",
            "tests": None,
            "domain": "math",
            "language": "en",
            "metadata": "{}",
        }
        for i in range(48)
    ]
    traces = list(generator.generate(problems))
    assert len(traces) == 96 and {t["problem_id"] for t in traces} == {p["id"] for p in problems}
    assert min(t["prompt_tokens"] for t in traces) > 1000


def test_a_recipe_chat_template_is_what_renders_the_prompts(tiny_model_dir, tmp_path):
    """generate.chat_template reaches the rendering (vLLM renders with copies of its tokenizer, so
    setting the attribute was silently ignored once) and is the template whose hash is recorded."""
    import hashlib

    from factory.recipe import GenerateConfig
    from factory.stages.generate import TraceGenerator

    template = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}[assistant] "
    generator = TraceGenerator(
        GenerateConfig(
            model=str(tiny_model_dir),
            n=1,
            chat_template=template,
            system_prompt="Be brief.",
            seed=0,
            sampling={"max_tokens": 4},
            engine={"max_model_len": 256, "enforce_eager": True},
        )
    )
    problem = {
        "id": "q",
        "prompt": "What is 2 + 2?",
        "gold": "4",
        "source": "s",
        "domain": "math",
        "language": "en",
        "tests": None,
        "metadata": "{}",
    }
    (row,) = generator.generate([problem])
    assert row["prompt_text"] == "[system] Be brief.\n[user] What is 2 + 2?\n[assistant] "
    assert row["chat_template_hash"] == hashlib.sha256(template.encode()).hexdigest()[:12]


def test_a_prompt_longer_than_the_engine_takes_fails_that_problem_only(tiny_model_dir, tmp_path):
    """One bad request used to fail its whole shard on every rerun; now it is that problem's error."""
    import pandas as pd

    import factory.run as factory_run
    from factory.recipe import parse_recipe

    src = tmp_path / "p.jsonl"
    rows = [
        {"id": "short", "problem": "What is 2 + 2?", "answer": "4"},
        {"id": "long", "problem": "1 + 2 = 3. " * 400, "answer": "3"},
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    recipe = parse_recipe(
        {
            "name": "long",
            "run_dir": str(tmp_path / "run"),
            "source": {"path": str(src), "fields": {"prompt": "problem", "gold": "answer"}},
            "generate": {
                "model": str(tiny_model_dir),
                "n": 2,
                "sampling": {"max_tokens": 4},
                "engine": {"max_model_len": 256, "enforce_eager": True},
            },
            "verify": {"math": {}},
        }
    )
    summary = factory_run.run_recipe(recipe, progress=False)
    assert summary.traces == 2 and summary.failed_problems == {"generate:prompt_too_long": 1}
    failed = pd.read_parquet(tmp_path / "run/traces_failed")
    assert list(failed.problem_id) == ["long"] and list(failed.reject_reason) == ["generate:prompt_too_long"]
    assert set(pd.read_parquet(tmp_path / "run/traces").problem_id) == {"short"}


def test_adaptive_rounds_draw_the_samples_one_request_draws_and_repetition_stops_are_named(tiny_model_dir, tmp_path):
    problems = tmp_path / "p.jsonl"
    problems.write_text(
        "".join(json.dumps({"id": f"q{i}", "problem": f"What is {i} + {i}?", "answer": "0"}) + "\n" for i in range(3))
    )

    def raw(name: str, **generate):
        return {
            "name": name,
            "run_dir": str(tmp_path / name),
            "source": {"path": str(problems), "fields": {"prompt": "problem", "gold": "answer"}},
            "generate": {
                "model": str(tiny_model_dir),
                "n": 6,
                "seed": 3,
                "sampling": {"temperature": 1.0, "max_tokens": 8},
                "engine": {"max_model_len": 512, "enforce_eager": True},
                **generate,
            },
            "verify": {"math": {}, "format": {"require_think": False}},
            "select": {"k": 1, "strategy": "first"},
        }

    run_recipe(parse_recipe(raw("fixed")), progress=False)
    # a random model never passes: the adaptive run draws all 6 in rounds of 2 (seeds seed+0, +2, +4)
    adaptive = run_recipe(parse_recipe(raw("adaptive", adaptive={"first": 2, "passes": 1})), progress=False)
    assert adaptive.cost.later_rounds == 6 and adaptive.cost.stopped == {"all_drawn": 3}
    fixed_traces, adaptive_traces = (
        pd.read_parquet(tmp_path / name / "traces").set_index("trace_id").sort_index() for name in ("fixed", "adaptive")
    )
    assert fixed_traces.completion.equals(adaptive_traces.completion)
    # greedy decoding of a random model loops: repetition_detection stops it, and format says so
    rep = {"temperature": 0.0, "max_tokens": 64, "repetition_detection": {"max_pattern_size": 4, "min_count": 3}}
    summary = run_recipe(parse_recipe(raw("repeat", n=1, sampling=rep)), progress=False)
    verified = pd.read_parquet(tmp_path / "repeat/verified")
    assert summary.finish_reasons.get("repetition", 0) > 0
    assert set(verified[verified.finish_reason == "repetition"].format_reason) == {"repetition"}
