"""`modelito lens | attention | attribute`: looking deeper into one text, on a local model."""

from __future__ import annotations

from ..rendering import as_text
from .commands import prompt_for
from .common import add_model, load_model, print_json


def register(commands, lang: str) -> None:
    for name, help_text, example in (
        ("lens", "the logit lens: what every layer would predict at every position",
         "modelito lens -m modelito-tiny 'Caminando por la calle me encontré a'"),
        ("attention", "attention weights: what each token attends to, per layer and head",
         "modelito attention -m modelito-tiny 'Hola modelito'"),
        ("attribute", "which input tokens made the next token likely (gradient x input)",
         "modelito attribute -m modelito-tiny-instruct --target ' Madrid' 'La capital de España es'"),
    ):
        cmd = commands.add_parser(name, help=help_text, description=f"{help_text[0].upper()}{help_text[1:]}. "
                                  f"Example: {example}")
        cmd.add_argument("prompt")
        add_model(cmd)
        cmd.add_argument("--chat", action="store_true", help="wrap the text in the chat template (the model's answer "
                         "would come next); by default the text is given as it is")
        cmd.add_argument("-s", "--system", default=None, help="system message (with --chat)")
        if name == "lens":
            cmd.add_argument("--top-n", type=int, default=None, help="guesses kept per layer and position")
        if name == "attribute":
            cmd.add_argument("--target", default=None, help="the next token to explain: a one-token text or an id "
                             "(default: the model's most likely next token)")
        cmd.set_defaults(run=run_inside, raw=False)


def run_inside(args, text) -> int:
    lm = load_model(args, text)
    args.raw = not args.chat
    prompt = prompt_for(lm, args)
    if args.command == "lens":
        result = lm.lens(prompt, top_n=args.top_n)
    elif args.command == "attention":
        result = lm.attention(prompt)
    else:
        target = int(args.target) if args.target is not None and args.target.isdigit() else args.target
        result = lm.attribute(prompt, target=target)
    print_json(result.to_dict()) if args.json else print(as_text(result, text.lang))
    return 0
