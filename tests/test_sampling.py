"""Each sampler stage against the transformers processor it mirrors, on exact small and real-size vectors."""

from __future__ import annotations

import math

import pytest
import torch
from transformers.generation import logits_process as lp

from modelito import sampling


def scores_batch(vocab: int, seed: int, rows: int = 3) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(rows, vocab, generator=g) * 3


CASES = [
    (sampling.temperature(0.7), lp.TemperatureLogitsWarper(0.7)),
    (sampling.top_k(5), lp.TopKLogitsWarper(5)),
    (sampling.top_p(0.8), lp.TopPLogitsWarper(0.8)),
    (sampling.top_p(0.3, min_keep=2), lp.TopPLogitsWarper(0.3, min_tokens_to_keep=2)),
    (sampling.min_p(0.1), lp.MinPLogitsWarper(0.1)),
    (sampling.typical_p(0.6), lp.TypicalLogitsWarper(0.6)),
    (sampling.repetition_penalty(1.3), lp.RepetitionPenaltyLogitsProcessor(1.3)),
    (sampling.no_repeat_ngram(2), lp.NoRepeatNGramLogitsProcessor(2)),
    (sampling.no_repeat_ngram(3), lp.NoRepeatNGramLogitsProcessor(3)),
    (sampling.min_new_tokens(5, 4, [1, 7]), lp.MinNewTokensLengthLogitsProcessor(4, 5, torch.tensor([1, 7]))),
]


@pytest.mark.parametrize("ours, theirs", CASES)
@pytest.mark.parametrize("vocab", [12, 1000])
def test_stage_equals_transformers(ours, theirs, vocab):
    for seed in range(5):
        scores = scores_batch(vocab, seed)
        ids = torch.randint(0, min(vocab, 6), (3, 7), generator=torch.Generator().manual_seed(seed))
        assert torch.equal(ours(ids, scores.clone()), theirs(ids, scores.clone())), seed


@pytest.mark.parametrize("k, p", [(20, 0.8), (3, 0.5), (50, 0.95)])
def test_top_p_after_top_k_takes_the_short_path_and_agrees(k, p):
    """The compact top-p (few finite scores) against transformers' full sort, on a real-size vocabulary."""
    for seed in range(5):
        scores = lp.TopKLogitsWarper(k)(None, scores_batch(151_936, seed, rows=2))
        ours = sampling.top_p(p)(None, scores.clone())
        theirs = lp.TopPLogitsWarper(p)(None, scores.clone())
        assert torch.equal(torch.isinf(ours), torch.isinf(theirs))
        assert torch.equal(ours[torch.isfinite(ours)], theirs[torch.isfinite(theirs)])


def test_top_p_with_tied_scores_keeps_what_transformers_keeps():
    """bfloat16 logits tie often; transformers' sort decides which tied token survives the cut."""
    tied = torch.tensor([[3.0, 1, 3, 0, 0, 1] + [float("-inf")] * 18])
    assert torch.equal(sampling.top_p(0.3)(None, tied.clone()), lp.TopPLogitsWarper(0.3)(None, tied.clone()))
    for seed in range(20):
        scores = (scores_batch(4000, seed, rows=2) + 5).bfloat16().float()
        scores = lp.TopKLogitsWarper(50)(None, scores)
        assert torch.equal(sampling.top_p(0.8)(None, scores.clone()), lp.TopPLogitsWarper(0.8)(None, scores.clone()))


def test_exact_values_on_a_four_token_vector():
    """Worked by hand: p = softmax([ln 4, ln 3, ln 2, ln 1]) = [0.4, 0.3, 0.2, 0.1]."""
    logits = torch.tensor([[math.log(4), math.log(3), math.log(2), 0.0]])
    keep = lambda s: torch.isfinite(s[0]).tolist()  # noqa: E731
    assert keep(sampling.top_k(2)(None, logits)) == [True, True, False, False]
    assert keep(sampling.top_p(0.6)(None, logits)) == [True, True, False, False]  # 0.4 + 0.3 >= 0.6
    assert keep(sampling.top_p(0.75)(None, logits)) == [True, True, True, False]
    assert keep(sampling.min_p(0.6)(None, logits)) == [True, True, False, False]  # 0.6 * 0.4 = 0.24
    probs = sampling.temperature(0.5)(None, logits).softmax(-1)[0]
    assert probs.tolist() == pytest.approx([16 / 30, 9 / 30, 4 / 30, 1 / 30])
    penalised = sampling.repetition_penalty(2.0)(torch.tensor([[0, 3]]), torch.tensor([[2.0, 1.0, -1.0, -2.0]]))
    assert penalised.tolist() == [[1.0, 1.0, -1.0, -4.0]]


def test_choose_is_greedy_or_draws_with_the_generator():
    logprobs = torch.tensor([[0.1, 0.7, 0.2]]).log()
    assert sampling.choose(logprobs, False, None).tolist() == [1]
    a = [sampling.choose(logprobs, True, torch.Generator().manual_seed(5)).item() for _ in range(3)]
    b = [sampling.choose(logprobs, True, torch.Generator().manual_seed(5)).item() for _ in range(3)]
    assert a == b
