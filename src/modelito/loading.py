"""`load(name)` -> LM: a hub id, a local folder, or `random:<folder-or-id>`; device and dtype choice."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .errors import ModelLoadError
from .lm import LM

RANDOM_PREFIX = "random:"
SHIPPED = Path(__file__).parent / "models"  # modelito-tiny, modelito-tiny-instruct (package data)
RANDOM_SEED = 0  # random weights are still reproducible


def load(name_or_path: str | os.PathLike, device: str = "auto", dtype: str = "auto") -> LM:
    """Load a causal language model and its tokenizer.

    `name_or_path`: a Hugging Face hub id (`"Qwen/Qwen2.5-0.5B-Instruct"`, from the local cache when
    offline), a local folder in the Hugging Face layout, or `"random:<folder-or-id>"` for the real
    architecture of that `config.json` with random weights (for benchmarks and offline demos).
    `device`: "auto" (CUDA when available, else CPU), or any torch device ("cpu", "cuda:1").
    `dtype`: "auto" (the model's own dtype on a GPU, float32 on a CPU) or a torch dtype name.

    >>> lm = load("random:../shared/fixtures/qwen2.5-0.5b-instruct")  # doctest: +SKIP
    """
    name = str(name_or_path)
    random_weights = name.startswith(RANDOM_PREFIX)
    source = resolve_name(name[len(RANDOM_PREFIX):] if random_weights else name)
    if not source:
        raise ModelLoadError(f"{name!r} names no model: write random:<folder or hub id>.")
    chosen_device, device_note = choose_device(device)

    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    config = _load_or_explain(lambda: AutoConfig.from_pretrained(source), source)
    chosen_dtype, dtype_note = choose_dtype(dtype, config, chosen_device)
    tokenizer = _load_or_explain(lambda: AutoTokenizer.from_pretrained(source), source)
    if random_weights:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_SEED)
            model = AutoModelForCausalLM.from_config(config, dtype=chosen_dtype)
        try:
            generation_config = GenerationConfig.from_pretrained(source)
        except OSError:  # no generation_config.json: transformers derives one from the model config
            generation_config = GenerationConfig.from_model_config(config)
        model.generation_config = generation_config
    else:
        model = _load_or_explain(
            lambda: AutoModelForCausalLM.from_pretrained(source, dtype=chosen_dtype), source
        )
    model.to(chosen_device).eval()
    stored = getattr(config, "dtype", None)
    return LM(
        model,
        tokenizer,
        name=name,
        random_weights=random_weights,
        notes=(device_note, dtype_note),
        stored_dtype=str(stored).removeprefix("torch.") if stored else None,
    )


def shipped_models() -> list[str]:
    """Names of the models that ship inside modelito and load without a network."""
    return sorted(p.name for p in SHIPPED.iterdir() if (p / "config.json").is_file()) if SHIPPED.is_dir() else []


def resolve_name(name: str) -> str:
    """A shipped model's name becomes its folder; anything else is left as it is."""
    shipped = SHIPPED / name
    if "/" not in name and (shipped / "config.json").is_file() and not Path(name).exists():
        return str(shipped)
    return name


def choose_device(device: str) -> tuple[torch.device, str]:
    """The torch device for `device`, and a sentence saying why."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda"), "device cuda: a CUDA GPU is available"
        return torch.device("cpu"), "device cpu: no CUDA GPU is available"
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ModelLoadError(f"device={device!r} is not a device: use 'auto', 'cpu', 'cuda' or 'cuda:N'.") from err
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError(f"device={device!r}: this machine has no CUDA GPU. Use device='cpu' or 'auto'.")
    if chosen.type == "cuda" and chosen.index is not None and chosen.index >= torch.cuda.device_count():
        raise ModelLoadError(f"device={device!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s), "
                             f"numbered from 0.")
    return chosen, f"device {chosen}: asked for"


def choose_dtype(dtype: str, config: object, device: torch.device) -> tuple[torch.dtype, str]:
    """The torch dtype for `dtype`, and a sentence saying why."""
    if dtype == "auto":
        if device.type == "cpu":
            return torch.float32, "dtype float32: the default on a CPU (half precision is slow or unsupported there)"
        own = getattr(config, "dtype", None) or torch.float32
        own = getattr(torch, own) if isinstance(own, str) else own
        return own, f"dtype {str(own).removeprefix('torch.')}: the model's own dtype"
    candidate = getattr(torch, str(dtype).removeprefix("torch."), None)
    if not isinstance(candidate, torch.dtype) or not candidate.is_floating_point:
        raise ModelLoadError(
            f"dtype={dtype!r} is not a floating-point torch dtype: use 'auto', 'float32', 'bfloat16' or 'float16'."
        )
    return candidate, f"dtype {str(candidate).removeprefix('torch.')}: asked for"


def _load_or_explain(load_fn, source: str):
    """Run a from_pretrained call; turn "not found / cannot download" into one clear error."""
    try:
        return load_fn()
    except (OSError, ValueError) as err:
        raise _explain(source, err) from err


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
