"""The OpenAI-compatible endpoints: /v1/models, /v1/chat/completions, /v1/completions.

Each consumes `lm.stream(...)`, the same stream the CLI prints, through the model's queue.
"""

from __future__ import annotations

import json
from typing import Any, AsyncIterator

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from ..errors import ModelitoError, ParameterError
from ..score import score_ids
from . import openai_schema as oai
from .errors import error_json, internal_error
from .state import Served, read_json, served

router = APIRouter()


@router.get("/v1/models")
async def models(request: Request) -> dict:
    server = served(request)
    return {"object": "list", "data": [{"id": server.name, "object": "model", "created": oai.now(),
                                        "owned_by": "modelito", "max_model_len": server.lm.context_length}]}


@router.post("/v1/chat/completions")
async def chat_completions(request: Request) -> Any:
    return await _complete(request, chat=True)


@router.post("/v1/completions")
async def completions(request: Request) -> Any:
    return await _complete(request, chat=False)


async def _complete(request: Request, chat: bool) -> Any:
    server = served(request)
    body = await read_json(request)
    server.check_model(body.get("model"))
    req = oai.parse_request(body, chat)
    try:  # checked now (a mistake is a 400 at once), then queued for the running batch
        events = await server.runner.generate(request, req.prompt, policy=server.policy, **req.kwargs)
    except ParameterError as err:
        raise err.renamed(oai.api_names(body, chat).get(err.name, err.name)) from None
    prompt_score = None
    if req.echo or req.prompt_logprobs is not None:  # the prompt teacher-forced, as the model reads it
        top = max(req.top_logprobs, req.prompt_logprobs or 0)
        prompt_score = await server.runner.run(lambda: score_prompt(server.lm, req.prompt, top))
    if req.stream:
        return StreamingResponse(_chunks(server, request, req, events, chat, prompt_score),
                                 media_type="text/event-stream")
    result = None
    async for event in events:
        if isinstance(event, Exception):
            if isinstance(event, ModelitoError):
                raise event
            return internal_error(event, request.url.path)
        result = event.result or result
    if result is None:  # the client went away: nobody reads this
        return Response(status_code=499)
    return oai.completion(req, result, chat, server.name, server.lm.token_bytes, prompt_score)


async def _chunks(server: Served, request: Request, req: oai.OpenAIRequest, events, chat: bool,
                  prompt_score=None) -> AsyncIterator[str]:
    rid, created = oai.new_id("chatcmpl" if chat else "cmpl"), oai.now()
    head = {"id": rid, "object": "chat.completion.chunk" if chat else "text_completion", "created": created,
            "model": server.name}
    if req.echo:  # the prompt first, as its own chunk
        echoed = oai.echo_logprobs(prompt_score, req.top_logprobs) if req.logprobs else None
        yield sse({**head, "choices": [{"index": 0, "text": prompt_score.text, "finish_reason": None,
                                        "logprobs": echoed}]})
    started: set[int] = set()
    async for event in events:
        if isinstance(event, Exception):
            if not isinstance(event, ModelitoError):
                internal_error(event, request.url.path)  # logged; the client gets the same shape as an event
            yield sse(error_json(str(event) if isinstance(event, ModelitoError) else "internal error",
                                 kind="invalid_request_error" if isinstance(event, ModelitoError) else "server_error"))
            break
        if event.beam_step is not None:
            continue
        first = max(event.sequence, 0) not in started
        started.add(max(event.sequence, 0))
        yield sse({**head, "choices": [oai.chunk_choice(req, event, chat, first, server.lm.token_bytes)]})
        if event.result is not None and req.include_usage:
            yield sse({**head, "choices": [], "usage": oai.usage(event.result)})
    yield "data: [DONE]\n\n"


def score_prompt(lm, prompt: Any, top: int):
    """The prompt as the model reads it (a chat through its template, with the assistant's opening), scored."""
    text, ids = lm.prompt_ids(prompt)
    return score_ids(lm, text, ids, top)


def sse(data: Any) -> str:
    """One server-sent event."""
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"
