"""Prompt rendering: what the teacher is sent for a problem, independent of who answers.

The chat is the recipe's system prompt, its few-shot turns, then the problem (its own chat, or
``generate.user_template`` filled from its fields); it is rendered with the model's chat template
(or the recipe's ``generate.chat_template``) and the assistant prefill is appended. The
template's hash goes into every trace's provenance. Any backend's tokenizer renders it: vLLM's,
a server's model folder, or the fake backend's.

Before the first prompt is sent, :meth:`PromptRenderer.check` renders the recipe's chat and
refuses or fixes what would corrupt the data without an error anywhere else: a prefill the
template already adds (the DeepSeek-R1-Distill templates end the generation prompt with
``<think>\n``; adding ``generate.prefill: "<think>\n"`` again would show the teacher the tag
twice) is not added a second time, and few-shot assistant turns the template rewrites (the same
templates drop everything up to ``</think>`` from earlier assistant turns, so long-CoT
demonstrations would silently lose their reasoning) are refused, naming the turn.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from factory.recipe import GenerateConfig, RecipeError

log = logging.getLogger(__name__)


class PromptRenderer:
    """Renders problems into prompts with ``tokenizer``'s chat template (or the recipe's)."""

    def __init__(self, config: GenerateConfig, tokenizer: Any, model: str = "") -> None:
        self.config = config
        self.tokenizer = tokenizer
        # Passed to every apply_chat_template call, never set on the tokenizer: vLLM renders with
        # copies of it, so an attribute set here would be silently ignored.
        self.template: str | None = config.chat_template or getattr(tokenizer, "chat_template", None)
        if not self.template:
            raise ValueError(f"generate.model: {model or config.model} has no chat template; set generate.chat_template")
        self.template_hash = hashlib.sha256(self.template.encode()).hexdigest()[:12]
        self.prefill = config.prefill  # what render() appends: "" when the template already adds it
        self._checked = False

    def messages(self, problem: dict[str, Any]) -> list[dict[str, str]]:
        """The chat sent for a problem: system prompt, few-shot turns, then the problem."""
        cfg = self.config
        head: list[dict[str, str]] = []
        if cfg.system_prompt:
            head.append({"role": "system", "content": cfg.system_prompt})
        for shot in cfg.few_shot:
            head += [{"role": "user", "content": shot.user}, {"role": "assistant", "content": shot.assistant}]
        if problem.get("messages"):
            chat = list(problem["messages"])
            if chat[0]["role"] == "system":  # the problem's own system prompt wins
                head = [m for m in head if m["role"] != "system"]
                return [chat[0], *head, *chat[1:]]
            return [*head, *chat]
        try:
            user = cfg.user_template.format(**problem)
        except (KeyError, IndexError) as e:
            raise ValueError(f"generate.user_template: unknown field {e} (problem {problem['id']!r})") from None
        return [*head, {"role": "user", "content": user}]

    def render(self, messages: list[dict[str, str]]) -> str:
        """The prompt text as sent: the chat under the template, then the prefill."""
        if not self._checked:
            self.check(messages)
        return self._template(messages) + self.prefill

    def _template(self, messages: list[dict[str, str]]) -> str:
        return self.tokenizer.apply_chat_template(messages, chat_template=self.template, tokenize=False, add_generation_prompt=True)

    def check(self, messages: list[dict[str, str]]) -> None:
        """Check the template on one chat of the recipe (see the module docstring)."""
        self._checked = True
        text = self._template(messages)
        prefill = self.config.prefill
        if prefill and text.endswith(prefill):
            self.prefill = ""
            log.warning(
                "generate.prefill %r: the chat template already ends the generation prompt with it; "
                "not adding it a second time (the traces still start with it)", prefill,
            )
        for i, shot in enumerate(self.config.few_shot):
            if shot.assistant.strip() not in text:
                raise RecipeError(
                    f"generate.few_shot[{i}].assistant: the chat template does not keep this turn as written "
                    "(R1-Distill templates drop the reasoning of earlier assistant turns); put the demonstrations "
                    "in the system prompt or user turn, or set generate.chat_template"
                )
