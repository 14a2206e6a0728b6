"""Continuous batching: the rows of many calls share one forward pass per step; calls join and leave
between steps.

    join(prompt) ─ prefill alone ─ first tokens ─┐
                                                 ▼
    rows [B] ── one forward (padded KV cache, attention mask, each row's own positions) ── logits [B, V]
            ── engine.step (each row its own stages and generator) ── Draw per row ── leave(key) when done

The KV cache is one transformers `DynamicCache` whose rows are left-padded to a common length; an
attention mask hides the padding and explicit position ids give each row its own positions, so a
row computes what it would alone (to float rounding: about 1e-5 in float32). A call's rows
(`num_return_sequences`) join and leave together, and are sampled together as they are alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable

import torch
import torch.nn.functional as F
from transformers import DynamicCache

from .engine import Draw, forward, step
from .errors import ModelitoError
from .sampling import PAD_ID, Row, Sampler, make_sampler


@dataclass
class Group:
    """One call's rows in the running batch."""

    key: Hashable
    rows: list[Row]
    position: int
    """The position of the tokens it feeds next (its length so far)."""
    last: torch.Tensor
    """[n]: the tokens it chose at the last step, to feed at the next."""


class RunningBatch:
    """Rows that decode together. `join` a call, `step` them all, `leave` when a call is done."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model
        self.groups: list[Group] = []
        self.cache: DynamicCache | None = None
        self.mask: torch.Tensor | None = None  # [B, W]: 1 where the cache holds a real position
        self.ids: torch.Tensor | None = None  # [B, L]: each row's history, left-padded with PAD_ID
        self._sampler: Sampler | None = None

    @property
    def size(self) -> int:
        """Rows in the batch."""
        return sum(len(g.rows) for g in self.groups)

    @torch.inference_mode()
    def join(self, key: Hashable, prompt_ids: list[int], rows: list[Row]) -> list[Draw]:
        """Prefill a call's prompt alone, choose its first tokens (one Draw per row), and add its rows."""
        device = self.model.device
        ids = torch.tensor([prompt_ids], device=device)
        cache = DynamicCache(config=self.model.config)
        sampler = make_sampler(rows, device)
        logits, states = forward(self.model, ids, cache, states=any(sampler.lens))  # [1, V]
        if len(rows) > 1:
            cache.batch_repeat_interleave(len(rows))
            logits = logits.expand(len(rows), -1)
            states = states and tuple(h.expand(len(rows), -1, -1) for h in states)
        history = ids.expand(len(rows), -1)
        token, draws = step(sampler, history, logits, self.model, states)
        self._merge(cache, torch.cat([history, token[:, None]], dim=1), len(prompt_ids))
        self.groups.append(Group(key, rows, position=len(prompt_ids), last=token))
        self._sampler = None
        return draws

    @torch.inference_mode()
    def step(self) -> list[tuple[Hashable, list[Draw]]]:
        """One token for every row: one forward pass, then each row's own sampler. Returns each call's
        key with one Draw per row."""
        assert self.cache is not None and self.mask is not None and self.ids is not None, "no rows to step"
        device = self.model.device
        tokens = torch.cat([g.last for g in self.groups])[:, None]  # [B, 1]
        positions = torch.tensor([g.position for g in self.groups for _ in g.rows], device=device)[:, None]
        self.mask = F.pad(self.mask, (0, 1), value=1)
        if self._sampler is None:
            self._sampler = make_sampler([r for g in self.groups for r in g.rows], device)
        logits, states = forward(self.model, tokens, self.cache, states=any(self._sampler.lens),
                                 attention_mask=self.mask, position_ids=positions)
        token, draws = step(self._sampler, self.ids, logits, self.model, states)
        self.ids = torch.cat([self.ids, token[:, None]], dim=1)
        results, start = [], 0
        for group in self.groups:
            rows = slice(start, start + len(group.rows))
            start = rows.stop
            group.last, group.position = token[rows], group.position + 1
            results.append((group.key, draws[rows]))
        return results

    def leave(self, keys: set[Hashable]) -> None:
        """Remove these calls' rows; trim the padding no remaining row needs."""
        keep, start, groups = [], 0, []
        for group in self.groups:
            if group.key not in keys:
                keep += range(start, start + len(group.rows))
                groups.append(group)
            start += len(group.rows)
        self.groups, self._sampler = groups, None
        if not keep:
            self.cache = self.mask = self.ids = None
            return
        index = torch.tensor(keep, device=self.model.device)
        self.cache.batch_select_indices(index)
        self.mask, self.ids = self.mask[index], self.ids[index]
        drop = int(self.mask.any(0).int().argmax())  # leading columns that are padding in every row
        if drop:
            for layer in self.cache.layers:
                layer.keys, layer.values = layer.keys[:, :, drop:], layer.values[:, :, drop:]
            self.mask = self.mask[:, drop:]
        used = int((self.ids != PAD_ID).any(0).int().argmax())
        self.ids = self.ids[:, used:]

    def _merge(self, cache: DynamicCache, history: torch.Tensor, length: int) -> None:
        """Add a prefilled call (its cache of `length` positions, its rows' histories) to the batch."""
        rows = history.shape[0]
        mask = torch.ones(rows, length, dtype=torch.long, device=history.device)
        for layer in cache.layers:
            if type(layer).__name__ != "DynamicLayer":
                raise ModelitoError(f"this model's cache ({type(layer).__name__}) cannot be batched: serve it with "
                                    "--max-batch 1")
        if self.cache is None:
            self.cache, self.mask, self.ids = cache, mask, history
            return
        width = max(self.mask.shape[1], length)
        for old, new in zip(self.cache.layers, cache.layers):
            old.keys = torch.cat([_left_pad(old.keys, width), _left_pad(new.keys, width)])
            old.values = torch.cat([_left_pad(old.values, width), _left_pad(new.values, width)])
        self.mask = torch.cat([F.pad(self.mask, (width - self.mask.shape[1], 0)), F.pad(mask, (width - length, 0))])
        span = max(self.ids.shape[1], history.shape[1])
        self.ids = torch.cat([F.pad(self.ids, (span - self.ids.shape[1], 0), value=PAD_ID),
                              F.pad(history, (span - history.shape[1], 0), value=PAD_ID)])


def _left_pad(states: Any, width: int) -> torch.Tensor:
    """Keys or values [B, H, T, D] padded with zeros on the left of the sequence axis to `width`."""
    return F.pad(states, (0, 0, width - states.shape[2], 0))
