"""OpenAI's request and response shapes, at the edge only: requests become generate() keyword
arguments, Results become completion objects. Our richer trace rides in a `modelito` field that
OpenAI clients ignore."""

from __future__ import annotations

import math
import time
import uuid
from typing import Any

from ..errors import ParameterError

# vLLM-style extra sampling fields, accepted next to OpenAI's own.
EXTRA_FIELDS = {
    "top_k": "top_k", "min_p": "min_p", "typical_p": "typical_p", "repetition_penalty": "repetition_penalty",
    "no_repeat_ngram_size": "no_repeat_ngram_size", "num_beams": "num_beams", "length_penalty": "length_penalty",
    "early_stopping": "early_stopping", "penalty_alpha": "penalty_alpha", "min_tokens": "min_new_tokens",
    "do_sample": "do_sample",
}
COMMON_FIELDS = {"model", "stream", "stream_options", "n", "seed", "stop", "max_tokens", "temperature", "top_p",
                 "logprobs", "top_logprobs", "user", "frequency_penalty", "presence_penalty", "modelito"}
CHAT_FIELDS = COMMON_FIELDS | {"messages", "max_completion_tokens"}
COMPLETION_FIELDS = COMMON_FIELDS | {"prompt", "echo", "suffix", "best_of"}
MAX_TOP_LOGPROBS = 20
MAX_N = 16  # answers (or beams) one request may ask for: one request must not hold the model for long


def openai_names(body: dict, chat: bool) -> dict[str, str]:
    """modelito's parameter names -> the OpenAI field the request used, for error messages."""
    tokens = "max_completion_tokens" if chat and body.get("max_completion_tokens") is not None else "max_tokens"
    return {"max_new_tokens": tokens, "num_return_sequences": "n", "stop_strings": "stop",
            "min_new_tokens": "min_tokens"}


def to_generate_kwargs(body: dict, chat: bool, cap: int | None) -> tuple[dict, int]:
    """The generate() keyword arguments for an OpenAI request, and how many top logprobs to return."""
    allowed = (CHAT_FIELDS if chat else COMPLETION_FIELDS) | set(EXTRA_FIELDS)
    for name in body:
        if name not in allowed:
            raise ParameterError(name, body[name], "not a field modelito accepts here")
    for name in ("frequency_penalty", "presence_penalty"):
        if body.get(name) not in (None, 0, 0.0):
            raise ParameterError(name, body[name], "0 or unset (use repetition_penalty, transformers' penalty)")
    if not chat and body.get("echo"):
        raise ParameterError("echo", body["echo"], "false (echoing the prompt is not supported)")
    if not chat and body.get("suffix") is not None:
        raise ParameterError("suffix", body["suffix"], "unset (no insertion mode)")
    kwargs: dict[str, Any] = {}
    for name, target in EXTRA_FIELDS.items():
        if body.get(name) is not None:
            kwargs[target] = body[name]
    temperature = body.get("temperature")
    if temperature is not None:
        if isinstance(temperature, (int, float)) and not isinstance(temperature, bool) and temperature == 0:
            kwargs["do_sample"] = False  # OpenAI's temperature 0: always the most likely token
        else:
            kwargs["temperature"] = temperature
            kwargs.setdefault("do_sample", True)
    if body.get("top_p") is not None:
        kwargs["top_p"] = body["top_p"]
    if body.get("seed") is not None:
        kwargs["seed"] = body["seed"]
    n = body.get("n")
    for name, value in (("n", n), ("num_beams", body.get("num_beams"))):
        if isinstance(value, int) and not isinstance(value, bool) and value > MAX_N:
            raise ParameterError(name, value, f"at most {MAX_N} on this server")
    if n is not None:
        kwargs["num_return_sequences"] = n
        if n != 1 and "num_beams" not in kwargs:
            kwargs.setdefault("do_sample", True)
    stop = body.get("stop")
    if stop:
        kwargs["stop_strings"] = stop
    max_tokens = body.get("max_completion_tokens") if chat else None
    max_tokens = max_tokens if max_tokens is not None else body.get("max_tokens")
    name = "max_completion_tokens" if chat and body.get("max_completion_tokens") is not None else "max_tokens"
    if max_tokens is not None:
        if cap is not None and isinstance(max_tokens, int) and max_tokens > cap:
            raise ParameterError(name, max_tokens, f"at most {cap} on this server")
        kwargs["max_new_tokens"] = max_tokens
    elif cap is not None:
        kwargs["max_new_tokens"] = cap
    top = 0
    if chat:
        if body.get("logprobs"):
            top = body.get("top_logprobs") or 0
        elif body.get("top_logprobs"):
            raise ParameterError("top_logprobs", body["top_logprobs"], "only with logprobs: true")
        if not isinstance(top, int) or isinstance(top, bool) or not 0 <= top <= MAX_TOP_LOGPROBS:
            raise ParameterError("top_logprobs", top, f"an integer from 0 to {MAX_TOP_LOGPROBS}")
    else:
        lp = body.get("logprobs")
        if lp is not None:
            if not isinstance(lp, int) or isinstance(lp, bool) or not 0 <= lp <= 5:
                raise ParameterError("logprobs", lp, "an integer from 0 to 5")
            top = lp
    kwargs["top_n"] = max(top, 5)
    return kwargs, top


def check_messages(messages: Any) -> list[dict[str, str]]:
    if not isinstance(messages, list) or not messages:
        raise ParameterError("messages", messages, "a non-empty list of {role, content}")
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
        if not isinstance(content, str):
            raise ParameterError(f"messages[{i}].content", content, "a string")
        out.append({"role": "system" if m["role"] == "developer" else m["role"], "content": content})
    return out


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


def step_json(s) -> dict:
    """One token with the sampler's probability next to the model's, after every stage, and entropy."""
    return {"token_id": s.token_id, "text": s.text, "logprob": _lp(s.logprob), "sampling_logprob": _lp(s.sampling_logprob),
            "rank": s.rank, "entropy": s.entropy, "stages": [_lp(x) for x in s.stages],
            "top": [{"token_id": c.token_id, "text": c.text, "logprob": _lp(c.logprob),
                     "sampling_logprob": _lp(c.sampling_logprob), "stages": [_lp(x) for x in c.stages]} for c in s.top]}


def extension(result, seq) -> dict:
    """modelito's own fields for one choice: the stage names, the effective parameters, every step."""
    data = {"stage_names": list(result.stage_names), "params": result.params, "finish_reason": seq.finish_reason,
            "steps": [step_json(s) for s in seq.steps], "random_weights": result.random_weights}
    if seq.score is not None:
        data["score"] = seq.score
    return data


def finish_reason(seq) -> str:
    return "length" if seq.finish_reason == "length" else "stop"


def usage(result) -> dict:
    u = result.usage
    return {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
            "total_tokens": u.prompt_tokens + u.completion_tokens}


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def now() -> int:
    return int(time.time())
