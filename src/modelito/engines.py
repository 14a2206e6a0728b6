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

from .errors import ModelitoError

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
    defaults: dict[str, Any] = field(default_factory=dict)
    """Fields always sent, to make the engine behave as modelito's parameters say."""


ENGINES = {
    # vLLM: sampling extras as fields of the request; --max-logprobs caps alternatives (default 20);
    # --logprobs-mode says raw or processed, which a client cannot see: the caller says it.
    "vllm": Engine("vllm", {**OPENAI, "top_k": "top_k", "min_p": "min_p", "repetition_penalty": "repetition_penalty",
                            "min_new_tokens": "min_tokens"}, echo=True),
    # llama-cpp-python's server: llama.cpp's names; n is ignored; its logprobs are the model's own.
    "llama-cpp-python": Engine("llama-cpp-python", {
        **{k: v for k, v in OPENAI.items() if k != "num_return_sequences"}, "top_k": "top_k", "min_p": "min_p",
        "typical_p": "typical_p", "repetition_penalty": "repeat_penalty", "min_new_tokens": "min_tokens"},
        logprobs="raw", echo=True, several=False),
    # llama.cpp's own server (llama-server): probabilities before sampling unless post_sampling_probs.
    "llama.cpp": Engine("llama.cpp", {
        **{k: v for k, v in OPENAI.items() if k != "num_return_sequences"}, "top_k": "top_k", "min_p": "min_p",
        "typical_p": "typical_p", "repetition_penalty": "repeat_penalty"}, logprobs="raw", several=False),
    "modelito": Engine("modelito", {}, logprobs="exact", max_logprobs=20),
    "openai-compatible": Engine("openai-compatible", dict(OPENAI)),
}


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
    top: tuple[tuple[str, float], ...]
    token_id: int = -1
    """-1: the engine did not say."""


def token_logprobs(logprobs: Any) -> list[TokenLogprob]:
    """An engine's `logprobs` object, in either shape (OpenAI chat's `content` list, or the legacy
    completions lists), as one entry per token. -9999 (OpenAI's "impossible") becomes -inf."""
    if not logprobs:
        return []
    if isinstance(logprobs, dict) and isinstance(logprobs.get("content"), list):
        return [TokenLogprob(
            text=str(e.get("token", "")), logprob=_lp(e.get("logprob")),
            top=tuple((str(t.get("token", "")), _lp(t.get("logprob"))) for t in e.get("top_logprobs") or []),
            token_id=e["id"] if isinstance(e.get("id"), int) else -1,
        ) for e in logprobs["content"]]
    tokens = logprobs.get("tokens") or []
    values = logprobs.get("token_logprobs") or [None] * len(tokens)
    tops = logprobs.get("top_logprobs") or [None] * len(tokens)
    return [TokenLogprob(text=str(t), logprob=_lp(v),
                         top=tuple(sorted(((str(k), _lp(x)) for k, x in (top or {}).items()), key=lambda kv: -kv[1])))
            for t, v, top in zip(tokens, values, tops)]


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
