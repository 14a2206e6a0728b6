"""modelito: look inside a generative language model while it writes.

    import modelito
    lm = modelito.load("Qwen/Qwen2.5-0.5B-Instruct")
    result = lm.generate([{"role": "user", "content": "Hola modelito, hablas español?"}], max_new_tokens=50)
    print(result)            # the text, each token with the model's and the sampler's probability
"""

from .errors import ModelitoError, ModelLoadError, ParameterError, PromptTooLongError
from .params import GenerationParams
from .trace import Candidate, Event, Result, Sequence, Step, Usage

__version__ = "0.1.0"

__all__ = [
    "load", "LM", "describe", "compare", "compare_tokenizers", "Classifier", "GenerationParams", "Result", "Sequence", "Step", "Candidate", "Event", "Usage",
    "ModelitoError", "ModelLoadError", "ParameterError", "PromptTooLongError", "__version__",
]


def __getattr__(name: str):
    # torch and transformers load only when a model is needed, so `import modelito` stays fast.
    if name == "load":
        from .loading import load

        return load
    if name == "LM":
        from .lm import LM

        return LM
    if name == "describe":
        from .modelcard import describe

        return describe
    if name == "compare":
        from .comparison import compare_models

        return compare_models
    if name == "Classifier":
        from .classify import Classifier

        return Classifier
    if name == "compare_tokenizers":
        from .tokens import compare_tokenizers

        return compare_tokenizers
    raise AttributeError(f"module 'modelito' has no attribute {name!r}")
