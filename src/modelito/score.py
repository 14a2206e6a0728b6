"""Scoring a given text: how surprising each of its tokens is to the model (teacher forcing).

One forward pass over the whole text gives, at every position, the model's distribution over the
next token; each actual token's log-probability, rank and alternatives come from it, through the
same `observe` as generation. The first token has no context to be predicted from (unless the
tokenizer adds a beginning-of-sequence token), so it is shown but not scored.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch

from .engine import observe
from .errors import ModelitoError, PromptTooLongError
from .generation import to_step
from .params import check_top_n, spec_of
from .protocols import LanguageModel, Prompt
from .rendering import Viewable
from .trace import Step, json_ready, to_pandas


@dataclass(frozen=True)
class Score(Viewable):
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
        return json_ready(data)

    def to_pandas(self):
        """One row per scored token (needs pandas)."""
        return to_pandas([{"step": s.index, "token_id": s.token_id, "text": s.text, "prob": s.prob, "rank": s.rank,
                           "entropy": s.entropy} for s in self.steps])


@torch.inference_mode()
def score(lm: LanguageModel, prompt: Prompt, top_n: int | None = None) -> Score:
    """Teacher-force `prompt` (a text, or chat messages rendered without a generation prompt)."""
    text, ids = lm.prompt_ids(prompt, add_generation_prompt=False)
    return score_ids(lm, text, ids, top_n)


@torch.inference_mode()
def score_ids(lm: LanguageModel, text: str, ids: list[int], top_n: int | None = None) -> Score:
    """Teacher-force the exact token ids `ids` (whose text is `text`): a prompt as the model reads it."""
    top_n = check_top_n(spec_of("top_n").default if top_n is None else top_n)
    if len(ids) < 2:
        raise ModelitoError(f"{text!r} is a single token: scoring needs at least two (one to predict the next).")
    context = lm.context_length
    if context is not None and len(ids) > context:
        raise PromptTooLongError(f"The text has {len(ids)} tokens but the model's context is {context} tokens.")
    tensor = torch.tensor([ids], device=lm.device)
    logits = lm.model(input_ids=tensor).logits[0, :-1].float()  # [T-1, V]: position t predicts token t+1
    # Each position is a row: the same observe() as generation, with no stage but the model.
    draws = observe([logits], logits.log_softmax(-1), tensor[0, 1:], top_n, argmax=False)
    steps = tuple(to_step(draw, i, lm.token_text) for i, draw in enumerate(draws))
    return Score(model=lm.name, text=text, first_token=(ids[0], lm.token_text(ids[0])), steps=steps,
                 random_weights=lm.random_weights)
