"""Plain-text views of results, for terminals and `print()`.

The notebook's `inspeccionar_probabilidades` printed one probability per token and did not say
whose it was. Here every row shows both: the model's probability (before any processing) and the
sampler's (the distribution the token was actually drawn from), and marks tokens the sampler had
removed from the alternatives.
"""

from __future__ import annotations

import math

from .trace import Result, Step

WHITESPACE = str.maketrans({" ": "·", "\n": "↵", "\t": "→"})


def visible(text: str) -> str:
    """Make spaces, newlines and tabs visible: ' en' -> '·en'."""
    return text.translate(WHITESPACE)


def pct(logprob: float) -> str:
    if logprob == -math.inf:
        return "—"
    p = math.exp(logprob) * 100
    return f"{p:.0f}%" if p >= 9.5 else f"{p:.1f}%" if p >= 0.095 else "<0.1%"


def format_step(step: Step, greedy: bool = False) -> str:
    """One row: index, token, model %, sampler %, rank, alternatives (✗: a stage removed it)."""
    line = f"{step.index:>4}  {visible(step.text)!s:<16} {pct(step.logprob):>6} {pct(step.sampling_logprob):>6}  #{step.rank:<3}"
    if step.top:
        # Under greedy every token but the argmax has sampler probability 0; mark only real removals.
        processed = slice(0, -1) if greedy else slice(None)
        alts = "  ".join(
            f"{visible(c.text)} {pct(c.logprob)}" + ("✗" if -math.inf in c.stages[processed] else "")
            for c in step.top
        )
        line += f"  {alts}"
    return line


def format_result(result: Result, max_steps: int = 200) -> str:
    """The text of each sequence, then a table: token, model %, sampler %, rank, alternatives."""
    lines = []
    if result.random_weights:
        lines.append(f"[{result.model}: RANDOM WEIGHTS, the text means nothing]")
    params = result.params
    strategy = "sampling" if params["do_sample"] else "greedy"
    lines.append(f"{result.model} · {strategy} · seed {params['seed']} · stages: {' → '.join(result.stage_names)}")
    for warning in result.warnings:
        lines.append(f"note: {warning}")
    for i, seq in enumerate(result.sequences):
        head = f"--- sequence {i + 1} ({seq.finish_reason}, {len(seq.steps)} tokens)" if len(result.sequences) > 1 else (
            f"--- ({seq.finish_reason}, {len(seq.steps)} tokens)")
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
