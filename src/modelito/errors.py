"""Errors a user can cause and fix. Each says what was wrong, the value, and what is allowed."""

from __future__ import annotations


class ModelitoError(Exception):
    """Base class: a mistake the user can fix. The CLI and server print it without a traceback."""


class ParameterError(ModelitoError, ValueError):
    """A generation parameter is unknown, of the wrong type, or out of range."""

    def __init__(self, name: str, value: object, allowed: str, hint: str = "") -> None:
        self.name, self.value, self.allowed, self.hint = name, value, allowed, hint
        message = f"{name}={shown(value)} is not allowed: {allowed}"
        super().__init__(f"{message}. {hint}" if hint else message)

    def renamed(self, name: str) -> "ParameterError":
        """The same error, naming the parameter as the caller called it (an API field, a flag)."""
        return ParameterError(name, self.value, self.allowed, self.hint)


class PromptTooLongError(ModelitoError, ValueError):
    """The prompt (plus the tokens asked for) does not fit in the model's context."""


class ModelLoadError(ModelitoError):
    """A model could not be found, downloaded or read."""


def shown(value: object, room: int = 120) -> str:
    """A value as an error message quotes it: its repr, shortened so that a huge input is not echoed back."""
    text = repr(value)
    if len(text) <= room:
        return text
    if isinstance(value, str):
        return f"{value[: room // 2]!r}… ({len(value):,} characters)"
    if isinstance(value, (list, tuple, dict, set)):
        return f"{text[: room // 2]}… ({len(value):,} items)"
    return text[:room] + "…"
