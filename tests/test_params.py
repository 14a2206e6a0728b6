"""Parameters: transformers' merge over generation_config, and clear errors for bad values."""

from __future__ import annotations

import pytest
from transformers import GenerationConfig

from modelito import GenerationParams, ParameterError, PromptTooLongError
from modelito.merge import TRANSFORMERS_DEFAULTS, resolve

FIELDS = ["do_sample", "temperature", "top_k", "top_p", "typical_p", "repetition_penalty", "no_repeat_ngram_size",
          "num_return_sequences"]


def test_our_copy_of_transformers_global_defaults_is_current():
    theirs = GenerationConfig._get_default_generation_params()
    for name, value in TRANSFORMERS_DEFAULTS.items():
        assert theirs[name] == value, name


@pytest.mark.parametrize("kwargs", [
    {},
    {"max_new_tokens": 50},
    {"do_sample": False},
    {"temperature": 1.5, "max_new_tokens": 50},
    {"top_k": 2, "max_new_tokens": 50},
    {"num_return_sequences": 3, "temperature": 0.7},
    {"do_sample": True, "top_p": 0.5, "top_k": 0, "repetition_penalty": 1.0},
])
@pytest.mark.parametrize("fixture", ["qwen2.5-0.5b-instruct", "qwen2.5-0.5b", "stories260k"])
def test_merge_equals_transformers(kwargs, fixture):
    """The notebook's gen_kwargs on the real generation configs, against transformers' own merge."""
    from conftest import fixture_path
    from transformers import GenerationMixin

    config = GenerationConfig.from_pretrained(fixture_path(fixture))
    if kwargs.get("num_return_sequences", 1) > 1 and not config.do_sample and "do_sample" not in kwargs:
        # transformers refuses this at generate() time; modelito refuses it when merging.
        with pytest.raises(ParameterError, match="num_return_sequences"):
            resolve(kwargs, config)
        return

    class Holder(GenerationMixin):  # only what _prepare_generation_config reads
        def __init__(self):
            self.generation_config = config
            self.config = type("C", (), {"_get_generation_parameters": lambda self: {}})()

    theirs, _ = Holder()._prepare_generation_config(None, **kwargs)
    ours = resolve(kwargs, config, prompt_length=10)
    for name in FIELDS:
        assert getattr(ours, name) == getattr(theirs, name), name
    eos = theirs.eos_token_id
    assert list(ours.eos_token_ids) == (eos if isinstance(eos, list) else [eos])
    assert ours.max_new_tokens == (theirs.max_new_tokens or theirs.max_length)


def test_sources_say_where_each_value_came_from(qwen_instruct_path):
    config = GenerationConfig.from_pretrained(qwen_instruct_path)
    params = resolve({"temperature": 1.5, "max_new_tokens": 50}, config)
    assert params.do_sample is True and params.sources["do_sample"] == "model"
    assert params.temperature == 1.5 and params.sources["temperature"] == "user"
    assert (params.top_k, params.top_p, params.repetition_penalty) == (20, 0.8, 1.1)
    assert params.sources["top_k"] == "model"
    assert params.typical_p == 1.0 and params.sources["typical_p"] == "transformers default"
    bare = resolve({"do_sample": True}, None)
    assert bare.top_k == 50 and bare.sources["top_k"] == "transformers default"
    assert bare.max_new_tokens == 20


def test_greedy_marks_sampling_knobs_inactive(qwen_instruct_path):
    config = GenerationConfig.from_pretrained(qwen_instruct_path)
    params = resolve({"do_sample": False}, config)
    assert params.strategy == "greedy"
    assert set(params.inactive()) == {"temperature", "top_k", "top_p"}


def test_none_turns_a_setting_off_as_in_transformers(stories_path):
    from transformers import GenerationMixin

    config = GenerationConfig.from_pretrained(stories_path)
    kwargs = {"do_sample": True, "top_k": None, "eos_token_id": None, "temperature": None}

    class Holder(GenerationMixin):
        def __init__(self):
            self.generation_config = config
            self.config = type("C", (), {"_get_generation_parameters": lambda self: {}})()

    theirs, _ = Holder()._prepare_generation_config(None, **kwargs)
    assert theirs.top_k is None and theirs.eos_token_id is None
    ours = resolve(kwargs, config)
    assert ours.top_k == 0 and ours.eos_token_ids == () and ours.temperature == 1.0  # off, like None there
    assert ours.sources["top_k"] == "user"


def test_max_new_tokens_from_the_model_beats_your_max_length_and_says_so(qwen_instruct_path):
    base = GenerationConfig.from_pretrained(qwen_instruct_path.parent / "qwen2.5-0.5b")
    assert base.max_new_tokens == 2048  # the base model's own setting
    params = resolve({"max_length": 30}, base, prompt_length=5, context_length=32768)
    assert params.max_new_tokens == 2048 and params.sources["max_new_tokens"] == "model"
    assert any("max_length=30 has no effect" in n for n in params.notes)
    explicit = resolve({}, GenerationConfig(max_length=20), prompt_length=5)
    assert explicit.max_new_tokens == 15  # a max_length the model sets counts the prompt
    assert resolve({}, None, prompt_length=500, context_length=512).max_new_tokens == 12  # default, within context


def test_model_settings_modelito_does_not_apply_are_reported():
    params = resolve({}, GenerationConfig(suppress_tokens=[5], max_new_tokens=5))
    assert any("suppress_tokens" in n for n in params.notes)


def test_temperature_zero_is_fine_when_greedy():
    assert "temperature" in resolve({"do_sample": False, "temperature": 0.0}, None).inactive()


def test_token_ids_are_checked_against_the_vocabulary():
    import torch

    assert resolve({"eos_token_id": torch.tensor([2, 3])}, None, vocab_size=10).eos_token_ids == (2, 3)
    with pytest.raises(ParameterError, match=r"eos_token_id=\[5, 1000000\].*below 100"):
        resolve({"eos_token_id": [5, 10**6], "min_new_tokens": 2}, None, vocab_size=100)


def test_max_length_counts_the_prompt():
    assert resolve({"max_length": 30}, None, prompt_length=12).max_new_tokens == 18
    with pytest.raises(ParameterError, match="max_length"):
        resolve({"max_length": 10}, None, prompt_length=12)


@pytest.mark.parametrize("kwargs, name", [
    ({"do_sample": True, "temperature": -1.0}, "temperature"),
    ({"do_sample": True, "temperature": 0}, "temperature"),
    ({"top_p": 1.5}, "top_p"),
    ({"top_p": 0.0}, "top_p"),
    ({"top_k": -1}, "top_k"),
    ({"top_k": 2.5}, "top_k"),
    ({"max_new_tokens": 0}, "max_new_tokens"),
    ({"min_new_tokens": 30, "max_new_tokens": 10}, "min_new_tokens"),
    ({"min_p": 2.0}, "min_p"),
    ({"typical_p": 0}, "typical_p"),
    ({"repetition_penalty": 0.0}, "repetition_penalty"),
    ({"no_repeat_ngram_size": -2}, "no_repeat_ngram_size"),
    ({"num_return_sequences": 3, "do_sample": False}, "num_return_sequences"),
    ({"top_n": 101}, "top_n"),
    ({"seed": -5}, "seed"),
    ({"do_sample": "yes"}, "do_sample"),
    ({"temperature": float("nan")}, "temperature"),
    ({"stop_strings": [""]}, "stop_strings"),
    ({"tempreature": 0.5}, "tempreature"),
    ({"eos_token_id": "</s>"}, "eos_token_id"),
    ({"eos_token_id": [2, -1]}, "eos_token_id"),
    ({"stop_strings": 5}, "stop_strings"),
])
def test_bad_values_name_the_parameter_value_and_range(kwargs, name):
    with pytest.raises(ParameterError) as err:
        resolve(kwargs, None)
    assert err.value.name == name
    message = str(err.value)
    assert message.startswith(f"{name}=")
    if kwargs[name] != [""]:
        assert repr(kwargs[name]) in message
    assert "allowed" in message


def test_error_messages_help():
    with pytest.raises(ParameterError, match="Did you mean 'temperature'"):
        resolve({"tempreature": 0.5}, None)
    with pytest.raises(ParameterError, match=r"top_p=1\.5 is not allowed: a number in \(0, 1\]"):
        resolve({"top_p": 1.5}, None)
    with pytest.raises(ParameterError, match="do_sample=False"):
        resolve({"do_sample": True, "temperature": 0.0}, None)


def test_prompt_longer_than_the_context_is_refused():
    with pytest.raises(PromptTooLongError, match="600 tokens.*512"):
        resolve({}, None, prompt_length=600, context_length=512)
    with pytest.raises(ParameterError, match="at most 12"):
        resolve({"max_new_tokens": 50}, None, prompt_length=500, context_length=512)


def test_params_are_frozen_and_validated_on_construction():
    params = GenerationParams(do_sample=True, top_k=5)
    with pytest.raises(Exception):
        params.top_k = 3  # type: ignore[misc]
    with pytest.raises(ParameterError):
        GenerationParams(top_p=2.0)


def test_bad_values_through_lm_generate_and_long_prompts(tiny_lm):
    with pytest.raises(ParameterError, match="temperature"):
        tiny_lm.generate("Hola", do_sample=True, temperature=-1)
    with pytest.raises(PromptTooLongError):
        tiny_lm.generate("hola " * 400)
    with pytest.raises(ParameterError, match="prompt"):
        tiny_lm.generate([{"role": "user"}])
    with pytest.raises(ParameterError, match="input_ids=.*the prompt as text"):
        tiny_lm.generate(input_ids=[[1, 2]], max_new_tokens=3)
