"""Generation parameters: one validated, frozen record, and the one schema every interface reads.

`GenerationParams` is what the engine reads. Each field is declared once, with `param(...)`: its
default (the neutral "off" value, like vLLM's `SamplingParams`), its doc in English and Spanish,
its range, its command-line flag and its HTTP API name. The CLI options, the server's request
fields and the page's controls are all built from `schema()`, so a field added here appears in
`modelito generate --help`, in the API and on the page.

`merge.resolve()` builds one from the Hugging Face keyword arguments a notebook passes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping

from .errors import ParameterError

# Where a value came from, as shown to users.
USER, MODEL, LIBRARY, DEFAULT = "user", "model", "transformers default", "default"

MAX_TOP_N = 100
MAX_SEED = 2**63 - 1

# The page groups its controls by these, in this order.
GROUPS = ("strategy", "temperature", "truncation", "penalties", "adaptive", "length", "trace")

# The sampler's stages in their default order: transformers' order for its own processors
# (`_get_logits_processor`), llama.cpp's stages placed as llama.cpp places them relative to those.
# logit_bias always comes first; `sampler_order` reorders the rest.
STAGES = ("repetition_penalty", "frequency_penalty", "presence_penalty", "no_repeat_ngram", "min_new_tokens", "dry",
          "top_n_sigma", "temperature", "top_h", "top_k", "top_p", "min_p", "typical_p", "epsilon_cutoff",
          "eta_cutoff", "xtc", "mirostat")
STAGE_ALIASES = {"temp": "temperature", "dynatemp": "temperature", "dynamic_temperature": "temperature",
                 "typical": "typical_p", "typ_p": "typical_p", "nucleus": "top_p", "epsilon": "epsilon_cutoff",
                 "eta": "eta_cutoff", "penalties": "repetition_penalty", "no_repeat_ngram_size": "no_repeat_ngram"}
MAX_LOGIT_BIAS = 300  # entries


def stage_order(sampler_order: tuple[str, ...]) -> tuple[str, ...]:
    """Every stage in the order a row runs them: those of sampler_order first, then the rest in STAGES' order."""
    return tuple(sampler_order) + tuple(s for s in STAGES if s not in sampler_order)


@dataclass(frozen=True)
class Spec:
    """Everything an interface needs to know about one parameter. Built by `param(...)`."""

    doc: str
    """One or two sentences in English: what it does, and its neutral value."""
    doc_es: str
    """The same in Spanish, for the page and the CLI in Spanish."""
    kind: str
    """'bool', 'int', 'float', 'seed' (None or an int), 'choice', 'strings' or 'ids'."""
    group: str
    """Where the page shows it: one of GROUPS."""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[Any, ...] = ()
    """For kind 'choice': the allowed values."""
    cli: str | None = ""
    """Command-line flag; "" derives --name-with-dashes; None leaves it off the command line."""
    cli_off: str | None = None
    """For a bool: the flag that sets it to false (--greedy for --sample)."""
    short: str | None = None
    """A one-letter alias on the command line (-n)."""
    api: str | None = ""
    """Field of an OpenAI-style request; "" is the name itself; None leaves it out of the API."""
    hf: str = ""
    """Name in transformers' generate() and generation_config; "" is the name itself."""
    step: float | None = None
    """The page's input step for numbers."""
    name: str = ""
    default: Any = None

    @property
    def flag(self) -> str | None:
        return "--" + self.name.replace("_", "-") if self.cli == "" else self.cli

    @property
    def api_name(self) -> str | None:
        return self.name if self.api == "" else self.api

    @property
    def hf_name(self) -> str:
        return self.hf or self.name

    @property
    def allowed(self) -> str:
        """The allowed values, in words: 'a number in (0, 1]'."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            shown = [_show(c) for c in self.choices]
            return ", ".join(shown[:-1]) + " or " + shown[-1]
        if self.kind == "strings":
            return "a non-empty string or a list of non-empty strings"
        if self.kind == "ids":
            return "a token id or a list of token ids (integers >= 0)"
        if self.kind == "bias":
            return "a map of token ids to numbers from -100 to 100 ({id: bias})"
        if self.kind == "order":
            return "a list of stage names from " + ", ".join(STAGES)
        if self.kind in ("int", "seed"):
            if self.high is not None:
                text = f"an integer from {self.low:g} to {'2**63-1' if self.high == MAX_SEED else f'{self.high:g}'}"
            else:
                text = f"an integer >= {self.low:g}"
            return "None or " + text if self.kind == "seed" else text
        if self.high is not None:
            return f"a number in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
        if self.low is None:
            return "a finite number"
        return f"a number {'>' if self.low_open else '>='} {self.low:g}"

    def check(self, value: Any) -> None:
        """Raise a ParameterError naming the parameter, the value and what is allowed."""
        if not self._fits(value):
            raise ParameterError(self.name, value, self.allowed)

    def _fits(self, value: Any) -> bool:
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind == "choice":
            return any(value is c or (type(value) is type(c) and value == c) for c in self.choices)
        if self.kind == "strings":
            return isinstance(value, tuple) and all(isinstance(s, str) and s for s in value)
        if self.kind == "ids":
            return isinstance(value, tuple) and all(is_int(t) and t >= 0 for t in value)
        if self.kind == "bias":
            return isinstance(value, tuple) and len(value) <= MAX_LOGIT_BIAS and all(
                isinstance(pair, tuple) and len(pair) == 2 and is_int(pair[0]) and pair[0] >= 0 and is_number(pair[1])
                and math.isfinite(pair[1]) and -100 <= pair[1] <= 100 for pair in value)
        if self.kind == "order":
            return isinstance(value, tuple) and all(n in STAGES for n in value) and len(set(value)) == len(value)
        if self.kind == "seed" and value is None:
            return True
        if self.kind in ("int", "seed") and not is_int(value):
            return False
        if self.kind == "float" and (not is_number(value) or not math.isfinite(value)):
            return False
        low_ok = self.low is None or value > self.low or (value == self.low and not self.low_open)
        high_ok = self.high is None or value < self.high or (value == self.high and not self.high_open)
        return low_ok and high_ok

    def parse(self, text: str) -> Any:
        """A value typed on the command line ('0.7', 'true', 'never', 'none') in this parameter's kind."""
        lowered = text.strip().lower()
        if lowered in ("none", "null"):
            return None
        if self.kind in ("bool", "choice"):
            words = {"true": True, "false": False, "yes": True, "no": False, "sí": True, "si": True}
            return words.get(lowered, lowered)
        if self.kind in ("strings", "ids", "order"):
            items = [text] if self.kind == "strings" else [p for p in text.replace(",", " ").split() if p]
            return [_number(p) for p in items] if self.kind == "ids" else items
        if self.kind == "bias":  # "ID=BIAS,ID=BIAS"
            pairs = [p.partition("=") for p in text.replace(" ", "").split(",") if p]
            return {_number(k): _number(v) for k, _, v in pairs}
        value = _number(text.strip())
        return float(value) if self.kind == "float" and isinstance(value, int) else value

    def to_dict(self) -> dict[str, Any]:
        """For the page: what it needs to draw a control and explain it."""
        return {"name": self.name, "doc": self.doc, "doc_es": self.doc_es, "kind": self.kind, "group": self.group,
                "low": self.low, "high": self.high, "low_open": self.low_open, "high_open": self.high_open,
                "choices": list(self.choices) or (list(STAGES) if self.kind == "order" else []), "step": self.step,
                "default": _plain(self.default),
                "allowed": self.allowed, "flag": self.flag, "api": self.api_name}


def param(default: Any, doc: str, es: str, kind: str, group: str, **spec: Any) -> Any:
    """Declare one field of GenerationParams with its Spec (see Spec for the keywords)."""
    return field(default=default, metadata={"spec": Spec(doc=doc, doc_es=es, kind=kind, group=group, **spec)})


@dataclass(frozen=True)
class GenerationParams:
    """Everything that decides which token comes next. Validated on construction."""

    do_sample: bool = param(
        False, "Draw each token from the processed distribution (true) or take the most likely one (false: greedy).",
        "Elegir cada token al azar según la distribución procesada (true) o tomar siempre el más probable (false: voraz).",
        "bool", "strategy", cli="--sample", cli_off="--greedy")
    temperature: float = param(
        1.0, "Divide the logits by this before sampling: below 1 sharpens the distribution, above 1 flattens it. "
        "> 0 when sampling; 1 is off.",
        "Divide los logits antes de muestrear: por debajo de 1 concentra la distribución, por encima de 1 la aplana.",
        "float", "temperature", low=0.0, step=0.05)
    top_k: int = param(
        0, "Keep only the k most likely tokens before sampling. 0 is off.",
        "Conserva solo los k tokens más probables antes de muestrear. 0 lo desactiva.",
        "int", "truncation", low=0, step=1)
    top_p: float = param(
        1.0, "Nucleus sampling: keep the smallest set of most likely tokens whose probability adds up to top_p. "
        "1 is off.",
        "Muestreo por núcleo: conserva los tokens más probables hasta sumar top_p de probabilidad. 1 lo desactiva.",
        "float", "truncation", low=0.0, low_open=True, high=1.0, step=0.05)
    min_p: float = param(
        0.0, "Drop tokens whose probability is below min_p times the most likely token's. 0 is off.",
        "Descarta los tokens con probabilidad menor que min_p por la del más probable. 0 lo desactiva.",
        "float", "truncation", low=0.0, high=1.0, step=0.01)
    typical_p: float = param(
        1.0, "Locally typical sampling: keep the tokens whose surprise is closest to the entropy, up to this "
        "probability mass. 1 is off.",
        "Muestreo típico: conserva los tokens cuya sorpresa se acerca más a la entropía, hasta esta masa. "
        "1 lo desactiva.",
        "float", "truncation", low=0.0, low_open=True, high=1.0, step=0.05)
    repetition_penalty: float = param(
        1.0, "Penalise every token already in the prompt or the answer (transformers' semantics). 1 is off.",
        "Penaliza los tokens que ya aparecen en el prompt o en la respuesta. 1 lo desactiva.",
        "float", "penalties", low=0.0, low_open=True, step=0.05)
    no_repeat_ngram_size: int = param(
        0, "Forbid any n-gram of this size from occurring twice (prompt included). 0 is off.",
        "Prohíbe que se repita cualquier n-grama de este tamaño (prompt incluido). 0 lo desactiva.",
        "int", "penalties", low=0, step=1)
    max_new_tokens: int = param(
        20, "Stop after this many generated tokens.",
        "Para tras generar este número de tokens.",
        "int", "length", low=1, api="max_tokens", step=1)
    min_new_tokens: int = param(
        0, "Forbid the end-of-sequence tokens until this many tokens have been generated. 0 is off.",
        "Prohíbe terminar antes de haber generado este número de tokens. 0 lo desactiva.",
        "int", "length", low=0, api="min_tokens", step=1)
    stop_strings: tuple[str, ...] = param(
        (), "Stop when the text contains one of these; the returned text ends before it.",
        "Para cuando el texto contiene una de estas cadenas; la respuesta termina antes de ella.",
        "strings", "length", cli="--stop", api="stop")
    eos_token_ids: tuple[int, ...] = param(
        (), "Token ids that end a sequence (the model's end-of-sequence tokens).",
        "Ids de los tokens que terminan una secuencia (los de fin de secuencia del modelo).",
        "ids", "length", cli=None, api=None, hf="eos_token_id")
    num_return_sequences: int = param(
        1, "How many sequences to generate from the prompt, in one batch. More than 1 needs do_sample=true "
        "(or beams).",
        "Cuántas respuestas generar a partir del prompt, en un solo lote. Más de 1 necesita do_sample=true.",
        "int", "strategy", low=1, api="n", short="-n", step=1)
    num_beams: int = param(
        1, "Beam search: keep this many partial answers at each step and return the best finished ones. 1 is off.",
        "Búsqueda en haz: conserva este número de respuestas parciales en cada paso y devuelve las mejores. "
        "1 la desactiva.",
        "int", "strategy", low=1, step=1)
    length_penalty: float = param(
        1.0, "Beam search: answers are ranked by log-probability / length ** length_penalty (> 0 favours longer "
        "ones).",
        "Búsqueda en haz: las respuestas se ordenan por log-probabilidad / longitud ** length_penalty.",
        "float", "strategy", step=0.1)
    early_stopping: bool | str = param(
        False, 'Beam search: true stops when num_beams answers are finished; false stops when no live beam can '
        'still beat them (a heuristic); "never" keeps searching while one could, in principle.',
        'Búsqueda en haz: true para al tener num_beams respuestas; false cuando ninguna puede mejorarlas; '
        '"never" sigue mientras una pudiera, en principio.',
        "choice", "strategy", choices=(True, False, "never"))
    penalty_alpha: float = param(
        0.0, "Contrastive search: weight of the degeneration penalty among the top_k candidates. 0 is off.",
        "Búsqueda contrastiva: peso de la penalización por degeneración entre los top_k candidatos. 0 la desactiva.",
        "float", "strategy", low=0.0, high=1.0, step=0.05)
    seed: int | None = param(
        None, "Seed of this call's own random generator: the same seed gives the same text. None draws a fresh "
        "seed (and records it).",
        "Semilla del generador aleatorio de esta llamada: la misma semilla da el mismo texto. Sin ella se sortea "
        "una (y se registra).",
        "seed", "strategy", low=0, high=MAX_SEED, step=1)
    top_n: int = param(
        5, "How many alternatives (the model's most likely tokens) to record per step.",
        "Cuántas alternativas (los tokens más probables para el modelo) registrar en cada paso.",
        "int", "trace", low=0, high=MAX_TOP_N, step=1)

    frequency_penalty: float = param(
        0.0, "OpenAI's frequency penalty: subtract this times the number of times a token was already generated "
        "(the answer only, as OpenAI and vLLM count). 0 is off; negative values encourage repetition.",
        "Penalización por frecuencia (OpenAI): resta esto por las veces que el token ya se generó (solo en la "
        "respuesta). 0 la desactiva.",
        "float", "penalties", low=-2.0, high=2.0, step=0.1)
    presence_penalty: float = param(
        0.0, "OpenAI's presence penalty: subtract this from every token already generated at least once. 0 is off.",
        "Penalización por presencia (OpenAI): resta esto a cada token ya generado alguna vez. 0 la desactiva.",
        "float", "penalties", low=-2.0, high=2.0, step=0.1)
    logit_bias: tuple[tuple[int, float], ...] = param(
        (), "Add a bias (-100 to 100) to given tokens' logits before every other stage: {token id: bias}. The "
        "trace's model probability stays the unbiased one; the bias shows as its own stage.",
        "Suma un sesgo (-100 a 100) a los logits de ciertos tokens antes de todo lo demás: {id: sesgo}.",
        "bias", "penalties", cli="--logit-bias")
    dry_multiplier: float = param(
        0.0, "DRY (llama.cpp): penalise the token that would extend a repetition of the text, by multiplier * "
        "base ** (length - allowed_length). 0 is off.",
        "DRY (llama.cpp): penaliza el token que alargaría una repetición del texto, multiplicador * base ** "
        "(longitud - permitida). 0 lo desactiva.",
        "float", "penalties", low=0.0, step=0.1)
    dry_base: float = param(
        1.75, "DRY: how fast the penalty grows with the repetition's length (>= 1).",
        "DRY: lo rápido que crece la penalización con la longitud de la repetición (>= 1).",
        "float", "penalties", low=1.0, step=0.05)
    dry_allowed_length: int = param(
        2, "DRY: repetitions up to this many tokens are not penalised.",
        "DRY: las repeticiones de hasta este número de tokens no se penalizan.",
        "int", "penalties", low=0, step=1)
    dry_penalty_last_n: int = param(
        0, "DRY: how many of the last tokens (prompt included) to search for repetitions; 0 is all of them.",
        "DRY: en cuántos de los últimos tokens (prompt incluido) buscar repeticiones; 0 es todos.",
        "int", "penalties", low=0, step=1)
    dry_sequence_breakers: tuple[str, ...] = param(
        ("\n", ":", '"', "*"), "DRY: a repetition never runs across a token whose text contains one of these.",
        "DRY: una repetición nunca cruza un token cuyo texto contenga una de estas cadenas.",
        "strings", "penalties", cli="--dry-sequence-breaker")
    top_n_sigma: float = param(
        0.0, "Top-nσ (llama.cpp): keep the tokens whose logit is at least max - n × the standard deviation of the "
        "logits. 0 is off.",
        "Top-nσ (llama.cpp): conserva los tokens cuyo logit es al menos el máximo menos n desviaciones típicas. "
        "0 lo desactiva.",
        "float", "truncation", low=0.0, step=0.1)
    top_h: float = param(
        0.0, "Top-H (transformers): among the 100 most likely tokens, keep those whose cumulative entropy stays "
        "within top_h × the entropy. 0 is off.",
        "Top-H (transformers): entre los 100 tokens más probables, conserva los que suman una entropía de hasta "
        "top_h × la entropía. 0 lo desactiva.",
        "float", "truncation", low=0.0, high=1.0, step=0.05)
    epsilon_cutoff: float = param(
        0.0, "Epsilon sampling (transformers): drop tokens whose probability is below this. 0 is off; in [0, 1).",
        "Muestreo épsilon (transformers): descarta los tokens con probabilidad menor que esto. 0 lo desactiva.",
        "float", "truncation", low=0.0, high=1.0, high_open=True, step=0.0001)
    eta_cutoff: float = param(
        0.0, "Eta sampling (transformers): drop tokens below min(eta, sqrt(eta) × exp(-entropy)). 0 is off; in "
        "[0, 1).",
        "Muestreo eta (transformers): descarta los tokens por debajo de min(eta, sqrt(eta) × exp(-entropía)). "
        "0 lo desactiva.",
        "float", "truncation", low=0.0, high=1.0, high_open=True, step=0.0001)
    xtc_probability: float = param(
        0.0, "XTC, exclude top choices (llama.cpp): with this probability per token, remove every token above "
        "xtc_threshold except the least likely of them. The draw comes from the seed and is recorded. 0 is off.",
        "XTC (llama.cpp): con esta probabilidad en cada token, elimina los tokens por encima de xtc_threshold "
        "salvo el menos probable de ellos. 0 lo desactiva.",
        "float", "adaptive", low=0.0, high=1.0, step=0.05)
    xtc_threshold: float = param(
        0.1, "XTC: the probability above which a token is a top choice (at most 0.5).",
        "XTC: la probabilidad a partir de la cual un token es una opción principal (como mucho 0,5).",
        "float", "adaptive", low=0.0, high=0.5, step=0.01)
    dynatemp_range: float = param(
        0.0, "Dynamic temperature (llama.cpp): the temperature moves within temperature ± this, higher when the "
        "model is unsure (normalised entropy). 0 is off.",
        "Temperatura dinámica (llama.cpp): la temperatura se mueve en temperature ± esto, más alta cuanto más "
        "dudoso el modelo. 0 la desactiva.",
        "float", "adaptive", low=0.0, step=0.05)
    dynatemp_exponent: float = param(
        1.0, "Dynamic temperature: the normalised entropy is raised to this power before mapping it to a "
        "temperature.",
        "Temperatura dinámica: la entropía normalizada se eleva a esta potencia.",
        "float", "adaptive", low=0.0, low_open=True, step=0.1)
    mirostat_tau: float = param(
        0.0, "Mirostat v2: aim at this surprise (bits per token) by truncating tokens more surprising than a "
        "running μ (which starts at 2τ and is in the trace). 0 is off.",
        "Mirostat v2: apunta a esta sorpresa (bits por token) recortando los tokens más sorprendentes que una μ "
        "que se ajusta (empieza en 2τ y queda en la traza). 0 lo desactiva.",
        "float", "adaptive", low=0.0, step=0.5)
    mirostat_eta: float = param(
        0.1, "Mirostat v2: how fast μ follows the observed surprise (> 0).",
        "Mirostat v2: lo rápido que μ sigue a la sorpresa observada (> 0).",
        "float", "adaptive", low=0.0, low_open=True, step=0.05)
    sampler_order: tuple[str, ...] = param(
        (), "The order of the stages: those listed run in that order, then the others in their default order "
        "(transformers' order, llama.cpp's stages where llama.cpp puts them). logit_bias always comes first.",
        "El orden de las etapas: las listadas en ese orden, luego las demás en su orden por defecto. logit_bias "
        "va siempre primero.",
        "order", "adaptive", cli="--sampler-order")
    lens: bool = param(
        False, "Record, at every generated token, what each layer would have predicted (the logit lens), from "
        "the same forward pass: when the model decided.",
        "Registrar, en cada token generado, qué habría predicho cada capa (la lente de logits), del mismo paso: "
        "cuándo decidió el modelo.",
        "bool", "trace")

    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    """Where each value came from: "user", "model" (its generation_config), "transformers default" or "default"."""

    notes: tuple[str, ...] = field(default=(), compare=False)
    """What the merge noticed and the user should know (a setting that has no effect, say)."""

    def __post_init__(self) -> None:
        spec_of("do_sample").check(self.do_sample)
        for spec in schema(type(self)):
            if spec.name == "temperature" and self.do_sample:
                # Sampling divides by it: here 0 is not allowed (greedy decoding ignores it).
                spec = replace(spec, low_open=True)
                if not spec._fits(self.temperature):
                    raise ParameterError("temperature", self.temperature, spec.allowed + " when sampling",
                                         hint="For greedy decoding use do_sample=False." if self.temperature == 0
                                         else "")
            spec.check(getattr(self, spec.name))
        if self.min_new_tokens > self.max_new_tokens:
            raise ParameterError("min_new_tokens", self.min_new_tokens,
                                 f"an integer from 0 to max_new_tokens ({self.max_new_tokens})")
        self._check_strategy()

    def _check_strategy(self) -> None:
        if self.num_beams > 1:
            if self.do_sample:
                raise ParameterError("do_sample", True, "False with num_beams > 1 (beam sampling is not supported)",
                                     hint="Use do_sample=False for beam search, or num_beams=1 to sample.")
            if self.penalty_alpha > 0:
                raise ParameterError("penalty_alpha", self.penalty_alpha, "0 with num_beams > 1 (contrastive "
                                     "search is a single-beam method)")
            if self.stop_strings:
                raise ParameterError("stop_strings", list(self.stop_strings), "none with num_beams > 1 (modelito's "
                                     "beam search stops at end-of-sequence tokens and max_new_tokens)")
            if self.lens:
                raise ParameterError("lens", True, "False with num_beams > 1 (the live lens follows greedy decoding "
                                     "or sampling; use lm.lens(text) on a finished answer)")
            if self.num_return_sequences > self.num_beams:
                raise ParameterError("num_return_sequences", self.num_return_sequences,
                                     f"at most num_beams ({self.num_beams}): beam search returns its best beams")
            return
        if self.num_return_sequences > 1 and not self.do_sample:
            raise ParameterError(
                "num_return_sequences", self.num_return_sequences,
                "1 when do_sample=False (greedy decoding gives the same sequence every time)",
                hint="Pass do_sample=True to draw several different sequences, or num_beams to return the best beams.",
            )
        if self.lens and self.penalty_alpha > 0 and not self.do_sample:
            raise ParameterError("lens", True, "False with contrastive search (the live lens follows greedy "
                                 "decoding or sampling; use lm.lens(text) on a finished answer)")
        if self.penalty_alpha > 0 and not self.do_sample and self.top_k < 2:
            raise ParameterError("top_k", self.top_k, "at least 2 with penalty_alpha > 0 (contrastive search "
                                 "chooses among the top_k candidates)")

    @property
    def strategy(self) -> str:
        """'beam', 'contrastive', 'sample' or 'greedy', as transformers decides it: once, here, never in a loop."""
        if self.num_beams > 1:
            return "beam"
        if self.do_sample:
            return "sample"
        return "contrastive" if self.penalty_alpha > 0 else "greedy"

    def to_dict(self) -> dict[str, Any]:
        """The effective values, JSON-ready, with `sources` saying where each came from."""
        out = {spec.name: _plain(getattr(self, spec.name)) for spec in schema(type(self))}
        out["sources"] = dict(self.sources)
        out["notes"] = list(self.notes)
        return out

    def inactive(self) -> list[str]:
        """Names of fields that are set but do nothing under this strategy (e.g. temperature when greedy)."""
        if self.do_sample:
            return []
        warpers = {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "min_p": 0.0, "typical_p": 1.0, "top_n_sigma": 0.0,
                   "top_h": 0.0, "epsilon_cutoff": 0.0, "eta_cutoff": 0.0, "xtc_probability": 0.0,
                   "dynatemp_range": 0.0, "mirostat_tau": 0.0}
        if self.strategy == "contrastive":
            del warpers["top_k"]  # the number of candidates contrastive search compares
        return [name for name, off in warpers.items() if getattr(self, name) != off]


@dataclass(frozen=True)
class Policy:
    """An interface's own rules (the CLI's, a server's): defaults for what nobody set, and limits."""

    source: str
    """How its values are labelled in `GenerationParams.sources`: "cli", "server"."""
    defaults: Mapping[str, Any] = field(default_factory=dict)
    """Used where neither the caller nor the model's generation_config sets a value (before transformers')."""
    limits: Mapping[str, float] = field(default_factory=dict)
    """Upper bounds: a caller's value beyond one is refused; a default beyond one is lowered to it, with a note."""


def schema(cls: type | None = None) -> tuple[Spec, ...]:
    """Every parameter's Spec, in declaration order, with its name and default filled in."""
    return tuple(replace(f.metadata["spec"], name=f.name, default=f.default)
                 for f in fields(cls or GenerationParams) if "spec" in f.metadata)


def spec_of(name: str) -> Spec:
    """The Spec of one parameter, by its name."""
    for spec in schema():
        if spec.name == name:
            return spec
    raise KeyError(name)


def check_top_n(top_n: Any) -> int:
    """Validate a top_n given outside generation (scoring), by the same rule as the parameter."""
    spec_of("top_n").check(top_n)
    return top_n


def is_int(value: Any) -> bool:
    """An int that is not a bool (True is an int to Python, never a count to a user)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(text: str) -> Any:
    for kind in (int, float):
        try:
            value = kind(text)
        except ValueError:
            continue
        return value if not (isinstance(value, float) and math.isnan(value)) else text
    return text


def _show(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple) and value and isinstance(value[0], tuple):  # logit_bias: a JSON object
        return {str(k): v for k, v in value}
    return list(value) if isinstance(value, tuple) else value
