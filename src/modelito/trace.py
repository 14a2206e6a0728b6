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
from typing import Any

from .errors import ModelitoError
from .rendering import Viewable

FINISH_REASONS = ("eos", "stop", "length", "interrupted")
STRATEGIES = ("greedy", "sample", "beam", "contrastive")


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
class ContrastiveChoice:
    """How contrastive search chose a token: its top-k candidates and their scores."""

    token_ids: list[int]
    probs: list[float]
    """The model's probability of each candidate (after the processors)."""
    penalties: list[float]
    """Degeneration penalty: highest cosine similarity between the candidate's state and the context's."""
    scores: list[float]
    """(1 - penalty_alpha) * prob - penalty_alpha * penalty: the highest wins."""
    chosen: int
    """Index of the winner in these lists."""


@dataclass(frozen=True)
class LayerGuess:
    """What one layer would have predicted at a step (the logit lens): its most likely token, and the
    probability it gave the token that was chosen."""

    layer: int
    """0: the embeddings; the last: the model's output."""
    top_id: int
    top_prob: float
    chosen_prob: float
    top_text: str = ""


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
    contrastive: ContrastiveChoice | None = None
    """Contrastive search only: the candidates and how they were scored."""
    lens: tuple[LayerGuess, ...] = ()
    """With lens=True: every layer's guess at this step, embeddings first, from the same forward pass."""
    sampler_state: dict[str, float] | None = None
    """What stateful stages recorded at this step: mirostat_mu (before its update), xtc_draw and
    xtc_removed, dynatemp (the temperature used)."""

    @property
    def prob(self) -> float:
        return _prob(self.logprob)

    @property
    def sampling_prob(self) -> float:
        return _prob(self.sampling_logprob)

    @property
    def decided_at(self) -> int | None:
        """The first layer from which every layer's top guess is the chosen token (None: not even the
        last, as when the sampler drew another token, or without lens)."""
        at = None
        for guess in reversed(self.lens):
            if guess.top_id != self.token_id:
                break
            at = guess.layer
        return at


@dataclass(frozen=True)
class Sequence:
    """One generated continuation."""

    text: str
    token_ids: tuple[int, ...]
    steps: tuple[Step, ...]
    finish_reason: str
    """'eos' (an end-of-sequence token), 'stop' (a stop string, or a remote engine's stop), 'length'
    (max_new_tokens), or 'interrupted' (a remote engine's stream broke: the Result's warnings say where)."""
    stop_string: str | None = None
    score: float | None = None
    """Beam search only: the length-normalised score it was ranked by (transformers' sequences_scores)."""

    @property
    def logprob(self) -> float:
        """Total log-probability of the generated tokens under the model."""
        return sum(s.logprob for s in self.steps)


@dataclass(frozen=True)
class BeamNode:
    """One candidate of a beam search: a partial answer considered at some step."""

    id: int
    parent: int | None
    """The node this one extends; None for the first token after the prompt."""
    depth: int
    token_id: int
    text: str
    logprob: float
    """The model's log-probability of this token after its parent (before any processing)."""
    score: float
    """Cumulative (processed) log-probability of the answer up to this token: what beams are ranked by."""
    status: str
    """'kept' (a live beam for the next step), 'finished' (entered the pool of finished answers),
    'ended' (an end of answer that did not enter the pool), or 'pruned' (not among the best)."""
    normalised_score: float | None = None
    """For ended answers: score / length ** length_penalty, the final ranking's measure."""


@dataclass(frozen=True)
class BeamStep:
    """One step of a beam search: the beams it expanded, their best continuations, the finished pool."""

    depth: int
    beams: tuple[int, ...]
    """Node ids of the live beams this step expanded (-1: the prompt itself, at depth 0)."""
    candidates: tuple[BeamNode, ...]
    """The best continuations over all beams, best first."""
    finished: tuple[tuple[int, float], ...]
    """The finished answers after this step, as (last node id, normalised score), best first."""
    done: bool = False


@dataclass(frozen=True)
class BeamTree:
    """The whole search: enough to draw every candidate, what was kept, pruned and finished."""

    steps: tuple[BeamStep, ...]
    returned: tuple[tuple[int, float], ...]
    """The answers returned, as (last node id, normalised score), best first."""
    length_penalty: float
    early_stopping: bool | str

    def path(self, node_id: int) -> list[BeamNode]:
        """The tokens of the answer ending at `node_id`, first to last."""
        nodes = {n.id: n for step in self.steps for n in step.candidates}
        out = []
        current: int | None = node_id
        while current is not None:
            out.append(nodes[current])
            current = nodes[current].parent
        return out[::-1]


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    time_to_first_token_s: float
    tokens_per_second: float
    """Decode speed after the first token (all sequences of the batch together)."""
    total_s: float


@dataclass(frozen=True)
class Result(Viewable):
    """A whole generation: the prompt, the effective parameters and every sequence's trace."""

    model: str
    prompt: str
    prompt_token_ids: tuple[int, ...]
    sequences: tuple[Sequence, ...]
    params: dict[str, Any]
    stage_names: tuple[str, ...]
    usage: Usage
    strategy: str
    """How tokens were chosen: 'greedy', 'sample', 'beam' or 'contrastive' (decided once, from the parameters)."""
    random_weights: bool = False
    """True when the model's weights are random: its text means nothing."""
    device: str = "cpu"
    dtype: str = "float32"
    warnings: tuple[str, ...] = field(default=())
    beam_tree: BeamTree | None = None
    """Beam search only: the search tree."""
    engine: dict[str, str] | None = None
    """A remote engine's result: its kind, URL and what its log-probabilities are ('raw', 'processed',
    'exact', 'unknown'). Values it does not give are NaN (null in JSON)."""

    @property
    def text(self) -> str:
        return self.sequences[0].text

    @property
    def steps(self) -> tuple[Step, ...]:
        return self.sequences[0].steps

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["text"] = self.text
        return json_ready(data)

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kwargs)

    def to_pandas(self):
        """One row per generated token of every sequence (needs pandas)."""
        return to_pandas([
            {"sequence": i, "step": st.index, "token_id": st.token_id, "text": st.text, "prob": st.prob,
             "sampling_prob": st.sampling_prob, "rank": st.rank, "entropy": st.entropy,
             "top": [(c.text, c.prob) for c in st.top]}
            for i, seq in enumerate(self.sequences) for st in seq.steps
        ])


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
    beam_step: BeamStep | None = None
    """Beam search streams the search, not text: one event per step of the tree's growth."""

    @property
    def usage(self) -> Usage | None:
        return self.result.usage if self.result else None


def json_ready(obj: Any) -> Any:
    """Plain JSON data: tuples become lists, and -inf (a removed token) null, since JSON has no infinities."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    return obj


def record_json(record: Any) -> Any:
    """Any frozen record (a Step, a BeamStep, ...) as plain JSON data."""
    return json_ready(asdict(record))


def to_pandas(rows: list[dict[str, Any]]):
    """A pandas DataFrame of `rows` (pandas is optional: a clear error says how to get it)."""
    try:
        import pandas
    except ImportError as err:
        raise ModelitoError("to_pandas() needs pandas: pip install pandas") from err
    return pandas.DataFrame(rows)
