"""Spanish and English: every phrase in both languages, and the command line's views in the user's."""

from __future__ import annotations

import json
import re
import string

import pytest

from conftest import fixture_path
from modelito.cli import main
from modelito.rendering import as_text
from modelito.words import WORDS, Phrase, Words, said


def blanks(phrase: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(phrase) if field}


def english_only(min_length: int = 10) -> set[str]:
    """The fixed English parts of every phrase that Spanish says differently (long enough to be words)."""
    parts = set()
    for en, es in WORDS.values():
        for text, _, _, _ in string.Formatter().parse(en):
            text = text.strip(" ,:;()[]·.-")
            if len(text) >= min_length and text not in es:
                parts.add(text)
    return parts


@pytest.mark.parametrize("key", sorted(WORDS))
def test_every_phrase_has_both_languages_with_the_same_blanks(key):
    en, es = WORDS[key]
    assert en.strip() and es.strip()
    assert blanks(en) == blanks(es), f"{key}: the Spanish must fill the same blanks as the English"


def test_an_unknown_language_is_refused_by_name(tiny_lm):
    with pytest.raises(ValueError, match="lang='fr'.*en, es"):
        as_text(tiny_lm.tokenize("Hola"), "fr")


def test_every_view_speaks_spanish_and_print_stays_english(tiny_lm):
    import modelito

    records = [
        tiny_lm.generate("Hola", max_new_tokens=3, do_sample=True, seed=1, top_n=3),
        tiny_lm.generate("Hola", max_new_tokens=3, num_beams=2, do_sample=False),
        tiny_lm.generate("Hola", max_new_tokens=3, penalty_alpha=0.5, top_k=3, do_sample=False),
        tiny_lm.tokenize("Hola, señor"),
        modelito.compare_tokenizers("Hola, señor", tiny_lm),
        tiny_lm.info(),
        tiny_lm.score("Hola modelito"),
        tiny_lm.compare("Hola", settings=[{"temperature": 0.3}, {"do_sample": False}], max_new_tokens=3),
        tiny_lm.classify("Qué buen día", generate=True),
        tiny_lm.lens("Hola modelito"),
        tiny_lm.attention("Hola modelito"),
        tiny_lm.attribute("Hola modelito"),
        tiny_lm.chat("Eres breve."),
    ]
    leftovers = english_only()
    for record in records:
        english, spanish = as_text(record, "en"), as_text(record, "es")
        assert english == str(record), type(record).__name__
        assert spanish != english, f"{type(record).__name__} has no Spanish view"
        found = [part for part in leftovers if part in spanish]
        assert not found, f"{type(record).__name__} in Spanish still says {found}"


def test_the_card_explains_the_defaults_in_both_languages(qwen_instruct_path):
    import modelito

    card = modelito.describe(str(qwen_instruct_path))
    config = json.loads((fixture_path("qwen2.5-0.5b-instruct") / "generation_config.json").read_text())
    values = ", ".join(f"{k.replace('_', ' ')} {config[k]}" for k in
                       ("temperature", "top_k", "top_p", "repetition_penalty") if k in config)
    assert card.explain_defaults("es") == f"Este modelo muestrea por defecto: {values}."
    assert card.explain_defaults() == card.defaults_sentence == f"This model samples by default: {values}."


def test_load_notes_are_english_strings_that_say_themselves_in_spanish(tiny_lm):
    assert all(isinstance(note, str) and isinstance(note, Phrase) for note in tiny_lm.notes)
    assert tiny_lm.notes[0] == "device cpu: asked for"  # the fixture loads with device="cpu"
    assert said(tiny_lm.notes[0], "es") == "dispositivo cpu: el pedido"
    assert said("plain text", "es") == "plain text"
    assert Words("es")("device_asked", device="cuda:1") == "dispositivo cuda:1: el pedido"


def test_the_command_line_shows_its_tables_in_spanish(qwen_instruct_path, tiny_path, capsys):
    assert main(["--lang", "es", "info", str(qwen_instruct_path)]) == 0
    out = capsys.readouterr().out
    assert "494.0 millones" in out and "cabezas de atención" in out and "million" not in out
    assert main(["--lang", "es", "tokenize", "-m", str(qwen_instruct_path), "Hola, señor"]) == 0
    out = capsys.readouterr().out
    assert "caracteres por token" in out and "pieza (guardada)" in out
    assert main(["--lang", "es", "--no-log", "generate", "-m", str(tiny_path), "--probs", "--seed", "1",
                 "--max-new-tokens", "3", "Hola"]) == 0
    err = capsys.readouterr().err
    assert "dispositivo cpu: no hay ninguna GPU CUDA" in err and "no CUDA GPU" not in err
    assert main(["--lang", "en", "info", str(qwen_instruct_path)]) == 0
    assert "494.0 million" in capsys.readouterr().out


def test_notebook_views_and_print_follow_set_language(tiny_lm):
    import html

    import modelito

    records = [tiny_lm.generate("Hola", max_new_tokens=3, do_sample=True, seed=1, top_n=3),
               tiny_lm.generate("Hola", max_new_tokens=3, num_beams=2, num_return_sequences=2, do_sample=False),
               tiny_lm.tokenize("Hola, señor"), tiny_lm.info(), tiny_lm.score("Hola modelito"),
               tiny_lm.compare("Hola", systems=["Sé breve.", "Sé amable."], max_new_tokens=3),
               tiny_lm.classify("Qué buen día", generate=True), tiny_lm.lens("Hola modelito"),
               tiny_lm.attention("Hola modelito"), tiny_lm.attribute("Hola modelito"), tiny_lm.chat("Eres breve.")]
    leftovers = english_only()
    english = [(str(r), r._repr_html_()) for r in records]
    try:
        modelito.set_language("es")
        assert modelito.language() == "es"
        for record, (text, page) in zip(records, english):
            name = type(record).__name__
            assert str(record) == modelito.as_text(record, "es") != text, name
            shown = record._repr_html_()
            assert re.sub(r"mdl-\d+", "", shown) != re.sub(r"mdl-\d+", "", page), name  # block ids aside
            found = [part for part in leftovers if part in html.unescape(shown)]
            assert not found, f"{name} in notebook HTML still says {found}"
        with pytest.raises(ValueError, match="lang='de'"):
            modelito.set_language("de")
        assert modelito.language() == "es"  # a refused language changes nothing
    finally:
        modelito.set_language("en")
    assert [str(r) for r in records] == [text for text, _ in english]
