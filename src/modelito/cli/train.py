"""`modelito train pretrain|sft`: train your own tiny modelito on your text, on a CPU, in minutes."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ModelitoError


def register(commands) -> None:
    train = commands.add_parser("train", help="train a tiny model from scratch or fine-tune it to chat",
                                description=__doc__)
    sub = train.add_subparsers(dest="stage", metavar="STAGE", required=True)

    pre = sub.add_parser("pretrain", help="train a tokenizer and a small Qwen2-architecture model on text files",
                         description="Train a byte-level BPE tokenizer (with ChatML special tokens) and a small "
                                     "Qwen2-architecture model from scratch. Example: modelito train pretrain "
                                     "--text mybook.txt --out my-model --minutes 10")
    pre.add_argument("--text", nargs="+", required=True, type=Path, metavar="FILE", help="UTF-8 text files")
    pre.add_argument("--out", required=True, type=Path, help="folder to write the model to")
    pre.add_argument("--vocab-size", type=int, default=4096)
    pre.add_argument("--hidden-size", type=int, default=256)
    pre.add_argument("--layers", type=int, default=4)
    pre.add_argument("--heads", type=int, default=4)
    pre.add_argument("--kv-heads", type=int, default=2)
    pre.add_argument("--block-size", type=int, default=256, help="tokens per training window")
    pre.add_argument("--lr", type=float, default=3e-3)
    _budget(pre)
    pre.set_defaults(run=run_pretrain)

    sft = sub.add_parser("sft", help="fine-tune a model on chat conversations (loss on the assistant's tokens)",
                         description="Fine-tune on a JSONL file of {\"messages\": [{\"role\", \"content\"}, ...]} "
                                     "lines. Example: modelito train sft --data chats.jsonl --from my-model --out my-chat-model")
    sft.add_argument("--data", required=True, type=Path, metavar="FILE.jsonl")
    sft.add_argument("--from", dest="base", required=True, type=Path, metavar="MODEL", help="model folder to start from")
    sft.add_argument("--out", required=True, type=Path)
    sft.add_argument("--lr", type=float, default=1e-3)
    _budget(sft)
    sft.set_defaults(run=run_sft)


def _budget(p: argparse.ArgumentParser) -> None:
    p.add_argument("--steps", type=int, default=1000, help="optimiser steps at most (default 1000)")
    p.add_argument("--minutes", type=float, default=None, help="wall-clock budget: stop after this many minutes")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-every", type=int, default=100, help="held-out loss every N steps")


def _check_files(paths) -> None:
    for path in paths:
        if not Path(path).is_file():
            raise ModelitoError(f"{path}: no such file")


def run_pretrain(args) -> int:
    _check_files(args.text)
    from ..train.loop import Budget, Schedule
    from ..train.pretrain import ModelShape, PretrainRecipe, pretrain

    recipe = PretrainRecipe(
        shape=ModelShape(vocab_size=args.vocab_size, hidden_size=args.hidden_size, intermediate_size=3 * args.hidden_size,
                         num_hidden_layers=args.layers, num_attention_heads=args.heads, num_key_value_heads=args.kv_heads),
        block_size=args.block_size, batch_size=args.batch_size, seed=args.seed,
        schedule=Schedule(lr=args.lr, eval_every=args.eval_every),
        budget=Budget(max_steps=args.steps, max_seconds=args.minutes * 60 if args.minutes else None),
    )
    history = pretrain(args.text, args.out, recipe)
    print(f"saved {args.out} · held-out loss {history.eval_loss[-1]:.3f} · {history.tokens_per_second:.0f} tokens/s")
    return 0


def run_sft(args) -> int:
    _check_files([args.data])
    if not (args.base / "config.json").is_file():
        raise ModelitoError(f"--from {args.base}: not a model folder (no config.json)")
    from ..train.loop import Budget, Schedule
    from ..train.sft import SFTRecipe, sft

    recipe = SFTRecipe(
        batch_size=args.batch_size, seed=args.seed, schedule=Schedule(lr=args.lr, warmup_steps=30, eval_every=args.eval_every),
        budget=Budget(max_steps=args.steps, max_seconds=args.minutes * 60 if args.minutes else None),
    )
    history = sft(args.data, args.base, args.out, recipe)
    print(f"saved {args.out} · held-out loss {history.eval_loss[-1]:.3f}")
    return 0
