"""Supervised fine-tuning on chat conversations, with the loss on the assistant's tokens only.

Each conversation is written in ChatML piece by piece, so we know which tokens the assistant
wrote: `<|im_start|>role\\n` (no loss) + content and `<|im_end|>` (loss when the role is
assistant) + `\\n` (no loss). The pieces are checked to tokenise exactly as the model's own chat
template renders the whole conversation, so training sees what inference will see.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Sequence

import torch

from ..errors import ModelitoError
from .loop import Batch, Budget, History, Schedule, train
from .pretrain import finish, save
from .tokenizer import CHATML_TEMPLATE

IGNORE = -100


@dataclass(frozen=True)
class SFTRecipe:
    batch_size: int = 16
    max_length: int = 256
    held_out: float = 0.05
    seed: int = 0
    schedule: Schedule = Schedule(lr=1e-3, warmup_steps=30, eval_every=100)
    budget: Budget = Budget(max_steps=600)


def read_jsonl(path: str | Path) -> list[list[dict]]:
    """Conversations from a JSONL file of {"messages": [{"role", "content"}, ...]} lines."""
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            messages = json.loads(line)["messages"]
            assert all(isinstance(m["role"], str) and isinstance(m["content"], str) for m in messages)
        except (ValueError, KeyError, TypeError, AssertionError) as err:
            raise ModelitoError(f"{path}, line {n}: expected {{\"messages\": [{{\"role\", \"content\"}}, ...]}}") from err
        out.append(messages)
    return out


def encode(tokenizer, messages: Sequence[dict]) -> tuple[list[int], list[int]]:
    """Token ids of the conversation and its labels (-100 except on the assistant's tokens)."""
    ids: list[int] = []
    labels: list[int] = []
    for m in messages:
        head = tokenizer(f"<|im_start|>{m['role']}\n", add_special_tokens=False)["input_ids"]
        body = tokenizer(f"{m['content']}<|im_end|>", add_special_tokens=False)["input_ids"]
        tail = tokenizer("\n", add_special_tokens=False)["input_ids"]
        learn = m["role"] == "assistant"
        ids += head + body + tail
        labels += [IGNORE] * len(head) + (body if learn else [IGNORE] * len(body)) + [IGNORE] * len(tail)
    rendered = tokenizer.apply_chat_template(list(messages), tokenize=False)
    if tokenizer(rendered, add_special_tokens=False)["input_ids"] != ids:
        raise ModelitoError("this model's chat template is not plain ChatML: modelito's fine-tuning supports ChatML only")
    return ids, labels


def batches(examples: list[tuple[list[int], list[int]]], size: int, pad: int, rng: random.Random) -> Iterator[Batch]:
    """Endless shuffled batches, right-padded (pads carry no loss; causal attention never looks right)."""
    while True:
        order = list(range(len(examples)))
        rng.shuffle(order)
        for i in range(0, len(order) - size + 1, size):
            yield _pad([examples[j] for j in order[i : i + size]], pad)


def _pad(group: list[tuple[list[int], list[int]]], pad: int) -> Batch:
    width = max(len(ids) for ids, _ in group)
    ids = torch.full((len(group), width), pad)
    labels = torch.full((len(group), width), IGNORE)
    for row, (i, l) in enumerate(group):
        ids[row, : len(i)] = torch.tensor(i)
        labels[row, : len(l)] = torch.tensor(l)
    return ids, labels


def sft(data: str | Path, base: str | Path, out: str | Path, recipe: SFTRecipe = SFTRecipe(),
        progress: bool = True) -> History:
    """Fine-tune the model folder `base` on the conversations in `data`; save to `out`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    tokenizer = AutoTokenizer.from_pretrained(base)
    if not tokenizer.chat_template:  # a base model from `pretrain`: chatting starts here
        tokenizer.chat_template = CHATML_TEMPLATE
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    torch.manual_seed(recipe.seed)
    rng = random.Random(recipe.seed)
    conversations = read_jsonl(data)
    rng.shuffle(conversations)
    encoded = [encode(tokenizer, c) for c in conversations]
    encoded = [(i[: recipe.max_length], l[: recipe.max_length]) for i, l in encoded]
    cut = max(1, int(len(encoded) * recipe.held_out))
    held, kept = encoded[:cut], encoded[cut:]
    pad = tokenizer.pad_token_id
    eval_batches = [_pad(held[i : i + recipe.batch_size], pad) for i in range(0, len(held), recipe.batch_size)]
    history = train(model, batches(kept, recipe.batch_size, pad, rng), eval_batches, recipe.budget, recipe.schedule,
                    progress=None if progress else False)
    im_end, eot = tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.convert_tokens_to_ids("<|endoftext|>")
    out = Path(out)
    save(model, tokenizer, out, GenerationConfig(
        do_sample=True, temperature=0.7, top_k=20, top_p=0.8, repetition_penalty=1.1,
        eos_token_id=[im_end, eot], pad_token_id=eot,
    ))
    base_facts = json.loads((Path(base) / "training.json").read_text()) if (Path(base) / "training.json").exists() else {}
    facts = {
        "kind": "instruct", "data": [*base_facts.get("data", []), Path(data).name], "base": str(base),
        "conversations": len(conversations), "parameters": model.num_parameters(),
        "recipe": json.loads(json.dumps(asdict(recipe), default=str)), "history": history.to_dict(),
    }
    finish(out, facts, history)
    return history
