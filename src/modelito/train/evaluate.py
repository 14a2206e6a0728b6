"""How well a fine-tuned tiny model classifies sentiment: by label scoring and by free generation.

Label scoring: the log-probability of each label's whole token sequence (and the end-of-turn
token, so that a label which is a prefix of another is not favoured) as the assistant's answer,
computed with one teacher-forced forward pass per label. Free generation: the greedy answer,
counted right when it starts with the expected label.
"""

from __future__ import annotations

from typing import Sequence

from ..classify import answer_logprob


def label_logprobs(model, tokenizer, messages: Sequence[dict], labels: Sequence[str]) -> list[float]:
    """log P(label + <|im_end|> | chat prompt) for each label, written exactly as given."""
    prompt = tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    return [answer_logprob(model, prompt_ids, tokenizer(label + "<|im_end|>", add_special_tokens=False)["input_ids"])
            for label in labels]


def sentiment_accuracy(lm, examples: Sequence[dict], labels: Sequence[str], max_new_tokens: int = 12) -> dict:
    """Accuracy of label scoring and of free (greedy) generation on held-out conversations."""
    scored = generated = invalid = 0
    for ex in examples:
        prompt = ex["messages"][:-1]
        scores = label_logprobs(lm.model, lm.tokenizer, prompt, labels)
        scored += labels[max(range(len(labels)), key=scores.__getitem__)] == ex["label"]
        answer = lm.generate(prompt, do_sample=False, max_new_tokens=max_new_tokens, top_n=0).text.strip().upper()
        generated += answer.startswith(ex["label"])
        invalid += not any(answer.startswith(label) for label in labels)
    n = max(len(examples), 1)
    return {"examples": len(examples), "label_scoring_accuracy": round(scored / n, 3),
            "generation_accuracy": round(generated / n, 3), "invalid_answers": round(invalid / n, 3)}
