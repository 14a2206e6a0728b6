"""Scoring a given text: how surprising each of its tokens is to the model (teacher forcing).

One forward pass over the whole text gives, at every position, the model's distribution over the
next token; each actual token's log-probability, rank and alternatives come from it, through the
same `observe` as generation. The first token has no context to be predicted from (unless the
tokenizer adds a beginning-of-sequence token), so it is shown but not scored.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import torch

from .engine import observe
from .trace import Candidate, Step, _finite

if TYPE_CHECKING:
    from .lm import LM, Prompt


@dataclass(frozen=True)
class Score:
    model: str
    text: str
    """The exact text scored (a chat rendered through its template)."""
    first_token: tuple[int, str]
    """The first token, which nothing predicts: (id, text)."""
    steps: tuple[Step, ...]
    """Every later token, with the model's log-probability, rank, entropy and alternatives."""
    random_weights: bool = False

    @property
    def logprob(self) -> float:
        """Total log-probability of the scored tokens."""
        return sum(s.logprob for s in self.steps)

    @property
    def perplexity(self) -> float:
        """exp(mean negative log-probability): the number of equally likely tokens the model hesitated
        between, on average."""
        return math.exp(-self.logprob / len(self.steps)) if self.steps else float("nan")

    def most_surprising(self, n: int = 5) -> list[Step]:
        return sorted(self.steps, key=lambda s: s.logprob)[:n]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(logprob=self.logprob, perplexity=self.perplexity)
        return _finite(data)

    def to_pandas(self):
        """One row per scored token (needs pandas)."""
        from .trace import to_pandas

        return to_pandas([{"step": s.index, "token_id": s.token_id, "text": s.text, "prob": s.prob, "rank": s.rank,
                           "entropy": s.entropy} for s in self.steps])

    def __str__(self) -> str:
        from .display import format_score

        return format_score(self)

    def _repr_html_(self) -> str:
        from .html import score_html

        return score_html(self)


@torch.inference_mode()
def score(lm: "LM", prompt: "Prompt", top_n: int = 5) -> Score:
    """Teacher-force `prompt` (a text, or chat messages rendered without a generation prompt)."""
    from .params import MAX_TOP_N, _check_int

    _check_int("top_n", top_n, low=0, high=MAX_TOP_N, allowed=f"an integer from 0 to {MAX_TOP_N}")
    text, ids = lm.prompt_ids(prompt, add_generation_prompt=False)
    if len(ids) < 2:
        from .errors import ModelitoError

        raise ModelitoError(f"{text!r} is a single token: scoring needs at least two (one to predict the next).")
    context = lm.context_length
    if context is not None and len(ids) > context:
        from .errors import PromptTooLongError

        raise PromptTooLongError(f"The text has {len(ids)} tokens but the model's context is {context} tokens.")
    tensor = torch.tensor([ids], device=lm.device)
    logits = lm.model(input_ids=tensor).logits[0, :-1].float()  # [T-1, V]: position t predicts token t+1
    final = logits.log_softmax(-1)
    draw = observe([logits], final, tensor[0, 1:], top_n, argmax=False)
    steps = tuple(
        Step(
            index=i, token_id=token, text=lm.token_text(token), logprob=draw.logprob[i],
            sampling_logprob=draw.logprob[i], rank=draw.rank[i], entropy=draw.entropy[i],
            sampling_entropy=draw.entropy[i],
            top=tuple(Candidate(token_id=t, text=lm.token_text(t), logprob=lp[0], sampling_logprob=lp[0],
                                stages=tuple(lp)) for t, lp in zip(draw.top_ids[i], draw.top_stages[i])),
            stages=tuple(draw.chosen_stages[i]),
        )
        for i, token in enumerate(draw.token_ids)
    )
    return Score(model=lm.name, text=text, first_token=(ids[0], lm.token_text(ids[0])), steps=steps,
                 random_weights=lm.random_weights)
