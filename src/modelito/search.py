"""Search loops on the same model step as the sampler: beam search and contrastive search.

Beam search keeps the `num_beams` best partial answers by cumulative log-probability and returns
the best finished ones, ranked by log-probability / length ** length_penalty. It is transformers'
beam search (the same candidates, pruning, finishing and stopping rules, so the same sequences and
`sequences_scores`), written as one loop that records the search tree as it goes.

Contrastive search (Su et al. 2022) takes the model's top-k tokens and picks the one maximising
(1 - alpha) * p(v | context) - alpha * max cosine similarity between v's last hidden state and
those of the context, which keeps the model from repeating itself.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Iterator

import torch
from transformers import DynamicCache

from .engine import Draw, decode_step, observe
from .params import GenerationParams
from .sampling import Stage, run_stages
from .trace import BeamNode, BeamStep, BeamTree, ContrastiveChoice

BIG = -1.0e9  # transformers' "impossible" score: kept identical so that rankings break ties alike


@torch.inference_mode()
def beam_search(
    model: torch.nn.Module,
    prompt_ids: torch.Tensor,
    params: GenerationParams,
    stages: tuple[Stage, ...],
    token_text: Callable[[int], str],
) -> Iterator[BeamStep | BeamTree]:
    """Yield a BeamStep per step of the search, then the finished BeamTree."""
    beams, length_penalty, early_stopping = params.num_beams, params.length_penalty, params.early_stopping
    prompt_len = prompt_ids.shape[1]
    max_length = prompt_len + params.max_new_tokens
    eos = torch.tensor(params.eos_token_ids, dtype=torch.long, device=prompt_ids.device)
    keep = max(2, 1 + len(params.eos_token_ids)) * beams  # enough candidates to refill every beam
    in_top = torch.arange(keep, device=prompt_ids.device) < beams  # only these may enter the finished pool

    cache = DynamicCache(config=model.config)
    logits = decode_step(model, prompt_ids, cache).expand(beams, -1)  # one prefill, shared by every beam
    cache.batch_repeat_interleave(beams)
    running = prompt_ids.expand(beams, -1)  # [K, L]
    running_scores = torch.full((beams,), BIG, device=prompt_ids.device)
    running_scores[0] = 0.0  # all beams start equal: expand only the first at step one
    running_nodes: list[int | None] = [None] * beams
    pool_scores = torch.full((beams,), BIG, device=prompt_ids.device)
    pool_nodes: list[int | None] = [None] * beams
    pool_full = torch.zeros(beams, dtype=torch.bool, device=prompt_ids.device)
    improvable = True
    steps: list[BeamStep] = []

    for depth in range(params.max_new_tokens):
        cur_len = prompt_len + depth
        logprobs = logits.log_softmax(-1)  # transformers' beam search processes log-probabilities
        processed = run_stages(stages, running, logprobs)[-1]
        vocab = logprobs.shape[-1]
        top_scores, top_index = (processed + running_scores[:, None]).reshape(-1).topk(keep)
        rows, tokens = top_index // vocab, top_index % vocab
        ends = torch.isin(tokens, eos) | (cur_len + 1 >= max_length)

        # The next live beams: the best candidates that did not just end.
        live_scores = top_scores + ends.float() * BIG
        chosen = live_scores.topk(beams).indices
        # The finished pool: candidates that ended among the best `beams`, while they can still matter.
        just_finished = ends & in_top
        normalised = top_scores / ((cur_len + 1 - prompt_len) ** length_penalty)
        if early_stopping is True and bool(pool_full.all()):
            normalised = normalised + BIG
        if not improvable:
            normalised = normalised + BIG
        normalised = normalised + (~just_finished).float() * BIG
        merged = torch.cat([pool_scores, normalised]).topk(beams).indices

        # The tree: one node per candidate.
        first_id = sum(len(s.candidates) for s in steps)
        chosen_set = set(chosen.tolist())
        # Placeholders can tie with the empty pool's -1e9 and slip in; only real endings count.
        entered = {m - beams for m in merged.tolist() if m >= beams and bool(just_finished[m - beams])}
        model_lp = logprobs[rows, tokens].tolist()
        nodes = tuple(
            BeamNode(
                id=first_id + c, parent=running_nodes[r], depth=depth, token_id=t, text=token_text(t),
                logprob=model_lp[c], score=s,
                status="finished" if c in entered else "ended" if e else "kept" if c in chosen_set else "pruned",
                normalised_score=s / ((cur_len + 1 - prompt_len) ** length_penalty) if e else None,
            )
            for c, (r, t, s, e) in enumerate(zip(rows.tolist(), tokens.tolist(), top_scores.tolist(), ends.tolist()))
        )
        expanded = tuple(-1 if n is None else n for n in dict.fromkeys(running_nodes[r] for r in rows.tolist()))
        pool_nodes = [pool_nodes[m] if m < beams else first_id + m - beams for m in merged.tolist()]
        pool_full = torch.cat([pool_full, just_finished])[merged]
        pool_scores = torch.cat([pool_scores, normalised])[merged]

        # Advance the live beams: the cache follows their parents, their tokens are appended.
        parents = rows[chosen]
        cache.reorder_cache(parents)
        running = torch.cat([running[parents], tokens[chosen][:, None]], dim=1)
        running_scores = live_scores[chosen]
        running_nodes = [first_id + c for c in chosen.tolist()]

        # Can a live beam still beat the worst finished answer? (transformers' early-stop heuristic)
        if early_stopping == "never" and length_penalty > 0.0:
            best_length = max_length - prompt_len
        else:
            best_length = cur_len + 1 - prompt_len
        best_possible = running_scores[0] / (best_length**length_penalty)
        worst = torch.where(pool_full, pool_scores.min(), torch.tensor(BIG, device=pool_full.device))
        improvable = improvable and bool((best_possible > worst).any())
        done = not improvable or (early_stopping is True and bool(pool_full.all())) or bool(ends.all())
        finished = tuple((n, s) for n, s, f in zip(pool_nodes, pool_scores.tolist(), pool_full.tolist()) if f)
        step = BeamStep(depth=depth, beams=expanded, candidates=nodes, finished=finished, done=done)
        steps.append(step)
        yield step
        if done:
            break
        logits = decode_step(model, running[:, -1:], cache)

    returned = tuple((n, s) for n, s, f in zip(pool_nodes, pool_scores.tolist(), pool_full.tolist()) if f)
    yield BeamTree(steps=tuple(steps), returned=returned[: params.num_return_sequences],
                   length_penalty=length_penalty, early_stopping=early_stopping)


@torch.inference_mode()
def trace_sequence(
    model: torch.nn.Module, prompt_ids: list[int], token_ids: list[int], stages: tuple[Stage, ...], top_n: int,
    on_logprobs: bool = True, argmax: bool = False,
) -> list[Draw]:
    """The per-step trace of a given answer, from one teacher-forced forward pass over it.

    A beam's tokens are only known once the search ends; the search itself ranks, and this pass
    records, for each token, the same fields as a sampled step (the model's alternatives, every
    stage's probabilities). The stages see log-probabilities, as in beam search, or the raw logits
    (`on_logprobs=False`), as in sampling. With `argmax`, the final distribution is greedy decoding's:
    certainty for the processed scores' argmax (as `observe` records a greedy step).
    """
    ids = torch.tensor([prompt_ids + token_ids], device=model.device)
    # Only the positions that predict the answer's tokens go through the LM head.
    logits = model(input_ids=ids, logits_to_keep=len(token_ids) + 1).logits[0, :-1]
    logprobs = logits.float().log_softmax(-1) if on_logprobs else logits.float()  # [T, V]
    draws = []
    for t, token in enumerate(token_ids):
        scores = run_stages(stages, ids[:, : len(prompt_ids) + t], logprobs[t : t + 1])
        final = scores[-1].log_softmax(-1)
        if argmax:  # greedy: the argmax is certain, every other token impossible
            final = torch.full_like(final, float("-inf")).scatter(1, final.argmax(-1, keepdim=True), 0.0)
        draws += observe([*scores, final] if argmax else scores, final,
                         ids[0, len(prompt_ids) + t : len(prompt_ids) + t + 1], top_n, argmax=False)
    return draws


@torch.inference_mode()
def contrastive_steps(
    model: torch.nn.Module,
    prompt_ids: torch.Tensor,
    params: GenerationParams,
    stages: tuple[Stage, ...],
) -> Iterator[list[Draw]]:
    """Yield, per token, its trace (one row, with the contrastive ranking that chose it).

    Each step runs the top-k candidates through the model in one batch (the cache is copied k
    times); the winner's forward pass is the next step's, so nothing is recomputed.
    """
    k, alpha = params.top_k, params.penalty_alpha
    cache = DynamicCache(config=model.config)
    out = model(input_ids=prompt_ids, cache=cache, use_cache=True, output_hidden_states=True, logits_to_keep=1)
    logits = out.logits[:, -1].float()  # [1, V]
    context = out.hidden_states[-1][0]  # [T, H]: the last layer's states of every token so far
    ids = prompt_ids
    for _ in range(params.max_new_tokens):
        scores = run_stages(stages, ids, logits)
        probs = scores[-1].softmax(-1)[0]
        top_probs, top_ids = probs.topk(k)
        cache.batch_repeat_interleave(k)
        cand = model(input_ids=top_ids[:, None], cache=cache, use_cache=True, output_hidden_states=True, logits_to_keep=1)
        hidden = cand.hidden_states[-1][:, -1]  # [k, H]
        penalty = degeneration_penalty(context, hidden)
        ranking = (1 - alpha) * top_probs - alpha * penalty
        best = int(ranking.argmax())
        token = top_ids[best : best + 1]
        final_lp = scores[-1].log_softmax(-1)
        choice = ContrastiveChoice(token_ids=top_ids.tolist(), probs=top_probs.tolist(), penalties=penalty.tolist(),
                                   scores=ranking.tolist(), chosen=best)
        yield [replace(observe(scores, final_lp, token, params.top_n, argmax=True)[0], contrastive=choice)]
        cache.batch_select_indices(torch.tensor([best], device=ids.device))
        logits = cand.logits[best : best + 1, -1].float()
        context = torch.cat([context, hidden[best : best + 1]], dim=0)
        ids = torch.cat([ids, token[None]], dim=1)


def degeneration_penalty(context: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """For each candidate state [k, H], its highest cosine similarity with any context state [T, H]."""
    context = context / context.norm(dim=-1, keepdim=True)
    candidates = candidates / candidates.norm(dim=-1, keepdim=True)
    return (candidates.float() @ context.float().T).max(dim=-1).values  # [k]
