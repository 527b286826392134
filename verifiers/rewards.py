"""The verifiers as TRL ``GRPOTrainer`` reward functions (DeepSeek-R1's rule-based rewards).

A reward function is called as ``fn(prompts=..., completions=..., completion_ids=...,
**dataset_columns, trainer_state=..., log_extra=..., log_metric=...)`` and returns one float (or
``None``: "no opinion", which TRL turns into NaN and leaves out) per completion. Completions are
plain strings or, for conversational datasets, lists of messages whose assistant content is
judged. Use them as::

    from verifiers.rewards import accuracy_reward, format_reward, language_reward, combined_reward
    GRPOTrainer(model, reward_funcs=[accuracy_reward, format_reward], ...)

or configure one: ``FormatReward(think_prefilled=True)`` when the chat template puts the opening
``<think>`` in the prompt (TRL decodes only the generated tokens, so the completion then starts
inside the think block). Every reward is a module-level function or an instance of a small
module-level class: they pickle (for process pools and Ray) and hold no state beyond their
options, so they can run in worker threads.

Dataset columns read, all optional, one value per prompt (TRL repeats them per generation):

``gold`` / ``solution`` / ``answer``  the reference answer of a math problem (first one present)
``tests``                             test cases of a code problem (``verify_code_response``)
``language``                          the target language of the reasoning (default ``"en"``)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from verifiers.configs import CodeConfig, MathConfig
from verifiers.format import check_format
from verifiers.language import DEFAULT_MAX_RUN, language_consistency

GOLD_COLUMNS = ("gold", "solution", "answer")


def completion_text(completion: Any) -> str:
    """The text to judge: a string as is, or the assistant content of a list of messages."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        return _content(completion.get("content"))
    if isinstance(completion, Sequence):
        parts = [
            _content(m.get("content"))
            for m in completion
            if isinstance(m, Mapping) and m.get("role", "assistant") == "assistant"
        ]
        return "".join(parts)
    return "" if completion is None else str(completion)


def _content(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):  # multimodal style: [{"type": "text", "text": ...}]
        return "".join(c.get("text", "") for c in content if isinstance(c, Mapping))
    return "" if content is None else str(content)


def _column(kwargs: Mapping[str, Any], names: Sequence[str], i: int) -> Any:
    for name in names:
        values = kwargs.get(name)
        if values is not None and i < len(values) and values[i] is not None and values[i] != "":
            return values[i]
    return None


def _has_tests(tests: Any) -> bool:
    if tests is None:
        return False
    try:
        return len(tests) > 0
    except TypeError:
        return True


class AccuracyReward:
    """1.0 for a correct final answer, 0.0 for a wrong one, ``None`` for a row with no reference.

    Math rows (a ``gold``/``solution``/``answer`` column) go through ``verify_math`` with
    ``math_config``; code rows (a non-empty ``tests`` column) through ``verify_code_response`` with
    ``code_config`` (default configs when None). ``partial_code_credit`` pays the share of tests
    passed instead of all-or-nothing.
    """

    __name__ = "accuracy_reward"

    def __init__(
        self,
        *,
        partial_code_credit: bool = False,
        math_config: MathConfig | None = None,
        code_config: CodeConfig | None = None,
    ) -> None:
        self.partial_code_credit = partial_code_credit
        self.math_config = math_config
        self.code_config = code_config

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        rewards: list[float | None] = []
        for i, completion in enumerate(completions):
            text = completion_text(completion)
            tests = _column(kwargs, ("tests",), i)
            if _has_tests(tests):
                from verifiers.code import verify_code_response

                v = verify_code_response(text, tests, config=self.code_config)
                rewards.append(float(v.score) if self.partial_code_credit else float(v.passed))
                continue
            gold = _column(kwargs, GOLD_COLUMNS, i)
            if gold is None:
                rewards.append(None)
                continue
            from verifiers.math import verify_math

            rewards.append(float(verify_math(text, str(gold), config=self.math_config).passed))
        return rewards


class FormatReward:
    """1.0 when the completion has the ``<think>…</think>answer`` shape (``check_format``), else 0.0."""

    __name__ = "format_reward"

    def __init__(self, *, think_prefilled: bool = False, **options: Any) -> None:
        check_format("<think>x</think>y", think_prefilled=think_prefilled, **options)  # bad options fail here
        self.think_prefilled = think_prefilled
        self.options = options

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float]:
        return [
            float(check_format(completion_text(c), think_prefilled=self.think_prefilled, **self.options).passed)
            for c in completions
        ]


class LanguageReward:
    """R1's language-consistency reward: the share of target-language words, in [0, 1].

    The target comes from the ``language`` column, else ``default_language``. ``part`` picks the
    text judged (R1 used the chain of thought: ``"reasoning"``). With ``binary=True`` the reward is
    the verdict (share at or above ``threshold`` and no long foreign run) instead of the share.
    """

    __name__ = "language_reward"

    def __init__(
        self,
        *,
        default_language: str = "en",
        part: str = "all",
        binary: bool = False,
        threshold: float = 0.9,
        max_run: int | None = DEFAULT_MAX_RUN,
        **options: Any,
    ) -> None:
        language_consistency("", default_language, threshold, max_run=max_run, part=part, **options)
        self.default_language = default_language
        self.part = part
        self.binary = binary
        self.threshold = threshold
        self.max_run = max_run
        self.options = options

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float]:
        rewards = []
        for i, c in enumerate(completions):
            target = _column(kwargs, ("language",), i) or self.default_language
            v = language_consistency(
                completion_text(c), str(target), self.threshold, max_run=self.max_run, part=self.part, **self.options
            )
            rewards.append(float(v.passed) if self.binary else float(v.score))
        return rewards


class CombinedReward:
    """The R1 sum: ``weights["accuracy"] * accuracy + weights["format"] * format + ...``.

    A row without a reference contributes no accuracy term (rather than a zero).
    """

    __name__ = "combined_reward"

    def __init__(
        self,
        weights: Mapping[str, float] | None = None,
        *,
        accuracy: AccuracyReward | None = None,
        format: FormatReward | None = None,
        language: LanguageReward | None = None,
    ) -> None:
        self.weights = {"accuracy": 1.0, "format": 1.0, "language": 1.0, **(weights or {})}
        unknown = set(self.weights) - {"accuracy", "format", "language"}
        if unknown:
            raise ValueError(f"combined_reward: unknown weight(s) {sorted(unknown)}")
        self.parts = {
            "accuracy": accuracy or AccuracyReward(),
            "format": format or FormatReward(),
            "language": language or LanguageReward(),
        }

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float]:
        total = [0.0] * len(completions)
        for name, fn in self.parts.items():
            w = self.weights[name]
            if not w:
                continue
            for i, r in enumerate(fn(completions, **kwargs)):
                if r is not None:
                    total[i] += w * r
        return total


class VerdictReward:
    """A reward from the factory's own verifier table (``verifiers.VERIFIERS``) and a recipe's
    frozen configs (``verify.math``, ``verify.format``, ...), so GRPO is rewarded by exactly the
    verdicts the data run and ``factory eval`` give.

    Each completion is judged as a trace row: ``prefill + completion`` (TRL decodes only the
    generated tokens; the factory's traces start with the prefill), the dataset's ``gold``,
    ``tests``, ``language`` and ``domain`` columns, and ``finish_reason`` "length" when the
    completion used all ``max_tokens`` without an end of sequence. ``verifiers`` are tried in order and the first
    that applies to the row judges it (accuracy: math for a row with a gold answer, code for one
    with tests); a row none applies to gets ``None``. The reward is ``verdict.score`` with
    ``graded`` (the language share R1 used), else 1.0/0.0 by ``verdict.passed``.
    """

    def __init__(
        self,
        name: str,
        verifiers: Mapping[str, Any],
        *,
        prefill: str = "",
        graded: bool = False,
        max_tokens: int | None = None,
    ) -> None:
        from verifiers import VERIFIERS

        unknown = [v for v in verifiers if v not in VERIFIERS]
        if unknown or not verifiers:
            raise ValueError(f"VerdictReward {name!r}: unknown or no verifiers {unknown or list(verifiers)}")
        self.__name__ = f"{name}_reward"  # TRL logs rewards/<__name__>/mean
        self.verifiers = dict(verifiers)
        self.prefill = prefill
        self.graded = graded
        self.max_tokens = max_tokens

    def rows(self, completions: Sequence[Any], **kwargs: Any) -> list[dict[str, Any]]:
        """The trace rows the verifiers judge, one per completion."""
        ids = kwargs.get("completion_ids") or []
        rows = []
        for i, completion in enumerate(completions):
            row = {k: _column(kwargs, (k,), i) for k in ("gold", "tests", "language", "domain", "problem_id")}
            row["completion"] = self.prefill + completion_text(completion)
            cut = self.max_tokens is not None and i < len(ids) and len(ids[i]) >= self.max_tokens
            row["finish_reason"] = "length" if cut else "stop"
            rows.append(row)
        return rows

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        from verifiers import VERIFIERS

        rows = self.rows(completions, **kwargs)
        rewards: list[float | None] = [None] * len(rows)
        for name, config in self.verifiers.items():
            verifier = VERIFIERS[name]
            todo = [i for i, r in enumerate(rows) if rewards[i] is None and verifier.applies(r, config)]
            if not todo:
                continue
            picked = [rows[i] for i in todo]
            verdicts = (
                verifier.batch(picked, config)
                if verifier.batch and len(picked) > 1
                else [verifier.one(r, config) for r in picked]
            )
            for i, v in zip(todo, verdicts, strict=True):
                rewards[i] = float(v.score) if self.graded else float(v.passed)
        return rewards


_ACCURACY = AccuracyReward()
_FORMAT = FormatReward()
_LANGUAGE = LanguageReward()
_COMBINED = CombinedReward()


def accuracy_reward(completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
    """1.0/0.0 by ``verify_math`` (``gold`` column) or ``verify_code_response`` (``tests``); None without either."""
    return _ACCURACY(completions, **kwargs)


def format_reward(completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """1.0 when ``check_format`` passes (the completion starts with ``<think>``), else 0.0."""
    return _FORMAT(completions, **kwargs)


def language_reward(completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """Share of target-language words (``language`` column, default English)."""
    return _LANGUAGE(completions, **kwargs)


def combined_reward(completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """accuracy + format + language, as R1 summed its rule-based rewards."""
    return _COMBINED(completions, **kwargs)


__all__ = [
    "AccuracyReward",
    "CombinedReward",
    "FormatReward",
    "LanguageReward",
    "VerdictReward",
    "accuracy_reward",
    "combined_reward",
    "completion_text",
    "format_reward",
    "language_reward",
]
