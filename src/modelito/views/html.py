"""Rich HTML views for notebooks: inline CSS and a few lines of inline script, no CDN, no network.

Every token is a span coloured by probability, with a `title` tooltip that works even where
scripts do not run; clicking a token (where they do) opens its alternatives and the stage-by-stage
table. The per-step data travels once, as JSON in a <script type="application/json"> block, so the
markup stays small for long generations. All text is escaped: a prompt containing <script> is
shown, never run.
"""

from __future__ import annotations

import itertools
import json
import math
from html import escape
from typing import Any

from ..words import Words
from .text import card_rows, pct, remote_card_rows, strategy_label

_ids = itertools.count()

CSS = """
.mdl{font-family:system-ui,sans-serif;font-size:14px;line-height:1.6;color:#222;max-width:60em}
.mdl .head{color:#555;font-size:12px;margin-bottom:4px}.mdl .warn{color:#b00;font-weight:600}
.mdl .text{white-space:pre-wrap;font-family:ui-monospace,monospace;padding:6px;border:1px solid #ddd;border-radius:4px}
.mdl .t{border-radius:3px;cursor:pointer;padding:0 1px}.mdl .t:hover,.mdl .t.sel{outline:2px solid #333}
.mdl .sp{background:#e6e0f8;color:#5b3fb0;font-weight:600}.mdl .ws{color:#999}
.mdl .strip{display:flex;align-items:flex-end;height:24px;gap:1px;margin:4px 0}
.mdl .strip i{flex:1;background:#8ab;min-width:1px}
.mdl table{border-collapse:collapse;font-size:12px;margin-top:6px}.mdl td,.mdl th{border:1px solid #ddd;padding:2px 6px;text-align:right}
.mdl td.l,.mdl th.l{text-align:left;font-family:ui-monospace,monospace}.mdl .gone{color:#bbb;text-decoration:line-through}
.mdl .pop{margin-top:6px}
"""

SCRIPT = """
(function(){var root=document.getElementById('%(id)s');if(!root)return;
var data=JSON.parse(root.querySelector('script[type="application/json"]').textContent);
var pop=root.querySelector('.pop');
function pct(lp){if(lp===null)return '—';var p=Math.exp(lp)*100;return p>=9.5?p.toFixed(0)+'%%':p>=0.095?p.toFixed(1)+'%%':'<0.1%%';}
function esc(s){return s.replace(/[&<>"]/g,function(c){return {'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c];});}
root.addEventListener('click',function(e){var t=e.target.closest('.t');if(!t||t.dataset.s===undefined)return;
root.querySelectorAll('.t.sel').forEach(function(x){x.classList.remove('sel');});t.classList.add('sel');
var s=data.steps[+t.dataset.q][+t.dataset.s];var names=data.stages;
var w=data.words;
var h='<b>'+esc(JSON.stringify(s.text))+'</b> · '+w.model+' '+pct(s.logprob)+' · '+w.sampler+' '+pct(s.sampling_logprob)+' · '+w.rank+' '+(s.rank||'?')+' · '+w.entropy+' '+(s.entropy===null?'n/a':s.entropy.toFixed(2)+' nats');
h+='<table><tr><th class="l">'+w.token+'</th>'+names.map(function(n){return '<th>'+esc(n==='model'?w.model:n)+'</th>';}).join('')+'</tr>';
s.top.forEach(function(c){h+='<tr><td class="l">'+esc(JSON.stringify(c.text))+'</td>'+c.stages.map(function(lp){return '<td class="'+(lp===null?'gone':'')+'">'+pct(lp)+'</td>';}).join('')+'</tr>';});
pop.innerHTML=h+'</table>';});})();
"""


def _color(logprob: float | None) -> str:
    if logprob is not None and math.isnan(logprob):
        return "#eee"  # a remote engine did not give it
    p = 0.0 if logprob is None or logprob == -math.inf else math.exp(logprob)
    return f"hsl({int(120 * p)},70%,{88 - int(8 * p)}%)"


def json_for_script(data: Any) -> str:
    """JSON safe inside a <script> element."""
    # "<" as \u003c: no "</script>" or "<!--" can end or confuse the element, whatever the text.
    return json.dumps(data, ensure_ascii=False, allow_nan=False).replace("<", "\\u003c")


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _number(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.2f}"


def wrap(body: str, data: Any = None, script: str = SCRIPT) -> str:
    """A self-contained block: its CSS, the body, and with `data` the JSON and the script that reads it
    (`script` is a template with %(id)s, the block's id)."""
    uid = f"mdl-{next(_ids)}"
    if data is not None:
        script = (f'<script type="application/json">{json_for_script(data)}</script>'
                  f"<script>{script % {'id': uid}}</script>")
    else:
        script = ""
    return f'<div class="mdl" id="{uid}"><style>{CSS}</style>{body}{script}</div>'


def result_html(result, lang: str = "en") -> str:
    """A generation: each sequence's tokens coloured by the model's probability, an entropy strip,
    and a click-to-open table of alternatives per token."""
    w = Words(lang)
    head = [escape(result.model), escape(strategy_label(result, lang)),
            f"{w('stages')}: " + escape(" → ".join(result.stage_names))]
    body = [f'<div class="head">{" · ".join(head)}</div>']
    if result.random_weights:
        body.append(f'<div class="warn">{w("random_html")}</div>')
    if result.engine:
        body.append('<div class="head">' + escape(w("remote_engine", kind=result.engine["kind"], url=result.engine["url"],
                                                    logprobs=result.engine["logprobs"])) + "</div>")
    body += [f'<div class="head">{escape(w("note", text=warning))}</div>' for warning in result.warnings]
    steps_data = []
    for q, seq in enumerate(result.sequences):
        spans, bars, data = [], [], []
        top_entropy = max((s.entropy for s in seq.steps if not math.isnan(s.entropy)), default=1.0) or 1.0
        for i, step in enumerate(seq.steps):
            alts = ", ".join(f"{c.text!r} {pct(c.logprob)}" for c in step.top[:5])
            title = w("token_title", model=pct(step.logprob), sampler=pct(step.sampling_logprob),
                      rank=step.rank or "?", entropy=_number(step.entropy)) + f"\n{alts}"
            spans.append(f'<span class="t" data-q="{q}" data-s="{i}" style="background:{_color(step.logprob)}" '
                         f'title="{escape(title)}">{escape(step.text)}</span>')
            height = 4 if math.isnan(step.entropy) else max(4, int(100 * step.entropy / top_entropy))
            bars.append(f'<i style="height:{height}%" title="{w("entropy_nats", entropy=_number(step.entropy))}"></i>')
            data.append({"text": step.text, "logprob": _finite(step.logprob),
                         "sampling_logprob": _finite(step.sampling_logprob), "rank": step.rank,
                         "entropy": _finite(step.entropy),
                         "top": [{"text": c.text, "stages": [_finite(x) for x in c.stages]} for c in step.top]})
        steps_data.append(data)
        label = w("sequence_n", i=q + 1) if len(result.sequences) > 1 else ""
        score = w("score_html", score=seq.score) if seq.score is not None else ""
        body.append(f'<div class="head">{label}{w("n_tokens", n=len(seq.steps))} · {escape(seq.finish_reason)}{score}'
                    "</div>")
        body.append(f'<div class="text">{"".join(spans)}</div><div class="strip" title="{w("entropy_strip")}">'
                    f'{"".join(bars)}</div>')
    u = result.usage
    usage = w("usage_html", prompt=u.prompt_tokens, generated=u.completion_tokens, tps=u.tokens_per_second,
              device=result.device, dtype=result.dtype)
    body.append(f'<div class="head">{escape(usage)}</div><div class="pop"></div>')
    words = {key: w(key) for key in ("model", "sampler", "rank", "entropy", "token")}
    return wrap("".join(body), {"stages": list(result.stage_names), "steps": steps_data, "words": words})


def tokens_html(tokens, lang: str = "en") -> str:
    """Tokens as coloured chips (special tokens highlighted, whitespace visible), then the table."""
    w = Words(lang)
    palette = ("#fde2e2", "#e2f0fd", "#e5fde2", "#fdf6e2", "#efe2fd")
    chips, rows = [], []
    for k, t in enumerate(tokens.tokens):
        if t.partial and not t.text:
            continue
        cls = "t sp" if t.special else "t"
        style = "" if t.special else f' style="background:{palette[t.group % len(palette)]}"'
        shown = escape(t.piece if t.special else t.visible)
        chips.append(f'<span class="{cls}"{style} title="{escape(f"id {t.id} · {t.piece}")}">{shown}</span>')
    for t in tokens.tokens:
        text = w("special") if t.special else escape(t.visible) + (f" {w('split_char')}" if t.partial and t.text else "")
        rows.append(f'<tr><td>{t.id}</td><td class="l">{escape(t.piece)}</td><td class="l">{text}</td>'
                    f"<td>{t.start}:{t.end}</td></tr>")
    head = w("tokens_head", n=tokens.count, cpt=tokens.chars_per_token, tokenizer=tokens.tokenizer)
    body = (f'<div class="head">{escape(head)}</div><div class="text">{"".join(chips)}</div>'
            f'<table><tr><th>id</th><th class="l">{w("piece")}</th><th class="l">{w("text")}</th>'
            f'<th>{w("span")}</th></tr>{"".join(rows)}</table>')
    return wrap(body)


def _rows_table(rows: list[tuple[str, str]]) -> str:
    return "".join(f'<tr><th class="l">{escape(k[:1].upper() + k[1:])}</th><td class="l">{escape(str(v))}</td></tr>'
                   for k, v in rows)


def card_html(card, lang: str = "en") -> str:
    warn = f'<div class="warn">{Words(lang)("random_short")}</div>' if card.random_weights else ""
    return wrap(f"<b>{escape(card.name)}</b>{warn}<table>{_rows_table(card_rows(card, lang))}</table>")


def score_html(score, lang: str = "en") -> str:
    """A scored text: tokens coloured by the model's probability; hover for rank and expectations."""
    w = Words(lang)
    spans = [f'<span class="t" title="{w("first_token")}">{escape(score.first_token[1])}</span>']
    for s in score.steps:
        expected = ", ".join(f"{c.text!r} {pct(c.logprob)}" for c in s.top[:5])
        title = (w("score_title", model=pct(s.logprob), rank=s.rank or "?", entropy=_number(s.entropy)) + "\n"
                 + w("expected", alts=expected))
        spans.append(f'<span class="t" style="background:{_color(s.logprob)}" title="{escape(title)}">'
                     f"{escape(s.text)}</span>")
    warn = f'<div class="warn">{w("random_short")}</div>' if score.random_weights else ""
    head = w("score_head", model=score.model, n=len(score.steps), logprob=score.logprob, ppl=score.perplexity)
    head = f'<div class="head">{escape(head)} · {w("colour_note")}</div>'
    return wrap(f'{head}{warn}<div class="text">{"".join(spans)}</div>')


def comparison_html(comparison, lang: str = "en") -> str:
    """Side by side: each text, then the cross table of log-probabilities."""
    w = Words(lang)
    random = f" ({w('random_short')})"
    cols = "".join(f'<th class="l">{escape(l)}</th>' for l in comparison.labels)
    texts = "".join(
        f'<tr><th class="l">{escape(l)}{random if r.random_weights else ""}</th>'
        f'<td class="l" style="white-space:pre-wrap">{escape(r.text)}</td></tr>'
        for l, r in zip(comparison.labels, comparison.results))
    cross = "".join(
        f'<tr><th class="l">{escape(l)}</th>' + "".join(
            f'<td>{w("impossible") if v == -math.inf else f"{v:.2f}"}</td>' for v in row) + "</tr>"
        for l, row in zip(comparison.labels, comparison.cross_logprobs))
    head = w("comparison_head", kind=w(comparison.kind), prompt=comparison.prompt)
    return wrap(f'<div class="head">{escape(head)}</div><table>{texts}</table><div class="head">'
                f'{escape(w("cross_head", kind=w(comparison.kind[:-1])))}</div>'
                f'<table><tr><th></th>{cols}</tr>{cross}</table>')


def conversation_html(conversation, lang: str = "en") -> str:
    """The turns, then the exact prompt with its special tokens highlighted."""
    w = Words(lang)
    turns = "".join(f'<tr><th class="l">{escape(m["role"])}</th><td class="l" style="white-space:pre-wrap">'
                    f'{escape(m["content"])}</td></tr>' for m in conversation.messages)
    view = conversation.template()
    added = (f'<div class="head">{escape(w("added_system", text=view.added_system))}</div>'
             if view.added_system else "")
    head = w("conversation", model=conversation.lm.name, n=len(conversation.messages))
    return wrap(f'<div class="head">{escape(head)}</div><table>{turns}</table>'
                f'{added}<div class="head">{w("prompt_read")}</div>' + tokens_html(conversation.tokens(), lang))


def tokenizer_comparison_html(comparison, lang: str = "en") -> str:
    return "".join(tokens_html(r, lang) for r in comparison.results)


def classification_html(c, lang: str = "en") -> str:
    w = Words(lang)
    rows = "".join(f'<tr><td class="l">{escape(l)}</td><td>{p:.1%}</td><td class="l"><div style="background:#8ab;'
                   f'height:10px;width:{round(p * 200)}px"></div></td></tr>' for l, p in zip(c.labels, c.probs))
    answer = (f'<div class="head">{escape(w("answer_when_asked", text=c.generated, label=c.generated_label or w("not_a_label")))}'
              "</div>" if c.generated is not None else "")
    return wrap(f"<b>{escape(c.method)}</b>: {escape(c.label)}<table>{rows}</table>{answer}")


def evaluation_html(e, lang: str = "en") -> str:
    w = Words(lang)
    head = escape(w("accuracy", method=e.method, acc=e.accuracy, n=e.examples))
    if e.invalid_rate is not None:
        head += f'<div class="head">{escape(w("generated_accuracy", acc=e.generated_accuracy, invalid=e.invalid_rate))}</div>'
    per_class = "".join(
        f'<tr><th class="l">{escape(l)}</th>' + "".join(f"<td>{e.per_class[l][k]:.1%}</td>" for k in
                                                         ("precision", "recall", "f1"))
        + f'<td>{e.per_class[l]["support"]:.0f}</td></tr>' for l in e.labels)
    confusion = "".join(f'<tr><th class="l">{escape(l)}</th>' + "".join(f"<td>{n}</td>" for n in row) + "</tr>"
                        for l, row in zip(e.labels, e.confusion))
    columns = "".join(f'<th class="l">{escape(l)}</th>' for l in e.labels)
    return wrap(f"{head}<table><tr><th></th><th>{w('precision')}</th><th>{w('recall')}</th><th>f1</th>"
                f"<th>{w('support')}</th></tr>{per_class}</table><div class=\"head\">{w('confusion')}</div>"
                f"<table><tr><th></th>{columns}</tr>{confusion}</table>")


def remote_card_html(card, lang: str = "en") -> str:
    return wrap(f"<b>{escape(card.name)}</b><table>{_rows_table(remote_card_rows(card, lang))}</table>")
