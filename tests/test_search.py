"""Beam search against transformers, contrastive search against a step computed by hand, greedy three ways."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest
import torch

from modelito import ParameterError
from oracle import processed_logprobs, teacher_forced_logits

CHAT = [{"role": "user", "content": "Hola modelito, hablas español?"}]


def hf_beams(lm, prompt_ids, **kwargs):
    out = lm.model.generate(torch.tensor([prompt_ids]), attention_mask=torch.ones(1, len(prompt_ids), dtype=torch.long),
                            do_sample=False, output_scores=True, return_dict_in_generate=True, **kwargs)
    return [s[len(prompt_ids):].tolist() for s in out.sequences], out.sequences_scores.tolist()


def strip_padding(tokens, eos):
    """transformers pads shorter beams after their EOS; the answer ends at the first EOS."""
    for i, t in enumerate(tokens):
        if t in eos:
            return tokens[: i + 1]
    return tokens


BEAM_SETTINGS = [
    dict(num_beams=2, max_new_tokens=12),
    dict(num_beams=3, max_new_tokens=15, length_penalty=0.5),
    dict(num_beams=4, max_new_tokens=10, length_penalty=2.0, num_return_sequences=3),
    dict(num_beams=5, max_new_tokens=12, early_stopping=True, num_return_sequences=5),
    dict(num_beams=6, max_new_tokens=10, early_stopping="never", length_penalty=2.0, num_return_sequences=2),
    dict(num_beams=3, max_new_tokens=14, no_repeat_ngram_size=2, repetition_penalty=1.3, min_new_tokens=4),
]


def check_against_transformers(lm, prompt, kwargs, expect_eos=None):
    _, ids = lm.prompt_ids(prompt)
    ours = lm.generate(prompt, do_sample=False, **kwargs)
    seqs, scores = hf_beams(lm, ids, **kwargs)
    eos = set(ours.params["eos_token_ids"])
    assert [list(s.token_ids) for s in ours.sequences] == [strip_padding(s, eos) for s in seqs]
    assert [s.score for s in ours.sequences] == pytest.approx(scores, abs=1e-4)
    if expect_eos is not None:
        assert any(s.finish_reason == "eos" for s in ours.sequences) == expect_eos
    return ours


@pytest.mark.parametrize("kwargs", BEAM_SETTINGS)
def test_beam_search_equals_transformers_on_tiny_model(tiny_lm, kwargs):
    for prompt in ("Hola modelito", CHAT):
        check_against_transformers(tiny_lm, prompt, kwargs)


# llama2.c's TinyStories models end a story by starting the next one with <s> (id 1), not </s>.
STORY_END = {"eos_token_id": [1, 2], "max_new_tokens": 300}


@pytest.mark.parametrize("kwargs", [
    dict(num_beams=2, max_new_tokens=40),
    dict(num_beams=4, length_penalty=1.0, num_return_sequences=2, **STORY_END),
    dict(num_beams=3, length_penalty=0.5, early_stopping=True, **STORY_END),
    dict(num_beams=5, length_penalty=2.0, early_stopping="never", **STORY_END),
    dict(num_beams=6, max_new_tokens=30, length_penalty=1.0, early_stopping=False, num_return_sequences=6),
])
def test_beam_search_equals_transformers_on_stories260k(stories_lm, kwargs):
    ours = check_against_transformers(stories_lm, "Once upon a time", kwargs)
    if "eos_token_id" in kwargs:  # the with-EOS cases really reach it (length penalty 2 may still prefer length)
        ended = [c for step in ours.beam_tree.steps for c in step.candidates if c.status == "finished"]
        assert any(stories_lm.tokenizer.convert_ids_to_tokens(c.token_id) in ("<s>", "</s>") for c in ended)
        if kwargs["length_penalty"] <= 1.0:
            assert ours.sequences[0].finish_reason == "eos"


def test_beam_sequences_carry_a_full_trace(tiny_lm):
    result = tiny_lm.generate(CHAT, do_sample=False, num_beams=3, max_new_tokens=8, num_return_sequences=2,
                              repetition_penalty=1.2, top_n=6)
    prompt = list(result.prompt_token_ids)
    for seq in result.sequences:
        new = list(seq.token_ids)
        raw = teacher_forced_logits(tiny_lm.model, prompt + new)[len(prompt) - 1 : -1].log_softmax(-1)
        penalised = processed_logprobs(tiny_lm.model, prompt, new, beam=True, do_sample=False, num_beams=3,
                                       repetition_penalty=1.2)
        assert len(seq.steps) == len(new)
        for i, step in enumerate(seq.steps):
            assert step.token_id == new[i]
            assert step.logprob == pytest.approx(raw[i, new[i]].item(), abs=1e-4)
            assert step.sampling_logprob == pytest.approx(penalised[i][new[i]].item(), abs=1e-4)
            assert [c.token_id for c in step.top] == raw[i].topk(6).indices.tolist()


def test_beam_tree_is_complete_and_serialisable(tiny_lm):
    result = tiny_lm.generate("Hola modelito", do_sample=False, num_beams=3, max_new_tokens=6,
                              repetition_penalty=1.0)
    tree = result.beam_tree
    assert tree is not None and tree.steps[-1].done
    assert tree.steps[0].beams == (-1,)  # the first step expands the prompt alone
    for step in tree.steps:
        eos = len(result.params["eos_token_ids"])
        assert len(step.candidates) == max(2, 1 + eos) * 3  # as many candidates as transformers keeps
        scores = [c.score for c in step.candidates]
        assert scores == sorted(scores, reverse=True)
        kept = [c for c in step.candidates if c.status == "kept"]
        assert len(kept) == 3 or step.done
        for c in step.candidates:
            assert c.status in ("kept", "finished", "ended", "pruned")
            if c.parent is not None:
                parent_score = next(n.score for s in tree.steps for n in s.candidates if n.id == c.parent)
                assert c.score <= parent_score + 1e-6  # log-probabilities only go down
    best_node, best_score = tree.returned[0]
    assert [n.token_id for n in tree.path(best_node)] == list(result.sequences[0].token_ids)
    assert best_score == pytest.approx(result.sequences[0].score)
    assert json.loads(json.dumps(asdict(tree)))["returned"][0][0] == best_node


def test_beams_stream_the_search_then_the_answers(tiny_lm):
    events = list(tiny_lm.stream("Hola modelito", do_sample=False, num_beams=2, max_new_tokens=5,
                                 num_return_sequences=2))
    steps = [e.beam_step for e in events if e.beam_step is not None]
    answers = [e for e in events if e.beam_step is None]
    assert [s.depth for s in steps] == list(range(len(steps)))
    assert len(answers) == 2 and answers[-1].result is not None
    assert [a.text for a in answers] == [s.text for s in answers[-1].result.sequences]


@pytest.mark.parametrize("kwargs, name", [
    ({"num_beams": 3, "do_sample": True}, "do_sample"),
    ({"num_beams": 2, "num_return_sequences": 3}, "num_return_sequences"),
    ({"num_beams": 0}, "num_beams"),
    ({"num_beams": 2, "early_stopping": "sometimes"}, "early_stopping"),
    ({"num_beams": 2, "penalty_alpha": 0.5}, "penalty_alpha"),
    ({"penalty_alpha": 1.5}, "penalty_alpha"),
    ({"penalty_alpha": 0.5, "top_k": 1}, "top_k"),
])
def test_bad_search_parameters(tiny_lm, kwargs, name):
    kwargs.setdefault("do_sample", False)
    with pytest.raises(ParameterError) as err:
        tiny_lm.generate("Hola", **kwargs)
    assert err.value.name == name


# -- contrastive search -----------------------------------------------------------------------------

def test_contrastive_with_alpha_zero_is_greedy(tiny_lm, stories_lm):
    for lm, prompt in ((tiny_lm, CHAT), (stories_lm, "Once upon a time")):
        greedy = lm.generate(prompt, do_sample=False, max_new_tokens=20)
        contrastive = lm.generate(prompt, do_sample=False, penalty_alpha=0.0, top_k=5, max_new_tokens=20)
        assert contrastive.sequences[0].token_ids == greedy.sequences[0].token_ids


@torch.inference_mode()
def test_contrastive_step_matches_a_hand_computation(stories_lm):
    alpha, k = 0.6, 4
    result = stories_lm.generate("Once upon a time", do_sample=False, penalty_alpha=alpha, top_k=k, max_new_tokens=6)
    assert result.stage_names[-1] == "contrastive"
    prompt = list(result.prompt_token_ids)
    tokens = list(result.sequences[0].token_ids)
    model = stories_lm.model
    for t, step in enumerate(result.steps):
        context = prompt + tokens[:t]
        # The candidates: the model's top-k next tokens (no processors are set for this model).
        probs = model(input_ids=torch.tensor([context])).logits[0, -1].float().softmax(-1)
        top_probs, top_ids = probs.topk(k)
        # Each candidate's last hidden state, from an independent full forward pass without a cache.
        states = [model(input_ids=torch.tensor([context + [c]]), output_hidden_states=True).hidden_states[-1][0]
                  for c in top_ids.tolist()]
        penalties = [torch.nn.functional.cosine_similarity(s[-1:], s[:-1]).max().item() for s in states]
        scores = [(1 - alpha) * p - alpha * q for p, q in zip(top_probs.tolist(), penalties)]
        choice = step.contrastive
        assert choice.token_ids == top_ids.tolist()
        assert choice.probs == pytest.approx(top_probs.tolist(), abs=1e-5)
        assert choice.penalties == pytest.approx(penalties, abs=1e-4)
        assert choice.scores == pytest.approx(scores, abs=1e-4)
        assert step.token_id == top_ids[max(range(k), key=scores.__getitem__)].item()
        assert choice.chosen == max(range(k), key=scores.__getitem__)


def test_contrastive_uses_the_cache_not_quadratic_recomputation(stories_lm, monkeypatch):
    seen = []
    original = stories_lm.model.forward

    def spy(*args, **kwargs):
        seen.append(kwargs["input_ids"].shape)
        return original(*args, **kwargs)

    monkeypatch.setattr(stories_lm.model, "forward", spy)
    stories_lm.generate("Once upon a time", do_sample=False, penalty_alpha=0.5, top_k=3, max_new_tokens=10)
    assert seen[0][1] == len(stories_lm.prompt_ids("Once upon a time")[1])  # the prefill
    assert all(shape == (3, 1) for shape in seen[1:])  # then only the k candidates, one token each
    assert len(seen) == 11


# -- greedy, three ways ----------------------------------------------------------------------------

def test_greedy_equals_top_k_1_and_a_very_low_temperature(tiny_lm, stories_lm):
    """The notebook: greedy decoding is sampling with top_k=1, or with temperature close to 0."""
    for lm, prompt in ((tiny_lm, CHAT), (stories_lm, "Once upon a time")):
        greedy = lm.generate(prompt, do_sample=False, max_new_tokens=25).sequences[0].token_ids
        top1 = lm.generate(prompt, do_sample=True, top_k=1, seed=1, max_new_tokens=25).sequences[0].token_ids
        cold = lm.generate(prompt, do_sample=True, temperature=0.001, top_k=0, top_p=1.0, seed=2,
                           max_new_tokens=25).sequences[0].token_ids
        assert greedy == top1 == cold
