"""`python -m modelito.demo`: the course notebook's first lessons, offline, in one run.

1. How text becomes tokens (the Qwen2.5 tokenizer when its files are at hand).
2. How a chat becomes a prompt (the chat template, special tokens and all).
3. Base vs instruct: modelito's own tiny models, which ship inside the package.
4. For every token of the answer: what the model wanted and what the sampler allowed.
5. Greedy decoding, sampling with top_k=1, and beam search.

It needs no network.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(os.environ.get("MODELITO_FIXTURES", ROOT.parent / "shared" / "fixtures"))
MESSAGE = "Hola modelito, hablas español?"
CONTINUE = "Caminando por la calle me encontré a"


def section(title: str) -> None:
    print(f"\n=== {title} " + "=" * max(0, 72 - len(title)))


def show_tokens(tokenizer, text: str) -> None:
    ids = tokenizer.encode(text, add_special_tokens=False)
    print(f"{text!r} -> {len(ids)} tokens: {ids}")
    print(f"  {'id':>7}  {'piece (as stored)':<20} text")
    for token_id in ids:
        piece = tokenizer.convert_ids_to_tokens(token_id)
        print(f"  {token_id:>7}  {piece:<20} {tokenizer.decode([token_id])!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modelito.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="modelito-tiny", help="base model (default: %(default)s)")
    parser.add_argument("--chat", default="modelito-tiny-instruct", help="chat model (default: %(default)s)")
    parser.add_argument("--max-new-tokens", type=int, default=30)
    args = parser.parse_args(argv)

    import modelito

    base = modelito.load(args.base)
    chat = modelito.load(args.chat)
    qwen = FIXTURES / "qwen2.5-0.5b-instruct"
    tokenizer, name = chat.tokenizer, args.chat
    if qwen.exists():
        from transformers import AutoTokenizer

        tokenizer, name = AutoTokenizer.from_pretrained(qwen), "Qwen/Qwen2.5-0.5B-Instruct (the notebook's model)"

    section("1. Text becomes tokens")
    print(f"Tokenizer of {name}")
    show_tokens(tokenizer, MESSAGE)
    print("'Ġ' is how a byte-level vocabulary stores a space; 'Ã±' are the two bytes of 'ñ'.")

    section("2. A chat becomes a prompt")
    messages = [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": MESSAGE}]
    print(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))

    section("3. Base vs instruct")
    print(f"{base} continues text:\n  {CONTINUE!r} ->", end=" ", flush=True)
    for event in base.stream(CONTINUE, seed=0, max_new_tokens=args.max_new_tokens):
        print(event.text, end="", flush=True)
    print(f"\n\n{chat} answers a chat:\n  {MESSAGE!r} ->", end=" ", flush=True)
    for event in chat.stream([{"role": "user", "content": MESSAGE}], seed=0, max_new_tokens=args.max_new_tokens):
        print(event.text, end="", flush=True)
        result = event.result
    print()

    section("4. The answer, token by token")
    print(result)
    print("\n'model' is the model's own probability; 'sampler' is the probability under the distribution the token")
    print("was drawn from, after the repetition penalty, temperature, top-k and top-p. The notebook printed only")
    print("the second one, and called it the model's.")

    section("5. Greedy, top_k=1, beams")
    prompt = [{"role": "user", "content": "Cuéntame un chiste"}]
    greedy = chat.generate(prompt, do_sample=False, max_new_tokens=args.max_new_tokens)
    top1 = chat.generate(prompt, do_sample=True, top_k=1, seed=123, max_new_tokens=args.max_new_tokens)
    print(f"greedy:      {greedy.text!r}")
    same = greedy.sequences[0].token_ids == top1.sequences[0].token_ids
    print(f"top_k=1:     {'the same text' if same else repr(top1.text)}: greedy is sampling with one candidate")
    beams = chat.generate(prompt, num_beams=5, do_sample=False, num_return_sequences=2,
                          max_new_tokens=args.max_new_tokens)
    for seq in beams.sequences:
        print(f"beam {seq.score:+.3f}: {seq.text!r}")
    tree = beams.beam_tree
    pruned = sum(c.status == "pruned" for s in tree.steps for c in s.candidates)
    print(f"the search took {len(tree.steps)} steps, weighed {sum(len(s.candidates) for s in tree.steps)} candidates "
          f"and pruned {pruned}; result.beam_tree holds all of them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
