"""The HTTP server: OpenAI-compatible endpoints, modelito's own endpoints, and the playground page.

    create_app(lm) ─ Served (model, limits, the model's queue) ─┬─ openai_routes  /v1/...
                                                              ├─ page_routes    /api/..., /
                                                              ├─ static/        the page's files
                                                              └─ errors         one handler for every mistake

Requests share one model through `runner.Runner`; routes consume `lm.stream(...)`, the same stream
as the CLI; a user's mistake is a 400 in OpenAI's shape that names the field.
"""

from __future__ import annotations

import contextlib
import secrets
from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import errors, openai_routes, page_routes
from .runner import RemoteRunner, Runner
from .state import Served


def create_app(lm: Any, *, api_key: str | None = None, max_tokens_cap: int | None = None, name: str | None = None,
               classifier: Any = None, max_batch: int = 16, max_waiting: int = 64) -> FastAPI:
    """The ASGI app serving `lm`. `max_tokens_cap` bounds every request's new tokens; `max_batch` rows
    decode together (1: one request at a time) and `max_waiting` requests may wait for a place (then
    429); `classifier` (a `modelito.Classifier`) is shown next to the LLM in the page's Classify view."""
    # A local model gets modelito's running batch; a remote engine batches its own requests.
    runner = (RemoteRunner if lm.remote else Runner)(lm, max_batch=max_batch, max_waiting=max_waiting)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        runner.close()

    app = FastAPI(title="modelito", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.served = Served(lm=lm, name=name or lm.name, runner=runner, max_tokens=max_tokens_cap,
                              classifier=classifier)
    errors.install(app)
    app.add_middleware(Guard, api_key=api_key)
    app.include_router(openai_routes.router)
    app.include_router(page_routes.router)
    static = resources.files("modelito.server").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    return app


class Guard:
    """The API key, and a last-resort 500 for what no handler caught (logged with its traceback).

    Plain ASGI rather than `@app.middleware`, so that a request's messages reach the routes as the
    server sent them: the runner waits on them to notice a client that went away.
    """

    def __init__(self, app: ASGIApp, api_key: str | None) -> None:
        self.app, self.api_key = app, api_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        if self.api_key and path.startswith(("/v1", "/api")):
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not secrets.compare_digest(given, f"Bearer {self.api_key}".encode()):
                response = errors.error_response(401, "a valid API key is required: Authorization: Bearer <key>",
                                                 kind="authentication_error")
                return await response(scope, receive, send)
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as err:  # never a dropped connection: the same error shape, the traceback in the log
            response = errors.internal_error(err, path)
            if not started:
                await response(scope, receive, send)
