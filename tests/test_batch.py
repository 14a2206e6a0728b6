"""The running batch: every row's trace is its solo run, whoever its neighbours are, as calls join and leave."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
import torch

from conftest import hold_forward, slow_down
from modelito import sampling
from modelito.batch import RunningBatch
from modelito.generation import with_seed
from modelito.params import GenerationParams
from modelito.scheduler import Busy, Scheduler

MIXED = [
    dict(do_sample=False),
    dict(do_sample=True, temperature=0.2, seed=1),
    dict(do_sample=True, temperature=1.5, top_k=50, top_p=0.9, seed=2),
    dict(do_sample=True, seed=3, num_return_sequences=2, top_k=10),
    dict(do_sample=False, repetition_penalty=1.3, no_repeat_ngram_size=2),
    dict(do_sample=True, seed=5, min_p=0.05, typical_p=0.9, min_new_tokens=5),
    dict(do_sample=True, seed=6, no_repeat_ngram_size=3, repetition_penalty=1.1, top_p=0.5),
]


def test_each_row_gets_exactly_its_own_stages():
    """Rows with different settings in one batch: each row's scores after its stages are those of its
    settings alone (bit for bit), other rows' stages leave it untouched."""
    vocab, gen = 500, torch.Generator().manual_seed(0)
    params = [GenerationParams(**{**p, "seed": p.get("seed", 0), "eos_token_ids": (7,)}) for p in MIXED]
    rows = [sampling.Row(p, 4, None) for p in params]
    logits = torch.randn(len(rows), vocab, generator=gen) * 3
    histories = [torch.randint(0, 40, (1, 4 + i), generator=gen) for i in range(len(rows))]
    width = max(h.shape[1] for h in histories)
    padded = torch.cat([torch.nn.functional.pad(h, (width - h.shape[1], 0), value=sampling.PAD_ID) for h in histories])
    batch = sampling.make_sampler(rows, "cpu")
    scores = sampling.run_stages(batch.stages, padded, logits)
    for r, (p, h) in enumerate(zip(params, histories)):
        alone = sampling.run_stages(sampling.build_stages(p, 4), h, logits[r : r + 1])
        assert batch.stage_names(r) == tuple(s.name for s in sampling.build_stages(p, 4))
        assert torch.equal(scores[-1][r], alone[-1][0]), r
        own = [scores[1 + i][r] for i in batch.row_stages[r]]
        assert all(torch.equal(a, b[0]) for a, b in zip(own, alone[1:])), r


def run_batch(lm, calls, join_at):
    """Drive a RunningBatch by hand: call i joins at step join_at[i] and leaves after its max_new_tokens."""
    batch, out, pending = RunningBatch(lm.model), {}, dict(enumerate(calls))
    for step in range(200):
        for i in [i for i, at in join_at.items() if at == step and i in pending]:
            _, ids, params = pending.pop(i)
            out[i] = [[d] for d in batch.join(i, ids, sampling.call_rows(params, len(ids), lm.device))]
        if not batch.groups and not pending:
            break
        if batch.groups:
            for key, draws in batch.step():
                for row, d in zip(out[key], draws):
                    row.append(d)
        done = {g.key for g in batch.groups if len(out[g.key][0]) >= calls[g.key][2].max_new_tokens}
        if done:
            batch.leave(done)
    return out


@pytest.mark.parametrize("model", ["tiny_lm", "stories_lm"])
def test_rows_joining_and_leaving_mid_flight_equal_their_solo_runs(model, request):
    lm = request.getfixturevalue(model)
    prompts = ["Hola", "Once upon a time there was", "Caminando por la calle me encontré a", "The cat"]
    calls, solos = [], []
    for i, setting in enumerate(MIXED):
        kwargs = dict(max_new_tokens=10 + 2 * i, **setting)
        _, ids = lm.prompt_ids(prompts[i % len(prompts)])
        calls.append((i, ids, with_seed(lm.params(len(ids), **kwargs))))
        solos.append(lm.generate(prompts[i % len(prompts)], **kwargs))
    out = run_batch(lm, calls, join_at={0: 0, 1: 0, 2: 3, 3: 3, 4: 6, 5: 8, 6: 15})
    for i, solo in enumerate(solos):
        for seq, draws in zip(solo.sequences, out[i]):
            assert [d.token_id for d in draws[: len(seq.steps)]] == list(seq.token_ids), i
            for st, d in zip(seq.steps, draws):
                assert d.logprob == pytest.approx(st.logprob, abs=1e-4)
                assert d.chosen_stages == pytest.approx(list(st.stages), abs=1e-4)
                assert d.top_ids == [c.token_id for c in st.top]
                assert [lp for lp in d.top_stages[0]] == pytest.approx(list(st.top[0].stages), abs=1e-4)


@pytest.fixture
def scheduler(tiny_lm):
    s = Scheduler(tiny_lm, max_batch=16)
    yield s
    s.close()


def test_sixteen_calls_at_once_each_equal_its_solo_run(scheduler, tiny_lm):
    """Mixed parameters per row, stop strings and end-of-sequence in the middle of the batch."""
    messages = [[{"role": "user", "content": f"Hola {i}, ¿qué tal?"}] for i in range(16)]
    settings = MIXED + [dict(do_sample=False, stop_strings=["a"]), dict(seed=9, stop_strings=[" ", "o"]),
                        dict(seed=11, top_k=3)]
    results, errors = {}, []

    def one(i):
        try:
            kwargs = dict(max_new_tokens=24, **settings[i % len(settings)])
            results[i] = (scheduler.generate(messages[i], **kwargs), tiny_lm.generate(messages[i], **kwargs))
        except Exception as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
    [t.start() for t in threads]
    [t.join(timeout=120) for t in threads]
    assert not errors and len(results) == 16
    reasons = set()
    for i, (batched, solo) in results.items():
        assert batched.stage_names == solo.stage_names and batched.strategy == solo.strategy
        assert batched.params["seed"] == solo.params["seed"] or not solo.params["do_sample"]
        for a, b in zip(batched.sequences, solo.sequences):
            assert (a.text, a.token_ids, a.finish_reason) == (b.text, b.token_ids, b.finish_reason), i
            assert [s.logprob for s in a.steps] == pytest.approx([s.logprob for s in b.steps], abs=1e-4)
            reasons.add(a.finish_reason)
    assert {"stop", "length"} <= reasons


def test_beam_and_contrastive_search_run_alone_and_equal_lm_generate(scheduler, tiny_lm):
    messages = [{"role": "user", "content": "Hola"}]
    for kwargs in (dict(num_beams=3, do_sample=False, num_return_sequences=2), dict(penalty_alpha=0.5, top_k=3,
                                                                                     do_sample=False)):
        batched = scheduler.generate(messages, max_new_tokens=6, **kwargs)
        solo = tiny_lm.generate(messages, max_new_tokens=6, **kwargs)
        assert [s.token_ids for s in batched.sequences] == [s.token_ids for s in solo.sequences]


def test_a_cancelled_call_leaves_at_the_next_step_and_the_others_go_on(tiny_lm, slow_forward):
    scheduler = Scheduler(tiny_lm, max_batch=4)
    try:
        seen = []
        long = scheduler.submit("Hola", seen.append, max_new_tokens=200, min_new_tokens=200, do_sample=False)
        other = scheduler.stream("Hola modelito", max_new_tokens=30, min_new_tokens=30, do_sample=False)
        first = next(other)
        deadline = time.time() + 10
        while len(seen) < 3:
            assert time.time() < deadline
            time.sleep(0.01)
        long.cancel()
        rest = [first, *other]
        assert seen[-1] is None and len(seen) < 100  # it stopped long before its 200 tokens
        assert rest[-1].result.text == tiny_lm.generate("Hola modelito", max_new_tokens=30, min_new_tokens=30,
                                                        do_sample=False).text
        assert scheduler.status()["rows"] == 0
    finally:
        scheduler.close()


def test_a_newcomer_gets_its_first_token_within_a_few_steps(tiny_lm, slow_forward, monkeypatch):
    scheduler = Scheduler(tiny_lm, max_batch=8)
    try:
        for i in range(4):
            scheduler.submit(f"Hola {i}", lambda item: None, max_new_tokens=100, min_new_tokens=100, do_sample=False)
        while scheduler.steps < 5:
            time.sleep(0.01)
        # Both moments on the scheduler's own count, as they happen: when the call is queued and when its
        # first token is handed over (a slow test thread cannot stretch the difference).
        queued, first = [], []
        enqueue = scheduler._enqueue
        monkeypatch.setattr(scheduler, "_enqueue", lambda item: (queued.append(scheduler.steps), enqueue(item)))

        def deliver(event):
            if event is not None and not first:
                first.append((scheduler.steps, event))

        scheduler.submit("Una pregunta", deliver, max_new_tokens=5, do_sample=False)
        deadline = time.time() + 10
        while not first:
            assert time.time() < deadline
            time.sleep(0.01)
        (handed, event), = first
        assert event.step is not None and handed - queued[0] <= 2
        assert scheduler.status()["running"] >= 4  # the others were still running
    finally:
        scheduler.close()


def test_a_full_queue_says_busy(tiny_lm, monkeypatch):
    gate = hold_forward(tiny_lm, monkeypatch, passing=1)  # the first call's decode waits: it stays running
    scheduler = Scheduler(tiny_lm, max_batch=1, max_waiting=2)
    try:
        scheduler.submit("Hola", lambda item: None, max_new_tokens=50, min_new_tokens=50, do_sample=False)
        deadline = time.time() + 10
        while scheduler.status()["rows"] < 1:  # the first is running
            assert time.time() < deadline
            time.sleep(0.01)
        for _ in range(2):  # and two wait
            scheduler.submit("Hola", lambda item: None, max_new_tokens=50, min_new_tokens=50, do_sample=False)
        with pytest.raises(Busy, match="2 requests are waiting"):
            scheduler.submit("Hola", lambda item: None, max_new_tokens=5)
    finally:
        gate.set()
        scheduler.close()


def test_a_call_counts_as_running_from_the_moment_it_leaves_the_queue(tiny_lm, monkeypatch):
    """While its prompt is prefilled (here held at a gate) a call is neither in the batch nor waiting:
    the status still counts it, and a server with no room to wait says busy."""
    gate = hold_forward(tiny_lm, monkeypatch)
    scheduler = Scheduler(tiny_lm, max_batch=4, max_waiting=0)
    try:
        scheduler.submit("Hola", lambda item: None, max_new_tokens=3)
        deadline = time.time() + 10
        while scheduler.status()["running"] < 1:
            assert time.time() < deadline, scheduler.status()
            time.sleep(0.01)
        assert scheduler.status()["rows"] == 0 and scheduler.status()["waiting"] == 0 and scheduler.busy()
        with pytest.raises(Busy):
            scheduler.submit("Hola", lambda item: None, max_new_tokens=3)
    finally:
        gate.set()
        scheduler.close()


@pytest.fixture
def slow_forward(tiny_lm, monkeypatch):
    """Each forward pass of the tiny model takes 10 ms more, so that calls overlap in time."""
    slow_down(tiny_lm, monkeypatch, 0.01)


# -- through the server ---------------------------------------------------------------------------

def test_429_names_the_limit_and_the_server_keeps_serving(tiny_lm, monkeypatch):
    from test_server import Server

    # The first call's decode steps wait at a gate, so that one call is decoding and one waiting for as
    # long as the test needs, whatever the machine's speed.
    gate = hold_forward(tiny_lm, monkeypatch, passing=1)  # the first call's prefill passes
    server = Server(tiny_lm, max_tokens_cap=100, max_batch=1, max_waiting=1)
    try:
        body = {"prompt": "Hola", "max_tokens": 5, "min_tokens": 5, "temperature": 0}
        posts = []
        # One call at a time, each once the previous is in place: sent together, the second could find
        # the first still queued (an instant before it joins) and be the one refused.
        for wanted in ("rows", "waiting"):
            posts.append(threading.Thread(target=httpx.post, args=(server.url + "/v1/completions",),
                                          kwargs={"json": body, "timeout": 60}, daemon=True))
            posts[-1].start()
            deadline = time.time() + 20
            while (status := server.app.state.served.runner.status())[wanted] < 1:
                assert time.time() < deadline, status
                time.sleep(0.01)
        r = httpx.post(server.url + "/v1/completions", json=body, timeout=30)
        assert r.status_code == 429 and "requests are waiting" in r.json()["error"]["message"]
        status = httpx.get(server.url + "/api/status").json()
        assert status["rows"] == 1 and status["waiting"] == 1 and status["max_batch"] == 1
        gate.set()
        for post in posts:
            post.join(timeout=30)
        r = httpx.post(server.url + "/v1/completions", json=body, timeout=30)  # it kept serving
        assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] == 5
    finally:
        gate.set()
        server.stop()


def test_32_concurrent_streaming_clients_all_complete_with_their_solo_text(tiny_lm):
    """A bounded load test on loopback: 32 official openai clients streaming at once, 16 rows at a time."""
    openai = pytest.importorskip("openai")
    from test_server import Server

    server = Server(tiny_lm, max_tokens_cap=32, max_batch=16, name="tiny")
    texts: dict[int, str] = {}
    errors: list[Exception] = []

    def one(i: int) -> None:
        try:
            client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", timeout=120, max_retries=0)
            chunks = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": f"Hola {i}"}],
                                                    max_tokens=16, stream=True, seed=i)
            texts[i] = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        except Exception as err:  # noqa: BLE001
            errors.append(err)

    try:
        threads = [threading.Thread(target=one, args=(i,)) for i in range(32)]
        [t.start() for t in threads]
        [t.join(timeout=180) for t in threads]
        assert not errors and len(texts) == 32
        for i in (0, 7, 31):
            solo = tiny_lm.generate([{"role": "user", "content": f"Hola {i}"}], max_new_tokens=16, seed=i,
                                    do_sample=True, top_n=5)
            assert texts[i] == solo.text
    finally:
        server.stop()
