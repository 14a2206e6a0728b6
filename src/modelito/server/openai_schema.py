"""OpenAI's request and response shapes, at the edge only.

A request becomes `lm.stream()` keyword arguments: every generation parameter of the schema
(`params.schema()`) is accepted under its API name (`max_tokens`, `n`, `stop`, and vLLM-style extras
such as `top_k` or `repetition_penalty`), and OpenAI's own fields are read here. Results become
completion objects; modelito's richer trace rides in a `modelito` field that OpenAI clients ignore.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from typing import Any

from ..errors import ParameterError
from ..params import is_int, is_number, schema, spec_of
from ..trace import record_json
from .limits import MAX_MESSAGES, check_stop, check_text

# OpenAI's own request fields, read one by one below.
COMMON_FIELDS = {"model", "stream", "stream_options", "logprobs", "top_logprobs", "user", "modelito",
                 "prompt_logprobs"}
CHAT_FIELDS = COMMON_FIELDS | {"messages", "max_completion_tokens"}
COMPLETION_FIELDS = COMMON_FIELDS | {"prompt", "echo", "suffix", "best_of"}
MAX_TOP_LOGPROBS = 20


@dataclass(frozen=True)
class OpenAIRequest:
    """What an OpenAI-style request asks for, checked."""

    prompt: Any
    """Chat messages, or the prompt string of a completion."""
    kwargs: dict[str, Any]
    """lm.stream() keyword arguments."""
    top_logprobs: int
    logprobs: bool
    stream: bool
    include_usage: bool
    echo: bool = False
    """Completions: the prompt comes back before the answer, with its log-probabilities when asked (vLLM's shape)."""
    prompt_logprobs: int | None = None
    """vLLM's extension: the prompt's tokens with their log-probability, rank and this many alternatives."""


def api_names(body: dict, chat: bool) -> dict[str, str]:
    """modelito's parameter names -> the request field that set them, for error messages."""
    names = {s.hf_name: s.api_name for s in schema() if s.api_name}
    if chat and body.get("max_completion_tokens") is not None:
        names["max_new_tokens"] = "max_completion_tokens"
    return names


def parse_request(body: dict, chat: bool) -> OpenAIRequest:
    """Check an OpenAI-style body and turn it into lm.stream() arguments (errors name the API field).
    The server's policy (its defaults and limits) applies when the parameters are resolved."""
    try:
        return _parse(body, chat)
    except ParameterError as err:
        raise err.renamed(api_names(body, chat).get(err.name, err.name)) from None


def _parse(body: dict, chat: bool) -> OpenAIRequest:
    fields = {s.api_name: s for s in schema() if s.api_name}
    allowed = (CHAT_FIELDS if chat else COMPLETION_FIELDS) | set(fields)
    for name in body:
        if name not in allowed:
            raise ParameterError(name, body[name], "not a field modelito accepts here")
    if not chat:
        if body.get("echo") is not None and not isinstance(body["echo"], bool):
            raise ParameterError("echo", body["echo"], "true or false")
        if body.get("suffix") is not None:
            raise ParameterError("suffix", body["suffix"], "unset (no insertion mode)")
        if body.get("best_of") not in (None, 1):
            raise ParameterError("best_of", body["best_of"], "1 or unset (use n for several answers)")
    for name in ("stream",):
        if body.get(name) is not None and not isinstance(body[name], bool):
            raise ParameterError(name, body[name], "true or false")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise ParameterError("stream_options", options, 'an object, e.g. {"include_usage": true}')

    kwargs = {spec.hf_name: body[field] for field, spec in fields.items() if body.get(field) is not None}
    # OpenAI's meanings on top of transformers': temperature 0 is greedy; any other temperature, or
    # several answers, sample (unless beams are asked for).
    temperature = kwargs.get("temperature")
    if is_number(temperature) and temperature == 0:
        del kwargs["temperature"]
        kwargs.setdefault("do_sample", False)
    elif temperature is not None:
        kwargs.setdefault("do_sample", True)
    if is_int(body.get("n")) and body["n"] != 1 and "num_beams" not in kwargs:
        kwargs.setdefault("do_sample", True)
    if not body.get("stop"):
        kwargs.pop("stop_strings", None)  # OpenAI's stop: [] or "" means none
    check_stop(body.get("stop"))
    if chat and body.get("max_completion_tokens") is not None:
        kwargs["max_new_tokens"] = body["max_completion_tokens"]

    top, logprobs = _logprobs(body, chat)
    kwargs["top_n"] = max(top, kwargs.get("top_n", spec_of("top_n").default))
    prompt_top = body.get("prompt_logprobs")  # vLLM's extension: the prompt's log-probabilities
    if prompt_top is not None:
        if not is_int(prompt_top) or not 0 <= prompt_top <= MAX_TOP_LOGPROBS:
            raise ParameterError("prompt_logprobs", prompt_top, f"an integer from 0 to {MAX_TOP_LOGPROBS}")
        if body.get("stream"):
            raise ParameterError("prompt_logprobs", prompt_top, "unset with stream: true (as in vLLM)")
    return OpenAIRequest(prompt=_prompt(body, chat), kwargs=kwargs, top_logprobs=top, logprobs=logprobs,
                         stream=bool(body.get("stream")), include_usage=bool((options or {}).get("include_usage")),
                         echo=bool(body.get("echo")) and not chat, prompt_logprobs=prompt_top)


def _logprobs(body: dict, chat: bool) -> tuple[int, bool]:
    """How many alternatives to return per token, and whether to return log-probabilities at all."""
    if not chat:
        lp = body.get("logprobs")
        if lp is None:
            return 0, False
        if not is_int(lp) or not 0 <= lp <= 5:
            raise ParameterError("logprobs", lp, "an integer from 0 to 5")
        return lp, True
    if body.get("logprobs") is not None and not isinstance(body["logprobs"], bool):
        raise ParameterError("logprobs", body["logprobs"], "true or false")
    top = body.get("top_logprobs")
    if not body.get("logprobs"):
        if top:
            raise ParameterError("top_logprobs", top, "only with logprobs: true")
        return 0, False
    top = top or 0
    if not is_int(top) or not 0 <= top <= MAX_TOP_LOGPROBS:
        raise ParameterError("top_logprobs", top, f"an integer from 0 to {MAX_TOP_LOGPROBS}")
    return top, True


def _prompt(body: dict, chat: bool) -> Any:
    if chat:
        return check_messages(body.get("messages"))
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    return check_text("prompt", prompt)


def check_messages(messages: Any) -> list[dict[str, str]]:
    """OpenAI chat messages as plain {role, content} (text parts joined; 'developer' is a system message)."""
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        raise ParameterError("messages", messages, f"a list of 1 to {MAX_MESSAGES} messages {{role, content}}")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant", "developer"):
            raise ParameterError(f"messages[{i}].role", m.get("role") if isinstance(m, dict) else m,
                                 "system, user or assistant")
        content = m.get("content")
        if isinstance(content, list):  # OpenAI's content parts: text only here
            if not all(isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
                       for p in content):
                raise ParameterError(f"messages[{i}].content", "non-text part", "text parts only")
            content = "".join(p.get("text", "") for p in content)
        check_text(f"messages[{i}].content", content)
        out.append({"role": "system" if m["role"] == "developer" else m["role"], "content": content})
    return out


# -- responses --------------------------------------------------------------------------------------

def _lp(x: float) -> float:
    return x if math.isfinite(x) else -9999.0  # OpenAI's convention for "impossible"


def token_entry(text: str, logprob: float, raw: bytes) -> dict:
    return {"token": text, "logprob": _lp(logprob), "bytes": list(raw)}


def chat_logprobs(step, top: int, token_bytes) -> dict:
    """One token in OpenAI's chat logprobs shape; `bytes` are the token's own (part of a character, maybe)."""
    entry = token_entry(step.text, step.logprob, token_bytes(step.token_id))
    entry["top_logprobs"] = [token_entry(c.text, c.logprob, token_bytes(c.token_id)) for c in step.top[:top]]
    return entry


def visible_steps(seq) -> tuple:
    """The steps whose tokens are part of the text: OpenAI leaves out the end-of-sequence token."""
    return seq.steps[:-1] if seq.finish_reason == "eos" else seq.steps


def completion_logprobs(steps, top: int) -> dict:
    offsets, at = [], 0
    for s in steps:
        offsets.append(at)
        at += len(s.text)
    return {"tokens": [s.text for s in steps], "token_logprobs": [_lp(s.logprob) for s in steps],
            "top_logprobs": [{c.text: _lp(c.logprob) for c in s.top[:top]} for s in steps], "text_offset": offsets}


def echo_logprobs(score, top: int) -> dict:
    """The prompt's tokens in completions' logprobs shape: the first has none (nothing predicts it)."""
    first = score.first_token[1]
    steps = completion_logprobs(score.steps, top)
    return {"tokens": [first, *steps["tokens"]], "token_logprobs": [None, *steps["token_logprobs"]],
            "top_logprobs": [None, *steps["top_logprobs"]],
            "text_offset": [0, *(len(first) + at for at in steps["text_offset"])]}


def join_logprobs(prompt: dict, answer: dict, shift: int) -> dict:
    """The prompt's logprobs, then the answer's (its offsets after the prompt's text): vLLM's echo."""
    return {"tokens": prompt["tokens"] + answer["tokens"],
            "token_logprobs": prompt["token_logprobs"] + answer["token_logprobs"],
            "top_logprobs": prompt["top_logprobs"] + answer["top_logprobs"],
            "text_offset": prompt["text_offset"] + [shift + at for at in answer["text_offset"]]}


def prompt_logprobs(score, top: int) -> list:
    """vLLM's prompt_logprobs: per prompt token {id: {logprob, rank, decoded_token}}, the token itself and
    the `top` most likely; the first is null."""
    out: list = [None]
    for s in score.steps:
        entry = {str(c.token_id): {"logprob": _lp(c.logprob), "rank": r + 1, "decoded_token": c.text}
                 for r, c in enumerate(s.top[:top])}
        entry[str(s.token_id)] = {"logprob": _lp(s.logprob), "rank": s.rank, "decoded_token": s.text}
        out.append(entry)
    return out


def step_json(s) -> dict:
    """One token with the sampler's probability next to the model's, after every stage, and entropy."""
    return {"token_id": s.token_id, "text": s.text, "logprob": _lp(s.logprob), "sampling_logprob": _lp(s.sampling_logprob),
            "rank": s.rank, "entropy": s.entropy, "sampling_entropy": s.sampling_entropy,
            "stages": [_lp(x) for x in s.stages],
            "top": [{"token_id": c.token_id, "text": c.text, "logprob": _lp(c.logprob),
                     "sampling_logprob": _lp(c.sampling_logprob), "stages": [_lp(x) for x in c.stages]} for c in s.top]}


def extension(result, seq) -> dict:
    """modelito's own fields for one choice: the stage names, the effective parameters, every step."""
    data = {"stage_names": list(result.stage_names), "params": result.params, "strategy": result.strategy,
            "finish_reason": seq.finish_reason, "steps": [step_json(s) for s in seq.steps],
            "random_weights": result.random_weights}
    if seq.score is not None:
        data["score"] = seq.score
    return data


def finish_reason(seq) -> str:
    return "length" if seq.finish_reason == "length" else "stop"


def usage(result) -> dict:
    u = result.usage
    return {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
            "total_tokens": u.prompt_tokens + u.completion_tokens}


def completion(request: OpenAIRequest, result, chat: bool, model: str, token_bytes, prompt_score=None) -> dict:
    """The whole answer to a non-streaming request (`prompt_score`: the prompt teacher-forced, for echo and
    prompt_logprobs)."""
    choices = []
    for i, seq in enumerate(result.sequences):
        if request.echo:
            echoed = echo_logprobs(prompt_score, request.top_logprobs) if request.logprobs else None
            logprobs = completion_logprobs(visible_steps(seq), request.top_logprobs) if request.logprobs else None
            choice = {"index": i, "text": prompt_score.text + seq.text, "finish_reason": finish_reason(seq),
                      "logprobs": join_logprobs(echoed, logprobs, len(prompt_score.text)) if logprobs else None}
        elif chat:
            logprobs = ({"content": [chat_logprobs(s, request.top_logprobs, token_bytes) for s in visible_steps(seq)]}
                        if request.logprobs else None)
            choice = {"index": i, "message": {"role": "assistant", "content": seq.text},
                      "finish_reason": finish_reason(seq), "logprobs": logprobs}
        else:
            logprobs = completion_logprobs(visible_steps(seq), request.top_logprobs) if request.logprobs else None
            choice = {"index": i, "text": seq.text, "finish_reason": finish_reason(seq), "logprobs": logprobs}
        if request.prompt_logprobs is not None:
            choice["prompt_logprobs"] = prompt_logprobs(prompt_score, request.prompt_logprobs)
        choice["modelito"] = extension(result, seq)
        choices.append(choice)
    data = {"id": new_id("chatcmpl" if chat else "cmpl"), "object": "chat.completion" if chat else "text_completion",
            "created": now(), "model": model, "choices": choices, "usage": usage(result)}
    if result.beam_tree is not None:
        data["modelito"] = {"beam_tree": record_json(result.beam_tree)}
    return data


def chunk_choice(request: OpenAIRequest, event, chat: bool, first: bool, token_bytes) -> dict:
    """One streamed event as a chunk's choice."""
    i = max(event.sequence, 0)
    if chat:
        delta: dict[str, Any] = {"content": event.text}
        if first:
            delta["role"] = "assistant"
        choice: dict[str, Any] = {"index": i, "delta": delta, "finish_reason": None, "logprobs": None}
    else:
        choice = {"index": i, "text": event.text, "finish_reason": None, "logprobs": None}
    if event.step is not None:
        if request.logprobs and event.finish_reason != "eos":  # the end token is not part of the text
            choice["logprobs"] = ({"content": [chat_logprobs(event.step, request.top_logprobs, token_bytes)]} if chat
                                  else completion_logprobs([event.step], request.top_logprobs))
        choice["modelito"] = {"step": step_json(event.step)}
    if event.finish_reason:
        choice["finish_reason"] = "length" if event.finish_reason == "length" else "stop"
    if event.result is not None:  # the last chunk: what the whole trace needs (a remote modelito reads it)
        result = event.result
        choice.setdefault("modelito", {}).update(stage_names=list(result.stage_names), params=result.params,
                                                  strategy=result.strategy)
    return choice


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def now() -> int:
    return int(time.time())

