"""Train a small byte-level BPE tokenizer that behaves like Qwen2.5's.

The tokenizer uses the same byte-level scheme as GPT-2 and Qwen: text is mapped
to bytes, every byte has a printable stand-in character, and BPE merges those.
Any UTF-8 string can therefore be encoded, with no unknown token.

The pipeline (NFC normalizer, Qwen's split regex, ByteLevel without prefix
space, ByteLevel decoder) is exactly the one ``transformers.Qwen2Tokenizer``
builds. That matters: in transformers 5.x ``AutoTokenizer`` loads any folder
whose config says ``model_type == "qwen2"`` with ``Qwen2Tokenizer``, which
keeps the vocabulary and merges from ``tokenizer.json`` but rebuilds the
normalizer and pre-tokenizer itself. Training with the same pipeline means a
tokenizer encodes the same way before saving and after reloading.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

# Qwen2Tokenizer's own pattern: import it rather than copy it, so the two cannot drift apart.
from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

__all__ = ["CHATML_TEMPLATE", "SPECIAL_TOKENS", "train_tokenizer"]

# Order matters: they get ids 0, 1, 2.
SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")

# ChatML as Qwen2.5 writes it, minus the default system message Qwen inserts when
# the conversation has none: a tiny model should show exactly what it was given.
CHATML_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- endif %}"
)

# Qwen2's tokenizer max length; callers with a shorter model set `model_max_length` themselves.
DEFAULT_MODEL_MAX_LENGTH = 32768


def _byte_level_tokenizer() -> Tokenizer:
    """An untrained tokenizer with Qwen2Tokenizer's normalizer, pre-tokenizer and decoder."""
    tokenizer = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            # The regex does the word splitting (digits one by one, as Qwen does), so ByteLevel must not split again.
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    # As in Qwen2.5's tokenizer.json: offsets untouched, and no bos/eos added on encode.
    tokenizer.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    return tokenizer


def train_tokenizer(
    texts: Iterable[str], vocab_size: int, *, min_frequency: int = 2
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer on ``texts`` and wrap it for transformers.

    ``SPECIAL_TOKENS`` get ids 0, 1 and 2, then the 256 byte symbols, then the
    merges, up to ``vocab_size`` entries in all (fewer if the texts run out of
    pairs seen ``min_frequency`` times). The same texts always give the same
    vocabulary.

    The result has ``eos_token`` ``<|im_end|>`` (the end of a chat turn, which
    is where an instruct model stops), ``pad_token`` ``<|endoftext|>``, no bos
    or unk token, and ``CHATML_TEMPLATE`` as its chat template. Text already in
    NFC (what keyboards and almost all files produce) decodes back exactly;
    decomposed accents come back composed, as with Qwen2.5 itself.

    Example:
        >>> tok = train_tokenizer(["Hola, ¿qué tal?"] * 10, vocab_size=300)
        >>> tok.decode(tok("¿qué tal? 🙂").input_ids)
        '¿qué tal? 🙂'
    """
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    if vocab_size < len(SPECIAL_TOKENS) + len(alphabet):
        raise ValueError(
            f"vocab_size={vocab_size} is too small: the special tokens and the 256 byte symbols need "
            f"{len(SPECIAL_TOKENS) + len(alphabet)}"
        )
    tokenizer = _byte_level_tokenizer()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        # Every byte gets a token even if the texts never use it, so nothing is ever unknown.
        initial_alphabet=alphabet,
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)

    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token=SPECIAL_TOKENS[2],
        pad_token=SPECIAL_TOKENS[0],
        # ChatML models start with no bos; saying None explicitly also writes it so into tokenizer_config.json.
        bos_token=None,
        unk_token=None,
        # Same list as Qwen2.5, so both chat markers count as special (skip_special_tokens drops them).
        extra_special_tokens=[SPECIAL_TOKENS[1], SPECIAL_TOKENS[2]],
        chat_template=CHATML_TEMPLATE,
        model_max_length=DEFAULT_MODEL_MAX_LENGTH,
        # Byte-level decoding is already exact; the clean-up would delete spaces before punctuation.
        clean_up_tokenization_spaces=False,
    )
