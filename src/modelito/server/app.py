"""The HTTP server: OpenAI-compatible endpoints, modelito's own endpoints, and the playground page.

One model is shared by all requests: generations take turns under a lock (a queue, in arrival
order), each in a worker thread, so the event loop keeps answering. A streamed generation checks
between tokens whether its client is still there; one that left stops its generation and frees its
place. Invalid requests get OpenAI's error shape with a 4xx status naming the field.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from importlib import resources
from typing import Any, AsyncIterator, Callable, Iterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException

from ..errors import ModelitoError, ParameterError, PromptTooLongError
from . import openai_schema as oai


class Busy:
    """The model's turn-taking: one generation at a time, in arrival order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.waiting = 0


def create_app(lm: Any, *, api_key: str | None = None, max_tokens_cap: int | None = None, name: str | None = None,
               classifier: Any = None):
    """The ASGI app serving `lm`. `max_tokens_cap` bounds (and defaults) every request's new tokens;
    `classifier` (a `modelito.Classifier`) is shown next to the LLM in the page's Classify view."""

    model_name = name or lm.name
    busy = Busy()
    app = FastAPI(title="modelito", docs_url=None, redoc_url=None)
    app.state.busy = busy

    def error(status: int, message: str, param: str | None = None, kind: str = "invalid_request_error"):
        return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": None}},
                            status_code=status)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if api_key and request.url.path.startswith(("/v1", "/api")):
            given = request.headers.get("authorization", "")
            if not secrets.compare_digest(given.encode(), f"Bearer {api_key}".encode()):
                return error(401, "a valid API key is required: Authorization: Bearer <key>", None,
                             "authentication_error")
        try:
            return await call_next(request)
        except Exception as err:  # never a dropped connection: a last-resort 500 in the same shape
            return error(500, f"internal error: {type(err).__name__}", None, "server_error")

    @app.exception_handler(HTTPException)
    async def http_error(request, exc):
        return error(exc.status_code, str(exc.detail), None)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request, exc):
        first = exc.errors()[0] if exc.errors() else {}
        return error(400, f"invalid request: {first.get('msg', 'bad body')}", ".".join(map(str, first.get("loc", []))))

    async def body_of(request: Request) -> dict:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ModelitoError("the request body is not valid JSON")
        if not isinstance(body, dict):
            raise ModelitoError("the request body must be a JSON object")
        return body

    def refuse(err: Exception, names: dict | None = None):
        if isinstance(err, ParameterError):
            return error(400, str(err), (names or {}).get(err.name, err.name))
        if isinstance(err, PromptTooLongError):
            return error(400, str(err), "messages", "context_length_exceeded")
        return error(400, str(err), None)

    def check_model(body: dict) -> None:
        requested = body.get("model")
        if requested not in (None, "", model_name, lm.name):
            raise ParameterError("model", requested, f"{model_name!r}: this server serves one model and loads no other")

    async def run_locked(fn: Callable[[], Any]) -> Any:
        def locked():
            with busy.lock:
                busy.waiting -= 1  # running now, no longer waiting
                return fn()

        busy.waiting += 1
        return await asyncio.to_thread(locked)

    async def stream_locked(make: Callable[[], Iterator[Any]], request: Request) -> AsyncIterator[Any]:
        """Run a generator in a worker thread under the lock; stop it when the client leaves."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        stop = threading.Event()
        done = object()

        def produce():
            with busy.lock:
                busy.waiting -= 1
                events = None
                try:
                    events = make()
                    for item in events:
                        if stop.is_set():
                            break
                        loop.call_soon_threadsafe(queue.put_nowait, item)
                except Exception as err:  # noqa: BLE001 - handed to the client as an error event
                    loop.call_soon_threadsafe(queue.put_nowait, err)
                finally:
                    if events is not None and hasattr(events, "close"):
                        events.close()
                    loop.call_soon_threadsafe(queue.put_nowait, done)

        busy.waiting += 1
        worker = loop.run_in_executor(None, produce)
        try:
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), timeout=1.0)
                except asyncio.TimeoutError:
                    if await request.is_disconnected():
                        return
                    continue
                if item is done:
                    return
                yield item
        finally:
            stop.set()
            worker.add_done_callback(lambda f: f.exception())

    def sse(data: Any) -> str:
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    # -- OpenAI ---------------------------------------------------------------------------------

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": model_name, "object": "model", "created": oai.now(),
                                           "owned_by": "modelito"}]}

    async def openai_call(request: Request, chat: bool):
        body: dict = {}
        try:
            body = await body_of(request)
            check_model(body)
            kwargs, top = oai.to_generate_kwargs(body, chat, max_tokens_cap)
            if not isinstance(body.get("stream_options") or {}, dict):
                raise ParameterError("stream_options", body["stream_options"], "an object, e.g. {\"include_usage\": true}")
            if chat:
                prompt: Any = oai.check_messages(body.get("messages"))
            else:
                prompt = body.get("prompt")
                if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
                    prompt = prompt[0]
                if not isinstance(prompt, str):
                    raise ParameterError("prompt", prompt, "a string")
            text, ids = lm.prompt_ids(prompt)
            lm.params(len(ids), **kwargs)  # validate before queueing: errors come back at once
        except (ModelitoError, ValueError) as err:
            return refuse(err, oai.openai_names(body, chat))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))  # checked to be a dict
        want_logprobs = bool(body.get("logprobs")) if chat else body.get("logprobs") is not None
        rid, created = oai.new_id("chatcmpl" if chat else "cmpl"), oai.now()
        kind = "chat.completion" if chat else "text_completion"
        if body.get("stream"):
            return StreamingResponse(stream_openai(request, prompt, kwargs, top, want_logprobs, chat, rid, created,
                                                   include_usage),
                                     media_type="text/event-stream")
        result = await run_locked(lambda: lm.generate(prompt, **kwargs))
        choices = []
        for i, seq in enumerate(result.sequences):
            if chat:
                choice = {"index": i, "message": {"role": "assistant", "content": seq.text},
                          "finish_reason": oai.finish_reason(seq),
                          "logprobs": {"content": [oai.chat_logprobs(s, top, lm.token_bytes)
                                                   for s in oai.visible_steps(seq)]}
                          if want_logprobs else None}
            else:
                choice = {"index": i, "text": seq.text, "finish_reason": oai.finish_reason(seq),
                          "logprobs": oai.completion_logprobs(oai.visible_steps(seq), top) if want_logprobs
                          else None}
            choice["modelito"] = oai.extension(result, seq)
            choices.append(choice)
        data = {"id": rid, "object": kind, "created": created, "model": model_name, "choices": choices,
                "usage": oai.usage(result)}
        if result.beam_tree is not None:
            data["modelito"] = {"beam_tree": _plain(result.beam_tree)}
        return data

    async def stream_openai(request, prompt, kwargs, top, want_logprobs, chat, rid, created, include_usage):
        kind = "chat.completion.chunk" if chat else "text_completion"
        started: set[int] = set()
        async for event in stream_locked(lambda: lm.stream(prompt, **kwargs), request):
            if isinstance(event, Exception):
                yield sse({"error": {"message": str(event), "type": "invalid_request_error", "param": None,
                                     "code": None}})
                break
            if event.beam_step is not None:
                continue
            i = max(event.sequence, 0)
            if chat:
                delta: dict[str, Any] = {"content": event.text}
                if i not in started:
                    delta["role"] = "assistant"
                    started.add(i)
                choice: dict[str, Any] = {"index": i, "delta": delta, "finish_reason": None, "logprobs": None}
            else:
                choice = {"index": i, "text": event.text, "finish_reason": None, "logprobs": None}
            if event.step is not None:
                if want_logprobs and event.finish_reason != "eos":  # the end token is not part of the text
                    choice["logprobs"] = ({"content": [oai.chat_logprobs(event.step, top, lm.token_bytes)]} if chat
                                          else oai.completion_logprobs([event.step], top))
                choice["modelito"] = {"step": oai.step_json(event.step)}
            if event.finish_reason:
                choice["finish_reason"] = "length" if event.finish_reason == "length" else "stop"
            yield sse({"id": rid, "object": kind, "created": created, "model": model_name, "choices": [choice]})
            if event.result is not None and include_usage:
                yield sse({"id": rid, "object": kind, "created": created, "model": model_name, "choices": [],
                           "usage": oai.usage(event.result)})
        yield "data: [DONE]\n\n"

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        return await openai_call(request, chat=True)

    @app.post("/v1/completions")
    async def completions(request: Request):
        return await openai_call(request, chat=False)

    # -- modelito's own endpoints, for the page ---------------------------------------------------

    @app.get("/api/card")
    async def card():
        return lm.info().to_dict()

    @app.post("/api/tokenize")
    async def tokenize(request: Request):
        try:
            body = await body_of(request)
            text = body.get("text")
            if not isinstance(text, str):
                raise ParameterError("text", text, "a string")
            return lm.tokenize(text).to_dict()
        except ModelitoError as err:
            return refuse(err)

    @app.post("/api/template")
    async def template(request: Request):
        try:
            body = await body_of(request)
            messages = oai.check_messages(body.get("messages"))
            text, ids = lm.prompt_ids(messages, add_generation_prompt=bool(body.get("add_generation_prompt", True)))
            return {"prompt": text, "tokens": lm.tokenize(text).to_dict()}
        except ModelitoError as err:
            return refuse(err)

    @app.post("/api/score")
    async def score(request: Request):
        try:
            body = await body_of(request)
            prompt = body.get("text") if body.get("messages") is None else oai.check_messages(body["messages"])
            if not isinstance(prompt, (str, list)):
                raise ParameterError("text", prompt, "a string (or messages)")
            top_n = body.get("top_n", 5)
            return (await run_locked(lambda: lm.score(prompt, top_n=top_n))).to_dict()
        except (ModelitoError, ValueError) as err:
            return refuse(err)

    @app.post("/api/compare")
    async def compare(request: Request):
        try:
            body = await body_of(request)
            settings = body.get("settings")
            if not isinstance(settings, list) or not 1 <= len(settings) <= 4:
                raise ParameterError("settings", settings, "a list of 1 to 4 parameter settings")
            prompt = _prompt_of(body)
            common = body.get("common") or {}
            if not isinstance(common, dict):
                raise ParameterError("common", common, "an object of generation parameters")
            for setting in [common, *settings]:
                _check_cap(setting, max_tokens_cap)
            if max_tokens_cap is not None:
                common.setdefault("max_new_tokens", max_tokens_cap)
            lm.prompt_ids(prompt)
            return (await run_locked(lambda: lm.compare(prompt, settings=settings, **common))).to_dict()
        except ModelitoError as err:
            return refuse(err)

    @app.post("/api/generate")
    async def generate(request: Request):
        """modelito's own stream: every token with its whole trace, beam steps, then the result."""
        try:
            body = await body_of(request)
            prompt = _prompt_of(body)
            kwargs = body.get("params") or {}
            if not isinstance(kwargs, dict):
                raise ParameterError("params", kwargs, "an object of generation parameters")
            _check_cap(kwargs, max_tokens_cap)
            if max_tokens_cap is not None:
                kwargs.setdefault("max_new_tokens", max_tokens_cap)
            prefix = body.get("assistant_prefix") or ""
            if not isinstance(prefix, str):
                raise ParameterError("assistant_prefix", prefix, "a string: the start of the assistant's answer")
            if prefix and not isinstance(prompt, list):
                raise ParameterError("assistant_prefix", prefix, "only with messages")
            text, ids = _prompt_with_prefix(lm, prompt, prefix)
            lm.params(len(ids), **kwargs)
        except (ModelitoError, ValueError) as err:
            return refuse(err)

        async def events():
            async for event in stream_locked(lambda: _stream_ids(lm, text, ids, kwargs), request):
                if isinstance(event, Exception):
                    yield sse({"error": {"message": str(event), "type": "invalid_request_error", "param": None,
                                         "code": None}})
                    break
                yield sse(_event_json(event))
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/api/classify")
    async def classify(request: Request):
        """The LLM by label scoring and, if the server has one, the classifier: same result shape."""
        try:
            body = await body_of(request)
            text, labels = body.get("text"), body.get("labels") or ["POSITIVO", "NEGATIVO", "NEUTRAL"]
            if not isinstance(text, str) or not text.strip():
                raise ParameterError("text", text, "a non-empty string")
            if not isinstance(labels, list) or not 2 <= len(labels) <= 10:
                raise ParameterError("labels", labels, "a list of 2 to 10 labels")
            instruction = body.get("instruction")
            if instruction is not None and not isinstance(instruction, str):
                raise ParameterError("instruction", instruction, "a string with {text}")
            results = [await run_locked(lambda: lm.classify(text, labels, instruction))]
            if classifier is not None:
                results.append(await run_locked(lambda: classifier.classify(text)))
            return {"results": [r.to_dict() for r in results]}
        except ModelitoError as err:
            return refuse(err)

    @app.get("/api/status")
    async def status():
        return {"model": model_name, "busy": busy.lock.locked(), "waiting": busy.waiting,
                "random_weights": lm.random_weights}

    @app.get("/")
    async def page():
        html = resources.files("modelito.server").joinpath("static/index.html").read_text(encoding="utf-8")
        return HTMLResponse(html)

    return app


def _prompt_of(body: dict) -> Any:
    """A request's prompt: chat "messages", else a "prompt" string."""
    if "messages" in body:
        return oai.check_messages(body["messages"])
    prompt = body.get("prompt")
    if not isinstance(prompt, (str, list)):
        raise ParameterError("prompt", prompt, "a string, or messages")
    return prompt


def _check_cap(params: Any, cap: int | None) -> None:
    """A request may not ask for more tokens than the server allows."""
    if not isinstance(params, dict):
        raise ParameterError("settings", params, "objects of generation parameters")
    value = params.get("max_new_tokens")
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterError("max_new_tokens", value, "an integer >= 1")
    if cap is not None and value > cap:
        raise ParameterError("max_new_tokens", value, f"at most {cap} on this server")


def _prompt_with_prefix(lm, prompt, prefix: str) -> tuple[str, list[int]]:
    """The chat prompt, then the start of the assistant's answer (to branch from a chosen token)."""
    text, ids = lm.prompt_ids(prompt)
    if prefix:
        text += prefix
        ids = list(ids) + lm.tokenizer(prefix, add_special_tokens=False)["input_ids"]
    return text, ids


def _stream_ids(lm, text: str, ids: list[int], kwargs: dict):
    from ..generation import stream_events

    return stream_events(lm, text, ids, lm.params(len(ids), **kwargs))


def _event_json(event) -> dict:
    data: dict[str, Any] = {"sequence": event.sequence, "text": event.text, "finish_reason": event.finish_reason}
    if event.step is not None:
        data["step"] = _plain(event.step)
    if event.beam_step is not None:
        data["beam_step"] = _plain(event.beam_step)
    if event.result is not None:
        data["result"] = event.result.to_dict()
    return data


def _plain(obj) -> Any:
    from dataclasses import asdict

    from ..trace import _finite

    return _finite(asdict(obj))
