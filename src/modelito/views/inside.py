"""Text and notebook HTML views of the deeper looks: the logit lens grid, the attention map, attribution."""

from __future__ import annotations

from html import escape
from typing import Any

from ..words import Words
from .html import wrap
from .text import visible

LENS_COLUMNS = 12  # positions shown in a terminal (the last ones)


def _short(text: str, width: int = 8) -> str:
    shown = visible(text)
    return shown if len(shown) <= width else shown[: width - 1] + "…"


def format_lens(lens: Any, lang: str = "en") -> str:
    w, tokens = Words(lang), [t.text for t in lens.tokens.tokens]
    first = max(0, len(tokens) - LENS_COLUMNS)
    columns = range(first, len(tokens))
    lines = [f"{lens.model} · {w('lens_method')}",
             w("lens_cell") + (w("lens_last", shown=LENS_COLUMNS, n=len(tokens)) if first else "")]
    lines.append(f"{w('layer'):<5}  " + " ".join(f"{_short(tokens[p]):>13}" for p in columns))
    for layer in range(lens.layers, -1, -1):
        name = "out" if layer == lens.layers else "emb" if layer == 0 else str(layer)
        cells = [f"{_short(lens.top_texts[layer][p][0])} {lens.top_probs[layer, p, 0] * 100:3.0f}%" for p in columns]
        lines.append(f"{name:>5}  " + " ".join(f"{c:>13}" for c in cells))
    decided = [lens.decided_at(p) for p in columns]
    lines.append(f"{w('decided'):<7}" + " ".join(f"{w('layer') + ' ' + str(d) if d is not None else '—':>13}"
                                              for d in decided))
    return "\n".join(lines)


def format_attention(attention: Any, links: int = 3, lang: str = "en") -> str:
    w, tokens = Words(lang), [t.text for t in attention.tokens.tokens]
    layers = attention.weights.shape[0]
    lines = [f"{attention.model} · {w('attention_method')}",
             w("attention_head", layers=layers, heads=attention.weights.shape[1])]
    mean = attention.mean(layers - 1)
    for q, token in enumerate(tokens):
        order = mean[q].argsort()[::-1][:links]
        lines.append(f"  {_short(token, 14):>14} ← " + "  ".join(f"{_short(tokens[k], 10)} {mean[q, k] * 100:.0f}%"
                                                                 for k in order))
    return "\n".join(lines)


def format_attribution(attribution: Any, lang: str = "en") -> str:
    w = Words(lang)
    lines = [f"{attribution.model} · {w('attribution_method')}",
             w("target", text=attribution.target_text, logprob=attribution.target_logprob)]
    for token, share in zip(attribution.tokens.tokens, attribution.scores):
        lines.append(f"  {_short(token.text, 16):>16} {share * 100:5.1f}% {'█' * round(share * 40)}")
    return "\n".join(lines)


def _shade(p: float) -> str:
    return f"hsl(210,70%,{97 - int(45 * min(max(p, 0.0), 1.0))}%)"


def lens_html(lens: Any, lang: str = "en") -> str:
    w = Words(lang)
    tokens = [t.text for t in lens.tokens.tokens]
    head = "".join(f'<th class="l">{escape(visible(t))}</th>' for t in tokens)
    rows = []
    for layer in range(lens.layers, -1, -1):
        name = w("output") if layer == lens.layers else w("embeddings") if layer == 0 else f"{w('layer')} {layer}"
        cells = []
        for p in range(len(tokens)):
            alts = ", ".join(f"{t!r} {lens.top_probs[layer, p, k] * 100:.1f}%" for k, t in enumerate(
                lens.top_texts[layer][p]))
            prob = float(lens.top_probs[layer, p, 0])
            cells.append(f'<td class="l" style="background:{_shade(prob)}" title="{escape(alts)}">'
                         f'{escape(visible(lens.top_texts[layer][p][0]))}</td>')
        rows.append(f'<tr><th class="l">{name}</th>{"".join(cells)}</tr>')
    body = (f'<div class="head">{escape(lens.model)} · {escape(w("lens_method"))}; '
            f'{escape(w("lens_shade", n=lens.top_ids.shape[2]))}</div><div style="overflow-x:auto"><table>'
            f'<tr><th></th>{head}</tr>{"".join(rows)}</table></div>')
    return wrap(body)


ATTENTION_SCRIPT = """
(function(){var root=document.getElementById('%(id)s');if(!root)return;
var d=JSON.parse(root.querySelector('script[type="application/json"]').textContent);
var L=root.querySelector('.layer'),H=root.querySelector('.headsel'),T=root.querySelector('.map');
function esc(s){return s.replace(/[&<>"]/g,function(c){return {'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c];});}
function draw(){var l=+L.value,h=H.value,w=d.weights[l],n=d.tokens.length,rows='';
for(var q=0;q<n;q++){var cells='';for(var k=0;k<n;k++){var v=0;if(h==='mean'){for(var i=0;i<w.length;i++)v+=w[i][q][k];v/=w.length;}else v=w[+h][q][k];
cells+='<td title="'+esc(d.tokens[q])+' → '+esc(d.tokens[k])+': '+(100*v).toFixed(1)+'%%" style="background:hsl(210,70%%,'+(97-Math.round(60*v))+'%%)"></td>';}
rows+='<tr><th class="l">'+esc(d.tokens[q])+'</th>'+cells+'</tr>';}
T.innerHTML='<tr><th></th>'+d.tokens.map(function(t){return '<th class="l" style="writing-mode:vertical-rl">'+esc(t)+'</th>';}).join('')+'</tr>'+rows;}
L.addEventListener('change',draw);H.addEventListener('change',draw);draw();})();
"""


def attention_html(attention: Any, lang: str = "en") -> str:
    w = Words(lang)
    layers, heads = attention.weights.shape[:2]
    tokens = [visible(t.text) for t in attention.tokens.tokens]
    layer_options = "".join(f'<option value="{l}"{" selected" if l == layers - 1 else ""}>{w("layer")} {l + 1}</option>'
                            for l in range(layers))
    head_options = f'<option value="mean">{w("mean_heads")}</option>' + "".join(
        f'<option value="{h}">{w("head")} {h + 1}</option>' for h in range(heads))
    body = (f'<div class="head">{escape(attention.model)} · {escape(w("attention_method"))}</div>'
            f'<select class="layer">{layer_options}</select> <select class="headsel">{head_options}</select>'
            '<div style="overflow:auto"><table class="map" style="font-size:11px"></table></div>')
    data = {"tokens": tokens, "weights": [[[[round(float(x), 4) for x in row] for row in head] for head in layer]
                                          for layer in attention.weights]}
    return wrap(body, data, ATTENTION_SCRIPT)


def attribution_html(attribution: Any, lang: str = "en") -> str:
    w = Words(lang)
    top = max(float(attribution.scores.max()), 1e-9)
    spans = "".join(f'<span class="t" style="background:{_shade(float(s) / top)}" title="{float(s) * 100:.1f}%">'
                    f"{escape(t.text)}</span>" for t, s in zip(attribution.tokens.tokens, attribution.scores))
    target = w("target", text=attribution.target_text, logprob=attribution.target_logprob)
    return wrap(f'<div class="head">{escape(attribution.model)} · {escape(w("attribution_method"))}; '
                f'{escape(target)}; {escape(w("share_shade"))}</div><div class="text">{spans}</div>')
