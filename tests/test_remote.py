"""Remote engines: a real llama.cpp server (llama-cpp-python) on models converted here with llama.cpp's own
converter, modelito's own server as a remote, and the faults a remote engine can have."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import modelito
from conftest import REQUIRE, ROOT, fixture_path
from loopback import JSONHandler, Loopback
from modelito import ParameterError
from modelito.remote import NoLogprobs, RemoteError, connect
from oracle import teacher_forced_logits
from test_server import Server

LLAMA_SRC = Path(os.environ.get("MODELITO_LLAMA_SRC", ROOT / ".venv" / "llama-src" / "llama_cpp_python-0.3.36"))
CONVERTER = LLAMA_SRC / "vendor" / "llama.cpp"
MESSAGES = [{"role": "user", "content": "Hola modelito, hablas español?"}]


def need_llama() -> None:
    """llama-cpp-python's server and llama.cpp's converter, as `make test` builds them."""
    try:
        import llama_cpp  # noqa: F401
        missing = None if (CONVERTER / "convert_hf_to_gguf.py").is_file() else f"no converter at {CONVERTER}"
    except ImportError as err:
        missing = f"llama-cpp-python is not installed ({err})"
    if missing:
        message = f"{missing}: `make test` builds it (.venv/.llama)"
        if REQUIRE:
            pytest.fail(message)
        pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def convert(model: Path, out: Path, *options: str) -> Path:
    """A Hugging Face folder to GGUF (float32) with llama.cpp's converter."""
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "tools" / "gguf_convert.py"), str(CONVERTER), *options,
                           "--", str(model), "--outtype", "f32", "--outfile", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


class LlamaServer:
    """llama-cpp-python's OpenAI-compatible server on loopback, float32 KV cache (as exact as the model)."""

    def __init__(self, gguf: Path, alias: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", alias, "--host",
             "127.0.0.1", "--port", str(self.port), "--type_k", "0", "--type_v", "0", "--n_ctx", "512",
             "--verbose", "false"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 120
        while True:
            try:
                httpx.get(self.url + "/models", timeout=2)
                return
            except httpx.TransportError:
                assert self.process.poll() is None, self.process.stderr.read().decode()[-3000:]
                assert time.time() < deadline, "llama.cpp's server did not start"
                time.sleep(0.3)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def tiny_engine(tmp_path_factory):
    """modelito-tiny-instruct, converted here, served by llama.cpp (its chat template travels in the GGUF)."""
    need_llama()
    from modelito.hub import SHIPPED

    gguf = convert(SHIPPED / "modelito-tiny-instruct", tmp_path_factory.mktemp("gguf") / "tiny.gguf", "--pre", "qwen2")
    server = LlamaServer(gguf, "tiny")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stories_engine(tmp_path_factory):
    """stories260k, converted here: the result is byte for byte the fixture GGUF made the same way."""
    need_llama()
    gguf = convert(fixture_path("stories260k"), tmp_path_factory.mktemp("gguf") / "stories.gguf", "--scores-from-ids")
    assert gguf.read_bytes() == (fixture_path("stories260k-gguf") / "stories260k-f32.gguf").read_bytes()
    server = LlamaServer(gguf, "stories")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tiny_local():
    return modelito.load("modelito-tiny-instruct", device="cpu")


def check_against_forward_pass(lm, local, steps, top: int = 3) -> None:
    """Each remote step's token, log-probability and best alternatives against a teacher-forced pass over
    the same tokens (those of the local greedy run, whose texts the remote steps match one by one)."""
    prompt_ids, answer = list(local.prompt_token_ids), list(local.sequences[0].token_ids)
    assert [s.text for s in steps] == [lm.token_text(t) for t in answer]
    logp = teacher_forced_logits(lm.model, prompt_ids + answer)[len(prompt_ids) - 1 : -1].log_softmax(-1)
    for i, step in enumerate(steps):
        assert step.logprob == pytest.approx(logp[i, answer[i]].item(), abs=1e-4)
        best = logp[i].topk(top)
        assert [c.logprob for c in step.top[:top]] == pytest.approx(best.values.tolist(), abs=1e-4)
        assert math.isnan(step.sampling_logprob) and math.isnan(step.entropy) and step.stages == ()


def test_a_chat_on_llama_cpp_equals_the_model_and_is_labelled(tiny_engine, tiny_local):
    remote = connect(tiny_engine.url)
    assert (remote.remote.kind, remote.name, remote.remote.logprobs) == ("llama-cpp-python", "tiny", "raw")
    result = remote.generate(MESSAGES, do_sample=False, repetition_penalty=1.0, max_new_tokens=12, top_n=5)
    local = tiny_local.generate(MESSAGES, do_sample=False, repetition_penalty=1.0, max_new_tokens=12)
    assert result.text == local.text and result.engine["logprobs"] == "raw" and result.stage_names == ()
    check_against_forward_pass(tiny_local, local, result.steps)
    assert "no stage table" in str(result) and "llama-cpp-python" in result._repr_html_()
    assert json.loads(result.to_json())["sequences"][0]["steps"][0]["entropy"] is None  # absent, not invented


def test_logit_bias_on_llama_cpp_equals_the_local_engine(tiny_engine, tiny_local):
    """logit_bias means the same everywhere (added to a token's logit): llama.cpp's greedy answer under a bias
    that turns the first token over equals modelito's own engine's (itself checked against transformers)."""
    greedy = dict(do_sample=False, repetition_penalty=1.0, max_new_tokens=8)
    plain = tiny_local.generate(MESSAGES, top_n=2, **greedy)
    first, runner_up = plain.steps[0].token_id, plain.steps[0].top[1]
    bias = {runner_up.token_id: plain.steps[0].logprob - runner_up.logprob + 1.0}
    local = tiny_local.generate(MESSAGES, logit_bias=bias, **greedy)
    assert local.sequences[0].token_ids[0] == runner_up.token_id != first
    assert connect(tiny_engine.url).generate(MESSAGES, logit_bias=bias, **greedy).text == local.text


def test_the_remote_trace_is_what_the_engine_returned(tiny_engine):
    """The same request sent by hand: modelito's steps hold the engine's numbers, unchanged."""
    remote = connect(tiny_engine.url)
    kwargs = dict(do_sample=True, seed=7, temperature=0.9, max_new_tokens=10, top_n=3)
    # Once first, so that both requests below find the prompt in llama.cpp's cache (a prompt computed afresh
    # can differ from a cached one in the last bits).
    remote.generate(MESSAGES, **kwargs)
    result = remote.generate(MESSAGES, **kwargs)
    body = remote.request_body(MESSAGES, remote.params(0, **kwargs))
    entries = []
    with httpx.stream("POST", tiny_engine.url + "/chat/completions", json=body, timeout=60) as r:
        for line in r.iter_lines():
            if line.startswith("data: {"):
                for choice in json.loads(line[6:])["choices"]:
                    entries += (choice.get("logprobs") or {}).get("content") or []
    assert [s.text for s in result.steps] == [e["token"] for e in entries]
    assert [s.logprob for s in result.steps] == [e["logprob"] for e in entries]
    assert [[c.logprob for c in s.top] for s in result.steps] == [[t["logprob"] for t in e["top_logprobs"]]
                                                                  for e in entries]
    assert remote.generate(MESSAGES, **kwargs).text == result.text  # the seed reaches the engine


def test_a_text_prompt_and_prompt_scoring_on_llama_cpp(stories_engine, stories_lm):
    remote = connect(stories_engine.url + "#stories")
    result = remote.generate("Once upon a time", do_sample=False, repetition_penalty=1.0, max_new_tokens=8)
    local = stories_lm.generate("Once upon a time", do_sample=False, repetition_penalty=1.0, max_new_tokens=8)
    assert result.text == local.text
    check_against_forward_pass(stories_lm, local, result.steps)
    # llama.cpp tokenizes some prompts its own way (" g", "ir", "l" for " girl"): the oracle is a teacher-forced
    # pass over the engine's own tokens, looked up in the model's vocabulary (the same one), after BOS.
    text = "Once upon a time, there was a little girl"
    scored = remote.score(text)
    pieces = [scored.first_token[1]] + [s.text for s in scored.steps]
    ids = [stories_lm.tokenizer.bos_token_id] + stories_lm.tokenizer.convert_tokens_to_ids(
        [p.replace(" ", "\u2581") for p in pieces])
    assert "".join(pieces).strip() == text and stories_lm.tokenizer.unk_token_id not in ids[1:]
    logp = teacher_forced_logits(stories_lm.model, ids).log_softmax(-1)
    # The engine leaves the first token after BOS unscored (null); each later one is predicted from before it.
    expected = [logp[i, ids[i + 1]].item() for i in range(1, len(ids) - 1)]
    assert [s.logprob for s in scored.steps] == pytest.approx(expected, abs=1e-4)


def test_what_llama_cpp_cannot_do_is_said_clearly(tiny_engine, tiny_local):
    remote = connect(tiny_engine.url)
    with pytest.raises(RemoteError, match="shifted by one token"):
        remote.score("Hola modelito")  # llama-cpp-python's echo bug for models without BOS: refused, not shown
    assert remote.tokenize("Hola modelito, hablas español?").ids == tiny_local.tokenize("Hola modelito, hablas "
                                                                                         "español?").ids
    with pytest.raises(ParameterError, match="no_repeat_ngram_size=2 is not allowed: unset with llama-cpp-python"):
        remote.generate(MESSAGES, no_repeat_ngram_size=2)
    with pytest.raises(ParameterError, match="num_return_sequences"):
        remote.generate(MESSAGES, do_sample=True, num_return_sequences=2)
    with pytest.raises(ParameterError, match="num_beams=3 .*modelito's own engine"):
        remote.generate(MESSAGES, num_beams=3)
    with pytest.raises(RemoteError, match=r"refused the request \(400\).*context"):
        remote.generate("hola " * 700, max_new_tokens=2)
    with pytest.raises(RemoteError, match="does not serve 'gpt-4': it serves tiny"):
        connect(tiny_engine.url, model="gpt-4")
    with pytest.raises(RemoteError, match="renders the chat template itself"):
        remote.prompt_ids(MESSAGES)


# -- modelito's own server as a remote -------------------------------------------------------------------

def test_modelitos_own_server_as_a_remote_gives_the_whole_trace(tiny_local):
    server = Server(tiny_local, max_tokens_cap=64, name="tiny")
    try:
        remote = connect(server.url + "/v1")
        assert remote.remote.kind == "modelito" and remote.context_length == tiny_local.context_length
        for kwargs in (dict(seed=3, top_n=4), dict(do_sample=False, stop_strings=["."])):
            got = remote.generate(MESSAGES, max_new_tokens=12, **kwargs)
            want = tiny_local.generate(MESSAGES, max_new_tokens=12, **kwargs)
            assert got.steps == want.steps and got.text == want.text
            assert got.stage_names == want.stage_names and got.strategy == want.strategy
            # The same values; their sources differ (for the server they all came in the request).
            assert {k: v for k, v in got.params.items() if k != "sources"} == {
                k: v for k, v in want.params.items() if k != "sources"}
        score = remote.score("Hola modelito")
        assert score.steps == tiny_local.score("Hola modelito").steps
        assert remote.tokenize("Hola").ids == tiny_local.tokenize("Hola").ids
        conversation = remote.chat()
        conversation.send("Hola", max_new_tokens=4, do_sample=False)
        assert [m["role"] for m in conversation.messages] == ["user", "assistant"]
    finally:
        server.stop()


def test_serving_the_page_in_front_of_a_remote_engine(tiny_engine):
    server = Server(connect(tiny_engine.url), max_tokens_cap=32)
    try:
        params = {p["name"]: p for p in httpx.get(server.url + "/api/params").json()["params"]}
        assert "no_repeat_ngram_size" not in params and params["top_k"]["source"] == "engine"
        assert params["top_k"]["value"] is None and params["max_new_tokens"]["source"] == "server"
        card = httpx.get(server.url + "/api/card").json()
        assert card["engine"] == "llama-cpp-python"
        with httpx.stream("POST", server.url + "/api/generate", timeout=60, json={
                "messages": MESSAGES, "params": {"max_new_tokens": 5, "do_sample": False}}) as r:
            events = [json.loads(l[6:]) for l in r.iter_lines() if l.startswith("data: {")]
        assert events[-1]["result"]["engine"]["kind"] == "llama-cpp-python"
        assert sum(1 for e in events if e.get("step")) == 5
        refused = httpx.post(server.url + "/api/compare", json={"prompt": "x", "settings": [{}]}, timeout=30)
        assert refused.status_code == 400 and "local models only" in refused.json()["error"]["message"]
    finally:
        server.stop()


def test_the_cli_takes_a_url(tiny_engine, tiny_local, tmp_path):
    entry = Path(sys.executable).parent / "modelito"
    done = subprocess.run([str(entry), "generate", "-m", tiny_engine.url + "#tiny", "--greedy", "--repetition-penalty",
                           "1.0", "--max-new-tokens", "6", "--probs", "Hola modelito, hablas español?"],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "MODELITO_HOME": str(tmp_path), "MODELITO_LANG": "en"})
    assert done.returncode == 0, done.stderr
    expected = tiny_local.generate(MESSAGES, do_sample=False, repetition_penalty=1.0, max_new_tokens=6).text
    assert done.stdout.strip() == expected and "llama-cpp-python" in done.stderr
    info = subprocess.run([str(entry), "info", tiny_engine.url], capture_output=True, text=True, timeout=60)
    assert "llama-cpp-python" in info.stdout and "raw" in info.stdout


# -- faults -----------------------------------------------------------------------------------------------

class FakeEngine(Loopback):
    """An OpenAI-compatible server on loopback that misbehaves as told: the faults a real engine can have."""

    def __init__(self, chunks: list[dict], close_after: int | None = None, hang: bool = False) -> None:
        class Handler(JSONHandler):
            def do_GET(self):
                self.send_json({"object": "list", "data": [{"id": "fake", "object": "model", "owned_by": "vllm"}]})

            def do_POST(self):
                self.read_json()
                if hang:
                    time.sleep(5)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for i, chunk in enumerate(chunks):
                    if close_after is not None and i == close_after:
                        self.wfile.flush()
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")

        super().__init__(Handler)


def token_chunk(text: str, logprob: float | None = -0.5) -> dict:
    lp = None if logprob is None else {"content": [{"token": text, "logprob": logprob, "top_logprobs": [
        {"token": text, "logprob": logprob}]}]}
    return {"choices": [{"index": 0, "delta": {"content": text}, "logprobs": lp, "finish_reason": None}]}


def test_a_stream_that_breaks_keeps_what_arrived_and_says_where():
    fake = FakeEngine([token_chunk(t) for t in ("Hola", " qué", " tal", " estás")], close_after=3)
    try:
        result = connect(fake.url).generate(MESSAGES, max_new_tokens=10)
        assert result.text == "Hola qué tal" and len(result.steps) == 3
        assert result.sequences[0].finish_reason == "interrupted"
        assert any("broke after 3 tokens" in w for w in result.warnings)
    finally:
        fake.stop()


def test_an_engine_that_returns_no_logprobs_is_named():
    fake = FakeEngine([token_chunk("Hola", None)])
    try:
        with pytest.raises(NoLogprobs, match="vllm .* returned text without log-probabilities.*--max-logprobs"):
            connect(fake.url).generate(MESSAGES, max_new_tokens=3)
    finally:
        fake.stop()


def test_unreachable_and_slow_engines_are_named():
    port = free_port()
    with pytest.raises(RemoteError, match=rf"cannot reach the engine at http://127.0.0.1:{port}/v1 .*is it running"):
        connect(f"http://127.0.0.1:{port}/v1")
    fake = FakeEngine([], hang=True)
    try:
        remote = connect(fake.url, timeout=1.0)
        with pytest.raises(RemoteError, match=r"did not answer in time"):
            remote.generate(MESSAGES, max_new_tokens=3)
    finally:
        fake.stop()
