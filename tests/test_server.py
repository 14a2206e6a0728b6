"""The server: OpenAI conformance with the official client, modelito's endpoints, robustness, load."""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx
import pytest
import torch

from oracle import teacher_forced_logits

openai = pytest.importorskip("openai", reason="the test extras install the openai client")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, lm, **options) -> None:
        import uvicorn

        from modelito.server.app import create_app

        self.app = create_app(lm, **options)
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            assert time.time() < deadline, "server did not start"
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(tiny_lm):
    s = Server(tiny_lm, max_tokens_cap=64, name="tiny")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused")


MESSAGES = [{"role": "user", "content": "Hola modelito, hablas español?"}]


def check_logprobs(lm, prompt_ids, entries):
    """Each returned log-probability against an independent forward pass over prompt + answer."""
    ids = [tok for e in entries for tok in [e["id"]]]
    logp = teacher_forced_logits(lm.model, prompt_ids + ids)[len(prompt_ids) - 1 : -1].log_softmax(-1)
    for i, e in enumerate(entries):
        assert e["logprob"] == pytest.approx(logp[i, e["id"]].item(), abs=1e-4)
        best = logp[i].topk(len(e["top"]))  # the alternatives are the most likely tokens, in order
        assert [lp for _, lp in e["top"]] == pytest.approx(best.values.tolist(), abs=1e-4)
        assert [text for text, _ in e["top"]] == [lm.token_text(t) for t in best.indices.tolist()]


def test_models(client):
    assert [m.id for m in client.models.list().data] == ["tiny"]


def test_chat_completion_with_logprobs(client, tiny_lm):
    response = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=8, temperature=0,
                                              logprobs=True, top_logprobs=3)
    choice = response.choices[0]
    expected = tiny_lm.generate(MESSAGES, do_sample=False, max_new_tokens=8)
    assert choice.message.content == expected.text
    content = choice.logprobs.content
    # Each token's own bytes (a token may hold part of a character) add up to the text.
    assert bytes(b for c in content for b in c.bytes).decode("utf-8", errors="replace") == choice.message.content
    ext = choice.model_extra["modelito"]
    entries = [{"id": s["token_id"], "logprob": c.logprob, "top": [(t.token, t.logprob) for t in c.top_logprobs]}
               for c, s in zip(content, ext["steps"])]
    check_logprobs(tiny_lm, list(expected.prompt_token_ids), entries)
    assert ext["stage_names"][0] == "model" and "sampling_logprob" in ext["steps"][0]
    assert response.usage.completion_tokens == len(ext["steps"])
    assert len(content) == len(ext["steps"]) - (choice.finish_reason == "stop")  # no end token in logprobs


def test_streamed_chat_with_logprobs_and_usage(client, tiny_lm):
    stream = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=8, seed=5, temperature=0.8,
                                            logprobs=True, top_logprobs=2, stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    expected = tiny_lm.generate(MESSAGES, do_sample=True, temperature=0.8, seed=5, max_new_tokens=8)
    assert text == expected.text
    assert chunks[-1].usage.completion_tokens == len(expected.steps)
    assert chunks[0].choices[0].delta.role == "assistant"
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals == ["length" if expected.sequences[0].finish_reason == "length" else "stop"]
    entries = [{"id": c.choices[0].model_extra["modelito"]["step"]["token_id"],
                "logprob": c.choices[0].logprobs.content[0].logprob,
                "top": [(t.token, t.logprob) for t in c.choices[0].logprobs.content[0].top_logprobs]}
               for c in chunks if c.choices and c.choices[0].logprobs]
    check_logprobs(tiny_lm, list(expected.prompt_token_ids), entries)


def test_completions_whole_and_streamed(client, tiny_lm):
    whole = client.completions.create(model="tiny", prompt="Hola modelito", max_tokens=6, temperature=0, logprobs=2)
    expected = tiny_lm.generate("Hola modelito", do_sample=False, max_new_tokens=6)
    assert whole.choices[0].text == expected.text
    lp = whole.choices[0].logprobs
    assert lp.tokens == [s.text for s in expected.steps]
    assert lp.token_logprobs == pytest.approx([s.logprob for s in expected.steps], abs=1e-4)
    chunks = list(client.completions.create(model="tiny", prompt="Hola modelito", max_tokens=6, temperature=0,
                                            stream=True))
    assert "".join(c.choices[0].text for c in chunks) == expected.text
    assert all(c.choices[0].logprobs is None for c in chunks)  # not asked for, not sent


def test_n_seed_stop_and_extra_fields(client, tiny_lm):
    r = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=6, n=3, seed=11,
                                       extra_body={"top_k": 5, "repetition_penalty": 1.2})
    assert len(r.choices) == 3
    again = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=6, n=3, seed=11,
                                           extra_body={"top_k": 5, "repetition_penalty": 1.2})
    assert [c.message.content for c in r.choices] == [c.message.content for c in again.choices]
    params = r.choices[0].model_extra["modelito"]["params"]
    assert params["top_k"] == 5 and params["repetition_penalty"] == 1.2
    beams = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=5, temperature=0, n=2,
                                           extra_body={"num_beams": 3})
    assert len(beams.choices) == 2 and "beam_tree" in beams.model_extra["modelito"]
    full = tiny_lm.generate(MESSAGES, do_sample=False, max_new_tokens=20, repetition_penalty=1.0).text
    stop = full[4:7]
    if stop.strip():
        cut = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=20, temperature=0,
                                             stop=[stop], extra_body={"repetition_penalty": 1.0})
        assert cut.choices[0].message.content == full[: full.index(stop)]
        assert cut.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("body, field", [
    ({"messages": MESSAGES, "temperature": -1}, "temperature"),
    ({"messages": MESSAGES, "top_p": 3}, "top_p"),
    ({"messages": MESSAGES, "max_tokens": 1000}, "max_tokens"),
    ({"messages": MESSAGES, "top_logprobs": 50, "logprobs": True}, "top_logprobs"),
    ({"messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
    ({"messages": "hola"}, "messages"),
    ({"messages": MESSAGES, "model": "gpt-4"}, "model"),
    ({"messages": MESSAGES, "frobnicate": 1}, "frobnicate"),
    ({"messages": MESSAGES, "n": 0}, "n"),
    ({"messages": [{"role": "user", "content": "hola " * 400}]}, "messages"),
    ({"messages": MESSAGES, "n": 100000}, "n"),
    ({"messages": MESSAGES, "max_tokens": -1}, "max_tokens"),
    ({"messages": MESSAGES, "stream_options": "x"}, "stream_options"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}, "messages[0].content"),
    ({"messages": MESSAGES, "stop": 5}, "stop"),
])
def test_invalid_requests_get_4xx_naming_the_field(server, body, field):
    r = httpx.post(server.url + "/v1/chat/completions", json=body, timeout=30)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["param"] == field and error["message"]


def test_not_json_and_server_keeps_serving(server, client):
    r = httpx.post(server.url + "/v1/chat/completions", content=b"{not json", timeout=30,
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["error"]["message"]
    assert client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=2).choices


def test_api_key(tiny_lm):
    s = Server(tiny_lm, api_key="secret")
    try:
        assert httpx.get(s.url + "/v1/models").status_code == 401
        ok = openai.OpenAI(base_url=s.url + "/v1", api_key="secret").models.list()
        assert ok.data
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=s.url + "/v1", api_key="wrong").models.list()
    finally:
        s.stop()


def test_modelito_endpoints(server, tiny_lm):
    card = httpx.get(server.url + "/api/card").json()
    assert card["parameters"] == tiny_lm.model.num_parameters()
    assert [note["en"] for note in card["why"]] == list(tiny_lm.notes)
    assert card["why"][0]["es"].startswith("dispositivo cpu")
    tokens = httpx.post(server.url + "/api/tokenize", json={"text": "Hola"}).json()
    assert [t["id"] for t in tokens["tokens"]] == tiny_lm.tokenize("Hola").ids
    template = httpx.post(server.url + "/api/template", json={"messages": MESSAGES}).json()
    assert template["prompt"] == tiny_lm.prompt_ids(MESSAGES)[0]
    score = httpx.post(server.url + "/api/score", json={"text": "Hola modelito"}).json()
    assert score["logprob"] == pytest.approx(tiny_lm.score("Hola modelito").logprob, abs=1e-4)
    cmp = httpx.post(server.url + "/api/compare", json={"messages": MESSAGES, "settings": [
        {"do_sample": False}, {"temperature": 0.5, "seed": 1}], "common": {"max_new_tokens": 4}}, timeout=60).json()
    assert len(cmp["results"]) == 2
    with httpx.stream("POST", server.url + "/api/generate", timeout=60, json={
            "messages": MESSAGES, "params": {"num_beams": 2, "do_sample": False, "max_new_tokens": 3}}) as r:
        events = [json.loads(l[6:]) for l in r.iter_lines() if l.startswith("data: {")]
    assert any("beam_step" in e for e in events) and "result" in events[-1]
    classified = httpx.post(server.url + "/api/classify", json={"text": "Qué bien", "labels": ["SÍ", "NO"]},
                            timeout=60).json()["results"][0]
    expected = tiny_lm.classify("Qué bien", ["SÍ", "NO"])
    assert classified["probs"] == pytest.approx(list(expected.probs), abs=1e-6)
    assert httpx.post(server.url + "/api/classify", json={"text": ""}).status_code == 400
    assert httpx.post(server.url + "/api/tokenize", json={"text": 5}).status_code == 400
    for path, body in (("/api/score", {"text": "hola", "top_n": None}),
                       ("/api/generate", {"messages": MESSAGES, "prefix": 5}),
                       ("/api/generate", {"prompt": "x", "params": {"max_new_tokens": "5"}}),
                       ("/api/compare", {"messages": MESSAGES, "settings": [{}], "common": "x"}),
                       ("/api/compare", {"messages": MESSAGES, "settings": [{"max_new_tokens": None}, 3]})):
        r = httpx.post(server.url + path, json=body, timeout=30)
        assert r.status_code == 400 and r.json()["error"]["message"], (path, body, r.text)


def test_no_files_or_models_from_requests(server):
    r = httpx.post(server.url + "/v1/completions", json={"model": "/etc/passwd", "prompt": "x"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "model"
    assert httpx.get(server.url + "/static/../../etc/passwd").status_code == 404


def test_disconnect_stops_the_generation_and_frees_the_place(tiny_lm):
    s = Server(tiny_lm, max_tokens_cap=200)
    try:
        with httpx.stream("POST", s.url + "/v1/completions", timeout=30, json={
                "prompt": "Hola", "max_tokens": 200, "min_tokens": 200, "stream": True, "temperature": 0}) as r:
            for i, _ in enumerate(r.iter_lines()):
                if i > 3:
                    break  # leave mid-stream
        deadline = time.time() + 20
        while s.app.state.served.runner.busy():
            assert time.time() < deadline, "the abandoned generation kept its place"
            time.sleep(0.1)
        r = httpx.post(s.url + "/v1/completions", json={"prompt": "Hola", "max_tokens": 2}, timeout=30)
        assert r.status_code == 200
    finally:
        s.stop()


def test_concurrent_streaming_clients_are_all_answered(server):
    """A bounded load test on loopback: 12 clients at once, each streaming; all complete."""
    results: list[str] = []
    errors: list[Exception] = []

    def one(i: int) -> None:
        try:
            c = openai.OpenAI(base_url=server.url + "/v1", api_key="x", timeout=120)
            text = "".join(ch.choices[0].delta.content or "" for ch in c.chat.completions.create(
                model="tiny", messages=[{"role": "user", "content": f"Hola {i}"}], max_tokens=8, stream=True,
                seed=i) if ch.choices)
            results.append(text)
        except Exception as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert not errors and len(results) == 12
