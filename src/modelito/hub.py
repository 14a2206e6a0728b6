"""Where models come from and where they run: names, folders, the Hugging Face cache, devices, dtypes.

Everything that reads a model's files by name goes through here (`load`, `describe`, tokenizer
comparisons, classifiers), so a missing model always gets the same clear explanation.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, TypeVar

from .errors import ModelLoadError
from .words import Phrase

RANDOM_PREFIX = "random:"
SHIPPED = Path(__file__).parent / "models"  # modelito-tiny, modelito-tiny-instruct (package data)

T = TypeVar("T")


def shipped_models() -> list[str]:
    """Names of the models that ship inside modelito and load without a network."""
    return sorted(p.name for p in SHIPPED.iterdir() if (p / "config.json").is_file()) if SHIPPED.is_dir() else []


def resolve_name(name: str) -> str:
    """A shipped model's name becomes its folder; anything else is left as it is."""
    shipped = SHIPPED / name
    if "/" not in name and (shipped / "config.json").is_file() and not Path(name).exists():
        return str(shipped)
    return name


def from_pretrained(load_fn: Callable[[], T], source: str) -> T:
    """Run a from_pretrained call; turn "not found / cannot download" into one clear error."""
    try:
        return load_fn()
    except (OSError, ValueError) as err:
        raise _explain(source, err) from err


def load_tokenizer(name: str) -> Any:
    """The tokenizer of a hub id, folder or shipped model."""
    from transformers import AutoTokenizer

    source = resolve_name(name.removeprefix(RANDOM_PREFIX))
    return from_pretrained(lambda: AutoTokenizer.from_pretrained(source), source)


def choose_device(device: str) -> tuple[Any, str]:
    """The torch device for `device`, and a sentence saying why."""
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda"), Phrase("device_cuda")
        return torch.device("cpu"), Phrase("device_cpu")
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ModelLoadError(f"device={device!r} is not a device: use 'auto', 'cpu', 'cuda' or 'cuda:N'.") from err
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError(f"device={device!r}: this machine has no CUDA GPU. Use device='cpu' or 'auto'.")
    if chosen.type == "cuda" and chosen.index is not None and chosen.index >= torch.cuda.device_count():
        raise ModelLoadError(f"device={device!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s), "
                             f"numbered from 0.")
    return chosen, Phrase("device_asked", device=str(chosen))


def choose_dtype(dtype: str, config: object, device: Any) -> tuple[Any, str]:
    """The torch dtype for `dtype`, and a sentence saying why."""
    import torch

    if dtype == "auto":
        if device.type == "cpu":
            return torch.float32, Phrase("dtype_cpu")
        own = getattr(config, "dtype", None) or torch.float32
        own = getattr(torch, own) if isinstance(own, str) else own
        return own, Phrase("dtype_own", dtype=str(own).removeprefix("torch."))
    candidate = getattr(torch, str(dtype).removeprefix("torch."), None)
    if not isinstance(candidate, torch.dtype) or not candidate.is_floating_point:
        raise ModelLoadError(
            f"dtype={dtype!r} is not a floating-point torch dtype: use 'auto', 'float32', 'bfloat16' or 'float16'."
        )
    return candidate, Phrase("dtype_asked", dtype=str(candidate).removeprefix("torch."))


def _explain(source: str, err: Exception) -> ModelLoadError:
    looks_like_path = source.startswith((".", "/", "~")) or source.count("/") > 1  # hub ids are "org/name"
    if Path(source).expanduser().is_dir():
        return ModelLoadError(f"Could not load the model folder {source!r}: {err}")
    if looks_like_path or Path(source).exists():
        return ModelLoadError(f"Could not load {source!r}: there is no such folder.")
    offline = os.environ.get("HF_HUB_OFFLINE") not in (None, "", "0")
    reason = "downloads are turned off (HF_HUB_OFFLINE)" if offline else "the Hugging Face Hub could not be reached or has no such model"
    offline_models = shipped_models()
    suggestion = f" modelito ships offline models: {', '.join(offline_models)}." if offline_models else ""
    return ModelLoadError(
        f"Could not load model {source!r}: it is not in the local Hugging Face cache and could not be downloaded "
        f"({reason}). Download it where there is a network (`hf download {source}`), or pass the path of a local "
        f"folder with its files.{suggestion}"
    )
