"""A conversation: a list of messages rendered through the model's chat template.

The notebook built its history by concatenating prompt strings (`f"{historial} {prompt}"`), which
repeats the system message, leaves stray spaces between turns, and drifts from what the template
would write. A Conversation keeps the messages themselves and renders the whole list each time, so
the model always sees exactly what its template produces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import ModelitoError, ParameterError
from .protocols import LanguageModel
from .rendering import Viewable
from .tokens import Tokens
from .trace import Result

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class TemplateView:
    """What a chat template makes of the messages."""

    prompt: str
    """The exact text the model reads."""
    scaffolding: str
    """The same text with each message's content replaced by «…»: what the template itself adds."""
    added_system: str | None
    """A system message the template wrote although none was given (Qwen2.5 writes its own)."""


class Conversation(Viewable):
    """Messages with a system message, user and assistant turns; grows by appending messages."""

    def __init__(self, lm: LanguageModel, system: str | None = None, messages: list[dict[str, str]] | None = None) -> None:
        if not lm.can_chat:
            raise ModelitoError(
                f"{lm.name} has no chat template: it is a base model, trained to continue text, not to take "
                "turns. Give it the beginning of a text instead: lm.generate('Caminando por la calle me encontré a')."
            )
        self.lm = lm
        self.messages: list[dict[str, str]] = []
        if system is not None:
            self.add("system", system)
        for message in messages or []:
            self.add(message["role"], message["content"])

    def add(self, role: str, content: str) -> "Conversation":
        if role not in ROLES:
            raise ParameterError("role", role, f"one of {', '.join(ROLES)}")
        if not isinstance(content, str):
            raise ParameterError("content", content, "a string")
        if role == "system" and self.messages:
            raise ParameterError("role", role, "'system' only as the first message")
        self.messages.append({"role": role, "content": content})
        return self

    def user(self, content: str) -> "Conversation":
        return self.add("user", content)

    def assistant(self, content: str) -> "Conversation":
        return self.add("assistant", content)

    def send(self, content: str, **generation_kwargs: Any) -> Result:
        """Add a user message, generate the answer, add it to the history, return the Result.

        If generation fails (a bad parameter, say), the history is left as it was.
        """
        result = self.lm.generate([*self.messages, {"role": "user", "content": content}], **generation_kwargs)
        self.user(content).assistant(result.text)
        return result

    def reset(self) -> None:
        """Forget the turns; keep the system message."""
        self.messages = [m for m in self.messages if m["role"] == "system"]

    def prompt(self, add_generation_prompt: bool = True) -> str:
        """The exact text the model reads for this conversation."""
        return self.lm.prompt_ids(self.messages, add_generation_prompt=add_generation_prompt)[0]

    def tokens(self, add_generation_prompt: bool = True) -> Tokens:
        """The prompt's tokens, special tokens marked."""
        return self.lm.tokenize(self.prompt(add_generation_prompt))

    def template(self, add_generation_prompt: bool = True) -> TemplateView:
        """What the template adds around the messages, and any system message it writes itself."""
        prompt = self.prompt(add_generation_prompt)
        scaffolding = prompt
        for message in self.messages:
            if message["content"]:
                scaffolding = scaffolding.replace(message["content"], "«…»", 1)
        added = None
        if not any(m["role"] == "system" for m in self.messages):
            found = re.search(r"<\|im_start\|>system\n(.*?)<\|im_end\|>", prompt, re.S)
            added = found.group(1) if found else None
        return TemplateView(prompt=prompt, scaffolding=scaffolding, added_system=added)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.lm.name, "messages": [dict(m) for m in self.messages],
                "prompt": self.prompt() if self.messages else ""}

    def __len__(self) -> int:
        return len(self.messages)
