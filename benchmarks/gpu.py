"""On a GPU: the traced engine against transformers' eager `generate`, for one user and for a class.

    python benchmarks/gpu.py                                   # CUDA, bfloat16, batch 1 and 16, 128 tokens
    python benchmarks/gpu.py --model random:/path/to/Qwen2.5-7B-Instruct --batch 32
    python benchmarks/gpu.py --device cpu --dtype float32 --model modelito-tiny-instruct --new-tokens 8 --batch 4

Two measurements, each after a warm-up call of both sides, then R interleaved repetitions (ours,
theirs, ours, ...), median wall time, every call writing exactly N tokens (min = max new tokens):

- one user: `lm.generate(prompt, do_sample=False, top_n=20)` (the whole traced call: prefill, N steps,
  the top 20 under the model and the sampler per step, the Result) against
  `model.generate(ids, do_sample=False, output_scores=True, return_dict_in_generate=True)`.
- a class: B different prompts at once. Ours through the server's `Scheduler` (the running batch:
  every row traced, each call its own Result); theirs one `model.generate` on the B prompts
  left-padded. Throughput is B * N / wall.

The bandwidth figure: a decode step reads every weight once (tied matrices once), so at S steps per
second the weights stream at S * weight_bytes; its fraction of the device's peak (H200: 4.8 TB/s,
`--peak-gbs`) says how near the hardware limit one user gets. The KV cache reads are left out (small
next to the weights at these lengths). CUDA is synchronised before every clock read.

The default model is `random:<fixtures>/qwen2.5-0.5b-instruct` (the real architecture, random
weights), fixtures being $MODELITO_FIXTURES or ../shared/fixtures; on a machine without them pass a
folder with a `config.json` and tokenizer. One JSON line per measurement on stdout; progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

import torch
import transformers

import modelito
from modelito.scheduler import Scheduler

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(os.environ.get("MODELITO_FIXTURES") or REPO.parent / "shared" / "fixtures")
TOP_N = 20
PROMPTS = ["Hola modelito, ¿hablas español?", "Cuéntame un cuento corto", "What is a token?",
           "Escribe un poema sobre el mar", "¿Qué es la temperatura al muestrear?", "Explain beam search",
           "Dime tres colores", "Resume Don Quijote en una frase"]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def prompts(batch: int) -> list[list[dict]]:
    return [[{"role": "user", "content": f"{PROMPTS[i % len(PROMPTS)]} ({i})"}] for i in range(batch)]


def ours_one(lm, messages, new_tokens: int) -> float:
    sync(lm.device)
    start = time.perf_counter()
    result = lm.generate(messages, do_sample=False, top_n=TOP_N, max_new_tokens=new_tokens,
                         min_new_tokens=new_tokens)
    elapsed = time.perf_counter() - start
    assert len(result.sequences[0].token_ids) == new_tokens
    return elapsed


def theirs_batch(lm, model, batch_ids: list[list[int]], new_tokens: int) -> float:
    """transformers (`model`) on the prompts left-padded into one batch (one prompt: no padding)."""
    width = max(len(ids) for ids in batch_ids)
    pad = lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else 0
    input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in batch_ids], device=lm.device)
    mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in batch_ids], device=lm.device)
    sync(lm.device)
    start = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(input_ids, attention_mask=mask, do_sample=False, output_scores=True,
                             return_dict_in_generate=True, max_new_tokens=new_tokens,
                             min_new_tokens=new_tokens, pad_token_id=pad)
    sync(lm.device)
    elapsed = time.perf_counter() - start
    assert out.sequences.shape[1] - width == new_tokens
    return elapsed


def ours_class(scheduler: Scheduler, batch: list[list[dict]], new_tokens: int) -> float:
    """Every prompt submitted at once to the running batch, as a class's requests reach the server."""
    left, done = [len(batch)], threading.Event()
    failures: list[BaseException] = []

    def deliver(item) -> None:  # on the scheduler's thread: never block here
        if isinstance(item, BaseException):
            failures.append(item)
        if item is None or isinstance(item, BaseException):
            left[0] -= 1
            if not left[0]:
                done.set()

    start = time.perf_counter()
    for messages in batch:
        scheduler.submit(messages, deliver, do_sample=False, top_n=TOP_N, max_new_tokens=new_tokens,
                         min_new_tokens=new_tokens)
    done.wait()
    elapsed = time.perf_counter() - start
    if failures:
        raise failures[0]
    return elapsed


def interleaved(label: str, ours, theirs, repetitions: int) -> tuple[list[float], list[float]]:
    ours(), theirs()  # warm-up: kernels, allocator, caches
    a, b = [], []
    for i in range(repetitions):
        a.append(ours())
        b.append(theirs())
        log(f"[{label}] rep {i + 1}/{repetitions}: modelito {a[-1]:.3f}s, transformers {b[-1]:.3f}s")
    return a, b


def weight_bytes(model: torch.nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())  # parameters(): tied ones once


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.platform()}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=f"random:{FIXTURES / 'qwen2.5-0.5b-instruct'}")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--new-tokens", type=int, default=128, help="tokens per call (default: %(default)s)")
    parser.add_argument("--batch", type=int, default=16, help="prompts at once for the class (default: %(default)s)")
    parser.add_argument("--repetitions", type=int, default=3, help="timed calls per side (default: %(default)s)")
    parser.add_argument("--peak-gbs", type=float, default=None,
                        help="the device's memory bandwidth in GB/s (default: 4800 on CUDA, the H200's; none on a CPU)")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("no CUDA device here: pass --device cpu to run the same benchmark on the CPU")
    peak = args.peak_gbs or (4800.0 if args.device.startswith("cuda") else None)

    log(f"loading {args.model} on {args.device} in {args.dtype}")
    lm = modelito.load(args.model, device=args.device, dtype=args.dtype)
    # On a CPU modelito runs float32 linear layers through oneDNN: transformers gets its own path.
    reference = lm.model if lm.device.type != "cpu" else modelito.load(
        args.model, device=args.device, dtype=args.dtype, optimize=False).model
    n, size = args.new_tokens, weight_bytes(lm.model)
    common = {"benchmark": "gpu", "model": args.model, "device": str(lm.device), "machine": machine(lm.device),
              "dtype": args.dtype, "new_tokens": n, "repetitions": args.repetitions, "weight_gb": round(size / 1e9, 3),
              "torch": torch.__version__, "transformers": transformers.__version__}

    one = prompts(1)[0]
    ids = lm.prompt_ids(one)[1]
    a, b = interleaved("batch 1", lambda: ours_one(lm, one, n), lambda: theirs_batch(lm, reference, [ids], n), args.repetitions)
    steps_per_s = n / statistics.median(a)
    gbs = steps_per_s * size / 1e9
    print(json.dumps({**common, "batch": 1, "modelito_tokens_per_s": round(steps_per_s, 2),
                      "transformers_tokens_per_s": round(n / statistics.median(b), 2),
                      "ratio": round(statistics.median(b) / statistics.median(a), 3),
                      "modelito_weight_gbs": round(gbs, 1),
                      "fraction_of_peak": round(gbs / peak, 3) if peak else None,
                      "modelito_s": a, "transformers_s": b}), flush=True)

    batch = prompts(args.batch)
    batch_ids = [lm.prompt_ids(m)[1] for m in batch]
    scheduler = Scheduler(lm, max_batch=args.batch, max_waiting=args.batch)
    try:
        a, b = interleaved(f"batch {args.batch}", lambda: ours_class(scheduler, batch, n),
                           lambda: theirs_batch(lm, reference, batch_ids, n), args.repetitions)
    finally:
        scheduler.close()
    print(json.dumps({**common, "batch": args.batch,
                      "modelito_tokens_per_s": round(args.batch * n / statistics.median(a), 2),
                      "transformers_tokens_per_s": round(args.batch * n / statistics.median(b), 2),
                      "ratio": round(statistics.median(b) / statistics.median(a), 3),
                      "modelito_s": a, "transformers_s": b}), flush=True)


if __name__ == "__main__":
    main()
