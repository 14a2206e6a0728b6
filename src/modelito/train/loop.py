"""The training loop shared by pretraining and fine-tuning: AdamW, warm-up + cosine, a budget.

Batches are (input_ids [B, T], labels [B, T]) with -100 where no loss is taken, the transformers
convention. The loop stops at whichever budget ends first (steps or wall-clock seconds), evaluates
held-out loss at fixed intervals, and shows a progress bar with loss, tokens/s and the ETA.
Deterministic on the CPU for a given seed: data order comes from a seeded generator.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import torch

Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class Budget:
    """When to stop: after `max_steps` optimiser steps or `max_seconds` of training, whichever first."""

    max_steps: int = 1000
    max_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.max_steps < 1:
            raise ParameterError("max_steps", self.max_steps, "an integer >= 1")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise ParameterError("max_seconds", self.max_seconds, "a number of seconds > 0, or None")


@dataclass(frozen=True)
class Schedule:
    """Optimiser settings."""

    lr: float = 3e-3
    warmup_steps: int = 50
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    eval_every: int = 100


@dataclass
class History:
    """What happened: per-step train loss, periodic held-out loss, throughput."""

    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    eval_loss: list[float] = field(default_factory=list)
    tokens: int = 0
    seconds: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict:
        return {
            "steps": self.steps, "train_loss": self.train_loss, "eval_steps": self.eval_steps,
            "eval_loss": self.eval_loss, "tokens": self.tokens, "seconds": round(self.seconds, 1),
            "tokens_per_second": round(self.tokens_per_second, 1),
        }


def loss_of(model: torch.nn.Module, batch: Batch) -> tuple[torch.Tensor, int]:
    """Mean next-token cross-entropy over the labelled positions, and how many there were."""
    ids, labels = batch
    logits = model(input_ids=ids).logits[:, :-1].float()
    target = labels[:, 1:]
    n = int((target != -100).sum())
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-100)
    return loss, n


@torch.no_grad()
def evaluate(model: torch.nn.Module, batches: list[Batch]) -> float:
    """Token-weighted mean held-out loss."""
    model.eval()
    total, count = 0.0, 0
    for batch in batches:
        loss, n = loss_of(model, batch)
        total, count = total + float(loss) * n, count + n
    model.train()
    return total / max(count, 1)


def train(
    model: torch.nn.Module,
    batches: Iterator[Batch],
    eval_batches: list[Batch],
    budget: Budget,
    schedule: Schedule,
    progress: Callable[[str], None] | None = None,
) -> History:
    """Train until the budget ends; return the history. `batches` must not run out first."""
    from tqdm.auto import tqdm

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": schedule.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=schedule.lr, betas=(0.9, 0.95),
    )
    history = History()
    model.train()
    start = time.perf_counter()
    bar = tqdm(total=budget.max_steps, unit="step", dynamic_ncols=True, disable=progress is False)
    for step in range(1, budget.max_steps + 1):
        # With a time budget the schedule follows whichever budget is nearer its end.
        elapsed = time.perf_counter() - start
        done = max(step / budget.max_steps, elapsed / budget.max_seconds if budget.max_seconds else 0.0)
        for group in optimizer.param_groups:
            group["lr"] = _lr(step, done, schedule)
        batch = next(batches)
        loss, _ = loss_of(model, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), schedule.grad_clip)
        optimizer.step()
        history.steps.append(step)
        history.train_loss.append(float(loss.detach()))
        history.tokens += batch[0].numel()
        history.seconds = time.perf_counter() - start
        if step % schedule.eval_every == 0 and eval_batches:
            history.eval_steps.append(step)
            history.eval_loss.append(evaluate(model, eval_batches))
        bar.update(1)
        bar.set_postfix(loss=f"{history.train_loss[-1]:.3f}", held_out=f"{history.eval_loss[-1]:.3f}" if history.eval_loss else "-",
                        tok_s=f"{history.tokens_per_second:.0f}")
        if budget.max_seconds is not None and history.seconds >= budget.max_seconds:
            break
    bar.close()
    if eval_batches and (not history.eval_steps or history.eval_steps[-1] != history.steps[-1]):
        history.eval_steps.append(history.steps[-1])
        history.eval_loss.append(evaluate(model, eval_batches))
    model.eval()
    return history


def _lr(step: int, done: float, s: Schedule) -> float:
    """Linear warm-up, then cosine decay to min_lr_ratio * lr as the budget is used up (done: 0..1)."""
    if step <= s.warmup_steps:
        return s.lr * step / s.warmup_steps
    progress = min(1.0, done)
    return s.lr * (s.min_lr_ratio + (1 - s.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))
