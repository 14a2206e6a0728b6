"""What the commands share: the model option, the generation flags, loading with a clear message."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import ModelLoadError

DEFAULT_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"  # the course notebook's model
OFFLINE_MODEL = "modelito-tiny-instruct"

# flag -> (generate() keyword, type, help). One table: every command that generates offers all of them.
GENERATION_FLAGS = {
    "--temperature": ("temperature", float, "divide the logits by this before sampling (> 0)"),
    "--top-k": ("top_k", int, "keep the k most likely tokens (0: off)"),
    "--top-p": ("top_p", float, "keep the most likely tokens up to this probability mass, in (0, 1]"),
    "--min-p": ("min_p", float, "drop tokens below min_p x the top token's probability, in [0, 1]"),
    "--typical-p": ("typical_p", float, "locally typical sampling mass, in (0, 1]"),
    "--repetition-penalty": ("repetition_penalty", float, "penalise tokens already seen (1: off)"),
    "--no-repeat-ngram-size": ("no_repeat_ngram_size", int, "forbid repeating n-grams of this size"),
    "--max-new-tokens": ("max_new_tokens", int, "stop after this many tokens"),
    "--min-new-tokens": ("min_new_tokens", int, "forbid ending before this many tokens"),
    "--seed": ("seed", int, "random seed: the same seed gives the same text"),
    "--num-beams": ("num_beams", int, "beam search with this many beams"),
    "--length-penalty": ("length_penalty", float, "beam search: score = logprob / length ** this"),
    "--penalty-alpha": ("penalty_alpha", float, "contrastive search: weight of the degeneration penalty"),
    "--top-n": ("top_n", int, "alternatives recorded per token (0 to 100)"),
}


def common_parser() -> argparse.ArgumentParser:
    """The flags every command takes (as a parent parser)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="machine-readable output (the library's JSON export)")
    common.add_argument("--lang", choices=("es", "en"), default=None, help="language of messages (default: locale)")
    common.add_argument("--debug", action="store_true", help="show tracebacks")
    common.add_argument("--no-log", action="store_true", help="do not record this run in the run log")
    return common


def config_file() -> Path:
    return home() / "config.json"


def home() -> Path:
    """modelito's data folder: $MODELITO_HOME, else the platform's user data folder."""
    if os.environ.get("MODELITO_HOME"):
        return Path(os.environ["MODELITO_HOME"]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or (Path.home() / ".local" / "share")
    return Path(base) / "modelito"


def default_model() -> str:
    """$MODELITO_MODEL, else "model" in the config file, else the notebook's model."""
    if os.environ.get("MODELITO_MODEL"):
        return os.environ["MODELITO_MODEL"]
    try:
        return json.loads(config_file().read_text())["model"]
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_MODEL


def add_model(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-m", "--model", default=None,
                        help=f"model: hub id, folder, random:<...> or a shipped model (default: $MODELITO_MODEL, "
                             f"else {DEFAULT_MODEL})")
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:N")
    parser.add_argument("--dtype", default="auto", help="auto (the model's own on a GPU, float32 on a CPU) or a dtype")


def add_generation(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("generation (transformers' names; unset: the model's generation_config)")
    sample = group.add_mutually_exclusive_group()
    sample.add_argument("--sample", dest="do_sample", action="store_true", default=None, help="sample (do_sample=True)")
    sample.add_argument("--greedy", dest="do_sample", action="store_false", help="always the most likely token")
    for flag, (dest, kind, text) in GENERATION_FLAGS.items():
        group.add_argument(flag, dest=dest, type=kind, default=None, help=text)
    group.add_argument("-n", "--num-return-sequences", dest="num_return_sequences", type=int, default=None,
                       help="how many answers")
    group.add_argument("--stop", dest="stop_strings", action="append", default=None, help="stop string (repeatable)")


def generation_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    names = [dest for dest, _, _ in GENERATION_FLAGS.values()] + ["do_sample", "num_return_sequences", "stop_strings"]
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def load_model(args: argparse.Namespace, text) -> Any:
    """Load the model, saying on stderr which device and dtype were chosen and why."""
    import modelito

    name = args.model or default_model()
    print(text("loading", model=name), file=sys.stderr, flush=True)
    try:
        lm = modelito.load(name, device=args.device, dtype=args.dtype)
    except ModelLoadError as err:
        if name != OFFLINE_MODEL and "could not be downloaded" in str(err):
            raise ModelLoadError(f"{err} {text('not_found_hint', offline=OFFLINE_MODEL)}") from err
        raise
    print(text("loaded", model=name, why="; ".join(lm.notes)), file=sys.stderr)
    if lm.random_weights:
        print(text("random"), file=sys.stderr)
    return lm


def print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=1, default=str))
