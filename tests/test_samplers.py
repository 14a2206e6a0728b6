"""The samplers people use: transformers' ε, η and top-H against its own processors; llama.cpp's top-nσ,
XTC, DRY, dynamic temperature and mirostat against their published definitions on small vectors with
known answers; OpenAI's penalties and logit_bias against their formulas; echo's prompt log-probabilities
against a teacher-forced pass; every field through the official openai client."""

from __future__ import annotations

import math

import pytest
import torch
from transformers.generation import logits_process as lp

from modelito import ParameterError, sampling
from modelito.params import GenerationParams
from modelito.stages import PAD_ID, RowState, _dry_lengths, mirostat_after
from oracle import processed_logprobs, teacher_forced_logits


def scores_batch(vocab: int, seed: int, rows: int = 3) -> torch.Tensor:
    return torch.randn(rows, vocab, generator=torch.Generator().manual_seed(seed)) * 3


@pytest.mark.parametrize("ours, theirs", [
    (sampling.epsilon_cutoff(3e-3), lp.EpsilonLogitsWarper(3e-3)),
    (sampling.epsilon_cutoff(0.05), lp.EpsilonLogitsWarper(0.05)),
    (sampling.eta_cutoff(3e-3), lp.EtaLogitsWarper(3e-3)),
    (sampling.eta_cutoff(0.05), lp.EtaLogitsWarper(0.05)),
    (sampling.top_h(0.4), lp.TopHLogitsWarper(0.4)),
    (sampling.top_h(1.0), lp.TopHLogitsWarper(1.0)),
])
@pytest.mark.parametrize("vocab", [12, 1000])
def test_transformers_warpers_are_equal(ours, theirs, vocab):
    for seed in range(5):
        scores = scores_batch(vocab, seed)
        assert torch.equal(ours(None, scores.clone()), theirs(None, scores.clone())), seed


@pytest.mark.parametrize("kwargs", [
    dict(epsilon_cutoff=3e-3), dict(eta_cutoff=1e-2), dict(top_h=0.6),
    dict(top_h=0.7, top_k=30, top_p=0.9, epsilon_cutoff=1e-3, eta_cutoff=1e-3, temperature=0.8),
])
def test_each_steps_sampler_probability_equals_transformers_processors(tiny_lm, kwargs):
    """Generated with modelito; every step's final distribution recomputed by transformers' own
    LogitsProcessorList (built by generate's own code) from a teacher-forced pass."""
    messages = [{"role": "user", "content": "Hola modelito"}]
    result = tiny_lm.generate(messages, max_new_tokens=6, do_sample=True, seed=3, **kwargs)
    names = [s for s in ("top_h", "epsilon_cutoff", "eta_cutoff") if s in kwargs]
    assert all(n in result.stage_names for n in names)
    theirs = processed_logprobs(tiny_lm.model, list(result.prompt_token_ids), list(result.sequences[0].token_ids),
                                do_sample=True, **kwargs)
    for step, expected in zip(result.steps, theirs):
        assert step.sampling_logprob == pytest.approx(expected[step.token_id].item(), abs=1e-5)
        for c in step.top:
            want = expected[c.token_id].item()
            assert (c.sampling_logprob == -math.inf) == (want == -math.inf)
            if want > -math.inf:
                assert c.sampling_logprob == pytest.approx(want, abs=1e-5)


def test_top_n_sigma_keeps_logits_within_n_standard_deviations():
    scores = torch.tensor([[3.0, 2.0, 1.0, 0.0, float("-inf")]])  # finite: mean 1.5, population std sqrt(1.25)
    keep = lambda n: torch.isfinite(sampling.top_n_sigma(n)(None, scores.clone()))[0].tolist()  # noqa: E731
    assert keep(1.0) == [True, True, False, False, False]  # >= 3 - 1.118
    assert keep(2.0) == [True, True, True, False, False]  # >= 3 - 2.236
    assert keep(3.0) == [True, True, True, True, False]
    # Temperature scales max, mean and std alike: the cut does not depend on where it sits.
    assert torch.isfinite(sampling.top_n_sigma(1.0)(None, scores / 0.5)).tolist() == [keep(1.0)]


def test_xtc_removes_the_top_choices_but_the_least_likely_of_them():
    scores = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log()
    state = RowState(xtc_generator=torch.Generator().manual_seed(0))
    out = sampling.xtc([1.0], [0.1], [state])(None, scores.clone())
    assert torch.isfinite(out)[0].tolist() == [False, False, True, True]  # 0.5 and 0.3 go, 0.15 stays
    assert state.recorded["xtc_removed"] == 2 and 0 <= state.recorded["xtc_draw"] < 1
    never = RowState(xtc_generator=torch.Generator().manual_seed(0))
    assert torch.equal(sampling.xtc([1e-9], [0.1], [never])(None, scores.clone()), scores)  # the draw said no
    one_above = torch.tensor([[0.8, 0.1, 0.06, 0.04]]).log()
    assert torch.equal(sampling.xtc([1.0], [0.5], [RowState(xtc_generator=torch.Generator())])(None, one_above),
                       one_above)  # a single top choice is kept
    # The draw comes from the call's seed and is recorded: the same seed, the same draws.
    draws = [[RowState(xtc_generator=torch.Generator().manual_seed(7)) for _ in range(1)] for _ in range(2)]
    for states in draws:
        sampling.xtc([0.5], [0.1], states)(None, scores.clone())
    assert draws[0][0].recorded == draws[1][0].recorded


def test_dry_on_the_worked_example_of_its_source():
    """llama.cpp's comment: `a b c c b c y a b c`, allowed length 1, base 2, multiplier 1: c would extend
    a repetition of length 3 (`a b c` as at the start), y one of 2 (`b c`), b one of 1 (`c`)."""
    a, b, c, y = 1, 2, 3, 4
    ctx = [a, b, c, c, b, c, y, a, b, c]
    assert _dry_lengths(ctx, 1, frozenset()) == {c: 3, y: 2, b: 1}
    scores = torch.zeros(1, 6)
    out = sampling.dry([1.0], [2.0], [1], [0], [frozenset()])(torch.tensor([ctx]), scores)
    assert out[0].tolist() == [0.0, 0.0, -1.0, -4.0, -2.0, 0.0]  # multiplier * base ** (length - allowed)
    # A sequence breaker: y is never penalised (it would follow `b c` at position 5), the rest stays.
    assert _dry_lengths(ctx, 1, frozenset({y})) == {c: 3, b: 1}
    assert _dry_lengths(ctx + [y], 1, frozenset({y})) == {}  # the text ends in a breaker: no penalty
    # The window: only the last tokens count; padding of shorter rows never does.
    padded = torch.tensor([[PAD_ID, PAD_ID, *ctx]])
    assert torch.equal(sampling.dry([1.0], [2.0], [1], [0], [frozenset()])(padded, torch.zeros(1, 6)), out)
    assert sampling.dry([1.0], [2.0], [1], [3], [frozenset()])(torch.tensor([ctx]), torch.zeros(1, 6)).abs().sum() < 4


def test_dynamic_temperature_follows_the_normalised_entropy():
    states = [RowState()]
    t, spread, exponent = (torch.tensor([[x]]) for x in (1.0, 0.5, 1.0))
    stage = sampling.dynamic_temperature(t, spread, exponent, states)
    uniform = torch.zeros(1, 4)  # entropy ln 4 of ln 4: the highest temperature, 1.5
    assert torch.allclose(stage(None, uniform + 2.0), (uniform + 2.0) / 1.5)
    assert states[0].recorded["dynatemp"] == pytest.approx(1.5)
    peaked = torch.tensor([[10.0, 0.0, 0.0, 0.0]])
    probs = peaked.softmax(-1)
    entropy = -(probs * probs.log()).sum().item()
    expected_t = 0.5 + 1.0 * entropy / math.log(4)  # lo + (hi - lo) * H / ln N
    assert torch.allclose(stage(None, peaked), peaked / expected_t)
    one = torch.tensor([[1.0, float("-inf"), float("-inf"), float("-inf")]])
    assert torch.equal(stage(None, one), one)  # a single candidate: left as it is


def test_mirostat_truncates_by_surprise_and_follows_it():
    probs = torch.tensor([[0.5, 0.25, 0.125, 0.0625, 0.0625]])
    state = RowState(mirostat_mu=2 * 1.5)  # tau 1.5 bits: mu starts at 3
    stage, after = sampling.mirostat([state]), mirostat_after([1.5], [0.2], [state])
    out = stage(None, probs.log())
    assert torch.isfinite(out)[0].tolist() == [True, True, True, False, False]  # surprise 1, 2, 3 bits kept
    assert state.recorded["mirostat_mu"] == 3.0
    after(out, torch.tensor([1]))  # chose the second: surprise under the truncated distribution
    q = torch.tensor([0.5, 0.25, 0.125]) / 0.875
    assert state.mirostat_mu == pytest.approx(3.0 - 0.2 * (-math.log2(q[1].item()) - 1.5))
    tight = RowState(mirostat_mu=0.1)
    assert torch.isfinite(sampling.mirostat([tight])(None, probs.log()))[0].tolist() == [True, False, False, False,
                                                                                         False]  # the top always stays


def test_frequency_and_presence_penalties_count_the_answer_only():
    prompt, answer = [5, 6, 7], [8, 8, 9, 5]
    ids = torch.tensor([[PAD_ID, *prompt, *answer]])  # a shorter row, left-padded
    scores = torch.zeros(1, 12)
    freq = sampling.frequency_penalty(0.5, 3)(ids, scores)
    assert freq[0].tolist() == [0, 0, 0, 0, 0, -0.5, 0, 0, -1.0, -0.5, 0, 0]  # 5 once in the answer, 8 twice, 9 once
    pres = sampling.presence_penalty(0.3, 3)(ids, scores)
    assert [round(x, 6) for x in pres[0].tolist()] == [0, 0, 0, 0, 0, -0.3, 0, 0, -0.3, -0.3, 0, 0]


def test_logit_bias_is_first_and_the_model_probability_stays_unbiased(tiny_lm):
    messages = [{"role": "user", "content": "Hola"}]
    plain = tiny_lm.generate(messages, max_new_tokens=1, do_sample=False)
    forced = min(t for t in range(10, 200) if t != plain.steps[0].token_id)
    biased = tiny_lm.generate(messages, max_new_tokens=1, do_sample=False, logit_bias={forced: 100})
    step = biased.steps[0]
    assert biased.stage_names[:2] == ("model", "logit_bias") and step.token_id == forced
    model_lp = teacher_forced_logits(tiny_lm.model, list(biased.prompt_token_ids))[-1].log_softmax(-1)
    assert step.logprob == pytest.approx(model_lp[forced].item(), abs=1e-5)  # the model's own, unbiased
    assert step.stages[1] > step.stages[0]  # the bias shows in its own stage


def test_sampler_order_reorders_the_stages_and_the_default_is_unchanged(tiny_lm):
    messages = [{"role": "user", "content": "Hola"}]
    default = tiny_lm.generate(messages, max_new_tokens=4, seed=1)
    assert default.stage_names == ("model", "repetition_penalty", "temperature", "top_k", "top_p")
    reordered = tiny_lm.generate(messages, max_new_tokens=4, seed=1, sampler_order=["top_p", "temperature"])
    assert reordered.stage_names == ("model", "top_p", "temperature", "repetition_penalty", "top_k")
    # top-p before temperature keeps a different set than after it: the final distribution differs.
    assert [s.sampling_logprob for s in default.steps] != [s.sampling_logprob for s in reordered.steps]


@pytest.mark.parametrize("kwargs, name", [
    (dict(epsilon_cutoff=-0.1), "epsilon_cutoff"), (dict(eta_cutoff=1.0), "eta_cutoff"), (dict(top_h=1.5), "top_h"),
    (dict(xtc_probability=1.5), "xtc_probability"), (dict(xtc_threshold=0.7), "xtc_threshold"),
    (dict(sampler_order=["top_k", "wizardry"]), "sampler_order"), (dict(sampler_order=["top_k", "top-k"]), "sampler_order"),
    (dict(logit_bias={"999999": 5}), "logit_bias"), (dict(logit_bias={"hola": 5}), "logit_bias"),
    (dict(logit_bias={5: 500}), "logit_bias"), (dict(frequency_penalty=3), "frequency_penalty"),
    (dict(dry_base=0.5), "dry_base"), (dict(mirostat_eta=0), "mirostat_eta"), (dict(top_n_sigma=-1), "top_n_sigma"),
])
def test_bad_values_name_the_parameter(tiny_lm, kwargs, name):
    with pytest.raises(ParameterError) as err:
        tiny_lm.generate("Hola", max_new_tokens=2, do_sample=True, **kwargs)
    assert err.value.name == name and "is not allowed" in str(err.value)


def test_new_samplers_in_the_running_batch_equal_their_solo_runs(tiny_lm):
    from modelito.scheduler import Scheduler

    settings = [dict(xtc_probability=0.7, xtc_threshold=0.05), dict(mirostat_tau=2.0), dict(dry_multiplier=1.0),
                dict(dynatemp_range=0.4, top_n_sigma=1.5), dict(frequency_penalty=1.0, logit_bias={7: 3.0}),
                dict(sampler_order=["top_p", "temperature"], top_h=0.8)]
    scheduler = Scheduler(tiny_lm, max_batch=8)
    try:
        import threading

        results = {}

        def run(i):
            messages = [{"role": "user", "content": f"Cuéntame algo {i}"}]
            kwargs = dict(max_new_tokens=10, seed=i, do_sample=True, **settings[i])
            results[i] = (scheduler.generate(messages, **kwargs), tiny_lm.generate(messages, **kwargs))

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(settings))]
        [t.start() for t in threads]
        [t.join(timeout=120) for t in threads]
        for batched, solo in results.values():
            assert batched.sequences[0].token_ids == solo.sequences[0].token_ids
            for a, b in zip(batched.steps, solo.steps):  # the same records, to the batch's float rounding
                assert (a.sampler_state or {}).keys() == (b.sampler_state or {}).keys()
                assert list((a.sampler_state or {}).values()) == pytest.approx(list((b.sampler_state or {}).values()),
                                                                               abs=1e-4)
            assert batched.stage_names == solo.stage_names
        mu = [s.sampler_state["mirostat_mu"] for s in results[1][1].steps]
        assert mu[0] == 4.0 and len(set(mu)) > 1  # 2τ, then it moves with the observed surprise
    finally:
        scheduler.close()


def test_echo_and_prompt_logprobs_and_every_field_through_the_openai_client(tiny_lm):
    openai = pytest.importorskip("openai")
    from test_server import Server

    server = Server(tiny_lm, max_tokens_cap=16, name="tiny")
    try:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="x")
        prompt = "Hola modelito, hablas"
        ids = tiny_lm.prompt_ids(prompt)[1]
        logp = teacher_forced_logits(tiny_lm.model, ids).log_softmax(-1)
        echoed = client.completions.create(model="tiny", prompt=prompt, max_tokens=3, echo=True, logprobs=2,
                                           temperature=0)
        choice = echoed.choices[0]
        assert choice.text.startswith(prompt)
        assert choice.logprobs.token_logprobs[0] is None
        expected = [logp[i, ids[i + 1]].item() for i in range(len(ids) - 1)]
        assert choice.logprobs.token_logprobs[1:len(ids)] == pytest.approx(expected, abs=1e-4)
        assert "".join(choice.logprobs.tokens) == choice.text
        extended = client.completions.create(model="tiny", prompt=prompt, max_tokens=2, temperature=0,
                                             extra_body={"prompt_logprobs": 3})
        entries = extended.choices[0].model_extra["prompt_logprobs"]
        assert entries[0] is None and len(entries) == len(ids)
        for i, entry in enumerate(entries[1:]):
            assert entry[str(ids[i + 1])]["logprob"] == pytest.approx(expected[i], abs=1e-4)
            assert sum(1 for e in entry.values() if e["rank"] <= 3) == 3
        used = client.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "Hola"}], max_tokens=4, seed=1, frequency_penalty=0.5,
            presence_penalty=0.2, logit_bias={"7": 2.0}, extra_body={"xtc_probability": 0.5, "mirostat_tau": 3.0,
                                                                    "sampler_order": ["top_k", "temperature"]})
        ext = used.choices[0].model_extra["modelito"]
        assert ext["params"]["frequency_penalty"] == 0.5 and ext["params"]["logit_bias"] == {"7": 2.0}
        assert {"frequency_penalty", "presence_penalty", "logit_bias", "xtc", "mirostat"} <= set(ext["stage_names"])
        with pytest.raises(openai.BadRequestError, match="sampler_order"):
            client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "Hola"}],
                                           extra_body={"sampler_order": ["wizardry"]})
    finally:
        server.stop()


def test_the_illustrated_guide_builds(tmp_path):
    """docs/make_sampler_guide.py: one figure per sampler, from the engine's own trace."""
    import importlib.util

    from conftest import ROOT

    spec = importlib.util.spec_from_file_location("guide", ROOT / "docs" / "make_sampler_guide.py")
    guide = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(guide)
    page = guide.build(tmp_path).read_text(encoding="utf-8")
    figures = sorted((tmp_path / "img" / "samplers").glob("*.svg"))
    assert len(figures) == len(guide.SAMPLERS) and page.count("![") == len(guide.SAMPLERS)
    assert "→ dry" in page and "→ xtc" in page and "→ mirostat" in page and "logit_bias" in page
