"""`LM`: a loaded model and its tokenizer, and the calls a learner makes on them."""

from __future__ import annotations

from typing import Any, Iterator, Mapping, Sequence, Union

import torch

from .errors import ModelitoError, ParameterError
from .generation import stream_events
from .params import GenerationParams, resolve
from .trace import Event, Result

Messages = Sequence[Mapping[str, str]]
Prompt = Union[str, Messages]

# Config fields that hold the context length, by model family.
CONTEXT_FIELDS = ("max_position_embeddings", "n_positions", "seq_length", "max_sequence_length", "n_ctx")


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
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.random_weights = random_weights
        self.notes = tuple(notes)  # why this device and dtype were chosen
        self._token_text: dict[int, str] = {}

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
        config = self.model.config
        for name in CONTEXT_FIELDS:
            value = getattr(config, name, None)
            if isinstance(value, int) and value > 0:
                return value
        return None

    def __repr__(self) -> str:
        weights = ", RANDOM WEIGHTS" if self.random_weights else ""
        return f"LM({self.name!r}, device={self.device}, dtype={str(self.dtype).removeprefix('torch.')}{weights})"

    # -- prompts -----------------------------------------------------------------------------

    def prompt_ids(self, prompt: Prompt) -> tuple[str, list[int]]:
        """The exact prompt text the model sees, and its token ids.

        A string is used as it is (plus the BOS token if the tokenizer adds one); a list of chat
        messages goes through the tokenizer's chat template with the generation prompt.
        """
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
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        # The template already wrote any special tokens the model needs.
        return text, list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def params(self, prompt_length: int = 0, **generation_kwargs: Any) -> GenerationParams:
        """The effective parameters for these Hugging Face generation keyword arguments."""
        return resolve(
            generation_kwargs, self.generation_config,
            prompt_length=prompt_length, context_length=self.context_length,
        )

    # -- generation --------------------------------------------------------------------------

    def stream(self, prompt: Prompt, *, top_n: int = 5, **generation_kwargs: Any) -> Iterator[Event]:
        """Generate, yielding an Event per token as it is chosen; the last event carries the Result.

        Keyword arguments are those of transformers' `model.generate` (`max_new_tokens`,
        `do_sample`, `temperature`, `top_k`, `top_p`, ...), merged over the model's
        generation_config as transformers merges them, plus `seed`.
        """
        text, ids = self.prompt_ids(prompt)
        params = self.params(len(ids), top_n=top_n, **generation_kwargs)
        return stream_events(self, text, ids, params)

    def generate(self, prompt: Prompt, top_n: int = 5, **generation_kwargs: Any) -> Result:
        """Generate and return the whole Result (`.text`, `.sequences`, each with `.steps`).

        >>> lm.generate("Caminando por la calle me encontré a", max_new_tokens=20).text  # doctest: +SKIP
        """
        result = None
        for event in self.stream(prompt, top_n=top_n, **generation_kwargs):
            result = event.result or result
        assert result is not None  # the stream always ends with the result
        return result

    def token_text(self, token_id: int) -> str:
        """The readable text of one token (cached): ' español' for the piece 'ĠespaÃ±ol'."""
        text = self._token_text.get(token_id)
        if text is None:
            text = self.tokenizer.decode([token_id])
            # SentencePiece decoders drop the leading space of a sequence's first piece; a token
            # shown alone must keep it ('▁upon' stands for ' upon').
            piece = self.tokenizer.convert_ids_to_tokens(token_id)
            if isinstance(piece, str) and piece.startswith("\u2581") and not text.startswith(" "):
                text = " " + text
            self._token_text[token_id] = text
        return text


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
