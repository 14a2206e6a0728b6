"""What each remote engine is sent and how its answers are read, checked against the engine's own source:
llama-cpp-python's request models (imported), llama-server's parameter table (read from the llama.cpp
source that `make test` unpacks), and vLLM's request fields (vllm/entrypoints/openai/protocol.py).

The engines here are fakes on loopback that speak each engine's protocol as its source defines it and
refuse what the real one would not read; the live llama.cpp tests are in test_remote.py."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from modelito import ParameterError
from modelito.engines import ENGINES, WHOLE_TEXT, wire
from modelito.params import spec_of
from modelito.remote import connect
from loopback import JSONHandler, Loopback
from test_remote import CONVERTER, MESSAGES, need_llama

# vLLM's ChatCompletionRequest and CompletionRequest fields (vllm/entrypoints/openai/protocol.py, at
# vllm-project/vllm@0052bed): OpenAI's own, then vLLM's sampling extras. vLLM ignores other fields with
# no more than a warning in its log, which is why a misspelt one would pass unseen.
VLLM_READS = {"messages", "prompt", "model", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs",
              "max_tokens", "n", "presence_penalty", "seed", "stop", "stream", "stream_options", "temperature",
              "top_p", "echo", "top_k", "min_p", "repetition_penalty", "length_penalty", "min_tokens",
              "prompt_logprobs", "ignore_eos"}
# What llama-server reads besides its parameter table: the OpenAI request's own fields.
LLAMA_SERVER_OPENAI = {"messages", "prompt", "model", "top_logprobs"}


def example(name: str) -> Any:
    """A value of each parameter, as modelito's checks leave it."""
    return ((7, 2.5),) if name == "logit_bias" else spec_of(name).default


def fields_sent(kind: str) -> set[str]:
    """Every request field modelito can send this engine, one parameter at a time."""
    engine = ENGINES[kind]
    return {key for name in engine.fields for key in wire(engine, name, example(name), 4096)}


def llama_server_reads() -> set[str]:
    """The parameter names (and aliases) in llama-server's table, read from llama.cpp's source."""
    need_llama()
    source = (CONVERTER / "tools" / "server" / "server-schema.cpp").read_text()
    names = set(re.findall(r'(?:field_\w+|add_alias)\("([a-z_.]+)"', source))
    assert {"top_k", "repeat_penalty", "xtc_probability", "dry_sequence_breakers", "mirostat"} <= names
    return names


def llama_sampler_names() -> set[str]:
    """The sampler names llama.cpp takes in a request's `samplers` (common/sampling.cpp)."""
    need_llama()
    source = (CONVERTER / "common" / "sampling.cpp").read_text()
    return set(re.findall(r'\{ "([a-z_]+)",\s+COMMON_SAMPLER_TYPE_', source))


def test_llama_cpp_python_reads_every_field_modelito_sends_it():
    need_llama()
    from llama_cpp.server.types import CreateChatCompletionRequest, CreateCompletionRequest

    reads = set(CreateChatCompletionRequest.model_fields) & set(CreateCompletionRequest.model_fields)
    assert fields_sent("llama-cpp-python") <= reads


def test_llama_server_reads_every_field_modelito_sends_it():
    assert fields_sent("llama.cpp") <= llama_server_reads()
    assert set(ENGINES["llama.cpp"].stages.values()) <= llama_sampler_names()


def test_vllm_reads_every_field_modelito_sends_it():
    assert fields_sent("vllm") <= VLLM_READS


# -- engines on loopback ------------------------------------------------------------------------------------

class Engine(Loopback):
    """An engine of one kind ('vllm', 'llamacpp', 'me' for llama-cpp-python, 'other') on loopback: its
    /v1/models, its tokenizer endpoints as its source defines them, and a streamed one-token answer in its
    shape. It keeps every request body, and refuses a field its kind does not read (400)."""

    def __init__(self, owned_by: str, reads: set[str] | None = None, tokenizer=None) -> None:
        self.bodies: list[dict] = []
        engine = self

        class Handler(JSONHandler):
            def do_GET(self):
                model = {"id": "m", "object": "model", "owned_by": owned_by}
                if owned_by == "vllm":
                    model["max_model_len"] = 4096
                if owned_by == "llamacpp":
                    model["meta"] = {"n_ctx_train": 4096, "n_vocab": 4096}
                self.send_json({"object": "list", "data": [model]})

            def do_POST(self):
                body = self.read_json()
                if self.path in ("/tokenize", "/detokenize"):
                    return self.tokenizer_endpoint(body)
                engine.bodies.append(body)
                unread = set(body) - reads if reads is not None else set()
                if unread:
                    return self.send_json({"error": {"message": f"unread fields {sorted(unread)}"}}, 400)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                entry = {"token": "Hola", "logprob": -0.25, "top_logprobs": [
                    {"token": "Hola", "logprob": -0.25}, {"token": "Buenas", "logprob": -1.5}]}
                if owned_by == "llamacpp":  # llama-server sends each token's id (server-task.cpp, to_json)
                    entry = {"id": 42, **entry, "top_logprobs": [{"id": 42, **entry["top_logprobs"][0]},
                                                                 {"id": 9, **entry["top_logprobs"][1]}]}
                chunk = {"choices": [{"index": 0, "delta": {"content": "Hola"}, "logprobs": {"content": [entry]},
                                      "finish_reason": "stop"}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode())

            def tokenizer_endpoint(self, body: dict):
                # llama-server (server-context.cpp): {"content"} -> {"tokens"}, {"tokens"} -> {"content"};
                # vLLM (serving_tokenization.py): {"model", "prompt"} -> {"tokens", ...}, {"model", "tokens"} ->
                # {"prompt"}.
                if owned_by == "llamacpp" and self.path == "/tokenize" and "content" in body:
                    return self.send_json({"tokens": tokenizer(body["content"], add_special_tokens=False).input_ids})
                if owned_by == "llamacpp" and self.path == "/detokenize" and "tokens" in body:
                    return self.send_json({"content": tokenizer.decode(body["tokens"])})
                if owned_by == "vllm" and self.path == "/tokenize" and {"model", "prompt"} <= set(body):
                    ids = tokenizer(body["prompt"], add_special_tokens=body.get("add_special_tokens", True)).input_ids
                    return self.send_json({"count": len(ids), "max_model_len": 4096, "tokens": ids,
                                           "token_strs": None})
                if owned_by == "vllm" and self.path == "/detokenize" and {"model", "tokens"} <= set(body):
                    return self.send_json({"prompt": tokenizer.decode(body["tokens"])})
                self.send_json({"error": {"message": f"not {owned_by}'s {self.path}: {sorted(body)}"}}, 400)

        super().__init__(Handler)


def test_llama_server_gets_llamas_own_samplers_under_their_names():
    with Engine("llamacpp", reads=llama_server_reads() | LLAMA_SERVER_OPENAI) as engine:
        remote = connect(engine.url)
        result = remote.generate(MESSAGES, do_sample=True, seed=3, xtc_probability=0.5, dry_multiplier=0.8,
                                 top_n_sigma=1.5, dynatemp_range=0.3, repetition_penalty=1.2, logit_bias={7: 2.5},
                                 max_new_tokens=4)
        body = engine.bodies[-1]
        assert {k: body[k] for k in ("xtc_probability", "dry_multiplier", "top_n_sigma", "dynatemp_range",
                                     "repeat_penalty", "seed")} == {
            "xtc_probability": 0.5, "dry_multiplier": 0.8, "top_n_sigma": 1.5, "dynatemp_range": 0.3,
            "repeat_penalty": 1.2, "seed": 3}
        # What the caller left alone goes with what it set, at modelito's values, so that llama.cpp's own
        # defaults do not stand in: its DRY window is 64 tokens where modelito's 0 is the whole text (and
        # llama.cpp's 0 turns DRY off); its penalties count the last 64 tokens unless told otherwise.
        assert (body["dry_penalty_last_n"], body["repeat_last_n"]) == (WHOLE_TEXT, WHOLE_TEXT)
        companions = ("dry_base", "dry_allowed_length", "dry_sequence_breakers", "xtc_threshold", "dynatemp_exponent")
        defaults = {k: spec_of(k).default for k in companions}
        assert {k: body[k] for k in companions} == {k: list(v) if isinstance(v, tuple) else v
                                                    for k, v in defaults.items()}
        assert result.params["sources"]["dry_base"] == "default" and result.params["sources"]["top_k"] == "engine"
        assert body["logit_bias"] == {"7": 2.5}
        # It samples in modelito's order (transformers': temperature before top-k), not llama.cpp's own.
        assert body["samplers"] == ["penalties", "dry", "top_n_sigma", "temperature", "top_k", "top_p", "min_p",
                                    "typ_p", "xtc"]
        remote.generate(MESSAGES, do_sample=True, sampler_order=["top_k", "xtc"], max_new_tokens=4)
        assert engine.bodies[-1]["samplers"][:3] == ["top_k", "xtc", "penalties"]
        # Greedy ignores the sampler's stages; llama.cpp's dynamic temperature would sample even at 0.
        remote.generate(MESSAGES, do_sample=False, dynatemp_range=0.5, xtc_probability=0.5, max_new_tokens=4)
        body = engine.bodies[-1]
        assert body["temperature"] == 0 and not {"samplers", "dynatemp_range", "xtc_probability"} & set(body)
        # Its answers carry token ids: the trace keeps them, for the token and for its alternatives.
        step = result.steps[0]
        assert (step.token_id, [c.token_id for c in step.top], step.rank) == (42, [42, 9], 1)


def test_mirostat_on_llama_server_alone_or_refused():
    """llama.cpp's mirostat keeps temperature and drops every other sampler (common/sampling.cpp)."""
    with Engine("llamacpp", reads=llama_server_reads() | LLAMA_SERVER_OPENAI) as engine:
        remote = connect(engine.url)
        remote.generate(MESSAGES, do_sample=True, temperature=0.8, mirostat_tau=5.0, max_new_tokens=4)
        body = engine.bodies[-1]
        assert (body["mirostat"], body["mirostat_tau"]) == (2, 5.0) and "samplers" not in body
        assert body["mirostat_eta"] == spec_of("mirostat_eta").default
        with pytest.raises(ParameterError, match=r"mirostat_tau=5.0 .*while top_k, min_p are set: llama.cpp's "
                                                 "mirostat replaces"):
            remote.generate(MESSAGES, do_sample=True, mirostat_tau=5.0, top_k=40, min_p=0.05)
        with pytest.raises(ParameterError, match="sampler_order=.*mirostat after temperature"):
            remote.generate(MESSAGES, do_sample=True, mirostat_tau=5.0, sampler_order=["mirostat", "temperature"])


def test_what_llama_cpp_defines_otherwise_is_refused_with_why():
    with Engine("llamacpp") as engine:
        remote = connect(engine.url)
        with pytest.raises(ParameterError, match="frequency_penalty=0.5 is not allowed: 0.0 with llama.cpp: "
                                                 "llama-server counts the prompt too"):
            remote.generate(MESSAGES, frequency_penalty=0.5)
        remote.generate(MESSAGES, frequency_penalty=0.0, max_new_tokens=2)  # off is off everywhere
        assert "frequency_penalty" not in engine.bodies[-1]
    with Engine("me") as engine:
        remote = connect(engine.url)
        with pytest.raises(ParameterError, match="typical_p=0.9 .*does not read typical_p"):
            remote.generate(MESSAGES, do_sample=True, typical_p=0.9)
        with pytest.raises(ParameterError, match="repetition_penalty=1.2 .*never the prompt"):
            remote.generate(MESSAGES, repetition_penalty=1.2)
        with pytest.raises(ParameterError, match="logit_bias=.*while min_new_tokens is set: its server then drops "
                                                 "both"):
            remote.generate(MESSAGES, logit_bias={7: 1.0}, min_new_tokens=2)
        # Its penalties count the answer (its last 64 tokens), as OpenAI's; 1.0 is its repeat penalty off.
        remote.generate(MESSAGES, repetition_penalty=1.0, frequency_penalty=0.5, max_new_tokens=2)
        body = engine.bodies[-1]
        assert (body["repeat_penalty"], body["frequency_penalty"]) == (1.0, 0.5)


@pytest.mark.parametrize("owned_by", ["vllm", "other"])
def test_openai_penalties_and_bias_reach_vllm_and_openai_servers(owned_by):
    with Engine(owned_by, reads=VLLM_READS if owned_by == "vllm" else None) as engine:
        result = connect(engine.url).generate(MESSAGES, do_sample=True, frequency_penalty=0.5, presence_penalty=-0.25,
                                              logit_bias={7: -100}, max_new_tokens=4)
        body = engine.bodies[-1]
        assert (body["frequency_penalty"], body["presence_penalty"], body["logit_bias"]) == (0.5, -0.25, {"7": -100})
        assert result.text == "Hola" and result.steps[0].token_id == -1  # OpenAI's shape has no ids


@pytest.mark.parametrize("owned_by", ["vllm", "llamacpp"])
def test_the_tokenizer_endpoints_of_vllm_and_llama_server(owned_by):
    from transformers import AutoTokenizer

    from modelito.hub import SHIPPED

    tokenizer = AutoTokenizer.from_pretrained(SHIPPED / "modelito-tiny-instruct")
    text = "Hola modelito, hablas español?"
    with Engine(owned_by, tokenizer=tokenizer) as engine:
        tokens = connect(engine.url).tokenize(text)
    ids = tokenizer(text, add_special_tokens=False).input_ids
    assert tokens.ids == ids and [t.text for t in tokens.tokens] == [tokenizer.decode([i]) for i in ids]
