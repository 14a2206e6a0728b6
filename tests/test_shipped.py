"""The models that ship inside modelito: offline, Spanish, and better than chance at sentiment."""

from __future__ import annotations

import json
import math
import re

import pytest
import torch

import modelito
from modelito.hub import SHIPPED, shipped_models
from modelito.train.evaluate import label_logprobs
from modelito.train.sft_data import LABELS, build

# The most frequent Spanish words: a continuation "in Spanish" uses several of them.
SPANISH = {"de", "la", "que", "el", "en", "y", "a", "los", "se", "del", "las", "un", "por", "con", "no", "una", "su",
           "para", "es", "al", "lo", "como", "más", "pero", "sus", "le", "ya", "o", "fue", "este", "ha", "sí", "me",
           "mi", "muy", "hablo", "español", "puedo", "ayudarte", "estoy", "aquí", "hola"}


def spanish_words(text: str) -> int:
    return sum(w in SPANISH for w in re.findall(r"\w+", text.lower()))


@pytest.fixture(scope="module")
def base():
    return modelito.load("modelito-tiny", device="cpu")


@pytest.fixture(scope="module")
def instruct():
    return modelito.load("modelito-tiny-instruct", device="cpu")


def test_both_ship_compactly_and_load_by_name(base, instruct):
    assert shipped_models() == ["modelito-tiny", "modelito-tiny-instruct"]
    for name in shipped_models():
        folder = SHIPPED / name
        assert (folder / "README.md").exists() and (folder / "loss_curve.svg").exists()
        assert (folder / "model.safetensors").stat().st_size < 12_000_000
        assert json.loads((folder / "config.json").read_text())["dtype"] == "bfloat16"
    assert base.dtype == torch.float32 and not base.random_weights  # upcast on the CPU
    assert base.info().dtype == "bfloat16" and base.info().loaded["dtype"] == "float32"


def test_base_continues_spanish_text(base):
    result = base.generate("Caminando por la calle me encontré a", do_sample=False, max_new_tokens=30,
                           repetition_penalty=1.2)
    assert spanish_words(result.text) >= 4, result.text


def test_instruct_answers_in_spanish_through_the_chat_template(instruct):
    result = instruct.generate([{"role": "user", "content": "Hola modelito, hablas español?"}], do_sample=False,
                               max_new_tokens=30)
    assert result.sequences[0].finish_reason == "eos", result.text
    assert spanish_words(result.text) >= 2, result.text


def test_label_scoring_is_a_teacher_forced_probability(instruct):
    prompt = [{"role": "user", "content": "Sentimiento (POSITIVO, NEGATIVO o NEUTRAL): La fiesta estuvo genial."}]
    ours = label_logprobs(instruct.model, instruct.tokenizer, prompt, LABELS)
    tok = instruct.tokenizer
    text = tok.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    for label, value in zip(LABELS, ours):
        ids = tok(text + label + "<|im_end|>", add_special_tokens=False)["input_ids"]
        n = len(tok(label + "<|im_end|>", add_special_tokens=False)["input_ids"])
        with torch.inference_mode():
            logp = instruct.model(input_ids=torch.tensor([ids])).logits[0].float().log_softmax(-1)
        expected = sum(logp[i - 1, ids[i]].item() for i in range(len(ids) - n, len(ids)))
        assert value == pytest.approx(expected, abs=1e-4)


def test_sentiment_beats_chance_on_held_out_sentences(instruct):
    _, heldout = build(seed=0)
    right = 0
    for example in heldout:
        scores = label_logprobs(instruct.model, instruct.tokenizer, example["messages"][:-1], LABELS)
        right += LABELS[max(range(3), key=scores.__getitem__)] == example["label"]
    accuracy = right / len(heldout)
    card = json.loads((SHIPPED / "modelito-tiny-instruct" / "training.json").read_text())["sentiment"]
    assert accuracy == pytest.approx(card["label_scoring_accuracy"], abs=0.01)  # the card tells the truth
    assert accuracy >= 0.6, f"label scoring {accuracy:.1%}, chance is {1 / 3:.1%}"
    assert not math.isnan(accuracy)
