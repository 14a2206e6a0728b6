"""What every route shares: the served model, the server's limits, the model's queue."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from ..errors import ModelitoError, ParameterError
from ..params import Policy
from .limits import MAX_BODY_BYTES, MAX_N, TooLarge, first_lone_surrogate
from .runner import RemoteRunner, Runner

DEFAULT_NEW_TOKENS = 256  # room for a whole chat answer; --max-tokens bounds it


@dataclass
class Served:
    """One server's model and settings (`app.state.served`)."""

    lm: Any
    """The model: an `LM`."""
    name: str
    """The name clients use for it (`model` in requests)."""
    runner: Runner | RemoteRunner
    """The model's scheduler: the running batch, and the queue in front of it."""
    max_tokens: int | None = None
    """The most new tokens one request may ask for (and what it gets when it does not say)."""
    classifier: Any = None
    """A `modelito.Classifier` shown next to the LLM in the page's Classify view, or None."""
    policy: Policy = field(init=False)
    """The server's defaults and limits for generation parameters, recorded as the source "server"."""

    def __post_init__(self) -> None:
        limits: dict[str, float] = {"num_return_sequences": MAX_N, "num_beams": MAX_N}
        defaults = {}
        if self.max_tokens is not None:
            limits["max_new_tokens"] = self.max_tokens
            defaults["max_new_tokens"] = min(DEFAULT_NEW_TOKENS, self.max_tokens)
        self.policy = Policy(source="server", defaults=defaults, limits=limits)

    def check_model(self, requested: Any) -> None:
        """A request may name this server's model, or none; never another (nor a path to load)."""
        if requested not in (None, "", self.name, self.lm.name):
            raise ParameterError("model", requested, f"{self.name!r}: this server serves one model and loads no other")


def served(request: Request) -> Served:
    return request.app.state.served


async def read_json(request: Request) -> dict[str, Any]:
    """The request's JSON object, or a clear 400 (413 when it is too large to read)."""
    declared = request.headers.get("content-length", "")
    too_large = f"the request body is over this server's limit of {MAX_BODY_BYTES:,} bytes"
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise TooLarge(too_large)
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise TooLarge(too_large)
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ModelitoError("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ModelitoError("the request body must be a JSON object")
    found = first_lone_surrogate(body, "body")
    if found:
        path, written = found
        raise ParameterError(path.removeprefix("body."), written, "valid Unicode text: a lone surrogate "
                             "(\\ud800 to \\udfff) encodes no character")
    return body
