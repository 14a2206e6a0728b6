"""The `modelito` command line. Each command is thin over the library; torch loads only when a
command needs a model, so `--help` answers at once."""

from __future__ import annotations

import argparse
import sys

from ..errors import ModelitoError
from . import chat, classify, commands as basic, inside, runs, serve, train
from .common import common_parser
from .runs import log_run
from .i18n import Text, detect_lang


def build_parser(lang: str = "en") -> argparse.ArgumentParser:
    """The whole command line; `lang` chooses the language of the generation flags' help."""
    common = common_parser()
    parser = argparse.ArgumentParser(
        prog="modelito", parents=[common],
        description="Look inside a generative language model while it writes: tokens, chat prompts, and for "
                    "each token what the model wanted, what the sampler allowed and what it chose.",
        epilog="Examples:\n  modelito generate -m modelito-tiny-instruct --probs 'Hola modelito, hablas español?'\n"
               "  modelito chat -m modelito-tiny-instruct\n  modelito info Qwen/Qwen2.5-0.5B-Instruct\n"
               "  modelito tokenize 'Hola modelito, hablas español?'\n"
               "The default model is $MODELITO_MODEL, else Qwen/Qwen2.5-0.5B-Instruct; offline, use -m "
               "modelito-tiny-instruct.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    original = commands.add_parser

    def add_parser(name, **kwargs):  # every command takes the common flags
        return original(name, parents=[common], **kwargs)

    commands.add_parser = add_parser
    for module in (basic, chat, inside, runs, serve, classify):
        module.register(commands, lang)
    train.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    lang = _lang_in(argv) or detect_lang()  # before parsing: --help itself speaks it
    text = Text(lang)
    for arg in argv:
        if not _is_utf8(arg):  # Python kept the raw bytes as surrogates; no tokenizer can read them
            raw = arg.encode("utf-8", "surrogateescape")
            print(f"modelito: {text('not_utf8', arg=raw)}", file=sys.stderr)
            return 2
    parser = build_parser(lang)
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 0
    try:
        code = args.run(args, text) if args.command != "train" else args.run(args)
        if not args.no_log and getattr(args, "log_result", None) is not None:
            log_run(args, text)
        return code or 0
    except ModelitoError as err:  # a user mistake: one clear line, no traceback
        if args.debug:
            raise
        print(f"modelito: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nmodelito: interrupted", file=sys.stderr)
        return 130


def _is_utf8(arg: str) -> bool:
    try:
        arg.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _lang_in(argv: list[str]) -> str | None:
    for i, arg in enumerate(argv):
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1] if arg.split("=", 1)[1] in ("es", "en") else None
        if arg == "--lang" and i + 1 < len(argv) and argv[i + 1] in ("es", "en"):
            return argv[i + 1]
    return None
