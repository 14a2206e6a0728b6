"""`modelito chat`: an interactive conversation with streaming, history and slash commands.

Ctrl-C during an answer stops that answer and keeps the conversation as it was before the turn;
Ctrl-C or Ctrl-D at the prompt leaves.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import ModelitoError
from ..views.text import format_step
from .colour import coloured_token
from .common import CLI_POLICY, add_generation, add_model, generation_kwargs, load_model, parse_param


def register(commands, lang: str) -> None:
    chat = commands.add_parser("chat", help="an interactive conversation",
                               description="Slash commands: /system, /reset, /set NAME VALUE, /probs on|off, "
                                           "/save FILE, /history, /help. Example: modelito chat -m modelito-tiny-instruct")
    add_model(chat)
    chat.add_argument("-s", "--system", default=None, help="system message")
    add_generation(chat, lang)
    chat.set_defaults(run=run_chat)


def run_chat(args, text, stdin=None, stdout=None) -> int:
    stdin, out = stdin or sys.stdin, stdout or sys.stdout
    lm = load_model(args, text)
    conv = lm.chat(system=args.system)
    settings = generation_kwargs(args)
    probs = False
    print(text("chat_welcome", model=lm.name), file=out)
    while True:
        try:
            out.write("> ")
            out.flush()
            line = stdin.readline()
        except KeyboardInterrupt:
            print(file=out)
            return 0
        if not line:  # Ctrl-D
            print(file=out)
            return 0
        if not stdin.isatty():  # piped input: show it, so the transcript reads as a conversation
            out.write(line if line.endswith("\n") else line + "\n")
        line = line.strip()
        if not line:
            continue
        if line.startswith("/"):
            try:
                probs = command(line, conv, settings, probs, text, out)
            except ModelitoError as err:
                print(f"modelito: {err}", file=out)
            continue
        answer(conv, line, settings, probs, text, out)


def answer(conv, message: str, settings: dict, probs: bool, text, out) -> None:
    """Stream one turn; on Ctrl-C or a bad parameter the history stays as it was."""
    before = list(conv.messages)
    result = None
    try:
        for event in conv.lm.stream([*conv.messages, {"role": "user", "content": message}], policy=CLI_POLICY,
                                    **settings):
            result = event.result or result
            if event.step is not None and event.sequence == 0:
                out.write(coloured_token(event.text, event.step.prob, probs and out.isatty()) if probs else event.text)
                out.flush()
    except KeyboardInterrupt:
        conv.messages = before
        print(f"\n{text('interrupted')}", file=out)
        return
    except ModelitoError as err:
        conv.messages = before
        print(f"\nmodelito: {err}", file=out)
        return
    print(file=out)
    conv.user(message).assistant(result.text)
    if probs:
        print(text("steps_head"), file=out)
        for step in result.steps:
            print(format_step(step, greedy=not result.params["do_sample"], lang=text.lang), file=out)


def command(line: str, conv, settings: dict, probs: bool, text, out) -> bool:
    name, _, rest = line.partition(" ")
    rest = rest.strip()
    if name == "/help":
        print(text("chat_help"), file=out)
    elif name == "/system":
        conv.messages = [{"role": "system", "content": rest}] if rest else []
        print(text("reset"), file=out)
    elif name == "/reset":
        conv.reset()
        print(text("reset"), file=out)
    elif name == "/set":
        key, _, value = rest.partition(" ")
        if not key or not value:
            raise ModelitoError("write /set NAME VALUE, e.g. /set temperature 0.2")
        candidate = {**settings, key.replace("-", "_"): parse_param(key.replace("-", "_"), value)}
        prompt_len = len(conv.lm.prompt_ids(conv.messages or [{"role": "user", "content": ""}])[1])
        conv.lm.params(prompt_len, policy=CLI_POLICY, **candidate)  # validate now: a bad value is refused, nothing changes
        settings.clear()
        settings.update(candidate)
        print(text("set", name=key, value=candidate[key.replace("-", "_")]), file=out)
    elif name == "/probs":
        probs = rest.lower() in ("on", "1", "true", "yes", "sí", "si")
    elif name == "/save":
        if not rest:
            raise ModelitoError("write /save FILE")
        try:
            Path(rest).write_text(json.dumps(conv.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
        except OSError as err:
            raise ModelitoError(f"could not save to {rest}: {err.strerror}") from err
        print(text("saved", path=rest), file=out)
    elif name == "/history":
        for m in conv.messages:
            print(f"{m['role']:>9}: {m['content']}", file=out)
    else:
        print(text("unknown_command", cmd=name), file=out)
    return probs
