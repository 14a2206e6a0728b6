"""Plain-text views of every record, for terminals and `print()`.

The notebook's `inspeccionar_probabilidades` printed one probability per token and did not say
whose it was. Here every row shows both: the model's probability (before any processing) and the
sampler's (the distribution the token was actually drawn from), and marks tokens the sampler had
removed from the alternatives.
"""

from __future__ import annotations

import math
from typing import Any

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


def strategy_label(result: Any) -> str:
    """How the tokens were chosen, in words: 'sampling', 'beam search (5 beams)', ..."""
    p = result.params
    if result.strategy == "beam":
        return f"beam search ({p['num_beams']} beams, length penalty {p['length_penalty']:g})"
    if result.strategy == "contrastive":
        return f"contrastive search (top_k {p['top_k']}, penalty_alpha {p['penalty_alpha']:g})"
    if result.strategy == "sample":
        return f"sampling · seed {p['seed']}"
    return "greedy"


def format_step(step: Any, greedy: bool = False) -> str:
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
        line += (f"  [contrastive: candidate {c.chosen + 1} of {len(c.token_ids)}, degeneration penalty "
                 f"{c.penalties[c.chosen]:.2f}]")
    return line


def format_result(result: Any, max_steps: int = 200) -> str:
    """The text of each sequence, then a table: token, model %, sampler %, rank, alternatives."""
    lines = []
    if result.random_weights:
        lines.append(f"[{result.model}: RANDOM WEIGHTS, the text means nothing]")
    params = result.params
    lines.append(f"{result.model} · {strategy_label(result)} · stages: {' → '.join(result.stage_names) or 'n/a'}")
    if result.engine:
        lines.append(f"remote engine: {result.engine['kind']} at {result.engine['url']} · log-probabilities: "
                     f"{result.engine['logprobs']}")
    for warning in result.warnings:
        lines.append(f"note: {warning}")
    for i, seq in enumerate(result.sequences):
        score = f", score {seq.score:.3f}" if seq.score is not None else ""
        head = f"--- sequence {i + 1} ({seq.finish_reason}, {len(seq.steps)} tokens{score})" if len(
            result.sequences) > 1 else f"--- ({seq.finish_reason}, {len(seq.steps)} tokens{score})"
        lines += [head, seq.text, "", "step  token            model  sampler rank  top alternatives (model %; ✗ removed by the sampler)"]
        lines += [format_step(s, greedy=not params["do_sample"]) for s in seq.steps[:max_steps]]
        if len(seq.steps) > max_steps:
            lines.append(f"... {len(seq.steps) - max_steps} more steps")
    u = result.usage
    lines.append(
        f"{u.prompt_tokens} prompt tokens, {u.completion_tokens} generated · first token {u.time_to_first_token_s:.2f}s"
        f" · {u.tokens_per_second:.1f} tokens/s · {result.device} {result.dtype}"
    )
    return "\n".join(lines)


def format_tokens(tokens) -> str:
    """The notebook's token table, readable: id, piece as stored, readable text, span."""
    lines = [f"{tokens.count} tokens, {tokens.chars_per_token:.2f} characters per token · {tokens.tokenizer}",
             f"{'id':>8}  {'piece (as stored)':<22} {'text':<16} span"]
    for t in tokens.tokens:
        text = f"⟦{t.piece}⟧ special" if t.special else visible(t.text) + (" ⟨split character⟩" if t.partial and t.text else "")
        if t.partial and not t.text:
            text = "  ↑ same character"
        lines.append(f"{t.id:>8}  {t.piece:<22} {text:<16} {t.start}:{t.end}")
    return "\n".join(lines)


def human_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000:
            return f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"


def format_card(card) -> str:
    """The model card as plain text: the notebook's `describir_modelo`, complete."""
    lines = [card.name + ("   [RANDOM WEIGHTS]" if card.random_weights else "")]
    rows = [
        ("parameters", f"{card.parameters:,} ({card.parameters / 1e6:,.1f} million)"),
        ("architecture", f"{card.architecture}: {card.layers} layers, {card.attention_heads} attention heads, "
                         f"{card.key_value_heads} key-value heads, hidden size {card.hidden_size}"),
        ("context", f"{card.context_length:,} tokens ({card.context_field})" if card.context_length else "unknown"),
        ("stored as", card.dtype + (f"; loaded as {card.loaded['dtype']} on {card.loaded['device']}" if card.loaded else "")),
        ("vocabulary", f"model {card.model_vocab_size:,}, tokenizer {card.tokenizer_vocab_size:,}: {card.vocab_note}"),
        ("memory", ", ".join(f"{k} {human_size(v)}" for k, v in card.memory_bytes.items()) + " (weights only)"),
        ("special tokens", ", ".join(f"{k}={v}" for k, v in card.special_tokens.items()) or "none"),
        ("chat template", "yes" if card.has_chat_template else "no (a base model: give it text to continue)"),
        ("generation", card.defaults_sentence),
    ]
    lines += [f"  {k:<15} {v}" for k, v in rows]
    return "\n".join(lines)


def format_score(score) -> str:
    """Each token of a scored text with the model's probability, rank and what it expected instead."""
    lines = []
    if score.random_weights:
        lines.append(f"[{score.model}: RANDOM WEIGHTS]")
    lines.append(f"{score.model} · {len(score.steps)} tokens scored · total log-probability {score.logprob:.2f}"
                 f" · perplexity {score.perplexity:.2f}")
    lines.append(f"   -  {visible(score.first_token[1])!s:<16} (first token: nothing predicts it)")
    lines.append("step  token            model  rank  the model expected")
    for s in score.steps:
        expected = "  ".join(f"{visible(c.text)} {pct(c.logprob)}" for c in s.top[:4])
        lines.append(f"{s.index:>4}  {visible(s.text)!s:<16} {pct(s.logprob):>6}  #{s.rank:<4} {expected}")
    return "\n".join(lines)


def format_comparison(comparison) -> str:
    """The texts side by side, then how likely each text is under every model or setting."""
    lines = [f"Comparison of {comparison.kind} · prompt: {comparison.prompt!r}"]
    for label, result in zip(comparison.labels, comparison.results):
        warn = " [RANDOM WEIGHTS]" if result.random_weights else ""
        lines += [f"--- {label}{warn}", result.text]
    lines += ["", "log-probability of each text (rows) under each " + comparison.kind[:-1] + " (columns):"]
    width = max(len(l) for l in comparison.labels)
    for label, row in zip(comparison.labels, comparison.cross_logprobs):
        cells = "  ".join(f"{'impossible' if v == -math.inf else f'{v:.2f}':>10}" for v in row)
        lines.append(f"  {label:<{width}}  {cells}")
    return "\n".join(lines)


def format_tokenizer_comparison(comparison) -> str:
    lines = [f"{comparison.text!r}"]
    for r in comparison.results:
        pieces = " | ".join(t.visible for t in r.tokens if t.text or not t.partial)
        lines.append(f"  {r.count:>4} tokens ({r.chars_per_token:.2f} chars/token)  {r.tokenizer}\n        {pieces}")
    return "\n".join(lines)


def format_classification(c) -> str:
    bars = "\n".join(f"  {l:<12} {p:6.1%} {'█' * round(p * 30)}" for l, p in zip(c.labels, c.probs))
    answer = (f"\n  answer when asked: {c.generated!r} -> {c.generated_label or 'not a label'}"
              if c.generated is not None else "")
    return f"{c.method}: {c.label}\n{bars}{answer}"


def format_evaluation(e) -> str:
    w = max(len(l) for l in e.labels)
    lines = [f"{e.method}: accuracy {e.accuracy:.1%} on {e.examples} examples"]
    if e.invalid_rate is not None:
        lines.append(f"  generated answers: accuracy {e.generated_accuracy:.1%}, not a label {e.invalid_rate:.1%}")
    lines.append(f"  {'':<{w}}  precision  recall     f1  support")
    for l in e.labels:
        c = e.per_class[l]
        lines.append(f"  {l:<{w}}  {c['precision']:9.1%} {c['recall']:7.1%} {c['f1']:6.1%} {c['support']:8.0f}")
    lines.append("  confusion (rows: true, columns: predicted)")
    lines.append("  " + " " * w + "".join(f"{l[:8]:>9}" for l in e.labels))
    for l, row in zip(e.labels, e.confusion):
        lines.append(f"  {l:<{w}}" + "".join(f"{n:>9}" for n in row))
    return "\n".join(lines)


def format_conversation(conversation) -> str:
    lines = [f"Conversation with {conversation.lm.name} ({len(conversation.messages)} messages)"]
    lines += [f"  {m['role']:>9}: {m['content']}" for m in conversation.messages]
    view = conversation.template()
    if view.added_system:
        lines.append(f"  (the template adds a system message: {view.added_system!r})")
    lines += ["", "The prompt the model reads:", view.prompt]
    return "\n".join(lines)


def format_remote_card(card) -> str:
    rows = [("engine", f"{card.engine} at {card.url}"), ("context", f"{card.context_length:,} tokens"
                                                         if card.context_length else "not said"),
            ("log-probabilities", card.logprobs), ("parameters it takes", ", ".join(card.takes))]
    return "\n".join([card.name] + [f"  {k:<20} {v}" for k, v in rows])
