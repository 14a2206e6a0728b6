"""Terminal colour: tokens on a red-to-green background by probability (only on a terminal)."""

from __future__ import annotations

import os


def _rgb(prob: float) -> tuple[int, int, int]:
    # red (unlikely) -> yellow -> green (likely), light enough to read black text on
    return (int(255 - 120 * prob), int(150 + 100 * prob), 140)


def coloured_token(text: str, prob: float, tty: bool) -> str:
    if not tty or os.environ.get("NO_COLOR") or not text:
        return text
    r, g, b = _rgb(max(0.0, min(1.0, prob)))
    return f"\x1b[48;2;{r};{g};{b}m\x1b[30m{text}\x1b[0m"


def tokens_line(tokens, tty: bool | None = None) -> str:
    """The text with alternating token backgrounds, whitespace visible, special tokens bracketed."""
    import sys

    tty = sys.stdout.isatty() if tty is None else tty
    parts = []
    for i, t in enumerate(tokens.tokens):
        if t.partial and not t.text:
            continue
        shown = f"⟦{t.piece}⟧" if t.special else t.visible
        if tty and not os.environ.get("NO_COLOR"):
            shown = f"\x1b[48;5;{(153, 223, 194, 230)[i % 4]}m\x1b[30m{shown}\x1b[0m"
        else:
            shown = shown if not parts else "|" + shown
        parts.append(shown)
    return "".join(parts)
