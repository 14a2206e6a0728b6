"""`modelito info | tokenize | generate | score | compare`: thin commands over the library."""

from __future__ import annotations

import argparse
import sys

from ..errors import ModelitoError
from ..views.text import format_step
from ..params import spec_of
from ..rendering import as_text
from .colour import coloured_token, tokens_line
from .common import (CLI_POLICY, add_generation, add_model, add_param_flag, default_model, generation_kwargs,
                     load_model, parse_setting, print_json)


def register(commands, lang: str) -> None:
    info = commands.add_parser("info", help="the model card (from the config alone when the weights are absent)",
                               description="Parameters, architecture, context, vocabularies, memory and generation "
                                           "defaults. Example: modelito info Qwen/Qwen2.5-0.5B-Instruct")
    info.add_argument("model", nargs="?", default=None, help="default: $MODELITO_MODEL, else the notebook's model")
    info.set_defaults(run=run_info)

    tok = commands.add_parser("tokenize", help="the token table of a text",
                              description="Example: modelito tokenize -m modelito-tiny 'Hola modelito, hablas español?'")
    tok.add_argument("text")
    tok.add_argument("-m", "--model", default=None)
    tok.set_defaults(run=run_tokenize)

    gen = commands.add_parser("generate", aliases=["g"], help="generate an answer, streaming it",
                              description="Streams the answer. Example: modelito generate -m modelito-tiny-instruct "
                                          "--probs 'Hola modelito, hablas español?'")
    gen.add_argument("prompt")
    add_model(gen)
    mode = gen.add_mutually_exclusive_group()
    mode.add_argument("--chat", action="store_true", default=None, help="wrap the prompt in the chat template "
                      "(default for models that have one)")
    mode.add_argument("--raw", action="store_true", help="give the text as it is (a base model continues it)")
    gen.add_argument("-s", "--system", default=None, help="system message (with --chat)")
    gen.add_argument("--probs", action="store_true", help="colour tokens by probability and list each step's "
                     "alternatives with the model's and the sampler's probabilities")
    gen.add_argument("--show-defaults", action="store_true", help="print the model's generation defaults and "
                     "which flags override them, then stop")
    add_generation(gen, lang)
    gen.set_defaults(run=run_generate)

    score = commands.add_parser("score", help="how surprising each token of a text is to the model",
                                description="Example: modelito score -m modelito-tiny 'En un lugar de la Mancha'")
    score.add_argument("text")
    add_model(score)
    add_param_flag(score, spec_of("top_n"), lang)
    score.set_defaults(run=run_score)

    cmp = commands.add_parser("compare", help="one prompt on several models or parameter settings",
                              description="Several -m for models, or several --set for settings on one model. "
                                          "Example: modelito compare -m modelito-tiny-instruct --set temperature=0.3 "
                                          "--set temperature=1.5 'Hola'")
    cmp.add_argument("prompt")
    cmp.add_argument("-m", "--model", action="append", default=None, help="repeat for several models")
    cmp.add_argument("--set", dest="settings", action="append", default=None, metavar="NAME=VALUE[,NAME=VALUE]",
                     help="one parameter setting (repeat for several)")
    cmp.add_argument("--device", default="auto")
    cmp.add_argument("--dtype", default="auto")
    cmp.add_argument("--raw", action="store_true", help="give the text as it is, without the chat template")
    add_generation(cmp, lang)
    cmp.set_defaults(run=run_compare)


def prompt_for(lm, args: argparse.Namespace):
    """The chat template by default for models that have one; --raw gives the text as it is."""
    use_chat = not args.raw and lm.can_chat
    if getattr(args, "chat", None) and not use_chat and not args.raw:
        raise ModelitoError(f"{lm.name} has no chat template: drop --chat to continue the text as it is")
    if not use_chat:
        return args.prompt
    messages = [{"role": "system", "content": args.system}] if getattr(args, "system", None) else []
    return messages + [{"role": "user", "content": args.prompt}]


def run_info(args, text) -> int:
    from ..modelcard import describe
    from ..remote import connect, is_url

    name = args.model or default_model()
    card = connect(name).info() if is_url(name) else describe(name)
    print_json(card.to_dict()) if args.json else print(as_text(card, text.lang))
    return 0


def run_tokenize(args, text) -> int:
    from ..remote import connect, is_url
    from ..tokens import compare_tokenizers

    name = args.model or default_model()
    tokens = connect(name).tokenize(args.text) if is_url(name) else compare_tokenizers(args.text, name).results[0]
    if args.json:
        print_json(tokens.to_dict())
        return 0
    print(tokens_line(tokens))
    print(as_text(tokens, text.lang))
    return 0


def run_generate(args, text) -> int:
    lm = load_model(args, text)
    kwargs = generation_kwargs(args)
    prompt = prompt_for(lm, args)
    if args.show_defaults:
        return show_defaults(lm, prompt, kwargs, text, args.json)
    result = None
    out = sys.stdout
    for event in lm.stream(prompt, policy=CLI_POLICY, **kwargs):
        result = event.result or result
        if args.json:
            continue
        if event.beam_step is not None or event.sequence != 0:
            continue  # several answers: the first streams, the others are printed when done
        if args.probs and event.step is not None:
            out.write(coloured_token(event.text, event.step.prob, out.isatty()))
        else:
            out.write(event.text)
        out.flush()
    assert result is not None
    if args.json:
        print_json(result.to_dict())
    else:
        for i, seq in enumerate(result.sequences[1:], start=2):
            out.write(f"\n--- {i}\n{seq.text}")
        print()
        if args.probs:
            print(text("steps_head"), file=sys.stderr)
            for i, seq in enumerate(result.sequences):
                if len(result.sequences) > 1:
                    print(f"--- {i + 1}", file=sys.stderr)
                for step in seq.steps:
                    print(format_step(step, greedy=not result.params["do_sample"], lang=text.lang), file=sys.stderr)
        seq = result.sequences[0]
        print(text("finish", reason=seq.finish_reason, tokens=len(seq.steps), tps=result.usage.tokens_per_second),
              file=sys.stderr)
        for warning in result.warnings:
            print(text("note", text=warning), file=sys.stderr)
    args.log_result = result
    args.log_request = {"model": lm.name, "prompt": prompt, "device": args.device, "dtype": args.dtype,
                        "kwargs": {**kwargs, "seed": result.params["seed"]}, "policy": "cli"}
    return 0


def show_defaults(lm, prompt, kwargs, text, as_json: bool) -> int:
    ids = lm.prompt_ids(prompt)[1]
    params = lm.params(len(ids), policy=CLI_POLICY, **kwargs)
    data = params.to_dict()
    if as_json:
        print_json(data)
        return 0
    names = {"user": text("from_user"), "model": text("from_model"), "transformers default": text("from_default"),
             "default": text("from_modelito"), "cli": text("from_cli")}
    print(text("defaults_head", model=lm.name))
    for name, source in sorted(params.sources.items()):
        print(f"  {name:<22} {data[name]!s:<12} {names.get(source, source)}")
    print("  " + text("strategy", strategy=params.strategy))
    for note in params.notes:
        print("  " + text("note", text=note))
    return 0


def run_score(args, text) -> int:
    lm = load_model(args, text)
    score = lm.score(args.text, top_n=args.top_n)
    print_json(score.to_dict()) if args.json else print(as_text(score, text.lang))
    args.log_result = score
    return 0


def run_compare(args, text) -> int:
    import modelito

    models = args.model or [None]
    if len(models) > 1 and args.settings:
        raise ModelitoError("compare either several models (-m ... -m ...) or several settings (--set ...), not both")
    kwargs = generation_kwargs(args)
    if len(models) > 1:
        lms = [load_model(argparse.Namespace(model=m, device=args.device, dtype=args.dtype), text) for m in models]
        prompt = prompt_for(lms[-1], argparse.Namespace(prompt=args.prompt, raw=args.raw, system=None, chat=None))
        result = modelito.compare(prompt, models=lms, policy=CLI_POLICY, **kwargs)
    else:
        if not args.settings:
            raise ModelitoError("give several -m MODEL, or several --set NAME=VALUE, to compare")
        lm = load_model(argparse.Namespace(model=models[0], device=args.device, dtype=args.dtype), text)
        prompt = prompt_for(lm, argparse.Namespace(prompt=args.prompt, raw=args.raw, system=None, chat=None))
        result = lm.compare(prompt, settings=[parse_setting(s) for s in args.settings], policy=CLI_POLICY,
                            **kwargs)
    print_json(result.to_dict()) if args.json else print(as_text(result, text.lang))
    args.log_result = result
    return 0
