"""Remote engines: the same calls as a local `LM`, on a model that vLLM, llama.cpp or any
OpenAI-compatible server runs, where the engine allows them.

    connect(url) ─ GET /v1/models: which engine, which model ─▶ RemoteLM
    RemoteLM.stream(prompt, **kwargs) ─ parameters checked by modelito, sent under the engine's names
        ─▶ POST /v1/chat/completions (messages: the engine renders its own chat template) or
           /v1/completions (text), streamed, with logprobs ─▶ Events with Steps: what came back, unchanged

A remote trace holds the chosen token's log-probability and the alternatives the engine returned,
labelled raw (the model's), processed (the sampler's) or unknown; the stage table, the other
distribution and the entropy over the vocabulary are absent (NaN), never invented. modelito's own
server is the exception: it sends its whole trace, which arrives whole.
"""

from __future__ import annotations

import json
import math
import urllib.parse
from dataclasses import asdict, dataclass, replace
from typing import Any, Iterator, Sequence

import httpx

from .engines import (Client, Engine, NoLogprobs, RemoteError, TokenLogprob, engine_of, refuse_combinations,
                      token_logprobs, wire)
from .errors import ParameterError
from .generation import Clock
from .merge import resolve
from .params import Policy, schema, spec_of
from .protocols import Prompt
from .rendering import Viewable
from .score import Score
from .words import Phrase
from .tokens import Token, Tokens
from .trace import Candidate, Event, Result, Sequence as Seq, Step, Usage

NAN = math.nan
ENGINE = "engine"  # the source of a value the engine decides (its own default)
INTERNALS = ("a remote engine does not expose its internals (hidden states, attention, gradients): the logit lens, "
             "attention and attribution work on local models")


@dataclass(frozen=True)
class RemoteCard(Viewable):
    """What a remote engine says about the model it serves."""

    name: str
    url: str
    engine: str
    context_length: int | None
    logprobs: str
    """'raw', 'processed', 'exact' or 'unknown'."""
    takes: tuple[str, ...]
    """The generation parameters modelito can send it."""
    served: dict[str, Any]
    """Its `/v1/models` entry, as it gave it."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def connect(base_url: str, model: str | None = None, api_key: str | None = None, *, logprobs: str | None = None,
            timeout: float = 120.0) -> "RemoteLM":
    """A remote engine behind an OpenAI-compatible URL (`http://host:8000/v1`), as an LM.

    `model`: the name it serves (default: the one after `#` in the URL, else the only one it serves).
    `logprobs`: 'raw' or 'processed' when you know how the engine computes them (vLLM's
    `--logprobs-mode`); by default what is known of the engine, else 'unknown'.

    >>> remote = connect("http://127.0.0.1:8000/v1")  # doctest: +SKIP
    >>> remote.generate([{"role": "user", "content": "Hola"}], max_new_tokens=20).steps[0].logprob  # doctest: +SKIP
    """
    url, _, fragment = base_url.partition("#")
    return RemoteLM(url, model or urllib.parse.unquote(fragment) or None, api_key, logprobs=logprobs,
                    timeout=timeout)


def is_url(name: str) -> bool:
    return name.startswith(("http://", "https://"))


class RemoteLM:
    """A model served by a remote engine, with `LM`'s calls where the engine allows them."""

    random_weights = False
    tokenizer = None
    can_chat = True  # the engine applies its own chat template

    def __init__(self, base_url: str, model: str | None, api_key: str | None, *, logprobs: str | None,
                 timeout: float) -> None:
        root = base_url.rstrip("/")
        self.client = Client(root[: -len("/v1")] if root.endswith("/v1") else root, api_key, timeout)
        self.url = self.client.url
        models = self.client.call("GET", "/v1/models")
        found = engine_of(models)
        served = [m for m in models.get("data", []) if isinstance(m, dict)]
        names = [str(m.get("id")) for m in served]
        if model is None and len(names) != 1:
            raise RemoteError(f"{self.url} serves {len(names)} models ({', '.join(names) or 'none'}): say which, "
                              f"as connect(url, model=...) or after '#' in the URL ({self.url}#{names[0] if names else 'NAME'})")
        if model is not None and model not in names:
            raise RemoteError(f"{self.url} does not serve {model!r}: it serves {', '.join(names) or 'no model'}")
        self.name = model or names[0]
        self.served = next(m for m in served if str(m.get("id")) == self.name)
        if found.kind == "modelito":
            found = replace(found, fields={s.hf_name: s.api_name for s in schema() if s.api_name})
        if logprobs is not None:
            if logprobs not in ("raw", "processed", "unknown"):
                raise ParameterError("logprobs", logprobs, "'raw', 'processed' or 'unknown'")
            found = replace(found, logprobs=logprobs)
        self.remote: Engine = found
        self.client.kind, self.client.name = found.kind, self.name
        self.notes = (Phrase("remote", kind=found.kind, url=self.url, logprobs=found.logprobs),)
        self._texts: dict[int, str] = {}

    def __repr__(self) -> str:
        return f"RemoteLM({self.name!r}, {self.remote.kind} at {self.url}, logprobs {self.remote.logprobs})"

    # -- what the engine says -----------------------------------------------------------------

    @property
    def context_length(self) -> int | None:
        value = self.served.get("max_model_len") or self.served.get("meta", {}).get("n_ctx_train")
        return value if isinstance(value, int) else None

    def info(self) -> RemoteCard:
        return RemoteCard(name=self.name, url=self.url, engine=self.remote.kind, context_length=self.context_length,
                          logprobs=self.remote.logprobs, takes=tuple(sorted(self.remote.fields)), served=self.served)

    def tokenize(self, text: str, *, add_special_tokens: bool = False) -> Tokens:
        """The engine's own tokens of `text` (ids from its tokenizer endpoint, each token's text from its
        detokenizer)."""
        kind = self.remote.kind
        if kind == "modelito":
            data = self.client.call("POST", "/api/tokenize", {"text": text})
            return Tokens(text=data["text"], tokenizer=self.name, tokens=tuple(Token(**t) for t in data["tokens"]))
        ids = self.client.token_ids(text)
        if not add_special_tokens and kind == "llama-cpp-python":
            ids = ids[1:] if ids and ids[:1] == self.client.token_ids("")[:1] else ids  # it always adds BOS
        tokens, at = [], 0
        for token in ids:
            piece = self.token_text(token)
            found = text.find(piece.strip() or piece, at) if piece else -1
            start = found if found >= 0 else at
            tokens.append(Token(id=token, piece=piece, text=piece, start=start, end=start + len(piece.strip() or piece)
                                if found >= 0 else at, special=False))
            at = tokens[-1].end
        return Tokens(text=text, tokenizer=f"{self.name} ({kind})", tokens=tuple(tokens))

    def token_text(self, token_id: int) -> str:
        if token_id not in self._texts:
            self._texts[token_id] = self.client.detokenize([token_id])
        return self._texts[token_id]

    def prompt_ids(self, prompt: Prompt, add_generation_prompt: bool = True,
                   prefix: str | Sequence[int] = "") -> tuple[str, list[int]]:
        if prefix:
            raise ParameterError("prefix", prefix, "empty with a remote engine (it continues only its own prompts)")
        if not isinstance(prompt, str):
            raise RemoteError(f"{self.remote.kind} renders the chat template itself: modelito cannot show the exact "
                              "prompt it builds (ask its tokenizer endpoint, or give a text prompt)")
        return prompt, self.client.token_ids(prompt)

    def params(self, prompt_length: int = 0, *, policy: Policy | None = None, **generation_kwargs: Any):
        """The parameters checked by modelito's rules; what nobody set is the engine's to decide (source "engine")."""
        params = resolve(generation_kwargs, None, prompt_length=prompt_length, context_length=self.context_length,
                         policy=policy)
        sources = {name: source if source in ("user", getattr(policy, "source", None)) else ENGINE
                   for name, source in params.sources.items()}
        for lead, companions in self.remote.companions.items():  # sent with their lead: modelito's values
            if sources.get(lead) != ENGINE:
                sources.update({c: "default" for c in companions if sources.get(c) == ENGINE})
        return replace(params, sources=sources)

    # -- generation ---------------------------------------------------------------------------

    def stream(self, prompt: Prompt | None = None, *, prefix: str | Sequence[int] = "", policy: Policy | None = None,
               **generation_kwargs: Any) -> Iterator[Event]:
        """Generate on the engine, yielding an Event per token as it arrives; the last carries the Result.
        A stream that breaks keeps what arrived, and its Result says where it stopped."""
        if prompt is None:
            raise ParameterError("prompt", None, "the prompt as text, or a list of chat messages")
        if prefix:
            raise ParameterError("prefix", prefix, "empty with a remote engine (it continues only its own prompts)")
        chat = not isinstance(prompt, str)
        params = self.params(0, policy=policy, **generation_kwargs)
        return self._events(chat, prompt, self.request_body(prompt, params), params)

    def generate(self, prompt: Prompt | None = None, **kwargs: Any) -> Result:
        result = None
        for event in self.stream(prompt, **kwargs):
            result = event.result or result
        assert result is not None
        return result

    def compare(self, *args: Any, **kwargs: Any):
        raise RemoteError("comparisons score every text under every setting with the model's forward pass: "
                          "local models only")

    def classify(self, *args: Any, **kwargs: Any):
        raise RemoteError("label scoring needs the model's forward pass over each label: local models only")

    def lens(self, *args: Any, **kwargs: Any):
        raise RemoteError(INTERNALS)

    attention = attribute = lens

    def chat(self, system: str | None = None):
        from .chat import Conversation

        return Conversation(self, system=system)

    def score(self, prompt: Prompt, top_n: int | None = None) -> Score:
        """The prompt's log-probabilities as the engine gives them (`echo`), where it does."""
        if not isinstance(prompt, str):
            raise RemoteError("scoring a remote engine takes a text: it renders chat templates itself")
        top = spec_of("top_n").default if top_n is None else top_n
        if self.remote.kind == "modelito":
            return score_from_json(self.client.call("POST", "/api/score", {"text": prompt, "top_n": top}))
        if not self.remote.echo:
            raise RemoteError(f"{self.remote.kind} does not return a prompt's log-probabilities (no echo): score "
                              "with vLLM, llama-cpp-python's server, or a local model")
        if self.remote.kind == "llama-cpp-python" and not self.client.token_ids(""):
            raise RemoteError("llama-cpp-python's echo log-probabilities are shifted by one token for models "
                              "without a beginning-of-sequence token (like this one): modelito does not show "
                              "wrong numbers. Score it locally, or on vLLM")
        data = self.client.call("POST", "/v1/completions", {"model": self.name, "prompt": prompt, "max_tokens": 1,
                                                      "echo": True, "logprobs": min(top, self.remote.max_logprobs),
                                                      "temperature": 0})
        entries = token_logprobs(data["choices"][0].get("logprobs"))
        # The echo is the prompt's tokens, then the one token asked for (usage says how many came).
        generated = int((data.get("usage") or {}).get("completion_tokens", 1))
        scored = entries[: len(entries) - generated]
        if not scored or not math.isnan(scored[0].logprob) or len(scored) < 2:
            raise RemoteError(f"{self.remote.kind} at {self.url} returned no prompt log-probabilities with echo")
        steps = tuple(self._step(e, i) for i, e in enumerate(scored[1:]))
        return Score(model=self.name, text=prompt, first_token=(scored[0].token_id, scored[0].text), steps=steps)

    # -- the wire -------------------------------------------------------------------------------

    def request_body(self, prompt: Prompt, params) -> dict[str, Any]:
        """What modelito sends the engine for this prompt and these (checked) parameters, under its names."""
        chat = not isinstance(prompt, str)
        if params.strategy in ("beam", "contrastive"):
            name = "num_beams" if params.strategy == "beam" else "penalty_alpha"
            raise ParameterError(name, getattr(params, name), f"the default: {params.strategy} search runs in "
                                 "modelito's own engine, on local models")
        engine = self.remote
        body: dict[str, Any] = {"model": self.name, "stream": True}
        greedy = params.sources.get("do_sample") != ENGINE and not params.do_sample
        # Greedy ignores the sampler's stages; an engine might not (llama.cpp's dynamic temperature samples).
        ignored = set(params.inactive()) if greedy and engine.kind != "modelito" else set()
        sent = {n for n, s in params.sources.items() if s != ENGINE} - ignored | {"max_new_tokens"}
        if engine.stages and not greedy and not params.mirostat_tau:
            sent.add("sampler_order")  # so that it samples in modelito's order, even its default one
        refuse_combinations(engine, params, sent)
        for name in sorted(sent):
            value = getattr(params, name)
            if name in ("do_sample", "top_n", "eos_token_ids") and engine.kind != "modelito":
                continue
            if name == "lens" and value and engine.kind != "modelito":
                raise ParameterError("lens", value, f"False with {engine.kind}: {INTERNALS}")
            body.update(wire(engine, name, value, self.context_length))
        if engine.kind != "modelito" and greedy:
            body["temperature"] = 0  # greedy, in OpenAI's words
        if params.num_return_sequences > 1 and not engine.several:
            raise ParameterError("num_return_sequences", params.num_return_sequences, f"1 with {engine.kind} "
                                 "(it returns one answer per request)")
        if params.top_n > engine.max_logprobs:
            raise ParameterError("top_n", params.top_n, f"at most {engine.max_logprobs} with {engine.kind} (the most "
                                 "alternatives it returns)")
        top = max(params.top_n, 1)  # llama-cpp-python returns chat logprobs only with top_logprobs
        if chat:
            body.update(messages=list(prompt), logprobs=True, top_logprobs=top)
        else:
            body.update(prompt=prompt, logprobs=top)
        if engine.kind in ("vllm", "modelito"):
            body["stream_options"] = {"include_usage": True}
        return body

    def _events(self, chat: bool, prompt: Prompt, body: dict, params) -> Iterator[Event]:
        clock = Clock()
        steps: dict[int, list[Step]] = {i: [] for i in range(params.num_return_sequences)}
        texts = {i: "" for i in steps}
        finish: dict[int, str] = {}
        extra: dict[str, Any] = {}
        usage: dict[str, Any] = {}
        broke = None
        path = "/v1/chat/completions" if chat else "/v1/completions"
        arrived = False
        try:
            for data in self.client.sse(path, body):
                arrived = True
                usage = data.get("usage") or usage
                for choice in data.get("choices") or []:
                    i = int(choice.get("index", 0))
                    ext = choice.get("modelito") or {}
                    extra.update({k: v for k, v in ext.items() if k != "step"})
                    text = (choice.get("delta") or {}).get("content") if chat else choice.get("text")
                    new = [step_from_json(ext["step"], len(steps[i]))] if "step" in ext else [
                        self._step(e, len(steps[i]) + k) for k, e in enumerate(token_logprobs(choice.get("logprobs")))]
                    if text and not new:
                        raise NoLogprobs(f"{self.remote.kind} at {self.url} returned text without log-probabilities: "
                                          "modelito needs them for its trace (vLLM: --max-logprobs >= top_n)")
                    clock.tick()
                    texts[i] += text or ""
                    for k, step in enumerate(new):
                        steps[i].append(step)
                        yield Event(sequence=i, text=(text or "") if k == len(new) - 1 else "", step=step)
                    if choice.get("finish_reason"):
                        finish[i] = "length" if choice["finish_reason"] == "length" else "stop"
        except NoLogprobs:
            raise
        except (httpx.TransportError, RemoteError) as err:  # keep what arrived, say where it stopped
            if not arrived:
                self._why_empty(path, body)
            if not any(steps.values()):
                raise (self.client.explain(err) if isinstance(err, httpx.TransportError) else err) from None
            broke = f"the stream from {self.url} broke after {sum(map(len, steps.values()))} tokens: {err}"
        if not arrived:
            self._why_empty(path, body)
        sequences = [Seq(text=texts[i], token_ids=tuple(s.token_id for s in steps[i]), steps=tuple(steps[i]),
                         finish_reason=finish.get(i, "interrupted" if broke else "length")) for i in steps]
        used = clock.usage(int(usage.get("prompt_tokens") or 0), [s.steps for s in sequences])
        yield Event(sequence=len(sequences) - 1, text="", finish_reason=sequences[-1].finish_reason,
                    result=self._result(prompt, params, sequences, used, extra, broke))

    def _why_empty(self, path: str, body: dict) -> None:
        """Some engines answer a streamed request they refuse with an empty 200 (llama-cpp-python, for a
        prompt longer than its context): ask again, unstreamed, for the reason."""
        self.client.call("POST", path, {**body, "stream": False, "max_tokens": 1})
        raise RemoteError(f"{self.remote.kind} at {self.url} closed the stream without an answer")

    def _result(self, prompt: Prompt, params, sequences, usage: Usage, extra: dict, broke: str | None) -> Result:
        engine = {"kind": self.remote.kind, "url": self.url, "logprobs": self.remote.logprobs}
        warnings = (broke,) if broke else ()
        exact = self.remote.kind == "modelito" and "stage_names" in extra
        if not exact:
            warnings += (f"log-probabilities as {self.remote.kind} returned them ({self.remote.logprobs}); no stage "
                         "table, no entropy over the vocabulary: a remote engine does not give them",)
        return Result(
            model=self.name, prompt=prompt if isinstance(prompt, str) else json.dumps(list(prompt), ensure_ascii=False),
            prompt_token_ids=(), sequences=tuple(sequences), params=extra.get("params") or params.to_dict(),
            stage_names=tuple(extra.get("stage_names", ())), usage=usage,
            strategy=extra.get("strategy") or params.strategy, device=self.url, dtype="remote",
            warnings=warnings, engine=engine,
        )

    def _step(self, entry: TokenLogprob, index: int) -> Step:
        """A Step with what the engine gave, in the field its kind of log-probability belongs to."""
        processed = self.remote.logprobs == "processed"

        def split(lp: float) -> tuple[float, float]:
            return (NAN, lp) if processed else (lp, NAN)

        top = tuple(Candidate(token, text, *split(lp)) for text, lp, token in entry.top)
        rank = next((r + 1 for r, (text, _, token) in enumerate(entry.top)
                     if (token == entry.token_id if token >= 0 else text == entry.text)), 0)
        return Step(index=index, token_id=entry.token_id, text=entry.text, logprob=split(entry.logprob)[0],
                    sampling_logprob=split(entry.logprob)[1], rank=rank, entropy=NAN, sampling_entropy=NAN, top=top)


def step_from_json(data: dict, index: int) -> Step:
    """A Step of modelito's own trace, as its server sends it (-9999: impossible)."""

    def lp(x: Any) -> float:
        return -math.inf if x is None or x <= -9999.0 else float(x)

    top = tuple(Candidate(c["token_id"], c["text"], lp(c["logprob"]), lp(c["sampling_logprob"]),
                          tuple(lp(x) for x in c["stages"])) for c in data["top"])
    return Step(index=index, token_id=data["token_id"], text=data["text"], logprob=lp(data["logprob"]),
                sampling_logprob=lp(data["sampling_logprob"]), rank=data["rank"], entropy=data["entropy"],
                sampling_entropy=data.get("sampling_entropy", NAN), top=top,
                stages=tuple(lp(x) for x in data["stages"]))


def score_from_json(data: dict) -> Score:
    """A Score as modelito's server sends it."""

    def lp(x: Any) -> float:
        return -math.inf if x is None else float(x)

    steps = tuple(Step(index=s["index"], token_id=s["token_id"], text=s["text"], logprob=lp(s["logprob"]),
                       sampling_logprob=lp(s["sampling_logprob"]), rank=s["rank"], entropy=s["entropy"],
                       sampling_entropy=s["sampling_entropy"],
                       top=tuple(Candidate(c["token_id"], c["text"], lp(c["logprob"]), lp(c["sampling_logprob"]),
                                           tuple(lp(x) for x in c["stages"])) for c in s["top"]),
                       stages=tuple(lp(x) for x in s["stages"])) for s in data["steps"])
    return Score(model=data["model"], text=data["text"], first_token=tuple(data["first_token"]), steps=steps,
                 random_weights=data.get("random_weights", False))

