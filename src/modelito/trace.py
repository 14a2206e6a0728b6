"""Frozen records of a generation: what the model wanted, what the sampler allowed, what was chosen.

    Result ─ sequences ─ Sequence ─ steps ─ Step ─ top ─ Candidate

Log-probabilities are natural logs. `logprob` is the model's own (log-softmax of the raw logits);
`sampling_logprob` is under the final distribution the token was drawn from (-inf when a stage
removed it). `stages` holds a token's log-probability after each stage named in
`Result.stage_names` ("model" first), so one can see which stage removed a token and why a 1 %
token could still be drawn.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator

FINISH_REASONS = ("eos", "stop", "length")


def _prob(logprob: float) -> float:
    return math.exp(logprob) if logprob > -math.inf else 0.0


@dataclass(frozen=True)
class Candidate:
    """One alternative the model considered at a step."""

    token_id: int
    text: str
    logprob: float
    sampling_logprob: float
    stages: tuple[float, ...] = ()

    @property
    def prob(self) -> float:
        """The model's probability."""
        return _prob(self.logprob)

    @property
    def sampling_prob(self) -> float:
        """The probability under the distribution the token was drawn from."""
        return _prob(self.sampling_logprob)


@dataclass(frozen=True)
class Step:
    """One generated token, with the distribution it came from."""

    index: int
    token_id: int
    text: str
    logprob: float
    sampling_logprob: float
    rank: int
    """1 for the model's most likely token."""
    entropy: float
    """Entropy (nats) of the model's distribution: how unsure the model was."""
    sampling_entropy: float
    """Entropy (nats) of the final distribution: how much choice the sampler left (0 when greedy)."""
    top: tuple[Candidate, ...]
    """The top-N tokens by the model's probability, most likely first."""
    stages: tuple[float, ...] = ()
    """The chosen token's log-probability after each stage."""

    @property
    def prob(self) -> float:
        return _prob(self.logprob)

    @property
    def sampling_prob(self) -> float:
        return _prob(self.sampling_logprob)


@dataclass(frozen=True)
class Sequence:
    """One generated continuation."""

    text: str
    token_ids: tuple[int, ...]
    steps: tuple[Step, ...]
    finish_reason: str
    """'eos' (an end-of-sequence token), 'stop' (a stop string) or 'length' (max_new_tokens)."""
    stop_string: str | None = None

    @property
    def logprob(self) -> float:
        """Total log-probability of the generated tokens under the model."""
        return sum(s.logprob for s in self.steps)


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    time_to_first_token_s: float
    tokens_per_second: float
    """Decode speed after the first token (all sequences of the batch together)."""
    total_s: float


@dataclass(frozen=True)
class Result:
    """A whole generation: the prompt, the effective parameters and every sequence's trace."""

    model: str
    prompt: str
    prompt_token_ids: tuple[int, ...]
    sequences: tuple[Sequence, ...]
    params: dict[str, Any]
    stage_names: tuple[str, ...]
    usage: Usage
    random_weights: bool = False
    """True when the model's weights are random: its text means nothing."""
    device: str = "cpu"
    dtype: str = "float32"
    warnings: tuple[str, ...] = field(default=())

    @property
    def text(self) -> str:
        return self.sequences[0].text

    @property
    def steps(self) -> tuple[Step, ...]:
        return self.sequences[0].steps

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["text"] = self.text
        return _finite(data)

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kwargs)

    def __str__(self) -> str:
        from .display import format_result

        return format_result(self)


@dataclass(frozen=True)
class Event:
    """One item of `lm.stream(...)`: new text of one sequence, and at the end the whole result."""

    sequence: int
    text: str
    """The new text (possibly empty: a token can end in the middle of a character)."""
    step: Step | None = None
    finish_reason: str | None = None
    """Set on the event that ends its sequence."""
    result: Result | None = None
    """Set on the very last event of the stream."""

    @property
    def usage(self) -> Usage | None:
        return self.result.usage if self.result else None


def _finite(obj: Any) -> Any:
    """JSON has no -inf: removed tokens are written as null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def iter_steps(result: Result) -> Iterator[tuple[int, Step]]:
    for i, seq in enumerate(result.sequences):
        for step in seq.steps:
            yield i, step
