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
GROUPS = ("strategy", "temperature", "truncation", "penalties", "length", "trace")


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
        if self.kind in ("strings", "ids"):
            items = [text] if self.kind == "strings" else [p for p in text.replace(",", " ").split() if p]
            return items if self.kind == "strings" else [_number(p) for p in items]
        value = _number(text.strip())
        return float(value) if self.kind == "float" and isinstance(value, int) else value

    def to_dict(self) -> dict[str, Any]:
        """For the page: what it needs to draw a control and explain it."""
        return {"name": self.name, "doc": self.doc, "doc_es": self.doc_es, "kind": self.kind, "group": self.group,
                "low": self.low, "high": self.high, "low_open": self.low_open, "high_open": self.high_open,
                "choices": list(self.choices), "step": self.step, "default": _plain(self.default),
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
        warpers = {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "min_p": 0.0, "typical_p": 1.0}
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
    return list(value) if isinstance(value, tuple) else value
