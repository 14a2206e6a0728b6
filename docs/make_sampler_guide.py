"""Build docs/samplers.md: one prompt, each sampler's effect on the same step's distribution.

    .venv/bin/python docs/make_sampler_guide.py            # writes docs/samplers.md and docs/img/samplers/*.svg

Every figure comes from modelito's own trace of one generated token (`top_n=12`): the model's
probability of each of its 12 most likely tokens, and the probability the sampler left it after all
its stages. The model is the shipped `modelito-tiny` (no download); the draws are seeded.
"""

from __future__ import annotations

import sys
from html import escape
from pathlib import Path

import modelito

DOCS = Path(__file__).resolve().parent
PROMPT = "Caminando por la calle me encontré a"
REPEATING = "y dijo que no, y dijo que no, y dijo que"
SAMPLERS = [
    ("Temperature 0.5", PROMPT, {"temperature": 0.5},
     "Divides the logits by 0.5: the likely tokens get likelier. Above 1 it flattens instead."),
    ("Top-k 3", PROMPT, {"top_k": 3}, "Only the 3 most likely tokens stay; their probabilities are renormalised."),
    ("Top-p 0.6", PROMPT, {"top_p": 0.6}, "The most likely tokens until their probability adds up to 0.6."),
    ("Min-p 0.2", PROMPT, {"min_p": 0.2}, "Tokens below 0.2 times the top token's probability go."),
    ("Typical 0.5", PROMPT, {"typical_p": 0.5},
     "Keeps the tokens whose surprise is closest to the distribution's entropy, up to half the mass."),
    ("Top-nσ 1", PROMPT, {"top_n_sigma": 1.0},
     "Keeps the logits within one standard deviation of the highest (llama.cpp); independent of temperature."),
    ("Top-H 0.5", PROMPT, {"top_h": 0.5},
     "Adds the most likely tokens while their entropy stays within half the distribution's (transformers)."),
    ("Epsilon 0.02", PROMPT, {"epsilon_cutoff": 0.02}, "Tokens below probability 0.02 go (Hewitt et al. 2022)."),
    ("Eta 0.02", PROMPT, {"eta_cutoff": 0.02},
     "Like epsilon, but the cut shrinks when the model is unsure: min(eta, sqrt(eta)·exp(-entropy))."),
    ("XTC 1.0, threshold 0.04", PROMPT, {"xtc_probability": 1.0, "xtc_threshold": 0.04},
     "Removes the top choices (every token above 4 %) except the least likely of them: the obvious word gives way."),
    ("Dynamic temperature 1 ± 0.5", PROMPT, {"dynatemp_range": 0.5},
     "The temperature moves between 0.5 and 1.5 with the model's normalised entropy (llama.cpp)."),
    ("Mirostat, τ = 3", PROMPT, {"mirostat_tau": 3.0},
     "Cuts the tokens more surprising than μ bits (μ starts at 2τ and follows the observed surprise)."),
    ("Repetition penalty 1.5", REPEATING, {"repetition_penalty": 1.5},
     "Every token already in the text is penalised (divided or multiplied by 1.5, transformers' rule)."),
    ("Frequency penalty 1 (and presence 0.5), 8th token", PROMPT, {"frequency_penalty": 1.0, "presence_penalty": 0.5},
     "OpenAI's: minus 1 per time the token was generated, minus 0.5 once it was. They count the answer only, so "
     "the figure shows the 8th token of the answer."),
    ("DRY 1, base 1.75, allowed 2", REPEATING, {"dry_multiplier": 1.0},
     "The token that would extend a repetition of the text gets 1 × 1.75^(length − 2) taken off (llama.cpp)."),
    ("Logit bias: +5 to ' la'", PROMPT, {"logit_bias": "la"},
     "Adds 5 to one token's logit before everything else: here the article ' la'."),
]


def bars(step, title: str) -> str:
    """An SVG of the step's top tokens: the model's probability (grey) and the sampler's (blue)."""
    rows = step.top[:12]
    width, row_h, label_w, bar_w = 620, 22, 120, 210
    height = 48 + row_h * len(rows)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
           f'font-size="12"><rect width="100%" height="100%" fill="white"/>',
           f'<text x="8" y="18" font-weight="bold">{escape(title)}</text>',
           f'<text x="{label_w}" y="36" fill="#777">model</text>'
           f'<text x="{label_w + bar_w + 70}" y="36" fill="#2b59c3">after the sampler</text>']
    for i, c in enumerate(rows):
        y = 42 + i * row_h
        out.append(f'<text x="8" y="{y + 14}" font-family="monospace">{escape(repr(c.text))}</text>')
        for j, (p, colour) in enumerate(((c.prob, "#bbb"), (c.sampling_prob, "#2b59c3"))):
            x = label_w + j * (bar_w + 70)
            out.append(f'<rect x="{x}" y="{y + 3}" width="{max(p * bar_w, 0.5):.1f}" height="14" fill="{colour}"/>'
                       f'<text x="{x + p * bar_w + 4:.1f}" y="{y + 14}">{p * 100:.1f}%</text>')
    return "\n".join(out + ["</svg>"])


def build(out: Path) -> Path:
    lm = modelito.load("modelito-tiny", device="cpu")
    images = out / "img" / "samplers"
    images.mkdir(parents=True, exist_ok=True)
    lines = ["# Samplers, one at a time", "",
             "The same step of the same prompt under each sampler: the grey bars are the model's own",
             "probabilities of its 12 most likely next tokens, the blue bars what the sampler left of them (a",
             "token the sampler removed has no blue bar). Each figure is modelito's trace of one generated token",
             f"of `modelito-tiny` (`lm.generate(prompt, max_new_tokens=1, do_sample=True, top_n=12, ...)`); the",
             "stage-by-stage table of every step is in `step.top[i].stages`. Made by `docs/make_sampler_guide.py`.",
             "", "Every sampler is off by default; the neutral values are in `modelito generate --help` and on the",
             "page's Parameters view. `sampler_order` changes the order of the stages (logit_bias always first).", ""]
    for i, (title, prompt, settings, text) in enumerate(SAMPLERS):
        if settings.get("logit_bias") == "la":
            settings = {"logit_bias": {lm.tokenizer(" la", add_special_tokens=False)["input_ids"][0]: 5.0}}
        # Everything else neutral, whatever the model's generation_config says: one sampler at a time.
        neutral = {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "repetition_penalty": 1.0}
        length = 8 if "frequency_penalty" in settings else 1
        result = lm.generate(prompt, max_new_tokens=length, min_new_tokens=length, do_sample=True, seed=0, top_n=12,
                             **{**neutral, **settings})
        name = f"{i:02d}.svg"
        (images / name).write_text(bars(result.steps[-1], title), encoding="utf-8")
        stages = " → ".join(result.stage_names)
        lines += [f"## {title}", "", text, "", f"Prompt: `{prompt}` · stages: {stages}", "",
                  f"![{title}](img/samplers/{name})", ""]
    path = out / "samplers.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS))
