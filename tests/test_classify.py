"""Classification: label scoring against an independent forward pass, the classifier pipeline, evaluation."""

from __future__ import annotations

import json
import math

import pytest
import torch

from conftest import fixture_path
from modelito import Classifier, ParameterError
from modelito.classify import evaluate, read_labelled_csv, variants
from modelito.cli import main
from oracle import teacher_forced_logits

LABELS = ["POSITIVO", "NEGATIVO", "NEUTRAL"]


def independent_label_probs(lm, content: str, labels):
    """Sum over each label's distinct spellings of P(spelling + <|im_end|> | prompt), then normalise."""
    tok = lm.tokenizer
    prompt = tok.apply_chat_template([{"role": "user", "content": content}], tokenize=False, add_generation_prompt=True)
    prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    end = tok.convert_tokens_to_ids("<|im_end|>")
    totals = []
    for label in labels:
        seqs = {tuple(tok(v, add_special_tokens=False)["input_ids"]) for v in
                {label, label.upper(), label.capitalize(), label.lower(), " " + label, " " + label.upper(),
                 " " + label.capitalize(), " " + label.lower()}}
        probs = []
        for seq in seqs:
            ids = prompt_ids + list(seq) + [end]
            logp = teacher_forced_logits(lm.model, ids).log_softmax(-1)
            probs.append(math.exp(sum(logp[i - 1, ids[i]].item() for i in range(len(prompt_ids), len(ids)))))
        totals.append(sum(probs))
    return [p / sum(totals) for p in totals]


def test_label_scoring_equals_a_teacher_forced_computation(tiny_lm):
    result = tiny_lm.classify("En esa fiesta había un ambiente muy turbio", LABELS, instruction="Sentimiento: {text}")
    expected = independent_label_probs(tiny_lm, "Sentimiento: En esa fiesta había un ambiente muy turbio", LABELS)
    assert list(result.probs) == pytest.approx(expected, abs=1e-5)
    assert sum(result.probs) == pytest.approx(1.0)
    assert result.generated is not None and "label scoring" in result.method


def test_labels_sharing_a_prefix_and_of_several_tokens(tiny_lm):
    labels = ["NEG", "NEGATIVO", "MUY POSITIVO"]
    result = tiny_lm.classify("Hola", labels, instruction="{text}", generate=False)
    assert list(result.probs) == pytest.approx(independent_label_probs(tiny_lm, "Hola", labels), abs=1e-5)
    assert result.generated is None
    assert len(tiny_lm.tokenizer("MUY POSITIVO", add_special_tokens=False)["input_ids"]) > 1


def test_the_free_answer_names_the_longest_matching_label(tiny_lm, monkeypatch):
    from modelito.trace import Result

    real = tiny_lm.generate

    def answers_negativo(*args, **kwargs):
        result = real(*args, **kwargs)
        seq = result.sequences[0].__class__(**{**result.sequences[0].__dict__, "text": "NEGATIVO."})
        return Result(**{**result.__dict__, "sequences": (seq,)})

    monkeypatch.setattr(tiny_lm, "generate", answers_negativo)
    assert tiny_lm.classify("x", ["NEG", "NEGATIVO"], instruction="{text}").generated_label == "NEGATIVO"


def test_variants_cover_case_and_leading_space():
    assert set(variants("Positivo")) == {"Positivo", " Positivo", "POSITIVO", " POSITIVO", "positivo", " positivo"}


@pytest.mark.parametrize("labels", [["SOLO"], "POSITIVO", ["A", "a"], ["A", ""]])
def test_bad_labels(tiny_lm, labels):
    with pytest.raises(ParameterError):
        tiny_lm.classify("Hola", labels)


@pytest.fixture(scope="module")
def classifier_path(tmp_path_factory, tiny_path):
    """A tiny random sequence classifier, saved as a normal folder (the pipeline's real loading path)."""
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForSequenceClassification

    tok = AutoTokenizer.from_pretrained(tiny_path)
    config = Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, num_labels=3, pad_token_id=tok.pad_token_id,
                         id2label={0: "NEGATIVO", 1: "NEUTRAL", 2: "POSITIVO"},
                         label2id={"NEGATIVO": 0, "NEUTRAL": 1, "POSITIVO": 2})
    torch.manual_seed(0)
    model = Qwen2ForSequenceClassification(config)
    out = tmp_path_factory.mktemp("clf") / "classifier"
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def test_classifier_pipeline_gives_the_same_shape(classifier_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    clf = Classifier(str(classifier_path), device="cpu")
    result = clf.classify("En esa fiesta había un ambiente muy turbio")
    model = AutoModelForSequenceClassification.from_pretrained(classifier_path)
    ids = AutoTokenizer.from_pretrained(classifier_path)("En esa fiesta había un ambiente muy turbio",
                                                         return_tensors="pt")
    with torch.inference_mode():
        expected = model(**ids).logits[0].softmax(-1).tolist()
    assert result.labels == ("NEGATIVO", "NEUTRAL", "POSITIVO")
    assert list(result.probs) == pytest.approx(expected, abs=1e-5)
    assert "classifier" in str(result) and json.dumps(result.to_dict())


def test_evaluate_on_the_real_spanish_set(tiny_lm, classifier_path):
    rows = read_labelled_csv(fixture_path("sentiment-es") / "sentimp21_es.csv", "full_text", "final_label",
                             {"-1": "NEGATIVO", "0": "NEUTRAL", "1": "POSITIVO"})
    assert len(rows) == 418 and {l for _, l in rows} == set(LABELS)
    sample = [r for r in rows if len(r[0]) < 140][:12]  # short tweets: the test model's context is 256 tokens
    report = evaluate(lambda t: tiny_lm.classify(t, LABELS), sample, LABELS, "llm", progress=False)
    assert report.examples == 12 and sum(map(sum, report.confusion)) == 12
    assert report.accuracy == pytest.approx(sum(report.confusion[i][i] for i in range(3)) / 12)
    assert 0.0 <= report.invalid_rate <= 1.0
    for label, c in report.per_class.items():
        i = LABELS.index(label)
        predicted = sum(row[i] for row in report.confusion)
        assert c["precision"] == pytest.approx(report.confusion[i][i] / predicted if predicted else 0.0)
    clf = Classifier(str(classifier_path), device="cpu")
    other = evaluate(clf.classify, sample, list(clf.labels), "classifier", progress=False)
    assert other.invalid_rate is None and "confusion" in str(other)


def test_cli_classify_and_evaluate(tiny_path, classifier_path, capsys):
    assert main(["classify", "--no-log", "-m", str(tiny_path), "--classifier", str(classifier_path),
                 "En esa fiesta había un ambiente muy turbio"]) == 0
    out = capsys.readouterr().out
    assert "label scoring" in out and "classifier" in out
    csv = fixture_path("sentiment-es") / "sentimp21_es.csv"
    assert main(["evaluate", "--json", "-m", str(tiny_path), "--csv", str(csv), "--text-column", "full_text",
                 "--label-column", "final_label", "--label-map=-1=NEGATIVO,0=NEUTRAL,1=POSITIVO", "--limit", "5",
                 "--instruction", "{text}"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["examples"] == 5
    assert main(["evaluate", "-m", str(tiny_path), "--csv", str(csv), "--text-column", "nope"]) == 2
    assert "no column" in capsys.readouterr().err


def test_csv_saved_by_a_spreadsheet_with_a_bom(tmp_path):
    path = tmp_path / "labelled.csv"
    path.write_bytes("\ufefftext,label\nMe encanta,1\nQué horror,-1\n".encode("utf-8"))
    assert read_labelled_csv(path, "text", "label", {"1": "POSITIVO", "-1": "NEGATIVO"}) == [
        ("Me encanta", "POSITIVO"), ("Qué horror", "NEGATIVO")]
