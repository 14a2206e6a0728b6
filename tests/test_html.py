"""Notebook views: the HTML parses, shows every token, escapes text, works offline, stays small."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

import modelito

EVIL = "<script>alert('x')</script> & \"quotes\""


class Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.text, self.tags, self.scripts, self.urls = [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]

    def handle_data(self, data):
        (self.scripts if self.tags and self.tags[-1] == "script" else self.text).append(data)


def parse(html: str) -> Collect:
    parser = Collect()
    parser.feed(html)
    parser.close()
    return parser


def check_offline_and_escaped(html: str) -> Collect:
    doc = parse(html)
    assert not doc.urls, "no external resources: it must work offline"
    assert "http://" not in html and "https://" not in html
    assert "<script>alert" not in html  # shown, never run
    return doc


def test_generation_html_has_every_token_and_the_data(tiny_lm):
    result = tiny_lm.generate([{"role": "user", "content": EVIL}], do_sample=True, seed=1, max_new_tokens=20)
    html = result._repr_html_()
    doc = check_offline_and_escaped(html)
    shown = "".join(doc.text)
    for step in result.steps:
        assert step.text in shown
    assert len(re.findall(r'class="t"', html)) == len(result.steps)
    data = json.loads(re.search(r'<script type="application/json">(.*?)</script>', html, re.S).group(1))
    assert data["stages"] == list(result.stage_names)
    assert len(data["steps"][0]) == len(result.steps)
    assert "entropy" in html


def test_generation_html_escapes_generated_text(tiny_lm):
    result = tiny_lm.generate("Hola", do_sample=False, max_new_tokens=3)
    fake = result.steps[0].__class__(**{**result.steps[0].__dict__, "text": EVIL})
    seq = result.sequences[0].__class__(**{**result.sequences[0].__dict__, "steps": (fake,)})
    html = result.__class__(**{**result.__dict__, "sequences": (seq,)})._repr_html_()
    check_offline_and_escaped(html)
    assert "&lt;script&gt;alert" in html


def test_long_generations_stay_small(stories_lm):
    result = stories_lm.generate("", do_sample=True, seed=0, max_new_tokens=400, top_n=5)
    html = result._repr_html_()
    assert len(html) / len(result.steps) < 2500, f"{len(html) / len(result.steps):.0f} bytes per token"


def test_random_weights_are_said_in_every_view(tiny_path):
    lm = modelito.load(f"random:{tiny_path}")
    result = lm.generate("Hola", max_new_tokens=3)
    assert "RANDOM WEIGHTS" in result._repr_html_() and "RANDOM WEIGHTS" in str(result)
    assert "RANDOM WEIGHTS" in lm.info()._repr_html_() and "RANDOM WEIGHTS" in str(lm.info())
    assert "RANDOM WEIGHTS" in lm.score("Hola modelito")._repr_html_()


def test_other_views_parse_and_escape(tiny_lm, qwen_instruct_path):
    conv = tiny_lm.chat(system=EVIL)
    conv.send("Hola", max_new_tokens=3, do_sample=False)
    views = [
        tiny_lm.tokenize(EVIL),
        tiny_lm.info(),
        tiny_lm.score(EVIL),
        conv,
        tiny_lm.compare(EVIL, settings=[{"do_sample": False}, {"temperature": 0.9}], max_new_tokens=4),
        modelito.describe(str(qwen_instruct_path)),
    ]
    for view in views:
        html = view._repr_html_()
        check_offline_and_escaped(html)
        assert str(view)  # a readable text view too
        json.dumps(view.to_dict())
    assert "&lt;" in views[0]._repr_html_() and "&lt;script&gt;" in views[3]._repr_html_()


def test_pandas_export_or_a_clear_message(tiny_lm):
    result = tiny_lm.generate("Hola", max_new_tokens=4, do_sample=False)
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(modelito.ModelitoError, match="pip install pandas"):
            result.to_pandas()
        return
    frame = result.to_pandas()
    assert list(frame["token_id"]) == list(result.sequences[0].token_ids)
