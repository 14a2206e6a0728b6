"""What each kind of remote engine takes and gives: request fields, tokenizer endpoints, log-probabilities.

Every OpenAI-compatible server answers `/v1/completions` and `/v1/chat/completions`, but each names
the sampler's parameters its own way, caps how many alternatives it returns, and gives either the
model's log-probabilities (raw) or the sampler's (processed). modelito records what came back,
unchanged, and says which it is; what an engine cannot give is absent, never invented.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Iterator

import httpx

from .errors import ModelitoError, ParameterError, shown
from .params import is_int, spec_of, stage_order

# modelito's parameter -> the request field most OpenAI-style servers read (OpenAI's own names).
OPENAI = {"temperature": "temperature", "top_p": "top_p", "max_new_tokens": "max_tokens", "stop_strings": "stop",
          "seed": "seed", "num_return_sequences": "n"}


@dataclass(frozen=True)
class Engine:
    """One kind of remote engine."""

    kind: str
    """'vllm', 'llama.cpp', 'llama-cpp-python', 'modelito' or 'openai-compatible'."""
    fields: dict[str, str]
    """modelito's parameter name -> the field the engine reads. A parameter not here is refused."""
    logprobs: str = "unknown"
    """What its log-probabilities are: 'raw' (the model's), 'processed' (the sampler's), 'exact' (modelito's
    whole trace) or 'unknown'."""
    max_logprobs: int = 20
    """The most alternatives per token it returns."""
    echo: bool = False
    """Whether `/v1/completions` with `echo` returns the prompt's log-probabilities (prompt scoring)."""
    several: bool = True
    """Whether it returns several answers (`n`)."""
    differs: dict[str, str] = field(default_factory=dict)
    """modelito's parameters that the engine has under the same name but defines otherwise: refused, with why."""
    stages: dict[str, str] = field(default_factory=dict)
    """modelito's sampler stages that the engine has, under its names, where a request can order them."""
    companions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Parameters sent with one the caller set, so that the engine reads modelito's values and not its own
    defaults (llama.cpp's DRY window is 64 tokens, modelito's the whole text)."""


# OpenAI's own penalties and bias, which vLLM and OpenAI-style servers define as OpenAI does.
OPENAI_PENALTIES = {"frequency_penalty": "frequency_penalty", "presence_penalty": "presence_penalty",
                    "logit_bias": "logit_bias"}
# llama-server keeps one window of recent tokens, prompt included, for all its penalties: its frequency and
# presence penalties are not OpenAI's (which count the answer only).
LLAMA_SERVER_PENALTIES = ("llama-server counts the prompt too (its last repeat_last_n tokens), where OpenAI's "
                          "penalty counts the answer only")

ENGINES = {
    # vLLM (vllm/entrypoints/openai/protocol.py): sampling extras as fields of the request; --max-logprobs
    # caps alternatives (default 20); --logprobs-mode says raw or processed, which a client cannot see.
    "vllm": Engine("vllm", {**OPENAI, **OPENAI_PENALTIES, "top_k": "top_k", "min_p": "min_p",
                            "repetition_penalty": "repetition_penalty", "min_new_tokens": "min_tokens"}, echo=True),
    # llama-cpp-python's server (llama_cpp/server/types.py): llama.cpp's names; n is ignored; its logprobs are
    # the model's own. Its penalties count the last 64 tokens it sampled, never the prompt (llama.py builds
    # the sampler for each answer), which is OpenAI's definition for answers up to 64 tokens and never
    # transformers' repetition penalty. It applies temperature last, after top-k, top-p and min-p.
    "llama-cpp-python": Engine("llama-cpp-python", {
        **{k: v for k, v in OPENAI.items() if k != "num_return_sequences"}, **OPENAI_PENALTIES, "top_k": "top_k",
        "min_p": "min_p", "repetition_penalty": "repeat_penalty", "min_new_tokens": "min_tokens"},
        logprobs="raw", echo=True, several=False,
        differs={"repetition_penalty": "llama-cpp-python's repeat_penalty counts only the last 64 tokens it "
                                       "generated, never the prompt, where transformers' counts the whole text",
                 "typical_p": "llama-cpp-python's server does not read typical_p from a request"}),
    # llama.cpp's own server, llama-server (tools/server/server-schema.cpp): probabilities before sampling;
    # the samplers modelito took from llama.cpp go back under their own names.
    "llama.cpp": Engine("llama.cpp", {
        **{k: v for k, v in OPENAI.items() if k != "num_return_sequences"}, "top_k": "top_k", "min_p": "min_p",
        "typical_p": "typical_p", "repetition_penalty": "repeat_penalty", "logit_bias": "logit_bias",
        **{name: name for name in ("top_n_sigma", "xtc_probability", "xtc_threshold", "dynatemp_range",
                                   "dynatemp_exponent", "dry_multiplier", "dry_base", "dry_allowed_length",
                                   "dry_penalty_last_n", "dry_sequence_breakers", "mirostat_tau", "mirostat_eta")},
        "sampler_order": "samplers"},
        logprobs="raw", several=False,
        differs={"frequency_penalty": LLAMA_SERVER_PENALTIES, "presence_penalty": LLAMA_SERVER_PENALTIES},
        # common/sampling.cpp's names; llama.cpp puts temperature last unless told, transformers before top-k.
        stages={"repetition_penalty": "penalties", "dry": "dry", "top_n_sigma": "top_n_sigma",
                "temperature": "temperature", "top_k": "top_k", "top_p": "top_p", "min_p": "min_p",
                "typical_p": "typ_p", "xtc": "xtc"},
        companions={"dry_multiplier": ("dry_base", "dry_allowed_length", "dry_penalty_last_n", "dry_sequence_breakers"),
                    "xtc_probability": ("xtc_threshold",), "dynatemp_range": ("dynatemp_exponent",),
                    "mirostat_tau": ("mirostat_eta",)}),
    "modelito": Engine("modelito", {}, logprobs="exact", max_logprobs=20),
    "openai-compatible": Engine("openai-compatible", {**OPENAI, **OPENAI_PENALTIES}),
}

# More tokens than any text an engine holds: llama.cpp's windows this long count the whole text.
WHOLE_TEXT = 1 << 17


# llama.cpp's mirostat replaces the whole chain but temperature (common/sampling.cpp): these would be dropped.
MIROSTAT_DROPS = ("repetition_penalty", "dry_multiplier", "top_n_sigma", "top_k", "top_p", "min_p", "typical_p",
                  "xtc_probability", "dynatemp_range")


def wire(engine: Engine, name: str, value: Any, context_length: int | None) -> dict[str, Any]:
    """One of modelito's (checked) parameters as the request fields the engine reads."""
    off = value == spec_of(name).default
    if name in engine.differs and not off:
        raise ParameterError(name, value, f"{shown(spec_of(name).default)} with {engine.kind}: {engine.differs[name]}")
    if name not in engine.fields:
        if name in engine.differs:
            return {}  # off, which the engine is too
        raise ParameterError(name, value, f"unset with {engine.kind}: it takes {', '.join(sorted(engine.fields))}")
    key = engine.fields[name]
    if name == "logit_bias":  # OpenAI's shape, which every engine here reads: {"token id": bias}
        return {key: {str(token): bias for token, bias in value}}
    if name == "sampler_order" and engine.stages:  # the whole chain, in modelito's order (the engine uses no other)
        return {key: [engine.stages[s] for s in stage_order(value) if s in engine.stages]}
    if engine.kind == "llama.cpp":
        whole = max(context_length or 0, WHOLE_TEXT)
        if name == "repetition_penalty":  # transformers' penalty counts the whole text, not llama.cpp's last 64
            return {key: value, "repeat_last_n": whole}
        if name == "dry_penalty_last_n":  # modelito's 0 is the whole text; llama.cpp's 0 turns DRY off
            return {key: value or whole}
        if name == "mirostat_tau":  # llama.cpp turns mirostat on by version: modelito's is v2
            return {"mirostat": 2 if value > 0 else 0, key: value}
    return {key: list(value) if isinstance(value, tuple) else value}


def refuse_combinations(engine: Engine, params: Any, sent: set[str]) -> None:
    """Parameters that each mean the same on the engine but together do not: refused, with why."""
    def given(names: tuple[str, ...]) -> list[str]:
        return [n for n in names if n in sent and getattr(params, n) != spec_of(n).default]

    if engine.kind == "llama.cpp" and given(("mirostat_tau",)):
        dropped = given(MIROSTAT_DROPS)
        if dropped:
            raise ParameterError("mirostat_tau", params.mirostat_tau, f"0 with llama.cpp while {', '.join(dropped)} "
                                 f"{'is' if len(dropped) == 1 else 'are'} set: llama.cpp's mirostat replaces every "
                                 "other sampler but temperature")
        order = stage_order(params.sampler_order)
        if order.index("mirostat") < order.index("temperature"):
            raise ParameterError("sampler_order", list(params.sampler_order), "mirostat after temperature with "
                                 "llama.cpp (it applies temperature, then mirostat)")
    if engine.kind == "llama-cpp-python" and given(("logit_bias",)) and given(("min_new_tokens",)):
        raise ParameterError("logit_bias", dict(params.logit_bias), "unset with llama-cpp-python while "
                             "min_new_tokens is set: its server then drops both (llama.py joins them with "
                             "list.extend, which returns None)")


def engine_of(models: dict[str, Any]) -> Engine:
    """Which engine answered `/v1/models` (its `owned_by`)."""
    owners = {str(m.get("owned_by", "")) for m in models.get("data", []) if isinstance(m, dict)}
    if "vllm" in owners:
        return ENGINES["vllm"]
    if "llamacpp" in owners:
        return ENGINES["llama.cpp"]
    if "modelito" in owners:
        return ENGINES["modelito"]
    if "me" in owners:  # llama-cpp-python's server says so
        return ENGINES["llama-cpp-python"]
    return ENGINES["openai-compatible"]


@dataclass(frozen=True)
class TokenLogprob:
    """One token as an engine returned it: its text, log-probability, and alternatives (text, logprob)."""

    text: str
    logprob: float
    top: tuple[tuple[str, float, int], ...]
    """(text, log-probability, token id or -1) of each alternative."""
    token_id: int = -1
    """-1: the engine did not say (llama.cpp's server says; OpenAI's shape has no ids)."""


def token_logprobs(logprobs: Any) -> list[TokenLogprob]:
    """An engine's `logprobs` object, in either shape (OpenAI chat's `content` list, or the legacy
    completions lists), as one entry per token. -9999 (OpenAI's "impossible") becomes -inf."""
    if not logprobs:
        return []
    if isinstance(logprobs, dict) and isinstance(logprobs.get("content"), list):
        return [TokenLogprob(
            text=str(e.get("token", "")), logprob=_lp(e.get("logprob")),
            top=tuple((str(t.get("token", "")), _lp(t.get("logprob")), _id(t)) for t in e.get("top_logprobs") or []),
            token_id=_id(e),
        ) for e in logprobs["content"]]
    tokens = logprobs.get("tokens") or []
    values = logprobs.get("token_logprobs") or [None] * len(tokens)
    tops = logprobs.get("top_logprobs") or [None] * len(tokens)
    return [TokenLogprob(text=str(t), logprob=_lp(v),
                         top=tuple(sorted(((str(k), _lp(x), -1) for k, x in (top or {}).items()),
                                          key=lambda kv: -kv[1])))
            for t, v, top in zip(tokens, values, tops)]


def _id(entry: dict) -> int:
    return entry["id"] if is_int(entry.get("id")) else -1


def _lp(value: Any) -> float:
    if value is None:
        return math.nan
    value = float(value)
    return -math.inf if value <= -9999.0 else value


class RemoteError(ModelitoError):
    """The remote engine could not be reached, or refused, or answered in a way modelito cannot read."""


class NoLogprobs(RemoteError):
    """The engine sent text without log-probabilities: there is no trace to show."""


class Client:
    """HTTP to one engine: JSON calls, server-sent event streams, its tokenizer endpoints, and its
    failures as one clear RemoteError that names the engine and what to do."""

    def __init__(self, root: str, api_key: str | None, timeout: float) -> None:
        self.root, self.url = root, root + "/v1"
        self.kind, self.name = "the engine", ""
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)))

    def token_ids(self, text: str) -> list[int]:
        """The engine's token ids of `text`, from its tokenizer endpoint."""
        kind = self.kind
        if kind == "llama-cpp-python":
            return list(self.call("POST", "/extras/tokenize", {"input": text})["tokens"])
        if kind == "llama.cpp":
            return list(self.call("POST", "/tokenize", {"content": text})["tokens"])
        if kind == "vllm":
            return list(self.call("POST", "/tokenize", {"model": self.name, "prompt": text,
                                                         "add_special_tokens": False})["tokens"])
        if kind == "modelito":
            return [t["id"] for t in self.call("POST", "/api/tokenize", {"text": text})["tokens"]]
        raise RemoteError(f"{self.url} ({kind}) has no tokenizer endpoint modelito knows")

    def detokenize(self, ids: list[int]) -> str:
        """The engine's text of `ids`, from its detokenizer endpoint."""
        kind = self.kind
        if kind == "llama-cpp-python":
            return self.call("POST", "/extras/detokenize", {"tokens": ids})["text"]
        if kind == "llama.cpp":
            return self.call("POST", "/detokenize", {"tokens": ids})["content"]
        if kind == "vllm":
            return self.call("POST", "/detokenize", {"model": self.name, "tokens": ids})["prompt"]
        raise RemoteError(f"{self.url} ({kind}) has no detokenizer endpoint modelito knows")

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        """A JSON request and its JSON answer; a refusal or a transport failure as a RemoteError."""
        for attempt in (1, 2):
            try:
                response = self._http.request(method, self.root + path, json=body)
                break
            except (httpx.ReadError, httpx.RemoteProtocolError) as err:
                if attempt == 2:  # the first may have met a kept-alive connection the engine had closed
                    raise self.explain(err) from None
            except httpx.TransportError as err:
                raise self.explain(err) from None
        if response.status_code >= 400:
            raise self.refused(response)
        try:
            return response.json()
        except ValueError:
            raise RemoteError(f"{self.url} answered {path} with something that is not JSON") from None

    def sse(self, path: str, body: dict) -> Iterator[dict]:
        """The data of each server-sent event, until [DONE]."""
        try:
            with self._http.stream("POST", self.root + path, json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    raise self.refused(response)
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    parsed = json.loads(data)
                    if isinstance(parsed, dict) and parsed.get("error"):
                        error = parsed["error"]
                        raise RemoteError(f"{self.kind} at {self.url} stopped with an error: "
                                          f"{error.get('message', error) if isinstance(error, dict) else error}")
                    yield parsed
                # Every engine ends a stream with [DONE]; a connection closed before it broke off.
                raise RemoteError("the connection closed before the end of the stream ([DONE])")
        except json.JSONDecodeError as err:
            raise RemoteError(f"{self.url} sent an event that is not JSON ({err})") from None

    def refused(self, response: httpx.Response) -> RemoteError:
        try:
            error = response.json().get("error")
            message = error.get("message") if isinstance(error, dict) else error or response.text
        except ValueError:
            message = response.text[:300]
        return RemoteError(f"{self.kind} at {self.url} refused the request ({response.status_code}): {message}")

    def explain(self, err: httpx.TransportError) -> RemoteError:
        if isinstance(err, httpx.TimeoutException):
            return RemoteError(f"the engine at {self.url} did not answer in time ({type(err).__name__}): it may be "
                               "busy or stuck; try again, or connect with a longer timeout")
        return RemoteError(f"cannot reach the engine at {self.url} ({err}): is it running, and is the URL right "
                           "(e.g. http://127.0.0.1:8000/v1)?")
