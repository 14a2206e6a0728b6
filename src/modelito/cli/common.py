"""What the commands share: the model option, the generation flags, loading with a clear message."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import ModelitoError, ModelLoadError
from ..params import Policy, Spec, schema
from ..words import said

DEFAULT_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"  # the course notebook's model
OFFLINE_MODEL = "modelito-tiny-instruct"
# Where neither you nor the model says: room for a whole answer, not transformers' 20 tokens.
CLI_POLICY = Policy(source="cli", defaults={"max_new_tokens": 256})

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
                        help=f"model: hub id, folder, random:<...>, a shipped model, or the URL of a remote engine "
                             f"(http://host:8000/v1#model) (default: $MODELITO_MODEL, else {DEFAULT_MODEL})")
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:N")
    parser.add_argument("--dtype", default="auto", help="auto (the model's own on a GPU, float32 on a CPU) or a dtype")
    parser.add_argument("--logprobs-mode", choices=("raw", "processed", "unknown"), default=None,
                        help="with -m URL (a remote engine): what its log-probabilities are, when you know (vLLM's "
                             "--logprobs-mode)")


def add_generation(parser: argparse.ArgumentParser, lang: str = "en") -> None:
    """One flag per generation parameter of the schema (params.py), grouped as on the page."""
    specs = [s for s in schema() if s.flag]
    groups = {g: parser.add_argument_group(f"generation: {g}" if lang == "en" else f"generación: {g}")
              for g in dict.fromkeys(s.group for s in specs)}
    groups[specs[0].group].description = (
        "transformers' names; a flag you leave out takes the model's generation_config, else transformers' default"
        if lang == "en" else "nombres de transformers; sin la opción se usa el generation_config del modelo, si no "
        "el valor por defecto de transformers")
    for spec in specs:
        add_param_flag(groups[spec.group], spec, lang)


def add_param_flag(parser: Any, spec: Spec, lang: str = "en") -> None:
    """The flag of one parameter: its type, its help (doc, allowed values, default) from the schema."""
    doc = spec.doc if lang == "en" else spec.doc_es
    names = [n for n in (spec.short, spec.flag) if n]
    if spec.kind == "bool" and spec.cli_off:
        both = parser.add_mutually_exclusive_group()
        both.add_argument(*names, dest=spec.name, action="store_true", default=None, help=doc)
        both.add_argument(spec.cli_off, dest=spec.name, action="store_false",
                          help=f"{spec.name}=false" if lang == "en" else f"{spec.name}=false")
        return
    if spec.kind == "bool":
        parser.add_argument(*names, dest=spec.name, action=argparse.BooleanOptionalAction, default=None, help=doc)
        return
    allowed = f"{doc} Allowed: {spec.allowed}." if lang == "en" else f"{doc} Valores: {spec.allowed}."
    repeat = spec.kind in ("strings", "ids")
    parser.add_argument(*names, dest=spec.name, type=_parser_of(spec), default=None,
                        action="append" if repeat else "store", metavar=METAVARS[spec.kind],
                        help=allowed + (" Repeatable." if repeat and lang == "en" else " Repetible." if repeat else ""))


METAVARS = {"int": "N", "seed": "N", "float": "X", "choice": "VALUE", "strings": "TEXT", "ids": "ID",
            "bias": "ID=BIAS[,ID=BIAS]", "order": "STAGE[,STAGE]"}


def _parser_of(spec: Spec):
    """argparse's type= for a parameter: the schema's parser, with the allowed values on a mistake."""

    def parse(text: str) -> Any:
        value = spec.parse(text)
        if spec.kind in ("int", "seed", "float") and isinstance(value, str):
            raise argparse.ArgumentTypeError(f"{text!r}: {spec.allowed}")
        return value[0] if spec.kind in ("strings", "ids") else value

    return parse


def generation_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The generate() keyword arguments the user gave on the command line (transformers' names)."""
    return {s.hf_name: getattr(args, s.name) for s in schema() if getattr(args, s.name, None) is not None}


def parse_setting(text: str) -> dict[str, Any]:
    """'temperature=0.3,top_k=5' -> {'temperature': 0.3, 'top_k': 5}, each value in its parameter's kind."""
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, raw = part.partition("=")
        if not sep:
            raise ModelitoError(f"{text!r}: write NAME=VALUE, e.g. temperature=0.3")
        name = name.strip().replace("-", "_")
        out[name] = parse_param(name, raw)
    return out


def parse_param(name: str, raw: str) -> Any:
    """A value typed by the user for parameter `name` (unknown names are left to resolve()'s error)."""
    specs = {s.name: s for s in schema()} | {s.hf_name: s for s in schema()}
    return specs[name].parse(raw) if name in specs else raw.strip()


def load_model(args: argparse.Namespace, text) -> Any:
    """Load the model, saying on stderr which device and dtype were chosen and why."""
    import modelito

    name = args.model or default_model()
    print(text("loading", model=name), file=sys.stderr, flush=True)
    try:
        lm = modelito.load(name, device=args.device, dtype=args.dtype, logprobs=getattr(args, "logprobs_mode", None))
    except ModelLoadError as err:
        if name != OFFLINE_MODEL and "could not be downloaded" in str(err):
            raise ModelLoadError(f"{err} {text('not_found_hint', offline=OFFLINE_MODEL)}") from err
        raise
    print(text("loaded", model=name, why="; ".join(said(note, text.lang) for note in lm.notes)), file=sys.stderr)
    if lm.random_weights:
        print(text("random"), file=sys.stderr)
    return lm


def print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=1, default=str))
