"""Streaming text: multi-byte characters are never split, stop strings are never leaked."""

from __future__ import annotations

from modelito.textstream import TextStream


def test_multibyte_characters_are_held_back_until_complete(tiny_lm):
    tok = tiny_lm.tokenizer
    text = "Sí 🙂 año ¿qué? 漢字"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert len(ids) > len(text.split()), "the test needs characters split over several tokens"
    stream = TextStream(tok)
    deltas = [stream.push(i) for i in ids] + [stream.flush()]
    assert "".join(deltas) == text
    assert all("\ufffd" not in d for d in deltas)
    # Some token really ended inside a character, and was held back rather than shown broken.
    partial = [tok.decode(ids[: k + 1]) for k in range(len(ids))]
    assert any(p.endswith("\ufffd") for p in partial)


def test_stop_string_split_over_tokens_is_never_shown(tiny_lm):
    tok = tiny_lm.tokenizer
    text = "Hola modelito, hablas español? Adiós"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    stream = TextStream(tok, stop_strings=["español", "xyz"])
    shown = ""
    for i in ids:
        shown += stream.push(i)
        assert "esp" not in shown or stream.stop_string is not None
        if stream.stop_string:
            break
    shown += stream.flush()
    assert shown == "Hola modelito, hablas "
    assert stream.stop_string == "español"


def test_earliest_stop_string_wins(tiny_lm):
    tok = tiny_lm.tokenizer
    stream = TextStream(tok, stop_strings=["c", "ab"])
    out = "".join(stream.push(i) for i in tok("xxabc", add_special_tokens=False)["input_ids"]) + stream.flush()
    assert out == "xx" and stream.stop_string == "ab"


def test_a_special_token_can_be_a_stop_string(tiny_lm):
    tok = tiny_lm.tokenizer
    ids = tok("Hola<|im_end|>más texto", add_special_tokens=False)["input_ids"]
    stream = TextStream(tok, stop_strings=["<|im_end|>"])
    shown = ""
    for i in ids:
        shown += stream.push(i)
        if stream.stop_string:
            break
    assert shown + stream.flush() == "Hola" and stream.stop_string == "<|im_end|>"
