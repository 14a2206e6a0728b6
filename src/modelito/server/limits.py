"""What one request may ask of the server: bounded inputs, so that no request can hold it for long.

Each limit is named in the error that enforces it. Generation lengths are bounded by the server's
`Policy` (`--max-tokens`), prompts by the model's context; these bound everything else.
"""

from __future__ import annotations

from typing import Any

from ..errors import ModelitoError, ParameterError

MAX_BODY_BYTES = 1_000_000  # a request body; larger ones get 413 before they are read whole
MAX_TOKENIZE_CHARS = 10_000  # /api/tokenize answers ~150 bytes per token: at most a few MB
MAX_TEXT_CHARS = 100_000  # any other text field (a prompt, a message, a text to score)
MAX_MESSAGES = 200
MAX_STOP_STRINGS = 4  # as OpenAI
MAX_STOP_CHARS = 200
MAX_LABEL_CHARS = 100
MAX_INSTRUCTION_CHARS = 5_000
MAX_N = 16  # answers (or beams) of one request


class TooLarge(ModelitoError):
    """The request body is over MAX_BODY_BYTES: HTTP 413."""

    status = 413


def check_text(name: str, value: Any, limit: int = MAX_TEXT_CHARS) -> str:
    """A string field of at most `limit` characters."""
    if not isinstance(value, str):
        raise ParameterError(name, value, "a string")
    if len(value) > limit:
        raise ParameterError(name, value, f"a text of at most {limit:,} characters on this server")
    return value


def check_list(name: str, value: Any, low: int, high: int, what: str) -> list:
    if not isinstance(value, list) or not low <= len(value) <= high:
        raise ParameterError(name, value, f"a list of {low} to {high} {what}")
    return value


def check_stop(value: Any) -> None:
    """OpenAI's stop: a string or up to four, each short."""
    stops = [value] if isinstance(value, str) else value
    if isinstance(stops, list):
        check_list("stop", stops, 0, MAX_STOP_STRINGS, "stop strings")
        for stop in stops:
            check_text("stop", stop, MAX_STOP_CHARS)


def first_lone_surrogate(value: Any, path: str) -> tuple[str, str] | None:
    """The path of the first string holding a lone surrogate ('\\ud800' is valid JSON, not valid text),
    and that string with the surrogate written out."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path, value.encode("utf-8", "backslashreplace").decode("utf-8")
        return None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = first_lone_surrogate(item, f"{path}.{key}" if isinstance(value, dict) else f"{path}[{key}]")
        if found:
            return found
    return None
