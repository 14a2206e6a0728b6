"""Turning a growing list of token ids into text, safely for streaming.

Two things make this harder than `decode`: a byte-level token can end in the middle of a
multi-byte character (é is two bytes, 🙂 four), and a stop string can arrive split over several
tokens. `TextStream` holds back text until it is certain: an incomplete character, or a tail that
could still become a stop string, is not emitted yet.
"""

from __future__ import annotations

from typing import Any, Sequence

REPLACEMENT = "\ufffd"


class TextStream:
    """Incremental text of one sequence. `push` a token, get the text that is now safe to show."""

    def __init__(self, tokenizer: Any, stop_strings: Sequence[str] = ()) -> None:
        self._tokenizer = tokenizer
        self._stop = tuple(stop_strings)
        # A stop string that is a special token ("<|im_end|>") never shows in decoded text: match its id.
        vocab = tokenizer.get_vocab()
        specials = set(getattr(tokenizer, "all_special_tokens", ()))
        self._stop_ids = {vocab[s]: s for s in self._stop if s in specials and s in vocab}
        self._ids: list[int] = []
        self.text = ""  # everything decoded so far, up to a stop string if one was found
        self.emitted = 0  # how many characters of `text` have been handed out
        self.stop_string: str | None = None

    def push(self, token_id: int) -> str:
        """Add one token; return the new text that can be shown now (possibly empty)."""
        if token_id in self._stop_ids:
            self.stop_string = self._stop_ids[token_id]
            return self._emit(len(self.text))
        self._ids.append(token_id)
        # Decoding the whole sequence each time keeps context-dependent decoders right (SentencePiece
        # drops the first token's leading space); it costs microseconds at these lengths.
        self.text = self._tokenizer.decode(self._ids, skip_special_tokens=True)
        searched_from = max(0, self.emitted - max((len(s) for s in self._stop), default=0))
        found = [(at, stop) for stop in self._stop if (at := self.text.find(stop, searched_from)) != -1]
        if found:
            at, self.stop_string = min(found)
            self.text = self.text[:at]
            return self._emit(at)
        safe = len(self.text)
        if self.text.endswith(REPLACEMENT):
            safe = len(self.text.rstrip(REPLACEMENT))  # an incomplete character: wait for its other bytes
        safe -= self._possible_stop_prefix(self.text[:safe])
        return self._emit(safe)

    def flush(self) -> str:
        """The sequence is over: hand out whatever was held back."""
        return self._emit(len(self.text))

    def _emit(self, upto: int) -> str:
        if upto <= self.emitted:
            return ""
        delta, self.emitted = self.text[self.emitted : upto], upto
        return delta

    def _possible_stop_prefix(self, text: str) -> int:
        """Length of the longest tail of `text` that is the beginning of a stop string."""
        best = 0
        for stop in self._stop:
            for n in range(min(len(stop) - 1, len(text)), best, -1):
                if text.endswith(stop[:n]):
                    best = n
                    break
        return best
