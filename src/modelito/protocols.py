"""What the library's functions need of a model, as a type: `LM` (lm.py) is the implementation.

Generation, scoring, comparisons, conversations and classification are functions over a loaded
model; `LM` offers them as methods. They are typed against this protocol rather than `LM`
itself so that `lm.py` can import them, and not the other way round.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Mapping, Protocol, Sequence, Union

if TYPE_CHECKING:  # only for the annotations: importing modelito.protocols stays cheap
    import torch

    from .params import Policy

Messages = Sequence[Mapping[str, str]]
Prompt = Union[str, Messages]


class LanguageModel(Protocol):
    """A causal language model and its tokenizer, with the prompt and token helpers of `LM`."""

    model: torch.nn.Module
    tokenizer: Any
    name: str
    random_weights: bool

    @property
    def can_chat(self) -> bool: ...

    @property
    def device(self) -> torch.device: ...

    @property
    def dtype(self) -> torch.dtype: ...

    @property
    def generation_config(self) -> Any: ...

    @property
    def context_length(self) -> int | None: ...

    def prompt_ids(self, prompt: Prompt, add_generation_prompt: bool = True,
                   prefix: str | Sequence[int] = "") -> tuple[str, list[int]]: ...

    def params(self, prompt_length: int = 0, *, policy: Policy | None = None, **generation_kwargs: Any) -> Any: ...

    def token_text(self, token_id: int) -> str: ...

    def token_ids_containing(self, strings: Sequence[str]) -> frozenset[int]: ...

    def tokenize(self, text: str, *, add_special_tokens: bool = False) -> Any: ...

    def stream(self, prompt: Prompt | None = None, **generation_kwargs: Any) -> Iterator[Any]: ...

    def generate(self, prompt: Prompt | None = None, **generation_kwargs: Any) -> Any: ...
