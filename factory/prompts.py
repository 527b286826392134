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

from factory.errors import RecipeError
from factory.recipe import FewShot, GenerateConfig

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
            raise ValueError(
                f"generate.model: {model or config.model} has no chat template; set generate.chat_template"
            )
        self.template_hash = hashlib.sha256(self.template.encode()).hexdigest()[:12]
        self.prefill = config.prefill  # what render() appends: "" when the template already adds it
        self._checked = False

    def prompt_for(self, problem: dict[str, Any]) -> tuple[str | None, list[FewShot], str]:
        """System prompt, few-shot turns and user template for the problem's domain."""
        cfg, domain = self.config, self.config.domains.get(problem.get("domain") or "")
        if domain is None:
            return cfg.system_prompt, cfg.few_shot, cfg.user_template
        return (
            cfg.system_prompt if domain.system_prompt is None else domain.system_prompt,
            cfg.few_shot if domain.few_shot is None else domain.few_shot,
            cfg.user_template if domain.user_template is None else domain.user_template,
        )

    def messages(self, problem: dict[str, Any]) -> list[dict[str, str]]:
        """The chat sent for a problem: system prompt, few-shot turns, then the problem."""
        system, few_shot, user_template = self.prompt_for(problem)
        head: list[dict[str, str]] = []
        if system:
            head.append({"role": "system", "content": system})
        for shot in few_shot:
            head += [{"role": "user", "content": shot.user}, {"role": "assistant", "content": shot.assistant}]
        if problem.get("messages"):
            chat = list(problem["messages"])
            if chat[0]["role"] == "system":  # the problem's own system prompt wins
                head = [m for m in head if m["role"] != "system"]
                return [chat[0], *head, *chat[1:]]
            return [*head, *chat]
        try:
            user = user_template.format(**problem)
        except (KeyError, IndexError) as e:
            raise ValueError(f"generate.user_template: unknown field {e} (problem {problem['id']!r})") from None
        return [*head, {"role": "user", "content": user}]

    def render(self, messages: list[dict[str, str]]) -> str:
        """The prompt text as sent: the chat under the template, then the prefill."""
        if not self._checked:
            self.check(messages)
        return self._template(messages) + self.prefill

    def _template(self, messages: list[dict[str, str]]) -> str:
        return self.tokenizer.apply_chat_template(
            messages, chat_template=self.template, tokenize=False, add_generation_prompt=True
        )

    def check(self, messages: list[dict[str, str]]) -> None:
        """Check the template on one chat of the recipe (see the module docstring)."""
        self._checked = True
        text = self._template(messages)
        prefill = self.config.prefill
        if prefill and text.endswith(prefill):
            self.prefill = ""
            log.warning(
                "generate.prefill %r: the chat template already ends the generation prompt with it; "
                "not adding it a second time (the traces still start with it)",
                prefill,
            )
        sets = [("generate.few_shot", self.config.few_shot)] + [
            (f"generate.domains.{name}.few_shot", d.few_shot) for name, d in self.config.domains.items() if d.few_shot
        ]
        for where, shots in sets:
            chat = [
                m
                for s in shots
                for m in ({"role": "user", "content": s.user}, {"role": "assistant", "content": s.assistant})
            ]
            rendered = self._template([*chat, {"role": "user", "content": "?"}])
            for i, shot in enumerate(shots):
                if shot.assistant.strip() not in rendered:
                    raise RecipeError(
                        f"{where}[{i}].assistant: the chat template does not keep this turn as written "
                        "(R1-Distill templates drop the reasoning of earlier assistant turns); put the demonstrations "
                        "in the system prompt or user turn, or set generate.chat_template"
                    )
