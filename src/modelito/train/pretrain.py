"""Pretraining a tiny Qwen2-architecture model from scratch on plain text.

    texts ─ normalise ─ train_tokenizer ─ encode ─ split (held-out tail of each file)
          ─ random windows of `block_size` tokens ─ loop.train ─ save folder (+ card, loss curve)
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Sequence

import torch

from .loop import Batch, Budget, History, Schedule, train
from .report import write_card, write_loss_curve
from .tokenizer import train_tokenizer


@dataclass(frozen=True)
class ModelShape:
    """The architecture: a small Qwen2 (grouped-query attention, RoPE, SwiGLU, tied embeddings)."""

    vocab_size: int = 4096
    hidden_size: int = 256
    intermediate_size: int = 768
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 512


@dataclass(frozen=True)
class PretrainRecipe:
    shape: ModelShape = ModelShape()
    block_size: int = 256
    batch_size: int = 16
    held_out: float = 0.02
    """Fraction of each text file (its tail) kept for held-out loss."""
    seed: int = 0
    schedule: Schedule = Schedule()
    budget: Budget = Budget()


def normalise(text: str) -> str:
    """NFC, one paragraph per line: hard-wrapped prose (the Quijote) is unwrapped; blank lines go."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n"))
    paragraphs = re.split(r"\n\s*\n", text)
    lines = [" ".join(p.split()) for p in paragraphs]
    return "\n".join(line for line in lines if line)


def read_texts(paths: Sequence[str | Path]) -> list[str]:
    return [normalise(Path(p).read_text(encoding="utf-8")) for p in paths]


def split_ids(ids: list[int], held_out: float) -> tuple[list[int], list[int]]:
    cut = int(len(ids) * (1 - held_out))
    return ids[:cut], ids[cut:]


def windows(ids: torch.Tensor, block: int, batch: int, generator: torch.Generator) -> Iterator[Batch]:
    """Endless random windows of `block` tokens; labels = inputs (the loop shifts them)."""
    while True:
        starts = torch.randint(0, len(ids) - block, (batch,), generator=generator)
        x = torch.stack([ids[s : s + block] for s in starts.tolist()])
        yield x, x


def eval_windows(ids: torch.Tensor, block: int, batch: int, limit: int = 8) -> list[Batch]:
    """Fixed, non-overlapping held-out windows."""
    count = min(limit * batch, max(1, (len(ids) - 1) // block))
    x = torch.stack([ids[i * block : (i + 1) * block] for i in range(count)])
    return [(b, b) for b in x.split(batch)]


def pretrain(paths: Sequence[str | Path], out: str | Path, recipe: PretrainRecipe = PretrainRecipe(),
             progress: bool = True) -> History:
    """Train a tokenizer and a model on the text files; save a Hugging Face folder at `out`."""
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    texts = read_texts(paths)
    shape = recipe.shape
    tokenizer = train_tokenizer(texts, shape.vocab_size)
    tokenizer.model_max_length = shape.max_position_embeddings
    # A base model continues text; it gets the ChatML template when it is fine-tuned to chat (sft.py).
    tokenizer.chat_template = None
    eot = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    train_ids: list[int] = []
    test_ids: list[int] = []
    for text in texts:
        a, b = split_ids(tokenizer(text, add_special_tokens=False)["input_ids"], recipe.held_out)
        train_ids += a + [eot]
        test_ids += b + [eot]

    torch.manual_seed(recipe.seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=shape.hidden_size, intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.num_hidden_layers, num_attention_heads=shape.num_attention_heads,
        num_key_value_heads=shape.num_key_value_heads, max_position_embeddings=shape.max_position_embeddings,
        tie_word_embeddings=True, bos_token_id=None, eos_token_id=eot, pad_token_id=eot,
    )
    model = Qwen2ForCausalLM(config)
    generator = torch.Generator().manual_seed(recipe.seed)
    train_t, test_t = torch.tensor(train_ids), torch.tensor(test_ids)
    history = train(
        model,
        windows(train_t, recipe.block_size, recipe.batch_size, generator),
        eval_windows(test_t, recipe.block_size, recipe.batch_size),
        recipe.budget, recipe.schedule, progress=None if progress else False,
    )
    out = Path(out)
    save(model, tokenizer, out, GenerationConfig(
        do_sample=True, temperature=0.8, top_k=40, top_p=0.95, repetition_penalty=1.1,
        eos_token_id=eot, pad_token_id=eot,
    ))
    facts = {
        "kind": "base", "data": [Path(p).name for p in paths], "train_tokens": len(train_ids),
        "held_out_tokens": len(test_ids), "parameters": model.num_parameters(),
        "recipe": _plain(asdict(recipe)), "history": history.to_dict(),
    }
    finish(out, facts, history)
    return history


def save(model, tokenizer, out: Path, generation_config, dtype: torch.dtype = torch.float32) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model.generation_config = generation_config
    model.to(dtype).save_pretrained(out)
    model.float()
    tokenizer.save_pretrained(out)


def finish(out: Path, facts: dict, history: History) -> None:
    """Write training.json, loss_curve.svg and the README model card."""
    (out / "training.json").write_text(json.dumps(facts, indent=1, ensure_ascii=False), encoding="utf-8")
    write_loss_curve(history, out / "loss_curve.svg")
    write_card(out, facts)


def _plain(obj):
    return json.loads(json.dumps(obj, default=str))
