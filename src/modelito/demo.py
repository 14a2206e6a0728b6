"""`python -m modelito.demo`: the course notebook's first lessons, offline, in one run.

1. How text becomes tokens (the Qwen2.5 tokenizer when its files are at hand).
2. How a chat becomes a prompt (the chat template, special tokens and all).
3. A first generation, and for every token what the model wanted and what the sampler allowed.
4. Greedy decoding against sampling.

It needs no network: the model is `stories260k` from the shared fixtures when present (a real,
trained 260K-parameter model), else a tiny random-weight model built on the spot.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(os.environ.get("MODELITO_FIXTURES", ROOT.parent / "shared" / "fixtures"))
MESSAGE = "Hola modelito, hablas español?"


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
    parser.add_argument("--model", help="model to generate with (default: stories260k, else a tiny random model)")
    parser.add_argument("--max-new-tokens", type=int, default=30)
    args = parser.parse_args(argv)

    import modelito
    from transformers import AutoTokenizer

    qwen = FIXTURES / "qwen2.5-0.5b-instruct"
    section("1. Text becomes tokens")
    if qwen.exists():
        tokenizer = AutoTokenizer.from_pretrained(qwen)
        print("Tokenizer of Qwen/Qwen2.5-0.5B-Instruct (the notebook's model), from", qwen)
        show_tokens(tokenizer, MESSAGE)
        print("'Ġ' is how this byte-level vocabulary stores a space; 'Ã±' are the two bytes of 'ñ'.")
        section("2. A chat becomes a prompt")
        messages = [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": MESSAGE}]
        print(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
        print("Without a system message, Qwen's template writes its own:")
        print(tokenizer.apply_chat_template(messages[1:], tokenize=False, add_generation_prompt=True))
    else:
        print(f"(Qwen2.5 tokenizer files not found under {FIXTURES}: skipping the notebook's token table)")

    with tempfile.TemporaryDirectory() as tmp:
        name = args.model
        if name is None:
            stories = FIXTURES / "stories260k"
            if stories.exists():
                name = str(stories)
            else:
                from .testing import tiny_model

                name = str(tiny_model(Path(tmp) / "tiny"))
        section("3. A first generation, token by token")
        lm = modelito.load(name)
        print(lm, "·", "; ".join(lm.notes))
        prompt = "Once upon a time" if "stories" in name else "Hola modelito"
        if lm.tokenizer.chat_template and "stories" not in name:
            prompt = [{"role": "user", "content": MESSAGE}]
        print(f"prompt: {prompt!r}\n")
        for event in lm.stream(prompt, do_sample=True, temperature=0.7, top_k=20, top_p=0.8, seed=0,
                               max_new_tokens=args.max_new_tokens):
            print(event.text, end="", flush=True)
            result = event.result
        print("\n")
        print(result)
        print("\n'model' is the model's own probability; 'sampler' is the probability under the distribution the token")
        print("was drawn from, after temperature, top-k and top-p. The notebook printed only the second one.")

        section("4. Greedy decoding: always the most likely token")
        greedy = lm.generate(prompt, do_sample=False, max_new_tokens=args.max_new_tokens)
        print(greedy.text)
        top1 = lm.generate(prompt, do_sample=True, top_k=1, seed=123, max_new_tokens=args.max_new_tokens)
        same = greedy.sequences[0].token_ids == top1.sequences[0].token_ids
        print(f"\nSampling with top_k=1 gives {'the same' if same else 'a different'} text: greedy is sampling with one candidate.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
