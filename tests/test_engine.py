"""The decoding engine against independent oracles: transformers' generate and processors, forward passes."""

from __future__ import annotations

import math

import pytest
import torch

from oracle import chi_square_p, hf_processors, processed_logprobs, teacher_forced_logits

PUBLISHED_STORY = (
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
    "One day, she saw a big, red ball."
)
CHAT = [{"role": "user", "content": "Hola modelito, hablas español?"}]


def hf_greedy(lm, prompt_ids, **kwargs):
    out = lm.model.generate(torch.tensor([prompt_ids]), attention_mask=torch.ones(1, len(prompt_ids), dtype=torch.long),
                            do_sample=False, **kwargs)
    return out[0, len(prompt_ids):].tolist()


# -- greedy equals transformers, token for token --------------------------------------------------

@pytest.mark.parametrize("kwargs", [
    {"max_new_tokens": 40},                                   # the model's repetition_penalty 1.1 applies
    {"max_new_tokens": 40, "repetition_penalty": 1.0},
    {"max_new_tokens": 30, "no_repeat_ngram_size": 2, "repetition_penalty": 1.3},
    {"max_new_tokens": 30, "min_new_tokens": 25},
])
def test_greedy_equals_transformers_on_tiny_model(tiny_lm, kwargs):
    for prompt in ("Hola modelito, hablas español?", CHAT):
        text, ids = tiny_lm.prompt_ids(prompt)
        ours = tiny_lm.generate(prompt, do_sample=False, **kwargs)
        assert list(ours.sequences[0].token_ids) == hf_greedy(tiny_lm, ids, **kwargs)


def test_greedy_reproduces_published_stories260k_text(stories_lm):
    result = stories_lm.generate("", do_sample=False, max_new_tokens=60)
    assert result.prompt_token_ids == (1,)  # the BOS token alone: unconditional generation
    assert result.text.startswith(PUBLISHED_STORY)
    assert list(result.sequences[0].token_ids) == hf_greedy(stories_lm, [1], max_new_tokens=60)


def test_greedy_equals_transformers_on_stories260k_with_prompt(stories_lm):
    _, ids = stories_lm.prompt_ids("Tom had a dog")
    ours = stories_lm.generate("Tom had a dog", do_sample=False, max_new_tokens=50, repetition_penalty=1.2)
    assert list(ours.sequences[0].token_ids) == hf_greedy(stories_lm, ids, max_new_tokens=50, repetition_penalty=1.2)


# -- every recorded probability against an independent computation --------------------------------

SAMPLING_SETTINGS = [
    {},  # the model's own defaults: temperature 0.7, top_k 20, top_p 0.8, repetition_penalty 1.1
    {"temperature": 1.5},
    {"top_k": 3, "temperature": 1.0, "top_p": 1.0, "repetition_penalty": 1.0},
    {"top_p": 0.5, "top_k": 0},
    {"min_p": 0.2, "top_k": 0, "top_p": 1.0},
    {"typical_p": 0.7, "top_k": 0, "top_p": 1.0},
    {"repetition_penalty": 1.8, "no_repeat_ngram_size": 2},
    {"min_new_tokens": 10, "temperature": 0.9, "top_k": 40, "top_p": 0.95, "min_p": 0.05, "typical_p": 0.9},
]


@pytest.mark.parametrize("kwargs", SAMPLING_SETTINGS)
def test_logprobs_match_forward_pass_and_transformers_processors(tiny_lm, kwargs):
    result = tiny_lm.generate(CHAT, do_sample=True, max_new_tokens=12, num_return_sequences=2, seed=7, top_n=8, **kwargs)
    prompt = list(result.prompt_token_ids)
    for seq in result.sequences:
        new = list(seq.token_ids)
        raw = teacher_forced_logits(tiny_lm.model, prompt + new)[len(prompt) - 1 : -1].log_softmax(-1)
        final = processed_logprobs(tiny_lm.model, prompt, new, do_sample=True, **kwargs)
        for i, step in enumerate(seq.steps):
            assert step.logprob == pytest.approx(raw[i, step.token_id].item(), abs=1e-4)
            assert step.sampling_logprob > -math.inf  # a drawn token was allowed
            assert step.sampling_logprob == pytest.approx(final[i][step.token_id].item(), abs=1e-4)
            assert step.rank == int((raw[i] > raw[i, step.token_id]).sum()) + 1
            expected_top = raw[i].topk(8)
            assert [c.token_id for c in step.top] == expected_top.indices.tolist()
            for cand in step.top:
                assert cand.logprob == pytest.approx(raw[i, cand.token_id].item(), abs=1e-4)
                assert cand.sampling_logprob == pytest.approx(final[i][cand.token_id].item(), abs=1e-4) or (
                    cand.sampling_logprob == -math.inf and final[i][cand.token_id] == -math.inf)
            p = raw[i].exp()
            assert step.entropy == pytest.approx(float(-(p * raw[i]).sum()), abs=1e-4)


def test_stage_table_ends_in_the_final_distribution(tiny_lm):
    result = tiny_lm.generate(CHAT, do_sample=True, max_new_tokens=5, seed=1, top_k=5, top_p=0.9)
    assert result.stage_names == ("model", "repetition_penalty", "temperature", "top_k", "top_p")
    for step in result.steps:
        assert step.stages[0] == pytest.approx(step.logprob)
        assert step.stages[-1] == step.sampling_logprob
        for cand in step.top:
            assert len(cand.stages) == len(result.stage_names)
            removed = [name for name, lp in zip(result.stage_names, cand.stages) if lp == -math.inf]
            if removed:  # once a stage removes a token, every later stage keeps it removed
                first = result.stage_names.index(removed[0])
                assert all(lp == -math.inf for lp in cand.stages[first:])


def test_greedy_trace_is_certain_and_records_the_processed_scores(tiny_lm):
    result = tiny_lm.generate(CHAT, do_sample=False, max_new_tokens=6, repetition_penalty=1.5)
    assert result.stage_names == ("model", "repetition_penalty", "greedy")
    prompt, new = list(result.prompt_token_ids), list(result.sequences[0].token_ids)
    penalised = processed_logprobs(tiny_lm.model, prompt, new, do_sample=False, repetition_penalty=1.5)
    for i, step in enumerate(result.steps):
        assert step.sampling_logprob == 0.0 and step.sampling_entropy == 0.0
        assert step.stages[1] == pytest.approx(penalised[i][step.token_id].item(), abs=1e-4)
        assert step.token_id == int(penalised[i].argmax())


# -- sampling is statistically right ---------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [{"temperature": 1.0, "top_k": 0, "top_p": 1.0, "repetition_penalty": 1.0},
                                    {"temperature": 0.8, "top_k": 0, "top_p": 0.9},
                                    {"temperature": 1.2, "top_k": 30, "top_p": 0.95}])  # drawn among the kept few
def test_draw_frequencies_match_the_final_distribution(tiny_lm, kwargs):
    draws = 6000
    result = tiny_lm.generate("Hola", do_sample=True, max_new_tokens=1, num_return_sequences=draws, seed=1234,
                              top_n=0, **kwargs)
    prompt = list(result.prompt_token_ids)
    logits = teacher_forced_logits(tiny_lm.model, prompt)[-1:]
    procs = hf_processors(tiny_lm.model, len(prompt), do_sample=True, **kwargs)
    probs = procs(torch.tensor([prompt]), logits.clone())[0].softmax(-1).double()
    counts = torch.bincount(torch.tensor([s.token_ids[0] for s in result.sequences]), minlength=probs.numel())
    assert counts[probs == 0].sum() == 0  # never a removed token
    # Deterministic (fixed seed): a correct sampler passes, a wrong one fails by a wide margin.
    assert chi_square_p(counts.double(), probs * draws) > 1e-3


# -- seeds, several sequences ----------------------------------------------------------------------

def test_seed_reproduces_and_num_return_sequences_batches(tiny_lm):
    a = tiny_lm.generate(CHAT, do_sample=True, max_new_tokens=15, seed=42, num_return_sequences=3)
    b = tiny_lm.generate(CHAT, do_sample=True, max_new_tokens=15, seed=42, num_return_sequences=3)
    c = tiny_lm.generate(CHAT, do_sample=True, max_new_tokens=15, seed=43, num_return_sequences=3)
    assert len(a.sequences) == 3
    assert [s.token_ids for s in a.sequences] == [s.token_ids for s in b.sequences]
    assert [s.token_ids for s in a.sequences] != [s.token_ids for s in c.sequences]
    assert len({s.token_ids for s in a.sequences}) > 1


def test_unseeded_sampling_records_the_seed_it_drew(tiny_lm):
    first = tiny_lm.generate(CHAT, do_sample=True, max_new_tokens=10)
    assert first.params["sources"]["seed"] == "drawn at random"
    again = tiny_lm.generate(CHAT, do_sample=True, max_new_tokens=10, seed=first.params["seed"])
    assert again.sequences[0].token_ids == first.sequences[0].token_ids


# -- how sequences end -----------------------------------------------------------------------------

def test_eos_ends_a_sequence_and_is_kept_in_its_tokens(tiny_lm):
    greedy = tiny_lm.generate(CHAT, do_sample=False, max_new_tokens=20, repetition_penalty=1.0)
    third = greedy.sequences[0].token_ids[2]
    ended = tiny_lm.generate(CHAT, do_sample=False, max_new_tokens=20, repetition_penalty=1.0, eos_token_id=[third])
    seq = ended.sequences[0]
    assert seq.finish_reason == "eos"
    assert seq.token_ids == greedy.sequences[0].token_ids[: greedy.sequences[0].token_ids.index(third) + 1]


def test_length_and_stop_strings(tiny_lm):
    full = tiny_lm.generate("Hola", do_sample=False, max_new_tokens=30, repetition_penalty=1.0, eos_token_id=[])
    assert full.sequences[0].finish_reason == "length" and len(full.steps) == 30
    text = full.text
    stop = text[len(text) // 2 : len(text) // 2 + 3]
    assert stop.strip(), f"no usable stop string in {text!r}"
    cut = tiny_lm.generate("Hola", do_sample=False, max_new_tokens=30, repetition_penalty=1.0, eos_token_id=[],
                           stop_strings=[stop])
    assert cut.sequences[0].finish_reason == "stop"
    assert cut.sequences[0].stop_string == stop
    assert cut.text == text[: text.index(stop)]


def test_stream_text_joins_to_the_result_and_ends_with_finish_reason(tiny_lm):
    events = list(tiny_lm.stream(CHAT, do_sample=True, seed=3, max_new_tokens=25, num_return_sequences=2))
    result = events[-1].result
    assert result is not None and events[-1].finish_reason is not None
    for i, seq in enumerate(result.sequences):
        mine = [e for e in events if e.sequence == i]
        assert "".join(e.text for e in mine) == seq.text
        assert mine[-1].finish_reason == seq.finish_reason
    usage = result.usage
    assert usage.prompt_tokens == len(result.prompt_token_ids)
    assert usage.completion_tokens == sum(len(s.steps) for s in result.sequences)
    assert usage.time_to_first_token_s > 0


def test_empty_prompt_needs_a_bos_token(tiny_lm, stories_lm):
    with pytest.raises(Exception, match="empty"):
        tiny_lm.generate("", max_new_tokens=3)
    assert stories_lm.generate("", max_new_tokens=3, do_sample=False).prompt_token_ids == (1,)
