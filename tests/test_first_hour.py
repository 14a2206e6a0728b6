"""The first hour of a real user, and of an adversarial client: every mistake is one line or one 4xx,
no request can freeze the server, and abandoned work stops."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from conftest import ROOT, slow_down
from test_server import MESSAGES, Server

openai = pytest.importorskip("openai", reason="the test extras install the openai client")
ENTRY = Path(sys.executable).parent / "modelito"


@pytest.fixture
def slow_lm(tiny_lm, monkeypatch):
    """The tiny model, each forward pass made to take 20 ms more."""
    return slow_down(tiny_lm, monkeypatch, 0.02)


@pytest.fixture
def slow_server(slow_lm):
    server = Server(slow_lm, max_tokens_cap=200, name="tiny")
    yield server
    server.stop()


LONG = {"model": "tiny", "prompt": "Hola", "max_tokens": 200, "min_tokens": 200, "temperature": 0}


def test_cheap_requests_answer_at_once_during_a_generation_and_huge_ones_are_refused(slow_server):
    runner = slow_server.app.state.served.runner
    done = threading.Event()
    threading.Thread(target=lambda: (httpx.post(slow_server.url + "/v1/completions", json=LONG, timeout=60),
                                     done.set()), daemon=True).start()
    deadline = time.time() + 10
    while not runner.status()["running"]:
        assert time.time() < deadline
        time.sleep(0.01)
    start = time.perf_counter()
    assert httpx.get(slow_server.url + "/v1/models", timeout=5).status_code == 200
    assert time.perf_counter() - start < 1.0
    start = time.perf_counter()
    huge = httpx.post(slow_server.url + "/api/tokenize", json={"text": "hola " * 400_000}, timeout=30)  # 2 MB
    assert huge.status_code == 413 and "1,000,000 bytes" in huge.json()["error"]["message"]
    big = httpx.post(slow_server.url + "/api/tokenize", json={"text": "x" * 20_000}, timeout=30)
    assert big.status_code == 400 and big.json()["error"]["param"] == "text"
    assert "at most 10,000 characters" in big.json()["error"]["message"]
    assert len(big.text) < 1000  # the input is not echoed back
    small = httpx.post(slow_server.url + "/api/tokenize", json={"text": "Hola modelito"}, timeout=5)
    assert small.status_code == 200 and time.perf_counter() - start < 2.0
    assert runner.status()["running"] and not done.is_set()  # all of that while the generation was still running
    assert done.wait(60)


def test_a_client_that_gives_up_on_a_whole_answer_frees_the_server(slow_server):
    runner = slow_server.app.state.served.runner
    client = openai.OpenAI(base_url=slow_server.url + "/v1", api_key="x", timeout=1.0, max_retries=0)
    with pytest.raises(openai.APITimeoutError):
        client.completions.create(model="tiny", prompt="Hola", max_tokens=200, temperature=0,
                                  extra_body={"min_tokens": 200})  # 200 tokens x 20 ms: the client leaves after 1 s
    deadline = time.time() + 20
    while runner.busy():
        assert time.time() < deadline, "the abandoned generation kept the model"
        time.sleep(0.05)
    # Freed by the cancel, not by finishing: far fewer than its 200 decode steps ran (on any machine's speed).
    assert runner.scheduler.steps < 150, runner.scheduler.steps
    start = time.perf_counter()
    r = httpx.post(slow_server.url + "/v1/completions", json={"prompt": "Hola", "max_tokens": 2}, timeout=30)
    assert r.status_code == 200 and time.perf_counter() - start < 2.0


LONE = "Hola \ud800"


@pytest.mark.parametrize("path, body, field", [
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": LONE}]}, "messages[0].content"),
    ("/v1/completions", {"prompt": LONE}, "prompt"),
    ("/v1/chat/completions", {"messages": MESSAGES, "stop": [LONE]}, "stop[0]"),
    ("/api/tokenize", {"text": LONE}, "text"),
    ("/api/template", {"messages": [{"role": "user", "content": LONE}]}, "messages[0].content"),
    ("/api/score", {"text": LONE}, "text"),
    ("/api/generate", {"messages": [{"role": "user", "content": LONE}]}, "messages[0].content"),
    ("/api/compare", {"prompt": LONE, "settings": [{}]}, "prompt"),
    ("/api/classify", {"text": LONE}, "text"),
])
def test_a_lone_surrogate_is_a_400_naming_the_field(server, path, body, field):
    # json.dumps writes the lone surrogate as the escape "\ud800": valid JSON, but no character.
    r = httpx.post(server.url + path, content=json.dumps(body), headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["param"] == field and "lone surrogate" in error["message"] and "\\ud800" in error["message"]


@pytest.fixture(scope="module")
def server(tiny_lm):
    s = Server(tiny_lm, max_tokens_cap=64, name="tiny")
    yield s
    s.stop()


def test_smaller_mistakes_each_name_the_field_the_client_used(server):
    def error(path, body):
        r = httpx.post(server.url + path, json=body, timeout=30)
        assert r.status_code == 400, r.text
        return r.json()["error"]

    e = error("/v1/chat/completions", {"messages": MESSAGES, "max_tokens": 1000})
    assert e["param"] == "max_tokens" and e["message"].startswith("max_tokens=1000 is not allowed: at most 64")
    e = error("/v1/chat/completions", {"messages": MESSAGES, "max_completion_tokens": 1000})
    assert e["param"] == "max_completion_tokens" and e["message"].startswith("max_completion_tokens=1000")
    e = error("/v1/chat/completions", {"messages": MESSAGES, "temperature": -1})
    assert e["param"] == "temperature" and e["message"] == "temperature=-1 is not allowed: a number > 0 when sampling"
    assert error("/v1/chat/completions", {"messages": MESSAGES, "stream": "yes"})["param"] == "stream"
    assert error("/v1/completions", {"prompt": "x", "best_of": 2})["param"] == "best_of"
    assert error("/v1/chat/completions", {"messages": MESSAGES, "stop": ["a", "b", "c", "d", "e"]})["param"] == "stop"
    e = error("/api/classify", {"text": "Qué bien", "labels": [f"L{i}" for i in range(5000)]})
    assert e["param"] == "labels" and len(e["message"]) < 300 and "5,000 items" in e["message"]
    assert error("/api/classify", {"text": "Qué bien", "labels": []})["param"] == "labels"


def test_an_unexpected_error_is_a_500_and_its_traceback_is_logged(server, tiny_lm, monkeypatch, caplog):
    def broken(text, **kwargs):
        raise RuntimeError("a bug, not a user mistake")

    monkeypatch.setattr(tiny_lm, "tokenize", broken)
    with caplog.at_level(logging.ERROR, logger="modelito.server"):
        r = httpx.post(server.url + "/api/tokenize", json={"text": "Hola"}, timeout=30)
    assert r.status_code == 500 and r.json()["error"]["type"] == "server_error"
    assert "a bug" not in r.text  # the details stay in the server's log
    record = next(r for r in caplog.records if r.name == "modelito.server")
    assert record.exc_info and "a bug, not a user mistake" in str(record.exc_info[1])
    assert httpx.get(server.url + "/v1/models").status_code == 200  # and it keeps serving


def test_server_defaults_have_a_source_and_fit_the_limit(server):
    params = {p["name"]: p for p in httpx.get(server.url + "/api/params").json()["params"]}
    assert params["max_new_tokens"]["value"] == 64 and params["max_new_tokens"]["source"] == "server"
    assert params["max_new_tokens"]["high"] == 64 and params["num_return_sequences"]["high"] == 16
    answer = httpx.post(server.url + "/v1/chat/completions", json={"messages": MESSAGES}, timeout=60).json()
    used = answer["choices"][0]["modelito"]["params"]
    assert used["max_new_tokens"] == 64 and used["sources"]["max_new_tokens"] == "server"


# -- the command line ----------------------------------------------------------------------------------

def run(*args, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(ENTRY), *args], capture_output=True, input=stdin.encode() if stdin else None, timeout=300,
                          env={**os.environ, "MODELITO_LANG": "en", **(env or {})})


def test_an_argument_that_is_not_utf8_is_one_line(tmp_path):
    done = subprocess.run([str(ENTRY), "generate", "-m", "modelito-tiny-instruct", b"Hola \xff"],
                          capture_output=True, timeout=120, env={**os.environ, "MODELITO_HOME": str(tmp_path)})
    assert done.returncode == 2
    err = done.stderr.decode().strip().splitlines()
    assert err == ["modelito: the argument b'Hola \\xff' is not valid UTF-8 text: write it in UTF-8 (set your "
                   "terminal to UTF-8)"]


def test_chat_with_piped_input_reads_as_a_conversation_and_probs_have_a_header(tiny_path, tmp_path):
    done = run("chat", "-m", str(tiny_path), "--greedy", "--max-new-tokens", "3", stdin="Hola\n/probs on\nQué tal\n",
               env={"MODELITO_HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode()
    assert "> Hola\n" in out and "> Qué tal\n" in out
    assert "step  token            model  sampler" in out.split("> Qué tal\n")[1]


def test_the_cli_default_answer_length_is_shown_with_its_source(tmp_path):
    done = run("generate", "-m", "modelito-tiny-instruct", "--show-defaults", "Hola",
               env={"MODELITO_HOME": str(tmp_path)})
    lines = {l.split()[0]: l for l in done.stdout.decode().splitlines() if l.startswith("  ")}
    assert "256" in lines["max_new_tokens"] and "the command line's default" in lines["max_new_tokens"]
    assert "0.7" in lines["temperature"] and "from the model's generation_config" in lines["temperature"]


def test_a_second_server_on_a_used_port_is_one_line(tiny_path, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run("serve", "-m", str(tiny_path), "--port", str(port), env={"MODELITO_HOME": str(tmp_path)})
    assert done.returncode == 2
    err = done.stderr.decode()
    assert "serving" not in err and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(f"modelito: cannot serve on 127.0.0.1:{port}")


# -- a fresh clone -------------------------------------------------------------------------------------

def test_a_fresh_clone_installs_with_make_demo_and_serves_the_page(tmp_path):
    """`make demo`'s install in a copy of the repository as a clone has it; then every command the
    demo suggests works in that venv: the server answers with the page, the chat answers."""
    if not shutil.which("make") or not shutil.which("git"):
        pytest.skip("needs make and git")
    clone = tmp_path / "clone"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.splitlines()
    for name in files:
        if (ROOT / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    built = subprocess.run(["make", ".venv/.base"], cwd=clone, capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    demo = (clone / "Makefile").read_text()
    suggested = [c.strip() for c in demo.split("Next:")[1].split('"')[0].split(" or ")]
    assert {c.split()[1] for c in suggested} == {"chat", "serve"}
    env = {**os.environ, "MODELITO_HOME": str(tmp_path / "home"), "MODELITO_LANG": "en"}
    for command in suggested:
        argv = command.split()
        argv[0] = str(clone / argv[0])
        if argv[1] == "chat":
            done = subprocess.run(argv + ["--max-new-tokens", "4"], input="Hola\n", capture_output=True, text=True,
                                  timeout=300, env=env)
            assert done.returncode == 0 and "> Hola" in done.stdout, done.stderr
            continue
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen(argv + ["--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=env)
        try:
            deadline = time.time() + 120
            while True:
                try:
                    page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
                    break
                except httpx.TransportError:
                    assert server.poll() is None, server.stderr.read().decode()
                    assert time.time() < deadline, "the server did not start"
                    time.sleep(0.5)
            assert page.status_code == 200 and "modelito" in page.text
            assert httpx.get(f"http://127.0.0.1:{port}/static/js/main.js").status_code == 200
            assert httpx.get(f"http://127.0.0.1:{port}/v1/models").json()["data"][0]["id"] == "modelito-tiny-instruct"
        finally:
            server.terminate()
            server.wait(timeout=30)
