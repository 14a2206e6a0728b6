"""The HTTP server: OpenAI-compatible endpoints, modelito's own endpoints, and the playground page.

    create_app(lm) ─ Served (model, limits, the model's queue) ─┬─ openai_routes  /v1/...
                                                              ├─ page_routes    /api/..., /
                                                              ├─ static/        the page's files
                                                              └─ errors         one handler for every mistake

Requests share one model through `runner.Runner`; routes consume `lm.stream(...)`, the same stream
as the CLI; a user's mistake is a 400 in OpenAI's shape that names the field.
"""

from __future__ import annotations

import secrets
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles

from . import errors, openai_routes, page_routes
from .runner import Runner
from .state import Served


def create_app(lm: Any, *, api_key: str | None = None, max_tokens_cap: int | None = None, name: str | None = None,
               classifier: Any = None) -> FastAPI:
    """The ASGI app serving `lm`. `max_tokens_cap` bounds (and defaults) every request's new tokens;
    `classifier` (a `modelito.Classifier`) is shown next to the LLM in the page's Classify view."""
    app = FastAPI(title="modelito", docs_url=None, redoc_url=None)
    app.state.served = Served(lm=lm, name=name or lm.name, runner=Runner(), max_tokens=max_tokens_cap,
                              classifier=classifier)
    errors.install(app)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if api_key and request.url.path.startswith(("/v1", "/api")):
            given = request.headers.get("authorization", "")
            if not secrets.compare_digest(given.encode(), f"Bearer {api_key}".encode()):
                return errors.error_response(401, "a valid API key is required: Authorization: Bearer <key>",
                                             kind="authentication_error")
        try:
            return await call_next(request)
        except Exception as err:  # never a dropped connection: a last-resort 500, logged with its traceback
            return errors.internal_error(err, request.url.path)

    app.include_router(openai_routes.router)
    app.include_router(page_routes.router)
    static = resources.files("modelito.server").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    return app
