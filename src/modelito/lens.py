"""The logit lens: what each layer of the model would predict, if the model stopped there.

Each decoder layer adds to a residual stream; passing the stream after layer l through the model's
final norm and its unembedding (the LM head) gives the next-token distribution "layer l believes"
(nostalgebraist, "interpreting GPT: the logit lens", 2020). Row 0 is the embeddings' own guess; the
last row is the model's output itself, whose hidden state transformers has already normed.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import torch

from .errors import ModelitoError
from .trace import LayerGuess


def final_norm(model: torch.nn.Module) -> torch.nn.Module:
    """The norm the model applies before its LM head (Llama, Qwen, Mistral: `model.norm`; GPT-2: `ln_f`)."""
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else None
    for name in ("norm", "ln_f", "final_layernorm", "final_layer_norm"):
        norm = getattr(decoder, name, None)
        if isinstance(norm, torch.nn.Module):
            return norm
    raise ModelitoError(f"the logit lens needs the final norm of {type(model).__name__}, which modelito does not "
                        "find (it knows norm, ln_f, final_layernorm)")


def layer_logits(model: torch.nn.Module, hidden_states: Sequence[torch.Tensor]) -> Iterator[torch.Tensor]:
    """Per layer (embeddings first, the output last), the next-token logits [..., V] in float32.

    `hidden_states` is transformers' `output_hidden_states` tuple: the last is already normed."""
    norm, head = final_norm(model), model.get_output_embeddings()
    last = len(hidden_states) - 1
    for layer, hidden in enumerate(hidden_states):
        yield head(hidden if layer == last else norm(hidden)).float()


def step_guesses(model: torch.nn.Module, hidden_states: Sequence[torch.Tensor], tokens: torch.Tensor,
                 rows: Sequence[int]) -> dict[int, tuple[LayerGuess, ...]]:
    """For the rows asked for: at every layer, the most likely next token and its probability, and the
    probability of the token that was chosen (`tokens` [B]). `hidden_states` are [B, T, H] per layer;
    the last position is the one that predicted `tokens`."""
    index = torch.tensor(list(rows), device=tokens.device)
    chosen = tokens[index][:, None]
    per_layer = []
    for logits in layer_logits(model, [h[index, -1] for h in hidden_states]):
        probs = logits.softmax(-1)  # [R, V]
        top_prob, top_id = probs.max(-1)
        per_layer.append(torch.stack([top_id.float(), top_prob, probs.gather(1, chosen)[:, 0]], dim=-1))
    table = torch.stack(per_layer, dim=1).tolist()  # [R, layers + 1, 3]
    return {row: tuple(LayerGuess(layer=l, top_id=int(t), top_prob=p, chosen_prob=c)
                       for l, (t, p, c) in enumerate(table[k])) for k, row in enumerate(rows)}
