"""Look inside: model card, tokens, conversations, scoring, comparisons (against independent oracles)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from transformers import AutoTokenizer

import modelito
from modelito import ModelitoError, ParameterError
from modelito.lm import LM
from modelito.tokens import tokenize
from oracle import teacher_forced_logits

NOTEBOOK_IDS = [68012, 1614, 6357, 11, 6055, 14493, 69888, 30]
NOTEBOOK_PIECES = ["Hola", "Ġmodel", "ito", ",", "Ġhab", "las", "ĠespaÃ±ol", "?"]


@pytest.fixture(scope="module")
def qwen_tokenizer(qwen_instruct_path):
    return AutoTokenizer.from_pretrained(qwen_instruct_path)


# -- model card -------------------------------------------------------------------------------------

def qwen2_parameters(c) -> int:
    """Qwen2 parameters from the config by hand: embeddings (tied), per layer attention with q/k/v
    biases, SwiGLU MLP and two RMSNorms, and the final norm."""
    h, kv = c["hidden_size"], c["num_key_value_heads"] * (c["hidden_size"] // c["num_attention_heads"])
    layer = (h * h + h) + 2 * (h * kv + kv) + h * h + 3 * h * c["intermediate_size"] + 2 * h
    return c["vocab_size"] * h + c["num_hidden_layers"] * layer + h


def test_card_of_qwen_instruct_from_the_config_alone(qwen_instruct_path):
    card = modelito.describe(str(qwen_instruct_path))  # the fixture has no weights at all
    config = json.loads((qwen_instruct_path / "config.json").read_text())
    assert card.parameters == qwen2_parameters(config)
    assert f"{card.parameters / 1e6:.1f}" == "494.0"
    assert (card.architecture, card.context_length, card.dtype) == ("Qwen2ForCausalLM", 32768, "bfloat16")
    assert (card.model_vocab_size, card.tokenizer_vocab_size) == (151936, 151665)
    assert "padded" in card.vocab_note
    assert (card.layers, card.attention_heads, card.key_value_heads, card.hidden_size) == (24, 14, 2, 896)
    assert card.memory_bytes["bfloat16"] == 2 * card.parameters
    assert card.has_chat_template and card.special_tokens["eos_token"] == "<|im_end|>"
    assert card.defaults_sentence == ("This model samples by default: temperature 0.7, top k 20, top p 0.8, "
                                      "repetition penalty 1.1.")
    text = str(card)
    assert "494.0 million" in text and "32,768 tokens" in text
    assert json.loads(json.dumps(card.to_dict()))["parameters"] == card.parameters


def test_card_of_the_base_model_and_of_stories260k(qwen_instruct_path, stories_path):
    base = modelito.describe(str(qwen_instruct_path.parent / "qwen2.5-0.5b"))
    assert base.defaults_sentence.startswith("This model decodes greedily by default")
    stories = modelito.describe(str(stories_path))
    assert (stories.context_length, stories.context_field) == (512, "max_position_embeddings")
    assert stories.parameters == sum(p.numel() for n, p in modelito.load(stories_path).model.named_parameters())
    assert not stories.has_chat_template


def test_info_of_a_loaded_model(tiny_lm):
    card = tiny_lm.info()
    assert card.parameters == tiny_lm.model.num_parameters()
    assert card.loaded["device"] == "cpu" and "cpu" in card.loaded["why"]


# -- tokens -----------------------------------------------------------------------------------------

def test_the_notebooks_token_table(qwen_tokenizer):
    tokens = tokenize(qwen_tokenizer, "Hola modelito, hablas español?")
    assert tokens.ids == NOTEBOOK_IDS
    assert [t.piece for t in tokens.tokens] == NOTEBOOK_PIECES
    assert [t.text for t in tokens.tokens] == ["Hola", " model", "ito", ",", " hab", "las", " español", "?"]
    assert all(tokens.text[t.start : t.end] == t.text for t in tokens.tokens)
    assert tokens.count == 8 and tokens.chars_per_token == pytest.approx(30 / 8)
    assert tokens.tokens[6].visible == "·español"
    assert "ĠespaÃ±ol" in str(tokens) and "69888" in str(tokens)


def test_split_characters_are_grouped_never_broken(qwen_tokenizer):
    tokens = tokenize(qwen_tokenizer, "Sí, 漢字 y 🙂\n")
    texts = [t.text for t in tokens.tokens]
    assert "\ufffd" not in "".join(texts) and "".join(texts) == "Sí, 漢字 y 🙂\n"
    split = [t for t in tokens.tokens if t.partial]
    assert len(split) >= 2 and split[0].text.strip() == "漢" and all(t.text == "" for t in split[1:])
    assert len({t.group for t in split}) == 1
    assert tokens.tokens[-1].visible.startswith("↵")


def test_chat_prompt_special_tokens_are_marked(qwen_tokenizer):
    prompt = qwen_tokenizer.apply_chat_template([{"role": "user", "content": "Hola"}], tokenize=False,
                                                add_generation_prompt=True)
    tokens = tokenize(qwen_tokenizer, prompt)
    special = [t.piece for t in tokens.tokens if t.special]
    assert special == ["<|im_start|>", "<|im_end|>", "<|im_start|>", "<|im_end|>", "<|im_start|>"]
    assert "⟦<|im_start|>⟧" in str(tokens)


def test_compare_tokenizers(qwen_instruct_path, stories_path, tiny_lm):
    cmp = modelito.compare_tokenizers("Hola modelito, hablas español?", str(qwen_instruct_path), str(stories_path),
                                      tiny_lm)
    assert [r.count for r in cmp.results][0] == 8
    assert cmp.results[1].count > 8  # a 512-token English vocabulary needs many more pieces
    assert "chars/token" in str(cmp)


# -- conversations ----------------------------------------------------------------------------------

def test_conversation_grows_by_messages_and_renders_with_the_template(tiny_lm):
    conv = tiny_lm.chat(system="Responde en español.")
    first = conv.send("Hola modelito, hablas español?", max_new_tokens=5, do_sample=False)
    conv.send("¿Y qué más?", max_new_tokens=5, do_sample=False)
    assert [m["role"] for m in conv.messages] == ["system", "user", "assistant", "user", "assistant"]
    assert conv.messages[2]["content"] == first.text
    expected = tiny_lm.tokenizer.apply_chat_template(conv.messages, tokenize=False, add_generation_prompt=True)
    assert conv.prompt() == expected
    assert expected.count("Responde en español.") == 1  # the notebook's concatenation repeated it
    assert conv.tokens().ids == tiny_lm.tokenizer(expected, add_special_tokens=False)["input_ids"]


def test_a_failed_turn_keeps_the_history(tiny_lm):
    conv = tiny_lm.chat()
    conv.send("Hola", max_new_tokens=3, do_sample=False)
    before = [dict(m) for m in conv.messages]
    with pytest.raises(ParameterError):
        conv.send("otra", temperature=-1, do_sample=True)
    assert conv.messages == before
    conv.reset()
    assert conv.messages == []


def test_what_the_template_adds_without_a_system_message(tiny_lm, qwen_tokenizer):
    qwen_like = LM(tiny_lm.model, qwen_tokenizer, name="qwen-tokenizer")  # the template is the tokenizer's
    view = qwen_like.chat().user("Hola").template()
    assert view.added_system == "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
    assert "«…»" in view.scaffolding and "Hola" not in view.scaffolding
    assert tiny_lm.chat().user("Hola").template().added_system is None  # modelito's template adds nothing


def test_base_models_without_a_template_are_explained(stories_lm):
    with pytest.raises(ModelitoError, match="no chat template.*continue text"):
        stories_lm.chat()


# -- scoring ----------------------------------------------------------------------------------------

def test_score_equals_an_independent_forward_pass(stories_lm):
    text = "Once upon a time, there was a big dog."
    score = stories_lm.score(text, top_n=3)
    ids = stories_lm.tokenizer(text)["input_ids"]
    logp = teacher_forced_logits(stories_lm.model, ids).log_softmax(-1)
    expected = [logp[i, ids[i + 1]].item() for i in range(len(ids) - 1)]
    assert [s.token_id for s in score.steps] == ids[1:]
    assert [s.logprob for s in score.steps] == pytest.approx(expected, abs=1e-4)
    assert score.logprob == pytest.approx(sum(expected), abs=1e-3)
    assert score.perplexity == pytest.approx(math.exp(-sum(expected) / len(expected)), rel=1e-4)
    for i, s in enumerate(score.steps):
        assert s.rank == int((logp[i] > logp[i, ids[i + 1]]).sum()) + 1
        assert [c.token_id for c in s.top] == logp[i].topk(3).indices.tolist()
    assert score.first_token[0] == 1  # <s>: nothing predicts it
    assert score.most_surprising(1)[0].logprob == min(expected)


def test_score_a_chat_and_bad_input(tiny_lm):
    score = tiny_lm.score([{"role": "user", "content": "Hola"}, {"role": "assistant", "content": "¡Hola!"}])
    assert score.text.endswith("<|im_end|>\n")
    with pytest.raises(ModelitoError, match="single token"):
        tiny_lm.score("a")


# -- comparisons ------------------------------------------------------------------------------------

CHAT = [{"role": "user", "content": "Hola modelito, hablas español?"}]


def test_settings_run_as_one_batch_with_one_prefill(tiny_lm, monkeypatch):
    shapes = []
    forward = tiny_lm.model.forward

    def spy(*args, **kwargs):
        shapes.append(tuple(kwargs["input_ids"].shape))
        return forward(*args, **kwargs)

    monkeypatch.setattr(tiny_lm.model, "forward", spy)
    settings = [{"do_sample": False}, {"temperature": 0.5, "seed": 3}, {"top_k": 1, "seed": 4}]
    cmp = tiny_lm.compare(CHAT, settings=settings, max_new_tokens=6, repetition_penalty=1.0)
    monkeypatch.undo()
    prompt_len = len(tiny_lm.prompt_ids(CHAT)[1])
    assert shapes[0] == (1, prompt_len)  # one prefill
    assert all(s == (3, 1) for s in shapes[1:6])  # then the three settings step together
    for setting, result in zip(settings, cmp.results):  # each row is what a call of its own gives
        alone = tiny_lm.generate(CHAT, max_new_tokens=6, repetition_penalty=1.0, **setting)
        assert result.sequences[0].token_ids == alone.sequences[0].token_ids
    greedy = cmp.results[0].sequences[0]
    assert cmp.cross_logprobs[0][0] == 0.0  # greedy decoding is certain to write its own text...
    if cmp.results[1].sequences[0].token_ids != greedy.token_ids:
        assert cmp.cross_logprobs[1][0] == -math.inf  # ...and can write no other
    warm = cmp.results[1].sequences[0]
    assert cmp.cross_logprobs[1][1] == pytest.approx(sum(s.sampling_logprob for s in warm.steps), abs=1e-4)
    if cmp.results[1].sequences[0].token_ids != greedy.token_ids:
        assert cmp.cross_logprobs[1][2] == -math.inf  # top_k=1 can only write the greedy text
    assert "impossible" in str(cmp) or cmp.results[1].text == greedy.text


def test_system_messages_in_one_call(tiny_lm):
    systems = ["jajksashajksdah", "Always answer with the word: 'banana'", None]
    cmp = tiny_lm.compare("Hola modelito, hablas español?", systems=systems, max_new_tokens=8, do_sample=False)
    assert len(cmp.results) == 3 and cmp.labels[2] == "(template default)"
    assert "banana" in cmp.results[1].prompt and "jajksashajksdah" in cmp.results[0].prompt
    for i, result in enumerate(cmp.results):
        assert cmp.cross_logprobs[i][i] == pytest.approx(result.sequences[0].logprob, abs=1e-3)


def test_models_side_by_side(tiny_lm, tiny_path):
    other = modelito.load(f"random:{tiny_path}")
    cmp = modelito.compare("Hola", models=[tiny_lm, other], max_new_tokens=6, do_sample=False)
    assert cmp.labels[1].startswith("random:")
    for i, result in enumerate(cmp.results):
        assert cmp.cross_logprobs[i][i] == pytest.approx(result.sequences[0].logprob, abs=1e-3)
    assert json.loads(json.dumps(cmp.to_dict()))["kind"] == "models"


def test_bad_comparisons(tiny_lm):
    with pytest.raises(ParameterError, match="settings"):
        tiny_lm.compare("Hola", settings=[{"num_beams": 2, "do_sample": False}])
    with pytest.raises(ParameterError):
        tiny_lm.compare("Hola")
    with pytest.raises(ParameterError, match="temperature"):
        tiny_lm.compare("Hola", settings=[{"temperature": -1.0, "do_sample": True}])
