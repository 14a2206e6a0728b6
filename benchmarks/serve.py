"""A class at once: the server's throughput and time to first token, batched against one at a time.

    .venv/bin/python benchmarks/serve.py                                     # both models, 1/4/16/32 streams
    .venv/bin/python benchmarks/serve.py --models modelito-tiny-instruct --streams 16 --new-tokens 64

For each model and each number of concurrent streams N, `modelito serve` runs twice, in its own
process on loopback: with `--max-batch N` (the running batch) and with `--max-batch 1` (today's one
request at a time). N clients (asyncio, httpx, in this process) send `/v1/chat/completions` with
`stream: true` at the same moment, each a different chat message and seed, each asking for exactly
T new tokens (`max_tokens = min_tokens = T`, so that both runs produce the same work). Measured per
run, after one warm-up request:

- throughput: N * T / the wall time from the first request sent to the last stream closed;
- time to first token (TTFT): from the moment all requests were sent to each client's first text
  chunk; the last arrival's (the slowest) is what the 30th student of a class waits.

Each measurement is repeated (3 times; once for the 0.5B architecture, whose runs take minutes),
batched and serial interleaved, and the run with the median wall time is reported. One JSON line
per model and N, with `speedup` (batched throughput / serial throughput) and
`last_ttft_fraction` (the batched run's slowest TTFT / the serial run's wall time). The default
models are `modelito-tiny-instruct` and `random:<fixtures>/qwen2.5-0.5b-instruct` (the real
architecture, random weights), fixtures being $MODELITO_FIXTURES or ../shared/fixtures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import torch

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(os.environ.get("MODELITO_FIXTURES") or REPO.parent / "shared" / "fixtures")
ENTRY = Path(sys.executable).parent / "modelito"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Served:
    """`modelito serve` in its own process, on loopback."""

    def __init__(self, model: str, max_batch: int, device: str) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [str(ENTRY), "serve", "-m", model, "--port", str(self.port), "--max-batch", str(max_batch),
             "--max-waiting", "256", "--max-tokens", "4096", "--device", device, "--no-log"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "MODELITO_LANG": "en"})
        deadline = time.time() + 600
        while True:
            try:
                httpx.get(self.url + "/v1/models", timeout=5)
                return
            except httpx.TransportError:
                if self.process.poll() is not None or time.time() > deadline:
                    raise RuntimeError(self.process.stderr.read().decode()) from None
                time.sleep(0.5)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


async def one_stream(client: httpx.AsyncClient, url: str, i: int, new_tokens: int) -> tuple[float, float]:
    body = {"messages": [{"role": "user", "content": f"Cuéntame algo, número {i}"}], "stream": True,
            "max_tokens": new_tokens, "min_tokens": new_tokens, "seed": i, "temperature": 0.8}
    first = None
    async with client.stream("POST", url + "/v1/chat/completions", json=body) as r:
        async for line in r.aiter_lines():
            if first is None and line.startswith("data: {") and '"content"' in line:
                first = time.perf_counter()
    return first or time.perf_counter(), time.perf_counter()


async def streams_at_once(url: str, streams: int, new_tokens: int) -> dict:
    limits = httpx.Limits(max_connections=streams + 1, max_keepalive_connections=streams + 1)
    async with httpx.AsyncClient(timeout=3600, limits=limits) as client:
        await one_stream(client, url, -1, 4)  # the first request pays one-off costs
        t0 = time.perf_counter()
        times = await asyncio.gather(*(one_stream(client, url, i, new_tokens) for i in range(streams)))
    wall = max(end for _, end in times) - t0
    ttft = sorted(first - t0 for first, _ in times)
    return {"wall_s": round(wall, 3), "tokens_per_s": round(streams * new_tokens / wall, 2),
            "ttft_median_s": round(statistics.median(ttft), 3), "ttft_last_s": round(ttft[-1], 3)}


def run(model: str, streams: int, new_tokens: int, device: str, repetitions: int) -> tuple[dict, dict]:
    """The batched server and the one-at-a-time server, each measured `repetitions` times, interleaved
    (so that drifts in the machine's load hit both alike); the run with the median wall time of each."""
    batched, serial = Served(model, streams, device), Served(model, 1, device)
    try:
        runs: dict[str, list[dict]] = {"batched": [], "serial": []}
        for i in range(repetitions):
            for label, served in (("batched", batched), ("serial", serial)):
                runs[label].append(asyncio.run(streams_at_once(served.url, streams, new_tokens)))
                log(f"  rep {i + 1} {label}: {runs[label][-1]}")
        return tuple(sorted(r, key=lambda x: x["wall_s"])[len(r) // 2] for r in runs.values())  # type: ignore
    finally:
        batched.stop()
        serial.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=f"modelito-tiny-instruct,random:{FIXTURES / 'qwen2.5-0.5b-instruct'}")
    parser.add_argument("--streams", default="1,4,16,32", help="concurrent streams (default: %(default)s)")
    parser.add_argument("--new-tokens", type=int, default=None, help="tokens per stream (default: 128 for small "
                        "models, 24 for the 0.5B architecture)")
    parser.add_argument("--repetitions", type=int, default=3, help="measurements of each server (default: %(default)s)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    for name in (m.strip() for m in args.models.split(",") if m.strip()):
        tokens = args.new_tokens or (24 if "qwen" in name.lower() else 128)
        repetitions = args.repetitions if "qwen" not in name.lower() else 1  # minutes per run on a CPU
        for streams in (int(s) for s in args.streams.split(",")):
            log(f"[{name}] {streams} streams x {tokens} tokens, batched and one at a time")
            batched, serial = run(name, streams, tokens, args.device, repetitions)
            print(json.dumps({
                "benchmark": "serve", "model": name, "device": args.device,
                "streams": streams, "new_tokens": tokens, "repetitions": repetitions, "batched": batched,
                "one_at_a_time": serial,
                "speedup": round(batched["tokens_per_s"] / serial["tokens_per_s"], 2),
                "last_ttft_fraction": round(batched["ttft_last_s"] / serial["wall_s"], 4),
                "torch": torch.__version__,
                "machine": f"{platform.platform()}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
            }), flush=True)


if __name__ == "__main__":
    main()
