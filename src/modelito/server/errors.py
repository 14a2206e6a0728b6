"""Errors as HTTP answers, in one place and in OpenAI's error shape.

A user's mistake (any `ModelitoError`) is a 400 that names the field; anything else is a 500 whose
traceback goes to the server's log, never to the client. The server keeps serving either way.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ..errors import ModelitoError, ParameterError, PromptTooLongError

log = logging.getLogger("modelito.server")


def error_json(message: str, param: str | None = None, kind: str = "invalid_request_error",
               code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def error_response(status: int, message: str, param: str | None = None, kind: str = "invalid_request_error",
                   code: str | None = None) -> JSONResponse:
    return JSONResponse(error_json(message, param, kind, code), status_code=status)


def user_error_json(err: ModelitoError) -> dict[str, Any]:
    """A user's mistake in OpenAI's shape: the field it names, and context_length_exceeded for long prompts."""
    if isinstance(err, ParameterError):
        return error_json(str(err), err.name)
    if isinstance(err, PromptTooLongError):
        return error_json(str(err), "messages", code="context_length_exceeded")
    return error_json(str(err))


def install(app: FastAPI) -> None:
    """Register the handlers: user mistakes, HTTP errors, malformed requests."""

    @app.exception_handler(ModelitoError)
    async def user_error(request: Request, err: ModelitoError) -> JSONResponse:
        return JSONResponse(user_error_json(err), status_code=getattr(err, "status", 400))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException) -> JSONResponse:
        return error_response(err.status_code, str(err.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0] if err.errors() else {}
        return error_response(400, f"invalid request: {first.get('msg', 'bad body')}",
                              ".".join(map(str, first.get("loc", []))))


def internal_error(err: BaseException, where: str) -> JSONResponse:
    """The last resort: log the traceback, answer 500 in the same shape."""
    log.error("internal error in %s", where, exc_info=err)
    return error_response(500, f"internal error: {type(err).__name__} (the server's log has the details)",
                          kind="server_error")
