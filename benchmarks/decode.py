"""Decode throughput: modelito's engine (with traces) against transformers' `model.generate`.

    .venv/bin/python benchmarks/decode.py                  # float32 and bfloat16, sample and beam, 3 repetitions
    .venv/bin/python benchmarks/decode.py --dtypes float32 --strategies beam --repetitions 5 --threads 2

What it measures, per dtype (one `modelito.load` each, on the CPU) and strategy:

- ours:   `lm.generate(messages, top_n=20, seed=..., max_new_tokens=N, min_new_tokens=N, ...)`, the
          whole call: chat template, prefill, N decode steps, the per-token trace (top 20
          alternatives, every sampler stage; for beams also the search tree), and the Result.
- theirs: `model.generate(input_ids, attention_mask=..., output_scores=True,
          return_dict_in_generate=True, max_new_tokens=N, min_new_tokens=N, ...)` after
          `torch.manual_seed(...)`, on the same prompt ids, where `model` is the same weights loaded
          with `modelito.load(..., optimize=False)`: transformers' own weight layout, untouched.

"sample" uses the model's own generation_config (do_sample, temperature 0.7, top_k 20, top_p 0.8,
repetition_penalty 1.1 for Qwen2.5-Instruct); "beam" adds num_beams=5, do_sample=False (the
repetition penalty still applies). min_new_tokens = max_new_tokens forbids EOS, so both
always write exactly N tokens (checked). After one warm-up call of each, the two run interleaved
(ours, theirs, ours, theirs, ...) R times, so drifts in machine load hit both alike. Throughput is
N / wall seconds of the whole call, median over the repetitions; ratio = ours / theirs.

The ceiling: a decode step reads every weight once, so tokens/s times the weights' bytes is the rate
at which the weights stream; `read_gbs` is this machine's read bandwidth measured in the same run
(summing 1 GB of float32 with the same threads), and `fraction_of_read_bandwidth` their ratio (the
whole call counted: prefill, template and trace included, so a lower bound for the decode steps).

The default model is `random:<fixtures>/qwen2.5-0.5b-instruct` (the real architecture, random
weights, no network), fixtures being $MODELITO_FIXTURES or ../shared/fixtures from the repo root.
Progress goes to stderr; one JSON line per dtype and strategy goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import transformers

import modelito

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(os.environ.get("MODELITO_FIXTURES") or REPO.parent / "shared" / "fixtures")
MESSAGES = [{"role": "user", "content": "Hola modelito, hablas español?"}]
TOP_N = 20
SEED = 1234


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# Extra generate() arguments per strategy, on top of max_new_tokens = min_new_tokens = N.
STRATEGIES = {
    "sample": {},  # the model's own generation_config: temperature 0.7, top_k 20, top_p 0.8, ...
    "beam": {"num_beams": 5, "do_sample": False},
}


def run_ours(lm, kwargs: dict, new_tokens: int, seed: int) -> float:
    start = time.perf_counter()
    result = lm.generate(MESSAGES, top_n=TOP_N, seed=seed, **kwargs)
    elapsed = time.perf_counter() - start
    produced = len(result.sequences[0].token_ids)
    assert produced == new_tokens, f"modelito produced {produced} tokens, not {new_tokens}"
    return elapsed


def run_theirs(model, ids: list[int], kwargs: dict, new_tokens: int, seed: int) -> float:
    input_ids = torch.tensor([ids], device=model.device)
    attention_mask = torch.ones_like(input_ids)
    torch.manual_seed(seed)
    start = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(
            input_ids, attention_mask=attention_mask, output_scores=True, return_dict_in_generate=True, **kwargs
        )
    elapsed = time.perf_counter() - start
    produced = out.sequences.shape[1] - input_ids.shape[1]
    assert produced == new_tokens, f"transformers produced {produced} tokens, not {new_tokens}"
    return elapsed


def significant(value: float, digits: int = 3) -> float:
    """`value` to `digits` significant digits: a test model's 0.0006 GB stays 0.0006, not 0.001 or 0."""
    return float(f"{value:.{digits}g}")


def read_bandwidth(gigabytes: float = 1.0, repetitions: int = 5) -> float:
    """GB/s of reading memory: summing a tensor far larger than any cache, best of a few."""
    data = torch.ones(int(gigabytes * 1e9 / 4))
    best = float("inf")
    for _ in range(repetitions):
        start = time.perf_counter()
        data.sum()
        best = min(best, time.perf_counter() - start)
    return gigabytes / best


def bench(lm, reference, model: str, dtype: str, strategy: str, repetitions: int, new_tokens: int,
          read_gbs: float) -> dict:
    _, ids = lm.prompt_ids(MESSAGES)
    # min_new_tokens = max_new_tokens forbids EOS: both sides always write exactly N tokens.
    kwargs = {**STRATEGIES[strategy], "max_new_tokens": new_tokens, "min_new_tokens": new_tokens}
    params = lm.params(len(ids), **kwargs)
    assert params.strategy == strategy, f"{kwargs} should give {strategy}, not {params.strategy}"
    log(f"[{dtype} {strategy}] prompt {len(ids)} tokens; temperature {params.temperature}, top_k {params.top_k}, "
        f"top_p {params.top_p}, repetition_penalty {params.repetition_penalty}, num_beams {params.num_beams}")

    log(f"[{dtype} {strategy}] warm-up")
    run_ours(lm, kwargs, new_tokens, SEED)
    run_theirs(reference, ids, kwargs, new_tokens, SEED)
    ours, theirs = [], []
    for i in range(repetitions):
        ours.append(run_ours(lm, kwargs, new_tokens, SEED + i))
        theirs.append(run_theirs(reference, ids, kwargs, new_tokens, SEED + i))
        log(f"[{dtype} {strategy}] rep {i + 1}/{repetitions}: modelito {ours[-1]:.2f}s, transformers {theirs[-1]:.2f}s")

    ours_tps = new_tokens / statistics.median(ours)
    theirs_tps = new_tokens / statistics.median(theirs)
    weight_gb = sum(p.numel() * p.element_size() for p in lm.model.parameters()) / 1e9  # tied: counted once
    return {
        "benchmark": "decode",
        "strategy": strategy,
        "model": model,
        "dtype": dtype,
        "new_tokens": new_tokens,
        "prompt_tokens": len(ids),
        "repetitions": repetitions,
        "modelito_tokens_per_s": round(ours_tps, 3),
        "transformers_tokens_per_s": round(theirs_tps, 3),
        "ratio": round(ours_tps / theirs_tps, 3),
        "weight_gb": significant(weight_gb),
        "read_gbs": round(read_gbs, 1),
        "fraction_of_read_bandwidth": significant(ours_tps * weight_gb / read_gbs),
        "transformers_fraction": significant(theirs_tps * weight_gb / read_gbs),
        "modelito_s": [round(t, 4) for t in ours],
        "transformers_s": [round(t, 4) for t in theirs],
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "threads": torch.get_num_threads(),
        "machine": f"{platform.platform()}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtypes", default="float32,bfloat16", help="comma-separated (default: %(default)s)")
    parser.add_argument("--repetitions", type=int, default=3, help="timed calls per side (default: %(default)s)")
    parser.add_argument("--new-tokens", type=int, default=64, help="tokens per call (default: %(default)s)")
    parser.add_argument("--model", default=f"random:{FIXTURES / 'qwen2.5-0.5b-instruct'}")
    parser.add_argument("--strategies", default="sample,beam", help="comma-separated: sample, beam (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: leave)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    read_gbs = read_bandwidth()
    log(f"memory read bandwidth: {read_gbs:.1f} GB/s with {torch.get_num_threads()} threads")
    for dtype in (d.strip() for d in args.dtypes.split(",") if d.strip()):
        log(f"[{dtype}] loading {args.model}")
        lm = modelito.load(args.model, device="cpu", dtype=dtype)
        reference = modelito.load(args.model, device="cpu", dtype=dtype, optimize=False).model
        log(f"[{dtype}] modelito: {'; '.join(lm.notes)}")
        for strategy in (s.strip() for s in args.strategies.split(",") if s.strip()):
            print(json.dumps(bench(lm, reference, args.model, dtype, strategy, args.repetitions, args.new_tokens,
                                   read_gbs)), flush=True)


if __name__ == "__main__":
    main()
