"""oneDNN linear layers: the same weights, transformers' numbers (checked against the untouched model)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import modelito
from modelito.onednn import OneDNNLinear

CHAT = [{"role": "user", "content": "Hola modelito, hablas español?"}]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """A random Qwen2 wide enough (512) for its layers to qualify, loaded both ways.

    Whether oneDNN wins is timed at load and differs between CPUs (CI's said no for these 4 MB
    layers, which sit in cache): these tests are about what the swap does, so the timing says yes."""
    from modelito import onednn
    from modelito.testing import tiny_model

    path = tiny_model(tmp_path_factory.mktemp("wide") / "model", seed=3, hidden_size=512,
                      num_attention_heads=8, num_key_value_heads=2)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(onednn, "_faster", lambda layer: True)
        return modelito.load(path, device="cpu"), modelito.load(path, device="cpu", optimize=False)


def test_only_the_class_changes_never_the_weights(pair):
    fast, plain = pair
    swapped = [name for name, m in fast.model.named_modules() if isinstance(m, OneDNNLinear)]
    # q, o, gate, up, down per layer and the head; k and v (128 x 512) are too small to gain
    assert len(swapped) == 2 * 5 + 1 and not any(isinstance(m, OneDNNLinear) for m in plain.model.modules())
    assert any("oneDNN" in note for note in fast.notes) and not any("oneDNN" in note for note in plain.notes)
    assert "oneDNN" in fast.info().loaded["why"]
    plain_weights = plain.model.state_dict()
    for name, tensor in fast.model.state_dict().items():
        assert torch.equal(tensor, plain_weights[name]), name
    layer = fast.model.get_submodule(swapped[0])
    assert isinstance(layer, torch.nn.Linear) and layer.weight.is_contiguous()


def test_teacher_forced_logits_equal_the_plain_path(pair, monkeypatch):
    from modelito import onednn

    fast, plain = pair
    calls = []
    product = onednn.onednn_linear
    monkeypatch.setattr(onednn, "onednn_linear", lambda *args: calls.append(1) or product(*args))
    _, ids = fast.prompt_ids(CHAT)
    with torch.inference_mode():
        ours = fast.model(input_ids=torch.tensor([ids])).logits[0]
        assert len(calls) == 2 * 5 + 1  # oneDNN really ran, once per swapped layer ...
        theirs = plain.model(input_ids=torch.tensor([ids])).logits[0]
    assert len(calls) == 2 * 5 + 1
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)  # ... to the same numbers


def test_with_gradients_it_is_the_plain_linear(pair):
    """Attribution needs gradients: then the layer is torch's own Linear, bit for bit."""
    layer = next(m for m in pair[0].model.modules() if isinstance(m, OneDNNLinear))
    x = torch.randn(3, layer.in_features, requires_grad=True)
    y = layer(x)
    assert torch.equal(y, F.linear(x, layer.weight, layer.bias))
    y.sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape


def test_greedy_and_beam_traces_equal_transformers_on_the_plain_model(pair):
    fast, plain = pair
    _, ids = fast.prompt_ids(CHAT)
    prompt = torch.tensor([ids])
    mask = torch.ones_like(prompt)

    ours = fast.generate(CHAT, do_sample=False, max_new_tokens=16, min_new_tokens=16, top_n=5)
    theirs = plain.model.generate(prompt, attention_mask=mask, do_sample=False, max_new_tokens=16, min_new_tokens=16,
                                  output_logits=True, return_dict_in_generate=True)
    assert list(ours.sequences[0].token_ids) == theirs.sequences[0, len(ids):].tolist()
    for step, logits in zip(ours.sequences[0].steps, theirs.logits, strict=True):  # the model's, unprocessed
        expected = logits[0].log_softmax(-1)
        assert [c.token_id for c in step.top] == expected.topk(5).indices.tolist()
        assert [c.logprob for c in step.top] == pytest.approx(expected.topk(5).values.tolist(), abs=1e-4)

    ours = fast.generate(CHAT, do_sample=False, num_beams=4, max_new_tokens=12, min_new_tokens=12)
    theirs = plain.model.generate(prompt, attention_mask=mask, do_sample=False, num_beams=4, max_new_tokens=12,
                                  min_new_tokens=12, output_scores=True, return_dict_in_generate=True)
    assert list(ours.sequences[0].token_ids) == theirs.sequences[0, len(ids):].tolist()
    assert ours.sequences[0].score == pytest.approx(theirs.sequences_scores[0].item(), abs=1e-4)


def test_half_precision_and_small_layers_are_left_alone(tiny_path):
    bf16 = modelito.load(tiny_path, device="cpu", dtype="bfloat16")
    tiny = modelito.load(tiny_path, device="cpu")  # 64 wide: the call would cost more than it gains
    for lm in (bf16, tiny):
        assert not any(isinstance(m, OneDNNLinear) for m in lm.model.modules())


def test_where_onednn_measures_slower_nothing_changes(tmp_path, monkeypatch):
    """On a CPU where oneDNN loses (say a laptop's ARM chip) the model keeps torch's own layers."""
    from modelito import onednn
    from modelito.testing import tiny_model

    monkeypatch.setattr(onednn, "_faster", lambda layer: False)
    path = tiny_model(tmp_path / "wide", seed=3, hidden_size=512, num_attention_heads=8, num_key_value_heads=2)
    lm = modelito.load(path, device="cpu")
    assert not any(isinstance(m, OneDNNLinear) for m in lm.model.modules())
    assert not any("oneDNN" in note for note in lm.notes)
