"""Reproduce the shipped models: `make models` (about 30 minutes on a 2-core CPU).

    1. modelito train pretrain --text ../shared/corpora/*.txt        -> build/modelito-tiny
    2. python -m modelito.train.sft_data build/sft                    -> the instruction data
    3. modelito train sft --data build/sft/train.jsonl --from ...     -> build/modelito-tiny-instruct
    4. evaluate on held-out sentiment sentences and Spanish prompts, write it into the model cards,
       store both in bfloat16 under src/modelito/models/ (package data).

Everything is seeded and step-budgeted, so the same machine type gives the same weights.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
CORPORA = Path(os.environ.get("MODELITO_CORPORA", ROOT.parent / "shared" / "corpora"))
BUILD = ROOT / "build"
SHIPPED = ROOT / "src" / "modelito" / "models"
PRETRAIN_STEPS = int(os.environ.get("PRETRAIN_STEPS", 1500))
SFT_STEPS = int(os.environ.get("SFT_STEPS", 900))
BASE_PROMPTS = ("Caminando por la calle me encontré a", "Hola modelito, hablas español?", "En un lugar de la Mancha")
CHAT_PROMPTS = ("Hola modelito, hablas español?", "Completa la frase: Caminando por la calle me encontré a",
                "Cuéntame un chiste", "¿Cuál es el mejor mes del año? Responde con una sola palabra")


def main() -> int:
    from modelito.cli import main as cli
    from modelito.train.sft_data import build, write_jsonl

    base, instruct = BUILD / "modelito-tiny", BUILD / "modelito-tiny-instruct"
    train_rows, heldout = build(seed=0)
    if "--report-only" not in sys.argv:  # --report-only: evaluate and ship what build/ holds
        texts = sorted(str(p) for p in CORPORA.glob("*.txt"))
        if not texts:
            sys.exit(f"no corpora in {CORPORA}")
        if cli(["train", "pretrain", "--text", *texts, "--out", str(base), "--steps", str(PRETRAIN_STEPS)]):
            return 1
        (BUILD / "sft").mkdir(parents=True, exist_ok=True)
        write_jsonl(train_rows, BUILD / "sft" / "train.jsonl")
        write_jsonl(heldout, BUILD / "sft" / "heldout.jsonl")
        if cli(["train", "sft", "--data", str(BUILD / "sft" / "train.jsonl"), "--from", str(base),
                "--out", str(instruct), "--steps", str(SFT_STEPS)]):
            return 1
    report(base, instruct, heldout)
    for folder in (base, instruct):
        ship(folder)
    return 0


def report(base: Path, instruct: Path, heldout: list[dict]) -> None:
    import modelito
    from modelito.train.evaluate import sentiment_accuracy
    from modelito.train.report import write_card
    from modelito.train.sft_data import LABELS

    lm_base = modelito.load(base, device="cpu")
    samples = {p: lm_base.generate(p, do_sample=False, max_new_tokens=30, repetition_penalty=1.2).text for p in BASE_PROMPTS}
    _update(base, {"samples": samples})
    lm = modelito.load(instruct, device="cpu")
    evaluation = sentiment_accuracy(lm, heldout, LABELS)
    chance = round(1 / len(LABELS), 3)
    samples = {p: lm.generate([{"role": "user", "content": p}], do_sample=False, max_new_tokens=40).text for p in CHAT_PROMPTS}
    _update(instruct, {"samples": samples, "evaluation": {
        "Held-out sentiment sentences": f"{evaluation['examples']} (subject-predicate pairs unseen in training)",
        "Label-scoring accuracy": f"{evaluation['label_scoring_accuracy']:.1%} (chance {chance:.1%})",
        "Greedy-generation accuracy": f"{evaluation['generation_accuracy']:.1%}, invalid answers {evaluation['invalid_answers']:.1%}",
    }, "sentiment": evaluation})
    print(json.dumps(evaluation))
    for folder in (base, instruct):
        facts = json.loads((folder / "training.json").read_text())
        write_card(folder, facts)


def _update(folder: Path, extra: dict) -> None:
    facts = json.loads((folder / "training.json").read_text())
    facts.update(extra)
    (folder / "training.json").write_text(json.dumps(facts, indent=1, ensure_ascii=False), encoding="utf-8")


def ship(folder: Path) -> None:
    """Copy into the package, weights in bfloat16 (half the size; the CPU upcasts to float32 on load)."""
    from transformers import AutoModelForCausalLM

    target = SHIPPED / folder.name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(folder, target)
    if json.loads((folder / "training.json").read_text())["kind"] == "base":
        # A base model continues text: no chat template (older builds wrote one; `pretrain` no longer does).
        (target / "chat_template.jinja").unlink(missing_ok=True)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model.to(torch.bfloat16).save_pretrained(target)
    print(f"shipped {target}: {sum(f.stat().st_size for f in target.iterdir()) / 1e6:.1f} MB")


if __name__ == "__main__":
    sys.exit(main())
