"""Run llama.cpp's converter (convert_hf_to_gguf.py, vendored in llama-cpp-python's sdist) on a model folder.

    python gguf_convert.py LLAMA_CPP_DIR [--scores-from-ids] [--pre NAME] -- MODEL_DIR --outtype f32 --outfile OUT

Two adjustments for the models the tests use, both documented next to the fixture GGUF:
--scores-from-ids  the converter gives every SentencePiece token the placeholder score -1000; llama.cpp
                   merges by score, so each token gets -token_id (stories260k's merge order is its id order)
--pre NAME         a byte-level BPE tokenizer the converter does not know by its hash (modelito's own) is
                   declared to pre-tokenize like NAME (qwen2: the same regular expression)
"""

import runpy
import sys

source = sys.argv[1]
split = sys.argv.index("--")
options, rest = sys.argv[2:split], sys.argv[split + 1:]
sys.path[:0] = [source, source + "/gguf-py"]  # the converter's modules, and the gguf package it was written with

import gguf  # noqa: E402

if "--scores-from-ids" in options:
    add_scores = gguf.GGUFWriter.add_token_scores

    def scores_from_ids(self, scores):
        if all(s == -1000.0 for s in scores):
            scores = [-float(i) for i in range(len(scores))]
        return add_scores(self, scores)

    gguf.GGUFWriter.add_token_scores = scores_from_ids
if "--pre" in options:
    name = options[options.index("--pre") + 1]
    import conversion.base as base  # noqa: E402

    base.TextModel.get_vocab_base_pre = lambda self, tokenizer: name
sys.argv = [source + "/convert_hf_to_gguf.py", *rest]
runpy.run_path(source + "/convert_hf_to_gguf.py", run_name="__main__")
