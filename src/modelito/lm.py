"""`LM`: a loaded model and its tokenizer, and the calls a learner makes on them.

Each call is a thin method over the library module that holds it (generation, scoring,
comparisons, classification, conversations); those modules know the model through the
`protocols.LanguageModel` type, so this module imports them and never the reverse.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping, Sequence

import torch

from .chat import Conversation
from .classify import Classification, classify_with_lm
from .comparison import Comparison, compare_settings, compare_systems
from .errors import ModelitoError, ParameterError
from .generation import stream_events
from .inside import Attention, Attribution, Lens, attention, attribute, lens
from .modelcard import ModelCard, card, context_length
from .merge import resolve
from .params import GenerationParams, Policy, is_int
from .protocols import Prompt
from .score import Score, score
from .tokens import Tokens, token_bytes, token_text, tokenize
from .trace import Event, Result


class LM:
    """A causal language model ready to generate, with a trace of every token.

    Built by `modelito.load(...)`. `lm.model` and `lm.tokenizer` are the Hugging Face objects.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: Any,
        *,
        name: str,
        random_weights: bool = False,
        notes: Sequence[str] = (),
        stored_dtype: str | None = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.random_weights = random_weights
        self.notes = tuple(notes)  # why this device and dtype were chosen
        self.stored_dtype = stored_dtype  # the dtype of the weights on disk (loading may convert them)
        self._token_text: dict[int, str] = {}
        self._containing: dict[tuple[str, ...], frozenset[int]] = {}

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    @property
    def generation_config(self) -> Any:
        return getattr(self.model, "generation_config", None)

    @property
    def context_length(self) -> int | None:
        """The most tokens (prompt and answer) the model can attend to, from its config."""
        return context_length(self.model.config)[0]

    @property
    def can_chat(self) -> bool:
        """Whether it has a chat template (an instruct model) to render messages with."""
        return bool(getattr(self.tokenizer, "chat_template", None))

    remote = None
    """None: a local model (a remote engine's `RemoteLM` says which engine)."""

    @property
    def vocab_size(self) -> int:
        """Rows of the model's output layer: the token ids it can produce."""
        head = self.model.get_output_embeddings()
        return head.weight.shape[0] if head is not None else self.model.config.vocab_size

    def info(self) -> ModelCard:
        """The model card: parameters, architecture, context, vocabularies, memory, generation defaults."""
        return card(self.name, self.model.config, self.tokenizer, self.generation_config,
                    self.model.num_parameters(), random_weights=self.random_weights, dtype=self.stored_dtype,
                    loaded={"device": str(self.device), "dtype": str(self.dtype).removeprefix("torch."),
                            "why": "; ".join(self.notes)})

    def __repr__(self) -> str:
        weights = ", RANDOM WEIGHTS" if self.random_weights else ""
        return f"LM({self.name!r}, device={self.device}, dtype={str(self.dtype).removeprefix('torch.')}{weights})"

    # -- prompts -----------------------------------------------------------------------------

    def prompt_ids(self, prompt: Prompt, add_generation_prompt: bool = True,
                   prefix: str | Sequence[int] = "") -> tuple[str, list[int]]:
        """The exact prompt text the model sees, and its token ids.

        A string is used as it is (plus the BOS token if the tokenizer adds one); a list of chat
        messages goes through the tokenizer's chat template (with the assistant's opening when
        `add_generation_prompt`). `prefix` follows: the beginning of the answer, as text or as exact
        token ids.
        """
        text, ids = self._rendered(prompt, add_generation_prompt)
        if not prefix:
            return text, ids
        if isinstance(prefix, str):
            return text + prefix, ids + list(self.tokenizer(prefix, add_special_tokens=False)["input_ids"])
        if not isinstance(prefix, (list, tuple)) or not all(is_int(t) and 0 <= t < self.vocab_size for t in prefix):
            raise ParameterError("prefix", prefix, f"a string, or a list of token ids (integers from 0 below "
                                 f"{self.vocab_size})")
        return text + self.tokenizer.decode(list(prefix)), ids + list(prefix)

    def _rendered(self, prompt: Prompt, add_generation_prompt: bool) -> tuple[str, list[int]]:
        if isinstance(prompt, str):
            ids = self.tokenizer(prompt)["input_ids"]
            if not ids:
                raise ModelitoError(
                    "The prompt is empty and this tokenizer adds no beginning-of-sequence token to start "
                    "from: give the model some text to continue."
                )
            return prompt, list(ids)
        messages = _check_messages(prompt)
        if not getattr(self.tokenizer, "chat_template", None):
            raise ModelitoError(
                f"{self.name} has no chat template (it is a base model, not a chat model): pass a plain "
                "string to continue instead of a list of messages."
            )
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)
        # The template already wrote any special tokens the model needs.
        return text, list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def params(self, prompt_length: int = 0, *, policy: Policy | None = None,
               **generation_kwargs: Any) -> GenerationParams:
        """The effective parameters for these Hugging Face generation keyword arguments.

        `policy` is an interface's own defaults (used where neither you nor the model's
        generation_config sets a value, before transformers' defaults) and limits.
        """
        return resolve(
            generation_kwargs, self.generation_config, prompt_length=prompt_length,
            context_length=self.context_length, vocab_size=self.vocab_size, policy=policy,
        )

    # -- generation --------------------------------------------------------------------------

    def stream(self, prompt: Prompt | None = None, *, prefix: str | Sequence[int] = "",
               policy: Policy | None = None, **generation_kwargs: Any) -> Iterator[Event]:
        """Generate, yielding an Event per token as it is chosen; the last event carries the Result.

        Keyword arguments are those of transformers' `model.generate` (`max_new_tokens`,
        `do_sample`, `temperature`, `top_k`, `top_p`, ...), merged over the model's
        generation_config as transformers merges them, plus `seed` and `top_n` (alternatives
        recorded per token). `prefix` is the beginning of the answer, as text or as exact token
        ids (to branch from a chosen token): generation continues after it. `policy`: see `params`.
        """
        if prompt is None:
            given = "input_ids" if "input_ids" in generation_kwargs else "prompt"
            raise ParameterError(given, generation_kwargs.get(given), "the prompt as text, or a list of chat "
                                 "messages: lm.generate('Hola') or lm.generate([{'role': 'user', 'content': 'Hola'}])")
        text, ids = self.prompt_ids(prompt, prefix=prefix)
        params = self.params(len(ids), policy=policy, **generation_kwargs)
        return stream_events(self, text, ids, params)

    def generate(self, prompt: Prompt | None = None, *, prefix: str | Sequence[int] = "",
                 policy: Policy | None = None, **generation_kwargs: Any) -> Result:
        """Generate and return the whole Result (`.text`, `.sequences`, each with `.steps`).

        >>> lm.generate("Caminando por la calle me encontré a", max_new_tokens=20).text  # doctest: +SKIP
        """
        result = None
        for event in self.stream(prompt, prefix=prefix, policy=policy, **generation_kwargs):
            result = event.result or result
        assert result is not None  # the stream always ends with the result
        return result

    def score(self, prompt: Prompt, top_n: int | None = None) -> Score:
        """How surprising each token of a text (or a rendered chat) is: log-probability, rank,
        alternatives, total log-probability and perplexity, by teacher forcing.

        >>> lm.score("En un lugar de la Mancha").perplexity  # doctest: +SKIP
        """
        return score(self, prompt, top_n)

    def compare(self, prompt: Prompt, *, settings: Sequence[Mapping[str, Any]] | None = None,
                systems: Sequence[str | None] | None = None, policy: Policy | None = None,
                **generation_kwargs: Any) -> Comparison:
        """The prompt under several parameter settings (one batch, one prefill) or system messages,
        side by side, with each text's probability under every setting.

        >>> lm.compare(messages, settings=[{"temperature": 0.3}, {"temperature": 1.5}])  # doctest: +SKIP
        >>> lm.compare("Hola modelito, hablas español?", systems=["jajksashajksdah", "Always answer with the word: 'banana'"])  # doctest: +SKIP
        """
        if (settings is None) == (systems is None):
            raise ParameterError("settings", settings, "either settings=[{...}, ...] or systems=[...], not both "
                                 "(for several models use modelito.compare(prompt, models=[...]))")
        if settings is not None:
            return compare_settings(self, prompt, settings, policy=policy, **generation_kwargs)
        return compare_systems(self, prompt, systems, policy=policy, **generation_kwargs)

    def classify(self, text: str, labels: Sequence[str] = ("POSITIVO", "NEGATIVO", "NEUTRAL"),
                 instruction: str | None = None, generate: bool = True) -> Classification:
        """Zero-shot classification by label scoring: each label's probability as the answer to the
        instruction (a template with {text}, and optionally {labels} and {options}), normalised over
        the labels; with `generate`, also the answer the model gives when simply asked.

        >>> lm.classify("En esa fiesta había un ambiente muy turbio").label  # doctest: +SKIP
        'NEGATIVO'
        """
        return classify_with_lm(self, text, labels, instruction, generate)

    def lens(self, prompt: Prompt, top_n: int | None = None, *, prefix: str | Sequence[int] = "") -> Lens:
        """The logit lens: what every layer would predict at every position of the text (or rendered chat,
        then `prefix`, the start of an answer).

        >>> lm.lens("La capital de Francia es").decided_at(-1)  # doctest: +SKIP
        """
        return lens(self, prompt, top_n, prefix)

    def attention(self, prompt: Prompt, *, prefix: str | Sequence[int] = "") -> Attention:
        """Every layer's and head's attention probabilities over the text (eager attention)."""
        return attention(self, prompt, prefix)

    def attribute(self, prompt: Prompt, target: int | str | None = None, *,
                  prefix: str | Sequence[int] = "") -> Attribution:
        """Which input tokens made the target next token likely: gradient × input saliency, summing to 1.
        `target`: a token id or a one-token text (default: the model's most likely next token)."""
        return attribute(self, prompt, target, prefix)

    def chat(self, system: str | None = None) -> Conversation:
        """A conversation that keeps its history as messages and renders through the chat template.

        >>> conv = lm.chat(system="Responde en español.")  # doctest: +SKIP
        >>> conv.send("Hola modelito, hablas español?", max_new_tokens=50).text  # doctest: +SKIP
        """
        return Conversation(self, system=system)

    def token_text(self, token_id: int) -> str:
        """The readable text of one token (cached): ' español' for the piece 'ĠespaÃ±ol'."""
        text = self._token_text.get(token_id)
        if text is None:
            text = self._token_text[token_id] = token_text(self.tokenizer, token_id)
        return text

    def token_ids_containing(self, strings: Sequence[str]) -> frozenset[int]:
        """The token ids whose text contains one of `strings` (DRY's sequence breakers); cached."""
        key = tuple(strings)
        if key not in self._containing:
            texts = self.tokenizer.batch_decode([[i] for i in range(self.vocab_size)])
            self._containing[key] = frozenset(i for i, text in enumerate(texts) if any(s in text for s in key))
        return self._containing[key]

    def token_bytes(self, token_id: int) -> bytes:
        """The exact bytes of one token, even when it carries only part of a character."""
        return token_bytes(self.tokenizer, token_id)

    def tokenize(self, text: str, *, add_special_tokens: bool = False) -> Tokens:
        """The tokens of `text`: ids, raw pieces, readable text, spans, special tokens.

        >>> lm.tokenize("Hola modelito, hablas español?").ids  # doctest: +SKIP
        [68012, 1614, 6357, 11, 6055, 14493, 69888, 30]
        """
        return tokenize(self.tokenizer, text, name=self.name, add_special_tokens=add_special_tokens)


def _check_messages(messages: Any) -> list[dict[str, str]]:
    if not isinstance(messages, (list, tuple)) or not messages:
        raise ParameterError("prompt", messages, "a string, or a non-empty list of {'role', 'content'} messages")
    out = []
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping) or not isinstance(message.get("role"), str) or not isinstance(
            message.get("content"), str
        ):
            raise ParameterError(f"prompt[{i}]", message, "a message {'role': str, 'content': str}")
        out.append(dict(message))
    return out
