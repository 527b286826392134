"""GRPO reward functions: values, pickling, worker threads, and two real GRPO steps on CPU."""

from __future__ import annotations

import pickle
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from verifiers.rewards import (
    AccuracyReward,
    CombinedReward,
    FormatReward,
    LanguageReward,
    accuracy_reward,
    combined_reward,
    completion_text,
    format_reward,
    language_reward,
)

RIGHT = "<think>\nWe add 2 and 3 and get five.\n</think>\nThe answer is $\\boxed{5}$."
WRONG = "<think>\nWe add 2 and 3 and get six.\n</think>\nThe answer is $\\boxed{6}$."
NO_THINK = "The answer is $\\boxed{5}$."
MIXED = "<think>\nWe add 2 and 3. 所以答案是五。\n</think>\nThe answer is $\\boxed{5}$."
ZH = "<think>\n我们把二和三相加，得到五。\n</think>\n答案是 $\\boxed{5}$。"


def chat(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def test_completion_text_reads_plain_and_conversational():
    assert completion_text(RIGHT) == RIGHT
    assert completion_text(chat(RIGHT)) == RIGHT
    assert completion_text([{"role": "assistant", "content": [{"type": "text", "text": "hi"}]}]) == "hi"


@pytest.mark.parametrize("wrap", [str, chat], ids=["plain", "conversational"])
def test_format_reward(wrap):
    assert format_reward([wrap(RIGHT), wrap(NO_THINK), wrap(RIGHT[:30])]) == [1.0, 0.0, 0.0]


def test_format_reward_with_prefilled_think():
    body = RIGHT.removeprefix("<think>")
    assert format_reward([body]) == [0.0]
    assert FormatReward(think_prefilled=True)([body, RIGHT]) == [1.0, 1.0]


@pytest.mark.parametrize("wrap", [str, chat], ids=["plain", "conversational"])
def test_accuracy_reward_math(wrap):
    completions = [wrap(RIGHT), wrap(WRONG), wrap(RIGHT)]
    assert accuracy_reward(completions, gold=["5", "5", None]) == [1.0, 0.0, None]
    assert accuracy_reward(completions, solution=["5", "6", "4"]) == [1.0, 1.0, 0.0]
    assert accuracy_reward(completions) == [None, None, None]


def test_accuracy_reward_code():
    program = "<think>\nDouble it.\n</think>\n```python\nprint(int(input()) * 2)\n```"
    tests = [{"input": "3\n", "output": "6\n"}, {"input": "5\n", "output": "10\n"}]
    wrong = program.replace("* 2", "* 3")
    assert accuracy_reward([program, wrong], tests=[tests, tests]) == [1.0, 0.0]
    half = [{"input": "3\n", "output": "9\n"}, {"input": "5\n", "output": "10\n"}]  # 9 right, 15 wrong
    assert AccuracyReward(partial_code_credit=True)([wrong], tests=[half]) == [0.5]


def test_language_reward_is_the_r1_share():
    en, mixed, zh = language_reward([RIGHT, MIXED, ZH])
    assert en == 1.0 and zh == 0.0
    assert 0.3 < mixed < 0.8
    assert language_reward([ZH, RIGHT], language=["zh", "zh"]) [0] == 1.0
    assert LanguageReward(binary=True)([RIGHT, MIXED]) == [1.0, 0.0]
    assert LanguageReward(part="answer")([MIXED]) == [1.0]


def test_combined_reward_sums_like_r1():
    kwargs = {"gold": ["5", "5", "5", None]}
    rewards = combined_reward([RIGHT, WRONG, NO_THINK, RIGHT], **kwargs)
    assert rewards == [3.0, 2.0, 2.0, 2.0]  # accuracy + format + language; no gold, no accuracy term
    weighted = CombinedReward({"language": 0.0, "format": 0.5})([RIGHT, NO_THINK], gold=["5", "5"])
    assert weighted == [1.5, 1.0]
    with pytest.raises(ValueError, match="bogus"):
        CombinedReward({"bogus": 1.0})


def test_extra_trainer_kwargs_are_ignored():
    extra = {"prompts": ["p"], "completion_ids": [[1, 2]], "trainer_state": None, "log_extra": print,
             "log_metric": print, "gold": ["5"], "language": ["en"], "problem_id": ["a"]}
    assert combined_reward([RIGHT], **extra) == [3.0]


REWARDS = [accuracy_reward, format_reward, language_reward, combined_reward, FormatReward(think_prefilled=True),
           LanguageReward(binary=True), CombinedReward({"format": 2.0}), AccuracyReward()]


@pytest.mark.parametrize("fn", REWARDS, ids=lambda f: getattr(f, "__name__", type(f).__name__))
def test_rewards_pickle_and_run_in_threads(fn):
    completions = [RIGHT, WRONG, NO_THINK, MIXED, ZH, chat(RIGHT)]
    kwargs = {"gold": ["5"] * 6, "language": ["en", "en", "en", "en", "zh", "en"]}
    expected = fn(completions, **kwargs)
    assert len(expected) == 6 and len(set(expected)) > 1  # the cases tell completions apart
    clone = pickle.loads(pickle.dumps(fn))
    assert clone(completions, **kwargs) == expected
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: clone(completions, **kwargs), range(8)))
    assert all(r == expected for r in results)


def test_bad_options_fail_at_construction():
    with pytest.raises(ValueError):
        FormatReward(bogus=True)
    with pytest.raises(ValueError):
        LanguageReward(default_language="xx")


# --- two GRPO steps on a tiny random model ---------------------------------------------------

CHATML = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _build_tiny_model(path: Path) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    corpus = [RIGHT, WRONG, ZH, MIXED, "What is 2 + 3? Answer with a number.", "user assistant system"] * 20
    tok.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=300, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                        chat_template=CHATML)
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=256,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                         bos_token_id=None, tie_word_embeddings=True)
    Qwen2ForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny_model(request, tmp_path_factory) -> Path:
    """The suite's shared tiny model when conftest provides one, else one built here."""
    try:
        return Path(request.getfixturevalue("tiny_model_dir"))
    except pytest.FixtureLookupError:
        return _build_tiny_model(tmp_path_factory.mktemp("tiny_model"))


@pytest.mark.slow
def test_two_grpo_steps_on_cpu(tiny_model, tmp_path):
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    dataset = Dataset.from_list([
        {"prompt": [{"role": "user", "content": "What is 2 + 3?"}], "gold": "5", "language": "en"},
        {"prompt": [{"role": "user", "content": "二加三等于几？"}], "gold": "5", "language": "zh"},
    ])
    args = GRPOConfig(
        output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=4, num_generations=4,
        max_completion_length=16, learning_rate=1e-2, beta=0.0, use_vllm=False, use_cpu=True,
        report_to="none", save_strategy="no", logging_steps=1, bf16=False, temperature=1.0,
        dataloader_num_workers=0, seed=0,
    )
    trainer = GRPOTrainer(
        model=model, processing_class=tokenizer, args=args, train_dataset=dataset,
        # text_length only makes sure that a random model's completions differ in reward, so that
        # some advantage is non-zero and the weights move; the verifier rewards are checked below
        reward_funcs=[accuracy_reward, format_reward, language_reward, combined_reward, text_length],
    )
    trainer.train()

    assert trainer.state.global_step == 2
    steps = [e for e in trainer.state.log_history if "rewards/combined_reward/mean" in e]
    assert len(steps) == 2
    for e in steps:
        parts = [e[f"rewards/{name}/mean"] for name in ("accuracy_reward", "format_reward", "language_reward")]
        # a reward the trainer called without the gold column would log NaN (None) accuracy
        assert all(0.0 <= p <= 1.0 for p in parts), e
        assert e["rewards/combined_reward/mean"] == pytest.approx(sum(parts), abs=1e-5), e
    changed = [k for k, v in model.named_parameters() if not torch.equal(v.detach(), before[k])]
    assert changed


def text_length(completions, **kwargs):
    """A test-only reward that always tells a random model's completions apart."""
    return [len(completion_text(c)) / 100 for c in completions]
