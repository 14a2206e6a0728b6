"""Plain-text views of every record, for terminals and `print()`.

The notebook's `inspeccionar_probabilidades` printed one probability per token and did not say
whose it was. Here every row shows both: the model's probability (before any processing) and the
sampler's (the distribution the token was actually drawn from), and marks tokens the sampler had
removed from the alternatives. Every view takes `lang` ("en" or "es", `words.py`): `print()` speaks
English unless `modelito.set_language("es")`; the command line passes the user's language.
"""

from __future__ import annotations

import math
from typing import Any

from ..words import Words

WHITESPACE = str.maketrans({" ": "·", "\n": "↵", "\t": "→"})


def visible(text: str) -> str:
    """Make spaces, newlines and tabs visible: ' en' -> '·en'."""
    return text.translate(WHITESPACE)


def pct(logprob: float | None) -> str:
    """A log-probability as a percentage; removed tokens (-inf, or None in JSON) show as a dash, and
    what a remote engine did not give (NaN) as n/a."""
    if logprob is not None and math.isnan(logprob):
        return "n/a"
    if logprob is None or logprob == -math.inf:
        return "—"
    p = math.exp(logprob) * 100
    return f"{p:.0f}%" if p >= 9.5 else f"{p:.1f}%" if p >= 0.095 else "<0.1%"


def strategy_label(result: Any, lang: str = "en") -> str:
    """How the tokens were chosen, in words: 'sampling', 'beam search (5 beams)', ..."""
    p, w = result.params, Words(lang)
    if result.strategy == "beam":
        return w("beam", beams=p["num_beams"], penalty=p["length_penalty"])
    if result.strategy == "contrastive":
        return w("contrastive", top_k=p["top_k"], alpha=p["penalty_alpha"])
    if result.strategy == "sample":
        return w("sampling", seed=p["seed"])
    return w("greedy")


def format_step(step: Any, greedy: bool = False, lang: str = "en") -> str:
    """One row: index, token, model %, sampler %, rank, alternatives (✗: a stage removed it)."""
    rank = f"#{step.rank:<3}" if step.rank else "#?  "  # 0: a remote engine did not say
    line = f"{step.index:>4}  {visible(step.text)!s:<16} {pct(step.logprob):>6} {pct(step.sampling_logprob):>6}  {rank}"
    if step.top:
        # Under greedy every token but the argmax has sampler probability 0; mark only real removals.
        processed = slice(0, -1) if greedy else slice(None)
        alts = "  ".join(
            f"{visible(c.text)} {pct(c.logprob)}" + ("✗" if -math.inf in c.stages[processed] else "")
            for c in step.top
        )
        line += f"  {alts}"
    if step.contrastive is not None:
        c = step.contrastive
        line += "  " + Words(lang)("contrastive_step", k=c.chosen + 1, n=len(c.token_ids),
                                   penalty=c.penalties[c.chosen])
    return line


def format_result(result: Any, max_steps: int = 200, lang: str = "en") -> str:
    """The text of each sequence, then a table: token, model %, sampler %, rank, alternatives."""
    w, lines = Words(lang), []
    if result.random_weights:
        lines.append(w("random_result", model=result.model))
    params = result.params
    lines.append(f"{result.model} · {strategy_label(result, lang)} · {w('stages')}: "
                 f"{' → '.join(result.stage_names) or 'n/a'}")
    if result.engine:
        lines.append(w("remote_engine", kind=result.engine["kind"], url=result.engine["url"],
                       logprobs=result.engine["logprobs"]))
    for warning in result.warnings:
        lines.append(w("note", text=warning))
    for i, seq in enumerate(result.sequences):
        score = w("score_part", score=seq.score) if seq.score is not None else ""
        head = w("sequence_head" if len(result.sequences) > 1 else "one_head", i=i + 1, reason=seq.finish_reason,
                 n=len(seq.steps), score=score)
        lines += [head, seq.text, "", w("steps_head")]
        lines += [format_step(s, greedy=not params["do_sample"], lang=lang) for s in seq.steps[:max_steps]]
        if len(seq.steps) > max_steps:
            lines.append(w("more_steps", n=len(seq.steps) - max_steps))
    u = result.usage
    lines.append(w("usage", prompt=u.prompt_tokens, generated=u.completion_tokens, ttft=u.time_to_first_token_s,
                   tps=u.tokens_per_second, device=result.device, dtype=result.dtype))
    return "\n".join(lines)


def format_tokens(tokens, lang: str = "en") -> str:
    """The notebook's token table, readable: id, piece as stored, readable text, span."""
    w = Words(lang)
    lines = [w("tokens_head", n=tokens.count, cpt=tokens.chars_per_token, tokenizer=tokens.tokenizer),
             f"{'id':>8}  {w('piece'):<22} {w('text'):<16} {w('span')}"]
    for t in tokens.tokens:
        text = (f"⟦{t.piece}⟧ {w('special')}" if t.special
                else visible(t.text) + (f" {w('split_char')}" if t.partial and t.text else ""))
        if t.partial and not t.text:
            text = f"  {w('same_char')}"
        lines.append(f"{t.id:>8}  {t.piece:<22} {text:<16} {t.start}:{t.end}")
    return "\n".join(lines)


def human_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000:
            return f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"


def format_card(card, lang: str = "en") -> str:
    """The model card as plain text: the notebook's `describir_modelo`, complete."""
    lines = [card.name + (f"   [{Words(lang)('random_short')}]" if card.random_weights else "")]
    rows = card_rows(card, lang)
    width = max(len(k) for k, _ in rows)
    lines += [f"  {k:<{width}}  {v}" for k, v in rows]
    return "\n".join(lines)


def card_rows(card, lang: str = "en") -> list[tuple[str, str]]:
    """The card's (label, value) rows, for the text and the HTML view."""
    w = Words(lang)
    rows = [
        ("parameters", f"{card.parameters:,} ({card.parameters / 1e6:,.1f} {w('million')})"),
        ("architecture", f"{card.architecture}: " + w("shape", layers=card.layers, heads=card.attention_heads,
                                                      kv=card.key_value_heads, hidden=card.hidden_size)),
        ("context", w("context_tokens", n=card.context_length, field=card.context_field) if card.context_length
         else w("unknown")),
        ("stored_as", card.dtype + (w("loaded_as", **card.loaded) if card.loaded else "")),
        ("vocabulary", w("vocab_sizes", model=card.model_vocab_size, tokenizer=card.tokenizer_vocab_size,
                         why=card.explain_vocabulary(lang))),
        ("memory", ", ".join(f"{k} {human_size(v)}" for k, v in card.memory_bytes.items()) + f" {w('weights_only')}"),
        ("special_tokens", ", ".join(f"{k}={v}" for k, v in card.special_tokens.items()) or w("none")),
        ("chat_template", w("yes") if card.has_chat_template else w("no_template")),
        ("generation", card.explain_defaults(lang)),
    ]
    return [(w(k), v) for k, v in rows]


def format_score(score, lang: str = "en") -> str:
    """Each token of a scored text with the model's probability, rank and what it expected instead."""
    w, lines = Words(lang), []
    if score.random_weights:
        lines.append(f"[{score.model}: {w('random_short')}]")
    lines.append(w("score_head", model=score.model, n=len(score.steps), logprob=score.logprob, ppl=score.perplexity))
    lines.append(f"   -  {visible(score.first_token[1])!s:<16} {w('first_token')}")
    lines.append(w("score_columns"))
    for s in score.steps:
        expected = "  ".join(f"{visible(c.text)} {pct(c.logprob)}" for c in s.top[:4])
        lines.append(f"{s.index:>4}  {visible(s.text)!s:<16} {pct(s.logprob):>6}  #{s.rank:<4} {expected}")
    return "\n".join(lines)


def format_comparison(comparison, lang: str = "en") -> str:
    """The texts side by side, then how likely each text is under every model or setting."""
    w = Words(lang)
    lines = [w("comparison_head", kind=w(comparison.kind), prompt=comparison.prompt)]
    for label, result in zip(comparison.labels, comparison.results):
        warn = f" [{w('random_short')}]" if result.random_weights else ""
        lines += [f"--- {label}{warn}", result.text]
    lines += ["", w("cross_head", kind=w(comparison.kind[:-1]))]
    width = max(len(l) for l in comparison.labels)
    for label, row in zip(comparison.labels, comparison.cross_logprobs):
        cells = "  ".join(f"{w('impossible') if v == -math.inf else f'{v:.2f}':>10}" for v in row)
        lines.append(f"  {label:<{width}}  {cells}")
    return "\n".join(lines)


def format_tokenizer_comparison(comparison, lang: str = "en") -> str:
    w, lines = Words(lang), [f"{comparison.text!r}"]
    for r in comparison.results:
        pieces = " | ".join(t.visible for t in r.tokens if t.text or not t.partial)
        lines.append(f"  {w('chars_per_token', n=r.count, cpt=r.chars_per_token)}  {r.tokenizer}\n        {pieces}")
    return "\n".join(lines)


def format_classification(c, lang: str = "en") -> str:
    w = Words(lang)
    bars = "\n".join(f"  {l:<12} {p:6.1%} {'█' * round(p * 30)}" for l, p in zip(c.labels, c.probs))
    answer = ("\n  " + w("answer_when_asked", text=c.generated, label=c.generated_label or w("not_a_label"))
              if c.generated is not None else "")
    return f"{c.method}: {c.label}\n{bars}{answer}"


def format_evaluation(e, lang: str = "en") -> str:
    say, w = Words(lang), max(len(l) for l in e.labels)
    lines = [say("accuracy", method=e.method, acc=e.accuracy, n=e.examples)]
    if e.invalid_rate is not None:
        lines.append("  " + say("generated_accuracy", acc=e.generated_accuracy, invalid=e.invalid_rate))
    lines.append(f"  {'':<{w}}  {say('class_columns')}")
    for l in e.labels:
        c = e.per_class[l]
        lines.append(f"  {l:<{w}}  {c['precision']:9.1%} {c['recall']:7.1%} {c['f1']:6.1%} {c['support']:8.0f}")
    lines.append("  " + say("confusion"))
    lines.append("  " + " " * w + "".join(f"{l[:8]:>9}" for l in e.labels))
    for l, row in zip(e.labels, e.confusion):
        lines.append(f"  {l:<{w}}" + "".join(f"{n:>9}" for n in row))
    return "\n".join(lines)


def format_conversation(conversation, lang: str = "en") -> str:
    w = Words(lang)
    lines = [w("conversation", model=conversation.lm.name, n=len(conversation.messages))]
    lines += [f"  {m['role']:>9}: {m['content']}" for m in conversation.messages]
    view = conversation.template()
    if view.added_system:
        lines.append("  " + w("added_system", text=view.added_system))
    lines += ["", w("prompt_read"), view.prompt]
    return "\n".join(lines)


def format_remote_card(card, lang: str = "en") -> str:
    return "\n".join([card.name] + [f"  {k:<20} {v}" for k, v in remote_card_rows(card, lang)])


def remote_card_rows(card, lang: str = "en") -> list[tuple[str, str]]:
    """A remote engine's card as (label, value) rows, for the text and the HTML view."""
    w = Words(lang)
    rows = [("engine", w("engine_at", engine=card.engine, url=card.url)),
            ("context", f"{card.context_length:,} tokens" if card.context_length else w("context_unsaid")),
            ("logprobs", card.logprobs), ("takes", ", ".join(card.takes))]
    return [(w(k), v) for k, v in rows]
