"""Looking deeper into one text: the logit lens, the attention weights, and gradient × input attribution.

- `lens(lm, text)`: every layer's next-token guess at every position (nostalgebraist's logit lens:
  the residual stream after each layer through the final norm and the unembedding).
- `attention(lm, text)`: the attention probabilities of every layer and head, from the model's eager
  attention (each row a query, summing to 1).
- `attribute(lm, text, target)`: how much each input token's embedding moves the log-probability of the
  target next token, as the L2 norm of gradient × input, normalised to sum to 1 (the saliency of
  Ecco and inseq; Simonyan et al. 2014, Shrikumar et al. 2017).

Each is bounded (positions, and for attention the memory of the weights), with a clear error.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence, Union

import numpy as np
import torch

from .errors import ParameterError, PromptTooLongError
from .lens import layer_logits
from .params import check_top_n, spec_of
from .protocols import LanguageModel, Prompt
from .rendering import Viewable
from .tokens import Token, Tokens
from .trace import json_ready

Prefix = Union[str, Sequence[int]]
MAX_LENS_POSITIONS = 1024
MAX_ATTRIBUTE_POSITIONS = 2048
MAX_ATTENTION_FLOATS = 64_000_000  # layers x heads x positions² (256 MB of float32)


@dataclass(frozen=True)
class Lens(Viewable):
    """The logit lens over a text: rows are layers (0 the embeddings, the last the model's output),
    columns positions, each cell the next-token guess there."""

    model: str
    tokens: Tokens
    top_ids: np.ndarray
    """[layers + 1, positions, top_n]: the most likely next tokens, most likely first."""
    top_probs: np.ndarray
    """[layers + 1, positions, top_n]: their probabilities."""
    target_probs: np.ndarray
    """[layers + 1, positions - 1]: the probability each layer gives the token that actually comes next."""
    top_texts: tuple[tuple[tuple[str, ...], ...], ...]
    """The readable text of each top id, same shape as top_ids."""

    @property
    def layers(self) -> int:
        return self.top_ids.shape[0] - 1

    def decided_at(self, position: int) -> int | None:
        """The first layer from which every layer's top guess at `position` is the model's final one."""
        final = self.top_ids[-1, position, 0]
        at = None
        for layer in range(self.layers, -1, -1):
            if self.top_ids[layer, position, 0] != final:
                break
            at = layer
        return at

    def to_dict(self) -> dict[str, Any]:
        return json_ready({"model": self.model, "tokens": self.tokens.to_dict(), "top_ids": self.top_ids.tolist(),
                           "top_probs": self.top_probs.tolist(), "target_probs": self.target_probs.tolist(),
                           "top_texts": self.top_texts})


@dataclass(frozen=True)
class Attention(Viewable):
    """Attention probabilities: weights[layer, head, query, key], each query's row summing to 1."""

    model: str
    tokens: Tokens
    weights: np.ndarray
    """[layers, heads, positions, positions]."""

    def mean(self, layer: int) -> np.ndarray:
        """One layer's weights averaged over its heads: [positions, positions]."""
        return self.weights[layer].mean(0)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "tokens": self.tokens.to_dict(), "weights": self.weights.tolist()}


@dataclass(frozen=True)
class Attribution(Viewable):
    """Each input token's share of the target token's log-probability (gradient × input, L2, sum 1)."""

    model: str
    tokens: Tokens
    target_id: int
    target_text: str
    target_logprob: float
    scores: np.ndarray
    """[positions], summing to 1."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(tokens=self.tokens.to_dict(), scores=self.scores.tolist())
        return json_ready(data)


def _ids(lm: LanguageModel, prompt: Prompt, limit: int, what: str, prefix: Prefix = "") -> tuple[Tokens, list[int]]:
    """The tokens the model reads for `prompt` (messages through the chat template, then the start of
    the answer `prefix`), within `limit`."""
    text, ids = lm.prompt_ids(prompt, add_generation_prompt=not isinstance(prompt, str), prefix=prefix)
    if len(ids) > limit:
        raise ParameterError("text", f"{len(ids)} tokens", f"at most {limit} tokens for {what} (its memory grows "
                             "with the length): shorten the text")
    if lm.context_length is not None and len(ids) > lm.context_length:
        raise PromptTooLongError(f"The text has {len(ids)} tokens but the model's context is {lm.context_length}.")
    # A text gets the tokenizer's special tokens (BOS); a rendered chat has them written in already. With a
    # prefix of token ids, the tokens are those ids exactly (their text may tokenize otherwise).
    tokens = lm.tokenize(text, add_special_tokens=isinstance(prompt, str))
    if tokens.ids != ids:
        tokens = Tokens(text=text, tokenizer=tokens.tokenizer, tokens=tuple(
            Token(id=i, piece=lm.token_text(i), text=lm.token_text(i), start=0, end=0, special=False) for i in ids))
    return tokens, ids


@torch.inference_mode()
def lens(lm: LanguageModel, prompt: Prompt, top_n: int | None = None, prefix: Prefix = "") -> Lens:
    """What each layer would predict at every position of `prompt` (one forward pass)."""
    top_n = check_top_n(spec_of("top_n").default if top_n is None else top_n) or 1
    tokens, ids = _ids(lm, prompt, MAX_LENS_POSITIONS, "the logit lens", prefix)
    tensor = torch.tensor([ids], device=lm.device)
    states = lm.model(input_ids=tensor, output_hidden_states=True).hidden_states
    top_ids, top_probs, target = [], [], []
    following = tensor[0, 1:, None]
    for logits in layer_logits(lm.model, [h[0] for h in states]):  # one layer at a time: [positions, V]
        probs = logits.softmax(-1)
        best = probs.topk(top_n, dim=-1)
        top_ids.append(best.indices)
        top_probs.append(best.values)
        target.append(probs[:-1].gather(1, following)[:, 0])
    ids_array = torch.stack(top_ids).cpu().numpy()
    texts = tuple(tuple(tuple(lm.token_text(int(t)) for t in cell) for cell in row) for row in ids_array)
    return Lens(model=lm.name, tokens=tokens, top_ids=ids_array, top_probs=torch.stack(top_probs).cpu().numpy(),
                target_probs=torch.stack(target).cpu().numpy(), top_texts=texts)


@torch.inference_mode()
def attention(lm: LanguageModel, prompt: Prompt, prefix: Prefix = "") -> Attention:
    """Every layer's and head's attention probabilities over `prompt`, from the model's eager attention."""
    config = lm.model.config
    layers, heads = config.num_hidden_layers, config.num_attention_heads
    limit = int((MAX_ATTENTION_FLOATS / (layers * heads)) ** 0.5)
    tokens, ids = _ids(lm, prompt, limit, f"attention ({layers} layers x {heads} heads)", prefix)
    # Only the eager implementation returns its probabilities; switch for this pass, then back.
    previous = config._attn_implementation
    lm.model.set_attn_implementation("eager")
    try:
        out = lm.model(input_ids=torch.tensor([ids], device=lm.device), output_attentions=True)
    finally:
        lm.model.set_attn_implementation(previous)
    weights = torch.stack([a[0].float() for a in out.attentions]).cpu().numpy()
    return Attention(model=lm.name, tokens=tokens, weights=weights)


def attribute(lm: LanguageModel, prompt: Prompt, target: int | str | None = None, prefix: Prefix = "") -> Attribution:
    """Gradient × input saliency of the target next token's log-probability (default: the model's most
    likely next token; or a token id, or a text that is one token)."""
    tokens, ids = _ids(lm, prompt, MAX_ATTRIBUTE_POSITIONS, "attribution", prefix)
    embeddings = lm.model.get_input_embeddings()(torch.tensor([ids], device=lm.device)).detach()
    embeddings.requires_grad_(True)
    with torch.enable_grad():
        logits = lm.model(inputs_embeds=embeddings, logits_to_keep=1).logits[0, -1].float()
        logprobs = logits.log_softmax(-1)
        target_id = _target(lm, target, int(logprobs.argmax()), logprobs.shape[-1])
        (gradient,) = torch.autograd.grad(logprobs[target_id], embeddings)  # only the inputs' gradient
    saliency = (gradient[0] * embeddings[0]).float().norm(dim=-1).detach()
    scores = saliency / saliency.sum()
    return Attribution(model=lm.name, tokens=tokens, target_id=target_id, target_text=lm.token_text(target_id),
                       target_logprob=float(logprobs[target_id].detach()), scores=scores.cpu().numpy())


def _target(lm: LanguageModel, target: int | str | None, best: int, vocab: int) -> int:
    if target is None:
        return best
    if isinstance(target, str):
        ids = lm.tokenizer(target, add_special_tokens=False)["input_ids"]
        if len(ids) != 1:
            raise ParameterError("target", target, f"a text of exactly one token (it is {len(ids)}: "
                                 f"{[lm.token_text(i) for i in ids]}), or a token id")
        return ids[0]
    if isinstance(target, bool) or not isinstance(target, int) or not 0 <= target < vocab:
        raise ParameterError("target", target, f"a token id (0 to {vocab - 1}), a one-token text, or None")
    return target
