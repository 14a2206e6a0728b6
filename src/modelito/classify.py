"""Classification with and without a generative model, with results of one shape.

With an instruct LLM, by label scoring: the probability of each label's whole token sequence,
followed by the end of the answer, as the assistant's reply to the instruction. The end token
makes labels that share a prefix ("NEG" and "NEGATIVO") distinct events, and the variants a
tokenizer writes differently (" POSITIVO", "Positivo", "positivo") are summed into their label.
Normalising over the labels gives a distribution; the model's free (greedy) answer comes along.

With a classifier (the notebook's distilbert sentiment model, say), through transformers'
`text-classification` pipeline.
"""

from __future__ import annotations

import csv
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from .errors import ModelitoError, ParameterError
from .hub import choose_device, from_pretrained
from .protocols import LanguageModel
from .rendering import Viewable

DEFAULT_INSTRUCTION = ("En el mensaje a continuación, identifica si el sentido es {labels}. \n"
                       "Responde sólo con una de estas palabras: {options}; \nMensaje: {text}\n")


@dataclass(frozen=True)
class Classification(Viewable):
    text: str
    labels: tuple[str, ...]
    probs: tuple[float, ...]
    """One probability per label, summing to 1."""
    method: str
    """'label scoring (<model>)' or 'classifier (<model>)'."""
    generated: str | None = None
    """What the LLM answered when simply asked (greedy), if it was asked."""
    generated_label: str | None = None
    """The label that answer names, or None when it names none (an invalid answer)."""
    by: str = "llm"
    """'llm' (label scoring with a generative model) or 'classifier' (a sequence-classification model)."""
    model: str = ""
    """The name of the model that classified."""

    @property
    def label(self) -> str:
        return self.labels[max(range(len(self.labels)), key=self.probs.__getitem__)]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "label": self.label}


def variants(label: str) -> list[str]:
    """The ways an answer can write a label: as given, capitalised, lower case, with a leading space."""
    forms = dict.fromkeys([label, label.upper(), label.capitalize(), label.lower()])
    return [v for form in forms for v in (form, " " + form)]


@torch.inference_mode()
def answer_logprob(model: torch.nn.Module, prompt_ids: list[int], answer_ids: list[int]) -> float:
    """log P(answer_ids | prompt_ids) by one teacher-forced forward pass."""
    ids = torch.tensor([prompt_ids + answer_ids], device=model.device)
    logits = model(input_ids=ids, logits_to_keep=len(answer_ids) + 1).logits[0, :-1].float()
    logp = logits.log_softmax(-1)
    return float(logp.gather(1, torch.tensor(answer_ids, device=model.device)[:, None]).sum())


def classify_with_lm(lm: LanguageModel, text: str, labels: Sequence[str], instruction: str | None = None,
                     generate: bool = True) -> Classification:
    labels = _check_labels(labels)
    if not isinstance(text, str) or not text.strip():
        raise ParameterError("text", text, "a non-empty string")
    template = instruction or DEFAULT_INSTRUCTION
    try:
        content = template.format(text=text, labels=", ".join(labels[:-1]) + f" o {labels[-1]}",
                                  options="; ".join(labels))
    except (KeyError, IndexError) as err:
        raise ParameterError("instruction", instruction, "a text with {text} (and optionally {labels}, {options})") from err
    messages = [{"role": "user", "content": content}]
    _, prompt_ids = lm.prompt_ids(messages)
    end = _end_tokens(lm)
    scores = []
    for label in labels:
        seen: set[tuple[int, ...]] = set()
        total = -math.inf
        for form in variants(label):
            ids = tuple(lm.tokenizer(form, add_special_tokens=False)["input_ids"])
            if ids in seen:  # the tokenizer writes two forms alike: count the sequence once
                continue
            seen.add(ids)
            total = float(torch.logaddexp(torch.tensor(total), torch.tensor(
                answer_logprob(lm.model, prompt_ids, list(ids) + end))))
        scores.append(total)
    probs = torch.tensor(scores).softmax(0).tolist()
    generated = label_of = None
    if generate:
        generated = lm.generate(messages, do_sample=False, max_new_tokens=16, top_n=0).text.strip()
        named = [l for l in labels if generated.upper().startswith(l.upper())]
        label_of = max(named, key=len) if named else None  # "NEGATIVO" is not "NEG"
    return Classification(text=text, labels=tuple(labels), probs=tuple(probs), method=f"label scoring ({lm.name})",
                          by="llm", model=lm.name,
                          generated=generated, generated_label=label_of)


def _end_tokens(lm: LanguageModel) -> list[int]:
    """The token that ends an assistant's answer (the first EOS id, e.g. <|im_end|>)."""
    eos = getattr(lm.generation_config, "eos_token_id", None) or lm.tokenizer.eos_token_id
    eos = eos[0] if isinstance(eos, (list, tuple)) else eos
    if eos is None:
        raise ModelitoError(f"{lm.name} has no end-of-sequence token: label scoring needs one to end the answer")
    return [int(eos)]


def _check_labels(labels: Sequence[str]) -> list[str]:
    if not isinstance(labels, (list, tuple)) or len(labels) < 2 or not all(isinstance(l, str) and l.strip()
                                                                          for l in labels):
        raise ParameterError("labels", labels, "a list of at least two non-empty strings")
    if len({l.upper() for l in labels}) != len(labels):
        raise ParameterError("labels", labels, "labels that differ other than in case")
    return list(labels)


class Classifier:
    """A sequence-classification model through transformers' text-classification pipeline."""

    def __init__(self, name_or_path: str, device: str = "auto") -> None:
        from transformers import pipeline

        chosen, _ = choose_device(device)
        self.name = str(name_or_path)
        self.pipe = from_pretrained(lambda: pipeline("text-classification", model=self.name, device=chosen),
                                     self.name)
        self.labels = tuple(self.pipe.model.config.id2label[i] for i in range(self.pipe.model.config.num_labels))

    def classify(self, text: str) -> Classification:
        if not isinstance(text, str) or not text.strip():
            raise ParameterError("text", text, "a non-empty string")
        scores = {d["label"]: d["score"] for d in self.pipe(text, top_k=None, truncation=True)}
        return Classification(text=text, labels=self.labels, probs=tuple(scores[l] for l in self.labels),
                              method=f"classifier ({self.name})", by="classifier", model=self.name)


# -- evaluation on a labelled CSV ------------------------------------------------------------------

@dataclass(frozen=True)
class Evaluation(Viewable):
    method: str
    labels: tuple[str, ...]
    examples: int
    accuracy: float
    per_class: dict[str, dict[str, float]]
    """precision, recall, f1 and support per label."""
    confusion: list[list[int]]
    """confusion[true][predicted], in the order of `labels`."""
    invalid_rate: float | None = None
    """How often the generated answer named no label (LLM only)."""
    generated_accuracy: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_labelled_csv(path: str | Path, text_column: str, label_column: str,
                      label_map: dict[str, str] | None = None) -> list[tuple[str, str]]:
    path = Path(path)
    if not path.is_file():
        raise ModelitoError(f"{path}: no such file")
    with path.open(encoding="utf-8-sig", newline="") as f:  # -sig: spreadsheets start CSVs with a BOM
        reader = csv.DictReader(f)
        missing = {text_column, label_column} - set(reader.fieldnames or [])
        if missing:
            raise ModelitoError(f"{path} has no column {', '.join(sorted(missing))}; it has {reader.fieldnames}")
        rows = [(r[text_column], r[label_column]) for r in reader]
    if label_map:
        unknown = {l for _, l in rows} - set(label_map)
        if unknown:
            raise ModelitoError(f"labels {sorted(unknown)} in {path} have no entry in the label map {label_map}")
        rows = [(t, label_map[l]) for t, l in rows]
    return rows


def evaluate(classify_fn, rows: Sequence[tuple[str, str]], labels: Sequence[str], method: str,
             progress: bool = True) -> Evaluation:
    """Run `classify_fn(text) -> Classification` over labelled rows; accuracy, P/R/F1, confusion."""
    from tqdm.auto import tqdm

    index = {l: i for i, l in enumerate(labels)}
    confusion = [[0] * len(labels) for _ in labels]
    invalid = generated_right = asked = 0
    for text, truth in tqdm(rows, desc=method, disable=not progress, unit="text"):
        if truth not in index:
            raise ModelitoError(f"label {truth!r} is not one of {list(labels)}")
        result = classify_fn(text)
        confusion[index[truth]][index[result.label]] += 1
        if result.generated is not None:
            asked += 1
            invalid += result.generated_label is None
            generated_right += result.generated_label == truth
    n = sum(map(sum, confusion))
    per_class = {}
    for i, l in enumerate(labels):
        tp = confusion[i][i]
        predicted = sum(row[i] for row in confusion)
        support = sum(confusion[i])
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[l] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    return Evaluation(method=method, labels=tuple(labels), examples=n,
                      accuracy=sum(confusion[i][i] for i in range(len(labels))) / max(n, 1),
                      per_class=per_class, confusion=confusion,
                      invalid_rate=invalid / asked if asked else None,
                      generated_accuracy=generated_right / asked if asked else None)
