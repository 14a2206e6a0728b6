"""The benchmark scripts run end to end on a tiny model (their figures are measured elsewhere, never here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run(script: str, *args: str) -> list[dict]:
    out = subprocess.run([sys.executable, str(BENCHMARKS / script), *args], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_the_gpu_benchmark_runs_its_cpu_path(tiny_path):
    one, batch = run("gpu.py", "--device", "cpu", "--dtype", "float32", "--model", str(tiny_path),
                     "--new-tokens", "3", "--batch", "3", "--repetitions", "1")
    assert (one["batch"], batch["batch"]) == (1, 3) and one["device"] == "cpu" and one["fraction_of_peak"] is None
    for line in (one, batch):
        assert line["modelito_tokens_per_s"] > 0 and line["transformers_tokens_per_s"] > 0 and line["ratio"] > 0


def test_the_gpu_benchmark_says_how_to_run_without_cuda(tiny_path):
    import pytest
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the benchmark would run on it")
    out = subprocess.run([sys.executable, str(BENCHMARKS / "gpu.py"), "--model", str(tiny_path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "--device cpu" in out.stderr


def test_the_decode_benchmark_reports_the_bandwidth_fraction(tiny_path):
    lines = run("decode.py", "--model", str(tiny_path), "--dtypes", "float32", "--strategies", "sample,beam",
                "--new-tokens", "4", "--repetitions", "1")
    assert [line["strategy"] for line in lines] == ["sample", "beam"]
    for line in lines:
        assert line["read_gbs"] > 0 and 0 < line["fraction_of_read_bandwidth"] < 1 and line["ratio"] > 0
