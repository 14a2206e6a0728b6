"""Loading: folders, random weights, offline hub ids, device and dtype choice."""

from __future__ import annotations

import os

import pytest
import torch

import modelito
from modelito import ModelLoadError


def test_local_folder_loads_with_its_tokenizer_and_generation_config(tiny_path):
    lm = modelito.load(tiny_path, device="cpu")
    assert lm.model.config.model_type == "qwen2"
    assert lm.tokenizer.chat_template
    assert lm.generation_config.do_sample is True
    assert lm.dtype == torch.float32 and lm.device.type == "cpu"
    assert not lm.random_weights
    assert any("cpu" in note for note in lm.notes)


def test_random_weights_keep_the_architecture_and_say_so(tiny_path, tiny_lm):
    lm = modelito.load(f"random:{tiny_path}", device="cpu")
    assert lm.random_weights
    assert type(lm.model) is type(tiny_lm.model)
    assert lm.model.num_parameters() == tiny_lm.model.num_parameters()
    assert lm.generation_config.top_k == 20  # the folder's generation_config.json
    same = modelito.load(f"random:{tiny_path}", device="cpu")
    assert torch.equal(next(lm.model.parameters()), next(same.model.parameters()))  # reproducible
    result = lm.generate("Hola", max_new_tokens=3, do_sample=False)
    assert result.random_weights and "RANDOM WEIGHTS" in str(result) and "RANDOM WEIGHTS" in repr(lm)


def test_random_weights_of_stories260k_differ_from_the_trained_ones(stories_path, stories_lm):
    lm = modelito.load(f"random:{stories_path}", device="cpu")
    assert not torch.equal(next(lm.model.parameters()), next(stories_lm.model.parameters()))


def test_unknown_hub_model_offline_explains_how_to_fix_it():
    with pytest.raises(ModelLoadError) as err:
        modelito.load("modelito-test/no-such-model")
    message = str(err.value)
    assert "modelito-test/no-such-model" in message
    assert "could not be downloaded" in message
    assert "local folder" in message


def test_missing_folder_is_named():
    with pytest.raises(ModelLoadError, match="no such folder"):
        modelito.load("./no/such/folder")


@pytest.mark.parametrize("kwargs, match", [
    ({"dtype": "int8"}, "dtype='int8'"),
    ({"dtype": "float33"}, "dtype='float33'"),
    ({"device": "gpu"}, "device='gpu'"),
])
def test_bad_device_or_dtype(tiny_path, kwargs, match):
    with pytest.raises(ModelLoadError, match=match):
        modelito.load(tiny_path, **kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only path")
def test_cuda_asked_for_on_a_cpu_machine(tiny_path):
    with pytest.raises(ModelLoadError, match="no CUDA GPU"):
        modelito.load(tiny_path, device="cuda")


def test_dtype_by_name(tiny_path):
    lm = modelito.load(tiny_path, device="cpu", dtype="bfloat16")
    assert lm.dtype == torch.bfloat16
    assert lm.generate("Hola", max_new_tokens=4, do_sample=False).dtype == "bfloat16"


def test_a_hub_id_loads_offline_from_the_local_cache(tmp_path, stories_path):
    """The real from_pretrained path: a model in the Hugging Face cache layout, with downloads off."""
    import shutil
    import subprocess
    import sys

    snapshot = tmp_path / "hub" / "models--modelito-test--stories260k" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    for f in stories_path.iterdir():
        shutil.copy(f, snapshot / f.name)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
    code = ("import modelito; lm = modelito.load('modelito-test/stories260k');"
            "print(lm.generate('', do_sample=False, max_new_tokens=8).text)")
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-1000:]
    assert done.stdout.startswith("Once upon a time")
