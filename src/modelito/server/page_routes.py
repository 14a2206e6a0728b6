"""modelito's own endpoints, which the playground page uses, and the page itself.

/api/generate streams every token with its whole trace (and beam steps) from `lm.stream(...)`;
/api/params is the parameter schema with this model's defaults, from which the page builds its
controls; the rest are the look-inside calls (card, tokens, template, score, compare, classify).
"""

from __future__ import annotations

import asyncio
from functools import partial
from importlib import resources
from typing import Any, AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from ..errors import ModelitoError, ParameterError
from ..params import GROUPS, check_top_n, schema
from ..trace import record_json
from ..words import LANGS, said
from .errors import error_json, internal_error
from .openai_routes import sse
from .limits import (MAX_INSTRUCTION_CHARS, MAX_LABEL_CHARS, MAX_TOKENIZE_CHARS, check_list, check_text)
from .openai_schema import check_messages
from .state import read_json, served

router = APIRouter()

SENTIMENT = ["POSITIVO", "NEGATIVO", "NEUTRAL"]


@router.get("/", response_class=HTMLResponse)
async def page() -> str:
    return resources.files("modelito.server").joinpath("static/index.html").read_text(encoding="utf-8")


@router.get("/api/card")
async def card(request: Request) -> dict:
    """The model card, and why the model runs where it runs in both languages (the page shows its own)."""
    lm = served(request).lm
    return lm.info().to_dict() | {"why": [{lang: said(note, lang) for lang in LANGS} for note in lm.notes]}


@router.get("/api/params")
async def params(request: Request) -> dict:
    """Every generation parameter: its doc (en, es), range, API name, and this model's default and where it
    comes from (the model's generation_config, transformers, or modelito)."""
    server = served(request)
    defaults = server.lm.params(0, policy=server.policy)
    values, sources = defaults.to_dict(), defaults.sources
    out = []
    takes = server.lm.remote.fields if server.lm.remote else None
    for spec in schema():
        if spec.api_name is None or (takes is not None and spec.name not in takes and spec.name != "do_sample"):
            continue
        entry = spec.to_dict()
        # What a remote engine decides itself, modelito does not know: no value, the source says so.
        entry.update(value=None if sources[spec.name] == "engine" else values[spec.name], source=sources[spec.name])
        if spec.name in server.policy.limits:
            entry.update(high=server.policy.limits[spec.name])
        out.append(entry)
    return {"groups": list(GROUPS), "params": out, "max_tokens": server.max_tokens}


@router.get("/api/status")
async def status(request: Request) -> dict:
    server = served(request)
    return {"model": server.name, "random_weights": server.lm.random_weights, **server.runner.status()}


@router.post("/api/tokenize")
async def tokenize(request: Request) -> dict:
    body = await read_json(request)
    text = check_text("text", body.get("text"), MAX_TOKENIZE_CHARS)
    return (await asyncio.to_thread(served(request).lm.tokenize, text)).to_dict()


@router.post("/api/template")
async def template(request: Request) -> dict:
    body = await read_json(request)
    lm = served(request).lm
    messages = check_messages(body.get("messages"))
    add = bool(body.get("add_generation_prompt", True))

    def render() -> dict:
        text, _ = lm.prompt_ids(messages, add_generation_prompt=add)
        return {"prompt": text, "tokens": lm.tokenize(text).to_dict()}

    return await asyncio.to_thread(render)


@router.post("/api/score")
async def score(request: Request) -> dict:
    body = await read_json(request)
    server = served(request)
    prompt = check_text("text", body.get("text")) if body.get("messages") is None else check_messages(body["messages"])
    top_n = check_top_n(body["top_n"]) if "top_n" in body else None
    return (await server.runner.run(lambda: server.lm.score(prompt, top_n=top_n))).to_dict()


@router.post("/api/compare")
async def compare(request: Request) -> dict:
    body = await read_json(request)
    server = served(request)
    settings = check_list("settings", body.get("settings"), 1, 4, "parameter settings")
    for setting in settings:
        if not isinstance(setting, dict):
            raise ParameterError("settings", setting, "objects of generation parameters")
    common = _params_of(body, "common")
    prompt = _prompt_of(body)
    compare = partial(server.lm.compare, prompt, settings=settings, policy=server.policy, **common)
    return (await server.runner.run(compare)).to_dict()


@router.post("/api/generate")
async def generate(request: Request) -> StreamingResponse:
    """modelito's own stream: every token with its whole trace, beam steps, then the result."""
    body = await read_json(request)
    server = served(request)
    prompt = _prompt_of(body)
    prefix = body.get("prefix") or ""
    if prefix and not isinstance(prompt, list):
        raise ParameterError("prefix", prefix, "only with messages: the start of the assistant's answer")
    # Checked now (a mistake is a 400 at once), then queued for the running batch.
    events = await server.runner.generate(request, prompt, prefix=prefix, policy=server.policy,
                                          **_params_of(body, "params"))

    async def stream() -> AsyncIterator[str]:
        async for event in events:
            if isinstance(event, Exception):
                if not isinstance(event, ModelitoError):
                    internal_error(event, request.url.path)
                yield sse(error_json(str(event) if isinstance(event, ModelitoError) else "internal error"))
                break
            yield sse(_event_json(event))
        yield "data: [DONE]\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream")


@router.post("/api/lens")
async def lens(request: Request) -> dict:
    """The logit lens over a prompt (and the start of an answer, as token ids)."""
    body = await read_json(request)
    server, prompt, prefix = served(request), _prompt_of(body), _prefix_of(body)
    top_n = check_top_n(body["top_n"]) if "top_n" in body else None
    return (await server.runner.run(lambda: server.lm.lens(prompt, top_n, prefix=prefix))).to_dict()


@router.post("/api/attention")
async def attention(request: Request) -> dict:
    """One layer's attention (all its heads), so that an answer stays small: `layer` counts from 0."""
    body = await read_json(request)
    server, prompt, prefix = served(request), _prompt_of(body), _prefix_of(body)
    result = await server.runner.run(lambda: server.lm.attention(prompt, prefix=prefix))
    layers = result.weights.shape[0]
    layer = body.get("layer", layers - 1)
    if not isinstance(layer, int) or isinstance(layer, bool) or not 0 <= layer < layers:
        raise ParameterError("layer", layer, f"an integer from 0 to {layers - 1}")
    return {"model": result.model, "tokens": result.tokens.to_dict(), "layers": layers, "layer": layer,
            "weights": [[[round(float(x), 4) for x in row] for row in head] for head in result.weights[layer]]}


@router.post("/api/attribute")
async def attribute(request: Request) -> dict:
    """Which input tokens made a next token likely (gradient × input)."""
    body = await read_json(request)
    server, prompt, prefix = served(request), _prompt_of(body), _prefix_of(body)
    target = body.get("target")
    if target is not None and not isinstance(target, (int, str)):
        raise ParameterError("target", target, "a token id, a one-token text, or null")
    return (await server.runner.run(lambda: server.lm.attribute(prompt, target, prefix=prefix))).to_dict()


@router.post("/api/classify")
async def classify(request: Request) -> dict:
    """The LLM by label scoring and, if the server has one, the classifier: same result shape."""
    body = await read_json(request)
    server = served(request)
    text = check_text("text", body.get("text"))
    if not text.strip():
        raise ParameterError("text", text, "a non-empty string")
    labels = check_list("labels", body.get("labels", SENTIMENT), 2, 10, "labels")
    for label in labels:
        check_text("labels", label, MAX_LABEL_CHARS)
    instruction = body.get("instruction")
    if instruction is not None:
        check_text("instruction", instruction, MAX_INSTRUCTION_CHARS)
    results = [await server.runner.run(lambda: server.lm.classify(text, labels, instruction))]
    if server.classifier is not None:
        results.append(await server.runner.run(lambda: server.classifier.classify(text)))
    return {"results": [r.to_dict() for r in results]}


def _prompt_of(body: dict) -> Any:
    """A request's prompt: chat "messages", else a "prompt" string."""
    if "messages" in body:
        return check_messages(body["messages"])
    return check_text("prompt", body.get("prompt"))


def _prefix_of(body: dict) -> Any:
    """The start of an answer: text, or token ids (to look at a generated token in its context)."""
    prefix = body.get("prefix") or ""
    return check_text("prefix", prefix) if isinstance(prefix, str) else prefix


def _params_of(body: dict, field: str) -> dict[str, Any]:
    """An object of generation parameters (modelito's names); the server's policy bounds them."""
    given = body.get(field) or {}
    if not isinstance(given, dict):
        raise ParameterError(field, given, "an object of generation parameters")
    return given


def _event_json(event) -> dict:
    data: dict[str, Any] = {"sequence": event.sequence, "text": event.text, "finish_reason": event.finish_reason}
    if event.step is not None:
        data["step"] = record_json(event.step)
    if event.beam_step is not None:
        data["beam_step"] = record_json(event.beam_step)
    if event.result is not None:
        data["result"] = event.result.to_dict()
    return data
