"""Start-up time of the command line: `modelito --help` and `modelito generate --help`.

    .venv/bin/python benchmarks/startup.py [--repetitions 10]

torch and transformers load only when a command needs a model, so help should answer in well under
a second. For reference the same run times `python -c "import torch, transformers"`, the cost that
lazy importing avoids. One JSON line per command, medians in seconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ENTRY = str(Path(sys.executable).parent / "modelito")
COMMANDS = {
    "modelito --help": [ENTRY, "--help"],
    "modelito generate --help": [ENTRY, "generate", "--help"],
    "import torch, transformers (reference)": [sys.executable, "-c", "import torch, transformers"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=10)
    args = parser.parse_args()
    for name, cmd in COMMANDS.items():
        times = []
        for _ in range(args.repetitions):
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            times.append(time.perf_counter() - start)
        print(json.dumps({"benchmark": "startup", "command": name, "median_s": round(statistics.median(times), 3),
                          "min_s": round(min(times), 3), "repetitions": args.repetitions}), flush=True)


if __name__ == "__main__":
    main()
