"""modelito: look inside a generative language model while it writes.

    import modelito
    lm = modelito.load("Qwen/Qwen2.5-0.5B-Instruct")
    result = lm.generate([{"role": "user", "content": "Hola modelito, hablas español?"}], max_new_tokens=50)
    print(result)            # the text, each token with the model's and the sampler's probability
"""

from . import views  # noqa: F401  (registers how every record prints and shows in notebooks)
from .errors import ModelitoError, ModelLoadError, ParameterError, PromptTooLongError
from .params import GenerationParams
from .rendering import as_html, as_text, language, set_language
from .trace import Candidate, Event, Result, Sequence, Step, Usage

__version__ = "0.1.0"

__all__ = [
    "load", "LM", "describe", "compare", "compare_tokenizers", "Classifier", "Scheduler", "connect", "GenerationParams", "set_language", "language", "as_text", "as_html", "Result", "Sequence", "Step", "Candidate", "Event", "Usage",
    "ModelitoError", "ModelLoadError", "ParameterError", "PromptTooLongError", "__version__",
]


# torch and transformers load only when a model is needed, so `import modelito` stays fast:
# these names are imported on first use.
_LAZY = {
    "load": ("loading", "load"),
    "LM": ("lm", "LM"),
    "describe": ("modelcard", "describe"),
    "compare": ("comparison", "compare_models"),
    "compare_tokenizers": ("tokens", "compare_tokenizers"),
    "Classifier": ("classify", "Classifier"),
    "Scheduler": ("scheduler", "Scheduler"),
    "connect": ("remote", "connect"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(f".{module}", __name__), attr)
    raise AttributeError(f"module 'modelito' has no attribute {name!r}")
