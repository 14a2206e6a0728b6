"""What a trained folder says about itself: a loss curve (SVG, no plotting library) and a model card."""

from __future__ import annotations

import math
from html import escape
from pathlib import Path

from .loop import History

W, H, PAD = 640, 320, 44


def write_loss_curve(history: History, path: Path) -> None:
    """Train loss (smoothed) and held-out loss against the step, as a standalone SVG picture."""
    steps, train = history.steps, _smooth(history.train_loss)
    if not steps:
        path.write_text("<svg xmlns='http://www.w3.org/2000/svg'/>", encoding="utf-8")
        return
    values = train + history.eval_loss
    low, high = min(values), max(values)
    high = high if high > low else low + 1
    last = max(steps[-1], 1)

    def xy(step: int, loss: float) -> str:
        x = PAD + (W - 2 * PAD) * step / last
        y = H - PAD - (H - 2 * PAD) * (loss - low) / (high - low)
        return f"{x:.1f},{y:.1f}"

    train_line = " ".join(xy(s, v) for s, v in zip(steps, train))
    eval_line = " ".join(xy(s, v) for s, v in zip(history.eval_steps, history.eval_loss))
    ticks = "".join(
        f"<text x='{PAD - 6}' y='{H - PAD - (H - 2 * PAD) * i / 4 + 4:.1f}' text-anchor='end'>{low + (high - low) * i / 4:.2f}</text>"
        for i in range(5)
    )
    final = history.eval_loss[-1] if history.eval_loss else math.nan
    path.write_text(
        f"""<svg xmlns='http://www.w3.org/2000/svg' width='{W}' height='{H}' font-family='sans-serif' font-size='11'>
<rect width='{W}' height='{H}' fill='white'/>
<line x1='{PAD}' y1='{H - PAD}' x2='{W - PAD}' y2='{H - PAD}' stroke='#888'/>
<line x1='{PAD}' y1='{PAD}' x2='{PAD}' y2='{H - PAD}' stroke='#888'/>
{ticks}
<text x='{W - PAD}' y='{H - PAD + 16}' text-anchor='end'>step {last}</text>
<text x='{PAD}' y='{PAD - 12}'>{escape(f"loss (nats/token): train (blue, smoothed), held-out (orange, final {final:.3f})")}</text>
<polyline fill='none' stroke='#1f77b4' stroke-width='1.5' points='{train_line}'/>
<polyline fill='none' stroke='#ff7f0e' stroke-width='2' points='{eval_line}'/>
</svg>
""",
        encoding="utf-8",
    )


def write_card(out: Path, facts: dict) -> None:
    """README.md: what the model is, what it was trained on, how, how well, and its limits."""
    h = facts["history"]
    held_out = h["eval_loss"][-1] if h["eval_loss"] else None
    lines = [
        f"# {out.name}",
        "",
        f"A tiny {'instruction-tuned ' if facts['kind'] == 'instruct' else ''}Qwen2-architecture language model "
        "trained by modelito's own `modelito train` on a 2-core CPU. It is for learning how language models "
        "work, offline; it knows little and invents freely.",
        "",
        f"- Parameters: {facts['parameters']:,}",
        f"- Data: {', '.join(facts['data'])}",
        f"- Training: {len(h['steps'])} steps, {h['tokens']:,} tokens, {h['seconds'] / 60:.1f} min, "
        f"{h['tokens_per_second']:.0f} tokens/s",
    ]
    if held_out is not None:
        lines.append(f"- Held-out loss: {held_out:.3f} nats/token (perplexity {math.exp(held_out):.1f})")
    for key, value in facts.get("evaluation", {}).items():
        lines.append(f"- {key}: {value}")
    if facts.get("samples"):
        lines += ["", "## Samples", ""] + [f"- `{p}` → {escape(t)}" for p, t in facts["samples"].items()]
    lines += [
        "",
        "## Recipe",
        "",
        "```json",
        __import__("json").dumps(facts["recipe"], indent=1, ensure_ascii=False),
        "```",
        "",
        "![loss curve](loss_curve.svg)",
        "",
        "## Limits",
        "",
        "A few million parameters trained for minutes: it writes Spanish that sounds like 19th-century novels, "
        "makes up facts, and follows only the kinds of instructions it was fine-tuned on.",
        "",
    ]
    (out / "README.md").write_text("\n".join(lines), encoding="utf-8")


def _smooth(values: list[float], window: int = 20) -> list[float]:
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out
