"""What every route shares: the served model, the server's limits, the model's queue."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from ..errors import ModelitoError, ParameterError
from .runner import Runner


@dataclass
class Served:
    """One server's model and settings (`app.state.served`)."""

    lm: Any
    """The model: an `LM`."""
    name: str
    """The name clients use for it (`model` in requests)."""
    runner: Runner
    max_tokens: int | None = None
    """The most new tokens one request may ask for (and what it gets when it does not say)."""
    classifier: Any = None
    """A `modelito.Classifier` shown next to the LLM in the page's Classify view, or None."""

    def check_model(self, requested: Any) -> None:
        """A request may name this server's model, or none; never another (nor a path to load)."""
        if requested not in (None, "", self.name, self.lm.name):
            raise ParameterError("model", requested, f"{self.name!r}: this server serves one model and loads no other")


def served(request: Request) -> Served:
    return request.app.state.served


async def read_json(request: Request) -> dict[str, Any]:
    """The request's JSON object, or a clear 400."""
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ModelitoError("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ModelitoError("the request body must be a JSON object")
    return body
