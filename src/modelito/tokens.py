"""How text becomes tokens: ids, raw pieces, readable text, character spans, special tokens.

A byte-level tokenizer can split one character over several tokens ("漢" is three tokens in
Qwen2.5: 'Ġæ', '¼', '¢'). Decoded alone, each shows as "�". Here such tokens are marked `partial`
and grouped: the group's first token carries the whole character, so the readable view never
shows a broken one.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from .hub import load_tokenizer
from .rendering import Viewable
from .trace import to_pandas

REPLACEMENT = "\ufffd"
VISIBLE = str.maketrans({" ": "·", "\n": "↵\n", "\t": "→"})


@dataclass(frozen=True)
class Token:
    id: int
    piece: str
    """The token as the vocabulary stores it ('ĠespaÃ±ol')."""
    text: str
    """The readable text it stands for (' español'); for a partial token, its group's text on the
    group's first token and '' on the others."""
    start: int
    end: int
    """Its characters in the original text: text[start:end] (empty for tokens the tokenizer added)."""
    special: bool
    partial: bool = False
    """Carries only part of a multi-byte character (one of several tokens that make it)."""
    group: int = 0
    """Tokens with the same group together make whole characters."""

    @property
    def visible(self) -> str:
        """The text with spaces, tabs and newlines made visible: '·español'."""
        return self.text.translate(VISIBLE)


@dataclass(frozen=True)
class Tokens(Viewable):
    """A text cut into tokens by one tokenizer."""

    text: str
    tokenizer: str
    tokens: tuple[Token, ...]

    @property
    def ids(self) -> list[int]:
        return [t.id for t in self.tokens]

    @property
    def count(self) -> int:
        return len(self.tokens)

    @property
    def chars_per_token(self) -> float:
        return len(self.text) / max(1, self.count)

    def __len__(self) -> int:
        return self.count

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(count=self.count, chars_per_token=round(self.chars_per_token, 3))
        return data

    def to_pandas(self):
        """One row per token (needs pandas)."""
        return to_pandas([asdict(t) for t in self.tokens])


def tokenize(tokenizer: Any, text: str, *, name: str = "", add_special_tokens: bool = False) -> Tokens:
    """Cut `text` into tokens, with spans, readable text and multi-byte groups."""
    enc = tokenizer(text, add_special_tokens=add_special_tokens, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    pieces = tokenizer.convert_ids_to_tokens(ids)
    special = set(getattr(tokenizer, "all_special_ids", ()))
    texts, partial, groups = _readable(tokenizer, ids)
    tokens = tuple(
        Token(id=i, piece=str(p), text=t, start=s, end=e, special=i in special, partial=q, group=g)
        for i, p, t, (s, e), q, g in zip(ids, pieces, texts, offsets, partial, groups)
    )
    return Tokens(text=text, tokenizer=name or getattr(tokenizer, "name_or_path", ""), tokens=tokens)


def _readable(tokenizer: Any, ids: list[int]) -> tuple[list[str], list[bool], list[int]]:
    """Per token: readable text, whether it is part of a split character, and its group number."""
    texts: list[str] = []
    partial: list[bool] = []
    groups: list[int] = []
    group: list[int] = []
    for i, token in enumerate(ids):
        group.append(token)
        decoded = tokenizer.decode(group)
        if decoded.endswith(REPLACEMENT) and i < len(ids) - 1:
            continue  # an incomplete character: the next token carries the rest of its bytes
        if len(group) == 1:
            decoded = token_text(tokenizer, token)
        n, number = len(group), (groups[-1] + 1 if groups else 0)
        texts += [decoded] + [""] * (n - 1)
        partial += [n > 1] * n
        groups += [number] * n
        group = []
    return texts, partial, groups


def token_text(tokenizer: Any, token: int) -> str:
    """The readable text of one token alone: ' español' for the piece 'ĠespaÃ±ol'."""
    text = tokenizer.decode([token])
    piece = tokenizer.convert_ids_to_tokens(token)
    # SentencePiece decoders drop the leading space of a sequence's first piece; a token shown
    # alone must keep it ('▁upon' stands for ' upon').
    if isinstance(piece, str) and piece.startswith("\u2581") and not text.startswith(" "):
        text = " " + text
    return text


@dataclass(frozen=True)
class TokenizerComparison(Viewable):
    """The same text under two (or more) tokenizers."""

    text: str
    results: tuple[Tokens, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "results": [r.to_dict() for r in self.results]}


def compare_tokenizers(text: str, *tokenizers: Any) -> TokenizerComparison:
    """Tokenize `text` with each tokenizer (a loaded LM, a transformers tokenizer, or a name or path).

    >>> compare_tokenizers("Hola modelito, hablas español?", "Qwen/Qwen2.5-0.5B", "modelito-tiny")  # doctest: +SKIP
    """
    results = []
    for item in tokenizers:
        if hasattr(item, "tokenize") and hasattr(item, "tokenizer"):  # an LM
            results.append(item.tokenize(text))
            continue
        if isinstance(item, str):
            results.append(tokenize(load_tokenizer(item), text, name=item))
            continue
        results.append(tokenize(item, text))
    return TokenizerComparison(text=text, results=tuple(results))


@lru_cache(maxsize=1)
def _byte_level_decoder() -> dict[str, int]:
    """GPT-2's printable stand-ins for bytes (bytes_to_unicode), inverted: 'Ġ' -> 32."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = list(printable), 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars)}


def token_bytes(tokenizer: Any, token: int) -> bytes:
    """The exact bytes a token stands for, also when it holds only part of a character: byte-level
    pieces ('ð' is 0xF0) and SentencePiece byte fallbacks ('<0xF0>') map to their byte."""
    piece = tokenizer.convert_ids_to_tokens(token)
    if isinstance(piece, str):
        fallback = re.fullmatch(r"<0x([0-9A-Fa-f]{2})>", piece)
        if fallback:
            return bytes([int(fallback.group(1), 16)])
        decoder = getattr(getattr(tokenizer, "backend_tokenizer", None), "decoder", None)
        table = _byte_level_decoder()
        if "ByteLevel" in type(decoder).__name__ + repr(decoder) and piece and all(ch in table for ch in piece):
            return bytes(table[ch] for ch in piece)
    return token_text(tokenizer, token).encode("utf-8")
