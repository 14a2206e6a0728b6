"""`modelito train`: pretraining and fine-tuning end to end on a budget of seconds."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import modelito
from modelito.cli import main as cli
from modelito.train.sft import IGNORE, encode
from modelito.train.tokenizer import CHATML_TEMPLATE

TINY = ["--vocab-size", "400", "--hidden-size", "32", "--layers", "1", "--heads", "2", "--kv-heads", "1",
        "--block-size", "32", "--batch-size", "4", "--eval-every", "5"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "text.txt"
    text = resources.files("modelito").joinpath("data/tiny_corpus.txt").read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory, corpus) -> Path:
    out = tmp_path_factory.mktemp("pre") / "base"
    assert cli(["train", "pretrain", "--text", str(corpus), "--out", str(out), "--steps", "15", *TINY]) == 0
    return out


def test_pretrain_writes_a_loadable_folder_with_card_and_curve(pretrained):
    lm = modelito.load(pretrained, device="cpu")
    assert lm.model.config.model_type == "qwen2"
    assert {"<|endoftext|>", "<|im_start|>", "<|im_end|>"} <= set(lm.tokenizer.get_vocab())
    assert lm.generate("Hola", max_new_tokens=5, do_sample=False).sequences[0].token_ids
    facts = json.loads((pretrained / "training.json").read_text())
    history = facts["history"]
    assert len(history["steps"]) == 15 and history["eval_loss"]
    assert history["eval_loss"][-1] < history["eval_loss"][0] or history["train_loss"][-1] < history["train_loss"][0]
    card = (pretrained / "README.md").read_text()
    assert "Held-out loss" in card and "text.txt" in card and "loss_curve.svg" in card
    svg = ET.parse(pretrained / "loss_curve.svg").getroot()
    assert svg.tag.endswith("svg") and len(svg.findall("{http://www.w3.org/2000/svg}polyline")) == 2


def test_pretrain_is_deterministic_for_a_seed(tmp_path, corpus, pretrained):
    again = tmp_path / "again"
    assert cli(["train", "pretrain", "--text", str(corpus), "--out", str(again), "--steps", "15", *TINY]) == 0
    a, b = load_file(pretrained / "model.safetensors"), load_file(again / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_sft_labels_cover_only_the_assistant_turns(pretrained):
    tok = modelito.load(pretrained, device="cpu").tokenizer
    assert not tok.chat_template  # a base model; fine-tuning adds ChatML
    tok.chat_template = CHATML_TEMPLATE
    messages = [{"role": "system", "content": "Sé breve."}, {"role": "user", "content": "Hola"},
                {"role": "assistant", "content": "¡Hola! ¿Qué tal?"}, {"role": "user", "content": "Bien"},
                {"role": "assistant", "content": "Me alegro."}]
    ids, labels = encode(tok, messages)
    assert ids == tok(tok.apply_chat_template(messages, tokenize=False), add_special_tokens=False)["input_ids"]
    learned = tok.decode([t for t, l in zip(ids, labels) if l != IGNORE])
    assert learned == "¡Hola! ¿Qué tal?<|im_end|>Me alegro.<|im_end|>"
    assert all(l in (IGNORE, t) for t, l in zip(ids, labels))


def test_sft_end_to_end(tmp_path, pretrained):
    data = tmp_path / "chats.jsonl"
    rows = [{"messages": [{"role": "user", "content": f"Hola {i}"}, {"role": "assistant", "content": "¡Hola!"}]}
            for i in range(40)]
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "chat"
    assert cli(["train", "sft", "--data", str(data), "--from", str(pretrained), "--out", str(out), "--steps", "8",
                "--batch-size", "4", "--eval-every", "4"]) == 0
    lm = modelito.load(out, device="cpu")
    assert list(lm.generation_config.eos_token_id) == [lm.tokenizer.convert_tokens_to_ids("<|im_end|>"),
                                                        lm.tokenizer.convert_tokens_to_ids("<|endoftext|>")]
    assert lm.generate([{"role": "user", "content": "Hola"}], max_new_tokens=3).sequences
    assert "instruction-tuned" in (out / "README.md").read_text()


def test_train_mistakes_are_one_line_and_exit_2(tmp_path, pretrained, capsys):
    cmd = [sys.executable, "-m", "modelito.cli", "train", "pretrain", "--text", str(tmp_path / "nope.txt"), "--out", str(tmp_path / "o")]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip() == f"modelito: {tmp_path / 'nope.txt'}: no such file"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "no messages"}\n', encoding="utf-8")
    assert cli(["train", "sft", "--data", str(bad), "--from", str(tmp_path), "--out", str(tmp_path / "x")]) == 2
    assert "not a model folder" in capsys.readouterr().err
    assert cli(["train", "sft", "--data", str(bad), "--from", str(pretrained), "--out", str(tmp_path / "x")]) == 2
    assert "line 1: expected" in capsys.readouterr().err
