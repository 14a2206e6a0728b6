"""The offline tiny model: a Hugging Face folder that loads and behaves like a small Qwen2.5 instruct."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

from modelito.testing import tiny_model
from modelito.train.tokenizer import SPECIAL_TOKENS, train_tokenizer

ROUND_TRIP = "Hola modelito, hablas español? ¡Sí! 🙂\tfin\n"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("tiny") / "model", seed=0)


@pytest.fixture(scope="module")
def tok(folder):
    return AutoTokenizer.from_pretrained(folder)


@pytest.fixture(scope="module")
def model(folder):
    return AutoModelForCausalLM.from_pretrained(folder).eval()


def test_folder_layout(folder):
    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "model.safetensors", "generation_config.json", "tokenizer.json", "README.md"} <= names
    assert "random weights" in (folder / "README.md").read_text(encoding="utf-8")


def test_special_tokens_exist_and_are_special(tok):
    for expected_id, token in enumerate(SPECIAL_TOKENS):
        assert tok.convert_tokens_to_ids(token) == expected_id
        assert token in tok.all_special_tokens
        # Written in text, each is one token, never split into bytes.
        assert tok(token).input_ids == [expected_id]
    assert tok.eos_token == "<|im_end|>"
    assert tok.pad_token == "<|endoftext|>"
    assert tok.bos_token is None and tok.unk_token is None
    text = "<|im_start|>user\nHola<|im_end|>\n"
    assert tok.decode(tok(text).input_ids, skip_special_tokens=True) == "user\nHola\n"


def test_chat_template_is_chatml_without_default_system(tok):
    rendered = tok.apply_chat_template(
        [{"role": "user", "content": "Hola"}], tokenize=False, add_generation_prompt=True
    )
    assert rendered == "<|im_start|>user\nHola<|im_end|>\n<|im_start|>assistant\n"


def test_round_trip_utf8(tok):
    ids = tok(ROUND_TRIP).input_ids
    assert tok.decode(ids) == ROUND_TRIP
    assert len(ids) < len(ROUND_TRIP.encode("utf-8"))  # BPE merged something


def test_reloaded_tokenizer_encodes_like_the_trained_one(tok):
    # transformers rebuilds a qwen2 folder's tokenizer as Qwen2Tokenizer; the trained one must agree with it.
    from importlib import resources

    corpus = resources.files("modelito").joinpath("data").joinpath("tiny_corpus.txt").read_text(encoding="utf-8")
    fresh = train_tokenizer(corpus.splitlines(keepends=True), 512)
    for text in (ROUND_TRIP, "Son 12.345 euros,  ¿vale?\n\n\t  ok", "Caminando por la calle me encontré a"):
        assert tok(text).input_ids == fresh(text).input_ids


def test_config_matches_tokenizer(model, tok):
    config = model.config
    assert config.model_type == "qwen2"
    assert config.vocab_size == len(tok)
    assert config.bos_token_id is None
    assert config.eos_token_id == tok.convert_tokens_to_ids("<|im_end|>")
    assert config.pad_token_id == tok.convert_tokens_to_ids("<|endoftext|>")
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()  # tied


def test_same_seed_same_weights_other_seed_different(folder, model, tmp_path):
    again = tiny_model(tmp_path / "again", seed=0)
    other = tiny_model(tmp_path / "other", seed=1)
    assert (again / "model.safetensors").read_bytes() == (folder / "model.safetensors").read_bytes()

    same = AutoModelForCausalLM.from_pretrained(again).state_dict()
    reference = model.state_dict()
    assert same.keys() == reference.keys()
    assert all(torch.equal(same[name], reference[name]) for name in reference)

    different = AutoModelForCausalLM.from_pretrained(other).state_dict()
    assert not torch.equal(different["model.embed_tokens.weight"], reference["model.embed_tokens.weight"])


def test_building_leaves_global_rng_alone(tmp_path):
    torch.manual_seed(123)
    before = torch.get_rng_state()
    tiny_model(tmp_path / "m", seed=7)
    assert torch.equal(torch.get_rng_state(), before)


def test_forward_pass(model, tok):
    batch = tok.apply_chat_template(
        [{"role": "user", "content": "Hola modelito, hablas español?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape == (1, batch["input_ids"].shape[1], len(tok))
    assert torch.isfinite(logits).all()
    # initializer_range=0.2: the next-token distribution is far from uniform.
    probs = logits[0, -1].softmax(-1)
    assert probs.max().item() > 5 / len(tok)


def test_generation_config_mirrors_qwen25_instruct(folder, model, tok):
    im_end, endoftext = tok.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>"])
    for generation_config in (GenerationConfig.from_pretrained(folder), model.generation_config):
        assert generation_config.do_sample is True
        assert generation_config.eos_token_id == [im_end, endoftext]
        assert generation_config.pad_token_id == endoftext
        assert generation_config.temperature == 0.7
        assert generation_config.top_k == 20
        assert generation_config.top_p == 0.8
        assert generation_config.repetition_penalty == 1.1
