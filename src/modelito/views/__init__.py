"""The views of every record: plain text (`text.py`) and notebook HTML (`html.py`).

Importing this package registers them (`rendering.register`), so `print(record)` and notebooks
find them; `modelito/__init__.py` does it. The views read records by their attributes and import
none of the library, so they stay cheap to import (no torch).
"""

from __future__ import annotations

from .. import rendering
from . import html, inside, text

VIEWS = {
    "Result": (text.format_result, html.result_html),
    "Tokens": (text.format_tokens, html.tokens_html),
    "TokenizerComparison": (text.format_tokenizer_comparison, html.tokenizer_comparison_html),
    "ModelCard": (text.format_card, html.card_html),
    "Score": (text.format_score, html.score_html),
    "Comparison": (text.format_comparison, html.comparison_html),
    "Conversation": (text.format_conversation, html.conversation_html),
    "Classification": (text.format_classification, html.classification_html),
    "Evaluation": (text.format_evaluation, html.evaluation_html),
    "RemoteCard": (text.format_remote_card, html.remote_card_html),
    "Lens": (inside.format_lens, inside.lens_html),
    "Attention": (inside.format_attention, inside.attention_html),
    "Attribution": (inside.format_attribution, inside.attribution_html),
}

for _name, (_text, _html) in VIEWS.items():
    rendering.register(_name, text=_text, html=_html)
